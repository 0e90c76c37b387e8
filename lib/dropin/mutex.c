/*
 * pthread_mutex_* on amutex. Normal, default and adaptive mutexes go
 * straight to amutex's protocol; errorcheck and recursive ones add an owner
 * check; robust and priority mutexes stay glibc's. Semantics and error codes
 * are glibc's: EBUSY, EDEADLK, EPERM, EAGAIN, ETIMEDOUT, EINVAL.
 */
#include "dropin.h"

#include <errno.h>
#include <string.h>


static int owned_by_me(const struct pt_mutex *m)
{
	return __atomic_load_n(&m->owner, __ATOMIC_RELAXED) == amutex__dropin_tid();
}

int pthread_mutex_init(pthread_mutex_t *pm, const pthread_mutexattr_t *attr)
{
	struct pt_mutex *m = (struct pt_mutex *)pm;
	int type = PTHREAD_MUTEX_DEFAULT, pshared = PTHREAD_PROCESS_PRIVATE;
	int robust = PTHREAD_MUTEX_STALLED, protocol = PTHREAD_PRIO_NONE;

	if (attr) {
		if (pthread_mutexattr_gettype(attr, &type) != 0 ||
		    pthread_mutexattr_getpshared(attr, &pshared) != 0 ||
		    pthread_mutexattr_getrobust(attr, &robust) != 0 ||
		    pthread_mutexattr_getprotocol(attr, &protocol) != 0)
			return EINVAL;
		if (robust != PTHREAD_MUTEX_STALLED || protocol != PTHREAD_PRIO_NONE)
			return amutex__dropin_real()->mutex_init(pm, attr);
	}
	memset(m, 0, sizeof(*m));
	m->core.embed[0] = (uint32_t)(type & KIND_TYPE_MASK) |
			   (pshared == PTHREAD_PROCESS_SHARED ? KIND_PSHARED : 0);
	if (pshared == PTHREAD_PROCESS_SHARED)
		m->core.flags = AMUTEX__FLAG_SHARED;
	return 0;
}

int pthread_mutex_destroy(pthread_mutex_t *pm)
{
	struct pt_mutex *m = (struct pt_mutex *)pm;

	/* A condvar waiter will relock it: busy, whoever keeps the mutex. */
	if (__atomic_load_n(&m->core.embed[1], __ATOMIC_RELAXED) != 0)
		return EBUSY;
	if (pt_kind(m) & KIND_GLIBC)
		return amutex__dropin_real()->mutex_destroy(pm);
	if (__atomic_load_n(&m->core.state, __ATOMIC_RELAXED) != 0)
		return EBUSY;
	/* Pooled statistics stay in the report; the memory is the caller's again. */
	m->core.state = 0;
	m->core.stats = NULL;
	return 0;
}

/*
 * lock_contended: the rest of a lock once the fast path's CAS failed: the
 * core's slow path, after observing the mutex on its first contention
 * (S1). how: the deadline's clock; site: the caller of the pthread call.
 */
static int lock_contended(struct pt_mutex *m, const struct timespec *abs, int how,
			  const void *site)
{
	if (!m->core.stats)
		amutex__dropin_observe(m, site);
	return amutex__lock_contended(&m->core, abs, how, site);
}

/* lock_core: amutex_lock with the drop-in's slow path. */
static inline int lock_core(struct pt_mutex *m, const struct timespec *abs, int how,
			    const void *site)
{
	if (amutex__acquire_fast(&m->core)) {
		amutex__count_fast(&m->core);
		return 0;
	}
	return lock_contended(m, abs, how, site);
}

/* Errorcheck and recursive mutexes, and the checks of a timed lock. */
static int lock_kind(struct pt_mutex *m, int kind, const struct timespec *abs,
		     int how, const void *site)
{
	int type = kind & KIND_TYPE_MASK, err;

	if (type == PTHREAD_MUTEX_RECURSIVE && owned_by_me(m)) {
		if (m->count == UINT32_MAX)
			return EAGAIN;
		m->count++;
		return 0;
	}
	if (type == PTHREAD_MUTEX_ERRORCHECK && owned_by_me(m))
		return EDEADLK;
	if ((err = lock_core(m, abs, how, site)) != 0)
		return err;
	if (type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK) {
		__atomic_store_n(&m->owner, amutex__dropin_tid(), __ATOMIC_RELAXED);
		m->count = 0;
	}
	return 0;
}

static int plain_kind(int kind)
{
	int type = kind & ~KIND_ELISION;

	return type == PTHREAD_MUTEX_NORMAL || type == PTHREAD_MUTEX_ADAPTIVE_NP;
}

/* Everything but the uncontended plain lock: out of line, so that stays frameless. */
__attribute__((noinline)) static int lock_rest(struct pt_mutex *m, const void *site)
{
	int kind = pt_kind(m);

	if (plain_kind(kind))
		return lock_contended(m, NULL, 0, site);
	if (kind & KIND_GLIBC)
		return amutex__dropin_real()->mutex_lock((pthread_mutex_t *)m);
	return lock_kind(m, kind, NULL, 0, site);
}

int pthread_mutex_lock(pthread_mutex_t *pm)
{
	struct pt_mutex *m = (struct pt_mutex *)pm;

	if (__builtin_expect(plain_kind(pt_kind(m)), 1) && amutex__acquire_fast(&m->core)) {
		amutex__count_fast(&m->core);
		return 0;
	}
	return lock_rest(m, __builtin_return_address(0));
}

int amutex__dropin_mutex_lock(pthread_mutex_t *pm, const void *site)
{
	struct pt_mutex *m = (struct pt_mutex *)pm;

	if (plain_kind(pt_kind(m)) && amutex__acquire_fast(&m->core)) {
		amutex__count_fast(&m->core);
		return 0;
	}
	return lock_rest(m, site);
}

int amutex__dropin_mutex_timed(pthread_mutex_t *pm, clockid_t clock, const struct timespec *abs,
			       const void *site)
{
	struct pt_mutex *m = (struct pt_mutex *)pm;
	int kind = pt_kind(m);

	if (kind & KIND_GLIBC)
		return clock == CLOCK_REALTIME ? amutex__dropin_real()->mutex_timedlock(pm, abs) :
		       amutex__dropin_real()->mutex_clocklock(pm, clock, abs);
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
		return EINVAL;
	return lock_kind(m, kind, abs, clock == CLOCK_REALTIME ? AMUTEX_WAIT_REALTIME : 0, site);
}

int pthread_mutex_timedlock(pthread_mutex_t *pm, const struct timespec *abs)
{
	return amutex__dropin_mutex_timed(pm, CLOCK_REALTIME, abs, __builtin_return_address(0));
}

int pthread_mutex_clocklock(pthread_mutex_t *pm, clockid_t clock, const struct timespec *abs)
{
	return amutex__dropin_mutex_timed(pm, clock, abs, __builtin_return_address(0));
}

int pthread_mutex_trylock(pthread_mutex_t *pm)
{
	struct pt_mutex *m = (struct pt_mutex *)pm;
	int kind = pt_kind(m), type = kind & KIND_TYPE_MASK;

	if (kind & KIND_GLIBC)
		return amutex__dropin_real()->mutex_trylock(pm);
	if (type == PTHREAD_MUTEX_RECURSIVE && owned_by_me(m)) {
		if (m->count == UINT32_MAX)
			return EAGAIN;
		m->count++;
		return 0;
	}
	if (amutex_trylock(&m->core) != 0)
		return EBUSY;
	if (type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK) {
		__atomic_store_n(&m->owner, amutex__dropin_tid(), __ATOMIC_RELAXED);
		m->count = 0;
	}
	return 0;
}

/* Everything but the plain unlock that finds nobody waiting. */
__attribute__((noinline)) static int unlock_rest(struct pt_mutex *m)
{
	int kind = pt_kind(m), type;

	/* glibc's normal unlock of an unlocked mutex changes nothing and says 0. */
	if (plain_kind(kind)) {
		(void)amutex__unlock_slow(&m->core);
		return 0;
	}
	if (kind & KIND_GLIBC)
		return amutex__dropin_real()->mutex_unlock((pthread_mutex_t *)m);
	type = kind & KIND_TYPE_MASK;
	if (type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK) {
		if (!owned_by_me(m))
			return EPERM;
		if (m->count) {
			m->count--;
			return 0;
		}
		__atomic_store_n(&m->owner, 0, __ATOMIC_RELAXED);
	}
	return amutex_unlock(&m->core);
}

int pthread_mutex_unlock(pthread_mutex_t *pm)
{
	struct pt_mutex *m = (struct pt_mutex *)pm;

	/* The plain, uncontended unlock; all else, misuse included, out of line. */
	if (__builtin_expect(plain_kind(pt_kind(m)), 1) && amutex__release_fast(&m->core))
		return 0;
	return unlock_rest(m);
}

/*
 * For the condition variables. A waiter is counted in embed[1] (glibc's
 * __spins and __elision, unused by the kinds glibc keeps for the drop-in
 * and by the drop-in's own) from before it unlocks until it has relocked,
 * so that pthread_mutex_destroy says EBUSY meanwhile. glibc's own mutexes
 * are unlocked through glibc's public unlock, which takes the waiter off
 * __nusers: it is put back while the waiter sleeps, as glibc's condvars do.
 */
int amutex__dropin_cond_may_unlock(pthread_mutex_t *pm)
{
	struct pt_mutex *m = (struct pt_mutex *)pm;
	int kind = pt_kind(m), type = kind & KIND_TYPE_MASK;

	if (kind & KIND_GLIBC)
		return pm->__data.__owner == amutex__dropin_tid() ? 0 : EPERM;
	if ((type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK) &&
	    !owned_by_me(m))
		return EPERM;
	return 0;
}

void amutex__dropin_cond_unlock(pthread_mutex_t *pm)
{
	struct pt_mutex *m = (struct pt_mutex *)pm;

	__atomic_add_fetch(&m->core.embed[1], 1, __ATOMIC_RELAXED);
	if (pt_kind(m) & KIND_GLIBC) {
		pm->__data.__nusers++;
		amutex__dropin_real()->mutex_unlock(pm);
		return;
	}
	(void)pthread_mutex_unlock(pm);
}

/*
 * How a relock after a condvar wake waits: without spinning, yielding the
 * CPU while that runs another thread (its signaller may hold the mutex,
 * preempted by it on the CPU the wake-up was placed on: protocol.c). A
 * measurement build may let it spin as any lock does
 * (-DAMUTEX_DROPIN_RELOCK_SPIN) or sleep at once as before run 24
 * (-DAMUTEX_DROPIN_RELOCK_NOYIELD), to compare on many CPUs.
 */
#if defined(AMUTEX_DROPIN_RELOCK_SPIN)
#define RELOCK_HOW 0
#elif defined(AMUTEX_DROPIN_RELOCK_NOYIELD)
#define RELOCK_HOW AMUTEX_WAIT_NOSPIN
#else
#define RELOCK_HOW AMUTEX_WAIT_YIELD
#endif

int amutex__dropin_cond_relock(pthread_mutex_t *pm, const void *site)
{
	struct pt_mutex *m = (struct pt_mutex *)pm;
	int kind = pt_kind(m), err;

	if (kind & KIND_GLIBC) {
		err = amutex__dropin_real()->mutex_lock(pm);
		if (err == 0 || err == EOWNERDEAD)
			pm->__data.__nusers--;
	} else if (plain_kind(kind)) {
		err = lock_core(m, NULL, RELOCK_HOW, site);
	} else {
		err = lock_kind(m, kind, NULL, RELOCK_HOW, site);
	}
	__atomic_sub_fetch(&m->core.embed[1], 1, __ATOMIC_RELAXED);
	return err;
}

int pthread_mutex_consistent(pthread_mutex_t *pm)
{
	struct pt_mutex *m = (struct pt_mutex *)pm;

	if (pt_kind(m) & KIND_GLIBC)
		return amutex__dropin_real()->mutex_consistent(pm);
	return EINVAL;	/* not robust */
}
