/*
 * The drop-in's process-wide parts: glibc's functions for the mutexes it
 * keeps, the thread id cache, statistics for contended mutexes from a
 * static pool, fork handling, and the report at exit.
 *
 * Settings (docs/drop-in.md): AMUTEX_STATS=auto|on|off (per-mutex
 * statistics from the first contention; auto, the default: once something
 * reads them, below), and those of
 * amutex itself and of its publishers (AMUTEX_METRICS..., AMUTEX_WATCH),
 * read at load; AMUTEX_REPORT=stderr|PATH, read at exit (a program may set
 * it), except that the stderr it writes to is the one of load time.
 */
#include "dropin.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <urcu-bp.h>

static struct real_pthread real;
static int real_ready;

const struct real_pthread *amutex__dropin_real(void)
{
	if (__builtin_expect(!__atomic_load_n(&real_ready, __ATOMIC_ACQUIRE), 0)) {
		/* Once, before the first glibc-kept mutex is used; dlsym is safe here. */
		real.mutex_init = dlsym(RTLD_NEXT, "pthread_mutex_init");
		real.mutex_destroy = dlsym(RTLD_NEXT, "pthread_mutex_destroy");
		real.mutex_lock = dlsym(RTLD_NEXT, "pthread_mutex_lock");
		real.mutex_trylock = dlsym(RTLD_NEXT, "pthread_mutex_trylock");
		real.mutex_timedlock = dlsym(RTLD_NEXT, "pthread_mutex_timedlock");
		real.mutex_clocklock = dlsym(RTLD_NEXT, "pthread_mutex_clocklock");
		real.mutex_unlock = dlsym(RTLD_NEXT, "pthread_mutex_unlock");
		real.mutex_consistent = dlsym(RTLD_NEXT, "pthread_mutex_consistent");
		real.cancel = dlsym(RTLD_NEXT, "pthread_cancel");
		if (!real.mutex_init || !real.mutex_lock || !real.mutex_unlock || !real.cancel)
			amutex__die("glibc's pthread_mutex functions not found");
		__atomic_store_n(&real_ready, 1, __ATOMIC_RELEASE);
	}
	return &real;
}

/* initial-exec: the drop-in is preloaded or linked, never dlopen'ed, so its TLS is static. */
static __thread int tid __attribute__((tls_model("initial-exec")));

int amutex__dropin_tid(void)
{
	if (__builtin_expect(!tid, 0))
		tid = (int)syscall(SYS_gettid);
	return tid;
}

/*
 * Statistics for contended mutexes: a static pool, so that observing a
 * mutex on a lock path allocates nothing. 4096 blocks of about 5.2 KiB: the
 * pages of blocks never used are never touched. Mutexes contended after the
 * pool is spent go unobserved.
 */
#define POOL 4096
static struct amutex__stats pool[POOL];
#ifdef AMUTEX_TEST_SEAMS
void (*amutex__dropin_observe_point)(void);
#endif

static unsigned pool_used;	/* blocks handed out */
static unsigned observed;	/* mutexes that got one: the report's count */
/*
 * AMUTEX_STATS: OFF, ON, or AUTO (the default): observe once something
 * reads statistics - AMUTEX_REPORT set at load, or, in this process, an
 * export, a publisher or the watchdog started (amutex__stats_readers; the
 * variables AMUTEX_METRICS, AMUTEX_METRICS_ADDR and AMUTEX_WATCH start them
 * at load). In an unmodified program nothing else reads them, and they are
 * not free where a contended mutex moves between many CPUs: on 16 CPUs a C++
 * condvar pool ran at 0.88x glibc with them and 0.99x without (docs/
 * benchmarks.md, run 19). A mutex is observed at a contention, so one met
 * before a reader started is observed at its next.
 */
enum { OBSERVE_OFF, OBSERVE_ON, OBSERVE_AUTO };
static int observe = OBSERVE_AUTO;

static int observing(void)
{
	int o = __atomic_load_n(&observe, __ATOMIC_RELAXED);

	return o == OBSERVE_ON || (o == OBSERVE_AUTO && amutex__stats_readers());
}

void amutex__dropin_observe(struct pt_mutex *m, const void *site)
{
	struct amutex__stats *s;
	unsigned i;

	/* Process-shared: a pointer would mean nothing in the other process. */
	if (!observing() || (pt_kind(m) & KIND_PSHARED) ||
	    __atomic_load_n(&pool_used, __ATOMIC_RELAXED) >= POOL)
		return;
	if ((i = __atomic_fetch_add(&pool_used, 1, __ATOMIC_RELAXED)) >= POOL)
		return;
	s = &pool[i];
	amutex__stats_attach_init(s, &m->core, site);
	DPOINT(amutex__dropin_observe_point);
	if (amutex__stats_attach(&m->core, s)) {
		amutex__registry_pending(s);
		__atomic_add_fetch(&observed, 1, __ATOMIC_RELAXED);
		return;
	}
	/*
	 * Another thread observed it first: nobody saw this block. Give it
	 * back if it is still the last one handed out; else it stays unused.
	 */
	DSTEP(OBSERVE_RACE_LOST);
	{
		unsigned next = i + 1;

		(void)__atomic_compare_exchange_n(&pool_used, &next, i, 0, __ATOMIC_RELAXED,
						  __ATOMIC_RELAXED);
	}
}

static void child_after_fork(void)
{
	tid = 0;
	urcu_bp_after_fork_child();
}

/*
 * stderr as it was at load, when AMUTEX_REPORT=stderr then: programs close
 * theirs before the exit handlers run (coreutils' close_stdout).
 */
static int report_fd = -1;

static void report(void)
{
	const char *where = getenv("AMUTEX_REPORT");
	char path[4096];
	FILE *f;
	int fd;

	if (!where || !*where || __atomic_load_n(&observed, __ATOMIC_RELAXED) == 0)
		return;	/* nothing was contended: nothing to say */
	if (strcmp(where, "stderr") == 0) {
		fd = fcntl(report_fd >= 0 ? report_fd : 2, F_DUPFD_CLOEXEC, 3);
		f = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!f) {
			if (fd >= 0)
				close(fd);
			return;	/* no stderr to complain on either */
		}
	} else if (amutex__expand_path(where, path, sizeof(path)) == 0) {
		f = fopen(path, "we");
	} else {
		f = NULL, errno = ENAMETOOLONG;
	}
	if (!f) {
		fprintf(stderr, "amutex: AMUTEX_REPORT=\"%s\": %s\n", where, strerror(errno));
		return;
	}
	fprintf(f, "amutex contention report (pid %ld): %u mutexes were contended%s\n",
		(long)getpid(), __atomic_load_n(&observed, __ATOMIC_RELAXED),
		__atomic_load_n(&pool_used, __ATOMIC_RELAXED) >= POOL ?
		" (the pool of 4096 is spent: later ones are not counted)" : "");
	amutex_export(f, AMUTEX_FORMAT_TABLE);
	fclose(f);
}

static int stats_setting(const char *s)
{
	if (s && (strcmp(s, "on") == 0 || strcmp(s, "1") == 0))
		return OBSERVE_ON;
	if (s && (strcmp(s, "off") == 0 || strcmp(s, "0") == 0))
		return OBSERVE_OFF;
	if (s && *s && strcmp(s, "auto") != 0)
		amutex__warn_once("AMUTEX_STATS", "AMUTEX_STATS=\"%s\" is not auto, on "
				  "or off; using auto", s);
	return OBSERVE_AUTO;
}

__attribute__((constructor)) static void dropin_load(void)
{
	const char *r = getenv("AMUTEX_REPORT");
	int o = stats_setting(getenv("AMUTEX_STATS"));

	/* The report at exit reads them: asked for at load, it counts as a reader. */
	if (o == OBSERVE_AUTO && r && *r)
		o = OBSERVE_ON;
	__atomic_store_n(&observe, o, __ATOMIC_RELAXED);
	if (r && strcmp(r, "stderr") == 0)
		report_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
	pthread_atfork(urcu_bp_before_fork, urcu_bp_after_fork_parent, child_after_fork);
	amutex_metrics_from_env();
}

__attribute__((destructor)) static void dropin_unload(void)
{
	report();
}
