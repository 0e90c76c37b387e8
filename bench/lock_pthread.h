/* Adapter: glibc's default pthread mutex (the baseline). */
#include <pthread.h>
static int pthread_a_init(void *l) { return pthread_mutex_init(l, NULL); }
static int pthread_a_lock(void *l) { return pthread_mutex_lock(l); }
static int pthread_a_unlock(void *l) { return pthread_mutex_unlock(l); }
static int pthread_a_destroy(void *l) { return pthread_mutex_destroy(l); }
static const struct bench_lock lock_pthread = { "pthread", sizeof(pthread_mutex_t),
	pthread_a_init, pthread_a_lock, pthread_a_unlock, pthread_a_destroy };
