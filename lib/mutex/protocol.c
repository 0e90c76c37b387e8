/*
 * The lock-word protocol: every slow-path step of amutex, in one file, so
 * that docs/design.md's transition table and the Promela model
 * (docs/model/amutex.pml) map onto it line by line. Each step is labelled
 * with its transition (STEP(L4)...). The inline fast paths (L1, U1) and the
 * encoding of the words are in include/amutex/static/amutex.h.
 *
 * Tokens. `sema` counts wake tokens. A token is posted only by a thread that,
 * in the same CAS that committed it to posting, took one waiter off the lock
 * word's count; so sleepers = waiters + tokens (posted or committed) at every
 * instant, and at most one token is outstanding at a time: normal-mode
 * wakes need WOKEN clear and set it, handoffs need the lock released, and
 * neither can happen again until the token's taker has acted.
 *
 * Lifetime. POSIX lets the last user of a mutex destroy and free it as soon
 * as it has locked and unlocked it, while the previous owner may still be
 * inside its unlock. So an unlock releases the lock and decides whom to wake
 * in one CAS (U1-U3), and after that CAS touches nothing of the mutex but
 * the post of a token (a sleeper is still blocked on the mutex until it
 * takes the token, so nobody may destroy it yet) and a futex wake on the
 * address (harmless on freed memory: its errors are ignored).
 */
#include "mutex.h"
#include "../stats/stats.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>

#define LOCKED   AMUTEX__LOCKED
#define WOKEN    AMUTEX__WOKEN
#define STARVING AMUTEX__STARVING
#define TIMED    AMUTEX__TIMED
#define WAITER   AMUTEX__WAITER
#define WAITERS(s) ((s) >> AMUTEX__WAITER_SHIFT)

#define TOKEN  1u
#define TOKENS(w) AMUTEX__SEMA_TOKENS(w)
#define POSTS(w)  ((w) >> 8)
#define POST   AMUTEX__SEMA_POST

#define load(p)  __atomic_load_n((p), __ATOMIC_RELAXED)
#define cas(p, oldp, new, order) \
	__atomic_compare_exchange_n((p), (oldp), (new), 0, (order), __ATOMIC_RELAXED)

/* STEP(t): transition t of docs/design.md happens here; test builds count it. */
#ifdef AMUTEX_TEST_SEAMS
uint64_t amutex__steps[AMUTEX_STEP_COUNT];
const char *const amutex__step_names[AMUTEX_STEP_COUNT] = {
	"L2", "L3", "L4", "L5", "L6", "U1", "U2", "U3", "U4",
	"T1", "T2", "T3", "T4", "orphan", "refused", "S1", "EPERM", "F1", "yield",
};
uint32_t amutex__clock_scale = 1;
uint64_t amutex__yield_ns;
int amutex__one_cpu_seam;
void (*amutex__test_point)(enum amutex__point p, const amutex_t *m);
#define STEP(t) __atomic_add_fetch(&amutex__steps[AMUTEX_STEP_##t], 1, __ATOMIC_RELAXED)
#define WAIT_CLOCK() (amutex__clock_ns() * amutex__clock_scale)
#define YIELD_TOOK(ns) (amutex__yield_ns ? amutex__yield_ns : (ns))
#define POINT(p, m) do {							\
	void (*f_)(enum amutex__point, const amutex_t *) =			\
		__atomic_load_n(&amutex__test_point, __ATOMIC_ACQUIRE);		\
	if (f_)									\
		f_(AMUTEX_POINT_##p, (m));					\
} while (0)
#else
#define STEP(t) ((void)0)
#define WAIT_CLOCK() amutex__clock_ns()
#define YIELD_TOOK(ns) (ns)
#define POINT(p, m) ((void)0)
#endif

/* b - a for two readings of the wait clock, which two CPUs may read a few ns apart. */
static inline uint64_t elapsed(uint64_t a, uint64_t b)
{
	return b > a ? b - a : 0;
}

/* CHECK(c): an invariant of docs/design.md; a debug build (AMUTEX_DEBUG) dies if it fails. */
#ifdef AMUTEX_DEBUG
#define CHECK(c) do { if (!(c)) amutex__die("invariant failed: " #c); } while (0)
#else
#define CHECK(c) ((void)0)
#endif

/*
 * Threads spinning on any amutex: never more than effective CPUs - 1. On a
 * line of its own: every spinner writes it.
 */
static uint32_t spinners __attribute__((aligned(64)));

static int spin_enter(unsigned cpus)
{
	uint32_t n = load(&spinners);

	while (n + 1 < cpus)
		if (cas(&spinners, &n, n + 1, __ATOMIC_RELAXED))
			return 1;
	return 0;
}

static void spin_leave(int *spinning)
{
	if (*spinning) {
		__atomic_sub_fetch(&spinners, 1, __ATOMIC_RELAXED);
		*spinning = 0;
	}
}

int amutex__fair(const amutex_t *m, const struct amutex__config *c)
{
	if (m->flags & AMUTEX__FLAG_FAIR_SET)
		return (m->flags & AMUTEX__FLAG_FAIR) != 0;
	return c->fair;
}

/* Its own, else a fair mutex's unless the environment set one, else the environment's. */
uint32_t amutex__threshold(const amutex_t *m, const struct amutex__config *c)
{
	if (m->starve_ns)
		return m->starve_ns;
	return amutex__fair(m, c) && !c->starve_set ? AMUTEX_FAIR_STARVE_NS : c->starve_ns;
}

/* The mutex's spin setting, its own or else the process's: AUTO, OFF or rounds. */
static int spin_setting(const amutex_t *m, const struct amutex__config *c)
{
	int spin = amutex__spin_decode(m->spin);

	return spin == AMUTEX_SPIN_DEFAULT ? c->spin : spin;
}

/* The rounds a spin setting (spin_setting's) allows on this machine. */
static int rounds_of(int spin, const struct amutex__config *c)
{
	if (c->cpus <= 1)
		return 0;
	return spin == AMUTEX_SPIN_AUTO ? AMUTEX_DEFAULT_SPIN_ROUNDS : spin;
}

int amutex__spin_rounds(const amutex_t *m)
{
	const struct amutex__config *c = amutex__config();

	return rounds_of(spin_setting(m, c), c);
}

/*
 * Automatic spinning adapts to the thread. A spin fails when the owner
 * cannot release in time: it is preempted (more runnable threads than
 * CPUs), sleeps or yields in its critical section, or runs under a
 * real-time policy below a spinner that shares its CPU (stress-ng
 * --mutex: 0.62-0.77x glibc with fixed rounds). Each spin that ends
 * asleep adds 1 to the thread's debt, each spin that gets the lock takes
 * SPIN_CREDIT off; at SPIN_DEBT_MAX the thread spins one round in every
 * SPIN_PROBE slow paths only. The debt climbs only while fewer than 1 spin
 * in SPIN_CREDIT + 1 succeeds: a spin that saves a sleep and a wake-up is
 * worth that many that fail. (Stopping after three failures in a row
 * measured the same on stress-ng, but stops where a third of the spins
 * succeed.) Per thread, not per mutex: amutex_t has no room, and
 * the thread is what runs where. A number of rounds that a program or
 * AMUTEX_SPIN chose is kept as it is.
 */
#define SPIN_DEBT_MAX 8
#define SPIN_CREDIT 4
#define SPIN_PROBE 8

static int spin_budget(int rounds)
{
	struct amutex__thread *t = &amutex__self;

	if (t->spin_debt < SPIN_DEBT_MAX)
		return rounds;
	return ++t->spin_probe % SPIN_PROBE == 0;
}

static void spin_outcome(int got_it)
{
	struct amutex__thread *t = &amutex__self;

	if (got_it)
		t->spin_debt = t->spin_debt > SPIN_CREDIT ? t->spin_debt - SPIN_CREDIT : 0;
	else if (t->spin_debt < SPIN_DEBT_MAX)
		t->spin_debt++;
}

/*
 * A mutex's statistics. Acquire: the drop-in attaches them to a live mutex
 * (S1), paired with its release CAS.
 */
static struct amutex__stats *stats_of(const amutex_t *m)
{
	return __atomic_load_n(&m->stats, __ATOMIC_ACQUIRE);
}

static int futex_how(const amutex_t *m)
{
	return m->flags & AMUTEX__FLAG_SHARED ? AMUTEX_FUTEX_SHARED : 0;
}

static void add_ns(struct timespec *ts, uint64_t ns)
{
	ts->tv_sec += (time_t)(ns / AMUTEX_NS_PER_SEC);
	ts->tv_nsec += (long)(ns % AMUTEX_NS_PER_SEC);
	if (ts->tv_nsec >= (long)AMUTEX_NS_PER_SEC) {
		ts->tv_sec++;
		ts->tv_nsec -= (long)AMUTEX_NS_PER_SEC;
	}
}

static int before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* A deadline of glibc's kind: tv_nsec in range (a negative tv_sec is simply past). */
static int timespec_valid(const struct timespec *ts)
{
	return ts->tv_nsec >= 0 && (uint64_t)ts->tv_nsec < AMUTEX_NS_PER_SEC;
}

static int timespec_passed(const struct timespec *ts, clockid_t clock)
{
	struct timespec now;

	if (ts->tv_sec < 0)
		return 1;
	clock_gettime(clock, &now);
	return !before(&now, ts);
}

/*
 * sema_trytake: T1 and the end of a sleep: take a posted token, starting
 * from *w, the word as read; 0 when none is left, with *w the word without
 * one. Acquire: paired with sema_post.
 */
static int sema_trytake(amutex_t *m, uint32_t *w)
{
	while (TOKENS(*w))
		if (cas(&m->sema, w, *w - TOKEN, __ATOMIC_ACQUIRE))
			return 1;
	return 0;
}

/*
 * sema_post: publish one token and wake the oldest sleeper. Release: the
 * critical section of a handing-off unlocker happens before its receiver's.
 * Linux wakes futex waiters of equal priority in the order they slept.
 * how was read before the lock was released: after the add, the mutex may
 * be gone (the wake on its address is harmless then).
 */
static void sema_post(amutex_t *m, int how)
{
	uint32_t *word = &m->sema;

	__atomic_add_fetch(word, POST, __ATOMIC_SEQ_CST);
	POINT(POSTED, m);
	amutex__futex_wake(word, 1, how);
}

/*
 * A token in the word a thread read before queueing is an older sleeper's,
 * unless that sleeper times out and leaves: its leaving CAS then hands the
 * token, by the count, to the newcomer, who sleeps past it (found by the
 * model, docs/model/amutex.pml). So the first sleep on a word that held a
 * token is bounded by this much; then the thread looks again.
 */
#define ORPHAN_CHECK_NS 1000000

/*
 * sema_take: sleep until a token is ours, or ETIMEDOUT at abs. seen: the
 * word as read before queueing (any token in it is an older sleeper's), or
 * as read with no token in it; posts0: the post count of the word read
 * before queueing. A futex call may return for any reason (signals,
 * spurious wake-ups, a stale wake meant for an earlier post, a timeout the
 * clock does not confirm): the word decides. And it decides by invariant 4
 * after every return, not only the first: while no post has happened since
 * the thread queued, every token in the word is an older sleeper's, so the
 * thread sleeps again (found by the model: a thread whose early return let
 * it take tokens posted before it queued could take back its own handoff,
 * again and again, while the oldest sleeper waited). The wake-up that
 * brought it here may have been the one meant for the token's owner: it
 * passes one on before it sleeps again (a wake on the address: harmless,
 * and the mutex cannot be gone while this thread is blocked on it). The
 * orphan check is the exception: once its bound fired, a token left in the
 * word by a sleeper that timed out is the thread's by the count.
 */
static int sema_take(amutex_t *m, uint32_t seen, uint32_t posts0,
		     const struct timespec *abs, int how)
{
	clockid_t clock = how & AMUTEX_FUTEX_REALTIME ? CLOCK_REALTIME : CLOCK_MONOTONIC;
	const struct timespec *until = abs;
	struct timespec bound;
	int rescue = 0;

	if (TOKENS(seen)) {
		clock_gettime(clock, &bound);
		add_ns(&bound, ORPHAN_CHECK_NS);
		if (!abs || before(&bound, abs))
			until = &bound;
	}
	for (;;) {
		if (amutex__futex_wait(&m->sema, seen, until, how) == ETIMEDOUT) {
			if (until == abs && timespec_passed(abs, clock))
				return ETIMEDOUT;
			if (until == &bound) {
				STEP(ORPHAN);	/* look, then sleep as usual */
				until = abs;
				rescue = 1;
			}
		}
		POINT(WOKE, m);
		seen = __atomic_load_n(&m->sema, __ATOMIC_SEQ_CST);
		if (!rescue && TOKENS(seen) && POSTS(seen) == posts0) {
			/* Only older sleepers' tokens: pass the wake-up on, sleep again. */
			STEP(REFUSED);
			amutex__futex_wake(&m->sema, 1, how);
			continue;
		}
		if (sema_trytake(m, &seen))
			return 0;
	}
}

/*
 * wake_one: U2 for a thread that gave up WOKEN without the lock (T4). Wake
 * a sleeper unless nobody sleeps, the lock is held, someone else is awake
 * for it, or a handoff is due.
 */
static void wake_one(amutex_t *m, uint32_t old)
{
	int how = futex_how(m);

	for (;;) {
		if (WAITERS(old) == 0 || (old & (LOCKED | WOKEN | STARVING)))
			return;
		if (cas(&m->state, &old, (old - WAITER) | WOKEN, __ATOMIC_SEQ_CST)) {
			STEP(U2);
			sema_post(m, how);
			return;
		}
	}
}

/*
 * One thread's way through the slow path. The steps below each make one
 * transition of docs/design.md and say which.
 */
struct waiter {
	amutex_t *m;
	const struct timespec *abs;	/* deadline, or NULL */
	clockid_t clock;		/* abs's */
	int how;			/* futex flags: shared, realtime deadline */
	const void *site;		/* the caller, for statistics */
	struct amutex__stats *stats;	/* NULL: not observed */
	uint32_t threshold;		/* starvation threshold, encoded */
	unsigned cpus;
	int check;			/* pauses between looks while spinning */
	int rounds, iter;		/* spin (or yield) rounds allowed, spent since last woken */
	int adapt;			/* automatic rounds: tell spin_outcome */
	uint64_t spin_until;		/* no spinning after this (0: not spinning yet) */
	int spinning;			/* holds a spinner slot */
	int yield;			/* yields instead of spinning (AMUTEX_WAIT_YIELD) */
	int awoke;			/* owns WOKEN */
	int starving;			/* has waited past the threshold */
	enum amutex__path path;		/* how far it went: fast, spin, sleep */
	uint64_t first;			/* statistics: when it started */
	uint64_t queued;		/* when it first queued; 0: not yet */
	uint64_t got;			/* statistics: when the CAS that took the lock began */
	uint32_t posts0;		/* sema's post count before the queueing CAS */
};

enum turn { OWNED, QUEUED, AGAIN };

/*
 * A caller just woken by a condition variable (AMUTEX_WAIT_YIELD: the
 * drop-in's relock) that finds the lock held, or wanted by others
 * (must_yield), yields the CPU instead of spinning or sleeping at once.
 * Its signaller often still holds the lock, and the kernel often puts a
 * wake-up on the waker's CPU: there a spin spins against an owner that
 * cannot run, and a sleep costs a futex wait and a wake-up whose
 * preemption at the unlock stops an owner still at work (a producer in
 * the middle of its batch). A yield that comes back within
 * YIELD_SWITCH_NS ran nobody (one that runs another thread takes two
 * context switches: at least 2.4 us on the 2-core machine, against 0.5 us
 * for one that runs none: docs/results/2core-2026-11-27-run24-yield-
 * explore.txt): the owner runs on another CPU, so the thread stops
 * yielding and competes. At most YIELD_ROUNDS yields, before its first
 * sleep only, under the ordinary policies only (a SCHED_FIFO or SCHED_RR
 * yield runs peers of its priority alone, a SCHED_DEADLINE yield gives up
 * the rest of its period), and none under AMUTEX_SPIN=off or in a thread
 * whose affinity allows one CPU only (on_one_cpu). Measured against the
 * relock that sleeps at once: docs/benchmarks.md, run 24.
 *
 * One CPU: every yield runs another thread, and a yield costs the yielder
 * more than the switch. Linux's EEVDF scheduler pushes a yielder's
 * deadline a time slice on, likely why: for a while the threads it wakes
 * preempt it, and a producer that yielded once hands its consumer the CPU
 * item by item. On CPU 0 of the 2-core machine (run 28) the yields took
 * producer/consumer with one consumer to 0.41x glibc against 0.80x
 * without them (0.3x where a thread yielded in 1 relock of 256 at most,
 * about 430 yields a second); the barrier of 16, CPython and ping-pong
 * lost 8-17%. They also won there (4 and 16 consumers 3.5x and
 * 5.2x against 1.0x and 1.1x, the C++ pool 1.6x against 1.0x; of real
 * programs, CPython's queue 1.15x against 1.01x, run 29). Of the debt's
 * settings tried, one kept those wins without the losses, and its
 * neighbour took the single consumer to 0.07x: too fragile to choose on
 * one machine. The relock that sleeps is glibc's.
 */
#define YIELD_ROUNDS AMUTEX_YIELD_ROUNDS
#define YIELD_SWITCH_NS 1500

/*
 * A yield pays off where the owner keeps the CPU a while after it (a
 * producer finishing its batch, which the yielder then finds fuller, even
 * when it must sleep after all). Where the owner unlocks and blocks within
 * microseconds (CPython's GIL handing over, a ping-pong), a sleep on the
 * mutex would have woken the thread at that unlock as fast, and yielding
 * there measured slower (CPython 0.99x glibc against 1.03x); where yields
 * run nobody (a CPU to itself: two threads on two CPUs, many idle CPUs)
 * each is a system call for nothing. So, per thread as the spin debt: a
 * yield that kept the thread off the CPU YIELD_USEFUL_NS or more clears
 * its yield debt, any other adds 1; at YIELD_DEBT_MAX the thread yields in
 * one slow-path relock out of YIELD_PROBE only. (Counting a relock as paid
 * off only when it then took the lock without sleeping measured 3.8x glibc
 * on producer/consumer with 16 consumers in two runs out of four, against
 * 6.7-7.7x for this rule in every run.) The cost: on a CPU crowded with
 * unrelated busy threads every yield is long, and a relock may wait up to
 * YIELD_ROUNDS time slices where a sleeper would be woken at the unlock
 * (docs/design.md, the bound).
 */
#define YIELD_USEFUL_NS 8000
#define YIELD_DEBT_MAX 4
#define YIELD_PROBE 8

/*
 * on_one_cpu: the calling thread's affinity allows one CPU (taskset -c N,
 * a cpuset of one CPU, a one-CPU machine, a thread pinned by its program):
 * read per thread, at its first relock and every AFFINITY_REREAD after, so
 * a thread pinned after the process started, or whose cpuset shrinks, is
 * seen. Where its CPU is the only one of the process, a yield costs what
 * is said above; a thread pinned alone, whose signaller may run on its
 * CPU or elsewhere, does not yield either (not measured). Not the
 * effective CPUs of the settings: under a CPU quota the threads still run
 * at once on several CPUs. amutex__affinity_cpus reads it (a kernel with
 * more possible CPUs than a cpu_set_t holds refuses one: it then asks
 * with a bigger mask).
 * AFFINITY_REREAD: one system call in 64 relocks, each of which follows a
 * futex wake-up of several microseconds, and a thread pinned later stops
 * yielding within 64 relocks.
 */
#define AFFINITY_REREAD 64
_Static_assert(256 % AFFINITY_REREAD == 0, "affinity_age wraps at 256");

static int on_one_cpu(void)
{
	struct amutex__thread *t = &amutex__self;

#ifdef AMUTEX_TEST_SEAMS
	if (amutex__one_cpu_seam)
		return amutex__one_cpu_seam > 0;
#endif
	if (t->affinity_age++ % AFFINITY_REREAD == 0)
		t->one_cpu = amutex__affinity_cpus() == 1;
	return t->one_cpu;
}

static int yield_budget(void)
{
	struct amutex__thread *t = &amutex__self;

	if (t->yield_debt < YIELD_DEBT_MAX)
		return YIELD_ROUNDS;
	return ++t->yield_probe % YIELD_PROBE == 0 ? YIELD_ROUNDS : 0;
}

static void yield_outcome(int paid_off)
{
	struct amutex__thread *t = &amutex__self;

	if (paid_off)
		t->yield_debt = 0;
	else if (t->yield_debt < YIELD_DEBT_MAX)
		t->yield_debt++;
}

/*
 * Whom it yields to: whoever the word shows (anything but TIMED): the
 * owner, threads queued for the lock or one woken for it, a handoff in
 * starvation mode. On producer/consumer with 16 consumers on 2 CPUs,
 * yielding only while the lock is held measured 1.84x glibc (the relock
 * that sleeps at once 2.90x), also while sleepers are queued 1.61x (2.78x),
 * and to whatever the word shows 6.94x (3.09x); run 24.
 */
static int must_yield(uint32_t state)
{
	return (state & ~TIMED) != 0;
}

/* The policies under which a yield lets any other thread of the CPU run. */
static int ordinary_policy(void)
{
	int policy = sched_getscheduler(0) & ~SCHED_RESET_ON_FORK;

	return policy == SCHED_OTHER || policy == SCHED_BATCH || policy == SCHED_IDLE;
}

/*
 * yield_round: one such yield. It does not take WOKEN: off the CPU it may
 * stay for a whole time slice, and an unlock meanwhile must still wake a
 * sleeper.
 */
static int yield_round(struct waiter *w, uint32_t *old)
{
	uint64_t t0, off;

	if (w->iter >= w->rounds || w->path == AMUTEX_PATH_SLEEP || !must_yield(*old))
		return 0;
	if (w->iter == 0 && !ordinary_policy()) {
		w->rounds = 0;
		return 0;
	}
	STEP(YIELD);
	t0 = amutex__clock_ns();
	sched_yield();
	off = YIELD_TOOK(elapsed(t0, amutex__clock_ns()));
	yield_outcome(off >= YIELD_USEFUL_NS);
	w->iter = off >= YIELD_SWITCH_NS ? w->iter + 1 : w->rounds;
	w->path = AMUTEX_PATH_SPIN;
	POINT(SPUN, w->m);
	*old = load(&w->m->state);
	return 1;
}

static void waiter_init(struct waiter *w, amutex_t *m, const struct timespec *abs,
			int how, const void *site)
{
	const struct amutex__config *c = amutex__config();
	int spin = spin_setting(m, c);

	w->m = m;
	w->abs = abs;
	w->clock = how & AMUTEX_WAIT_REALTIME ? CLOCK_REALTIME : CLOCK_MONOTONIC;
	w->how = futex_how(m) | (how & AMUTEX_WAIT_REALTIME ? AMUTEX_FUTEX_REALTIME : 0);
	w->site = site;
	w->stats = stats_of(m);
	w->threshold = amutex__threshold(m, c);
	w->check = amutex__fair(m, c) ? AMUTEX_FAIR_SPIN_CHECK : c->spin_check;
	w->cpus = c->cpus;
	w->yield = (how & AMUTEX_WAIT_YIELD) != 0;
	w->rounds = w->yield ? (spin == AMUTEX_SPIN_OFF || on_one_cpu() ? 0 : yield_budget()) :
		    how & AMUTEX_WAIT_NOSPIN ? 0 : rounds_of(spin, c);
	w->adapt = !w->yield && w->rounds > 0 && spin == AMUTEX_SPIN_AUTO;
	if (w->adapt)
		w->rounds = spin_budget(w->rounds);
	w->iter = w->spinning = w->awoke = w->starving = 0;
	w->spin_until = 0;
	w->path = AMUTEX_PATH_FAST;
	w->first = w->queued = w->got = 0;
}

/*
 * The most a thread spins between two sleeps, whatever AMUTEX_SPIN says. A
 * spinner that runs on the CPU of an owner it has preempted (a wake-up is
 * often placed on the waker's CPU) waits for a release that cannot come
 * before its own time slice ends: the setting's rounds (up to 1000 x 30
 * pauses, 1-4 ms on current x86) would then cost that much per
 * acquisition. Go's 4 rounds take 1-5 us; 50 us keeps every useful spin
 * and bounds the futile one.
 */
#define SPIN_MAX_NS 50000

/*
 * spin (L3): while the lock is held in normal mode, look at it for a round
 * of pauses, at most `rounds` rounds and SPIN_MAX_NS since the thread last
 * woke, and only with a spinner slot. A spinner takes WOKEN when sleepers
 * exist, so the unlock it hopes to profit from wakes nobody. 1 when it spun
 * a round. A thread that may not spin but yields (AMUTEX_WAIT_YIELD) makes
 * a yield_round instead.
 */
static int spin(struct waiter *w, uint32_t *old)
{
	amutex_t *m = w->m;

	if (w->yield)
		return yield_round(w, old);
	if ((*old & (LOCKED | STARVING)) != LOCKED || w->iter >= w->rounds)
		return 0;
	if (w->iter == 0)
		w->spin_until = amutex__clock_ns() + SPIN_MAX_NS;
	else if (amutex__clock_ns() > w->spin_until)
		return 0;
	if (!(w->spinning || (w->spinning = spin_enter(w->cpus))))
		return 0;
	if (!w->awoke && !(*old & WOKEN) && WAITERS(*old) != 0 &&
	    cas(&m->state, old, *old | WOKEN, __ATOMIC_RELAXED)) {
		STEP(L3);
		w->awoke = 1;
	}
	for (int i = AMUTEX_PAUSES_PER_ROUND, look = w->check; i > 0; i--) {
		amutex__cpu_relax();
		if (--look == 0) {
			if (!(load(&m->state) & LOCKED))
				break;
			look = w->check;
		}
	}
	w->iter++;
	w->path = AMUTEX_PATH_SPIN;
	POINT(SPUN, m);
	*old = load(&m->state);
	return 1;
}

/*
 * compete (L2, L4): one CAS from *old. In normal mode with the lock free,
 * take it (L2). Otherwise queue as a sleeper (L4), setting STARVING if this
 * thread has starved and the lock is held; a thread that owns WOKEN drops
 * it in the same CAS. *seen gets sema as it was before the CAS (invariant
 * 4). OWNED, QUEUED, AGAIN (the CAS lost a race: *old is fresh), or an
 * error for a timed lock that must not queue (EINVAL, ETIMEDOUT).
 */
static int compete(struct waiter *w, uint32_t *old, uint32_t *seen)
{
	amutex_t *m = w->m;
	uint32_t new = *old;
	int queue = (*old & (LOCKED | STARVING)) != 0;

	if (!(*old & STARVING))
		new |= LOCKED;
	if (queue) {
		new += WAITER;
		if (w->abs && !timespec_valid(w->abs))
			return EINVAL;
		if (w->abs && timespec_passed(w->abs, w->clock))
			return ETIMEDOUT;
		if (w->starving && (*old & LOCKED))
			new |= STARVING;
	}
	if (w->awoke) {
		CHECK(*old & WOKEN);
		new &= ~WOKEN;
	}
	/*
	 * Seq-cst, with the snapshot of sema before it and with the poster's
	 * CAS and add: a post committed after this CAS changes the word this
	 * thread will sleep on. Acquire: paired with the release of unlock.
	 */
	*seen = __atomic_load_n(&m->sema, __ATOMIC_SEQ_CST);
	/* A wait ends at the CAS that takes the lock: the clock before it, never inside. */
	if (w->stats && !queue)
		w->got = WAIT_CLOCK();
	if (!cas(&m->state, old, new, __ATOMIC_SEQ_CST))
		return AGAIN;
	w->awoke = 0;
	if (!queue) {
		STEP(L2);
		return OWNED;
	}
	STEP(L4);
	POINT(QUEUED, m);
	CHECK(WAITERS(new) > WAITERS(*old));
	if (!w->queued) {
		w->queued = WAIT_CLOCK();
		if (w->stats)
			amutex__stats_contended_at(w->stats, w->site);
	}
	if (w->stats) {
		if ((new & STARVING) && !(*old & STARVING))
			amutex__stats_starving(m, 1);
		amutex__stats_waiters(w->stats, WAITERS(new));
	}
	return QUEUED;
}

/*
 * cancel_wait (T1-T3): a sleeper's deadline passed. Leave the waiter count,
 * unless a token can be ours: one is posted (T1: take it, 0, proceed as
 * woken), or the count is 0 (T2), when every sleeper has a token committed
 * to it and ours comes within a few instructions. ETIMEDOUT when it left (T3).
 */
static int cancel_wait(struct waiter *w)
{
	amutex_t *m = w->m;
	uint32_t old, new;

	for (;;) {
		uint32_t seen = __atomic_load_n(&m->sema, __ATOMIC_SEQ_CST);

		if (sema_trytake(m, &seen)) {
			STEP(T1);
			return 0;
		}
		old = load(&m->state);
		if (WAITERS(old) == 0) {
			STEP(T2);
			return sema_take(m, seen, w->posts0, NULL, w->how);
		}
		new = old - WAITER;
		/*
		 * The last waiter of a starving, held mutex ends starvation mode,
		 * so the holder's unlock is a plain one. Not while the mutex is
		 * released in a handoff: that token's taker needs STARVING to
		 * know the lock is its own.
		 */
		if (WAITERS(new) == 0 && (old & (LOCKED | STARVING)) == (LOCKED | STARVING))
			new &= ~STARVING;
		if (cas(&m->state, &old, new, __ATOMIC_RELAXED)) {
			STEP(T3);
			if (w->stats && !(new & STARVING) && (old & STARVING))
				amutex__stats_starving(m, 0);
			return ETIMEDOUT;
		}
	}
}

/* sleep_for_token: wait for a token (a wake-up or a handoff); 0, or ETIMEDOUT having left the queue. */
static int sleep_for_token(struct waiter *w, uint32_t seen)
{
	if (w->adapt && w->iter > 0)
		spin_outcome(0);
	w->posts0 = POSTS(seen);
	if (sema_take(w->m, seen, w->posts0, w->abs, w->how) != 0 && cancel_wait(w) != 0)
		return ETIMEDOUT;
	w->path = AMUTEX_PATH_SLEEP;
	if (!w->starving)
		w->starving = amutex__starved(w->threshold, elapsed(w->queued, WAIT_CLOCK()));
	return 0;
}

/*
 * handoff (L5): a token taken while STARVING is set and LOCKED clear is a
 * handoff (invariant 3): the unlocker already took this thread off the
 * count, and nobody else may take the lock. Set LOCKED; leave starvation
 * mode if this thread did not starve or nobody is left behind it. 1 when
 * the lock is now ours; 0: an ordinary wake-up (L6), the thread owns WOKEN
 * and competes again, keeping the time it first queued.
 */
static int handoff(struct waiter *w)
{
	amutex_t *m = w->m;
	uint32_t old, delta = LOCKED;

	POINT(TOOK_TOKEN, m);
	old = load(&m->state);
	if ((old & (LOCKED | STARVING)) != STARVING) {
		STEP(L6);
		CHECK(old & WOKEN);
		w->awoke = 1;
		w->iter = 0;
		return 0;
	}
	STEP(L5);
	if (!w->starving || WAITERS(old) == 0)
		delta -= STARVING;
	POINT(HANDOFF, m);
	if (w->stats)
		w->got = WAIT_CLOCK();
	old = __atomic_add_fetch(&m->state, delta, __ATOMIC_ACQUIRE);
	CHECK(old & LOCKED);
	if (w->stats) {
		amutex__stats_handoff(w->stats);
		if (delta != LOCKED)
			amutex__stats_starving(m, 0);
	}
	return 1;
}

/*
 * leave (T4): a timed lock gives up awake (the deadline passed before it
 * queued, or its timespec is malformed). A thread that owned WOKEN drops
 * it, and wakes another sleeper if the lock is free now, or the wake it
 * stood for is lost.
 */
static int leave(struct waiter *w, int err)
{
	if (w->awoke) {
		STEP(T4);
		wake_one(w->m, __atomic_and_fetch(&w->m->state, ~WOKEN, __ATOMIC_RELAXED));
	}
	if (w->stats && err == ETIMEDOUT)
		amutex__stats_timeout(w->stats);
	return err;
}

/* The lock is ours: statistics, once, on the way out. */
static int owned(struct waiter *w)
{
	if (w->adapt && w->path == AMUTEX_PATH_SPIN)
		spin_outcome(1);
	if (w->stats)
		amutex__stats_acquired(w->m, w->path,
				       w->path == AMUTEX_PATH_FAST ? 0 : elapsed(w->first, w->got));
	return 0;
}

/*
 * amutex__lock_contended: Go's lockSlow on futexes. Spin while the lock is
 * held in normal mode (L3); else take it (L2) or queue (L4); sleep for a
 * token; a token received in a handoff makes the lock ours (L5), any other
 * makes the thread compete again (L6). A waiter that slept longer than the
 * threshold since it first queued sets STARVING when it queues again.
 */
int amutex__lock_contended(amutex_t *m, const struct timespec *abs, int how, const void *site)
{
	struct waiter w;
	uint32_t old = load(&m->state), seen;
	int r;

	waiter_init(&w, m, abs, how, site);
	if (w.stats) {
		/*
		 * An observed mutex comes here free when its word was not 0
		 * (WOKEN set, say), and for every operation of a TIMED one:
		 * take it before reading the clock; but not past others
		 * queued or awake for it when this thread yields to them.
		 */
		if (!(old & (LOCKED | STARVING)) && !(w.yield && w.rounds > 0 && must_yield(old)) &&
		    cas(&m->state, &old, old | LOCKED, __ATOMIC_ACQUIRE)) {
			STEP(L2);
			return owned(&w);
		}
		w.first = WAIT_CLOCK();
	}
	amutex__busy_enter(m);
	for (;;) {
		if (spin(&w, &old))
			continue;
		spin_leave(&w.spinning);
		r = compete(&w, &old, &seen);
		if (r == OWNED)
			break;
		if (r == AGAIN)
			continue;
		if (r != QUEUED || (r = sleep_for_token(&w, seen)) != 0) {
			amutex__busy_leave();
			return leave(&w, r);
		}
		if (handoff(&w))
			break;
		old = load(&m->state);
	}
	spin_leave(&w.spinning);
	amutex__busy_leave();
	return owned(&w);
}

int amutex__lock_slow(amutex_t *m, const struct timespec *abs)
{
	/* Called from the inline fast path: this is the caller's call site. */
	return amutex__lock_contended(m, abs, 0, __builtin_return_address(0));
}

/*
 * amutex__unlock_slow: the unlock the inline CAS could not do. Releases
 * the lock and commits to any wake in one CAS:
 *   U1  nobody to wake (or someone is already awake): clear LOCKED.
 *   U2  normal mode, sleepers, nobody awake: clear LOCKED, take a waiter
 *       off the count and set WOKEN; then post its token.
 *   U3  starvation mode with sleepers: clear LOCKED, take a waiter off the
 *       count, keep STARVING; then post the token: the handoff.
 *   U4  starvation mode, nobody left (they timed out): leave the mode while
 *       still holding the lock, then release as U1.
 * EPERM, changing nothing, when the mutex is not locked.
 */
int amutex__unlock_slow(amutex_t *m)
{
	uint32_t old = load(&m->state), new;
	int how = futex_how(m), post;

	if (!(old & LOCKED)) {
		STEP(EPERM);
		return EPERM;
	}
	if (old & TIMED)
		amutex__stats_released(m);
	for (;;) {
		if (!(old & LOCKED)) {
			STEP(EPERM);
			return EPERM;
		}
		post = 1;
		if ((old & STARVING) && WAITERS(old) == 0) {
			/* U4, first half: the mode ends under the lock. */
			if (!cas(&m->state, &old, old & ~STARVING, __ATOMIC_RELAXED))
				continue;
			STEP(U4);
			if (stats_of(m))
				amutex__stats_starving(m, 0);
			old &= ~STARVING;
			continue;
		}
		if (old & STARVING)
			new = old - LOCKED - WAITER;
		else if (WAITERS(old) != 0 && !(old & WOKEN))
			new = (old - LOCKED - WAITER) | WOKEN;
		else
			new = old - LOCKED, post = 0;
		/* Release: paired with the acquire of the next owner. */
		if (cas(&m->state, &old, new, __ATOMIC_SEQ_CST))
			break;
	}
	/* From here on the mutex may be another thread's, or gone. */
	if (!post)
		STEP(U1);
	else if (old & STARVING)
		STEP(U3);
	else
		STEP(U2);
	POINT(RELEASED, m);
	if (post)
		sema_post(m, how);
	return 0;
}

/* A trylock of a mutex with hold times: note when it was taken. */
void amutex__trylocked_timed(amutex_t *m)
{
	amutex__stats_acquired(m, AMUTEX_PATH_FAST, 0);
}

/*
 * S1, amutex__stats_attach: statistics for a mutex already in use (the
 * drop-in's first contention). The block is published with a release CAS
 * of m->stats from NULL (paired with stats_of's acquire). The lock word is
 * not touched: the fast paths find the block after the CAS that took the
 * lock. 0 when another thread attached first (s stays unused).
 */
int amutex__stats_attach(amutex_t *m, struct amutex__stats *s)
{
	struct amutex__stats *none = NULL;

	if (!__atomic_compare_exchange_n(&m->stats, &none, s, 0, __ATOMIC_RELEASE,
					 __ATOMIC_RELAXED))
		return 0;
	STEP(S1);
	return 1;
}

/*
 * F1, repair: in the child of a fork, a mutex that another thread was
 * working on (sleeping, spinning, waking, handing off). Those threads do
 * not exist in the child, so every waiter counted, every pending token and
 * WOKEN are theirs; a mutex released in a handoff to one of them is free.
 * LOCKED stays: the mutex may be held by this thread (the atfork pattern)
 * or by a thread that is gone (then, as with glibc, it stays locked). A
 * process-shared mutex is left alone: its sleepers in other processes are
 * real. Runs with one thread, so plain stores.
 */
static void repair(amutex_t *m)
{
	uint32_t state = load(&m->state);

	if (m->flags & AMUTEX__FLAG_SHARED)
		return;
	STEP(F1);
	__atomic_store_n(&m->state, state & (LOCKED | TIMED), __ATOMIC_RELAXED);
	__atomic_store_n(&m->sema, (load(&m->sema) & ~0xffu) + (POST - TOKEN), __ATOMIC_RELAXED);
}

static void fork_prepare(void)
{
	amutex__threads_lock();
}

static void fork_parent(void)
{
	amutex__threads_unlock();
}

static void fork_child(void)
{
	amutex__threads_after_fork(repair);
	__atomic_store_n(&spinners, 0, __ATOMIC_RELAXED);
	amutex__threads_unlock();
}

/* pthread_atfork allocates: at load, never on a lock path. */
__attribute__((constructor)) static void protocol_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

int amutex_init(amutex_t *m, const amutex_attr_t *attr)
{
	amutex_t fresh = AMUTEX_INITIALIZER;

	if (attr) {
		if (attr->magic != AMUTEX_ATTR_MAGIC)
			return EINVAL;
		fresh.starve_ns = amutex__starve_encode(attr->starve_ns);
		fresh.spin = amutex__spin_encode(attr->spin);
		if (attr->fair != AMUTEX_FAIR_DEFAULT)
			fresh.flags = AMUTEX__FLAG_FAIR_SET | (attr->fair ? AMUTEX__FLAG_FAIR : 0);
		if (attr->stats) {
			if (!(fresh.stats = amutex__stats_new(m, attr)))
				return ENOMEM;
			fresh.state = attr->hold_times ? TIMED : 0;
		}
	}
	*m = fresh;
	return 0;
}

int amutex_destroy(amutex_t *m)
{
	if (load(&m->state) & ~TIMED)
		return EBUSY;
	if (m->stats)
		amutex__stats_release(m->stats);
	m->stats = 0;
	m->state = 0;
	return 0;
}
