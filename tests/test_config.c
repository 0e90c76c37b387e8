/*
 * Process settings: durations, spin settings, environment variables and
 * the cgroup CPU quota, read from fake cgroup trees written per test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mutex/mutex.h"
#include "stats/stats.h"
#include "support.h"

static char root[256];

/*
 * Interposed for the library's objects linked into this test: refuses
 * masks smaller than refuse_below bytes, as a kernel with more possible
 * CPUs than they hold does (EINVAL).
 */
static size_t refuse_below, largest_asked;

int sched_getaffinity(pid_t pid, size_t size, cpu_set_t *set)
{
	int (*real)(pid_t, size_t, cpu_set_t *) =
		(int (*)(pid_t, size_t, cpu_set_t *))dlsym(RTLD_NEXT, "sched_getaffinity");

	if (size > largest_asked)
		largest_asked = size;
	if (size < refuse_below) {
		errno = EINVAL;
		return -1;
	}
	return real(pid, size, set);
}

static void put(const char *rel, const char *text)
{
	char path[512], dir[512], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (slash = strchr(dir + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(dir, 0700);
		*slash = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/amutex-cg-XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static unsigned cpus_for(const char *self)
{
	char path[512];

	put("self", self);
	snprintf(path, sizeof(path), "%s/self", root);
	return amutex__cgroup_cpus(root, path);
}

static void capture(void (*fn)(void), char *buf, size_t len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/stderr", root);
	capture_stderr(fn, path, buf, len);
}

static void test_duration_units_parse(void **state)
{
	uint64_t ns;

	(void)state;
	assert_int_equal(amutex__parse_duration("1ms", &ns), 0);
	assert_int_equal(ns, 1000000);
	assert_int_equal(amutex__parse_duration("500us", &ns), 0);
	assert_int_equal(ns, 500000);
	assert_int_equal(amutex__parse_duration("2s", &ns), 0);
	assert_int_equal(ns, 2000000000);
	assert_int_equal(amutex__parse_duration("750ns", &ns), 0);
	assert_int_equal(ns, 750);
	assert_int_equal(amutex__parse_duration("never", &ns), 0);
	assert_true(ns == AMUTEX_STARVATION_NEVER);
}

static void test_malformed_durations_are_rejected(void **state)
{
	static const char *bad[] = {
		"", "1", "ms", "1 ms", "-1ms", "1.5ms", "0ms", "5s", "1msx",
		"99999999999999999999999ms", "1MS",
	};
	uint64_t ns = 42;

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(amutex__parse_duration(bad[i], &ns), EINVAL);
	assert_int_equal(ns, 42);
}

static void test_spin_settings_parse(void **state)
{
	int spin = 99;

	(void)state;
	assert_int_equal(amutex__parse_spin("auto", &spin), 0);
	assert_int_equal(spin, AMUTEX_SPIN_AUTO);
	assert_int_equal(amutex__parse_spin("off", &spin), 0);
	assert_int_equal(spin, AMUTEX_SPIN_OFF);
	assert_int_equal(amutex__parse_spin("12", &spin), 0);
	assert_int_equal(spin, 12);
	assert_int_equal(amutex__parse_spin("1001", &spin), EINVAL);
	assert_int_equal(amutex__parse_spin("-1", &spin), EINVAL);
	assert_int_equal(amutex__parse_spin("4x", &spin), EINVAL);
	assert_int_equal(amutex__parse_spin("", &spin), EINVAL);
	assert_int_equal(spin, 12);
}

static void test_v2_cpu_max_quota_rounds_up(void **state)
{
	(void)state;
	put("app/cpu.max", "150000 100000\n");
	assert_int_equal(cpus_for("0::/app\n"), 2);
}

static void test_v2_smallest_quota_on_the_path_wins(void **state)
{
	(void)state;
	put("outer/cpu.max", "100000 100000\n");
	put("outer/inner/cpu.max", "max 100000\n");
	assert_int_equal(cpus_for("0::/outer/inner\n"), 1);
	put("outer/cpu.max", "max 100000\n");
	put("outer/inner/cpu.max", "400000 100000\n");
	assert_int_equal(cpus_for("0::/outer/inner\n"), 4);
}

static void test_v2_max_means_no_quota(void **state)
{
	(void)state;
	put("free/cpu.max", "max 100000\n");
	assert_int_equal(cpus_for("0::/free\n"), 0);
}

static void test_v2_namespace_root_is_read(void **state)
{
	(void)state;
	put("cpu.max", "300000 100000\n");
	assert_int_equal(cpus_for("0::/\n"), 3);
	unlink(strcat(strcpy((char[512]){0}, root), "/cpu.max"));
}

static void test_v1_cfs_quota(void **state)
{
	(void)state;
	put("cpu,cpuacct/job/cpu.cfs_quota_us", "250000\n");
	put("cpu,cpuacct/job/cpu.cfs_period_us", "100000\n");
	assert_int_equal(cpus_for("12:cpuset:/job\n4:cpu,cpuacct:/job\n"), 3);
	put("cpu,cpuacct/job/cpu.cfs_quota_us", "-1\n");
	assert_int_equal(cpus_for("4:cpu,cpuacct:/job\n"), 0);
}

static void test_v1_cpuset_and_cpuacct_alone_are_not_the_cpu_controller(void **state)
{
	(void)state;
	put("cpuacct/j/cpu.cfs_quota_us", "100000\n");
	put("cpuacct/j/cpu.cfs_period_us", "100000\n");
	assert_int_equal(cpus_for("3:cpuacct:/j\n2:cpuset:/j\n"), 0);
}

/*
 * A container without a cgroup namespace: /proc/self/cgroup names the
 * host's path, and the mounts show that cgroup itself (mountinfo's root
 * field), as Docker does on cgroup v1. The mountinfo beside the cgroup
 * file says where the files are.
 */
static void put_mountinfo(const char *fmt)
{
	char text[2048];

	snprintf(text, sizeof(text), fmt, root, root, root, root);
	put("mountinfo", text);
}

static void test_v1_container_mount_of_its_own_cgroup(void **state)
{
	char path[512];

	(void)state;
	put("cpu,cpuacct/cpu.cfs_quota_us", "200000\n");
	put("cpu,cpuacct/cpu.cfs_period_us", "100000\n");
	put_mountinfo("600 500 0:52 / / rw,relatime - overlay overlay rw\n"
		      "610 600 0:60 / %s rw,nosuid - tmpfs tmpfs rw\n"
		      "620 610 0:28 /docker/abc %s/cpuset ro - cgroup cgroup rw,cpuset\n"
		      "630 610 0:29 /docker/abc %s/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
		      "640 610 0:30 /docker/abc %s/memory ro - cgroup cgroup rw,memory\n");
	assert_int_equal(cpus_for("12:memory:/docker/abc\n5:cpuset:/docker/abc\n"
				  "4:cpu,cpuacct:/docker/abc\n"), 2);
	/* a cgroup below the container's: under the mount point */
	put("cpu,cpuacct/worker/cpu.cfs_quota_us", "100000\n");
	put("cpu,cpuacct/worker/cpu.cfs_period_us", "100000\n");
	assert_int_equal(cpus_for("4:cpu,cpuacct:/docker/abc/worker\n"), 1);
	/* a cgroup outside what the mount shows: not visible, no quota */
	assert_int_equal(cpus_for("4:cpu,cpuacct:/other\n"), 0);
	/* a mount point with a space, escaped in mountinfo as the kernel does */
	put("cpu space/cpu.cfs_quota_us", "300000\n");
	put("cpu space/cpu.cfs_period_us", "100000\n");
	put_mountinfo("630 610 0:29 /docker/abc %s/cpu\\040space ro - cgroup cgroup rw,cpu\n");
	assert_int_equal(cpus_for("4:cpu:/docker/abc\n"), 3);
	/* a line longer than the parser's buffer (an overlay's many layers) after it */
	{
		static char text[12000];
		size_t n;

		n = (size_t)snprintf(text, sizeof(text),
				     "630 610 0:29 /docker/abc %s/cpu\\040space ro - cgroup cgroup rw,cpu\n"
				     "600 500 0:52 / / rw - overlay overlay rw,lowerdir=", root);
		memset(text + n, 'l', 6000);
		snprintf(text + n + 6000, sizeof(text) - n - 6000, ",upperdir=/u\n"
			 "700 600 0:31 /x %s/cpu rw - cgroup cgroup rw,cpuacct\n", root);
		put("mountinfo", text);
		assert_int_equal(cpus_for("4:cpu:/docker/abc\n"), 3);
	}
	/* a later mount over the same point hides the first */
	put("cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "400000\n");
	put("cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
	put_mountinfo("630 610 0:29 /docker/abc %s/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct\n"
		      "631 610 0:29 / %s/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct\n");
	assert_int_equal(cpus_for("4:cpu,cpuacct:/docker/abc\n"), 4);
	/*
	 * Mounts outside the cgroup root are not this hierarchy's: as without
	 * mountinfo, the files under the root (the whole hierarchy's layout).
	 */
	put_mountinfo("630 610 0:29 /docker/abc /elsewhere/cpu ro - cgroup cgroup rw,cpu\n");
	snprintf(path, sizeof(path), "%s/mountinfo", root);
	assert_int_equal(cpus_for("4:cpu,cpuacct:/docker/abc\n"), 4);
	unlink(path);
}

static void test_v2_mount_of_a_cgroup_below_the_root(void **state)
{
	char path[512];

	(void)state;
	put("cpu.max", "300000 100000\n");
	put("svc/cpu.max", "100000 100000\n");
	put_mountinfo("700 600 0:31 /system.slice/box %s rw - cgroup2 cgroup2 rw\n");
	assert_int_equal(cpus_for("0::/system.slice/box\n"), 3);
	assert_int_equal(cpus_for("0::/system.slice/box/svc\n"), 1);
	assert_int_equal(cpus_for("0::/system.slice/boxer\n"), 0);
	/* the whole hierarchy mounted: as without mountinfo */
	put_mountinfo("700 600 0:31 / %s rw - cgroup2 cgroup2 rw\n");
	assert_int_equal(cpus_for("0::/svc\n"), 1);
	snprintf(path, sizeof(path), "%s/mountinfo", root);
	unlink(path);
	snprintf(path, sizeof(path), "%s/cpu.max", root);
	unlink(path);
}

static void check_malformed_cpu_max(void)
{
	assert_int_equal(cpus_for("0::/bad\n"), 0);
}

static void test_malformed_cpu_max_is_reported_and_ignored(void **state)
{
	char out[1024];

	(void)state;
	amutex__warn_reset();
	put("bad/cpu.max", "lots 100000\n");
	capture(check_malformed_cpu_max, out, sizeof(out));
	assert_non_null(strstr(out, "amutex: ignoring malformed"));
	assert_non_null(strstr(out, "bad/cpu.max"));
	put("bad/cpu.max", "100000 0\n");
	assert_int_equal(cpus_for("0::/bad\n"), 0);
	put("bad/cpu.max", "\n");
	assert_int_equal(cpus_for("0::/bad\n"), 0);
}

static void test_missing_files_mean_no_quota(void **state)
{
	(void)state;
	assert_int_equal(cpus_for("0::/nowhere\n"), 0);
	assert_int_equal(amutex__cgroup_cpus(root, "/nonexistent/cgroup"), 0);
	assert_int_equal(cpus_for("garbage without colons\n"), 0);
}

static void reload_with_quota(void)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/self", root);
	amutex__config_reload(root, path);
}

static void test_effective_cpus_take_the_quota(void **state)
{
	(void)state;
	put("q/cpu.max", "100000 100000\n");
	put("self", "0::/q\n");
	unsetenv("AMUTEX_SPIN");
	unsetenv("AMUTEX_STARVATION_THRESHOLD");
	reload_with_quota();
	assert_int_equal(amutex__config()->cpus, 1);
	put("q/cpu.max", "max 100000\n");
	reload_with_quota();
	assert_int_equal(amutex__config()->cpus, amutex__affinity_cpus());
}

static void test_environment_sets_process_defaults(void **state)
{
	(void)state;
	setenv("AMUTEX_STARVATION_THRESHOLD", "500us", 1);
	setenv("AMUTEX_SPIN", "9", 1);
	put("self", "0::/\n");
	reload_with_quota();
	assert_int_equal(amutex__config()->starve_ns, 500000);
	assert_int_equal(amutex__config()->spin, 9);
	setenv("AMUTEX_STARVATION_THRESHOLD", "never", 1);
	setenv("AMUTEX_SPIN", "off", 1);
	reload_with_quota();
	assert_int_equal(amutex__config()->starve_ns, UINT32_MAX);
	assert_int_equal(amutex__config()->spin, AMUTEX_SPIN_OFF);
	unsetenv("AMUTEX_STARVATION_THRESHOLD");
	unsetenv("AMUTEX_SPIN");
}

/*
 * AMUTEX_FAIR: a fair mutex looks at the lock every few pauses and starves
 * after 250 us, unless a threshold was set, by the mutex or the environment;
 * an attribute overrides the environment either way.
 */
static void test_fairness_from_environment_and_attribute(void **state)
{
	amutex_attr_t a;
	amutex_t plain = AMUTEX_INITIALIZER, unfair, own;

	(void)state;
	amutex_attr_init(&a);
	amutex_attr_setfair(&a, 0);
	amutex_init(&unfair, &a);
	amutex_attr_setfair(&a, 1);
	amutex_attr_setstarvation(&a, 700000);
	amutex_init(&own, &a);
	put("self", "0::/\n");
	reload_with_quota();
	assert_int_equal(amutex__config()->fair, 0);
	assert_int_equal(amutex__config()->spin_check, AMUTEX_DEFAULT_SPIN_CHECK);
	assert_false(amutex__fair(&plain, amutex__config()));
	assert_int_equal(amutex__threshold(&plain, amutex__config()), AMUTEX_DEFAULT_STARVE_NS);
	assert_true(amutex__fair(&own, amutex__config()));
	assert_int_equal(amutex__threshold(&own, amutex__config()), 700000);
	setenv("AMUTEX_FAIR", "on", 1);
	setenv("AMUTEX_SPIN_CHECK", "6", 1);
	reload_with_quota();
	assert_int_equal(amutex__config()->spin_check, 6);
	assert_true(amutex__fair(&plain, amutex__config()));
	assert_int_equal(amutex__threshold(&plain, amutex__config()), AMUTEX_FAIR_STARVE_NS);
	assert_false(amutex__fair(&unfair, amutex__config()));
	assert_int_equal(amutex__threshold(&unfair, amutex__config()), AMUTEX_DEFAULT_STARVE_NS);
	setenv("AMUTEX_STARVATION_THRESHOLD", "2ms", 1);
	reload_with_quota();
	assert_int_equal(amutex__threshold(&plain, amutex__config()), 2000000);
	unsetenv("AMUTEX_STARVATION_THRESHOLD");
	unsetenv("AMUTEX_FAIR");
	unsetenv("AMUTEX_SPIN_CHECK");
	reload_with_quota();
}

static void test_malformed_environment_is_reported_once_and_default_used(void **state)
{
	char out[2048];

	(void)state;
	setenv("AMUTEX_STARVATION_THRESHOLD", "soon", 1);
	setenv("AMUTEX_SPIN", "lots", 1);
	setenv("AMUTEX_FAIR", "sometimes", 1);
	setenv("AMUTEX_SPIN_CHECK", "31", 1);
	put("self", "0::/\n");
	capture(reload_with_quota, out, sizeof(out));
	assert_non_null(strstr(out, "AMUTEX_STARVATION_THRESHOLD=\"soon\""));
	assert_non_null(strstr(out, "AMUTEX_SPIN=\"lots\""));
	assert_non_null(strstr(out, "AMUTEX_FAIR=\"sometimes\""));
	assert_non_null(strstr(out, "AMUTEX_SPIN_CHECK=\"31\""));
	assert_int_equal(amutex__config()->fair, 0);
	assert_int_equal(amutex__config()->spin_check, AMUTEX_DEFAULT_SPIN_CHECK);
	unsetenv("AMUTEX_FAIR");
	unsetenv("AMUTEX_SPIN_CHECK");
	assert_int_equal(amutex__config()->starve_ns, AMUTEX_DEFAULT_STARVE_NS);
	assert_int_equal(amutex__config()->spin, AMUTEX_SPIN_AUTO);
	/* A second look at the same bad value says nothing more. */
	amutex__config_reload(root, NULL);
	unsetenv("AMUTEX_STARVATION_THRESHOLD");
	unsetenv("AMUTEX_SPIN");
}

static void test_spin_rounds_follow_attribute_environment_and_quota(void **state)
{
	amutex_t m = AMUTEX_INITIALIZER;
	amutex_attr_t a;

	(void)state;
	amutex_attr_init(&a);
	put("four/cpu.max", "400000 100000\n");
	put("self", "0::/four\n");
	reload_with_quota();
	if (amutex__config()->cpus < 2)
		skip();	/* a one-CPU machine can only show the next case */
	assert_int_equal(amutex__spin_rounds(&m), AMUTEX_DEFAULT_SPIN_ROUNDS);
	amutex_attr_setspin(&a, 50);
	amutex_init(&m, &a);
	assert_int_equal(amutex__spin_rounds(&m), 50);
	amutex_attr_setspin(&a, AMUTEX_SPIN_OFF);
	amutex_init(&m, &a);
	assert_int_equal(amutex__spin_rounds(&m), 0);
	setenv("AMUTEX_SPIN", "7", 1);
	reload_with_quota();
	amutex_init(&m, NULL);
	assert_int_equal(amutex__spin_rounds(&m), 7);
	unsetenv("AMUTEX_SPIN");
	put("self", "0::/\n");
	reload_with_quota();
}

/* More possible CPUs than a cpu_set_t holds: a bigger mask; none that fits: 1. */
static void test_affinity_counts_cpus_past_cpu_setsize(void **state)
{
	cpu_set_t set;
	unsigned n;

	(void)state;
	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	n = (unsigned)CPU_COUNT(&set);
	refuse_below = sizeof(set) + 1;
	largest_asked = 0;
	assert_int_equal(amutex__affinity_cpus(), n);
	assert_true(largest_asked >= 32768 / 8);	/* the big mask, asked for (n may be 1) */
	refuse_below = (size_t)-1;
	assert_int_equal(amutex__affinity_cpus(), 1);
	refuse_below = 0;
	assert_int_equal(amutex__affinity_cpus(), n);
}

static int refuse_nothing(void **state)
{
	(void)state;
	refuse_below = 0;
	return 0;
}

static void test_one_effective_cpu_disables_spinning(void **state)
{
	amutex_t m = AMUTEX_INITIALIZER;
	amutex_attr_t a;

	(void)state;
	put("one/cpu.max", "50000 100000\n");
	put("self", "0::/one\n");
	reload_with_quota();
	assert_int_equal(amutex__config()->cpus, 1);
	assert_int_equal(amutex__spin_rounds(&m), 0);
	amutex_attr_init(&a);
	amutex_attr_setspin(&a, 50);
	amutex_init(&m, &a);
	assert_int_equal(amutex__spin_rounds(&m), 0);
	put("self", "0::/\n");
	reload_with_quota();
}

static void test_percent_p_in_a_path_becomes_the_process_id(void **state)
{
	char out[64], want[64];

	(void)state;
	snprintf(want, sizeof(want), "/tmp/amutex.%ld.prom", (long)getpid());
	assert_int_equal(amutex__expand_path("/tmp/amutex.%p.prom", out, sizeof(out)), 0);
	assert_string_equal(out, want);
	assert_int_equal(amutex__expand_path("/plain/path", out, sizeof(out)), 0);
	assert_string_equal(out, "/plain/path");
	assert_int_equal(amutex__expand_path("/a/very/long/path/that/does/not/fit", out, 8), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_units_parse),
		cmocka_unit_test(test_malformed_durations_are_rejected),
		cmocka_unit_test(test_spin_settings_parse),
		cmocka_unit_test(test_v2_cpu_max_quota_rounds_up),
		cmocka_unit_test(test_v2_smallest_quota_on_the_path_wins),
		cmocka_unit_test(test_v2_max_means_no_quota),
		cmocka_unit_test(test_v2_namespace_root_is_read),
		cmocka_unit_test(test_v1_cfs_quota),
		cmocka_unit_test(test_v1_cpuset_and_cpuacct_alone_are_not_the_cpu_controller),
		cmocka_unit_test(test_v1_container_mount_of_its_own_cgroup),
		cmocka_unit_test(test_v2_mount_of_a_cgroup_below_the_root),
		cmocka_unit_test(test_malformed_cpu_max_is_reported_and_ignored),
		cmocka_unit_test(test_missing_files_mean_no_quota),
		cmocka_unit_test(test_effective_cpus_take_the_quota),
		cmocka_unit_test(test_environment_sets_process_defaults),
		cmocka_unit_test(test_fairness_from_environment_and_attribute),
		cmocka_unit_test(test_malformed_environment_is_reported_once_and_default_used),
		cmocka_unit_test(test_spin_rounds_follow_attribute_environment_and_quota),
		cmocka_unit_test_teardown(test_affinity_counts_cpus_past_cpu_setsize, refuse_nothing),
		cmocka_unit_test(test_one_effective_cpu_disables_spinning),
		cmocka_unit_test(test_percent_p_in_a_path_becomes_the_process_id),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
