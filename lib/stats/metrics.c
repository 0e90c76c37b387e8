/*
 * Publishing the Prometheus text: a file rewritten atomically on an
 * interval, and a loopback HTTP endpoint. Each runs in its own thread,
 * which blocks every signal (the host program's handlers stay its own) and
 * waits with poll(2) on an eventfd, so stopping needs no mutex or condition
 * variable of the program's.
 */
#include "stats.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

struct publisher {
	pthread_t thread;
	int running;
	int stop_fd;
};

static struct publisher file_pub = { .stop_fd = -1 }, http_pub = { .stop_fd = -1 };
static char *file_path;
static uint64_t file_interval_ns;
static int http_fd = -1;
/*
 * AMUTEX_METRICS as given, while the file publisher it started runs (set
 * before that start, so that the first write sees it); NULL otherwise.
 */
static char *env_file_pattern;
static int atfork_set;

/*
 * The file publisher writes one file per process (AMUTEX_METRICS with %p):
 * every series gets a pid label, so that the node exporter, which reads
 * every file of its directory, does not meet the same series twice (it
 * then drops the collector's whole output) when processes of one program
 * name their locks alike.
 */
static int file_per_process(void)
{
	const char *pattern = __atomic_load_n(&env_file_pattern, __ATOMIC_ACQUIRE);

	return pattern && strstr(pattern, "%p");
}

static int write_file(const char *path)
{
	size_t len = strlen(path) + 32;
	char *tmp = malloc(len);
	FILE *f;
	int err;

	if (!tmp)
		return ENOMEM;
	snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
	if (!(f = fopen(tmp, "we"))) {
		err = errno;
		free(tmp);
		return err;
	}
	if (file_per_process()) {
		char extra[40];

		snprintf(extra, sizeof(extra), ",pid=\"%ld\"", (long)getpid());
		err = amutex__export_labeled(f, AMUTEX_FORMAT_PROMETHEUS, extra);
	} else {
		err = amutex_export(f, AMUTEX_FORMAT_PROMETHEUS);
	}
	if (fclose(f) != 0 && !err)
		err = EIO;
	if (!err && rename(tmp, path) != 0)
		err = errno;
	if (err)
		unlink(tmp);
	free(tmp);
	return err;
}

static void *file_thread(void *arg);
static int start(struct publisher *p, void *(*fn)(void *));

/*
 * In the child of a fork: the parent's publisher threads were not copied.
 * Forget them (their eventfds are the parent's too: a stop written there
 * would stop the parent's thread), and close the parent's listening
 * socket here. The file publisher started from AMUTEX_METRICS with %p in
 * its path starts again, writing the child's own file; without %p, and
 * the HTTP endpoint, stay the parent's.
 */
static void forget(struct publisher *p)
{
	if (!__atomic_exchange_n(&p->running, 0, __ATOMIC_ACQ_REL))
		return;
	close(p->stop_fd);
	p->stop_fd = -1;
}

static void child_after_fork(void)
{
	char expanded[4096];

	forget(&file_pub);
	if (__atomic_load_n(&http_pub.running, __ATOMIC_ACQUIRE)) {
		forget(&http_pub);
		close(http_fd);
		http_fd = -1;
	}
	if (env_file_pattern && strstr(env_file_pattern, "%p") &&
	    amutex__expand_path(env_file_pattern, expanded, sizeof(expanded)) == 0) {
		char *path = strdup(expanded);

		if (path) {
			free(file_path);
			file_path = path;
			(void)start(&file_pub, file_thread);
		}
	}
}

static int start(struct publisher *p, void *(*fn)(void *))
{
	sigset_t all, old;
	int err;

	if (__atomic_load_n(&p->running, __ATOMIC_ACQUIRE))
		return EALREADY;
	if ((p->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0)
		return errno;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&p->thread, NULL, fn, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		close(p->stop_fd);
		p->stop_fd = -1;
		return err;
	}
	__atomic_store_n(&p->running, 1, __ATOMIC_RELEASE);
	amutex__stats_reader();
	amutex__at_exit(amutex_metrics_stop);
	if (!atfork_set) {
		atfork_set = 1;
		pthread_atfork(NULL, NULL, child_after_fork);
	}
	return 0;
}

static void stop(struct publisher *p)
{
	uint64_t one = 1;

	if (!__atomic_exchange_n(&p->running, 0, __ATOMIC_ACQ_REL))
		return;
	if (write(p->stop_fd, &one, sizeof(one)) != sizeof(one))
		amutex__die("eventfd write failed");
	pthread_join(p->thread, NULL);
	close(p->stop_fd);
	p->stop_fd = -1;
}

/* Sleep up to ns; 1 when asked to stop. */
static int wait_stop(int stop_fd, uint64_t ns)
{
	struct pollfd pfd = { stop_fd, POLLIN, 0 };
	int ms = (int)(ns / 1000000 ? ns / 1000000 : 1);

	return poll(&pfd, 1, ms) > 0;
}

static void *file_thread(void *arg)
{
	(void)arg;
	do {
		int err = write_file(file_path);

		if (err)
			amutex__warn_once("AMUTEX_METRICS", "cannot write %s: %s",
					  file_path, strerror(err));
	} while (!wait_stop(file_pub.stop_fd, file_interval_ns));
	write_file(file_path);	/* the last word, at stop */
	return NULL;
}

int amutex_metrics_file_start(const char *path, uint64_t interval_ns)
{
	int err;

	if (!path || !*path || interval_ns < 1000000)
		return EINVAL;
	if (__atomic_load_n(&file_pub.running, __ATOMIC_ACQUIRE))
		return EALREADY;
	free(file_path);
	if (!(file_path = strdup(path)))
		return ENOMEM;
	file_interval_ns = interval_ns;
	if ((err = write_file(file_path)) != 0)
		return err;
	return start(&file_pub, file_thread);
}

/* "127.0.0.1:9300", "localhost:0": loopback IPv4 only. */
static int parse_addr(const char *addr, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(addr, ':');
	unsigned long port = 0;

	if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host) || !colon[1])
		return EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	for (const char *p = colon + 1; *p; p++) {
		if (*p < '0' || *p > '9' || (port = port * 10 + (unsigned long)(*p - '0')) > 65535)
			return EINVAL;
	}
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return EINVAL;
	if ((ntohl(sa->sin_addr.s_addr) >> 24) != 127)
		return EADDRNOTAVAIL;
	return 0;
}

static void serve(int c)
{
	static const char not_found[] =
		"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	char req[2048], head[256];
	struct pollfd pfd = { c, POLLIN, 0 };
	size_t got = 0, len = 0;
	char *body = NULL;
	FILE *f;
	ssize_t n;

	/* Read the request line and headers, for at most a second. */
	while (got < sizeof(req) - 1 && !memmem(req, got, "\r\n\r\n", 4)) {
		if (poll(&pfd, 1, 1000) <= 0 || (n = read(c, req + got, sizeof(req) - 1 - got)) <= 0)
			return;
		got += (size_t)n;
	}
	req[got] = '\0';
	if (strncmp(req, "GET /metrics ", 13) != 0 && strncmp(req, "GET /metrics?", 13) != 0) {
		(void)!write(c, not_found, sizeof(not_found) - 1);
		return;
	}
	if (!(f = open_memstream(&body, &len)))
		return;
	amutex_export(f, AMUTEX_FORMAT_PROMETHEUS);
	fclose(f);
	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; "
		 "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", len);
	if (write(c, head, strlen(head)) == (ssize_t)strlen(head)) {
		for (size_t off = 0; off < len; off += (size_t)n)
			if ((n = write(c, body + off, len - off)) <= 0)
				break;
	}
	free(body);
}

static void *http_thread(void *arg)
{
	struct pollfd pfd[2] = { { http_fd, POLLIN, 0 }, { http_pub.stop_fd, POLLIN, 0 } };

	(void)arg;
	for (;;) {
		int c;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		if ((c = accept4(http_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		serve(c);
		close(c);
	}
	close(http_fd);
	http_fd = -1;
	return NULL;
}

int amutex_metrics_http_start(const char *addr, unsigned *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int err, one = 1;

	if (!addr)
		return EINVAL;
	if ((err = parse_addr(addr, &sa)) != 0)
		return err;
	if (__atomic_load_n(&http_pub.running, __ATOMIC_ACQUIRE))
		return EALREADY;
	if ((http_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return errno;
	setsockopt(http_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(http_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(http_fd, 16) != 0 ||
	    getsockname(http_fd, (struct sockaddr *)&sa, &sl) != 0) {
		err = errno;
		close(http_fd);
		http_fd = -1;
		return err;
	}
	if (port)
		*port = ntohs(sa.sin_port);
	if ((err = start(&http_pub, http_thread)) != 0) {
		close(http_fd);
		http_fd = -1;
	}
	return err;
}

void amutex_metrics_stop(void)
{
	stop(&file_pub);
	/* Stopped: no child of a later fork starts it again from the pattern. */
	free(__atomic_exchange_n(&env_file_pattern, NULL, __ATOMIC_ACQ_REL));
	stop(&http_pub);
}

int amutex_metrics_from_env(void)
{
	const char *path = getenv("AMUTEX_METRICS"), *iv = getenv("AMUTEX_METRICS_INTERVAL");
	const char *addr = getenv("AMUTEX_METRICS_ADDR"), *watch = getenv("AMUTEX_WATCH");
	uint64_t interval = 10 * AMUTEX_NS_PER_SEC;
	int started = 0, err;

	if (iv && *iv && amutex__parse_duration_max(iv, 86400 * AMUTEX_NS_PER_SEC, &interval) != 0) {
		amutex__warn_once("AMUTEX_METRICS_INTERVAL",
			"AMUTEX_METRICS_INTERVAL=\"%s\" is not a duration such as 10s or "
			"500ms; using 10s", iv);
		interval = 10 * AMUTEX_NS_PER_SEC;
	}
	if (path && *path) {
		char expanded[4096], *pattern = NULL;

		/* A running publisher is left alone (EALREADY below), its pattern too. */
		if ((err = amutex__expand_path(path, expanded, sizeof(expanded))) == 0 &&
		    !__atomic_load_n(&file_pub.running, __ATOMIC_ACQUIRE) &&
		    !(pattern = strdup(path)))
			err = ENOMEM;
		if (pattern)
			free(__atomic_exchange_n(&env_file_pattern, pattern, __ATOMIC_ACQ_REL));
		if (err == 0 && (err = amutex_metrics_file_start(expanded, interval)) == 0) {
			started++;
		} else {
			if (pattern) {	/* no publisher started: nothing reads it */
				__atomic_store_n(&env_file_pattern, NULL, __ATOMIC_RELEASE);
				free(pattern);
			}
			amutex__warn_once("AMUTEX_METRICS", "AMUTEX_METRICS=\"%s\": %s; "
					  "not writing metrics", path, strerror(err));
		}
	}
	if (addr && *addr) {
		if ((err = amutex_metrics_http_start(addr, NULL)) == 0)
			started++;
		else
			amutex__warn_once("AMUTEX_METRICS_ADDR", "AMUTEX_METRICS_ADDR=\"%s\" %s; "
				"it must be 127.x.y.z:PORT or localhost:PORT; not serving metrics",
				addr, err == EINVAL ? "is malformed" : strerror(err));
	}
	if (watch && *watch) {
		struct amutex_watch w;

		if (amutex__parse_watch(watch, &w) != 0)
			amutex__warn_once("AMUTEX_WATCH", "AMUTEX_WATCH=\"%s\" is malformed "
				"(example: p99=5ms,starving=10%%,window=10s,cooldown=60s,"
				"report=stderr); no watchdog", watch);
		else if ((err = amutex_watch_start(&w)) == 0)
			started++;
		else
			amutex__warn_once("AMUTEX_WATCH", "AMUTEX_WATCH: %s; no watchdog",
					  strerror(err));
	}
	return started;
}
