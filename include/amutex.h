/*
 * amutex: a futex mutex with Go-style normal and starvation modes.
 *
 * Public API. Every call returns 0 or a POSIX error code and leaves errno
 * as it found it. The fast paths are inline below: lock is one
 * compare-and-swap, unlock one atomic subtraction when nobody waits. Slow
 * paths live in lib/mutex.c, which holds the whole lock-word protocol.
 *
 * This header compiles as C11 and as C++: the lock word is a plain uint32_t
 * operated on with the GCC/Clang __atomic builtins (what <stdatomic.h> lowers
 * to), because C++ before C++23 cannot include <stdatomic.h>.
 */
#ifndef AMUTEX_H
#define AMUTEX_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(AMUTEX_BUILD)
#define AMUTEX_API __attribute__((visibility("default")))
#else
#define AMUTEX_API
#endif

/*
 * The lock word (amutex_t.state). Encoding and every transition are in
 * docs/design.md; this is the summary the code relies on.
 *
 *   bit 0      LOCKED    the mutex is owned. Set by a barging CAS in normal
 *                        mode, or by the waiter that received a handoff.
 *   bit 1      WOKEN     one thread is awake and competing for the lock (a
 *                        spinner, or a waiter woken by unlock), so unlock
 *                        must not wake another. Owned by that one thread,
 *                        which clears it in its next successful CAS.
 *   bit 2      STARVING  starvation mode: unlock hands ownership to a
 *                        sleeping waiter; newcomers neither spin nor barge.
 *                        Set only by a waiter that saw LOCKED and has waited
 *                        longer than the threshold.
 *   bit 3      STATS     constant for the mutex's life: statistics are on.
 *                        It keeps the word non-zero, so the first CAS from 0
 *                        fails; the fast paths then retry from STATS and
 *                        count the acquisition inline. A mutex without
 *                        statistics never reaches that code.
 *   bit 4      TIMED     constant: hold times are kept too. Every operation
 *                        of such a mutex goes out of line, to read the clock.
 *   bits 5-31  waiters   threads queued on the futex word `sema` that have
 *                        no wake token yet. Whoever posts a token to `sema`
 *                        takes one off this count in the same CAS, so
 *                        sleepers = waiters + tokens at every instant.
 *
 * All-zero is an unlocked mutex in normal mode with nobody waiting.
 */
#define AMUTEX_STATE_LOCKED   1u
#define AMUTEX_STATE_WOKEN    2u
#define AMUTEX_STATE_STARVING 4u
#define AMUTEX_STATE_STATS    8u
#define AMUTEX_STATE_TIMED    16u
/*
 * The futex word (amutex_t.sema): bits 0-7 count posted wake tokens (at most
 * one is ever outstanding), bits 8-31 count posts, so each post changes it.
 */
#define AMUTEX_SEMA_TOKENS(w) ((w) & 0xffu)
#define AMUTEX_SEMA_POST      0x101u
#define AMUTEX_STATE_WAITER_SHIFT 5
#define AMUTEX_STATE_WAITER   (1u << AMUTEX_STATE_WAITER_SHIFT)

struct amutex_stats;

/*
 * The statistics block starts with this: the fast paths of an observed
 * mutex count their acquisitions here, inline, as its holder (a relaxed
 * load and store; nobody else writes it).
 */
struct amutex_stats_head {
	uint64_t acquired_fast;
};

static inline void amutex_count_fast_(struct amutex_stats *s)
{
	uint64_t *c = &((struct amutex_stats_head *)(void *)s)->acquired_fast;

	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

/*
 * amutex_t: 32 bytes, embeddable, all-zero = unlocked default mutex.
 * Layout: state and sema share a cache line on purpose (a waker touches
 * both); 32 bytes, so an array aligned to 64 never splits one across two
 * lines, and a striped group of 2000 takes 64 KiB. Bytes 16-23 are never
 * touched by amutex: they belong to whoever embeds the mutex (the pthread
 * drop-in keeps glibc's mutex kind there, where glibc's static
 * initializers write it).
 */
typedef struct amutex {
	uint32_t state;		/* 0: lock word, above */
	uint32_t sema;		/* 4: futex word: tokens and post count, above */
	uint32_t starve_ns;	/* 8: starvation threshold; 0: process default */
	int16_t spin;		/* 12: encoded spin setting; 0: process default */
	uint16_t flags;		/* 14: AMUTEX_FLAG_* */
	uint32_t embed[2];	/* 16: the embedder's, never touched */
	struct amutex_stats *stats; /* 24: NULL: statistics off */
} amutex_t;

/* flags: wait and wake with shared futexes (a mutex in shared memory). */
#define AMUTEX_FLAG_SHARED 1u

#define AMUTEX_INITIALIZER { 0, 0, 0, 0, 0, { 0, 0 }, 0 }

/* Attribute values. */
#define AMUTEX_STARVATION_DEFAULT 0ull		 /* process default (1 ms) */
#define AMUTEX_STARVATION_NEVER   UINT64_MAX	 /* normal mode only */
#define AMUTEX_STARVATION_MAX_NS  4294967294ull	 /* ~4.29 s */

#define AMUTEX_SPIN_DEFAULT (-2)	/* process default (AMUTEX_SPIN) */
#define AMUTEX_SPIN_AUTO    (-1)	/* by effective CPUs, 4 rounds */
#define AMUTEX_SPIN_OFF     0
#define AMUTEX_SPIN_MAX     1000	/* rounds of 30 pauses */

struct amutex_hooks;

/* Fields are private: use the calls below (and those in amutex/stats.h). */
typedef struct amutex_attr {
	uint64_t starve_ns;
	int spin;
	int stats;
	const char *name;
	const struct amutex_hooks *hooks;
	int hold_times;
	uint32_t magic;
} amutex_attr_t;

AMUTEX_API int amutex_attr_init(amutex_attr_t *attr);
AMUTEX_API int amutex_attr_destroy(amutex_attr_t *attr);
/* ns in [1, AMUTEX_STARVATION_MAX_NS], DEFAULT or NEVER; else EINVAL. */
AMUTEX_API int amutex_attr_setstarvation(amutex_attr_t *attr, uint64_t ns);
AMUTEX_API int amutex_attr_getstarvation(const amutex_attr_t *attr, uint64_t *ns);
/* DEFAULT, AUTO, OFF, or 1..AMUTEX_SPIN_MAX rounds; else EINVAL. */
AMUTEX_API int amutex_attr_setspin(amutex_attr_t *attr, int spin);
AMUTEX_API int amutex_attr_getspin(const amutex_attr_t *attr, int *spin);
/* 1: keep per-lock counters (include/amutex/stats.h); 0: off. */
AMUTEX_API int amutex_attr_setstats(amutex_attr_t *attr, int on);
AMUTEX_API int amutex_attr_getstats(const amutex_attr_t *attr, int *on);

/* attr NULL: defaults. ENOMEM only when stats are asked for. */
AMUTEX_API int amutex_init(amutex_t *m, const amutex_attr_t *attr);
/* EBUSY while locked or waited on; the mutex is then left untouched. */
AMUTEX_API int amutex_destroy(amutex_t *m);

AMUTEX_API int amutex_lock_slow(amutex_t *m, const struct timespec *abs_mono);
AMUTEX_API void amutex_unlock_slow(amutex_t *m, uint32_t state);
AMUTEX_API int amutex_unlock_unowned(amutex_t *m);
AMUTEX_API void amutex_stats_trylocked(amutex_t *m);

/*
 * amutex_trylock: take the mutex if free and not in starvation mode (a
 * starving mutex belongs to its queue). 0 or EBUSY. Pair with
 * amutex_unlock.
 */
static inline int amutex_trylock(amutex_t *m)
{
	uint32_t old = __atomic_load_n(&m->state, __ATOMIC_RELAXED);

	while (!(old & (AMUTEX_STATE_LOCKED | AMUTEX_STATE_STARVING))) {
		/* Acquire: paired with the release in amutex_unlock. */
		if (__atomic_compare_exchange_n(&m->state, &old,
				old | AMUTEX_STATE_LOCKED, 0,
				__ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			if (__builtin_expect(old & AMUTEX_STATE_TIMED, 0))
				amutex_stats_trylocked(m);
			else if (__builtin_expect(old & AMUTEX_STATE_STATS, 0))
				amutex_count_fast_(m->stats);
			return 0;
		}
	}
	return EBUSY;
}

/*
 * amutex_lock: one CAS from 0 to LOCKED, else the slow path (spin, sleep,
 * handoff). Always 0 for a valid mutex. Pair with amutex_unlock.
 */
static inline int amutex_lock(amutex_t *m)
{
	uint32_t old = 0;

	/* Acquire: paired with the release in amutex_unlock. */
	if (__builtin_expect(__atomic_compare_exchange_n(&m->state, &old,
			AMUTEX_STATE_LOCKED, 0, __ATOMIC_ACQUIRE,
			__ATOMIC_RELAXED), 1))
		return 0;
	/* An observed mutex, free: retry from its resting word. */
	if (old == AMUTEX_STATE_STATS && __atomic_compare_exchange_n(&m->state,
			&old, AMUTEX_STATE_STATS | AMUTEX_STATE_LOCKED, 0,
			__ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		amutex_count_fast_(m->stats);
		return 0;
	}
	return amutex_lock_slow(m, 0);
}

/*
 * amutex_timedlock: like amutex_lock, but gives up at abs_mono, an absolute
 * CLOCK_MONOTONIC time: ETIMEDOUT, or EINVAL for a malformed timespec (only
 * checked when the mutex is not free, as POSIX allows). Pair with
 * amutex_unlock.
 */
static inline int amutex_timedlock(amutex_t *m, const struct timespec *abs_mono)
{
	uint32_t old = 0;

	if (__atomic_compare_exchange_n(&m->state, &old, AMUTEX_STATE_LOCKED,
			0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return 0;
	return amutex_lock_slow(m, abs_mono);
}

/*
 * amutex_unlock: one atomic subtraction; the slow path only when someone
 * waits or the mutex starves. EPERM when the mutex was not locked (the word
 * is restored). Release: paired with the acquire in amutex_lock.
 */
static inline int amutex_unlock(amutex_t *m)
{
	uint32_t state = __atomic_sub_fetch(&m->state, AMUTEX_STATE_LOCKED,
					    __ATOMIC_RELEASE);

	if (__builtin_expect(state != 0, 0) && state != AMUTEX_STATE_STATS) {
		if ((state + AMUTEX_STATE_LOCKED) & AMUTEX_STATE_LOCKED)
			amutex_unlock_slow(m, state);
		else
			return amutex_unlock_unowned(m);
	}
	return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* AMUTEX_H */
