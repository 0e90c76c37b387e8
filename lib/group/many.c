/*
 * Lock-many: the stripes of a set of keys, taken in one global order
 * (ascending index), each once. Every thread that locks several stripes
 * this way waits only for stripes above all it holds, so no cycle of
 * waiting threads can form (the classic ordered-locking argument: the
 * thread holding the highest stripe of such a cycle would wait for a
 * lower one). Released in reverse. The caller's scratch holds the
 * indices: no allocation, whatever n.
 */
#include "group.h"

#include <errno.h>

/* Insertion sort below this many (the common few keys), heapsort above. */
#define SMALL 24

static void sift(uint32_t *v, size_t root, size_t n)
{
	for (;;) {
		size_t c = 2 * root + 1;
		uint32_t t;

		if (c >= n)
			return;
		if (c + 1 < n && v[c + 1] > v[c])
			c++;
		if (v[root] >= v[c])
			return;
		t = v[root];
		v[root] = v[c];
		v[c] = t;
		root = c;
	}
}

static void sort(uint32_t *v, size_t n)
{
	if (n <= SMALL) {
		for (size_t i = 1; i < n; i++) {
			uint32_t x = v[i];
			size_t j = i;

			for (; j > 0 && v[j - 1] > x; j--)
				v[j] = v[j - 1];
			v[j] = x;
		}
		return;
	}
	for (size_t i = n / 2; i-- > 0;)
		sift(v, i, n);
	for (size_t end = n; end-- > 1;) {
		uint32_t t = v[0];

		v[0] = v[end];
		v[end] = t;
		sift(v, 0, end);
	}
}

/* Sort, drop repeats, lock ascending. k: where the keys came from, for statistics. */
static int lock_sorted(amutex_group_t *g, uint32_t *v, size_t n, size_t *locked,
		       struct amutex__group_key *k)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (v[i] >= g->n)
			return EINVAL;
	sort(v, n);
	for (size_t i = 0; i < n; i++)
		if (m == 0 || v[i] != v[m - 1])
			v[m++] = v[i];
	for (size_t i = 0; i < m; i++) {
		if (__builtin_expect(g->stats != NULL, 0)) {
			if (k->kind == AMUTEX__GROUP_STRIPE)
				k->key = v[i];
			amutex__group_take(g, v[i], k, NULL);	/* no deadline: cannot fail */
		} else {
			amutex_lock(amutex__group_at(g, v[i]));
		}
	}
	*locked = m;
	return 0;
}

int amutex_group_lock_many_u64(amutex_group_t *g, const uint64_t *keys, size_t n,
			       uint32_t *scratch, size_t *locked)
{
	struct amutex__group_key k = { AMUTEX__GROUP_U64, 0, NULL, 0, keys, n };

	if (!locked || (n && (!keys || !scratch)))
		return EINVAL;
	for (size_t i = 0; i < n; i++)
		scratch[i] = amutex_group_stripe_of_u64(g, keys[i]);
	return lock_sorted(g, scratch, n, locked, &k);
}

int amutex_group_lock_many_ptr(amutex_group_t *g, const void *const *keys, size_t n,
			       uint32_t *scratch, size_t *locked)
{
	struct amutex__group_key k = { AMUTEX__GROUP_PTR, 0, NULL, 0, keys, n };

	if (!locked || (n && (!keys || !scratch)))
		return EINVAL;
	for (size_t i = 0; i < n; i++)
		scratch[i] = amutex_group_stripe_of_ptr(g, keys[i]);
	return lock_sorted(g, scratch, n, locked, &k);
}

int amutex_group_lock_stripes(amutex_group_t *g, uint32_t *stripes, size_t n, size_t *locked)
{
	struct amutex__group_key k = { AMUTEX__GROUP_STRIPE, 0, NULL, 0, NULL, 0 };

	if (!locked || (n && !stripes))
		return EINVAL;
	return lock_sorted(g, stripes, n, locked, &k);
}

int amutex_group_unlock_many(amutex_group_t *g, const uint32_t *stripes, size_t locked)
{
	int err = 0;

	if (locked && !stripes)
		return EINVAL;
	for (size_t i = locked; i-- > 0;) {
		int e = stripes[i] < g->n ? amutex_unlock(amutex__group_at(g, stripes[i])) : EINVAL;

		if (e && !err)
			err = e;
	}
	return err;
}
