#!/bin/bash
# Several builds of the drop-in (and glibc) side by side on one amutex-bench
# scenario, on one machine in one run: ROUNDS rounds, each running every
# variant once, the order rotated from round to round (and reversed every
# other round) so that none always runs first or after the same one. Prints one line per round and, per variant, the median rate
# and the median of its per-round ratios to the first variant (above 1 is
# faster than it).
#   bench/ab-preload.sh ROUNDS "AMUTEX-BENCH ARGS" LABEL=LIB [LABEL=LIB ...]
# LIB: a libamutex-pthread.so to preload, or "glibc" for none; an
# environment assignment may follow it after a comma (LABEL=LIB,VAR=VALUE).
# The rate is the first SUMMARY line's (give --locks pthread to scenarios
# that run several locks); a run that prints none is left out of the
# medians and counted as failed. ARGS that do not start with "-" are a
# whole command instead (a program and its arguments, run with its output
# discarded): its rate is runs per second from the wall time, and a run
# that exits non-zero is counted as failed.
# AMUTEX_BENCH: the amutex-bench to run (default: build/plain's).
# AB_TIMEOUT: seconds after which a run is killed and counted as failed
# (default: none), so that one hung variant cannot stall a device pass.
# AB_CPUS: a CPU list for taskset -c (default: every CPU), to run every
# variant on those CPUs only (one CPU against two, say).
# Example, how docs/results/2core-2026-11-26-run15-roots.txt was made:
#   bench/ab-preload.sh 8 "--scenario barrier --threads 4 --duration-ms 300" \
#       glibc=glibc roots1=/tmp/r1/libamutex-pthread.so roots3=...
set -u
if [ $# -lt 3 ]; then
	echo "usage: bench/ab-preload.sh ROUNDS \"AMUTEX-BENCH ARGS\" LABEL=LIB[,VAR=VALUE] ..." >&2
	exit 2
fi
rounds=$1; args=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
bench=${AMUTEX_BENCH:-$here/../build/plain/bench/amutex-bench}
[ "${args#-}" = "$args" ] || [ -x "$bench" ] || { echo "ab-preload.sh: no amutex-bench at $bench" >&2; exit 2; }
labels=(); libs=(); envs=()
for spec in "$@"; do
	case $spec in
	*=*) ;;
	*) echo "ab-preload.sh: expected LABEL=LIB, got '$spec'" >&2; exit 2 ;;
	esac
	labels+=("${spec%%=*}")
	rest=${spec#*=}
	lib=${rest%%,*}
	# ld.so ignores a preload it cannot open and runs glibc: refuse it here.
	if [ "$lib" != glibc ] && ! [ -r "$lib" ]; then
		echo "ab-preload.sh: cannot read $lib" >&2
		exit 2
	fi
	libs+=("$lib")
	if [[ $rest == *,* ]]; then envs+=("${rest#*,}"); else envs+=("AB_PRELOAD_NONE=1"); fi
done
k=${#labels[@]}
limit=
[ -n "${AB_TIMEOUT:-}" ] && limit="timeout -s KILL $AB_TIMEOUT"
if [ -n "${AB_CPUS:-}" ]; then
	taskset -c "$AB_CPUS" true || { echo "ab-preload.sh: AB_CPUS: not a CPU list taskset takes: '$AB_CPUS'" >&2; exit 2; }
	limit="$limit taskset -c $AB_CPUS"
fi
[ "$k" -ge 1 ] || { echo "ab-preload.sh: no variant" >&2; exit 2; }
if [ "${args#-}" = "$args" ]; then what="$args, runs/s"; else what="amutex-bench $args, ops/s"; fi
echo "# $what; rounds of every variant in rotated order: ${labels[*]}${AB_CPUS:+; on CPUs $AB_CPUS only (taskset)}"
echo "# machine: $(nproc) CPUs, $(uname -r),$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); $(uptime | sed 's/.*load average/load average/')"
one() {
	local pre='' t0 t1
	[ "${libs[$1]}" != glibc ] && pre=${libs[$1]}
	if [ "${args#-}" = "$args" ]; then
		t0=$(date +%s%N)
		# shellcheck disable=SC2086  # args is a command line
		$limit env "${envs[$1]}" LD_PRELOAD="$pre" $args >/dev/null 2>&1 || return 0
		t1=$(date +%s%N)
		awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f\n", 1e9 / ns }'
		return 0
	fi
	# shellcheck disable=SC2086  # args is a list of words
	$limit env "${envs[$1]}" LD_PRELOAD="$pre" "$bench" $args | sed -n 's/.*ops_per_sec=\([0-9]*\).*/\1/p' | head -1
}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for r in $(seq "$rounds"); do
	declare -a rate=()
	for j in $(seq 0 $((k - 1))); do
		# rotated start, and every other round backwards: no variant always follows the same one
		if [ $((r % 2)) = 1 ]; then i=$(( (r + j) % k )); else i=$(( (r - j + k * rounds) % k )); fi
		rate[$i]=$(one "$i")
	done
	line="ROUND"
	for i in $(seq 0 $((k - 1))); do line="$line ${labels[$i]}=${rate[$i]:--}"; done
	echo "$line" | tee -a "$tmp"
done
awk '
	function median(a, c,   i, j, t) {
		for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
	}
	{ for (i = 2; i <= NF; i++) { split($i, kv, "="); lab[i] = kv[1]; v[i, NR] = kv[2] } n = NR; m = NF }
	END {
		for (i = 2; i <= m; i++) {
			delete a; delete q
			na = nq = 0
			for (r = 1; r <= n; r++) {
				if (v[i, r] == "-")
					continue
				a[++na] = v[i, r]
				if (v[2, r] != "-" && v[2, r] > 0)
					q[++nq] = v[i, r] / v[2, r]
			}
			printf "MEDIAN %s rate=%s ratio_to_%s=%s failed=%d\n", lab[i],
				na ? sprintf(median(a, na) >= 100 ? "%d" : "%.3f", median(a, na)) : "-", lab[2],
				nq ? sprintf("%.2f", median(q, nq)) : "-", n - na
		}
	}' "$tmp"
