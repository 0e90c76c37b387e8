/*
 * pthread_cond_* for amutex mutexes. glibc's condition variables unlock and
 * relock the mutex through internal calls that no interposer sees, so they
 * come along.
 *
 * pthread_cond_t (48 bytes), all-zero = PTHREAD_COND_INITIALIZER:
 *   0  seq      futex word: +1 per signal or broadcast
 *   4  waiters  threads between their read of seq and their wake-up
 *   8  flags    bit 0: CLOCK_MONOTONIC deadlines; bit 1: process-shared
 *
 * A waiter reads seq while it holds the mutex, then unlocks and sleeps
 * while seq still has that value. A signal after the read changes seq, so
 * the sleep ends or never starts: no lost wake-up. Wake-ups may be
 * spurious, as POSIX allows. A signal skips the system call when nobody
 * waits: waiters is raised before seq is read (both sequentially
 * consistent), so a signaller that reads 0 raced with no waiter that could
 * still sleep on the value before the signal.
 */
#include "dropin.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#define COND_MONOTONIC 1u
#define COND_SHARED    2u

struct pt_cond {
	uint32_t seq;
	uint32_t waiters;
	uint32_t flags;
	uint32_t unused[9];
};

_Static_assert(sizeof(struct pt_cond) == sizeof(pthread_cond_t), "pthread_cond_t size");

int pthread_cond_init(pthread_cond_t *pc, const pthread_condattr_t *attr)
{
	struct pt_cond *c = (struct pt_cond *)pc;
	clockid_t clock = CLOCK_REALTIME;
	int pshared = PTHREAD_PROCESS_PRIVATE;

	if (attr && (pthread_condattr_getclock(attr, &clock) != 0 ||
		     pthread_condattr_getpshared(attr, &pshared) != 0))
		return EINVAL;
	memset(c, 0, sizeof(*c));
	c->flags = (clock == CLOCK_MONOTONIC ? COND_MONOTONIC : 0) |
		   (pshared == PTHREAD_PROCESS_SHARED ? COND_SHARED : 0);
	return 0;
}

int pthread_cond_destroy(pthread_cond_t *pc)
{
	struct pt_cond *c = (struct pt_cond *)pc;

	/*
	 * POSIX allows destroying a condvar that was just broadcast to: the
	 * woken threads read only seq's address, which the kernel no longer
	 * needs once they are awake. Those not yet awake make it busy.
	 */
	return __atomic_load_n(&c->waiters, __ATOMIC_SEQ_CST) ? EBUSY : 0;
}

static void wake(struct pt_cond *c, int n)
{
	__atomic_add_fetch(&c->seq, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&c->waiters, __ATOMIC_SEQ_CST))
		amutex__futex_wake(&c->seq, n, c->flags & COND_SHARED ? AMUTEX_FUTEX_SHARED : 0);
}

int pthread_cond_signal(pthread_cond_t *pc)
{
	wake((struct pt_cond *)pc, 1);
	return 0;
}

int pthread_cond_broadcast(pthread_cond_t *pc)
{
	wake((struct pt_cond *)pc, INT_MAX);
	return 0;
}

struct waiting {
	struct pt_cond *c;
	pthread_mutex_t *m;
};

/* Cancelled while waiting: hold the mutex again before the cleanup handlers. */
static void cancelled(void *arg)
{
	struct waiting *w = arg;

	__atomic_sub_fetch(&w->c->waiters, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(w->m);
}

static int wait(pthread_cond_t *pc, pthread_mutex_t *pm, const struct timespec *abs,
		clockid_t clock)
{
	struct pt_cond *c = (struct pt_cond *)pc;
	struct waiting w = { c, pm };
	uint32_t seq;
	int err, old, how;

	if (abs && (abs->tv_nsec < 0 || abs->tv_nsec >= 1000000000 || abs->tv_sec < 0))
		return EINVAL;
	how = (c->flags & COND_SHARED ? AMUTEX_FUTEX_SHARED : 0) |
	      (clock == CLOCK_REALTIME ? AMUTEX_FUTEX_REALTIME : 0);
	__atomic_add_fetch(&c->waiters, 1, __ATOMIC_SEQ_CST);
	seq = __atomic_load_n(&c->seq, __ATOMIC_SEQ_CST);
	if ((err = pthread_mutex_unlock(pm)) != 0) {
		__atomic_sub_fetch(&c->waiters, 1, __ATOMIC_SEQ_CST);
		return err;
	}
	pthread_cleanup_push(cancelled, &w);
	/* A cancellation point: the sleep may be cancelled, nothing else. */
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
	err = amutex__futex_wait(&c->seq, seq, abs, how);
	pthread_setcanceltype(old, NULL);
	pthread_cleanup_pop(0);
	__atomic_sub_fetch(&c->waiters, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(pm);
	return err == ETIMEDOUT ? ETIMEDOUT : 0;
}

int pthread_cond_wait(pthread_cond_t *pc, pthread_mutex_t *pm)
{
	return wait(pc, pm, NULL, CLOCK_REALTIME);
}

int pthread_cond_timedwait(pthread_cond_t *pc, pthread_mutex_t *pm, const struct timespec *abs)
{
	struct pt_cond *c = (struct pt_cond *)pc;

	return wait(pc, pm, abs, c->flags & COND_MONOTONIC ? CLOCK_MONOTONIC : CLOCK_REALTIME);
}

int pthread_cond_clockwait(pthread_cond_t *pc, pthread_mutex_t *pm, clockid_t clock,
			   const struct timespec *abs)
{
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
		return EINVAL;
	return wait(pc, pm, abs, clock);
}
