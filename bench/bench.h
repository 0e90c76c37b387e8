/* What the benchmark drivers share: the clock and the CPUs they run on. */
#ifndef AMUTEX_BENCH_H
#define AMUTEX_BENCH_H

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

#endif
