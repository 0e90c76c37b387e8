// The public headers compile as C++ and the inline fast paths link from it,
// also after <sys/rseq.h>, whose __rseq_offset the header reads under a name
// of its own (a second declaration would conflict in C++).
#if defined(__has_include)
#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#endif
#endif
#include <amutex.h>
#include <amutex/stats.h>

#include <cstdio>
#include <thread>

int main()
{
	static amutex_t m = AMUTEX_INITIALIZER;
	static long counter;
	auto work = [] {
		for (int i = 0; i < 100000; i++) {
			amutex_lock(&m);
			counter++;
			amutex_unlock(&m);
		}
	};
	std::thread a(work), b(work);

	a.join();
	b.join();
	if (counter != 200000 || amutex_trylock(&m) != 0 || amutex_unlock(&m) != 0) {
		std::printf("1 passed, 1 failed\n");
		return 1;
	}
	std::printf("1 passed, 0 failed\n");
	return 0;
}
