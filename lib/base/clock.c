/*
 * The clock that times waits (statistics, the starvation threshold, the
 * spin cap): the time-stamp counter where it is a clock, else
 * CLOCK_MONOTONIC. clock_gettime costs 20-40 ns in the VMs this library was
 * measured on (docs/benchmarks.md), and a contended acquisition of an
 * observed mutex reads the clock twice; rdtsc costs a few.
 *
 * The counter is used only when the CPU says it is invariant (CPUID
 * 0x80000007 EDX bit 8: constant rate, runs in every C-state) and the
 * kernel keeps "tsc" as its clocksource (it switches away when it finds the
 * counters of different CPUs apart). Calibrated against CLOCK_MONOTONIC
 * without sleeping: a first reading of both at load, a second one the
 * first time the clock is read at least 10 ms later; until then, and on
 * every other machine, the clock is clock_gettime. Deadlines never use it:
 * it times durations only.
 */
#include "base.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

struct amutex__tsc amutex__tsc;

#define CALIBRATE_NS 10000000ull

#if defined(__x86_64__)
static int tsc_is_a_clock(void)
{
	unsigned a, b, c, d;
	char buf[32] = "";
	ssize_t n;
	int fd;

	if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007)
		return 0;
	__get_cpuid(0x80000007, &a, &b, &c, &d);
	if (!(d & (1u << 8)))
		return 0;
	fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		  O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n >= 3 && strncmp(buf, "tsc", 3) == 0 && (buf[3] == '\n' || buf[3] == '\0');
}

__attribute__((constructor)) static void clock_at_load(void)
{
	if (!tsc_is_a_clock())
		return;
	__atomic_store_n(&amutex__tsc.t0, __builtin_ia32_rdtsc(), __ATOMIC_RELAXED);
	__atomic_store_n(&amutex__tsc.ns0, amutex__now_ns(), __ATOMIC_RELAXED);
	__atomic_store_n(&amutex__tsc.state, AMUTEX_TSC_CALIBRATING, __ATOMIC_RELEASE);
}
#endif

uint64_t amutex__clock_ns_slow(void)
{
	uint64_t ns = amutex__now_ns();
#if defined(__x86_64__)
	/*
	 * The fields are atomics, relaxed: the thread that wins the CAS to BUSY
	 * rewrites them while others may still be reading the first reading;
	 * READY's release publishes the final values.
	 */
	int st = __atomic_load_n(&amutex__tsc.state, __ATOMIC_ACQUIRE);
	uint64_t ns0 = __atomic_load_n(&amutex__tsc.ns0, __ATOMIC_RELAXED);

	if (st == AMUTEX_TSC_CALIBRATING && ns - ns0 >= CALIBRATE_NS &&
	    __atomic_compare_exchange_n(&amutex__tsc.state, &st, AMUTEX_TSC_BUSY, 0,
					__ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		uint64_t t = __builtin_ia32_rdtsc();
		uint64_t dt = t - __atomic_load_n(&amutex__tsc.t0, __ATOMIC_RELAXED);
		uint64_t dns = ns - ns0;

		/* ns per tick in 32.32 fixed point; a counter that did not move is no clock. */
		if (dt > dns / 16) {
			__atomic_store_n(&amutex__tsc.mult,
				(uint64_t)(((unsigned __int128)dns << 32) / dt), __ATOMIC_RELAXED);
			__atomic_store_n(&amutex__tsc.t0, t, __ATOMIC_RELAXED);
			__atomic_store_n(&amutex__tsc.ns0, ns, __ATOMIC_RELAXED);
			__atomic_store_n(&amutex__tsc.state, AMUTEX_TSC_READY, __ATOMIC_RELEASE);
		} else {
			__atomic_store_n(&amutex__tsc.state, AMUTEX_TSC_OFF, __ATOMIC_RELEASE);
		}
	}
#endif
	return ns;
}
