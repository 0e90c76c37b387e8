/*
 * Private to lib/stats and its users: the statistics block of one lock,
 * what the slow paths record into it, what readers may read of it, the
 * registry of named blocks, and the helpers of the exporters.
 *
 * Who calls whom: lib/mutex records (stats.c) and makes and releases blocks
 * (registry.c); exporters, publishers and the watchdog read blocks only
 * through the accessors below.
 */
#ifndef AMUTEX_STATS_PRIVATE_H
#define AMUTEX_STATS_PRIVATE_H

#include "../base/base.h"

#include <amutex.h>
#include <amutex/stats.h>
#include <stddef.h>

struct amutex__reg;

/*
 * A lock family: one statistics block that stands for many locks (a striped
 * group: lib/group), with extra figures of its own. The block's own
 * counters stay zero; exporters ask the family for its totals and let it
 * write its extra fields. Its data is freed with the block, after every
 * reader is done (free()). Called from exporters only, never from a lock
 * path; the stats layer knows nothing else of the family.
 */
struct amutex__family {
	/* Add the family's counters and wait times to c and wait (in the read-side section). */
	void (*totals)(const void *data, struct amutex_counters *c, amutex_hist_t *wait);
	/* Copy what the writers below need (in the read-side section); NULL when out of memory. */
	void *(*snapshot)(const void *data);
	void (*snapshot_free)(void *snap);
	/* More members of the lock's JSON object, each written as ", \"key\": value". */
	void (*json)(FILE *f, const void *snap);
	/* Lines under the lock's row of the table. */
	void (*table)(FILE *f, const void *snap);
	/*
	 * Prometheus: metric families of its own, written after the common
	 * ones; series(f, i, snap, labels) writes metric i's series for
	 * one lock, labels being its label set without braces (lock="NAME",
	 * escaped, and any the exporter adds), to which it may add its own.
	 */
	size_t nmetrics;
	const struct amutex__family_metric { const char *name, *type, *help; } *metrics;
	void (*series)(FILE *f, size_t i, const void *snap, const char *labels);
};

/*
 * Per-lock statistics block, allocated by amutex_init when asked for, or
 * taken from the drop-in's static pool. Counters of acquisitions and
 * handoffs are written by the thread that holds the lock, so a relaxed
 * load and store suffice; the others are written by waiters or releasers
 * and use atomic operations. Readers take relaxed snapshots. A named block
 * is also in the registry, and is freed after an RCU grace period.
 */
/*
 * What the holder writes on every acquisition: one cache line per shard, the
 * shard of the CPU the holder runs on (amutex__stats_shard_index). Any holder may
 * write any shard (one thread holds the lock at a time: relaxed load and
 * store), and a line is written from one CPU, so it stays there instead of
 * travelling with the lock to the next holder's CPU (on 16 CPUs statistics
 * cost a C++ thread pool under the drop-in 18% of its throughput, and the
 * shards recovered about a third of that: docs/benchmarks.md, runs 18-19).
 */
struct amutex__stats_shard {
	uint64_t acquired_fast;		/* first: struct amutex__stats_head */
	uint64_t acquired_spin;
	uint64_t acquired_sleep;
	uint64_t handoffs;
	uint64_t wait_sum_ns;		/* the wait histogram's sum and max */
	uint64_t wait_max_ns;
} __attribute__((aligned(AMUTEX__STATS_SHARD_BYTES)));

struct amutex__stats {
	struct amutex__stats_shard shard[AMUTEX__STATS_SHARDS];
	/*
	 * The wait histogram's buckets, holder-recorded (its count, sum and
	 * max stay 0: the count is the buckets', the shards keep sum and
	 * max). A contended acquisition writes one bucket, which may be on
	 * any CPU's line.
	 */
	amutex_hist_t wait;
	/* Written by waiters and releasers, outside critical sections. */
	uint64_t timeouts __attribute__((aligned(64)));	/* atomic add */
	uint64_t starvation_entries;	/* atomic add */
	uint64_t starvation_exits;	/* atomic add */
	uint64_t starvation_ns;		/* atomic add */
	uint64_t starving_since;	/* ns; 0: not starving */
	uint64_t peak_waiters;		/* atomic max */
	const void *first_site;		/* set once, by CAS */
	/* Read-mostly: set at init. */
	const amutex_t *lock __attribute__((aligned(64)));
	struct amutex__stats *next_pending; /* on the pending list (drop-in) */
	const struct amutex_hooks *hooks;
	char *name;			/* NULL: not registered */
	struct amutex__reg *reg;
	amutex_hist_t *hold;		/* NULL: hold times off */
	const struct amutex__family *family;	/* NULL: one lock */
	void *family_data;		/* the family's, freed with the block */
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct amutex__stats_shard) == AMUTEX__STATS_SHARD_BYTES &&
	       offsetof(struct amutex__stats, shard) == 0 &&
	       offsetof(struct amutex__stats_shard, acquired_fast) ==
	       offsetof(struct amutex__stats_head, acquired_fast),
	       "the inline fast paths count into the first field of the holder's shard");

enum amutex__path { AMUTEX_PATH_FAST, AMUTEX_PATH_SPIN, AMUTEX_PATH_SLEEP };

/* Recording, by the slow paths (stats.c). */
hidden void amutex__stats_acquired(amutex_t *m, enum amutex__path path, uint64_t wait_ns);
hidden void amutex__stats_released(amutex_t *m);
hidden void amutex__stats_handoff(struct amutex__stats *s);
hidden void amutex__stats_starving(amutex_t *m, int entered);
hidden void amutex__stats_timeout(struct amutex__stats *s);
hidden void amutex__stats_waiters(struct amutex__stats *s, uint32_t waiters);
hidden void amutex__stats_contended_at(struct amutex__stats *s, const void *site);
/*
 * A block for a lock contended for the first time, attached to it on a lock
 * path (the drop-in): lock is the mutex, site where it was contended.
 */
hidden void amutex__stats_attach_init(struct amutex__stats *s, const amutex_t *lock,
				      const void *site);

/*
 * Whether anything reads statistics in this process: amutex_export was
 * called, or a publisher or the watchdog started (the drop-in's
 * AMUTEX_STATS=auto observes mutexes from then on).
 */
hidden void amutex__stats_reader(void);
hidden int amutex__stats_readers(void);

/* Reading, by exporters and the watchdog (stats.c); never the mutex itself. */
hidden void amutex__stats_counters(const struct amutex__stats *s, struct amutex_counters *out);
/* Starvation time so far, counting an episode still open at now. */
hidden uint64_t amutex__stats_starving_ns(const struct amutex__stats *s, uint64_t now);
/* out += the wait histogram; out += the hold histogram (0, or ENOTSUP). */
hidden void amutex__stats_wait(const struct amutex__stats *s, amutex_hist_t *out);
hidden int amutex__stats_hold(const struct amutex__stats *s, amutex_hist_t *out);
/* The address of the lock the block belongs to (it may be gone: do not use it). */
hidden const amutex_t *amutex__stats_lock(const struct amutex__stats *s);
/* The name a lock is exported under: its own, else where it was first contended. */
hidden void amutex__stats_name(const struct amutex__stats *s, char *buf, size_t len);

/* A block's life (registry.c). */
hidden struct amutex__stats *amutex__stats_new(const amutex_t *m, const amutex_attr_t *attr);
/*
 * The same for a lock family: its block is m's, with data handed over to it
 * (freed with the block). NULL when out of memory; data is then the caller's.
 */
hidden struct amutex__stats *amutex__stats_new_family(const amutex_t *m, const amutex_attr_t *attr,
						      const struct amutex__family *family,
						      void *data);
/* Unregister (if named) and free, after readers are done. */
hidden void amutex__stats_release(struct amutex__stats *s);
/*
 * Blocks attached to a lock on a lock path cannot join the registry there
 * (liburcu allocates and locks); they wait on a lock-free list that
 * amutex__registry_each drains first.
 */
hidden void amutex__registry_pending(struct amutex__stats *s);
#ifdef AMUTEX_TEST_SEAMS
/* Called by a drain that took blocks off the pending list, before it adds them. */
extern void (*amutex__registry_drain_point)(void);
/* Called by a reader that starts waiting for another thread's drain. */
extern void (*amutex__registry_wait_point)(void);
#endif
/*
 * Call fn for every registered lock inside one RCU read-side section, after
 * draining the pending list into the registry.
 */
hidden void amutex__registry_each(void (*fn)(void *arg, const struct amutex__stats *s),
				  void *arg);

/* s as the body of a JSON string: quotes, backslashes, controls escaped (export.c). */
hidden void amutex__json_chars(FILE *f, const char *s);

/* "func+0x1c (libfoo.so)" or "0x7f..": for reports (symbolize.c). */
hidden void amutex__symbolize(const void *addr, char *buf, size_t len);

/*
 * A path from the environment with "%p" replaced by the process id, so that
 * the processes of one LD_PRELOAD tree do not overwrite each other's files.
 * EINVAL when it does not fit (path.c).
 */
hidden int amutex__expand_path(const char *in, char *out, size_t len);

/*
 * amutex_export with labels added to every Prometheus series (extra:
 * ",pid=\"123\"", or ""): export.c.
 */
hidden int amutex__export_labeled(FILE *out, enum amutex_format format, const char *extra);

/* AMUTEX_WATCH's syntax; 0 or EINVAL. w->report_path points into s (watch.c). */
hidden int amutex__parse_watch(const char *s, struct amutex_watch *w);

#endif /* AMUTEX_STATS_PRIVATE_H */
