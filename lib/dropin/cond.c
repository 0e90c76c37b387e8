/*
 * pthread_cond_* for the drop-in's mutexes. glibc's condition variables
 * unlock and relock the mutex through internal calls that no interposer
 * sees, so they come along.
 *
 * pthread_cond_t (48 bytes), all-zero = PTHREAD_COND_INITIALIZER:
 *   0   lock     private: the list's lock (0 free, 1 held, 2 held, sleepers)
 *   4   refs     waiters that may still touch the condvar; bit 31: a destroy
 *                waits for them to go
 *   8   flags    bit 0: CLOCK_MONOTONIC deadlines; bit 1: process-shared
 *   12  seq      shared: the futex word, +1 per signal or broadcast
 *   16  head     private: the newest waiter (a node on its stack)
 *   24  tail     private: the oldest waiter
 *   32  count    shared: bits 0-15 waiters, bits 16-30 wake-ups owed to
 *                them, bit 31 a destroy waits
 *
 * Private condvars: a list of waiters, each a node on its own stack (the
 * design of musl's private condvars). A waiter queues its node under the
 * list's lock while it holds the mutex, then unlocks the mutex and sleeps
 * on its node's barrier. Signal and broadcast, under the list's lock, mark
 * the oldest nodes SIGNALED and detach them from the list, then open the
 * barrier of the oldest only. Each woken waiter relocks the mutex without
 * spinning (its signaller may still hold it, on the CPU the wake-up was
 * placed on), and only then opens the barrier of the next one: one woken
 * thread at a time competes for the mutex, never a herd.
 *   WAITING -> SIGNALED   a signal or broadcast, under the list's lock
 *   WAITING -> LEAVING    the waiter itself: timeout or cancellation; it
 *                         unlinks its node under the list's lock. A
 *                         signaller that meets a LEAVING node waits for
 *                         that before it opens any barrier, so a detached
 *                         list is never changed under the woken.
 * A wake-up is never lost: a waiter that gives up finds its node either
 * WAITING (it consumed nothing) or SIGNALED (it did: a cancelled one
 * signals the condvar again; one whose deadline passed returns 0).
 *
 * Lifetime. POSIX lets a thread destroy and free a condvar right after a
 * broadcast. refs counts the waiters from their queueing until they no
 * longer need the condvar (a woken one as soon as it is past the point
 * where it could be cancelled), and a destroy that finds no waiting node
 * waits for refs to drain, as glibc's does; the last one out wakes it with
 * a futex wake on refs, the one touch allowed on memory that may be gone.
 * A destroy that finds a node still WAITING returns EBUSY.
 *
 * Process-shared condvars cannot hold pointers: they keep a sequence
 * number (a waiter sleeps while seq is what it read under the mutex, so a
 * signal after that read ends or prevents the sleep) and count their
 * waiters and the wake-ups owed to them in one word, for destroy: EBUSY
 * while a waiter is owed none, else wake them all and wait for them to go.
 */
#include "dropin.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#define COND_MONOTONIC 1u
#define COND_SHARED    2u

#define REFS_DESTROY   (1u << 31)

#define SH_WAITER      1u
#define SH_WAITERS(c)  ((c) & 0xffffu)
#define SH_WAKE        (1u << 16)
#define SH_WAKES(c)    (((c) >> 16) & 0x7fffu)
#define SH_DESTROY     (1u << 31)

enum { WAITING, SIGNALED, LEAVING };

struct node {
	struct node *prev, *next;	/* prev: newer; next: older */
	int state;
	uint32_t barrier;		/* 2 closed (and slept on), 0 open, 1 taken */
	int *notify;			/* a signaller waiting for this LEAVING node */
};

struct pt_cond {
	uint32_t lock;
	uint32_t refs;
	uint32_t flags;
	uint32_t seq;
	struct node *head, *tail;
	uint32_t count;
	uint32_t unused[3];
};

_Static_assert(sizeof(struct pt_cond) == sizeof(pthread_cond_t), "pthread_cond_t size");

#define load(p)      __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define xchg(p, v)   __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define cas(p, o, n) __atomic_compare_exchange_n((p), (o), (n), 0, __ATOMIC_SEQ_CST, \
						 __ATOMIC_SEQ_CST)

#ifdef AMUTEX_TEST_SEAMS
uint64_t amutex__dropin_steps[DROPIN_STEP_COUNT];
#define STEP(s) __atomic_add_fetch(&amutex__dropin_steps[DROPIN_STEP_##s], 1, __ATOMIC_RELAXED)
#else
#define STEP(s) ((void)0)
#endif

/*
 * The small locks: the list's lock and the nodes' barriers. Held for a
 * few loads and stores, or (a barrier) until the waiter ahead relocked.
 * Private futexes: a node and a private condvar never leave the process.
 */
static void small_lock(uint32_t *l)
{
	uint32_t c = 0;

	if (cas(l, &c, 1))
		return;
	for (int i = 0; i < 100 && c == 1; i++) {
		amutex__cpu_relax();
		c = 0;
		if (cas(l, &c, 1))
			return;
	}
	if (c != 2)
		c = xchg(l, 2);
	while (c != 0) {
		amutex__futex_wait(l, 2, NULL, 0);
		c = xchg(l, 2);
	}
}

/* After the store, only the wake: l may be gone once it is open. */
static void small_unlock(uint32_t *l)
{
	if (xchg(l, 0) == 2)
		amutex__futex_wake(l, 1, 0);
}

static void refs_put(struct pt_cond *c)
{
	if (__atomic_fetch_sub(&c->refs, 1, __ATOMIC_SEQ_CST) == (REFS_DESTROY | 1))
		amutex__futex_wake(&c->refs, INT_MAX, 0);
}

int pthread_cond_init(pthread_cond_t *pc, const pthread_condattr_t *attr)
{
	struct pt_cond *c = (struct pt_cond *)pc;
	clockid_t clock = CLOCK_REALTIME;
	int pshared = PTHREAD_PROCESS_PRIVATE;

	if (attr && (pthread_condattr_getclock(attr, &clock) != 0 ||
		     pthread_condattr_getpshared(attr, &pshared) != 0))
		return EINVAL;
	memset(c, 0, sizeof(*c));
	c->flags = (clock == CLOCK_MONOTONIC ? COND_MONOTONIC : 0) |
		   (pshared == PTHREAD_PROCESS_SHARED ? COND_SHARED : 0);
	return 0;
}

static int shared_destroy(struct pt_cond *c)
{
	uint32_t n = load(&c->count);

	do {
		if (SH_WAITERS(n) == 0)
			return 0;
		if (SH_WAITERS(n) > SH_WAKES(n))
			return EBUSY;
	} while (!cas(&c->count, &n, n | SH_DESTROY));
	/* Those owed a wake-up may not have had it yet: wake them all. */
	STEP(SHARED_DESTROY_WAITED);
	__atomic_add_fetch(&c->seq, 1, __ATOMIC_SEQ_CST);
	amutex__futex_wake(&c->seq, INT_MAX, AMUTEX_FUTEX_SHARED);
	while (SH_WAITERS(n = load(&c->count)) != 0)
		amutex__futex_wait(&c->count, n, NULL, AMUTEX_FUTEX_SHARED);
	return 0;
}

int pthread_cond_destroy(pthread_cond_t *pc)
{
	struct pt_cond *c = (struct pt_cond *)pc;
	uint32_t r;
	int busy;

	if (c->flags & COND_SHARED)
		return shared_destroy(c);
	small_lock(&c->lock);
	busy = c->head != NULL;
	small_unlock(&c->lock);
	if (busy)
		return EBUSY;
	/* Woken waiters not yet done with the condvar: wait for them. */
	r = load(&c->refs);
	while (r != 0 && !cas(&c->refs, &r, r | REFS_DESTROY))
		;
	if (r != 0)
		STEP(DESTROY_WAITED);
	while ((r = load(&c->refs)) != 0)
		amutex__futex_wait(&c->refs, r, NULL, 0);
	return 0;
}

static void shared_wake(struct pt_cond *c, int all)
{
	uint32_t n;

	__atomic_add_fetch(&c->seq, 1, __ATOMIC_SEQ_CST);
	n = load(&c->count);
	for (;;) {
		uint32_t owed = all ? SH_WAITERS(n) : SH_WAKES(n) + (SH_WAKES(n) < SH_WAITERS(n));

		if (SH_WAITERS(n) == 0 ||
		    cas(&c->count, &n, (n & ~(0x7fffu << 16)) | (owed << 16)))
			break;
	}
	if (SH_WAITERS(n) != 0)
		amutex__futex_wake(&c->seq, all ? INT_MAX : 1, AMUTEX_FUTEX_SHARED);
}

/*
 * signal_nodes: mark up to n of the oldest WAITING nodes SIGNALED, detach
 * them, wait for LEAVING ones among them to unlink, and open the barrier
 * of the oldest.
 */
static void signal_nodes(struct pt_cond *c, int n)
{
	struct node *p, *first = NULL;
	int leaving = 0, v;

	if (!load(&c->refs))
		return;		/* nobody queued: refs rises before the node is listed */
	small_lock(&c->lock);
	for (p = c->tail; n && p; p = p->prev) {
		int st = WAITING;

		if (!cas(&p->state, &st, SIGNALED)) {
			leaving++;
			p->notify = &leaving;
		} else {
			n--;
			if (!first)
				first = p;
		}
	}
	/* Split the list: p and newer stay, the rest is detached. */
	if (p) {
		if (p->next)
			p->next->prev = NULL;
		p->next = NULL;
	} else {
		c->head = NULL;
	}
	c->tail = p;
	small_unlock(&c->lock);
	if (leaving)
		STEP(SIGNAL_MET_LEAVING);
	while ((v = __atomic_load_n(&leaving, __ATOMIC_SEQ_CST)) != 0)
		amutex__futex_wait((uint32_t *)&leaving, (uint32_t)v, NULL, 0);
	if (first)
		small_unlock(&first->barrier);
}

int pthread_cond_signal(pthread_cond_t *pc)
{
	struct pt_cond *c = (struct pt_cond *)pc;

	if (c->flags & COND_SHARED)
		shared_wake(c, 0);
	else
		signal_nodes(c, 1);
	return 0;
}

int pthread_cond_broadcast(pthread_cond_t *pc)
{
	struct pt_cond *c = (struct pt_cond *)pc;

	if (c->flags & COND_SHARED)
		shared_wake(c, 1);
	else
		signal_nodes(c, INT_MAX);
	return 0;
}

struct waiting {
	struct pt_cond *c;
	pthread_mutex_t *m;
	const void *site;
	struct node node;
	uint32_t seq;		/* shared: seq as read under the mutex */
	int shared;
};

/* leave_list: a WAITING node turned LEAVING unlinks itself. */
static void leave_list(struct waiting *w)
{
	struct pt_cond *c = w->c;
	struct node *n = &w->node;
	int *notify;

	small_lock(&c->lock);
	if (c->head == n)
		c->head = n->next;
	else if (n->prev)
		n->prev->next = n->next;
	if (c->tail == n)
		c->tail = n->prev;
	else if (n->next)
		n->next->prev = n->prev;
	notify = n->notify;
	small_unlock(&c->lock);
	if (notify && __atomic_sub_fetch(notify, 1, __ATOMIC_SEQ_CST) == 0)
		amutex__futex_wake((uint32_t *)notify, 1, 0);
}

/*
 * woken_leave: the waiter is done with its sleep (woken, timed out, or
 * cancelled: pass_on). 1 when it consumed a wake-up. Afterwards the
 * condvar is not touched again (refs dropped), except that a SIGNALED
 * node still waits for its turn at its barrier, which is its own.
 */
static int woken_leave(struct waiting *w, int pass_on)
{
	struct pt_cond *c = w->c;
	int st = WAITING;

	if (w->shared) {
		int consumed = load(&c->seq) != w->seq;
		uint32_t n = load(&c->count), m;

		if (pass_on && consumed) {
			STEP(CANCEL_PASSED_ON);
			amutex__futex_wake(&c->seq, 1, AMUTEX_FUTEX_SHARED);
		}
		do {
			uint32_t waiters = SH_WAITERS(n) - 1, wakes = SH_WAKES(n);

			if (consumed && wakes)
				wakes--;
			if (wakes > waiters)
				wakes = waiters;
			m = (n & SH_DESTROY) | (wakes << 16) | waiters;
		} while (!cas(&c->count, &n, m));
		if (SH_WAITERS(m) == 0 && (m & SH_DESTROY))
			amutex__futex_wake(&c->count, INT_MAX, AMUTEX_FUTEX_SHARED);
		return consumed;
	}
	if (cas(&w->node.state, &st, LEAVING)) {
		leave_list(w);
		refs_put(c);
		return 0;
	}
	/* SIGNALED: a wake-up is ours. */
	if (pass_on) {
		STEP(CANCEL_PASSED_ON);
		signal_nodes(c, 1);
	}
	refs_put(c);
	small_lock(&w->node.barrier);	/* our turn: the one ahead has relocked */
	return 1;
}

/* The woken relocks the mutex, then lets the next woken one go. */
static int relock(struct waiting *w, int consumed)
{
	int err = amutex__dropin_cond_relock(w->m, w->site);

	if (consumed && !w->shared && w->node.prev)
		small_unlock(&w->node.prev->barrier);
	return err;
}

/* Cancelled while waiting: hold the mutex again before the cleanup handlers. */
static void cancelled(void *arg)
{
	struct waiting *w = arg;

	(void)relock(w, woken_leave(w, 1));
}

/*
 * sleep_on: the sleep, the only place where the wait may be cancelled
 * (asynchronous cancellation, as glibc's own futex waits); ETIMEDOUT or 0.
 */
static int sleep_on(uint32_t *word, uint32_t val, const struct timespec *abs, int how)
{
	int err = 0, old;

	if (abs && abs->tv_sec < 0)
		return ETIMEDOUT;	/* long past; the kernel would say EINVAL */
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
	while (__atomic_load_n(word, __ATOMIC_SEQ_CST) == val &&
	       (err = amutex__futex_wait(word, val, abs, how)) != ETIMEDOUT)
		;
	pthread_setcanceltype(old, NULL);
	return err == ETIMEDOUT ? ETIMEDOUT : 0;
}

int amutex__dropin_cond_wait(pthread_cond_t *pc, pthread_mutex_t *pm, const struct timespec *abs,
			     clockid_t clock, const void *site)
{
	struct pt_cond *c = (struct pt_cond *)pc;
	struct waiting w;
	int err, how, consumed, lerr;

	if (abs && (abs->tv_nsec < 0 || abs->tv_nsec >= 1000000000))
		return EINVAL;
	if ((err = amutex__dropin_cond_may_unlock(pm)) != 0)
		return err;
	memset(&w, 0, sizeof(w));
	w.c = c;
	w.m = pm;
	w.site = site;
	w.shared = (c->flags & COND_SHARED) != 0;
	how = (w.shared ? AMUTEX_FUTEX_SHARED : 0) |
	      (clock == CLOCK_REALTIME ? AMUTEX_FUTEX_REALTIME : 0);
	if (w.shared) {
		__atomic_add_fetch(&c->count, SH_WAITER, __ATOMIC_SEQ_CST);
		w.seq = load(&c->seq);
	} else {
		w.node.state = WAITING;
		w.node.barrier = 2;
		__atomic_add_fetch(&c->refs, 1, __ATOMIC_SEQ_CST);
		small_lock(&c->lock);
		w.node.next = c->head;
		c->head = &w.node;
		if (!c->tail)
			c->tail = &w.node;
		else
			w.node.next->prev = &w.node;
		small_unlock(&c->lock);
	}
	amutex__dropin_cond_unlock(pm);
	pthread_cleanup_push(cancelled, &w);
	if (w.shared)
		err = sleep_on(&c->seq, w.seq, abs, how);
	else
		err = sleep_on(&w.node.barrier, 2, abs, how);
	pthread_cleanup_pop(0);
	consumed = woken_leave(&w, 0);
	if ((lerr = relock(&w, consumed)) != 0)
		return lerr;	/* EOWNERDEAD from a robust mutex: the caller must know */
	/* A wake-up consumed is a wake-up, whatever the clock says. */
	return consumed ? 0 : err;
}

int pthread_cond_wait(pthread_cond_t *pc, pthread_mutex_t *pm)
{
	return amutex__dropin_cond_wait(pc, pm, NULL, CLOCK_REALTIME, __builtin_return_address(0));
}

int pthread_cond_timedwait(pthread_cond_t *pc, pthread_mutex_t *pm, const struct timespec *abs)
{
	struct pt_cond *c = (struct pt_cond *)pc;

	return amutex__dropin_cond_wait(pc, pm, abs, c->flags & COND_MONOTONIC ? CLOCK_MONOTONIC : CLOCK_REALTIME,
		    __builtin_return_address(0));
}

int pthread_cond_clockwait(pthread_cond_t *pc, pthread_mutex_t *pm, clockid_t clock,
			   const struct timespec *abs)
{
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
		return EINVAL;
	return amutex__dropin_cond_wait(pc, pm, abs, clock, __builtin_return_address(0));
}
