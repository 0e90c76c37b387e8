/*
 * The POSIX behaviours of pthread mutexes and condition variables, through
 * plain pthread calls only. Built twice: linked with -lamutex-pthread ahead
 * of libc, and plain, run with LD_PRELOAD (tests/CMakeLists.txt). The first
 * test proves the drop-in is the one answering.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../support.h"

/*
 * The static build (test_dropin_static: the drop-in's objects linked into
 * the test, with the test seams) counts the drop-in's rare paths; the
 * linked and preloaded builds cannot see them.
 */
#ifdef AMUTEX_TEST_SEAMS
#include "dropin/dropin.h"
#define DROPIN_STEPS(s) __atomic_load_n(&amutex__dropin_steps[DROPIN_STEP_##s], __ATOMIC_RELAXED)
#endif

static char **main_argv;

/* The lock word of a drop-in mutex (white box): amutex's state. */
static uint32_t word_of(pthread_mutex_t *m)
{
	return __atomic_load_n((uint32_t *)(void *)m, __ATOMIC_SEQ_CST);
}

/* Threads queued on the mutex's futex (amutex's state, bits 4-31). */
static uint32_t sleepers_of(pthread_mutex_t *m)
{
	return word_of(m) >> 4;
}

#define in_ms(clock, ms) deadline_ns((clock), (ms) * 1000000L)

/* Before main: constructors of the program lock, wait and signal already. */
static pthread_mutex_t early = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t early_cond = PTHREAD_COND_INITIALIZER;
static int early_ok;

__attribute__((constructor)) static void lock_before_main(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	early_ok = pthread_mutex_lock(&early) == 0 &&
		   pthread_cond_signal(&early_cond) == 0 &&
		   pthread_cond_timedwait(&early_cond, &early, &ts) == ETIMEDOUT &&
		   pthread_mutex_unlock(&early) == 0;
}

static void test_mutex_and_cond_work_before_main(void **state)
{
	(void)state;
	assert_int_equal(early_ok, 1);
}

static void test_drop_in_answers_pthread_calls(void **state)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	uint32_t word[10];

	(void)state;
	pthread_mutex_lock(&m);
	memcpy(word, &m, sizeof(word));
	/* amutex: LOCKED in the first word; glibc would have written its owner's tid at 8. */
	assert_int_equal(word[0], 1);
	assert_int_equal(word[2], 0);
	pthread_mutex_unlock(&m);
	memcpy(word, &m, sizeof(word));
	assert_int_equal(word[0], 0);
}

static void test_static_initializer_mutex_locks_and_unlocks(void **state)
{
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

	(void)state;
	assert_int_equal(pthread_mutex_lock(&m), 0);
	assert_int_equal(pthread_mutex_trylock(&m), EBUSY);
	assert_int_equal(pthread_mutex_unlock(&m), 0);
	assert_int_equal(pthread_mutex_trylock(&m), 0);
	assert_int_equal(pthread_mutex_unlock(&m), 0);
}

static void test_recursive_static_initializer_counts(void **state)
{
	static pthread_mutex_t m = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

	(void)state;
	assert_int_equal(pthread_mutex_lock(&m), 0);
	assert_int_equal(pthread_mutex_lock(&m), 0);
	assert_int_equal(pthread_mutex_trylock(&m), 0);
	assert_int_equal(pthread_mutex_unlock(&m), 0);
	assert_int_equal(pthread_mutex_unlock(&m), 0);
	assert_int_equal(pthread_mutex_unlock(&m), 0);
	assert_int_equal(pthread_mutex_unlock(&m), EPERM);
}

static void test_errorcheck_static_initializer_relock_returns_edeadlk(void **state)
{
	static pthread_mutex_t m = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;

	(void)state;
	assert_int_equal(pthread_mutex_lock(&m), 0);
	assert_int_equal(pthread_mutex_lock(&m), EDEADLK);
	assert_int_equal(pthread_mutex_trylock(&m), EBUSY);
	assert_int_equal(pthread_mutex_unlock(&m), 0);
	assert_int_equal(pthread_mutex_unlock(&m), EPERM);
}

static void test_adaptive_static_initializer_locks(void **state)
{
	static pthread_mutex_t m = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;

	(void)state;
	assert_int_equal(pthread_mutex_lock(&m), 0);
	assert_int_equal(pthread_mutex_trylock(&m), EBUSY);
	assert_int_equal(pthread_mutex_unlock(&m), 0);
}

static void init_type(pthread_mutex_t *m, int type)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, type);
	assert_int_equal(pthread_mutex_init(m, &a), 0);
	pthread_mutexattr_destroy(&a);
}

static void *unlock_other(void *arg)
{
	return (void *)(intptr_t)pthread_mutex_unlock(arg);
}

static int unlock_from_another_thread(pthread_mutex_t *m)
{
	pthread_t t;
	void *r;

	pthread_create(&t, NULL, unlock_other, m);
	pthread_join(t, &r);
	return (int)(intptr_t)r;
}

static void test_errorcheck_unlock_by_non_owner_returns_eperm(void **state)
{
	pthread_mutex_t m;

	(void)state;
	init_type(&m, PTHREAD_MUTEX_ERRORCHECK);
	assert_int_equal(pthread_mutex_lock(&m), 0);
	assert_int_equal(unlock_from_another_thread(&m), EPERM);
	assert_int_equal(pthread_mutex_unlock(&m), 0);
	assert_int_equal(pthread_mutex_destroy(&m), 0);
}

static void test_recursive_unlock_by_non_owner_returns_eperm(void **state)
{
	pthread_mutex_t m;

	(void)state;
	init_type(&m, PTHREAD_MUTEX_RECURSIVE);
	assert_int_equal(pthread_mutex_lock(&m), 0);
	assert_int_equal(pthread_mutex_lock(&m), 0);
	assert_int_equal(unlock_from_another_thread(&m), EPERM);
	assert_int_equal(pthread_mutex_unlock(&m), 0);
	assert_int_equal(pthread_mutex_unlock(&m), 0);
	assert_int_equal(pthread_mutex_destroy(&m), 0);
}

static void *trylock_other(void *arg)
{
	return (void *)(intptr_t)pthread_mutex_trylock(arg);
}

static void test_recursive_mutex_is_busy_for_other_threads_until_fully_unlocked(void **state)
{
	pthread_mutex_t m;
	pthread_t t;
	void *r;

	(void)state;
	init_type(&m, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_lock(&m);
	pthread_mutex_lock(&m);
	pthread_mutex_unlock(&m);
	pthread_create(&t, NULL, trylock_other, &m);
	pthread_join(t, &r);
	assert_int_equal((int)(intptr_t)r, EBUSY);
	pthread_mutex_unlock(&m);
	pthread_create(&t, NULL, trylock_other, &m);
	pthread_join(t, &r);
	assert_int_equal((int)(intptr_t)r, 0);
}

static void test_timedlock_on_held_mutex_returns_etimedout(void **state)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct timespec rt = in_ms(CLOCK_REALTIME, 5), mono = in_ms(CLOCK_MONOTONIC, 5);

	(void)state;
	pthread_mutex_lock(&m);
	assert_int_equal(pthread_mutex_timedlock(&m, &rt), ETIMEDOUT);
	assert_int_equal(pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &mono), ETIMEDOUT);
	pthread_mutex_unlock(&m);
	rt = in_ms(CLOCK_REALTIME, 5);
	assert_int_equal(pthread_mutex_timedlock(&m, &rt), 0);
	pthread_mutex_unlock(&m);
}

static void test_timedlock_invalid_arguments_return_einval(void **state)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct timespec bad = { 1, 1000000000 }, ok = in_ms(CLOCK_MONOTONIC, 5);

	(void)state;
	pthread_mutex_lock(&m);
	assert_int_equal(pthread_mutex_timedlock(&m, &bad), EINVAL);
	assert_int_equal(pthread_mutex_clocklock(&m, CLOCK_PROCESS_CPUTIME_ID, &ok), EINVAL);
	pthread_mutex_unlock(&m);
}

static void test_destroy_of_locked_mutex_returns_ebusy(void **state)
{
	pthread_mutex_t m;

	(void)state;
	pthread_mutex_init(&m, NULL);
	pthread_mutex_lock(&m);
	assert_int_equal(pthread_mutex_destroy(&m), EBUSY);
	pthread_mutex_unlock(&m);
	assert_int_equal(pthread_mutex_destroy(&m), 0);
}

static void test_consistent_on_non_robust_mutex_returns_einval(void **state)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

	(void)state;
	assert_int_equal(pthread_mutex_consistent(&m), EINVAL);
}

static void *die_holding(void *arg)
{
	pthread_mutex_lock(arg);
	return NULL;	/* exits with the robust mutex held */
}

static void test_robust_mutex_reports_dead_owner_through_glibc(void **state)
{
	pthread_mutexattr_t a;
	pthread_mutex_t m;
	pthread_t t;

	(void)state;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	assert_int_equal(pthread_mutex_init(&m, &a), 0);
	pthread_create(&t, NULL, die_holding, &m);
	pthread_join(t, NULL);
	assert_int_equal(pthread_mutex_lock(&m), EOWNERDEAD);
	assert_int_equal(pthread_mutex_consistent(&m), 0);
	assert_int_equal(pthread_mutex_unlock(&m), 0);
	assert_int_equal(pthread_mutex_lock(&m), 0);
	assert_int_equal(pthread_mutex_unlock(&m), 0);
	assert_int_equal(pthread_mutex_destroy(&m), 0);
}

static void test_priority_inheritance_mutex_locks_through_glibc(void **state)
{
	pthread_mutexattr_t a;
	pthread_mutex_t m;

	(void)state;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	assert_int_equal(pthread_mutex_init(&m, &a), 0);
	assert_int_equal(pthread_mutex_lock(&m), 0);
	assert_int_equal(pthread_mutex_trylock(&m), EBUSY);
	assert_int_equal(pthread_mutex_unlock(&m), 0);
	assert_int_equal(pthread_mutex_destroy(&m), 0);
}

struct flag { pthread_mutex_t *m; pthread_cond_t *c; int ready, woken; };

static void *wait_for_ready(void *arg)
{
	struct flag *f = arg;

	pthread_mutex_lock(f->m);
	while (!f->ready)
		pthread_cond_wait(f->c, f->m);
	f->woken++;
	pthread_mutex_unlock(f->m);
	return NULL;
}

static void test_cond_with_robust_mutex_works(void **state)
{
	pthread_mutexattr_t a;
	pthread_mutex_t m;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct flag f = { &m, &c, 0, 0 };
	pthread_t t;

	(void)state;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&m, &a);
	pthread_create(&t, NULL, wait_for_ready, &f);
	nap_ms(10);
	pthread_mutex_lock(&m);
	f.ready = 1;
	pthread_cond_signal(&c);
	pthread_mutex_unlock(&m);
	pthread_join(t, NULL);
	assert_int_equal(f.woken, 1);
}

static void test_cond_signal_wakes_a_waiter(void **state)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct flag f = { &m, &c, 0, 0 };
	pthread_t t;

	(void)state;
	pthread_create(&t, NULL, wait_for_ready, &f);
	nap_ms(10);
	pthread_mutex_lock(&m);
	f.ready = 1;
	pthread_cond_signal(&c);
	pthread_mutex_unlock(&m);
	pthread_join(t, NULL);
	assert_int_equal(f.woken, 1);
	assert_int_equal(pthread_cond_destroy(&c), 0);
}

static void test_cond_broadcast_wakes_every_waiter(void **state)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct flag f = { &m, &c, 0, 0 };
	pthread_t t[8];

	(void)state;
	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, wait_for_ready, &f);
	nap_ms(20);
	pthread_mutex_lock(&m);
	f.ready = 1;
	pthread_cond_broadcast(&c);
	pthread_mutex_unlock(&m);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(f.woken, 8);
}

static void test_cond_timedwait_times_out_holding_the_mutex(void **state)
{
	pthread_mutex_t m;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct timespec ts = in_ms(CLOCK_REALTIME, 10);

	(void)state;
	init_type(&m, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_lock(&m);
	assert_int_equal(pthread_cond_timedwait(&c, &m, &ts), ETIMEDOUT);
	/* Held again: an errorcheck relock says so. */
	assert_int_equal(pthread_mutex_lock(&m), EDEADLK);
	ts = in_ms(CLOCK_MONOTONIC, 10);
	assert_int_equal(pthread_cond_clockwait(&c, &m, CLOCK_MONOTONIC, &ts), ETIMEDOUT);
	assert_int_equal(pthread_mutex_unlock(&m), 0);
}

static void test_cond_with_monotonic_clock_attribute_times_out(void **state)
{
	pthread_condattr_t a;
	pthread_cond_t c;
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct timespec ts = in_ms(CLOCK_MONOTONIC, 10);

	(void)state;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	assert_int_equal(pthread_cond_init(&c, &a), 0);
	pthread_mutex_lock(&m);
	assert_int_equal(pthread_cond_timedwait(&c, &m, &ts), ETIMEDOUT);
	pthread_mutex_unlock(&m);
	assert_int_equal(pthread_cond_destroy(&c), 0);
}

static void test_cond_timedwait_malformed_deadline_returns_einval(void **state)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct timespec bad = { 1, -5 };

	(void)state;
	pthread_mutex_lock(&m);
	assert_int_equal(pthread_cond_timedwait(&c, &m, &bad), EINVAL);
	assert_int_equal(pthread_cond_clockwait(&c, &m, CLOCK_THREAD_CPUTIME_ID, &bad), EINVAL);
	pthread_mutex_unlock(&m);
}

struct cancel { pthread_mutex_t m; pthread_cond_t c; int held_in_cleanup; int started; };

static void cleanup(void *arg)
{
	struct cancel *x = arg;

	/* Errorcheck: EDEADLK means this thread holds it again. */
	x->held_in_cleanup = pthread_mutex_lock(&x->m) == EDEADLK;
	pthread_mutex_unlock(&x->m);
}

static void *wait_forever(void *arg)
{
	struct cancel *x = arg;

	pthread_mutex_lock(&x->m);
	pthread_cleanup_push(cleanup, x);
	x->started = 1;
	for (;;)
		pthread_cond_wait(&x->c, &x->m);
	pthread_cleanup_pop(0);
	return NULL;
}

/*
 * Once t waits in x's condvar: cancel it; it ends cancelled, its cleanup
 * having run with the mutex held.
 */
static void cancel_waiter(struct cancel *x, pthread_t t)
{
	void *r;

	while (!__atomic_load_n(&x->started, __ATOMIC_ACQUIRE))
		nap_ms(1);
	nap_ms(10);
	pthread_cancel(t);
	pthread_join(t, &r);
	assert_ptr_equal(r, PTHREAD_CANCELED);
	assert_int_equal(x->held_in_cleanup, 1);
}

static void test_cancelled_cond_waiter_holds_mutex_in_cleanup(void **state)
{
	static struct cancel x;
	pthread_t t;

	(void)state;
	init_type(&x.m, PTHREAD_MUTEX_ERRORCHECK);
	pthread_cond_init(&x.c, NULL);
	pthread_create(&t, NULL, wait_forever, &x);
	cancel_waiter(&x, t);
	/* And released by the cleanup: free for us. */
	assert_int_equal(pthread_mutex_trylock(&x.m), 0);
	pthread_mutex_unlock(&x.m);
}

/*
 * The same on a stack the program allocated (pthread_attr_setstack), small
 * and in its own mapping: pthread_cancel finds the waiter's cancellation
 * slot at the caller's offset from the thread descriptor, which glibc
 * places (with the static TLS) inside that stack. A wrong offset leaves
 * the waiter asleep and this test hung.
 */
static void test_cancelled_cond_waiter_on_program_stack(void **state)
{
	static struct cancel x;
	size_t size = 64 * 1024;
	void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_attr_t a;
	pthread_t t;

	(void)state;
	assert_true(stack != MAP_FAILED);
	init_type(&x.m, PTHREAD_MUTEX_ERRORCHECK);
	pthread_cond_init(&x.c, NULL);
	x.started = x.held_in_cleanup = 0;
	pthread_attr_init(&a);
	assert_int_equal(pthread_attr_setstack(&a, stack, size), 0);
	assert_int_equal(pthread_create(&t, &a, wait_forever, &x), 0);
	pthread_attr_destroy(&a);
	cancel_waiter(&x, t);
	pthread_mutex_destroy(&x.m);
	pthread_cond_destroy(&x.c);
	munmap(stack, size);
}

struct shared { pthread_mutex_t m; pthread_cond_t c; int count; int done; };

static void test_process_shared_mutex_and_cond_work_across_fork(void **state)
{
	struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	int status;
	pid_t pid;

	(void)state;
	assert_true(s != MAP_FAILED);
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	assert_int_equal(pthread_mutex_init(&s->m, &ma), 0);
	assert_int_equal(pthread_cond_init(&s->c, &ca), 0);
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 10000; i++) {
			pthread_mutex_lock(&s->m);
			s->count++;
			pthread_mutex_unlock(&s->m);
		}
		pthread_mutex_lock(&s->m);
		s->done = 1;
		pthread_cond_signal(&s->c);
		pthread_mutex_unlock(&s->m);
		_exit(0);
	}
	for (int i = 0; i < 10000; i++) {
		pthread_mutex_lock(&s->m);
		s->count++;
		pthread_mutex_unlock(&s->m);
	}
	pthread_mutex_lock(&s->m);
	while (!s->done)
		pthread_cond_wait(&s->c, &s->m);
	pthread_mutex_unlock(&s->m);
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(s->count, 20000);
	munmap(s, sizeof(*s));
}

static pthread_mutex_t fork_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t fork_r = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

static void test_child_of_fork_can_use_every_mutex(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	/* Contend fork_m first so that it carries statistics into the child. */
	pthread_mutex_lock(&fork_r);
	pthread_mutex_unlock(&fork_r);
	pid = fork();
	if (pid == 0) {
		int ok = pthread_mutex_lock(&fork_m) == 0 && pthread_mutex_unlock(&fork_m) == 0 &&
			 pthread_mutex_lock(&fork_r) == 0 && pthread_mutex_lock(&fork_r) == 0 &&
			 pthread_mutex_unlock(&fork_r) == 0 && pthread_mutex_unlock(&fork_r) == 0;
		_exit(ok ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * Condvar torture: producers and consumers on a bounded queue with
 * separate not-empty/not-full condvars, some consumers with short timed
 * waits that expire while signals race, and a broadcast storm thread.
 * Every item produced must be consumed exactly once.
 */
#define QCAP 8
#define PRODUCERS 4
#define CONSUMERS 4
#define ITEMS 20000

static struct {
	pthread_mutex_t m;
	pthread_cond_t not_empty, not_full;
	int q[QCAP], head, n;
	long produced_sum, consumed_sum, consumed, timeouts;
	int stop_storm;
} T = { .m = PTHREAD_MUTEX_INITIALIZER, .not_empty = PTHREAD_COND_INITIALIZER,
	.not_full = PTHREAD_COND_INITIALIZER };

static void *producer(void *arg)
{
	int id = (int)(intptr_t)arg;

	for (int i = 0; i < ITEMS; i++) {
		int v = id * ITEMS + i;

		pthread_mutex_lock(&T.m);
		while (T.n == QCAP)
			pthread_cond_wait(&T.not_full, &T.m);
		T.q[(T.head + T.n++) % QCAP] = v;
		T.produced_sum += v;
		pthread_cond_signal(&T.not_empty);
		pthread_mutex_unlock(&T.m);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	int timed = (int)(intptr_t)arg;

	for (;;) {
		pthread_mutex_lock(&T.m);
		while (T.n == 0 && T.consumed < (long)PRODUCERS * ITEMS) {
			if (timed) {
				struct timespec ts = in_ms(CLOCK_MONOTONIC, 1);

				if (pthread_cond_clockwait(&T.not_empty, &T.m, CLOCK_MONOTONIC,
							   &ts) == ETIMEDOUT)
					T.timeouts++;
			} else {
				pthread_cond_wait(&T.not_empty, &T.m);
			}
		}
		if (T.consumed == (long)PRODUCERS * ITEMS) {
			pthread_cond_broadcast(&T.not_empty);
			pthread_mutex_unlock(&T.m);
			return NULL;
		}
		T.consumed_sum += T.q[T.head];
		T.head = (T.head + 1) % QCAP;
		T.n--;
		T.consumed++;
		pthread_cond_signal(&T.not_full);
		pthread_mutex_unlock(&T.m);
	}
}

static void *storm(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&T.stop_storm, __ATOMIC_RELAXED)) {
		pthread_cond_broadcast(&T.not_empty);
		pthread_cond_broadcast(&T.not_full);
		sched_yield();
	}
	return NULL;
}

static void test_condvar_torture_consumes_every_item_once(void **state)
{
	pthread_t p[PRODUCERS], c[CONSUMERS], s;

	(void)state;
	pthread_create(&s, NULL, storm, NULL);
	for (int i = 0; i < CONSUMERS; i++)
		pthread_create(&c[i], NULL, consumer, (void *)(intptr_t)(i % 2));
	for (int i = 0; i < PRODUCERS; i++)
		pthread_create(&p[i], NULL, producer, (void *)(intptr_t)i);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(p[i], NULL);
	for (int i = 0; i < CONSUMERS; i++)
		pthread_join(c[i], NULL);
	__atomic_store_n(&T.stop_storm, 1, __ATOMIC_RELAXED);
	pthread_join(s, NULL);
	assert_int_equal(T.consumed, (long)PRODUCERS * ITEMS);
	assert_int_equal(T.consumed_sum, T.produced_sum);
	assert_int_equal(T.n, 0);
}

static pthread_mutex_t reported = PTHREAD_MUTEX_INITIALIZER;
static int hold_stop;

static void *hold_reported(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&hold_stop, __ATOMIC_RELAXED)) {
		pthread_mutex_lock(&reported);
		nap_ms(1);
		pthread_mutex_unlock(&reported);
	}
	return NULL;
}

int contend_reported_lock(void);

/* 50 acquisitions; returns how many found the mutex held (and waited). */
__attribute__((noinline)) int contend_reported_lock(void)
{
	int busy = 0;

	for (int i = 0; i < 50; i++) {
		if (pthread_mutex_trylock(&reported) == EBUSY) {
			busy++;
			pthread_mutex_lock(&reported);
		}
		pthread_mutex_unlock(&reported);
	}
	return busy;
}

/* ---- Return codes as glibc's ---- */

static void test_timedlock_with_negative_tv_sec_returns_etimedout(void **state)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct timespec past = { -1, 0 };

	(void)state;
	pthread_mutex_lock(&m);
	assert_int_equal(pthread_mutex_timedlock(&m, &past), ETIMEDOUT);
	assert_int_equal(pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &past), ETIMEDOUT);
	pthread_mutex_unlock(&m);
}

static void test_cond_timedwait_with_negative_tv_sec_returns_etimedout(void **state)
{
	pthread_mutex_t m;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct timespec past = { -5, 0 };

	(void)state;
	init_type(&m, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_lock(&m);
	assert_int_equal(pthread_cond_timedwait(&c, &m, &past), ETIMEDOUT);
	assert_int_equal(pthread_mutex_lock(&m), EDEADLK);	/* held again */
	assert_int_equal(pthread_cond_clockwait(&c, &m, CLOCK_MONOTONIC, &past), ETIMEDOUT);
	assert_int_equal(pthread_cond_clockwait(&c, &m, CLOCK_REALTIME, &past), ETIMEDOUT);
	assert_int_equal(pthread_mutex_unlock(&m), 0);
	assert_int_equal(pthread_cond_destroy(&c), 0);
}

static void test_unlock_of_unlocked_normal_mutex_returns_0_as_glibc(void **state)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER, a = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
	pthread_mutex_t e, r;

	(void)state;
	assert_int_equal(pthread_mutex_unlock(&m), 0);
	assert_int_equal(pthread_mutex_unlock(&a), 0);
	assert_int_equal(pthread_mutex_trylock(&m), 0);	/* and still a working mutex */
	assert_int_equal(pthread_mutex_unlock(&m), 0);
	init_type(&e, PTHREAD_MUTEX_ERRORCHECK);
	init_type(&r, PTHREAD_MUTEX_RECURSIVE);
	assert_int_equal(pthread_mutex_unlock(&e), EPERM);
	assert_int_equal(pthread_mutex_unlock(&r), EPERM);
}

/* ---- Destroying a condvar right after waking its waiters ---- */

#define CV_WAITERS 4
#define CV_ROUNDS 300
#define POISON 0xa5

struct cv_round {
	pthread_mutex_t m;
	pthread_cond_t *c;
	int ready, go, woken;
};

static void *cv_round_waiter(void *arg)
{
	struct cv_round *r = arg;

	pthread_mutex_lock(&r->m);
	r->ready++;
	while (!r->go)
		pthread_cond_wait(r->c, &r->m);
	r->woken++;
	pthread_mutex_unlock(&r->m);
	return NULL;
}

#ifndef __SANITIZE_ADDRESS__
static int poisoned(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != POISON)
			return 0;
	return 1;
}
#endif

/* Wait, under the mutex, until n waiters are inside pthread_cond_wait. */
static void until_ready(struct cv_round *r, int n)
{
	while (r->ready < n) {
		pthread_mutex_unlock(&r->m);
		sched_yield();
		pthread_mutex_lock(&r->m);
	}
}

/*
 * Rounds of: waiters block; wake them (broadcast, or one signal per
 * waiter); destroy at once, which must return 0; then the memory is
 * poisoned (under AddressSanitizer: freed) and must stay so while the
 * woken threads relock and leave. A round reuses the same memory.
 */
static void cv_destroy_rounds(int shared, int broadcast)
{
	pthread_condattr_t ca;
	unsigned char *mem;
	int waited = 0;

	pthread_condattr_init(&ca);
	if (shared)
		pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(mem != MAP_FAILED);
	for (int round = 0; round < CV_ROUNDS; round++) {
		struct cv_round r = { .m = PTHREAD_MUTEX_INITIALIZER };
		pthread_t t[CV_WAITERS];
		pthread_cond_t *c;

#ifdef __SANITIZE_ADDRESS__
		c = malloc(sizeof(*c));
		assert_non_null(c);
		(void)mem;
#else
		c = (pthread_cond_t *)(void *)(mem + 64);
#endif
		assert_int_equal(pthread_cond_init(c, &ca), 0);
		r.c = c;
		for (int i = 0; i < CV_WAITERS; i++)
			pthread_create(&t[i], NULL, cv_round_waiter, &r);
		pthread_mutex_lock(&r.m);
		until_ready(&r, CV_WAITERS);
		r.go = 1;
		if (broadcast) {
			pthread_cond_broadcast(c);
		} else {
			for (int i = 0; i < CV_WAITERS; i++)
				pthread_cond_signal(c);
		}
		/* Half the rounds destroy with the mutex still held, half after. */
		if (round % 2)
			pthread_mutex_unlock(&r.m);
		assert_int_equal(pthread_cond_destroy(c), 0);
		waited += r.woken < CV_WAITERS;
#ifdef __SANITIZE_ADDRESS__
		free(c);
#else
		memset(mem, POISON, 4096);
#endif
		if (!(round % 2))
			pthread_mutex_unlock(&r.m);
		for (int i = 0; i < CV_WAITERS; i++)
			pthread_join(t[i], NULL);
		assert_int_equal(r.woken, CV_WAITERS);
#ifndef __SANITIZE_ADDRESS__
		assert_true(poisoned(mem, 4096));
#endif
	}
	/* The interesting rounds: woken waiters still on their way at destroy. */
	print_message("%d of %d rounds destroyed before every waiter had relocked\n",
		      waited, CV_ROUNDS);
	assert_true(waited > 0);
	munmap(mem, 4096);
}

static void test_cond_broadcast_then_destroy_returns_0_and_nothing_touches_it_after(void **state)
{
	(void)state;
	cv_destroy_rounds(0, 1);
}

static void test_cond_signal_then_destroy_returns_0_and_nothing_touches_it_after(void **state)
{
	(void)state;
	cv_destroy_rounds(0, 0);
}

static void test_shared_cond_broadcast_then_destroy_returns_0_and_nothing_touches_it_after(void **state)
{
	(void)state;
	cv_destroy_rounds(1, 1);
#ifdef AMUTEX_TEST_SEAMS
	print_message("shared destroys that waited for woken waiters: %llu\n",
		      (unsigned long long)DROPIN_STEPS(SHARED_DESTROY_WAITED));
#endif
}

static void test_cond_destroy_with_a_blocked_waiter_returns_ebusy(void **state)
{
	for (int shared = 0; shared < 2; shared++) {
		pthread_condattr_t ca;
		pthread_cond_t c;
		struct cv_round r = { .m = PTHREAD_MUTEX_INITIALIZER, .c = &c };
		pthread_t t;

		(void)state;
		pthread_condattr_init(&ca);
		pthread_condattr_setpshared(&ca, shared ? PTHREAD_PROCESS_SHARED :
					    PTHREAD_PROCESS_PRIVATE);
		pthread_cond_init(&c, &ca);
		pthread_create(&t, NULL, cv_round_waiter, &r);
		pthread_mutex_lock(&r.m);
		until_ready(&r, 1);
		assert_int_equal(pthread_cond_destroy(&c), EBUSY);
		r.go = 1;
		pthread_cond_signal(&c);
		pthread_mutex_unlock(&r.m);
		pthread_join(t, NULL);
		assert_int_equal(pthread_cond_destroy(&c), 0);
	}
}

/* ---- Cancellation never swallows a wake-up ---- */

#define VICTIMS 4
#define CANCEL_ROUNDS 400

static struct {
	pthread_mutex_t m;
	pthread_cond_t c;
	int tokens, ready, by_survivor, by_victim, stop;
} K = { .m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER };

static void unlock_k(void *arg)
{
	(void)arg;
	pthread_mutex_unlock(&K.m);
}

static void *token_taker(void *arg)
{
	int survivor = (int)(intptr_t)arg;

	pthread_mutex_lock(&K.m);
	pthread_cleanup_push(unlock_k, NULL);
	K.ready++;
	for (;;) {
		while (K.tokens == 0 && !K.stop)
			pthread_cond_wait(&K.c, &K.m);
		if (K.stop)
			break;
		K.tokens--;
		if (survivor)
			K.by_survivor++;
		else
			K.by_victim++;
	}
	pthread_cleanup_pop(1);
	return NULL;
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * Victims queue first, so that a signal goes to one of them (oldest
 * first); the survivor queues last. One token is signalled while every
 * victim is cancelled, each at a random point before or after the signal:
 * the token must be taken, by a victim whose wake-up came before its
 * cancellation took effect (it returns 0, and is cancelled at its next
 * wait), or by the survivor. A victim that consumed the wake-up and did
 * not take the token would leave the survivor asleep with a token left
 * (the test then fails after 10 s instead of hanging).
 */
static void test_cancelled_cond_waiters_never_swallow_a_signal(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();

	(void)state;
	for (int round = 0; round < CANCEL_ROUNDS; round++) {
		pthread_t v[VICTIMS], s;
		int signal_after = (int)(xorshift(&x) % (VICTIMS + 1));
		uint64_t t0;

		K.ready = K.tokens = K.stop = 0;
		for (int i = 0; i < VICTIMS; i++) {
			pthread_create(&v[i], NULL, token_taker, (void *)0);
			pthread_mutex_lock(&K.m);
			while (K.ready < i + 1) {
				pthread_mutex_unlock(&K.m);
				sched_yield();
				pthread_mutex_lock(&K.m);
			}
			pthread_mutex_unlock(&K.m);
		}
		pthread_create(&s, NULL, token_taker, (void *)1);
		pthread_mutex_lock(&K.m);
		while (K.ready < VICTIMS + 1) {
			pthread_mutex_unlock(&K.m);
			sched_yield();
			pthread_mutex_lock(&K.m);
		}
		pthread_mutex_unlock(&K.m);
		for (int i = 0; i <= VICTIMS; i++) {
			if (i == signal_after) {
				/* Sometimes the victims are all gone first: the survivor's turn. */
				for (int j = 0; i == VICTIMS && j < VICTIMS; j++)
					pthread_join(v[j], NULL);
				pthread_mutex_lock(&K.m);
				K.tokens = 1;
				pthread_cond_signal(&K.c);
				pthread_mutex_unlock(&K.m);
			}
			if (i == VICTIMS)
				break;
			for (uint64_t n = xorshift(&x) % 3000; n; n--)
				__asm__ __volatile__("" ::: "memory");
			pthread_cancel(v[i]);
		}
		for (int i = 0; signal_after < VICTIMS && i < VICTIMS; i++)
			pthread_join(v[i], NULL);
		t0 = now_ns();
		pthread_mutex_lock(&K.m);
		while (K.tokens != 0 && now_ns() - t0 < 10000000000ull) {
			pthread_mutex_unlock(&K.m);
			nap_ms(1);
			pthread_mutex_lock(&K.m);
		}
		assert_int_equal(K.tokens, 0);
		K.stop = 1;
		pthread_cond_broadcast(&K.c);
		pthread_mutex_unlock(&K.m);
		pthread_join(s, NULL);
	}
	print_message("tokens taken by victims %d, by the survivor %d\n", K.by_victim,
		      K.by_survivor);
	assert_int_equal(K.by_victim + K.by_survivor, CANCEL_ROUNDS);
	assert_true(K.by_survivor > 0);
#ifdef AMUTEX_TEST_SEAMS
	print_message("sleeping waiters woken by pthread_cancel %llu; cancelled after their "
		      "wake-up, so returned 0 %llu; signals that met a leaving waiter %llu\n",
		      (unsigned long long)DROPIN_STEPS(CANCEL_POKED),
		      (unsigned long long)DROPIN_STEPS(CANCEL_AFTER_WAKE),
		      (unsigned long long)DROPIN_STEPS(SIGNAL_MET_LEAVING));
	assert_true(DROPIN_STEPS(CANCEL_POKED) > 0);
	assert_true(DROPIN_STEPS(CANCEL_AFTER_WAKE) > 0);
#endif
}

/*
 * Waiters whose deadlines pass all the time (each leaves the list by
 * itself) while a producer signals one token at a time: a signal that
 * meets a leaving waiter (the oldest node, so the signal walks past it)
 * must still wake one that waits, so every token is taken. Runs until a
 * signal has met a leaving waiter (counted in the static build, which also
 * widens the window between LEAVING and the unlink), at most 20 rounds.
 */
#define LEAVERS 3
#define LEAVE_TOKENS 20000

static struct {
	pthread_mutex_t m;
	pthread_cond_t c;
	long made, taken;
	int done;
} L = { .m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER };

static void *impatient_taker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&L.m);
	while (!L.done) {
		if (L.made > L.taken) {
			L.taken++;
			continue;
		}
		struct timespec ts = deadline_ns(CLOCK_REALTIME, 2000);

		pthread_cond_timedwait(&L.c, &L.m, &ts);
	}
	pthread_mutex_unlock(&L.m);
	return NULL;
}

#ifdef AMUTEX_TEST_SEAMS
static void linger(void)
{
	busy(20000);
}
#endif

static void test_signal_meeting_leaving_waiters_still_wakes_a_waiting_one(void **state)
{
	(void)state;
#ifdef AMUTEX_TEST_SEAMS
	/* Widen the window between LEAVING and the unlink: let the signaller in. */
	__atomic_store_n(&amutex__dropin_leaving_point, linger, __ATOMIC_RELEASE);
#endif
	/* Until a signal met a leaving waiter: most runs need one round, a loaded machine more. */
	for (int round = 0; round < 100; round++) {
		pthread_t t[LEAVERS];

		L.made = L.taken = L.done = 0;
		for (int i = 0; i < LEAVERS; i++)
			pthread_create(&t[i], NULL, impatient_taker, NULL);
		for (int i = 0; i < LEAVE_TOKENS; i++) {
			pthread_mutex_lock(&L.m);
			L.made++;
			pthread_cond_signal(&L.c);
			pthread_mutex_unlock(&L.m);
		}
		pthread_mutex_lock(&L.m);
		while (L.taken < L.made) {
			pthread_mutex_unlock(&L.m);
			nap_ms(1);
			pthread_mutex_lock(&L.m);
		}
		L.done = 1;
		pthread_cond_broadcast(&L.c);
		pthread_mutex_unlock(&L.m);
		for (int i = 0; i < LEAVERS; i++)
			pthread_join(t[i], NULL);
		assert_int_equal(L.taken, L.made);
#ifdef AMUTEX_TEST_SEAMS
		if (DROPIN_STEPS(SIGNAL_MET_LEAVING) > 0)
			break;
#endif
	}
#ifdef AMUTEX_TEST_SEAMS
	__atomic_store_n(&amutex__dropin_leaving_point, NULL, __ATOMIC_RELEASE);
	print_message("signals that met a leaving waiter: %llu\n",
		      (unsigned long long)DROPIN_STEPS(SIGNAL_MET_LEAVING));
	assert_true(DROPIN_STEPS(SIGNAL_MET_LEAVING) > 0);
#endif
}

/*
 * Broadcast rounds to 11 waiters (the woken form a tree: the broadcaster
 * opens three roots' barriers, each woken waiter two others'; 11 make the
 * parent move past the first root), some with deadlines that pass around the broadcast,
 * so that a broadcast meets waiters leaving the list among those it wakes
 * (counted; in the static build a timed-out waiter waits for the
 * broadcast at the pause point, await_signaller); every other round
 * broadcasts after the unlock, so that woken waiters can relock and return
 * while the broadcaster still opens roots. Every waiter that
 * does not time out must be woken by its round's broadcast, and every
 * thread returns.
 */
#define TREE_WAITERS 11
#define TREE_ROUNDS 300

#ifdef AMUTEX_TEST_SEAMS
/*
 * A timed-out waiter between LEAVING and its unlink waits (at most 20 ms)
 * for a signaller to meet it there, so that the broadcasts below meet
 * leaving waiters whatever the timing of this machine or sanitizer.
 */
static void await_signaller(void)
{
	uint64_t met = DROPIN_STEPS(SIGNAL_MET_LEAVING), end = now_ns() + 20000000;

	while (DROPIN_STEPS(SIGNAL_MET_LEAVING) == met && now_ns() < end) {
		struct timespec ts = { 0, 50000 };

		nanosleep(&ts, NULL);
	}
}
#endif

static struct {
	pthread_mutex_t m;
	pthread_cond_t c;
	int gen, in, woken, timedout;
} TR = { .m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER };

static void *tree_waiter(void *arg)
{
	int timed = (int)(intptr_t)arg, gen;

	pthread_mutex_lock(&TR.m);
	gen = TR.gen;
	TR.in++;
	while (TR.gen == gen) {
		if (timed) {
			struct timespec ts = deadline_ns(CLOCK_REALTIME, 20000);

			if (pthread_cond_timedwait(&TR.c, &TR.m, &ts) == ETIMEDOUT &&
			    TR.gen == gen) {
				TR.timedout++;
				break;
			}
		} else {
			pthread_cond_wait(&TR.c, &TR.m);
		}
	}
	if (TR.gen != gen)
		TR.woken++;
	pthread_mutex_unlock(&TR.m);
	return NULL;
}

static void test_broadcast_tree_wakes_every_waiter_while_some_leave(void **state)
{
	uint64_t met0, two0, roots0;
	int untimed = 0;

	(void)state;
	for (int i = 0; i < TREE_WAITERS; i++)
		untimed += i % 3 != 1;
#ifdef AMUTEX_TEST_SEAMS
	__atomic_store_n(&amutex__dropin_leaving_point, await_signaller, __ATOMIC_RELEASE);
	met0 = DROPIN_STEPS(SIGNAL_MET_LEAVING);
	two0 = DROPIN_STEPS(OPENED_TWO);
	roots0 = DROPIN_STEPS(OPENED_ROOTS);
#else
	met0 = two0 = roots0 = 0;
#endif
	for (int round = 0; round < TREE_ROUNDS; round++) {
		pthread_t t[TREE_WAITERS];

		TR.in = TR.woken = TR.timedout = 0;
		for (int i = 0; i < TREE_WAITERS; i++)
			pthread_create(&t[i], NULL, tree_waiter, (void *)(intptr_t)(i % 3 == 1));
		pthread_mutex_lock(&TR.m);
		while (TR.in < TREE_WAITERS) {
			pthread_mutex_unlock(&TR.m);
			sched_yield();
			pthread_mutex_lock(&TR.m);
		}
		TR.gen++;
		if (round % 2) {	/* after the unlock: the woken may return while roots open */
			pthread_mutex_unlock(&TR.m);
			pthread_cond_broadcast(&TR.c);
		} else {
			pthread_cond_broadcast(&TR.c);
			pthread_mutex_unlock(&TR.m);
		}
		for (int i = 0; i < TREE_WAITERS; i++)
			pthread_join(t[i], NULL);
		assert_int_equal(TR.woken + TR.timedout, TREE_WAITERS);
		/* Those without a deadline can only have been woken by it. */
		assert_true(TR.woken >= untimed);
	}
#ifdef AMUTEX_TEST_SEAMS
	__atomic_store_n(&amutex__dropin_leaving_point, NULL, __ATOMIC_RELEASE);
	print_message("broadcasts that met a leaving waiter %llu; that opened every root %llu; "
		      "woken waiters that opened two barriers %llu\n",
		      (unsigned long long)(DROPIN_STEPS(SIGNAL_MET_LEAVING) - met0),
		      (unsigned long long)(DROPIN_STEPS(OPENED_ROOTS) - roots0),
		      (unsigned long long)(DROPIN_STEPS(OPENED_TWO) - two0));
	assert_true(DROPIN_STEPS(SIGNAL_MET_LEAVING) > met0);
	assert_true(DROPIN_STEPS(OPENED_ROOTS) > roots0);
	assert_true(DROPIN_STEPS(OPENED_TWO) > two0);
#else
	(void)met0;
	(void)two0;
	(void)roots0;
#endif
}

/*
 * ---- The relock after a wake-up yields to the signaller ----
 * A waiter woken by a signal sent under the mutex finds the mutex held.
 * When the signaller is off the CPU the wake-up put the waiter on and
 * keeps working there once it has it back (a producer), the waiter yields
 * to it instead of sleeping on the mutex. When the signaller runs
 * elsewhere the waiter's yields run nobody, it sleeps as before, and a
 * thread whose yields do not pay off stops yielding but to probe. No
 * yields under a real-time policy or AMUTEX_SPIN=off.
 */
struct yield_rounds {
	pthread_mutex_t m;
	pthread_cond_t c;
	int cpu;		/* the waiter's */
	int fifo;		/* the waiter runs under SCHED_FIFO */
	int err;		/* the waiter's pinning or policy failed (an errno) */
	int waiting;		/* the round the waiter waits for */
	int round, stop;
};

/* Static: a failed test leaves the test function, and its waiter with it. */
static struct yield_rounds yr;
static cpu_set_t saved_cpus;

/*
 * The tests below pin their threads to one CPU each, where a relock does
 * not yield (lib/mutex/protocol.c, on_one_cpu): the static build counts
 * them as on several CPUs (the seam), and one test, in a child process
 * on one CPU, checks the real affinity.
 */
static int save_cpus(void **state)
{
	(void)state;
#ifdef AMUTEX_TEST_SEAMS
	amutex__one_cpu_seam = -1;
#endif
	return sched_getaffinity(0, sizeof(saved_cpus), &saved_cpus);
}

/* Teardown, after a failure too: the test thread pinned itself. */
static int restore_cpus(void **state)
{
	(void)state;
#ifdef AMUTEX_TEST_SEAMS
	amutex__yield_ns = 0;
	amutex__one_cpu_seam = 0;
#endif
	return sched_setaffinity(0, sizeof(saved_cpus), &saved_cpus);
}

static void *wait_rounds(void *arg)
{
	struct yield_rounds *y = arg;
	struct sched_param p = { .sched_priority = 1 };
	int err = pin_self(y->cpu);

	if (!err && y->fifo)
		err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &p);
	pthread_mutex_lock(&y->m);
	y->err = err;
	for (int r = 1; !y->stop; r++) {
		y->waiting = r;
		while (y->round < r && !y->stop)
			pthread_cond_wait(&y->c, &y->m);
	}
	pthread_mutex_unlock(&y->m);
	return NULL;
}

static pthread_t start_rounds(int cpu, int fifo)
{
	pthread_t t;

	memset(&yr, 0, sizeof(yr));
	pthread_mutex_init(&yr.m, NULL);
	pthread_cond_init(&yr.c, NULL);
	yr.cpu = cpu;
	yr.fifo = fifo;
	pthread_create(&t, NULL, wait_rounds, &yr);
	return t;
}

/* Round r: the signaller holds the mutex once the waiter waits for r. */
static void lock_when_waiting(int r)
{
	pthread_mutex_lock(&yr.m);
	while (yr.waiting < r) {
		pthread_mutex_unlock(&yr.m);
		sched_yield();
		pthread_mutex_lock(&yr.m);
	}
}

/* Ends the rounds (the test thread holds no lock); 0 or the waiter's errno. */
static int end_rounds(pthread_t t)
{
	pthread_mutex_lock(&yr.m);
	yr.stop = 1;
	pthread_cond_signal(&yr.c);
	pthread_mutex_unlock(&yr.m);
	pthread_join(t, NULL);
	pthread_cond_destroy(&yr.c);
	pthread_mutex_destroy(&yr.m);
	return yr.err;
}

#ifdef AMUTEX_TEST_SEAMS
#define CORE_STEPS(s) __atomic_load_n(&amutex__steps[AMUTEX_STEP_##s], __ATOMIC_RELAXED)
#else
#define CORE_STEPS(s) 0		/* the linked and preloaded builds cannot count */
#define AMUTEX_YIELD_ROUNDS 3	/* lib/mutex/mutex.h's */
#endif

#define YIELD_TEST_ROUNDS 200

/*
 * Rounds on one CPU: signal, yield (the woken waiter runs here and finds
 * the mutex held), work 20 us, unlock. The relocks' yields and queueings,
 * or -1 when the waiter could not be set up (errno in *err).
 */
static int same_cpu_rounds(int fifo, uint64_t *yields, uint64_t *queued, int *err)
{
	pthread_t t;
	int cpu = sched_getcpu();

	if ((*err = pin_self(cpu)) != 0)
		return -1;
	*yields = CORE_STEPS(YIELD);
	*queued = CORE_STEPS(L4);
	t = start_rounds(cpu, fifo);
	for (int r = 1; r <= YIELD_TEST_ROUNDS; r++) {
		lock_when_waiting(r);
		yr.round = r;
		pthread_cond_signal(&yr.c);
		sched_yield();
		busy(20000);
		pthread_mutex_unlock(&yr.m);
	}
	if ((*err = end_rounds(t)) != 0)
		return -1;
	*yields = CORE_STEPS(YIELD) - *yields;
	*queued = CORE_STEPS(L4) - *queued;
	return 0;
}

static void test_relock_yields_to_a_signaller_preempted_on_its_cpu(void **state)
{
	uint64_t yields, queued;
	int err;

	(void)state;
	assert_int_equal(same_cpu_rounds(0, &yields, &queued, &err), 0);
#ifdef AMUTEX_TEST_SEAMS
	/*
	 * How many relocks find the mutex held depends on the scheduler (on an
	 * idle machine nearly all, about 2 yields and no queueing each; under
	 * load fewer): some do, and yield.
	 */
	print_message("%d rounds on one CPU: %llu yields in relocks, %llu threads queued on the "
		      "mutex\n", YIELD_TEST_ROUNDS, (unsigned long long)yields,
		      (unsigned long long)queued);
	assert_true(yields > 0);
	assert_true(yields <= (uint64_t)AMUTEX_YIELD_ROUNDS * YIELD_TEST_ROUNDS);
#endif
}

static void test_relock_does_not_yield_under_a_realtime_policy(void **state)
{
	uint64_t yields, queued;
	int err;

	(void)state;
	if (same_cpu_rounds(1, &yields, &queued, &err) != 0) {
		print_message("no SCHED_FIFO here (%s)\n", strerror(err));
		skip();
	}
#ifdef AMUTEX_TEST_SEAMS
	print_message("%d rounds, waiter under SCHED_FIFO: %llu yields, %llu queued\n",
		      YIELD_TEST_ROUNDS, (unsigned long long)yields, (unsigned long long)queued);
	assert_int_equal(yields, 0);
#endif
}

#define YIELD_ALONE_ROUNDS 20

/*
 * Rounds with the signaller on another CPU, holding the mutex until the
 * woken waiter sleeps on it; by_count[n]: the relocks that yielded n times.
 * 0, or the round whose waiter never slept or yielded more than allowed.
 */
static int other_cpu_rounds(int by_count[AMUTEX_YIELD_ROUNDS + 1])
{
	int cpus[2], failed = 0;
	pthread_t t;

	if (first_cpus(&saved_cpus, cpus, 2) < 2)
		return -1;
	assert_int_equal(pin_self(cpus[0]), 0);
	t = start_rounds(cpus[1], 0);
	for (int r = 1; r <= YIELD_ALONE_ROUNDS && !failed; r++) {
		uint64_t yields = CORE_STEPS(YIELD);

		lock_when_waiting(r);
		yr.round = r;
		pthread_cond_signal(&yr.c);
		for (int i = 0; sleepers_of(&yr.m) == 0 && !failed; i++) {
			if (i == 5000)
				failed = r;
			nap_ms(1);
		}
		yields = CORE_STEPS(YIELD) - yields;
		if (yields > AMUTEX_YIELD_ROUNDS)
			failed = r;
		else
			by_count[yields]++;
		pthread_mutex_unlock(&yr.m);
	}
	assert_int_equal(end_rounds(t), 0);
	return failed;
}

static void test_relock_sleeps_when_the_signaller_runs_on_another_cpu(void **state)
{
	int by_count[AMUTEX_YIELD_ROUNDS + 1] = { 0 }, failed;

	(void)state;
	if ((failed = other_cpu_rounds(by_count)) < 0) {
		print_message("one CPU\n");
		skip();
	}
	if (failed)
		fail_msg("round %d: the woken waiter never slept on the mutex, or yielded more than "
			 "%d times", failed, AMUTEX_YIELD_ROUNDS);
	print_message("%d relocks whose signaller ran on another CPU: %d without a yield, %d "
		      "stopped after 1, %d after 2, %d after 3\n", YIELD_ALONE_ROUNDS, by_count[0],
		      by_count[1], by_count[2], by_count[3]);
}

#ifdef AMUTEX_TEST_SEAMS
/*
 * The same rounds with the yields' durations given (the seam): yields that
 * run nobody end the yielding at once and build the thread's debt, after
 * which it yields in one relock in eight; long ones go on and never do.
 */
static void test_relock_stops_yielding_where_yields_do_not_pay_off(void **state)
{
	int quick[AMUTEX_YIELD_ROUNDS + 1] = { 0 }, slow[AMUTEX_YIELD_ROUNDS + 1] = { 0 };

	(void)state;
	amutex__yield_ns = 500;		/* ran nobody */
	if (other_cpu_rounds(quick) != 0)
		skip();
	amutex__yield_ns = 20000;	/* kept off the CPU 20 us: paid off */
	assert_int_equal(other_cpu_rounds(slow), 0);
	print_message("yields of 0.5 us: %d relocks without a yield, %d with one; of 20 us: %d "
		      "with %d\n", quick[0], quick[1], slow[AMUTEX_YIELD_ROUNDS], AMUTEX_YIELD_ROUNDS);
	/* 4 relocks build the debt, then probes at every 8th: rounds 12 and 20. */
	assert_int_equal(quick[1], 4 + 2);
	assert_int_equal(quick[0], YIELD_ALONE_ROUNDS - 6);
	assert_int_equal(slow[AMUTEX_YIELD_ROUNDS], YIELD_ALONE_ROUNDS);
}

static int run_self(const char *how, char *const env[], char *out, size_t len);

static int child_relock_yields(void)
{
	uint64_t yields, queued;
	int err;

#ifdef AMUTEX_TEST_SEAMS
	if (!getenv("TEST_REAL_AFFINITY"))
		amutex__one_cpu_seam = -1;	/* its pinned threads yield as on several CPUs */
#endif
	if (same_cpu_rounds(0, &yields, &queued, &err) != 0)
		return 3;
	fprintf(stderr, "yields=%llu queued=%llu\n", (unsigned long long)yields,
		(unsigned long long)queued);
	return 0;
}

/* The same rounds in a child started with env: its relocks' yields and queueings. */
static void child_rounds(char *const env[], unsigned long long *yields, unsigned long long *queued)
{
	char out[4096];
	const char *p;

	assert_int_equal(run_self("relock-yields", env, out, sizeof(out)), 0);
	p = strstr(out, "yields=");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "yields=%llu queued=%llu", yields, queued), 2);
}

static void test_relock_does_not_yield_under_amutex_spin_off(void **state)
{
	char *env[] = { "AMUTEX_SPIN=off", NULL };
	unsigned long long yields = ~0ull, queued = 0;

	(void)state;
	child_rounds(env, &yields, &queued);
	print_message("AMUTEX_SPIN=off: %llu yields, %llu queued in %d rounds\n", yields, queued,
		      YIELD_TEST_ROUNDS);
	assert_int_equal(yields, 0);
}

/*
 * A process that may use one CPU only (started here from a thread pinned
 * to one, as taskset -c N starts it; its rounds pin their threads to that
 * CPU again, which changes nothing) does not yield in the relock; its
 * woken waiters sleep on the mutex, as glibc's do. The real affinity, no
 * seam.
 */
static void test_relock_does_not_yield_in_a_process_on_one_cpu(void **state)
{
	char *env[] = { "TEST_REAL_AFFINITY=1", NULL };
	unsigned long long yields = ~0ull, queued = 0;

	(void)state;
	assert_int_equal(pin_self(sched_getcpu()), 0);	/* restore_cpus undoes it */
	child_rounds(env, &yields, &queued);
	print_message("one CPU: %llu yields, %llu queued in %d rounds\n", yields, queued,
		      YIELD_TEST_ROUNDS);
	assert_int_equal(yields, 0);
	assert_true(queued > 0);	/* woken into a held mutex, it slept on it */
}
#endif

/* ---- A mutex a condvar waiter will relock is busy ---- */

static void *wait_for_go(void *arg)
{
	struct cv_round *r = arg;

	if (pthread_mutex_lock(&r->m) != 0)
		return (void *)1;
	r->ready++;
	while (!r->go)
		pthread_cond_wait(r->c, &r->m);
	pthread_mutex_unlock(&r->m);
	return NULL;
}

static void destroy_busy_with(const char *what, int type, int robust, int protocol)
{
	pthread_mutexattr_t a;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct cv_round r = { .c = &c };
	pthread_t t;
	void *ret;
	int err;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, type);
	if (robust)
		pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (protocol != PTHREAD_PRIO_NONE) {
		pthread_mutexattr_setprotocol(&a, protocol);
		if (protocol == PTHREAD_PRIO_PROTECT)
			pthread_mutexattr_setprioceiling(&a, sched_get_priority_min(SCHED_FIFO));
	}
	assert_int_equal(pthread_mutex_init(&r.m, &a), 0);
	if ((err = pthread_mutex_lock(&r.m)) != 0) {
		/* Priority protection needs the right to raise priorities (glibc alone: EINVAL). */
		print_message("%s: skipped, glibc cannot lock it here (%d)\n", what, err);
		pthread_mutex_destroy(&r.m);
		return;
	}
	pthread_mutex_unlock(&r.m);
	pthread_create(&t, NULL, wait_for_go, &r);
	assert_int_equal(pthread_mutex_lock(&r.m), 0);
	until_ready(&r, 1);
	pthread_mutex_unlock(&r.m);
	if (pthread_mutex_destroy(&r.m) != EBUSY)
		fail_msg("%s: destroy of a mutex a condvar waiter will relock did not say EBUSY",
			 what);
	pthread_mutex_lock(&r.m);
	r.go = 1;
	pthread_cond_signal(&c);
	pthread_mutex_unlock(&r.m);
	pthread_join(t, &ret);
	assert_null(ret);
	assert_int_equal(pthread_mutex_destroy(&r.m), 0);
	pthread_mutexattr_destroy(&a);
}

static void test_mutex_destroy_while_a_cond_waiter_will_relock_returns_ebusy(void **state)
{
	(void)state;
	destroy_busy_with("normal", PTHREAD_MUTEX_NORMAL, 0, PTHREAD_PRIO_NONE);
	destroy_busy_with("recursive", PTHREAD_MUTEX_RECURSIVE, 0, PTHREAD_PRIO_NONE);
	destroy_busy_with("errorcheck", PTHREAD_MUTEX_ERRORCHECK, 0, PTHREAD_PRIO_NONE);
	destroy_busy_with("adaptive", PTHREAD_MUTEX_ADAPTIVE_NP, 0, PTHREAD_PRIO_NONE);
	destroy_busy_with("robust", PTHREAD_MUTEX_NORMAL, 1, PTHREAD_PRIO_NONE);
	destroy_busy_with("priority inheritance", PTHREAD_MUTEX_NORMAL, 0, PTHREAD_PRIO_INHERIT);
	destroy_busy_with("robust errorcheck PI", PTHREAD_MUTEX_ERRORCHECK, 1, PTHREAD_PRIO_INHERIT);
	destroy_busy_with("priority protect", PTHREAD_MUTEX_NORMAL, 0, PTHREAD_PRIO_PROTECT);
}

/* ---- fork with sleepers and a starving handoff in flight ---- */

static pthread_mutex_t hand = PTHREAD_MUTEX_INITIALIZER, busy_m = PTHREAD_MUTEX_INITIALIZER;
static int hammer_stop;

static void *sleep_on_hand(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&hand);
	pthread_mutex_unlock(&hand);
	return NULL;
}

static void *hammer(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&hammer_stop, __ATOMIC_RELAXED)) {
		pthread_mutex_lock(&busy_m);
		for (int i = 0; i < 50; i++)
			__asm__ __volatile__("" ::: "memory");
		pthread_mutex_unlock(&busy_m);
	}
	return NULL;
}

/* In a child: lock m within 10 s (a lost repair hangs), 0 when it did. */
static int child_locks(pthread_mutex_t *m)
{
	struct timespec ts = in_ms(CLOCK_REALTIME, 10000);

	return pthread_mutex_timedlock(m, &ts) == 0 && pthread_mutex_unlock(m) == 0 ? 0 : 1;
}

/*
 * Fork while threads wait on a condvar: in the child those waiters do not
 * exist (their nodes are copies on stacks no thread runs on). A waiter of
 * the child must be woken by the child's first signal, and destroy must
 * then say 0 (glibc's condvar keeps counting the parent's waiters: its
 * destroy in such a child waits for ever). With the static build, the
 * list's lock is also held at the fork by a signaller stopped inside it
 * (a pause point): the child must take it over.
 */
static struct {
	pthread_mutex_t m;
	pthread_cond_t c;
	int in, go, child_in, child_go;
} FC = { .m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER };

static void *fc_parent_waiter(void *arg)
{
	pthread_mutex_lock(&FC.m);
	FC.in++;
	while (!FC.go)
		pthread_cond_wait(&FC.c, &FC.m);
	pthread_mutex_unlock(&FC.m);
	return arg;
}

static void *fc_child_waiter(void *arg)
{
	pthread_mutex_lock(&FC.m);
	FC.child_in = 1;
	while (!FC.child_go)
		pthread_cond_wait(&FC.c, &FC.m);
	pthread_mutex_unlock(&FC.m);
	return arg;
}

/*
 * Lock FC.m once *count (written under it) reaches n: waiters that counted
 * themselves in are inside their wait, which alone lets the mutex go.
 */
static void fc_lock_when(const int *count, int n)
{
	pthread_mutex_lock(&FC.m);
	while (*count < n) {
		pthread_mutex_unlock(&FC.m);
		nap_ms(1);
		pthread_mutex_lock(&FC.m);
	}
}

/* In the child: 0, or which step failed. A hang ends by SIGALRM. */
static int fc_child(int expect_takeover)
{
	pthread_t w;

	alarm(30);
	if (pthread_create(&w, NULL, fc_child_waiter, NULL) != 0)
		return 20;
	fc_lock_when(&FC.child_in, 1);
	FC.child_go = 1;
	pthread_cond_signal(&FC.c);	/* one signal: must reach the child's waiter */
	pthread_mutex_unlock(&FC.m);
	pthread_join(w, NULL);
	if (pthread_cond_destroy(&FC.c) != 0)
		return 21;
#ifdef AMUTEX_TEST_SEAMS
	if (DROPIN_STEPS(PHANTOM_UNLINKED) == 0)
		return 22;
	if (expect_takeover && DROPIN_STEPS(LIST_LOCK_TAKEN_OVER) == 0)
		return 23;
#else
	(void)expect_takeover;
#endif
	return 0;
}

#ifdef AMUTEX_TEST_SEAMS
/*
 * A gate for the drop-in's pause points: the first thread to reach the
 * point it is armed on stops there (once) until gate_open().
 */
static struct { int armed, holding, release; } gate;

static void gate_hold(void)
{
	if (!__atomic_exchange_n(&gate.armed, 0, __ATOMIC_ACQ_REL))
		return;
	__atomic_store_n(&gate.holding, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&gate.release, __ATOMIC_ACQUIRE))
		nap_ms(1);
}

static void gate_arm(void (**point)(void))
{
	gate.holding = gate.release = 0;
	__atomic_store_n(&gate.armed, 1, __ATOMIC_RELEASE);
	__atomic_store_n(point, gate_hold, __ATOMIC_RELEASE);
}

/* Until a thread stopped at the gate. */
static void gate_wait(void)
{
	while (!__atomic_load_n(&gate.holding, __ATOMIC_ACQUIRE))
		nap_ms(1);
}

static void gate_open(void)
{
	__atomic_store_n(&gate.release, 1, __ATOMIC_RELEASE);
}

static void *fc_signaller(void *arg)
{
	pthread_cond_signal(&FC.c);
	return arg;
}
#endif

static void fc_reset(void)
{
	pthread_cond_init(&FC.c, NULL);
	FC.in = FC.go = FC.child_in = FC.child_go = 0;
}

static void fc_release_parent(pthread_t *t, int n)
{
	pthread_mutex_lock(&FC.m);
	FC.go = 1;
	pthread_cond_broadcast(&FC.c);
	pthread_mutex_unlock(&FC.m);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(pthread_cond_destroy(&FC.c), 0);
}

static void test_child_of_fork_uses_a_condvar_the_parent_waits_on(void **state)
{
	pthread_t t[2];
	int status;
	pid_t pid;

	(void)state;
	/* Two of the parent's threads asleep on it at the fork. */
	fc_reset();
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, fc_parent_waiter, NULL);
	fc_lock_when(&FC.in, 2);
	pthread_mutex_unlock(&FC.m);
	pid = fork();
	if (pid == 0)
		_exit(fc_child(0));
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	fc_release_parent(t, 2);

#ifdef AMUTEX_TEST_SEAMS
	/* One asleep, and a signaller stopped holding the list's lock. */
	pthread_t sig;

	fc_reset();
	pthread_create(&t[0], NULL, fc_parent_waiter, NULL);
	fc_lock_when(&FC.in, 1);
	pthread_mutex_unlock(&FC.m);
	gate_arm(&amutex__dropin_list_point);
	pthread_create(&sig, NULL, fc_signaller, NULL);
	gate_wait();
	pid = fork();
	if (pid == 0)
		_exit(fc_child(1));
	waitpid(pid, &status, 0);
	gate_open();
	pthread_join(sig, NULL);
	__atomic_store_n(&amutex__dropin_list_point, NULL, __ATOMIC_RELEASE);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	fc_release_parent(t, 1);
#endif
}

/*
 * A signal handler forks while its thread waits on a condvar (fork is
 * async-signal-safe): in the child that thread is alive, its node was
 * dropped with the list, and its wait ends by the deadline. Leaving must
 * not unlink it a second time (the count of waiters would wrap and a later
 * signal find "nobody waiting"): a new waiter of the child must be woken by
 * one signal.
 */
static pid_t fs_child = -1;

static void fs_fork(int sig)
{
	(void)sig;
	fs_child = fork();
}

static void test_fork_from_a_signal_handler_inside_a_cond_wait(void **state)
{
	struct sigaction sa, old;
	struct itimerval it = { { 0, 0 }, { 0, 50000 } };
	struct timespec ts = deadline_ns(CLOCK_REALTIME, 300000000);
	int e, status;

	(void)state;
	fc_reset();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fs_fork;
	sigaction(SIGALRM, &sa, &old);
	fs_child = -1;
	pthread_mutex_lock(&FC.m);
	setitimer(ITIMER_REAL, &it, NULL);
	e = pthread_cond_timedwait(&FC.c, &FC.m, &ts);
	pthread_mutex_unlock(&FC.m);
	if (fs_child == 0) {
		signal(SIGALRM, SIG_DFL);	/* fc_child's hang guard */
		_exit(e == ETIMEDOUT ? fc_child(0) : 24);
	}
	sigaction(SIGALRM, &old, NULL);
	assert_true(fs_child > 0);
	assert_int_equal(e, ETIMEDOUT);
	waitpid(fs_child, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(pthread_cond_destroy(&FC.c), 0);
}

#ifdef AMUTEX_TEST_SEAMS
/*
 * A thread forks while another is inside pthread_cancel of it, holding its
 * cancellation slot's lock (stopped there by a pause point). In the child
 * that lock has no holder; the child's condvar wait with cancellation
 * enabled takes it on its way out and must not hang (the child then exits
 * 0, by the cancellation or after the wait).
 */
static pthread_t cf_target;

/* The child ends here if the cancellation acts (not by the thread's exit: ASan's
 * bookkeeping does not follow a thread that fork made a process's only one). */
static void cf_exit(void *arg)
{
	(void)arg;
	_exit(0);
}

static void *cf_canceller(void *arg)
{
	pthread_cancel(cf_target);
	return arg;
}

static void *cf_forker(void *arg)
{
	pthread_t c;
	int status = -1;
	pid_t pid;

	(void)arg;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	cf_target = pthread_self();
	gate_arm(&amutex__dropin_cancel_point);
	pthread_create(&c, NULL, cf_canceller, NULL);
	gate_wait();
	pid = fork();
	if (pid == 0) {
		struct timespec ts = deadline_ns(CLOCK_REALTIME, 10000000);

		alarm(30);
		pthread_cleanup_push(cf_exit, NULL);
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		pthread_mutex_lock(&FC.m);
		pthread_cond_timedwait(&FC.c, &FC.m, &ts);
		pthread_mutex_unlock(&FC.m);
		pthread_cleanup_pop(0);
		_exit(0);
	}
	gate_open();
	pthread_join(c, NULL);
	__atomic_store_n(&amutex__dropin_cancel_point, NULL, __ATOMIC_RELEASE);
	waitpid(pid, &status, 0);
	return (void *)(intptr_t)status;
}

/*
 * The same handler's fork, but with a signal to that waiter in flight: its
 * node is marked and detached, and the signaller (stopped by a pause point)
 * has not opened its barrier. In the child nobody will: the wait must still
 * end (by its deadline) and count the signal it had, returning 0.
 */
static pid_t os_child = -1;

static void os_fork(int sig)
{
	pid_t pid;

	(void)sig;
	pid = fork();
	if (pid == 0)
		alarm(30);	/* the child's hang guard */
	__atomic_store_n(&os_child, pid, __ATOMIC_RELEASE);
}

static void *os_waiter(void *arg)
{
	struct timespec ts = deadline_ns(CLOCK_REALTIME, 200000000);
	int e;

	(void)arg;

	pthread_mutex_lock(&FC.m);
	FC.in++;
	e = pthread_cond_timedwait(&FC.c, &FC.m, &ts);
	pthread_mutex_unlock(&FC.m);
	if (__atomic_load_n(&os_child, __ATOMIC_ACQUIRE) == 0)
		_exit(e == 0 ? 0 : 25);
	return (void *)(intptr_t)e;
}

static void test_fork_from_a_handler_while_a_signal_to_its_wait_is_in_flight(void **state)
{
	struct sigaction sa, old;
	pthread_t w, sg;
	void *r;
	int status;

	(void)state;
	fc_reset();
	os_child = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = os_fork;
	sigaction(SIGUSR1, &sa, &old);
	pthread_create(&w, NULL, os_waiter, NULL);
	fc_lock_when(&FC.in, 1);
	pthread_mutex_unlock(&FC.m);
	gate_arm(&amutex__dropin_open_point);
	pthread_create(&sg, NULL, fc_signaller, NULL);
	gate_wait();
	pthread_kill(w, SIGUSR1);
	while (__atomic_load_n(&os_child, __ATOMIC_ACQUIRE) < 0)
		nap_ms(1);
	gate_open();
	pthread_join(sg, NULL);
	__atomic_store_n(&amutex__dropin_open_point, NULL, __ATOMIC_RELEASE);
	pthread_join(w, &r);
	sigaction(SIGUSR1, &old, NULL);
	assert_int_equal((int)(intptr_t)r, 0);	/* the parent's waiter had the signal */
	waitpid(os_child, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(pthread_cond_destroy(&FC.c), 0);
}

static void test_child_of_a_fork_racing_pthread_cancel_can_wait(void **state)
{
	pthread_t f;
	void *r;
	int status;

	(void)state;
	fc_reset();
	pthread_create(&f, NULL, cf_forker, NULL);
	pthread_join(f, &r);
	status = (int)(intptr_t)r;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(pthread_cond_destroy(&FC.c), 0);
}
#endif

static void test_child_of_fork_locks_mutexes_with_sleepers_and_a_handoff_in_flight(void **state)
{
	pthread_t s[2], h[3];
	uint32_t held, sleeping;
	int status, with_sleepers = 0, forks = 0;
	pid_t pid;

	(void)state;
	/*
	 * hand: held here, two sleepers queued, STARVING set (white box), then
	 * released as an unlock in starvation mode does (U3: LOCKED cleared,
	 * one waiter taken off for the token it would post): the fork comes
	 * between that release and the token.
	 */
	pthread_mutex_lock(&hand);
	for (int i = 0; i < 2; i++)
		pthread_create(&s[i], NULL, sleep_on_hand, NULL);
	while (sleepers_of(&hand) < 2)
		nap_ms(1);
	held = __atomic_or_fetch((uint32_t *)(void *)&hand, 4, __ATOMIC_SEQ_CST);
	assert_true(__atomic_compare_exchange_n((uint32_t *)(void *)&hand, &held,
			held - 1 - 16, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
	pid = fork();
	if (pid == 0)
		_exit(child_locks(&hand) ? 10 : 0);
	/* Undo: held again with both sleepers, then a real unlock hands it off. */
	assert_true(__atomic_compare_exchange_n((uint32_t *)(void *)&hand, &(uint32_t){ held - 17 },
			held, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
	pthread_mutex_unlock(&hand);
	for (int i = 0; i < 2; i++)
		pthread_join(s[i], NULL);
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* busy_m: three threads hammering it; fork at random moments. */
	for (int i = 0; i < 3; i++)
		pthread_create(&h[i], NULL, hammer, NULL);
	for (int i = 0; i < 100 || (with_sleepers == 0 && i < 2000); i++) {
		sleeping = word_of(&busy_m);
		pid = fork();
		if (pid == 0) {
			/* Held at the fork by a thread not copied: stuck, as with glibc. */
			if (word_of(&busy_m) & 1)
				_exit(0);
			_exit(child_locks(&busy_m) ? 11 : (word_of(&busy_m) >> 4) ? 12 : 0);
		}
		forks++;
		with_sleepers += (sleeping >> 4) != 0 || (sleeping & 2);
		waitpid(pid, &status, 0);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	__atomic_store_n(&hammer_stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 3; i++)
		pthread_join(h[i], NULL);
	print_message("%d forks, %d with sleepers or a woken waiter just before\n", forks,
		      with_sleepers);
}

/* ---- The report ---- */

static pthread_mutex_t relock_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t relock_c = PTHREAD_COND_INITIALIZER;
static int relock_waiting, relock_done;

static void *signal_and_hold(void *arg)
{
	(void)arg;
	for (;;) {
		if (pthread_mutex_trylock(&relock_m) == 0) {
			if (relock_waiting)
				break;
			pthread_mutex_unlock(&relock_m);
		}
		nap_ms(1);
	}
	relock_done = 1;
	pthread_cond_signal(&relock_c);
	/* Hold the mutex until the woken waiter queues on it. */
	while (sleepers_of(&relock_m) == 0)
		nap_ms(1);
	pthread_mutex_unlock(&relock_m);
	return NULL;
}

void wait_for_report_cond(void);

__attribute__((noinline)) void wait_for_report_cond(void)
{
	pthread_mutex_lock(&relock_m);
	relock_waiting = 1;
	while (!relock_done)
		pthread_cond_wait(&relock_c, &relock_m);
	pthread_mutex_unlock(&relock_m);
}

/* Run `main_argv[0] how` with env and stderr to a file; what it wrote there. */
static int run_self(const char *how, char *const env[], char *out, size_t len)
{
	char path[] = "/tmp/amutex-self-XXXXXX";
	int fd = mkstemp(path), status;
	ssize_t n;
	pid_t pid;

	assert_true(fd >= 0);
	pid = fork();
	if (pid == 0) {
		for (int i = 0; env[i]; i++)
			putenv(env[i]);
		dup2(fd, 2);
		execl("/proc/self/exe", main_argv[0], how, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	n = pread(fd, out, len - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int child_closes_stderr_after_contention(void)
{
	pthread_t t;

	pthread_create(&t, NULL, hold_reported, NULL);
	nap_ms(5);
	contend_reported_lock();
	__atomic_store_n(&hold_stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	fclose(stderr);		/* as coreutils do before the exit handlers */
	return 0;
}

static void test_report_to_stderr_survives_a_program_closing_stderr(void **state)
{
	char *env[] = { "AMUTEX_REPORT=stderr", NULL };
	char out[8192];

	(void)state;
	assert_int_equal(run_self("close-stderr", env, out, sizeof(out)), 0);
	if (!strstr(out, "amutex contention report"))
		fail_msg("no report on the stderr of load time: \"%s\"", out);
}

/*
 * AMUTEX_STATS=auto, the default: statistics only when, at load, something
 * will read them. A child that sets AMUTEX_REPORT only at run time and
 * then contends a mutex finds its report empty under auto (nothing was
 * observed), full under on, and full under auto when a reader was set at
 * load (AMUTEX_METRICS here, a file nobody reads).
 */
static int child_sets_report_at_run_time(void)
{
	pthread_t t;
	int busy;

	setenv("AMUTEX_REPORT", getenv("AMUTEX_TEST_REPORT"), 1);
	pthread_create(&t, NULL, hold_reported, NULL);
	nap_ms(5);
	/* Until one acquisition waited (a loaded machine may not run the holder at once). */
	busy = contend_reported_lock();
	for (int i = 0; busy == 0 && i < 1000; i++) {
		nap_ms(1);
		busy = contend_reported_lock();
	}
	__atomic_store_n(&hold_stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	return busy > 0 ? 0 : 3;	/* an empty report proves nothing without a wait */
}

/* A program that reads statistics through the API (amutex_export) itself. */
static int child_exports_then_sets_report(void)
{
	int (*export_)(FILE *, int) = (int (*)(FILE *, int))dlsym(RTLD_DEFAULT, "amutex_export");
	FILE *f = fopen("/dev/null", "w");

	if (!export_ || !f)
		return 4;
	export_(f, 0);
	fclose(f);
	return child_sets_report_at_run_time();
}

static int child_cond_relock_sets_report_at_run_time(void)
{
	pthread_t t;

	setenv("AMUTEX_REPORT", getenv("AMUTEX_TEST_REPORT"), 1);
	pthread_create(&t, NULL, signal_and_hold, NULL);
	wait_for_report_cond();
	pthread_join(t, NULL);
	return 0;
}

/*
 * Runs child `how` in a fresh process under AMUTEX_STATS=stats and
 * AMUTEX_METRICS=metrics, no other reader set at load, and puts the report
 * it wrote at exit (to a path it set at run time) in buf.
 */
static void run_time_report(const char *how, const char *stats, const char *metrics,
			    const char *watch, char *buf, size_t len)
{
	char report[] = "/tmp/amutex-auto-XXXXXX", rvar[64], svar[64], mvar[128], wvar[128];
	char out[4096];
	int fd = mkstemp(report);
	ssize_t n;

	assert_true(fd >= 0);
	snprintf(rvar, sizeof(rvar), "AMUTEX_TEST_REPORT=%s", report);
	snprintf(svar, sizeof(svar), "AMUTEX_STATS=%s", stats);
	snprintf(mvar, sizeof(mvar), "AMUTEX_METRICS=%s", metrics);
	snprintf(wvar, sizeof(wvar), "AMUTEX_WATCH=%s", watch);
	{
		/* No reader inherited from the test's own environment. */
		char *env[] = { rvar, svar, mvar, wvar, "AMUTEX_REPORT=", "AMUTEX_METRICS_ADDR=",
				NULL };

		if (run_self(how, env, out, sizeof(out)) != 0)
			fail_msg("child %s failed: %s", how, out);
	}
	n = pread(fd, buf, len - 1, 0);
	close(fd);
	unlink(report);
	buf[n > 0 ? n : 0] = '\0';
}

/* The child's report names the contended lock (want 1) or does not (want 0). */
static void expect_run_time_report(const char *stats, const char *metrics, const char *watch,
				   int want)
{
	char buf[8192];
	int got;

	run_time_report("report-at-run-time", stats, metrics, watch, buf, sizeof(buf));
	got = strstr(buf, "contend_reported_lock+0x") != NULL;
	if (got != want)
		fail_msg("AMUTEX_STATS=%s AMUTEX_METRICS=%s AMUTEX_WATCH=%s: the report %s the lock:\n%s",
			 stats, metrics, watch, got ? "names" : "does not name", buf);
}

/* A child contends a mutex and exits; its report names where it waited. */
static void test_report_at_exit_names_the_contended_call_site(void **state)
{
	char buf[8192];

	(void)state;
	run_time_report("report-at-run-time", "on", "", "", buf, sizeof(buf));
	assert_non_null(strstr(buf, "amutex contention report"));
	if (!strstr(buf, "contend_reported_lock+0x"))
		fail_msg("the report does not name the contended call site:\n%s", buf);
}

static void test_report_names_the_caller_of_cond_wait_for_a_relock(void **state)
{
	char buf[8192];

	(void)state;
	run_time_report("report-cond-relock", "on", "", "", buf, sizeof(buf));
	if (!strstr(buf, "wait_for_report_cond+0x"))
		fail_msg("the relock is not named after the caller of pthread_cond_wait:\n%s", buf);
}

static void test_statistics_are_kept_only_when_something_will_read_them(void **state)
{
	char metrics[] = "/tmp/amutex-auto-metrics-XXXXXX";
	int fd = mkstemp(metrics);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	expect_run_time_report("auto", "", "", 0);
	expect_run_time_report("", "", "", 0);	/* unset: auto */
	expect_run_time_report("on", "", "", 1);
	/* A publisher or a watchdog started at load reads them. */
	expect_run_time_report("auto", metrics, "", 1);
	expect_run_time_report("auto", "", "p99=1s,window=40ms", 1);
	/* A program that called amutex_export reads them from then on. */
	{
		char buf[8192];

		run_time_report("export-then-report", "auto", "", "", buf, sizeof(buf));
		if (!strstr(buf, "contend_reported_lock+0x"))
			fail_msg("no statistics after amutex_export under auto:\n%s", buf);
	}
	/* A watchdog that did not start (malformed) reads nothing. */
	expect_run_time_report("auto", "", "p99=bogus", 0);
	expect_run_time_report("off", metrics, "", 0);
	unlink(metrics);
}

static void test_report_says_nothing_when_nothing_was_contended(void **state)
{
	char *env[] = { "AMUTEX_REPORT=stderr", NULL };
	char out[8192];

	(void)state;
	assert_int_equal(run_self("uncontended", env, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

/*
 * Many threads meeting a fresh mutex's first contention at once may all try
 * to observe it; one block wins, and the report counts mutexes, not blocks:
 * its header says as many as it lists. The child prints how many races
 * were lost (test builds count them); it runs until one was, at most 10
 * times.
 */
#define RACE_MUTEXES 64
#define RACE_THREADS 8

static pthread_mutex_t race_m[RACE_MUTEXES];
static pthread_barrier_t race_b;

static void *race_worker(void *arg)
{
	(void)arg;
	for (int k = 0; k < RACE_MUTEXES; k++) {
		pthread_barrier_wait(&race_b);
		for (int i = 0; i < 20; i++) {
			pthread_mutex_lock(&race_m[k]);
			busy(1000);	/* held a while: the others meet it held */
			pthread_mutex_unlock(&race_m[k]);
		}
	}
	return NULL;
}

#ifdef AMUTEX_TEST_SEAMS
static void nap_observer(void)
{
	usleep(1000);
}
#endif

static int child_observe_race(void)
{
	pthread_t t[RACE_THREADS];

#ifdef AMUTEX_TEST_SEAMS
	/* Widen the window between taking a block and attaching it: others run. */
	__atomic_store_n(&amutex__dropin_observe_point, nap_observer, __ATOMIC_RELEASE);
#endif
	for (int k = 0; k < RACE_MUTEXES; k++)
		pthread_mutex_init(&race_m[k], NULL);
	pthread_barrier_init(&race_b, NULL, RACE_THREADS);
	for (int i = 0; i < RACE_THREADS; i++)
		pthread_create(&t[i], NULL, race_worker, NULL);
	for (int i = 0; i < RACE_THREADS; i++)
		pthread_join(t[i], NULL);
#ifdef AMUTEX_TEST_SEAMS
	fprintf(stderr, "lost=%llu\n", (unsigned long long)DROPIN_STEPS(OBSERVE_RACE_LOST));
#else
	fprintf(stderr, "lost=-1\n");
#endif
	return 0;
}

static void test_report_counts_each_mutex_once_when_threads_observe_it_at_once(void **state)
{
	char *env[] = { "AMUTEX_REPORT=stderr", NULL };
	static char out[1 << 16];
	long lost = 0;

	(void)state;
	for (int run = 0; run < 10 && lost == 0; run++) {
		unsigned said = 0, rows = 0;
		char *p, *line;

		assert_int_equal(run_self("observe-race", env, out, sizeof(out)), 0);
		assert_non_null(p = strstr(out, "lost="));
		lost = strtol(p + 5, NULL, 10);
		if (!(p = strstr(out, "amutex contention report")))
			continue;	/* nothing was contended at all */
		assert_int_equal(sscanf(p, "amutex contention report (pid %*d): %u", &said), 1);
		assert_non_null(line = strstr(p, "\nlock "));
		for (line = strchr(line + 1, '\n'); line && line[1] && line[1] != '\n';
		     line = strchr(line + 1, '\n'))
			rows += line[1] != ' ';
		if (said != rows)
			fail_msg("the header says %u mutexes, the table lists %u:\n%s", said, rows, p);
	}
	print_message("observations lost to another thread in the last run: %ld\n", lost);
#ifdef AMUTEX_TEST_SEAMS
	assert_true(lost > 0);
#endif
}

/* ---- Metrics publishers and the watchdog across fork ---- */

static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static ino_t inode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* Until path is written anew (the publisher renames a new file in), up to 10 s. */
static int rewritten(const char *path)
{
	ino_t first = inode_of(path);

	for (int i = 0; i < 10000; i++) {
		ino_t now = inode_of(path);

		if (now && now != first)
			return 1;
		nap_ms(1);
	}
	return 0;
}

/*
 * Runs with AMUTEX_METRICS=DIR/m.%p.prom and AMUTEX_WATCH from the test:
 * the publisher and the watchdog (two threads) run here and in a forked
 * child, and the child's exit() leaves the parent's running.
 */
static int child_metrics_across_fork(void)
{
	const char *dir = getenv("METRICS_DIR");
	char mine[512], theirs[512];
	int before = count_threads(), status;
	pid_t pid;

	snprintf(mine, sizeof(mine), "%s/m.%ld.prom", dir, (long)getpid());
	if (before != 3 || !rewritten(mine))
		return 20;	/* main, publisher, watchdog; the file written */
	pid = fork();
	if (pid == 0) {
		snprintf(theirs, sizeof(theirs), "%s/m.%ld.prom", dir, (long)getpid());
		if (count_threads() != 3)
			_exit(21);
		if (!rewritten(theirs))
			_exit(22);
		exit(0);	/* at-exit: stops this child's threads only */
	}
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return WIFEXITED(status) ? WEXITSTATUS(status) : 23;
	if (count_threads() != before)
		return 24;	/* the child's exit stopped the parent's threads */
	return rewritten(mine) ? 0 : 25;
}

static void test_metrics_publisher_and_watchdog_run_in_a_forked_child_and_survive_its_exit(
	void **state)
{
	char dir[] = "/tmp/amutex-metrics-XXXXXX", out[4096], metrics[600], dirv[600];
	/*
	 * LeakSanitizer (the static build under ASan) would count what the
	 * parent's publisher had allocated when fork copied it mid-write: that
	 * thread does not exist in the child, so nothing points to it there.
	 */
	char *env[] = { metrics, "AMUTEX_METRICS_INTERVAL=5ms", "AMUTEX_WATCH=p99=1s,window=40ms",
			dirv, "ASAN_OPTIONS=detect_leaks=0", NULL };
	int rc;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(metrics, sizeof(metrics), "AMUTEX_METRICS=%s/m.%%p.prom", dir);
	snprintf(dirv, sizeof(dirv), "METRICS_DIR=%s", dir);
	rc = run_self("metrics-fork", env, out, sizeof(out));
	if (rc != 0)
		fail_msg("metrics across fork: step %d failed; stderr: %s", rc, out);
	{
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
}

/* Programs the tests run in a fresh process (fork and exec of this binary). */
static int run_child(const char *how)
{
	if (strcmp(how, "close-stderr") == 0)
		return child_closes_stderr_after_contention();
	if (strcmp(how, "uncontended") == 0) {
		pthread_mutex_lock(&reported);
		pthread_mutex_unlock(&reported);
		return 0;
	}
	if (strcmp(how, "metrics-fork") == 0)
		return child_metrics_across_fork();
	if (strcmp(how, "observe-race") == 0)
		return child_observe_race();
	if (strcmp(how, "report-at-run-time") == 0)
		return child_sets_report_at_run_time();
	if (strcmp(how, "export-then-report") == 0)
		return child_exports_then_sets_report();
	if (strcmp(how, "report-cond-relock") == 0)
		return child_cond_relock_sets_report_at_run_time();
#ifdef AMUTEX_TEST_SEAMS
	if (strcmp(how, "relock-yields") == 0)
		return child_relock_yields();
#endif
	return 2;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drop_in_answers_pthread_calls),
		cmocka_unit_test(test_mutex_and_cond_work_before_main),
		cmocka_unit_test(test_static_initializer_mutex_locks_and_unlocks),
		cmocka_unit_test(test_recursive_static_initializer_counts),
		cmocka_unit_test(test_errorcheck_static_initializer_relock_returns_edeadlk),
		cmocka_unit_test(test_adaptive_static_initializer_locks),
		cmocka_unit_test(test_errorcheck_unlock_by_non_owner_returns_eperm),
		cmocka_unit_test(test_recursive_unlock_by_non_owner_returns_eperm),
		cmocka_unit_test(test_recursive_mutex_is_busy_for_other_threads_until_fully_unlocked),
		cmocka_unit_test(test_timedlock_on_held_mutex_returns_etimedout),
		cmocka_unit_test(test_timedlock_invalid_arguments_return_einval),
		cmocka_unit_test(test_destroy_of_locked_mutex_returns_ebusy),
		cmocka_unit_test(test_consistent_on_non_robust_mutex_returns_einval),
		cmocka_unit_test(test_robust_mutex_reports_dead_owner_through_glibc),
		cmocka_unit_test(test_priority_inheritance_mutex_locks_through_glibc),
		cmocka_unit_test(test_cond_with_robust_mutex_works),
		cmocka_unit_test(test_cond_signal_wakes_a_waiter),
		cmocka_unit_test(test_cond_broadcast_wakes_every_waiter),
		cmocka_unit_test(test_cond_timedwait_times_out_holding_the_mutex),
		cmocka_unit_test(test_cond_with_monotonic_clock_attribute_times_out),
		cmocka_unit_test(test_cond_timedwait_malformed_deadline_returns_einval),
		cmocka_unit_test(test_cancelled_cond_waiter_holds_mutex_in_cleanup),
		cmocka_unit_test(test_cancelled_cond_waiter_on_program_stack),
		cmocka_unit_test(test_process_shared_mutex_and_cond_work_across_fork),
		cmocka_unit_test(test_child_of_fork_can_use_every_mutex),
		cmocka_unit_test(test_condvar_torture_consumes_every_item_once),
		cmocka_unit_test(test_report_at_exit_names_the_contended_call_site),
		cmocka_unit_test(test_timedlock_with_negative_tv_sec_returns_etimedout),
		cmocka_unit_test(test_cond_timedwait_with_negative_tv_sec_returns_etimedout),
		cmocka_unit_test(test_unlock_of_unlocked_normal_mutex_returns_0_as_glibc),
		cmocka_unit_test(test_cond_broadcast_then_destroy_returns_0_and_nothing_touches_it_after),
		cmocka_unit_test(test_cond_signal_then_destroy_returns_0_and_nothing_touches_it_after),
		cmocka_unit_test(test_shared_cond_broadcast_then_destroy_returns_0_and_nothing_touches_it_after),
		cmocka_unit_test(test_cond_destroy_with_a_blocked_waiter_returns_ebusy),
		cmocka_unit_test(test_cancelled_cond_waiters_never_swallow_a_signal),
		cmocka_unit_test(test_signal_meeting_leaving_waiters_still_wakes_a_waiting_one),
		cmocka_unit_test(test_broadcast_tree_wakes_every_waiter_while_some_leave),
		cmocka_unit_test(test_mutex_destroy_while_a_cond_waiter_will_relock_returns_ebusy),
		cmocka_unit_test_setup_teardown(test_relock_yields_to_a_signaller_preempted_on_its_cpu,
						save_cpus, restore_cpus),
		cmocka_unit_test_setup_teardown(test_relock_does_not_yield_under_a_realtime_policy,
						save_cpus, restore_cpus),
		cmocka_unit_test_setup_teardown(test_relock_sleeps_when_the_signaller_runs_on_another_cpu,
						save_cpus, restore_cpus),
#ifdef AMUTEX_TEST_SEAMS
		cmocka_unit_test_setup_teardown(test_relock_stops_yielding_where_yields_do_not_pay_off,
						save_cpus, restore_cpus),
		cmocka_unit_test(test_relock_does_not_yield_under_amutex_spin_off),
		cmocka_unit_test_setup_teardown(test_relock_does_not_yield_in_a_process_on_one_cpu,
						save_cpus, restore_cpus),
#endif
		cmocka_unit_test(test_child_of_fork_locks_mutexes_with_sleepers_and_a_handoff_in_flight),
		cmocka_unit_test(test_child_of_fork_uses_a_condvar_the_parent_waits_on),
		cmocka_unit_test(test_fork_from_a_signal_handler_inside_a_cond_wait),
#ifdef AMUTEX_TEST_SEAMS
		cmocka_unit_test(test_child_of_a_fork_racing_pthread_cancel_can_wait),
		cmocka_unit_test(test_fork_from_a_handler_while_a_signal_to_its_wait_is_in_flight),
#endif
		cmocka_unit_test(test_report_names_the_caller_of_cond_wait_for_a_relock),
		cmocka_unit_test(test_report_to_stderr_survives_a_program_closing_stderr),
		cmocka_unit_test(test_report_says_nothing_when_nothing_was_contended),
		cmocka_unit_test(test_statistics_are_kept_only_when_something_will_read_them),
		cmocka_unit_test(test_report_counts_each_mutex_once_when_threads_observe_it_at_once),
		cmocka_unit_test(test_metrics_publisher_and_watchdog_run_in_a_forked_child_and_survive_its_exit),
	};

	main_argv = argv;
	if (argc > 1)
		return run_child(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
