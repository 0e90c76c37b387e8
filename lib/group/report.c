/*
 * Reading a group's statistics: totals, the hottest stripes, the skew, the
 * hot keys of the waits sample, the key trace; and the family through which
 * the exporters (lib/stats/export.c) show a named group as one lock.
 *
 * Skew: the most contended stripe's contended acquisitions over the mean
 * per stripe (total / n). 1.0 when contention falls evenly; n when one
 * stripe has all of it; 0 with no contention. For uniform keys it is the
 * maximum of n draws over their mean, which random placement alone lifts
 * above 1 (a few for thousands of events): compare it with a run of the
 * same counts, or read the top stripes' shares beside it.
 */
#include "group.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define rd(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define TOP 5	/* stripes and keys shown */

struct top_stripe {
	uint32_t stripe;
	uint64_t acquired, contended, wait_ns;
};

/* What every reader shows, taken once. */
struct gsnap {
	uint32_t n;
	int layout;
	uint64_t memory;
	uint64_t acquired, contended, wait_ns, timeouts, sampled;
	double skew;
	uint32_t top_stripe;
	size_t ntop, nhot;
	struct top_stripe top[TOP];
	struct amutex_group_hot_key hot[TOP];
};

static int by_key(const void *a, const void *b)
{
	const struct amutex_group_hot_key *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

static int by_wait(const void *a, const void *b)
{
	const struct amutex_group_hot_key *x = a, *y = b;

	if (x->wait_share != y->wait_share)
		return x->wait_share < y->wait_share ? 1 : -1;
	if (x->waits != y->waits)
		return x->waits < y->waits ? 1 : -1;
	return by_key(a, b);
}

/* The waits sample, one entry per key, worst first: out has room for 256. */
static size_t hot_keys(const struct amutex__group_stats *st, struct amutex_group_hot_key *out)
{
	uint64_t next = rd(&st->waits.next), total = 0;
	size_t filled = next < AMUTEX_GROUP_SAMPLE ? (size_t)next : AMUTEX_GROUP_SAMPLE, m = 0;

	for (size_t i = 0; i < filled; i++) {
		const struct amutex__group_sample *s = &st->waits.slot[i];
		uint64_t meta = rd(&s->meta), prefix = rd(&s->prefix);
		struct amutex_group_hot_key *h = &out[i];

		memset(h, 0, sizeof(*h));
		h->kind = (enum amutex_group_key_kind)(meta & 0xff);
		h->stripe = (uint32_t)(meta >> 8) & 0xffffff;
		h->len = meta >> 32;
		h->key = rd(&s->key);
		memcpy(h->prefix, &prefix, 8);
		h->waits = 1;
		h->wait_share = (double)rd(&s->wait_ns);	/* a sum until the end */
		total += rd(&s->wait_ns);
	}
	if (filled)
		qsort(out, filled, sizeof(*out), by_key);
	for (size_t i = 0; i < filled; i++) {
		if (m && by_key(&out[m - 1], &out[i]) == 0) {
			out[m - 1].waits++;
			out[m - 1].wait_share += out[i].wait_share;
		} else {
			out[m++] = out[i];
		}
	}
	for (size_t i = 0; i < m; i++)
		out[i].wait_share = total ? out[i].wait_share / (double)total :
				    (double)out[i].waits / (double)filled;
	if (m)
		qsort(out, m, sizeof(*out), by_wait);
	return m;
}

static void take(const struct amutex__group_stats *st, struct gsnap *s)
{
	struct amutex_group_hot_key hot[AMUTEX_GROUP_SAMPLE];
	uint64_t most = 0;

	memset(s, 0, sizeof(*s));
	s->n = st->n;
	s->layout = st->layout;
	s->memory = st->memory;
	s->timeouts = rd(&st->timeouts);
	s->sampled = rd(&st->waits.next);
	for (uint32_t i = 0; i < st->n; i++) {
		struct top_stripe t = { i, rd(&st->stripe[i].acquired),
					rd(&st->stripe[i].contended), rd(&st->stripe[i].wait_ns) };
		size_t j;

		s->acquired += t.acquired;
		s->contended += t.contended;
		s->wait_ns += t.wait_ns;
		if (t.contended > most) {
			most = t.contended;
			s->top_stripe = i;
		}
		if (!t.wait_ns || (s->ntop == TOP && t.wait_ns <= s->top[TOP - 1].wait_ns))
			continue;
		j = s->ntop < TOP ? s->ntop++ : TOP - 1;
		for (; j > 0 && s->top[j - 1].wait_ns < t.wait_ns; j--)
			s->top[j] = s->top[j - 1];
		s->top[j] = t;
	}
	s->skew = s->contended ? (double)most * st->n / (double)s->contended : 0;
	s->nhot = hot_keys(st, hot);
	if (s->nhot > TOP)
		s->nhot = TOP;
	memcpy(s->hot, hot, s->nhot * sizeof(hot[0]));
}

/* A key for people: 42, 0x7f.., "room-004"..., xxh3:..., stripe 17. */
static void key_text(const struct amutex_group_hot_key *h, char *buf, size_t len)
{
	int printable = h->len > 0;

	switch (h->kind) {
	case AMUTEX_GROUP_KEY_U64:
		snprintf(buf, len, "%" PRIu64, h->key);
		return;
	case AMUTEX_GROUP_KEY_PTR:
		snprintf(buf, len, "0x%" PRIx64, h->key);
		return;
	case AMUTEX_GROUP_KEY_STRIPE:
		snprintf(buf, len, "stripe %" PRIu64, h->key);
		return;
	default:
		break;
	}
	for (size_t i = 0; i < h->len && i < 8; i++)
		if (h->prefix[i] < 0x21 || h->prefix[i] > 0x7e || h->prefix[i] == '"' ||
		    h->prefix[i] == '\\')
			printable = 0;
	if (printable)
		snprintf(buf, len, "%.*s%s", (int)(h->len < 8 ? h->len : 8), h->prefix,
			 h->len > 8 ? "..." : "");
	else
		snprintf(buf, len, "xxh3:%016" PRIx64, h->key);
}

static const char *layout_name(int layout)
{
	return layout == AMUTEX_GROUP_PACKED ? "packed" : "padded";
}

static void table_lines(FILE *f, const struct gsnap *s)
{
	char a[32], k[64];

	fprintf(f, "  group: %u stripes, %s, %" PRIu64 " bytes; %" PRIu64 " of %" PRIu64
		" acquisitions waited; skew %.1f (the most contended stripe over the mean)\n",
		s->n, layout_name(s->layout), s->memory, s->contended, s->acquired, s->skew);
	if (s->ntop) {
		fputs("    hottest stripes:", f);
		for (size_t i = 0; i < s->ntop; i++)
			fprintf(f, "%s #%u %.1f%% of the waiting (%s, %" PRIu64 " waits)",
				i ? "," : "", s->top[i].stripe,
				s->wait_ns ? 100.0 * (double)s->top[i].wait_ns / (double)s->wait_ns : 0,
				amutex_format_ns(s->top[i].wait_ns, a, sizeof(a)), s->top[i].contended);
		fputc('\n', f);
	}
	if (s->nhot) {
		fprintf(f, "    hot keys (last %" PRIu64 " waits):", s->sampled < AMUTEX_GROUP_SAMPLE ?
			s->sampled : (uint64_t)AMUTEX_GROUP_SAMPLE);
		for (size_t i = 0; i < s->nhot; i++) {
			key_text(&s->hot[i], k, sizeof(k));
			fprintf(f, "%s key %s took %.0f%% of the waiting (%" PRIu64 " waits, stripe %u)",
				i ? ";" : "", k, 100.0 * s->hot[i].wait_share, s->hot[i].waits,
				s->hot[i].stripe);
		}
		fputc('\n', f);
	}
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	amutex__json_chars(f, s);
	fputc('"', f);
}

static const char *const kind_names[] = { "u64", "ptr", "bytes", "stripe" };

static void json_fields(FILE *f, const struct gsnap *s)
{
	char k[64];

	fprintf(f, ", \"group\": {\"stripes\": %u, \"layout\": \"%s\", \"memory_bytes\": %" PRIu64
		", \"acquired\": %" PRIu64 ", \"contended\": %" PRIu64 ", \"wait_ns\": %" PRIu64
		", \"skew\": %.3f, \"top_stripes\": [", s->n, layout_name(s->layout), s->memory,
		s->acquired, s->contended, s->wait_ns, s->skew);
	for (size_t i = 0; i < s->ntop; i++)
		fprintf(f, "%s{\"stripe\": %u, \"acquired\": %" PRIu64 ", \"contended\": %" PRIu64
			", \"wait_ns\": %" PRIu64 ", \"wait_share\": %.4f}", i ? ", " : "",
			s->top[i].stripe, s->top[i].acquired, s->top[i].contended, s->top[i].wait_ns,
			s->wait_ns ? (double)s->top[i].wait_ns / (double)s->wait_ns : 0);
	fprintf(f, "], \"sampled_waits\": %" PRIu64 ", \"hot_keys\": [", s->sampled);
	for (size_t i = 0; i < s->nhot; i++) {
		key_text(&s->hot[i], k, sizeof(k));
		fprintf(f, "%s{\"key\": ", i ? ", " : "");
		json_str(f, k);
		fprintf(f, ", \"kind\": \"%s\", \"stripe\": %u, \"waits\": %" PRIu64
			", \"wait_share\": %.4f}", kind_names[s->hot[i].kind & 3], s->hot[i].stripe,
			s->hot[i].waits, s->hot[i].wait_share);
	}
	fputs("]}", f);
}

/* The family's hooks. */

static void fam_totals(const void *data, struct amutex_counters *c, amutex_hist_t *wait)
{
	const struct amutex__group_stats *st = data;
	uint64_t acq = 0, cont = 0;

	for (uint32_t i = 0; i < st->n; i++) {
		acq += rd(&st->stripe[i].acquired);
		cont += rd(&st->stripe[i].contended);
	}
	/* A group does not tell spinning from sleeping: every wait counts as sleep. */
	c->acquired_fast += acq - (cont < acq ? cont : acq);
	c->acquired_sleep += cont;
	c->timeouts += rd(&st->timeouts);
	amutex_hist_merge(wait, &st->wait);
}

static void *fam_snapshot(const void *data)
{
	struct gsnap *s = malloc(sizeof(*s));

	if (s)
		take(data, s);
	return s;
}

static void fam_json(FILE *f, const void *snap)
{
	json_fields(f, snap);
}

static void fam_table(FILE *f, const void *snap)
{
	table_lines(f, snap);
}

static const struct amutex__family_metric metrics[] = {
	{ "amutex_group_stripes", "gauge", "Stripes of a striped lock group." },
	{ "amutex_group_skew", "gauge",
	  "The most contended stripe's contended acquisitions over the mean per stripe." },
	{ "amutex_group_top_stripe_wait_seconds_total", "counter",
	  "Time waited for each of the group's most waited-for stripes." },
	{ "amutex_group_hot_key_wait_share", "gauge",
	  "Share of the waiting in the group's sample of its last 256 waits, by key." },
};

/* A label value: the key text may hold a quote or a backslash. */
static void label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		fputc(*s, f);
	}
}

static void fam_series(FILE *f, size_t i, const void *snap, const char *labels)
{
	const struct gsnap *s = snap;
	char k[64];

	switch (i) {
	case 0:
		fprintf(f, "amutex_group_stripes{%s} %u\n", labels, s->n);
		break;
	case 1:
		fprintf(f, "amutex_group_skew{%s} %.3f\n", labels, s->skew);
		break;
	case 2:
		for (size_t j = 0; j < s->ntop; j++)
			fprintf(f, "amutex_group_top_stripe_wait_seconds_total{%s,stripe=\"%u\"} "
				"%.9f\n", labels, s->top[j].stripe, (double)s->top[j].wait_ns / 1e9);
		break;
	case 3:
		for (size_t j = 0; j < s->nhot; j++) {
			key_text(&s->hot[j], k, sizeof(k));
			fprintf(f, "amutex_group_hot_key_wait_share{%s,key=\"", labels);
			label(f, k);
			fprintf(f, "\"} %.4f\n", s->hot[j].wait_share);
		}
		break;
	}
}

const struct amutex__family amutex__group_family = {
	.totals = fam_totals,
	.snapshot = fam_snapshot,
	.snapshot_free = free,
	.json = fam_json,
	.table = fam_table,
	.nmetrics = sizeof(metrics) / sizeof(metrics[0]),
	.metrics = metrics,
	.series = fam_series,
};

/* The API. */

int amutex_group_stripe_stats(const amutex_group_t *g, uint32_t i,
			      struct amutex_group_stripe_stats *out)
{
	const struct amutex__group_stats *st = g->stats;

	if (!st)
		return ENOTSUP;
	if (i >= g->n)
		return EINVAL;
	out->acquired = rd(&st->stripe[i].acquired);
	out->contended = rd(&st->stripe[i].contended);
	out->wait_ns = rd(&st->stripe[i].wait_ns);
	return 0;
}

int amutex_group_totals(const amutex_group_t *g, struct amutex_group_totals *out,
			amutex_hist_t *wait)
{
	struct gsnap s;

	if (!g->stats)
		return ENOTSUP;
	take(g->stats, &s);
	out->acquired = s.acquired;
	out->contended = s.contended;
	out->wait_ns = s.wait_ns;
	out->timeouts = s.timeouts;
	out->skew = s.skew;
	out->top_stripe = s.top_stripe;
	if (wait) {
		amutex_hist_init(wait);
		amutex_hist_merge(wait, &g->stats->wait);
	}
	return 0;
}

int amutex_group_hot_keys(const amutex_group_t *g, struct amutex_group_hot_key *out,
			  size_t max, size_t *n)
{
	struct amutex_group_hot_key hot[AMUTEX_GROUP_SAMPLE];
	size_t m;

	if (!g->stats)
		return ENOTSUP;
	if (!n || (max && !out))
		return EINVAL;
	m = hot_keys(g->stats, hot);
	*n = m < max ? m : max;
	memcpy(out, hot, *n * sizeof(hot[0]));
	return 0;
}

int amutex_group_write_keys(const amutex_group_t *g, FILE *out, int which, uint64_t *cursor)
{
	const struct amutex__group_ring *r;
	uint64_t next, from;

	if (!g->stats)
		return ENOTSUP;
	if (!out || !cursor || (which != AMUTEX_GROUP_TRACE_ACQUIRED &&
				which != AMUTEX_GROUP_TRACE_WAITS))
		return EINVAL;
	r = which == AMUTEX_GROUP_TRACE_WAITS ? &g->stats->waits : &g->stats->acquired;
	next = rd(&r->next);
	from = next > AMUTEX_GROUP_SAMPLE ? next - AMUTEX_GROUP_SAMPLE : 0;
	if (*cursor > from && *cursor <= next)
		from = *cursor;
	for (uint64_t i = from; i < next; i++) {
		const struct amutex__group_sample *s = &r->slot[i % AMUTEX_GROUP_SAMPLE];
		uint64_t key = rd(&s->key), kind = rd(&s->meta) & 0xff;

		if (kind == AMUTEX__GROUP_U64)
			fprintf(out, "%" PRIu64 "\n", key);
		else if (kind == AMUTEX__GROUP_PTR)
			fprintf(out, "0x%" PRIx64 "\n", key);
		else if (kind == AMUTEX__GROUP_BYTES)
			fprintf(out, "xxh3:%016" PRIx64 "\n", key);
		else
			fprintf(out, "stripe:%" PRIu64 "\n", key);
	}
	*cursor = next;
	return fflush(out) != 0 || ferror(out) ? EIO : 0;
}

int amutex_group_report(const amutex_group_t *g, FILE *out)
{
	struct gsnap s;

	if (!g->stats)
		return ENOTSUP;
	take(g->stats, &s);
	table_lines(out, &s);
	return fflush(out) != 0 || ferror(out) ? EIO : 0;
}
