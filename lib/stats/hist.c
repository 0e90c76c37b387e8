/*
 * Log-linear histogram of nanoseconds (see include/amutex/stats.h for the
 * geometry). Written here rather than taken from HdrHistogram_c: Debian 12
 * does not package it, and this one needs fixed memory with no allocation
 * so a lock can record into it while held.
 */
#include "stats.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SUB AMUTEX_HIST_SUB_BITS
#define LINEAR (2u << SUB)	/* values below this have a bucket each */

void amutex_hist_init(amutex_hist_t *h)
{
	memset(h, 0, sizeof(*h));
}

unsigned amutex_hist_index(uint64_t ns)
{
	unsigned msb, shift;

	if (ns < LINEAR)
		return (unsigned)ns;
	msb = 63u - (unsigned)__builtin_clzll(ns);
	if (msb >= AMUTEX_HIST_MAX_BITS)
		return AMUTEX_HIST_BUCKETS - 1;
	shift = msb - SUB;
	return (shift << SUB) + (unsigned)(ns >> shift);
}

static uint64_t lower(unsigned i)
{
	unsigned shift;

	if (i < LINEAR)
		return i;
	shift = (i >> SUB) - 1;
	return (uint64_t)((1u << SUB) + (i & ((1u << SUB) - 1))) << shift;
}

uint64_t amutex_hist_upper(unsigned i)
{
	if (i < LINEAR)
		return i;
	return lower(i) + (1ull << ((i >> SUB) - 1)) - 1;
}

void amutex_hist_record(amutex_hist_t *h, uint64_t ns)
{
	uint64_t max = __atomic_load_n(&h->max_ns, __ATOMIC_RELAXED);

	__atomic_add_fetch(&h->bucket[amutex_hist_index(ns)], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&h->count, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&h->sum_ns, ns, __ATOMIC_RELAXED);
	while (ns > max && !__atomic_compare_exchange_n(&h->max_ns, &max, ns, 1,
			__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

#define bump(p, v) __atomic_store_n((p), __atomic_load_n((p), __ATOMIC_RELAXED) + (v), \
				   __ATOMIC_RELAXED)

void amutex_hist_record_excl(amutex_hist_t *h, uint64_t ns)
{
	bump(&h->bucket[amutex_hist_index(ns)], 1);
	bump(&h->count, 1);
	bump(&h->sum_ns, ns);
	if (ns > __atomic_load_n(&h->max_ns, __ATOMIC_RELAXED))
		__atomic_store_n(&h->max_ns, ns, __ATOMIC_RELAXED);
}

void amutex_hist_merge(amutex_hist_t *dst, const amutex_hist_t *src)
{
	uint64_t count = 0, max = __atomic_load_n(&src->max_ns, __ATOMIC_RELAXED);

	for (unsigned i = 0; i < AMUTEX_HIST_BUCKETS; i++) {
		uint32_t n = __atomic_load_n(&src->bucket[i], __ATOMIC_RELAXED);

		dst->bucket[i] += n;
		count += n;
	}
	/* Count from the buckets, so quantiles of a racing snapshot add up. */
	dst->count += count;
	dst->sum_ns += __atomic_load_n(&src->sum_ns, __ATOMIC_RELAXED);
	if (max > dst->max_ns)
		dst->max_ns = max;
}

uint64_t amutex_hist_quantile(const amutex_hist_t *h, double q)
{
	uint64_t rank, seen = 0, count = 0;
	unsigned i;

	for (i = 0; i < AMUTEX_HIST_BUCKETS; i++)
		count += h->bucket[i];
	if (count == 0)
		return 0;
	if (q <= 0)
		q = 0;
	if (q >= 1)
		return h->max_ns;
	rank = (uint64_t)(q * (double)count);
	if (rank >= count)
		rank = count - 1;
	for (i = 0; i < AMUTEX_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen > rank) {
			uint64_t mid = lower(i) + (amutex_hist_upper(i) - lower(i)) / 2;

			return h->max_ns && mid > h->max_ns ? h->max_ns : mid;
		}
	}
	return h->max_ns;
}

struct amutex_hist_sharded {
	unsigned shards;
	/* Each shard starts on its own cache line: calloc'd 64-byte aligned. */
	struct { amutex_hist_t h; } __attribute__((aligned(64))) shard[];
};

static unsigned next_shard;
static __thread unsigned my_shard = ~0u;

amutex_hist_sharded_t *amutex_hist_sharded_new(unsigned shards)
{
	amutex_hist_sharded_t *h;
	size_t size;

	if (shards == 0) {
		long n = sysconf(_SC_NPROCESSORS_CONF);

		shards = n > 0 ? (unsigned)n : 1;
	}
	size = sizeof(*h) + shards * sizeof(h->shard[0]);
	if (!(h = aligned_alloc(64, (size + 63) & ~(size_t)63)))
		return NULL;
	memset(h, 0, size);
	h->shards = shards;
	return h;
}

void amutex_hist_sharded_free(amutex_hist_sharded_t *h)
{
	free(h);
}

void amutex_hist_sharded_record(amutex_hist_sharded_t *h, uint64_t ns)
{
	if (my_shard == ~0u)
		my_shard = __atomic_fetch_add(&next_shard, 1, __ATOMIC_RELAXED);
	amutex_hist_record(&h->shard[my_shard % h->shards].h, ns);
}

void amutex_hist_sharded_read(const amutex_hist_sharded_t *h, amutex_hist_t *out)
{
	amutex_hist_init(out);
	for (unsigned i = 0; i < h->shards; i++)
		amutex_hist_merge(out, &h->shard[i].h);
}
