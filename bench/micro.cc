// google-benchmark micro-benchmarks: an uncontended lock+unlock pair and a
// contended pair by thread count, amutex beside glibc's pthread mutex.
#include <amutex.h>
#include <amutex/stats.h>
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <unistd.h>

#include <thread>
#include <time.h>

#include "base/base.h"	// the wait clock (lib/base/clock.c)

namespace {

// glibc drops atomics from pthread_mutex_* while a process has one thread
// (__libc_single_threaded); servers have many. A parked thread, started
// before any benchmark, makes this a multi-threaded process like theirs.
const bool multithreaded = [] {
	std::thread([] { for (;;) pause(); }).detach();
	return true;
}();

amutex_t g_amutex = AMUTEX_INITIALIZER;
pthread_mutex_t g_pthread = PTHREAD_MUTEX_INITIALIZER;
long g_counter;

void BM_amutex_pair(benchmark::State &state)
{
	for (auto _ : state) {
		amutex_lock(&g_amutex);
		benchmark::DoNotOptimize(++g_counter);
		amutex_unlock(&g_amutex);
	}
	state.counters["pairs"] = benchmark::Counter(
		static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_pthread_pair(benchmark::State &state)
{
	for (auto _ : state) {
		pthread_mutex_lock(&g_pthread);
		benchmark::DoNotOptimize(++g_counter);
		pthread_mutex_unlock(&g_pthread);
	}
	state.counters["pairs"] = benchmark::Counter(
		static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

amutex_hist_t g_hist;

// The cost of recording one wait: what a contended acquisition of a lock
// with statistics pays for its histogram.
void BM_hist_record(benchmark::State &state)
{
	uint64_t v = 12345;

	for (auto _ : state) {
		amutex_hist_record(&g_hist, v);
		v = v * 6364136223846793005ull + 1442695040888963407ull;
		v >>= 40;	// spread over 1 ns .. 16 ms
	}
}

// The same for a histogram written by one thread at a time: what a lock's
// wait histogram costs its new holder.
void BM_hist_record_excl(benchmark::State &state)
{
	uint64_t v = 12345;

	for (auto _ : state) {
		amutex_hist_record_excl(&g_hist, v);
		v = v * 6364136223846793005ull + 1442695040888963407ull;
		v >>= 40;
	}
}

amutex_t g_observed;

// An uncontended pair on a named lock: statistics on.
void BM_amutex_stats_pair(benchmark::State &state)
{
	for (auto _ : state) {
		amutex_lock(&g_observed);
		benchmark::DoNotOptimize(++g_counter);
		amutex_unlock(&g_observed);
	}
	state.counters["pairs"] = benchmark::Counter(
		static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

const bool observed_ready = [] {
	amutex_attr_t a;

	amutex_attr_init(&a);
	amutex_attr_setname(&a, "micro");
	return amutex_init(&g_observed, &a) == 0;
}();

}  // namespace

// The clock a contended acquisition of an observed mutex reads twice.
void BM_clock_gettime(benchmark::State &state)
{
	struct timespec ts;

	for (auto _ : state) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		benchmark::DoNotOptimize(ts);
	}
}

void BM_wait_clock(benchmark::State &state)
{
	struct timespec d = { 0, 20000000 };

	nanosleep(&d, nullptr);		// past its calibration
	(void)amutex__clock_ns();
	state.SetLabel(amutex__tsc.state == AMUTEX_TSC_READY ? "tsc" : "clock_gettime");
	for (auto _ : state)
		benchmark::DoNotOptimize(amutex__clock_ns());
}

BENCHMARK(BM_clock_gettime);
BENCHMARK(BM_wait_clock);
BENCHMARK(BM_hist_record);
BENCHMARK(BM_hist_record_excl);
BENCHMARK(BM_amutex_stats_pair);

BENCHMARK(BM_amutex_pair);
BENCHMARK(BM_pthread_pair);
BENCHMARK(BM_amutex_pair)->ThreadRange(2, 16)->UseRealTime();
BENCHMARK(BM_pthread_pair)->ThreadRange(2, 16)->UseRealTime();
