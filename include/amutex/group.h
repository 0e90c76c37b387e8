/*
 * amutex_group_t: a striped lock. N amutex stripes; a key (a 64-bit
 * integer, a pointer, or a byte string) is mixed and reduced to one stripe,
 * and locking the key locks that stripe. One lock split into N, without a
 * lock per resource. bench/amutex-stripes picks N for a workload by
 * measuring it; docs/stripes.md says how to read what it prints.
 *
 * Every call returns 0 or a POSIX error code and leaves errno alone, except
 * the lookups (amutex_group_index_*, amutex_group_stripe_of_*,
 * amutex_group_stripe), which cannot fail and return what they look up.
 * The by-key lock calls and the lookups are inline: they are in
 * <amutex/static/group.h>, included at the end of this file, with the
 * layout of amutex_group_t.
 *
 * Deadlock rule. Two keys may share a stripe. A thread that holds key A and
 * locks key B deadlocks on itself when B is on A's stripe, and two threads
 * that lock A then B and B then A deadlock (ABBA) when the keys' stripes
 * are different in the other order. Lock several keys with
 * amutex_group_lock_many_* (one global order: ascending stripe index, each
 * stripe once), or compare amutex_group_stripe_of_* first and lock a shared
 * stripe once.
 *
 * Compiles as C11 and as C++.
 */
#ifndef AMUTEX_GROUP_H
#define AMUTEX_GROUP_H

#include <amutex.h>
#include <amutex/stats.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Stripe counts from 1 to this. 2^24 padded stripes are 1 GiB. */
#define AMUTEX_GROUP_STRIPES_MAX (1u << 24)

/*
 * Layouts. PADDED: one stripe per 64-byte cache line, so threads on
 * different stripes never share a line. PACKED: two stripes per line (an
 * amutex_t is 32 bytes), half the memory, and two stripes' holders may
 * then pass one line between their CPUs.
 */
#define AMUTEX_GROUP_PADDED 0
#define AMUTEX_GROUP_PACKED 1

/* Fields are private: use the calls below. */
typedef struct amutex_group_opts {
	uint64_t stripes;
	int layout;
	int stats;
	const amutex_attr_t *attr;
	const char *name;
	uint32_t magic;
} amutex_group_opts_t;

/* Defaults: no stripe count (it must be set), padded, no statistics. */
AMUTEX_API int amutex_group_opts_init(amutex_group_opts_t *opts);
/* n in [1, AMUTEX_GROUP_STRIPES_MAX]; else EINVAL. */
AMUTEX_API int amutex_group_opts_setstripes(amutex_group_opts_t *opts, uint64_t n);
/* AMUTEX_GROUP_PADDED or AMUTEX_GROUP_PACKED; else EINVAL. */
AMUTEX_API int amutex_group_opts_setlayout(amutex_group_opts_t *opts, int layout);
/*
 * Every stripe is initialized with attr (starvation threshold, spinning).
 * The pointer is kept until the group is made. EINVAL when attr asks for
 * statistics (a name, hooks, hold times): a group keeps its statistics as
 * one family (amutex_group_opts_setname, _setstats), not one per stripe.
 */
AMUTEX_API int amutex_group_opts_setattr(amutex_group_opts_t *opts, const amutex_attr_t *attr);
/*
 * Statistics for the whole group: per-stripe acquisition and contention
 * counters, one wait-time histogram, the keys of recent contended
 * acquisitions. 0 (default) or 1.
 */
AMUTEX_API int amutex_group_opts_setstats(amutex_group_opts_t *opts, int on);
/*
 * A name puts the group's statistics in the registry the exporters read
 * (include/amutex/stats.h), as one lock with the stripes' totals plus the
 * hottest stripes, the skew and the hot keys. Implies statistics. At most
 * AMUTEX_NAME_MAX bytes, copied when the group is made.
 */
AMUTEX_API int amutex_group_opts_setname(amutex_group_opts_t *opts, const char *name);

typedef struct amutex_group amutex_group_t;

/*
 * Storage a group of n stripes needs in a layout, header included: for
 * static groups. The storage must be aligned to 64 bytes.
 */
#define AMUTEX_GROUP_STORAGE(n, layout) \
	(64 + (size_t)(n) * ((layout) == AMUTEX_GROUP_PACKED ? 32 : 64))
/* The same at run time; EINVAL for bad options. */
AMUTEX_API int amutex_group_size(const amutex_group_opts_t *opts, size_t *bytes);

/*
 * A group in memory it allocates. EINVAL for bad options, ENOMEM when the
 * memory (or the statistics) cannot be allocated; nothing is left behind
 * on failure.
 */
AMUTEX_API int amutex_group_create(amutex_group_t **out, const amutex_group_opts_t *opts);
/*
 * A group in the caller's storage (len bytes, aligned to 64; see
 * AMUTEX_GROUP_STORAGE): no allocation unless statistics are asked for
 * (they are freed apart, after the exporters that may read them are done).
 * EINVAL for bad options, a short or misaligned storage.
 */
AMUTEX_API int amutex_group_init(amutex_group_t **out, void *storage, size_t len,
				 const amutex_group_opts_t *opts);
/* EBUSY while any stripe is held or waited on; the group is then untouched. */
AMUTEX_API int amutex_group_destroy(amutex_group_t *g);

/* Lookups. n and the layout are fixed for the group's life. */
static inline uint32_t amutex_group_stripes(const amutex_group_t *g);
/*
 * The stripe a key falls on among n stripes: the key mixed by a 64-bit
 * finalizer, then reduced with a multiply-high (fastrange). For any
 * n in [1, 2^32): each stripe receives floor(2^64/n) or ceil(2^64/n) of the
 * 2^64 hash values, a relative bias below n/2^64. Pure: the same key gives
 * the same stripe in every process and release of the same major version.
 */
static inline uint32_t amutex_group_index_u64(uint64_t key, uint32_t n);
static inline uint32_t amutex_group_stripe_of_u64(const amutex_group_t *g, uint64_t key);
static inline uint32_t amutex_group_stripe_of_ptr(const amutex_group_t *g, const void *key);
/* Byte strings: XXH3_64bits (xxHash 0.8), reduced the same way. */
AMUTEX_API uint32_t amutex_group_stripe_of_bytes(const amutex_group_t *g, const void *key,
						 size_t len);
/* Stripe i, to lock it directly or wait on it with a condition; NULL past the end. */
static inline amutex_t *amutex_group_stripe(amutex_group_t *g, uint32_t i);

/*
 * By key, as amutex_lock, amutex_trylock, amutex_timedlock and
 * amutex_unlock on the key's stripe (same results). Without statistics each
 * is exactly that call on the stripe. Pair each lock with the unlock of the
 * same key.
 */
static inline int amutex_group_lock_u64(amutex_group_t *g, uint64_t key);
static inline int amutex_group_trylock_u64(amutex_group_t *g, uint64_t key);
static inline int amutex_group_timedlock_u64(amutex_group_t *g, uint64_t key,
					     const struct timespec *abs_mono);
static inline int amutex_group_unlock_u64(amutex_group_t *g, uint64_t key);
static inline int amutex_group_lock_ptr(amutex_group_t *g, const void *key);
static inline int amutex_group_trylock_ptr(amutex_group_t *g, const void *key);
static inline int amutex_group_timedlock_ptr(amutex_group_t *g, const void *key,
					     const struct timespec *abs_mono);
static inline int amutex_group_unlock_ptr(amutex_group_t *g, const void *key);
AMUTEX_API int amutex_group_lock_bytes(amutex_group_t *g, const void *key, size_t len);
AMUTEX_API int amutex_group_trylock_bytes(amutex_group_t *g, const void *key, size_t len);
AMUTEX_API int amutex_group_timedlock_bytes(amutex_group_t *g, const void *key, size_t len,
					    const struct timespec *abs_mono);
AMUTEX_API int amutex_group_unlock_bytes(amutex_group_t *g, const void *key, size_t len);

/*
 * Lock-many: every stripe of a set of n keys, in one global order
 * (ascending stripe index), each stripe once however many keys share it;
 * so threads locking overlapping sets never deadlock. No allocation: the
 * caller passes scratch for n stripe indices; on return its first *locked
 * entries are the stripes held, ascending, for amutex_group_unlock_many,
 * which releases them in reverse. n = 0 locks nothing (*locked = 0).
 * EINVAL (nothing locked) for a NULL scratch or out of range stripe.
 */
AMUTEX_API int amutex_group_lock_many_u64(amutex_group_t *g, const uint64_t *keys, size_t n,
					  uint32_t *scratch, size_t *locked);
AMUTEX_API int amutex_group_lock_many_ptr(amutex_group_t *g, const void *const *keys,
					  size_t n, uint32_t *scratch, size_t *locked);
/* The same from stripe indices (amutex_group_stripe_of_*), sorted in place. */
AMUTEX_API int amutex_group_lock_stripes(amutex_group_t *g, uint32_t *stripes, size_t n,
					 size_t *locked);
/* Release what a lock-many took, highest stripe first; the first error, else 0. */
AMUTEX_API int amutex_group_unlock_many(amutex_group_t *g, const uint32_t *stripes,
					size_t locked);

/*
 * Statistics (groups made with statistics; else ENOTSUP).
 *
 * Per stripe, written by the stripe's holder, so exact: acquisitions,
 * contended acquisitions (the stripe was held, or a waiter had priority,
 * when asked for), and the nanoseconds they waited.
 */
struct amutex_group_stripe_stats {
	uint64_t acquired;
	uint64_t contended;
	uint64_t wait_ns;
};
AMUTEX_API int amutex_group_stripe_stats(const amutex_group_t *g, uint32_t i,
					 struct amutex_group_stripe_stats *out);
/*
 * The whole group: totals, the wait-time histogram of contended
 * acquisitions over every stripe, and the skew: how unevenly contention
 * falls on the stripes, the most contended stripe's count over the mean
 * (1.0: even; n: all on one stripe; 0: no contention).
 */
struct amutex_group_totals {
	uint64_t acquired;
	uint64_t contended;
	uint64_t wait_ns;
	uint64_t timeouts;
	double skew;
	uint32_t top_stripe;	/* the most contended */
};
AMUTEX_API int amutex_group_totals(const amutex_group_t *g, struct amutex_group_totals *out,
				   amutex_hist_t *wait);

/*
 * Sampled keys. The group keeps the keys of its last 256 contended
 * acquisitions with their waits (the waits sample), and of every 64th
 * acquisition of each stripe (the acquisitions sample), in fixed rings
 * written with relaxed atomic stores: no lock, no allocation, and an entry
 * may be torn by a concurrent writer. Byte-string keys are kept as their
 * hash and first 8 bytes.
 */
#define AMUTEX_GROUP_SAMPLE 256
#define AMUTEX_GROUP_SAMPLE_EVERY 64
/* _STRIPE: taken by amutex_group_lock_stripes, where only the stripe is known. */
enum amutex_group_key_kind {
	AMUTEX_GROUP_KEY_U64, AMUTEX_GROUP_KEY_PTR, AMUTEX_GROUP_KEY_BYTES, AMUTEX_GROUP_KEY_STRIPE
};
struct amutex_group_hot_key {
	enum amutex_group_key_kind kind;
	uint64_t key;		/* the integer, the address, or XXH3 of the bytes */
	char prefix[9];		/* bytes keys: the first 8 bytes, NUL-terminated */
	uint64_t len;		/* bytes keys: the length */
	uint32_t stripe;
	uint64_t waits;		/* in the sample */
	double wait_share;	/* of the sample's total wait, 0..1 */
};
/* Keys of the waits sample by their share of the waiting, worst first; *n of at most max. */
AMUTEX_API int amutex_group_hot_keys(const amutex_group_t *g, struct amutex_group_hot_key *out,
				     size_t max, size_t *n);
/*
 * Append a key trace, one key per line, for bench/amutex-stripes
 * --dist trace:PATH:
 * integers in decimal, pointers as 0x..., byte strings as xxh3:HEX. which:
 * AMUTEX_GROUP_TRACE_ACQUIRED (the acquisitions sample: a model of the
 * workload) or AMUTEX_GROUP_TRACE_WAITS (the waits sample). *cursor (start
 * at 0) makes repeated calls append only entries not written yet (at most
 * the ring's 256 newest). EIO when writing fails.
 */
#define AMUTEX_GROUP_TRACE_ACQUIRED 0
#define AMUTEX_GROUP_TRACE_WAITS 1
AMUTEX_API int amutex_group_write_keys(const amutex_group_t *g, FILE *out, int which,
				       uint64_t *cursor);
/* The group's report for people: totals, hottest stripes, skew, hot keys. */
AMUTEX_API int amutex_group_report(const amutex_group_t *g, FILE *out);

#ifdef __cplusplus
}
#endif

#include <amutex/static/group.h>

#endif /* AMUTEX_GROUP_H */
