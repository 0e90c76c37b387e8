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

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../support.h"

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

static void test_cancelled_cond_waiter_holds_mutex_in_cleanup(void **state)
{
	static struct cancel x;
	pthread_t t;
	void *r;

	(void)state;
	init_type(&x.m, PTHREAD_MUTEX_ERRORCHECK);
	pthread_cond_init(&x.c, NULL);
	pthread_create(&t, NULL, wait_forever, &x);
	while (!__atomic_load_n(&x.started, __ATOMIC_ACQUIRE))
		nap_ms(1);
	nap_ms(10);
	pthread_cancel(t);
	pthread_join(t, &r);
	assert_ptr_equal(r, PTHREAD_CANCELED);
	assert_int_equal(x.held_in_cleanup, 1);
	/* And released by the cleanup: free for us. */
	assert_int_equal(pthread_mutex_trylock(&x.m), 0);
	pthread_mutex_unlock(&x.m);
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

void contend_reported_lock(void);

__attribute__((noinline)) void contend_reported_lock(void)
{
	for (int i = 0; i < 50; i++) {
		pthread_mutex_lock(&reported);
		pthread_mutex_unlock(&reported);
	}
}

/* A child contends a mutex and exits; its report names where it waited. */
static void test_report_at_exit_names_the_contended_call_site(void **state)
{
	char path[] = "/tmp/amutex-report-XXXXXX", buf[8192];
	int fd = mkstemp(path), status;
	ssize_t n;
	pid_t pid;

	(void)state;
	assert_true(fd >= 0);
	pid = fork();
	if (pid == 0) {
		pthread_t t;

		setenv("AMUTEX_REPORT", path, 1);
		pthread_create(&t, NULL, hold_reported, NULL);
		nap_ms(5);
		contend_reported_lock();
		__atomic_store_n(&hold_stop, 1, __ATOMIC_RELAXED);
		pthread_join(t, NULL);
		exit(0);	/* the report is written at exit */
	}
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "amutex contention report"));
	assert_non_null(strstr(buf, "contend_reported_lock+0x"));
}

int main(void)
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
		cmocka_unit_test(test_process_shared_mutex_and_cond_work_across_fork),
		cmocka_unit_test(test_child_of_fork_can_use_every_mutex),
		cmocka_unit_test(test_condvar_torture_consumes_every_item_once),
		cmocka_unit_test(test_report_at_exit_names_the_contended_call_site),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
