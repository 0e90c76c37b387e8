#!/bin/bash
# Check the Promela models with spin: the lock-word protocol
# (docs/model/amutex.pml) in the configurations of docs/verification.md,
# exhaustively where they fit and by bitstate search where they do not, and
# the drop-in condvar (docs/model/condvar.pml). Each line printed is one
# configuration: result, states, time. tests/model-mutations.sh shows that
# each property can fail.
#
# Known failures are expected here, each marked KNOWN: a finding of the
# model that the C code does not (yet) meet. A fix must flip the
# configuration to passing and move it to the passing list; until then it
# is a failure of this test if the known failure goes away or changes.
#
# About 4 minutes on two cores shared with other work (the condvar's part under
# 2); under 1 GB of memory (pan -DMEMLIM=1500 caps it).
set -u
here=$(cd "$(dirname "$0")" && pwd)
models=$(cd "$here/../docs/model" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
command -v spin >/dev/null || { echo "FAIL: spin is not installed (Debian package spin)"; exit 1; }
cd "$dir" || exit 1
bad=0

# check NAME MODEL "SPIN -D FLAGS" "CFLAGS" "PAN FLAGS" [EXPECTED-FAILURE-REGEX]
check() {
	local name=$1 model=$2 dflags=$3 cflags=$4 panflags=$5 expect=${6:-} t0 t line st hf
	t0=$(date +%s.%N)
	spin $dflags -a "$models/$model" >spin.out 2>&1 &&
		gcc $cflags -o pan pan.c >gcc.out 2>&1 ||
		{ echo "FAIL $name: does not build"; cat spin.out gcc.out; bad=$((bad + 1)); return; }
	./pan $panflags >out 2>&1
	t=$(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")
	st=$(grep -oE '[0-9.e+]+ states, stored' out | cut -d' ' -f1)
	hf=$(grep -oE 'hash factor: [0-9.]+' out | sed 's/hash factor: /, hash factor /')
	line=$(grep -m1 -E '^pan:[0-9]+: |^pan: (invalid end state|acceptance cycle)' out)
	if grep -q 'reached -DMEMLIM bound' out; then
		echo "FAIL $name: out of memory after $st states"; bad=$((bad + 1)); return
	fi
	if [ -z "$expect" ]; then
		if grep -q 'errors: 0' out; then
			echo "ok   $name: $st states$hf, ${t}s"
		else
			echo "FAIL $name: $line (trail: spin $dflags -t -p $model)"
			bad=$((bad + 1))
		fi
	elif grep -qE "$expect" <<<"$line"; then
		echo "KNOWN $name: fails as expected: $line, ${t}s"
	else
		echo "FAIL $name: expected to fail with /$expect/, got: ${line:-no error} ($st states)"
		bad=$((bad + 1))
	fi
}

SAFE='-O2 -DSAFETY -DMEMLIM=1500'
SMALL='-O0 -DSAFETY -DMEMLIM=1500'
RUN='-m200000'
M=amutex.pml

# Lock word. OPS: 1 lock, 2 timedlock, 4 trylock, 8 one misuse unlock (EPERM).
check "2 threads x 4 rounds, every operation, S1, exhaustive" $M \
	"-DNT=2 -DROUNDS=4 -DOPS0=13 -DOPS1=7 -DSTATS=1" "$SMALL" "$RUN"
check "3 threads x 1 round, every operation, S1, exhaustive" $M \
	"-DNT=3 -DROUNDS=1 -DOPS0=13 -DOPS1=3 -DOPS2=7 -DSTATS=1" "$SMALL" "$RUN"
check "3 threads x 2 rounds, one timed, exhaustive" $M \
	"-DNT=3 -DROUNDS=2" "$SAFE -DCOLLAPSE" "$RUN"
check "3 threads x 1 round, futex wakes the oldest, exhaustive" $M \
	"-DNT=3 -DROUNDS=1 -DFIFO" "$SMALL" "$RUN"
check "3 threads x 1 round, orphan bound and spurious wake-ups at any time" $M \
	"-DNT=3 -DROUNDS=1 -DORPHAN_FREE -DSPURIOUS" "$SMALL" "$RUN"
check "4 threads x 1 round, two timed, bitstate" $M \
	"-DNT=4 -DROUNDS=1" "-O2 -DSAFETY -DBITSTATE" "-w28 $RUN"
check "ltl returns: every lock call returns, weak fairness, 3 x 1" $M \
	"-DNT=3 -DROUNDS=1 -DLTL" "-O2 -DMEMLIM=1500" "-a -f -N returns $RUN"
check "ltl ends_starvation, weak fairness, 3 x 1" $M \
	"-DNT=3 -DROUNDS=1 -DLTL" "-O2 -DMEMLIM=1500" "-a -f -N ends_starvation $RUN"

# KNOWN: bypass in starvation mode is not bounded. With FIFO futex wakes, a
# thread that queued before a handoff token was posted but has not slept yet
# (or whose wait returned because the word moved) takes the token ahead of
# the oldest sleeper, which the post's FUTEX_WAKE only made runnable; two
# such threads can alternate and pass the oldest sleeper every time. (The
# other way the model found, a thread taking back a token posted before it
# queued, is closed: sema_take checks the post count after every wake-up.)
# K = 1
# (each other thread at most once while the oldest sleeper waits: the
# "handed over in futex order" of docs/design.md) fails. A fix must flip
# this to passing (and move it above).
check "bounded bypass K=1, futex wakes the oldest, 3 threads x 1,3,3" $M \
	"-DNT=3 -DR0=1 -DR1=3 -DR2=3 -DOPS1=1 -DLIFETIME=0 -DFIFO -DBYPASS=1" "$SMALL" "$RUN" \
	'assertion violated \(byp\[id\]<=1\)'

# The drop-in's condvars (lib/dropin/cond.c): private (a list of waiter
# nodes on their stacks) and process-shared (-DSHARED). pan -E: a thread
# stuck at the end fails the model's own named assertions (no_lost_wakeup,
# all_return) instead. Consumers: signals; DESTROY: a broadcast (ONE: a
# signal) then destroy and free; BUSY: destroy first while they wait.
# Exhaustive, each under 10 s here; the two combined ones (-DCOLLAPSE, -O2:
# 15 and 3 million states, under 900 MB) take most of the condvar's time.
# Three consumers with a cancellation do not fit (40 million states at
# 2.5 GB and growing): docs/verification.md has their bitstate runs.
C=condvar.pml
CV="-E $RUN"
CBIG='-O2 -DSAFETY -DCOLLAPSE -DMEMLIM=1500'
LTLC='-O0 -DMEMLIM=1500'
check "condvar: 3 consumers, signals under or after the mutex" $C "-DNW=3" "$SMALL" "$CV"
check "condvar: 2 consumers, 2 producers" $C "-DNP=2" "$SMALL" "$CV"
check "condvar: 2 consumers, one timed" $C "-DTIMED" "$SMALL" "$CV"
check "condvar: 2 consumers, one cancelled, 1 item" $C "-DCANCEL" "$SMALL" "$CV"
check "condvar: 2 consumers, one timed, one cancelled, spurious wake-ups, 1 item" $C \
	"-DTIMED -DCANCEL -DSPURIOUS" "$CBIG" "$CV"
check "condvar: broadcast, destroy, free; 3 waiters, one timed (two roots, a kid)" $C \
	"-DDESTROY -DNW=3 -DTIMED" "$SMALL" "$CV"
check "condvar: broadcast, destroy, free; 3 waiters, one timed (one root, two kids)" $C \
	"-DDESTROY -DNW=3 -DTIMED -DROOTS=1" "$SMALL" "$CV"
check "condvar: broadcast, destroy, free; 3 waiters, one timed (three roots, as built)" $C \
	"-DDESTROY -DNW=3 -DTIMED -DROOTS=3" "$SMALL" "$CV"
check "condvar: broadcast after unlock, destroy, free; 3 waiters, one timed (two roots)" $C \
	"-DDESTROY -DOUTSIDE -DNW=3 -DTIMED" "$CBIG" "$CV"
check "condvar: destroy (EBUSY), broadcast, destroy, free; 2 waiters, one cancelled" $C \
	"-DDESTROY -DBUSY -DCANCEL" "$SMALL" "$CV"
check "condvar: destroy (EBUSY), signal, destroy, free; 1 waiter, timed, cancelled" $C \
	"-DDESTROY -DBUSY -DONE -DNW=1 -DTIMED -DCANCEL" "$SMALL" "$CV"
check "condvar ltl returns: 2 consumers, one timed, weak fairness" $C \
	"-DLTL -DTIMED" "$LTLC" "-a -f $RUN"
check "condvar ltl returns: broadcast, destroy; 2 waiters, one timed, weak fairness" $C \
	"-DLTL -DDESTROY -DTIMED" "$LTLC" "-a -f $RUN"
check "condvar shared: 3 consumers" $C "-DSHARED -DNW=3" "$CBIG" "$CV"
check "condvar shared: 2 consumers, 2 producers" $C "-DSHARED -DNP=2" "$SMALL" "$CV"
check "condvar shared: 2 consumers, one timed" $C "-DSHARED -DTIMED" "$SMALL" "$CV"
check "condvar shared: 2 consumers, one cancelled, 1 item" $C "-DSHARED -DCANCEL" "$SMALL" "$CV"
check "condvar shared: 2 consumers, one timed, one cancelled, spurious wake-ups, 1 item" $C \
	"-DSHARED -DTIMED -DCANCEL -DSPURIOUS" "$CBIG" "$CV"
check "condvar shared: broadcast, destroy, free; 3 waiters, one timed" $C \
	"-DSHARED -DDESTROY -DNW=3 -DTIMED" "$SMALL" "$CV"
check "condvar shared: destroy (EBUSY), broadcast, destroy, free; 2 waiters, one cancelled" $C \
	"-DSHARED -DDESTROY -DBUSY -DCANCEL" "$SMALL" "$CV"
check "condvar shared: destroy (EBUSY), signal, destroy, free; 1 waiter, timed, cancelled" $C \
	"-DSHARED -DDESTROY -DBUSY -DONE -DNW=1 -DTIMED -DCANCEL" "$SMALL" "$CV"
check "condvar shared ltl returns: 2 consumers, one timed, weak fairness" $C \
	"-DLTL -DSHARED -DTIMED" "$LTLC" "-a -f $RUN"

# The reader-writer lock (lib/rwlock/rwlock.c): readers and writers, plain,
# timed and try, with spurious wake-ups; exhaustive, each under 20 s here.
# Two rounds each (35 million states, 2 GB) is run by hand:
# docs/verification.md.
R=rwlock.pml
RW="-m400000"
check "rwlock: 2 readers, 2 writers" $R "" "$SMALL" "$RW"
check "rwlock: 2 readers, 2 writers, one of each timed" $R "-DTIMED" "$SAFE" "$RW"
check "rwlock: 2 readers, 2 writers, one of each a try" $R "-DTRY" "$SMALL" "$RW"
check "rwlock: 2 readers, 2 writers, spurious wake-ups" $R "-DSPURIOUS" "$SAFE" "$RW"
check "rwlock: timed, try and spurious wake-ups together" $R "-DTIMED -DTRY -DSPURIOUS" "$SAFE" "$RW"
check "rwlock: 3 readers, 1 writer, timed" $R "-DNR=3 -DNWR=1 -DTIMED" "$SAFE" "$RW"

if [ "$bad" -ne 0 ]; then
	echo "$bad configuration(s) failed"
	exit 1
fi
echo "all configurations as expected"
