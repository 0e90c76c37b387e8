#!/bin/bash
# Conformance tests written by others: LTP's Open POSIX Test Suite tests of
# pthread_mutex_*, pthread_mutexattr_*, pthread_cond_* and
# pthread_condattr_*, each run plainly (glibc) and with the drop-in
# preloaded; a test whose result is worse with the drop-in fails this script
# (glibc's behaviour is the drop-in's contract). Not in tests/run: LTP is not
# a Debian package. About 2.5 minutes a round on 2 cores.
#
# usage: tests/posix-conformance.sh [-j N] [-t SECONDS] [-n ROUNDS] [-r RERUNS] [DROPIN.so]
#   -j parallel tests (default 1)   -t timeout per run (default 60)
#   -n runs of every test each way (default 1)   -r extra runs each way of a
#   test whose outcomes differ (default 3). The library is copied first
#   (a rebuild during the run cannot mix two builds); its sha256 is recorded.
#   env: LTP_DIR   an LTP source tree (git clone https://github.com/linux-test-project/ltp)
#        LTP_GIT   or a git repository of LTP (its HEAD is used)
#        WORK      work directory (default: a new one under /tmp)
#        IFACE     regex of interface folders (default: the mutex and condvar ones;
#                  '^pthread_' runs every pthread interface, which the drop-in's
#                  pthread_cancel and its mutexes inside other calls touch too)
#        TESTS     regex of test ids to run (default: all), e.g. 'pthread_cond_wait/'
# Output: $WORK/results.txt (one row per test), $WORK/logs/<id>.{glibc,dropin}.<N>.log;
# exits 1 when some test is worse under the drop-in.
# Exit codes of a test: 0 PASS, 1 FAIL, 2 UNRESOLVED, 3 NORESOURCE,
# 4 UNSUPPORTED, 5 UNTESTED, 124 timeout; others: signal / crash.
set -u
JOBS=1 TMO=60 RERUNS=3 ROUNDS=1
while getopts j:t:r:n: o; do
	case $o in
	j) JOBS=$OPTARG ;; t) TMO=$OPTARG ;; r) RERUNS=$OPTARG ;; n) ROUNDS=$OPTARG ;;
	*) sed -n '10,24p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
top=$(cd "$(dirname "$0")/.." && pwd)
DROPIN=${1:-$top/build/plain/libamutex-pthread.so}
LTP_DIR=${LTP_DIR:-}
LTP_GIT=${LTP_GIT:-}
if [ -z "$LTP_DIR" ] && [ -z "$LTP_GIT" ]; then
	echo "posix-conformance.sh: set LTP_DIR to an LTP source tree or LTP_GIT to an LTP git repository" >&2
	echo "  (git clone --depth 1 https://github.com/linux-test-project/ltp)" >&2
	exit 2
fi
WORK=${WORK:-$(mktemp -d /tmp/posix-conformance.XXXXXX)}
TESTS=${TESTS:-.}
[ -r "$DROPIN" ] || { echo "cannot read $DROPIN" >&2; exit 2; }
DROPIN_ORIG=$DROPIN

OPS=$WORK/testcases/open_posix_testsuite
BIN=$WORK/bin
LOGS=$WORK/logs
rm -rf "$LOGS"; mkdir -p "$WORK" "$BIN" "$LOGS"
DROPIN=$BIN/dropin-under-test.so
cp -L "$DROPIN_ORIG" "$DROPIN" || exit 2
DROPIN_SHA=$(sha256sum "$DROPIN" | cut -c1-16)
LD_PRELOAD=$DROPIN /bin/true 2>&1 | grep -q . && { echo "$DROPIN does not preload cleanly" >&2; exit 2; }
if [ ! -d "$OPS" ]; then
	if [ -n "$LTP_DIR" ]; then
		mkdir -p "$WORK/testcases" && cp -r "$LTP_DIR/testcases/open_posix_testsuite" "$WORK/testcases/" || exit 2
	else
		git --git-dir="$LTP_GIT" archive HEAD testcases/open_posix_testsuite |
			tar -x -C "$WORK" || exit 2
	fi
fi
if [ -n "$LTP_DIR" ]; then
	LTP_COMMIT=$(git -C "$LTP_DIR" rev-parse HEAD 2>/dev/null || echo unknown)
else
	LTP_COMMIT=$(git --git-dir="$LTP_GIT" rev-parse HEAD 2>/dev/null || echo unknown)
fi

# ---- build ---------------------------------------------------------------
CC=${CC:-gcc}
CFLAGS="-std=c99 -D_POSIX_C_SOURCE=200809L -D_XOPEN_SOURCE=700 -O2 -g -w -I$OPS/include"
$CC $CFLAGS -c "$OPS/lib/common.c" -o "$BIN/common.o" || exit 2

IFACE=${IFACE:-'^pthread_(mutex|mutexattr|cond|condattr)_'}
: > "$WORK/built.txt"; : > "$WORK/skipped.txt"
for dir in "$OPS"/conformance/interfaces/*/ "$OPS"/conformance/interfaces/*/speculative/; do
	rel=${dir#"$OPS"/conformance/interfaces/}; rel=${rel%/}
	[[ ${rel%%/*} =~ $IFACE ]] || continue
	libs=$(cat "$dir/LDLIBS" 2>/dev/null)
	for c in "$dir"*.c; do
		[ -e "$c" ] || continue
		id=$rel/$(basename "$c" .c)
		[[ $id =~ $TESTS ]] || continue
		exe=$BIN/${id//\//__}
		if $CC $CFLAGS -I"$dir" -o "$exe" "$c" "$BIN/common.o" $libs -pthread -lrt \
			> "$LOGS/${id//\//__}.build.log" 2>&1; then
			echo "$id" >> "$WORK/built.txt"
		else
			echo "$id $(grep -m1 -E 'error' "$LOGS/${id//\//__}.build.log")" >> "$WORK/skipped.txt"
		fi
	done
done
echo "built $(wc -l < "$WORK/built.txt"), skipped $(wc -l < "$WORK/skipped.txt")" >&2

# ---- run -----------------------------------------------------------------
name() {
	case $1 in
	0) echo PASS ;; 1) echo FAIL ;; 2) echo UNRESOLVED ;; 3) echo NORESOURCE ;;
	4) echo UNSUPPORTED ;; 5) echo UNTESTED ;; 124) echo TIMEOUT ;;
	139) echo SEGV ;; 134) echo ABORT ;; *) echo "RC$1" ;;
	esac
}
# run_one ID MODE N -> prints the exit status; log in $LOGS/<id>.<mode>.<N>.log
run_one() {
	local id=$1 mode=$2 exe=$BIN/${1//\//__} log=$LOGS/${1//\//__}.$2.$3.log rc
	local tmp; tmp=$(mktemp -d "$WORK/run.XXXXXX")
	local t0; t0=$(date +%s.%N)
	# each test runs in its own scratch dir (some create files); -k: a test
	# that ignores SIGTERM is killed 5 s later (and then reads 124 too)
	if [ "$mode" = dropin ]; then
		(cd "$tmp" && LD_PRELOAD=$DROPIN timeout -k 5 "$TMO" "$exe") > "$log" 2>&1 < /dev/null
	else
		(cd "$tmp" && timeout -k 5 "$TMO" "$exe") > "$log" 2>&1 < /dev/null
	fi
	rc=$?; [ $rc = 137 ] && rc=124
	echo "$(date +%s.%N) - $t0" | bc > "$log.time"
	rm -rf "$tmp"
	echo $rc
}
run_rounds() { # run_rounds ID FIRST LAST -> "glibc_rcs dropin_rcs", comma-separated
	local id=$1 i g= d=
	for i in $(seq "$2" "$3"); do
		g="$g${g:+,}$(run_one "$id" glibc "$i")"
		d="$d${d:+,}$(run_one "$id" dropin "$i")"
	done
	echo "$g $d"
}
run_pair() { echo "$1 $(run_rounds "$1" 1 "$ROUNDS")"; }
export -f run_one run_rounds run_pair
export BIN LOGS WORK DROPIN TMO ROUNDS

xargs -a "$WORK/built.txt" -P "$JOBS" -I{} bash -c 'run_pair "$@"' _ {} | sort > "$WORK/pairs.txt"

# ---- reruns of the differing ones, and the table ----------------------------
rank() { # lower is better; a hang is the worst
	case $1 in 0) echo 0 ;; 4|5) echo 1 ;; 2|3) echo 2 ;; 1) echo 3 ;; 124) echo 5 ;; *) echo 4 ;; esac
}
worst() { local x w=0 r; for x in ${1//,/ }; do r=$(rank "$x"); [ "$r" -gt "$w" ] && w=$r; done; echo $w; }
fmt() { local o= x; for x in ${1//,/ }; do o="$o${o:+,}$(name "$x")"; done; echo "$o"; }
{
	echo "# LTP open_posix_testsuite $LTP_COMMIT"
	echo "# drop-in $DROPIN_ORIG (sha256 $DROPIN_SHA...; source tree at $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$top" diff --quiet HEAD -- lib include 2>/dev/null || echo +uncommitted)), timeout ${TMO}s, $ROUNDS round(s), $(uname -r), $(ldd --version | head -1), $(date -u +%FT%TZ)"
	echo "# outcomes of every run in order (reruns appended when they differed)"
	echo "# verdict: same | WORSE (drop-in's worst outcome below glibc's worst) | better | FLAKY (mixed, same worst)"
	echo "# time: seconds of the first run, glibc/dropin"
	printf '%-48s %-30s %-30s %-8s %s\n' test glibc dropin verdict time
} > "$WORK/results.txt"
declare -A cnt
while read -r id gall dall; do
	verdict=same
	g1=${gall%%,*} d1=${dall%%,*}
	if [ "$(tr , '\n' <<< "$gall,$dall" | sort -u | wc -l)" -gt 1 ]; then
		read -r gx dx <<< "$(run_rounds "$id" $((ROUNDS + 1)) $((ROUNDS + RERUNS)))"
		gall="$gall,$gx" dall="$dall,$dx"
		gw=$(worst "$gall") dw=$(worst "$dall")
		if [ "$dw" -gt "$gw" ]; then verdict=WORSE
		elif [ "$dw" -lt "$gw" ]; then verdict=better
		else verdict=FLAKY; fi
	fi
	cnt[glibc,$(name "$g1")]=$((${cnt[glibc,$(name "$g1")]:-0} + 1))
	cnt[dropin,$(name "$d1")]=$((${cnt[dropin,$(name "$d1")]:-0} + 1))
	f=$LOGS/${id//\//__}
	tm=$(printf '%.1f/%.1f' "$(cat "$f.glibc.1.log.time")" "$(cat "$f.dropin.1.log.time")")
	printf '%-48s %-30s %-30s %-8s %s\n' "$id" "$(fmt "$gall")" "$(fmt "$dall")" "$verdict" "$tm" >> "$WORK/results.txt"
done < "$WORK/pairs.txt"
{
	echo
	echo "# built $(wc -l < "$WORK/built.txt"), skipped (do not compile) $(wc -l < "$WORK/skipped.txt")"
	sed 's/^/#   skipped: /' "$WORK/skipped.txt"
	for m in glibc dropin; do
		line="# $m (first run of each test):"
		for r in PASS FAIL UNRESOLVED NORESOURCE UNSUPPORTED UNTESTED TIMEOUT; do
			line="$line $r ${cnt[$m,$r]:-0}"
		done
		for k in "${!cnt[@]}"; do
			[[ $k == $m,* ]] || continue
			case ${k#*,} in PASS|FAIL|UNRESOLVED|NORESOURCE|UNSUPPORTED|UNTESTED|TIMEOUT) ;;
			*) line="$line ${k#*,} ${cnt[$k]}" ;; esac
		done
		echo "$line"
	done
	echo "# differing: $(grep -v '^#' "$WORK/results.txt" | grep -cE ' (WORSE|better|FLAKY) ')," \
		"worse under the drop-in: $(grep -v '^#' "$WORK/results.txt" | grep -c ' WORSE ')"
} >> "$WORK/results.txt"
grep -E '^#|(WORSE|better|FLAKY) ' "$WORK/results.txt"
grep -v '^#' "$WORK/results.txt" | grep -q ' WORSE ' && exit 1
exit 0
