/*
 * Effective CPUs: the affinity mask, capped by the cgroup CPU quota, so a
 * container limited to 2 CPUs on a 64-core host spins as on 2 CPUs.
 * cgroup v2: every level from this process's cgroup up to the root may
 * have a cpu.max ("max 100000" or "QUOTA PERIOD"); the smallest wins.
 * cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us of the cpu controller.
 */
#include "internal.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	char path[4200], quota[32];
	unsigned long long q, period;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "%s/cpu.max", dir);
	if (!(f = fopen(path, "re")))
		return 0;
	n = fscanf(f, "%31s %llu", quota, &period);
	fclose(f);
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
	FILE *f = fopen(path, "re");
	char extra;
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "%lld %c", v, &extra);
	fclose(f);
	return n == 1 ? 0 : -2;
}

static unsigned v1_cpus(const char *root, const char *controllers, const char *rel)
{
	/* Mounted under its controller list ("cpu,cpuacct"), or as "cpu". */
	const char *const mounts[] = { controllers, "cpu" };
	char dir[4096], path[4200];
	long long quota, period;

	for (unsigned i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		int a, b;

		snprintf(dir, sizeof(dir), "%s/%s%s", root, mounts[i], rel);
		snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", dir);
		if ((a = read_ll(path, &quota)) == -1)
			continue;
		snprintf(path, sizeof(path), "%s/cpu.cfs_period_us", dir);
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
	char dir[4096];
	unsigned best = 0, n;
	size_t len;

	snprintf(dir, sizeof(dir), "%s%s", root, strcmp(rel, "/") == 0 ? "" : rel);
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
	char line[4096];
	unsigned best = 0, n;
	FILE *f = fopen(self_cgroup, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *ctl, *rel;

		line[strcspn(line, "\n")] = '\0';
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
	fclose(f);
	return best;
}
