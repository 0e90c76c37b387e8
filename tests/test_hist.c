/* The log-linear histogram: geometry, accuracy, merge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <amutex/stats.h>
#include <stdlib.h>

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_small_values_are_exact(void **state)
{
	(void)state;
	for (uint64_t v = 0; v < 64; v++) {
		assert_int_equal(amutex_hist_index(v), v);
		assert_int_equal(amutex_hist_upper((unsigned)v), v);
	}
}

static void test_buckets_tile_the_range_without_gaps(void **state)
{
	(void)state;
	for (unsigned i = 1; i < AMUTEX_HIST_BUCKETS; i++) {
		uint64_t lo = amutex_hist_upper(i - 1) + 1;

		assert_int_equal(amutex_hist_index(lo), i);
		assert_int_equal(amutex_hist_index(amutex_hist_upper(i)), i);
		/* Width at most 1/32 of the bucket's lower bound. */
		assert_true((amutex_hist_upper(i) - lo + 1) * 32 <= (lo > 32 ? lo : 32));
	}
	assert_true(amutex_hist_upper(AMUTEX_HIST_BUCKETS - 1) >= 60ull * 1000000000);
	assert_int_equal(amutex_hist_index(UINT64_MAX), AMUTEX_HIST_BUCKETS - 1);
}

static void check_quantiles(uint64_t *v, size_t n)
{
	static amutex_hist_t h;
	static const double qs[] = { 0.5, 0.9, 0.99, 0.999 };

	amutex_hist_init(&h);
	for (size_t i = 0; i < n; i++)
		amutex_hist_record(&h, v[i]);
	qsort(v, n, sizeof(*v), cmp_u64);
	assert_int_equal(h.count, n);
	assert_int_equal(h.max_ns, v[n - 1]);
	for (unsigned i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		uint64_t exact = v[(size_t)(qs[i] * (double)n)];
		uint64_t got = amutex_hist_quantile(&h, qs[i]);
		double err = (double)(got > exact ? got - exact : exact - got) / (double)exact;

		assert_true(err <= 0.02);
	}
	assert_int_equal(amutex_hist_quantile(&h, 1.0), v[n - 1]);
}

static void test_quantiles_of_uniform_waits_within_two_percent(void **state)
{
	static uint64_t v[200000];
	unsigned seed = 7;

	(void)state;
	for (size_t i = 0; i < 200000; i++)
		v[i] = 1000 + (uint64_t)rand_r(&seed) % 10000000;
	check_quantiles(v, 200000);
}

static void test_quantiles_of_heavy_tailed_waits_within_two_percent(void **state)
{
	static uint64_t v[200000];
	unsigned seed = 11;

	(void)state;
	for (size_t i = 0; i < 200000; i++) {
		/* Pareto-like: most waits short, the longest up to 60 s. */
		double u = ((double)rand_r(&seed) + 1) / ((double)RAND_MAX + 2);
		double ns = 200.0 / (u * u);
		v[i] = ns > 60e9 ? 60000000000ull : (uint64_t)ns;
	}
	check_quantiles(v, 200000);
}

static void test_merge_adds_counts_and_keeps_max(void **state)
{
	static amutex_hist_t a, b;

	(void)state;
	amutex_hist_init(&a);
	amutex_hist_init(&b);
	amutex_hist_record(&a, 100);
	amutex_hist_record(&a, 5000);
	amutex_hist_record(&b, 70000);
	amutex_hist_merge(&a, &b);
	assert_int_equal(a.count, 3);
	assert_int_equal(a.sum_ns, 75100);
	assert_int_equal(a.max_ns, 70000);
	assert_int_equal(amutex_hist_quantile(&a, 0.0), 100);
}

static void test_empty_histogram_quantile_is_zero(void **state)
{
	static amutex_hist_t h;

	(void)state;
	amutex_hist_init(&h);
	assert_int_equal(amutex_hist_quantile(&h, 0.99), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_values_are_exact),
		cmocka_unit_test(test_buckets_tile_the_range_without_gaps),
		cmocka_unit_test(test_quantiles_of_uniform_waits_within_two_percent),
		cmocka_unit_test(test_quantiles_of_heavy_tailed_waits_within_two_percent),
		cmocka_unit_test(test_merge_adds_counts_and_keeps_max),
		cmocka_unit_test(test_empty_histogram_quantile_is_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
