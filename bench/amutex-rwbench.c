/*
 * amutex-rwbench: reader-writer locks side by side, one adapter per lock
 * (bench/rwlock_*.h), every lock through the same workload in one run:
 * amutex_rwlock_t, glibc's default pthread_rwlock_t (it prefers readers:
 * the baseline programs get) and glibc's writer-preferring kind.
 *
 * Workload: --threads threads; each operation is a write with probability
 * --write-pct percent, else a read, holding the lock for --cs-iters steps
 * of busy work, then --think-iters steps outside it. With --writers W, W
 * threads only write and the rest only read (--write-pct is ignored): the
 * shape in which a reader-preferring lock starves its writers when the
 * readers' holds overlap. Waits (the lock call's duration) are kept apart
 * for reads and writes; writers bump two counters that readers check, so a
 * broken exclusion shows as checks=WRONG.
 *
 * One SUMMARY line per lock with every parameter and result; --json FILE
 * writes the same records as a JSON array.
 */
#define _GNU_SOURCE
#include "bench.h"
#include <amutex/stats.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bench_rwlock {
	const char *name;
	size_t size;
	int (*init)(void *);
	int (*rdlock)(void *);
	int (*rdunlock)(void *);
	int (*wrlock)(void *);
	int (*wrunlock)(void *);
	int (*destroy)(void *);
};

#include "rwlock_amutex.h"
#include "rwlock_pthread.h"
#include "rwlock_pthread_writer.h"

struct params {
	int threads, writers;	/* writers 0: every thread mixes by write_pct */
	unsigned write_pct, cs_iters, think_iters, duration_ms, cpus;
};

struct shared {
	void *lock;
	volatile uint64_t a, b;	/* written by writers one after the other, under the lock */
	int stop, broken;
	pthread_barrier_t start;
};

struct thread_arg {
	const struct params *p;
	struct shared *s;
	int role;		/* 0 mixed, 1 reader, 2 writer */
	uint64_t reads, writes, sink;
	amutex_hist_t rwait, wwait;
} __attribute__((aligned(64)));

static inline __attribute__((always_inline)) void *
thread_body(struct thread_arg *t, const struct bench_rwlock *l)
{
	const struct params *p = t->p;
	struct shared *s = t->s;
	uint64_t x = (uint64_t)(uintptr_t)t, rnd = x, t0;

	pthread_barrier_wait(&s->start);
	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		int write = t->role == 2 || (t->role == 0 && splitmix(&rnd) % 100 < p->write_pct);

		t0 = now_ns();
		if (write) {
			l->wrlock(s->lock);
			amutex_hist_record(&t->wwait, now_ns() - t0);
			s->a = s->a + 1;
			x = work(x, p->cs_iters);
			s->b = s->b + 1;
			l->wrunlock(s->lock);
			t->writes++;
		} else {
			l->rdlock(s->lock);
			amutex_hist_record(&t->rwait, now_ns() - t0);
			if (s->a != s->b)
				__atomic_store_n(&s->broken, 1, __ATOMIC_RELAXED);
			x = work(x, p->cs_iters);
			l->rdunlock(s->lock);
			t->reads++;
		}
		x = work(x, p->think_iters);
	}
	t->sink = x;
	return NULL;
}

#define THREAD_FOR(l) \
	static void *thread_##l(void *v) { return thread_body(v, &l); }
THREAD_FOR(rw_amutex)
THREAD_FOR(rw_pthread)
THREAD_FOR(rw_pthread_writer)

static const struct {
	const struct bench_rwlock *lock;
	void *(*thread)(void *);
} all_locks[] = {
	{ &rw_amutex, thread_rw_amutex },
	{ &rw_pthread, thread_rw_pthread },
	{ &rw_pthread_writer, thread_rw_pthread_writer },
};

struct result {
	uint64_t reads, writes, ops_min, ops_max, writes_min;
	double secs;
	amutex_hist_t rwait, wwait;
	int ok;
};

static int run(const struct params *p, const struct bench_rwlock *l, void *(*thread)(void *),
	       struct result *r)
{
	struct thread_arg *args = calloc((size_t)p->threads, sizeof(*args));
	pthread_t *tids = calloc((size_t)p->threads, sizeof(*tids));
	struct shared s;
	struct timespec d;
	uint64_t t0;
	int err;

	memset(&s, 0, sizeof(s));
	s.lock = aligned_alloc(64, 64 + l->size);
	if (!args || !tids || !s.lock)
		return ENOMEM;
	memset(s.lock, 0, 64 + l->size);
	if ((err = l->init(s.lock)) != 0)
		return err;
	pthread_barrier_init(&s.start, NULL, (unsigned)p->threads + 1);
	memset(r, 0, sizeof(*r));
	amutex_hist_init(&r->rwait);
	amutex_hist_init(&r->wwait);
	for (int i = 0; i < p->threads; i++) {
		args[i].p = p;
		args[i].s = &s;
		args[i].role = !p->writers ? 0 : i < p->writers ? 2 : 1;
		amutex_hist_init(&args[i].rwait);
		amutex_hist_init(&args[i].wwait);
		pthread_create(&tids[i], NULL, thread, &args[i]);
	}
	pthread_barrier_wait(&s.start);
	t0 = now_ns();
	d.tv_sec = p->duration_ms / 1000;
	d.tv_nsec = (long)(p->duration_ms % 1000) * 1000000;
	nanosleep(&d, NULL);
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELAXED);
	r->ops_min = r->writes_min = UINT64_MAX;
	for (int i = 0; i < p->threads; i++) {
		uint64_t ops = args[i].reads + args[i].writes;

		pthread_join(tids[i], NULL);
		r->reads += args[i].reads;
		r->writes += args[i].writes;
		amutex_hist_merge(&r->rwait, &args[i].rwait);
		amutex_hist_merge(&r->wwait, &args[i].wwait);
		r->ops_min = ops < r->ops_min ? ops : r->ops_min;
		r->ops_max = ops > r->ops_max ? ops : r->ops_max;
		if (args[i].role == 2 && args[i].writes < r->writes_min)
			r->writes_min = args[i].writes;
	}
	if (r->writes_min == UINT64_MAX)
		r->writes_min = 0;
	r->secs = (double)(now_ns() - t0) / 1e9;
	r->ok = !s.broken && s.a == s.b && s.a == r->writes;
	l->destroy(s.lock);
	pthread_barrier_destroy(&s.start);
	free(s.lock);
	free(tids);
	free(args);
	return 0;
}

static FILE *json;
static int json_first = 1;

static void report(const struct params *p, const struct bench_rwlock *l, const struct result *r)
{
	const amutex_hist_t *rw = &r->rwait, *ww = &r->wwait;
	unsigned long long q[6] = {
		amutex_hist_quantile(rw, 0.5), amutex_hist_quantile(rw, 0.99), rw->max_ns,
		amutex_hist_quantile(ww, 0.5), amutex_hist_quantile(ww, 0.99), ww->max_ns,
	};

	printf("SUMMARY scenario=rwlock lock=%s threads=%d writers=%d write_pct=%u cpus=%u "
	       "duration_ms=%u cs_iters=%u think_iters=%u reads=%llu writes=%llu "
	       "ops_per_sec=%.0f reads_per_sec=%.0f writes_per_sec=%.0f "
	       "read_wait_p50_ns=%llu read_wait_p99_ns=%llu read_wait_max_ns=%llu "
	       "write_wait_p50_ns=%llu write_wait_p99_ns=%llu write_wait_max_ns=%llu "
	       "ops_min=%llu ops_max=%llu writer_writes_min=%llu checks=%s\n",
	       l->name, p->threads, p->writers, p->writers ? 0 : p->write_pct, p->cpus,
	       p->duration_ms, p->cs_iters, p->think_iters, (unsigned long long)r->reads,
	       (unsigned long long)r->writes, (double)(r->reads + r->writes) / r->secs,
	       (double)r->reads / r->secs, (double)r->writes / r->secs, q[0], q[1], q[2], q[3],
	       q[4], q[5], (unsigned long long)r->ops_min, (unsigned long long)r->ops_max,
	       (unsigned long long)r->writes_min, r->ok ? "exact" : "WRONG");
	fflush(stdout);
	if (!json)
		return;
	fprintf(json, "%s\n  {\"scenario\": \"rwlock\", \"lock\": \"%s\", \"threads\": %d, "
		"\"writers\": %d, \"write_pct\": %u, \"cpus\": %u, \"duration_ms\": %u, "
		"\"cs_iters\": %u, \"think_iters\": %u, \"reads\": %llu, \"writes\": %llu, "
		"\"ops_per_sec\": %.0f, \"read_wait_p50_ns\": %llu, \"read_wait_p99_ns\": %llu, "
		"\"read_wait_max_ns\": %llu, \"write_wait_p50_ns\": %llu, "
		"\"write_wait_p99_ns\": %llu, \"write_wait_max_ns\": %llu, "
		"\"writer_writes_min\": %llu, \"checks\": %s}",
		json_first ? "" : ",", l->name, p->threads, p->writers,
		p->writers ? 0 : p->write_pct, p->cpus, p->duration_ms, p->cs_iters,
		p->think_iters, (unsigned long long)r->reads, (unsigned long long)r->writes,
		(double)(r->reads + r->writes) / r->secs, q[0], q[1], q[2], q[3], q[4], q[5],
		(unsigned long long)r->writes_min, r->ok ? "true" : "false");
	json_first = 0;
}

static const char prog[] = "amutex-rwbench";

static void usage(FILE *f)
{
	fputs("usage: amutex-rwbench [options]\n"
"  --threads N       threads (default: the CPUs used)\n"
"  --write-pct P     percent of operations that write, 0-100 (default 1)\n"
"  --writers W       W threads only write, the others only read\n"
"  --cs-iters N      busy steps inside the lock (default 100)\n"
"  --think-iters N   busy steps outside it (default 100)\n"
"  --duration-ms N   per lock (default 1000)\n"
"  --cpus N          run on the first N CPUs of the affinity mask\n"
"  --locks L,...     amutex, pthread, pthread-writer (default: all three)\n"
"  --json FILE       the records as a JSON array as well\n", f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "threads", 1, 0, 't' }, { "write-pct", 1, 0, 'p' }, { "writers", 1, 0, 'w' },
		{ "cs-iters", 1, 0, 'c' }, { "think-iters", 1, 0, 'k' },
		{ "duration-ms", 1, 0, 'd' }, { "cpus", 1, 0, 'C' }, { "locks", 1, 0, 'l' },
		{ "json", 1, 0, 'j' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	struct params p = { 0, 0, 1, 100, 100, 1000, 0 };
	const char *locks = "amutex,pthread,pthread-writer";
	unsigned threads = 0, writers = 0, cpus = 0;
	int o, failed = 0;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int bad = 0;

		switch (o) {
		case 't': bad = parse_uint(prog, "--threads", optarg, 4096, &threads) || !threads; break;
		case 'p': bad = parse_uint(prog, "--write-pct", optarg, 100, &p.write_pct); break;
		case 'w': bad = parse_uint(prog, "--writers", optarg, 4096, &writers) || !writers; break;
		case 'c': bad = parse_uint(prog, "--cs-iters", optarg, 10000000, &p.cs_iters); break;
		case 'k': bad = parse_uint(prog, "--think-iters", optarg, 10000000, &p.think_iters); break;
		case 'd': bad = parse_uint(prog, "--duration-ms", optarg, 600000, &p.duration_ms) || !p.duration_ms; break;
		case 'C': bad = parse_uint(prog, "--cpus", optarg, 4096, &cpus) || !cpus; break;
		case 'l': locks = optarg; break;
		case 'j':
			if (!(json = fopen(optarg, "w"))) {
				perror(optarg);
				return 2;
			}
			fputs("[", json);
			break;
		case 'h': usage(stdout); return 0;
		default: bad = 1;
		}
		if (bad) {
			usage(stderr);
			return 2;
		}
	}
	p.cpus = restrict_cpus(cpus, "amutex-rwbench");
	p.threads = threads ? (int)threads : (int)p.cpus;
	p.writers = (int)writers;
	if (p.writers >= p.threads) {
		fprintf(stderr, "amutex-rwbench: --writers %d leaves no reader among %d threads\n",
			p.writers, p.threads);
		return 2;
	}
	for (const char *s = locks; *s;) {
		size_t n = strcspn(s, ",");
		const struct bench_rwlock *l = NULL;
		void *(*thread)(void *) = NULL;
		struct result r;

		for (unsigned i = 0; i < sizeof(all_locks) / sizeof(all_locks[0]); i++)
			if (strlen(all_locks[i].lock->name) == n &&
			    strncmp(all_locks[i].lock->name, s, n) == 0) {
				l = all_locks[i].lock;
				thread = all_locks[i].thread;
			}
		if (!l) {
			fprintf(stderr, "amutex-rwbench: unknown lock \"%.*s\"\n", (int)n, s);
			return 2;
		}
		if (run(&p, l, thread, &r) != 0) {
			fprintf(stderr, "amutex-rwbench: %s: cannot run\n", l->name);
			return 2;
		}
		report(&p, l, &r);
		failed |= !r.ok;
		s += n + (s[n] == ',');
	}
	if (json) {
		fputs("\n]\n", json);
		fclose(json);
	}
	return failed ? 1 : 0;
}
