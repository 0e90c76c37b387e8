#!/bin/bash
# The one prepared pass for a many-core machine without the project's
# packages (the binaries come from bench/device-build.sh). Every scenario
# behind the issues' targets, each lock beside its baselines in the same
# run, every pair of runs in both orders. Writes result files with their
# commit and machine in header lines, which bench/tables.py turns into the
# tables of docs/benchmarks.md. About 6 minutes on 16 CPUs.
#   bench/device-all.sh BIN_DIR OUT_DIR [SECTION...]
#   sections: core ab fair stats group dropin variants onecpu rusage chatd rwlock
#   (default: all but rusage)
# THREADS (default 16) is the contended scenarios' thread count: 8 on the
# 2-core development machine, where the issues set their targets at 8.
set -u
D=${1:?bin dir}; OUT=${2:?out dir}; shift 2
sections=${*:-core ab fair stats group dropin variants onecpu chatd rwlock}
ROUNDS=${ROUNDS:-6}	# variants: rounds of every variant per scenario
mkdir -p "$OUT"
N=$(nproc)
T=${THREADS:-16}
machine="$N CPUs, $(uname -r),$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "machine: $machine"
cat "$D/build-info.txt"
start=$(date +%s)

header() {	# header FILE COMMAND: the result file's header lines
	{
		grep '^# commit' "$D/build-info.txt"
		echo "# machine: $N-CPU machine ($machine)"
		echo "# command: $2"
		echo "# date: $(date -u +%Y-%m-%dT%H:%MZ)"
	} >"$OUT/$1"
}
run() {	# run FILE BINARY ARGS...: the bench's SUMMARY lines into FILE and on screen
	local f=$1 b=$2; shift 2
	"$b" "$@" | tee -a "$OUT/$f"
}
both() {	# both FILE LOCKS ARGS...: the locks in one order, then the other
	local f=$1 locks=$2 rev; shift 2
	rev=$(echo "$locks" | tr ',' '\n' | tac | paste -sd, -)
	run "$f" "$D/amutex-bench" "$@" --locks "$locks"
	run "$f" "$D/amutex-bench" "$@" --locks "$rev"
}
elapsed() { echo "== $1 done at $(( $(date +%s) - start )) s"; }
# The drop-in variants device-build.sh built (DROPIN_VARIANTS), as
# ab-preload.sh's LABEL=LIB arguments, after those given.
variant_libs() {
	local l n
	vs=("$@")
	for l in "$D"/lib/libamutex-pthread-*.so; do
		[ -f "$l" ] || continue
		n=${l##*/libamutex-pthread-}
		vs+=("${n%.so}=$l")
	done
}
# ab-preload.sh on the condvar scenarios, the C++ pool and CPython, with vs.
condvar_pass() {
	local sc
	for sc in "$@"; do
		AB_TIMEOUT=20 LD_LIBRARY_PATH=$D/lib AMUTEX_BENCH=$D/amutex-bench-dyn bash "$D/ab-preload.sh" \
			"$ROUNDS" "$sc --duration-ms 300" "${vs[@]}"
	done
	AB_TIMEOUT=20 LD_LIBRARY_PATH=$D/lib bash "$D/ab-preload.sh" "$ROUNDS" "$D/condvar_pool 4 200000" "${vs[@]}"
	[ -x /usr/bin/python3 ] && AB_TIMEOUT=30 LD_LIBRARY_PATH=$D/lib bash "$D/ab-preload.sh" "$ROUNDS" \
		"/usr/bin/python3 $D/condvar_pingpong.py 20000" "${vs[@]}"
}

for s in $sections; do
case $s in
core)
	header core.txt "bench/device-all.sh core: amutex-bench, each scenario twice, locks in both orders"
	both core.txt amutex,amutex-stats,pthread,adaptive --scenario uncontended --duration-ms 1000
	both core.txt amutex,pthread,adaptive --scenario contended --threads $T --duration-ms 1500
	both core.txt amutex,pthread,adaptive --scenario contended --threads $((4 * N)) --duration-ms 1500
	both core.txt amutex,pthread,adaptive --scenario contended --threads 8 --cpus 2 --duration-ms 1500
	both core.txt amutex,pthread --scenario hog --waiters 1 --duration-ms 2000
	both core.txt amutex,pthread --scenario hog --waiters 15 --duration-ms 2000
	both core.txt amutex,pthread --scenario hog --waiters 63 --sleep-pause --duration-ms 2000
	both core.txt amutex,pthread --scenario hog --waiters 63 --duration-ms 2000
	elapsed core
	;;
ab)
	# This commit against other builds (amutex-bench-NAME: prev, the
	# previous submission's; others a device-build.sh caller added), amutex
	# only, alternating.
	header ab.txt "bench/device-all.sh ab: amutex-bench of this commit (amutex) and other builds (amutex@NAME), alternating"
	ab() {
		for rep in 1 2; do
			for b in "$D"/amutex-bench-*; do
				v=${b##*/amutex-bench-}
				case $v in dyn) continue ;; esac
				"$b" "$@" --locks amutex | sed "s/^SUMMARY /SUMMARY variant=$v /" | tee -a "$OUT/ab.txt"
			done
			run ab.txt "$D/amutex-bench" "$@" --locks amutex
		done
	}
	ab --scenario uncontended --duration-ms 1000
	ab --scenario contended --threads $T --duration-ms 1500
	ab --scenario contended --threads $((4 * N)) --duration-ms 1500
	ab --scenario hog --waiters 1 --duration-ms 2000
	ab --scenario hog --waiters 15 --duration-ms 2000
	elapsed ab
	;;
fair)
	# Fairness against throughput: the look interval and the threshold;
	# AMUTEX_SPIN=4, Go's rounds without the thread's spin debt, against
	# the default (AMUTEX_FAIR=off).
	header fair.txt "bench/device-all.sh fair: contended $T threads, amutex under AMUTEX_FAIR / AMUTEX_SPIN_CHECK / AMUTEX_STARVATION_THRESHOLD / AMUTEX_SPIN=4"
	for rep in 1 2; do
		run fair.txt "$D/amutex-bench" --scenario contended --threads $T --duration-ms 1500 --locks pthread,adaptive
		for v in "AMUTEX_FAIR=off" "AMUTEX_SPIN=4" "AMUTEX_FAIR=on" "AMUTEX_SPIN_CHECK=8" "AMUTEX_SPIN_CHECK=1" \
			 "AMUTEX_STARVATION_THRESHOLD=250us" "AMUTEX_STARVATION_THRESHOLD=100us" \
			 "AMUTEX_FAIR=on AMUTEX_STARVATION_THRESHOLD=100us"; do
			env $v "$D/amutex-bench" --scenario contended --threads $T --duration-ms 1500 --locks amutex |
				sed "s/^SUMMARY /SUMMARY variant=$(echo "$v" | tr ' =' '+:') /" | tee -a "$OUT/fair.txt"
		done
	done
	for v in "AMUTEX_FAIR=off" "AMUTEX_FAIR=on" "AMUTEX_SPIN=4"; do
		env $v "$D/amutex-bench" --scenario hog --waiters 15 --duration-ms 2000 --locks amutex |
			sed "s/^SUMMARY /SUMMARY variant=$(echo "$v" | tr ' =' '+:') /" | tee -a "$OUT/fair.txt"
		env $v "$D/amutex-bench" --scenario uncontended --duration-ms 1000 --locks amutex |
			sed "s/^SUMMARY /SUMMARY variant=$(echo "$v" | tr ' =' '+:') /" | tee -a "$OUT/fair.txt"
	done
	elapsed fair
	;;
chatd)
	# examples/chatd end to end (trace, sweep, recommendation, the pick).
	[ -x "$D/chatd" ] && CHATD=$D/chatd STRIPES=$D/amutex-stripes THREADS=$T \
		sh "$D/chatd-run.sh" 2>/dev/null | tee "$OUT/chatd.txt"
	elapsed chatd
	;;
rwlock)
	# The reader-writer lock beside glibc's two kinds (bench/rwlock-compare.sh).
	[ -x "$D/amutex-rwbench" ] &&
		COMMIT=$(sed -n 's/^# commit: //p' "$D/build-info.txt" | head -1) THREADS=$T \
		bash "$D/rwlock-compare.sh" "$D/amutex-rwbench" "$OUT/rwlock.txt" 3 >/dev/null &&
		cat "$OUT/rwlock.txt"
	elapsed rwlock
	;;
stats)
	header stats.txt "bench/device-all.sh stats: amutex with and without statistics, both orders, three times"
	for rep in 1 2 3; do
		both stats.txt amutex,amutex-stats --scenario uncontended --duration-ms 1000
		both stats.txt amutex,amutex-stats --scenario contended --threads $T --duration-ms 1500
	done
	elapsed stats
	;;
group)
	[ -x "$D/amutex-stripes" ] && [ -f "$D/device-stripes.sh" ] &&
		sh "$D/device-stripes.sh" "$D" "$OUT/stripes"
	elapsed group
	;;
dropin)
	bash "$D/device-dropin.sh" "$D" "$OUT/dropin" all 3
	elapsed dropin
	;;
variants)
	# The drop-in as built beside glibc, the variants device-build.sh built
	# (lib/libamutex-pthread-NAME.so, DROPIN_VARIANTS) and the build under
	# AMUTEX_SPIN=off and AMUTEX_STATS=on (nothing reads statistics here, so
	# the default keeps none), on the condvar scenarios
	# (bench/ab-preload.sh).
	header variants.txt "bench/ab-preload.sh $ROUNDS: glibc, the drop-in, its variants, on condvar scenarios"
	grep '^# variant' "$D/build-info.txt" >>"$OUT/variants.txt"
	variant_libs glibc=glibc built="$D/lib/libamutex-pthread.so" \
		spinoff="$D/lib/libamutex-pthread.so,AMUTEX_SPIN=off" \
		statson="$D/lib/libamutex-pthread.so,AMUTEX_STATS=on"
	condvar_pass "--scenario barrier --threads 4" "--scenario barrier --threads 8" \
		"--scenario barrier --threads $T" "--scenario pingpong" \
		"--scenario prodcons --consumers 1" "--scenario prodcons --consumers 4" |
		tee -a "$OUT/variants.txt"
	elapsed variants
	;;
onecpu)
	# The same pinned to CPU 0 (taskset through AB_CPUS): a process with
	# one CPU, where the relock does not yield (run 28 of docs/benchmarks.md;
	# a variant built with docs/results/2core-2026-11-27-run28-yield-on-one-cpu.patch
	# shows what the yields would do there).
	header onecpu.txt "bench/ab-preload.sh $ROUNDS with AB_CPUS=0: glibc, the drop-in, its variants, on condvar scenarios pinned to one CPU"
	grep '^# variant' "$D/build-info.txt" >>"$OUT/onecpu.txt"
	variant_libs glibc=glibc built="$D/lib/libamutex-pthread.so"
	AB_CPUS=0 condvar_pass "--scenario pingpong" "--scenario prodcons --consumers 1" \
		"--scenario prodcons --consumers 4" "--scenario prodcons --consumers 16" \
		"--scenario barrier --threads 4" "--scenario barrier --threads 16" |
		tee -a "$OUT/onecpu.txt"
	elapsed onecpu
	;;
rusage)
	# Where the time goes, without perf: wall, user and system CPU and
	# context switches (bench/rusage.c) of glibc and of the drop-in, and the
	# drop-in's acquisitions by path (AMUTEX_METRICS at exit), alternating.
	header rusage.txt "bench/device-all.sh rusage: glibc and the drop-in, rusage and acquisitions by path"
	for _ in 1 2 3 4; do
		for who in glibc dropin; do
			for sc in "cxx-pool $D/condvar_pool 4 200000" \
				  "barrier-8 $D/amutex-bench-dyn --scenario barrier --threads 8 --duration-ms 300" \
				  "barrier-$T $D/amutex-bench-dyn --scenario barrier --threads $T --duration-ms 300" \
				  "pingpong $D/amutex-bench-dyn --scenario pingpong --duration-ms 300"; do
				set -- $sc
				name=$1; shift
				pre=; [ $who = dropin ] && pre=$D/lib/libamutex-pthread.so
				m=$(mktemp); o=$(mktemp)
				# The preload and the metrics file for the program, not for rusage.
				r=$("$D/rusage" env LD_LIBRARY_PATH="$D/lib" AMUTEX_METRICS="$m" LD_PRELOAD="$pre" \
					"$@" 2>&1 >"$o" | grep '^RUSAGE')
				ops=$(sed -n 's/.*ops=\([0-9]*\).*/\1/p' "$o" | head -1)
				acq=$(awk '/^amutex_acquisitions_total/ { split($1, a, "path=\""); split(a[2], b, "\""); n[b[1]] += $2 }
					   END { for (k in n) printf " %s=%d", k, n[k] }' "$m")
				echo "DIAG scenario=$name via=$who ops=${ops:-1} ${r#RUSAGE }$acq" | tee -a "$OUT/rusage.txt"
				rm -f "$m" "$o"
			done
		done
	done
	elapsed rusage
	;;
esac
done
echo "== all done in $(( $(date +%s) - start )) s"
