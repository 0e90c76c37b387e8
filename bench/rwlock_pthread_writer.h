/* Adapter: glibc's pthread rwlock that prefers writers (PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP). */
#include <pthread.h>
static int rw_pthread_writer_init(void *l)
{
	pthread_rwlockattr_t a;
	int err;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	err = pthread_rwlock_init(l, &a);
	pthread_rwlockattr_destroy(&a);
	return err;
}
static const struct bench_rwlock rw_pthread_writer = { "pthread-writer", sizeof(pthread_rwlock_t),
	rw_pthread_writer_init, rw_pthread_rdlock, rw_pthread_unlock, rw_pthread_wrlock,
	rw_pthread_unlock, rw_pthread_destroy };
