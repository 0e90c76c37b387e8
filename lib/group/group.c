/*
 * A group's life (create into its own memory, init into the caller's,
 * destroy) and byte-string keys (XXH3_64bits).
 *
 * A created group is one allocation: the header line, then the stripes.
 * Statistics are a second one, owned from birth by the stats layer's block
 * (freed after the exporters that may read it), whatever the storage.
 */
#include "group.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static unsigned fail_at;	/* the test seam: allocations left until one fails */

void amutex__group_fail_alloc(unsigned nth)
{
	__atomic_store_n(&fail_at, nth, __ATOMIC_RELAXED);
}

/* The seam: 1 when this allocation is the one the test wants to fail. */
static int should_fail(void)
{
	unsigned n = __atomic_load_n(&fail_at, __ATOMIC_RELAXED);

	if (n == 0)
		return 0;
	__atomic_store_n(&fail_at, n - 1, __ATOMIC_RELAXED);
	return n == 1;
}

static void *alloc64(size_t size)
{
	return should_fail() ? NULL : aligned_alloc(64, (size + 63) & ~(size_t)63);
}

/* Statistics: the block (named: registered), and its data. 0 or ENOMEM. */
static int stats_new(amutex_group_t *g, const amutex_group_opts_t *o, size_t bytes)
{
	size_t size = sizeof(struct amutex__group_stats) +
		      (size_t)g->n * sizeof(struct amutex__group_stripe_ctr);
	struct amutex__group_stats *st = alloc64(size);
	amutex_attr_t a;

	if (!st)
		return ENOMEM;
	memset(st, 0, size);
	st->n = g->n;
	st->layout = o->layout;
	st->memory = bytes;
	amutex_attr_init(&a);
	if (o->name)
		amutex_attr_setname(&a, o->name);
	else
		amutex_attr_setstats(&a, 1);
	/* The block's lock is stripe 0: the registry keys it by that address. */
	g->block = should_fail() ? NULL :
		   amutex__stats_new_family(amutex__group_at(g, 0), &a, &amutex__group_family, st);
	if (!g->block) {
		free(st);
		return ENOMEM;
	}
	g->stats = st;
	return 0;
}

static int setup(amutex_group_t *g, const amutex_group_opts_t *o, uint32_t shift,
		 size_t bytes, uint32_t flags)
{
	memset(g, 0, sizeof(*g));
	g->base = (unsigned char *)g + sizeof(*g);
	g->n = (uint32_t)o->stripes;
	g->shift = shift;
	g->flags = flags;
	/* All-zero is an unlocked amutex with the process defaults. */
	memset(g->base, 0, (size_t)g->n << shift);
	if (o->attr)
		for (uint32_t i = 0; i < g->n; i++)
			amutex_init(amutex__group_at(g, i), o->attr);	/* no statistics: cannot fail */
	if (o->stats && stats_new(g, o, bytes) != 0)
		return ENOMEM;
	g->magic = AMUTEX__GROUP_MAGIC;
	return 0;
}

int amutex_group_create(amutex_group_t **out, const amutex_group_opts_t *o)
{
	uint32_t shift;
	size_t bytes;
	amutex_group_t *g;
	int err = amutex__group_opts_check(o, &shift, &bytes);

	if (err)
		return err;
	if (!(g = alloc64(bytes)))
		return ENOMEM;
	if ((err = setup(g, o, shift, bytes, AMUTEX__GROUP_ALLOCATED)) != 0) {
		free(g);
		return err;
	}
	*out = g;
	return 0;
}

int amutex_group_init(amutex_group_t **out, void *storage, size_t len,
		      const amutex_group_opts_t *o)
{
	uint32_t shift;
	size_t bytes;
	int err = amutex__group_opts_check(o, &shift, &bytes);

	if (err)
		return err;
	if (!storage || ((uintptr_t)storage & 63) || len < bytes)
		return EINVAL;
	if ((err = setup(storage, o, shift, bytes, 0)) != 0)
		return err;
	*out = storage;
	return 0;
}

int amutex_group_destroy(amutex_group_t *g)
{
	if (!g || g->magic != AMUTEX__GROUP_MAGIC)
		return EINVAL;
	/* Stripes have no statistics of their own: any bit set means in use. */
	for (uint32_t i = 0; i < g->n; i++)
		if (__atomic_load_n(&amutex__group_at(g, i)->state, __ATOMIC_RELAXED) != 0)
			return EBUSY;
	if (g->block)
		amutex__stats_release(g->block);	/* and g->stats with it */
	g->magic = 0;
	g->stats = NULL;
	g->block = NULL;
	if (g->flags & AMUTEX__GROUP_ALLOCATED)
		free(g);
	return 0;
}

static uint64_t hash_bytes(const void *key, size_t len)
{
	return XXH3_64bits(key, len);
}

uint32_t amutex_group_stripe_of_bytes(const amutex_group_t *g, const void *key, size_t len)
{
	return amutex__group_reduce(hash_bytes(key, len), g->n);
}

/* With statistics, the bytes go along: the sample keeps their start. */
static struct amutex__group_key bytes_key(const void *key, size_t len, uint64_t h)
{
	struct amutex__group_key k = { AMUTEX__GROUP_BYTES, h, key, len, NULL, 0 };

	return k;
}

int amutex_group_lock_bytes(amutex_group_t *g, const void *key, size_t len)
{
	uint64_t h = hash_bytes(key, len);
	uint32_t i = amutex__group_reduce(h, g->n);
	struct amutex__group_key k;

	if (__builtin_expect(g->stats == NULL, 1))
		return amutex_lock(amutex__group_at(g, i));
	k = bytes_key(key, len, h);
	return amutex__group_take(g, i, &k, NULL);
}

int amutex_group_trylock_bytes(amutex_group_t *g, const void *key, size_t len)
{
	uint64_t h = hash_bytes(key, len);
	uint32_t i = amutex__group_reduce(h, g->n);
	struct amutex__group_key k;

	if (__builtin_expect(g->stats == NULL, 1))
		return amutex_trylock(amutex__group_at(g, i));
	k = bytes_key(key, len, h);
	return amutex__group_trytake(g, i, &k);
}

int amutex_group_timedlock_bytes(amutex_group_t *g, const void *key, size_t len,
				 const struct timespec *abs_mono)
{
	uint64_t h = hash_bytes(key, len);
	uint32_t i = amutex__group_reduce(h, g->n);
	struct amutex__group_key k;

	if (__builtin_expect(g->stats == NULL, 1))
		return amutex_timedlock(amutex__group_at(g, i), abs_mono);
	k = bytes_key(key, len, h);
	return amutex__group_take(g, i, &k, abs_mono);
}

int amutex_group_unlock_bytes(amutex_group_t *g, const void *key, size_t len)
{
	return amutex_unlock(amutex__group_at(g, amutex_group_stripe_of_bytes(g, key, len)));
}
