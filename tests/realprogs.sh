#!/bin/bash
# Unmodified programs from Debian, run on the drop-in with LD_PRELOAD:
#   realprogs.sh bindings|sysbench|memcached|redis|python-condition|cxx-pool PATH/TO/libamutex-pthread.so
# Loopback only, bounded in time, servers started and stopped here. Each
# run writes an AMUTEX_REPORT, which proves the drop-in was loaded.
set -eu
what=$1
lib=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
port=$((20000 + $$ % 20000))
fail() { echo "FAIL: $what: $*"; exit 1; }

wait_port() {	# wait_port PORT: up to 10 s for a listener
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	return 1
}

case $what in
bindings)
	# Every pthread mutex and condvar symbol that memcached imports, in
	# both glibc versions it names, binds to the drop-in.
	imports=$(objdump -T /usr/bin/memcached | grep -cE 'UND.*pthread_(mutex|cond)_') || true
	[ "$imports" -gt 0 ] || fail "memcached imports no pthread mutex symbols"
	objdump -T /usr/bin/memcached | grep -q 'GLIBC_2.3.2.*pthread_cond_wait' || fail "no versioned condvar import"
	LD_BIND_NOW=1 LD_DEBUG=bindings LD_PRELOAD=$lib /usr/bin/memcached -h 2>"$dir/b" >/dev/null || true
	bound=$(grep -E 'binding file /usr/bin/memcached .*pthread_(mutex|cond)_' "$dir/b" |
		grep -c libamutex-pthread) || true
	[ "$bound" -eq "$imports" ] || fail "$bound of $imports imports bound to the drop-in"
	objdump -T "$lib" | grep -E 'pthread_cond_wait$' | grep -q Base || fail "drop-in symbol is versioned"
	echo "bindings: all $imports pthread mutex/cond imports of memcached bind to the drop-in"
	;;
sysbench)
	timeout 120 env LD_PRELOAD=$lib AMUTEX_REPORT="$dir/report" sysbench mutex \
		--threads=8 --mutex-num=2000 --mutex-locks=200000 --mutex-loops=1000 run >"$dir/out" ||
		fail "sysbench exited $?"
	grep -q "total number of events: *8" "$dir/out" || fail "sysbench did not finish its 8 events"
	[ -s "$dir/report" ] || fail "no AMUTEX_REPORT: the drop-in was not loaded"
	# The same run with the metrics file of the drop-in's environment.
	timeout 120 env LD_PRELOAD=$lib AMUTEX_METRICS="$dir/m.%p.prom" AMUTEX_METRICS_INTERVAL=50ms \
		sysbench mutex --threads=8 --mutex-num=64 --mutex-locks=100000 run >/dev/null ||
		fail "sysbench with AMUTEX_METRICS exited $?"
	m=$(ls "$dir"/m.*.prom)
	[ "$(echo "$m" | wc -w)" = 1 ] || fail "expected one metrics file, %p expanded: $m"
	grep -q '^amutex_wait_seconds_bucket{lock="' $m || fail "no contended mutex in AMUTEX_METRICS"
	promtool check metrics <$m || fail "promtool rejects the metrics file"
	echo "sysbench mutex: $(grep 'total time' "$dir/out" | tr -s ' ')"
	;;
memcached)
	mport=$((port + 1))
	LD_PRELOAD=$lib AMUTEX_REPORT="$dir/report" AMUTEX_METRICS_ADDR=127.0.0.1:$mport \
		memcached -l 127.0.0.1 -p "$port" -U 0 -t 4 -m 64 -u root >"$dir/log" 2>&1 &
	pid=$!
	wait_port "$port" || { kill $pid; fail "memcached did not listen"; }
	head -c 200000 /dev/urandom >"$dir/blob"
	memccp --servers=127.0.0.1:$port "$dir/blob" || fail "memccp"
	memccat --servers=127.0.0.1:$port blob >"$dir/back" || fail "memccat"
	# memccat ends the value with a newline of its own.
	head -c 200000 "$dir/back" | cmp -s "$dir/blob" - || fail "value read back differs"
	timeout 60 memcaslap -s 127.0.0.1:$port -t 3s -c 32 -T 4 -v 0.1 >"$dir/slap" 2>&1 ||
		fail "memcaslap exited $?"
	grep -q "Run time" "$dir/slap" || fail "memcaslap produced no result"
	! grep -qi "verify fail" "$dir/slap" || fail "memcaslap verify failures"
	# Scrape the drop-in's /metrics endpoint inside memcached.
	exec 3<>"/dev/tcp/127.0.0.1/$mport" || fail "no metrics endpoint"
	printf 'GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n' >&3
	cat <&3 >"$dir/scrape"
	exec 3<&-
	grep -q "^HTTP/1.1 200" "$dir/scrape" || fail "metrics endpoint did not answer 200"
	grep -q '^amutex_acquisitions_total{lock="' "$dir/scrape" || fail "no contended mutex in /metrics"
	kill -TERM $pid
	wait $pid || fail "memcached exited $? on SIGTERM"
	[ -s "$dir/report" ] || fail "no AMUTEX_REPORT: the drop-in was not loaded"
	echo "memcached: $(grep -E '^Run time' "$dir/slap" | tail -1)"
	;;
redis)
	LD_PRELOAD=$lib AMUTEX_REPORT="$dir/report" redis-server --port "$port" \
		--bind 127.0.0.1 --io-threads 2 --io-threads-do-reads yes --save '' \
		--appendonly no --daemonize no >"$dir/log" 2>&1 &
	pid=$!
	wait_port "$port" || { kill $pid; fail "redis did not listen"; }
	timeout 60 redis-benchmark -p "$port" -n 50000 -c 32 -t set,get -q >"$dir/bench" 2>&1 ||
		fail "redis-benchmark exited $?"
	redis-cli -p "$port" set amutex-key drop-in >/dev/null
	[ "$(redis-cli -p "$port" get amutex-key)" = drop-in ] || fail "value read back differs"
	kill -TERM $pid
	wait $pid || fail "redis-server exited $? on SIGTERM"
	[ -s "$dir/report" ] || fail "no AMUTEX_REPORT: the drop-in was not loaded"
	echo "redis: $(tr '\r' '\n' <"$dir/bench" | grep -E 'requests per second' | tr '\n' ' ')"
	;;
python-condition|cxx-pool)
	# Condition variables: a CPython threading.Condition ping-pong
	# (/usr/bin/python3, its GIL a mutex and condvar too) and a C++
	# std::condition_variable pool; the same output with and without the
	# drop-in, which LD_DEBUG shows was loaded.
	src=$(cd "$(dirname "$0")/../bench" && pwd)
	if [ "$what" = python-condition ]; then
		cmd=(/usr/bin/python3 "$src/condvar_pingpong.py" 20000)
	else
		g++ -O2 -pthread -o "$dir/pool" "$src/condvar_pool.cc" || fail "cannot build the pool"
		cmd=("$dir/pool" 4 100000)
	fi
	timeout 120 "${cmd[@]}" >"$dir/glibc" || fail "plain run exited $?"
	LD_DEBUG=libs LD_DEBUG_OUTPUT="$dir/ld" timeout 120 env LD_PRELOAD=$lib "${cmd[@]}" \
		>"$dir/dropin" || fail "run on the drop-in exited $?"
	cat "$dir"/ld.* | grep -q "calling init: .*libamutex-pthread" || fail "the drop-in was not loaded"
	cmp -s "$dir/glibc" "$dir/dropin" || fail "output differs: $(cat "$dir/glibc") / $(cat "$dir/dropin")"
	echo "$what: $(cat "$dir/dropin") with and without the drop-in"
	;;
*)
	fail "unknown program"
	;;
esac
echo "1 passed, 0 failed"
