#!/bin/bash
# The architecture, checked on the objects the build made: which file of
# lib/ calls which. Fails when two files call into each other, or when a
# part of lib/ calls a part it must not (the allowed directions below).
#   layering.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1
build=$2
fail=0
declare -A defs
# Objects of sources that exist now (a reused build directory keeps old ones).
objs=$(find "$build" -path '*CMakeFiles/*.dir/lib/*' -name '*.c.o' | sort -u |
	while read -r o; do
		f=$(echo "$o" | sed -E 's|.*\.dir/(lib/.*)\.o$|\1|')
		if [ -f "$src/$f" ]; then echo "$o"; fi
	done)
[ -n "$objs" ] || { echo "FAIL: no objects under $build"; exit 1; }
# A file's name under lib/: lib/mutex/protocol.c
name() { echo "$1" | sed -E 's|.*\.dir/(lib/.*)\.o$|\1|'; }
for o in $objs; do
	n=$(name "$o")
	for s in $(nm --defined-only "$o" | awk '$2 ~ /[TtDdBbRr]/ {print $3}'); do
		defs[$s]=$n
	done
done
# Allowed calls between parts: base is called by all and calls none.
allowed() {	# allowed FROM_PART TO_PART
	case "$1:$2" in
	"$2:$2"|*:base|mutex:stats|dropin:mutex|dropin:stats|group:mutex|group:stats|rwlock:mutex) return 0 ;;
	esac
	return 1
}
declare -A edge
for o in $objs; do
	from=$(name "$o")
	for s in $(nm --undefined-only "$o" | awk '{print $2}'); do
		to=${defs[$s]:-}
		[ -n "$to" ] && [ "$to" != "$from" ] || continue
		edge["$from $to"]=$s
		fp=$(echo "$from" | cut -d/ -f2); tp=$(echo "$to" | cut -d/ -f2)
		if ! allowed "$fp" "$tp"; then
			echo "FAIL: $from calls $to ($s): lib/$fp must not call lib/$tp"
			fail=1
		fi
	done
done
for e in "${!edge[@]}"; do
	set -- $e
	if [ -n "${edge["$2 $1"]:-}" ] && [[ "$1" < "$2" ]]; then
		echo "FAIL: $1 and $2 call into each other (${edge["$1 $2"]}, ${edge["$2 $1"]})"
		fail=1
	fi
done
[ $fail -eq 0 ] || exit 1
echo "layering: $(echo "$objs" | wc -l) objects, ${#edge[@]} file-to-file calls, none mutual, all allowed"
echo "1 passed, 0 failed"
