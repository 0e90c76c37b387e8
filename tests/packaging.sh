#!/bin/bash
# The Debian packages, as a user gets them: configure a fresh build of SRC
# for /usr, build, cpack -G DEB; look inside the three packages; unpack them
# into a scratch root (nothing is installed on this machine); then, from that
# root only, build a program with find_package(amutex CONFIG) and one with
# pkg-config, run a plain pthread program under the drop-in, and read the
# manual.
#   packaging.sh SRC
set -eu
src=$(cd "$1" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
arch=$(dpkg --print-architecture)
root=$dir/root
lib=$root/usr/lib/$ma

step() {	# step NAME COMMAND...: run quietly, show the log on failure
	local name=$1
	shift
	"$@" >"$dir/$name.log" 2>&1 || { cat "$dir/$name.log"; fail "$name"; }
}
step configure cmake -S "$src" -B "$dir/build" -DCMAKE_INSTALL_PREFIX=/usr \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo -DAMUTEX_BUILD_TESTS=OFF -DAMUTEX_BUILD_BENCH=OFF
step build cmake --build "$dir/build" -j 2
step cpack sh -c "cd '$dir/build' && cpack -G DEB"

# Three packages, named by policy.
debs=$dir/build/packages
version=$(dpkg-deb -f "$debs"/libamutex0_*.deb Version) || fail "no libamutex0 package"
for p in libamutex0 libamutex-dev libamutex-pthread0; do
	[ -f "$debs/${p}_${version}_$arch.deb" ] || fail "no $debs/${p}_${version}_$arch.deb"
done
[ "$(ls "$debs"/*.deb | wc -l)" -eq 3 ] || fail "expected 3 packages: $(ls "$debs")"
deb() { echo "$debs/${1}_${version}_$arch.deb"; }
field() { dpkg-deb -f "$(deb "$1")" "$2"; }
depends() { field "$1" Depends | tr ',' '\n' | sed 's/^ *//'; }

# Control fields.
[ "$(field libamutex0 Section)" = libs ] || fail "libamutex0 Section: $(field libamutex0 Section)"
[ "$(field libamutex-dev Section)" = libdevel ] || fail "libamutex-dev Section"
depends libamutex-dev | grep -qxF "libamutex0 (= $version)" ||
	fail "libamutex-dev must depend on libamutex0 (= $version): $(field libamutex-dev Depends)"
depends libamutex-dev | grep -qx 'liburcu-dev' || fail "libamutex-dev must depend on liburcu-dev"
for p in libamutex0 libamutex-pthread0; do
	for d in libc6 liburcu8 libxxhash0; do
		depends $p | grep -q "^$d\( \|$\)" || fail "$p does not depend on $d: $(field $p Depends)"
	done
done
! depends libamutex-pthread0 | grep -q '^libamutex0' ||
	fail "libamutex-pthread0 carries amutex itself and must not depend on libamutex0"

# Contents: each file in one package, every installed file in some package.
for p in libamutex0 libamutex-dev libamutex-pthread0; do
	dpkg-deb -c "$(deb $p)" | grep -v '^d' | awk '{print $6}' | sed 's|^\./|/|' >"$dir/$p.files"
done
has() { grep -qxF "$2" "$dir/$1.files" || fail "$1 lacks $2"; }
has libamutex0 "/usr/lib/$ma/libamutex.so.0"
has libamutex0 "/usr/lib/$ma/libamutex.so.$(field libamutex0 Version | sed 's/-[^-]*$//')"
[ "$(grep -vc "^/usr/lib/$ma/libamutex\.so\.0" "$dir/libamutex0.files")" -eq 0 ] ||
	fail "libamutex0 holds more than the shared library: $(cat "$dir/libamutex0.files")"
for f in /usr/include/amutex.h /usr/include/amutex/stats.h "/usr/lib/$ma/libamutex.so" \
	"/usr/lib/$ma/libamutex.a" "/usr/lib/$ma/pkgconfig/amutex.pc" \
	"/usr/lib/$ma/cmake/amutex/amutexConfig.cmake" /usr/share/man/man3/amutex_lock.3 \
	/usr/share/man/man3/amutex_unlock.3 /usr/share/man/man7/amutex.7; do
	has libamutex-dev "$f"
done
for f in "/usr/lib/$ma/libamutex-pthread.so" "/usr/lib/$ma/libamutex-pthread.so.0" \
	/usr/share/man/man7/libamutex-pthread.7; do
	has libamutex-pthread0 "$f"
done
dup=$(cat "$dir"/*.files | sort | uniq -d)
[ -z "$dup" ] || fail "in two packages: $dup"
step install env DESTDIR="$dir/full" cmake --install "$dir/build"
for p in libamutex0 libamutex-dev libamutex-pthread0; do
	dpkg-deb -x "$(deb $p)" "$root"
done
missing=$(cd "$dir/full" && find . ! -type d | sed 's|^\.||' | sort | comm -23 - <(cat "$dir"/*.files | sort))
[ -z "$missing" ] || fail "installed by cmake --install but in no package (a COMPONENT missing?): $missing"

for so in "$lib"/libamutex.so.0 "$lib"/libamutex-pthread.so.0; do
	! objdump -h "$so" | grep -q '\.debug_info' || fail "$so is not stripped"
done

# Depends covers every library the shared objects need, at the glibc
# version their symbols need.
for so in "$lib"/libamutex.so.0 "$lib"/libamutex-pthread.so.0; do
	p=$(basename "$so" | sed 's/^libamutex-pthread.*/libamutex-pthread0/; s/^libamutex\.so.*/libamutex0/')
	for needed in $(objdump -p "$so" | awk '$1 == "NEEDED" {print $2}'); do
		owner=$(dpkg -S "*/$ma/$needed" 2>/dev/null | head -1 | cut -d: -f1)
		[ -n "$owner" ] || owner=$(dpkg -S "/$needed" 2>/dev/null | grep -v i386 | head -1 | cut -d: -f1)
		[ -n "$owner" ] || fail "no Debian package owns $needed, needed by $so"
		depends "$p" | grep -q "^$owner\( \|$\)" || fail "$p needs $needed from $owner but does not depend on it"
	done
	glibc=$(objdump -T "$so" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
	declared=$(depends "$p" | sed -n 's/^libc6 (>= \(.*\))$/\1/p')
	[ "$(printf '%s\n%s\n' "$glibc" "$declared" | sort -V | tail -1)" = "$declared" ] ||
		fail "$p: symbols need glibc $glibc, Depends says libc6 (>= $declared)"
done

# An outside program, built against the unpacked root only.
mkdir "$dir/consumer"
cat >"$dir/consumer/consumer.c" <<'EOF'
#include <amutex.h>
#include <amutex/stats.h>
#include <stdio.h>

static amutex_t m;

int main(void)
{
	amutex_attr_t a;

	amutex_attr_init(&a);
	amutex_attr_setname(&a, "consumer");
	if (amutex_init(&m, &a) != 0)
		return 1;
	amutex_lock(&m);
	amutex_unlock(&m);
	return amutex_export(stdout, AMUTEX_FORMAT_PROMETHEUS) || amutex_destroy(&m);
}
EOF
cat >"$dir/consumer/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(amutex 0.2 CONFIG REQUIRED)
add_executable(consumer consumer.c)
target_link_libraries(consumer amutex::amutex)
add_executable(consumer_static consumer.c)
target_link_libraries(consumer_static amutex::amutex_static)
EOF
step consumer-configure cmake -S "$dir/consumer" -B "$dir/consumer/build" \
	-DCMAKE_PREFIX_PATH="$root/usr"
grep -q "^amutex_DIR:PATH=$lib/cmake/amutex\$" "$dir/consumer/build/CMakeCache.txt" ||
	fail "find_package found amutex elsewhere: $(grep ^amutex_DIR "$dir/consumer/build/CMakeCache.txt")"
step consumer-build cmake --build "$dir/consumer/build"
pc() { PKG_CONFIG_PATH=$lib/pkgconfig pkg-config "$@"; }
flags=$(pc --cflags --libs amutex) || fail "pkg-config does not find amutex in $lib/pkgconfig"
# Relocatable: its paths lead into the root, wherever that is.
[ "$(realpath -m "$(pc --variable=includedir amutex)")" = "$root/usr/include" ] &&
	[ "$(realpath -m "$(pc --variable=libdir amutex)")" = "$lib" ] ||
	fail "amutex.pc does not lead into the root: $flags"
[ "$(pc --modversion amutex)" = "$(echo "$version" | sed 's/-[^-]*$//')" ] || fail "amutex.pc version"
# shellcheck disable=SC2086
cc -o "$dir/consumer/consumer_pc" "$dir/consumer/consumer.c" $flags 2>"$dir/pc.log" ||
	{ cat "$dir/pc.log"; fail "the pkg-config build"; }
for exe in build/consumer build/consumer_static consumer_pc; do
	out=$(LD_LIBRARY_PATH=$lib "$dir/consumer/$exe") || fail "$exe exited $?"
	echo "$out" | grep -qxF 'amutex_acquisitions_total{lock="consumer",path="fast"} 1' ||
		fail "$exe: no acquisition in its export: $out"
done
LD_LIBRARY_PATH=$lib ldd "$dir/consumer/consumer_pc" | grep -q "libamutex.so.0 => $lib/libamutex.so.0" ||
	fail "consumer_pc did not load the unpacked libamutex.so.0"
! ldd "$dir/consumer/build/consumer_static" | grep -q libamutex ||
	fail "consumer_static links libamutex.so"

# An unmodified pthread program under the unpacked drop-in.
cat >"$dir/plain.c" <<'EOF'
#include <pthread.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg)
{
	for (int i = 0; i < 200; i++) {
		pthread_mutex_lock(&m);
		usleep(100);
		pthread_mutex_unlock(&m);
	}
	return arg;
}

int main(void)
{
	pthread_t t[4];

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	return 0;
}
EOF
cc -O2 -pthread -o "$dir/plain" "$dir/plain.c" || fail "plain.c"
LD_PRELOAD=$lib/libamutex-pthread.so AMUTEX_REPORT="$dir/report.%p" "$dir/plain" ||
	fail "the pthread program under the drop-in exited $?"
report=$(ls "$dir"/report.* 2>/dev/null) || fail "no AMUTEX_REPORT: the drop-in was not loaded"
grep -q '^amutex contention report (pid [0-9]*): 1 mutexes were contended' $report ||
	fail "unexpected report: $(cat $report)"

# The manual, from the unpacked root: a full page, and a link page.
man -l "$root/usr/share/man/man3/amutex_lock.3" 2>&1 | col -b >"$dir/man.txt"
grep -q 'amutex_timedlock(amutex_t \*m, const struct timespec \*abs_mono)' "$dir/man.txt" ||
	fail "man -l does not render amutex_lock.3: $(head -20 "$dir/man.txt")"
(cd "$root/usr/share/man" && mandoc -T ascii man3/amutex_unlock.3) | col -b | grep -q 'amutex_unlock()' ||
	fail "the link page amutex_unlock.3 does not lead to amutex_lock.3"
(cd "$root/usr/share/man" && mandoc -T ascii man7/libamutex-pthread.7) | col -b | grep -q AMUTEX_REPORT ||
	fail "libamutex-pthread.7 does not render"

echo "packages: $(cd "$debs" && ls *.deb | tr '\n' ' ')"
echo "Depends of libamutex0: $(field libamutex0 Depends)"
echo "1 passed, 0 failed"
