/*
 * Private to lib/mutex and the parts built on it (the drop-in, the group):
 * the process settings, the CPU quota, the futex seam and the slow path's
 * entry with its clock and call site.
 */
#ifndef AMUTEX_MUTEX_H
#define AMUTEX_MUTEX_H

#include "../base/base.h"

#include <amutex.h>

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
struct amutex__config {
	uint32_t starve_ns;	/* UINT32_MAX: never */
	int spin;		/* AUTO, OFF or rounds */
	unsigned cpus;		/* effective CPUs: affinity and cgroup quota */
};

hidden const struct amutex__config *amutex__config(void);
/* Test seam: recompute from the environment and the given cgroup files. */
hidden void amutex__config_reload(const char *cgroup_root, const char *self_cgroup);

/* Spin rounds for m now: its attribute, else AMUTEX_SPIN; 0 on one CPU. */
hidden int amutex__spin_rounds(const amutex_t *m);

/* Threshold ("1ms", "500us", "2s", "750ns", "never"); 0 or EINVAL. */
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

/*
 * The slow path with the deadline's clock (CLOCK_MONOTONIC or
 * CLOCK_REALTIME) and the call site statistics name the lock after.
 */
hidden int amutex__lock_contended(amutex_t *m, const struct timespec *abs, clockid_t clock,
				  const void *site);

struct amutex__stats;
/* S1: attach a statistics block to a live mutex; 0 when one was already there. */
hidden int amutex__stats_attach(amutex_t *m, struct amutex__stats *s);

#endif /* AMUTEX_MUTEX_H */
