/*
 * The first slow path of a fresh process, on a thread with the smallest
 * stack POSIX allows (PTHREAD_STACK_MIN, 16 KiB): a contended
 * pthread_mutex_lock (the drop-in observes the mutex and computes what it
 * needs there), then a contended relock inside pthread_cond_wait. Exits 0
 * when both returned; a stack overflow kills it. Run as its own process
 * (linked and preloaded) so that nothing before it took a slow path.
 */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int waiting, go;

static uint32_t sleepers(void)
{
	return __atomic_load_n((uint32_t *)(void *)&m, __ATOMIC_SEQ_CST) >> 4;
}

static void nap(void)
{
	struct timespec d = { 0, 1000000 };

	nanosleep(&d, NULL);
}

static void *small(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&m);		/* held by main: the process's first slow path */
	waiting = 1;
	while (!go)
		pthread_cond_wait(&c, &m);
	pthread_mutex_unlock(&m);
	return (void *)1;
}

int main(void)
{
	pthread_attr_t a;
	pthread_t t;
	void *r = NULL;

	pthread_mutex_lock(&m);
	pthread_attr_init(&a);
	if (pthread_attr_setstacksize(&a, PTHREAD_STACK_MIN) != 0 ||
	    pthread_create(&t, &a, small, NULL) != 0) {
		fprintf(stderr, "small_stack: cannot start the thread\n");
		return 2;
	}
	while (sleepers() == 0)		/* it queued on the mutex */
		nap();
	pthread_mutex_unlock(&m);
	/* It waits on the condvar; wake it while holding the mutex, then make it queue. */
	for (;;) {
		pthread_mutex_lock(&m);
		if (waiting)
			break;
		pthread_mutex_unlock(&m);
		nap();
	}
	go = 1;
	pthread_cond_signal(&c);
	while (sleepers() == 0)		/* the relock is contended */
		nap();
	pthread_mutex_unlock(&m);
	pthread_join(t, &r);
	puts(r == (void *)1 ? "small stack: 1 passed, 0 failed" : "small stack: 0 passed, 1 failed");
	return r == (void *)1 ? 0 : 1;
}
