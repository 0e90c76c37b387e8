#!/bin/sh
# examples/chatd as a user meets it: usage errors with status 2, every lock
# kind keeps its state consistent (chatd checks its rooms and users at the
# end), and examples/chatd/run.sh goes end to end (trace, sweep,
# recommendation, the recommended count). Short runs: behaviour, not speed.
#   chatd.sh BUILD_DIR SOURCE_DIR
set -u
B=${1:?build dir}
S=${2:?source dir}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
TOOL="$B/examples/chatd" TOOL_MESSAGE='chatd'
. "$(dirname "$0")/checks.sh"
usage_error --stripes 0
usage_error --lock spin
usage_error --threads x
usage_error --zipf -1
usage_error --lock amutex --trace "$T/t"
usage_error stray

for lock in pthread amutex "group --stripes 1" "group --stripes 3" "group --stripes 2000"; do
	if "$B/examples/chatd" --lock $lock --threads 8 --users 2000 --rooms 50 --move-pct 30 \
		--duration-ms 200 >"$T/out" 2>&1 && grep -q 'consistent=1' "$T/out"; then
		ok "consistent state: --lock $lock"
	else
		no "consistent state: --lock $lock"; cat "$T/out"
	fi
done

if THREADS=8 DURATION_MS=200 SWEEP_MS=40 COUNTS=1,16,256 sh "$S/examples/chatd/run.sh" "$B" \
	>"$T/run" 2>"$T/err"; then
	ok "run.sh end to end"
else
	no "run.sh end to end"; cat "$T/run" "$T/err"
fi
n=$(grep -c 'consistent=1' "$T/run")
[ "$n" -eq 4 ] && ok "four chatd runs, all consistent" || no "four chatd runs, all consistent ($n)"
grep -q '^recommendation: ' "$T/run" && ok "a recommendation" || no "a recommendation"
grep -q '(recommended) | [0-9]* | [0-9.]*x |$' "$T/run" && ok "the recommended count measured" ||
	no "the recommended count measured"
grep -q 'chatd.rooms' "$T/run" && ok "the rooms group's report" || no "the rooms group's report"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
