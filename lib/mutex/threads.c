/*
 * Threads that have been in a slow path, each with the mutex it is working
 * on now (amutex__busy_enter/leave, two stores per slow path), so that the
 * child of a fork knows which mutexes have sleepers, spinners or tokens that
 * belong to threads fork did not copy. A thread joins the list on its first
 * slow path and leaves it when it exits (a thread-specific key's
 * destructor). The list changes rarely, under a spin lock of its own: not a
 * mutex, which the drop-in would route back here.
 */
#include "mutex.h"

#include <pthread.h>
#include <sched.h>
#include <stddef.h>

__thread struct amutex__thread amutex__self;
void (*amutex__rw_repair)(void *rw);

static struct amutex__thread *head;
static int list_lock;
static pthread_key_t key;
static int key_ok;

void amutex__threads_lock(void)
{
	while (__atomic_exchange_n(&list_lock, 1, __ATOMIC_ACQUIRE))
		sched_yield();
}

void amutex__threads_unlock(void)
{
	__atomic_store_n(&list_lock, 0, __ATOMIC_RELEASE);
}

static void unlink_self(void *arg)
{
	struct amutex__thread *t = arg;

	amutex__threads_lock();
	if (t->prev)
		t->prev->next = t->next;
	else
		head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->linked = 0;
	amutex__threads_unlock();
}

/* Before main and before any thread: pthread_key_create does not allocate. */
__attribute__((constructor)) static void threads_init(void)
{
	key_ok = pthread_key_create(&key, unlink_self) == 0;
}

void amutex__thread_link(void)
{
	struct amutex__thread *t = &amutex__self;

	amutex__threads_lock();
	t->prev = NULL;
	t->next = head;
	if (head)
		head->prev = t;
	head = t;
	t->linked = 1;
	amutex__threads_unlock();
	/*
	 * The key's destructor unlinks the thread at exit. glibc keeps the
	 * values of the first 32 keys inside the thread itself, so this does
	 * not allocate for a key made in a constructor.
	 */
	if (key_ok)
		pthread_setspecific(key, t);
}

void amutex__threads_after_fork(void (*fn)(amutex_t *m))
{
	struct amutex__thread *self = &amutex__self;

	for (struct amutex__thread *t = head; t; t = t->next) {
		amutex_t *m = __atomic_load_n(&t->busy, __ATOMIC_RELAXED);
		void *rw = __atomic_load_n(&t->rw_busy, __ATOMIC_RELAXED);

		if (t != self && m)
			fn(m);
		if (t != self && rw && amutex__rw_repair)
			amutex__rw_repair(rw);
	}
	/* The others' memory stays as fork copied it; only this thread is listed. */
	head = self->linked ? self : NULL;
	self->prev = self->next = NULL;
}
