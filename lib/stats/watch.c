/*
 * The watchdog: every window/4, a snapshot of each named lock's wait
 * histogram and starvation time; the difference between the newest and the
 * snapshot one window old is the window's distribution. Locks over a limit
 * fire the callback and/or the report, at most once per cooldown. All its
 * memory is the watchdog thread's own, never touched by lock paths.
 */
#include "stats.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define TICKS 4		/* snapshots per window */

struct snapshot {
	uint64_t t, starving_ns, count;
	uint32_t bucket[AMUTEX_HIST_BUCKETS];
};

struct wentry {
	const struct amutex__stats *key;
	char name[AMUTEX_NAME_MAX + 1];
	const amutex_t *lock;
	const void *site;
	unsigned filled, head;
	int seen;
	struct snapshot ring[TICKS + 1];
};

static struct {
	struct amutex_watch cfg;
	char *report;
	pthread_t thread;
	int running, stop_fd;
	struct wentry **e;
	size_t n, cap;
	uint64_t now, last_fire;
	amutex_hist_t scratch;	/* one lock's wait histogram, copied */
} W = { .stop_fd = -1 };

static struct wentry *find(const struct amutex__stats *key)
{
	for (size_t i = 0; i < W.n; i++)
		if (W.e[i]->key == key)
			return W.e[i];
	if (W.n == W.cap) {
		size_t cap = W.cap ? W.cap * 2 : 16;
		struct wentry **v = realloc(W.e, cap * sizeof(*v));

		if (!v)
			return NULL;
		W.e = v;
		W.cap = cap;
	}
	if (!(W.e[W.n] = calloc(1, sizeof(struct wentry))))
		return NULL;
	W.e[W.n]->key = key;
	return W.e[W.n++];
}

static void take(void *arg, const struct amutex__stats *s)
{
	struct wentry *e = find(s);
	struct snapshot *snap, *prev;
	struct amutex_counters c;

	(void)arg;
	if (!e)
		return;
	e->seen = 1;
	amutex__stats_name(s, e->name, sizeof(e->name));
	e->lock = amutex__stats_lock(s);
	amutex__stats_counters(s, &c);
	e->site = c.first_contended_site;
	snap = &e->ring[e->head % (TICKS + 1)];
	snap->t = W.now;
	snap->starving_ns = amutex__stats_starving_ns(s, W.now);
	amutex_hist_init(&W.scratch);
	amutex__stats_wait(s, &W.scratch);
	snap->count = 0;
	for (unsigned i = 0; i < AMUTEX_HIST_BUCKETS; i++)
		snap->count += snap->bucket[i] = W.scratch.bucket[i];
	prev = &e->ring[(e->head + TICKS) % (TICKS + 1)];
	/* A new lock at a reused block: start its window again. */
	if (e->filled && (snap->count < prev->count || snap->starving_ns < prev->starving_ns))
		e->filled = 0;
	e->head++;
	if (e->filled < TICKS + 1)
		e->filled++;
}

/* Drop entries of locks that left the registry. */
static void sweep(void)
{
	size_t k = 0;

	for (size_t i = 0; i < W.n; i++) {
		if (W.e[i]->seen) {
			W.e[i]->seen = 0;
			W.e[k++] = W.e[i];
		} else {
			free(W.e[i]);
		}
	}
	W.n = k;
}

static int evaluate(struct wentry *e, struct amutex_watch_event *ev)
{
	const struct snapshot *new = &e->ring[(e->head + TICKS) % (TICKS + 1)];
	const struct snapshot *old = &e->ring[(e->head + TICKS + 1 - e->filled) % (TICKS + 1)];
	amutex_hist_t *h;
	uint64_t span = new->t - old->t;

	if (e->filled < 2 || span == 0)
		return 0;
	if (!(h = calloc(1, sizeof(*h))))
		return 0;
	for (unsigned i = 0; i < AMUTEX_HIST_BUCKETS; i++)
		h->bucket[i] = new->bucket[i] - old->bucket[i];
	memset(ev, 0, sizeof(*ev));
	ev->name = e->name;
	ev->lock = e->lock;
	ev->first_contended_site = e->site;
	ev->waits = new->count - old->count;
	ev->p99_ns = ev->waits ? amutex_hist_quantile(h, 0.99) : 0;
	ev->starving_share = (double)(new->starving_ns - old->starving_ns) / (double)span;
	free(h);
	return (W.cfg.p99_ns && ev->waits && ev->p99_ns > W.cfg.p99_ns) ||
	       (W.cfg.starving_share > 0 && ev->starving_share > W.cfg.starving_share);
}

static int worst_first(const void *a, const void *b)
{
	const struct amutex_watch_event *x = a, *y = b;

	if (x->starving_share != y->starving_share && (x->starving_share > W.cfg.starving_share ||
						       y->starving_share > W.cfg.starving_share))
		return x->starving_share < y->starving_share ? 1 : -1;
	return x->p99_ns < y->p99_ns ? 1 : x->p99_ns > y->p99_ns ? -1 : 0;
}

static void report(const struct amutex_watch_event *ev, size_t n)
{
	FILE *f = strcmp(W.report, "stderr") == 0 ? stderr : fopen(W.report, "ae");
	char site[512], when[64];
	time_t t = time(NULL);
	struct tm tm;

	if (!f) {
		amutex__warn_once("AMUTEX_WATCH report", "cannot append to %s: %s",
				  W.report, strerror(errno));
		return;
	}
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	fprintf(f, "amutex watchdog %s: %zu lock(s) over the limit in the last %.1f s (",
		when, n, (double)W.cfg.window_ns / 1e9);
	if (W.cfg.p99_ns)
		fprintf(f, "p99 wait > %.3f ms%s", (double)W.cfg.p99_ns / 1e6,
			W.cfg.starving_share > 0 ? " or " : "");
	if (W.cfg.starving_share > 0)
		fprintf(f, "starving > %.1f%% of the time", W.cfg.starving_share * 100);
	fputs(")\n", f);
	fprintf(f, "  %-24s %10s %12s %9s  %s\n", "lock", "waits", "wait p99", "starving",
		"first contended at");
	for (size_t i = 0; i < n; i++) {
		amutex__symbolize(ev[i].first_contended_site, site, sizeof(site));
		fprintf(f, "  %-24s %10llu %9.3f ms %8.1f%%  %s\n", ev[i].name,
			(unsigned long long)ev[i].waits, (double)ev[i].p99_ns / 1e6,
			ev[i].starving_share * 100, site);
	}
	if (f == stderr)
		fflush(f);
	else
		fclose(f);
}

static void tick(void)
{
	struct amutex_watch_event *ev;
	size_t n = 0;

	W.now = amutex__now_ns();
	amutex__registry_each(take, NULL);
	sweep();
	if (W.last_fire && W.now - W.last_fire < W.cfg.cooldown_ns)
		return;
	if (!W.n || !(ev = calloc(W.n, sizeof(*ev))))
		return;
	for (size_t i = 0; i < W.n; i++)
		n += evaluate(W.e[i], &ev[n]);
	if (n) {
		qsort(ev, n, sizeof(*ev), worst_first);
		if (n > 10)
			n = 10;
		W.last_fire = W.now;
		if (W.cfg.fire)
			W.cfg.fire(W.cfg.arg, ev, n);
		if (W.report)
			report(ev, n);
	}
	free(ev);
}

static void *watch_thread(void *arg)
{
	struct pollfd pfd = { W.stop_fd, POLLIN, 0 };
	int ms = (int)(W.cfg.window_ns / TICKS / 1000000);

	(void)arg;
	while (poll(&pfd, 1, ms > 0 ? ms : 1) == 0 || (pfd.revents == 0))
		tick();
	return NULL;
}

/*
 * In the child of a fork: the parent's watchdog thread was not copied.
 * Forget it (its eventfd is the parent's: a stop written at the child's
 * exit would stop the parent's watchdog) and start one of the child's own
 * with the same settings, on the locks as the child has them.
 */
static int atfork_set;

static void child_after_fork(void)
{
	struct amutex_watch cfg = W.cfg;
	char *report = W.report;

	if (!__atomic_exchange_n(&W.running, 0, __ATOMIC_ACQ_REL))
		return;
	close(W.stop_fd);
	W.stop_fd = -1;
	for (size_t i = 0; i < W.n; i++)
		free(W.e[i]);
	W.n = 0;
	W.report = NULL;	/* amutex_watch_start copies it again */
	cfg.report_path = report;
	(void)amutex_watch_start(&cfg);
	free(report);
}

int amutex_watch_start(const struct amutex_watch *w)
{
	sigset_t all, old;
	int err;

	if (!w || (!w->p99_ns && !(w->starving_share > 0)) || w->starving_share < 0 ||
	    w->starving_share > 1 || (!w->fire && !w->report_path) ||
	    (w->window_ns && w->window_ns < 4 * 1000000ull))
		return EINVAL;
	if (__atomic_load_n(&W.running, __ATOMIC_ACQUIRE))
		return EALREADY;
	W.cfg = *w;
	if (!W.cfg.window_ns)
		W.cfg.window_ns = 10 * AMUTEX_NS_PER_SEC;
	if (!W.cfg.cooldown_ns)
		W.cfg.cooldown_ns = 60 * AMUTEX_NS_PER_SEC;
	free(W.report);
	W.report = NULL;
	if (w->report_path && !(W.report = strdup(w->report_path)))
		return ENOMEM;
	W.cfg.report_path = W.report;
	W.last_fire = 0;
	if ((W.stop_fd = eventfd(0, EFD_CLOEXEC)) < 0)
		return errno;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&W.thread, NULL, watch_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		close(W.stop_fd);
		W.stop_fd = -1;
		return err;
	}
	__atomic_store_n(&W.running, 1, __ATOMIC_RELEASE);
	amutex__stats_reader();
	amutex__at_exit(amutex_watch_stop);
	if (!atfork_set) {
		atfork_set = 1;
		pthread_atfork(NULL, NULL, child_after_fork);
	}
	return 0;
}

void amutex_watch_stop(void)
{
	uint64_t one = 1;

	if (!__atomic_exchange_n(&W.running, 0, __ATOMIC_ACQ_REL))
		return;
	if (write(W.stop_fd, &one, sizeof(one)) != sizeof(one))
		amutex__die("eventfd write failed");
	pthread_join(W.thread, NULL);
	close(W.stop_fd);
	W.stop_fd = -1;
	for (size_t i = 0; i < W.n; i++)
		free(W.e[i]);
	W.n = 0;
}

/* "10%" or "0.1". */
static int parse_share(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s)
		return EINVAL;
	if (*end == '%') {
		v /= 100;
		end++;
	}
	if (*end || !(v > 0) || v > 1)
		return EINVAL;
	*out = v;
	return 0;
}

int amutex__parse_watch(const char *spec, struct amutex_watch *w)
{
	static char buf[512];
	char *save = NULL, *item;
	int saved = errno, err = 0;

	memset(w, 0, sizeof(*w));
	if (strlen(spec) >= sizeof(buf))
		return EINVAL;
	strcpy(buf, spec);
	for (item = strtok_r(buf, ",", &save); item && !err; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		const char *v;

		if (!eq || !eq[1]) {
			err = EINVAL;
			break;
		}
		*eq = '\0';
		v = eq + 1;
		if (strcmp(item, "p99") == 0)
			err = amutex__parse_duration_max(v, 3600 * AMUTEX_NS_PER_SEC, &w->p99_ns);
		else if (strcmp(item, "starving") == 0)
			err = parse_share(v, &w->starving_share);
		else if (strcmp(item, "window") == 0)
			err = amutex__parse_duration_max(v, 86400 * AMUTEX_NS_PER_SEC, &w->window_ns);
		else if (strcmp(item, "cooldown") == 0)
			err = amutex__parse_duration_max(v, 86400 * AMUTEX_NS_PER_SEC, &w->cooldown_ns);
		else if (strcmp(item, "report") == 0)
			w->report_path = v;
		else
			err = EINVAL;
	}
	if (!err && !w->p99_ns && !(w->starving_share > 0))
		err = EINVAL;
	if (!err && !w->report_path)
		w->report_path = "stderr";
	errno = saved;
	return err;
}
