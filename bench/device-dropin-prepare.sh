#!/bin/bash
# Gathers what bench/device-dropin.sh needs from a build directory into DIR:
# the dynamic amutex-bench, libamutex-pthread.so and the liburcu libraries
# it loads, and the C++ condvar pool with libstdc++ and libgcc linked in.
#   bench/device-dropin-prepare.sh BUILD_DIR DIR
set -eu
B=$1; D=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$D/lib"
cp "$B/bench/amutex-bench" "$D/amutex-bench-dyn"
cp -L "$B/libamutex-pthread.so" "$D/lib/libamutex-pthread.so"
for so in $(ldd "$B/libamutex-pthread.so" "$B/bench/amutex-bench" | awk '/liburcu|libxxhash/ {print $3}' | sort -u); do
	cp -L "$so" "$D/lib/"
done
g++ -O2 -pthread -static-libstdc++ -static-libgcc -o "$D/condvar_pool" "$here/condvar_pool.cc"
