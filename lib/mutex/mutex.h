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
/*
 * Pauses between two looks at the word while spinning: 30 (Go's: look once
 * a round) gave the most contended throughput on 16 cores (run 3 of
 * docs/benchmarks.md, against 1 and 6), because a releasing thread that
 * comes back soon finds the lock still free, its line still in its cache;
 * that is also what makes it unfair. Fair mutexes look every FAIR_SPIN_CHECK
 * pauses and starve after FAIR_STARVE_NS (docs/design.md, "Fairness").
 */
#define AMUTEX_DEFAULT_SPIN_CHECK 30
#define AMUTEX_FAIR_SPIN_CHECK 4
#define AMUTEX_FAIR_STARVE_NS 250000u

/* Spin setting as stored in amutex_t.spin: 0 means the process default. */
static inline int16_t amutex__spin_encode(int spin)
{
	return spin == AMUTEX_SPIN_DEFAULT ? 0 : (int16_t)(spin + 2);
}

static inline int amutex__spin_decode(int16_t enc)
{
	return enc == 0 ? AMUTEX_SPIN_DEFAULT : enc - 2;
}

/*
 * Starvation thresholds as amutex_t.starve_ns and the settings keep them:
 * nanoseconds, 0 for the process default, NEVER for normal mode only. The
 * only place that knows the encoding; AMUTEX_STARVATION_MAX_NS is one less
 * than NEVER, so no threshold can be mistaken for it.
 */
#define AMUTEX_STARVE_NEVER UINT32_MAX

static inline uint32_t amutex__starve_encode(uint64_t ns)
{
	return ns == AMUTEX_STARVATION_NEVER ? AMUTEX_STARVE_NEVER : (uint32_t)ns;
}

/* Has a waiter that waited waited_ns starved, for this threshold? */
static inline int amutex__starved(uint32_t threshold, uint64_t waited_ns)
{
	return threshold != AMUTEX_STARVE_NEVER && waited_ns > threshold;
}

/* Process-wide settings, read from the environment once. */
struct amutex__config {
	uint32_t starve_ns;	/* amutex__starve_encode'd; never 0 */
	int starve_set;		/* AMUTEX_STARVATION_THRESHOLD was given */
	int spin;		/* AUTO, OFF or rounds */
	int fair;		/* AMUTEX_FAIR */
	int spin_check;		/* AMUTEX_SPIN_CHECK: pauses between looks */
	unsigned cpus;		/* effective CPUs: affinity and cgroup quota */
};

hidden const struct amutex__config *amutex__config(void);
/* Test seam: recompute from the environment and the given cgroup files. */
hidden void amutex__config_reload(const char *cgroup_root, const char *self_cgroup);

/* Spin rounds for m now: its attribute, else AMUTEX_SPIN; 0 on one CPU. */
hidden int amutex__spin_rounds(const amutex_t *m);
/* Is m fair: its attribute, else AMUTEX_FAIR. */
hidden int amutex__fair(const amutex_t *m, const struct amutex__config *c);
/* m's starvation threshold, resolved (amutex__starve_encode'd). */
hidden uint32_t amutex__threshold(const amutex_t *m, const struct amutex__config *c);

/* Threshold ("1ms", "500us", "2s", "750ns", "never"); 0 or EINVAL. */
hidden int amutex__parse_duration(const char *s, uint64_t *ns);
/* "auto", "off" or 1..AMUTEX_SPIN_MAX; 0 or EINVAL. */
hidden int amutex__parse_spin(const char *s, int *spin);
/* A whole number from 1 to max; 0 or EINVAL. */
hidden int amutex__parse_count(const char *s, int max, int *v);
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
 * The same with a bitset: a wake reaches only the sleepers whose bits it
 * shares (FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET), so two kinds of sleepers
 * can share one word (the rwlock's readers and writer). bits is not 0.
 */
hidden int amutex__futex_wait_bits(uint32_t *word, uint32_t expect,
				   const struct timespec *abs, int how, uint32_t bits);
hidden void amutex__futex_wake_bits(uint32_t *word, int n, int how, uint32_t bits);

/*
 * The slow path of a lock, for the parts built on the mutex: how says which
 * clock abs is on and what the caller knows; site is the call site that
 * statistics name the lock after.
 */
#define AMUTEX_WAIT_REALTIME 1	/* abs is CLOCK_REALTIME, not CLOCK_MONOTONIC */
#define AMUTEX_WAIT_NOSPIN   2	/* do not spin (the drop-in's relock before run 24) */
#define AMUTEX_WAIT_YIELD    4	/* no spin, but yield the CPU while that runs others (protocol.c) */
#define AMUTEX_YIELD_ROUNDS  3	/* the most yields of an AMUTEX_WAIT_YIELD lock before it sleeps */
hidden int amutex__lock_contended(amutex_t *m, const struct timespec *abs, int how,
				  const void *site);

struct amutex__stats;
/* S1: attach a statistics block to a live mutex; 0 when one was already there. */
hidden int amutex__stats_attach(amutex_t *m, struct amutex__stats *s);

/*
 * Threads in a slow path (threads.c): each notes the mutex it is working on,
 * so that the child of a fork can repair the mutexes whose sleepers and
 * spinners did not come along (docs/design.md, F1).
 */
struct amutex__thread {
	amutex_t *busy;			/* in the slow path of this mutex */
	struct amutex__thread *next, *prev;
	int linked;
	uint8_t spin_debt;		/* failed spins, less 4 per spin that got the lock (protocol.c) */
	uint8_t spin_probe;		/* slow paths since the last probing spin */
	uint8_t yield_debt;		/* yields since the last that paid off (protocol.c) */
	uint8_t yield_probe;		/* relocks since the last probing yield */
	uint8_t one_cpu;		/* its affinity allows one CPU (protocol.c) */
	uint8_t affinity_age;		/* relocks since it was read */
	void *rw_busy;			/* in a slow path of this rwlock (lib/rwlock) */
};
extern __thread struct amutex__thread amutex__self hidden;
hidden void amutex__thread_link(void);

/* This thread's entry, on the list (linked at its first slow path). */
static inline struct amutex__thread *amutex__self_listed(void)
{
	if (__builtin_expect(!amutex__self.linked, 0))
		amutex__thread_link();
	return &amutex__self;
}

static inline void amutex__busy_enter(amutex_t *m)
{
	/* Before any CAS of the slow path; ordered by that CAS. */
	__atomic_store_n(&amutex__self_listed()->busy, m, __ATOMIC_RELAXED);
}

static inline void amutex__busy_leave(void)
{
	__atomic_store_n(&amutex__self.busy, NULL, __ATOMIC_RELAXED);
}

/* The same for an rwlock (amutex_rwlock_t *), whose repair is rw_repair. */
static inline void amutex__rw_busy_enter(void *rw)
{
	/* Before any CAS of the slow path (the child repairs from the word alone). */
	__atomic_store_n(&amutex__self_listed()->rw_busy, rw, __ATOMIC_RELAXED);
}

static inline void amutex__rw_busy_leave(void)
{
	__atomic_store_n(&amutex__self.rw_busy, NULL, __ATOMIC_RELAXED);
}

/* Set once by lib/rwlock at load: the child's repair of an rwlock (RF1). */
extern void (*amutex__rw_repair)(void *rw) hidden;

/* For the fork handlers: the list stays still between lock and unlock. */
hidden void amutex__threads_lock(void);
hidden void amutex__threads_unlock(void);
/*
 * In the child: fn for the mutex of every other thread's slow path, and
 * amutex__rw_repair for its rwlock; then only this thread is left.
 */
hidden void amutex__threads_after_fork(void (*fn)(amutex_t *m));

/*
 * Test seams, compiled in only with AMUTEX_TEST_SEAMS (the library the
 * tests link): a count of every labelled step of the protocol, a clock that
 * makes waits look longer, and faults injected into futex calls.
 */
enum amutex__step {
	AMUTEX_STEP_L2, AMUTEX_STEP_L3, AMUTEX_STEP_L4, AMUTEX_STEP_L5, AMUTEX_STEP_L6,
	AMUTEX_STEP_U1, AMUTEX_STEP_U2, AMUTEX_STEP_U3, AMUTEX_STEP_U4,
	AMUTEX_STEP_T1, AMUTEX_STEP_T2, AMUTEX_STEP_T3, AMUTEX_STEP_T4,
	AMUTEX_STEP_ORPHAN, AMUTEX_STEP_REFUSED, AMUTEX_STEP_S1, AMUTEX_STEP_EPERM,
	AMUTEX_STEP_F1, AMUTEX_STEP_YIELD,
	AMUTEX_STEP_COUNT
};
#ifdef AMUTEX_TEST_SEAMS
extern uint64_t amutex__steps[AMUTEX_STEP_COUNT] hidden;
extern const char *const amutex__step_names[AMUTEX_STEP_COUNT] hidden;
/* Waits measured by the slow path are multiplied by this (1: real time). */
extern uint32_t amutex__clock_scale hidden;
/* Not 0: every yield of a relock took this many ns, whatever the clock says. */
extern uint64_t amutex__yield_ns hidden;
/* Not 0: a relock's thread counts as on one CPU (1) or on several (-1), whatever its affinity. */
extern int amutex__one_cpu_seam hidden;
/* Per-mille chances of each injected fault, per futex call. */
struct amutex__faults {
	unsigned eintr;		/* wait returns EINTR without sleeping */
	unsigned eagain;	/* wait returns as if the word had changed */
	unsigned spurious;	/* wait sleeps, then returns early */
	unsigned early_timeout;	/* wait with a deadline returns ETIMEDOUT early */
	unsigned wake_efault;	/* wake wakes, then reports EFAULT */
};
extern struct amutex__faults amutex__faults hidden;
extern uint64_t amutex__faults_injected hidden;
/*
 * Pause points: where a test may stop a thread to force an interleaving
 * (the hook runs in the thread that reached the point).
 *   RELEASED    unlock: right after the CAS that released the lock, before
 *               any post (the mutex may already be another thread's)
 *   POSTED      a post: between adding the token and the futex wake
 *   QUEUED      lock: right after the CAS that queued the thread (L4)
 *   WOKE        lock: a sleep returned, before looking for a token
 *   TOOK_TOKEN  lock: right after taking a token, before L5/L6
 *   HANDOFF     L5: after reading the word, before setting LOCKED
 *   SPUN        L3: after a round of pauses, before looking at the word
 * The hook may not touch the mutex: it is only named.
 */
enum amutex__point {
	AMUTEX_POINT_RELEASED, AMUTEX_POINT_POSTED, AMUTEX_POINT_QUEUED,
	AMUTEX_POINT_WOKE, AMUTEX_POINT_TOOK_TOKEN, AMUTEX_POINT_HANDOFF,
	AMUTEX_POINT_SPUN,
};
extern void (*amutex__test_point)(enum amutex__point p, const amutex_t *m) hidden;
#endif

#endif /* AMUTEX_MUTEX_H */
