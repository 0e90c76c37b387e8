/* Adapter: glibc's PTHREAD_MUTEX_ADAPTIVE_NP (spins, then sleeps). */
#include <pthread.h>
static int adaptive_a_init(void *l)
{
	pthread_mutexattr_t a;
	int r;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
	r = pthread_mutex_init(l, &a);
	pthread_mutexattr_destroy(&a);
	return r;
}
static const struct bench_lock lock_adaptive = { "adaptive", sizeof(pthread_mutex_t),
	adaptive_a_init, pthread_a_lock, pthread_a_unlock, pthread_a_destroy };
