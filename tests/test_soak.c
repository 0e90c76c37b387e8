/*
 * Soak: many threads, random mixes of lock, trylock and timedlock (0-50 us
 * deadlines) on one mutex whose starvation threshold is 2 us, so the mode
 * flips all the time; reference-counted objects, each destroyed and freed
 * by the last user right after its unlock (POSIX allows it); forks in the
 * middle of all that, whose children must find every mutex not held at the
 * fork usable; random pauses at every pause point of the protocol, which
 * turn its rare interleavings into common ones. Then again under each
 * injected futex fault (EINTR, EAGAIN, spurious wake-ups, early timeouts,
 * EFAULT on wake).
 *
 * Checked: the counter each mutex protects is exact; no timed lock gives up
 * before its deadline; every mutex is back at rest; a watchdog dumps the
 * state and aborts if nothing moves for 20 s (a hang); and the rare paths
 * the soak is for actually ran: every labelled step of the protocol
 * (L2-L6, U1-U4, T1-T4, the orphan check) at least once.
 *
 * AMUTEX_SOAK_ROUNDS=N runs N rounds instead of the suite's few.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <amutex.h>
#include <amutex/stats.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mutex/mutex.h"
#include "support.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SLOW_BUILD 1
#else
#define SLOW_BUILD 0
#endif
/* ThreadSanitizer does not follow a multi-threaded fork's child reliably. */
#ifdef __SANITIZE_THREAD__
#define FORKS 0
#else
#define FORKS 1
#endif

#define THREADS 8
#define OBJECTS 16		/* reference-counted objects alive at once */
#define REFS 4			/* users of each, the last one frees it */

struct object {
	amutex_t m;
	int refs;		/* protected by m */
	uint64_t uses;		/* protected by m */
};

static struct {
	amutex_t m;
	uint64_t counter;	/* protected by m: plain on purpose */
	uintptr_t slot[OBJECTS];	/* object | references left to hand out */
	uint64_t progress;	/* operations done, for the watchdog */
	int stop;
	int early_timeouts;	/* ETIMEDOUT before the deadline: must stay 0 */
	uint64_t forks;
} S;

struct worker {
	int id;
	int ops;
	uint64_t acquired;
	uint64_t x;		/* random state */
	int doing;		/* what it does now, for a hang dump */
	pthread_t t;
};

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* At any pause point, now and then, a short stop: other threads overtake. */
static void jitter(enum amutex__point p, const amutex_t *m)
{
	static __thread uint64_t x;

	(void)m;
	if (!x)
		x = (uint64_t)(uintptr_t)&x | 1;
	/*
	 * A handoff's receiver stopped between reading the word and taking
	 * the lock is how the last waiter can leave behind it (then the
	 * receiver's unlock is U4): stop there often.
	 */
	if (rnd(&x) % (p == AMUTEX_POINT_HANDOFF ? 2 : 16) == 0) {
		struct timespec d = { 0, (long)(rnd(&x) % 20000) };

		nanosleep(&d, NULL);
	}
}

static void init_main(void)
{
	amutex_attr_t a;

	memset(&S, 0, sizeof(S));
	amutex_attr_init(&a);
	amutex_attr_setstarvation(&a, 2000);
	amutex_attr_setstats(&a, 1);
	assert_int_equal(amutex_init(&S.m, &a), 0);
}

static struct object *new_object(void)
{
	struct object *o = aligned_alloc(16, sizeof(*o));
	amutex_attr_t a;

	assert_non_null(o);
	amutex_attr_init(&a);
	amutex_attr_setstarvation(&a, 2000);
	assert_int_equal(amutex_init(&o->m, &a), 0);
	o->refs = REFS;
	o->uses = 0;
	return o;
}

/*
 * A slot holds an object and, in the pointer's low bits, how many of its
 * REFS references are still to be handed out. Taking the last one puts a
 * fresh object in the slot, in the same CAS.
 */
static struct object *take_ref(int i)
{
	uintptr_t v = __atomic_load_n(&S.slot[i], __ATOMIC_ACQUIRE), nv;
	struct object *fresh = NULL, *o;

	do {
		o = (struct object *)(v & ~(uintptr_t)15);
		if ((v & 15) == 1) {
			if (!fresh)
				fresh = new_object();
			nv = (uintptr_t)fresh | REFS;
		} else {
			nv = v - 1;
		}
	} while (!__atomic_compare_exchange_n(&S.slot[i], &v, nv, 0, __ATOMIC_ACQ_REL,
					      __ATOMIC_ACQUIRE));
	if (fresh && (v & 15) != 1) {	/* not needed after all */
		amutex_destroy(&fresh->m);
		free(fresh);
	}
	return o;
}

/* Use the object in slot i once; the last of its REFS users frees it. */
static void use_object(int i)
{
	struct object *o = take_ref(i);
	int last;

	amutex_lock(&o->m);
	o->uses++;
	last = --o->refs == 0;
	if (last)
		assert_int_equal(o->uses, REFS);
	amutex_unlock(&o->m);
	if (last) {
		/* Right after the unlock: the others may still be inside theirs. */
		assert_int_equal(amutex_destroy(&o->m), 0);
		memset(o, 0x5a, sizeof(*o));
		free(o);
	}
}

/* A child of fork: the mutexes not held at the fork work, on the fast path. */
static int child(void)
{
	amutex_t fresh = AMUTEX_INITIALIZER;

	if (amutex_trylock(&S.m) == 0) {
		if (amutex_unlock(&S.m) != 0 || amutex_lock(&S.m) != 0 || amutex_unlock(&S.m) != 0)
			return 1;
	}
	for (int i = 0; i < 100; i++)
		if (amutex_lock(&fresh) != 0 || amutex_unlock(&fresh) != 0)
			return 2;
	return 0;
}

static void do_fork(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(child());
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	__atomic_add_fetch(&S.forks, 1, __ATOMIC_RELAXED);
}

static void *work(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < w->ops && !__atomic_load_n(&S.stop, __ATOMIC_RELAXED); i++) {
		uint64_t r = rnd(&w->x) % 100;
		struct timespec ts;
		int got;

		w->doing = (int)r;
		if (r < 45) {
			got = amutex_lock(&S.m) == 0;
		} else if (r < 60) {
			got = amutex_trylock(&S.m) == 0;
		} else if (r < 85) {
			int e;

			ts = deadline_ns(CLOCK_MONOTONIC, (long)(rnd(&w->x) % 50000));
			e = amutex_timedlock(&S.m, &ts);
			got = e == 0;
			if (e == ETIMEDOUT) {
				struct timespec now;

				clock_gettime(CLOCK_MONOTONIC, &now);
				if (now.tv_sec < ts.tv_sec ||
				    (now.tv_sec == ts.tv_sec && now.tv_nsec < ts.tv_nsec))
					__atomic_add_fetch(&S.early_timeouts, 1, __ATOMIC_RELAXED);
			} else {
				assert_int_equal(e == 0 || e == ETIMEDOUT, 1);
			}
		} else if (r < 99 || !FORKS || w->id != 0) {
			use_object((int)(rnd(&w->x) % OBJECTS));
			got = 0;
		} else {
			do_fork();
			got = 0;
		}
		if (got) {
			uint64_t hold = rnd(&w->x) % 64;

			S.counter++;
			w->acquired++;
			/* Mostly short holds; now and then a long one, so queues form. */
			if (hold == 0) {
				struct timespec d = { 0, (long)(rnd(&w->x) % 50000) };

				nanosleep(&d, NULL);
			} else {
				for (uint64_t k = 0; k < hold * 8; k++)
					w->x = w->x * 6364136223846793005ull + 1;
				w->x |= 1;
			}
			assert_int_equal(amutex_unlock(&S.m), 0);
		}
		__atomic_add_fetch(&S.progress, 1, __ATOMIC_RELAXED);
	}
	w->doing = -1;
	return NULL;
}

static struct worker workers[THREADS];

static void *watchdog(void *arg)
{
	uint64_t last = (uint64_t)-1;
	int still = 0;

	(void)arg;
	while (!__atomic_load_n(&S.stop, __ATOMIC_RELAXED)) {
		uint64_t p = __atomic_load_n(&S.progress, __ATOMIC_RELAXED);

		nap_ms(100);
		still = p == last ? still + 1 : 0;
		last = p;
		if (still < 200)
			continue;
		fprintf(stderr, "soak: no progress for 20 s: state %#x sema %#x\n",
			S.m.state, S.m.sema);
		for (int i = 0; i < THREADS; i++)
			fprintf(stderr, "  worker %d doing %d\n", i, workers[i].doing);
		for (int i = 0; i < AMUTEX_STEP_COUNT; i++)
			fprintf(stderr, "  %s %llu\n", amutex__step_names[i],
				(unsigned long long)amutex__steps[i]);
		abort();
	}
	return NULL;
}

/* One round: the workers, then the checks. */
static void soak_round(int ops)
{
	pthread_t dog;
	uint64_t acquired = 0;

	init_main();
	for (int i = 0; i < OBJECTS; i++)
		S.slot[i] = (uintptr_t)new_object() | REFS;
	pthread_create(&dog, NULL, watchdog, NULL);
	for (int i = 0; i < THREADS; i++) {
		workers[i] = (struct worker){ .id = i, .ops = ops, .x = 0x9e3779b97f4a7c15ull * (i + 1) };
		pthread_create(&workers[i].t, NULL, work, &workers[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(workers[i].t, NULL);
		acquired += workers[i].acquired;
	}
	__atomic_store_n(&S.stop, 1, __ATOMIC_RELAXED);
	pthread_join(dog, NULL);
	assert_int_equal(S.counter, acquired);
	assert_int_equal(S.early_timeouts, 0);
	assert_int_equal(S.m.state, 0);
	assert_int_equal(AMUTEX__SEMA_TOKENS(S.m.sema), 0);
	assert_int_equal(amutex_destroy(&S.m), 0);
	/* Objects still in a slot: their remaining users never came. */
	for (int i = 0; i < OBJECTS; i++) {
		struct object *o = (struct object *)(S.slot[i] & ~(uintptr_t)15);

		assert_int_equal(o->m.state, 0);
		assert_int_equal(o->uses + (S.slot[i] & 15), REFS);
		assert_int_equal(amutex_destroy(&o->m), 0);
		free(o);
	}
}

static int rounds_asked(int dflt)
{
	const char *s = getenv("AMUTEX_SOAK_ROUNDS");

	return s && atoi(s) > 0 ? atoi(s) : dflt;
}

/* The rare paths: run rounds until each has happened (a bounded number). */
static void test_soak_runs_every_step_and_stays_exact(void **state)
{
	/*
	 * U4 is not among them: it needs the last waiter to leave during a
	 * handoff and then nobody to queue during the receiver's whole hold,
	 * a quiet moment eight busy threads do not give. tests/test_protocol.c
	 * forces that schedule.
	 */
	const enum amutex__step needed[] = {
		AMUTEX_STEP_L2, AMUTEX_STEP_L3, AMUTEX_STEP_L4, AMUTEX_STEP_L5, AMUTEX_STEP_L6,
		AMUTEX_STEP_U1, AMUTEX_STEP_U2, AMUTEX_STEP_U3,
		AMUTEX_STEP_T1, AMUTEX_STEP_T2, AMUTEX_STEP_T3, AMUTEX_STEP_T4,
		AMUTEX_STEP_ORPHAN,
	};
	int rounds = rounds_asked(3), missing = 0;

	(void)state;
	memset(amutex__steps, 0, sizeof(amutex__steps));
	__atomic_store_n(&amutex__test_point, jitter, __ATOMIC_RELEASE);
	for (int r = 0; r < 40; r++) {
		soak_round(SLOW_BUILD ? 3000 : 20000);
		missing = 0;
		for (unsigned i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
			missing += amutex__steps[needed[i]] == 0;
		if (r + 1 >= rounds && !missing)
			break;
	}
	__atomic_store_n(&amutex__test_point, NULL, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		printf("soak: %-6s %llu\n", amutex__step_names[needed[i]],
		       (unsigned long long)amutex__steps[needed[i]]);
		if (!amutex__steps[needed[i]])
			fprintf(stderr, "soak: step %s never ran\n", amutex__step_names[needed[i]]);
	}
	printf("soak: %llu forks\n", (unsigned long long)S.forks);
	assert_int_equal(missing, 0);
	if (FORKS)
		assert_true(S.forks > 0);
}

/* Each injected futex fault, then all of them: the same checks hold. */
static void soak_with(unsigned *fault, const char *name)
{
	uint64_t before = amutex__faults_injected;

	memset(&amutex__faults, 0, sizeof(amutex__faults));
	*fault = 100;	/* per mille */
	soak_round(SLOW_BUILD ? 1000 : 5000);
	memset(&amutex__faults, 0, sizeof(amutex__faults));
	printf("faults: %s: %llu injected\n", name,
	       (unsigned long long)(amutex__faults_injected - before));
	assert_true(amutex__faults_injected > before);
}

static void test_every_futex_fault_leaves_the_protocol_correct(void **state)
{
	(void)state;
	soak_with(&amutex__faults.eintr, "EINTR");
	soak_with(&amutex__faults.eagain, "EAGAIN");
	soak_with(&amutex__faults.spurious, "spurious wake-up");
	soak_with(&amutex__faults.early_timeout, "early timeout");
	soak_with(&amutex__faults.wake_efault, "EFAULT on wake");
}

static void test_all_futex_faults_at_once(void **state)
{
	uint64_t before = amutex__faults_injected;

	(void)state;
	amutex__faults = (struct amutex__faults){ 50, 50, 50, 50, 50 };
	soak_round(SLOW_BUILD ? 1000 : 5000);
	memset(&amutex__faults, 0, sizeof(amutex__faults));
	assert_true(amutex__faults_injected > before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_soak_runs_every_step_and_stays_exact),
		cmocka_unit_test(test_every_futex_fault_leaves_the_protocol_correct),
		cmocka_unit_test(test_all_futex_faults_at_once),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
