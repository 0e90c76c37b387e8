#!/bin/sh
# A short many-core check of the scenarios a protocol change can move:
# hog 1+1, 1+15, 1+63 (sleeping waiters) and contended 16 threads, amutex
# beside pthread in one run.
#   bench/device-check.sh BENCH_BINARY OUT_DIR
set -u
B=${1:?bench binary}; OUT=${2:?out dir}
mkdir -p "$OUT"
echo "machine: $(nproc) CPUs, $(uname -r),$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
run() { "$B" "$@" | tee -a "$OUT/summary.txt"; }
run --scenario hog --waiters 1 --duration-ms 2000 --locks amutex,pthread
run --scenario hog --waiters 15 --duration-ms 2000 --locks amutex,pthread
run --scenario hog --waiters 63 --sleep-pause --duration-ms 2000 --locks amutex,pthread
run --scenario contended --threads 16 --duration-ms 1500 --locks amutex,adaptive
run --scenario contended --threads 16 --duration-ms 1500 --locks adaptive,amutex
