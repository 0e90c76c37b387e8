#!/bin/bash
# The drop-in on a many-core machine without the project's packages: the
# dynamic amutex-bench, libamutex-pthread.so with liburcu beside it, and
# the C++ condvar pool prebuilt with libstdc++ linked in (nothing but glibc
# needed there), and stress-ng with its own libraries when it was there to
# bundle. A static binary cannot be preloaded, so the dynamic one.
#   bench/device-dropin.sh DIR OUT_DIR [mutex|condvar|all] [PAIRS]
#   DIR: amutex-bench-dyn, condvar_pool, lib/ (made by bench/device-dropin-prepare.sh)
set -u
D=$1; OUT=$2; WHAT=${3:-all}; PAIRS=${4:-3}
here=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH=$D/lib
# The library's commit, as device-build.sh recorded it (git on the device may
# see another tree, or none).
if [ -z "${COMMIT:-}" ] && [ -f "$D/build-info.txt" ]; then
	COMMIT=$(sed -n 's/^# commit: //p' "$D/build-info.txt" | head -1)
	export COMMIT
fi
"$D/amutex-bench-dyn" --help >/dev/null || { echo "the dynamic binary does not run here"; exit 1; }
mkdir -p "$OUT"
if [ "$WHAT" = all ] || [ "$WHAT" = mutex ]; then
	"$here/dropin-compare.sh" "$D/amutex-bench-dyn" "$D/lib/libamutex-pthread.so" "$OUT"
fi
if [ "$WHAT" = all ] || [ "$WHAT" = condvar ]; then
	[ -x "$D/stress-ng/run" ] && export STRESS_NG=$D/stress-ng/run
	POOL_BIN=$D/condvar_pool "$here/dropin-condvar.sh" "$D/amutex-bench-dyn" \
		"$D/lib/libamutex-pthread.so" "$OUT" "$PAIRS"
fi
