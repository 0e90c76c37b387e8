// The public headers compile as C++ and the inline fast paths (the mutex's,
// the rwlock's) link from it,
// also after <sys/rseq.h>, whose __rseq_offset the header reads under a name
// of its own (a second declaration would conflict in C++).
#if defined(__has_include)
#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#endif
#endif
#include <amutex.h>
#include <amutex/stats.h>
#include <amutex/group.h>
#include <amutex/rwlock.h>

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
	static amutex_rwlock_t rw = AMUTEX_RWLOCK_INITIALIZER;
	static long seen[2];
	auto rwork = [](int k) {
		for (int i = 0; i < 100000; i++) {
			if (i % 16 == 0) {
				amutex_rwlock_wrlock(&rw);
				counter++;
				amutex_rwlock_wrunlock(&rw);
			} else {
				amutex_rwlock_rdlock(&rw);
				seen[k] += counter != 0;	/* each thread its own: readers run together */
				amutex_rwlock_rdunlock(&rw);
			}
		}
	};
	std::thread a(work), b(work);

	a.join();
	b.join();
	std::thread c(rwork, 0), d(rwork, 1);
	c.join();
	d.join();
	if (counter != 200000 + 2 * 6250 || amutex_trylock(&m) != 0 || amutex_unlock(&m) != 0 ||
	    amutex_rwlock_tryrdlock(&rw) != 0 || amutex_rwlock_rdunlock(&rw) != 0) {
		std::printf("1 passed, 1 failed\n");
		return 1;
	}
	std::printf("1 passed, 0 failed\n");
	return 0;
}
