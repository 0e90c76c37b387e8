/*
 * amutex-bench: one driver, one adapter per lock (bench/lock_*.h), every
 * lock through the same workload in the same run, pthread as the baseline.
 *
 * Scenarios
 *   uncontended  one thread, lock+unlock pairs
 *   contended    T threads, short critical section, short think time
 *   hog          one thread holds the lock --hold-us and relocks at once;
 *                --waiters threads take it between --pause-us pauses.
 *                Waits reported are the waiters' only.
 *   pingpong     condition variables: two threads hand a turn back and
 *                forth, each signalling the other under the mutex
 *   prodcons     one producer, --consumers threads, a queue of 64 with
 *                not-empty and not-full condvars; ops: items consumed
 *   barrier      --threads threads meet at a condvar barrier (the last
 *                one in broadcasts); ops: barrier rounds
 *   The three condvar scenarios use pthread_mutex_t and pthread_cond_t
 *   through plain calls whatever --locks says (lock=pthread), so that
 *   they measure glibc, or the drop-in when it is preloaded.
 *
 * Each run prints one grep-able SUMMARY line with every parameter and
 * result; --json FILE writes the same records as a JSON array.
 */
#define _GNU_SOURCE
#include "bench.h"
#include <amutex/stats.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct bench_lock {
	const char *name;
	size_t size;
	int (*init)(void *);
	int (*lock)(void *);
	int (*unlock)(void *);
	int (*destroy)(void *);
};

#include "lock_amutex.h"
#include "lock_amutex_normal.h"
#include "lock_amutex_stats.h"
#include "lock_pthread.h"
#include "lock_adaptive.h"


enum scenario { UNCONTENDED, CONTENDED, HOG, PINGPONG, PRODCONS, BARRIER };
static const char *const scenario_names[] = {
	"uncontended", "contended", "hog", "pingpong", "prodcons", "barrier",
};
#define LAST_SCENARIO BARRIER
#define CONDVAR_SCENARIO(s) ((s) >= PINGPONG)

struct params {
	enum scenario scenario;
	int threads;		/* contended: all; hog: waiters + 1 */
	unsigned duration_ms;
	unsigned hold_us, pause_us;
	unsigned cs_iters, think_iters;
	unsigned cpus;
	int sleep_pause;	/* hog: waiters sleep (I/O-like) instead of computing */
	int consumers;		/* prodcons */
};

struct result {
	uint64_t ops, ops_min, ops_max;
	double secs;
	amutex_hist_t wait;
	int counter_ok;
};

struct thread_arg {
	const struct params *p;
	void *lock;
	uint64_t *counter;
	int *stop;
	pthread_barrier_t *start;
	int role_hog;
	uint64_t ops, sink;
	amutex_hist_t wait;
} __attribute__((aligned(64)));

static void busy_ns(uint64_t ns)
{
	uint64_t end = now_ns() + ns;

	while (now_ns() < end)
		;
}

/*
 * thread_body is instantiated once per lock (THREAD_FOR below) with the
 * adapter constant, so the compiler calls each lock's functions directly
 * and inlines amutex's fast paths, as in a real program: the driver's
 * indirection must not hide the cost of an uncontended lock.
 */
static inline __attribute__((always_inline)) void *
thread_body(struct thread_arg *a, const struct bench_lock *l)
{
	const struct params *p = a->p;
	uint64_t x = (uint64_t)(uintptr_t)a, t0;

	pthread_barrier_wait(a->start);
	if (p->scenario == UNCONTENDED) {
		while (!__atomic_load_n(a->stop, __ATOMIC_RELAXED)) {
			for (int i = 0; i < 1024; i++) {
				l->lock(a->lock);
				(*a->counter)++;
				l->unlock(a->lock);
			}
			a->ops += 1024;
		}
		return NULL;
	}
	while (!__atomic_load_n(a->stop, __ATOMIC_RELAXED)) {
		if (a->role_hog) {
			l->lock(a->lock);
			(*a->counter)++;
			busy_ns(p->hold_us * 1000ull);
			l->unlock(a->lock);	/* and relock at once */
			a->ops++;
			continue;
		}
		t0 = now_ns();
		l->lock(a->lock);
		amutex_hist_record(&a->wait, now_ns() - t0);
		(*a->counter)++;
		x = work(x, p->cs_iters);
		l->unlock(a->lock);
		a->ops++;
		if (p->scenario == HOG && p->sleep_pause) {
			struct timespec d = { 0, (long)p->pause_us * 1000 };

			nanosleep(&d, NULL);
		} else if (p->scenario == HOG) {
			busy_ns(p->pause_us * 1000ull);
		}
		else
			x = work(x, p->think_iters);
	}
	a->sink = x;
	return NULL;
}

#define THREAD_FOR(l) \
	static void *thread_##l(void *v) { return thread_body(v, &l); }
THREAD_FOR(lock_amutex)
THREAD_FOR(lock_amutex_normal)
THREAD_FOR(lock_amutex_stats)
THREAD_FOR(lock_pthread)
THREAD_FOR(lock_adaptive)

static const struct {
	const struct bench_lock *lock;
	void *(*thread)(void *);
} all_locks[] = {
	{ &lock_amutex, thread_lock_amutex },
	{ &lock_pthread, thread_lock_pthread },
	{ &lock_adaptive, thread_lock_adaptive },
	{ &lock_amutex_normal, thread_lock_amutex_normal },
	{ &lock_amutex_stats, thread_lock_amutex_stats },
};

static int run(const struct params *p, const struct bench_lock *l,
	       void *(*thread)(void *), struct result *r)
{
	struct thread_arg *args = calloc((size_t)p->threads, sizeof(*args));
	pthread_t *tids = calloc((size_t)p->threads, sizeof(*tids));
	void *lock = aligned_alloc(64, 64 + l->size);
	uint64_t counter = 0, t0, total = 0;
	int stop = 0, err;
	pthread_barrier_t start;
	struct timespec d;

	if (!args || !tids || !lock)
		return ENOMEM;
	memset(lock, 0, 64 + l->size);
	if ((err = l->init(lock)) != 0)
		return err;
	pthread_barrier_init(&start, NULL, (unsigned)p->threads + 1);
	memset(r, 0, sizeof(*r));
	amutex_hist_init(&r->wait);
	for (int i = 0; i < p->threads; i++) {
		args[i].p = p;
		args[i].lock = lock;
		args[i].counter = &counter;
		args[i].stop = &stop;
		args[i].start = &start;
		args[i].role_hog = p->scenario == HOG && i == 0;
		amutex_hist_init(&args[i].wait);
		pthread_create(&tids[i], NULL, thread, &args[i]);
	}
	pthread_barrier_wait(&start);
	t0 = now_ns();
	d.tv_sec = p->duration_ms / 1000;
	d.tv_nsec = (long)(p->duration_ms % 1000) * 1000000;
	nanosleep(&d, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	r->ops_min = UINT64_MAX;
	for (int i = 0; i < p->threads; i++) {
		pthread_join(tids[i], NULL);
		total += args[i].ops;
		if (args[i].role_hog)
			continue;
		amutex_hist_merge(&r->wait, &args[i].wait);
		if (args[i].ops < r->ops_min)
			r->ops_min = args[i].ops;
		if (args[i].ops > r->ops_max)
			r->ops_max = args[i].ops;
	}
	r->secs = (double)(now_ns() - t0) / 1e9;
	r->ops = total;
	r->counter_ok = counter == total;
	l->destroy(lock);
	pthread_barrier_destroy(&start);
	free(lock);
	free(tids);
	free(args);
	return 0;
}

/* The condvar scenarios: plain pthread calls, so that a preload decides whose. */
#define QLEN 64

struct cv_shared {
	pthread_mutex_t m;
	pthread_cond_t c[2];		/* pingpong: one per side; prodcons: not-empty, not-full */
	int turn, stop;
	int q[QLEN], head, n;		/* prodcons */
	int arrived, nthreads, leaving;	/* barrier */
	uint64_t gen;
	const struct params *p;
	pthread_barrier_t start;
};

struct cv_arg {
	struct cv_shared *s;
	int id;
	uint64_t ops, sink;
} __attribute__((aligned(64)));

static void *pingpong_thread(void *v)
{
	struct cv_arg *a = v;
	struct cv_shared *s = a->s;
	int me = a->id;

	pthread_barrier_wait(&s->start);
	pthread_mutex_lock(&s->m);
	while (!s->stop) {
		while (s->turn != me && !s->stop)
			pthread_cond_wait(&s->c[me], &s->m);
		s->turn = !me;
		a->ops++;
		pthread_cond_signal(&s->c[!me]);
	}
	pthread_mutex_unlock(&s->m);
	return NULL;
}

static void *producer_thread(void *v)
{
	struct cv_arg *a = v;
	struct cv_shared *s = a->s;
	int i = 0;

	pthread_barrier_wait(&s->start);
	pthread_mutex_lock(&s->m);
	while (!s->stop) {
		while (s->n == QLEN && !s->stop)
			pthread_cond_wait(&s->c[1], &s->m);
		if (s->stop)
			break;
		s->q[(s->head + s->n++) % QLEN] = i++;
		pthread_cond_signal(&s->c[0]);
		pthread_mutex_unlock(&s->m);
		a->sink = work(a->sink, s->p->think_iters);
		pthread_mutex_lock(&s->m);
	}
	pthread_mutex_unlock(&s->m);
	return NULL;
}

static void *consumer_thread(void *v)
{
	struct cv_arg *a = v;
	struct cv_shared *s = a->s;

	pthread_barrier_wait(&s->start);
	pthread_mutex_lock(&s->m);
	for (;;) {
		while (s->n == 0 && !s->stop)
			pthread_cond_wait(&s->c[0], &s->m);
		if (s->stop)
			break;
		a->sink += (uint64_t)s->q[s->head];
		s->head = (s->head + 1) % QLEN;
		s->n--;
		a->ops++;
		pthread_cond_signal(&s->c[1]);
		pthread_mutex_unlock(&s->m);
		a->sink = work(a->sink, s->p->cs_iters);
		pthread_mutex_lock(&s->m);
	}
	pthread_mutex_unlock(&s->m);
	return NULL;
}

static void *barrier_thread(void *v)
{
	struct cv_arg *a = v;
	struct cv_shared *s = a->s;

	pthread_barrier_wait(&s->start);
	pthread_mutex_lock(&s->m);
	for (;;) {
		if (++s->arrived == s->nthreads) {
			/* The last one in decides for the round: all leave together. */
			s->leaving = s->stop;
			s->arrived = 0;
			s->gen++;
			a->ops++;
			pthread_cond_broadcast(&s->c[0]);
		} else {
			uint64_t g = s->gen;

			while (g == s->gen)
				pthread_cond_wait(&s->c[0], &s->m);
		}
		if (s->leaving)
			break;
	}
	pthread_mutex_unlock(&s->m);
	return NULL;
}

static int run_condvar(const struct params *p, struct result *r)
{
	int n = p->scenario == PINGPONG ? 2 : p->scenario == PRODCONS ? p->consumers + 1 :
		p->threads;
	struct cv_arg *args = calloc((size_t)n, sizeof(*args));
	pthread_t *tids = calloc((size_t)n, sizeof(*tids));
	struct cv_shared *s = aligned_alloc(64, (sizeof(*s) + 63) / 64 * 64);
	struct timespec d;
	uint64_t t0;

	if (!args || !tids || !s)
		return ENOMEM;
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->m, NULL);
	pthread_cond_init(&s->c[0], NULL);
	pthread_cond_init(&s->c[1], NULL);
	s->p = p;
	s->nthreads = n;
	pthread_barrier_init(&s->start, NULL, (unsigned)n + 1);
	memset(r, 0, sizeof(*r));
	amutex_hist_init(&r->wait);
	for (int i = 0; i < n; i++) {
		void *(*fn)(void *) = p->scenario == PINGPONG ? pingpong_thread :
				      p->scenario == BARRIER ? barrier_thread :
				      i == 0 ? producer_thread : consumer_thread;

		args[i].s = s;
		args[i].id = i;
		pthread_create(&tids[i], NULL, fn, &args[i]);
	}
	pthread_barrier_wait(&s->start);
	t0 = now_ns();
	d.tv_sec = p->duration_ms / 1000;
	d.tv_nsec = (long)(p->duration_ms % 1000) * 1000000;
	nanosleep(&d, NULL);
	pthread_mutex_lock(&s->m);
	s->stop = 1;
	pthread_cond_broadcast(&s->c[0]);
	pthread_cond_broadcast(&s->c[1]);
	pthread_mutex_unlock(&s->m);
	r->ops_min = UINT64_MAX;
	for (int i = 0; i < n; i++) {
		pthread_join(tids[i], NULL);
		r->ops += args[i].ops;
		if (p->scenario == PRODCONS && i == 0)
			continue;
		if (args[i].ops < r->ops_min)
			r->ops_min = args[i].ops;
		if (args[i].ops > r->ops_max)
			r->ops_max = args[i].ops;
	}
	r->secs = (double)(now_ns() - t0) / 1e9;
	r->counter_ok = 1;
	pthread_cond_destroy(&s->c[0]);
	pthread_cond_destroy(&s->c[1]);
	pthread_mutex_destroy(&s->m);
	pthread_barrier_destroy(&s->start);
	free(s);
	free(tids);
	free(args);
	return 0;
}

static FILE *json;
static int json_first = 1;
static int table;

static void table_row(const struct bench_lock *l, const struct result *r)
{
	char a[32], b[32], c[32];
	double fair = r->ops_max ? (double)r->ops_min / (double)r->ops_max : 1.0;

	printf("  %-14s %12.0f %12s %12s %12s %9.2f  %s\n", l->name,
	       (double)r->ops / r->secs,
	       amutex_format_ns(amutex_hist_quantile(&r->wait, 0.5), a, sizeof(a)),
	       amutex_format_ns(amutex_hist_quantile(&r->wait, 0.99), b, sizeof(b)),
	       amutex_format_ns(r->wait.max_ns, c, sizeof(c)), fair,
	       r->counter_ok ? "exact" : "WRONG");
}

static void report(const struct params *p, const struct bench_lock *l,
		   const struct result *r)
{
	double rate = (double)r->ops / r->secs;
	double fair = r->ops_max ? (double)r->ops_min / (double)r->ops_max : 1.0;
	uint64_t p50 = amutex_hist_quantile(&r->wait, 0.5);
	uint64_t p99 = amutex_hist_quantile(&r->wait, 0.99);
	uint64_t p999 = amutex_hist_quantile(&r->wait, 0.999);

	if (table)
		table_row(l, r);
	else
		printf("SUMMARY scenario=%s lock=%s threads=%d consumers=%d cpus=%u duration_ms=%u "
		       "hold_us=%u pause_us=%u pause=%s cs_iters=%u think_iters=%u ops=%llu "
		       "ops_per_sec=%.0f wait_p50_ns=%llu wait_p99_ns=%llu "
		       "wait_p999_ns=%llu wait_max_ns=%llu waits=%llu fairness=%.3f "
		       "ops_min=%llu ops_max=%llu counter_ok=%d\n",
		       scenario_names[p->scenario], l->name, p->threads, p->consumers, p->cpus,
		       p->duration_ms, p->hold_us, p->pause_us,
		       p->sleep_pause ? "sleep" : "busy", p->cs_iters,
		       p->think_iters, (unsigned long long)r->ops, rate,
		       (unsigned long long)p50, (unsigned long long)p99,
		       (unsigned long long)p999, (unsigned long long)r->wait.max_ns,
		       (unsigned long long)r->wait.count, fair,
		       (unsigned long long)r->ops_min, (unsigned long long)r->ops_max,
		       r->counter_ok);
	fflush(stdout);
	if (!json)
		return;
	fprintf(json, "%s\n  {\"scenario\": \"%s\", \"lock\": \"%s\", \"threads\": %d, "
		"\"consumers\": %d, \"cpus\": %u, \"duration_ms\": %u, \"hold_us\": %u, \"pause_us\": %u, "
		"\"pause\": \"%s\", "
		"\"cs_iters\": %u, \"think_iters\": %u, \"ops\": %llu, "
		"\"ops_per_sec\": %.0f, \"wait_p50_ns\": %llu, \"wait_p99_ns\": %llu, "
		"\"wait_p999_ns\": %llu, \"wait_max_ns\": %llu, \"waits\": %llu, "
		"\"fairness\": %.4f, \"counter_ok\": %s}",
		json_first ? "" : ",", scenario_names[p->scenario], l->name,
		p->threads, p->consumers, p->cpus, p->duration_ms, p->hold_us, p->pause_us,
		p->sleep_pause ? "sleep" : "busy", p->cs_iters, p->think_iters, (unsigned long long)r->ops, rate,
		(unsigned long long)p50, (unsigned long long)p99,
		(unsigned long long)p999, (unsigned long long)r->wait.max_ns,
		(unsigned long long)r->wait.count, fair,
		r->counter_ok ? "true" : "false");
	json_first = 0;
}

static const char prog[] = "amutex-bench";

static void usage(FILE *f)
{
	fprintf(f,
"usage: amutex-bench [options]\n"
"  --scenario S      uncontended, contended, hog, pingpong, prodcons or barrier\n"
"                    (default contended)\n"
"  --threads N       contended, barrier: threads (default: CPUs)\n"
"  --consumers N     prodcons: consumer threads (default 1)\n"
"  --waiters N       hog: threads besides the hog (default 1)\n"
"  --locks L,L       of amutex, pthread, adaptive, amutex-normal, amutex-stats\n"
"                    (default amutex,pthread,adaptive)\n"
"  --duration-ms MS  per run (default 1000)\n"
"  --hold-us US      hog: hold time (default 30)\n"
"  --pause-us US     hog: waiters' pause between acquisitions (default 10)\n"
"  --sleep-pause     hog: waiters sleep through the pause instead of computing\n"
"  --cs-iters N      contended: work inside the lock (default 20)\n"
"  --think-iters N   contended: work outside the lock (default 100)\n"
"  --cpus N          run on the first N CPUs of the affinity mask\n"
"  --json FILE       also write the results as a JSON array\n"
"  --table           a table for people instead of SUMMARY lines\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "scenario", 1, 0, 's' }, { "threads", 1, 0, 't' },
		{ "waiters", 1, 0, 'w' }, { "locks", 1, 0, 'l' },
		{ "duration-ms", 1, 0, 'd' }, { "hold-us", 1, 0, 'H' },
		{ "pause-us", 1, 0, 'P' }, { "cs-iters", 1, 0, 'c' },
		{ "think-iters", 1, 0, 'k' }, { "cpus", 1, 0, 'C' },
		{ "json", 1, 0, 'j' }, { "sleep-pause", 0, 0, 'S' },
		{ "table", 0, 0, 'T' }, { "help", 0, 0, 'h' }, { "consumers", 1, 0, 'n' },
		{ 0, 0, 0, 0 },
	};
	struct params p = { CONTENDED, 0, 1000, 30, 10, 20, 100, 0, 0, 1 };
	const char *locks = "amutex,pthread,adaptive";
	unsigned threads = 0, waiters = 1, cpus = 0, consumers = 1;
	int o, failed = 0;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int bad = 0;

		switch (o) {
		case 's':
			for (p.scenario = 0; p.scenario <= LAST_SCENARIO; p.scenario++)
				if (strcmp(optarg, scenario_names[p.scenario]) == 0)
					break;
			if (p.scenario > LAST_SCENARIO) {
				fprintf(stderr, "amutex-bench: unknown scenario \"%s\"\n", optarg);
				bad = 1;
			}
			break;
		case 't': bad = parse_uint(prog, "--threads", optarg, 4096, &threads) || !threads; break;
		case 'w': bad = parse_uint(prog, "--waiters", optarg, 4095, &waiters) || !waiters; break;
		case 'n': bad = parse_uint(prog, "--consumers", optarg, 4095, &consumers) || !consumers; break;
		case 'l': locks = optarg; break;
		case 'd': bad = parse_uint(prog, "--duration-ms", optarg, 600000, &p.duration_ms) || !p.duration_ms; break;
		case 'H': bad = parse_uint(prog, "--hold-us", optarg, 1000000, &p.hold_us); break;
		case 'P': bad = parse_uint(prog, "--pause-us", optarg, 1000000, &p.pause_us); break;
		case 'c': bad = parse_uint(prog, "--cs-iters", optarg, 1000000, &p.cs_iters); break;
		case 'k': bad = parse_uint(prog, "--think-iters", optarg, 1000000, &p.think_iters); break;
		case 'C': bad = parse_uint(prog, "--cpus", optarg, 4096, &cpus) || !cpus; break;
		case 'j':
			if (!(json = fopen(optarg, "w"))) {
				perror(optarg);
				return 2;
			}
			fputs("[", json);
			break;
		case 'S': p.sleep_pause = 1; break;
		case 'T': table = 1; break;
		case 'h': usage(stdout); return 0;
		default: bad = 1;
		}
		if (bad) {
			usage(stderr);
			return 2;
		}
	}
	p.cpus = restrict_cpus(cpus, "amutex-bench");
	p.consumers = (int)consumers;
	p.threads = p.scenario == UNCONTENDED ? 1 :
		    p.scenario == HOG ? (int)waiters + 1 :
		    p.scenario == PINGPONG ? 2 :
		    p.scenario == PRODCONS ? (int)consumers + 1 :
		    threads ? (int)threads : (int)p.cpus;
	if (CONDVAR_SCENARIO(p.scenario)) {
		struct result r;

		if (run_condvar(&p, &r) != 0) {
			fprintf(stderr, "amutex-bench: condvar scenario: cannot run\n");
			return 2;
		}
		report(&p, &lock_pthread, &r);
		if (json) {
			fputs("\n]\n", json);
			fclose(json);
		}
		return 0;
	}

	if (table)
		printf("  %-14s %12s %12s %12s %12s %9s  %s\n", "lock", "locks/s",
		       "wait p50", "wait p99", "wait max", "fairness", "counter");
	for (const char *s = locks; *s;) {
		size_t n = strcspn(s, ",");
		const struct bench_lock *l = NULL;
		void *(*thread)(void *) = NULL;
		struct result r;

		for (unsigned i = 0; i < sizeof(all_locks) / sizeof(all_locks[0]); i++)
			if (strlen(all_locks[i].lock->name) == n &&
			    strncmp(all_locks[i].lock->name, s, n) == 0) {
				l = all_locks[i].lock;
				thread = all_locks[i].thread;
			}
		if (!l) {
			fprintf(stderr, "amutex-bench: unknown lock \"%.*s\"\n", (int)n, s);
			return 2;
		}
		if (run(&p, l, thread, &r) != 0) {
			fprintf(stderr, "amutex-bench: %s: cannot run\n", l->name);
			return 2;
		}
		report(&p, l, &r);
		failed |= !r.counter_ok;
		s += n + (s[n] == ',');
	}
	if (json) {
		fputs("\n]\n", json);
		fclose(json);
	}
	return failed ? 1 : 0;
}
