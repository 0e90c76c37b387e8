/*
 * C11 <threads.h> mutexes and condition variables on the drop-in. glibc
 * 2.34+ implements mtx_* and cnd_* with internal calls to its own mutex
 * and condvar, which no interposer sees: without these, a C11 program
 * would lock glibc's protocol on bytes the drop-in reads as its own.
 *
 * mtx_t and cnd_t have pthread_mutex_t's and pthread_cond_t's sizes: the
 * same layouts (dropin.h, cond.c). Codes are C11's: thrd_success,
 * thrd_busy, thrd_timedout, thrd_nomem, thrd_error. Deadlines are on
 * TIME_UTC (CLOCK_REALTIME).
 */
#include "dropin.h"

#include <errno.h>
#include <threads.h>

_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t size");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t size");

static int thrd_code(int err)
{
	switch (err) {
	case 0: return thrd_success;
	case EBUSY: return thrd_busy;
	case ETIMEDOUT: return thrd_timedout;
	case ENOMEM: return thrd_nomem;
	default: return thrd_error;
	}
}

int mtx_init(mtx_t *mtx, int type)
{
	pthread_mutexattr_t a;
	int kind, err;

	/* As glibc: any other type is a plain mutex. */
	switch (type) {
	case mtx_plain | mtx_recursive:
	case mtx_timed | mtx_recursive:
		kind = PTHREAD_MUTEX_RECURSIVE;
		break;
	default:
		kind = PTHREAD_MUTEX_NORMAL;
		break;
	}
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, kind);
	err = pthread_mutex_init((pthread_mutex_t *)mtx, &a);
	pthread_mutexattr_destroy(&a);
	return thrd_code(err);
}

int mtx_lock(mtx_t *mtx)
{
	return thrd_code(amutex__dropin_mutex_lock((pthread_mutex_t *)mtx,
						   __builtin_return_address(0)));
}

int mtx_timedlock(mtx_t *restrict mtx, const struct timespec *restrict ts)
{
	return thrd_code(amutex__dropin_mutex_timed((pthread_mutex_t *)mtx, CLOCK_REALTIME, ts,
						    __builtin_return_address(0)));
}

int mtx_trylock(mtx_t *mtx)
{
	return thrd_code(pthread_mutex_trylock((pthread_mutex_t *)mtx));
}

int mtx_unlock(mtx_t *mtx)
{
	return thrd_code(pthread_mutex_unlock((pthread_mutex_t *)mtx));
}

void mtx_destroy(mtx_t *mtx)
{
	(void)pthread_mutex_destroy((pthread_mutex_t *)mtx);
}

int cnd_init(cnd_t *cond)
{
	return thrd_code(pthread_cond_init((pthread_cond_t *)cond, NULL));
}

int cnd_signal(cnd_t *cond)
{
	return thrd_code(pthread_cond_signal((pthread_cond_t *)cond));
}

int cnd_broadcast(cnd_t *cond)
{
	return thrd_code(pthread_cond_broadcast((pthread_cond_t *)cond));
}

int cnd_wait(cnd_t *cond, mtx_t *mtx)
{
	return thrd_code(amutex__dropin_cond_wait((pthread_cond_t *)cond, (pthread_mutex_t *)mtx,
						  NULL, CLOCK_REALTIME,
						  __builtin_return_address(0)));
}

int cnd_timedwait(cnd_t *restrict cond, mtx_t *restrict mtx, const struct timespec *restrict ts)
{
	return thrd_code(amutex__dropin_cond_wait((pthread_cond_t *)cond, (pthread_mutex_t *)mtx,
						  ts, CLOCK_REALTIME,
						  __builtin_return_address(0)));
}

void cnd_destroy(cnd_t *cond)
{
	(void)pthread_cond_destroy((pthread_cond_t *)cond);
}
