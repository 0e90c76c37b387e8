/*
 * Starvation mode, asserted through the counters rather than the clock: a
 * hog that relocks at once makes a waiter starve; the mutex must enter
 * starvation mode, hand the lock off, and leave the mode again.
 *
 * The interleaving is forced, not left to the scheduler (tests/pace.h):
 * the waiter always loses the race to the hog, as against a real hog when
 * the scheduler favours it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <amutex.h>
#include <amutex/stats.h>
#include <errno.h>
#include <pthread.h>

#include "mutex/mutex.h"
#include "pace.h"
#include "support.h"


struct hog {
	amutex_t m;
	int stop;
	uint64_t hold_ns;
	uint64_t hog_acquired, waiter_acquired, waiter_timeouts;
	int waits;		/* acquisitions the waiter attempts */
	int until_handoff;	/* stop early once a handoff ended starvation */
	long timed_ns;		/* 0: amutex_lock; else timedlock budget */
};

static void *hog_thread(void *arg)
{
	struct hog *h = arg;

	while (!__atomic_load_n(&h->stop, __ATOMIC_RELAXED)) {
		amutex_lock(&h->m);
		__atomic_store_n(&h->hog_acquired, h->hog_acquired + 1, __ATOMIC_RELAXED);
		busy(h->hold_ns);
		hog_release(&h->m, &h->stop);	/* and relock at once */
	}
	return NULL;
}

static void *waiter_thread(void *arg)
{
	struct hog *h = arg;

	pace_me(&h->m, &h->stop);

	for (int i = 0; i < h->waits; i++) {
		if (h->timed_ns) {
			struct timespec ts = deadline_ns(CLOCK_MONOTONIC, h->timed_ns);

			if (amutex_timedlock(&h->m, &ts) == ETIMEDOUT) {
				h->waiter_timeouts++;
				continue;
			}
		} else {
			amutex_lock(&h->m);
		}
		h->waiter_acquired++;
		amutex_unlock(&h->m);
		if (h->until_handoff) {
			struct amutex_counters c;

			amutex_stats_read(&h->m, &c);
			if (c.starvation_exits >= 1 && c.handoffs >= 1)
				break;
		}
		busy(20000);
	}
	__atomic_store_n(&h->stop, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void run_hog(struct hog *h, uint64_t threshold_ns, uint64_t hold_ns,
		    struct amutex_counters *c)
{
	amutex_attr_t a;
	pthread_t hog, waiter;

	amutex_attr_init(&a);
	amutex_attr_setstarvation(&a, threshold_ns);
	amutex_attr_setspin(&a, AMUTEX_SPIN_OFF);	/* the waiter sleeps: it is counted */
	amutex_attr_setstats(&a, 1);
	assert_int_equal(amutex_init(&h->m, &a), 0);
	h->hold_ns = hold_ns;
	pthread_create(&hog, NULL, hog_thread, h);
	/* The hog owns the lock before the waiter starts. */
	while (!__atomic_load_n(&h->hog_acquired, __ATOMIC_RELAXED))
		nap_ms(1);
	pthread_create(&waiter, NULL, waiter_thread, h);
	pthread_join(waiter, NULL);
	pthread_join(hog, NULL);
	pace_end();
	assert_int_equal(amutex_stats_read(&h->m, c), 0);
	assert_true(h->waiter_acquired + h->waiter_timeouts <= (uint64_t)h->waits);
	if (!h->until_handoff)
		assert_int_equal(h->waiter_acquired + h->waiter_timeouts, h->waits);
	assert_int_equal(c->timeouts, h->waiter_timeouts);
	assert_int_equal(c->acquired_fast + c->acquired_spin + c->acquired_sleep,
			 h->hog_acquired + h->waiter_acquired);
	assert_int_equal(h->m.state, 0);
	assert_int_equal(AMUTEX__SEMA_TOKENS(h->m.sema), 0);
}

static void test_hog_puts_mutex_in_starvation_mode_hands_off_and_leaves(void **state)
{
	static struct hog h;
	struct amutex_counters c;

	(void)state;
	/*
	 * Bounded in acquisitions, not time: a scheduler that keeps the hog
	 * off the CPU for a while only lets the waiter take the lock freely.
	 */
	h.waits = 5000;
	h.until_handoff = 1;
	run_hog(&h, 100000, 300000, &c);
	assert_true(c.starvation_entries >= 1);
	assert_true(c.handoffs >= 1);
	assert_int_equal(c.starvation_exits, c.starvation_entries);
	assert_int_equal(c.starving, 0);
	assert_true(c.starvation_ns > 0);
	amutex_destroy(&h.m);
}

/*
 * Each hold (200 us) is shorter than the threshold (1 ms): only a wait
 * measured from when the waiter first blocked, kept across the races it
 * loses to the relocking hog, ever crosses it.
 */
static void test_wait_is_measured_from_first_block_across_lost_races(void **state)
{
	static struct hog h;
	struct amutex_counters c;

	(void)state;
	h.waits = 5000;
	h.until_handoff = 1;
	run_hog(&h, 1000000, 200000, &c);
	assert_true(c.starvation_entries >= 1);
	assert_true(c.handoffs >= 1);
	amutex_destroy(&h.m);
}

/*
 * Normal mode only: the waiter may lose every race to the hog (that is the
 * pathology starvation mode exists for), so it waits with a deadline.
 */
static void test_threshold_never_keeps_mutex_in_normal_mode(void **state)
{
	static struct hog h;
	struct amutex_counters c;

	(void)state;
	h.waits = 10;
	h.timed_ns = 20000000;
	run_hog(&h, AMUTEX_STARVATION_NEVER, 300000, &c);
	assert_int_equal(c.starvation_entries, 0);
	assert_int_equal(c.handoffs, 0);
	amutex_destroy(&h.m);
}

/*
 * "Never" is never, however long the wait: with the slow path's clock
 * scaled 1000x, a hold of 5 ms is a wait of 5 s, longer than the largest
 * threshold (AMUTEX_STARVATION_MAX_NS, 4.29 s). That threshold is crossed;
 * "never" is not.
 */
static void test_never_outlasts_the_largest_threshold(void **state)
{
	static struct hog never, largest;
	struct amutex_counters c;

	(void)state;
	amutex__clock_scale = 1000;
	largest.waits = 100;
	largest.until_handoff = 1;
	run_hog(&largest, AMUTEX_STARVATION_MAX_NS, 5000000, &c);
	assert_true(c.starvation_entries >= 1);
	amutex_destroy(&largest.m);

	never.waits = 3;
	never.timed_ns = 40000000;
	run_hog(&never, AMUTEX_STARVATION_NEVER, 5000000, &c);
	amutex__clock_scale = 1;
	assert_true(c.acquired_sleep + c.timeouts >= 3);
	assert_int_equal(c.starvation_entries, 0);
	assert_int_equal(c.handoffs, 0);
	amutex_destroy(&never.m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hog_puts_mutex_in_starvation_mode_hands_off_and_leaves),
		cmocka_unit_test(test_wait_is_measured_from_first_block_across_lost_races),
		cmocka_unit_test(test_threshold_never_keeps_mutex_in_normal_mode),
		cmocka_unit_test(test_never_outlasts_the_largest_threshold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
