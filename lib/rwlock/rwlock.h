/*
 * Private to lib/rwlock and its tests: the test seams of the rwlock's
 * protocol (docs/rwlock.md), compiled in only with AMUTEX_TEST_SEAMS.
 */
#ifndef AMUTEX_RWLOCK_PRIVATE_H
#define AMUTEX_RWLOCK_PRIVATE_H

#include "../mutex/mutex.h"

#include <amutex/rwlock.h>

/* The transitions of docs/rwlock.md that tests count. */
enum amutex__rw_step {
	AMUTEX_RW_RL2, AMUTEX_RW_RL3, AMUTEX_RW_RL4, AMUTEX_RW_RL5,
	AMUTEX_RW_RU2, AMUTEX_RW_WL3, AMUTEX_RW_WL4, AMUTEX_RW_WL5, AMUTEX_RW_WT1, AMUTEX_RW_WT2,
	AMUTEX_RW_WT2_HELD, AMUTEX_RW_SLEPT, AMUTEX_RW_RF1,
	AMUTEX_RW_STEP_COUNT
};
#ifdef AMUTEX_TEST_SEAMS
extern uint64_t amutex__rw_steps[AMUTEX_RW_STEP_COUNT] hidden;
extern const char *const amutex__rw_step_names[AMUTEX_RW_STEP_COUNT] hidden;
/*
 * Pause points (the hook runs in the thread that reached the point):
 *   QUEUED     a reader right after RL2's CAS
 *   ADMITTED   a reader that saw PHASE change, before RL3's CAS
 *   CLAIMED    a writer right after WL2's CAS
 *   RELEASING  a writer between RU3 (w unlocked) and RU4
 *   GIVING_UP  a claiming writer past its deadline, before WT2's look at
 *              the word
 *   LATE       a queued timed reader past its deadline, before it looks at
 *              the word again (RL3 if a release let it in meanwhile, RL5)
 */
enum amutex__rw_point {
	AMUTEX_RW_POINT_QUEUED, AMUTEX_RW_POINT_ADMITTED, AMUTEX_RW_POINT_CLAIMED,
	AMUTEX_RW_POINT_RELEASING, AMUTEX_RW_POINT_GIVING_UP, AMUTEX_RW_POINT_LATE,
};
extern void (*amutex__rw_test_point)(enum amutex__rw_point p, const amutex_rwlock_t *rw) hidden;
#endif

#endif /* AMUTEX_RWLOCK_PRIVATE_H */
