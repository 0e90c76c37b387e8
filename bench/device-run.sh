#!/bin/sh
# One prepared measuring pass for a many-core machine: every scenario behind
# the core issue's targets, pthread and adaptive beside amutex in the same
# run, and the price of statistics. Each amutex build in BIN_DIR (amutex-bench-VARIANT, built with a
# different tuning switch) runs the same scenarios, so the default can be
# chosen by measurement.
#   bench/device-run.sh BIN_DIR OUT_DIR
set -u
D=${1:?bin dir}; OUT=${2:?out dir}
mkdir -p "$OUT"
N=$(nproc)
echo "machine: $N CPUs, $(uname -r),$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
first=$(ls "$D" | head -n1)
run() { v=$1; shift; "$D/amutex-bench-$v" "$@" | sed "s/^SUMMARY /SUMMARY variant=$v /" | tee -a "$OUT/summary.txt"; }
each() { for b in $(ls "$D"); do run "${b#amutex-bench-}" "$@" --locks amutex; done; }
base() { run "${first#amutex-bench-}" "$@" --locks pthread,adaptive; }
scen() { base "$@"; each "$@"; }
for rep in 1 2; do
  base --scenario uncontended --duration-ms 1000
  each --scenario uncontended --duration-ms 1000
done
scen --scenario contended --threads 16 --duration-ms 1500
scen --scenario contended --threads 16 --duration-ms 1500
scen --scenario contended --threads $((4 * N)) --duration-ms 1500
scen --scenario contended --threads 8 --cpus 2 --duration-ms 1500
scen --scenario hog --waiters 1 --duration-ms 2000
scen --scenario hog --waiters 15 --duration-ms 2000
scen --scenario hog --waiters 63 --duration-ms 2000
scen --scenario hog --waiters 63 --sleep-pause --duration-ms 2000
# The price of statistics (a named lock) beside the same lock without them.
for rep in 1 2; do
  run "${first#amutex-bench-}" --scenario uncontended --duration-ms 1000 --locks amutex,amutex-stats
  run "${first#amutex-bench-}" --scenario contended --threads 16 --duration-ms 1500 --locks amutex,amutex-stats
done
