#!/bin/bash
# Gathers what bench/device-dropin.sh needs from a build directory into DIR:
# the dynamic amutex-bench, libamutex-pthread.so and the liburcu libraries
# it loads, the C++ condvar pool with libstdc++ and libgcc linked in, and,
# when stress-ng is installed, stress-ng with every library it loads (glibc
# and its loader included) in DIR/stress-ng/, run through DIR/stress-ng/run
# (a machine without the packages has none of them).
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
if command -v stress-ng >/dev/null; then
	s=$D/stress-ng
	mkdir -p "$s"
	cp -L "$(command -v stress-ng)" "$s/stress-ng"
	for so in $(ldd "$s/stress-ng" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}'); do
		cp -L "$so" "$s/"
	done
	# Its own loader and libraries first; the drop-in's (LD_LIBRARY_PATH) after.
	cat >"$s/run" <<'RUN'
#!/bin/sh
d=$(dirname "$0")
exec "$d/ld-linux-x86-64.so.2" --library-path "$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$d/stress-ng" "$@"
RUN
	chmod +x "$s/run"
fi
