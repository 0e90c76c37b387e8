/*
 * Effective CPUs: the affinity mask, capped by the cgroup CPU quota, so a
 * container limited to 2 CPUs on a 64-core host spins as on 2 CPUs.
 * cgroup v2: every level from this process's cgroup up to the root may
 * have a cpu.max ("max 100000" or "QUOTA PERIOD"); the smallest wins.
 * cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us of the cpu controller.
 */
#include "mutex.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The paths and file contents below are large (about 17 KB together): in
 * static storage, never on the stack of the thread that computes the
 * settings, which may be a thread made with the smallest stack there is
 * (PTHREAD_STACK_MIN, 16 KiB). One computation at a time uses them.
 */
static struct {
	char text[8192];	/* /proc/self/cgroup */
	char dir[4096];
	char path[4200];
} scratch;
static int scratch_busy;

static void scratch_take(void)
{
	while (__atomic_exchange_n(&scratch_busy, 1, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void scratch_give(void)
{
	__atomic_store_n(&scratch_busy, 0, __ATOMIC_RELEASE);
}

/*
 * A small file, whole, into buf: read(2), not stdio, because this runs on
 * a mutex's first slow path, possibly inside a malloc that holds its own
 * lock; stdio would allocate. -1 when it cannot be opened.
 */
static ssize_t slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, got = 0;

	if (fd < 0)
		return -1;
	while (got < (ssize_t)len - 1 && (n = read(fd, buf + got, len - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	buf[got] = '\0';
	return got;
}

unsigned amutex__affinity_cpus(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 1;
	n = CPU_COUNT(&set);
	return n > 0 ? (unsigned)n : 1;
}

static unsigned quota_cpus(unsigned long long quota, unsigned long long period)
{
	unsigned long long n = (quota + period - 1) / period;

	return n == 0 ? 1 : n > 65536 ? 65536 : (unsigned)n;
}

/* One cpu.max: 0 for "max" or a missing file, else the CPUs it allows. */
static unsigned read_cpu_max(const char *dir)
{
	char *path = scratch.path, quota[32], text[128];
	unsigned long long q, period;
	int n;

	snprintf(path, sizeof(scratch.path), "%s/cpu.max", dir);
	if (slurp(path, text, sizeof(text)) < 0)
		return 0;
	n = sscanf(text, "%31s %llu", quota, &period);
	if (n == 2 && strcmp(quota, "max") == 0)
		return 0;
	if (n == 2 && period > 0 && sscanf(quota, "%llu%n", &q, &n) == 1 &&
	    quota[n] == '\0' && q > 0)
		return quota_cpus(q, period);
	amutex__warn_once("cpu.max", "ignoring malformed %s", path);
	return 0;
}

static int read_ll(const char *path, long long *v)
{
	char text[64], extra;
	int n;

	if (slurp(path, text, sizeof(text)) < 0)
		return -1;
	n = sscanf(text, "%lld %c", v, &extra);
	return n == 1 ? 0 : -2;
}

static unsigned v1_cpus(const char *root, const char *controllers, const char *rel)
{
	/* Mounted under its controller list ("cpu,cpuacct"), or as "cpu". */
	const char *const mounts[] = { controllers, "cpu" };
	char *dir = scratch.dir, *path = scratch.path;
	long long quota, period;

	for (unsigned i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		int a, b;

		snprintf(dir, sizeof(scratch.dir), "%s/%s%s", root, mounts[i], rel);
		snprintf(path, sizeof(scratch.path), "%s/cpu.cfs_quota_us", dir);
		if ((a = read_ll(path, &quota)) == -1)
			continue;
		snprintf(path, sizeof(scratch.path), "%s/cpu.cfs_period_us", dir);
		b = read_ll(path, &period);
		if (a == 0 && b == 0 && quota < 0)
			return 0;
		if (a == 0 && b == 0 && quota > 0 && period > 0)
			return quota_cpus((unsigned long long)quota,
					  (unsigned long long)period);
		amutex__warn_once("cpu.cfs_quota_us",
				  "ignoring malformed CFS quota in %s", dir);
		return 0;
	}
	return 0;
}

static unsigned v2_cpus(const char *root, const char *rel)
{
	char *dir = scratch.dir;
	unsigned best = 0, n;
	size_t len;

	snprintf(dir, sizeof(scratch.dir), "%s%s", root, strcmp(rel, "/") == 0 ? "" : rel);
	len = strlen(root);
	for (;;) {
		n = read_cpu_max(dir);
		if (n && (!best || n < best))
			best = n;
		if (strlen(dir) <= len)
			break;
		*strrchr(dir, '/') = '\0';
	}
	return best;
}

/* "cpu,cpuacct" has it; "cpuset" and "cpuacct" alone do not. */
static int has_cpu_controller(const char *list)
{
	size_t n;

	for (; *list; list += n + (list[n] == ',')) {
		n = strcspn(list, ",");
		if (n == 3 && strncmp(list, "cpu", 3) == 0)
			return 1;
	}
	return 0;
}

unsigned amutex__cgroup_cpus(const char *root, const char *self_cgroup)
{
	char *line, *next;
	unsigned best = 0, n = 0;

	scratch_take();
	if (slurp(self_cgroup, scratch.text, sizeof(scratch.text)) < 0) {
		scratch_give();
		return 0;
	}
	for (line = scratch.text; *line; line = next) {
		char *ctl, *rel;

		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = '\0';
		/* "hierarchy-ID:controller-list:cgroup-path" */
		if (!(ctl = strchr(line, ':')) || !(rel = strchr(ctl + 1, ':')))
			continue;
		*rel++ = '\0';
		*ctl++ = '\0';
		if (rel[0] != '/')
			continue;
		if (strcmp(line, "0") == 0 && ctl[0] == '\0')
			n = v2_cpus(root, rel);
		else if (has_cpu_controller(ctl))
			n = v1_cpus(root, ctl, rel);
		else
			continue;
		if (n && (!best || n < best))
			best = n;
	}
	scratch_give();
	return best;
}
