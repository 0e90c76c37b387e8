/* Every call of the core API and every error code it returns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <amutex.h>
#include <amutex/stats.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "mutex/mutex.h"
#include "support.h"

#define in_ms(ms) deadline_ns(CLOCK_MONOTONIC, (ms) * 1000000L)

static void test_amutex_t_is_small_and_zero_is_unlocked(void **state)
{
	amutex_t m;

	(void)state;
	assert_int_equal(sizeof(amutex_t), 32);
	assert_int_equal(offsetof(amutex_t, embed), 16);
	memset(&m, 0, sizeof(m));
	assert_int_equal(amutex_trylock(&m), 0);
	assert_int_equal(amutex_unlock(&m), 0);
	assert_int_equal(amutex_lock(&m), 0);
	assert_int_equal(amutex_unlock(&m), 0);
	assert_int_equal(amutex_destroy(&m), 0);
}

static void test_static_initializer_locks_and_unlocks(void **state)
{
	static amutex_t m = AMUTEX_INITIALIZER;

	(void)state;
	assert_int_equal(amutex_lock(&m), 0);
	assert_int_equal(m.state, AMUTEX__LOCKED);
	assert_int_equal(amutex_unlock(&m), 0);
	assert_int_equal(m.state, 0);
}

static void test_init_null_attr_gives_default_mutex(void **state)
{
	amutex_t m;

	(void)state;
	memset(&m, 0xa5, sizeof(m));
	assert_int_equal(amutex_init(&m, NULL), 0);
	assert_int_equal(m.state, 0);
	assert_null(m.stats);
	assert_int_equal(amutex_destroy(&m), 0);
}

static void test_trylock_on_locked_mutex_returns_ebusy(void **state)
{
	amutex_t m = AMUTEX_INITIALIZER;

	(void)state;
	assert_int_equal(amutex_lock(&m), 0);
	assert_int_equal(amutex_trylock(&m), EBUSY);
	assert_int_equal(amutex_unlock(&m), 0);
	assert_int_equal(amutex_trylock(&m), 0);
	assert_int_equal(amutex_unlock(&m), 0);
}

static void test_trylock_on_starving_mutex_returns_ebusy(void **state)
{
	amutex_t m = AMUTEX_INITIALIZER;

	(void)state;
	/* Released in a handoff: the lock belongs to its queue. */
	m.state = AMUTEX__STARVING | AMUTEX__WAITER;
	assert_int_equal(amutex_trylock(&m), EBUSY);
}

static void test_unlock_of_unlocked_mutex_returns_eperm_and_keeps_word(void **state)
{
	amutex_t m = AMUTEX_INITIALIZER;

	(void)state;
	assert_int_equal(amutex_unlock(&m), EPERM);
	assert_int_equal(m.state, 0);
	assert_int_equal(amutex_lock(&m), 0);
	assert_int_equal(amutex_unlock(&m), 0);
}

static void test_destroy_of_locked_mutex_returns_ebusy(void **state)
{
	amutex_t m = AMUTEX_INITIALIZER;

	(void)state;
	assert_int_equal(amutex_lock(&m), 0);
	assert_int_equal(amutex_destroy(&m), EBUSY);
	assert_int_equal(m.state, AMUTEX__LOCKED);
	assert_int_equal(amutex_unlock(&m), 0);
	assert_int_equal(amutex_destroy(&m), 0);
}

static void test_timedlock_free_mutex_succeeds(void **state)
{
	amutex_t m = AMUTEX_INITIALIZER;
	struct timespec ts = in_ms(10);

	(void)state;
	assert_int_equal(amutex_timedlock(&m, &ts), 0);
	assert_int_equal(amutex_unlock(&m), 0);
}

static void test_timedlock_held_mutex_returns_etimedout_and_leaves_no_waiter(void **state)
{
	amutex_t m = AMUTEX_INITIALIZER;
	struct timespec ts = in_ms(5);

	(void)state;
	assert_int_equal(amutex_lock(&m), 0);
	assert_int_equal(amutex_timedlock(&m, &ts), ETIMEDOUT);
	assert_int_equal(m.state, AMUTEX__LOCKED);
	assert_int_equal(AMUTEX__SEMA_TOKENS(m.sema), 0);
	assert_int_equal(amutex_unlock(&m), 0);
	assert_int_equal(m.state, 0);
}

static void test_timedlock_past_deadline_on_held_mutex_returns_etimedout(void **state)
{
	amutex_t m = AMUTEX_INITIALIZER;
	struct timespec ts = { 0, 0 };

	(void)state;
	assert_int_equal(amutex_lock(&m), 0);
	assert_int_equal(amutex_timedlock(&m, &ts), ETIMEDOUT);
	assert_int_equal(amutex_unlock(&m), 0);
}

static void test_timedlock_malformed_timespec_returns_einval(void **state)
{
	amutex_t m = AMUTEX_INITIALIZER;
	struct timespec bad_nsec = { 1, 1000000000 }, neg_nsec = { 1, -1 };

	(void)state;
	assert_int_equal(amutex_lock(&m), 0);
	assert_int_equal(amutex_timedlock(&m, &bad_nsec), EINVAL);
	assert_int_equal(amutex_timedlock(&m, &neg_nsec), EINVAL);
	assert_int_equal(m.state, AMUTEX__LOCKED);
	assert_int_equal(amutex_unlock(&m), 0);
}

/* A negative tv_sec is a time long past, as glibc reads it: ETIMEDOUT, not EINVAL. */
static void test_timedlock_negative_seconds_times_out_like_glibc(void **state)
{
	amutex_t m = AMUTEX_INITIALIZER;
	struct timespec neg_sec = { -1, 0 };

	(void)state;
	assert_int_equal(amutex_lock(&m), 0);
	assert_int_equal(amutex_timedlock(&m, &neg_sec), ETIMEDOUT);
	assert_int_equal(m.state, AMUTEX__LOCKED);
	assert_int_equal(amutex_unlock(&m), 0);
	assert_int_equal(amutex_timedlock(&m, &neg_sec), 0);
	assert_int_equal(amutex_unlock(&m), 0);
}

struct unlock_later { amutex_t *m; int done; };

static void *unlock_after_sleep(void *arg)
{
	struct unlock_later *u = arg;
	struct timespec d = { 0, 20 * 1000000 };

	nanosleep(&d, NULL);
	__atomic_store_n(&u->done, 1, __ATOMIC_SEQ_CST);
	amutex_unlock(u->m);
	return NULL;
}

static void test_timedlock_waits_until_unlocked(void **state)
{
	amutex_t m = AMUTEX_INITIALIZER;
	struct unlock_later u = { &m, 0 };
	struct timespec ts = in_ms(10000);
	pthread_t t;

	(void)state;
	assert_int_equal(amutex_lock(&m), 0);
	pthread_create(&t, NULL, unlock_after_sleep, &u);
	assert_int_equal(amutex_timedlock(&m, &ts), 0);
	assert_int_equal(__atomic_load_n(&u.done, __ATOMIC_SEQ_CST), 1);
	assert_int_equal(amutex_unlock(&m), 0);
	pthread_join(t, NULL);
	assert_int_equal(m.state, 0);
	assert_int_equal(AMUTEX__SEMA_TOKENS(m.sema), 0);
}

static void test_lock_blocks_until_unlocked(void **state)
{
	amutex_t m = AMUTEX_INITIALIZER;
	struct unlock_later u = { &m, 0 };
	pthread_t t;

	(void)state;
	assert_int_equal(amutex_lock(&m), 0);
	pthread_create(&t, NULL, unlock_after_sleep, &u);
	assert_int_equal(amutex_lock(&m), 0);
	assert_int_equal(__atomic_load_n(&u.done, __ATOMIC_SEQ_CST), 1);
	assert_int_equal(amutex_unlock(&m), 0);
	pthread_join(t, NULL);
}

static void test_calls_leave_errno_untouched(void **state)
{
	amutex_t m = AMUTEX_INITIALIZER;
	struct timespec ts = in_ms(1);

	(void)state;
	errno = 1234;
	amutex_lock(&m);
	amutex_timedlock(&m, &ts);
	amutex_trylock(&m);
	amutex_unlock(&m);
	amutex_unlock(&m);
	assert_int_equal(errno, 1234);
}

static void test_attr_defaults(void **state)
{
	amutex_attr_t a;
	uint64_t ns;
	int v;

	(void)state;
	assert_int_equal(amutex_attr_init(&a), 0);
	assert_int_equal(amutex_attr_getstarvation(&a, &ns), 0);
	assert_int_equal(ns, AMUTEX_STARVATION_DEFAULT);
	assert_int_equal(amutex_attr_getspin(&a, &v), 0);
	assert_int_equal(v, AMUTEX_SPIN_DEFAULT);
	assert_int_equal(amutex_attr_getstats(&a, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(amutex_attr_destroy(&a), 0);
}

static void test_attr_setters_round_trip(void **state)
{
	amutex_attr_t a;
	uint64_t ns;
	int v;

	(void)state;
	amutex_attr_init(&a);
	assert_int_equal(amutex_attr_setstarvation(&a, 500000), 0);
	assert_int_equal(amutex_attr_getstarvation(&a, &ns), 0);
	assert_int_equal(ns, 500000);
	assert_int_equal(amutex_attr_setstarvation(&a, AMUTEX_STARVATION_NEVER), 0);
	assert_int_equal(amutex_attr_setspin(&a, 7), 0);
	assert_int_equal(amutex_attr_getspin(&a, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(amutex_attr_setspin(&a, AMUTEX_SPIN_OFF), 0);
	assert_int_equal(amutex_attr_setstats(&a, 1), 0);
	assert_int_equal(amutex_attr_getstats(&a, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(amutex_attr_getfair(&a, &v), 0);
	assert_int_equal(v, AMUTEX_FAIR_DEFAULT);
	assert_int_equal(amutex_attr_setfair(&a, 1), 0);
	assert_int_equal(amutex_attr_getfair(&a, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(amutex_attr_setfair(&a, 2), EINVAL);
	assert_int_equal(amutex_attr_getfair(&a, &v), 0);
	assert_int_equal(v, 1);
	amutex_attr_destroy(&a);
}

static void test_attr_invalid_values_return_einval_and_keep_old(void **state)
{
	amutex_attr_t a;
	uint64_t ns;
	int v;

	(void)state;
	amutex_attr_init(&a);
	amutex_attr_setstarvation(&a, 2000);
	assert_int_equal(amutex_attr_setstarvation(&a, AMUTEX_STARVATION_MAX_NS + 1), EINVAL);
	amutex_attr_getstarvation(&a, &ns);
	assert_int_equal(ns, 2000);
	assert_int_equal(amutex_attr_setspin(&a, -3), EINVAL);
	assert_int_equal(amutex_attr_setspin(&a, AMUTEX_SPIN_MAX + 1), EINVAL);
	amutex_attr_getspin(&a, &v);
	assert_int_equal(v, AMUTEX_SPIN_DEFAULT);
	assert_int_equal(amutex_attr_setstats(&a, 2), EINVAL);
	amutex_attr_destroy(&a);
}

static void test_uninitialized_attr_returns_einval(void **state)
{
	amutex_attr_t a;
	amutex_t m;

	(void)state;
	memset(&a, 0, sizeof(a));
	assert_int_equal(amutex_attr_setspin(&a, 1), EINVAL);
	assert_int_equal(amutex_init(&m, &a), EINVAL);
	amutex_attr_init(&a);
	amutex_attr_destroy(&a);
	assert_int_equal(amutex_attr_destroy(&a), EINVAL);
}

static void test_init_stores_attr_settings(void **state)
{
	amutex_attr_t a;
	amutex_t m;

	(void)state;
	amutex_attr_init(&a);
	amutex_attr_setstarvation(&a, 250000);
	amutex_attr_setspin(&a, AMUTEX_SPIN_OFF);
	assert_int_equal(amutex_init(&m, &a), 0);
	assert_int_equal(m.starve_ns, 250000);
	assert_int_equal(amutex__spin_decode(m.spin), AMUTEX_SPIN_OFF);
	assert_int_equal(amutex_destroy(&m), 0);
	amutex_attr_setstarvation(&a, AMUTEX_STARVATION_NEVER);
	assert_int_equal(amutex_init(&m, &a), 0);
	assert_int_equal(m.starve_ns, UINT32_MAX);
	amutex_destroy(&m);
}

static void test_stats_count_uncontended_acquisitions_as_fast(void **state)
{
	amutex_attr_t a;
	amutex_t m;
	struct amutex_counters c;

	(void)state;
	amutex_attr_init(&a);
	amutex_attr_setstats(&a, 1);
	assert_int_equal(amutex_init(&m, &a), 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(amutex_lock(&m), 0);
		assert_int_equal(amutex_unlock(&m), 0);
	}
	assert_int_equal(amutex_trylock(&m), 0);
	assert_int_equal(amutex_trylock(&m), EBUSY);
	assert_int_equal(amutex_unlock(&m), 0);
	assert_int_equal(amutex_stats_read(&m, &c), 0);
	assert_int_equal(c.acquired_fast, 11);
	assert_int_equal(c.acquired_spin + c.acquired_sleep, 0);
	assert_int_equal(c.starving, 0);
	assert_int_equal(amutex_destroy(&m), 0);
}

static void test_stats_read_without_stats_returns_enotsup(void **state)
{
	amutex_t m = AMUTEX_INITIALIZER;
	struct amutex_counters c;
	amutex_hist_t h;

	(void)state;
	assert_int_equal(amutex_stats_read(&m, &c), ENOTSUP);
	assert_int_equal(amutex_stats_wait_hist(&m, &h), ENOTSUP);
}

static void test_stats_count_timeouts(void **state)
{
	amutex_attr_t a;
	amutex_t m;
	struct amutex_counters c;
	struct timespec ts = in_ms(2);

	(void)state;
	amutex_attr_init(&a);
	amutex_attr_setstats(&a, 1);
	amutex_init(&m, &a);
	amutex_lock(&m);
	assert_int_equal(amutex_timedlock(&m, &ts), ETIMEDOUT);
	amutex_unlock(&m);
	amutex_stats_read(&m, &c);
	assert_int_equal(c.timeouts, 1);
	assert_int_equal(amutex_destroy(&m), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_amutex_t_is_small_and_zero_is_unlocked),
		cmocka_unit_test(test_static_initializer_locks_and_unlocks),
		cmocka_unit_test(test_init_null_attr_gives_default_mutex),
		cmocka_unit_test(test_trylock_on_locked_mutex_returns_ebusy),
		cmocka_unit_test(test_trylock_on_starving_mutex_returns_ebusy),
		cmocka_unit_test(test_unlock_of_unlocked_mutex_returns_eperm_and_keeps_word),
		cmocka_unit_test(test_destroy_of_locked_mutex_returns_ebusy),
		cmocka_unit_test(test_timedlock_free_mutex_succeeds),
		cmocka_unit_test(test_timedlock_held_mutex_returns_etimedout_and_leaves_no_waiter),
		cmocka_unit_test(test_timedlock_past_deadline_on_held_mutex_returns_etimedout),
		cmocka_unit_test(test_timedlock_malformed_timespec_returns_einval),
		cmocka_unit_test(test_timedlock_negative_seconds_times_out_like_glibc),
		cmocka_unit_test(test_timedlock_waits_until_unlocked),
		cmocka_unit_test(test_lock_blocks_until_unlocked),
		cmocka_unit_test(test_calls_leave_errno_untouched),
		cmocka_unit_test(test_attr_defaults),
		cmocka_unit_test(test_attr_setters_round_trip),
		cmocka_unit_test(test_attr_invalid_values_return_einval_and_keep_old),
		cmocka_unit_test(test_uninitialized_attr_returns_einval),
		cmocka_unit_test(test_init_stores_attr_settings),
		cmocka_unit_test(test_stats_count_uncontended_acquisitions_as_fast),
		cmocka_unit_test(test_stats_read_without_stats_returns_enotsup),
		cmocka_unit_test(test_stats_count_timeouts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
