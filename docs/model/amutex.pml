/*
 * A Promela model of amutex's lock-word protocol: lib/mutex/protocol.c and
 * the inline fast paths of include/amutex/static/amutex.h. Each atomic
 * block is one access to the mutex's memory (a load, a CAS, an add) with
 * the thread-local computation before it; the transition names (L1..L6,
 * U1..U4, T1..T4, S1, EPERM, ORPHAN) are the STEP() labels of protocol.c
 * and the rows of docs/design.md. docs/verification.md says what is checked
 * for which configurations, with the numbers; tests/model.sh runs it and
 * tests/model-mutations.sh plants known bugs and expects each to be caught.
 *
 * The program. NT threads; thread t runs R<t> operations, each chosen from
 * OPS<t>: lock (L1, then amutex__lock_contended: spin L3, compete L2/L4,
 * sleep_for_token, handoff L5/L6), timedlock (the same with a deadline:
 * T1-T4), trylock; each successful lock is followed by a critical section
 * and amutex_unlock (U1 inline, then amutex__unlock_slow: U1-U4). OP_MISUSE:
 * once, an unlock of the mutex while nobody holds it (EPERM). STATS=1: the
 * drop-in attaches statistics (S1) at the first contention of a slow path,
 * and lock_contended takes its observed-mutex L2 first. The references: each
 * thread drops its reference to the mutex at the end of its last operation,
 * under the lock if that operation locked; the thread that drops the last
 * one under the lock destroys and frees the mutex when its unlock returns,
 * while the others may still be inside theirs (POSIX allows it; glibc bug
 * 13690).
 *
 * The properties, asserted in each step that could break them:
 *   mutual exclusion     one owner at a time; LOCKED set while it owns
 *   no barging           while STARVING is set the lock is taken only by a
 *                        handoff (L5)
 *   invariant 1          sleepers = waiters + tokens (posted in sema, or
 *                        committed by a poster's CAS and not yet added); a
 *                        thread sleeps from its queueing CAS until it takes
 *                        a token or leaves (T3)
 *   invariant 2          at most one token outstanding
 *   invariant 3          a token is taken as a handoff (L5) iff it was
 *                        posted as one (U3); no token is taken while the
 *                        lock is held in starvation mode (so handoff()'s
 *                        test of LOCKED never decides anything)
 *   WOKEN                set iff it has exactly one owner: a spinner (L3),
 *                        a pending normal-mode token or the thread it woke
 *                        (U2, L6); a spinner claims it only while someone
 *                        sleeps, or until a sleeper leaves (design.md, L3)
 *   starvation ends      INV_EXIT: STARVING with the lock held and nobody
 *                        left in a lock call who starved, only while
 *                        waiters remain and the owner did not get the lock
 *                        in a handoff; so the first handoff to a thread that
 *                        did not starve, or the unlock that finds no waiter,
 *                        ends the mode
 *   EPERM                an unlock of an unlocked mutex writes nothing
 *   S1                   attaching statistics changes neither word
 *   lifetime             no access to state or sema after the mutex was
 *                        freed (the futex wake on its address is allowed);
 *                        destroy finds it at rest (it would answer EBUSY)
 *   orphan rescue        the orphan check finds a token only if a T3 left
 *                        while that token was outstanding (gated only)
 *   no lost wake-up      no thread blocked at the end (invalid end states)
 *   at rest              at the end the word is 0 and no token is left
 *   liveness (-DLTL)     ltl returns: every lock call returns; ltl
 *                        ends_starvation: once nobody sleeps, STARVING is
 *                        cleared (pan -a -f: weak fairness)
 *   bounded bypass       -DBYPASS=K with -DFIFO: while the same thread is
 *                        the oldest sleeper, no other thread receives more
 *                        than K handoffs (fails for K=1: docs/verification.md)
 *
 * Abstractions: a spinner slot is a free choice and spinning is at most
 * SPINS rounds; "waited longer than the threshold" and "the deadline
 * passed" are free choices (a passed deadline stays passed; a malformed one
 * behaves as passed); futex_wake(1) wakes any one sleeper, or the oldest
 * with -DFIFO (Linux, equal priorities); a timed sleeper's wait times out at
 * any moment. The orphan bound (1 ms) fires only when nothing else can move
 * (Promela's timeout: the default, ORPHAN_GATED), or at any moment with
 * -DORPHAN_FREE (then the rescue assertion is off: a bound may end before
 * the token's rightful taker has run). -DSPURIOUS: a futex wait may return
 * for no reason. Memory is sequentially consistent (the C makes every step
 * of invariant 4 seq-cst; the others are not checked for weaker orders).
 * sema is kept as its token count and a bit per thread that says whether
 * the word changed since that thread last read it (below). Left out: TIMED (a constant bit that sends every operation out of line),
 * the statistics themselves, the fork repair F1, process-shared futexes,
 * the real clock, the spinner count.
 */

#define MAXT 4
#ifndef NT
#define NT 3
#endif
#ifndef ROUNDS
#define ROUNDS 1
#endif
#ifndef R0
#define R0 ROUNDS
#endif
#ifndef R1
#define R1 ROUNDS
#endif
#ifndef R2
#define R2 ROUNDS
#endif
#ifndef R3
#define R3 ROUNDS
#endif
#define OP_LOCK   1
#define OP_TIMED  2
#define OP_TRY    4
#define OP_MISUSE 8
#ifndef OPS0
#define OPS0 OP_LOCK
#endif
#ifndef OPS1
#define OPS1 (OP_LOCK | OP_TIMED)
#endif
#ifndef OPS2
#define OPS2 OP_LOCK
#endif
#ifndef OPS3
#define OPS3 OP_TIMED
#endif
#ifndef SPINS
#define SPINS 1			/* AMUTEX_DEFAULT_SPIN_ROUNDS is 4: each is one more look */
#endif
#ifndef SP0
#define SP0 SPINS		/* spin rounds per thread: 0 is AMUTEX_SPIN=off */
#endif
#ifndef SP1
#define SP1 SPINS
#endif
#ifndef SP2
#define SP2 SPINS
#endif
#ifndef SP3
#define SP3 SPINS
#endif
#ifndef STARVE
#define STARVE 1		/* 0: the threshold is "never" */
#endif
#ifndef STATS
#define STATS 0
#endif
#ifndef LIFETIME
#define LIFETIME 1
#endif

/* include/amutex/static/amutex.h (TIMED, bit 3, left out) */
#define LOCKED   1
#define WOKEN    2
#define STARVING 4
#define WAITER   16
#define W(s)     ((s) >> 4)
#define TOKENS(w) (w)		/* AMUTEX__SEMA_TOKENS */

byte state = 0;			/* amutex_t.state */
/*
 * amutex_t.sema: its token count, and per thread whether the word changed
 * since the thread last read it. In the C word the post count (bits 8-31)
 * is there only so that every post changes the word; so two values of it
 * compare equal exactly when no post or take came between, which is what
 * moved[t] records (no history of counts, which would make every run its
 * own set of states).
 */
byte sema = 0;
bit moved[MAXT];
/*
 * posted[t]: a post has happened since t's queueing snapshot (the C
 * compares the post count, bits 8-31 of sema, with the snapshot's).
 * sema_take takes a token only then, or once the orphan check fired.
 */
bit posted[MAXT];
#define READ_SEMA(v)	v = sema; moved[id] = 0		/* v = load(&m->sema) */
#define SAME_SEMA	(!moved[id])			/* sema still == what id read */
#define WRITE_SEMA(v)	sema = v; moved[0] = 1; moved[1] = 1; moved[2] = 1; moved[3] = 1
#define FORGET_SEMA	moved[id] = 1			/* what id read is dead */
bit stats = 0;			/* amutex_t.stats != NULL */

/* The kernel's futex queue on sema: fpos[t] is t's place, 1 the oldest; 0 awake. */
byte fpos[MAXT];
byte fqlen = 0;

/* Ghost state. */
byte owner = 0;			/* 1 + the owner */
bit ohandoff = 0;		/* the owner got the lock in a handoff */
byte sleepers = 0;
byte committed = 0;		/* tokens committed by a poster's CAS, not yet added */
#define NORMAL  1
#define HANDOFF 2
byte tokkind = 0;		/* what the outstanding token is */
byte wown = 0;			/* owners of WOKEN */
byte wspinner = 0;		/* 1 + the spinner that owns WOKEN */
bit wsp_t3 = 0;			/* a sleeper left (T3) since that spinner's L3 */
byte nstarved = 0;		/* threads in a lock call or critical section that starved */
bit orphaned = 0;		/* a T3 left while the outstanding token was pending */
byte refs = NT;			/* the program's references to the mutex */
bit freed = 0;
byte done = 0;
bit trying[MAXT];		/* in a lock call */
byte ops[MAXT];
byte rounds[MAXT];
byte spins[MAXT];

#define TOKS (TOKENS(sema) + committed)
#define INV_EXIT \
	((state & (LOCKED | STARVING)) != (LOCKED | STARVING) || nstarved > 0 || \
	 (W(state) > 0 && !ohandoff))
#define INV \
	assert(sleepers == W(state) + TOKS);	/* invariant 1 */ \
	assert(TOKS <= 1);			/* invariant 2 */ \
	assert(((state & WOKEN) != 0 && wown == 1) || ((state & WOKEN) == 0 && wown == 0)); \
	assert(wspinner == 0 || sleepers > 0 || wsp_t3); \
	EXIT_CHECK

#ifdef BYPASS
/*
 * Bounded bypass (with -DFIFO): sleepers ranked by their queueing CAS
 * (srank 1 = the oldest); byp[t] counts t's handoffs while the same thread
 * has been the oldest sleeper; no more than BYPASS each.
 */
byte srank[MAXT];
byte snum = 0;
byte byp[MAXT];
#define SRM(t, i) if :: srank[i] > srank[t] -> srank[i]-- :: else fi
#define SLEEP_IN	snum++; srank[id] = snum
#define SLEEP_OUT \
	if :: srank[id] == 1 -> byp[0] = 0; byp[1] = 0; byp[2] = 0; byp[3] = 0 :: else fi; \
	SRM(id, 0); SRM(id, 1); SRM(id, 2); SRM(id, 3); srank[id] = 0; snum--
#define BYPASS_CHECK \
	if \
	:: snum > 0 -> byp[id]++; assert(byp[id] <= BYPASS)	/* bounded bypass */ \
	:: else \
	fi
#else
#define SLEEP_IN	skip
#define SLEEP_OUT	skip
#define BYPASS_CHECK	skip
#endif

#ifndef NO_EXIT
#define EXIT_CHECK assert(INV_EXIT)
#else
#define EXIT_CHECK skip		/* only for tests/model-mutations.sh */
#endif

#define ACC assert(!freed)		/* an access to the mutex's memory */
#define WR  assert(!misuse && !s1)	/* a write to state or sema */

#define DEQ1(t, i) if :: fpos[i] > fpos[t] -> fpos[i]-- :: else fi
inline fq_remove(t) {
	DEQ1(t, 0); DEQ1(t, 1); DEQ1(t, 2); DEQ1(t, 3);
	fpos[t] = 0;
	fqlen--
}

/* FUTEX_WAKE(1) on sema: one sleeper, or none. No ACC: harmless after free. */
inline futex_wake_one() {
	atomic {
		if
#ifdef FIFO
		:: fpos[0] == 1 -> fq_remove(0)
		:: fpos[1] == 1 -> fq_remove(1)
		:: fpos[2] == 1 -> fq_remove(2)
		:: fpos[3] == 1 -> fq_remove(3)
#else
		:: fpos[0] != 0 -> fq_remove(0)
		:: fpos[1] != 0 -> fq_remove(1)
		:: fpos[2] != 0 -> fq_remove(2)
		:: fpos[3] != 0 -> fq_remove(3)
#endif
		:: else
		fi
	}
}

inline acquired(handoff) {
	assert(owner == 0);				/* mutual exclusion */
	assert(!(state & STARVING) || handoff);	/* no barging while starving */
	owner = id + 1;
	ohandoff = handoff;
	trying[id] = 0;
	old = 0; new = 0; seen = 0; FORGET_SEMA; iter = 0; until = 0; expired = 0; ok = 0
}

inline released() {
	assert(owner == id + 1);
	owner = 0;
	ohandoff = 0;
	if :: starving -> nstarved--; starving = 0 :: else fi
}

/* sema_post: the token (sema += POST), then the wake. */
inline sema_post() {
	atomic { ACC; WR; WRITE_SEMA(sema + 1); posted[0] = 1; posted[1] = 1; posted[2] = 1;
		 posted[3] = 1; committed--; INV };	/* sema += POST */
	futex_wake_one()
}

/* The drop-in's S1: a pointer CAS; the words stay as they are. */
inline s1_attach() {
	atomic {
		ACC;
		s1 = 1; sv_state = state; READ_SEMA(sv_sema);
		if :: stats == 0 -> stats = 1 :: else fi;
		assert(state == sv_state && SAME_SEMA);
		s1 = 0; sv_state = 0; sv_sema = 0; FORGET_SEMA
	}
}

/*
 * amutex_unlock: the inline CAS LOCKED -> 0 (U1), else amutex__unlock_slow.
 * No labels: it also runs, as one atomic block, as the misuse unlock.
 */
inline unlock() {
	atomic {
		if
		:: !misuse ->	/* the critical section ends; the last one drops the reference */
			assert(owner == id + 1 && (state & LOCKED));
			if
			:: LIFETIME && k == rounds[id] -> refs--; lastref = (refs == 0); dropped = 1
			:: else
			fi
		:: else
		fi;
		ACC;
		if
		:: state == LOCKED -> WR; state = 0; released(); ok = 1; INV	/* U1, inline */
		:: else -> ok = 0
		fi
	};
	if
	:: ok -> ok = 0
	:: else ->
		atomic { ACC; old = state; ok = !(old & LOCKED) };	/* EPERM */
		do
		:: ok -> ok = 0; break
		:: else ->
			atomic {
				if
				:: !(old & LOCKED) -> ok = 1				/* EPERM */
				:: (old & LOCKED) && (old & STARVING) && W(old) == 0 ->
					ACC;						/* U4, first half */
					if
					:: state == old -> WR; state = old & ~STARVING; old = state; INV
					:: else -> old = state
					fi
				:: (old & LOCKED) && !((old & STARVING) && W(old) == 0) ->
					if
					:: old & STARVING ->
						new = old - LOCKED - WAITER; kind = HANDOFF	/* U3 */
					:: !(old & STARVING) && W(old) != 0 && !(old & WOKEN) ->
						new = (old - LOCKED - WAITER) | WOKEN; kind = NORMAL	/* U2 */
					:: else -> new = old - LOCKED; kind = 0		/* U1 */
					fi;
					ACC;
					if
					:: state == old ->
						WR; state = new; released();
						post = kind;
						if
						:: post -> committed++; tokkind = post;
							if :: post == NORMAL -> wown++ :: else fi
						:: else
						fi;
						ok = 1;
						INV
					:: else -> old = state
					fi;
					kind = 0; new = 0
				fi
			}
		od;
		/* From here on the mutex may be another thread's, or gone. */
		if
		:: post -> post = 0; sema_post()
		:: else
		fi
	fi
}

/* futex_wait(sema, seen, until): sleep, unless the word moved (EAGAIN) */
#define FUTEX_WAIT \
	ACC; \
	if \
	:: SAME_SEMA -> fqlen++; fpos[id] = fqlen; goto asleep \
	:: else -> goto look \
	fi

/* The top of lock_contended's loop: spin (L3), or compete (L2/L4). */
#define LOOP \
	if \
	:: (old & (LOCKED | STARVING)) == LOCKED && iter < spins[id] -> goto spin	/* a spinner slot */ \
	:: true -> goto compete \
	fi

proctype T(byte id)
{
	byte k = 0, iter = 0, post = 0, kind = 0, got = 0, until = 0, op = 0;
	byte old = 0, new = 0, sv_state = 0;
	byte seen = 0, sv_sema = 0;
	bit ok, starving, awoke, expired, queue, ws, rescue, misuse, s1, lastref, dropped, misused, clr;

#define NONE  0
#define ABS   1
#define BOUND 2

round:
	atomic {
		if
		:: k == rounds[id] ->
			/* a last operation that did not lock drops the reference on return */
			if :: LIFETIME && !dropped -> refs--; dropped = 1 :: else fi;
			if
			:: lastref ->	/* the last user: amutex_destroy, then free */
				ACC;
				assert(state == 0);	/* destroy would answer EBUSY */
				assert(TOKS == 0);
				freed = 1
			:: else
			fi;
			done++;
			goto end
		:: else
		fi;
		k++;
		if
		:: ops[id] & OP_LOCK -> op = OP_LOCK
		:: ops[id] & OP_TIMED -> op = OP_TIMED
		:: ops[id] & OP_TRY -> op = OP_TRY
		:: (ops[id] & OP_MISUSE) && !misused -> op = OP_MISUSE
		fi;
		if
		:: op == OP_TRY ->	/* amutex_trylock */
			ACC; old = state; goto trylock
		:: op == OP_MISUSE ->	/* unlock a mutex nobody holds: EPERM, and nothing written */
			misused = 1;
			if
			:: !(state & LOCKED) ->
				misuse = 1; sv_state = state; READ_SEMA(sv_sema);
				unlock();
				assert(state == sv_state && SAME_SEMA);
				misuse = 0; sv_state = 0; sv_sema = 0; FORGET_SEMA
			:: else
			fi;
			old = 0; ok = 0;
			goto round
		:: else ->		/* L1: CAS 0 -> LOCKED */
			trying[id] = 1;
			ACC;
			if
			:: state == 0 -> WR; state = LOCKED; acquired(0); INV; goto cs
			:: else -> if :: STATS -> goto observe :: else -> goto contended fi
			fi
		fi
	};

observe:	/* the drop-in: a first contention attaches statistics (S1) */
	atomic { ACC; ws = stats; if :: ws -> ws = 0; goto contended :: else fi };
	s1_attach();

contended:	/* amutex__lock_contended */
	atomic {
		ACC; old = state; iter = 0;
		if :: STATS -> goto observed :: else -> LOOP fi
	};
observed:	/* waiter_init reads the statistics pointer; an observed mutex tries L2 first */
	atomic {
		ACC; ws = stats;
		if
		:: ws && !(old & (LOCKED | STARVING)) -> ws = 0; goto observed_l2
		:: else -> ws = 0; LOOP
		fi
	};
observed_l2:
	atomic {
		ACC;
		if
		:: state == old -> WR; state = old | LOCKED; acquired(0); INV; goto cs	/* L2 */
		:: else -> old = state; LOOP
		fi
	};

spin:	/* L3: a spinner claims WOKEN if sleepers exist and nobody has it */
	atomic {
		if
		:: !awoke && !(old & WOKEN) && W(old) != 0 ->
			ACC;
			if
			:: state == old ->
				WR; state = old | WOKEN; awoke = 1; wown++;
				wspinner = id + 1; wsp_t3 = 0;
				INV
			:: else -> old = state
			fi;
			goto spin_look
		:: else ->
			iter++; ACC; old = state; LOOP	/* the round's last look */
		fi
	};
spin_look:
	atomic { iter++; ACC; old = state; LOOP };

compete:	/* L2 or L4 from old, in one CAS; the snapshot of sema first (invariant 4) */
	atomic {
		new = old;
		queue = (old & (LOCKED | STARVING)) != 0;
		if :: !(old & STARVING) -> new = new | LOCKED :: else fi;
		if
		:: queue ->
			new = new + WAITER;
			if
			:: op == OP_TIMED ->	/* EINVAL or ETIMEDOUT without queueing */
				if
				:: expired -> new = 0; queue = 0; goto leave
				:: !expired -> expired = 1; new = 0; queue = 0; goto leave
				:: !expired
				fi
			:: else
			fi;
			if :: starving && (old & LOCKED) -> new = new | STARVING :: else fi
		:: else
		fi;
		if :: awoke -> assert(old & WOKEN); new = new & ~WOKEN :: else fi;
		ACC; READ_SEMA(seen); posted[id] = 0	/* the queueing snapshot (posts0) */
	};
compete_cas:
	atomic {
		ACC;
		if
		:: state == old ->
			WR; state = new;
			if
			:: awoke -> awoke = 0; wown--;
				if :: wspinner == id + 1 -> wspinner = 0; wsp_t3 = 0 :: else fi
			:: else
			fi;
			if
			:: !queue -> acquired(0); INV; new = 0; seen = 0; goto cs	/* L2 */
			:: else
			fi;
			sleepers++; SLEEP_IN;					/* L4 */
			INV;
			queue = 0; new = 0;
			goto sleep
		:: else -> old = state; queue = 0; new = 0; seen = 0; FORGET_SEMA; LOOP	/* AGAIN */
		fi
	};

sleep:	/* sleep_for_token, sema_take: the first sleep on a word that held a token is bounded */
	atomic {
		ok = TOKENS(seen) > 0;	/* the orphan check */
		if
		:: ok && op != OP_TIMED -> until = BOUND
		:: ok && op == OP_TIMED -> until = BOUND
		:: ok && op == OP_TIMED -> until = ABS	/* the deadline comes first */
		:: !ok && op == OP_TIMED -> until = ABS
		:: !ok && op != OP_TIMED -> until = NONE
		fi;
		ok = 0;
		FUTEX_WAIT
	};
take:	/* sema_take's loop */
	atomic { FUTEX_WAIT };
asleep:
	if
	:: atomic { fpos[id] == 0 -> ACC; READ_SEMA(seen); goto trytake }	/* woken */
	:: atomic { fpos[id] != 0 && until == ABS ->		/* ETIMEDOUT, and the clock agrees */
		fq_remove(id); expired = 1; until = NONE; goto cancel }
	:: atomic {
#ifdef ORPHAN_FREE
		fpos[id] != 0 && until == BOUND ->
#else
		timeout && fpos[id] != 0 && until == BOUND ->
#endif
		fq_remove(id); rescue = 1;			/* ORPHAN: look, then sleep as usual */
		if :: op == OP_TIMED -> until = ABS :: else -> until = NONE fi;
		goto look }
#ifdef SPURIOUS
	:: atomic { fpos[id] != 0 -> fq_remove(id); goto look }	/* EINTR, spurious */
#endif
	fi;
look:
	atomic { ACC; READ_SEMA(seen) };
trytake:	/* sema_trytake, after sema_take's check of the post count */
	atomic {
		if
		:: TOKENS(seen) == 0 -> rescue = 0; FUTEX_WAIT
		:: TOKENS(seen) > 0 && !posted[id] && !rescue -> goto refuse	/* older sleepers' only */
		:: else
		fi;
		ACC;
		if
		:: SAME_SEMA ->
			WR; WRITE_SEMA(seen - 1); FORGET_SEMA; sleepers--; SLEEP_OUT; got = tokkind; tokkind = 0;
#ifndef ORPHAN_FREE
			assert(!rescue || orphaned);	/* a rescue only of a token a T3 orphaned */
#endif
			orphaned = 0; rescue = 0; seen = 0;
			INV;
			goto woke
		:: else -> READ_SEMA(seen); goto trytake
		fi
	};

refuse:	/* a wake-up that may have been the token owner's: pass it on, sleep again */
	futex_wake_one();
	atomic { FUTEX_WAIT };

cancel:	/* cancel_wait: T1, T2, T3 */
	atomic { ACC; READ_SEMA(seen) };
cancel_try:
	atomic {
		if
		:: TOKENS(seen) > 0 ->
			ACC;
			if
			:: SAME_SEMA ->		/* T1: take it, proceed as woken */
				WR; WRITE_SEMA(seen - 1); FORGET_SEMA; sleepers--; SLEEP_OUT; got = tokkind; tokkind = 0;
				orphaned = 0; seen = 0;
				INV;
				goto woke
			:: else -> READ_SEMA(seen); goto cancel_try
			fi
		:: else
		fi;
		ACC; old = state;
		if
		:: W(old) == 0 -> until = NONE; goto take	/* T2: ours is committed; no deadline */
		:: else
		fi;
		new = old - WAITER;
		if
		:: W(new) == 0 && (old & (LOCKED | STARVING)) == (LOCKED | STARVING) ->
			new = new & ~STARVING
		:: else
		fi
	};
	atomic {
		ACC;
		if
		:: state == old ->			/* T3: leave; ETIMEDOUT */
			WR; state = new; sleepers--; SLEEP_OUT;
			if :: TOKS > 0 -> orphaned = 1 :: else fi;
			if :: wspinner -> wsp_t3 = 1 :: else fi;
			if :: starving -> nstarved--; starving = 0 :: else fi;
			new = 0; seen = 0; FORGET_SEMA;
			INV;
			goto leave
		:: else -> new = 0; goto cancel
		fi
	};

woke:	/* the token is ours: L5 or L6 */
	atomic {
		if
		:: STARVE && !starving -> starving = 1; nstarved++	/* waited past the threshold */
		:: true
		fi;
		ACC; old = state;
#ifndef NO_HELD_TOKEN
		/* no token is taken while the lock is held in starvation mode */
		assert((old & (LOCKED | STARVING)) != (LOCKED | STARVING));
#endif
		if
		:: (old & (LOCKED | STARVING)) == STARVING ->
			assert(got == HANDOFF);		/* invariant 3 */
			got = 0;
			clr = !starving || W(old) == 0
		:: else ->				/* L6: we own WOKEN; compete again */
			assert(got == NORMAL);		/* invariant 3 */
			assert(old & WOKEN);
			got = 0; awoke = 1; iter = 0;
			goto l6
		fi
	};
	atomic {					/* L5: the handoff; the lock is ours */
		ACC; WR;
		assert(!(state & LOCKED));
		if
		:: clr -> state = state + LOCKED - STARVING
		:: else -> state = state + LOCKED
		fi;
		acquired(1);
		BYPASS_CHECK;
		clr = 0;
		INV;
		goto cs
	};
l6:
	atomic { ACC; old = state; LOOP };

leave:	/* ETIMEDOUT or EINVAL; T4 if this thread owns WOKEN */
	atomic {
		if
		:: awoke ->
			ACC; WR;
			state = state & ~WOKEN; old = state;
			awoke = 0; wown--;
			if :: wspinner == id + 1 -> wspinner = 0; wsp_t3 = 0 :: else fi;
			if :: starving -> nstarved--; starving = 0 :: else fi;
			INV
		:: else ->
			trying[id] = 0; expired = 0; until = 0; iter = 0;
			goto round
		fi
	};
wake_one:	/* U2 unless nobody sleeps, the lock is held, someone is awake, or a handoff is due */
	atomic {
		if
		:: W(old) == 0 || (old & (LOCKED | WOKEN | STARVING)) ->
			trying[id] = 0; expired = 0; until = 0; iter = 0; old = 0;
			goto round
		:: else
		fi;
		ACC;
		if
		:: state == old ->
			WR; state = (old - WAITER) | WOKEN;
			committed++; tokkind = NORMAL; wown++;
			INV
		:: else -> old = state; goto wake_one
		fi;
		trying[id] = 0; expired = 0; until = 0; iter = 0; old = 0
	};
	sema_post();
	goto round;

trylock:	/* while neither LOCKED nor STARVING: CAS old -> old | LOCKED (L2) */
	atomic {
		if
		:: old & (LOCKED | STARVING) -> old = 0; goto round	/* EBUSY */
		:: else
		fi;
		ACC;
		if
		:: state == old -> WR; state = old | LOCKED; acquired(0); INV; goto cs
		:: else -> old = state; goto trylock
		fi
	};

cs:	/* the critical section, then amutex_unlock */
	unlock();
	goto round;
end:
	skip
}

init {
	atomic {
		ops[0] = OPS0; ops[1] = OPS1; ops[2] = OPS2; ops[3] = OPS3;
		moved[0] = 1; moved[1] = 1; moved[2] = 1; moved[3] = 1;
		rounds[0] = R0; rounds[1] = R1; rounds[2] = R2; rounds[3] = R3;
		spins[0] = SP0; spins[1] = SP1; spins[2] = SP2; spins[3] = SP3;
		run T(0);
		run T(1);
#if NT >= 3
		run T(2);
#endif
#if NT >= 4
		run T(3);
#endif
	};
	done == NT;
	assert(freed || (state == 0 && TOKENS(sema) == 0));	/* at rest */
	assert(sleepers == 0 && owner == 0 && committed == 0)
}

#ifdef LTL
/* Every lock call returns: it acquires, or times out. Check with pan -a -f. */
ltl returns {
	[] ((trying[0] -> <> !trying[0]) && (trying[1] -> <> !trying[1]) &&
	    (trying[2] -> <> !trying[2]) && (trying[3] -> <> !trying[3]))
}
/* Once nobody sleeps, starvation mode ends. */
ltl ends_starvation {
	[] (((state & STARVING) && sleepers == 0) -> <> !(state & STARVING))
}
#endif
