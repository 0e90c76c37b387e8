/*
 * The pthread drop-in (libamutex-pthread.so): glibc's pthread_mutex_t and
 * pthread_cond_t, reinterpreted. Private to lib/dropin/.
 *
 * pthread_mutex_t (40 bytes on x86-64):
 *   0   amutex_t core       state, sema, settings (zero: defaults), stats
 *   16  core.embed[0]       glibc's __kind, as glibc's static initializers
 *                           and pthread_mutex_init write it (below)
 *   32  owner               tid of the owner: errorcheck and recursive only
 *   36  count               recursive: depth - 1
 * A robust or priority-inheritance/protect mutex is glibc's own from init
 * on (its __kind carries the bits below) and every call is passed to glibc.
 */
#ifndef AMUTEX_DROPIN_H
#define AMUTEX_DROPIN_H

#include "../mutex/mutex.h"
#include "../stats/stats.h"

#include <pthread.h>
#include <stddef.h>

/* glibc's __kind encoding (nptl/pthreadP.h). */
#define KIND_TYPE_MASK   3	/* PTHREAD_MUTEX_{NORMAL/TIMED, RECURSIVE, ERRORCHECK, ADAPTIVE}_NP */
#define KIND_ROBUST      16
#define KIND_PRIO_INHERIT 32
#define KIND_PRIO_PROTECT 64
#define KIND_PSHARED     128
#define KIND_ELISION     (256 | 512)	/* lock elision hints: ignored */
#define KIND_GLIBC       (KIND_ROBUST | KIND_PRIO_INHERIT | KIND_PRIO_PROTECT)
struct pt_mutex {
	amutex_t core;
	int owner;
	uint32_t count;
};

_Static_assert(sizeof(struct pt_mutex) == sizeof(pthread_mutex_t), "pthread_mutex_t size");
_Static_assert(offsetof(pthread_mutex_t, __data.__kind) == 16, "glibc __kind offset");

/*
 * A measurement build may hand every mutex to glibc and keep only the
 * drop-in's condvars (-DAMUTEX_DROPIN_GLIBC_MUTEX), to tell the two apart
 * on a program that uses both (bench/device-all.sh variants).
 */
static inline int pt_kind(const struct pt_mutex *m)
{
#ifdef AMUTEX_DROPIN_GLIBC_MUTEX
	return (int)__atomic_load_n(&m->core.embed[0], __ATOMIC_RELAXED) | KIND_PRIO_PROTECT;
#else
	return (int)__atomic_load_n(&m->core.embed[0], __ATOMIC_RELAXED);
#endif
}

/*
 * The small locks of the condvars: a waiter's barrier, a thread's
 * cancellation slot, a list's lock. Bits 0-1: 0 free, 1 held, 2 held with
 * sleepers, 3 poked (a barrier: held); bits 2-31: the holder's fork
 * generation, `gen` (0 but for a list's lock: cond.c). A lock held by
 * another generation is taken over: its holder is not in this process.
 * Returns 1 when it took the lock over. Private futexes.
 */
#define SMALL_STATE 3u
#define SMALL_HELD_BY(c, gen) (((c) & SMALL_STATE) != 0 && ((c) & ~SMALL_STATE) == (gen))

static inline int amutex__small_lock_gen(uint32_t *l, uint32_t gen)
{
	uint32_t c = 0;

	if (__atomic_compare_exchange_n(l, &c, gen | 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return 0;
	for (int i = 0; i < 100 && c == (gen | 1); i++) {
		amutex__cpu_relax();
		c = 0;
		if (__atomic_compare_exchange_n(l, &c, gen | 1, 0, __ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			return 0;
	}
	if (c != (gen | 2))
		c = __atomic_exchange_n(l, gen | 2, __ATOMIC_SEQ_CST);
	while (SMALL_HELD_BY(c, gen)) {
		amutex__futex_wait(l, gen | 2, NULL, 0);
		c = __atomic_exchange_n(l, gen | 2, __ATOMIC_SEQ_CST);
	}
	return (c & SMALL_STATE) != 0;
}

static inline void amutex__small_lock(uint32_t *l)
{
	(void)amutex__small_lock_gen(l, 0);
}

/* After the store, only the wake: l may be gone once it is open. */
static inline void amutex__small_unlock(uint32_t *l)
{
	if ((__atomic_exchange_n(l, 0, __ATOMIC_SEQ_CST) & SMALL_STATE) == 2)
		amutex__futex_wake(l, 1, 0);
}

/* glibc's own functions, for the mutexes it keeps (dlsym RTLD_NEXT). */
struct real_pthread {
	int (*mutex_init)(pthread_mutex_t *, const pthread_mutexattr_t *);
	int (*mutex_destroy)(pthread_mutex_t *);
	int (*mutex_lock)(pthread_mutex_t *);
	int (*mutex_trylock)(pthread_mutex_t *);
	int (*mutex_timedlock)(pthread_mutex_t *, const struct timespec *);
	int (*mutex_clocklock)(pthread_mutex_t *, clockid_t, const struct timespec *);
	int (*mutex_unlock)(pthread_mutex_t *);
	int (*mutex_consistent)(pthread_mutex_t *);
	int (*cancel)(pthread_t);
};
hidden const struct real_pthread *amutex__dropin_real(void);

/* The calling thread's kernel thread id, cached (reset in a fork's child). */
hidden int amutex__dropin_tid(void);

/* First contention: attach a statistics block from the static pool. */
hidden void amutex__dropin_observe(struct pt_mutex *m, const void *site);

/* pthread_mutex_lock and _timedlock/_clocklock, named after the given call site. */
hidden int amutex__dropin_mutex_lock(pthread_mutex_t *pm, const void *site);
hidden int amutex__dropin_mutex_timed(pthread_mutex_t *pm, clockid_t clock,
				      const struct timespec *abs, const void *site);

/*
 * What a condvar wait does to its mutex (mutex.c): may_unlock, 0 or EPERM
 * (an errorcheck, recursive or glibc-kept mutex the caller does not own);
 * unlock, counting the waiter in the mutex (destroy says EBUSY); relock,
 * yielding instead of spinning (mutex.c), named after site, and uncount;
 * 0 or the error of a robust mutex (EOWNERDEAD).
 */
hidden int amutex__dropin_cond_may_unlock(pthread_mutex_t *pm);
hidden void amutex__dropin_cond_unlock(pthread_mutex_t *pm);
hidden int amutex__dropin_cond_relock(pthread_mutex_t *pm, const void *site);


/* pthread_cond_wait, _timedwait and _clockwait (abs on clock), named after site. */
hidden int amutex__dropin_cond_wait(pthread_cond_t *pc, pthread_mutex_t *pm,
				    const struct timespec *abs, clockid_t clock,
				    const void *site);

/* Test builds (AMUTEX_TEST_SEAMS) count the drop-in's rare paths. */
enum amutex__dropin_step {
	DROPIN_STEP_SIGNAL_MET_LEAVING,	/* a signaller waited for a leaving waiter */
	DROPIN_STEP_CANCEL_POKED,	/* pthread_cancel woke a sleeping waiter */
	DROPIN_STEP_CANCEL_AFTER_WAKE,	/* a cancelled waiter had its wake-up: returns 0 */
	DROPIN_STEP_CANCEL_PASSED_ON,	/* shared: a cancelled waiter woke another */
	DROPIN_STEP_SHARED_DESTROY_WAITED, /* a shared destroy waited for woken waiters */
	DROPIN_STEP_OPENED_TWO,		/* a woken waiter opened both its kids' barriers */
	DROPIN_STEP_OPENED_ROOTS,	/* a broadcaster opened every root's barrier (ROOTS) */
	DROPIN_STEP_OBSERVE_RACE_LOST,	/* two threads observed one mutex at once; one lost */
	DROPIN_STEP_PHANTOM_UNLINKED,	/* a fork's child emptied a list of waiters fork did not copy */
	DROPIN_STEP_LIST_LOCK_TAKEN_OVER, /* a fork's child took a list's lock such a thread held */
	DROPIN_STEP_COUNT
};
/* Pause points: a test's hook, called where the drop-in names it (DPOINT). */
#ifdef AMUTEX_TEST_SEAMS
extern uint64_t amutex__dropin_steps[DROPIN_STEP_COUNT] hidden;
/* Called by a waiter between turning its node LEAVING and unlinking it. */
extern void (*amutex__dropin_leaving_point)(void) hidden;
/* Called by a thread observing a mutex, before its attach CAS. */
extern void (*amutex__dropin_observe_point)(void) hidden;
/* Called by a signaller holding a condvar's list lock. */
extern void (*amutex__dropin_list_point)(void) hidden;
/* Called by pthread_cancel holding its target's cancellation slot lock. */
extern void (*amutex__dropin_cancel_point)(void) hidden;
/* Called by a signaller after it marked and detached, before it opens barriers. */
extern void (*amutex__dropin_open_point)(void) hidden;
#define DSTEP(s) __atomic_add_fetch(&amutex__dropin_steps[DROPIN_STEP_##s], 1, __ATOMIC_RELAXED)
#else
#define DSTEP(s) ((void)0)
#endif
#define DPOINT(hook) AMUTEX_PAUSE_POINT(hook)

#endif /* AMUTEX_DROPIN_H */
