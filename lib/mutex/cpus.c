/*
 * Effective CPUs: the affinity mask, capped by the cgroup CPU quota, so a
 * container limited to 2 CPUs on a 64-core host spins as on 2 CPUs.
 * cgroup v2: every level from this process's cgroup up to the root may
 * have a cpu.max ("max 100000" or "QUOTA PERIOD"); the smallest wins.
 * cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us of the cpu controller.
 *
 * Where a cgroup's files are: /proc/self/cgroup names the process's cgroup
 * from the root of its hierarchy, and a container without a cgroup
 * namespace (Docker on cgroup v1, the usual case there) sees that host
 * path ("/docker/ID") while its /sys/fs/cgroup/cpu,cpuacct is a mount of
 * that cgroup itself. /proc/self/mountinfo says which cgroup each mount
 * shows (its root field): the files of cgroup P are at the mount point
 * plus P less that root. Without a matching mount (or mountinfo), the
 * hierarchy is taken as mounted whole under the root directory.
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
	char chunk[4096];	/* /proc/self/mountinfo, a piece at a time */
	char line[4096];
	struct mount {
		char root[1024];	/* the cgroup the mount shows; "" none found */
		char point[1024];
	} v1, v2;		/* the cgroup2 mount; the v1 mount with the cpu controller */
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

/*
 * A mask for machines whose kernel counts more than CPU_SETSIZE (1024)
 * possible CPUs, where sched_getaffinity refuses a cpu_set_t (EINVAL):
 * static, as the buffers above (and under their lock), since CPU_ALLOC
 * would allocate.
 */
#define BIG_CPUS 32768
static unsigned long big_mask[BIG_CPUS / (8 * sizeof(unsigned long))];

/* The CPUs this thread may run on (the settings take it for the process); 1 if unknown. */
unsigned amutex__affinity_cpus(void)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		n = CPU_COUNT(&set);
	} else {
		scratch_take();
		if (sched_getaffinity(0, sizeof(big_mask), (cpu_set_t *)(void *)big_mask) == 0)
			n = CPU_COUNT_S(sizeof(big_mask), (cpu_set_t *)(void *)big_mask);
		scratch_give();
	}
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

/*
 * rel (a cgroup, from its hierarchy's root) as a path under mount m: rel
 * less the mount's root, "" for the mount's own cgroup; NULL when rel is
 * not under it (its files are not visible here).
 */
static const char *rel_in(const struct mount *m, const char *rel)
{
	size_t r = strlen(m->root);

	if (strcmp(m->root, "/") == 0)
		return strcmp(rel, "/") == 0 ? "" : rel;
	if (strncmp(rel, m->root, r) != 0 || (rel[r] && rel[r] != '/'))
		return NULL;
	return rel + r;
}

/* The CFS quota in scratch.dir: the CPUs it allows, 0 for none; -1: no such files. */
static int v1_quota(void)
{
	char *dir = scratch.dir, *path = scratch.path;
	long long quota, period;
	int a, b;

	snprintf(path, sizeof(scratch.path), "%s/cpu.cfs_quota_us", dir);
	if ((a = read_ll(path, &quota)) == -1)
		return -1;
	snprintf(path, sizeof(scratch.path), "%s/cpu.cfs_period_us", dir);
	b = read_ll(path, &period);
	if (a == 0 && b == 0 && quota < 0)
		return 0;
	if (a == 0 && b == 0 && quota > 0 && period > 0)
		return (int)quota_cpus((unsigned long long)quota, (unsigned long long)period);
	amutex__warn_once("cpu.cfs_quota_us", "ignoring malformed CFS quota in %s", dir);
	return 0;
}

static unsigned v1_cpus(const char *root, const char *controllers, const char *rel)
{
	/* Mounted under its controller list ("cpu,cpuacct"), or as "cpu". */
	const char *const mounts[] = { controllers, "cpu" };
	const char *in;
	int n;

	if (scratch.v1.root[0]) {
		if (!(in = rel_in(&scratch.v1, rel)))
			return 0;
		snprintf(scratch.dir, sizeof(scratch.dir), "%s%s", scratch.v1.point, in);
		return (n = v1_quota()) > 0 ? (unsigned)n : 0;
	}
	for (unsigned i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		snprintf(scratch.dir, sizeof(scratch.dir), "%s/%s%s", root, mounts[i], rel);
		if ((n = v1_quota()) >= 0)
			return (unsigned)n;
	}
	return 0;
}

static unsigned v2_cpus(const char *root, const char *rel)
{
	char *dir = scratch.dir;
	unsigned best = 0, n;
	size_t len;

	if (scratch.v2.root[0]) {
		/* The walk up ends at the mount: the levels above are not visible. */
		if (!(rel = rel_in(&scratch.v2, rel)))
			return 0;
		root = scratch.v2.point;
	} else if (strcmp(rel, "/") == 0) {
		rel = "";
	}
	snprintf(dir, sizeof(scratch.dir), "%s%s", root, rel);
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

/* A mountinfo path field, its octal escapes (\040 for a space) decoded in place. */
static void unescape(char *f)
{
	char *o = f;

	for (; *f; f++) {
		if (f[0] == '\\' && f[1] >= '0' && f[1] <= '3' && f[2] >= '0' && f[2] <= '7' &&
		    f[3] >= '0' && f[3] <= '7') {
			*o++ = (char)((f[1] - '0') * 64 + (f[2] - '0') * 8 + (f[3] - '0'));
			f += 3;
		} else {
			*o++ = *f;
		}
	}
	*o = '\0';
}

/*
 * One mountinfo line: "ID PARENT MAJ:MIN ROOT POINT OPTIONS [TAG...] -
 * FSTYPE SOURCE SUPEROPTIONS". Keeps the cgroup2 mount and the v1 mount
 * with the cpu controller whose points are under the root directory (its
 * first rl characters): the first of each, or a later one mounted over it
 * at the same point.
 */
static void mount_line(char *l, const char *root_dir, size_t rl)
{
	char *f[5], *dash, *fstype, *opts, *save = NULL;
	struct mount *m;

	if (!(dash = strstr(l, " - ")))
		return;
	*dash = '\0';
	fstype = strtok_r(dash + 3, " ", &save);
	(void)strtok_r(NULL, " ", &save);		/* source */
	opts = strtok_r(NULL, " ", &save);
	if (!fstype || !opts)
		return;
	if (strcmp(fstype, "cgroup2") == 0)
		m = &scratch.v2;
	else if (strcmp(fstype, "cgroup") == 0 && has_cpu_controller(opts))
		m = &scratch.v1;
	else
		return;
	save = NULL;
	for (int i = 0; i < 5; i++)
		if (!(f[i] = strtok_r(i ? NULL : l, " ", &save)))
			return;
	unescape(f[3]);
	unescape(f[4]);
	if (strncmp(f[4], root_dir, rl) != 0 || (f[4][rl] && f[4][rl] != '/') ||
	    strlen(f[3]) >= sizeof(m->root) || strlen(f[4]) >= sizeof(m->point))
		return;
	/* The first found, unless a later one is mounted over it (it hides it). */
	if (m->root[0] && strcmp(m->point, f[4]) != 0)
		return;
	strcpy(m->root, f[3]);
	strcpy(m->point, f[4]);
}

/* The cgroup mounts under root_dir, from the mountinfo beside self_cgroup. */
static void read_mounts(const char *root_dir, const char *self_cgroup)
{
	const char *slash = strrchr(self_cgroup, '/');
	size_t used = 0, rl = strlen(root_dir);
	ssize_t n;
	int fd, skipping = 0;

	while (rl > 0 && root_dir[rl - 1] == '/')
		rl--;			/* "/sys/fs/cgroup/" as "/sys/fs/cgroup", "/" as "" */
	scratch.v1.root[0] = scratch.v2.root[0] = '\0';
	snprintf(scratch.path, sizeof(scratch.path), "%.*smountinfo",
		 slash ? (int)(slash - self_cgroup + 1) : 0, self_cgroup);
	if ((fd = open(scratch.path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	while ((n = read(fd, scratch.chunk, sizeof(scratch.chunk))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			char ch = scratch.chunk[i];

			if (ch == '\n') {
				scratch.line[used] = '\0';
				if (!skipping)
					mount_line(scratch.line, root_dir, rl);
				used = 0;
				skipping = 0;
			} else if (used < sizeof(scratch.line) - 1) {
				scratch.line[used++] = ch;
			} else {
				skipping = 1;	/* too long (an overlay's layers): not a cgroup mount's */
			}
		}
	}
	close(fd);
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
	read_mounts(root, self_cgroup);
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
