/*
 * The lock-word protocol: every slow-path step of amutex, in one file, so a
 * model (docs/design.md) can mirror it step by step. The fast paths are the
 * inline functions in include/amutex.h; the encoding of the lock word is
 * documented there.
 *
 * Tokens. `sema` counts wake tokens. A token is posted only by a thread that,
 * in the same CAS that committed to posting, took one waiter off the lock
 * word's count; so sleepers = waiters + tokens (posted or committed) at every
 * instant, and at most one token is outstanding at a time: normal-mode
 * wakes need WOKEN clear and set it, handoffs need the lock released, and
 * neither can happen again until the token's taker has acted.
 */
#include "mutex.h"
#include "../stats/stats.h"

#include <errno.h>
#include <stdlib.h>

/*
 * Pauses between looks at the lock word while spinning. 30 (Go's: look once
 * a round) against 1 and 6, 16-core machine, bench/device-run.sh, run 3 in
 * docs/benchmarks.md: 30 gave the most contended throughput (16 threads:
 * 2.23M/s against 1.98M/s for 1) and the best hog tails; looking after
 * every pause fairer (64 threads) but every release then starts a
 * stampede of all spinners on the line.
 */
#ifndef AMUTEX_SPIN_CHECK_EVERY
#define AMUTEX_SPIN_CHECK_EVERY 30
#endif

#define LOCKED   AMUTEX__LOCKED
#define WOKEN    AMUTEX__WOKEN
#define STARVING AMUTEX__STARVING
#define STATS    AMUTEX__STATS
#define TIMED    AMUTEX__TIMED
#define WAITER   AMUTEX__WAITER
#define WAITERS(s) ((s) >> AMUTEX__WAITER_SHIFT)

#define load(p)  __atomic_load_n((p), __ATOMIC_RELAXED)
#define cas(p, oldp, new, order) \
	__atomic_compare_exchange_n((p), (oldp), (new), 0, (order), __ATOMIC_RELAXED)

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

int amutex__spin_rounds(const amutex_t *m)
{
	const struct amutex__config *c = amutex__config();
	int spin = amutex__spin_decode(m->spin);

	if (spin == AMUTEX_SPIN_DEFAULT)
		spin = c->spin;
	if (c->cpus <= 1)
		return 0;
	return spin == AMUTEX_SPIN_AUTO ? AMUTEX_DEFAULT_SPIN_ROUNDS : spin;
}

static uint32_t starve_threshold(const amutex_t *m, const struct amutex__config *c)
{
	return m->starve_ns ? m->starve_ns : c->starve_ns;
}

/*
 * The futex word `sema`: tokens in the low byte, a post sequence above, so
 * every post changes the word. A thread reads the word before the CAS that
 * queues it and sleeps on that value first: a token posted before its CAS
 * was committed to an older sleeper (sleepers = waiters + tokens), and the
 * new sleeper must not take it. Without this, an unlocker that hands off
 * and relocks at once takes back its own handoff before the receiver runs.
 */
#define TOKEN  1u
#define TOKENS(w) AMUTEX__SEMA_TOKENS(w)
#define POST   AMUTEX__SEMA_POST

/*
 * A mutex's statistics. Acquire: the drop-in attaches them to a live mutex
 * (NULL to a block, once), paired with its release CAS.
 */
static struct amutex__stats *stats_of(const amutex_t *m)
{
	return __atomic_load_n(&m->stats, __ATOMIC_ACQUIRE);
}

static int futex_how(const amutex_t *m, clockid_t clock)
{
	return (m->flags & AMUTEX__FLAG_SHARED ? AMUTEX_FUTEX_SHARED : 0) |
	       (clock == CLOCK_REALTIME ? AMUTEX_FUTEX_REALTIME : 0);
}

/* sema_trytake: take a posted token. Acquire: paired with sema_post. */
static int sema_trytake(amutex_t *m, uint32_t w)
{
	while (TOKENS(w))
		if (cas(&m->sema, &w, w - TOKEN, __ATOMIC_ACQUIRE))
			return 1;
	return 0;
}

/*
 * A token in the word a thread read before queueing is an older sleeper's,
 * unless that sleeper times out and leaves: its leaving CAS then hands the
 * token, by the count, to the newcomer, who sleeps past it (found by the
 * model, docs/model/amutex.pml). So the first sleep on a word that held a
 * token is bounded by this much; then the thread looks again.
 */
#define ORPHAN_CHECK_NS 1000000

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

/*
 * sema_take: sleep until a token is ours, or ETIMEDOUT at abs (on clock).
 * seen: the word as read before queueing (any token in it is an older
 * sleeper's), or as read with no token in it.
 */
static int sema_take(amutex_t *m, uint32_t seen, const struct timespec *abs,
		     clockid_t clock, int how)
{
	const struct timespec *until = abs;
	struct timespec bound;

	if (TOKENS(seen)) {
		clock_gettime(clock, &bound);
		add_ns(&bound, ORPHAN_CHECK_NS);
		if (!abs || before(&bound, abs))
			until = &bound;
	}
	for (;;) {
		if (amutex__futex_wait(&m->sema, seen, until, how) == ETIMEDOUT) {
			if (until == abs)
				return ETIMEDOUT;
			until = abs;	/* the orphan check: look, then sleep as usual */
		}
		seen = __atomic_load_n(&m->sema, __ATOMIC_SEQ_CST);
		while (TOKENS(seen))
			if (cas(&m->sema, &seen, seen - TOKEN, __ATOMIC_ACQUIRE))
				return 0;
	}
}

/*
 * sema_post: publish one token and wake the oldest sleeper. Release: the
 * critical section of a handing-off unlocker happens before its receiver's.
 * Linux wakes futex waiters of equal priority in the order they slept.
 */
static void sema_post(amutex_t *m)
{
	__atomic_add_fetch(&m->sema, POST, __ATOMIC_SEQ_CST);
	amutex__futex_wake(&m->sema, 1, futex_how(m, CLOCK_MONOTONIC));
}

/*
 * wake_one: normal-mode unlock. Wake a sleeper unless nobody sleeps, the
 * lock was retaken, someone is already awake for it, or a handoff is due.
 */
static void wake_one(amutex_t *m, uint32_t old)
{
	for (;;) {
		if (WAITERS(old) == 0 || (old & (LOCKED | WOKEN | STARVING)))
			return;
		if (cas(&m->state, &old, (old - WAITER) | WOKEN, __ATOMIC_SEQ_CST)) {
			sema_post(m);
			return;
		}
	}
}

/*
 * give_up: a timed lock leaves with nothing. A thread that held the WOKEN
 * role (woken by a token, or a spinner that set it) must drop it, and wake
 * another sleeper if the lock is free now, or the wake it stood for is lost.
 */
static int give_up(amutex_t *m, int awoke, int err)
{
	if (awoke)
		wake_one(m, __atomic_and_fetch(&m->state, ~WOKEN, __ATOMIC_RELAXED));
	if (stats_of(m) && err == ETIMEDOUT)
		amutex__stats_timeout(m->stats);
	return err;
}

/*
 * cancel_wait: a sleeper's deadline passed. Leave the waiter count, unless a
 * token can be ours: one is posted (take it: 0, proceed as woken), or the
 * count is 0, when every sleeper has a token committed to it and ours comes
 * within a few instructions. ETIMEDOUT when we left.
 */
static int cancel_wait(amutex_t *m)
{
	uint32_t old, new;

	for (;;) {
		uint32_t w = __atomic_load_n(&m->sema, __ATOMIC_SEQ_CST);

		if (sema_trytake(m, w))
			return 0;
		old = load(&m->state);
		if (WAITERS(old) == 0)
			return sema_take(m, w - TOKENS(w), 0, CLOCK_MONOTONIC,
					 futex_how(m, CLOCK_MONOTONIC));
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
			if (stats_of(m) && !(new & STARVING) && (old & STARVING))
				amutex__stats_starving(m, 0);
			return ETIMEDOUT;
		}
	}
}

static int timespec_valid(const struct timespec *ts)
{
	return ts->tv_sec >= 0 && ts->tv_nsec >= 0 &&
	       (uint64_t)ts->tv_nsec < AMUTEX_NS_PER_SEC;
}

static int timespec_passed(const struct timespec *ts, clockid_t clock)
{
	struct timespec now;

	clock_gettime(clock, &now);
	return now.tv_sec > ts->tv_sec ||
	       (now.tv_sec == ts->tv_sec && now.tv_nsec >= ts->tv_nsec);
}

/*
 * amutex__lock_contended: Go's lockSlow on futexes. Spin while the lock is held in
 * normal mode; else barge (normal mode) or queue (held, or starving); sleep
 * for a token; a token received while STARVING is set and LOCKED clear is a
 * handoff: the lock is ours. A waiter that slept longer than the threshold
 * since it first queued sets STARVING when it queues again.
 */
int amutex__lock_slow(amutex_t *m, const struct timespec *abs)
{
	/* Called from the inline fast path: this is the caller's call site. */
	return amutex__lock_contended(m, abs, CLOCK_MONOTONIC, __builtin_return_address(0));
}

int amutex__lock_contended(amutex_t *m, const struct timespec *abs, clockid_t clock,
			   const void *site)
{
	const struct amutex__config *c = amutex__config();
	struct amutex__stats *stats = stats_of(m);
	uint64_t first = 0, got = 0, wait_start = 0;
	int rounds = amutex__spin_rounds(m), iter = 0, spinning = 0;
	int starving = 0, awoke = 0, slept = 0, spun = 0, entered = 0;
	uint32_t old = load(&m->state), new, seen;

	if (stats) {
		/*
		 * A free observed mutex comes here when its word was not exactly
		 * STATS (WOKEN set, say), and every operation of a TIMED one:
		 * take it before reading the clock.
		 */
		if (!(old & (LOCKED | STARVING)) &&
		    cas(&m->state, &old, old | LOCKED, __ATOMIC_ACQUIRE)) {
			amutex__stats_acquired(m, AMUTEX_PATH_FAST, 0);
			return 0;
		}
		first = amutex__now_ns();
	}
	for (;;) {
		if ((old & (LOCKED | STARVING)) == LOCKED && iter < rounds &&
		    (spinning || (spinning = spin_enter(c->cpus)))) {
			/* Tell unlock that someone is awake: no wake needed. */
			if (!awoke && !(old & WOKEN) && WAITERS(old) != 0 &&
			    cas(&m->state, &old, old | WOKEN, __ATOMIC_RELAXED))
				awoke = 1;
			for (int i = 1; i <= AMUTEX_PAUSES_PER_ROUND; i++) {
				amutex__cpu_relax();
				if (i % AMUTEX_SPIN_CHECK_EVERY == 0 &&
				    !(load(&m->state) & LOCKED))
					break;
			}
			iter++;
			spun = 1;
			old = load(&m->state);
			continue;
		}
		spin_leave(&spinning);

		new = old;
		if (!(old & STARVING))
			new |= LOCKED;
		if (old & (LOCKED | STARVING)) {
			new += WAITER;
			if (abs && !timespec_valid(abs))
				return give_up(m, awoke, EINVAL);
			if (abs && timespec_passed(abs, clock))
				return give_up(m, awoke, ETIMEDOUT);
		}
		if (starving && (old & LOCKED))
			new |= STARVING;
		if (awoke)
			new &= ~WOKEN;
		/*
		 * Seq-cst, with the snapshot of sema before it and with the
		 * poster's CAS and add: a post committed after our CAS changes
		 * the word we will sleep on. Acquire: paired with the release
		 * in amutex_unlock.
		 */
		seen = __atomic_load_n(&m->sema, __ATOMIC_SEQ_CST);
		/*
		 * A wait ends at the CAS that takes the lock: read the clock
		 * just before it, so the holder's critical section never
		 * includes a clock read.
		 */
		if (stats && !(old & (LOCKED | STARVING)))
			got = amutex__now_ns();
		if (!cas(&m->state, &old, new, __ATOMIC_SEQ_CST))
			continue;
		if (!(old & (LOCKED | STARVING)))
			break;

		awoke = 0;
		if ((new & STARVING) && !(old & STARVING))
			entered = 1;
		if (stats) {
			if (entered == 1) {
				amutex__stats_starving(m, 1);
				entered = 2;
			}
			amutex__stats_waiters(stats, WAITERS(new));
		}
		if (!wait_start) {
			wait_start = amutex__now_ns();
			if (stats)
				amutex__stats_contended_at(stats, site);
		}
		if (sema_take(m, seen, abs, clock, futex_how(m, clock)) != 0 &&
		    cancel_wait(m) != 0)
			return give_up(m, 0, ETIMEDOUT);
		slept = 1;
		got = amutex__now_ns();
		if (!starving)
			starving = got - wait_start > starve_threshold(m, c);

		old = load(&m->state);
		if ((old & (LOCKED | STARVING)) == STARVING) {
			/*
			 * Handoff: the unlocker already took us off the count.
			 * Leave starvation mode if we did not starve or nobody
			 * is left behind us.
			 */
			uint32_t delta = LOCKED;

			if (!starving || WAITERS(old) == 0)
				delta -= STARVING;
			__atomic_add_fetch(&m->state, delta, __ATOMIC_ACQUIRE);
			if (stats) {
				amutex__stats_handoff(stats);
				if (delta != LOCKED)
					amutex__stats_starving(m, 0);
			}
			break;
		}
		awoke = 1;
		iter = 0;
	}

	spin_leave(&spinning);
	if (stats)
		amutex__stats_acquired(m,
			slept ? AMUTEX_PATH_SLEEP : spun ? AMUTEX_PATH_SPIN : AMUTEX_PATH_FAST,
			slept || spun ? got - first : 0);
	return 0;
}

/*
 * amutex__unlock_slow: the lock is already released (LOCKED cleared by the
 * inline fast path). Normal mode: wake one sleeper. Starvation mode: take a
 * waiter off the count and post its token; the lock stays un-LOCKED and
 * STARVING, which newcomers respect, until the token's taker sets LOCKED.
 */
void amutex__unlock_slow(amutex_t *m, uint32_t old)
{
	if (old & TIMED)
		amutex__stats_released(m);
	if (!(old & STARVING)) {
		wake_one(m, old);
		return;
	}
	for (;;) {
		if (WAITERS(old) == 0) {
			/* Everyone left (timed out): nobody to hand off to. */
			if (cas(&m->state, &old, old & ~STARVING, __ATOMIC_RELAXED)) {
				if (stats_of(m))
					amutex__stats_starving(m, 0);
				return;
			}
		} else if (cas(&m->state, &old, old - WAITER, __ATOMIC_SEQ_CST)) {
			sema_post(m);
			return;
		}
	}
}

/*
 * S1, amutex__stats_attach: statistics for a mutex already in use (the
 * drop-in's first contention). The block is published with a release CAS
 * of m->stats from NULL (paired with stats_of's acquire), then STATS joins
 * the word in one atomic OR, which commutes with every other transition:
 * the protocol ignores the bit, and the fast paths only choose where to
 * count. 0 when another thread attached first (s stays unused).
 */
int amutex__stats_attach(amutex_t *m, struct amutex__stats *s)
{
	struct amutex__stats *none = NULL;

	if (!__atomic_compare_exchange_n(&m->stats, &none, s, 0, __ATOMIC_RELEASE,
					 __ATOMIC_RELAXED))
		return 0;
	__atomic_or_fetch(&m->state, STATS, __ATOMIC_RELEASE);
	return 1;
}

/* amutex__unlock_unowned: the inline unlock found LOCKED clear. Undo it. */
int amutex__unlock_unowned(amutex_t *m)
{
	__atomic_add_fetch(&m->state, LOCKED, __ATOMIC_RELAXED);
	return EPERM;
}

int amutex_init(amutex_t *m, const amutex_attr_t *attr)
{
	amutex_t fresh = AMUTEX_INITIALIZER;

	if (attr) {
		if (attr->magic != AMUTEX_ATTR_MAGIC)
			return EINVAL;
		if (attr->starve_ns == AMUTEX_STARVATION_NEVER)
			fresh.starve_ns = UINT32_MAX;
		else
			fresh.starve_ns = (uint32_t)attr->starve_ns;
		fresh.spin = amutex__spin_encode(attr->spin);
		if (attr->stats) {
			if (!(fresh.stats = amutex__stats_new(m, attr)))
				return ENOMEM;
			fresh.state = STATS | (attr->hold_times ? TIMED : 0);
		}
	}
	*m = fresh;
	return 0;
}

int amutex_destroy(amutex_t *m)
{
	if (load(&m->state) & ~(STATS | TIMED))
		return EBUSY;
	if (m->stats)
		amutex__stats_release(m->stats);
	m->stats = 0;
	m->state = 0;
	return 0;
}
