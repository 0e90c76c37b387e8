#!/bin/sh
# bench/amutex-stripes as a user meets it: usage errors, valid JSON whose
# recommendation is a measured point, an SVG that parses as XML, and the
# hot key named on skewed workloads. Short points: behaviour, not speed.
#   stripes.sh AMUTEX_STRIPES_BINARY
set -u
B=${1:?amutex-stripes binary}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
TOOL="$B" TOOL_MESSAGE='^usage: amutex-stripes'
. "$(dirname "$0")/checks.sh"
usage_error --bogus
usage_error --counts 0
usage_error --counts 1,x
usage_error --threads 0
usage_error --dist zipf:x
usage_error --dist hot:2:0.5
usage_error --layout diagonal
usage_error --keys-per-op 65
usage_error --compare pthreads
usage_error stray

# Short sweep: JSON, SVG, the recommendation among the measured points.
if "$B" --duration-ms 50 --counts 1,8,64 --keys 10000 --layout both \
	--compare amutex-array,pthread-array --json "$T/r.json" --svg "$T/r.svg" \
	>"$T/out" 2>"$T/err"; then
	ok "a short sweep runs"
else
	no "a short sweep runs (status $?)"; cat "$T/out" "$T/err"
fi
if python3 -m json.tool "$T/r.json" >/dev/null; then ok "--json is valid JSON"; else no "--json is valid JSON"; fi
if python3 - "$T/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
measured = {(p["stripes"], p["layout"]) for p in r["points"] if p["lock"].startswith("group")}
rec = (r["recommended"]["stripes"], r["recommended"]["layout"])
assert rec in measured, (rec, measured)
assert {p["stripes"] for p in r["points"]} == {1, 8, 64}
assert {p["lock"] for p in r["points"]} == {"group-padded", "group-packed", "amutex-array", "pthread-array"}
assert all(p["counter_ok"] for p in r["points"] + r["baselines"])
assert r["prediction"]["knee"] in (1, 8, 64)
PY
then ok "the recommended count is a measured point"; else no "the recommended count is a measured point"; fi
if python3 -c "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])" "$T/r.svg"; then
	ok "--svg parses as XML"
else
	no "--svg parses as XML"
fi
if grep -q '^recommendation: ' "$T/out" && grep -q '^SUMMARY tool=amutex-stripes' "$T/out" &&
	grep -q 'stripes:' "$T/err"; then
	ok "recommendation, SUMMARY and progress printed"
else
	no "recommendation, SUMMARY and progress printed"
fi

# Skewed keys: the hot key is named; when it dominates, the tool says so.
"$B" --duration-ms 50 --counts 1,16,256 --keys 1000 --dist zipf:1.2 >"$T/zipf" 2>/dev/null
if grep -q 'key 0 holds' "$T/zipf"; then ok "zipf(1.2): the hot keys are named"; else no "zipf(1.2): the hot keys are named"; cat "$T/zipf"; fi
"$B" --duration-ms 50 --counts 1,16,256 --keys 1000 --dist zipf:3 --cs-ns 2000 \
	--outside-ns 100 >"$T/zipf3" 2>/dev/null
if grep -q '^split or pin key 0: no stripe count helps' "$T/zipf3"; then
	ok "zipf(3), long critical sections: split or pin the hot key"
else
	no "zipf(3), long critical sections: split or pin the hot key"; cat "$T/zipf3"
fi

# A key trace (as amutex_group_write_keys writes): hot key named by its text.
{ i=0; while [ $i -lt 300 ]; do echo "room-lobby"; echo "$i"; i=$((i + 1)); done; } >"$T/trace"
"$B" --duration-ms 50 --counts 1,16 --dist trace:"$T/trace" >"$T/tr" 2>/dev/null
if grep -q 'key room-lobby holds 50.0% of operations' "$T/tr"; then
	ok "a key trace is read, byte-string keys included"
else
	no "a key trace is read, byte-string keys included"; cat "$T/tr"
fi

# --trace-out: the group's own sample, one key per line, read back.
"$B" --duration-ms 50 --counts 4 --keys 100 --trace-out "$T/sample" >"$T/so" 2>/dev/null
if [ -s "$T/sample" ] && grep -q 'skew' "$T/so" &&
	"$B" --duration-ms 20 --counts 4 --dist trace:"$T/sample" >/dev/null 2>&1; then
	ok "--trace-out writes a trace the tool reads back"
else
	no "--trace-out writes a trace the tool reads back"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
