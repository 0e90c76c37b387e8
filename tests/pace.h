/*
 * A hog that always wins, for tests that need a waiter to starve. Left to
 * the scheduler, a waiter woken onto the hog's CPU can run before the hog
 * relocks, find the lock free and never starve, so such tests pass or fail
 * by luck. Two rules force the interleaving instead:
 *  - the hog releases only into a queue: it unlocks once the waiter is
 *    counted in the word (asleep), and relocks at once (hog_release);
 *  - the paced waiter, once woken, looks at the word only when the hog
 *    holds the lock again or a handoff made it its own (the WOKE pause
 *    point of the test seams).
 * Needs the library built with AMUTEX_TEST_SEAMS.
 */
#ifndef AMUTEX_TEST_PACE_H
#define AMUTEX_TEST_PACE_H

#include <amutex.h>
#include <pthread.h>

#include "mutex/mutex.h"

static struct {
	const amutex_t *m;
	const int *stop;
	pthread_t waiter;
} pace_;

static void pace_hook_(enum amutex__point p, const amutex_t *m)
{
	const amutex_t *paced = __atomic_load_n(&pace_.m, __ATOMIC_ACQUIRE);

	if (p != AMUTEX_POINT_WOKE || !paced || m != paced ||
	    !pthread_equal(pthread_self(), __atomic_load_n(&pace_.waiter, __ATOMIC_RELAXED)))
		return;
	while (!(__atomic_load_n(&paced->state, __ATOMIC_RELAXED) &
		 (AMUTEX__LOCKED | AMUTEX__STARVING)) &&
	       !__atomic_load_n(pace_.stop, __ATOMIC_RELAXED))
		amutex__cpu_relax();
}

/* From now on the calling thread loses every race for m, until *stop. */
static inline void pace_me(const amutex_t *m, const int *stop)
{
	__atomic_store_n(&pace_.waiter, pthread_self(), __ATOMIC_RELAXED);
	__atomic_store_n(&pace_.stop, stop, __ATOMIC_RELAXED);
	__atomic_store_n(&pace_.m, m, __ATOMIC_RELEASE);
	__atomic_store_n(&amutex__test_point, pace_hook_, __ATOMIC_RELEASE);
}

static inline void pace_end(void)
{
	__atomic_store_n(&amutex__test_point, NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&pace_.m, NULL, __ATOMIC_RELEASE);
}

/* The hog's unlock: only into a queue (or when told to stop), then it relocks at once. */
static inline void hog_release(amutex_t *m, const int *stop)
{
	while ((__atomic_load_n(&m->state, __ATOMIC_RELAXED) >> AMUTEX__WAITER_SHIFT) == 0 &&
	       !__atomic_load_n(stop, __ATOMIC_RELAXED))
		amutex__cpu_relax();
	amutex_unlock(m);
}

#endif
