/*
 * The clock that times waits (lib/base/clock.c): where the time-stamp
 * counter is a clock it takes over after calibration, and it then agrees
 * with CLOCK_MONOTONIC on durations; elsewhere it is CLOCK_MONOTONIC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>

#include "base/base.h"
#include "support.h"

static void test_wait_clock_agrees_with_the_monotonic_clock(void **state)
{
	uint64_t a, b, ma, mb;
	double ratio;

	(void)state;
	nap_ms(15);
	(void)amutex__clock_ns();	/* calibrates, where the counter is a clock */
	printf("clock: %s\n", amutex__tsc.state == AMUTEX_TSC_READY ? "time-stamp counter" :
	       "CLOCK_MONOTONIC");
	/* A preemption between two readings skews one try: the best of five. */
	for (int i = 0; i < 5; i++) {
		ma = now_ns();
		a = amutex__clock_ns();
		nap_ms(50);
		b = amutex__clock_ns();
		mb = now_ns();
		assert_true(b > a);
		ratio = (double)(b - a) / (double)(mb - ma);
		printf("clock: 50 ms nap: %.4f of CLOCK_MONOTONIC's duration\n", ratio);
		if (ratio > 0.99 && ratio < 1.01)
			break;
	}
	assert_true(ratio > 0.99 && ratio < 1.01);
	/* Never behind CLOCK_MONOTONIC by more than the calibration error. */
	assert_true(amutex__clock_ns() + 1000000 > now_ns());
}

static void test_wait_clock_never_goes_back_in_one_thread(void **state)
{
	uint64_t last = amutex__clock_ns();

	(void)state;
	for (int i = 0; i < 1000000; i++) {
		uint64_t t = amutex__clock_ns();

		assert_true(t >= last);
		last = t;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wait_clock_agrees_with_the_monotonic_clock),
		cmocka_unit_test(test_wait_clock_never_goes_back_in_one_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
