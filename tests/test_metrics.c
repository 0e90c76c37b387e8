/*
 * Named locks, the registry, hooks, hold times, the exporters and their
 * publishers, the watchdog, and the environment that starts them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <amutex/stats.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#ifdef AMUTEX__RSEQ_CPU
#include <sys/rseq.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mutex/mutex.h"
#include "stats/stats.h"
#include "pace.h"
#include "support.h"

static char dir[64];

static int init_named(amutex_t *m, const char *name)
{
	amutex_attr_t a;

	amutex_attr_init(&a);
	amutex_attr_setname(&a, name);
	return amutex_init(m, &a);
}

static char *export_to_string(enum amutex_format fmt)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(amutex_export(f, fmt), 0);
	fclose(f);
	return buf;
}

/*
 * A hog on m: one thread holds it 300 us and relocks at once, another
 * waits and always loses the race (tests/pace.h), so it starves.
 */
struct hog { amutex_t *m; int stop, started; uint64_t hold_ns; };

static void *hog_thread(void *arg)
{
	struct hog *h = arg;

	while (!__atomic_load_n(&h->stop, __ATOMIC_RELAXED)) {
		amutex_lock(h->m);
		__atomic_store_n(&h->started, 1, __ATOMIC_RELEASE);
		busy(h->hold_ns);
		hog_release(h->m, &h->stop);
	}
	return NULL;
}

static void contend(amutex_t *m, int acquisitions)
{
	struct hog h = { m, 0, 0, 300000 };
	pthread_t t;

	pthread_create(&t, NULL, hog_thread, &h);
	while (!__atomic_load_n(&h.started, __ATOMIC_ACQUIRE))
		nap_ms(1);
	pace_me(m, &h.stop);
	for (int i = 0; i < acquisitions; i++) {
		amutex_lock(m);
		amutex_unlock(m);
		busy(20000);
	}
	__atomic_store_n(&h.stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	pace_end();
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/amutex-metrics-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_named_lock_enters_and_leaves_the_registry(void **state)
{
	amutex_t m;
	size_t before = amutex_registry_size();
	char *json;

	(void)state;
	assert_int_equal(init_named(&m, "orders.queue"), 0);
	assert_int_equal(amutex_registry_size(), before + 1);
	json = export_to_string(AMUTEX_FORMAT_JSON);
	assert_non_null(strstr(json, "\"name\": \"orders.queue\""));
	free(json);
	assert_int_equal(amutex_destroy(&m), 0);
	assert_int_equal(amutex_registry_size(), before);
	json = export_to_string(AMUTEX_FORMAT_JSON);
	assert_null(strstr(json, "orders.queue"));
	free(json);
}

static void test_invalid_names_return_einval(void **state)
{
	amutex_attr_t a;
	char longname[AMUTEX_NAME_MAX + 2];

	(void)state;
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	amutex_attr_init(&a);
	assert_int_equal(amutex_attr_setname(&a, NULL), EINVAL);
	assert_int_equal(amutex_attr_setname(&a, ""), EINVAL);
	assert_int_equal(amutex_attr_setname(&a, longname), EINVAL);
	longname[AMUTEX_NAME_MAX] = '\0';
	assert_int_equal(amutex_attr_setname(&a, longname), 0);
}

struct churn { int stop; uint64_t exports; };

static void *exporter(void *arg)
{
	struct churn *c = arg;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		assert_int_equal(amutex_export(f, c->exports % 2 ? AMUTEX_FORMAT_JSON :
					       AMUTEX_FORMAT_PROMETHEUS), 0);
		fclose(f);
		free(buf);
		c->exports++;
	}
	return NULL;
}

static void *churner(void *arg)
{
	(void)arg;
	for (int i = 0; i < 300; i++) {
		amutex_t m[4];
		char name[32];

		for (int k = 0; k < 4; k++) {
			snprintf(name, sizeof(name), "churn.%d", k);
			assert_int_equal(init_named(&m[k], name), 0);
			amutex_lock(&m[k]);
			amutex_unlock(&m[k]);
		}
		for (int k = 0; k < 4; k++)
			assert_int_equal(amutex_destroy(&m[k]), 0);
	}
	return NULL;
}

static void test_registry_insert_and_remove_under_concurrent_export(void **state)
{
	struct churn c = { 0, 0 };
	pthread_t ex, ch[3];
	size_t before = amutex_registry_size();

	(void)state;
	pthread_create(&ex, NULL, exporter, &c);
	for (int i = 0; i < 3; i++)
		pthread_create(&ch[i], NULL, churner, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(ch[i], NULL);
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	pthread_join(ex, NULL);
	assert_true(c.exports > 0);
	assert_int_equal(amutex_registry_size(), before);
}

struct seen {
	uint64_t contended, wait_sum, wait_max, enters, exits, starving_sum;
	const amutex_t *m;
	const char *name;
};

static void on_contended(void *arg, const amutex_t *m, const char *name, uint64_t wait_ns)
{
	struct seen *s = arg;

	s->m = m;
	s->name = name;
	s->contended++;
	s->wait_sum += wait_ns;
	if (wait_ns > s->wait_max)
		s->wait_max = wait_ns;
}

static void on_enter(void *arg, const amutex_t *m, const char *name)
{
	(void)m;
	(void)name;
	__atomic_add_fetch(&((struct seen *)arg)->enters, 1, __ATOMIC_RELAXED);
}

static void on_exit_(void *arg, const amutex_t *m, const char *name, uint64_t ns)
{
	struct seen *s = arg;

	(void)m;
	(void)name;
	__atomic_add_fetch(&s->exits, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->starving_sum, ns, __ATOMIC_RELAXED);
}

static void test_hooks_see_each_contended_wait_and_starvation_episode(void **state)
{
	static struct seen mine, global;
	struct amutex_hooks hooks = { on_contended, on_enter, on_exit_, &mine };
	struct amutex_hooks ghooks = { on_contended, on_enter, on_exit_, &global };
	amutex_attr_t a;
	amutex_t m;
	amutex_hist_t h;
	struct amutex_counters c;

	(void)state;
	amutex_attr_init(&a);
	amutex_attr_setname(&a, "hooked");
	amutex_attr_sethooks(&a, &hooks);
	amutex_attr_setstarvation(&a, 100000);
	assert_int_equal(amutex_init(&m, &a), 0);
	amutex_hooks_set_global(&ghooks);
	/* Bounded in rounds, not time: until a starvation episode has ended. */
	for (int i = 0; i < 200; i++) {
		contend(&m, 50);
		amutex_stats_read(&m, &c);
		if (c.starvation_exits > 0)
			break;
	}
	amutex_hooks_set_global(NULL);
	amutex_stats_read(&m, &c);
	amutex_stats_wait_hist(&m, &h);
	assert_true(c.acquired_spin + c.acquired_sleep > 0);
	assert_int_equal(mine.contended, c.acquired_spin + c.acquired_sleep);
	assert_int_equal(mine.contended, h.count);
	assert_int_equal(mine.wait_sum, h.sum_ns);
	assert_ptr_equal(mine.m, &m);
	assert_string_equal(mine.name, "hooked");
	assert_true(c.starvation_entries > 0);
	assert_int_equal(mine.enters, c.starvation_entries);
	assert_int_equal(mine.exits, c.starvation_exits);
	assert_int_equal(mine.starving_sum, c.starvation_ns);
	/* The global hooks saw the same events. */
	assert_int_equal(global.contended, mine.contended);
	assert_int_equal(global.enters, mine.enters);
	assert_non_null(c.first_contended_site);
	assert_int_equal(m.state, 0);
	assert_int_equal(amutex_destroy(&m), 0);
}

/*
 * Holders count in the shard of the CPU they run on (lib/stats/stats.h):
 * threads pinned to different CPUs write different shards, and the sums
 * the readers make are still exact.
 */
struct pinned { amutex_t *m; int cpu, n, on; };

static void *pinned_thread(void *arg)
{
	struct pinned *p = arg;

	p->on = pin_self(p->cpu) == 0;
	for (int i = 0; i < p->n; i++) {
		amutex_lock(p->m);
		busy(i % 64 == 0 ? 20000 : 200);	/* now and then long enough to be waited for */
		amutex_unlock(p->m);
	}
	return NULL;
}

static void test_counters_are_exact_across_the_shards_of_several_cpus(void **state)
{
	static struct seen mine;
	struct amutex_hooks hooks = { on_contended, NULL, NULL, &mine };
	struct pinned p[2];
	pthread_t t[2];
	cpu_set_t set;
	int cpus[2], k, shards = 0;
	amutex_attr_t a;
	amutex_t m;
	amutex_hist_t h;
	struct amutex_counters c;

	(void)state;
	/* Two CPUs this process may run on (one: both threads share it). */
	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	k = first_cpus(&set, cpus, 2);
	if (k == 1)
		cpus[1] = cpus[0];
	amutex_attr_init(&a);
	amutex_attr_sethooks(&a, &hooks);
	assert_int_equal(amutex_init(&m, &a), 0);
	for (int i = 0; i < 2; i++) {
		p[i] = (struct pinned){ &m, cpus[i], 20000, 0 };
		pthread_create(&t[i], NULL, pinned_thread, &p[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(amutex_stats_read(&m, &c), 0);
	assert_int_equal(amutex_stats_wait_hist(&m, &h), 0);
	assert_int_equal(c.acquired_fast + c.acquired_spin + c.acquired_sleep, 40000);
	assert_int_equal(h.count, c.acquired_spin + c.acquired_sleep);
	assert_int_equal(h.count, mine.contended);
	assert_int_equal(h.sum_ns, mine.wait_sum);
	assert_int_equal(h.max_ns, mine.wait_max);
	for (int i = 0; i < AMUTEX__STATS_SHARDS; i++)
		shards += m.stats->shard[i].acquired_fast + m.stats->shard[i].acquired_spin +
			  m.stats->shard[i].acquired_sleep != 0;
	/*
	 * Where the header reads the CPU from rseq, rseq is registered and the
	 * two CPUs map to different shards, both were written.
	 */
	assert_true(shards >= 1);
#ifdef AMUTEX__RSEQ_CPU
	if (p[0].on && p[1].on && __rseq_size != 0 &&
	    cpus[0] % AMUTEX__STATS_SHARDS != cpus[1] % AMUTEX__STATS_SHARDS)
		assert_true(shards >= 2);
#endif
	assert_int_equal(amutex_destroy(&m), 0);
}

/*
 * A block taken off the pending list by one thread's drain and not yet in
 * the registry: another thread's export waits for it instead of missing it
 * (the drop-in's report at exit, beside a watchdog thread draining, once
 * listed no mutex though its header counted one).
 */
static int drain_started, reader_waits, drain_go;

/* Spin (1 ms naps) until *flag, for at most 2 s; 1 when it came. */
static int await_flag(int *flag)
{
	for (int i = 0; i < 2000; i++) {
		if (__atomic_load_n(flag, __ATOMIC_ACQUIRE))
			return 1;
		nap_ms(1);
	}
	return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

/* The drainer, blocks in hand: until the reader waits for it (or told to go). */
static void drain_pause(void)
{
	__atomic_store_n(&drain_started, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&reader_waits, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&drain_go, __ATOMIC_ACQUIRE))
		nap_ms(1);
}

static void reader_waiting(void)
{
	__atomic_store_n(&reader_waits, 1, __ATOMIC_RELEASE);
}

static void ignore_block(void *arg, const struct amutex__stats *s)
{
	(void)arg;
	(void)s;
}

static void *drainer(void *arg)
{
	(void)arg;
	amutex__registry_each(ignore_block, NULL);
	return NULL;
}

static int blocks_of;

static void count_block_of(void *arg, const struct amutex__stats *s)
{
	if (amutex__stats_lock(s) == arg)
		blocks_of++;
}

/* A block on the pending list, and a thread draining it, paused with it in hand. */
static struct amutex__stats *drain_in_flight(amutex_t *m, pthread_t *t)
{
	amutex_attr_t a;
	struct amutex__stats *s;

	drain_started = reader_waits = drain_go = 0;
	amutex_attr_init(&a);
	amutex_attr_setstats(&a, 1);
	assert_non_null(s = amutex__stats_new(m, &a));
	assert_null(s->reg);	/* unnamed: not registered */
	amutex__registry_pending(s);
	__atomic_store_n(&amutex__registry_drain_point, drain_pause, __ATOMIC_RELEASE);
	pthread_create(t, NULL, drainer, NULL);
	assert_true(await_flag(&drain_started));
	return s;
}

static void test_export_waits_for_a_block_another_thread_is_registering(void **state)
{
	amutex_t m = AMUTEX_INITIALIZER;
	struct amutex__stats *s;
	pthread_t t;

	(void)state;
	s = drain_in_flight(&m, &t);
	__atomic_store_n(&amutex__registry_wait_point, reader_waiting, __ATOMIC_RELEASE);
	blocks_of = 0;
	amutex__registry_each(count_block_of, &m);	/* waits: the drainer goes on then */
	__atomic_store_n(&drain_go, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	__atomic_store_n(&amutex__registry_wait_point, NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&amutex__registry_drain_point, NULL, __ATOMIC_RELEASE);
	assert_true(reader_waits);
	assert_int_equal(blocks_of, 1);
	assert_non_null(s->reg);
	amutex__stats_release(s);
}

/*
 * A child of a fork taken while a thread was draining: that thread is not
 * in the child, and the child's exports do not wait for it.
 */
static void test_child_of_a_fork_during_a_drain_does_not_wait_for_it(void **state)
{
	amutex_t m = AMUTEX_INITIALIZER;
	struct amutex__stats *s;
	pthread_t t;
	pid_t pid;
	int status;

	(void)state;
	s = drain_in_flight(&m, &t);
	pid = fork();
	if (pid == 0) {
		__atomic_store_n(&amutex__registry_drain_point, NULL, __ATOMIC_RELEASE);
		__atomic_store_n(&amutex__registry_wait_point, reader_waiting, __ATOMIC_RELEASE);
		amutex__registry_each(ignore_block, NULL);
		_exit(__atomic_load_n(&reader_waits, __ATOMIC_ACQUIRE) ? 1 : 0);
	}
	assert_true(pid > 0);
	waitpid(pid, &status, 0);
	__atomic_store_n(&drain_go, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	__atomic_store_n(&amutex__registry_drain_point, NULL, __ATOMIC_RELEASE);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	amutex__stats_release(s);
}

static void test_hold_times_are_recorded_per_unlock(void **state)
{
	amutex_attr_t a;
	amutex_t m;
	amutex_hist_t h;

	(void)state;
	amutex_attr_init(&a);
	amutex_attr_setholdtimes(&a, 1);
	assert_int_equal(amutex_init(&m, &a), 0);
	for (int i = 0; i < 5; i++) {
		amutex_lock(&m);
		busy(200000);
		amutex_unlock(&m);
	}
	assert_int_equal(amutex_trylock(&m), 0);
	amutex_unlock(&m);
	assert_int_equal(amutex_stats_hold_hist(&m, &h), 0);
	assert_int_equal(h.count, 6);
	assert_true(amutex_hist_quantile(&h, 0.5) >= 190000);
	amutex_destroy(&m);
	amutex_init(&m, NULL);
	assert_int_equal(amutex_stats_hold_hist(&m, &h), ENOTSUP);
}

/* Run promtool on text; 0 when it accepts it. */
static int promtool(const char *text)
{
	char path[128], cmd[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/metrics.prom", dir);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' >&2", path);
	return system(cmd);
}

static void test_prometheus_text_passes_promtool(void **state)
{
	amutex_t a, b, c, d;
	amutex_attr_t ha;
	char *text;

	(void)state;
	assert_int_equal(system("command -v promtool >/dev/null"), 0);
	init_named(&a, "db.pool");
	init_named(&b, "db.pool");	/* a repeated name */
	init_named(&c, "odd \"name\" \\ with\nnewline");
	amutex_attr_init(&ha);
	amutex_attr_setname(&ha, "with.hold");
	amutex_attr_setholdtimes(&ha, 1);
	amutex_init(&d, &ha);
	contend(&a, 20);
	amutex_lock(&d);
	amutex_unlock(&d);
	text = export_to_string(AMUTEX_FORMAT_PROMETHEUS);
	assert_non_null(strstr(text, "# TYPE amutex_wait_seconds histogram"));
	assert_non_null(strstr(text, "amutex_wait_seconds_bucket{lock=\"db.pool\",le=\"+Inf\"}"));
	assert_non_null(strstr(text, "lock=\"db.pool#2\""));
	assert_non_null(strstr(text, "lock=\"odd \\\"name\\\" \\\\ with\\nnewline\""));
	assert_non_null(strstr(text, "amutex_hold_seconds_count{lock=\"with.hold\"} 1"));
	assert_int_equal(promtool(text), 0);
	free(text);
	amutex_destroy(&a);
	amutex_destroy(&b);
	amutex_destroy(&c);
	amutex_destroy(&d);
}

static void test_prometheus_buckets_are_cumulative_and_end_at_count(void **state)
{
	amutex_t m;
	char *text, *p, line[256];
	unsigned long long prev = 0, v, count = 0;

	(void)state;
	init_named(&m, "cumulative");
	contend(&m, 30);
	text = export_to_string(AMUTEX_FORMAT_PROMETHEUS);
	for (p = strstr(text, "amutex_wait_seconds_bucket{lock=\"cumulative\""); p;
	     p = strstr(p + 1, "amutex_wait_seconds_bucket{lock=\"cumulative\"")) {
		sscanf(p, "%255[^ ] %llu", line, &v);
		assert_true(v >= prev);
		prev = v;
	}
	p = strstr(text, "amutex_wait_seconds_count{lock=\"cumulative\"}");
	assert_non_null(p);
	sscanf(p, "%*s %llu", &count);
	assert_int_equal(prev, count);
	assert_true(count > 0);
	free(text);
	amutex_destroy(&m);
}

static void test_table_lists_worst_total_wait_first(void **state)
{
	amutex_t calm, hot;
	char *text;

	(void)state;
	init_named(&calm, "calm.lock");
	init_named(&hot, "hot.lock");
	amutex_lock(&calm);
	amutex_unlock(&calm);
	contend(&hot, 20);
	text = export_to_string(AMUTEX_FORMAT_TABLE);
	assert_non_null(strstr(text, "hot.lock"));
	assert_true(strstr(text, "hot.lock") < strstr(text, "calm.lock"));
	free(text);
	amutex_destroy(&calm);
	amutex_destroy(&hot);
}

static char *http_get(unsigned port, const char *path)
{
	struct sockaddr_in sa = { 0 };
	static char resp[1 << 20];
	char req[128];
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (got < sizeof(resp) - 1 && (n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
		got += (size_t)n;
	resp[got] = '\0';
	close(fd);
	return resp;
}

static void test_http_endpoint_serves_metrics_on_loopback(void **state)
{
	amutex_t m;
	unsigned port = 0;
	char *resp;

	(void)state;
	init_named(&m, "served.lock");
	assert_int_equal(amutex_metrics_http_start("127.0.0.1:0", &port), 0);
	assert_true(port > 0);
	assert_int_equal(amutex_metrics_http_start("127.0.0.1:0", NULL), EALREADY);
	resp = http_get(port, "/metrics");
	assert_true(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_non_null(strstr(resp, "Content-Type: text/plain; version=0.0.4"));
	assert_non_null(strstr(resp, "amutex_acquisitions_total{lock=\"served.lock\",path=\"fast\"} 0"));
	resp = http_get(port, "/other");
	assert_true(strncmp(resp, "HTTP/1.1 404", 12) == 0);
	amutex_metrics_stop();
	amutex_destroy(&m);
}

static void test_http_endpoint_refuses_other_addresses(void **state)
{
	(void)state;
	assert_int_equal(amutex_metrics_http_start("0.0.0.0:9300", NULL), EADDRNOTAVAIL);
	assert_int_equal(amutex_metrics_http_start("10.1.2.3:9300", NULL), EADDRNOTAVAIL);
	assert_int_equal(amutex_metrics_http_start("127.0.0.1", NULL), EINVAL);
	assert_int_equal(amutex_metrics_http_start("127.0.0.1:99999", NULL), EINVAL);
	assert_int_equal(amutex_metrics_http_start("nohost:80", NULL), EINVAL);
}

static int file_has(const char *path, const char *needle)
{
	char buf[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strstr(buf, needle) != NULL;
}

static void test_metrics_file_is_rewritten_and_written_at_stop(void **state)
{
	char path[128], cmd[256];
	amutex_t m;

	(void)state;
	snprintf(path, sizeof(path), "%s/amutex.prom", dir);
	init_named(&m, "file.lock");
	assert_int_equal(amutex_metrics_file_start(path, 20000000), 0);
	assert_true(file_has(path, "amutex_acquisitions_total{lock=\"file.lock\",path=\"fast\"} 0"));
	amutex_lock(&m);
	amutex_unlock(&m);
	/* Rewritten on its interval: wait for the new count to appear. */
	for (int i = 0; i < 1000 && !file_has(path, "lock=\"file.lock\",path=\"fast\"} 1"); i++)
		nap_ms(10);
	assert_true(file_has(path, "lock=\"file.lock\",path=\"fast\"} 1"));
	amutex_lock(&m);
	amutex_unlock(&m);
	amutex_metrics_stop();
	assert_true(file_has(path, "lock=\"file.lock\",path=\"fast\"} 2"));
	/* Atomic rewrite: no temporary file left beside it. */
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls '%s' | grep tmp)\"", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(amutex_metrics_file_start("", 20000000), EINVAL);
	amutex_destroy(&m);
}

struct fired { int n; char name[64]; uint64_t p99; };

static void on_fire(void *arg, const struct amutex_watch_event *ev, size_t n)
{
	struct fired *f = arg;

	assert_true(n >= 1);
	snprintf(f->name, sizeof(f->name), "%s", ev[0].name);
	f->p99 = ev[0].p99_ns;
	__atomic_add_fetch(&f->n, 1, __ATOMIC_RELEASE);
}

static void test_watchdog_fires_once_on_a_hog(void **state)
{
	static struct fired f;
	struct amutex_watch w = { 0 };
	char report[128];
	amutex_t m;

	(void)state;
	snprintf(report, sizeof(report), "%s/watch.txt", dir);
	init_named(&m, "hogged.lock");
	w.p99_ns = 100000;
	w.window_ns = 200000000;
	w.cooldown_ns = 3600ull * 1000000000;
	w.fire = on_fire;
	w.arg = &f;
	w.report_path = report;
	assert_int_equal(amutex_watch_start(&w), 0);
	/* Hog until the watchdog has fired; then two more windows of it. */
	for (int i = 0; i < 100 && !__atomic_load_n(&f.n, __ATOMIC_ACQUIRE); i++)
		contend(&m, 20);
	contend(&m, 40);
	nap_ms(450);
	amutex_watch_stop();
	assert_int_equal(f.n, 1);
	assert_string_equal(f.name, "hogged.lock");
	assert_true(f.p99 > 100000);
	assert_true(file_has(report, "hogged.lock"));
	assert_true(file_has(report, "amutex watchdog"));
	amutex_destroy(&m);
}

static void test_watchdog_stays_quiet_on_a_calm_load(void **state)
{
	static struct fired f;
	struct amutex_watch w = { 0 };
	amutex_t m;
	uint64_t end;

	(void)state;
	init_named(&m, "calm.watched");
	w.p99_ns = 5000000;
	w.starving_share = 0.1;
	w.window_ns = 100000000;
	w.fire = on_fire;
	w.arg = &f;
	assert_int_equal(amutex_watch_start(&w), 0);
	for (end = now_ns() + 500000000; now_ns() < end;) {
		amutex_lock(&m);
		amutex_unlock(&m);
	}
	amutex_watch_stop();
	assert_int_equal(f.n, 0);
	amutex_destroy(&m);
}

static void test_watch_spec_parses_and_rejects(void **state)
{
	struct amutex_watch w;

	(void)state;
	assert_int_equal(amutex__parse_watch("p99=5ms,starving=10%,window=10s,cooldown=60s,report=/tmp/x", &w), 0);
	assert_int_equal(w.p99_ns, 5000000);
	assert_true(w.starving_share > 0.099 && w.starving_share < 0.101);
	assert_int_equal(w.window_ns, 10000000000ull);
	assert_int_equal(w.cooldown_ns, 60000000000ull);
	assert_string_equal(w.report_path, "/tmp/x");
	assert_int_equal(amutex__parse_watch("starving=0.25", &w), 0);
	assert_string_equal(w.report_path, "stderr");
	assert_int_equal(amutex__parse_watch("window=10s", &w), EINVAL);
	assert_int_equal(amutex__parse_watch("p99=fast", &w), EINVAL);
	assert_int_equal(amutex__parse_watch("starving=150%", &w), EINVAL);
	assert_int_equal(amutex__parse_watch("p99", &w), EINVAL);
	assert_int_equal(amutex__parse_watch("p99=1ms,color=red", &w), EINVAL);
}

static void from_env(void)
{
	assert_int_equal(amutex_metrics_from_env(), 0);
}

static void test_bad_environment_is_reported_and_nothing_started(void **state)
{
	char path[128], out[4096];

	(void)state;
	amutex__warn_reset();
	setenv("AMUTEX_WATCH", "p99=soon", 1);
	setenv("AMUTEX_METRICS_ADDR", "192.168.1.1:9300", 1);
	setenv("AMUTEX_METRICS_INTERVAL", "often", 1);
	snprintf(path, sizeof(path), "%s/stderr.txt", dir);
	capture_stderr(from_env, path, out, sizeof(out));
	assert_non_null(strstr(out, "AMUTEX_WATCH=\"p99=soon\" is malformed"));
	assert_non_null(strstr(out, "AMUTEX_METRICS_ADDR=\"192.168.1.1:9300\""));
	assert_non_null(strstr(out, "AMUTEX_METRICS_INTERVAL=\"often\""));
	unsetenv("AMUTEX_WATCH");
	unsetenv("AMUTEX_METRICS_ADDR");
	unsetenv("AMUTEX_METRICS_INTERVAL");
}

static void test_environment_starts_the_file_publisher(void **state)
{
	char path[128];
	amutex_t m;

	(void)state;
	snprintf(path, sizeof(path), "%s/env.prom", dir);
	init_named(&m, "env.lock");
	setenv("AMUTEX_METRICS", path, 1);
	setenv("AMUTEX_METRICS_INTERVAL", "50ms", 1);
	assert_int_equal(amutex_metrics_from_env(), 1);
	assert_true(file_has(path, "lock=\"env.lock\""));
	assert_false(file_has(path, "pid="));	/* one file for the program: no pid label */
	amutex_metrics_stop();
	unsetenv("AMUTEX_METRICS");
	unsetenv("AMUTEX_METRICS_INTERVAL");
	amutex_destroy(&m);
}

/*
 * A file per process (%p): every series has the process's pid label, so
 * that the node exporter, reading all the files, never meets one series
 * twice; a publisher started afterwards by the program has none.
 */
static void test_environment_file_per_process_labels_every_series_with_the_pid(void **state)
{
	char pattern[128], path[128], want[160];
	amutex_t m;

	(void)state;
	snprintf(pattern, sizeof(pattern), "%s/env-%%p.prom", dir);
	snprintf(path, sizeof(path), "%s/env-%ld.prom", dir, (long)getpid());
	init_named(&m, "env.lock");
	setenv("AMUTEX_METRICS", pattern, 1);
	assert_int_equal(amutex_metrics_from_env(), 1);
	snprintf(want, sizeof(want), "amutex_acquisitions_total{lock=\"env.lock\",pid=\"%ld\","
		 "path=\"fast\"}", (long)getpid());
	assert_true(file_has(path, want));
	snprintf(want, sizeof(want), "amutex_wait_seconds_bucket{lock=\"env.lock\",pid=\"%ld\","
		 "le=\"+Inf\"}", (long)getpid());
	assert_true(file_has(path, want));
	snprintf(want, sizeof(want), "amutex_starvation_seconds_total{lock=\"env.lock\",pid=\"%ld\"}",
		 (long)getpid());
	assert_true(file_has(path, want));
	amutex_metrics_stop();
	unsetenv("AMUTEX_METRICS");
	/* Stopped: the child of a later fork does not start it again. */
	{
		pid_t child = fork();
		int status;

		assert_true(child >= 0);
		if (child == 0) {
			/* A publisher running here would write its file once more at stop. */
			amutex_metrics_stop();
			snprintf(path, sizeof(path), "%s/env-%ld.prom", dir, (long)getpid());
			_exit(access(path, F_OK) == 0 ? 1 : 0);
		}
		assert_int_equal(waitpid(child, &status, 0), child);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	snprintf(path, sizeof(path), "%s/api.prom", dir);
	assert_int_equal(amutex_metrics_file_start(path, 1000000000), 0);
	assert_true(file_has(path, "lock=\"env.lock\""));
	assert_false(file_has(path, "pid="));
	amutex_metrics_stop();
	amutex_destroy(&m);
}

struct shard_arg { amutex_hist_sharded_t *h; int id; };

static void *record_many(void *arg)
{
	struct shard_arg *a = arg;

	for (int i = 0; i < 100000; i++)
		amutex_hist_sharded_record(a->h, (uint64_t)(a->id * 1000 + i % 1000));
	return NULL;
}

static void test_sharded_histogram_counts_every_concurrent_record(void **state)
{
	amutex_hist_sharded_t *h = amutex_hist_sharded_new(0);
	struct shard_arg args[8];
	pthread_t t[8];
	amutex_hist_t sum;
	uint64_t expect_sum = 0;

	(void)state;
	assert_non_null(h);
	for (int i = 0; i < 8; i++) {
		args[i].h = h;
		args[i].id = i;
		pthread_create(&t[i], NULL, record_many, &args[i]);
		for (int k = 0; k < 100000; k++)
			expect_sum += (uint64_t)(i * 1000 + k % 1000);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	amutex_hist_sharded_read(h, &sum);
	assert_int_equal(sum.count, 800000);
	assert_int_equal(sum.sum_ns, expect_sum);
	assert_int_equal(sum.max_ns, 7999);
	amutex_hist_sharded_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_named_lock_enters_and_leaves_the_registry),
		cmocka_unit_test(test_invalid_names_return_einval),
		cmocka_unit_test(test_registry_insert_and_remove_under_concurrent_export),
		cmocka_unit_test(test_hooks_see_each_contended_wait_and_starvation_episode),
		cmocka_unit_test(test_counters_are_exact_across_the_shards_of_several_cpus),
		cmocka_unit_test(test_export_waits_for_a_block_another_thread_is_registering),
		cmocka_unit_test(test_child_of_a_fork_during_a_drain_does_not_wait_for_it),
		cmocka_unit_test(test_hold_times_are_recorded_per_unlock),
		cmocka_unit_test(test_prometheus_text_passes_promtool),
		cmocka_unit_test(test_prometheus_buckets_are_cumulative_and_end_at_count),
		cmocka_unit_test(test_table_lists_worst_total_wait_first),
		cmocka_unit_test(test_http_endpoint_serves_metrics_on_loopback),
		cmocka_unit_test(test_http_endpoint_refuses_other_addresses),
		cmocka_unit_test(test_metrics_file_is_rewritten_and_written_at_stop),
		cmocka_unit_test(test_watchdog_fires_once_on_a_hog),
		cmocka_unit_test(test_watchdog_stays_quiet_on_a_calm_load),
		cmocka_unit_test(test_watch_spec_parses_and_rejects),
		cmocka_unit_test(test_bad_environment_is_reported_and_nothing_started),
		cmocka_unit_test(test_environment_starts_the_file_publisher),
		cmocka_unit_test(test_environment_file_per_process_labels_every_series_with_the_pid),
		cmocka_unit_test(test_sharded_histogram_counts_every_concurrent_record),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
