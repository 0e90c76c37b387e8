/*
 * Exporters: Prometheus text, JSON and a table for people, over every named
 * lock. A snapshot of all of them is taken inside one RCU read-side section
 * (no lock user waits for it), then formatted outside it.
 */
#include "stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct snap {
	char name[AMUTEX_NAME_MAX + 16];
	const void *lock;
	struct amutex_counters c;
	uint64_t starving_ns;
	int has_hold;
	amutex_hist_t wait, hold;
	const struct amutex__family *family;	/* a lock family's, and its snapshot */
	void *fsnap;
};

struct snaps {
	struct snap *v;
	size_t n, cap;
	uint64_t now;
	int failed;
};

#define EACH_SNAP(all, p) for (struct snap *p = (all)->v; p < (all)->v + (all)->n; p++)

static void take(void *arg, const struct amutex__stats *s)
{
	struct snaps *all = arg;
	struct snap *p;

	if (all->n == all->cap) {
		size_t cap = all->cap ? all->cap * 2 : 16;
		struct snap *v = realloc(all->v, cap * sizeof(*v));

		if (!v) {
			all->failed = 1;
			return;
		}
		all->v = v;
		all->cap = cap;
	}
	p = &all->v[all->n++];
	amutex__stats_name(s, p->name, sizeof(p->name));
	p->lock = amutex__stats_lock(s);
	amutex__stats_counters(s, &p->c);
	p->starving_ns = amutex__stats_starving_ns(s, all->now);
	amutex_hist_init(&p->wait);
	amutex__stats_wait(s, &p->wait);
	amutex_hist_init(&p->hold);
	p->has_hold = amutex__stats_hold(s, &p->hold) == 0;
	p->family = s->family;
	p->fsnap = NULL;
	if (p->family) {
		p->family->totals(s->family_data, &p->c, &p->wait);
		p->fsnap = p->family->snapshot(s->family_data);
	}
}

static void snaps_free(struct snaps *all)
{
	EACH_SNAP(all, p)
		if (p->fsnap)
			p->family->snapshot_free(p->fsnap);
	free(all->v);
}

static int by_name(const void *a, const void *b)
{
	const struct snap *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->lock < y->lock ? -1 : x->lock > y->lock);
}

static int by_total_wait(const void *a, const void *b)
{
	const struct snap *x = a, *y = b;

	return x->wait.sum_ns < y->wait.sum_ns ? 1 : x->wait.sum_ns > y->wait.sum_ns ? -1 :
	       by_name(a, b);
}

/* Sorted by name; a repeated name gets "#2", "#3"... so series stay unique. */
static int snapshot(struct snaps *all)
{
	memset(all, 0, sizeof(*all));
	all->now = amutex__now_ns();
	amutex__registry_each(take, all);
	if (all->failed) {
		snaps_free(all);
		return ENOMEM;
	}
	if (all->n)
		qsort(all->v, all->n, sizeof(*all->v), by_name);
	char group[sizeof(all->v[0].name)] = "";
	size_t k = 1;

	for (size_t i = 0; i < all->n; i++) {
		char *name = all->v[i].name;

		if (i > 0 && strcmp(name, group) == 0)
			snprintf(name + strlen(group), sizeof(group) - strlen(group), "#%zu", ++k);
		else {
			snprintf(group, sizeof(group), "%s", name);
			k = 1;
		}
	}
	return 0;
}

/* JSON string body (without the quotes), for every JSON this library writes. */
void amutex__json_chars(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Bucket bounds of the exported histograms, in seconds (docs/metrics.md). */
static const double le_seconds[] = {
	1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
	1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

/* Prometheus label value into buf: backslash, double quote and newline escaped. */
static void escape_label(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; *s && o + 3 < len; s++) {
		if (*s == '\\' || *s == '"')
			buf[o++] = '\\';
		if (*s == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
			continue;
		}
		buf[o++] = *s;
	}
	buf[o] = '\0';
}

/*
 * A lock's label set, without braces: lock="NAME" (escaped) and the
 * exporter's extra labels (",pid=\"123\"" or "").
 */
#define LABELS_MAX (2 * (AMUTEX_NAME_MAX + 16) + 80)

static const char *labels_of(const struct snap *p, const char *extra, char *buf)
{
	size_t n;

	memcpy(buf, "lock=\"", 6);
	escape_label(p->name, buf + 6, LABELS_MAX - 6 - 64);
	n = strlen(buf);
	snprintf(buf + n, LABELS_MAX - n, "\"%s", extra);
	return buf;
}

static void histogram(FILE *f, const char *metric, const char *labels, const amutex_hist_t *h)
{
	unsigned i = 0;
	uint64_t cum = 0, total = 0;

	for (unsigned b = 0; b < AMUTEX_HIST_BUCKETS; b++)
		total += h->bucket[b];
	/* A bucket counts under the first bound its upper end does not exceed. */
	for (unsigned k = 0; k < sizeof(le_seconds) / sizeof(le_seconds[0]); k++) {
		uint64_t le_ns = (uint64_t)(le_seconds[k] * 1e9 + 0.5);

		for (; i < AMUTEX_HIST_BUCKETS && amutex_hist_upper(i) <= le_ns; i++)
			cum += h->bucket[i];
		fprintf(f, "%s_bucket{%s,le=\"%g\"} %llu\n", metric, labels, le_seconds[k],
			(unsigned long long)cum);
	}
	fprintf(f, "%s_bucket{%s,le=\"+Inf\"} %llu\n", metric, labels, (unsigned long long)total);
	fprintf(f, "%s_sum{%s} %.9f\n", metric, labels, (double)h->sum_ns / 1e9);
	fprintf(f, "%s_count{%s} %llu\n", metric, labels, (unsigned long long)total);
}

#define EACH(all, p) for (const struct snap *p = (all)->v; p < (all)->v + (all)->n; p++)

static void series(FILE *f, const char *metric, const char *labels, const char *more,
		   unsigned long long v)
{
	fprintf(f, "%s{%s%s} %llu\n", metric, labels, more, v);
}


/* The metric families of lock families: each family's metrics, all its locks. */
static void prometheus_families(FILE *f, const struct snaps *all, const char *extra)
{
	char labels[LABELS_MAX];

	EACH(all, q) {
		int seen = 0;

		if (!q->family)
			continue;
		EACH(all, r)
			if (r < q && r->family == q->family)
				seen = 1;
		if (seen)
			continue;	/* written with its first lock */
		for (size_t i = 0; i < q->family->nmetrics; i++) {
			const struct amutex__family_metric *m = &q->family->metrics[i];

			family(f, m->name, m->type, m->help);
			EACH(all, p)
				if (p->family == q->family && p->fsnap)
					q->family->series(f, i, p->fsnap, labels_of(p, extra, labels));
		}
	}
}

static void prometheus(FILE *f, const struct snaps *all, const char *extra)
{
	char lb[LABELS_MAX];

#define L(p) labels_of((p), extra, lb)
	family(f, "amutex_acquisitions_total", "counter",
	       "Successful acquisitions, by path: fast (first try), spin (after spinning), sleep (after sleeping).");
	EACH(all, p) {
		series(f, "amutex_acquisitions_total", L(p), ",path=\"fast\"", p->c.acquired_fast);
		series(f, "amutex_acquisitions_total", lb, ",path=\"spin\"", p->c.acquired_spin);
		series(f, "amutex_acquisitions_total", lb, ",path=\"sleep\"", p->c.acquired_sleep);
	}
	family(f, "amutex_handoffs_total", "counter",
	       "Acquisitions handed over directly by an unlock in starvation mode.");
	EACH(all, p)
		series(f, "amutex_handoffs_total", L(p), "", p->c.handoffs);
	family(f, "amutex_timeouts_total", "counter", "Timed lock calls that gave up.");
	EACH(all, p)
		series(f, "amutex_timeouts_total", L(p), "", p->c.timeouts);
	family(f, "amutex_starvation_entries_total", "counter",
	       "Switches from normal to starvation mode.");
	EACH(all, p)
		series(f, "amutex_starvation_entries_total", L(p), "", p->c.starvation_entries);
	family(f, "amutex_starvation_seconds_total", "counter",
	       "Time spent in starvation mode.");
	EACH(all, p)
		fprintf(f, "amutex_starvation_seconds_total{%s} %.9f\n", L(p),
			(double)p->starving_ns / 1e9);
	family(f, "amutex_starving", "gauge", "1 while the lock is in starvation mode.");
	EACH(all, p)
		series(f, "amutex_starving", L(p), "", (unsigned long long)p->c.starving);
	family(f, "amutex_peak_waiters", "gauge", "Most threads seen sleeping on the lock at once.");
	EACH(all, p)
		series(f, "amutex_peak_waiters", L(p), "", p->c.peak_waiters);
	family(f, "amutex_wait_seconds", "histogram",
	       "How long contended acquisitions waited (spun or slept).");
	EACH(all, p)
		histogram(f, "amutex_wait_seconds", L(p), &p->wait);
	family(f, "amutex_hold_seconds", "histogram",
	       "How long the lock was held, for locks that keep hold times.");
	EACH(all, p)
		if (p->has_hold)
			histogram(f, "amutex_hold_seconds", L(p), &p->hold);
#undef L
	prometheus_families(f, all, extra);
}

static void json_hist(FILE *f, const amutex_hist_t *h)
{
	fprintf(f, "{\"count\": %llu, \"sum\": %llu, \"p50\": %llu, \"p90\": %llu, "
		"\"p99\": %llu, \"p999\": %llu, \"max\": %llu}",
		(unsigned long long)h->count, (unsigned long long)h->sum_ns,
		(unsigned long long)amutex_hist_quantile(h, 0.5),
		(unsigned long long)amutex_hist_quantile(h, 0.9),
		(unsigned long long)amutex_hist_quantile(h, 0.99),
		(unsigned long long)amutex_hist_quantile(h, 0.999),
		(unsigned long long)h->max_ns);
}

static void json(FILE *f, const struct snaps *all)
{
	char site[512];

	fputs("{\"locks\": [", f);
	EACH(all, p) {
		amutex__symbolize(p->c.first_contended_site, site, sizeof(site));
		fprintf(f, "%s\n  {\"name\": \"", p == all->v ? "" : ",");
		amutex__json_chars(f, p->name);
		fprintf(f, "\", \"address\": \"%p\", \"acquired\": {\"fast\": %llu, "
			"\"spin\": %llu, \"sleep\": %llu}, \"handoffs\": %llu, "
			"\"timeouts\": %llu, \"starvation\": {\"entries\": %llu, "
			"\"exits\": %llu, \"seconds\": %.9f, \"now\": %s}, "
			"\"peak_waiters\": %llu, \"first_contended_site\": \"",
			p->lock, (unsigned long long)p->c.acquired_fast,
			(unsigned long long)p->c.acquired_spin,
			(unsigned long long)p->c.acquired_sleep,
			(unsigned long long)p->c.handoffs,
			(unsigned long long)p->c.timeouts,
			(unsigned long long)p->c.starvation_entries,
			(unsigned long long)p->c.starvation_exits,
			(double)p->starving_ns / 1e9, p->c.starving ? "true" : "false",
			(unsigned long long)p->c.peak_waiters);
		amutex__json_chars(f, site);
		fputs("\", \"wait_ns\": ", f);
		json_hist(f, &p->wait);
		if (p->has_hold) {
			fputs(", \"hold_ns\": ", f);
			json_hist(f, &p->hold);
		}
		if (p->fsnap)
			p->family->json(f, p->fsnap);
		fputs("}", f);
	}
	fputs("\n]}\n", f);
}

const char *amutex_format_ns(uint64_t ns, char *buf, size_t len)
{
	if (ns < 1000)
		snprintf(buf, len, "%lluns", (unsigned long long)ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.1fus", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.1fms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", (double)ns / 1e9);
	return buf;
}

static void table(FILE *f, struct snaps *all)
{
	char a[32], b[32], c[32], d[32], site[512];

	if (all->n)
		qsort(all->v, all->n, sizeof(*all->v), by_total_wait);
	fprintf(f, "%-24s %12s %10s %9s %9s %9s %10s %8s  %s\n", "lock", "acquired",
		"contended", "wait p50", "wait p99", "wait max", "total wait",
		"starved", "first contended at");
	EACH(all, p) {
		uint64_t acq = p->c.acquired_fast + p->c.acquired_spin + p->c.acquired_sleep;
		double share = acq ? 100.0 * (double)(acq - p->c.acquired_fast) / (double)acq : 0;

		amutex__symbolize(p->c.first_contended_site, site, sizeof(site));
		fprintf(f, "%-24s %12llu %9.1f%% %9s %9s %9s %10s %8llu  %s\n", p->name,
			(unsigned long long)acq, share,
			amutex_format_ns(amutex_hist_quantile(&p->wait, 0.5), a, sizeof(a)),
			amutex_format_ns(amutex_hist_quantile(&p->wait, 0.99), b, sizeof(b)),
			amutex_format_ns(p->wait.max_ns, c, sizeof(c)),
			amutex_format_ns(p->wait.sum_ns, d, sizeof(d)),
			(unsigned long long)p->c.starvation_entries, site);
		if (p->fsnap)
			p->family->table(f, p->fsnap);
	}
}

int amutex_export(FILE *out, enum amutex_format format)
{
	amutex__stats_reader();
	return amutex__export_labeled(out, format, "");
}

int amutex__export_labeled(FILE *out, enum amutex_format format, const char *extra)
{
	struct snaps all;
	int err = snapshot(&all);

	if (err)
		return err;
	switch (format) {
	case AMUTEX_FORMAT_PROMETHEUS: prometheus(out, &all, extra); break;
	case AMUTEX_FORMAT_JSON: json(out, &all); break;
	case AMUTEX_FORMAT_TABLE: table(out, &all); break;
	default: err = EINVAL;
	}
	snaps_free(&all);
	if (!err && (fflush(out) != 0 || ferror(out)))
		err = EIO;
	return err;
}
