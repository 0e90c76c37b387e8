/*
 * Taking a stripe with statistics on: a trylock first (an uncontended
 * acquisition costs no clock read), else the clock, the lock, the clock.
 * The stripe's counters are written after it is held, by its holder alone,
 * so they are exact; the group's wait histogram and the waits sample are
 * written by the holders of many stripes at once, so atomically.
 */
#include "group.h"

#include <errno.h>
#include <string.h>

#define rd(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define wr(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* A counter only the stripe's holder writes. */
static inline void holder_add(uint64_t *c, uint64_t v)
{
	wr(c, rd(c) + v);
}

/* The key a lock-many took stripe i for: the first of its keys on it. */
static uint64_t key_of_many(const amutex_group_t *g, const struct amutex__group_key *k, uint32_t i)
{
	for (size_t j = 0; j < k->nmany; j++) {
		uint64_t key = k->kind == AMUTEX__GROUP_PTR ?
			(uint64_t)(uintptr_t)((const void *const *)k->many)[j] :
			((const uint64_t *)k->many)[j];

		if (amutex_group_stripe_of_u64(g, key) == i)
			return key;
	}
	return i;
}

/*
 * Note a key in a ring: claim a slot with one atomic add, then four relaxed
 * stores. Two writers on one slot (the ring wrapped during a store) may
 * leave it torn; it is a sample.
 */
static void sample(const amutex_group_t *g, struct amutex__group_ring *r, uint32_t i,
		   const struct amutex__group_key *k, uint64_t wait_ns)
{
	struct amutex__group_sample *s =
		&r->slot[__atomic_fetch_add(&r->next, 1, __ATOMIC_RELAXED) % AMUTEX_GROUP_SAMPLE];
	uint64_t key = k->many ? key_of_many(g, k, i) : k->key, prefix = 0;
	uint64_t len = k->len > UINT32_MAX ? UINT32_MAX : k->len;

	if (k->kind == AMUTEX__GROUP_BYTES)
		memcpy(&prefix, k->bytes, k->len < 8 ? k->len : 8);
	wr(&s->key, key);
	wr(&s->wait_ns, wait_ns);
	wr(&s->meta, (uint64_t)k->kind | (uint64_t)i << 8 | len << 32);
	wr(&s->prefix, prefix);
}

/* The holder of stripe i counts its acquisition; every 64th is sampled. */
static void acquired(amutex_group_t *g, uint32_t i, const struct amutex__group_key *k)
{
	struct amutex__group_stats *st = g->stats;
	uint64_t n = rd(&st->stripe[i].acquired) + 1;

	wr(&st->stripe[i].acquired, n);
	if (n % AMUTEX_GROUP_SAMPLE_EVERY == 0)
		sample(g, &st->acquired, i, k, 0);
}

int amutex__group_take(amutex_group_t *g, uint32_t i, const struct amutex__group_key *k,
		       const struct timespec *abs_mono)
{
	amutex_t *m = amutex__group_at(g, i);
	struct amutex__group_stats *st = g->stats;
	uint64_t t0, wait;
	int err;

	if (amutex_trylock(m) == 0) {
		acquired(g, i, k);
		return 0;
	}
	t0 = amutex__now_ns();
	err = abs_mono ? amutex_timedlock(m, abs_mono) : amutex_lock(m);
	if (err) {
		if (err == ETIMEDOUT)
			__atomic_add_fetch(&st->timeouts, 1, __ATOMIC_RELAXED);
		return err;
	}
	wait = amutex__now_ns() - t0;
	holder_add(&st->stripe[i].contended, 1);
	holder_add(&st->stripe[i].wait_ns, wait);
	acquired(g, i, k);
	amutex_hist_record(&st->wait, wait);
	sample(g, &st->waits, i, k, wait);
	return 0;
}

int amutex__group_trytake(amutex_group_t *g, uint32_t i, const struct amutex__group_key *k)
{
	if (amutex_trylock(amutex__group_at(g, i)) != 0)
		return EBUSY;
	acquired(g, i, k);
	return 0;
}

int amutex__group_lock_observed(amutex_group_t *g, uint32_t i, int kind, uint64_t key,
				const void *bytes, size_t len, const struct timespec *abs_mono)
{
	struct amutex__group_key k = { kind, key, bytes, len, NULL, 0 };

	return amutex__group_take(g, i, &k, abs_mono);
}

int amutex__group_trylock_observed(amutex_group_t *g, uint32_t i, int kind, uint64_t key,
				   const void *bytes, size_t len)
{
	struct amutex__group_key k = { kind, key, bytes, len, NULL, 0 };

	return amutex__group_trytake(g, i, &k);
}
