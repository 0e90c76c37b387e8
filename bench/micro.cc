// google-benchmark micro-benchmarks: an uncontended lock+unlock pair and a
// contended pair by thread count, amutex beside glibc's pthread mutex.
#include <amutex.h>
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <unistd.h>

#include <thread>

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

}  // namespace

BENCHMARK(BM_amutex_pair);
BENCHMARK(BM_pthread_pair);
BENCHMARK(BM_amutex_pair)->ThreadRange(2, 16)->UseRealTime();
BENCHMARK(BM_pthread_pair)->ThreadRange(2, 16)->UseRealTime();
