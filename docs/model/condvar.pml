/*
 * A Promela model of the drop-in's condition variable, lib/dropin/cond.c as
 * it is now (to be redesigned): a sequence-number futex word `seq` (+1 per
 * signal or broadcast) and a count `waiters` of threads between their
 * increment before reading seq and their decrement after the futex wait.
 * One atomic block per access to the condvar. The mutex is abstract (a
 * blocking test-and-set): its protocol is docs/model/amutex.pml's. Checked
 * by tests/model.sh; docs/verification.md has the results.
 *
 * Programs, chosen with -D:
 *   (default)  NW consumers: lock; while (items == 0) wait; items--; unlock.
 *              A producer: NW times lock; items++; signal; unlock.
 *   CANCEL     consumer 0 may be cancelled at any point of its futex wait
 *              (pthread_cond_wait's asynchronous window) and then exits
 *              through the cleanup handler (cancelled(): waiters--, relock;
 *              the program's handler unlocks); the producer makes one item
 *              fewer.
 *   DESTROY    NW waiters: lock; while (!ready) wait; unlock; then they are
 *              finished with the condvar. A broadcaster: lock; ready = 1;
 *              broadcast; destroy; free (POSIX's pthread_cond_destroy
 *              example: safe once no thread is blocked on it); unlock.
 *
 * Properties, each a named flag that its assertion prints:
 *   no_lost_wakeup              when nothing can move, no consumer sleeps
 *                               while an item is there (a signal sent while
 *                               a thread is blocked wakes at least one)
 *   cancel_passes_wakeup        the same with a cancelled consumer: a
 *                               cancellation that consumed a wake-up passes
 *                               it on (POSIX: a cancelled waiter shall not
 *                               consume a signal another waiter could take)
 *   destroy_after_broadcast_ok  pthread_cond_destroy right after a
 *                               broadcast returns 0
 *   no_access_after_destroy     nobody touches the condvar after it was
 *                               destroyed and freed (a futex wake on its
 *                               address would be allowed)
 * KNOWN BUGS of the current cond.c, shown by this model and expected to
 * fail by tests/model.sh until the redesign: cancel_passes_wakeup (the
 * cleanup handler takes the wake-up with it), destroy_after_broadcast_ok
 * (woken waiters still count in `waiters`: EBUSY) and
 * no_access_after_destroy (those waiters then decrement `waiters` in freed
 * memory). A fix must flip them to passing.
 *
 * Abstractions: FUTEX_WAKE(n) wakes any n sleepers; no spurious wake-ups
 * and no timeouts (they could only hide a lost wake-up); sequentially
 * consistent memory (cond.c makes these accesses seq-cst).
 */

#ifndef NW
#define NW 2
#endif
#define MAXW 3

byte seq = 0;			/* pt_cond.seq */
byte waiters = 0;		/* pt_cond.waiters */
bit asleep[MAXW];		/* in futex_wait on seq */
byte mtx = 0;			/* the mutex: 0 free, 1 + the owner */
byte items = 0;			/* the consumers' predicate */
bit ready = 0;			/* the DESTROY waiters' predicate */
bit freed = 0;
byte finished = 0;

bit no_lost_wakeup = 1;
bit cancel_passes_wakeup = 1;
bit destroy_after_broadcast_ok = 1;
bit no_access_after_destroy = 1;

/* Every access to the condvar's memory. */
#define ACC	no_access_after_destroy = !freed; assert(no_access_after_destroy)

inline mlock(me) {
	atomic { mtx == 0 -> mtx = me + 1 }
}
inline munlock(me) {
	assert(mtx == me + 1);
	mtx = 0
}

/* FUTEX_WAKE(n) on seq: any n sleepers (n is 1 or all). */
inline futex_wake(n) {
	atomic {
		if
		:: n == 1 ->
			if
			:: asleep[0] -> asleep[0] = 0
			:: asleep[1] -> asleep[1] = 0
			:: asleep[2] -> asleep[2] = 0
			:: else
			fi
		:: else -> asleep[0] = 0; asleep[1] = 0; asleep[2] = 0
		fi
	}
}

/* wake(c, n): seq += 1; then, if anybody waits, FUTEX_WAKE(n). */
inline wake(n) {
	atomic { ACC; seq++ };
	atomic { ACC; nw = waiters };
	if
	:: nw > 0 -> futex_wake(n)
	:: else
	fi;
	nw = 0
}

/*
 * wait(c, m) for thread me; cancellable: it may be cancelled in the
 * asynchronous window around the futex wait. Ends holding the mutex, or,
 * cancelled, in the cleanup handler (label cancelled in the caller).
 */
inline cond_wait(me, cancellable) {
	atomic { ACC; waiters++ };
	atomic { ACC; s = seq };
	munlock(me);
	/* pthread_setcanceltype(ASYNCHRONOUS): from here to its undo, a cancel acts at once */
	if
	:: cancellable && !cancelled_once -> cancelled_once = 1; goto cancelled	/* before the sleep */
	:: true
	fi;
	atomic {	/* amutex__futex_wait(&c->seq, s, abs, how) */
		ACC;
		if
		:: seq == s -> asleep[me] = 1
		:: else				/* EAGAIN */
		fi
	};
	if
	:: atomic { !asleep[me] -> skip }	/* woken, or never slept */
	:: atomic { cancellable && !cancelled_once && asleep[me] ->
		asleep[me] = 0; cancelled_once = 1; goto cancelled }	/* while asleep */
	fi;
	if
	:: cancellable && !cancelled_once -> cancelled_once = 1; goto cancelled	/* after the wake */
	:: true
	fi;
	/* pthread_setcanceltype(old) */
	atomic { ACC; waiters-- };
	mlock(me)
}

#ifndef DESTROY
proctype consumer(byte me)
{
	byte s;
	bit cancelled_once = 0;
	bit cancellable = 0;
#ifdef CANCEL
	cancellable = (me == 0);
#endif
	mlock(me);
	do
	:: items == 0 -> cond_wait(me, cancellable)
	:: else -> break
	od;
	items--;
	munlock(me);
	goto out;
cancelled:	/* cancelled(): waiters--, relock; then the program's handler unlocks */
	atomic { ACC; waiters-- };
	mlock(me);
	munlock(me);
out:
	finished++
}

proctype producer(byte me)
{
	byte s, i = 0, nw = 0;
	bit cancelled_once, cancellable;
	do
#ifdef CANCEL
	:: i == NW - 1 -> break
#else
	:: i == NW -> break
#endif
	:: else ->
		mlock(me);
		items++;
		wake(1);	/* pthread_cond_signal */
		munlock(me);
		i++
	od;
	finished++
}
#else
proctype waiter(byte me)
{
	byte s;
	bit cancelled_once = 0, cancellable = 0;
	mlock(me);
	do
	:: !ready -> cond_wait(me, 0)
	:: else -> break
	od;
	munlock(me);
	goto out;
cancelled:
	skip;
out:
	finished++
}

proctype broadcaster(byte me)
{
	byte nw = 0;
	mlock(me);
	ready = 1;
	wake(255);		/* pthread_cond_broadcast */
#ifndef KEEP
	atomic {		/* pthread_cond_destroy: EBUSY while waiters != 0; then free */
		ACC;
		destroy_after_broadcast_ok = (waiters == 0);
#ifdef DESTROY_RESULT
		assert(destroy_after_broadcast_ok);
#endif
		freed = 1
	};
#endif
	munlock(me);
	finished++
}
#endif

/* When nothing can move: nobody sleeps while there is an item for them. */
active proctype monitor()
{
	timeout ->
#ifndef DESTROY
	atomic {
		if
		:: (asleep[0] || asleep[1] || asleep[2]) && items > 0 ->
#ifdef CANCEL
			cancel_passes_wakeup = 0
#else
			no_lost_wakeup = 0
#endif
		:: else
		fi;
		assert(no_lost_wakeup);
		assert(cancel_passes_wakeup)
	}
#else
	atomic {
		if
		:: (asleep[0] || asleep[1] || asleep[2]) && ready -> no_lost_wakeup = 0
		:: else
		fi;
		assert(no_lost_wakeup)
	}
#endif
}

init {
	atomic {
#ifndef DESTROY
		run producer(NW);
		run consumer(0);
		run consumer(1);
#if NW >= 3
		run consumer(2);
#endif
#else
		run broadcaster(NW);
		run waiter(0);
		run waiter(1);
#if NW >= 3
		run waiter(2);
#endif
#endif
	}
}
