#!/bin/bash
# Reader-writer locks side by side: amutex_rwlock_t, glibc's default
# pthread_rwlock_t (it prefers readers) and glibc's writer-preferring kind,
# through bench/amutex-rwbench, ROUNDS rounds of every workload below, the
# locks' order rotated each round. Writes a raw file of header lines and
# SUMMARY lines, which bench/tables.py's "rwlock" kind turns into a table
# (medians over the rounds, ratios to glibc's default).
#   bench/rwlock-compare.sh AMUTEX_RWBENCH OUT_FILE [ROUNDS]
# Workloads (threads default to 8, twice and more the CPUs of a 2-core
# machine: set THREADS for a bigger one):
#   uncontended  one thread, reads only (the fast paths' cost)
#   read-mostly  1% and 10% writes, short holds
#   starve       one thread only writes, the others only read with long,
#                overlapping holds (a reader-preferring lock starves it);
#                also with one reader, as many threads as 2 CPUs
set -eu
B=$1; OUT=$2; ROUNDS=${3:-5}
T=${THREADS:-8}
here=$(cd "$(dirname "$0")" && pwd)
locks=(amutex pthread pthread-writer)
workloads=(
	"--threads 1 --write-pct 0 --cs-iters 0 --think-iters 0"
	"--threads $T --write-pct 1 --cs-iters 100 --think-iters 100"
	"--threads $T --write-pct 10 --cs-iters 100 --think-iters 100"
	"--threads $T --writers 1 --cs-iters 5000 --think-iters 100"
	"--threads 2 --writers 1 --cs-iters 5000 --think-iters 100"
)
{
	echo "# commit: ${COMMIT:-$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)}"
	echo "# machine: $(nproc)-CPU machine ($(nproc) CPUs, $(uname -r),$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
	echo "# command: bench/rwlock-compare.sh $B OUT $ROUNDS (THREADS=$T): amutex-rwbench, ${DURATION_MS:-500} ms per lock and workload, locks rotated per round"
} >"$OUT"
for ((r = 0; r < ROUNDS; r++)); do
	order=("${locks[@]:r%3}" "${locks[@]:0:r%3}")
	for w in "${workloads[@]}"; do
		# shellcheck disable=SC2086
		"$B" $w --duration-ms "${DURATION_MS:-500}" --locks "$(IFS=,; echo "${order[*]}")" |
			tee -a "$OUT"
	done
done
