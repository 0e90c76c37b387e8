// google-benchmark suite for the striped group: the by-key lock's cost
// beside a bare amutex pair and a bare padded array indexed by the same
// hash (uncontended), and uniform keys over stripes x threads x layout.
// Counters are rates, so --benchmark_format=json carries pairs per second.
#include <amutex.h>
#include <amutex/group.h>
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

namespace {

// glibc and amutex take their multi-threaded paths only once a process has
// a second thread; servers do (bench/micro.cc does the same).
const bool multithreaded = [] {
	std::thread([] { for (;;) pause(); }).detach();
	return true;
}();

struct alignas(64) padded_amutex {
	amutex_t m;
};

amutex_t g_one = AMUTEX_INITIALIZER;
long g_counter;
// Eight keys, so the hash is computed every time but every line stays in L1.
const uint64_t g_keys[8] = { 3, 1000003, 77, 123456789, 42, 9, 65536, 31337 };

amutex_group_t *make_group(uint32_t n, int layout)
{
	amutex_group_opts_t o;
	amutex_group_t *g;

	amutex_group_opts_init(&o);
	amutex_group_opts_setstripes(&o, n);
	amutex_group_opts_setlayout(&o, layout);
	if (amutex_group_create(&g, &o) != 0)
		std::abort();
	return g;
}

void rate(benchmark::State &state)
{
	state.counters["pairs"] = benchmark::Counter(
		static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// The floor: one amutex, lock + unlock.
void BM_amutex_pair(benchmark::State &state)
{
	for (auto _ : state) {
		amutex_lock(&g_one);
		benchmark::DoNotOptimize(++g_counter);
		amutex_unlock(&g_one);
	}
	rate(state);
}

// By u64 key on a group of 2000: mix, multiply-high, lock; the same to unlock.
void BM_group_u64_pair(benchmark::State &state)
{
	static amutex_group_t *g = make_group(2000, AMUTEX_GROUP_PADDED);
	unsigned i = 0;

	for (auto _ : state) {
		uint64_t key = g_keys[i++ & 7];

		benchmark::DoNotOptimize(key);
		amutex_group_lock_u64(g, key);
		benchmark::DoNotOptimize(++g_counter);
		amutex_group_unlock_u64(g, key);
	}
	rate(state);
}

// What a program would write by hand: a padded array, the same hash.
padded_amutex g_array[2000];

void BM_array_u64_pair(benchmark::State &state)
{
	unsigned i = 0;

	for (auto _ : state) {
		uint64_t key = g_keys[i++ & 7];

		benchmark::DoNotOptimize(key);
		amutex_t *m = &g_array[amutex_group_index_u64(key, 2000)].m;

		amutex_lock(m);
		benchmark::DoNotOptimize(++g_counter);
		amutex_unlock(m);
	}
	rate(state);
}

// Byte-string keys: XXH3 of 16 bytes, then the same.
void BM_group_bytes_pair(benchmark::State &state)
{
	static amutex_group_t *g = make_group(2000, AMUTEX_GROUP_PADDED);
	static const char key[] = "room-00000000042";

	for (auto _ : state) {
		amutex_group_lock_bytes(g, key, 16);
		benchmark::DoNotOptimize(++g_counter);
		amutex_group_unlock_bytes(g, key, 16);
	}
	rate(state);
}

// Uniform keys from T threads: Args = {stripes, layout}, a short critical section.
const int64_t kStripes[3] = { 1, 64, 2000 };

int stripe_slot(int64_t n)
{
	return n == 1 ? 0 : n == 64 ? 1 : 2;
}

// Made before any benchmark runs, so threads only read them.
amutex_group_t *const *g_uniform = [] {
	static amutex_group_t *g[2][3];

	for (int layout = 0; layout < 2; layout++)
		for (int i = 0; i < 3; i++)
			g[layout][i] = make_group(static_cast<uint32_t>(kStripes[i]), layout);
	return &g[0][0];
}();

void BM_group_uniform(benchmark::State &state)
{
	amutex_group_t *g = g_uniform[state.range(1) * 3 + stripe_slot(state.range(0))];
	uint64_t x = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(state.thread_index() + 1);

	for (auto _ : state) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		amutex_group_lock_u64(g, x);
		benchmark::DoNotOptimize(++g_counter);
		amutex_group_unlock_u64(g, x);
	}
	rate(state);
}

padded_amutex g_uniform_array[2000];

void BM_array_uniform(benchmark::State &state)
{
	uint32_t n = static_cast<uint32_t>(state.range(0));
	uint64_t x = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(state.thread_index() + 1);

	for (auto _ : state) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		amutex_t *m = &g_uniform_array[amutex_group_index_u64(x, n)].m;

		amutex_lock(m);
		benchmark::DoNotOptimize(++g_counter);
		amutex_unlock(m);
	}
	rate(state);
}

}  // namespace

BENCHMARK(BM_amutex_pair);
BENCHMARK(BM_group_u64_pair);
BENCHMARK(BM_array_u64_pair);
BENCHMARK(BM_group_bytes_pair);
BENCHMARK(BM_group_uniform)->ArgsProduct({{1, 64, 2000}, {AMUTEX_GROUP_PADDED, AMUTEX_GROUP_PACKED}})
	->ArgNames({"stripes", "packed"})->ThreadRange(1, 8)->UseRealTime();
BENCHMARK(BM_array_uniform)->ArgsProduct({{1, 64, 2000}})->ArgNames({"stripes"})
	->ThreadRange(1, 8)->UseRealTime();
