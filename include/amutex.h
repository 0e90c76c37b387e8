/*
 * amutex: a futex mutex with Go-style normal and starvation modes.
 *
 * The API. Every call returns 0 or a POSIX error code and leaves errno as
 * it found it. amutex_lock, amutex_trylock, amutex_timedlock and
 * amutex_unlock are inline: their fast paths, and the lock word they work
 * on, are in <amutex/static/amutex.h>, included at the end of this file;
 * the slow paths are in the library (lib/mutex/protocol.c). Names with a
 * double underscore (amutex__*, AMUTEX__*) are the library's own, not API.
 *
 * Compiles as C11 and as C++.
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

struct amutex__stats;

/*
 * amutex_t: 32 bytes, embeddable wherever a pthread_mutex_t could be;
 * all-zero bytes are an unlocked mutex with default settings. Its fields
 * are private: what each means is in <amutex/static/amutex.h>. Bytes 16-23
 * (embed) are never touched by amutex: they belong to whoever embeds the
 * mutex.
 */
typedef struct amutex {
	uint32_t state;
	uint32_t sema;
	uint32_t starve_ns;
	int16_t spin;
	uint16_t flags;
	uint32_t embed[2];
	struct amutex__stats *stats;
} amutex_t;

#define AMUTEX_INITIALIZER { 0, 0, 0, 0, 0, { 0, 0 }, 0 }

/* Attribute values. */
#define AMUTEX_STARVATION_DEFAULT 0ull		 /* process default (1 ms) */
#define AMUTEX_STARVATION_NEVER   UINT64_MAX	 /* normal mode only */
#define AMUTEX_STARVATION_MAX_NS  4294967294ull	 /* ~4.29 s */

#define AMUTEX_SPIN_DEFAULT (-2)	/* process default (AMUTEX_SPIN) */
#define AMUTEX_SPIN_AUTO    (-1)	/* by effective CPUs, 4 rounds, fewer while spins fail */
#define AMUTEX_SPIN_OFF     0
#define AMUTEX_SPIN_MAX     1000	/* rounds of 30 pauses */

#define AMUTEX_FAIR_DEFAULT (-1)	/* process default (AMUTEX_FAIR, off) */

struct amutex_hooks;

/* Fields are private: use the calls below (and those in amutex/stats.h). */
typedef struct amutex_attr {
	uint64_t starve_ns;
	int spin;
	int stats;
	const char *name;
	const struct amutex_hooks *hooks;
	int hold_times;
	int fair;
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
/*
 * 1: fair, trading throughput for fairness and a shorter tail of waits
 * (docs/design.md: spinners look at the lock more often, the starvation
 * threshold is 250 us unless one is set); 0: not; AMUTEX_FAIR_DEFAULT.
 */
AMUTEX_API int amutex_attr_setfair(amutex_attr_t *attr, int fair);
AMUTEX_API int amutex_attr_getfair(const amutex_attr_t *attr, int *fair);
/* 1: keep per-lock counters (include/amutex/stats.h); 0: off. */
AMUTEX_API int amutex_attr_setstats(amutex_attr_t *attr, int on);
AMUTEX_API int amutex_attr_getstats(const amutex_attr_t *attr, int *on);

/* attr NULL: defaults. ENOMEM only when stats are asked for. */
AMUTEX_API int amutex_init(amutex_t *m, const amutex_attr_t *attr);
/* EBUSY while locked or waited on; the mutex is then left untouched. */
AMUTEX_API int amutex_destroy(amutex_t *m);

/* 0. Blocks until the mutex is the caller's. Pair with amutex_unlock. */
static inline int amutex_lock(amutex_t *m);
/* 0, or EBUSY when held or in starvation mode (it belongs to its queue). */
static inline int amutex_trylock(amutex_t *m);
/*
 * 0, or ETIMEDOUT at abs_mono (an absolute CLOCK_MONOTONIC time), or EINVAL
 * for a malformed timespec (checked only when the mutex is not free).
 */
static inline int amutex_timedlock(amutex_t *m, const struct timespec *abs_mono);
/* 0, or EPERM when the mutex was not locked (then nothing is changed). */
static inline int amutex_unlock(amutex_t *m);

#ifdef __cplusplus
}
#endif

#include <amutex/static/amutex.h>

#endif /* AMUTEX_H */
