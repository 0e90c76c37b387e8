/*
 * The striped group: the key-to-stripe map (every stripe reached, no bias
 * beyond chance), lock-many (one order, each stripe once, no deadlock under
 * overlapping sets), exact per-stripe counters, static and heap groups,
 * allocation failure, the hot-key sample, and the EINVAL cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <amutex/group.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group/group.h"
#include "support.h"

static amutex_group_t *make(uint64_t n, int layout, int stats, const char *name)
{
	amutex_group_opts_t o;
	amutex_group_t *g = NULL;

	assert_int_equal(amutex_group_opts_init(&o), 0);
	assert_int_equal(amutex_group_opts_setstripes(&o, n), 0);
	assert_int_equal(amutex_group_opts_setlayout(&o, layout), 0);
	assert_int_equal(amutex_group_opts_setstats(&o, stats), 0);
	if (name)
		assert_int_equal(amutex_group_opts_setname(&o, name), 0);
	assert_int_equal(amutex_group_create(&g, &o), 0);
	return g;
}

/*
 * Pearson's chi-square of counts against a uniform expectation is within
 * six standard deviations above its mean (df = n - 1, variance 2 df): a
 * false alarm about once in 10^9 runs.
 */
static int chi_square_ok(const uint32_t *count, uint32_t n, uint64_t keys)
{
	double expect = (double)keys / n, chi = 0, df = n - 1;

	for (uint32_t i = 0; i < n; i++)
		chi += ((double)count[i] - expect) * ((double)count[i] - expect) / expect;
	return chi <= df || (chi - df) * (chi - df) < 36 * 2 * df;
}

/*
 * Sequential small integers, the weakest keys for a multiply-high reduction
 * without mixing (they would all land on stripe 0): 16 per stripe.
 */
static void check_u64_map(uint32_t n)
{
	uint64_t keys = 16ull * n;
	uint32_t *count = calloc(n, sizeof(*count)), empty = 0;

	assert_non_null(count);
	for (uint64_t k = 0; k < keys; k++) {
		uint32_t i = amutex_group_index_u64(k, n);

		assert_true(i < n);
		count[i]++;
	}
	for (uint32_t i = 0; i < n; i++)
		empty += count[i] == 0;
	/* 16 expected per stripe: P(empty) = e^-16, 1e-7 per stripe. */
	assert_int_equal(empty, 0);
	assert_true(chi_square_ok(count, n, keys));
	free(count);
}

static void test_u64_map_covers_every_stripe_without_bias(void **state)
{
	(void)state;
	check_u64_map(1);
	check_u64_map(2000);
	check_u64_map(1000003);		/* a prime */
	check_u64_map(1u << 20);
}

/* Aligned addresses, 64 bytes apart: their low six bits never change. */
static void test_pointer_and_bytes_maps_cover_every_stripe_without_bias(void **state)
{
	amutex_group_t *g = make(2000, AMUTEX_GROUP_PADDED, 0, NULL);
	uint32_t count[2000] = { 0 }, bytes_count[2000] = { 0 };
	uint64_t keys = 32000;
	char key[32];

	(void)state;
	for (uint64_t k = 0; k < keys; k++) {
		count[amutex_group_stripe_of_ptr(g, (const void *)(uintptr_t)(0x7f0000000000ull + 64 * k))]++;
		snprintf(key, sizeof(key), "room-%llu", (unsigned long long)k);
		bytes_count[amutex_group_stripe_of_bytes(g, key, strlen(key))]++;
	}
	for (int i = 0; i < 2000; i++) {
		assert_true(count[i] > 0);
		assert_true(bytes_count[i] > 0);
	}
	assert_true(chi_square_ok(count, 2000, keys));
	assert_true(chi_square_ok(bytes_count, 2000, keys));
	assert_int_equal(amutex_group_destroy(g), 0);
}

/*
 * Fastrange's bound, exactly: stripe i receives the hash values from
 * ceil(i 2^64 / n) on, so each stripe's run is floor or ceil of 2^64/n.
 */
static void test_reduction_splits_hashes_into_runs_of_floor_or_ceil(void **state)
{
	const uint32_t ns[] = { 3, 2000, 1000003, 1u << 20 };

	(void)state;
	for (unsigned t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
		uint32_t n = ns[t];
		amutex__u128 two64 = (amutex__u128)1 << 64;
		uint64_t run_min = (uint64_t)(two64 / n), prev = 0;

		assert_int_equal(amutex__group_reduce(0, n), 0);
		assert_int_equal(amutex__group_reduce(UINT64_MAX, n), n - 1);
		for (uint32_t i = 1; i < n; i += n / 97 + 1) {
			uint64_t lo = (uint64_t)(((amutex__u128)i * two64 + n - 1) / n);

			assert_int_equal(amutex__group_reduce(lo, n), i);
			assert_int_equal(amutex__group_reduce(lo - 1, n), i - 1);
			if (prev && i == prev + 1) {
				uint64_t run = lo - (uint64_t)(((amutex__u128)prev * two64 + n - 1) / n);

				assert_true(run == run_min || run == run_min + 1);
			}
			prev = i;
		}
	}
}

static void test_by_key_calls_lock_the_keys_stripe(void **state)
{
	amutex_group_t *g = make(64, AMUTEX_GROUP_PADDED, 0, NULL);
	static int object;
	const char *name = "room-7";
	struct timespec past = { 0, 0 };
	amutex_t *s;

	(void)state;
	errno = 4242;
	assert_int_equal(amutex_group_lock_u64(g, 12345), 0);
	s = amutex_group_stripe(g, amutex_group_stripe_of_u64(g, 12345));
	assert_int_equal(amutex_trylock(s), EBUSY);
	assert_int_equal(amutex_group_trylock_u64(g, 12345), EBUSY);
	assert_int_equal(amutex_group_timedlock_u64(g, 12345, &past), ETIMEDOUT);
	assert_int_equal(amutex_group_unlock_u64(g, 12345), 0);
	assert_int_equal(amutex_group_unlock_u64(g, 12345), EPERM);

	assert_int_equal(amutex_group_lock_ptr(g, &object), 0);
	s = amutex_group_stripe(g, amutex_group_stripe_of_ptr(g, &object));
	assert_int_equal(amutex_trylock(s), EBUSY);
	assert_int_equal(amutex_group_timedlock_ptr(g, &object, &past), ETIMEDOUT);
	assert_int_equal(amutex_group_unlock_ptr(g, &object), 0);
	assert_int_equal(amutex_group_trylock_ptr(g, &object), 0);
	assert_int_equal(amutex_group_unlock_ptr(g, &object), 0);

	assert_int_equal(amutex_group_lock_bytes(g, name, strlen(name)), 0);
	s = amutex_group_stripe(g, amutex_group_stripe_of_bytes(g, name, strlen(name)));
	assert_int_equal(amutex_trylock(s), EBUSY);
	assert_int_equal(amutex_group_trylock_bytes(g, name, strlen(name)), EBUSY);
	assert_int_equal(amutex_group_timedlock_bytes(g, name, strlen(name), &past), ETIMEDOUT);
	assert_int_equal(amutex_group_unlock_bytes(g, name, strlen(name)), 0);
	assert_int_equal(errno, 4242);
	assert_int_equal(amutex_group_destroy(g), 0);
}

static void test_layouts_place_stripes_64_or_32_bytes_apart(void **state)
{
	amutex_group_t *padded = make(2000, AMUTEX_GROUP_PADDED, 0, NULL);
	amutex_group_t *packed = make(2000, AMUTEX_GROUP_PACKED, 0, NULL);

	(void)state;
	assert_int_equal(amutex_group_stripes(padded), 2000);
	assert_int_equal((char *)amutex_group_stripe(padded, 1) - (char *)amutex_group_stripe(padded, 0), 64);
	assert_int_equal((char *)amutex_group_stripe(packed, 1) - (char *)amutex_group_stripe(packed, 0), 32);
	assert_int_equal((uintptr_t)amutex_group_stripe(padded, 0) % 64, 0);
	assert_int_equal((uintptr_t)amutex_group_stripe(packed, 0) % 64, 0);
	assert_null(amutex_group_stripe(padded, 2000));
	assert_non_null(amutex_group_stripe(padded, 1999));
	assert_int_equal(amutex_group_destroy(padded), 0);
	assert_int_equal(amutex_group_destroy(packed), 0);
}

static void test_attr_applies_to_every_stripe(void **state)
{
	amutex_attr_t a;
	amutex_group_opts_t o;
	amutex_group_t *g;

	(void)state;
	amutex_attr_init(&a);
	assert_int_equal(amutex_attr_setstarvation(&a, 250000), 0);
	amutex_group_opts_init(&o);
	amutex_group_opts_setstripes(&o, 1000);
	assert_int_equal(amutex_group_opts_setattr(&o, &a), 0);
	assert_int_equal(amutex_group_create(&g, &o), 0);
	for (uint32_t i = 0; i < 1000; i++)
		assert_int_equal(amutex_group_stripe(g, i)->starve_ns, 250000);
	assert_int_equal(amutex_group_destroy(g), 0);
}

static _Alignas(64) unsigned char storage[AMUTEX_GROUP_STORAGE(2000, AMUTEX_GROUP_PACKED) + 64];

static void test_static_group_lives_in_the_callers_storage_without_allocating(void **state)
{
	amutex_group_opts_t o;
	amutex_group_t *g;
	size_t size;

	(void)state;
	amutex_group_opts_init(&o);
	amutex_group_opts_setstripes(&o, 2000);
	amutex_group_opts_setlayout(&o, AMUTEX_GROUP_PACKED);
	assert_int_equal(amutex_group_size(&o, &size), 0);
	assert_int_equal(size, AMUTEX_GROUP_STORAGE(2000, AMUTEX_GROUP_PACKED));
	assert_int_equal(amutex_group_init(&g, storage + 8, sizeof(storage) - 8, &o), EINVAL);
	assert_int_equal(amutex_group_init(&g, storage, size - 1, &o), EINVAL);
	/* Any allocation through the group's allocator would fail now. */
	amutex__group_fail_alloc(1);
	assert_int_equal(amutex_group_init(&g, storage, size, &o), 0);
	amutex__group_fail_alloc(0);
	assert_ptr_equal(g, (void *)storage);
	assert_true((unsigned char *)amutex_group_stripe(g, 1999) + 32 <= storage + size);
	assert_int_equal(amutex_group_lock_u64(g, 7), 0);
	assert_int_equal(amutex_group_destroy(g), EBUSY);
	assert_int_equal(amutex_group_unlock_u64(g, 7), 0);
	assert_int_equal(amutex_group_destroy(g), 0);
}

static void test_destroy_of_a_held_group_returns_ebusy_and_keeps_it(void **state)
{
	amutex_group_t *g = make(2000, AMUTEX_GROUP_PADDED, 1, "busy-group");
	uint32_t scratch[3];
	uint64_t keys[3] = { 1, 2, 3 };
	size_t locked;

	(void)state;
	assert_int_equal(amutex_group_lock_many_u64(g, keys, 3, scratch, &locked), 0);
	assert_int_equal(amutex_group_destroy(g), EBUSY);
	assert_int_equal(amutex_group_unlock_many(g, scratch, locked), 0);
	assert_int_equal(amutex_group_destroy(g), 0);
}

/* Every allocation of a named group with statistics fails in turn. */
static void test_allocation_failure_leaves_nothing_behind(void **state)
{
	amutex_group_opts_t o;
	amutex_group_t *g = NULL;
	size_t before = amutex_registry_size();

	(void)state;
	amutex_group_opts_init(&o);
	amutex_group_opts_setstripes(&o, 2000);
	amutex_group_opts_setlayout(&o, AMUTEX_GROUP_PACKED);	/* fits storage */
	amutex_group_opts_setname(&o, "never-made");
	for (unsigned nth = 1; nth <= 3; nth++) {
		amutex__group_fail_alloc(nth);
		assert_int_equal(amutex_group_create(&g, &o), ENOMEM);
		amutex__group_fail_alloc(0);
		assert_null(g);
		assert_int_equal(amutex_registry_size(), before);
	}
	/* And static storage with statistics: only the statistics can fail. */
	for (unsigned nth = 1; nth <= 2; nth++) {
		amutex__group_fail_alloc(nth);
		assert_int_equal(amutex_group_init(&g, storage, sizeof(storage), &o), ENOMEM);
		amutex__group_fail_alloc(0);
		assert_int_equal(amutex_registry_size(), before);
	}
	/* The same options succeed when nothing fails (the leak check covers the rest). */
	assert_int_equal(amutex_group_create(&g, &o), 0);
	assert_int_equal(amutex_registry_size(), before + 1);
	assert_int_equal(amutex_group_destroy(g), 0);
	assert_int_equal(amutex_registry_size(), before);
}

static void test_invalid_options_and_arguments_return_einval(void **state)
{
	amutex_group_opts_t o, stale;
	amutex_attr_t named, plain;
	amutex_group_t *g = NULL;
	size_t locked, size;
	uint64_t key = 1;
	long name[AMUTEX_NAME_MAX / sizeof(long) + 2];

	(void)state;
	amutex_group_opts_init(&o);
	assert_int_equal(amutex_group_create(&g, &o), EINVAL);	/* no count */
	assert_int_equal(amutex_group_size(&o, &size), EINVAL);
	assert_int_equal(amutex_group_opts_setstripes(&o, 0), EINVAL);
	assert_int_equal(amutex_group_opts_setstripes(&o, AMUTEX_GROUP_STRIPES_MAX + 1ull), EINVAL);
	assert_int_equal(amutex_group_opts_setstripes(&o, AMUTEX_GROUP_STRIPES_MAX), 0);
	assert_int_equal(amutex_group_opts_setstripes(&o, 2000), 0);
	assert_int_equal(amutex_group_opts_setlayout(&o, 2), EINVAL);
	assert_int_equal(amutex_group_opts_setlayout(&o, -1), EINVAL);
	assert_int_equal(amutex_group_opts_setstats(&o, 2), EINVAL);
	assert_int_equal(amutex_group_opts_setname(&o, ""), EINVAL);
	memset(name, 'x', sizeof(name));
	((char *)name)[AMUTEX_NAME_MAX + 1] = '\0';
	assert_int_equal(amutex_group_opts_setname(&o, (char *)name), EINVAL);
	amutex_attr_init(&named);
	amutex_attr_setname(&named, "per-stripe");
	assert_int_equal(amutex_group_opts_setattr(&o, &named), EINVAL);
	memset(&plain, 0, sizeof(plain));	/* never initialized */
	assert_int_equal(amutex_group_opts_setattr(&o, &plain), EINVAL);
	memset(&stale, 0, sizeof(stale));	/* never initialized */
	stale.stripes = 10;
	assert_int_equal(amutex_group_create(&g, &stale), EINVAL);
	assert_int_equal(amutex_group_opts_setstripes(&stale, 10), EINVAL);
	o.layout = 9;	/* changed behind the setter's back */
	assert_int_equal(amutex_group_create(&g, &o), EINVAL);
	assert_null(g);
	assert_int_equal(amutex_group_destroy(NULL), EINVAL);

	g = make(16, AMUTEX_GROUP_PADDED, 0, NULL);
	assert_int_equal(amutex_group_lock_many_u64(g, &key, 1, NULL, &locked), EINVAL);
	assert_int_equal(amutex_group_lock_many_u64(g, &key, 1, (uint32_t *)&size, NULL), EINVAL);
	{
		struct amutex_group_stripe_stats ss;
		struct amutex_group_totals t;
		uint64_t cursor = 0;

		assert_int_equal(amutex_group_stripe_stats(g, 0, &ss), ENOTSUP);
		assert_int_equal(amutex_group_totals(g, &t, NULL), ENOTSUP);
		assert_int_equal(amutex_group_write_keys(g, stderr, 0, &cursor), ENOTSUP);
	}
	assert_int_equal(amutex_group_destroy(g), 0);
}

static void test_lock_many_takes_each_stripe_once_in_ascending_order(void **state)
{
	amutex_group_t *g = make(8, AMUTEX_GROUP_PACKED, 0, NULL);
	uint64_t keys[40];
	uint32_t scratch[40];
	size_t locked;

	(void)state;
	for (int i = 0; i < 40; i++)
		keys[i] = (uint64_t)(i * 7919) % 23;	/* repeats, and shared stripes */
	assert_int_equal(amutex_group_lock_many_u64(g, keys, 40, scratch, &locked), 0);
	assert_true(locked >= 1 && locked <= 8);
	for (size_t i = 0; i < locked; i++) {
		assert_int_equal(amutex_trylock(amutex_group_stripe(g, scratch[i])), EBUSY);
		if (i)
			assert_true(scratch[i - 1] < scratch[i]);
	}
	for (int i = 0; i < 40; i++) {
		int found = 0;

		for (size_t j = 0; j < locked; j++)
			found |= scratch[j] == amutex_group_stripe_of_u64(g, keys[i]);
		assert_true(found);
	}
	assert_int_equal(amutex_group_unlock_many(g, scratch, locked), 0);
	for (uint32_t i = 0; i < 8; i++)
		assert_int_equal(amutex_group_stripe(g, i)->state, 0);
	assert_int_equal(amutex_group_unlock_many(g, scratch, locked), EPERM);
	assert_int_equal(amutex_group_destroy(g), 0);
}

static void test_lock_many_with_one_key_duplicates_or_none(void **state)
{
	amutex_group_t *g = make(2000, AMUTEX_GROUP_PADDED, 0, NULL);
	uint64_t same[3] = { 99, 99, 99 };
	const void *ptrs[2] = { &same[0], &same[0] };
	uint32_t scratch[3], stripes[2] = { 1999, 5 };
	size_t locked = 77;

	(void)state;
	assert_int_equal(amutex_group_lock_many_u64(g, NULL, 0, NULL, &locked), 0);
	assert_int_equal(locked, 0);
	assert_int_equal(amutex_group_unlock_many(g, NULL, 0), 0);

	assert_int_equal(amutex_group_lock_many_u64(g, same, 1, scratch, &locked), 0);
	assert_int_equal(locked, 1);
	assert_int_equal(scratch[0], amutex_group_stripe_of_u64(g, 99));
	assert_int_equal(amutex_group_unlock_many(g, scratch, locked), 0);

	assert_int_equal(amutex_group_lock_many_u64(g, same, 3, scratch, &locked), 0);
	assert_int_equal(locked, 1);
	assert_int_equal(amutex_group_trylock_u64(g, 99), EBUSY);
	assert_int_equal(amutex_group_unlock_many(g, scratch, locked), 0);
	assert_int_equal(amutex_group_trylock_u64(g, 99), 0);
	assert_int_equal(amutex_group_unlock_u64(g, 99), 0);

	assert_int_equal(amutex_group_lock_many_ptr(g, ptrs, 2, scratch, &locked), 0);
	assert_int_equal(locked, 1);
	assert_int_equal(amutex_group_unlock_many(g, scratch, locked), 0);

	assert_int_equal(amutex_group_lock_stripes(g, stripes, 2, &locked), 0);
	assert_int_equal(locked, 2);
	assert_int_equal(stripes[0], 5);
	assert_int_equal(stripes[1], 1999);
	assert_int_equal(amutex_group_unlock_many(g, stripes, locked), 0);

	stripes[0] = 2000;	/* past the end: nothing is locked */
	stripes[1] = 3;
	assert_int_equal(amutex_group_lock_stripes(g, stripes, 2, &locked), EINVAL);
	assert_int_equal(amutex_group_stripe(g, 3)->state, 0);
	assert_int_equal(amutex_group_destroy(g), 0);
}

/*
 * Overlapping sets from many threads, with a watchdog: if no operation
 * completes for WATCHDOG_S seconds, it prints what every thread was locking
 * and each stripe's word, and fails the run.
 */
#define MANY_THREADS 8
#define MANY_OPS 6000
#define MANY_KEYS 48
#define MAX_SET 6
#define WATCHDOG_S 10

struct many_shared {
	amutex_group_t *g;
	uint64_t counter[MANY_KEYS];	/* key k's, protected by k's stripe; plain */
	uint64_t progress, expected[MANY_THREADS];
	int done;
	uint64_t current[MANY_THREADS][MAX_SET];
	int current_n[MANY_THREADS];
};

struct many_worker { struct many_shared *s; int id; };

static void *many_worker(void *arg)
{
	struct many_worker *w = arg;
	struct many_shared *s = w->s;
	uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(w->id + 1);
	uint64_t keys[MAX_SET];
	uint32_t scratch[MAX_SET];

	for (int op = 0; op < MANY_OPS; op++) {
		size_t n, locked;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		n = 1 + x % MAX_SET;
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			keys[i] = x % MANY_KEYS;
			__atomic_store_n(&s->current[w->id][i], keys[i], __ATOMIC_RELAXED);
		}
		__atomic_store_n(&s->current_n[w->id], (int)n, __ATOMIC_RELAXED);
		if (n == 1 && (x & 1)) {	/* a single key may use the by-key call */
			assert_int_equal(amutex_group_lock_u64(s->g, keys[0]), 0);
			s->counter[keys[0]]++;
			assert_int_equal(amutex_group_unlock_u64(s->g, keys[0]), 0);
		} else {
			assert_int_equal(amutex_group_lock_many_u64(s->g, keys, n, scratch, &locked), 0);
			for (size_t i = 0; i < n; i++)
				s->counter[keys[i]]++;
			assert_int_equal(amutex_group_unlock_many(s->g, scratch, locked), 0);
		}
		s->expected[w->id] += n;
		__atomic_store_n(&s->current_n[w->id], 0, __ATOMIC_RELAXED);
		__atomic_add_fetch(&s->progress, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *watchdog(void *arg)
{
	struct many_shared *s = arg;
	uint64_t last = 0, since = now_ns();

	while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE)) {
		uint64_t p = __atomic_load_n(&s->progress, __ATOMIC_RELAXED);

		if (p != last) {
			last = p;
			since = now_ns();
		} else if (now_ns() - since > WATCHDOG_S * 1000000000ull) {
			fprintf(stderr, "watchdog: no operation completed for %d s after %llu; "
				"deadlock?\n", WATCHDOG_S, (unsigned long long)p);
			for (int t = 0; t < MANY_THREADS; t++) {
				int n = __atomic_load_n(&s->current_n[t], __ATOMIC_RELAXED);

				fprintf(stderr, "  thread %d locking", t);
				for (int i = 0; i < n; i++) {
					uint64_t k = __atomic_load_n(&s->current[t][i], __ATOMIC_RELAXED);

					fprintf(stderr, " %llu(stripe %u)", (unsigned long long)k,
						amutex_group_stripe_of_u64(s->g, k));
				}
				fputc('\n', stderr);
			}
			for (uint32_t i = 0; i < amutex_group_stripes(s->g); i++)
				fprintf(stderr, "  stripe %u state 0x%x\n", i, __atomic_load_n(
					&amutex_group_stripe(s->g, i)->state, __ATOMIC_RELAXED));
			abort();	/* the test fails; the main thread is stuck in a join */
		}
		nap_ms(100);
	}
	return NULL;
}

static void run_many(amutex_group_t *g)
{
	static struct many_shared s;
	struct many_worker w[MANY_THREADS];
	pthread_t t[MANY_THREADS], dog;
	uint64_t total = 0, expected = 0;

	memset(&s, 0, sizeof(s));
	s.g = g;
	pthread_create(&dog, NULL, watchdog, &s);
	for (int i = 0; i < MANY_THREADS; i++) {
		w[i].s = &s;
		w[i].id = i;
		pthread_create(&t[i], NULL, many_worker, &w[i]);
	}
	for (int i = 0; i < MANY_THREADS; i++) {
		pthread_join(t[i], NULL);
		expected += s.expected[i];
	}
	__atomic_store_n(&s.done, 1, __ATOMIC_RELEASE);
	pthread_join(dog, NULL);
	for (int k = 0; k < MANY_KEYS; k++)
		total += s.counter[k];
	assert_int_equal(total, expected);
	assert_int_equal(s.progress, MANY_THREADS * MANY_OPS);
	for (uint32_t i = 0; i < amutex_group_stripes(g); i++)
		assert_int_equal(amutex_group_stripe(g, i)->state, 0);
}

static void test_lock_many_on_overlapping_sets_never_deadlocks(void **state)
{
	amutex_group_t *g = make(13, AMUTEX_GROUP_PADDED, 0, NULL);

	(void)state;
	run_many(g);
	assert_int_equal(amutex_group_destroy(g), 0);
}

static void test_lock_many_with_statistics_never_deadlocks(void **state)
{
	amutex_group_t *g = make(13, AMUTEX_GROUP_PACKED, 1, NULL);

	(void)state;
	run_many(g);
	assert_int_equal(amutex_group_destroy(g), 0);
}

/* Each thread tallies its own acquisitions per stripe; the group's counters must agree. */
#define COUNT_THREADS 4
#define COUNT_OPS 40000
#define COUNT_STRIPES 16

struct count_worker {
	amutex_group_t *g;
	int id;
	uint64_t mine[COUNT_STRIPES];
};

static void *count_worker(void *arg)
{
	struct count_worker *w = arg;
	uint64_t x = 88172645463325252ull + (uint64_t)w->id;
	struct timespec later;

	for (int i = 0; i < COUNT_OPS; i++) {
		uint64_t key;
		int r;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		key = x % 1000;
		switch (x >> 60 & 3) {
		case 0:
			r = amutex_group_trylock_u64(w->g, key);
			break;
		case 1:
			later = deadline_ns(CLOCK_MONOTONIC, 50000000);
			r = amutex_group_timedlock_u64(w->g, key, &later);
			break;
		default:
			r = amutex_group_lock_u64(w->g, key);
		}
		if (r == EBUSY || r == ETIMEDOUT)
			continue;
		assert_int_equal(r, 0);
		w->mine[amutex_group_stripe_of_u64(w->g, key)]++;
		assert_int_equal(amutex_group_unlock_u64(w->g, key), 0);
	}
	return NULL;
}

static void test_stripe_counters_are_exact_under_stress(void **state)
{
	amutex_group_t *g = make(COUNT_STRIPES, AMUTEX_GROUP_PACKED, 1, NULL);
	struct count_worker w[COUNT_THREADS];
	pthread_t t[COUNT_THREADS];
	struct amutex_group_totals tot;
	amutex_hist_t wait;
	uint64_t acquired = 0, contended = 0;

	(void)state;
	memset(w, 0, sizeof(w));
	for (int i = 0; i < COUNT_THREADS; i++) {
		w[i].g = g;
		w[i].id = i;
		pthread_create(&t[i], NULL, count_worker, &w[i]);
	}
	for (int i = 0; i < COUNT_THREADS; i++)
		pthread_join(t[i], NULL);
	for (uint32_t s = 0; s < COUNT_STRIPES; s++) {
		struct amutex_group_stripe_stats ss;
		uint64_t mine = 0;

		for (int i = 0; i < COUNT_THREADS; i++)
			mine += w[i].mine[s];
		assert_int_equal(amutex_group_stripe_stats(g, s, &ss), 0);
		assert_int_equal(ss.acquired, mine);
		assert_true(ss.contended <= ss.acquired);
		acquired += ss.acquired;
		contended += ss.contended;
	}
	assert_int_equal(amutex_group_totals(g, &tot, &wait), 0);
	assert_int_equal(tot.acquired, acquired);
	assert_int_equal(tot.contended, contended);
	assert_int_equal(wait.count, contended);
	assert_true(contended == 0 || tot.skew >= 1.0);
	assert_int_equal(amutex_group_destroy(g), 0);
}

/*
 * A planted hot key: three threads lock it for 50 us three times in four,
 * another key of 1000 otherwise. The sample of waits must name it first.
 */
#define HOT_KEY 4242

struct hot_worker { amutex_group_t *g; int id; };

static void *hot_worker(void *arg)
{
	struct hot_worker *w = arg;
	uint64_t x = 0x2545f4914f6cdd1dull * (uint64_t)(w->id + 1);

	for (int i = 0; i < 400; i++) {
		uint64_t key;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		key = (x & 3) ? HOT_KEY : x % 1000;
		amutex_group_lock_u64(w->g, key);
		busy(50000);
		amutex_group_unlock_u64(w->g, key);
	}
	return NULL;
}

static char *export_string(enum amutex_format fmt)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(amutex_export(f, fmt), 0);
	fclose(f);
	return buf;
}

static void test_hot_key_sample_names_a_planted_hot_key(void **state)
{
	amutex_group_t *g = make(2000, AMUTEX_GROUP_PADDED, 1, "rooms");
	struct hot_worker w[3];
	pthread_t t[3];
	struct amutex_group_hot_key hot[4];
	size_t n = 0;
	char *text, line[64], *buf = NULL;
	size_t len = 0;
	uint64_t cursor = 0;
	FILE *f;
	int hot_lines = 0;

	(void)state;
	for (int i = 0; i < 3; i++) {
		w[i].g = g;
		w[i].id = i;
		pthread_create(&t[i], NULL, hot_worker, &w[i]);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(amutex_group_hot_keys(g, hot, 4, &n), 0);
	assert_true(n >= 1);
	assert_int_equal(hot[0].kind, AMUTEX_GROUP_KEY_U64);
	assert_int_equal(hot[0].key, HOT_KEY);
	assert_int_equal(hot[0].stripe, amutex_group_stripe_of_u64(g, HOT_KEY));
	assert_true(hot[0].wait_share > 0.5);

	/* The trace of waits: one key per line, mostly the hot one. */
	f = open_memstream(&buf, &len);
	assert_int_equal(amutex_group_write_keys(g, f, AMUTEX_GROUP_TRACE_WAITS, &cursor), 0);
	fclose(f);
	assert_true(cursor > 0);
	f = fmemopen(buf, len, "r");
	while (fgets(line, sizeof(line), f))
		hot_lines += strcmp(line, "4242\n") == 0;
	fclose(f);
	assert_true(hot_lines > 0);
	free(buf);

	text = export_string(AMUTEX_FORMAT_TABLE);
	assert_non_null(strstr(text, "hot keys"));
	assert_non_null(strstr(text, "key 4242 took"));
	free(text);
	text = export_string(AMUTEX_FORMAT_JSON);
	assert_non_null(strstr(text, "\"name\": \"rooms\""));
	assert_non_null(strstr(text, "\"key\": \"4242\""));
	assert_non_null(strstr(text, "\"top_stripes\": [{"));
	free(text);
	text = export_string(AMUTEX_FORMAT_PROMETHEUS);
	assert_non_null(strstr(text, "amutex_group_stripes{lock=\"rooms\"} 2000\n"));
	assert_non_null(strstr(text, "amutex_group_hot_key_wait_share{lock=\"rooms\",key=\"4242\"}"));
	assert_non_null(strstr(text, "amutex_acquisitions_total{lock=\"rooms\",path=\"sleep\"}"));
	free(text);
	assert_int_equal(amutex_group_destroy(g), 0);
}

/* The acquisitions sample takes every 64th acquisition of a stripe. */
static void test_acquisitions_sample_takes_every_64th_per_stripe(void **state)
{
	amutex_group_t *g = make(4, AMUTEX_GROUP_PADDED, 1, NULL);
	char *buf = NULL, line[64];
	size_t len = 0, lines = 0;
	uint64_t cursor = 0;
	FILE *f;

	(void)state;
	for (int i = 0; i < 64 * 3; i++) {
		amutex_group_lock_ptr(g, (void *)(uintptr_t)0x1000);
		amutex_group_unlock_ptr(g, (void *)(uintptr_t)0x1000);
	}
	f = open_memstream(&buf, &len);
	assert_int_equal(amutex_group_write_keys(g, f, AMUTEX_GROUP_TRACE_ACQUIRED, &cursor), 0);
	/* A second call appends nothing new. */
	assert_int_equal(amutex_group_write_keys(g, f, AMUTEX_GROUP_TRACE_ACQUIRED, &cursor), 0);
	fclose(f);
	f = fmemopen(buf, len, "r");
	while (fgets(line, sizeof(line), f)) {
		assert_string_equal(line, "0x1000\n");
		lines++;
	}
	fclose(f);
	free(buf);
	assert_int_equal(lines, 3);
	assert_int_equal(cursor, 3);
	assert_int_equal(amutex_group_destroy(g), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64_map_covers_every_stripe_without_bias),
		cmocka_unit_test(test_pointer_and_bytes_maps_cover_every_stripe_without_bias),
		cmocka_unit_test(test_reduction_splits_hashes_into_runs_of_floor_or_ceil),
		cmocka_unit_test(test_by_key_calls_lock_the_keys_stripe),
		cmocka_unit_test(test_layouts_place_stripes_64_or_32_bytes_apart),
		cmocka_unit_test(test_attr_applies_to_every_stripe),
		cmocka_unit_test(test_static_group_lives_in_the_callers_storage_without_allocating),
		cmocka_unit_test(test_destroy_of_a_held_group_returns_ebusy_and_keeps_it),
		cmocka_unit_test(test_allocation_failure_leaves_nothing_behind),
		cmocka_unit_test(test_invalid_options_and_arguments_return_einval),
		cmocka_unit_test(test_lock_many_takes_each_stripe_once_in_ascending_order),
		cmocka_unit_test(test_lock_many_with_one_key_duplicates_or_none),
		cmocka_unit_test(test_lock_many_on_overlapping_sets_never_deadlocks),
		cmocka_unit_test(test_lock_many_with_statistics_never_deadlocks),
		cmocka_unit_test(test_stripe_counters_are_exact_under_stress),
		cmocka_unit_test(test_hot_key_sample_names_a_planted_hot_key),
		cmocka_unit_test(test_acquisitions_sample_takes_every_64th_per_stripe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
