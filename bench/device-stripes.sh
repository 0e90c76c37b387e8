#!/bin/sh
# The striped group on a many-core machine, with the static amutex-stripes
# (no packages needed there): 16 threads on 64 stripes against one amutex,
# three times; the default sweep beside a padded pthread array at every
# count; and the sweep on zipf(1.2) keys. Prints everything; raw output,
# JSON and SVG go to OUT_DIR. About 2 minutes.
#   bench/device-stripes.sh BIN_DIR OUT_DIR
set -u
D=${1:?bin dir with amutex-stripes}; OUT=${2:?out dir}
B="$D/amutex-stripes"
MS=${DURATION_MS:-1000}	# per point; a shorter value only to try the script out
mkdir -p "$OUT"
echo "machine: $(nproc) CPUs, $(uname -r),$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)" |
	tee "$OUT/machine.txt"
run() {	# run NAME ARGS...: the tool's output on screen and in OUT_DIR/NAME.txt
	name=$1; shift
	echo "== $name: amutex-stripes $*"
	"$B" "$@" --duration-ms "$MS" --json "$OUT/$name.json" --svg "$OUT/$name.svg" 2>"$OUT/$name.progress" |
		tee "$OUT/$name.txt"
}
# Target: 64 stripes at least 12x one amutex, 16 threads, uniform keys.
for rep in 1 2 3; do
	run "t16-64-rep$rep" --threads 16 --counts 1,64
done
# Target: the group at or above the padded pthread array at every count.
run sweep-vs-pthread --threads 16 --compare pthread-array
# The knee, predicted and measured, on skewed keys.
run sweep-zipf --threads 16 --dist zipf:1.2

echo "== results"
for rep in 1 2 3; do
	awk -v rep=$rep '$1 == "group-padded" && $2 == 64 {
		x = $4; sub("x", "", x)
		printf "16 threads, 64 stripes vs one amutex (rep %d): %sx (target >= 12x): %s\n",
			rep, x, (x + 0 >= 12 ? "met" : "MISSED") }' "$OUT/t16-64-rep$rep.txt"
done | tee "$OUT/results.txt"
awk '$1 == "group-padded" { g[$2] = $4 } $1 == "pthread-array" { p[$2] = $4 }
	END { for (n in g) { a = g[n]; b = p[n]; sub("x", "", a); sub("x", "", b)
		printf "%6d stripes: group %sx, pthread array %sx one amutex: %s\n", n, a, b,
			(a + 0 >= b + 0 ? "group >= array" : "GROUP BELOW ARRAY") } }' \
	"$OUT/sweep-vs-pthread.txt" | sort -n | tee -a "$OUT/results.txt"
grep -h '^knee:\|^recommendation:\|^split or pin' "$OUT"/sweep-*.txt | tee -a "$OUT/results.txt"
