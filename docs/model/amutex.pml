/*
 * A Promela model of amutex's lock-word protocol (lib/mutex.c), one atomic
 * step per atomic instruction of the C code, checked with spin by
 * tests/model.sh. Transition names (L1..L6, U1..U4, T1..T4) are those of
 * docs/design.md.
 *
 * Checked: mutual exclusion; no thread blocks forever (spin's invalid end
 * states: a lost wake-up leaves a sleeper behind); at the end the lock word
 * is 0 and no token is left (no waiter or token leaked); the waiter count
 * never underflows.
 *
 * Abstractions: spinning is at most SPINS looks at the word; "waited longer
 * than the threshold" and "the deadline passed" are free choices; futex_wake
 * wakes any one sleeper (Linux wakes the oldest: any is more general); a
 * timed sleeper may time out at any moment; with -DSPURIOUS any sleeper may
 * also wake spuriously (then a lost wake-up would be a livelock, not a
 * stuck thread, so the deadlock check is the run without it).
 * STATS/TIMED bits and statistics are left out: the protocol ignores them.
 */

#ifndef N
#define N       3	/* threads: 2 or 3; the second one uses timed locks */
#endif
#ifndef ROUNDS
#define ROUNDS  2	/* lock/unlock pairs per thread */
#endif
#define SPINS   1

#define LOCKED   1
#define WOKEN    2
#define STARVING 4
#define WAITER   32
#define WAITERS(s) ((s) / WAITER)
#define TOKENS(w)  ((w) % 256)
#define POST     257	/* one token and one more post */

int state = 0;
int sema = 0;
bool sleeping[3];
byte in_cs = 0;
byte done = 0;

/* cas(p, old, new, ok): old gets the current value on failure. */
#define cas(p, old, new, ok) \
	atomic { if :: p == old -> p = new; ok = 1 :: else -> old = p; ok = 0 fi }

/* futex_wake(1) on sema: any one sleeper, or none. */
inline futex_wake_one() {
	atomic {
		if
		:: sleeping[0] -> sleeping[0] = 0
		:: sleeping[1] -> sleeping[1] = 0
		:: sleeping[2] -> sleeping[2] = 0
		:: else -> skip
		fi
	}
}

/* sema_post: publish a token, wake one. */
inline sema_post() {
	sema = sema + POST;
	futex_wake_one()
}

/* futex_wait(sema, expect): returns at once if the word moved. */
inline futex_wait(expect, may_time_out, timedout) {
	timedout = 0;
	atomic { if :: sema == expect -> sleeping[_pid - 1] = 1 :: else -> skip fi };
	if
	:: sleeping[_pid - 1] ->
		if
		:: !sleeping[_pid - 1] -> skip			/* woken */
#ifdef SPURIOUS
		:: atomic { sleeping[_pid - 1] -> sleeping[_pid - 1] = 0 }	/* spurious */
#endif
		:: atomic { may_time_out && sleeping[_pid - 1] -> sleeping[_pid - 1] = 0; timedout = 1 }
		fi
	:: else -> skip
	fi
}

/* wake_one (U2): normal-mode wake unless not needed. */
inline wake_one(old) {
	do
	:: WAITERS(old) == 0 || (old & (LOCKED | WOKEN | STARVING)) != 0 -> break
	:: else ->
		cas(state, old, (old - WAITER) | WOKEN, ok);
		if :: ok -> sema_post(); break :: else -> skip fi
	od
}

proctype T(bool timed)
{
	byte k = 0, iter;
	int old, new, seen, w, delta;
	bool ok, starving, awoke, timedout, may_time_out, orphan_check;

	do
	:: k == ROUNDS -> break
	:: k < ROUNDS ->
		k++;
		/* L1: the inline fast path */
		old = 0;
		cas(state, old, LOCKED, ok);
		if :: ok -> goto cs :: else -> skip fi;

		/* the slow path */
		starving = 0; awoke = 0; iter = 0; old = state;
	loop:
		/* L3: spin while held in normal mode */
		if
		:: (old & (LOCKED | STARVING)) == LOCKED && iter < SPINS ->
			if
			:: !awoke && (old & WOKEN) == 0 && WAITERS(old) != 0 ->
				cas(state, old, old | WOKEN, ok);
				if :: ok -> awoke = 1 :: else -> skip fi
			:: else -> skip
			fi;
			iter++;
			old = state;
			goto loop
		:: else -> skip
		fi;
		/* L2 / L4 */
		new = old;
		if :: (old & STARVING) == 0 -> new = new | LOCKED :: else -> skip fi;
		if
		:: (old & (LOCKED | STARVING)) != 0 ->
			new = new + WAITER;
			if
			:: timed -> goto give_up	/* T4: deadline passed before queuing */
			:: true -> skip
			fi
		:: else -> skip
		fi;
		if :: starving && (old & LOCKED) -> new = new | STARVING :: else -> skip fi;
		if :: awoke -> new = new & ~WOKEN :: else -> skip fi;
		seen = sema;
		cas(state, old, new, ok);
		if :: !ok -> goto loop :: else -> skip fi;
		if :: (old & (LOCKED | STARVING)) == 0 -> goto cs :: else -> skip fi;
		assert(WAITERS(new) <= N);
		awoke = 0;

		/* sema_take(seen) */
		w = seen;
		may_time_out = timed;
		/* the first sleep on a word that held a token is bounded: the orphan check */
		orphan_check = TOKENS(w) > 0;
	take:
		futex_wait(w, may_time_out || orphan_check, timedout);
		if
		:: timedout && orphan_check -> orphan_check = 0; goto retake
		:: timedout && !orphan_check -> goto cancel
		:: else -> skip
		fi;
	retake:
		w = sema;
		if
		:: TOKENS(w) > 0 ->
			cas(sema, w, w - 1, ok);
			if :: ok -> goto woke :: else -> goto retake fi
		:: else -> goto take
		fi;

	cancel:	/* T1-T3 */
		w = sema;
		if
		:: TOKENS(w) > 0 ->
			cas(sema, w, w - 1, ok);
			if :: ok -> goto woke :: else -> goto cancel fi
		:: else -> skip
		fi;
		old = state;
		if
		:: WAITERS(old) == 0 ->		/* T2: ours is committed */
			may_time_out = 0;
			orphan_check = 0;
			w = w - TOKENS(w);
			goto take
		:: else -> skip
		fi;
		new = old - WAITER;
		if
		:: WAITERS(new) == 0 && (old & (LOCKED | STARVING)) == (LOCKED | STARVING) ->
			new = new & ~STARVING
		:: else -> skip
		fi;
		cas(state, old, new, ok);
		if :: ok -> goto next :: else -> goto cancel fi;	/* T3: ETIMEDOUT */

	woke:	/* L5 / L6 */
		if :: true -> starving = 1 :: true -> skip fi;
		old = state;
		if
		:: (old & (LOCKED | STARVING)) == STARVING ->
			delta = LOCKED;
			if :: !starving || WAITERS(old) == 0 -> delta = delta - STARVING :: else -> skip fi;
			state = state + delta;
			goto cs
		:: else -> skip
		fi;
		awoke = 1; iter = 0;
		goto loop;

	give_up:	/* T4 */
		if
		:: awoke ->
			atomic { state = state & ~WOKEN; old = state };
			wake_one(old)
		:: else -> skip
		fi;
		goto next;

	cs:
		in_cs++;
		assert(in_cs == 1);
		assert(state & LOCKED);
		in_cs--;
		/* U1: unlock */
		atomic { state = state - LOCKED; old = state };
		if
		:: old != 0 ->
			if
			:: (old & STARVING) == 0 -> wake_one(old)	/* U2 */
			:: else ->
				do	/* U3 / U4 */
				:: WAITERS(old) == 0 ->
					cas(state, old, old & ~STARVING, ok);
					if :: ok -> break :: else -> skip fi
				:: else ->
					cas(state, old, old - WAITER, ok);
					if :: ok -> sema_post(); break :: else -> skip fi
				od
			fi
		:: else -> skip
		fi;
	next:
		skip
	od;
	done++
}

init {
	atomic {
		run T(false);
		run T(true);
#if N == 3
		run T(false)
#endif
	};
	done == N;
	assert(state == 0);
	assert(TOKENS(sema) == 0)
}
