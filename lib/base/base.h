/*
 * Private to libamutex: what every part of the library uses. Visibility,
 * the clock, the pause instruction, duration parsing, the one-time warning
 * on stderr, the death of the process on an impossible state, and the
 * functions run at exit. Nothing here knows about mutexes.
 */
#ifndef AMUTEX_BASE_H
#define AMUTEX_BASE_H

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define hidden __attribute__((visibility("hidden")))

#define AMUTEX_NS_PER_SEC 1000000000ull

/*
 * A pause point of the test builds (AMUTEX_TEST_SEAMS): call the test's
 * hook, a void (*)(void) variable, if one is set. Nothing in other builds.
 */
#ifdef AMUTEX_TEST_SEAMS
#define AMUTEX_PAUSE_POINT(hook) do {						\
	void (*f_)(void) = __atomic_load_n(&(hook), __ATOMIC_ACQUIRE);		\
	if (f_)									\
		f_();								\
} while (0)
#else
#define AMUTEX_PAUSE_POINT(hook) ((void)0)
#endif

static inline uint64_t amutex__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * AMUTEX_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/*
 * amutex__clock_ns: nanoseconds for timing durations (waits, holds, the
 * spin cap), from the time-stamp counter where it is a clock, else
 * CLOCK_MONOTONIC (lib/base/clock.c). Not for deadlines.
 */
enum { AMUTEX_TSC_OFF, AMUTEX_TSC_CALIBRATING, AMUTEX_TSC_BUSY, AMUTEX_TSC_READY };
struct amutex__tsc {
	int state;
	uint64_t t0, ns0;	/* a reading of both clocks */
	uint64_t mult;		/* ns per tick, 32.32 fixed point */
};
extern struct amutex__tsc amutex__tsc hidden;
hidden uint64_t amutex__clock_ns_slow(void);

static inline uint64_t amutex__clock_ns(void)
{
#if defined(__x86_64__)
	/* Acquire: paired with the release that made it READY; then the fields stay. */
	if (__builtin_expect(__atomic_load_n(&amutex__tsc.state, __ATOMIC_ACQUIRE) ==
			     AMUTEX_TSC_READY, 1))
		return __atomic_load_n(&amutex__tsc.ns0, __ATOMIC_RELAXED) +
		       (uint64_t)(((unsigned __int128)(__builtin_ia32_rdtsc() -
			__atomic_load_n(&amutex__tsc.t0, __ATOMIC_RELAXED)) *
			__atomic_load_n(&amutex__tsc.mult, __ATOMIC_RELAXED)) >> 32);
#endif
	return amutex__clock_ns_slow();
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

/* A duration ("750ns", "500us", "1ms", "2s") from 1 ns to max_ns; 0 or EINVAL. */
hidden int amutex__parse_duration_max(const char *s, uint64_t max_ns, uint64_t *ns);

/* Report a bad setting once per key on stderr. */
hidden void amutex__warn_once(const char *key, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Test seam: forget which keys were reported. */
hidden void amutex__warn_reset(void);

/* Impossible states: name the place and abort. */
hidden void amutex__die_at(const char *file, int line, const char *what)
	__attribute__((noreturn, cold));
#define amutex__die(what) amutex__die_at(__FILE__, __LINE__, (what))

/*
 * Run fn once at exit (the publishers and the watchdog stop there), after
 * functions registered later. Registering the same fn twice runs it once.
 */
hidden void amutex__at_exit(void (*fn)(void));

#ifdef __cplusplus
}
#endif

#endif /* AMUTEX_BASE_H */
