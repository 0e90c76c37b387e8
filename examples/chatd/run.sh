#!/bin/sh
# The chat service's fix, end to end, on this machine:
#   1. chatd with one glibc mutex and with one amutex around everything
#      (the service before its fix);
#   2. chatd with striped groups at a first guess (64 stripes), recording the
#      rooms group's sample of acquired keys as a key trace;
#   3. bench/amutex-stripes on that trace, with chatd's work inside and
#      outside the lock: it sweeps stripe counts and recommends one;
#   4. chatd at the recommended count.
# Prints each step's SUMMARY line, then a table of throughput against the
# one glibc mutex. Exit status 1 when a step fails or chatd finds its state
# inconsistent.
#   examples/chatd/run.sh [BUILD_DIR]   (default build/plain)
# Settings (environment): THREADS (16), DURATION_MS (2000, per chatd run),
# SWEEP_MS (300, per point of the sweep), CS_NS (600), OUTSIDE_NS (600),
# ROOMS (20000), USERS (200000), ZIPF (1.0), COUNTS (the sweep's counts).
set -u
B=${1:-build/plain}
CHATD=${CHATD:-$B/examples/chatd}		# or the binaries' paths, as on the device
STRIPES=${STRIPES:-$B/bench/amutex-stripes}
THREADS=${THREADS:-16}
DURATION_MS=${DURATION_MS:-2000}
SWEEP_MS=${SWEEP_MS:-300}
CS_NS=${CS_NS:-600}
OUTSIDE_NS=${OUTSIDE_NS:-600}
ROOMS=${ROOMS:-20000}
USERS=${USERS:-200000}
ZIPF=${ZIPF:-1.0}
COUNTS=${COUNTS:-1,4,16,64,256,1024,2000,4096}
for f in "$CHATD" "$STRIPES"; do
	[ -x "$f" ] || { echo "run.sh: $f is not built (cmake --build $B)" >&2; exit 1; }
done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
common="--threads $THREADS --rooms $ROOMS --users $USERS --zipf $ZIPF --cs-ns $CS_NS --outside-ns $OUTSIDE_NS --duration-ms $DURATION_MS"

chatd() {	# chatd ARGS...: one run; its SUMMARY on stdout, its rate in RATE
	"$CHATD" $common "$@" >"$T/out" || { cat "$T/out"; echo "run.sh: chatd $* failed" >&2; exit 1; }
	grep '^SUMMARY' "$T/out"
	RATE=$(sed -n 's/^SUMMARY .*ops_per_sec=\([0-9]*\).*/\1/p' "$T/out")
}

echo "== 1. one lock around everything"
chatd --lock pthread
R_PTHREAD=$RATE
chatd --lock amutex
R_AMUTEX=$RATE
echo "== 2. striped groups at a guess (64 stripes), recording the rooms' key trace"
chatd --lock group --stripes 64 --trace "$T/rooms.trace"
R_GUESS=$RATE
echo "   $(wc -l <"$T/rooms.trace") keys in the trace"
echo "== 3. amutex-stripes on the trace"
"$STRIPES" --dist "trace:$T/rooms.trace" --threads "$THREADS" --cs-ns "$CS_NS" \
	--outside-ns "$OUTSIDE_NS" --counts "$COUNTS" --duration-ms "$SWEEP_MS" >"$T/sweep" ||
	{ cat "$T/sweep"; echo "run.sh: amutex-stripes failed" >&2; exit 1; }
grep -E '^(prediction|recommendation|hot key)' "$T/sweep"
N=$(sed -n 's/^SUMMARY tool=amutex-stripes .* recommended=\([0-9]*\) .*/\1/p' "$T/sweep")
[ -n "$N" ] || { cat "$T/sweep"; echo "run.sh: no recommendation" >&2; exit 1; }
echo "== 4. striped groups at the recommended count ($N)"
chatd --lock group --stripes "$N" --report
R_PICKED=$RATE
sed -n '/^SUMMARY/!p' "$T/out"

echo
echo "| chatd, $THREADS threads on $(nproc) CPUs | ops/s | vs one glibc mutex |"
echo "|---|---|---|"
row() { awk -v n="$1" -v r="$2" -v b="$R_PTHREAD" 'BEGIN { printf "| %s | %.0f | %.2fx |\n", n, r, r / b }'; }
row "one glibc mutex" "$R_PTHREAD"
row "one amutex" "$R_AMUTEX"
row "groups, 64 stripes (a guess)" "$R_GUESS"
row "groups, $N stripes (recommended)" "$R_PICKED"
