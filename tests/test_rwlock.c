/*
 * The reader-writer lock (docs/rwlock.md): readers share, a writer is
 * alone, a claiming writer stops new readers, the readers it stopped go in
 * before the next writer, timeouts on both sides give back what they took,
 * misuse and limits are refused with nothing changed, the child of a fork
 * can lock what nobody held, and a stress run that shows each rare path ran.
 * Waits in these tests are for states of the word, never for a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <amutex/rwlock.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rwlock/rwlock.h"
#include "support.h"

#define READERS(s)  ((s) & AMUTEX__RW_READERS)
#define QUEUED(s)   (((s) >> AMUTEX__RW_QUEUED_SHIFT) & AMUTEX__RW_COUNT_MAX)
#define ADMITTED(s) ((s) >> AMUTEX__RW_ADMITTED_SHIFT)

static uint64_t word(const amutex_rwlock_t *rw)
{
	return __atomic_load_n(&rw->state, __ATOMIC_ACQUIRE);
}

static uint64_t steps(enum amutex__rw_step s)
{
	return __atomic_load_n(&amutex__rw_steps[s], __ATOMIC_RELAXED);
}

/* Yield until the word has all of the bits in mask equal to those in want. */
static void wait_bits(const amutex_rwlock_t *rw, uint64_t mask, uint64_t want)
{
	while ((word(rw) & mask) != want)
		sched_yield();
}

static void wait_queued(const amutex_rwlock_t *rw, uint64_t n)
{
	while (QUEUED(word(rw)) != n)
		sched_yield();
}

/* A thread that makes one call on the lock and records what it returned. */
enum op { RDLOCK, TRYRDLOCK, WRLOCK, TRYWRLOCK, TIMEDWRLOCK, TIMEDRDLOCK };
struct call {
	amutex_rwlock_t *rw;
	enum op op;
	long timeout_ns;
	int result;
	int done;
	int seq;		/* when it got the lock, from the shared counter */
	int release;		/* set by the test: unlock what you got, then end */
	pthread_t t;
};

static int order;

static void *call_main(void *arg)
{
	struct call *c = arg;
	struct timespec d;
	int r = 0;

	switch (c->op) {
	case RDLOCK: r = amutex_rwlock_rdlock(c->rw); break;
	case TRYRDLOCK: r = amutex_rwlock_tryrdlock(c->rw); break;
	case WRLOCK: r = amutex_rwlock_wrlock(c->rw); break;
	case TRYWRLOCK: r = amutex_rwlock_trywrlock(c->rw); break;
	case TIMEDWRLOCK:
		d = deadline_ns(CLOCK_MONOTONIC, c->timeout_ns);
		r = amutex_rwlock_timedwrlock(c->rw, &d);
		break;
	case TIMEDRDLOCK:
		d = deadline_ns(CLOCK_MONOTONIC, c->timeout_ns);
		r = amutex_rwlock_timedrdlock(c->rw, &d);
		break;
	}
	if (r == 0)
		c->seq = __atomic_add_fetch(&order, 1, __ATOMIC_SEQ_CST);
	c->result = r;
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	if (r == 0) {
		while (!__atomic_load_n(&c->release, __ATOMIC_ACQUIRE))
			sched_yield();
		if (c->op == WRLOCK || c->op == TRYWRLOCK || c->op == TIMEDWRLOCK)
			assert_int_equal(amutex_rwlock_wrunlock(c->rw), 0);
		else
			assert_int_equal(amutex_rwlock_rdunlock(c->rw), 0);
	}
	return NULL;
}

static void start(struct call *c, amutex_rwlock_t *rw, enum op op, long timeout_ns)
{
	memset(c, 0, sizeof(*c));
	c->rw = rw;
	c->op = op;
	c->timeout_ns = timeout_ns;
	assert_int_equal(pthread_create(&c->t, NULL, call_main, c), 0);
}

static int done(struct call *c)
{
	return __atomic_load_n(&c->done, __ATOMIC_ACQUIRE);
}

static int wait_done(struct call *c)
{
	while (!done(c))
		sched_yield();
	return c->result;
}

static void finish(struct call *c)
{
	__atomic_store_n(&c->release, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(c->t, NULL), 0);
}

static void test_zero_bytes_are_an_unlocked_rwlock(void **state)
{
	amutex_rwlock_t rw = AMUTEX_RWLOCK_INITIALIZER;

	(void)state;
	assert_int_equal(amutex_rwlock_tryrdlock(&rw), 0);
	assert_int_equal(amutex_rwlock_rdunlock(&rw), 0);
	assert_int_equal(amutex_rwlock_trywrlock(&rw), 0);
	assert_int_equal(amutex_rwlock_wrunlock(&rw), 0);
	assert_int_equal(amutex_rwlock_rdlock(&rw), 0);
	assert_int_equal(amutex_rwlock_rdunlock(&rw), 0);
	assert_int_equal(amutex_rwlock_wrlock(&rw), 0);
	assert_int_equal(amutex_rwlock_wrunlock(&rw), 0);
	assert_int_equal(word(&rw), 0);
	assert_int_equal(amutex_rwlock_destroy(&rw), 0);
}

static void test_readers_share_the_lock(void **state)
{
	amutex_rwlock_t rw = AMUTEX_RWLOCK_INITIALIZER;
	struct call c;

	(void)state;
	assert_int_equal(amutex_rwlock_rdlock(&rw), 0);
	start(&c, &rw, RDLOCK, 0);
	assert_int_equal(wait_done(&c), 0);
	assert_int_equal(READERS(word(&rw)), 2);
	assert_int_equal(amutex_rwlock_trywrlock(&rw), EBUSY);
	finish(&c);
	assert_int_equal(amutex_rwlock_rdunlock(&rw), 0);
	assert_int_equal(word(&rw), 0);
}

static void test_a_writer_excludes_readers_and_writers(void **state)
{
	amutex_rwlock_t rw = AMUTEX_RWLOCK_INITIALIZER;
	uint64_t rl5 = steps(AMUTEX_RW_RL5);
	struct call c;

	(void)state;
	assert_int_equal(amutex_rwlock_wrlock(&rw), 0);
	start(&c, &rw, TRYRDLOCK, 0);
	assert_int_equal(wait_done(&c), EBUSY);
	finish(&c);
	start(&c, &rw, TRYWRLOCK, 0);
	assert_int_equal(wait_done(&c), EBUSY);
	finish(&c);
	/* A timed reader queues, times out, and leaves the queue as it found it. */
	start(&c, &rw, TIMEDRDLOCK, 2000000);
	assert_int_equal(wait_done(&c), ETIMEDOUT);
	finish(&c);
	assert_int_equal(steps(AMUTEX_RW_RL5), rl5 + 1);
	assert_int_equal(QUEUED(word(&rw)), 0);
	start(&c, &rw, TIMEDWRLOCK, 2000000);
	assert_int_equal(wait_done(&c), ETIMEDOUT);
	finish(&c);
	assert_int_equal(word(&rw), AMUTEX__RW_WRITER);
	assert_int_equal(amutex_rwlock_wrunlock(&rw), 0);
	assert_int_equal(word(&rw) & ~AMUTEX__RW_PHASE, 0);
	assert_int_equal(amutex_rwlock_destroy(&rw), 0);
}

static void test_a_claiming_writer_stops_new_readers(void **state)
{
	amutex_rwlock_t rw = AMUTEX_RWLOCK_INITIALIZER;
	uint64_t rl3 = steps(AMUTEX_RW_RL3);
	struct call w, r, t;

	(void)state;
	assert_int_equal(amutex_rwlock_rdlock(&rw), 0);
	start(&w, &rw, WRLOCK, 0);
	wait_bits(&rw, AMUTEX__RW_WRITER, AMUTEX__RW_WRITER);
	/* Claimed, not held: a new reader may not pass the claim. */
	start(&t, &rw, TRYRDLOCK, 0);
	assert_int_equal(wait_done(&t), EBUSY);
	finish(&t);
	start(&r, &rw, RDLOCK, 0);
	wait_queued(&rw, 1);
	assert_false(done(&w));
	assert_int_equal(amutex_rwlock_rdunlock(&rw), 0);
	assert_int_equal(wait_done(&w), 0);
	assert_false(done(&r));
	finish(&w);
	/* The release lets the queued reader in. */
	assert_int_equal(wait_done(&r), 0);
	assert_true(r.seq > w.seq);
	assert_int_equal(steps(AMUTEX_RW_RL3), rl3 + 1);
	finish(&r);
	assert_int_equal(word(&rw) & ~AMUTEX__RW_PHASE, 0);
}

static void test_readers_stopped_by_a_writer_go_in_before_the_next_writer(void **state)
{
	amutex_rwlock_t rw = AMUTEX_RWLOCK_INITIALIZER;
	struct call r1, r2, w2;

	(void)state;
	assert_int_equal(amutex_rwlock_wrlock(&rw), 0);
	start(&r1, &rw, RDLOCK, 0);
	start(&r2, &rw, RDLOCK, 0);
	wait_queued(&rw, 2);
	start(&w2, &rw, WRLOCK, 0);
	/* w2 waits on the writers' mutex: it counts as a waiter there. */
	while (!(__atomic_load_n(&rw.w.state, __ATOMIC_ACQUIRE) >> AMUTEX__WAITER_SHIFT))
		sched_yield();
	assert_int_equal(amutex_rwlock_wrunlock(&rw), 0);
	assert_int_equal(wait_done(&r1), 0);
	assert_int_equal(wait_done(&r2), 0);
	/* Both readers hold; the next writer has claimed and waits for them. */
	wait_bits(&rw, AMUTEX__RW_WRITER, AMUTEX__RW_WRITER);
	assert_false(done(&w2));
	finish(&r1);
	finish(&r2);
	assert_int_equal(wait_done(&w2), 0);
	assert_true(w2.seq > r1.seq && w2.seq > r2.seq);
	finish(&w2);
	assert_int_equal(word(&rw) & ~AMUTEX__RW_PHASE, 0);
}

/* The QUEUED pause point: did a reader queue while the writer's claim stood? */
static int reader_queued;

static void note_queued(enum amutex__rw_point p, const amutex_rwlock_t *rw)
{
	(void)rw;
	if (p == AMUTEX_RW_POINT_QUEUED)
		__atomic_store_n(&reader_queued, 1, __ATOMIC_RELEASE);
}

static void test_a_writer_that_times_out_lets_the_readers_it_stopped_in(void **state)
{
	amutex_rwlock_t rw = AMUTEX_RWLOCK_INITIALIZER;
	uint64_t rl4 = steps(AMUTEX_RW_RL4), wt2 = steps(AMUTEX_RW_WT2);
	struct call w, r;
	int tries;

	(void)state;
	__atomic_store_n(&amutex__rw_test_point, note_queued, __ATOMIC_RELEASE);
	/* The reader must queue before the writer's deadline: try again until it has. */
	for (tries = 0; tries < 20; tries++) {
		__atomic_store_n(&reader_queued, 0, __ATOMIC_RELEASE);
		assert_int_equal(amutex_rwlock_rdlock(&rw), 0);
		start(&w, &rw, TIMEDWRLOCK, 50000000L << (tries < 6 ? tries : 6));
		wait_bits(&rw, AMUTEX__RW_WRITER, AMUTEX__RW_WRITER);
		start(&r, &rw, RDLOCK, 0);
		assert_int_equal(wait_done(&w), ETIMEDOUT);
		assert_int_equal(wait_done(&r), 0);
		/* No writer, both readers in, nobody queued. */
		assert_int_equal(word(&rw) & ~AMUTEX__RW_PHASE, 2);
		finish(&w);
		finish(&r);
		assert_int_equal(amutex_rwlock_rdunlock(&rw), 0);
		if (__atomic_load_n(&reader_queued, __ATOMIC_ACQUIRE))
			break;
	}
	__atomic_store_n(&amutex__rw_test_point, NULL, __ATOMIC_RELEASE);
	assert_true(tries < 20);
	assert_int_equal(steps(AMUTEX_RW_RL4), rl4 + 1);
	assert_int_equal(steps(AMUTEX_RW_WT2), wt2 + tries + 1);
	/* The writers' mutex was given back: a writer gets the lock at once. */
	assert_int_equal(amutex_rwlock_trywrlock(&rw), 0);
	assert_int_equal(amutex_rwlock_wrunlock(&rw), 0);
}

/*
 * Holding threads at pause points, to force an interleaving: after hold(P)
 * a thread that reaches P waits there until let_go(P); held(P) waits until
 * one does; hold_none() holds nobody new (a thread held stays held).
 */
static struct { int armed, paused, go; } holds[AMUTEX_RW_POINT_LATE + 1];

static void hold_hook(enum amutex__rw_point p, const amutex_rwlock_t *rw)
{
	(void)rw;
	if (!__atomic_load_n(&holds[p].armed, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&holds[p].paused, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&holds[p].go, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void hold(enum amutex__rw_point p)
{
	__atomic_store_n(&holds[p].paused, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&holds[p].go, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&holds[p].armed, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&amutex__rw_test_point, hold_hook, __ATOMIC_RELEASE);
}

static void held(enum amutex__rw_point p)
{
	while (!__atomic_load_n(&holds[p].paused, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void let_go(enum amutex__rw_point p)
{
	__atomic_store_n(&holds[p].go, 1, __ATOMIC_RELEASE);
}

static void hold_none(void)
{
	__atomic_store_n(&amutex__rw_test_point, NULL, __ATOMIC_RELEASE);
	for (size_t i = 0; i < sizeof(holds) / sizeof(holds[0]); i++)
		__atomic_store_n(&holds[i].armed, 0, __ATOMIC_RELEASE);
}

/* A writer whose deadline passed just as the last reader left holds the lock (WT2). */
static void test_a_writer_past_its_deadline_keeps_a_lock_the_readers_left(void **state)
{
	amutex_rwlock_t rw = AMUTEX_RWLOCK_INITIALIZER;
	uint64_t kept = steps(AMUTEX_RW_WT2_HELD);
	struct call w;

	(void)state;
	hold(AMUTEX_RW_POINT_GIVING_UP);
	assert_int_equal(amutex_rwlock_rdlock(&rw), 0);
	start(&w, &rw, TIMEDWRLOCK, 1000000);
	held(AMUTEX_RW_POINT_GIVING_UP);
	assert_int_equal(amutex_rwlock_rdunlock(&rw), 0);	/* the last reader leaves */
	let_go(AMUTEX_RW_POINT_GIVING_UP);
	assert_int_equal(wait_done(&w), 0);
	hold_none();
	assert_int_equal(steps(AMUTEX_RW_WT2_HELD), kept + 1);
	assert_int_equal(word(&rw) & ~AMUTEX__RW_PHASE, AMUTEX__RW_WRITER);
	finish(&w);
	assert_int_equal(word(&rw) & ~AMUTEX__RW_PHASE, 0);
}

/*
 * The readers a timed writer stopped, and then gave up on, go in before the
 * next writer claims (WL5): a reader waits for at most the writer that held
 * or claimed the lock when it came.
 */
static void test_readers_a_writer_gave_up_on_go_in_before_the_next_writer(void **state)
{
	amutex_rwlock_t rw = AMUTEX_RWLOCK_INITIALIZER;
	uint64_t wl5 = steps(AMUTEX_RW_WL5), rl4 = steps(AMUTEX_RW_RL4);
	struct call w1, r, w2;

	(void)state;
	hold(AMUTEX_RW_POINT_GIVING_UP);
	hold(AMUTEX_RW_POINT_QUEUED);
	assert_int_equal(amutex_rwlock_rdlock(&rw), 0);
	start(&w1, &rw, TIMEDWRLOCK, 1000000);
	held(AMUTEX_RW_POINT_GIVING_UP);
	start(&r, &rw, RDLOCK, 0);		/* queues behind w1's claim */
	held(AMUTEX_RW_POINT_QUEUED);
	let_go(AMUTEX_RW_POINT_GIVING_UP);
	assert_int_equal(wait_done(&w1), ETIMEDOUT);
	finish(&w1);
	start(&w2, &rw, WRLOCK, 0);
	while (steps(AMUTEX_RW_WL5) == wl5 && !(word(&rw) & AMUTEX__RW_WRITER))
		sched_yield();
	if (word(&rw) & AMUTEX__RW_WRITER) {	/* w2 claimed past the queued reader */
		let_go(AMUTEX_RW_POINT_QUEUED);
		hold_none();
		fail_msg("the next writer claimed while a reader its predecessor gave up on was queued");
	}
	assert_false(done(&w2));
	assert_int_equal(QUEUED(word(&rw)), 1);
	assert_int_equal(word(&rw) & AMUTEX__RW_WRITER, 0);
	let_go(AMUTEX_RW_POINT_QUEUED);
	assert_int_equal(wait_done(&r), 0);
	assert_int_equal(steps(AMUTEX_RW_RL4), rl4 + 1);
	/* Now w2 claims, and waits for both readers. */
	wait_bits(&rw, AMUTEX__RW_WRITER, AMUTEX__RW_WRITER);
	assert_false(done(&w2));
	hold_none();
	assert_int_equal(amutex_rwlock_rdunlock(&rw), 0);
	finish(&r);
	assert_int_equal(wait_done(&w2), 0);
	assert_true(w2.seq > r.seq);
	finish(&w2);
	assert_int_equal(word(&rw) & ~AMUTEX__RW_PHASE, 0);
}

/* A timed reader that a release let in as its deadline passed holds the lock: 0, not ETIMEDOUT. */
static void test_a_reader_let_in_at_its_deadline_holds_the_lock(void **state)
{
	amutex_rwlock_t rw = AMUTEX_RWLOCK_INITIALIZER;
	uint64_t rl3 = steps(AMUTEX_RW_RL3), rl5 = steps(AMUTEX_RW_RL5);
	struct call r;

	(void)state;
	hold(AMUTEX_RW_POINT_LATE);
	assert_int_equal(amutex_rwlock_wrlock(&rw), 0);
	start(&r, &rw, TIMEDRDLOCK, 1000000);
	held(AMUTEX_RW_POINT_LATE);
	assert_int_equal(amutex_rwlock_wrunlock(&rw), 0);	/* lets the queued reader in */
	let_go(AMUTEX_RW_POINT_LATE);
	assert_int_equal(wait_done(&r), 0);
	hold_none();
	assert_int_equal(steps(AMUTEX_RW_RL3), rl3 + 1);
	assert_int_equal(steps(AMUTEX_RW_RL5), rl5);
	assert_int_equal(READERS(word(&rw)), 1);
	finish(&r);
	assert_int_equal(word(&rw) & ~AMUTEX__RW_PHASE, 0);
}

static void test_misuse_is_refused_and_changes_nothing(void **state)
{
	amutex_rwlock_t rw = AMUTEX_RWLOCK_INITIALIZER;
	struct timespec bad = { 0, -1 }, bad2 = { 0, 1000000000 }, past = { -1, 0 };
	amutex_attr_t a;
	uint64_t before;

	(void)state;
	assert_int_equal(amutex_rwlock_rdunlock(&rw), EPERM);
	assert_int_equal(amutex_rwlock_wrunlock(&rw), EPERM);
	assert_int_equal(word(&rw), 0);
	assert_int_equal(amutex_rwlock_rdlock(&rw), 0);
	assert_int_equal(amutex_rwlock_wrunlock(&rw), EPERM);
	assert_int_equal(amutex_rwlock_destroy(&rw), EBUSY);
	assert_int_equal(amutex_rwlock_timedwrlock(&rw, &bad), EINVAL);
	assert_int_equal(word(&rw), 1);
	/* A negative tv_sec is long past, as for the mutex: not a crash, not EINVAL. */
	assert_int_equal(amutex_rwlock_timedwrlock(&rw, &past), ETIMEDOUT);
	assert_int_equal(word(&rw), 1);
	assert_int_equal(amutex_rwlock_rdunlock(&rw), 0);
	assert_int_equal(amutex_rwlock_wrlock(&rw), 0);
	before = word(&rw);
	assert_int_equal(amutex_rwlock_rdunlock(&rw), EPERM);
	assert_int_equal(amutex_rwlock_timedrdlock(&rw, &bad), EINVAL);
	assert_int_equal(amutex_rwlock_timedrdlock(&rw, &bad2), EINVAL);
	assert_int_equal(amutex_rwlock_timedrdlock(&rw, &past), ETIMEDOUT);
	assert_int_equal(amutex_rwlock_destroy(&rw), EBUSY);
	assert_int_equal(word(&rw), before);
	assert_int_equal(amutex_rwlock_wrunlock(&rw), 0);
	assert_int_equal(amutex_rwlock_destroy(&rw), 0);

	memset(&a, 0, sizeof(a));
	assert_int_equal(amutex_rwlock_init(&rw, &a), EINVAL);	/* not from amutex_attr_init */
	assert_int_equal(amutex_attr_init(&a), 0);
	assert_int_equal(amutex_attr_setstats(&a, 1), 0);
	assert_int_equal(amutex_rwlock_init(&rw, &a), EINVAL);
	assert_int_equal(amutex_attr_setstats(&a, 0), 0);
	assert_int_equal(amutex_attr_setstarvation(&a, 500000), 0);
	assert_int_equal(amutex_rwlock_init(&rw, &a), 0);
	assert_int_equal(rw.w.starve_ns, 500000);
	assert_int_equal(amutex_rwlock_destroy(&rw), 0);
	assert_int_equal(amutex_attr_destroy(&a), 0);
}

static void test_a_claim_that_waits_cannot_be_unlocked(void **state)
{
	amutex_rwlock_t rw = AMUTEX_RWLOCK_INITIALIZER;
	struct call w;
	uint64_t claimed;

	(void)state;
	assert_int_equal(amutex_rwlock_rdlock(&rw), 0);
	start(&w, &rw, WRLOCK, 0);
	wait_bits(&rw, AMUTEX__RW_WRITER, AMUTEX__RW_WRITER);
	claimed = word(&rw) & ~AMUTEX__RW_WSLEEP;
	assert_int_equal(amutex_rwlock_wrunlock(&rw), EPERM);
	assert_int_equal(word(&rw) & ~AMUTEX__RW_WSLEEP, claimed);
	assert_int_equal(amutex_rwlock_destroy(&rw), EBUSY);
	assert_int_equal(amutex_rwlock_rdunlock(&rw), 0);
	assert_int_equal(wait_done(&w), 0);
	finish(&w);
}

/*
 * A release gives w back before its last CAS (RU4), which is its last
 * access to the lock: until then the lock counts as held (destroy says
 * EBUSY, a child of a fork finds it held), and the next writer waits for
 * that CAS (WL4).
 */
static void test_a_release_gives_the_writers_mutex_back_first(void **state)
{
	static amutex_rwlock_t rw = AMUTEX_RWLOCK_INITIALIZER;
	uint64_t wl4 = steps(AMUTEX_RW_WL4);
	struct call w1, w2;
	pid_t pid;
	int status;

	(void)state;
	start(&w1, &rw, WRLOCK, 0);
	assert_int_equal(wait_done(&w1), 0);
	hold(AMUTEX_RW_POINT_RELEASING);
	__atomic_store_n(&w1.release, 1, __ATOMIC_RELEASE);
	held(AMUTEX_RW_POINT_RELEASING);
	hold_none();	/* w2's release is not held */
	assert_int_equal(__atomic_load_n(&rw.w.state, __ATOMIC_ACQUIRE) & AMUTEX__LOCKED, 0);
	assert_int_equal(word(&rw) & ~AMUTEX__RW_PHASE, AMUTEX__RW_WRITER);
	assert_int_equal(amutex_rwlock_destroy(&rw), EBUSY);
	assert_int_equal(amutex_rwlock_tryrdlock(&rw), EBUSY);
	assert_int_equal(amutex_rwlock_trywrlock(&rw), EBUSY);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)	/* the release had not reached RU4: held, as one held at the fork */
		_exit(amutex_rwlock_tryrdlock(&rw) == EBUSY &&
		      (word(&rw) & AMUTEX__RW_WRITER) ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The next writer takes w and waits for RU4. */
	start(&w2, &rw, WRLOCK, 0);
	while (steps(AMUTEX_RW_WL4) == wl4)
		sched_yield();
	assert_false(done(&w2));
	let_go(AMUTEX_RW_POINT_RELEASING);
	assert_int_equal(pthread_join(w1.t, NULL), 0);
	assert_int_equal(wait_done(&w2), 0);
	finish(&w2);
	assert_int_equal(word(&rw) & ~AMUTEX__RW_PHASE, 0);
	assert_int_equal(amutex_rwlock_destroy(&rw), 0);
}

static void test_past_the_limits_a_reader_gets_eagain(void **state)
{
	amutex_rwlock_t rw = AMUTEX_RWLOCK_INITIALIZER;
	uint64_t full = AMUTEX__RW_READERS, queue_full;

	(void)state;
	rw.state = full;
	assert_int_equal(amutex_rwlock_tryrdlock(&rw), EAGAIN);
	assert_int_equal(amutex_rwlock_rdlock(&rw), EAGAIN);
	assert_int_equal(word(&rw), full);
	queue_full = AMUTEX__RW_WRITER | 1 | AMUTEX__RW_COUNT_MAX << AMUTEX__RW_QUEUED_SHIFT;
	rw.state = queue_full;
	assert_int_equal(amutex_rwlock_rdlock(&rw), EAGAIN);
	assert_int_equal(word(&rw), queue_full);
	rw.state = 0;
}

/*
 * Fork while another thread's claim waits for this thread's read hold and a
 * reader is queued behind it: the child keeps its own read hold and, once
 * that is gone, can write-lock: the claim and the queued reader were other
 * threads'.
 */
static void test_the_child_of_a_fork_can_lock_what_nobody_held(void **state)
{
	static amutex_rwlock_t rw = AMUTEX_RWLOCK_INITIALIZER;
	struct call w, r;
	pid_t pid;
	int status;

	(void)state;
	assert_int_equal(amutex_rwlock_rdlock(&rw), 0);
	start(&w, &rw, WRLOCK, 0);
	wait_bits(&rw, AMUTEX__RW_WRITER, AMUTEX__RW_WRITER);
	start(&r, &rw, RDLOCK, 0);
	wait_queued(&rw, 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int ok = READERS(word(&rw)) == 1 && !(word(&rw) & AMUTEX__RW_WRITER) &&
			 QUEUED(word(&rw)) == 0 &&
			 amutex_rwlock_tryrdlock(&rw) == 0 && amutex_rwlock_rdunlock(&rw) == 0 &&
			 amutex_rwlock_trywrlock(&rw) == EBUSY &&
			 amutex_rwlock_rdunlock(&rw) == 0 && amutex_rwlock_trywrlock(&rw) == 0 &&
			 amutex_rwlock_wrunlock(&rw) == 0 && amutex_rwlock_wrlock(&rw) == 0 &&
			 amutex_rwlock_wrunlock(&rw) == 0 && steps(AMUTEX_RW_RF1) >= 1;
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The parent goes on as before. */
	assert_int_equal(amutex_rwlock_rdunlock(&rw), 0);
	assert_int_equal(wait_done(&w), 0);
	finish(&w);
	assert_int_equal(wait_done(&r), 0);
	finish(&r);
	assert_int_equal(word(&rw) & ~AMUTEX__RW_PHASE, 0);
}

static void test_the_child_of_a_fork_drops_readers_let_in_but_not_awake(void **state)
{
	static amutex_rwlock_t rw = AMUTEX_RWLOCK_INITIALIZER;
	struct call r;
	pid_t pid;
	int status;

	(void)state;
	hold(AMUTEX_RW_POINT_ADMITTED);
	assert_int_equal(amutex_rwlock_wrlock(&rw), 0);
	start(&r, &rw, RDLOCK, 0);
	wait_queued(&rw, 1);
	assert_int_equal(amutex_rwlock_wrunlock(&rw), 0);
	held(AMUTEX_RW_POINT_ADMITTED);
	assert_int_equal(READERS(word(&rw)), 1);
	assert_int_equal(ADMITTED(word(&rw)), 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int ok = word(&rw) == (word(&rw) & AMUTEX__RW_PHASE) &&
			 amutex_rwlock_trywrlock(&rw) == 0 && amutex_rwlock_wrunlock(&rw) == 0;
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	let_go(AMUTEX_RW_POINT_ADMITTED);
	assert_int_equal(wait_done(&r), 0);
	hold_none();
	finish(&r);
	assert_int_equal(word(&rw) & ~AMUTEX__RW_PHASE, 0);
}

/*
 * Stress: readers (plain and timed) and writers (plain, timed, try) on one
 * lock guarding two words a writer changes one at a time; a reader that
 * sees them differ, or a writer that finds a reader inside, is a failure.
 * The pause points slow a release between RU3 and RU4 and an admitted
 * reader now and then, so that the rare paths run; the test goes on until
 * each has run (or fails naming the one that did not).
 */
#define STRESS_READERS 6
#define STRESS_WRITERS 3

static amutex_rwlock_t stress_rw = AMUTEX_RWLOCK_INITIALIZER;
static volatile uint64_t data_a, data_b;
static int readers_inside, writers_inside, stress_stop, stress_fail;

static void stress_point(enum amutex__rw_point p, const amutex_rwlock_t *rw)
{
	static __thread unsigned n;

	(void)rw;
	if ((p == AMUTEX_RW_POINT_RELEASING || p == AMUTEX_RW_POINT_ADMITTED) && ++n % 8 == 0)
		sched_yield();
}

static void *stress_reader(void *arg)
{
	unsigned i = 0, timed = (unsigned)(uintptr_t)arg & 1;

	while (!__atomic_load_n(&stress_stop, __ATOMIC_RELAXED)) {
		struct timespec d = deadline_ns(CLOCK_MONOTONIC, 20000 + (i % 7) * 30000);
		int r = timed && i % 2 ? amutex_rwlock_timedrdlock(&stress_rw, &d)
				       : amutex_rwlock_rdlock(&stress_rw);

		i++;
		/* No call leaves its note for the child of a fork behind. */
		if (amutex__self.rw_busy)
			__atomic_store_n(&stress_fail, 6, __ATOMIC_RELAXED);
		if (r == ETIMEDOUT)
			continue;
		if (r != 0 || __atomic_load_n(&writers_inside, __ATOMIC_RELAXED) ||
		    data_a != data_b)
			__atomic_store_n(&stress_fail, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&readers_inside, 1, __ATOMIC_RELAXED);
		busy(2000 + (i % 5) * 3000);
		if (data_a != data_b)
			__atomic_store_n(&stress_fail, 2, __ATOMIC_RELAXED);
		__atomic_sub_fetch(&readers_inside, 1, __ATOMIC_RELAXED);
		if (amutex_rwlock_rdunlock(&stress_rw) != 0 || amutex__self.rw_busy)
			__atomic_store_n(&stress_fail, 3, __ATOMIC_RELAXED);
		if (i % 3 == 0)
			sched_yield();
	}
	return NULL;
}

static void *stress_writer(void *arg)
{
	unsigned i = 0, kind = (unsigned)(uintptr_t)arg;

	while (!__atomic_load_n(&stress_stop, __ATOMIC_RELAXED)) {
		struct timespec d = deadline_ns(CLOCK_MONOTONIC, 5000 + (i % 11) * 20000);
		int r = kind == 0 ? amutex_rwlock_wrlock(&stress_rw)
			: kind == 1 ? amutex_rwlock_timedwrlock(&stress_rw, &d)
			: amutex_rwlock_trywrlock(&stress_rw);

		i++;
		if (amutex__self.rw_busy)
			__atomic_store_n(&stress_fail, 7, __ATOMIC_RELAXED);
		if (r == ETIMEDOUT || r == EBUSY) {
			if (kind == 2)
				sched_yield();
			continue;
		}
		if (r != 0 || __atomic_add_fetch(&writers_inside, 1, __ATOMIC_RELAXED) != 1 ||
		    __atomic_load_n(&readers_inside, __ATOMIC_RELAXED))
			__atomic_store_n(&stress_fail, 4, __ATOMIC_RELAXED);
		data_a = i;
		busy(1000);
		data_b = i;
		__atomic_sub_fetch(&writers_inside, 1, __ATOMIC_RELAXED);
		if (amutex_rwlock_wrunlock(&stress_rw) != 0 || amutex__self.rw_busy)
			__atomic_store_n(&stress_fail, 5, __ATOMIC_RELAXED);
		busy(5000);
	}
	return NULL;
}

static void stress(int with_faults)
{
	static const enum amutex__rw_step rare[] = {
		AMUTEX_RW_RL2, AMUTEX_RW_RL3, AMUTEX_RW_RL4, AMUTEX_RW_RL5, AMUTEX_RW_RU2,
		AMUTEX_RW_WL3, AMUTEX_RW_WL4, AMUTEX_RW_WL5, AMUTEX_RW_WT2, AMUTEX_RW_SLEPT,
	};
	uint64_t before[AMUTEX_RW_STEP_COUNT];
	pthread_t r[STRESS_READERS], w[STRESS_WRITERS];
	int missing = 1, round;

	memcpy(before, amutex__rw_steps, sizeof(before));
	stress_stop = stress_fail = 0;
	__atomic_store_n(&amutex__rw_test_point, stress_point, __ATOMIC_RELEASE);
	if (with_faults) {
		amutex__faults.eintr = 20;
		amutex__faults.eagain = 20;
		amutex__faults.spurious = 20;
		amutex__faults.early_timeout = 20;
		amutex__faults.wake_efault = 20;
	}
	for (int i = 0; i < STRESS_READERS; i++)
		assert_int_equal(pthread_create(&r[i], NULL, stress_reader, (void *)(uintptr_t)i), 0);
	for (int i = 0; i < STRESS_WRITERS; i++)
		assert_int_equal(pthread_create(&w[i], NULL, stress_writer, (void *)(uintptr_t)i), 0);
	for (round = 0; round < 600 && missing; round++) {
		nap_ms(100);
		missing = 0;
		for (size_t k = 0; k < sizeof(rare) / sizeof(rare[0]); k++)
			missing |= steps(rare[k]) == before[rare[k]];
		missing |= round < 5;	/* half a second at least */
	}
	__atomic_store_n(&stress_stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < STRESS_READERS; i++)
		pthread_join(r[i], NULL);
	for (int i = 0; i < STRESS_WRITERS; i++)
		pthread_join(w[i], NULL);
	memset(&amutex__faults, 0, sizeof(amutex__faults));
	__atomic_store_n(&amutex__rw_test_point, NULL, __ATOMIC_RELEASE);
	for (int s = 0; s < AMUTEX_RW_STEP_COUNT; s++)
		print_message("  %-8s %llu\n", amutex__rw_step_names[s],
			      (unsigned long long)(steps(s) - before[s]));
	assert_int_equal(stress_fail, 0);
	for (size_t k = 0; k < sizeof(rare) / sizeof(rare[0]); k++)
		if (steps(rare[k]) == before[rare[k]])
			fail_msg("%s never ran", amutex__rw_step_names[rare[k]]);
	assert_int_equal(word(&stress_rw) & ~AMUTEX__RW_PHASE, 0);
}

static void test_stress_mixed_readers_and_writers(void **state)
{
	(void)state;
	stress(0);
}

static void test_stress_with_futex_faults(void **state)
{
	(void)state;
	stress(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zero_bytes_are_an_unlocked_rwlock),
		cmocka_unit_test(test_readers_share_the_lock),
		cmocka_unit_test(test_a_writer_excludes_readers_and_writers),
		cmocka_unit_test(test_a_claiming_writer_stops_new_readers),
		cmocka_unit_test(test_readers_stopped_by_a_writer_go_in_before_the_next_writer),
		cmocka_unit_test(test_a_writer_that_times_out_lets_the_readers_it_stopped_in),
		cmocka_unit_test(test_a_writer_past_its_deadline_keeps_a_lock_the_readers_left),
		cmocka_unit_test(test_readers_a_writer_gave_up_on_go_in_before_the_next_writer),
		cmocka_unit_test(test_a_reader_let_in_at_its_deadline_holds_the_lock),
		cmocka_unit_test(test_misuse_is_refused_and_changes_nothing),
		cmocka_unit_test(test_a_claim_that_waits_cannot_be_unlocked),
		cmocka_unit_test(test_a_release_gives_the_writers_mutex_back_first),
		cmocka_unit_test(test_past_the_limits_a_reader_gets_eagain),
		cmocka_unit_test(test_the_child_of_a_fork_can_lock_what_nobody_held),
		cmocka_unit_test(test_the_child_of_a_fork_drops_readers_let_in_but_not_awake),
		cmocka_unit_test(test_stress_mixed_readers_and_writers),
		cmocka_unit_test(test_stress_with_futex_faults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
