/*
 * amutex's inline fast paths and the lock word they work on. Not API:
 * include <amutex.h>, which includes this. Everything here may change
 * between releases except what the ABI pins (docs/packaging.md): the
 * layout asserted below and the meaning of each bit.
 *
 * The lock word (amutex_t.state). Every transition is in docs/design.md,
 * with the function that makes it; this is the summary the code relies on.
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
 *   bit 3      TIMED     constant: hold times are kept. It keeps the word
 *                        from resting at 0, so every operation of such a
 *                        mutex goes out of line, to read the clock.
 *   bits 4-31  waiters   threads queued on the futex word `sema` that have
 *                        no wake token yet. Whoever posts a token to `sema`
 *                        takes one off this count in the same CAS, so
 *                        sleepers = waiters + tokens at every instant.
 *
 * An unlock releases the lock and decides whom to wake in one CAS, and
 * after it touches nothing of the mutex but the post of a token, which a
 * sleeper is still blocked on (so nobody can have destroyed the mutex), and
 * a futex wake on its address, harmless if the memory is gone.
 *
 * The futex word (amutex_t.sema): bits 0-7 count posted wake tokens (at most
 * one is ever outstanding), bits 8-31 count posts, so each post changes it.
 *
 * The other fields: starve_ns, the starvation threshold (0: the process
 * default; UINT32_MAX: never); spin, the encoded spin setting (0: the
 * process default); flags, AMUTEX__FLAG_SHARED for a mutex in shared memory
 * (shared futexes) and the fairness attribute; embed, the embedder's; stats, NULL or the statistics
 * block, whose shards start with struct amutex__stats_head. Statistics are not in
 * the lock word: an observed mutex rests at 0 like any other, and its fast
 * paths count after the CAS that took the lock (one load and one branch).
 *
 * All-zero is an unlocked mutex in normal mode with nobody waiting.
 */
#ifndef AMUTEX_STATIC_AMUTEX_H
#define AMUTEX_STATIC_AMUTEX_H

#ifndef AMUTEX_H
#error "include <amutex.h>, not <amutex/static/amutex.h>"
#endif

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#define AMUTEX__STATIC_ASSERT(c, msg) static_assert(c, msg)
#else
#define AMUTEX__STATIC_ASSERT(c, msg) _Static_assert(c, msg)
#endif

#define AMUTEX__LOCKED   1u
#define AMUTEX__WOKEN    2u
#define AMUTEX__STARVING 4u
#define AMUTEX__TIMED    8u
#define AMUTEX__WAITER_SHIFT 4
#define AMUTEX__WAITER   (1u << AMUTEX__WAITER_SHIFT)

#define AMUTEX__SEMA_TOKENS(w) ((w) & 0xffu)
#define AMUTEX__SEMA_POST      0x101u

#define AMUTEX__FLAG_SHARED   1u
#define AMUTEX__FLAG_FAIR_SET 2u	/* fairness chosen by attribute: FLAG_FAIR says which */
#define AMUTEX__FLAG_FAIR     4u

/*
 * The fast paths touch state and stats and the head of the statistics
 * block; the library and every embedder (the pthread drop-in keeps glibc's
 * mutex kind in embed[0], at offset 16) rely on this layout. state and sema
 * share a cache line on purpose (a waker changes both); 32 bytes, so an
 * array aligned to 64 never splits a mutex across two lines.
 */
AMUTEX__STATIC_ASSERT(offsetof(amutex_t, state) == 0, "amutex_t.state at 0");
AMUTEX__STATIC_ASSERT(offsetof(amutex_t, sema) == 4, "amutex_t.sema at 4");
AMUTEX__STATIC_ASSERT(offsetof(amutex_t, starve_ns) == 8, "amutex_t.starve_ns at 8");
AMUTEX__STATIC_ASSERT(offsetof(amutex_t, spin) == 12, "amutex_t.spin at 12");
AMUTEX__STATIC_ASSERT(offsetof(amutex_t, flags) == 14, "amutex_t.flags at 14");
AMUTEX__STATIC_ASSERT(offsetof(amutex_t, embed) == 16, "amutex_t.embed at 16");
AMUTEX__STATIC_ASSERT(offsetof(amutex_t, stats) == 24, "amutex_t.stats at 24");
AMUTEX__STATIC_ASSERT(sizeof(amutex_t) == 32, "amutex_t is 32 bytes");

/*
 * The statistics block starts with AMUTEX__STATS_SHARDS shards of one
 * cache line each, and each shard starts with this: the fast paths of an
 * observed mutex count their acquisitions in the shard of the CPU they run
 * on, inline, as its holder (a relaxed load and store). Only the holder
 * writes a shard, whichever it is, so no atomic operation is needed; and
 * the shard's line stays with its CPU instead of travelling with the lock.
 * lib/stats pins the block's layout to these.
 */
struct amutex__stats_head {
	uint64_t acquired_fast;
};
#define AMUTEX__STATS_SHARDS      16
#define AMUTEX__STATS_SHARD_BYTES 64

/*
 * The holder's shard: the CPU it runs on (glibc 2.35 and later keep it in
 * the thread's rseq area, one load away), modulo the shard count. Any value
 * is correct, only the locality changes: where rseq is off or unknown, 0.
 */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35)) && \
    (defined(__x86_64__) || defined(__aarch64__)) && defined(__has_builtin)
#if __has_builtin(__builtin_thread_pointer)
#define AMUTEX__RSEQ_CPU 1
/*
 * glibc's __rseq_offset under a name of our own: <sys/rseq.h> declares it
 * without C linkage in C++, which a second declaration here would conflict
 * with.
 */
extern const ptrdiff_t amutex__rseq_offset __asm__("__rseq_offset");
#endif
#endif
AMUTEX__STATIC_ASSERT((AMUTEX__STATS_SHARDS & (AMUTEX__STATS_SHARDS - 1)) == 0,
		      "the shard count is a power of two: the index is masked");

static inline unsigned amutex__stats_shard_index(void)
{
#ifdef AMUTEX__RSEQ_CPU
	/* struct rseq's cpu_id, at 4; negative (unregistered) works as any value. */
	return (unsigned)*(const volatile int *)(const void *)
		((const char *)__builtin_thread_pointer() + amutex__rseq_offset + 4) &
	       (AMUTEX__STATS_SHARDS - 1);
#else
	return 0;
#endif
}

/* The slow paths (lib/mutex/protocol.c). */
AMUTEX_API int amutex__lock_slow(amutex_t *m, const struct timespec *abs_mono);
AMUTEX_API int amutex__unlock_slow(amutex_t *m);
AMUTEX_API void amutex__trylocked_timed(amutex_t *m);

/*
 * amutex__count_fast: an uncontended acquisition, counted by the new holder
 * in its shard when the mutex keeps statistics. The pointer is loaded
 * relaxed: the block is zeroed before any mutex points to it, and only this
 * field is written here. Pair with amutex__acquire_fast.
 */
static inline void amutex__count_fast(amutex_t *m)
{
	struct amutex__stats *s = __atomic_load_n(&m->stats, __ATOMIC_RELAXED);
	uint64_t *c;

	if (__builtin_expect(s == 0, 1))
		return;
	c = &((struct amutex__stats_head *)(void *)((char *)s + AMUTEX__STATS_SHARD_BYTES *
						     amutex__stats_shard_index()))->acquired_fast;
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

/*
 * amutex__acquire_fast: L1, the CAS from 0 to LOCKED. 1 when it took the
 * mutex. Acquire: paired with the release in amutex__release_fast and
 * amutex__unlock_slow.
 */
static inline int amutex__acquire_fast(amutex_t *m)
{
	uint32_t zero = 0;

	return __builtin_expect(__atomic_compare_exchange_n(&m->state, &zero,
			AMUTEX__LOCKED, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED), 1);
}

/*
 * amutex__release_fast: U1, the CAS from LOCKED to 0. 1 when that was all
 * (nobody waits, the mutex neither starves nor keeps hold times); else 0,
 * and amutex__unlock_slow does the rest. Release: paired with the acquire
 * in amutex__acquire_fast and the slow path.
 */
static inline int amutex__release_fast(amutex_t *m)
{
	uint32_t locked = AMUTEX__LOCKED;

	return __builtin_expect(__atomic_compare_exchange_n(&m->state, &locked, 0, 0,
			__ATOMIC_RELEASE, __ATOMIC_RELAXED), 1);
}

static inline int amutex_trylock(amutex_t *m)
{
	uint32_t old = __atomic_load_n(&m->state, __ATOMIC_RELAXED);

	while (!(old & (AMUTEX__LOCKED | AMUTEX__STARVING))) {
		/* L2 by trylock. Acquire: paired with the release in amutex_unlock. */
		if (__atomic_compare_exchange_n(&m->state, &old, old | AMUTEX__LOCKED, 0,
				__ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			if (__builtin_expect(old & AMUTEX__TIMED, 0))
				amutex__trylocked_timed(m);
			else
				amutex__count_fast(m);
			return 0;
		}
	}
	return EBUSY;
}

static inline int amutex_lock(amutex_t *m)
{
	if (amutex__acquire_fast(m)) {
		amutex__count_fast(m);
		return 0;
	}
	return amutex__lock_slow(m, 0);
}

static inline int amutex_timedlock(amutex_t *m, const struct timespec *abs_mono)
{
	if (amutex__acquire_fast(m)) {
		amutex__count_fast(m);
		return 0;
	}
	return amutex__lock_slow(m, abs_mono);
}

static inline int amutex_unlock(amutex_t *m)
{
	return amutex__release_fast(m) ? 0 : amutex__unlock_slow(m);
}

#ifdef __cplusplus
}
#endif

#endif /* AMUTEX_STATIC_AMUTEX_H */
