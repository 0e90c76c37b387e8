/*
 * amutex-stripes: pick a striped group's stripe count by measuring the
 * workload it will serve.
 *
 * A workload model (threads, a key space and how keys are drawn from it,
 * keys per operation, work inside and outside the lock) runs against an
 * amutex_group_t at each stripe count of a sweep, and against one global
 * amutex and one global pthread mutex in the same run, so every figure is
 * also a ratio measured side by side. Before measuring, it predicts from
 * the key distribution alone how many operations will collide at each
 * count, the floor hot keys set, and where the knee is; after, it prints
 * both, the recommendation and its reason. Rule (docs/stripes.md): the
 * smallest count within 5% of the best throughput and within 10% (or
 * 1 us) of the best p99 wait.
 *
 * One driver, one adapter per lock kind (group, padded amutex array,
 * padded pthread array), each worker instantiated per adapter so the fast
 * paths inline, as in a real program.
 */
#define _GNU_SOURCE
#include "bench.h"
#include <amutex/group.h>
#include <amutex/stats.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define STREAM (1u << 16)	/* keys pre-drawn per thread, cycled */
#define MAX_KEYS (1u << 24)
#define MAX_KPO 64
#define MAX_COUNTS 64

static const char *prog = "amutex-stripes";

/* The workload. */
enum dist { UNIFORM, ZIPF, HOT, TRACE };
struct workload {
	unsigned threads, cpus, kpo;
	uint64_t keys;			/* distinct keys */
	enum dist dist;
	double zipf_s, hot_frac, hot_share;
	const char *trace, *dist_text;
	uint64_t cs_ns, out_ns;
	unsigned duration_ms;
	uint64_t *keyval;		/* NULL: key k is k */
	char **keytext;			/* trace keys as written */
	double *q;			/* probability of each key; NULL: uniform */
	uint32_t *alias_p, *alias_a;	/* Walker's alias table (non-uniform) */
	unsigned cs_iters, out_iters;
	/*
	 * Calibrated: ns per step of the busy loop; what an uncontended
	 * operation costs beyond its work; and the handover, what a lock
	 * passed between two running threads costs beyond that (the lock word
	 * and the data moving between CPUs).
	 */
	double ns_per_iter, op_ns, handover_ns;
};

static inline uint64_t key_of(const struct workload *w, uint32_t k)
{
	return w->keyval ? w->keyval[k] : k;
}

/* Lock adapters: group, padded amutex array, padded pthread array. */
enum kind { K_GROUP, K_AMUTEX_ARRAY, K_PTHREAD_ARRAY };
static const char *const kind_names[] = { "group", "amutex-array", "pthread-array" };

struct slot_a { amutex_t m; char pad[64 - sizeof(amutex_t)]; };
struct slot_p { pthread_mutex_t m; char pad[64 - sizeof(pthread_mutex_t)]; };

struct target {
	enum kind kind;
	uint32_t n;
	int layout;
	amutex_group_t *g;
	struct slot_a *a;
	struct slot_p *p;
	size_t memory;
};

struct point {
	enum kind kind;
	uint32_t n;
	int layout;
	const char *label;
	double rate, secs;
	uint64_t ops, waits, memory;
	uint64_t p50, p99, p999;
	double skew;
	int counter_ok;
	double pred_contended, pred_rate;
};

struct shared {
	const struct workload *w;
	struct target *t;
	uint64_t *data;			/* key k's resource, under its stripe */
	uint64_t *contended;		/* per stripe: atomic, contended path only */
	int stop;
	pthread_barrier_t start;
};

struct worker {
	struct shared *s;
	const uint32_t *stream;
	uint64_t ops, waits, sink;
	amutex_hist_t wait;
} __attribute__((aligned(64)));

static inline uint32_t index_of(const struct target *t, uint64_t key)
{
	return amutex_group_index_u64(key, t->n);
}

/* Sort and drop repeats: the arrays' lock-many, the same order as the group's. */
static size_t sort_unique(uint32_t *v, size_t n)
{
	size_t m = 0;

	for (size_t i = 1; i < n; i++) {
		uint32_t x = v[i];
		size_t j = i;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
	for (size_t i = 0; i < n; i++)
		if (!m || v[i] != v[m - 1])
			v[m++] = v[i];
	return m;
}

static inline __attribute__((always_inline)) int try_one(struct target *t, enum kind kind,
							  uint64_t key)
{
	switch (kind) {
	case K_GROUP: return amutex_group_trylock_u64(t->g, key);
	case K_AMUTEX_ARRAY: return amutex_trylock(&t->a[index_of(t, key)].m);
	default: return pthread_mutex_trylock(&t->p[index_of(t, key)].m);
	}
}

static inline __attribute__((always_inline)) void lock_one(struct target *t, enum kind kind,
							   uint64_t key)
{
	switch (kind) {
	case K_GROUP: amutex_group_lock_u64(t->g, key); break;
	case K_AMUTEX_ARRAY: amutex_lock(&t->a[index_of(t, key)].m); break;
	default: pthread_mutex_lock(&t->p[index_of(t, key)].m);
	}
}

static inline __attribute__((always_inline)) void unlock_one(struct target *t, enum kind kind,
							     uint64_t key)
{
	switch (kind) {
	case K_GROUP: amutex_group_unlock_u64(t->g, key); break;
	case K_AMUTEX_ARRAY: amutex_unlock(&t->a[index_of(t, key)].m); break;
	default: pthread_mutex_unlock(&t->p[index_of(t, key)].m);
	}
}

static inline __attribute__((always_inline)) void *
worker_body(struct worker *a, enum kind kind)
{
	struct shared *s = a->s;
	const struct workload *w = s->w;
	struct target *t = s->t;
	uint64_t x = (uint64_t)(uintptr_t)a, keys[MAX_KPO];
	uint32_t pos = 0, idx[MAX_KPO];

	pthread_barrier_wait(&s->start);
	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		if (w->kpo == 1) {
			uint32_t k = a->stream[pos++ % STREAM];
			uint64_t key = key_of(w, k);

			if (try_one(t, kind, key) != 0) {
				uint64_t t0 = now_ns();

				lock_one(t, kind, key);
				amutex_hist_record_excl(&a->wait, now_ns() - t0);
				__atomic_add_fetch(&s->contended[index_of(t, key)], 1, __ATOMIC_RELAXED);
				a->waits++;
			}
			s->data[k]++;
			x = work(x, w->cs_iters);
			unlock_one(t, kind, key);
		} else {
			uint32_t ks[MAX_KPO];
			size_t m = w->kpo, locked = 0;
			uint64_t t0;

			for (size_t i = 0; i < m; i++) {
				ks[i] = a->stream[pos++ % STREAM];
				keys[i] = key_of(w, ks[i]);
			}
			t0 = now_ns();
			if (kind == K_GROUP) {
				amutex_group_lock_many_u64(t->g, keys, m, idx, &locked);
			} else {
				for (size_t i = 0; i < m; i++)
					idx[i] = index_of(t, keys[i]);
				locked = sort_unique(idx, m);
				for (size_t i = 0; i < locked; i++) {
					if (kind == K_AMUTEX_ARRAY)
						amutex_lock(&t->a[idx[i]].m);
					else
						pthread_mutex_lock(&t->p[idx[i]].m);
				}
			}
			amutex_hist_record_excl(&a->wait, now_ns() - t0);
			a->waits++;
			for (size_t i = 0; i < m; i++)
				s->data[ks[i]]++;
			x = work(x, w->cs_iters);
			if (kind == K_GROUP) {
				amutex_group_unlock_many(t->g, idx, locked);
			} else {
				for (size_t i = locked; i-- > 0;) {
					if (kind == K_AMUTEX_ARRAY)
						amutex_unlock(&t->a[idx[i]].m);
					else
						pthread_mutex_unlock(&t->p[idx[i]].m);
				}
			}
		}
		x = work(x, w->out_iters);
		a->ops++;
	}
	a->sink = x;
	return NULL;
}

static void *worker_group(void *v) { return worker_body(v, K_GROUP); }
static void *worker_amutex(void *v) { return worker_body(v, K_AMUTEX_ARRAY); }
static void *worker_pthread(void *v) { return worker_body(v, K_PTHREAD_ARRAY); }

static int target_make(struct target *t, enum kind kind, uint32_t n, int layout, int stats)
{
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->n = n;
	t->layout = layout;
	if (kind == K_GROUP) {
		amutex_group_opts_t o;
		int err;

		amutex_group_opts_init(&o);
		amutex_group_opts_setstripes(&o, n);
		amutex_group_opts_setlayout(&o, layout);
		if (stats)
			amutex_group_opts_setname(&o, "amutex-stripes");
		amutex_group_size(&o, &t->memory);
		if ((err = amutex_group_create(&t->g, &o)) != 0)
			return err;
	} else if (kind == K_AMUTEX_ARRAY) {
		t->memory = (size_t)n * sizeof(struct slot_a);
		if (!(t->a = aligned_alloc(64, t->memory)))
			return ENOMEM;
		memset(t->a, 0, t->memory);
	} else {
		t->memory = (size_t)n * sizeof(struct slot_p);
		if (!(t->p = aligned_alloc(64, t->memory)))
			return ENOMEM;
		for (uint32_t i = 0; i < n; i++)
			pthread_mutex_init(&t->p[i].m, NULL);
	}
	return 0;
}

static void target_free(struct target *t)
{
	if (t->g && amutex_group_destroy(t->g) != 0) {
		fprintf(stderr, "%s: a stripe is still held after the run\n", prog);
		exit(1);
	}
	free(t->a);
	if (t->p)
		for (uint32_t i = 0; i < t->n; i++)
			pthread_mutex_destroy(&t->p[i].m);
	free(t->p);
}

/* Quantile q of the waits recorded in h and `zeros` operations that did not wait. */
static uint64_t quantile_all(const amutex_hist_t *h, uint64_t zeros, double q)
{
	double rank = q * (double)(h->count + zeros);

	if (rank < (double)zeros || h->count == 0)
		return 0;
	return amutex_hist_quantile(h, (rank - (double)zeros) / (double)h->count);
}

static uint32_t **streams;
static uint64_t *data_buf, *contended_buf;

/*
 * One measured point: the workload for duration_ms on target t. The trace
 * writer, when given, appends the group's acquisitions sample while it runs.
 */
static int measure(const struct workload *w, struct target *t, unsigned threads,
		   unsigned duration_ms, struct point *p, FILE *trace)
{
	struct shared s;
	struct worker *args = aligned_alloc(64, threads * sizeof(*args));
	pthread_t *tids = calloc(threads, sizeof(*tids));
	void *(*fn)(void *) = t->kind == K_GROUP ? worker_group :
			      t->kind == K_AMUTEX_ARRAY ? worker_amutex : worker_pthread;
	amutex_hist_t *all = malloc(sizeof(*all));
	uint64_t t0, total = 0, sum = 0, most = 0, cursor = 0, waits = 0;

	if (!args || !tids || !all)
		return ENOMEM;
	memset(&s, 0, sizeof(s));
	s.w = w;
	s.t = t;
	s.data = data_buf;
	s.contended = contended_buf;
	memset(data_buf, 0, w->keys * sizeof(*data_buf));
	memset(contended_buf, 0, (size_t)t->n * sizeof(*contended_buf));
	pthread_barrier_init(&s.start, NULL, threads + 1);
	memset(args, 0, threads * sizeof(*args));
	for (unsigned i = 0; i < threads; i++) {
		args[i].s = &s;
		args[i].stream = streams[i];
		amutex_hist_init(&args[i].wait);
		pthread_create(&tids[i], NULL, fn, &args[i]);
	}
	pthread_barrier_wait(&s.start);
	t0 = now_ns();
	if (trace) {
		while (now_ns() - t0 < duration_ms * 1000000ull) {
			struct timespec d = { 0, 2000000 };

			nanosleep(&d, NULL);
			amutex_group_write_keys(t->g, trace, AMUTEX_GROUP_TRACE_ACQUIRED, &cursor);
		}
	} else {
		struct timespec d = { duration_ms / 1000, (long)(duration_ms % 1000) * 1000000 };

		nanosleep(&d, NULL);
	}
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELAXED);
	amutex_hist_init(all);
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(tids[i], NULL);
		total += args[i].ops;
		waits += args[i].waits;
		amutex_hist_merge(all, &args[i].wait);
	}
	memset(p, 0, sizeof(*p));
	p->secs = (double)(now_ns() - t0) / 1e9;
	p->ops = total;
	p->rate = (double)total / p->secs;
	p->kind = t->kind;
	p->n = t->n;
	p->layout = t->layout;
	p->memory = t->memory;
	/* Operations that did not wait count as waits of 0 ns. */
	p->waits = w->kpo == 1 ? waits : 0;
	p->p50 = quantile_all(all, total - all->count, 0.5);
	p->p99 = quantile_all(all, total - all->count, 0.99);
	p->p999 = quantile_all(all, total - all->count, 0.999);
	for (uint64_t k = 0; k < w->keys; k++)
		sum += data_buf[k];
	p->counter_ok = sum == total * w->kpo;
	sum = 0;
	for (uint32_t i = 0; i < t->n; i++) {
		sum += contended_buf[i];
		if (contended_buf[i] > most)
			most = contended_buf[i];
	}
	p->skew = w->kpo == 1 && sum ? (double)most * t->n / (double)sum : 0;
	pthread_barrier_destroy(&s.start);
	free(all);
	free(tids);
	free(args);
	return 0;
}

/* Key distributions. */

/* Walker's alias method: O(1) draws from any distribution over the keys. */
static int alias_build(struct workload *w)
{
	uint64_t n = w->keys, ns = 0, nl = 0;
	double *scaled = malloc(n * sizeof(double));
	uint32_t *small = malloc(n * sizeof(uint32_t)), *large = malloc(n * sizeof(uint32_t));

	w->alias_p = malloc(n * sizeof(uint32_t));
	w->alias_a = malloc(n * sizeof(uint32_t));
	if (!scaled || !small || !large || !w->alias_p || !w->alias_a)
		return ENOMEM;
	for (uint64_t i = 0; i < n; i++) {
		scaled[i] = w->q[i] * (double)n;
		if (scaled[i] < 1)
			small[ns++] = (uint32_t)i;
		else
			large[nl++] = (uint32_t)i;
	}
	while (ns && nl) {
		uint32_t s = small[--ns], l = large[nl - 1];

		w->alias_p[s] = (uint32_t)(scaled[s] * 4294967295.0);
		w->alias_a[s] = l;
		scaled[l] -= 1 - scaled[s];
		if (scaled[l] < 1) {
			nl--;
			small[ns++] = l;
		}
	}
	while (nl) {
		uint32_t l = large[--nl];

		w->alias_p[l] = UINT32_MAX;
		w->alias_a[l] = l;
	}
	while (ns) {
		uint32_t s = small[--ns];

		w->alias_p[s] = UINT32_MAX;
		w->alias_a[s] = s;
	}
	free(scaled);
	free(small);
	free(large);
	return 0;
}

static uint32_t draw(const struct workload *w, uint64_t *seed)
{
	uint64_t r = splitmix(seed);
	uint32_t k = (uint32_t)(((unsigned __int128)(r >> 32) * w->keys) >> 32);

	if (!w->q)
		return k;
	return (uint32_t)r <= w->alias_p[k] ? k : w->alias_a[k];
}

struct tkey { uint64_t key; uint64_t count; char *text; };

static int by_tkey(const void *a, const void *b)
{
	const struct tkey *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

/*
 * A trace: one key per line. A line that is a whole unsigned number
 * (decimal or 0x hex) is that integer key; any other line is a byte-string
 * key, taken as its XXH3 hash (what the group itself would lock on).
 */
static int load_trace(struct workload *w)
{
	FILE *f = fopen(w->trace, "r");
	char line[4096];
	struct tkey *v = NULL;
	size_t n = 0, cap = 0, m = 0;

	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", prog, w->trace, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *end;
		size_t len = strcspn(line, "\r\n");
		unsigned long long k;

		line[len] = '\0';
		if (!len)
			continue;
		errno = 0;
		k = strtoull(line, &end, 0);
		if (n == cap) {
			cap = cap ? 2 * cap : 4096;
			if (!(v = realloc(v, cap * sizeof(*v))))
				return -1;
		}
		v[n].key = (errno || *end || line[0] == '-') ? XXH3_64bits(line, len) : k;
		v[n].count = 1;
		v[n].text = strdup(line);
		n++;
	}
	fclose(f);
	if (n == 0) {
		fprintf(stderr, "%s: %s: no keys\n", prog, w->trace);
		return -1;
	}
	qsort(v, n, sizeof(*v), by_tkey);
	for (size_t i = 0; i < n; i++) {
		if (m && v[m - 1].key == v[i].key) {
			v[m - 1].count++;
			free(v[i].text);
		} else {
			v[m++] = v[i];
		}
	}
	if (m > MAX_KEYS) {
		fprintf(stderr, "%s: %s: more than %u distinct keys\n", prog, w->trace, MAX_KEYS);
		return -1;
	}
	w->keys = m;
	w->keyval = malloc(m * sizeof(uint64_t));
	w->keytext = malloc(m * sizeof(char *));
	w->q = malloc(m * sizeof(double));
	for (size_t i = 0; i < m; i++) {
		w->keyval[i] = v[i].key;
		w->keytext[i] = v[i].text;
		w->q[i] = (double)v[i].count / (double)n;
	}
	free(v);
	return 0;
}

static int build_distribution(struct workload *w)
{
	double total = 0;

	if (w->dist == TRACE) {
		if (load_trace(w) != 0)
			return -1;
	} else if (w->dist != UNIFORM) {
		if (!(w->q = malloc(w->keys * sizeof(double))))
			return -1;
		if (w->dist == ZIPF) {
			for (uint64_t k = 0; k < w->keys; k++)
				total += w->q[k] = pow((double)(k + 1), -w->zipf_s);
		} else {
			uint64_t hot = (uint64_t)ceil(w->hot_frac * (double)w->keys);

			if (hot < 1)
				hot = 1;
			for (uint64_t k = 0; k < w->keys; k++)
				total += w->q[k] = k < hot ? w->hot_share / (double)hot :
						   hot < w->keys ? (1 - w->hot_share) / (double)(w->keys - hot) : 0;
		}
		for (uint64_t k = 0; k < w->keys; k++)
			w->q[k] /= total;
	}
	if (w->q && alias_build(w) != 0)
		return -1;
	return 0;
}

static double key_share(const struct workload *w, uint64_t k)
{
	return w->q ? w->q[k] : 1.0 / (double)w->keys;
}

static void key_name(const struct workload *w, uint64_t k, char *buf, size_t len)
{
	if (w->keytext)
		snprintf(buf, len, "%s", w->keytext[k]);
	else
		snprintf(buf, len, "%" PRIu64, key_of(w, (uint32_t)k));
}

/* The prediction (docs/stripes.md, "The model"). */

struct prediction {
	double contended, rate, speedup, cpu_rate, serial_rate;
	double pmax;
};

struct hot { uint64_t k; double q; };

struct model {
	unsigned running;		/* threads on CPUs at once: min(threads, CPUs) */
	double rho;			/* share of a thread's time inside the lock */
	double cycle;			/* ns per operation, uncontended */
	struct hot hot[3];		/* hottest keys */
	size_t nhot;
	double floor_contended;		/* with every key on a stripe of its own */
	int dominated;
	uint32_t knee;
};

/* Probability that an operation on a stripe carrying share p finds it held. */
static double collide(const struct model *m, double p, unsigned kpo)
{
	double held = m->rho * (kpo * p < 1 ? kpo * p : 1);

	return 1 - pow(1 - held, (double)(m->running - 1));
}

static double contended_of(const struct model *m, const double *load, size_t n, unsigned kpo)
{
	double c = 0;

	for (size_t j = 0; j < n; j++)
		if (load[j] > 0)
			c += load[j] * collide(m, load[j], kpo);
	return kpo == 1 ? c : 1 - pow(1 - c, kpo);
}

static void predict_one(const struct workload *w, const struct model *m, const double *load,
			size_t n, struct prediction *out)
{
	double pmax = 0, cmax, wait;

	for (size_t j = 0; j < n; j++)
		if (load[j] > pmax)
			pmax = load[j];
	out->pmax = pmax;
	out->contended = contended_of(m, load, n, w->kpo);
	wait = (double)w->cs_ns / 2 + w->handover_ns;
	out->cpu_rate = m->running * 1e9 / (m->cycle + out->contended * wait);
	cmax = collide(m, pmax, w->kpo);
	/* The hottest stripe serves its share of operations one at a time. */
	out->serial_rate = 1e9 / ((pmax * w->kpo < 1 ? pmax * w->kpo : 1) *
				  ((double)w->cs_ns + w->op_ns / 2 + cmax * w->handover_ns));
	out->rate = out->cpu_rate < out->serial_rate ? out->cpu_rate : out->serial_rate;
}

static int by_hot(const void *a, const void *b)
{
	const struct hot *x = a, *y = b;

	return x->q < y->q ? 1 : x->q > y->q ? -1 : 0;
}

static void predict(const struct workload *w, struct model *m, const uint32_t *counts,
		    size_t ncounts, struct prediction *pred)
{
	double best = 0, *load, *floor_load = malloc(sizeof(double));
	struct hot top[3] = { { 0, 0 } };

	m->running = w->threads < w->cpus ? w->threads : w->cpus;
	m->cycle = (double)(w->cs_ns + w->out_ns) + w->op_ns;
	m->rho = ((double)w->cs_ns + w->op_ns / 2) / m->cycle;
	for (uint64_t k = 0; k < w->keys; k++) {
		struct hot h = { k, key_share(w, k) };

		if (h.q > top[2].q) {
			top[2] = h;
			qsort(top, 3, sizeof(top[0]), by_hot);
		}
	}
	/* Hot: at least 1% of operations and 5x a uniform key's share. */
	m->nhot = 0;
	for (int i = 0; i < 3; i++)
		if (top[i].q >= 0.01 && top[i].q >= 5.0 / (double)w->keys)
			m->hot[m->nhot++] = top[i];
	m->floor_contended = 0;
	for (uint64_t k = 0; k < w->keys; k++) {
		floor_load[0] = key_share(w, k);
		m->floor_contended += floor_load[0] * collide(m, floor_load[0], w->kpo);
	}
	if (w->kpo > 1)
		m->floor_contended = 1 - pow(1 - m->floor_contended, w->kpo);
	free(floor_load);
	for (size_t c = 0; c < ncounts; c++) {
		uint32_t n = counts[c];

		load = calloc(n, sizeof(double));
		if (w->q)
			for (uint64_t k = 0; k < w->keys; k++)
				load[amutex_group_index_u64(key_of(w, (uint32_t)k), n)] += w->q[k];
		else
			for (uint64_t k = 0; k < w->keys; k++)
				load[amutex_group_index_u64(k, n)] += 1.0 / (double)w->keys;
		predict_one(w, m, load, n, &pred[c]);
		free(load);
		if (pred[c].rate > best)
			best = pred[c].rate;
	}
	m->knee = counts[ncounts - 1];
	for (size_t c = 0; c < ncounts; c++) {
		pred[c].speedup = pred[c].rate / pred[0].rate;
		if (pred[c].rate >= 0.95 * best && counts[c] < m->knee)
			m->knee = counts[c];
	}
	/*
	 * Hot keys dominate when, at the best count, the hottest key's own
	 * stripe is the bottleneck (it saturates before the CPUs do), or when
	 * even a stripe per key would leave half of one lock's collisions.
	 */
	m->dominated = 0;
	if (m->nhot) {
		size_t last = ncounts - 1;

		m->dominated = (pred[last].serial_rate < pred[last].cpu_rate &&
				m->hot[0].q >= 0.5 * pred[last].pmax) ||
			       (pred[0].contended > 0 && m->floor_contended >= 0.5 * pred[0].contended);
	}
}

/* Output. */

static const char *fmt_rate(double r, char *buf, size_t len)
{
	if (r >= 1e6)
		snprintf(buf, len, "%.2fM", r / 1e6);
	else if (r >= 1e3)
		snprintf(buf, len, "%.1fK", r / 1e3);
	else
		snprintf(buf, len, "%.0f", r);
	return buf;
}

static const char *fmt_bytes(uint64_t b, char *buf, size_t len)
{
	if (b >= 1 << 20)
		snprintf(buf, len, "%.1fMiB", (double)b / (1 << 20));
	else if (b >= 1 << 10)
		snprintf(buf, len, "%.1fKiB", (double)b / (1 << 10));
	else
		snprintf(buf, len, "%" PRIu64 "B", b);
	return buf;
}

static const char *label_of(const struct point *p)
{
	if (p->label)
		return p->label;
	if (p->kind == K_GROUP)
		return p->layout == AMUTEX_GROUP_PACKED ? "group-packed" : "group-padded";
	return kind_names[p->kind];
}

static int sweep_index(const uint32_t *counts, size_t n, uint32_t c)
{
	for (size_t i = 0; i < n; i++)
		if (counts[i] == c)
			return (int)i;
	return -1;
}

/* The SVG: throughput (left axis) and p99 wait (right axis) by stripe count, log x. */
static void svg_write(FILE *f, const struct workload *w, const struct point *pts, size_t npts,
		      const struct point *one_a, const struct point *one_p, const uint32_t *counts,
		      size_t ncounts, const struct prediction *pred, uint32_t rec, int rec_layout)
{
	const double X0 = 80, X1 = 640, Y0 = 60, Y1 = 380;
	double lx0 = log2((double)counts[0]), lx1 = log2((double)counts[ncounts - 1]);
	double rmax = one_p->rate > one_a->rate ? one_p->rate : one_a->rate, pmax = 1;
	double scale = one_a->rate / pred[0].rate;
	static const char *const colors[] = { "#1f5fbf", "#7a3fbf", "#888888", "#c0392b" };
	char b[32];

	if (lx1 <= lx0)
		lx1 = lx0 + 1;
	for (size_t i = 0; i < npts; i++) {
		if (pts[i].rate > rmax)
			rmax = pts[i].rate;
		if (pts[i].kind == K_GROUP && (double)pts[i].p99 > pmax)
			pmax = (double)pts[i].p99;
	}
	for (size_t c = 0; c < ncounts; c++)
		if (pred[c].rate * scale > rmax)
			rmax = pred[c].rate * scale;
	rmax *= 1.1;
	pmax = pmax < 1000 ? 1000 : pmax * 1.1;	/* p99s of 0: an axis up to 1 us */
#define SX(n) (X0 + (X1 - X0) * (log2((double)(n)) - lx0) / (lx1 - lx0))
#define SY(r) (Y1 - (Y1 - Y0) * (r) / rmax)
#define SP(v) (Y1 - (Y1 - Y0) * (v) / pmax)
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"520\" "
		"viewBox=\"0 0 760 520\" font-family=\"sans-serif\" font-size=\"12\">\n"
		"<rect width=\"760\" height=\"520\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"%g\" y=\"22\" font-size=\"15\" font-weight=\"bold\">Throughput and "
		"p99 wait by stripe count</text>\n", X0);
	fprintf(f, "<text x=\"%g\" y=\"40\" fill=\"#444\">%u threads on %u CPUs, %" PRIu64
		" keys %s, %u key(s)/op, %" PRIu64 " ns inside, %" PRIu64 " ns outside</text>\n",
		X0, w->threads, w->cpus, w->keys, w->dist_text, w->kpo, w->cs_ns, w->out_ns);
	fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" "
		"stroke=\"#999\"/>\n", X0, Y0, X1 - X0, Y1 - Y0);
	for (int i = 0; i <= 4; i++) {
		double y = SY(rmax * i / 4);

		fprintf(f, "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#eee\"/>\n",
			X0, y, X1, y);
		fprintf(f, "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\" fill=\"%s\">%s/s</text>\n",
			X0 - 6, y + 4, colors[0], fmt_rate(rmax * i / 4, b, sizeof(b)));
		fprintf(f, "<text x=\"%g\" y=\"%.1f\" fill=\"#d35400\">%s</text>\n", X1 + 6, y + 4,
			amutex_format_ns((uint64_t)(pmax * i / 4), b, sizeof(b)));
	}
	for (size_t c = 0; c < ncounts; c++) {
		double x = SX(counts[c]);

		fprintf(f, "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#999\"/>\n",
			x, Y1, x, Y1 + 4);
		fprintf(f, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"end\" transform=\"rotate(-45 %.1f %g)\">"
			"%u</text>\n", x, Y1 + 16, x, Y1 + 16, counts[c]);
	}
	fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">stripes (log scale)</text>\n",
		(X0 + X1) / 2, Y1 + 52);
	fprintf(f, "<text x=\"20\" y=\"%g\" transform=\"rotate(-90 20 %g)\" text-anchor=\"middle\" "
		"fill=\"%s\">operations per second</text>\n", (Y0 + Y1) / 2, (Y0 + Y1) / 2, colors[0]);
	fprintf(f, "<text x=\"745\" y=\"%g\" transform=\"rotate(90 745 %g)\" text-anchor=\"middle\" "
		"fill=\"#d35400\">p99 wait</text>\n", (Y0 + Y1) / 2, (Y0 + Y1) / 2);
	/* Baselines: one lock each, across the chart. */
	fprintf(f, "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"%s\" "
		"stroke-dasharray=\"2,3\"/>\n", X0, SY(one_a->rate), X1, SY(one_a->rate), colors[2]);
	fprintf(f, "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"%s\" "
		"stroke-dasharray=\"2,3\"/>\n", X0, SY(one_p->rate), X1, SY(one_p->rate), colors[3]);
	/* The prediction, scaled to the one-amutex measurement. */
	fputs("<polyline fill=\"none\" stroke=\"#1f5fbf\" stroke-opacity=\"0.5\" "
	      "stroke-dasharray=\"6,4\" points=\"", f);
	for (size_t c = 0; c < ncounts; c++)
		fprintf(f, "%.1f,%.1f ", SX(counts[c]), SY(pred[c].rate * scale));
	fputs("\"/>\n", f);
	/* Measured series: each kind and layout, throughput; the group's p99. */
	for (int kind = K_GROUP; kind <= K_PTHREAD_ARRAY; kind++)
		for (int layout = 0; layout <= 1; layout++) {
			int any = 0;
			const char *color = kind == K_GROUP ? colors[layout] :
					    kind == K_AMUTEX_ARRAY ? "#27ae60" : "#9a9a00";

			for (size_t i = 0; i < npts; i++)
				any |= pts[i].kind == (enum kind)kind && pts[i].layout == layout;
			if (!any)
				continue;
			fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
			for (size_t i = 0; i < npts; i++)
				if (pts[i].kind == (enum kind)kind && pts[i].layout == layout)
					fprintf(f, "%.1f,%.1f ", SX(pts[i].n), SY(pts[i].rate));
			fputs("\"/>\n", f);
			for (size_t i = 0; i < npts; i++)
				if (pts[i].kind == (enum kind)kind && pts[i].layout == layout)
					fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
						SX(pts[i].n), SY(pts[i].rate), color);
			if (kind != K_GROUP)
				continue;
			fprintf(f, "<polyline fill=\"none\" stroke=\"#d35400\" stroke-width=\"1.5\" "
				"%s points=\"", layout ? "stroke-dasharray=\"4,2\"" : "");
			for (size_t i = 0; i < npts; i++)
				if (pts[i].kind == K_GROUP && pts[i].layout == layout)
					fprintf(f, "%.1f,%.1f ", SX(pts[i].n), SP((double)pts[i].p99));
			fputs("\"/>\n", f);
		}
	/* The recommendation. */
	fprintf(f, "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#16a085\" "
		"stroke-width=\"2\"/>\n", SX(rec), Y0, SX(rec), Y1);
	fprintf(f, "<text x=\"%.1f\" y=\"%g\" fill=\"#16a085\" font-weight=\"bold\" "
		"text-anchor=\"%s\">recommended: %u (%s)</text>\n", SX(rec) + 4, Y0 + 14,
		SX(rec) > (X0 + X1) / 2 ? "end" : "start", rec,
		rec_layout == AMUTEX_GROUP_PACKED ? "packed" : "padded");
	/* Legend: the series drawn. */
	{
		struct { const char *color, *text, *dash; } legend[8];
		int n = 0, has[3][2] = { { 0 } };

		for (size_t i = 0; i < npts; i++)
			has[pts[i].kind][pts[i].layout] = 1;
#define ITEM(c, t, d) (legend[n].color = (c), legend[n].text = (t), legend[n++].dash = (d))
		if (has[K_GROUP][0])
			ITEM(colors[0], "group, padded", "");
		if (has[K_GROUP][1])
			ITEM(colors[1], "group, packed", "");
		if (has[K_AMUTEX_ARRAY][0])
			ITEM("#27ae60", "padded amutex array, same hash", "");
		if (has[K_PTHREAD_ARRAY][0])
			ITEM("#9a9a00", "padded pthread array, same hash", "");
		ITEM(colors[0], "predicted (scaled to one amutex)", "6,4");
		ITEM("#d35400", "group p99 wait (right axis)", "");
		ITEM(colors[2], "one amutex", "2,3");
		ITEM(colors[3], "one pthread mutex", "2,3");
#undef ITEM
		for (int i = 0; i < n; i++) {
			double y = 448 + (i / 2) * 17, x = X0 + (i % 2) * 300;

			fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" "
				"stroke-width=\"2\"%s%s%s/>\n", x, y - 4, x + 24, y - 4, legend[i].color,
				*legend[i].dash ? " stroke-dasharray=\"" : "", legend[i].dash,
				*legend[i].dash ? "\"" : "");
			fprintf(f, "<text x=\"%g\" y=\"%g\">%s</text>\n", x + 30, y, legend[i].text);
		}
	}
	fputs("</svg>\n", f);
#undef SX
#undef SY
#undef SP
}

static void json_escape(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_point(FILE *f, const struct point *p, const struct point *one_a,
		       const struct point *one_p)
{
	fprintf(f, "{\"lock\": \"%s\", \"stripes\": %u, \"layout\": \"%s\", \"ops\": %" PRIu64
		", \"seconds\": %.4f, \"ops_per_sec\": %.0f, \"x_one_amutex\": %.3f, "
		"\"x_one_pthread\": %.3f, \"wait_p50_ns\": %" PRIu64 ", \"wait_p99_ns\": %" PRIu64
		", \"wait_p999_ns\": %" PRIu64 ", \"contended_share\": %.5f, \"memory_bytes\": %"
		PRIu64 ", \"skew\": %.3f, \"counter_ok\": %s",
		label_of(p), p->n, p->layout == AMUTEX_GROUP_PACKED ? "packed" : "padded", p->ops,
		p->secs, p->rate, p->rate / one_a->rate, p->rate / one_p->rate, p->p50, p->p99,
		p->p999, p->ops ? (double)p->waits / (double)p->ops : 0, p->memory, p->skew,
		p->counter_ok ? "true" : "false");
	if (p->kind == K_GROUP && p->pred_rate > 0)
		fprintf(f, ", \"predicted_contended_share\": %.5f, \"predicted_speedup\": %.3f",
			p->pred_contended, p->pred_rate);
	fputc('}', f);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: amutex-stripes [options]\n"
"Measures a striped amutex group at a sweep of stripe counts under a workload\n"
"model, beside one amutex and one pthread mutex, and recommends a count.\n"
"  --threads N          worker threads (default: the CPUs it may run on)\n"
"  --keys N             key space: distinct keys 0..N-1 (default 1000000)\n"
"  --dist D             uniform | zipf:S (S > 0) | hot:F:P (the first fraction F of\n"
"                       keys take share P of operations) | trace:PATH (one key per\n"
"                       line, as amutex_group_write_keys writes) (default uniform)\n"
"  --keys-per-op M      keys locked per operation, with lock-many (default 1)\n"
"  --cs-ns NS           calibrated work inside the lock (default 100)\n"
"  --outside-ns NS      calibrated work between operations (default 300)\n"
"  --duration-ms MS     per measured point (default 1000)\n"
"  --layout L           padded, packed or both (default padded)\n"
"  --counts LIST        stripe counts, e.g. 1,64,2000 (default 1,2,4..16384,100,1000,2000,10000)\n"
"  --compare LIST       also at every count: amutex-array, pthread-array (padded\n"
"                       arrays indexed by the same hash)\n"
"  --cpus N             run on the first N CPUs of the affinity mask\n"
"  --json PATH          the results as JSON\n"
"  --svg PATH           a chart of throughput and p99 wait by stripe count\n"
"  --trace-out PATH     after the sweep, run the recommended count with statistics\n"
"                       on, append the group's key sample to PATH, print its report\n"
"Exit status: 0; 1 when a run lost mutual exclusion; 2 for a usage error.\n");
}

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	usage(stderr);
	return 2;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!s || !*s || *s == '-')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_dist(struct workload *w, const char *s)
{
	char *end;

	w->dist_text = s;
	if (strcmp(s, "uniform") == 0) {
		w->dist = UNIFORM;
		return 0;
	}
	if (strncmp(s, "zipf:", 5) == 0) {
		w->dist = ZIPF;
		errno = 0;
		w->zipf_s = strtod(s + 5, &end);
		return errno || *end || end == s + 5 || !(w->zipf_s > 0 && w->zipf_s <= 10) ? -1 : 0;
	}
	if (strncmp(s, "hot:", 4) == 0) {
		w->dist = HOT;
		errno = 0;
		w->hot_frac = strtod(s + 4, &end);
		if (errno || *end != ':' || !(w->hot_frac > 0 && w->hot_frac < 1))
			return -1;
		s = end + 1;
		w->hot_share = strtod(s, &end);
		return errno || *end || end == s || !(w->hot_share > 0 && w->hot_share < 1) ? -1 : 0;
	}
	if (strncmp(s, "trace:", 6) == 0 && s[6]) {
		w->dist = TRACE;
		w->trace = s + 6;
		return 0;
	}
	return -1;
}

static int by_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int parse_counts(const char *s, uint32_t *counts, size_t *n)
{
	size_t m = 0;

	while (*s) {
		size_t len = strcspn(s, ",");
		char buf[32];
		uint64_t v;

		if (len == 0 || len >= sizeof(buf) || m == MAX_COUNTS)
			return -1;
		memcpy(buf, s, len);
		buf[len] = '\0';
		if (parse_u64(buf, 1, AMUTEX_GROUP_STRIPES_MAX, &v) != 0)
			return -1;
		counts[m++] = (uint32_t)v;
		s += len + (s[len] == ',');
	}
	if (!m)
		return -1;
	qsort(counts, m, sizeof(*counts), by_u32);
	*n = 0;
	for (size_t i = 0; i < m; i++)
		if (!*n || counts[*n - 1] != counts[i])
			counts[(*n)++] = counts[i];
	return 0;
}

static void progress(size_t i, size_t n, const char *what, const struct point *p)
{
	char b[32];

	fprintf(stderr, "\r%s: [%2zu/%zu] %-14s %6u stripes: %s ops/s      %s", prog, i, n, what,
		p ? p->n : 0, p ? fmt_rate(p->rate, b, sizeof(b)) : "...",
		isatty(2) ? "" : "\n");
	fflush(stderr);
}

/*
 * A handover: two threads pass one amutex back and forth, each taking a
 * turn only when the other has had one, so every acquisition that counts
 * moves the lock word and the data between CPUs. ns per turn, best of three.
 */
struct pingpong { amutex_t m; int turn, stop; uint64_t turns; };
struct pinger { struct pingpong *pp; int me; };

static void *pinger(void *v)
{
	struct pinger *a = v;
	struct pingpong *pp = a->pp;

	while (!__atomic_load_n(&pp->stop, __ATOMIC_RELAXED)) {
		amutex_lock(&pp->m);
		if (pp->turn == a->me) {
			pp->turn = !a->me;
			pp->turns++;
		}
		amutex_unlock(&pp->m);
	}
	return NULL;
}

static double handover_ns(void)
{
	double best = 1e9;

	for (int r = 0; r < 3; r++) {
		struct pingpong pp;
		struct pinger a[2] = { { &pp, 0 }, { &pp, 1 } };
		pthread_t t[2];
		struct timespec d = { 0, 30000000 };
		uint64_t t0;

		memset(&pp, 0, sizeof(pp));
		t0 = now_ns();
		for (int i = 0; i < 2; i++)
			pthread_create(&t[i], NULL, pinger, &a[i]);
		nanosleep(&d, NULL);
		__atomic_store_n(&pp.stop, 1, __ATOMIC_RELAXED);
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		if (pp.turns && (double)(now_ns() - t0) / (double)pp.turns < best)
			best = (double)(now_ns() - t0) / (double)pp.turns;
	}
	return best;
}

/* The best rate of three 30 ms runs of threads on one amutex. */
static double best_rate(const struct workload *w, unsigned threads)
{
	struct target t;
	struct point p;
	double best = 0;

	for (int r = 0; r < 3; r++) {
		if (target_make(&t, K_AMUTEX_ARRAY, 1, AMUTEX_GROUP_PADDED, 0) != 0 ||
		    measure(w, &t, threads, 30, &p, NULL) != 0)
			return -1;
		target_free(&t);
		if (p.rate > best)
			best = p.rate;
	}
	return best;
}

/* Every measurement of the run, the report, and the files. */
static int run_all(struct workload *w, const uint32_t *counts, size_t ncounts,
		   const int *layouts, int cmp_amutex, int cmp_pthread, const char *json_path,
		   const char *svg_path, const char *trace_path)
{
	struct prediction pred[MAX_COUNTS];
	struct model m;
	struct point *pts, one_a, one_p;
	struct target t;
	size_t npts = 0, total, done = 0, nlayouts = layouts[1] < 0 ? 1 : 2;
	const struct point *rec = NULL, *best = NULL;
	uint64_t best_p99 = UINT64_MAX;
	uint32_t measured_knee = 0;
	int failed = 0, p99_met;
	char b1[32], b2[32], b3[32], b4[32];

	streams = calloc(w->threads, sizeof(*streams));
	data_buf = calloc(w->keys, sizeof(*data_buf));
	contended_buf = calloc(counts[ncounts - 1], sizeof(*contended_buf));
	total = 2 + ncounts * (nlayouts + (size_t)cmp_amutex + (size_t)cmp_pthread);
	pts = calloc(total, sizeof(*pts));
	if (!streams || !data_buf || !contended_buf || !pts)
		return 1;
	for (unsigned i = 0; i < w->threads; i++) {
		uint64_t seed = 0x5eed0000ull + i;

		if (!(streams[i] = malloc(STREAM * sizeof(uint32_t))))
			return 1;
		for (unsigned j = 0; j < STREAM; j++)
			streams[i][j] = draw(w, &seed);
	}
	printf("amutex-stripes: %u threads on %u CPUs, %" PRIu64 " keys %s, %u key(s) per "
	       "operation, %" PRIu64 " ns inside the lock, %" PRIu64 " ns outside, %u ms per point\n",
	       w->threads, w->cpus, w->keys, w->dist_text, w->kpo, w->cs_ns, w->out_ns,
	       w->duration_ms);

	/* Calibration: the machine's constants, not the workload's contention. */
	w->ns_per_iter = calibrate_work();
	w->cs_iters = (unsigned)((double)w->cs_ns / w->ns_per_iter + 0.5);
	w->out_iters = (unsigned)((double)w->out_ns / w->ns_per_iter + 0.5);
	{
		struct workload bare = *w;
		double one, bare1;

		bare.cs_iters = bare.out_iters = 0;
		if ((one = best_rate(w, 1)) <= 0 || (bare1 = best_rate(&bare, 1)) <= 0)
			return 1;
		w->op_ns = 1e9 / one - (double)(w->cs_ns + w->out_ns);
		if (w->op_ns < 5)
			w->op_ns = 5;
		w->handover_ns = 0;
		if (w->cpus > 1) {
			w->handover_ns = handover_ns() - 1e9 / bare1;
			if (w->handover_ns < 0)
				w->handover_ns = 0;
		}
	}
	printf("calibration: %.3f ns per work step; an uncontended operation costs %.0f ns "
	       "beyond its work; a handover between two CPUs %.0f ns (one amutex, best of three "
	       "30 ms runs each)\n", w->ns_per_iter, w->op_ns, w->handover_ns);
	/* A lock passed between two running threads: about 1 us here, busy 9 us to 4 ms. */
	if (w->handover_ns > 5000)
		printf("warning: a handover took %.0f us: other work has these CPUs, so neither "
		       "the prediction nor the measurements below describe the workload alone\n",
		       w->handover_ns / 1000);

	/* The prediction, before any measurement. */
	predict(w, &m, counts, ncounts, pred);
	printf("\nprediction from the key distribution alone (%u threads running at once, "
	       "each %.0f%% of its time inside the lock):\n", m.running, 100 * m.rho);
	printf("  %8s %12s %10s\n", "stripes", "contended", "speedup");
	for (size_t c = 0; c < ncounts; c++)
		printf("  %8u %11.2f%% %9.2fx\n", counts[c], 100 * pred[c].contended, pred[c].speedup);
	printf("predicted knee: %u stripes (the smallest count within 5%% of the best predicted "
	       "throughput)\n", m.knee);
	printf("contention floor: %.2f%% of operations would still wait with a stripe per key\n",
	       100 * m.floor_contended);
	if (m.nhot) {
		char name[64];

		printf("hot keys:");
		for (size_t i = 0; i < m.nhot; i++) {
			key_name(w, m.hot[i].k, name, sizeof(name));
			printf("%s key %s holds %.1f%% of operations", i ? ";" : "", name, 100 * m.hot[i].q);
		}
		key_name(w, m.hot[0].k, name, sizeof(name));
		printf("\n  key %s alone caps the gain at %.1fx one lock, whatever the count\n",
		       name, 1 / m.hot[0].q);
	}
	printf("\n");
	fflush(stdout);

	/*
	 * Every point twice, half the duration each: a forward pass over the
	 * baselines and the sweep, then a backward one; the better half
	 * counts. A burst of other work on the machine then bends one half of
	 * a few points instead of a stretch of the curve.
	 */
	struct spec { enum kind kind; uint32_t n; int layout; size_t c; } *specs;
	size_t nspecs = 0;
	unsigned half = w->duration_ms / 2 ? w->duration_ms / 2 : 1;

	if (!(specs = calloc(total, sizeof(*specs))))
		return 1;
	specs[nspecs++] = (struct spec){ K_AMUTEX_ARRAY, 1, AMUTEX_GROUP_PADDED, 0 };
	specs[nspecs++] = (struct spec){ K_PTHREAD_ARRAY, 1, AMUTEX_GROUP_PADDED, 0 };
	for (size_t c = 0; c < ncounts; c++)
		for (size_t l = 0; l < nlayouts + (size_t)cmp_amutex + (size_t)cmp_pthread; l++)
			specs[nspecs++] = (struct spec){
				l < nlayouts ? K_GROUP : l == nlayouts && cmp_amutex ? K_AMUTEX_ARRAY :
				K_PTHREAD_ARRAY, counts[c], l < nlayouts ? layouts[l] : AMUTEX_GROUP_PADDED, c };
	for (size_t step = 0; step < 2 * nspecs; step++) {
		size_t i = step < nspecs ? step : 2 * nspecs - 1 - step;
		struct point *p = i == 0 ? &one_a : i == 1 ? &one_p : &pts[i - 2], run;

		if (target_make(&t, specs[i].kind, specs[i].n, specs[i].layout, 0) != 0) {
			fprintf(stderr, "\n%s: cannot make %u stripes\n", prog, specs[i].n);
			return 1;
		}
		if (measure(w, &t, w->threads, half, &run, NULL) != 0)
			return 1;
		target_free(&t);
		failed |= !run.counter_ok;
		if (step < nspecs || run.rate > p->rate) {
			run.counter_ok = step < nspecs ? run.counter_ok : run.counter_ok && p->counter_ok;
			*p = run;
		}
		if (i >= 2) {
			p->pred_contended = pred[specs[i].c].contended;
			p->pred_rate = pred[specs[i].c].speedup;
		}
		p->label = i == 0 ? "one amutex" : i == 1 ? "one pthread" : NULL;
		progress(++done, 2 * nspecs, label_of(p), &run);
	}
	npts = nspecs - 2;
	free(specs);
	if (isatty(2))
		fputc('\n', stderr);

	/* The rule: smallest count within 5% of the best throughput and 10% (or 1 us) of the best p99. */
	for (size_t i = 0; i < npts; i++) {
		if (pts[i].kind != K_GROUP)
			continue;
		if (!best || pts[i].rate > best->rate)
			best = &pts[i];
		if (pts[i].p99 < best_p99)
			best_p99 = pts[i].p99;
	}
	for (size_t i = 0; i < npts; i++) {
		const struct point *p = &pts[i];

		if (p->kind != K_GROUP || p->rate < 0.95 * best->rate)
			continue;
		if (!measured_knee || p->n < measured_knee)
			measured_knee = p->n;
		if ((double)p->p99 > 1.10 * (double)best_p99 && p->p99 > best_p99 + 1000)
			continue;
		if (!rec || p->n < rec->n || (p->n == rec->n && p->memory < rec->memory))
			rec = p;
	}
	/* No count has both: the best p99 came with less throughput. Throughput decides. */
	p99_met = rec != NULL;
	for (size_t i = 0; !p99_met && i < npts; i++)
		if (pts[i].kind == K_GROUP && pts[i].rate >= 0.95 * best->rate &&
		    (!rec || pts[i].n < rec->n || (pts[i].n == rec->n && pts[i].memory < rec->memory)))
			rec = &pts[i];

	printf("%-14s %8s %10s %8s %8s %9s %9s %9s %9s %6s %10s %10s %9s %9s\n", "lock", "stripes",
	       "ops/s", "x amutex", "x pthread", "wait p50", "wait p99", "p99.9", "memory", "skew",
	       "contended", "predicted", "speedup", "predicted");
	for (int pass = 0; pass < 2; pass++) {
		const struct point *p = pass == 0 ? &one_a : &one_p;

		printf("%-14s %8u %10s %7.2fx %8.2fx %9s %9s %9s %9s %6s %9.2f%% %10s %9s %9s\n",
		       p->label, 1u, fmt_rate(p->rate, b1, sizeof(b1)), p->rate / one_a.rate,
		       p->rate / one_p.rate, amutex_format_ns(p->p50, b2, sizeof(b2)),
		       amutex_format_ns(p->p99, b3, sizeof(b3)), amutex_format_ns(p->p999, b4, sizeof(b4)),
		       pass == 0 ? "32B" : "40B", "-",
		       w->kpo == 1 ? 100.0 * (double)p->waits / (double)p->ops : 0.0, "-", "-", "-");
	}
	for (size_t i = 0; i < npts; i++) {
		const struct point *p = &pts[i];
		char skew[16], mem[32];

		snprintf(skew, sizeof(skew), p->skew > 0 ? "%.1f" : "-", p->skew);
		fmt_bytes(p->memory, mem, sizeof(mem));
		printf("%-14s %8u %10s %7.2fx %8.2fx %9s %9s %9s %9s %6s ", label_of(p), p->n,
		       fmt_rate(p->rate, b1, sizeof(b1)), p->rate / one_a.rate, p->rate / one_p.rate,
		       amutex_format_ns(p->p50, b2, sizeof(b2)), amutex_format_ns(p->p99, b3, sizeof(b3)),
		       amutex_format_ns(p->p999, b4, sizeof(b4)), mem, skew);
		if (w->kpo == 1)
			printf("%9.2f%% ", 100.0 * (double)p->waits / (double)p->ops);
		else
			printf("%10s ", "-");
		if (p->kind == K_GROUP)
			printf("%9.2f%% %8.2fx %8.2fx%s\n", 100 * p->pred_contended,
			       p->rate / one_a.rate, p->pred_rate, p->counter_ok ? "" : "  COUNTER WRONG");
		else
			printf("%10s %8.2fx %9s%s\n", "-", p->rate / one_a.rate, "-",
			       p->counter_ok ? "" : "  COUNTER WRONG");
	}
	printf("(speedup: over one amutex, measured beside its prediction; contended: share of "
	       "operations that waited; skew: the most contended stripe over the mean)\n\n");

	{
		int pi = sweep_index(counts, ncounts, m.knee), mi = sweep_index(counts, ncounts, measured_knee);

		printf("knee: predicted %u, measured %u stripes (%d point%s apart in the sweep)\n",
		       m.knee, measured_knee, abs(pi - mi), abs(pi - mi) == 1 ? "" : "s");
	}
	if (m.nhot && m.dominated) {
		char name[64];

		key_name(w, m.hot[0].k, name, sizeof(name));
		printf("split or pin key %s: no stripe count helps (it holds %.1f%% of operations; "
		       "its stripe serializes them whatever the count)\n", name, 100 * m.hot[0].q);
	}
	{
		char p99[96];

		snprintf(p99, sizeof(p99), p99_met ? "and within 10%% or 1 us of the best p99 wait (%s)" :
			 "(none that fast came within 10%% or 1 us of the best p99 wait, %s)",
			 amutex_format_ns(best_p99, b2, sizeof(b2)));
		printf("recommendation: %u stripes (%s): the smallest count within 5%% of the best "
		       "throughput (%s ops/s at %u) %s; %.2fx one amutex, %.2fx one pthread mutex, "
		       "%s of memory\n", rec->n,
		       rec->layout == AMUTEX_GROUP_PACKED ? "packed" : "padded",
		       fmt_rate(best->rate, b1, sizeof(b1)), best->n, p99, rec->rate / one_a.rate,
		       rec->rate / one_p.rate, fmt_bytes(rec->memory, b3, sizeof(b3)));
	}
	printf("SUMMARY tool=amutex-stripes threads=%u cpus=%u keys=%" PRIu64 " dist=%s kpo=%u "
	       "cs_ns=%" PRIu64 " outside_ns=%" PRIu64 " duration_ms=%u one_amutex=%.0f "
	       "one_pthread=%.0f recommended=%u layout=%s rec_ops_per_sec=%.0f best=%u "
	       "best_ops_per_sec=%.0f predicted_knee=%u measured_knee=%u hot_key_dominates=%d "
	       "counter_ok=%d\n", w->threads, w->cpus, w->keys, w->dist_text, w->kpo, w->cs_ns,
	       w->out_ns, w->duration_ms, one_a.rate, one_p.rate, rec->n,
	       rec->layout == AMUTEX_GROUP_PACKED ? "packed" : "padded", rec->rate, best->n,
	       best->rate, m.knee, measured_knee, m.dominated, !failed);
	fflush(stdout);

	if (json_path) {
		FILE *f = fopen(json_path, "w");

		if (!f) {
			fprintf(stderr, "%s: %s: %s\n", prog, json_path, strerror(errno));
			return 2;
		}
		fprintf(f, "{\"tool\": \"amutex-stripes\", \"workload\": {\"threads\": %u, \"cpus\": %u, "
			"\"keys\": %" PRIu64 ", \"dist\": ", w->threads, w->cpus, w->keys);
		json_escape(f, w->dist_text);
		fprintf(f, ", \"keys_per_op\": %u, \"cs_ns\": %" PRIu64 ", \"outside_ns\": %" PRIu64
			", \"duration_ms\": %u}, \"calibration\": {\"ns_per_step\": %.4f, \"op_ns\": %.1f},\n",
			w->kpo, w->cs_ns, w->out_ns, w->duration_ms, w->ns_per_iter, w->op_ns);
		fputs(" \"prediction\": {\"points\": [", f);
		for (size_t c = 0; c < ncounts; c++)
			fprintf(f, "%s{\"stripes\": %u, \"contended_share\": %.5f, \"speedup\": %.4f, "
				"\"max_stripe_share\": %.6f}", c ? ", " : "", counts[c], pred[c].contended,
				pred[c].speedup, pred[c].pmax);
		fprintf(f, "], \"knee\": %u, \"floor_contended_share\": %.5f, \"hot_keys\": [",
			m.knee, m.floor_contended);
		for (size_t i = 0; i < m.nhot; i++) {
			char name[64];

			key_name(w, m.hot[i].k, name, sizeof(name));
			fprintf(f, "%s{\"key\": ", i ? ", " : "");
			json_escape(f, name);
			fprintf(f, ", \"share\": %.5f}", m.hot[i].q);
		}
		fprintf(f, "], \"hot_key_dominates\": %s},\n \"baselines\": [",
			m.dominated ? "true" : "false");
		json_point(f, &one_a, &one_a, &one_p);
		fputs(", ", f);
		json_point(f, &one_p, &one_a, &one_p);
		fputs("],\n \"points\": [", f);
		for (size_t i = 0; i < npts; i++) {
			fputs(i ? ",\n  " : "\n  ", f);
			json_point(f, &pts[i], &one_a, &one_p);
		}
		fprintf(f, "],\n \"measured_knee\": %u,\n \"recommended\": {\"stripes\": %u, "
			"\"layout\": \"%s\", \"ops_per_sec\": %.0f, \"x_one_amutex\": %.3f, "
			"\"x_one_pthread\": %.3f, \"rule\": \"the smallest count within 5%% of the best "
			"throughput and within 10%% (or 1 us) of the best p99 wait\", \"p99_met\": %s},\n"
			" \"counter_ok\": %s}\n", measured_knee, rec->n,
			rec->layout == AMUTEX_GROUP_PACKED ? "packed" : "padded", rec->rate,
			rec->rate / one_a.rate, rec->rate / one_p.rate, p99_met ? "true" : "false",
			failed ? "false" : "true");
		if (fclose(f) != 0)
			return 2;
	}
	if (svg_path) {
		FILE *f = fopen(svg_path, "w");

		if (!f) {
			fprintf(stderr, "%s: %s: %s\n", prog, svg_path, strerror(errno));
			return 2;
		}
		svg_write(f, w, pts, npts, &one_a, &one_p, counts, ncounts, pred, rec->n, rec->layout);
		if (fclose(f) != 0)
			return 2;
	}
	if (trace_path) {
		FILE *f = fopen(trace_path, "a");
		struct point p;

		if (!f) {
			fprintf(stderr, "%s: %s: %s\n", prog, trace_path, strerror(errno));
			return 2;
		}
		if (target_make(&t, K_GROUP, rec->n, rec->layout, 1) != 0 ||
		    measure(w, &t, w->threads, w->duration_ms, &p, f) != 0)
			return 1;
		printf("\nwith statistics, %u stripes: %s ops/s (%.2fx the run without); the group's "
		       "report, its key sample appended to %s:\n", rec->n,
		       fmt_rate(p.rate, b1, sizeof(b1)), p.rate / rec->rate, trace_path);
		amutex_group_report(t.g, stdout);
		target_free(&t);
		fclose(f);
	}
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "threads", 1, 0, 't' }, { "keys", 1, 0, 'k' }, { "dist", 1, 0, 'D' },
		{ "keys-per-op", 1, 0, 'm' }, { "cs-ns", 1, 0, 'c' }, { "outside-ns", 1, 0, 'o' },
		{ "duration-ms", 1, 0, 'd' }, { "layout", 1, 0, 'l' }, { "counts", 1, 0, 'n' },
		{ "compare", 1, 0, 'C' }, { "cpus", 1, 0, 'P' }, { "json", 1, 0, 'j' },
		{ "svg", 1, 0, 's' }, { "trace-out", 1, 0, 'T' }, { "help", 0, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct workload w = { .kpo = 1, .keys = 1000000, .dist = UNIFORM, .cs_ns = 100,
			      .out_ns = 300, .duration_ms = 1000, .dist_text = "uniform" };
	uint32_t counts[MAX_COUNTS];
	size_t ncounts = 0;
	uint64_t v, threads = 0, cpus = 0;
	int layouts[2] = { AMUTEX_GROUP_PADDED, -1 }, cmp_amutex = 0, cmp_pthread = 0, o;
	const char *json_path = NULL, *svg_path = NULL, *trace_path = NULL;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 't':
			if (parse_u64(optarg, 1, 4096, &threads))
				return bad("--threads needs 1..4096, not \"%s\"", optarg);
			break;
		case 'k':
			if (parse_u64(optarg, 1, MAX_KEYS, &v))
				return bad("--keys needs 1..16777216, not \"%s\"", optarg);
			w.keys = v;
			break;
		case 'D':
			if (parse_dist(&w, optarg))
				return bad("--dist needs uniform, zipf:S, hot:F:P or trace:PATH, not \"%s\"",
					   optarg);
			break;
		case 'm':
			if (parse_u64(optarg, 1, MAX_KPO, &v))
				return bad("--keys-per-op needs 1..64, not \"%s\"", optarg);
			w.kpo = (unsigned)v;
			break;
		case 'c':
			if (parse_u64(optarg, 0, 100000000, &w.cs_ns))
				return bad("--cs-ns needs 0..100000000, not \"%s\"", optarg);
			break;
		case 'o':
			if (parse_u64(optarg, 0, 100000000, &w.out_ns))
				return bad("--outside-ns needs 0..100000000, not \"%s\"", optarg);
			break;
		case 'd':
			if (parse_u64(optarg, 1, 600000, &v))
				return bad("--duration-ms needs 1..600000, not \"%s\"", optarg);
			w.duration_ms = (unsigned)v;
			break;
		case 'l':
			if (strcmp(optarg, "padded") == 0)
				layouts[0] = AMUTEX_GROUP_PADDED, layouts[1] = -1;
			else if (strcmp(optarg, "packed") == 0)
				layouts[0] = AMUTEX_GROUP_PACKED, layouts[1] = -1;
			else if (strcmp(optarg, "both") == 0)
				layouts[0] = AMUTEX_GROUP_PADDED, layouts[1] = AMUTEX_GROUP_PACKED;
			else
				return bad("--layout needs padded, packed or both, not \"%s\"", optarg);
			break;
		case 'n':
			if (parse_counts(optarg, counts, &ncounts))
				return bad("--counts needs a list of 1..16777216, not \"%s\"", optarg);
			break;
		case 'C':
			for (const char *s = optarg; *s;) {
				size_t len = strcspn(s, ",");

				if (len == 12 && strncmp(s, "amutex-array", len) == 0)
					cmp_amutex = 1;
				else if (len == 13 && strncmp(s, "pthread-array", len) == 0)
					cmp_pthread = 1;
				else
					return bad("--compare takes amutex-array and pthread-array, not \"%s\"",
						   optarg);
				s += len + (s[len] == ',');
			}
			break;
		case 'P':
			if (parse_u64(optarg, 1, 4096, &cpus))
				return bad("--cpus needs 1..4096, not \"%s\"", optarg);
			break;
		case 'j': json_path = optarg; break;
		case 's': svg_path = optarg; break;
		case 'T': trace_path = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc)
		return bad("unexpected argument \"%s\"", argv[optind]);
	if (!ncounts) {
		static const uint32_t dflt[] = { 1, 2, 4, 8, 16, 32, 64, 100, 128, 256, 512, 1000,
						 1024, 2000, 2048, 4096, 8192, 10000, 16384 };

		ncounts = sizeof(dflt) / sizeof(dflt[0]);
		memcpy(counts, dflt, sizeof(dflt));
	}
	w.cpus = restrict_cpus((unsigned)cpus, "amutex-stripes");
	w.threads = threads ? (unsigned)threads : w.cpus;
	if (build_distribution(&w) != 0) {
		fprintf(stderr, "%s: cannot build the key distribution\n", prog);
		return w.dist == TRACE ? 2 : 1;
	}
	return run_all(&w, counts, ncounts, layouts, cmp_amutex, cmp_pthread, json_path, svg_path,
		       trace_path);
}
