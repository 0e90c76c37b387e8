#!/bin/bash
# The drop-in on a many-core machine without the project's packages: the
# dynamic amutex-bench and libamutex-pthread.so with liburcu beside it.
#   bench/device-dropin.sh DIR OUT_DIR   (DIR: amutex-bench-dyn, lib/)
set -u
D=$1; OUT=$2
export LD_LIBRARY_PATH=$D/lib
"$D/amutex-bench-dyn" --help >/dev/null || { echo "the dynamic binary does not run here"; exit 1; }
exec "$(dirname "$0")/dropin-compare.sh" "$D/amutex-bench-dyn" "$D/lib/libamutex-pthread.so" "$OUT"
