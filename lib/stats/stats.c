/*
 * Per-lock statistics and hooks: recorded on slow paths (the inline fast
 * paths only count uncontended acquisitions: <amutex/static/amutex.h>),
 * read as relaxed snapshots through the accessors at the end.
 */
#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define rd(p) __atomic_load_n((p), __ATOMIC_RELAXED)

/* Its own line: read on every contended acquisition of an observed mutex. */
static const struct amutex_hooks *global_hooks __attribute__((aligned(64)));

int amutex_hooks_set_global(const struct amutex_hooks *hooks)
{
	/* Release: paired with the acquire in each hook call below. */
	__atomic_store_n(&global_hooks, hooks, __ATOMIC_RELEASE);
	return 0;
}

/* Per-lock hooks first, then the global ones. */
#define CALL_HOOKS(s, member, ...) do {					\
	const struct amutex_hooks *h_ = (s)->hooks;			\
	if (h_ && h_->member)						\
		h_->member(h_->arg, __VA_ARGS__);			\
	h_ = __atomic_load_n(&global_hooks, __ATOMIC_ACQUIRE);		\
	if (h_ && h_->member)						\
		h_->member(h_->arg, __VA_ARGS__);			\
} while (0)

/* A counter only the lock's holder writes: no atomic read-modify-write. */
static inline void holder_inc(uint64_t *c)
{
	__atomic_store_n(c, rd(c) + 1, __ATOMIC_RELAXED);
}

/*
 * Hold times: the acquiring thread notes when it took each observed lock
 * here, and its unlock, which runs after the lock word is released, finds
 * the note again. Thread-local, so the next owner cannot overwrite it.
 * Deeper nesting than this is not timed.
 */
#define HELD_MAX 16
static __thread struct { const amutex_t *m; uint64_t since; } held[HELD_MAX];
static __thread unsigned nheld;

void amutex__stats_acquired(amutex_t *m, enum amutex__path path, uint64_t wait_ns)
{
	struct amutex__stats *s = m->stats;
	struct amutex__stats_shard *h = &s->shard[amutex__stats_shard_index()];

	switch (path) {
	case AMUTEX_PATH_FAST:
		holder_inc(&h->acquired_fast);
		break;
	case AMUTEX_PATH_SPIN:
		holder_inc(&h->acquired_spin);
		break;
	case AMUTEX_PATH_SLEEP:
		holder_inc(&h->acquired_sleep);
		break;
	}
	if (path != AMUTEX_PATH_FAST) {
		/* Exclusive: only the holder records a wait. */
		uint32_t *b = &s->wait.bucket[amutex_hist_index(wait_ns)];

		__atomic_store_n(b, rd(b) + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&h->wait_sum_ns, rd(&h->wait_sum_ns) + wait_ns, __ATOMIC_RELAXED);
		if (wait_ns > rd(&h->wait_max_ns))
			__atomic_store_n(&h->wait_max_ns, wait_ns, __ATOMIC_RELAXED);
		CALL_HOOKS(s, contended, m, s->name, wait_ns);
	}
	if (s->hold && nheld < HELD_MAX) {
		held[nheld].m = m;
		held[nheld++].since = amutex__clock_ns();
	}
}

void amutex__stats_trylocked(amutex_t *m)
{
	amutex__stats_acquired(m, AMUTEX_PATH_FAST, 0);
}

void amutex__stats_released(amutex_t *m)
{
	struct amutex__stats *s = m->stats;

	if (!s->hold)
		return;
	for (unsigned i = nheld; i-- > 0;) {
		uint64_t now;

		if (held[i].m != m)
			continue;
		now = amutex__clock_ns();
		amutex_hist_record(s->hold, now > held[i].since ? now - held[i].since : 0);
		held[i] = held[--nheld];
		return;
	}
}

void amutex__stats_handoff(struct amutex__stats *s)
{
	holder_inc(&s->shard[amutex__stats_shard_index()].handoffs);
}

void amutex__stats_timeout(struct amutex__stats *s)
{
	__atomic_add_fetch(&s->timeouts, 1, __ATOMIC_RELAXED);
}

/*
 * Entries are counted by the waiter whose CAS set STARVING; exits by the
 * thread whose CAS cleared it. The clock is stored after the entering CAS,
 * so an exit racing within those instructions loses that episode's time.
 */
void amutex__stats_starving(amutex_t *m, int entered)
{
	struct amutex__stats *s = m->stats;
	uint64_t now = amutex__now_ns(), since, ns = 0;

	if (entered) {
		__atomic_add_fetch(&s->starvation_entries, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&s->starving_since, now, __ATOMIC_RELAXED);
		CALL_HOOKS(s, starvation_enter, m, s->name);
		return;
	}
	__atomic_add_fetch(&s->starvation_exits, 1, __ATOMIC_RELAXED);
	since = __atomic_exchange_n(&s->starving_since, 0, __ATOMIC_RELAXED);
	if (since && now > since) {
		ns = now - since;
		__atomic_add_fetch(&s->starvation_ns, ns, __ATOMIC_RELAXED);
	}
	CALL_HOOKS(s, starvation_exit, m, s->name, ns);
}

void amutex__stats_waiters(struct amutex__stats *s, uint32_t waiters)
{
	uint64_t peak = rd(&s->peak_waiters);

	while (waiters > peak && !__atomic_compare_exchange_n(&s->peak_waiters,
			&peak, waiters, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

void amutex__stats_contended_at(struct amutex__stats *s, const void *site)
{
	const void *none = NULL;

	if (!rd(&s->first_site))
		__atomic_compare_exchange_n(&s->first_site, &none, site, 0,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

void amutex__stats_attach_init(struct amutex__stats *s, const amutex_t *lock, const void *site)
{
	s->lock = lock;
	s->first_site = site;
}

/* Readers. */

static int readers;

void amutex__stats_reader(void)
{
	__atomic_store_n(&readers, 1, __ATOMIC_RELAXED);
}

int amutex__stats_readers(void)
{
	return __atomic_load_n(&readers, __ATOMIC_RELAXED);
}

int amutex_stats_read(const amutex_t *m, struct amutex_counters *out)
{
	if (!m->stats)
		return ENOTSUP;
	amutex__stats_counters(m->stats, out);
	out->starving = (rd(&m->state) & AMUTEX__STARVING) != 0;
	return 0;
}

void amutex__stats_counters(const struct amutex__stats *s, struct amutex_counters *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < AMUTEX__STATS_SHARDS; i++) {
		const struct amutex__stats_shard *h = &s->shard[i];

		out->acquired_fast += rd(&h->acquired_fast);
		out->acquired_spin += rd(&h->acquired_spin);
		out->acquired_sleep += rd(&h->acquired_sleep);
		out->handoffs += rd(&h->handoffs);
	}
	out->timeouts = rd(&s->timeouts);
	out->starvation_entries = rd(&s->starvation_entries);
	out->starvation_exits = rd(&s->starvation_exits);
	out->starvation_ns = rd(&s->starvation_ns);
	out->peak_waiters = rd(&s->peak_waiters);
	out->starving = rd(&s->starving_since) != 0;
	out->first_contended_site = rd(&s->first_site);
}

uint64_t amutex__stats_starving_ns(const struct amutex__stats *s, uint64_t now)
{
	uint64_t total = rd(&s->starvation_ns), since = rd(&s->starving_since);

	return since && now > since ? total + (now - since) : total;
}

void amutex__stats_wait(const struct amutex__stats *s, amutex_hist_t *out)
{
	/* The buckets (the count comes from them), then the shards' sums and maxima. */
	amutex_hist_merge(out, &s->wait);
	for (unsigned i = 0; i < AMUTEX__STATS_SHARDS; i++) {
		uint64_t max = rd(&s->shard[i].wait_max_ns);

		out->sum_ns += rd(&s->shard[i].wait_sum_ns);
		if (max > out->max_ns)
			out->max_ns = max;
	}
}

int amutex__stats_hold(const struct amutex__stats *s, amutex_hist_t *out)
{
	if (!s->hold)
		return ENOTSUP;
	amutex_hist_merge(out, s->hold);
	return 0;
}

const amutex_t *amutex__stats_lock(const struct amutex__stats *s)
{
	return s->lock;
}

int amutex_stats_wait_hist(const amutex_t *m, amutex_hist_t *out)
{
	if (!m->stats)
		return ENOTSUP;
	amutex_hist_init(out);
	amutex__stats_wait(m->stats, out);
	return 0;
}

int amutex_stats_hold_hist(const amutex_t *m, amutex_hist_t *out)
{
	if (!m->stats || !m->stats->hold)
		return ENOTSUP;
	amutex_hist_init(out);
	return amutex__stats_hold(m->stats, out);
}

void amutex__stats_name(const struct amutex__stats *s, char *buf, size_t len)
{
	if (s->name)
		snprintf(buf, len, "%s", s->name);
	else	/* a drop-in mutex */
		amutex__symbolize(rd(&s->first_site), buf, len);
}
