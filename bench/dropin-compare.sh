#!/bin/bash
# The drop-in against glibc, same machine, same script run, alternating:
# plain pthread_mutex calls (amutex-bench's "pthread" lock) with and without
# LD_PRELOAD of libamutex-pthread.so, and memcached under memcaslap when it
# is installed.
#   bench/dropin-compare.sh AMUTEX_BENCH LIBAMUTEX_PTHREAD [OUT_DIR]
set -u
B=$1; L=$2; OUT=${3:-.}
mkdir -p "$OUT"
echo "machine: $(nproc) CPUs, $(uname -r),$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
run() {	# run glibc|dropin ARGS...
	local who=$1; shift
	if [ "$who" = dropin ]; then
		LD_PRELOAD=$L "$B" "$@" --locks pthread
	else
		"$B" "$@" --locks pthread
	fi | sed "s/^SUMMARY /SUMMARY via=$who /" | tee -a "$OUT/dropin.txt"
}
for rep in 1 2 3; do
	for who in glibc dropin; do
		run $who --scenario uncontended --duration-ms 1000
	done
done
for w in 1 15 63; do
	for who in glibc dropin; do
		run $who --scenario hog --waiters $w --duration-ms 2000
	done
done
if command -v memcached >/dev/null && command -v memcaslap >/dev/null; then
	port=$((30000 + $$ % 20000))
	for rep in 1 2; do
		for who in glibc dropin; do
			if [ $who = dropin ]; then pre=$L; else pre=; fi
			LD_PRELOAD=$pre memcached -l 127.0.0.1 -p $port -U 0 -t 4 -m 256 -u root &
			pid=$!
			sleep 0.5
			tps=$(memcaslap -s 127.0.0.1:$port -t 5s -c 64 -T 2 2>&1 | grep -E '^Run time' | tail -1)
			echo "SUMMARY via=$who scenario=memcached $tps" | tee -a "$OUT/dropin.txt"
			kill -TERM $pid; wait $pid
			port=$((port + 1))
		done
	done
fi
