/*
 * amutex statistics: per-lock counters and a log-linear histogram of
 * nanoseconds. A mutex keeps counters only when its attribute asked for
 * them (amutex_attr_setstats); a mutex without them pays nothing.
 */
#ifndef AMUTEX_STATS_H
#define AMUTEX_STATS_H

#include <amutex.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Log-linear histogram: values below 2^AMUTEX_HIST_SUB_BITS+1 ns have a
 * bucket each; above, every power of two is cut into 2^AMUTEX_HIST_SUB_BITS
 * buckets, so a bucket spans at most 1/32 (3.1%) of its value and a quantile
 * read at the bucket's midpoint is within 1.6%: two significant digits.
 * The top bucket ends at 2^AMUTEX_HIST_MAX_BITS ns (68.7 s); larger values
 * are counted there. Recording is one relaxed atomic add: lock-free, and
 * free of contention when, as for a lock's wait times, the recorder holds
 * the lock. 4 KiB of buckets, fixed.
 */
#define AMUTEX_HIST_SUB_BITS 5
#define AMUTEX_HIST_MAX_BITS 36
#define AMUTEX_HIST_BUCKETS \
	((AMUTEX_HIST_MAX_BITS - AMUTEX_HIST_SUB_BITS + 1) << AMUTEX_HIST_SUB_BITS)

typedef struct amutex_hist {
	uint64_t count;
	uint64_t sum_ns;
	uint64_t max_ns;
	uint32_t bucket[AMUTEX_HIST_BUCKETS];
} amutex_hist_t;

AMUTEX_API void amutex_hist_init(amutex_hist_t *h);
AMUTEX_API void amutex_hist_record(amutex_hist_t *h, uint64_t ns);
/* dst += src; src may be recorded into meanwhile (relaxed snapshot). */
AMUTEX_API void amutex_hist_merge(amutex_hist_t *dst, const amutex_hist_t *src);
/* q in [0, 1]; 0 for an empty histogram. The bucket's midpoint, capped by max. */
AMUTEX_API uint64_t amutex_hist_quantile(const amutex_hist_t *h, double q);
/* Bucket geometry, for exporters: index of a value, upper bound of a bucket. */
AMUTEX_API unsigned amutex_hist_index(uint64_t ns);
AMUTEX_API uint64_t amutex_hist_upper(unsigned index);

/*
 * Counters of one mutex. Acquisitions are counted by the thread that just
 * acquired, so they are exact; the sum of the three paths is the number of
 * successful lock, trylock and timedlock calls.
 */
struct amutex_counters {
	uint64_t acquired_fast;		/* first attempt, no spin, no sleep */
	uint64_t acquired_spin;		/* after spinning, without sleeping */
	uint64_t acquired_sleep;	/* after sleeping at least once */
	uint64_t handoffs;		/* received directly from an unlock */
	uint64_t timeouts;		/* timedlock calls that gave up */
	uint64_t starvation_entries;	/* normal -> starvation */
	uint64_t starvation_exits;	/* starvation -> normal */
	uint64_t starvation_ns;		/* time spent in starvation mode */
	uint64_t peak_waiters;		/* most sleepers seen at once */
	int starving;			/* in starvation mode right now */
};

/* ENOTSUP when the mutex was made without stats. */
AMUTEX_API int amutex_stats_read(const amutex_t *m, struct amutex_counters *out);
/* The wait-time histogram of acquisitions that slept or spun. */
AMUTEX_API int amutex_stats_wait_hist(const amutex_t *m, amutex_hist_t *out);

#ifdef __cplusplus
}
#endif

#endif /* AMUTEX_STATS_H */
