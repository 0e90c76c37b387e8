/*
 * C11 <threads.h> mutexes and condition variables on the drop-in, through
 * mtx_* and cnd_* calls only, with C11's return codes. Built twice, as
 * test_dropin.c: linked ahead of libc, and preloaded. The first test
 * proves the drop-in answers (glibc 2.34+ would otherwise keep them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <threads.h>
#include <time.h>

#include "../support.h"

static struct timespec utc_in_ms(long ms)
{
	return deadline_ns(CLOCK_REALTIME, ms * 1000000L);
}

static void test_mtx_lock_is_the_drop_in(void **state)
{
	mtx_t m;
	uint32_t word[10];

	(void)state;
	assert_int_equal(mtx_init(&m, mtx_plain), thrd_success);
	assert_int_equal(mtx_lock(&m), thrd_success);
	memcpy(word, &m, sizeof(word));
	/* amutex: LOCKED in the first word; glibc would have its owner's tid at 8. */
	assert_int_equal(word[0], 1);
	assert_int_equal(word[2], 0);
	assert_int_equal(mtx_unlock(&m), thrd_success);
	mtx_destroy(&m);
}

static void test_mtx_trylock_on_held_mutex_returns_thrd_busy(void **state)
{
	mtx_t m;

	(void)state;
	assert_int_equal(mtx_init(&m, mtx_plain), thrd_success);
	assert_int_equal(mtx_lock(&m), thrd_success);
	assert_int_equal(mtx_trylock(&m), thrd_busy);
	assert_int_equal(mtx_unlock(&m), thrd_success);
	assert_int_equal(mtx_trylock(&m), thrd_success);
	assert_int_equal(mtx_unlock(&m), thrd_success);
	mtx_destroy(&m);
}

static void test_mtx_timedlock_on_held_mutex_returns_thrd_timedout(void **state)
{
	mtx_t m;
	struct timespec ts = utc_in_ms(5), past = { -1, 0 };

	(void)state;
	assert_int_equal(mtx_init(&m, mtx_timed), thrd_success);
	assert_int_equal(mtx_lock(&m), thrd_success);
	assert_int_equal(mtx_timedlock(&m, &ts), thrd_timedout);
	assert_int_equal(mtx_timedlock(&m, &past), thrd_timedout);
	assert_int_equal(mtx_unlock(&m), thrd_success);
	ts = utc_in_ms(5);
	assert_int_equal(mtx_timedlock(&m, &ts), thrd_success);
	assert_int_equal(mtx_unlock(&m), thrd_success);
	mtx_destroy(&m);
}

static void test_mtx_recursive_counts(void **state)
{
	mtx_t m;

	(void)state;
	assert_int_equal(mtx_init(&m, mtx_plain | mtx_recursive), thrd_success);
	assert_int_equal(mtx_lock(&m), thrd_success);
	assert_int_equal(mtx_lock(&m), thrd_success);
	assert_int_equal(mtx_trylock(&m), thrd_success);
	assert_int_equal(mtx_unlock(&m), thrd_success);
	assert_int_equal(mtx_unlock(&m), thrd_success);
	assert_int_equal(mtx_unlock(&m), thrd_success);
	assert_int_equal(mtx_unlock(&m), thrd_error);	/* not held: EPERM */
	mtx_destroy(&m);
	assert_int_equal(mtx_init(&m, mtx_timed | mtx_recursive), thrd_success);
	mtx_destroy(&m);
}

/* As glibc's: a type C11 does not name makes a plain mutex. */
static void test_mtx_init_with_an_unknown_type_makes_a_plain_mutex(void **state)
{
	mtx_t m;

	(void)state;
	assert_int_equal(mtx_init(&m, 40), thrd_success);
	assert_int_equal(mtx_lock(&m), thrd_success);
	assert_int_equal(mtx_trylock(&m), thrd_busy);
	assert_int_equal(mtx_unlock(&m), thrd_success);
	mtx_destroy(&m);
}

/* A mutex locked through C11 and unlocked through pthread, and back: one mutex. */
static void test_mtx_and_pthread_calls_share_one_mutex(void **state)
{
	mtx_t m;

	(void)state;
	assert_int_equal(mtx_init(&m, mtx_plain), thrd_success);
	assert_int_equal(mtx_lock(&m), thrd_success);
	assert_int_equal(pthread_mutex_trylock((pthread_mutex_t *)(void *)&m), EBUSY);
	assert_int_equal(pthread_mutex_unlock((pthread_mutex_t *)(void *)&m), 0);
	assert_int_equal(pthread_mutex_lock((pthread_mutex_t *)(void *)&m), 0);
	assert_int_equal(mtx_trylock(&m), thrd_busy);
	assert_int_equal(mtx_unlock(&m), thrd_success);
	mtx_destroy(&m);
}

struct box { mtx_t m; cnd_t c; int ready, go, woken; };

static int wait_for_go(void *arg)
{
	struct box *b = arg;

	mtx_lock(&b->m);
	b->ready++;
	while (!b->go)
		if (cnd_wait(&b->c, &b->m) != thrd_success)
			break;
	b->woken++;
	mtx_unlock(&b->m);
	return 0;
}

static void until_ready(struct box *b, int n)
{
	mtx_lock(&b->m);
	while (b->ready < n) {
		mtx_unlock(&b->m);
		thrd_yield();
		mtx_lock(&b->m);
	}
}

static void test_cnd_signal_wakes_a_waiter(void **state)
{
	struct box b = { .ready = 0 };
	thrd_t t;

	(void)state;
	assert_int_equal(mtx_init(&b.m, mtx_plain), thrd_success);
	assert_int_equal(cnd_init(&b.c), thrd_success);
	assert_int_equal(thrd_create(&t, wait_for_go, &b), thrd_success);
	until_ready(&b, 1);
	b.go = 1;
	assert_int_equal(cnd_signal(&b.c), thrd_success);
	mtx_unlock(&b.m);
	thrd_join(t, NULL);
	assert_int_equal(b.woken, 1);
	cnd_destroy(&b.c);
	mtx_destroy(&b.m);
}

static void test_cnd_broadcast_wakes_every_waiter(void **state)
{
	struct box b = { .ready = 0 };
	thrd_t t[6];

	(void)state;
	mtx_init(&b.m, mtx_plain);
	cnd_init(&b.c);
	for (int i = 0; i < 6; i++)
		thrd_create(&t[i], wait_for_go, &b);
	until_ready(&b, 6);
	b.go = 1;
	assert_int_equal(cnd_broadcast(&b.c), thrd_success);
	mtx_unlock(&b.m);
	for (int i = 0; i < 6; i++)
		thrd_join(t[i], NULL);
	assert_int_equal(b.woken, 6);
	cnd_destroy(&b.c);
	mtx_destroy(&b.m);
}

static void test_cnd_timedwait_times_out_holding_the_mutex(void **state)
{
	mtx_t m;
	cnd_t c;
	struct timespec ts = utc_in_ms(5), past = { -1, 0 };

	(void)state;
	mtx_init(&m, mtx_timed);
	cnd_init(&c);
	mtx_lock(&m);
	assert_int_equal(cnd_timedwait(&c, &m, &ts), thrd_timedout);
	assert_int_equal(mtx_trylock(&m), thrd_busy);	/* held again */
	assert_int_equal(cnd_timedwait(&c, &m, &past), thrd_timedout);
	mtx_unlock(&m);
	cnd_destroy(&c);
	mtx_destroy(&m);
}

/* cnd_t is the drop-in's condvar: its waiter sits in a list, not in glibc's words. */
static void test_cnd_wait_is_the_drop_in(void **state)
{
	struct box b = { .ready = 0 };
	thrd_t t;
	uintptr_t head;

	(void)state;
	mtx_init(&b.m, mtx_plain);
	cnd_init(&b.c);
	thrd_create(&t, wait_for_go, &b);
	until_ready(&b, 1);
	memcpy(&head, (char *)&b.c + 16, sizeof(head));
	assert_true(head != 0);		/* the waiter's node on its stack */
	b.go = 1;
	cnd_signal(&b.c);
	mtx_unlock(&b.m);
	thrd_join(t, NULL);
	memcpy(&head, (char *)&b.c + 16, sizeof(head));
	assert_true(head == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mtx_lock_is_the_drop_in),
		cmocka_unit_test(test_mtx_trylock_on_held_mutex_returns_thrd_busy),
		cmocka_unit_test(test_mtx_timedlock_on_held_mutex_returns_thrd_timedout),
		cmocka_unit_test(test_mtx_recursive_counts),
		cmocka_unit_test(test_mtx_init_with_an_unknown_type_makes_a_plain_mutex),
		cmocka_unit_test(test_mtx_and_pthread_calls_share_one_mutex),
		cmocka_unit_test(test_cnd_signal_wakes_a_waiter),
		cmocka_unit_test(test_cnd_broadcast_wakes_every_waiter),
		cmocka_unit_test(test_cnd_timedwait_times_out_holding_the_mutex),
		cmocka_unit_test(test_cnd_wait_is_the_drop_in),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
