/* Per-lock counters: recorded on slow paths only, read as snapshots. */
#include "internal.h"

#include <errno.h>
#include <string.h>

#define rd(p) __atomic_load_n((p), __ATOMIC_RELAXED)

void amutex__stats_acquired(struct amutex_stats *s, enum amutex_path path,
			    uint64_t wait_ns)
{
	switch (path) {
	case AMUTEX_PATH_FAST:
		amutex__holder_inc(&s->acquired_fast);
		return;
	case AMUTEX_PATH_SPIN:
		amutex__holder_inc(&s->acquired_spin);
		break;
	case AMUTEX_PATH_SLEEP:
		amutex__holder_inc(&s->acquired_sleep);
		break;
	}
	amutex_hist_record(&s->wait, wait_ns);
}

void amutex_stats_trylocked(amutex_t *m)
{
	amutex__holder_inc(&m->stats->acquired_fast);
}

/*
 * Entries are counted by the waiter whose CAS set STARVING; exits by the
 * thread whose CAS cleared it. The clock is stored after the entering CAS,
 * so an exit racing within those instructions loses that episode's time.
 */
void amutex__stats_starving(struct amutex_stats *s, int entered)
{
	uint64_t now = amutex__now_ns(), since;

	if (entered) {
		__atomic_add_fetch(&s->starvation_entries, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&s->starving_since, now, __ATOMIC_RELAXED);
		return;
	}
	__atomic_add_fetch(&s->starvation_exits, 1, __ATOMIC_RELAXED);
	since = __atomic_exchange_n(&s->starving_since, 0, __ATOMIC_RELAXED);
	if (since && now > since)
		__atomic_add_fetch(&s->starvation_ns, now - since, __ATOMIC_RELAXED);
}

void amutex__stats_waiters(struct amutex_stats *s, uint32_t waiters)
{
	uint64_t peak = rd(&s->peak_waiters);

	while (waiters > peak && !__atomic_compare_exchange_n(&s->peak_waiters,
			&peak, waiters, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

int amutex_stats_read(const amutex_t *m, struct amutex_counters *out)
{
	const struct amutex_stats *s = m->stats;

	if (!s)
		return ENOTSUP;
	memset(out, 0, sizeof(*out));
	out->acquired_fast = rd(&s->acquired_fast);
	out->acquired_spin = rd(&s->acquired_spin);
	out->acquired_sleep = rd(&s->acquired_sleep);
	out->handoffs = rd(&s->handoffs);
	out->timeouts = rd(&s->timeouts);
	out->starvation_entries = rd(&s->starvation_entries);
	out->starvation_exits = rd(&s->starvation_exits);
	out->starvation_ns = rd(&s->starvation_ns);
	out->peak_waiters = rd(&s->peak_waiters);
	out->starving = (rd(&m->state) & AMUTEX_STATE_STARVING) != 0;
	return 0;
}

int amutex_stats_wait_hist(const amutex_t *m, amutex_hist_t *out)
{
	if (!m->stats)
		return ENOTSUP;
	amutex_hist_init(out);
	amutex_hist_merge(out, &m->stats->wait);
	return 0;
}
