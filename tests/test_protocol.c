/*
 * The protocol's rare schedules, forced. A test stops one thread at a
 * named point of lib/mutex/protocol.c (the test seams' pause points),
 * lets the others run into the state that only that schedule reaches, and
 * then lets it go on. Each test names the transition it is about and
 * asserts, through the step counters, that the path it forces actually ran.
 *
 * Memory that "the last user" frees is an mmap'ed page that is unmapped:
 * a touch after that is a SIGSEGV in every build, not only under ASan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <amutex.h>
#include <amutex/stats.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mutex/mutex.h"
#include "support.h"

#define STATE(m) __atomic_load_n(&(m)->state, __ATOMIC_RELAXED)
#define WAITERS(m) (STATE(m) >> AMUTEX__WAITER_SHIFT)

/* One thread stops once at one point of one mutex. */
static struct {
	enum amutex__point point;
	const amutex_t *m;
	pthread_t who;
	int armed;
	sem_t reached, resume;
} P;

static void pause_hook(enum amutex__point p, const amutex_t *m)
{
	/* armed last in arm() and first here: the fields below are then set. */
	if (__atomic_load_n(&P.armed, __ATOMIC_ACQUIRE) &&
	    p == __atomic_load_n(&P.point, __ATOMIC_RELAXED) &&
	    m == __atomic_load_n(&P.m, __ATOMIC_RELAXED) &&
	    pthread_equal(pthread_self(), __atomic_load_n(&P.who, __ATOMIC_RELAXED)) &&
	    __atomic_exchange_n(&P.armed, 0, __ATOMIC_ACQ_REL)) {
		sem_post(&P.reached);
		while (sem_wait(&P.resume) != 0)
			;
	}
}

static void arm(enum amutex__point point, const amutex_t *m, pthread_t who)
{
	__atomic_store_n(&P.point, point, __ATOMIC_RELAXED);
	__atomic_store_n(&P.m, m, __ATOMIC_RELAXED);
	__atomic_store_n(&P.who, who, __ATOMIC_RELAXED);
	__atomic_store_n(&P.armed, 1, __ATOMIC_RELEASE);
}

static void wait_reached(void)
{
	while (sem_wait(&P.reached) != 0)
		;
}

static uint64_t steps(enum amutex__step s)
{
	return __atomic_load_n(&amutex__steps[s], __ATOMIC_RELAXED);
}

/* Waits (with naps) for a condition another thread makes true; a hang is the failure. */
#define await(cond) do { while (!(cond)) nap_ms(1); } while (0)

static int setup(void **state)
{
	(void)state;
	sem_init(&P.reached, 0, 0);
	sem_init(&P.resume, 0, 0);
	__atomic_store_n(&amutex__test_point, pause_hook, __ATOMIC_RELEASE);
	amutex__one_cpu_seam = -1;	/* the relock's yields, on one CPU too (one test: below) */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	__atomic_store_n(&amutex__test_point, NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&P.armed, 0, __ATOMIC_RELEASE);
	amutex__one_cpu_seam = 0;
	return 0;
}

static amutex_t *page_mutex(int shared)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

static void init_spin(amutex_t *m, int spin, int stats, int hold_times)
{
	amutex_attr_t a;

	amutex_attr_init(&a);
	amutex_attr_setspin(&a, spin);
	amutex_attr_setstats(&a, stats);
	amutex_attr_setholdtimes(&a, hold_times);
	assert_int_equal(amutex_init(m, &a), 0);
}

static void init_with(amutex_t *m, int stats, int hold_times)
{
	init_spin(m, AMUTEX_SPIN_OFF, stats, hold_times);	/* sleepers, not spinners */
}

/* A thread that locks, says so, waits for a go, then unlocks. */
struct holder {
	amutex_t *m;
	sem_t locked, go;
	int result;
};

static void *hold_then_unlock(void *arg)
{
	struct holder *h = arg;

	amutex_lock(h->m);
	sem_post(&h->locked);
	while (sem_wait(&h->go) != 0)
		;
	h->result = amutex_unlock(h->m);
	return NULL;
}

static void start_holder(struct holder *h, amutex_t *m, pthread_t *t)
{
	h->m = m;
	h->result = -1;
	sem_init(&h->locked, 0, 0);
	sem_init(&h->go, 0, 0);
	assert_int_equal(pthread_create(t, NULL, hold_then_unlock, h), 0);
	while (sem_wait(&h->locked) != 0)
		;
}

struct locker {
	amutex_t *m;
	long timed_ns;		/* 0: amutex_lock */
	int result;
};

static void *lock_unlock(void *arg)
{
	struct locker *l = arg;

	if (l->timed_ns) {
		struct timespec ts = deadline_ns(CLOCK_MONOTONIC, l->timed_ns);

		l->result = amutex_timedlock(l->m, &ts);
	} else {
		l->result = amutex_lock(l->m);
	}
	if (l->result == 0)
		amutex_unlock(l->m);
	return NULL;
}

/*
 * U1 with hold times: the unlocker records the hold before its releasing
 * CAS. Stopped right after that CAS, the next user locks, unlocks,
 * destroys the mutex (freeing its statistics) and unmaps it; the first
 * unlocker then returns without touching either.
 */
static void test_unlock_touches_nothing_after_release_u1(void **state)
{
	amutex_t *m = page_mutex(0);
	struct holder h;
	pthread_t a;
	uint64_t u1 = steps(AMUTEX_STEP_U1);

	(void)state;
	init_with(m, 1, 1);
	start_holder(&h, m, &a);
	arm(AMUTEX_POINT_RELEASED, m, a);
	sem_post(&h.go);
	wait_reached();
	assert_int_equal(amutex_lock(m), 0);
	assert_int_equal(amutex_unlock(m), 0);
	assert_int_equal(amutex_destroy(m), 0);
	assert_int_equal(munmap(m, 4096), 0);
	sem_post(&P.resume);
	pthread_join(a, NULL);
	assert_int_equal(h.result, 0);
	assert_true(steps(AMUTEX_STEP_U1) >= u1 + 2);
}

/*
 * U4: starvation mode with nobody left waiting (the last waiter timed out
 * while a handoff was in flight). The unlocker leaves the mode and records
 * it while it still holds the lock; after the release it touches nothing.
 */
static void test_unlock_leaves_starvation_before_release_u4(void **state)
{
	amutex_t *m = page_mutex(0);
	struct holder h;
	struct amutex_counters c;
	pthread_t a;
	uint64_t u4 = steps(AMUTEX_STEP_U4);

	(void)state;
	init_with(m, 1, 0);
	start_holder(&h, m, &a);
	__atomic_or_fetch(&m->state, AMUTEX__STARVING, __ATOMIC_RELAXED);
	arm(AMUTEX_POINT_RELEASED, m, a);
	sem_post(&h.go);
	wait_reached();
	assert_int_equal(steps(AMUTEX_STEP_U4), u4 + 1);
	assert_int_equal(amutex_stats_read(m, &c), 0);
	assert_int_equal(c.starvation_exits, 1);
	assert_int_equal(m->state, 0);
	assert_int_equal(amutex_lock(m), 0);
	assert_int_equal(amutex_unlock(m), 0);
	assert_int_equal(amutex_destroy(m), 0);
	assert_int_equal(munmap(m, 4096), 0);
	sem_post(&P.resume);
	pthread_join(a, NULL);
	assert_int_equal(h.result, 0);
}

/*
 * U4 as it happens: the receiver of a handoff reads the word, sees another
 * waiter and decides to keep starvation mode; before it sets LOCKED, that
 * waiter times out and leaves (T3, which cannot end the mode while the lock
 * is in flight). The receiver now holds a starving mutex nobody waits for,
 * and its unlock ends the mode (U4).
 */
static void test_last_waiter_leaving_during_handoff_makes_unlock_end_the_mode(void **state)
{
	static amutex_t m;
	struct holder h;
	struct locker b = { &m, 0, -1 }, c = { &m, 0, -1 };
	pthread_t a, tb, tc;
	struct amutex_counters cnt;
	uint64_t u4 = steps(AMUTEX_STEP_U4), t3 = steps(AMUTEX_STEP_T3);
	amutex_attr_t attr;

	(void)state;
	amutex_attr_init(&attr);
	amutex_attr_setspin(&attr, AMUTEX_SPIN_OFF);
	amutex_attr_setstarvation(&attr, 1000);
	amutex_attr_setstats(&attr, 1);
	assert_int_equal(amutex_init(&m, &attr), 0);
	start_holder(&h, &m, &a);
	pthread_create(&tb, NULL, lock_unlock, &b);
	await(WAITERS(&m) == 1);
	c.timed_ns = 200000000;
	pthread_create(&tc, NULL, lock_unlock, &c);
	await(WAITERS(&m) == 2);
	/* As if b had starved and queued again: the mode is on. */
	__atomic_or_fetch(&m.state, AMUTEX__STARVING, __ATOMIC_RELAXED);
	arm(AMUTEX_POINT_HANDOFF, &m, tb);
	sem_post(&h.go);
	wait_reached();		/* b has the token and decided */
	pthread_join(a, NULL);
	pthread_join(tc, NULL);	/* c timed out and left */
	assert_int_equal(c.result, ETIMEDOUT);
	assert_true(steps(AMUTEX_STEP_T3) > t3);
	sem_post(&P.resume);
	pthread_join(tb, NULL);
	assert_int_equal(b.result, 0);
	assert_int_equal(steps(AMUTEX_STEP_U4), u4 + 1);
	assert_int_equal(m.state, 0);
	assert_int_equal(amutex_stats_read(&m, &cnt), 0);
	assert_int_equal(cnt.starvation_exits, 1);
	assert_int_equal(amutex_destroy(&m), 0);
}

/*
 * U2: the unlocker released the lock and committed a token to a sleeper,
 * but has not posted it. The sleeper is still blocked, so the mutex cannot
 * be destroyed yet (EBUSY), and the post that follows reaches it.
 */
static void test_unlock_post_comes_before_any_legal_destroy_u2(void **state)
{
	amutex_t *m = page_mutex(0);
	struct holder h;
	struct locker b = { m, 0, -1 };
	pthread_t a, tb;
	uint64_t u2 = steps(AMUTEX_STEP_U2);

	(void)state;
	init_with(m, 0, 0);
	start_holder(&h, m, &a);
	pthread_create(&tb, NULL, lock_unlock, &b);
	await(WAITERS(m) == 1);
	arm(AMUTEX_POINT_RELEASED, m, a);
	sem_post(&h.go);
	wait_reached();
	assert_int_equal(steps(AMUTEX_STEP_U2), u2 + 1);
	assert_int_equal(m->state, AMUTEX__WOKEN);
	assert_int_equal(amutex_destroy(m), EBUSY);
	sem_post(&P.resume);
	pthread_join(a, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(b.result, 0);
	assert_int_equal(amutex_destroy(m), 0);
	assert_int_equal(munmap(m, 4096), 0);
}

/*
 * A process-shared mutex whose last user unmaps it between the unlocker's
 * post and its futex wake: the wake fails with EFAULT, which is ignored.
 */
static void test_wake_on_unmapped_shared_mutex_is_ignored(void **state)
{
	amutex_t *m = page_mutex(1);
	struct holder h;
	/* Timed: the post is not followed by a wake yet, so it finds it by T1. */
	struct locker b = { m, 20000000, -1 };
	pthread_t a, tb;

	(void)state;
	init_with(m, 0, 0);
	m->flags = AMUTEX__FLAG_SHARED;
	start_holder(&h, m, &a);
	pthread_create(&tb, NULL, lock_unlock, &b);
	await(WAITERS(m) == 1);
	arm(AMUTEX_POINT_POSTED, m, a);
	sem_post(&h.go);
	wait_reached();
	pthread_join(tb, NULL);
	assert_int_equal(b.result, 0);
	assert_int_equal(amutex_destroy(m), 0);
	assert_int_equal(munmap(m, 4096), 0);
	sem_post(&P.resume);
	pthread_join(a, NULL);
	assert_int_equal(h.result, 0);
}

/*
 * T2: a timed sleeper's deadline passes while the token an unlocker
 * committed to it is not posted yet. It finds no token and no waiter
 * counted, so it waits for its token instead of leaving, and gets the lock.
 */
static void test_timed_out_sleeper_waits_for_its_committed_token_t2(void **state)
{
	static amutex_t m;
	struct holder h;
	struct locker b = { &m, 30000000, -1 };
	pthread_t a, tb;
	uint64_t t2 = steps(AMUTEX_STEP_T2);

	(void)state;
	init_with(&m, 0, 0);
	start_holder(&h, &m, &a);
	pthread_create(&tb, NULL, lock_unlock, &b);
	await(WAITERS(&m) == 1);
	arm(AMUTEX_POINT_RELEASED, &m, a);
	sem_post(&h.go);
	wait_reached();
	await(steps(AMUTEX_STEP_T2) > t2);
	sem_post(&P.resume);
	pthread_join(a, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(b.result, 0);
	assert_int_equal(m.state, 0);
	assert_int_equal(AMUTEX__SEMA_TOKENS(m.sema), 0);
}

/*
 * The orphan check: a newcomer queues while a token posted for another
 * sleeper is still in the word. Its first sleep is bounded; when it looks
 * again the token is still there (the sleeper it was meant for is stopped
 * before taking it), and by the count it may take it.
 */
static void test_newcomer_bounds_its_first_sleep_when_a_token_is_pending(void **state)
{
	static amutex_t m;
	struct holder h;
	struct locker o = { &m, 0, -1 }, n = { &m, 0, -1 };
	pthread_t a, to, tn;
	uint64_t orphan = steps(AMUTEX_STEP_ORPHAN);

	(void)state;
	init_with(&m, 0, 0);
	start_holder(&h, &m, &a);
	pthread_create(&to, NULL, lock_unlock, &o);
	await(WAITERS(&m) == 1);
	arm(AMUTEX_POINT_WOKE, &m, to);
	sem_post(&h.go);
	wait_reached();			/* o woke, the token is in the word */
	pthread_join(a, NULL);
	assert_int_equal(AMUTEX__SEMA_TOKENS(m.sema), 1);
	assert_int_equal(amutex_lock(&m), 0);	/* barge */
	pthread_create(&tn, NULL, lock_unlock, &n);
	await(steps(AMUTEX_STEP_ORPHAN) > orphan);
	assert_int_equal(amutex_unlock(&m), 0);
	sem_post(&P.resume);
	pthread_join(tn, NULL);
	pthread_join(to, NULL);
	assert_int_equal(o.result, 0);
	assert_int_equal(n.result, 0);
	assert_int_equal(m.state, 0);
	assert_int_equal(AMUTEX__SEMA_TOKENS(m.sema), 0);
}

/* EPERM: an unlock of a mutex that is not locked changes nothing at all. */
static void test_unlock_of_unlocked_mutex_changes_nothing(void **state)
{
	const uint32_t words[] = {
		0, AMUTEX__TIMED, AMUTEX__WOKEN | AMUTEX__WAITER,
		AMUTEX__STARVING | 2 * AMUTEX__WAITER,
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		amutex_t m = AMUTEX_INITIALIZER;

		m.state = words[i];
		m.sema = 0x1234500;
		assert_int_equal(amutex_unlock(&m), EPERM);
		assert_int_equal(m.state, words[i]);
		assert_int_equal(m.sema, 0x1234500);
	}
}

/* In a child of fork: the mutex works, and its pairs take the fast path. */
static int child_uses(amutex_t *m, int held)
{
	if (held && (m->state != AMUTEX__LOCKED || amutex_unlock(m) != 0))
		return 1;
	if (m->state != 0 || AMUTEX__SEMA_TOKENS(m->sema) != 0)
		return 2;
	for (int i = 0; i < 200; i++) {
		if (amutex_trylock(m) != 0 || m->state != AMUTEX__LOCKED)
			return 3;
		if (amutex_unlock(m) != 0 || m->state != 0)
			return 4;
	}
	return 0;
}

static int fork_and_check(amutex_t *m, int held)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(child_uses(m, held));
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/*
 * F1: the atfork pattern. The parent holds a mutex two threads sleep on and
 * forks; in the child those sleepers do not exist, so the child's unlock
 * finds nobody to wake and the mutex is back on the fast path.
 */
static void test_child_of_fork_gets_fast_path_back_from_vanished_sleepers(void **state)
{
	static amutex_t m;
	struct locker b = { &m, 0, -1 }, c = { &m, 0, -1 };
	pthread_t tb, tc;
	uint64_t f1 = steps(AMUTEX_STEP_F1);

	(void)state;
	init_with(&m, 0, 0);
	amutex_lock(&m);
	pthread_create(&tb, NULL, lock_unlock, &b);
	pthread_create(&tc, NULL, lock_unlock, &c);
	await(WAITERS(&m) == 2);
	assert_int_equal(fork_and_check(&m, 1), 0);
	/* The parent's copy was not repaired (the counter is the parent's own). */
	assert_int_equal(steps(AMUTEX_STEP_F1), f1);
	assert_int_equal(WAITERS(&m), 2);
	amutex_unlock(&m);
	pthread_join(tb, NULL);
	pthread_join(tc, NULL);
	assert_int_equal(m.state, 0);
}

/*
 * A starvation handoff about to happen: a holds m, b sleeps on it, the mode
 * is on (as if b had starved and queued again). The caller arms a pause
 * point, then lets a unlock.
 */
struct handoff { amutex_t m; struct holder h; struct locker b; pthread_t a, tb; };

static void handoff_ready(struct handoff *x)
{
	init_with(&x->m, 0, 0);
	x->b = (struct locker){ &x->m, 0, -1 };
	start_holder(&x->h, &x->m, &x->a);
	pthread_create(&x->tb, NULL, lock_unlock, &x->b);
	await(WAITERS(&x->m) == 1);
	__atomic_or_fetch(&x->m.state, AMUTEX__STARVING, __ATOMIC_RELAXED);
}

/* After the fork: let the paused thread go; b gets the lock in the parent. */
static void handoff_finish(struct handoff *x)
{
	sem_post(&P.resume);
	pthread_join(x->a, NULL);
	pthread_join(x->tb, NULL);
	assert_int_equal(x->b.result, 0);
	assert_int_equal(x->m.state, 0);
}

/*
 * F1 during a handoff: copied after the unlocker's U3 (released, STARVING,
 * the token committed to a sleeper), the mutex would belong forever to a
 * thread the child does not have. The child finds it free.
 */
static void test_child_of_fork_mid_handoff_can_lock(void **state)
{
	static struct handoff x;

	(void)state;
	handoff_ready(&x);
	arm(AMUTEX_POINT_RELEASED, &x.m, x.a);
	sem_post(&x.h.go);
	wait_reached();
	assert_int_equal(x.m.state, AMUTEX__STARVING);
	assert_int_equal(fork_and_check(&x.m, 0), 0);
	handoff_finish(&x);
}

/* F1 after the handoff's token was taken by a thread the child does not have. */
static void test_child_of_fork_after_token_taken_can_lock(void **state)
{
	static struct handoff x;

	(void)state;
	handoff_ready(&x);
	arm(AMUTEX_POINT_TOOK_TOKEN, &x.m, x.tb);
	sem_post(&x.h.go);
	wait_reached();
	assert_int_equal(x.m.state, AMUTEX__STARVING);
	assert_int_equal(fork_and_check(&x.m, 0), 0);
	handoff_finish(&x);
}

/*
 * Automatic spinning adapts to the thread: each spin that ends asleep adds
 * 1 to its debt, and at 8 it only probes (one round in 8 slow paths); a
 * spin that gets the lock takes 4 off. The thread's own record
 * (amutex__self) is read by the thread itself.
 */
static struct {
	amutex_t m;
	pthread_t t;
	int go, done, debt, probe;
} SA;

static void *spin_adapter(void *arg)
{
	(void)arg;
	for (;;) {
		while (__atomic_load_n(&SA.go, __ATOMIC_ACQUIRE) == SA.done)
			nap_ms(1);
		if (__atomic_load_n(&SA.go, __ATOMIC_ACQUIRE) < 0)
			return NULL;
		amutex_lock(&SA.m);
		amutex_unlock(&SA.m);
		SA.debt = amutex__self.spin_debt;
		SA.probe = amutex__self.spin_probe;
		__atomic_store_n(&SA.done, SA.done + 1, __ATOMIC_RELEASE);
	}
}

/* One lock by the adapter while the main thread holds the mutex; point: where it is let go. */
static void adapter_round(enum amutex__point point)
{
	int n = SA.done;

	amutex_lock(&SA.m);
	arm(point, &SA.m, SA.t);
	__atomic_store_n(&SA.go, n + 1, __ATOMIC_RELEASE);
	wait_reached();
	amutex_unlock(&SA.m);
	sem_post(&P.resume);
	await(__atomic_load_n(&SA.done, __ATOMIC_ACQUIRE) == n + 1);
}

static void test_automatic_spin_backs_off_when_spins_fail_and_returns_when_one_succeeds(void **state)
{
	(void)state;
	if (amutex__config()->cpus <= 1) {
		print_message("one CPU: automatic spinning is off, nothing to adapt\n");
		return;
	}
	assert_int_equal(amutex_init(&SA.m, NULL), 0);
	pthread_create(&SA.t, NULL, spin_adapter, NULL);
	/* Held through its spin, released once it queued: a failed spin each time. */
	for (int i = 1; i <= 8; i++) {
		adapter_round(AMUTEX_POINT_QUEUED);
		assert_int_equal(SA.debt, i);
		assert_int_equal(SA.probe, 0);
	}
	/* In debt: no spin (it queues at once) in 7 slow paths of 8. */
	for (int i = 1; i <= 7; i++) {
		adapter_round(AMUTEX_POINT_QUEUED);
		assert_int_equal(SA.debt, 8);
		assert_int_equal(SA.probe % 8, i % 8);
	}
	/* The 8th probes one round; released during it, the spin gets the lock. */
	adapter_round(AMUTEX_POINT_SPUN);
	assert_int_equal(SA.debt, 4);
	/* Go's rounds again: released after its first round, it gets it spinning. */
	adapter_round(AMUTEX_POINT_SPUN);
	assert_int_equal(SA.debt, 0);
	__atomic_store_n(&SA.go, -1, __ATOMIC_RELEASE);
	pthread_join(SA.t, NULL);
	amutex_destroy(&SA.m);
}

/*
 * The drop-in's relock after a condition-variable wake
 * (AMUTEX_WAIT_YIELD): it yields the CPU while the word shows anything but
 * TIMED, at most AMUTEX_YIELD_ROUNDS times and only before its first sleep,
 * stops after a yield that ran nobody (came back within 1.5 us), never
 * takes WOKEN, and does not yield at all under AMUTEX_SPIN_OFF. The yields'
 * durations come from the seam (amutex__yield_ns): 20 us, a yield that ran
 * another thread, or 1 us, one that ran nobody.
 */

/* A locker (timed_ns unused) that locks as the drop-in's relock does. */
static void *relock_unlock(void *arg)
{
	struct locker *l = arg;

	l->result = amutex__lock_contended(l->m, NULL, AMUTEX_WAIT_YIELD, NULL);
	if (l->result == 0)
		amutex_unlock(l->m);
	return NULL;
}

/*
 * Held by another thread, a sleeper queued: the relock (with yields of
 * ns given by the seam) never takes WOKEN (a spinner would: L3), queues
 * and sleeps; the unlocks wake both. Returns the yields it made first.
 */
static uint64_t relock_behind_a_sleeper(int spin, uint64_t ns)
{
	static amutex_t m;
	struct holder h;
	struct locker b = { &m, 0, -1 };
	struct locker r = { &m, 0, -1 };
	pthread_t a, tb, tr;
	uint64_t y, l3, l4;

	init_spin(&m, spin, 0, 0);
	amutex__yield_ns = ns;
	start_holder(&h, &m, &a);
	pthread_create(&tb, NULL, lock_unlock, &b);
	await(WAITERS(&m) == 1);
	y = steps(AMUTEX_STEP_YIELD);
	l3 = steps(AMUTEX_STEP_L3);
	l4 = steps(AMUTEX_STEP_L4);
	pthread_create(&tr, NULL, relock_unlock, &r);
	await(steps(AMUTEX_STEP_L4) > l4);
	y = steps(AMUTEX_STEP_YIELD) - y;
	assert_int_equal(steps(AMUTEX_STEP_L3), l3);
	assert_int_equal(STATE(&m), AMUTEX__LOCKED | 2 * AMUTEX__WAITER);
	sem_post(&h.go);
	pthread_join(a, NULL);
	pthread_join(tb, NULL);
	pthread_join(tr, NULL);
	assert_int_equal(b.result, 0);
	assert_int_equal(r.result, 0);
	assert_int_equal(m.state, 0);
	assert_int_equal(amutex_destroy(&m), 0);
	amutex__yield_ns = 0;
	return y;
}

/* It yields 3 times, once when a yield ran nobody, never under AMUTEX_SPIN_OFF. */
static void test_relock_yields_to_a_held_lock_then_sleeps(void **state)
{
	(void)state;
	assert_int_equal(relock_behind_a_sleeper(AMUTEX_SPIN_AUTO, 20000), AMUTEX_YIELD_ROUNDS);
	assert_int_equal(relock_behind_a_sleeper(AMUTEX_SPIN_AUTO, 1000), 1);
	assert_int_equal(relock_behind_a_sleeper(AMUTEX_SPIN_OFF, 20000), 0);
}

/*
 * An unlock stopped right after its releasing CAS, with one sleeper b
 * queued before it; or_bits are set in the word before the unlock
 * (STARVING: the release is a handoff to b).
 */
static void stop_unlock_before_waking(amutex_t *m, uint32_t or_bits, struct holder *h,
				      struct locker *b, pthread_t *a, pthread_t *tb)
{
	start_holder(h, m, a);
	pthread_create(tb, NULL, lock_unlock, b);
	await(WAITERS(m) == 1);
	__atomic_or_fetch(&m->state, or_bits, __ATOMIC_RELAXED);
	arm(AMUTEX_POINT_RELEASED, m, *a);
	sem_post(&h->go);
	wait_reached();
}

/*
 * A handoff in starvation mode in flight (the unlocker stopped after its
 * releasing CAS: STARVING, not LOCKED): the relock yields to it, then
 * queues behind it, as no newcomer may take the lock in that mode.
 */
static void test_relock_yields_to_a_starvation_handoff_then_queues(void **state)
{
	static amutex_t m;
	struct holder h;
	struct locker b = { &m, 0, -1 };
	struct locker r = { &m, 0, -1 };
	pthread_t a, tb, tr;
	uint64_t y, l4, l5 = steps(AMUTEX_STEP_L5);

	(void)state;
	init_spin(&m, AMUTEX_SPIN_AUTO, 0, 0);
	stop_unlock_before_waking(&m, AMUTEX__STARVING, &h, &b, &a, &tb);
	assert_int_equal(STATE(&m) & (AMUTEX__LOCKED | AMUTEX__STARVING), AMUTEX__STARVING);
	amutex__yield_ns = 20000;
	y = steps(AMUTEX_STEP_YIELD);
	l4 = steps(AMUTEX_STEP_L4);
	pthread_create(&tr, NULL, relock_unlock, &r);
	await(steps(AMUTEX_STEP_L4) > l4);
	assert_int_equal(steps(AMUTEX_STEP_YIELD) - y, AMUTEX_YIELD_ROUNDS);
	sem_post(&P.resume);
	pthread_join(a, NULL);
	pthread_join(tb, NULL);
	pthread_join(tr, NULL);
	assert_true(steps(AMUTEX_STEP_L5) > l5);	/* b got it by the handoff */
	assert_int_equal(b.result, 0);
	assert_int_equal(r.result, 0);
	assert_int_equal(m.state, 0);
	amutex__yield_ns = 0;
}

/* A free word with nothing but TIMED (hold times kept): taken at once, no yield. */
static void test_relock_takes_a_free_timed_lock_without_yielding(void **state)
{
	static amutex_t m;
	uint64_t y = steps(AMUTEX_STEP_YIELD), l2 = steps(AMUTEX_STEP_L2);

	(void)state;
	init_spin(&m, AMUTEX_SPIN_AUTO, 0, 1);
	amutex__yield_ns = 20000;
	assert_int_equal(m.state, AMUTEX__TIMED);
	assert_int_equal(amutex__lock_contended(&m, NULL, AMUTEX_WAIT_YIELD, NULL), 0);
	assert_int_equal(steps(AMUTEX_STEP_YIELD), y);
	assert_int_equal(steps(AMUTEX_STEP_L2), l2 + 1);
	assert_int_equal(amutex_unlock(&m), 0);
	assert_int_equal(amutex_destroy(&m), 0);
	amutex__yield_ns = 0;
}

/*
 * While a sleeper is woken for a free lock (the unlocker stopped after its
 * releasing CAS: the word is WOKEN alone), the relock yields to it three
 * times, then takes the lock as any newcomer may in normal mode.
 */
static void test_relock_yields_to_a_woken_sleeper_then_barges(void **state)
{
	static amutex_t m;
	struct holder h;
	struct locker b = { &m, 0, -1 };
	pthread_t a, tb;
	uint64_t y;

	(void)state;
	init_spin(&m, AMUTEX_SPIN_AUTO, 0, 0);
	stop_unlock_before_waking(&m, 0, &h, &b, &a, &tb);
	assert_int_equal(STATE(&m), AMUTEX__WOKEN);
	amutex__yield_ns = 20000;
	y = steps(AMUTEX_STEP_YIELD);
	assert_int_equal(amutex__lock_contended(&m, NULL, AMUTEX_WAIT_YIELD, NULL), 0);
	assert_int_equal(steps(AMUTEX_STEP_YIELD) - y, AMUTEX_YIELD_ROUNDS);
	assert_int_equal(amutex_unlock(&m), 0);
	sem_post(&P.resume);
	pthread_join(a, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(b.result, 0);
	assert_int_equal(m.state, 0);
	amutex__yield_ns = 0;
}

/*
 * A thread whose affinity allows one CPU only: the relock sleeps at once,
 * no yield (its yields cost more there than the sleeps they save:
 * docs/benchmarks.md, run 28). This thread is cut to one CPU after the
 * process started (teardown restores it); the threads it makes share it.
 */
static cpu_set_t saved_cpus;

static int setup_one_cpu(void **state)
{
	setup(state);
	amutex__one_cpu_seam = 0;	/* the real affinity */
	return sched_getaffinity(0, sizeof(saved_cpus), &saved_cpus);
}

static int teardown_one_cpu(void **state)
{
	amutex__yield_ns = 0;
	teardown(state);
	return sched_setaffinity(0, sizeof(saved_cpus), &saved_cpus);
}

static void test_relock_does_not_yield_on_one_cpu(void **state)
{
	(void)state;
	assert_int_equal(pin_self(sched_getcpu()), 0);
	assert_int_equal(amutex__affinity_cpus(), 1);
	/* Its threads share this one CPU; every yield would run another. */
	assert_int_equal(relock_behind_a_sleeper(AMUTEX_SPIN_AUTO, 20000), 0);
}

/*
 * A thread reads its affinity at its first relock and every 64th after: one
 * pinned to a CPU between two relocks stops yielding within 64 relocks.
 * (White box: the thread's cached answer, amutex__self.one_cpu.)
 */
static void *relock_then_pin(void *arg)
{
	static amutex_t m;
	int *seen = arg;

	init_spin(&m, AMUTEX_SPIN_AUTO, 0, 1);	/* TIMED: a relock takes it at once */
	for (int i = 0; i < 1 + 63 + 1; i++) {
		if (i == 1 && pin_self(sched_getcpu()) != 0)
			return NULL;
		if (amutex__lock_contended(&m, NULL, AMUTEX_WAIT_YIELD, NULL) != 0)
			return NULL;
		amutex_unlock(&m);
		seen[i] = amutex__self.one_cpu;
	}
	amutex_destroy(&m);
	return NULL;
}

static void test_relock_reads_the_affinity_again_after_a_pin(void **state)
{
	int seen[65];
	pthread_t t;

	(void)state;
	if (amutex__affinity_cpus() < 2) {
		print_message("one CPU: nothing to narrow\n");
		skip();
	}
	memset(seen, 0xff, sizeof(seen));
	pthread_create(&t, NULL, relock_then_pin, seen);
	pthread_join(t, NULL);
	assert_int_equal(seen[0], 0);		/* read at the first relock: several CPUs */
	assert_int_equal(seen[63], 0);		/* pinned since the second, not read again yet */
	assert_int_equal(seen[64], 1);		/* the 65th relock reads it again */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unlock_touches_nothing_after_release_u1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlock_leaves_starvation_before_release_u4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_waiter_leaving_during_handoff_makes_unlock_end_the_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlock_post_comes_before_any_legal_destroy_u2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wake_on_unmapped_shared_mutex_is_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timed_out_sleeper_waits_for_its_committed_token_t2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newcomer_bounds_its_first_sleep_when_a_token_is_pending, setup, teardown),
		cmocka_unit_test(test_unlock_of_unlocked_mutex_changes_nothing),
		cmocka_unit_test_setup_teardown(test_child_of_fork_gets_fast_path_back_from_vanished_sleepers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_of_fork_mid_handoff_can_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_of_fork_after_token_taken_can_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_automatic_spin_backs_off_when_spins_fail_and_returns_when_one_succeeds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relock_yields_to_a_held_lock_then_sleeps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relock_yields_to_a_starvation_handoff_then_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relock_takes_a_free_timed_lock_without_yielding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relock_yields_to_a_woken_sleeper_then_barges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relock_does_not_yield_on_one_cpu, setup_one_cpu,
						teardown_one_cpu),
		cmocka_unit_test_setup_teardown(test_relock_reads_the_affinity_again_after_a_pin,
						setup_one_cpu, teardown_one_cpu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
