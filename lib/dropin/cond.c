/*
 * pthread_cond_* (and pthread_cancel) for the drop-in's mutexes. glibc's
 * condition variables unlock and relock the mutex through internal calls
 * that no interposer sees, so they come along.
 *
 * pthread_cond_t (48 bytes), all-zero = PTHREAD_COND_INITIALIZER:
 *   0   lock     private: the list's lock, bits 0-1 (0 free, 1 held, 2 held,
 *                sleepers); bits 2-31 the holder's fork generation
 *   4   nwait    private: nodes on the list (read without the lock by signal)
 *   8   flags    bit 0: CLOCK_MONOTONIC deadlines; bit 1: process-shared
 *   12  seq      shared: the futex word, +1 per signal or broadcast
 *   16  head     private: the newest waiter (a node on its stack)
 *   24  tail     private: the oldest waiter
 *   32  count    shared: bits 0-15 waiters, bits 16-30 wake-ups owed to
 *                them, bit 31 a destroy waits
 *   36  gen      private: the fork generation of the list's last user
 *
 * Private condvars: a list of waiters, each a node on its own stack (the
 * design of musl's private condvars). A waiter queues its node under the
 * list's lock while it holds the mutex, then unlocks the mutex and sleeps
 * on its node's barrier. Signal and broadcast, under the list's lock, mark
 * the oldest nodes SIGNALED and detach them from the list, linking them
 * as a tree in the order they waited (the ROOTS oldest are roots; the
 * i-th marked, from 0, has the 2i+ROOTS-th and 2i+ROOTS+1-th as kids),
 * then open the roots' barriers. Each woken waiter opens its kids'
 * barriers when its own opens, and relocks the mutex without spinning
 * (its signaller may still hold it, on the CPU the wake-up was placed
 * on: it yields to it instead, mutex.c): a broadcaster makes at most
 * ROOTS futex wakes, not one per waiter, the last of N is woken after
 * about log2(N / ROOTS) + 1 wake-up latencies, and no woken thread spins
 * against a holder.
 *   WAITING -> SIGNALED   a signal or broadcast, under the list's lock
 *   WAITING -> LEAVING    the waiter itself: timeout or cancellation; it
 *                         unlinks its node under the list's lock. A
 *                         signaller that meets a LEAVING node waits for
 *                         that before it opens any barrier or returns, so
 *                         a detached list is never changed under the woken.
 *
 * Lifetime. POSIX lets a thread destroy and free a condvar right after a
 * broadcast. A SIGNALED node is off the list and its waiter never touches
 * the condvar again: from the signal on it needs only its own node and its
 * kids' (alive until it opens their barriers; the roots, likewise, until
 * their signaller opens theirs). So destroy takes the list's lock and says
 * EBUSY while a node is on it (a waiter blocked and not signalled), else 0
 * at once.
 *
 * Cancellation. No asynchronous cancellation: a waiter sleeps with
 * cancellation disabled, and pthread_cancel (below, glibc's, then a poke)
 * wakes it through a slot in its thread-local storage. A woken waiter
 * whose node is still WAITING leaves, relocks and acts on the cancellation
 * (its cleanup handlers run with the mutex held); one whose node is
 * SIGNALED consumed a wake-up and returns 0, and the cancellation acts at
 * its next cancellation point, as musl does: no wake-up is lost to it.
 *
 * Fork. The child has one thread, so every node queued before the fork is
 * a thread's that fork did not copy, and so is a list lock held then (or
 * the forking thread's own, when a signal handler forked inside its wait:
 * its node is dropped too, each node keeps the generation it queued in,
 * and that wait ends by its deadline, a cancellation or a spurious wake). The
 * list's lock carries its holder's fork generation (fork_gen, +1 in each
 * child): a thread that finds it held by an older generation
 * takes it over, and the first to lock a list stamped with an older
 * generation empties it (list_lock). So a signal in the child goes to the
 * child's waiters and destroy says 0 once they are gone; glibc's condvar
 * instead keeps counting the parent's waiters (its destroy in such a child
 * waits for ever). This holds from the drop-in's own child handler on:
 * pthread_atfork child handlers registered before it (by a library whose
 * constructor ran first) still see the parent's generation.
 *
 * Process-shared condvars cannot hold pointers: they keep a sequence
 * number (a waiter sleeps while seq is what it read under the mutex, so a
 * signal after that read ends or prevents the sleep) and count their
 * waiters and the wake-ups owed to them in one word, for destroy: EBUSY
 * while a waiter is owed none, else wake them all and wait for them to go
 * (they leave the count before they relock, so a destroy under the mutex
 * cannot deadlock). A cancelled shared waiter that may have consumed a
 * wake-up (seq moved) wakes another one before it leaves, as glibc does.
 */
#include "dropin.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#define COND_MONOTONIC 1u
#define COND_SHARED    2u

#define SH_WAITER      1u
#define SH_WAITERS(c)  ((c) & 0xffffu)
#define SH_WAKE        (1u << 16)
#define SH_WAKES(c)    (((c) >> 16) & 0x7fffu)
#define SH_DESTROY     (1u << 31)

enum { WAITING, SIGNALED, LEAVING };

struct node {
	struct node *prev, *next;	/* prev: newer; next: older */
	struct node *kid[2];		/* SIGNALED: the barriers this one opens */
	int state;
	uint32_t barrier;		/* 2 closed (and slept on), 0 open, 1 taken */
	int *notify;			/* a signaller waiting for this LEAVING node */
	uint32_t gen;			/* the list's fork generation when it queued */
};

struct pt_cond {
	uint32_t lock;
	uint32_t nwait;
	uint32_t flags;
	uint32_t seq;
	struct node *head, *tail;
	uint32_t count;
	uint32_t gen;
	uint32_t unused[2];
};

_Static_assert(sizeof(struct pt_cond) == sizeof(pthread_cond_t), "pthread_cond_t size");

#define load(p)      __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define xchg(p, v)   __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define cas(p, o, n) __atomic_compare_exchange_n((p), (o), (n), 0, __ATOMIC_SEQ_CST, \
						 __ATOMIC_SEQ_CST)

#ifdef AMUTEX_TEST_SEAMS
uint64_t amutex__dropin_steps[DROPIN_STEP_COUNT];
void (*amutex__dropin_leaving_point)(void);
#endif

#define small_lock   amutex__small_lock
#define small_unlock amutex__small_unlock

/* Forks this process descends from (+1 in each child, bits 0-29). */
static uint32_t fork_gen;

#ifdef AMUTEX_TEST_SEAMS
void (*amutex__dropin_list_point)(void);
void (*amutex__dropin_cancel_point)(void);
void (*amutex__dropin_open_point)(void);
#endif

/*
 * list_lock: the list's lock, a small lock held in this process's fork
 * generation; then, in a child of a fork, drop the nodes queued before
 * it: their threads were not copied.
 */
static void list_lock(struct pt_cond *c)
{
	uint32_t gen = __atomic_load_n(&fork_gen, __ATOMIC_RELAXED);

	if (amutex__small_lock_gen(&c->lock, gen << 2))
		DSTEP(LIST_LOCK_TAKEN_OVER);
	if (c->gen != gen) {
		if (c->head)
			DSTEP(PHANTOM_UNLINKED);
		c->head = c->tail = NULL;
		__atomic_store_n(&c->nwait, 0, __ATOMIC_RELAXED);
		c->gen = gen;
	}
}

#define list_unlock(c) small_unlock(&(c)->lock)

/*
 * The cancellation slot of each thread: the futex word it sleeps on in a
 * condvar wait (NULL: none), and whether pthread_cancel was called on it.
 * pthread_cancel finds another thread's slot at the same offset from its
 * thread descriptor as the caller's: glibc allocates static TLS (the
 * drop-in's is initial-exec) with each descriptor, at one fixed offset.
 * The slot's lock keeps a poke from landing on a word its waiter has left.
 */
struct cancel_slot {
	uint32_t lock;
	int requested;
	uint32_t *word;
	int how;
};

static __thread struct cancel_slot slot __attribute__((tls_model("initial-exec")));

static struct cancel_slot *slot_of(pthread_t t)
{
	return (struct cancel_slot *)(void *)((char *)t +
		((char *)&slot - (char *)pthread_self()));
}

int pthread_cancel(pthread_t t)
{
	struct cancel_slot *s;
	int err;

	if ((err = amutex__dropin_real()->cancel(t)) != 0)
		return err;
	s = slot_of(t);
	/* Seq-cst: paired with the waiter's publication of its word, then its look at requested. */
	__atomic_store_n(&s->requested, 1, __ATOMIC_SEQ_CST);
	small_lock(&s->lock);
	DPOINT(amutex__dropin_cancel_point);
	if (s->word) {
		uint32_t two = 2;

		DSTEP(CANCEL_POKED);
		if (s->how & AMUTEX_FUTEX_SHARED) {
			/* A shared condvar's seq: its waiter is still counted, so it is alive. */
			__atomic_add_fetch(s->word, 1, __ATOMIC_SEQ_CST);
			amutex__futex_wake(s->word, INT_MAX, AMUTEX_FUTEX_SHARED);
		} else if (cas(s->word, &two, 3)) {
			/* A node's closed barrier (2) becomes 3, "look again". */
			amutex__futex_wake(s->word, 1, 0);
		}
	}
	small_unlock(&s->lock);
	return 0;
}

/*
 * In the child of a fork (one thread): every list lock held and list
 * stamped before is of threads that fork did not copy (list_lock), and a
 * pthread_cancel of the forking thread by one of them may have held this
 * thread's slot lock, which nobody would release.
 */
static void child_after_fork(void)
{
	fork_gen = (fork_gen + 1) & 0x3fffffffu;
	slot.lock = 0;
}

/* pthread_atfork allocates: at load, never on a wait. */
__attribute__((constructor)) static void cond_init(void)
{
	pthread_atfork(NULL, NULL, child_after_fork);
}

static void publish(uint32_t *word, int how)
{
	slot.how = how;
	__atomic_store_n(&slot.word, word, __ATOMIC_SEQ_CST);
}

static void unpublish(void)
{
	small_lock(&slot.lock);
	slot.word = NULL;
	small_unlock(&slot.lock);
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
	DSTEP(SHARED_DESTROY_WAITED);
	__atomic_add_fetch(&c->seq, 1, __ATOMIC_SEQ_CST);
	amutex__futex_wake(&c->seq, INT_MAX, AMUTEX_FUTEX_SHARED);
	while (SH_WAITERS(n = load(&c->count)) != 0)
		amutex__futex_wait(&c->count, n, NULL, AMUTEX_FUTEX_SHARED);
	return 0;
}

int pthread_cond_destroy(pthread_cond_t *pc)
{
	struct pt_cond *c = (struct pt_cond *)pc;
	int busy;

	if (c->flags & COND_SHARED)
		return shared_destroy(c);
	/* The lock: a leaving waiter may be unlinking itself. */
	list_lock(c);
	busy = c->head != NULL;
	list_unlock(c);
	return busy ? EBUSY : 0;
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
 * The barriers a broadcaster opens itself (the roots of the tree); each
 * woken waiter opens two more. One root puts a whole wake-up latency
 * before the second waiter can run, which a small barrier feels in full;
 * opening every barrier holds the mutex through N wakes and wakes them
 * all into it. Three, measured against 1, 2, 4 and all on barriers of 4,
 * 8 and 16 threads: docs/drop-in.md. A build may choose another
 * (-DAMUTEX_DROPIN_ROOTS=N, 1 to 64) to measure it.
 */
#ifndef AMUTEX_DROPIN_ROOTS
#define AMUTEX_DROPIN_ROOTS 3
#endif
#define ROOTS AMUTEX_DROPIN_ROOTS
_Static_assert(ROOTS >= 1 && ROOTS <= 64, "AMUTEX_DROPIN_ROOTS: 1 to 64");

/*
 * signal_nodes: mark up to n of the oldest WAITING nodes SIGNALED, detach
 * them, wait for LEAVING ones among them to unlink, and open the barriers
 * of the ROOTS oldest.
 */
static void signal_nodes(struct pt_cond *c, int n)
{
	struct node *p, *root[ROOTS], *parent = NULL;
	int leaving = 0, v, k = 0, roots = 0;

	if (!load(&c->nwait))
		return;		/* nobody queued (a waiter queues holding the mutex) */
	list_lock(c);
	DPOINT(amutex__dropin_list_point);
	for (p = c->tail; n && p; p = p->prev) {
		int st = WAITING;

		if (!cas(&p->state, &st, SIGNALED)) {
			leaving++;
			p->notify = &leaving;
		} else {
			n--;
			p->kid[0] = p->kid[1] = NULL;
			if (roots < ROOTS) {
				root[roots++] = p;
				if (!parent)
					parent = p;
			} else {
				/* Heap order: the i-th marked (from 0) opens the 2i+R-th and 2i+R+1-th. */
				parent->kid[k] = p;
				if (++k == 2) {
					k = 0;
					for (parent = parent->prev; load(&parent->state) != SIGNALED;
					     parent = parent->prev)
						;
				}
			}
		}
		__atomic_sub_fetch(&c->nwait, 1, __ATOMIC_RELAXED);
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
	list_unlock(c);
	if (leaving)
		DSTEP(SIGNAL_MET_LEAVING);
	while ((v = __atomic_load_n(&leaving, __ATOMIC_SEQ_CST)) != 0)
		amutex__futex_wait((uint32_t *)&leaving, (uint32_t)v, NULL, 0);
	DPOINT(amutex__dropin_open_point);
	if (roots == ROOTS)
		DSTEP(OPENED_ROOTS);
	for (k = 0; k < roots; k++)
		small_unlock(&root[k]->barrier);
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

	list_lock(c);
	if (n->gen != c->gen) {
		/* Queued before a fork this thread made (from a signal handler
		 * inside its wait): the child dropped it with the list. */
		list_unlock(c);
		return;
	}
	if (c->head == n)
		c->head = n->next;
	else if (n->prev)
		n->prev->next = n->next;
	if (c->tail == n)
		c->tail = n->prev;
	else if (n->next)
		n->next->prev = n->prev;
	notify = n->notify;
	if (!notify)	/* else a signaller detached it, and counted it off */
		__atomic_sub_fetch(&c->nwait, 1, __ATOMIC_RELAXED);
	list_unlock(c);
	if (notify && __atomic_sub_fetch(notify, 1, __ATOMIC_SEQ_CST) == 0)
		amutex__futex_wake((uint32_t *)notify, 1, 0);
}

/*
 * shared_leave: a shared waiter leaves the count (after which it must not
 * touch the condvar); 1 when it may have consumed a wake-up (seq moved).
 * A cancelled one (pass_on) then wakes another first.
 */
static int shared_leave(struct waiting *w, int pass_on)
{
	struct pt_cond *c = w->c;
	int consumed = load(&c->seq) != w->seq;
	uint32_t n = load(&c->count), m;

	if (pass_on && consumed) {
		DSTEP(CANCEL_PASSED_ON);
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

/*
 * node_leave: the sleep is over (woken, timed out, poked). 1 when the
 * node was SIGNALED: then wait until its barrier is open (its signaller,
 * or its parent in the tree, opens it; a timeout or a poke may end the
 * sleep before that). 0: it was WAITING and is now off the list.
 */
static int node_leave(struct waiting *w)
{
	int st = WAITING;

	if (cas(&w->node.state, &st, LEAVING)) {
		DPOINT(amutex__dropin_leaving_point);
		leave_list(w);
		return 0;
	}
	/*
	 * Signalled before a fork that this thread made from a signal handler
	 * inside its wait: its signaller was another thread, not copied, so
	 * nobody will open the barrier in this process.
	 */
	if (w->node.gen != __atomic_load_n(&fork_gen, __ATOMIC_RELAXED))
		return 1;
	small_lock(&w->node.barrier);
	return 1;
}

/*
 * sleep_on: sleep while *word is val, until the deadline, or a cancellation
 * when cancellable (the slot's word is published first: seq-cst, paired
 * with pthread_cancel's store to requested, then its look at the word);
 * ETIMEDOUT or 0.
 */
static int sleep_on(uint32_t *word, uint32_t val, const struct timespec *abs, int how,
		    int cancellable)
{
	int err = 0;

	if (abs && abs->tv_sec < 0)
		return ETIMEDOUT;	/* long past; the kernel would say EINVAL */
	if (cancellable)
		publish(word, how);
	while (__atomic_load_n(word, __ATOMIC_SEQ_CST) == val &&
	       !(cancellable && __atomic_load_n(&slot.requested, __ATOMIC_SEQ_CST)) &&
	       (err = amutex__futex_wait(word, val, abs, how)) != ETIMEDOUT)
		;
	if (cancellable)
		unpublish();
	return err == ETIMEDOUT ? ETIMEDOUT : 0;
}

int amutex__dropin_cond_wait(pthread_cond_t *pc, pthread_mutex_t *pm, const struct timespec *abs,
			     clockid_t clock, const void *site)
{
	struct pt_cond *c = (struct pt_cond *)pc;
	struct waiting w;
	int err, how, consumed, lerr, cs, cancel;

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
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
	if (w.shared) {
		__atomic_add_fetch(&c->count, SH_WAITER, __ATOMIC_SEQ_CST);
		w.seq = load(&c->seq);
	} else {
		w.node.state = WAITING;
		w.node.barrier = 2;
		list_lock(c);
		w.node.gen = c->gen;
		w.node.next = c->head;
		c->head = &w.node;
		if (!c->tail)
			c->tail = &w.node;
		else
			w.node.next->prev = &w.node;
		__atomic_add_fetch(&c->nwait, 1, __ATOMIC_RELAXED);
		list_unlock(c);
	}
	amutex__dropin_cond_unlock(pm);
	if (w.shared)
		err = sleep_on(&c->seq, w.seq, abs, how, cs == PTHREAD_CANCEL_ENABLE);
	else
		err = sleep_on(&w.node.barrier, 2, abs, how, cs == PTHREAD_CANCEL_ENABLE);
	cancel = cs == PTHREAD_CANCEL_ENABLE && __atomic_load_n(&slot.requested, __ATOMIC_SEQ_CST);
	if (w.shared)
		consumed = shared_leave(&w, cancel) && !cancel;
	else
		consumed = node_leave(&w);
	/*
	 * The kids go now, before this one relocks: each woken thread makes at
	 * most two futex wakes (the broadcaster made at most ROOTS, not one
	 * per waiter). Measured (bench/dropin-condvar.sh, 2 cores) against
	 * opening them after the relock or at the unlock: those serialize a
	 * broadcast's wake-ups, each behind a context switch (barrier of 4:
	 * 0.90x glibc against 1.15x); against a chain (one kid each: barrier
	 * of 16, 0.59x glibc against 1.19x; 16 cores 0.32x). The number of
	 * roots: at ROOTS.
	 */
	if (!w.shared && consumed) {
		struct node *k0 = w.node.kid[0], *k1 = w.node.kid[1];

		/* Its own node: the kids' nodes are not touched once opened. */
		if (k0)
			small_unlock(&k0->barrier);
		if (k1) {
			DSTEP(OPENED_TWO);
			small_unlock(&k1->barrier);
		}
	}
	lerr = amutex__dropin_cond_relock(pm, site);
	pthread_setcancelstate(cs, NULL);
	if (cancel && consumed)
		DSTEP(CANCEL_AFTER_WAKE);	/* acts at the next cancellation point */
	else if (cancel)
		pthread_testcancel();		/* acts now, with the mutex held */
	if (lerr)
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
