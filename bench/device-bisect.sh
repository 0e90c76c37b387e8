#!/bin/bash
# Contended throughput of each build, alternating, twice: where did it go?
D=$1; OUT=$2; mkdir -p $OUT
f=$OUT/bisect.txt
echo "# commit: bisect of e1206b1..8727b25 (one amutex-bench per commit)" > $f
echo "# machine: $(nproc)-CPU machine ($(nproc) CPUs, $(uname -r),$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2))" >> $f
echo "# command: bench/device-bisect.sh: contended 16 and 64 threads, uncontended; each build in turn, twice" >> $f
for rep in 1 2; do
  for s in "--scenario contended --threads 16 --duration-ms 1500" "--scenario contended --threads 64 --duration-ms 1500" "--scenario uncontended --duration-ms 700"; do
    for b in $D/amutex-bench-*; do
      v=${b##*/amutex-bench-}
      $b $s --locks amutex | sed "s/^SUMMARY /SUMMARY variant=$v /" >> $f
    done
  done
done
awk '{for(i=1;i<=NF;i++){split($i,kv,"="); f[kv[1]]=kv[2]} print f["variant"], f["scenario"], f["threads"], f["ops_per_sec"]}' $f | sort | awk '{k=$1" "$2" "$3; s[k]=s[k]" "$4} END {for (k in s) print k, s[k]}' | sort -k2,2 -k3n -k1
