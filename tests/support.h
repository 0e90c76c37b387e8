/* Clock helpers shared by the tests: busy work, naps and deadlines. */
#ifndef AMUTEX_TEST_SUPPORT_H
#define AMUTEX_TEST_SUPPORT_H

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Compute (hold a lock, stand for work) for ns. */
static inline void busy(uint64_t ns)
{
	uint64_t end = now_ns() + ns;

	while (now_ns() < end)
		;
}

#ifdef CPU_SETSIZE	/* _GNU_SOURCE */
/* Pin the calling thread to cpu: 0 or an errno. */
static inline int pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* The first n CPUs of set into cpus; how many it holds, up to n. */
static inline int first_cpus(const cpu_set_t *set, int *cpus, int n)
{
	int k = 0;

	for (int i = 0; i < CPU_SETSIZE && k < n; i++)
		if (CPU_ISSET(i, set))
			cpus[k++] = i;
	return k;
}
#endif

static inline void nap_ms(long ms)
{
	struct timespec d = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&d, NULL);
}

/* An absolute deadline ns from now on clock. */
static inline struct timespec deadline_ns(clockid_t clock, long ns)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	ts.tv_sec += ns / 1000000000;
	ts.tv_nsec += ns % 1000000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

/* Run fn with stderr going to path; buf gets what it wrote there. */
static inline void capture_stderr(void (*fn)(void), const char *path, char *buf, size_t len)
{
	int saved = dup(2), fd;
	FILE *f;
	size_t n = 0;

	fflush(stderr);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	if ((f = fopen(path, "r"))) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

#endif
