#!/bin/bash
# Check the Promela model of the lock-word protocol (docs/model/amutex.pml)
# with spin: exhaustively for small configurations, by bitstate search for
# three threads of two rounds, and once with the orphan check taken out, to
# show the search finds the lost wake-up that check prevents.
set -eu
model=$(cd "$(dirname "$0")/../docs/model" && pwd)/amutex.pml
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
fail() { echo "FAIL: $*"; exit 1; }

check() {	# check NAME SPIN_FLAGS PAN_CFLAGS PAN_FLAGS MODEL
	spin $2 -a "$5" >/dev/null || fail "$1: spin -a"
	gcc -O2 -DSAFETY $3 -o pan pan.c 2>/dev/null || fail "$1: gcc pan.c"
	./pan $4 >out 2>&1 || true
	grep -E 'errors: [0-9]+' out | sed "s/^/$1: /"
	grep -E 'states, stored' out | sed "s/^/$1: /"
	grep -q 'errors: 0' out
}

check "2 threads x 2 rounds, exhaustive" "-DN=2 -DROUNDS=2" "-DMEMLIM=2000" "-m100000" "$model" ||
	fail "the model has an error (see pan's trail)"
check "3 threads x 1 round, exhaustive" "-DN=3 -DROUNDS=1" "-DMEMLIM=2000" "-m100000" "$model" ||
	fail "the model has an error"
check "3 threads x 2 rounds, bitstate" "-DN=3 -DROUNDS=2" "-DBITSTATE" "-w26 -m3000" "$model" ||
	fail "the model has an error"
sed 's/orphan_check = TOKENS(w) > 0;/orphan_check = 0;/' "$model" >broken.pml
if check "without the orphan check" "-DN=3 -DROUNDS=2" "-DBITSTATE" "-w26 -m3000" broken.pml; then
	fail "the search no longer finds the known lost wake-up: the model lost its teeth"
fi
echo "1 passed, 0 failed"
