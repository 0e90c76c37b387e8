/*
 * amutex_group_t's layout and its inline paths: key to stripe, and the
 * by-key lock calls. Not API: include <amutex/group.h>, which includes this.
 *
 * Memory. The header (one 64-byte line, read-only after init: every lock
 * reads it) is followed by the stripes, stripe i at base + (i << shift):
 * shift 6 (PADDED, 32 bytes of amutex_t and 32 unused, so no two stripes
 * share a line) or 5 (PACKED, two stripes per line). A created group is
 * one allocation; a static one is the caller's storage. With statistics,
 * stats points to a separate block (lib/group/group.h) that the stats layer
 * frees after its readers are done.
 *
 * Key to stripe. Keys are mixed first: pointers are aligned and small
 * integers differ only in low bits, while the reduction below keeps the
 * high bits of the hash. The mixer is splitmix64's finalizer (Stafford's
 * variant 13), a bijection in which every input bit flips each output bit
 * with probability close to 1/2. The reduction is Lemire's multiply-high,
 * ((unsigned 128) h * n) >> 64: no division, and the 2^64 hash values split
 * into n runs of floor(2^64/n) or ceil(2^64/n), so for any n (2000 as well
 * as 2048) the bias between stripes is below n/2^64 relative.
 */
#ifndef AMUTEX_STATIC_GROUP_H
#define AMUTEX_STATIC_GROUP_H

#ifndef AMUTEX_GROUP_H
#error "include <amutex/group.h>, not <amutex/static/group.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct amutex__group_stats;

struct amutex_group {
	unsigned char *base;		/* stripe 0, 64-byte aligned */
	uint32_t n;			/* stripes */
	uint32_t shift;			/* log2 of the stride */
	struct amutex__group_stats *stats; /* NULL: statistics off */
	struct amutex__stats *block;	/* the stats layer's block (with stats) */
	uint32_t flags;			/* AMUTEX__GROUP_ALLOCATED */
	uint32_t magic;
	unsigned char pad_[64 - 2 * sizeof(void *) - 4 * sizeof(uint32_t) - sizeof(void *)];
};

AMUTEX__STATIC_ASSERT(sizeof(struct amutex_group) == 64, "the group's header is one line");

#define AMUTEX__GROUP_SHIFT_PADDED 6
#define AMUTEX__GROUP_SHIFT_PACKED 5

/* Key kinds as the statistics record them. */
#define AMUTEX__GROUP_U64   0
#define AMUTEX__GROUP_PTR   1
#define AMUTEX__GROUP_BYTES 2

/* The out-of-line paths (lib/group/). */
AMUTEX_API int amutex__group_lock_observed(amutex_group_t *g, uint32_t i, int kind,
					   uint64_t key, const void *bytes, size_t len,
					   const struct timespec *abs_mono);
AMUTEX_API int amutex__group_trylock_observed(amutex_group_t *g, uint32_t i, int kind,
					      uint64_t key, const void *bytes, size_t len);

/* amutex__group_mix: splitmix64's finalizer. A bijection of 64-bit values. */
static inline uint64_t amutex__group_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

__extension__ typedef unsigned __int128 amutex__u128;

/* amutex__group_reduce: a 64-bit hash to [0, n), multiply-high (one mul on x86-64). */
static inline uint32_t amutex__group_reduce(uint64_t h, uint32_t n)
{
	return (uint32_t)(((amutex__u128)h * n) >> 64);
}

static inline uint32_t amutex_group_index_u64(uint64_t key, uint32_t n)
{
	return amutex__group_reduce(amutex__group_mix(key), n);
}

static inline uint32_t amutex_group_stripes(const amutex_group_t *g)
{
	return g->n;
}

static inline uint32_t amutex_group_stripe_of_u64(const amutex_group_t *g, uint64_t key)
{
	return amutex_group_index_u64(key, g->n);
}

static inline uint32_t amutex_group_stripe_of_ptr(const amutex_group_t *g, const void *key)
{
	return amutex_group_index_u64((uint64_t)(uintptr_t)key, g->n);
}

/* amutex__group_at: stripe i, unchecked. */
static inline amutex_t *amutex__group_at(amutex_group_t *g, uint32_t i)
{
	return (amutex_t *)(void *)(g->base + ((size_t)i << g->shift));
}

static inline amutex_t *amutex_group_stripe(amutex_group_t *g, uint32_t i)
{
	return i < g->n ? amutex__group_at(g, i) : (amutex_t *)0;
}

/*
 * amutex__group_lock_at: the by-key lock on stripe i: amutex_lock, or with
 * statistics the out-of-line path that counts it. One predictable branch
 * on the header's line, which the stripe's address needed anyway.
 */
static inline int amutex__group_lock_at(amutex_group_t *g, uint32_t i, int kind, uint64_t key)
{
	if (__builtin_expect(g->stats != 0, 0))
		return amutex__group_lock_observed(g, i, kind, key, 0, 0, 0);
	return amutex_lock(amutex__group_at(g, i));
}

static inline int amutex__group_trylock_at(amutex_group_t *g, uint32_t i, int kind, uint64_t key)
{
	if (__builtin_expect(g->stats != 0, 0))
		return amutex__group_trylock_observed(g, i, kind, key, 0, 0);
	return amutex_trylock(amutex__group_at(g, i));
}

static inline int amutex__group_timedlock_at(amutex_group_t *g, uint32_t i, int kind,
					     uint64_t key, const struct timespec *abs_mono)
{
	if (__builtin_expect(g->stats != 0, 0))
		return amutex__group_lock_observed(g, i, kind, key, 0, 0, abs_mono);
	return amutex_timedlock(amutex__group_at(g, i), abs_mono);
}

/* amutex_group_lock_u64: lock key's stripe. Pair with amutex_group_unlock_u64. */
static inline int amutex_group_lock_u64(amutex_group_t *g, uint64_t key)
{
	return amutex__group_lock_at(g, amutex_group_stripe_of_u64(g, key), AMUTEX__GROUP_U64, key);
}

/* amutex_group_trylock_u64: 0 or EBUSY. Pair with amutex_group_unlock_u64. */
static inline int amutex_group_trylock_u64(amutex_group_t *g, uint64_t key)
{
	return amutex__group_trylock_at(g, amutex_group_stripe_of_u64(g, key), AMUTEX__GROUP_U64, key);
}

/* amutex_group_timedlock_u64: 0, ETIMEDOUT or EINVAL. Pair with amutex_group_unlock_u64. */
static inline int amutex_group_timedlock_u64(amutex_group_t *g, uint64_t key,
					     const struct timespec *abs_mono)
{
	return amutex__group_timedlock_at(g, amutex_group_stripe_of_u64(g, key),
					  AMUTEX__GROUP_U64, key, abs_mono);
}

/* amutex_group_unlock_u64: 0 or EPERM. Nothing to count: statistics end at the acquisition. */
static inline int amutex_group_unlock_u64(amutex_group_t *g, uint64_t key)
{
	return amutex_unlock(amutex__group_at(g, amutex_group_stripe_of_u64(g, key)));
}

/* amutex_group_lock_ptr: lock the stripe of an address. Pair with amutex_group_unlock_ptr. */
static inline int amutex_group_lock_ptr(amutex_group_t *g, const void *key)
{
	return amutex__group_lock_at(g, amutex_group_stripe_of_ptr(g, key), AMUTEX__GROUP_PTR,
				     (uint64_t)(uintptr_t)key);
}

static inline int amutex_group_trylock_ptr(amutex_group_t *g, const void *key)
{
	return amutex__group_trylock_at(g, amutex_group_stripe_of_ptr(g, key), AMUTEX__GROUP_PTR,
					(uint64_t)(uintptr_t)key);
}

static inline int amutex_group_timedlock_ptr(amutex_group_t *g, const void *key,
					     const struct timespec *abs_mono)
{
	return amutex__group_timedlock_at(g, amutex_group_stripe_of_ptr(g, key), AMUTEX__GROUP_PTR,
					  (uint64_t)(uintptr_t)key, abs_mono);
}

static inline int amutex_group_unlock_ptr(amutex_group_t *g, const void *key)
{
	return amutex_unlock(amutex__group_at(g, amutex_group_stripe_of_ptr(g, key)));
}

#ifdef __cplusplus
}
#endif

#endif /* AMUTEX_STATIC_GROUP_H */
