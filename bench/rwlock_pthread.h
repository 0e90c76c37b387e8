/* Adapter: glibc's default pthread rwlock (it prefers readers): the baseline. */
#include <pthread.h>
static int rw_pthread_init(void *l) { return pthread_rwlock_init(l, NULL); }
static int rw_pthread_rdlock(void *l) { return pthread_rwlock_rdlock(l); }
static int rw_pthread_wrlock(void *l) { return pthread_rwlock_wrlock(l); }
static int rw_pthread_unlock(void *l) { return pthread_rwlock_unlock(l); }
static int rw_pthread_destroy(void *l) { return pthread_rwlock_destroy(l); }
static const struct bench_rwlock rw_pthread = { "pthread", sizeof(pthread_rwlock_t), rw_pthread_init,
	rw_pthread_rdlock, rw_pthread_unlock, rw_pthread_wrlock, rw_pthread_unlock, rw_pthread_destroy };
