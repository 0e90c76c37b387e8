/*
 * Private to libamutex: the process-wide configuration, the futex seam,
 * the statistics block and the helpers the slow paths share.
 */
#ifndef AMUTEX_INTERNAL_H
#define AMUTEX_INTERNAL_H

#include <amutex.h>
#include <amutex/stats.h>
#include <stdint.h>
#include <time.h>

#define hidden __attribute__((visibility("hidden")))

#define AMUTEX_NS_PER_SEC 1000000000ull
#define AMUTEX_ATTR_MAGIC 0x616d7478u /* "amtx": set by amutex_attr_init */
/* Go's starvationThresholdNs; the default. */
#define AMUTEX_DEFAULT_STARVE_NS 1000000u
/*
 * Go's active_spin (4 rounds) of active_spin_cnt (30) pauses. Kept as Go has
 * it: bench/amutex-bench's contended scenario is the measure for changing it.
 */
#define AMUTEX_DEFAULT_SPIN_ROUNDS 4
#define AMUTEX_PAUSES_PER_ROUND 30

/* Spin setting as stored in amutex_t.spin: 0 means the process default. */
static inline int16_t amutex__spin_encode(int spin)
{
	return spin == AMUTEX_SPIN_DEFAULT ? 0 : (int16_t)(spin + 2);
}

static inline int amutex__spin_decode(int16_t enc)
{
	return enc == 0 ? AMUTEX_SPIN_DEFAULT : enc - 2;
}

/* Process-wide settings, read from the environment once. */
struct amutex_config {
	uint32_t starve_ns;	/* UINT32_MAX: never */
	int spin;		/* AUTO, OFF or rounds */
	unsigned cpus;		/* effective CPUs: affinity and cgroup quota */
};

hidden const struct amutex_config *amutex__config(void);
/* Test seam: recompute from the environment and the given cgroup files. */
hidden void amutex__config_reload(const char *cgroup_root, const char *self_cgroup);

/* Spin rounds for m now: its attribute, else AMUTEX_SPIN; 0 on one CPU. */
hidden int amutex__spin_rounds(const amutex_t *m);

/* Duration ("1ms", "500us", "2s", "750ns", "never"); 0 or EINVAL. */
hidden int amutex__parse_duration(const char *s, uint64_t *ns);
/* "auto", "off" or 1..AMUTEX_SPIN_MAX; 0 or EINVAL. */
hidden int amutex__parse_spin(const char *s, int *spin);
/*
 * CPUs allowed by the cgroup quota of this process (v2 cpu.max on every
 * level up to the root, or v1 cpu.cfs_quota_us/cpu.cfs_period_us), rounded
 * up; 0 when there is no quota. A malformed file is reported once and
 * ignored. self_cgroup is normally /proc/self/cgroup.
 */
hidden unsigned amutex__cgroup_cpus(const char *cgroup_root, const char *self_cgroup);
hidden unsigned amutex__affinity_cpus(void);

/* Report a bad setting once per key on stderr. */
hidden void amutex__warn_once(const char *key, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Test seam: forget which keys were reported. */
hidden void amutex__warn_reset(void);

/* Impossible states (a futex EFAULT): name the place and abort. */
hidden void amutex__die(const char *file, int line, const char *what)
	__attribute__((noreturn, cold));
#define amutex_die(what) amutex__die(__FILE__, __LINE__, (what))

/*
 * The futex seam. Private futexes unless the mutex is shared.
 * wait returns 0 (woken, or the word had changed), ETIMEDOUT or EINTR;
 * errno is preserved.
 */
#define AMUTEX_FUTEX_SHARED   1	/* not FUTEX_PRIVATE_FLAG */
#define AMUTEX_FUTEX_REALTIME 2	/* abs is CLOCK_REALTIME */
hidden int amutex__futex_wait(uint32_t *word, uint32_t expect,
			      const struct timespec *abs, int how);
hidden void amutex__futex_wake(uint32_t *word, int n, int how);

/* The slow path with the deadline's clock (CLOCK_MONOTONIC or CLOCK_REALTIME). */
hidden int amutex__lock_slow_clock(amutex_t *m, const struct timespec *abs, clockid_t clock);

static inline uint64_t amutex__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * AMUTEX_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline void amutex__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("isb" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/*
 * Per-lock statistics block, allocated by amutex_init when asked for.
 * Counters of acquisitions and handoffs are written by the thread that
 * holds the lock, so a relaxed load and store suffice; the others are
 * written by waiters or releasers and use atomic operations. Readers
 * (exporters, another thread) take relaxed snapshots. A named block is
 * also in the registry, and is freed after an RCU grace period.
 */
struct amutex_reg;

struct amutex_stats {
	/*
	 * Line 0 and the histogram's header: written by the holder on each
	 * contended acquisition, so they travel with the lock from CPU to CPU
	 * as one line (plus the bucket the wait falls in).
	 */
	uint64_t acquired_fast;		/* first: struct amutex_stats_head */
	uint64_t acquired_spin;
	uint64_t acquired_sleep;
	uint64_t handoffs;
	amutex_hist_t wait;		/* holder-recorded */
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
	struct amutex_stats *next_pending; /* on the pending list (drop-in) */
	const struct amutex_hooks *hooks;
	char *name;			/* NULL: not registered */
	struct amutex_reg *reg;
	amutex_hist_t *hold;		/* NULL: hold times off */
} __attribute__((aligned(64)));

enum amutex_path { AMUTEX_PATH_FAST, AMUTEX_PATH_SPIN, AMUTEX_PATH_SLEEP };

static inline void amutex__holder_inc(uint64_t *c)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1,
			 __ATOMIC_RELAXED);
}

hidden struct amutex_stats *amutex__stats_new(const amutex_t *m, const amutex_attr_t *attr);
/* Unregister (if named) and free, after readers are done. */
hidden void amutex__stats_release(struct amutex_stats *s);
hidden void amutex__stats_free(struct amutex_stats *s);
hidden void amutex__stats_acquired(amutex_t *m, enum amutex_path path, uint64_t wait_ns);
hidden void amutex__stats_released(amutex_t *m);
hidden void amutex__stats_starving(amutex_t *m, int entered);
hidden void amutex__stats_waiters(struct amutex_stats *s, uint32_t waiters);
hidden void amutex__stats_contended_at(struct amutex_stats *s, const void *site);
/* Snapshot without touching the mutex (it may be gone): starving from the clock. */
hidden void amutex__stats_counters(const struct amutex_stats *s, struct amutex_counters *out);
/* The name a lock is exported under: its own, else where it was first contended. */
hidden void amutex__stats_name(const struct amutex_stats *s, char *buf, size_t len);
/* Starvation time so far, counting an episode still open at now. */
hidden uint64_t amutex__stats_starving_ns(const struct amutex_stats *s, uint64_t now);

/*
 * Blocks attached to a lock on a lock path (the drop-in's first contention)
 * cannot join the registry there (liburcu allocates and locks); they wait
 * on a lock-free list that amutex__registry_each drains first.
 */
hidden void amutex__stats_pending_push(struct amutex_stats *s);
hidden void amutex__stats_pending_drain(void);

/* The registry of named locks (lib/registry.c). */
hidden int amutex__registry_add(struct amutex_stats *s);
/* Remove; free s (and the entry) after an RCU grace period. */
hidden void amutex__registry_remove(struct amutex_stats *s);
/*
 * Call fn for every registered lock inside one RCU read-side section, after
 * draining the pending list into the registry.
 */
hidden void amutex__registry_each(void (*fn)(void *arg, const struct amutex_stats *s), void *arg);

/* Publishers and the watchdog stop (and write a last time) at exit. */
hidden void amutex__stop_at_exit(void);
/* AMUTEX_WATCH's syntax; 0 or EINVAL. w->report_path points into s. */
hidden int amutex__parse_watch(const char *s, struct amutex_watch *w);

/*
 * A path from the environment with "%p" replaced by the process id, so that
 * the processes of one LD_PRELOAD tree do not overwrite each other's files.
 * EINVAL when it does not fit.
 */
hidden int amutex__expand_path(const char *in, char *out, size_t len);

/* "func+0x1c (libfoo.so)" or "0x7f..": for reports. */
hidden void amutex__symbolize(const void *addr, char *buf, size_t len);

/* Duration with a ceiling; 0 or EINVAL. "never" is not accepted here. */
hidden int amutex__parse_duration_max(const char *s, uint64_t max_ns, uint64_t *ns);

#endif /* AMUTEX_INTERNAL_H */
