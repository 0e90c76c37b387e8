/*
 * A Promela model of the drop-in's condition variables, lib/dropin/cond.c
 * (line numbers in the comments): the private condvar, a list of waiter
 * nodes on the waiters' stacks under a small lock (musl's design), and,
 * with -DSHARED, the process-shared one (a sequence number and a count
 * word). One atomic block per access to shared memory (the condvar, a
 * node, a signaller's `leaving`, a thread's cancellation slot), with the
 * thread-local computation next to it. The small locks (dropin.h:56-88)
 * are modelled as they are, futex and all: the list's lock, each node's
 * barrier (2 closed and slept on, 0 open, 1 taken, 3 poked), each thread's
 * slot lock. Abstract: the mutex (a blocking test-and-set; its protocol is
 * docs/model/amutex.pml's), the fork generation in the list's lock (it
 * never changes within a process, so the lock is a small lock here; the
 * child's take-over and emptying of the list are tested, not modelled:
 * test_child_of_fork_uses_a_condvar_the_parent_waits_on), glibc's part of
 * pthread_cancel (the waiter
 * sleeps with cancellation disabled, so it only marks the thread), and a
 * cancellation that acts (the cleanup handler unlocks; the thread ends).
 * Who opens which barrier (the baton: the signaller the ROOTS oldest
 * marked nodes', each woken waiter two newer ones') is modelled in one
 * place, the section THE BATON (baton() and the check of the detached
 * nodes it relies on), so that another scheme (a fan-out tree) changes
 * only that section. Checked by tests/model.sh; tests/model-mutations.sh
 * plants bugs that the properties must catch; docs/verification.md has
 * the results.
 *
 * Threads: waiters 0..NW-1 (waiter i's node is node i), signallers 3 and 4
 * (SIG0 + si; si indexes their `leaving` counters), the canceller 5.
 * Programs, chosen with -D:
 *   (default)  NW consumers: lock; while (items == 0) wait; items--; unlock.
 *              NP (1 or 2) producers make NW items between them: lock;
 *              items++; then signal and unlock, or unlock and signal.
 *   DESTROY    NW waiters: lock; nin++; while (!ready) wait; unlock. A
 *              destroyer: lock; ready = 1; broadcast (-DONE: signal, for
 *              NW = 1); destroy, which must return 0; free (POSIX's
 *              example); unlock. -DBUSY: first, once every waiter has come
 *              in (nin == NW), destroy while they wait: EBUSY, unless none
 *              is left on the condvar (then free it and stop). -DOUTSIDE:
 *              the destroyer unlocks after ready = 1, then broadcasts,
 *              destroys and frees, so a woken waiter can relock and return
 *              (its node gone) while the broadcaster still opens roots.
 * Options: -DTIMED: the last waiter's wait is timed (its futex wait may
 * time out at any moment; a consumer then looks at the predicate once more
 * and gives up; a DESTROY waiter gives up). -DCANCEL: the canceller calls
 * pthread_cancel on waiter 0 (cancellation enabled) at any moment; a
 * cancelled waiter that acts on it unlocks the mutex and ends; consumers
 * then get one item fewer (NW - 1: else a later signal would cover for a
 * wake-up that a cancellation lost), so one may sleep for ever with none
 * there. -DSPURIOUS: a futex wait may return at any moment.
 *
 * Properties, each a named flag that its assertion prints:
 *   no_lost_wakeup          when nothing can move, no waiter is inside a
 *                           wait while its predicate holds (an item is
 *                           there; ready is set): a signal sent while a
 *                           thread is blocked wakes at least one blocked
 *                           waiter, a broadcast all of them; with
 *                           -DCANCEL, a wake-up a cancelled waiter had
 *                           reaches another waiter
 *   all_return              when nothing can move, every thread has ended
 *                           (with -DCANCEL: or sleeps in its wait, with no
 *                           item there)
 *   cancel_keeps_wakeup     (private) a cancelled waiter whose node a
 *                           signal marked SIGNALED returns 0 and is not
 *                           cancelled by this wait (the shared one passes
 *                           the wake-up on instead: no_lost_wakeup)
 *   timeout_keeps_wakeup    a timed-out waiter that had a wake-up returns
 *                           0 (private: its node was marked SIGNALED;
 *                           shared: a signal or broadcast came while it
 *                           slept)
 *   destroy_ok              destroy after the broadcast (or the signal of
 *                           the only waiter) returns 0
 *   destroy_busy_ok         destroy returns EBUSY while a waiter is blocked
 *                           and not signalled (shared: no signal at all
 *                           came since it blocked)
 *   no_access_after_destroy nobody touches the condvar's memory after
 *                           destroy returned 0 and it was freed (a futex
 *                           wake on its address is allowed)
 *   no_access_after_return  nobody touches a node after its waiter's wait
 *                           returned, nor a signaller's `leaving` after its
 *                           signal returned (they live on their stacks)
 *   list_wf                 (private) at every step at which the list's
 *                           lock is free (a never claim), head..tail is a
 *                           doubly linked list of nwait nodes, none
 *                           SIGNALED, each of a waiter inside a wait,
 *                           holding every queued node still WAITING; when a
 *                           signaller opens the roots' barriers, its detached
 *                           nodes are exactly those it marked, all
 *                           SIGNALED, linked oldest to newest; a baton goes
 *                           only to a SIGNALED node
 *   ltl returns (-DLTL)     every thread ends, so every wait returns (pan
 *                           -a -f: weak fairness; the mutex is held
 *                           briefly); the monitor of the first two and the
 *                           never claim of list_wf are then left out
 *
 * Abstractions: FUTEX_WAKE(1) wakes any one sleeper on the word; a timed
 * futex wait times out at any moment of its sleep; sequentially consistent
 * memory (of the accesses cond.c makes relaxed, nwait's updates are under
 * the list's lock, and signal's first look at it is ordered by the mutex
 * unlock of a waiter it must see); small_lock spins at most once (of 100);
 * seq and the count are bytes (W and K 3 bits each), enough for these runs.
 */

#ifndef NW
#define NW 2
#endif
#ifndef NP
#define NP 1
#endif
#define MAXW 3
/* The barriers a signaller opens itself (cond.c ROOTS, 3 there): with 3
 * waiters, 2 gives roots and a kid, 1 a root with two kids. */
#ifndef ROOTS
#define ROOTS 2
#endif
#define MAXT 6
#define SIG0 3
#define CANCELLER 5
#define NIL 3		/* a sentinel node: nnext[NIL] == nprev[NIL] == NIL */

#define WAITING  0
#define SIGNALED 1
#define LEAVING  2

#define EAGAIN    11
#define EBUSY     16
#define ETIMEDOUT 110

/* The futex words and small locks, by id: wd[id]. */
#define W_LIST  1	/* c->lock (private) */
#define W_SEQ   2	/* c->seq (shared) */
#define W_COUNT 3	/* c->count (shared): CW waiters, CK wake-ups owed, CD destroy */
#define W_BAR   4	/* 4..6: node i's barrier */
#define W_SLOT  7	/* 7..9: thread i's cancellation slot lock */
#define W_LEAVE 10	/* 10..11: signaller si's `leaving` */
#define NWORDS  12

#define CW(n) ((n) & 7)
#define CK(n) (((n) >> 3) & 7)
#define CD 64

byte wd[NWORDS];
byte fw[MAXT];			/* the word id a thread sleeps on in FUTEX_WAIT; 0: awake */

/* private: c->nwait, c->head, c->tail; the nodes (struct node) */
byte nwait = 0;
byte head = NIL, tail = NIL;
byte nprev[MAXW + 1] = NIL, nnext[MAXW + 1] = NIL;	/* prev: newer; next: older */
byte nstate[MAXW + 1], notify[MAXW + 1];	/* notify: 1 + the signaller waiting for it; 0 none */
byte nkid0[MAXW + 1] = NIL, nkid1[MAXW + 1] = NIL;	/* kid[0], kid[1]: the barriers a SIGNALED node opens */
byte mby[MAXW + 1];		/* ghost: 1 + the signaller marking it in its current call */

/* cancellation slots (thread-local storage of the waiters) */
bit requested[MAXW];
bit pub[MAXW];			/* slot.word set: the thread's barrier (private) or c->seq */

/* the program */
byte mtx = 0;			/* the mutex: 0 free, 1 + the owner */
byte items = 0;
bit ready = 0;
byte nin = 0;
byte fin = 0;			/* threads ended */

/* ghosts */
bit freed = 0;
bit gone[MAXW + 1] = 1;			/* waiter i is not inside a wait: its node is not there */
bit queued[MAXW + 1];		/* queued (list lock released; shared: seq read) and not returned */
bit blk[MAXW];			/* queued and still in sleep_on */
bit sigd[MAXW];			/* marked SIGNALED by a signal (shared: a broadcast) in this wait */
byte sby[MAXW];			/* by which signaller */
bit inwait[MAXW];		/* inside pthread_cond_wait */
bit insig[2];			/* signaller si inside signal_nodes: its `leaving` exists */
byte nsig[2];			/* how many nodes signaller si marked in its current call */

bit no_lost_wakeup = 1;
bit all_return = 1;
bit cancel_keeps_wakeup = 1;
bit timeout_keeps_wakeup = 1;
bit destroy_ok = 1;
bit destroy_busy_ok = 1;
bit no_access_after_destroy = 1;
bit no_access_after_return = 1;
bit list_wf = 1;

#define ACC	no_access_after_destroy = !freed; assert(no_access_after_destroy)
#define NODE(i)	no_access_after_return = !gone[i]; assert(no_access_after_return)
#define STACKOF(si)	no_access_after_return = insig[si]; assert(no_access_after_return)
/* an access to word id */
#define ACCW(id) \
	if \
	:: id == W_LIST || id == W_SEQ || id == W_COUNT -> ACC \
	:: id >= W_BAR && id < W_BAR + MAXW -> NODE(id - W_BAR) \
	:: id >= W_LEAVE -> STACKOF(id - W_LEAVE) \
	:: else \
	fi

#define BLOCKED_UNSIGNALLED \
	((blk[0] && !sigd[0]) || (blk[1] && !sigd[1]) || (blk[2] && !sigd[2]))

#define ALLT(e) e(0); e(1); e(2); e(3); e(4); e(5)

inline mlock(me) {
	atomic { mtx == 0 -> mtx = me + 1 }
}
inline munlock(me) {
	assert(mtx == me + 1);
	mtx = 0
}

/* FUTEX_WAKE(1): any one sleeper on the word; FUTEX_WAKE(INT_MAX): all. */
inline fwake1(id) {
	atomic {
		if
		:: fw[0] == id -> fw[0] = 0
		:: fw[1] == id -> fw[1] = 0
		:: fw[2] == id -> fw[2] = 0
		:: fw[3] == id -> fw[3] = 0
		:: fw[4] == id -> fw[4] = 0
		:: fw[5] == id -> fw[5] = 0
		:: else
		fi
	}
}
#define WAKE_IF(t) if :: fw[t] == id -> fw[t] = 0 :: else fi
inline fwake_all(id) {
	d_step { ALLT(WAKE_IF) }
}

/*
 * FUTEX_WAIT(word id, val) by thread me: e = EAGAIN if the word is not
 * val, else it sleeps until woken (e = 0) or, timed, until it times out.
 */
inline fwait(id, val, timed, e) {
	atomic {
		ACCW(id);
		if
		:: wd[id] == val -> fw[me] = id; e = 0
		:: else -> e = EAGAIN
		fi
	};
	if
	:: e == 0 ->
		if
		:: atomic { fw[me] == 0 -> skip }
		:: atomic { timed && fw[me] != 0 -> fw[me] = 0; e = ETIMEDOUT }
#ifdef SPURIOUS
		:: atomic { fw[me] != 0 -> fw[me] = 0 }
#endif
		fi
	:: else
	fi
}

/* amutex__small_lock (dropin.h:56, generation 0): 0 free, 1 held, 2 held with sleepers. */
inline small_lock(id) {
	atomic {
		ACCW(id);
		if
		:: wd[id] == 0 -> wd[id] = 1; ok = 1
		:: else -> c_ = wd[id]
		fi
	};
	if
	:: !ok && c_ == 1 ->	/* the spin: one more try */
		atomic {
			ACCW(id);
			if
			:: wd[id] == 0 -> wd[id] = 1; ok = 1; c_ = 0
			:: else -> c_ = wd[id]
			fi
		}
	:: else
	fi;
	if
	:: !ok ->
		if
		:: c_ != 2 -> atomic { ACCW(id); c_ = wd[id]; wd[id] = 2 }
		:: else
		fi;
		do
		:: c_ == 0 -> break
		:: else ->
			fwait(id, 2, 0, e2);
			atomic { ACCW(id); c_ = wd[id]; wd[id] = 2; e2 = 0 }
		od
	:: else
	fi;
	ok = 0
}

/* amutex__small_unlock (dropin.h:84): after the store, only the wake. */
inline small_unlock(id) {
	atomic { ACCW(id); nb = (wd[id] == 2); wd[id] = 0 };
	if
	:: nb -> atomic { nb = 0; fwake1(id) }
	:: else
	fi
}

/*
 * sleep_on (:507) of waiter me on word id while it is val; err: 0 or
 * ETIMEDOUT. The slot: publish (:231), unpublish (:237).
 */
inline sleep_on(id, val) {
	if
	:: cancellable -> atomic { pub[me] = 1 }			/* :515 */
	:: else
	fi;
	do
	:: atomic { ACCW(id); v = (wd[id] == val) };			/* :516 */
		if
		:: !v -> break
		:: else
		fi;
		if
		:: cancellable -> atomic { v = requested[me] };	/* :517 */
			if
			:: v -> break
			:: else
			fi
		:: else
		fi;
		fwait(id, val, timed, err);				/* :518 */
		if
		:: err == ETIMEDOUT -> break
		:: else
		fi
	od;
	atomic { v = 0; blk[me] = 0 };
	if
	:: cancellable ->
		small_lock(W_SLOT + me);				/* :239 */
		atomic { pub[me] = 0 };					/* :240 */
		small_unlock(W_SLOT + me)				/* :241 */
	:: else
	fi;
	if
	:: err != ETIMEDOUT -> err = 0					/* :522 */
	:: else
	fi
}

#ifndef SHARED
#define CANCEL_KEEPS	cancel_keeps_wakeup = !(sigd[me] && acted); assert(cancel_keeps_wakeup)
#else	/* a cancelled shared waiter passes a wake-up on instead: no_lost_wakeup */
#define CANCEL_KEEPS	skip
#endif

/* The relock (:592) and return (:594-601): the node is no longer there. */
inline relock_and_return() {
	atomic {
		mtx == 0 -> mtx = me + 1;
		gone[me] = 1; queued[me] = 0; inwait[me] = 0;
		acted = cancel && !consumed;
		if
		:: !consumed -> skip
		:: else -> err = 0					/* :601 */
		fi;
		CANCEL_KEEPS;
		timeout_keeps_wakeup = !(sigd[me] && !acted && err != 0);
		assert(timeout_keeps_wakeup)
	}
}

#ifndef SHARED

/* ==================================================================
 * THE BATON: who opens which barrier. Everything the model says about it
 * is in this section: heap_link(), segment_check() and baton().
 *
 * The tree (cond.c signal_nodes, amutex__dropin_cond_wait): while it
 * marks, under the list's lock, the signaller links the marked nodes as a
 * tree in the order it marked them (oldest first): the ROOTS oldest are
 * roots (rt0, the oldest, rt1, rt2), and the i-th marked has the
 * 2i+ROOTS-th and 2i+ROOTS+1-th as kid[0] and kid[1]; `pa`, the next
 * parent, starts at rt0 and moves to the next newer SIGNALED node once it
 * has two kids. Once the nodes it detached are settled (no LEAVING one
 * left among them), it opens the roots' barriers, oldest first; each
 * woken waiter, its own barrier opened (node_leave took it), reads both
 * kids from its node and then opens their barriers, before it relocks the
 * mutex.
 * ================================================================== */

/* heap_link: p was just marked SIGNALED (under the list's lock). */
inline heap_link() {
	if
	:: nroot < ROOTS ->
		if
		:: nroot == 0 -> rt0 = p; pa = p; kk = 0
		:: nroot == 1 -> rt1 = p
		:: else -> rt2 = p
		fi;
		nroot++
	:: else ->
		atomic {
			NODE(pa);
			if
			:: kk == 0 -> nkid0[pa] = p
			:: else -> nkid1[pa] = p
			fi;
			kk++
		};
		if
		:: kk == 2 ->
			kk = 0;
			do					/* the next SIGNALED, newer */
			:: atomic { NODE(pa); pa = nprev[pa]; v = (nstate[pa] == SIGNALED) };
				if
				:: v -> v = 0; break
				:: else
				fi
			od
		:: else
		fi
	fi
}

/*
 * The detached nodes, when their signaller opens the roots' barriers: from
 * rt0 to the newest by prev, those it marked SIGNALED and no others.
 */
inline segment_check() {
	d_step {
		x = rt0; k = 0; y = NIL;
		list_wf = (nnext[rt0] == NIL);
		do
		:: x == NIL -> break
		:: x != NIL && k >= MAXW -> list_wf = 0; break
		:: x != NIL && k < MAXW ->
			list_wf = list_wf && nstate[x] == SIGNALED && sby[x] == si &&
				  (y == NIL || nnext[x] == y);
			y = x; x = nprev[x]; k++
		od;
		list_wf = list_wf && k == nsig[si];
		/* the tree: every marked node but a root is exactly one marked node's kid */
		x = 0;
		do
		:: x == MAXW -> break
		:: x < MAXW ->
			if
			:: mby[x] == si + 1 ->
				k = 0; y = 0;
				do
				:: y == MAXW -> break
				:: y < MAXW ->
					if
					:: mby[y] == si + 1 ->
						k = k + (nkid0[y] == x) + (nkid1[y] == x)
					:: else
					fi;
					y++
				od;
				list_wf = list_wf &&
					  (x == rt0 || x == rt1 || x == rt2 -> k == 0 : k == 1)
			:: else
			fi;
			x++
		od;
		assert(list_wf);
		x = 0; k = 0; y = 0
	}
}

/*
 * baton(from): from == NIL, the signaller si; else the woken waiter
 * `from` (== me). The barrier it opens must be a SIGNALED node's (list_wf);
 * after the store that opens it, only the futex wake (small_unlock).
 */
inline open_kid(q) {
	atomic {
		list_wf = (q == NIL || nstate[q] == SIGNALED);
		assert(list_wf)
	};
	if
	:: q != NIL -> small_unlock(W_BAR + q)
	:: else
	fi
}

inline baton(from) {
	if
	:: from == NIL ->		/* from its locals: a root's node may be gone once opened */
		open_kid(rt0);
		open_kid(rt1);
		open_kid(rt2)
	:: else ->
		atomic { NODE(from); q = nkid0[from] };		/* both read first */
		atomic { NODE(from); x = nkid1[from] };
		open_kid(q);
		open_kid(x)
	fi;
	q = 0; x = 0
}
/* ==================== end of the baton ==================== */

/* leave_list (:417): a WAITING node turned LEAVING unlinks itself. */
inline leave_list() {
	small_lock(W_LIST);						/* :423 */
	atomic { ACC; v = (head == me) };				/* :430 */
	if
	:: v -> atomic { ACC; head = nnext[me]; v = 0 }			/* :431 */
	:: else ->
		atomic { p = nprev[me] };				/* :432 */
		if
		:: p != NIL -> atomic { NODE(p); nnext[p] = nnext[me]; p = 0 }	/* :433 */
		:: else -> p = 0
		fi
	fi;
	atomic { ACC; v = (tail == me) };				/* :434 */
	if
	:: v -> atomic { ACC; tail = nprev[me]; v = 0 }			/* :435 */
	:: else ->
		atomic { p = nnext[me] };				/* :436 */
		if
		:: p != NIL -> atomic { NODE(p); nprev[p] = nprev[me]; p = 0 }	/* :437 */
		:: else -> p = 0
		fi
	fi;
	atomic { v = notify[me] };					/* :438 */
	if
	:: v == 0 -> atomic { ACC; nwait-- }				/* :440 */
	:: else
	fi;
	small_unlock(W_LIST);						/* :441 */
	if
	:: v != 0 ->							/* :442 */
		atomic { STACKOF(v - 1); wd[W_LEAVE + v - 1]--; r = (wd[W_LEAVE + v - 1] == 0) };
		if
		:: r -> fwake1(W_LEAVE + v - 1)				/* :443 */
		:: else
		fi;
		atomic { r = 0; v = 0 }
	:: else
	fi
}

/* amutex__dropin_cond_wait (:525), private; ends holding the mutex. */
inline cond_wait() {
	atomic {	/* memset, state WAITING, barrier 2 (:536-549): its own stack */
		inwait[me] = 1; gone[me] = 0; sigd[me] = 0;
		nstate[me] = WAITING; wd[W_BAR + me] = 2;
		nprev[me] = NIL; nnext[me] = NIL; notify[me] = 0
	};
	small_lock(W_LIST);						/* :550 */
	atomic { ACC; nnext[me] = head };				/* :552 */
	atomic { ACC; head = me };					/* :553 */
	atomic { ACC; v = (tail == NIL) };				/* :554 */
	if
	:: v -> atomic { ACC; tail = me; v = 0 }			/* :555 */
	:: else -> atomic { p = nnext[me]; NODE(p); nprev[p] = me; p = 0 }	/* :557 */
	fi;
	atomic { ACC; nwait++; queued[me] = 1; blk[me] = 1 };		/* :558 */
	small_unlock(W_LIST);						/* :559 */
	munlock(me);							/* :561 */
	sleep_on(W_BAR + me, 2);					/* :565 */
	atomic { cancel = cancellable && requested[me] };		/* :566 */
	/* node_leave (:481) */
	atomic {							/* :485 */
		if
		:: nstate[me] == WAITING -> nstate[me] = LEAVING; v = 1
		:: else -> v = 0
		fi
	};
	if
	:: v -> v = 0; leave_list(); consumed = 0			/* :487 */
	:: else -> small_lock(W_BAR + me); consumed = 1			/* :497 */
	fi;
	if
	:: consumed -> baton(me)					/* :582 */
	:: else
	fi;
	relock_and_return()
}

/* signal_nodes (:329) by signaller si; howmany: 1 (signal) or MAXW (broadcast). */
inline signal_nodes(howmany) {
	atomic { ACC; v = (nwait != 0); n_ = howmany; insig[si] = 1; nsig[si] = 0 };	/* :334 */
	if
	:: v ->
		small_lock(W_LIST);					/* :336 */
		atomic { ACC; p = tail };				/* :338 */
		do
		:: n_ > 0 && p != NIL ->
			atomic {					/* :341 */
				NODE(p);
				if
				:: nstate[p] == WAITING ->
					nstate[p] = SIGNALED; sigd[p] = 1; sby[p] = si; nsig[si]++;
					n_--;
					nkid0[p] = NIL; nkid1[p] = NIL; mby[p] = si + 1;
					r = 1
				:: else -> r = 0
				fi
			};
			if
			:: !r ->
				atomic { wd[W_LEAVE + si]++ };		/* :342 */
				atomic { NODE(p); notify[p] = si + 1 }	/* :343 */
			:: else -> r = 0; heap_link()
			fi;
			atomic { ACC; nwait-- };			/* :362 */
			atomic { NODE(p); p = nprev[p] }		/* :338 */
		:: else -> break
		od;
		if							/* :365 */
		:: p != NIL ->
			atomic { NODE(p); q = nnext[p] };		/* :366 */
			if
			:: q != NIL -> atomic { NODE(q); nprev[q] = NIL }	/* :367 */
			:: else
			fi;
			atomic { NODE(p); nnext[p] = NIL; q = 0 }	/* :368 */
		:: else -> atomic { ACC; head = NIL }			/* :370 */
		fi;
		atomic { ACC; tail = p; p = 0; n_ = 0 };		/* :372 */
		small_unlock(W_LIST);					/* :373 */
		do							/* :376 */
		:: atomic { v = wd[W_LEAVE + si] };
			if
			:: v == 0 -> break
			:: else
			fi;
			fwait(W_LEAVE + si, v, 0, e2);			/* :377 */
			e2 = 0
		od;
		if
		:: rt0 != NIL -> segment_check(); baton(NIL)		/* :381 */
		:: else
		fi
	:: else
	fi;
	d_step {
		v = 0; insig[si] = 0; nsig[si] = 0; pa = NIL; kk = 0;
		rt0 = NIL; rt1 = NIL; rt2 = NIL; nroot = 0;
		x = 0;
		do
		:: x == MAXW -> break
		:: x < MAXW -> if :: mby[x] == si + 1 -> mby[x] = 0 :: else fi; x++
		od;
		x = 0
	}
}
#define cond_signal()    signal_nodes(1)
#define cond_broadcast() signal_nodes(MAXW)

/* pthread_cond_destroy (:278), private; r: 0 or EBUSY. */
inline cond_destroy() {
	small_lock(W_LIST);						/* :286 */
	atomic {							/* :287 */
		ACC;
		r = (head != NIL -> EBUSY : 0);
		destroy_busy_ok = (r == EBUSY || !BLOCKED_UNSIGNALLED);
		assert(destroy_busy_ok)
	};
	small_unlock(W_LIST)						/* :288 */
}

/* pthread_cancel's poke (:193-209) of waiter t's barrier. */
inline poke(t) {
	atomic { NODE(t); v = (wd[W_BAR + t] == 2); if :: v -> wd[W_BAR + t] = 3 :: else fi };	/* :204 */
	if
	:: v -> fwake1(W_BAR + t)					/* :206 */
	:: else
	fi;
	v = 0
}

/*
 * list_wf, at every step at which the list's lock is free: head..tail by
 * next, prev the other way, nwait nodes, none SIGNALED, each of a queued
 * waiter; every queued node still WAITING is on it.
 */
#ifndef LTL
/*
 * list_wf, at every step at which the list's lock is free (a never claim:
 * it looks at every state): from head by next, at most MAXW nodes, then
 * NIL; prev the other way; the last one is tail; nwait of them; none
 * SIGNALED, each of a queued waiter; every queued node still WAITING is
 * on it. (list_wf, a constant here, names the failing assertion.)
 */
#define H1	nnext[head]
#define H2	nnext[H1]
#define H3	nnext[H2]
#define LAST	(H2 != NIL -> H2 : (H1 != NIL -> H1 : head))
#define LEN	((head != NIL) + (H1 != NIL) + (H2 != NIL))
#define ON(x)	(x == NIL || (nstate[x] != SIGNALED && queued[x]))
#define FOUND(i) (!queued[i] || nstate[i] != WAITING || head == i || H1 == i || H2 == i)
#define LIST_WF \
	(nnext[NIL] == NIL && nprev[NIL] == NIL && H3 == NIL && \
	 (head == NIL || nprev[head] == NIL) && (H1 == NIL || nprev[H1] == head) && \
	 (H2 == NIL || nprev[H2] == H1) && tail == LAST && LEN == nwait && \
	 ON(head) && ON(H1) && ON(H2) && FOUND(0) && FOUND(1) && FOUND(2))
#define WF_NOW	(wd[W_LIST] != 0 || LIST_WF)
never {
	do
	:: WF_NOW
	:: !WF_NOW -> assert(!list_wf)
	od
}
#endif

#else /* SHARED */

/* amutex__dropin_cond_wait (:525), process-shared; ends holding the mutex. */
inline cond_wait() {
	atomic { inwait[me] = 1; gone[me] = 0; sigd[me] = 0 };
	atomic { ACC; wd[W_COUNT]++ };					/* :545 */
	atomic { ACC; ws = wd[W_SEQ]; queued[me] = 1; blk[me] = 1 };	/* :546 */
	munlock(me);							/* :561 */
	sleep_on(W_SEQ, ws);						/* :563 */
	atomic { cancel = cancellable && requested[me] };		/* :566 */
	/* shared_leave (:451) */
	atomic { ACC; consumed = (wd[W_SEQ] != ws) };			/* :454 */
	atomic { ACC; nn = wd[W_COUNT] };				/* :455 */
	if
	:: cancel && consumed -> fwake1(W_SEQ)				/* :459 */
	:: else
	fi;
	do								/* :461-469 */
	:: atomic {
		mm = CK(nn);
		if
		:: consumed && mm > 0 -> mm--
		:: else
		fi;
		if
		:: mm > CW(nn) - 1 -> mm = CW(nn) - 1
		:: else
		fi;
		mm = (nn & CD) | (mm << 3) | (CW(nn) - 1);
		ACC;
		if
		:: wd[W_COUNT] == nn -> wd[W_COUNT] = mm; ok = 1
		:: else -> nn = wd[W_COUNT]
		fi
	   };
	   if
	   :: ok -> ok = 0; break
	   :: else
	   fi
	od;
	if
	:: CW(mm) == 0 && (mm & CD) -> fwake_all(W_COUNT)		/* :471 */
	:: else
	fi;
	atomic { consumed = consumed && !cancel; nn = 0; mm = 0; ws = 0 };	/* :568 */
	relock_and_return()
}

/*
 * The ghost sigd of a shared waiter: a signal or broadcast came while it
 * was in sleep_on (which one it wakes, the futex decides).
 */
#define MARK_IF(t) if :: blk[t] -> sigd[t] = 1 :: else fi
/* shared_wake (:292): all 0 (signal) or 1 (broadcast). */
inline shared_wake(all) {
	atomic { ACC; wd[W_SEQ]++; MARK_IF(0); MARK_IF(1); MARK_IF(2) };	/* :296 */
	atomic { ACC; nn = wd[W_COUNT] };				/* :297 */
	do
	:: CW(nn) == 0 -> break						/* :301 */
	:: else ->
		atomic {						/* :299-302 */
			mm = (all -> CW(nn) : CK(nn) + (CK(nn) < CW(nn)));
			ACC;
			if
			:: wd[W_COUNT] == nn -> wd[W_COUNT] = (nn & ~(7 << 3)) | (mm << 3); ok = 1
			:: else -> nn = wd[W_COUNT]
			fi;
			mm = 0
		};
		if
		:: ok -> ok = 0; break
		:: else
		fi
	od;
	if								/* :305 */
	:: CW(nn) != 0 ->
		if
		:: all -> fwake_all(W_SEQ)
		:: else -> fwake1(W_SEQ)
		fi
	:: else
	fi;
	nn = 0
}
#define cond_signal()    shared_wake(0)
#define cond_broadcast() shared_wake(1)

/* shared_destroy (:259); r: 0 or EBUSY. */
inline cond_destroy() {
	atomic { ACC; nn = wd[W_COUNT]; v = BLOCKED_UNSIGNALLED };	/* :261 */
	do
	:: CW(nn) == 0 -> r = 0; break					/* :264 */
	:: CW(nn) != 0 && CW(nn) > CK(nn) -> r = EBUSY; break		/* :266 */
	:: CW(nn) != 0 && CW(nn) <= CK(nn) ->
		atomic {						/* :268 */
			ACC;
			v = BLOCKED_UNSIGNALLED;
			if
			:: wd[W_COUNT] == nn -> wd[W_COUNT] = nn | CD; ok = 1
			:: else -> nn = wd[W_COUNT]
			fi
		};
		if
		:: ok -> break
		:: else
		fi
	od;
	destroy_busy_ok = (r == EBUSY || !v);
	assert(destroy_busy_ok);
	if
	:: ok ->
		ok = 0;
		atomic { ACC; wd[W_SEQ]++ };				/* :271 */
		fwake_all(W_SEQ);					/* :272 */
		do							/* :273 */
		:: atomic { ACC; nn = wd[W_COUNT] };
			if
			:: CW(nn) == 0 -> break
			:: else
			fi;
			fwait(W_COUNT, nn, 0, e2);			/* :274 */
			e2 = 0
		od;
		r = 0
	:: else
	fi;
	atomic { nn = 0; v = 0 }
}

/* pthread_cancel's poke (:200-203): c->seq += 1 and wake all. */
inline poke(t) {
	atomic { ACC; wd[W_SEQ]++ };					/* :202 */
	fwake_all(W_SEQ)						/* :203 */
}
#endif /* SHARED */

/* Locals of every thread that runs the condvar's code. */
#define LOCALS \
	byte v, r, p, q, c_, n_, err, e2, ws, nn, mm, x, y, k, kk; \
	byte rt0 = NIL, rt1 = NIL, rt2 = NIL, nroot = 0, pa = NIL; \
	bit ok, nb, cancel, consumed, acted

#ifndef DESTROY
proctype consumer(byte me; bit timed; bit cancellable)
{
	LOCALS;
	bit gaveup = 0;
	mlock(me);
	do
	:: items > 0 -> items--; break
	:: items == 0 && gaveup -> break
	:: items == 0 && !gaveup ->
		cond_wait();
		if
		:: acted -> goto cancelled	/* pthread_testcancel with the mutex held */
		:: else
		fi;
		atomic { gaveup = (err == ETIMEDOUT); err = 0; cancel = 0; consumed = 0 }
	od;
	munlock(me);
	goto out;
cancelled:	/* the cleanup handler unlocks */
	munlock(me);
out:
	fin++
}

proctype producer(byte me; byte si; byte n)
{
	LOCALS;
	byte i = 0;
	do
	:: i == n -> break
	:: else ->
		mlock(me);
		items++;
		if
		:: cond_signal(); munlock(me)
		:: munlock(me); cond_signal()
		fi;
		i++
	od;
	fin++
}
#else
proctype waiter(byte me; bit timed; bit cancellable)
{
	LOCALS;
	mlock(me);
	nin++;
	do
	:: ready -> break
	:: !ready ->
		cond_wait();
		if
		:: acted -> goto cancelled
		:: else
		fi;
		if
		:: err == ETIMEDOUT -> break	/* gives up */
		:: else
		fi
	od;
	munlock(me);
	goto out;
cancelled:
	munlock(me);
out:
	fin++
}

proctype destroyer(byte me; byte si)
{
	LOCALS;
#ifdef BUSY
	atomic { nin == NW && mtx == 0 -> mtx = me + 1 };
	cond_destroy();
	if
	:: r == 0 ->	/* nobody was left on it: freed, and ready for the rest */
		atomic { freed = 1; ready = 1 };
		munlock(me);
		goto out
	:: else
	fi;
	munlock(me);
#endif
	mlock(me);
	ready = 1;
#ifdef OUTSIDE
	munlock(me);	/* the woken can relock and return while it still opens roots */
#endif
#ifdef ONE
	cond_signal();
#else
	cond_broadcast();
#endif
	cond_destroy();
	destroy_ok = (r == 0);
	assert(destroy_ok);
	freed = 1;
#ifndef OUTSIDE
	munlock(me);
#endif
out:
	fin++
}
#endif

proctype canceller(byte me; byte t)
{
	LOCALS;
	atomic { requested[t] = 1 };					/* :193 */
	small_lock(W_SLOT + t);						/* :194 */
	atomic { v = pub[t] };						/* :196 */
	if
	:: v -> poke(t)
	:: else
	fi;
	small_unlock(W_SLOT + t);					/* :209 */
	fin++
}

#ifdef CANCEL
#define NCANCEL 1
#else
#define NCANCEL 0
#endif
#ifdef TIMED
#define TW (NW - 1)
#else
#define TW 255
#endif
#ifdef DESTROY
#define NTHREADS (NW + 1 + NCANCEL)
#else
#define NTHREADS (NW + NP + NCANCEL)
#endif
/*
 * With a cancellation (but for the liveness check), one item fewer: a
 * later signal would otherwise pass on what a cancelled consumer's wake-up
 * failed to. A consumer may then sleep for ever, with nothing there.
 */
#if defined(CANCEL) && !defined(LTL) && !defined(DESTROY)
#define NITEMS (NW - 1)
#define ASLEEP(i) (blk[i] && fw[i] != 0)
#define ENDED (fin + ASLEEP(0) + ASLEEP(1) + ASLEEP(2) == NTHREADS)
#else
#define NITEMS NW
#define ENDED (fin == NTHREADS)
#endif

/*
 * When nothing can move: nobody waits while its predicate holds, and all
 * ended. (With -DLTL, ltl returns says more, and alone.)
 */
#ifndef LTL
active proctype quiet()
{
	timeout ->
	atomic {
#ifndef DESTROY
		no_lost_wakeup = !((inwait[0] || inwait[1] || inwait[2]) && items > 0);
#else
		no_lost_wakeup = !((inwait[0] || inwait[1] || inwait[2]) && ready);
#endif
		assert(no_lost_wakeup);
		all_return = ENDED;
		assert(all_return)
	}
}
#endif

init {
	atomic {
#ifndef DESTROY
		run consumer(0, TW == 0, NCANCEL);
		run consumer(1, TW == 1, 0);
#if NW >= 3
		run consumer(2, TW == 2, 0);
#endif
#if NP == 2
		run producer(SIG0, 0, NITEMS / 2);
		run producer(SIG0 + 1, 1, NITEMS - NITEMS / 2);
#else
		run producer(SIG0, 0, NITEMS);
#endif
#else
		run waiter(0, TW == 0, NCANCEL);
#if NW >= 2
		run waiter(1, TW == 1, 0);
#endif
#if NW >= 3
		run waiter(2, TW == 2, 0);
#endif
		run destroyer(SIG0, 0);
#endif
#ifdef CANCEL
		run canceller(CANCELLER, 0);
#endif
	}
}

#ifdef LTL
ltl returns { <> (fin == NTHREADS) }
#endif
