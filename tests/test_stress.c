/*
 * Mutual exclusion under load: threads mix lock, trylock and timedlock on
 * one mutex and increment a plain counter inside; the counter must equal
 * the number of successful acquisitions, and afterwards the lock word and
 * the token count must be back at rest (no waiter or token leaked).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <amutex.h>
#include <amutex/stats.h>
#include <errno.h>
#include <pthread.h>

#include "support.h"

#define THREADS 8
#define OPS_PER_THREAD 131072	/* 8 x 131072 = 1,048,576 operations */

struct shared {
	amutex_t m;
	uint64_t counter;	/* protected by m; plain on purpose */
	uint64_t acquired[THREADS];
	uint64_t timeouts[THREADS];
	long timed_ns;		/* timedlock budget */
};

struct worker { struct shared *s; int id; };

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct shared *s = w->s;
	unsigned seed = (unsigned)w->id * 2654435761u + 1;

	for (int i = 0; i < OPS_PER_THREAD; i++) {
		struct timespec ts;
		int r;

		seed = seed * 1103515245u + 12345u;
		switch ((seed >> 16) % 5) {
		case 0:
			r = amutex_trylock(&s->m);
			assert_true(r == 0 || r == EBUSY);
			break;
		case 1:
			ts = deadline_ns(CLOCK_MONOTONIC, s->timed_ns);
			r = amutex_timedlock(&s->m, &ts);
			assert_true(r == 0 || r == ETIMEDOUT);
			if (r == ETIMEDOUT)
				s->timeouts[w->id]++;
			break;
		default:
			r = amutex_lock(&s->m);
			assert_int_equal(r, 0);
		}
		if (r == 0) {
			s->counter++;
			s->acquired[w->id]++;
			assert_int_equal(amutex_unlock(&s->m), 0);
		}
	}
	return NULL;
}

static uint64_t run(struct shared *s)
{
	pthread_t t[THREADS];
	struct worker w[THREADS];
	uint64_t total = 0;

	for (int i = 0; i < THREADS; i++) {
		w[i].s = s;
		w[i].id = i;
		pthread_create(&t[i], NULL, worker, &w[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		total += s->acquired[i];
	}
	return total;
}

static void assert_at_rest(const amutex_t *m, uint32_t idle)
{
	assert_int_equal(m->state, idle);
	assert_int_equal(AMUTEX__SEMA_TOKENS(m->sema), 0);
}

static void test_default_mutex_counter_is_exact(void **state)
{
	static struct shared s;
	uint64_t total;

	(void)state;
	s.timed_ns = 1000000;
	assert_int_equal(amutex_init(&s.m, NULL), 0);
	total = run(&s);
	assert_int_equal(total, s.counter);
	assert_true(s.counter > 0);
	assert_at_rest(&s.m, 0);
	assert_int_equal(amutex_destroy(&s.m), 0);
}

/*
 * A tiny threshold and deadlines: starvation mode turns on and off all the
 * time and timed-out waiters leave while handoffs are in flight, which is
 * where a leaked token or waiter count would show.
 */
static void test_starving_mutex_with_timeouts_counter_is_exact(void **state)
{
	static struct shared s;
	uint64_t total;
	amutex_attr_t a;
	struct amutex_counters c;
	uint64_t timeouts = 0;

	(void)state;
	s.timed_ns = 20000;
	amutex_attr_init(&a);
	amutex_attr_setstarvation(&a, 2000);
	amutex_attr_setstats(&a, 1);
	assert_int_equal(amutex_init(&s.m, &a), 0);
	total = run(&s);
	assert_int_equal(total, s.counter);
	assert_at_rest(&s.m, 0);
	assert_int_equal(amutex_stats_read(&s.m, &c), 0);
	for (int i = 0; i < THREADS; i++)
		timeouts += s.timeouts[i];
	assert_int_equal(c.acquired_fast + c.acquired_spin + c.acquired_sleep, s.counter);
	assert_int_equal(c.timeouts, timeouts);
	assert_int_equal(c.starvation_entries, c.starvation_exits);
	assert_int_equal(amutex_destroy(&s.m), 0);
}

static void test_spin_off_mutex_counter_is_exact(void **state)
{
	static struct shared s;
	uint64_t total;
	amutex_attr_t a;

	(void)state;
	s.timed_ns = 100000;
	amutex_attr_init(&a);
	amutex_attr_setspin(&a, AMUTEX_SPIN_OFF);
	assert_int_equal(amutex_init(&s.m, &a), 0);
	total = run(&s);
	assert_int_equal(total, s.counter);
	assert_at_rest(&s.m, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_mutex_counter_is_exact),
		cmocka_unit_test(test_starving_mutex_with_timeouts_counter_is_exact),
		cmocka_unit_test(test_spin_off_mutex_counter_is_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
