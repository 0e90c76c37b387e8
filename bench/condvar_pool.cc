// A C++ thread pool on std::mutex and std::condition_variable (which are
// pthread_mutex_t and pthread_cond_t in libstdc++): WORKERS threads take
// TASKS small tasks from a queue that the main thread fills in batches,
// waiting for each batch to be done. Prints the sum of the results (the
// same on every run); the caller times it.
//   condvar_pool [WORKERS] [TASKS]
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

int main(int argc, char **argv)
{
	int workers = argc > 1 ? std::atoi(argv[1]) : 4;
	long tasks = argc > 2 ? std::atol(argv[2]) : 200000;
	std::mutex m;
	std::condition_variable work, idle;
	std::deque<long> q;
	long pending = 0, sum = 0;
	bool stop = false;
	std::vector<std::thread> pool;

	for (int i = 0; i < workers; i++)
		pool.emplace_back([&] {
			std::unique_lock<std::mutex> l(m);
			for (;;) {
				work.wait(l, [&] { return stop || !q.empty(); });
				if (q.empty())
					return;
				long t = q.front();
				q.pop_front();
				l.unlock();
				long r = 0;
				for (long k = 0; k < 200; k++)
					r += (t * 2654435761L + k) % 7;
				l.lock();
				sum += r;
				if (--pending == 0)
					idle.notify_one();
			}
		});
	for (long done = 0; done < tasks; done += 64) {
		std::unique_lock<std::mutex> l(m);
		for (long t = done; t < done + 64 && t < tasks; t++) {
			q.push_back(t);
			pending++;
			work.notify_one();
		}
		idle.wait(l, [&] { return pending == 0; });
	}
	{
		std::lock_guard<std::mutex> l(m);
		stop = true;
	}
	work.notify_all();
	for (auto &t : pool)
		t.join();
	std::printf("sum %ld\n", sum);
	return 0;
}
