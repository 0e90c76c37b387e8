# Shared by the suite's shell checks of command-line tools (sourced):
# ok/no count results; usage_error runs $TOOL with arguments that must be
# refused with status 2 and a message matching $TOOL_MESSAGE on stderr.
# The caller sets T (a scratch directory), TOOL and TOOL_MESSAGE.
pass=0 fail=0
ok() { echo "ok: $1"; pass=$((pass + 1)); }
no() { echo "FAIL: $1"; fail=$((fail + 1)); }

usage_error() {
	"$TOOL" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 2 ] && grep -q "$TOOL_MESSAGE" "$T/err"; then
		ok "usage error: $*"
	else
		no "usage error: $* (status $rc)"
	fi
}
