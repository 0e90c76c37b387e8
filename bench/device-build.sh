#!/bin/bash
# Build what bench/device-all.sh runs on a many-core machine that has none
# of the project's packages, into one folder (git-ignored .devbin/ by
# default): static binaries of this commit and of a baseline commit, and a
# dynamic amutex-bench with the drop-in and the shared libraries it needs
# beside it (a static binary cannot be preloaded).
#   bench/device-build.sh [OUT_DIR [BASELINE_COMMIT]]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/.devbin}
base=${2:-e1206b1}	# the last commit of the previous submission
cd "$top"
rm -rf "$out"
mkdir -p "$out/lib"
jobs=$(nproc)

static_build() {	# static_build SRC_DIR BUILD_DIR TARGETS...
	local src=$1 b=$2
	shift 2
	cmake -S "$src" -B "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAMUTEX_BENCH_STATIC=ON \
		-DAMUTEX_BUILD_TESTS=OFF >/dev/null
	cmake --build "$b" -j "$jobs" --target "$@" >/dev/null
}

# This commit, static.
static_build . build/device-static amutex-bench amutex-stripes amutex-rwbench chatd rusage
cp build/device-static/bench/amutex-bench "$out/amutex-bench"
cp build/device-static/bench/amutex-rwbench "$out/amutex-rwbench"
cp build/device-static/bench/rusage "$out/rusage"
cp build/device-static/bench/amutex-stripes "$out/amutex-stripes"
cp build/device-static/examples/chatd "$out/chatd"

# The baseline, static, from a clean checkout of its commit.
wt=$(mktemp -d)
git worktree add -f --detach "$wt" "$base" >/dev/null 2>&1
static_build "$wt" "$wt/build" amutex-bench
cp "$wt/build/bench/amutex-bench" "$out/amutex-bench-prev"
git worktree remove --force "$wt"

# The drop-in: a dynamic amutex-bench, the library and its dependencies,
# the C++ condvar pool (bench/device-dropin-prepare.sh).
cmake -S . -B build/device-dyn -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAMUTEX_BUILD_TESTS=OFF >/dev/null
cmake --build build/device-dyn -j "$jobs" --target amutex-bench amutex-pthread >/dev/null
bash bench/device-dropin-prepare.sh build/device-dyn "$out"
# Drop-in variants for device-all.sh's variants section, each built with
# its own C flags, and optionally a patch applied to a clean checkout of
# HEAD (an experiment kept out of the tree, as in docs/results/; without
# this tree's uncommitted changes),
# into lib/libamutex-pthread-NAME.so. DROPIN_VARIANTS:
# "NAME:CFLAGS[:PATCH] ..." with commas between flags (default: one
# broadcast root, docs/drop-in.md).
: >"$out/variants.txt"
for v in ${DROPIN_VARIANTS:-roots1:-DAMUTEX_DROPIN_ROOTS=1}; do
	name=${v%%:*}
	rest=${v#*:}
	flags=${rest%%:*}
	patch=; [ "$rest" = "$flags" ] || patch=${rest#*:}
	src=.
	if [ -n "$patch" ]; then
		src=$(mktemp -d)
		git worktree add -f --detach "$src" HEAD >/dev/null 2>&1
		git -C "$src" apply "$top/$patch" || { echo "device-build.sh: $patch does not apply" >&2; exit 1; }
	fi
	rm -rf "build/device-$name"	# its cache may name another source tree
	cmake -S "$src" -B "build/device-$name" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAMUTEX_BUILD_TESTS=OFF \
		"-DCMAKE_C_FLAGS=$(echo "$flags" | tr ',' ' ')" >/dev/null
	cmake --build "build/device-$name" -j "$jobs" --target amutex-pthread >/dev/null
	cp -L "build/device-$name/libamutex-pthread.so" "$out/lib/libamutex-pthread-$name.so"
	[ "$src" = . ] || git worktree remove --force "$src"
	echo "# variant $name: $flags${patch:+ with $patch}" >>"$out/variants.txt"
done

{
	echo "# commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo +uncommitted)"
	echo "# baseline: $(git rev-parse --short "$base")"
	echo "# built: $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -m), $(gcc --version | head -1)"
	cat "$out/variants.txt"
} >"$out/build-info.txt"
cp bench/device-all.sh bench/device-stripes.sh bench/device-dropin.sh bench/dropin-compare.sh \
	bench/dropin-condvar.sh bench/ab-preload.sh bench/condvar_pingpong.py bench/rwlock-compare.sh \
	examples/chatd/run.sh "$out/"
mv "$out/run.sh" "$out/chatd-run.sh"
ls -la "$out" "$out/lib"
du -sh "$out"
