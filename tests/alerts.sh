#!/bin/bash
# The Prometheus alerting rules (docs/prometheus/amutex-alerts.yml):
#   alerts.sh SRC LIBAMUTEX
# promtool checks them and runs their unit tests; the metric names and
# labels they read must be what the library exports (a program built
# against LIBAMUTEX prints its Prometheus text); and the unit tests must
# catch a rule that fires too early, too easily or for too few waits (each
# such mutation of the rules must make them fail).
set -eu
src=$(cd "$1" && pwd)
lib=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
rules=$src/docs/prometheus/amutex-alerts.yml
tests=$src/docs/prometheus/amutex-alerts.test.yml
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

promtool check rules "$rules" || fail "promtool check rules"
promtool test rules "$tests" || fail "promtool test rules"

# Every metric the rules and their tests name, and the labels they group
# by, are in the library's export of a contended mutex.
cat >"$dir/export.c" <<'EOF'
#include <amutex.h>
#include <amutex/stats.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static amutex_t m;

static void *hog(void *arg)
{
	for (int i = 0; i < 50; i++) {
		amutex_lock(&m);
		usleep(200);
		amutex_unlock(&m);
	}
	return arg;
}

int main(void)
{
	amutex_attr_t a;
	pthread_t t[2];

	amutex_attr_init(&a);
	amutex_attr_setname(&a, "hot");
	if (amutex_init(&m, &a) != 0)
		return 1;
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, hog, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	return amutex_export(stdout, AMUTEX_FORMAT_PROMETHEUS);
}
EOF
cc -I"$src/include" -o "$dir/export" "$dir/export.c" "$lib" -Wl,-rpath,"$(dirname "$lib")" -pthread ||
	fail "export.c does not build"
"$dir/export" >"$dir/metrics.prom" || fail "the export program failed"
names=$(cat "$rules" "$tests" | grep -v '^ *#' | grep -o 'amutex_[a-z_]*' | sort -u)
[ -n "$names" ] || fail "no amutex metric in the rules"
for n in $names; do
	grep -q "^$n{" "$dir/metrics.prom" || fail "the rules read $n, which the library does not export"
done
grep -q '^amutex_wait_seconds_bucket{lock="hot",le="0.005"} ' "$dir/metrics.prom" ||
	fail "no amutex_wait_seconds_bucket with the lock and le labels and the 5 ms bound"
grep -q '^amutex_starvation_seconds_total{lock="hot"} ' "$dir/metrics.prom" ||
	fail "no amutex_starvation_seconds_total with the lock label"

# The tests have teeth: each of these broken rule files must fail them.
mutant() {	# mutant WHAT SED-EXPRESSION
	sed "$2" "$rules" >"$dir/amutex-alerts.yml"
	cmp -s "$rules" "$dir/amutex-alerts.yml" && fail "mutation '$1' changed nothing"
	cp "$tests" "$dir/amutex-alerts.test.yml"
	if promtool test rules "$dir/amutex-alerts.test.yml" >"$dir/mutant.out" 2>&1; then
		fail "the unit tests pass with the rules broken: $1"
	fi
	echo "caught: $1"
}
mutant "p99 limit 10 us instead of 5 ms" 's/> 0\.005$/> 0.00001/'
mutant "starvation limit 1% instead of 10%" 's/> 0\.1$/> 0.01/'
mutant "no minimum of waits for a p99" 's/(rate(amutex_wait_seconds_count\[5m\])) > 0\.1/(rate(amutex_wait_seconds_count[5m])) > 0/'
mutant "alerts without their 10 minutes" 's/for: 10m/for: 0m/'
mutant "quantile 0.5 instead of 0.99" 's/histogram_quantile(0\.99,/histogram_quantile(0.5,/'
echo "1 passed, 0 failed"
