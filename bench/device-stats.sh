#!/bin/sh
# The price of statistics on a many-core machine: a named lock beside the same
# lock without statistics, in one run, three times over.
#   bench/device-stats.sh BENCH_BINARY OUT_DIR
set -u
B=${1:?bench binary}; OUT=${2:?out dir}
mkdir -p "$OUT"
echo "machine: $(nproc) CPUs, $(uname -r),$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
for rep in 1 2 3; do
  "$B" --scenario uncontended --duration-ms 1000 --locks amutex,amutex-stats,pthread | tee -a "$OUT/summary.txt"
  "$B" --scenario contended --threads 16 --duration-ms 1500 --locks amutex,amutex-stats | tee -a "$OUT/summary.txt"
  "$B" --scenario contended --threads 16 --duration-ms 1500 --locks amutex-stats,amutex | tee -a "$OUT/summary.txt"
done
