/*
 * A Promela model of the reader-writer lock's protocol: lib/rwlock/rwlock.c
 * and the inline read paths of include/amutex/static/rwlock.h, with the
 * labels of docs/rwlock.md (RL1-RL5, RU1-RU4, WL1-WL5, WT1, WT2). The word
 * is its fields (READERS, PHASE, WRITER, WSLEEP, QUEUED, ADMITTED); each
 * CAS loop of the C (load, decide, CAS, again on failure) is one atomic
 * block that decides on the current word, which is what the loop does once
 * its CAS succeeds. A decision taken on an earlier load and acted on later
 * is two blocks, as in the C (a queued reader that saw PHASE move). The
 * futex is the word's low half (READERS, PHASE, WRITER, WSLEEP): a wait
 * blocks only if the low half is what the caller saw, with its bitset (RD
 * or WR); a wake reaches sleepers whose bitset it shares, any one of them
 * for a wake of one. The writers' mutex w is a blocking test-and-set (its
 * own protocol is docs/model/amutex.pml's).
 *
 * The program: NR readers and NWR writers, ROUNDS operations each. A
 * reader's operation is rdlock, or (-DTIMED) a timed rdlock for reader 0,
 * or (-DTRY) a tryrdlock for reader 1; a writer's is wrlock, or (-DTIMED) a
 * timed wrlock for writer 0, or (-DTRY) a trywrlock for writer 1. A held
 * lock is released at once. Deadlines pass at any moment (a free choice);
 * -DSPURIOUS: a sleeper may wake at any moment.
 *
 * The properties:
 *   exclusion        no writer holds with a reader or another writer
 *   counters         QUEUED is the readers queued (RL2 done, not let in or
 *                    gone); ADMITTED the readers let in that have not taken
 *                    RL3; READERS the read holds plus ADMITTED
 *   one-bit PHASE    a queued reader that sees PHASE other than when it
 *                    queued was let in by a release (ghost state); one that
 *                    sees it unchanged with no WRITER (RL4) or past its
 *                    deadline (RL5) was not
 *   WSLEEP           set only while WRITER is set or readers are queued
 *                    (the holder of w sleeps, or is about to, in WL3-WL5)
 *   readers first    a writer claims only with no reader queued (WL5): the
 *                    readers a writer that gave up had stopped go in first
 *   no lost wake-up  no thread blocked at the end (invalid end states)
 *   at rest          at the end the word is 0 but PHASE, w is free
 *
 * docs/verification.md has the configurations and their results;
 * tests/model.sh runs them and tests/model-mutations.sh plants bugs.
 */
#ifndef NR
#define NR 2
#endif
#ifndef NWR
#define NWR 2
#endif
#ifndef ROUNDS
#define ROUNDS 1
#endif
#define NT (NR + NWR)
#define RD 1
#define WR 2
#define LOW (readers + phase * 16 + writer * 32 + wsleep * 64)

/* The word. */
byte readers, queued, admitted;
bit phase, writer, wsleep;
/* The writers' mutex. */
bit wlocked;
/* The futex: who sleeps, with which bitset. */
bit sleeping[NT];
byte sbits[NT];
/* Ghosts: read holds, write holds, each reader's state (0 none, 1 queued, 2 let in). */
byte rholds, wholds;
byte rstate[NR];
byte done_threads;

/* Scratch for INV, outside the state vector. */
hidden byte ck, cq, ca, last;

/* The invariants, checked after every change of the word. */
#define INV inv()
inline inv()
{
	ck = 0; cq = 0; ca = 0;
	do
	:: ck < NR -> cq = cq + (rstate[ck] == 1); ca = ca + (rstate[ck] == 2); ck++
	:: else -> break
	od;
	assert(queued == cq && admitted == ca);
	assert(readers == rholds + admitted);
	assert(!wsleep || writer || queued);
	assert(wholds <= 1 && (wholds == 0 || rholds == 0));
	ck = 0; cq = 0; ca = 0
}

/* futex_wait: sleep while the low half is exp; returns at a wake, a spurious
 * wake-up or (timed) the deadline: late is set when the deadline passed. */
inline futex_wait(id, exp, bitsv, timed, late)
{
	atomic {
		if
		:: LOW == exp -> sleeping[id] = 1; sbits[id] = bitsv
		:: else -> skip
		fi
	}
	if
	:: sleeping[id] == 0 -> skip
	:: timed -> atomic { sleeping[id] = 0; late = 1 }
#ifdef SPURIOUS
	:: atomic { sleeping[id] == 1 -> sleeping[id] = 0 }
#endif
	fi
}

inline wake_all(bitsv)
{
	k = 0;
	do
	:: k < NT -> if :: sleeping[k] && (sbits[k] & bitsv) -> sleeping[k] = 0 :: else fi; k++
	:: else -> break
	od
}

/* Wake one sleeper that shares bitsv, any one of them, if there is one. */
inline wake_one(bitsv)
{
	k = 0; last = NT;
	do
	:: k < NT && sleeping[k] && (sbits[k] & bitsv) -> last = k;
		if :: break :: k++ fi
	:: k < NT && !(sleeping[k] && (sbits[k] & bitsv)) -> k++
	:: k >= NT -> break
	od;
	if :: last < NT -> sleeping[last] = 0 :: else fi;
	last = 0
}

proctype reader(byte id)
{
	byte r = 0, k, exp;
	bit p, late, timed, try, got, wake;

	do
	:: r < ROUNDS ->
		r++;
		late = 0; got = 0;
#ifdef TIMED
		timed = id == 0;
#endif
#ifdef TRY
		try = id == 1;
#endif
		atomic {
			if
			:: !writer -> readers++; rholds++; got = 1; INV	/* RL1 */
			:: writer && try -> skip			/* EBUSY */
			:: writer && !try -> queued++; rstate[id] = 1; p = phase; INV	/* RL2 */
			fi
		}
		if
		:: got || try -> goto held
		:: else
		fi;
		/* queued_reader */
		do
		:: atomic { phase != p -> assert(rstate[id] == 2) }
			atomic { admitted--; rstate[id] = 0; rholds++; got = 1; INV }	/* RL3 */
			break
		:: atomic { phase == p && !writer -> assert(rstate[id] == 1);
			queued--; readers++; rstate[id] = 0; rholds++; got = 1;	/* RL4 */
			wake = queued == 0 && wsleep;
			if :: wake -> wsleep = 0 :: else fi;
			INV }
			atomic { if :: wake -> wake_one(WR); wake = 0 :: else fi }	/* RL4's wake */
			break
		:: atomic { phase == p && writer && late -> assert(rstate[id] == 1);
			queued--; rstate[id] = 0; INV }				/* RL5 */
			break
		:: atomic { phase == p && writer && !late -> exp = LOW }
			futex_wait(id, exp, RD, timed, late)
		od;
held:
		if
		:: got ->
			assert(wholds == 0);
			atomic {
				readers--; rholds--;			/* RU1, RU2 */
				wake = writer && readers == 0 && wsleep;
				if :: wake -> wsleep = 0 :: else fi;
				INV
			}
			atomic { if :: wake -> wake_one(WR); wake = 0 :: else fi }	/* RU2's wake */
		:: else
		fi
	:: else -> break
	od;
	done_threads++
}

proctype writer_thread(byte id)
{
	byte r = 0, k, exp;
	bit late, timed, try, got, hadq, hads;

	do
	:: r < ROUNDS ->
		r++;
		late = 0; got = 0;
#ifdef TIMED
		timed = id == NR;
#endif
#ifdef TRY
		try = id == NR + 1;
#endif
		/* WL1 */
		if
		:: try -> atomic { if :: !wlocked -> wlocked = 1; got = 1 :: else fi }
			if
			:: got -> atomic {
					if
					:: !writer && queued == 0 && readers == 0 -> writer = 1; INV
					:: else -> got = 0		/* EBUSY, decided on this load */
					fi
				}
				if :: !got -> atomic { wlocked = 0 } :: else fi
			:: else
			fi;
			goto hold
		:: !try -> skip
		fi;
		if
		:: atomic { !wlocked -> wlocked = 1 }
		:: timed -> goto next				/* WT1 on the mutex */
		fi;
		/* WL4: the last writer has yet to release; WL5: a give-up's readers have yet to go in */
		do
		:: atomic { !late && !writer && queued == 0 -> break }
		:: atomic { late -> wlocked = 0 }; goto next		/* WT1 (wait_word returns at once) */
		:: atomic { !late && (writer || queued != 0) -> wsleep = 1; exp = LOW; INV }
			futex_wait(id, exp, WR, timed, late)
		od;
		atomic { assert(!writer && queued == 0); writer = 1; INV }	/* WL2 */
		/* WL3 */
		do
		:: atomic { readers == 0 -> got = 1; break }
		:: atomic { readers != 0 && late ->			/* WT2 */
			hadq = queued != 0; writer = 0; wsleep = 0; INV }
			atomic { if :: hadq -> wake_all(RD); hadq = 0 :: else fi }
			atomic { wlocked = 0 }
			goto next
		:: atomic { readers != 0 && !late -> wsleep = 1; exp = LOW; INV }
			futex_wait(id, exp, WR, timed, late)
		od;
hold:
		if
		:: got ->
			atomic { assert(rholds == 0 && wholds == 0); wholds++ }
			wholds--;
			atomic { wlocked = 0 }				/* RU3 */
			atomic {					/* RU4 */
				assert(writer && readers == 0 && admitted == 0);
				hadq = queued != 0; hads = wsleep;
				writer = 0; wsleep = 0; phase = 1 - phase;
				readers = queued; admitted = queued; queued = 0;
				k = 0;
				do
				:: k < NR -> if :: rstate[k] == 1 -> rstate[k] = 2 :: else fi; k++
				:: else -> break
				od;
				INV
			}
			atomic { if :: hadq -> wake_all(RD); hadq = 0 :: else fi }
			atomic { if :: hads -> wake_one(WR); hads = 0 :: else fi }
		:: else
		fi;
next:		skip
	:: else -> break
	od;
	done_threads++
}

init
{
	byte i;

	atomic {
		i = 0;
		do
		:: i < NR -> run reader(i); i++
		:: i >= NR && i < NT -> run writer_thread(i); i++
		:: else -> break
		od
	}
	(done_threads == NT);
	assert(readers == 0 && queued == 0 && admitted == 0 && !writer && !wsleep && !wlocked)
}
