/*
 * Process-wide settings: AMUTEX_STARVATION_THRESHOLD, AMUTEX_SPIN and the
 * effective CPU count. Computed when the library is loaded (a constructor,
 * on the main thread's stack), or by the first slow path if a lock is
 * contended before that constructor runs (a drop-in can be called by
 * other libraries' constructors); never with more than a few hundred
 * bytes of the calling thread's stack (lib/mutex/cpus.c keeps its
 * buffers static). A malformed value is reported once on stderr and the
 * default used.
 */
#include "mutex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct amutex__config config;
/* 0: not computed; 1: being computed; 2: ready. */
static int config_state;

int amutex__parse_duration(const char *s, uint64_t *ns)
{
	if (strcmp(s, "never") == 0 || strcmp(s, "off") == 0) {
		*ns = AMUTEX_STARVATION_NEVER;
		return 0;
	}
	return amutex__parse_duration_max(s, AMUTEX_STARVATION_MAX_NS, ns);
}

int amutex__parse_count(const char *s, int max, int *out)
{
	int v = 0;

	if (*s < '0' || *s > '9')
		return EINVAL;
	for (; *s >= '0' && *s <= '9'; s++)
		if ((v = v * 10 + (*s - '0')) > max)
			return EINVAL;
	if (*s || v < 1)
		return EINVAL;
	*out = v;
	return 0;
}

int amutex__parse_spin(const char *s, int *spin)
{
	if (strcmp(s, "auto") == 0) {
		*spin = AMUTEX_SPIN_AUTO;
		return 0;
	}
	if (strcmp(s, "off") == 0 || strcmp(s, "0") == 0) {
		*spin = AMUTEX_SPIN_OFF;
		return 0;
	}
	return amutex__parse_count(s, AMUTEX_SPIN_MAX, spin);
}

static void compute(struct amutex__config *c, const char *cgroup_root,
		    const char *self_cgroup)
{
	const char *s;
	uint64_t ns;
	unsigned quota;
	int saved = errno;	/* the files below may set it; callers never see it */

	c->starve_ns = AMUTEX_DEFAULT_STARVE_NS;
	c->starve_set = 0;
	s = getenv("AMUTEX_STARVATION_THRESHOLD");
	if (s && *s) {
		if (amutex__parse_duration(s, &ns) == 0)
			c->starve_ns = amutex__starve_encode(ns), c->starve_set = 1;
		else
			amutex__warn_once("AMUTEX_STARVATION_THRESHOLD",
				"AMUTEX_STARVATION_THRESHOLD=\"%s\" is not a duration "
				"from 1ns to 4s (such as 1ms, 500us) or \"never\"; "
				"using 1ms", s);
	}
	c->spin = AMUTEX_SPIN_AUTO;
	s = getenv("AMUTEX_SPIN");
	if (s && *s && amutex__parse_spin(s, &c->spin) != 0)
		amutex__warn_once("AMUTEX_SPIN",
			"AMUTEX_SPIN=\"%s\" is not auto, off or a round count "
			"1..%d; using auto", s, AMUTEX_SPIN_MAX);
	c->fair = 0;
	s = getenv("AMUTEX_FAIR");
	if (s && *s) {
		if (strcmp(s, "on") == 0 || strcmp(s, "1") == 0)
			c->fair = 1;
		else if (strcmp(s, "off") != 0 && strcmp(s, "0") != 0)
			amutex__warn_once("AMUTEX_FAIR", "AMUTEX_FAIR=\"%s\" is not on or "
					  "off; using off", s);
	}
	c->spin_check = AMUTEX_DEFAULT_SPIN_CHECK;
	s = getenv("AMUTEX_SPIN_CHECK");
	if (s && *s && amutex__parse_count(s, AMUTEX_PAUSES_PER_ROUND, &c->spin_check) != 0)
		amutex__warn_once("AMUTEX_SPIN_CHECK", "AMUTEX_SPIN_CHECK=\"%s\" is not a "
			"number of pauses 1..%d; using %d", s, AMUTEX_PAUSES_PER_ROUND,
			AMUTEX_DEFAULT_SPIN_CHECK);

	c->cpus = amutex__affinity_cpus();
	quota = amutex__cgroup_cpus(cgroup_root, self_cgroup);
	if (quota && quota < c->cpus)
		c->cpus = quota;
	errno = saved;
}

static const char *default_root(void)
{
	const char *root = getenv("AMUTEX_CGROUP_ROOT");

	return root && *root ? root : "/sys/fs/cgroup";
}

/*
 * Until the settings are known, and for the thread computing them (whose
 * file reads may lock, inside a malloc that locks, on this very path): no
 * spinning, the default threshold. Nobody waits for the computation: a
 * thread that did could hold a lock the computing thread needs.
 */
static const struct amutex__config meanwhile = {
	AMUTEX_DEFAULT_STARVE_NS, 0, AMUTEX_SPIN_OFF, 0, AMUTEX_DEFAULT_SPIN_CHECK, 1,
};

const struct amutex__config *amutex__config(void)
{
	int st = __atomic_load_n(&config_state, __ATOMIC_ACQUIRE);

	if (__builtin_expect(st == 2, 1))
		return &config;
	if (st == 0 && __atomic_compare_exchange_n(&config_state, &st, 1, 0,
			__ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
		compute(&config, default_root(), "/proc/self/cgroup");
		/* Release: paired with the acquire loads above. */
		__atomic_store_n(&config_state, 2, __ATOMIC_RELEASE);
		return &config;
	}
	return &meanwhile;
}

void amutex__config_reload(const char *cgroup_root, const char *self_cgroup)
{
	struct amutex__config c;

	amutex__warn_reset();
	compute(&c, cgroup_root ? cgroup_root : default_root(),
		self_cgroup ? self_cgroup : "/proc/self/cgroup");
	config = c;
	__atomic_store_n(&config_state, 2, __ATOMIC_RELEASE);
}

/* At load: the environment as the program started with it. */
__attribute__((constructor)) static void config_at_load(void)
{
	(void)amutex__config();
}
