#!/bin/bash
# Condition variables on the drop-in against glibc, same machine, one
# script run, alternating (glibc first in odd pairs, the drop-in first in
# even ones): amutex-bench's condvar scenarios through plain pthread calls
# (ping-pong, also with AMUTEX_SPIN=1000; producer/consumer with 1, 4, 16
# consumers; a broadcast barrier of 4 and 16 threads), a CPython
# threading.Condition ping-pong (/usr/bin/python3), a C++
# std::condition_variable pool, and stress-ng --mutex (one instance per
# CPU) when it is installed.
# Prints each pair, then the median of the ratios per scenario
# (throughput: drop-in / glibc, above 1 is faster).
#   bench/dropin-condvar.sh AMUTEX_BENCH LIBAMUTEX_PTHREAD [OUT_DIR] [PAIRS]
# POOL_BIN: a prebuilt condvar_pool (else built here with g++, skipped without it).
# STRESS_NG: the stress-ng to run (default: the installed one, skipped without it).
set -u
B=$1; L=$2; OUT=${3:-.}; PAIRS=${4:-5}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
raw=$OUT/dropin-condvar.txt
: >"$raw"
echo "machine: $(nproc) CPUs, $(uname -r),$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)" | tee -a "$raw"
# COMMIT: what the library was built from (else the source tree's HEAD, when it is a git tree)
echo "commit: ${COMMIT:-$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)}" | tee -a "$raw"
echo "load before: $(uptime | sed 's/.*load average/load average/')" | tee -a "$raw"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
POOL=${POOL_BIN:-}
if [ -z "$POOL" ] && command -v g++ >/dev/null; then
	g++ -O2 -pthread -o "$tmp/condvar_pool" "$here/condvar_pool.cc" && POOL=$tmp/condvar_pool
fi

# one WHO NAME ENV... -- CMD...: one run; prints "ops/s" (bench) or a rate from the wall time.
one() {
	local who=$1 name=$2; shift 2
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	local pre=
	[ "$who" = dropin ] && pre=$L
	local t0 t1 out rate
	t0=$(date +%s%N)
	out=$(env "${envs[@]}" LD_PRELOAD=$pre "$@" 2>&1)
	t1=$(date +%s%N)
	case $name in
	bench:*) rate=$(echo "$out" | sed -n 's/.*ops_per_sec=\([0-9]*\).*/\1/p') ;;
	stress-ng) rate=$(echo "$out" | awk '$4 == "mutex" && $5 ~ /^[0-9]+$/ {print $9; exit}') ;;	# bogo ops/s (real time)
	*) rate=$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f", 1e9 / ns }') ;;
	esac
	echo "PAIR scenario=$name via=$who rate=${rate:-0} wall_ms=$(( (t1 - t0) / 1000000 ))" | tee -a "$raw"
}

# pairs NAME ENV... -- CMD...: PAIRS alternating pairs.
pairs() {
	local name=$1; shift
	for rep in $(seq "$PAIRS"); do
		if [ $((rep % 2)) = 1 ]; then
			one glibc "$name" "$@"; one dropin "$name" "$@"
		else
			one dropin "$name" "$@"; one glibc "$name" "$@"
		fi
	done
}

d=500
pairs bench:pingpong X=1 -- "$B" --scenario pingpong --duration-ms $d
pairs bench:pingpong-spin1000 AMUTEX_SPIN=1000 -- "$B" --scenario pingpong --duration-ms $d
for c in 1 4 16; do
	pairs bench:prodcons-$c X=1 -- "$B" --scenario prodcons --consumers $c --duration-ms $d
done
for t in 4 16; do
	pairs bench:barrier-$t X=1 -- "$B" --scenario barrier --threads $t --duration-ms $d
done
if [ -x /usr/bin/python3 ]; then
	pairs python-condition X=1 -- /usr/bin/python3 "$here/condvar_pingpong.py" 20000
fi
if [ -n "$POOL" ]; then
	pairs cxx-pool X=1 -- "$POOL" 4 200000
fi
STRESS_NG=${STRESS_NG:-$(command -v stress-ng)}
if [ -n "$STRESS_NG" ]; then
	pairs stress-ng X=1 -- "$STRESS_NG" --mutex "$(nproc)" --timeout 3s --metrics-brief
fi
echo "load after: $(uptime | sed 's/.*load average/load average/')" | tee -a "$raw"
# Ratios: drop-in / glibc for each pair, then the median per scenario.
awk '/^PAIR/ {
	for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	n = f["scenario"]; k = n SUBSEP f["via"]; cnt[k]++; v[k, cnt[k]] = f["rate"]; names[n] = 1
}
END {
	for (n in names) {
		m = cnt[n, "glibc"] < cnt[n, "dropin"] ? cnt[n, "glibc"] : cnt[n, "dropin"]
		s = ""
		for (i = 1; i <= m; i++) {
			r[i] = v[n, "glibc", i] > 0 ? v[n, "dropin", i] / v[n, "glibc", i] : 0
			s = s sprintf(" %.2f", r[i])
		}
		for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
		med = m % 2 ? r[(m + 1) / 2] : (r[m / 2] + r[m / 2 + 1]) / 2
		printf "RATIO scenario=%s median=%.2f pairs=%s\n", n, med, s
	}
}' "$raw" | sort | tee -a "$raw"
