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
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Log-linear histogram: values below 2^AMUTEX_HIST_SUB_BITS+1 ns have a
 * bucket each; above, every power of two is cut into 2^AMUTEX_HIST_SUB_BITS
 * buckets, so a bucket spans at most 1/32 (3.1%) of its value and a quantile
 * read at the bucket's midpoint is within 1.6%: two significant digits.
 * The top bucket ends at 2^AMUTEX_HIST_MAX_BITS ns (68.7 s); larger values
 * are counted there. Recording is a few relaxed atomic adds: lock-free, and
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
/*
 * The same for a histogram that one thread at a time records into (say,
 * under a lock); readers may still read it at any time. No atomic
 * read-modify-write: a few nanoseconds instead of about twenty.
 */
AMUTEX_API void amutex_hist_record_excl(amutex_hist_t *h, uint64_t ns);
/* dst += src; src may be recorded into meanwhile (relaxed snapshot). */
AMUTEX_API void amutex_hist_merge(amutex_hist_t *dst, const amutex_hist_t *src);
/* q in [0, 1]; 0 for an empty histogram. The bucket's midpoint, capped by max. */
AMUTEX_API uint64_t amutex_hist_quantile(const amutex_hist_t *h, double q);
/* A duration for people: "750ns", "12.5us", "1.3ms", "2.40s". Returns buf. */
AMUTEX_API const char *amutex_format_ns(uint64_t ns, char *buf, size_t len);
/* Bucket geometry, for exporters: index of a value, upper bound of a bucket. */
AMUTEX_API unsigned amutex_hist_index(uint64_t ns);
AMUTEX_API uint64_t amutex_hist_upper(unsigned index);

/*
 * A histogram for many recording threads: one amutex_hist_t per shard, a
 * thread always records into the same shard (assigned round-robin at its
 * first record), so threads on different shards never share a cache line.
 * Allocated once; recording never allocates.
 */
typedef struct amutex_hist_sharded amutex_hist_sharded_t;

/* shards: 0 for one per CPU. NULL when out of memory. */
AMUTEX_API amutex_hist_sharded_t *amutex_hist_sharded_new(unsigned shards);
AMUTEX_API void amutex_hist_sharded_free(amutex_hist_sharded_t *h);
AMUTEX_API void amutex_hist_sharded_record(amutex_hist_sharded_t *h, uint64_t ns);
/* out = the sum of all shards. */
AMUTEX_API void amutex_hist_sharded_read(const amutex_hist_sharded_t *h, amutex_hist_t *out);

/*
 * Counters of one mutex. Acquisitions are counted by the thread that just
 * acquired, so they are exact; the sum of the three paths is the number of
 * successful lock, trylock and timedlock calls.
 */
struct amutex_counters {
	uint64_t acquired_fast;		/* first attempt, no spin, no sleep */
	uint64_t acquired_spin;		/* after spinning (or yielding), without sleeping */
	uint64_t acquired_sleep;	/* after sleeping at least once */
	uint64_t handoffs;		/* received directly from an unlock */
	uint64_t timeouts;		/* timedlock calls that gave up */
	uint64_t starvation_entries;	/* normal -> starvation */
	uint64_t starvation_exits;	/* starvation -> normal */
	uint64_t starvation_ns;		/* time spent in starvation mode */
	uint64_t peak_waiters;		/* most sleepers seen at once */
	int starving;			/* in starvation mode right now */
	const void *first_contended_site; /* code address of the first call that waited */
};

/* ENOTSUP when the mutex was made without stats. */
AMUTEX_API int amutex_stats_read(const amutex_t *m, struct amutex_counters *out);
/* The wait-time histogram of acquisitions that slept or spun. */
AMUTEX_API int amutex_stats_wait_hist(const amutex_t *m, amutex_hist_t *out);
/* Hold times (amutex_attr_setholdtimes); ENOTSUP when not kept. */
AMUTEX_API int amutex_stats_hold_hist(const amutex_t *m, amutex_hist_t *out);

/*
 * Named locks. A name puts the mutex's statistics in the process-wide
 * registry that the exporters read; it implies statistics. The name is
 * copied by amutex_init; at most AMUTEX_NAME_MAX bytes.
 */
#define AMUTEX_NAME_MAX 127
AMUTEX_API int amutex_attr_setname(amutex_attr_t *attr, const char *name);
/* Keep a hold-time histogram too (reads the clock on every acquisition). */
AMUTEX_API int amutex_attr_setholdtimes(amutex_attr_t *attr, int on);

/*
 * Hooks: called from slow paths of mutexes with statistics, never from a
 * fast path. Rules, since they run inside lock operations:
 *  - contended runs in the thread that just acquired the mutex, with the
 *    mutex held; starvation_enter in the waiter that switched the mode
 *    (the mutex is held by another thread); starvation_exit in the thread
 *    that ended it.
 *  - A hook must not lock, unlock or destroy the mutex it is called for,
 *    must not block, and should return within microseconds: everyone
 *    queued on that mutex waits for it.
 *  - Hooks may be called from many threads at once.
 * Any member may be NULL. The struct must outlive its use: amutex keeps
 * the pointer.
 */
struct amutex_hooks {
	void (*contended)(void *arg, const amutex_t *m, const char *name, uint64_t wait_ns);
	void (*starvation_enter)(void *arg, const amutex_t *m, const char *name);
	void (*starvation_exit)(void *arg, const amutex_t *m, const char *name, uint64_t starving_ns);
	void *arg;
};

/* Per mutex: implies statistics. */
AMUTEX_API int amutex_attr_sethooks(amutex_attr_t *attr, const struct amutex_hooks *hooks);
/* For every mutex with statistics, after its own hooks; NULL clears. */
AMUTEX_API int amutex_hooks_set_global(const struct amutex_hooks *hooks);

/*
 * Exporters: every named mutex, read without blocking lock users.
 *   PROMETHEUS: text exposition format 0.0.4 (docs/metrics.md)
 *   JSON:       one object, {"locks": [...]}
 *   TABLE:      for people, worst total wait first
 * EIO when writing to out fails.
 */
enum amutex_format { AMUTEX_FORMAT_PROMETHEUS, AMUTEX_FORMAT_JSON, AMUTEX_FORMAT_TABLE };
AMUTEX_API int amutex_export(FILE *out, enum amutex_format format);
/* Number of named mutexes registered now. */
AMUTEX_API size_t amutex_registry_size(void);

/*
 * Publishing. amutex_metrics_file_start rewrites PATH (Prometheus text)
 * atomically (write a temporary file, rename) every interval_ns and once
 * more at amutex_metrics_stop. amutex_metrics_http_start serves GET
 * /metrics on a loopback address "127.0.0.1:PORT" (PORT 0: any; the bound
 * port is returned through *port). EINVAL for a bad argument, EADDRNOTAVAIL
 * for an address that is not loopback, EALREADY when running; others from
 * the system.
 */
AMUTEX_API int amutex_metrics_file_start(const char *path, uint64_t interval_ns);
AMUTEX_API int amutex_metrics_http_start(const char *addr, unsigned *port);
AMUTEX_API void amutex_metrics_stop(void);

/*
 * Watchdog. Every window/4 it looks at each named mutex's waits over the
 * last window: when the p99 wait exceeds p99_ns, or the mutex spent more
 * than starving_share of the window in starvation mode, it calls fire
 * and/or appends a report (the worst mutexes, with the call sites that
 * first waited on them) to report_path ("stderr" for standard error), at
 * most once per cooldown_ns. A limit of 0 is off.
 */
struct amutex_watch_event {
	const char *name;
	const amutex_t *lock;
	uint64_t p99_ns;		/* over the window */
	uint64_t waits;			/* contended acquisitions in the window */
	double starving_share;		/* of the window, 0..1 */
	const void *first_contended_site;
};
struct amutex_watch {
	uint64_t p99_ns;
	double starving_share;
	uint64_t window_ns;		/* 0: 10 s */
	uint64_t cooldown_ns;		/* 0: 60 s */
	void (*fire)(void *arg, const struct amutex_watch_event *worst, size_t n);
	void *arg;
	const char *report_path;
};
AMUTEX_API int amutex_watch_start(const struct amutex_watch *w);
AMUTEX_API void amutex_watch_stop(void);

/*
 * Start what the environment asks for: AMUTEX_METRICS=PATH with
 * AMUTEX_METRICS_INTERVAL (a duration, default 10s),
 * AMUTEX_METRICS_ADDR=127.0.0.1:PORT, and AMUTEX_WATCH (docs/metrics.md).
 * A malformed value is reported once on stderr and that part not started
 * (or started with its default, where one exists). Returns how many parts
 * were started.
 */
AMUTEX_API int amutex_metrics_from_env(void);

#ifdef __cplusplus
}
#endif

#endif /* AMUTEX_STATS_H */
