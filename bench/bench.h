/* What the benchmark drivers share: the clock and the CPUs they run on. */
#ifndef AMUTEX_BENCH_H
#define AMUTEX_BENCH_H

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Run on the first n CPUs of the affinity mask (n 0: all of them); how many
 * that is. Exits with status 2, naming prog, if the mask cannot be set.
 */
static inline unsigned restrict_cpus(unsigned n, const char *prog)
{
	cpu_set_t set, mine;
	unsigned have = 0;

	sched_getaffinity(0, sizeof(set), &set);
	CPU_ZERO(&mine);
	for (int c = 0; c < CPU_SETSIZE && (!n || have < n); c++)
		if (CPU_ISSET(c, &set)) {
			CPU_SET(c, &mine);
			have++;
		}
	if (n && sched_setaffinity(0, sizeof(mine), &mine) != 0) {
		fprintf(stderr, "%s: sched_setaffinity failed\n", prog);
		exit(2);
	}
	return have;
}

/*
 * An option's value: a whole number from 0 to max into *out, else -1 with
 * a message naming prog and the option.
 */
static inline int parse_uint(const char *prog, const char *opt, const char *s, unsigned max,
			     unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v > max || s[0] == '-') {
		fprintf(stderr, "%s: %s needs a whole number up to %u, not \"%s\"\n",
			prog, opt, max, s);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

/* Busy work the compiler cannot remove: an LCG chain (calibrate_work). */
static inline uint64_t work(uint64_t x, unsigned iters)
{
	for (unsigned i = 0; i < iters; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return x;
}

/* ns per LCG step of work(), the best of three runs of about 20 ms. */
static inline double calibrate_work(void)
{
	double best = 1e9;
	uint64_t x = 1;

	for (int r = 0; r < 3; r++) {
		uint64_t t0 = now_ns(), t1;

		x = work(x, 4000000);
		t1 = now_ns();
		if ((double)(t1 - t0) / 4e6 < best)
			best = (double)(t1 - t0) / 4e6;
	}
	if (x == 42)
		fputc(' ', stderr);
	return best;
}

/* A 64-bit pseudo-random stream (splitmix64): *s is its state. */
static inline uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
