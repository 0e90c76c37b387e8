// The public headers compile as C++ and the inline fast paths link from it.
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
