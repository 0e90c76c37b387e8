/*
 * amutex_rwlock_t: everything but the inline read paths. docs/rwlock.md is
 * the specification: the word's bits (also at the top of
 * <amutex/static/rwlock.h>), every transition with its label, the
 * invariants, and why the one-bit PHASE is enough. Writers queue on an
 * amutex (w); readers and the claiming writer sleep on the low half of
 * the word, with different futex bitsets.
 */
#include "rwlock.h"

#include <limits.h>
#include <linux/futex.h>

#define READER     AMUTEX__RW_READER
#define PHASE      AMUTEX__RW_PHASE
#define WRITER     AMUTEX__RW_WRITER
#define WSLEEP     AMUTEX__RW_WSLEEP
#define QUEUED_ONE   AMUTEX__RW_QUEUED_ONE
#define ADMITTED_ONE AMUTEX__RW_ADMITTED_ONE
#define READERS(s)  ((s) & AMUTEX__RW_READERS)
#define QUEUED(s)   (((s) >> AMUTEX__RW_QUEUED_SHIFT) & AMUTEX__RW_COUNT_MAX)
#define ADMITTED(s) ((s) >> AMUTEX__RW_ADMITTED_SHIFT)

/* Futex bitsets: who a wake on the word is for. */
#define RD 1u
#define WR 2u

#define load(p)  __atomic_load_n((p), __ATOMIC_ACQUIRE)
/* Acquire and release: every CAS here either takes a hold or hands one on. */
#define cas(p, oldp, new) \
	__atomic_compare_exchange_n((p), (oldp), (new), 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)

#ifdef AMUTEX_TEST_SEAMS
uint64_t amutex__rw_steps[AMUTEX_RW_STEP_COUNT];
const char *const amutex__rw_step_names[AMUTEX_RW_STEP_COUNT] = {
	"RL2", "RL3", "RL4", "RL5", "RU2", "WL3", "WL4", "WL5", "WT1", "WT2", "WT2-held",
	"slept", "RF1",
};
void (*amutex__rw_test_point)(enum amutex__rw_point p, const amutex_rwlock_t *rw);
#define STEP(t) __atomic_add_fetch(&amutex__rw_steps[AMUTEX_RW_##t], 1, __ATOMIC_RELAXED)
#define POINT(p, rw) do {							\
	void (*f_)(enum amutex__rw_point, const amutex_rwlock_t *) =		\
		__atomic_load_n(&amutex__rw_test_point, __ATOMIC_ACQUIRE);	\
	if (f_)									\
		f_(AMUTEX_RW_POINT_##p, (rw));					\
} while (0)
#else
#define STEP(t) ((void)0)
#define POINT(p, rw) ((void)0)
#endif

#ifdef AMUTEX_DEBUG
#define CHECK(c) do { if (!(c)) amutex__die("rwlock invariant failed: " #c); } while (0)
#else
#define CHECK(c) ((void)0)
#endif

/* The low half of the word: the futex word. */
static uint32_t *futex_word(amutex_rwlock_t *rw)
{
	return (uint32_t *)(void *)&rw->state + (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__);
}

static int malformed(const struct timespec *abs)
{
	return abs && (abs->tv_nsec < 0 || abs->tv_nsec >= 1000000000);
}

/*
 * sleep_while: sleep with bitset bits while the low half of the word is
 * what s says (a futex wait: any change, a signal or a wake ends it). 1
 * when the deadline has passed.
 */
static int sleep_while(amutex_rwlock_t *rw, uint64_t s, const struct timespec *abs,
		       uint32_t bits)
{
	if (abs && abs->tv_sec < 0)
		return 1;	/* long past (the kernel would refuse it), as for the mutex */
	STEP(SLEPT);
	return amutex__futex_wait_bits(futex_word(rw), (uint32_t)s, abs, 0, bits) == ETIMEDOUT;
}

/*
 * spin_until: look at the word once a round, for as many rounds as the
 * writers' mutex may spin (none on one CPU), until done(s) says the wait
 * is over; the last word seen. Waiting here is for a holder on another
 * CPU to finish: a writer's short hold, or readers'.
 */
static uint64_t spin_until(amutex_rwlock_t *rw, int (*done)(uint64_t s, uint64_t arg),
			   uint64_t arg)
{
	uint64_t s = load(&rw->state);

	for (int r = amutex__spin_rounds(&rw->w); r > 0 && !done(s, arg); r--) {
		for (int i = 0; i < AMUTEX_PAUSES_PER_ROUND; i++)
			amutex__cpu_relax();
		s = load(&rw->state);
	}
	return s;
}

/* A queued reader's wait is over: let in (PHASE moved) or its writer gave up. */
static int reader_done(uint64_t s, uint64_t phase)
{
	return (s & PHASE) != phase || !(s & WRITER);
}

/*
 * queued_reader: RL3-RL5, a reader that queued (RL2) when PHASE was phase.
 * The first release after RL2 counts it in READERS and flips PHASE, and no
 * second release can come before it has woken (docs/rwlock.md), so a
 * PHASE other than phase means it holds a read lock.
 */
static int queued_reader(amutex_rwlock_t *rw, uint64_t phase, const struct timespec *abs)
{
	uint64_t s = spin_until(rw, reader_done, phase);
	int late = 0;

	for (;;) {
		if ((s & PHASE) != phase) {
			POINT(ADMITTED, rw);
			s = load(&rw->state);
			while (!cas(&rw->state, &s, s - ADMITTED_ONE))	/* RL3 */
				;
			CHECK(ADMITTED(s) != 0);
			STEP(RL3);
			return 0;
		}
		if (!(s & WRITER)) {
			/*
			 * The writer gave up (WT2): go in. The next writer waits
			 * for the queue to empty before it claims (WL5): the
			 * one that empties it wakes that writer.
			 */
			int full = READERS(s) == AMUTEX__RW_READERS;
			uint64_t n = s - QUEUED_ONE + (full ? 0 : READER);

			if (QUEUED(n) == 0)
				n &= ~WSLEEP;
			if (!cas(&rw->state, &s, n))	/* RL4 */
				continue;
			if ((s & WSLEEP) && !(n & WSLEEP))
				amutex__futex_wake_bits(futex_word(rw), 1, 0, WR);
			if (full)
				return EAGAIN;
			STEP(RL4);
			return 0;
		}
		if (late) {
			if (cas(&rw->state, &s, s - QUEUED_ONE)) {	/* RL5 */
				STEP(RL5);
				return ETIMEDOUT;
			}
			continue;
		}
		if ((late = sleep_while(rw, s, abs, RD)))
			POINT(LATE, rw);
		s = load(&rw->state);
	}
}

/* RL1 when no writer has claimed the lock, else RL2 and wait. */
static int rdlock(amutex_rwlock_t *rw, const struct timespec *abs)
{
	uint64_t s = load(&rw->state);
	int err;

	for (;;) {
		if (!(s & WRITER)) {
			if (READERS(s) == AMUTEX__RW_READERS)
				return EAGAIN;
			if (cas(&rw->state, &s, s + READER))	/* RL1 */
				return 0;
			continue;
		}
		if (malformed(abs))
			return EINVAL;
		if (QUEUED(s) == AMUTEX__RW_COUNT_MAX)
			return EAGAIN;
		/* Noted before RL2, and only while this call may be queued: a stale
		 * note would have a child of a fork repair memory freed since. */
		amutex__rw_busy_enter(rw);
		if (cas(&rw->state, &s, s + QUEUED_ONE))	/* RL2 */
			break;
		amutex__rw_busy_leave();
	}
	STEP(RL2);
	POINT(QUEUED, rw);
	err = queued_reader(rw, s & PHASE, abs);
	amutex__rw_busy_leave();
	return err;
}

int amutex__rwlock_rdlock_slow(amutex_rwlock_t *rw, const struct timespec *abs_mono)
{
	return rdlock(rw, abs_mono);
}

int amutex_rwlock_timedrdlock(amutex_rwlock_t *rw, const struct timespec *abs_mono)
{
	return amutex__rwlock_enter(rw) ? 0 : rdlock(rw, abs_mono);
}

int amutex__rwlock_rdunlock_slow(amutex_rwlock_t *rw)
{
	uint64_t s = load(&rw->state), n;

	do {
		if (READERS(s) == 0)
			return EPERM;
		n = s - READER;
		/* RU2: the last reader a claiming writer waits for wakes it. */
		if ((s & WRITER) && READERS(n) == 0)
			n &= ~WSLEEP;
	} while (!cas(&rw->state, &s, n));
	if (s & WRITER)
		STEP(RU2);
	/* After the CAS only a wake, harmless if the lock is gone by now. */
	if ((s & WSLEEP) && !(n & WSLEEP))
		amutex__futex_wake_bits(futex_word(rw), 1, 0, WR);
	return 0;
}

/*
 * A writer holding w may claim: no release pending (WL4) and no reader
 * left queued by a writer that gave up (WL5).
 */
static int may_claim(uint64_t s, uint64_t unused)
{
	(void)unused;
	return !(s & WRITER) && QUEUED(s) == 0;
}

static int readers_gone(uint64_t s, uint64_t unused)
{
	(void)unused;
	return READERS(s) == 0;
}

/*
 * wait_word: the writer that holds w sleeps (WR) until done(s): it sets
 * WSLEEP first, so that whoever changes the word to done wakes it (RU2,
 * RU4, RL4). 1 when the deadline passed first; else 0, and the word that
 * was done in *sp.
 */
static int wait_word(amutex_rwlock_t *rw, uint64_t *sp, int (*done)(uint64_t, uint64_t),
		     const struct timespec *abs)
{
	uint64_t s = spin_until(rw, done, 0);

	while (!done(s, 0)) {
		if (!(s & WSLEEP) && !cas(&rw->state, &s, s | WSLEEP))
			continue;
		if (sleep_while(rw, s | WSLEEP, abs, WR))
			return 1;
		s = load(&rw->state);
	}
	*sp = s;
	return 0;
}

/*
 * WT2: a claiming writer's deadline passed while readers were inside. If
 * the last one left meanwhile, the lock is the writer's; else it takes its
 * claim back (no PHASE flip: nobody is let in, docs/rwlock.md), wakes the
 * readers it stopped (they go in by RL4, before the next writer claims:
 * WL5), then gives w away.
 */
static int give_up(amutex_rwlock_t *rw)
{
	uint64_t s;

	POINT(GIVING_UP, rw);
	s = load(&rw->state);
	for (;;) {
		if (READERS(s) == 0) {
			STEP(WT2_HELD);
			return 0;
		}
		if (cas(&rw->state, &s, s & ~(WRITER | WSLEEP)))
			break;
	}
	STEP(WT2);
	/* No thread may free a lock that a writer is blocked on, and w is still this one's. */
	if (QUEUED(s))
		amutex__futex_wake_bits(futex_word(rw), INT_MAX, 0, RD);
	amutex_unlock(&rw->w);
	return ETIMEDOUT;
}

static int wrlock(amutex_rwlock_t *rw, const struct timespec *abs)
{
	uint64_t s;
	int err;

	if (malformed(abs))
		return EINVAL;
	amutex__rw_busy_enter(rw);
	if ((err = abs ? amutex_timedlock(&rw->w, abs) : amutex_lock(&rw->w)) != 0)
		goto out;	/* WT1, on the mutex */
	s = load(&rw->state);
	if (!may_claim(s, 0)) {
		/*
		 * WL4: the last writer unlocked w (RU3) and has yet to release
		 * (RU4); WL5: readers a writer stopped and gave up on (WT2) have
		 * yet to go in (RL4).
		 */
		if (s & WRITER)
			STEP(WL4);
		else
			STEP(WL5);
		if (wait_word(rw, &s, may_claim, abs)) {
			STEP(WT1);
			amutex_unlock(&rw->w);
			err = ETIMEDOUT;
			goto out;
		}
	}
	while (!cas(&rw->state, &s, s | WRITER))	/* WL2: the claim */
		if (!may_claim(s, 0))
			amutex__die("rwlock: a claim raced a claim");	/* only w's holder claims */
	POINT(CLAIMED, rw);
	if (READERS(s) != 0) {
		STEP(WL3);
		if (wait_word(rw, &s, readers_gone, abs))
			err = give_up(rw);
	}
out:
	amutex__rw_busy_leave();
	return err;
}

int amutex_rwlock_wrlock(amutex_rwlock_t *rw)
{
	return wrlock(rw, NULL);
}

int amutex_rwlock_timedwrlock(amutex_rwlock_t *rw, const struct timespec *abs_mono)
{
	return wrlock(rw, abs_mono);
}

int amutex_rwlock_trywrlock(amutex_rwlock_t *rw)
{
	uint64_t s;
	int err = EBUSY;

	amutex__rw_busy_enter(rw);
	if (amutex_trylock(&rw->w) != 0)
		goto out;
	s = load(&rw->state);
	for (;;) {
		if (!may_claim(s, 0) || READERS(s) != 0) {
			amutex_unlock(&rw->w);
			goto out;
		}
		if (cas(&rw->state, &s, s | WRITER)) {	/* WL2 with no reader inside */
			err = 0;
			goto out;
		}
	}
out:
	amutex__rw_busy_leave();
	return err;
}

int amutex_rwlock_wrunlock(amutex_rwlock_t *rw)
{
	uint64_t s = load(&rw->state), n, q;
	int err;

	if (!(s & WRITER) || READERS(s) != 0)
		return EPERM;	/* nobody holds it for writing (a claim still waits) */
	/*
	 * Not noted for the child of a fork: from RU3 to RU4 the word says
	 * "held", which the repair leaves as it is (a release counts at RU4),
	 * and a note cleared after RU4 could outlive the lock.
	 */
	if ((err = amutex_unlock(&rw->w)) != 0)	/* RU3 */
		return err;
	POINT(RELEASING, rw);
	s = load(&rw->state);
	do {
		/* Every reader the last release let in has come and gone (a claim needed READERS 0). */
		CHECK(READERS(s) == 0 && ADMITTED(s) == 0 && (s & WRITER));
		q = QUEUED(s);
		n = ((s & ~(WRITER | WSLEEP)) ^ PHASE) - q * QUEUED_ONE + q * ADMITTED_ONE +
		    q * READER;
	} while (!cas(&rw->state, &s, n));	/* RU4: the last access to the lock's memory */
	if (q)
		amutex__futex_wake_bits(futex_word(rw), INT_MAX, 0, RD);
	if (s & WSLEEP)
		amutex__futex_wake_bits(futex_word(rw), 1, 0, WR);
	return 0;
}

int amutex_rwlock_init(amutex_rwlock_t *rw, const amutex_attr_t *attr)
{
	amutex_rwlock_t fresh = AMUTEX_RWLOCK_INITIALIZER;
	int err;

	if (attr && (attr->magic != AMUTEX_ATTR_MAGIC || attr->stats))
		return EINVAL;
	if ((err = amutex_init(&fresh.w, attr)) != 0)
		return err;
	*rw = fresh;
	return 0;
}

int amutex_rwlock_destroy(amutex_rwlock_t *rw)
{
	if (load(&rw->state) & ~PHASE)
		return EBUSY;	/* a hold, a claim, or a reader in a slow path */
	return amutex_destroy(&rw->w);
}

/*
 * RF1: in the child of a fork, an rwlock that another thread was working on
 * (docs/rwlock.md, "Fork"). Only the forking thread exists: the queued and
 * the let-in-but-not-woken readers are others', and so is a claim still
 * waiting for readers. A write hold (WRITER, READERS 0) stays, whoever's,
 * and so does one whose release had not reached RU4. Runs with one
 * thread, so plain stores.
 */
static void repair(void *p)
{
	amutex_rwlock_t *rw = p;
	uint64_t s = __atomic_load_n(&rw->state, __ATOMIC_RELAXED), n;

	STEP(RF1);
	n = (s & (PHASE | WRITER)) | (READERS(s) - ADMITTED(s));
	if ((s & WRITER) && READERS(s) != 0)
		n &= ~WRITER;
	__atomic_store_n(&rw->state, n, __ATOMIC_RELAXED);
	if (!(n & WRITER))
		__atomic_store_n(&rw->w.state,
				 __atomic_load_n(&rw->w.state, __ATOMIC_RELAXED) & ~AMUTEX__LOCKED,
				 __ATOMIC_RELAXED);
}

__attribute__((constructor)) static void rwlock_init(void)
{
	amutex__rw_repair = repair;
}
