#!/bin/bash
# The manual pages in docs/man:
#   manpages.sh lint SRC                mandoc -T lint -W warning on every page
#   manpages.sh coverage SRC            every public function has a page
#   manpages.sh examples SRC LIBAMUTEX  every EXAMPLES program compiles and runs
# SRC is the source tree. A public function is one declared AMUTEX_API, or
# static inline, in any header under SRC/include, whose name has no "__".
# Its page is docs/man/man3/NAME.3: a full page whose NAME section lists it,
# or a link page, one line ".so man3/PAGE.3", to such a page.
set -eu
what=$1
src=$(cd "$2" && pwd)
man=$src/docs/man
fail=0
problem() { echo "FAIL: $*"; fail=1; }

public_functions() {
	find "$src/include" -name '*.h' -print0 | sort -z | xargs -0 perl -0777 -ne '
		s{/\*.*?\*/}{ }gs;			# comments
		s{//[^\n]*}{}g;
		s{^[ \t]*#(?:[^\n]*\\\n)*[^\n]*}{}gm;	# preprocessor lines
		s{__attribute__\s*(\((?:[^()]++|(?1))*\))}{ }g;
		while (/\bAMUTEX_API\b[^;{]*?\b([A-Za-z_]\w*)\s*\(/g) { print "$1\n" }
		while (/\bstatic\s+(?:__)?inline(?:__)?\b[^;{]*?\b([A-Za-z_]\w*)\s*\(/g) { print "$1\n" }
		while (/\b(?:__)?inline(?:__)?\s+static\b[^;{]*?\b([A-Za-z_]\w*)\s*\(/g) { print "$1\n" }
	' | grep -v '__' | sort -u
}

# The target of a link page, or nothing for a full page.
link_target() {
	sed -n '1s|^\.so man[37]/\(.*\)\.[37]$|\1|p' "$1"
}

# The names in a full page's NAME section.
page_names() {
	awk '/^\.Sh /{insec = ($0 == ".Sh NAME")} insec && /^\.Nm /{print $2}' "$1"
}

case $what in
lint)
	cd "$man"
	pages=$(ls man3/*.3 man7/*.7)
	[ -n "$pages" ] || problem "no pages in $man"
	for p in $pages; do
		if [ -n "$(link_target "$p")" ]; then
			# mandoc warns about every .so; anything else is a real problem.
			out=$(mandoc -T lint -W warning "$p" 2>&1 | grep -v 'WARNING: \.so is fragile' || true)
		else
			out=$(mandoc -T lint -W warning "$p" 2>&1 || true)
		fi
		[ -z "$out" ] || problem "$p: $out"
	done
	[ $fail -eq 0 ] && echo "mandoc lint: $(echo "$pages" | wc -w) pages clean"
	;;
coverage)
	funcs=$(public_functions)
	[ "$(echo "$funcs" | wc -w)" -ge 40 ] ||
		problem "found only $(echo "$funcs" | wc -w) public functions: is the extraction broken?"
	for f in $funcs; do
		page=$man/man3/$f.3
		if [ ! -f "$page" ]; then
			problem "$f has no manual page (docs/man/man3/$f.3)"
			continue
		fi
		full=$page
		if t=$(link_target "$page") && [ -n "$t" ]; then
			full=$man/man3/$t.3
			[ -f "$full" ] || { problem "$f.3 links to a missing man3/$t.3"; continue; }
			[ -z "$(link_target "$full")" ] || problem "$f.3 links to a link page, $t.3"
			[ "$(wc -l <"$page")" -eq 1 ] || problem "$f.3: a link page is one .so line"
		fi
		page_names "$full" | grep -qxF "$f" ||
			problem "$f: its page $(basename "$full") does not list it in NAME"
		grep -qE "^\.(Fn|Fo) $f( |\$)" "$full" ||
			problem "$f: its page $(basename "$full") has no .Fn/.Fo $f"
	done
	# No page for what is not public (a removed or renamed function).
	for page in "$man"/man3/*.3; do
		n=$(basename "$page" .3)
		echo "$funcs" | grep -qxF "$n" || problem "man3/$n.3 documents no public function"
		[ -n "$(link_target "$page")" ] && continue
		for m in $(page_names "$page"); do
			echo "$funcs" | grep -qxF "$m" || problem "$n.3 lists $m, which is not public"
		done
	done
	[ $fail -eq 0 ] && echo "coverage: all $(echo "$funcs" | wc -w) public functions have pages"
	;;
examples)
	lib=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT
	n=0
	for page in "$man"/man3/*.3 "$man"/man7/*.7; do
		[ -n "$(link_target "$page")" ] && continue
		# Each literal display in EXAMPLES that holds a whole program.
		awk -v out="$dir/$(basename "$page")" '
			/^\.Sh /{ex = ($0 == ".Sh EXAMPLES")}
			ex && /^\.Bd -literal/{inb = 1; k++; buf = ""; next}
			inb && /^\.Ed/{inb = 0; if (buf ~ /int main\(/) print buf > (out "." k ".c"); next}
			inb {buf = buf $0 "\n"}' "$page"
	done
	for c in "$dir"/*.c; do
		[ -e "$c" ] || continue
		n=$((n + 1))
		name=$(basename "$c" .c)
		# mdoc escapes: \e is a backslash, \& a zero-width guard.
		sed -i -e 's/\\e/\\/g' -e 's/\\&//g' "$c"
		if ! cc -Wall -Wextra -Werror -I"$src/include" -o "$dir/$name" "$c" "$lib" \
			-Wl,-rpath,"$(dirname "$lib")" -pthread 2>"$dir/$name.err"; then
			problem "$name: does not compile:"; cat "$dir/$name.err"
			continue
		fi
		if ! (cd "$dir" && timeout 60 "./$name" >"$dir/$name.out" 2>&1); then
			problem "$name: exited non-zero:"; cat "$dir/$name.out"
			continue
		fi
		echo "== $name"; head -5 "$dir/$name.out"
	done
	[ $n -ge 10 ] || problem "found only $n example programs"
	[ $fail -eq 0 ] && echo "examples: $n programs compile and run"
	;;
*)
	echo "usage: $0 lint|coverage|examples SRC [LIBAMUTEX]" >&2
	exit 2
	;;
esac
exit $fail
