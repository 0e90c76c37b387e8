/*
 * chatd: the shape of the chat service behind amutex, as a benchmark that
 * checks itself.
 *
 * Users sit in rooms. Worker threads serve a stream of requests: most send
 * a message (the sender's record, then the room's: its history ring and
 * counters), some move a user to another room (the user's record and both
 * rooms). Room popularity is Zipf-distributed, so a few rooms are hot. The
 * service first guarded everything with one mutex; its fix split the state
 * into groups with a lock each. chatd runs either:
 *   --lock pthread   one glibc mutex around everything (the service before)
 *   --lock amutex    one amutex around everything
 *   --lock group     two striped groups (amutex_group_t): users by user id,
 *                    rooms by room id; a send locks its user's stripe, then
 *                    its room's; a move locks the user's, then both rooms'
 *                    with lock-many (users before rooms, rooms in the
 *                    group's order: no deadlock)
 * At the end it checks the state: every message counted once in its room
 * and by its sender, every user in exactly one room. With --trace PATH it
 * appends the rooms group's sample of acquired keys to PATH while it runs,
 * the input of bench/amutex-stripes --dist trace:PATH, which picks the
 * stripe count (examples/chatd/run.sh does the whole loop).
 *
 *   chatd [--lock pthread|amutex|group] [--stripes N] [--threads T]
 *         [--users U] [--rooms R] [--zipf S] [--move-pct P] [--cs-ns NS]
 *         [--outside-ns NS] [--duration-ms MS] [--trace PATH] [--report]
 * Prints one SUMMARY line; exit status 1 when the state is inconsistent,
 * 2 for a usage error.
 */
#define _GNU_SOURCE
#include "bench.h"
#include <amutex.h>
#include <amutex/group.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *prog = "chatd";

#define HISTORY 8	/* messages a room keeps */
#define STREAM 4096	/* room draws pre-computed per thread, cycled */

struct room {
	uint64_t msgs;			/* messages sent to it */
	uint64_t members;
	uint64_t history[HISTORY];	/* the newest messages: sender << 32 | number */
	uint32_t head;
};

struct user {
	uint32_t room;
	uint64_t sent;
};

enum lock_kind { LOCK_PTHREAD, LOCK_AMUTEX, LOCK_GROUP };

static struct {
	enum lock_kind kind;
	unsigned threads, move_pct, duration_ms;
	uint64_t stripes, users, rooms;
	double zipf;
	unsigned cs_iters, out_iters;
	const char *trace;
	int report;
} opt = { LOCK_GROUP, 16, 5, 2000, 64, 200000, 20000, 1.0, 0, 0, NULL, 0 };

static struct room *rooms;
static struct user *users;
static double *room_cdf;		/* Zipf over rooms, room 0 the hottest */
static pthread_mutex_t global_p = PTHREAD_MUTEX_INITIALIZER;
static amutex_t global_a;
static amutex_group_t *user_locks, *room_locks;
static int stop;

static uint32_t draw_room(uint64_t *rng)
{
	double u = (double)(splitmix(rng) >> 11) * 0x1.0p-53;
	uint64_t lo = 0, hi = opt.rooms - 1;

	while (lo < hi) {		/* the first room whose CDF reaches u */
		uint64_t mid = (lo + hi) / 2;

		if (room_cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (uint32_t)lo;
}

/* The work inside a room's lock: append to its history, some processing. */
static uint64_t deliver(struct room *r, uint64_t msg, uint64_t x)
{
	r->history[r->head++ % HISTORY] = msg;
	r->msgs++;
	return work(x ^ msg, opt.cs_iters);
}

static void lock_all(void)
{
	if (opt.kind == LOCK_PTHREAD)
		pthread_mutex_lock(&global_p);
	else
		amutex_lock(&global_a);
}

static void unlock_all(void)
{
	if (opt.kind == LOCK_PTHREAD)
		pthread_mutex_unlock(&global_p);
	else
		amutex_unlock(&global_a);
}

struct worker {
	pthread_t t;
	uint64_t rng, sends, moves, sink;
	uint32_t stream[STREAM];
};

static void send_message(struct worker *w, uint32_t u)
{
	uint64_t msg;

	if (opt.kind == LOCK_GROUP) {
		uint32_t r;

		amutex_group_lock_u64(user_locks, u);
		r = users[u].room;
		msg = (uint64_t)u << 32 | (uint32_t)users[u].sent++;
		amutex_group_lock_u64(room_locks, r);
		w->sink = deliver(&rooms[r], msg, w->sink);
		amutex_group_unlock_u64(room_locks, r);
		amutex_group_unlock_u64(user_locks, u);
	} else {
		lock_all();
		msg = (uint64_t)u << 32 | (uint32_t)users[u].sent++;
		w->sink = deliver(&rooms[users[u].room], msg, w->sink);
		unlock_all();
	}
	w->sends++;
}

static void move_user(struct worker *w, uint32_t u, uint32_t to)
{
	if (opt.kind == LOCK_GROUP) {
		uint64_t keys[2];
		uint32_t stripes[2];
		size_t n;

		amutex_group_lock_u64(user_locks, u);
		keys[0] = users[u].room;
		keys[1] = to;
		if (amutex_group_lock_many_u64(room_locks, keys, 2, stripes, &n) != 0)
			abort();
		rooms[keys[0]].members--;
		rooms[to].members++;
		users[u].room = to;
		amutex_group_unlock_many(room_locks, stripes, n);
		amutex_group_unlock_u64(user_locks, u);
	} else {
		lock_all();
		rooms[users[u].room].members--;
		rooms[to].members++;
		users[u].room = to;
		unlock_all();
	}
	w->moves++;
}

static void *serve(void *arg)
{
	struct worker *w = arg;
	unsigned i = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t r = splitmix(&w->rng);
		uint32_t u = (uint32_t)((r >> 32) % opt.users);

		/* Parsing the request, outside any lock. */
		w->sink = work(w->sink ^ r, opt.out_iters);
		if ((r & 0xffff) % 100 < opt.move_pct)
			move_user(w, u, w->stream[i++ % STREAM]);
		else
			send_message(w, u);
	}
	return NULL;
}

/* The rooms group's acquired-keys sample, appended every 10 ms while it runs. */
static void *tracer(void *arg)
{
	FILE *f = arg;
	uint64_t cursor = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		usleep(10000);
		amutex_group_write_keys(room_locks, f, AMUTEX_GROUP_TRACE_ACQUIRED, &cursor);
	}
	return NULL;
}

static int check_state(uint64_t sends, uint64_t moves)
{
	uint64_t msgs = 0, sent = 0, members = 0, *count = calloc(opt.rooms, sizeof(*count));
	int ok = count != NULL;

	for (uint64_t r = 0; r < opt.rooms; r++) {
		msgs += rooms[r].msgs;
		members += rooms[r].members;
	}
	for (uint64_t u = 0; ok && u < opt.users; u++) {
		sent += users[u].sent;
		count[users[u].room]++;
	}
	for (uint64_t r = 0; ok && r < opt.rooms; r++)
		ok = count[r] == rooms[r].members;
	free(count);
	if (msgs != sends || sent != sends || members != opt.users || !ok) {
		fprintf(stderr, "%s: inconsistent state after %" PRIu64 " sends and %" PRIu64
			" moves: %" PRIu64 " messages in rooms, %" PRIu64 " sent by users, %" PRIu64
			" members of %" PRIu64 " users, memberships %s\n", prog, sends, moves, msgs,
			sent, members, opt.users, ok ? "match" : "do not match");
		return 0;
	}
	return 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: %s [--lock pthread|amutex|group] [--stripes N] [--threads T]\n"
		"             [--users U] [--rooms R] [--zipf S] [--move-pct P] [--cs-ns NS]\n"
		"             [--outside-ns NS] [--duration-ms MS] [--trace PATH] [--report]\n", prog);
	exit(2);
}

static uint64_t number(const char *s, uint64_t lo, uint64_t hi, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < lo || v > hi) {
		fprintf(stderr, "%s: %s must be a number from %" PRIu64 " to %" PRIu64 ", not \"%s\"\n",
			prog, what, lo, hi, s);
		exit(2);
	}
	return v;
}

static void parse(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "lock", 1, 0, 'l' }, { "stripes", 1, 0, 's' }, { "threads", 1, 0, 't' },
		{ "users", 1, 0, 'u' }, { "rooms", 1, 0, 'r' }, { "zipf", 1, 0, 'z' },
		{ "move-pct", 1, 0, 'm' }, { "cs-ns", 1, 0, 'c' }, { "outside-ns", 1, 0, 'o' },
		{ "duration-ms", 1, 0, 'd' }, { "trace", 1, 0, 'T' }, { "report", 0, 0, 'R' },
		{ 0, 0, 0, 0 }
	};
	uint64_t cs_ns = 200, out_ns = 1000;
	double ns_per_iter;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (!strcmp(optarg, "pthread"))
				opt.kind = LOCK_PTHREAD;
			else if (!strcmp(optarg, "amutex"))
				opt.kind = LOCK_AMUTEX;
			else if (!strcmp(optarg, "group"))
				opt.kind = LOCK_GROUP;
			else
				usage();
			break;
		case 's': opt.stripes = number(optarg, 1, AMUTEX_GROUP_STRIPES_MAX, "--stripes"); break;
		case 't': opt.threads = (unsigned)number(optarg, 1, 1024, "--threads"); break;
		case 'u': opt.users = number(optarg, 1, UINT32_MAX, "--users"); break;
		case 'r': opt.rooms = number(optarg, 1, 1u << 24, "--rooms"); break;
		case 'z':
			opt.zipf = strtod(optarg, &end);
			if (*end || end == optarg || !(opt.zipf >= 0 && opt.zipf <= 4)) {
				fprintf(stderr, "%s: --zipf must be from 0 (uniform) to 4, not \"%s\"\n",
					prog, optarg);
				exit(2);
			}
			break;
		case 'm': opt.move_pct = (unsigned)number(optarg, 0, 100, "--move-pct"); break;
		case 'c': cs_ns = number(optarg, 0, 1000000, "--cs-ns"); break;
		case 'o': out_ns = number(optarg, 0, 10000000, "--outside-ns"); break;
		case 'd': opt.duration_ms = (unsigned)number(optarg, 1, 3600000, "--duration-ms"); break;
		case 'T': opt.trace = optarg; break;
		case 'R': opt.report = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (opt.trace && opt.kind != LOCK_GROUP) {
		fprintf(stderr, "%s: --trace needs --lock group\n", prog);
		exit(2);
	}
	ns_per_iter = calibrate_work();
	opt.cs_iters = (unsigned)(cs_ns / ns_per_iter);
	opt.out_iters = (unsigned)(out_ns / ns_per_iter);
}

static amutex_group_t *make_group(const char *name)
{
	amutex_group_opts_t o;
	amutex_group_t *g;
	int err;

	amutex_group_opts_init(&o);
	if ((err = amutex_group_opts_setstripes(&o, opt.stripes)) != 0 ||
	    (err = amutex_group_opts_setname(&o, name)) != 0 ||
	    (err = amutex_group_opts_setstats(&o, 1)) != 0 ||
	    (err = amutex_group_create(&g, &o)) != 0) {
		fprintf(stderr, "%s: the %s group: %s\n", prog, name, strerror(err));
		exit(1);
	}
	return g;
}

int main(int argc, char **argv)
{
	struct worker *w;
	pthread_t trace_thread;
	FILE *trace = NULL;
	uint64_t seed = 42, sends = 0, moves = 0, t0, t1, sink = 0;
	double sum = 0;
	int ok;

	parse(argc, argv);
	rooms = calloc(opt.rooms, sizeof(*rooms));
	users = calloc(opt.users, sizeof(*users));
	room_cdf = malloc(opt.rooms * sizeof(*room_cdf));
	w = calloc(opt.threads, sizeof(*w));
	if (!rooms || !users || !room_cdf || !w) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	for (uint64_t r = 0; r < opt.rooms; r++)
		room_cdf[r] = sum += pow((double)(r + 1), -opt.zipf);
	for (uint64_t r = 0; r < opt.rooms; r++)
		room_cdf[r] /= sum;
	for (uint64_t u = 0; u < opt.users; u++) {
		users[u].room = draw_room(&seed);
		rooms[users[u].room].members++;
	}
	amutex_init(&global_a, NULL);
	if (opt.kind == LOCK_GROUP) {
		user_locks = make_group("chatd.users");
		room_locks = make_group("chatd.rooms");
	}
	if (opt.trace && !(trace = fopen(opt.trace, "a"))) {
		fprintf(stderr, "%s: %s: %s\n", prog, opt.trace, strerror(errno));
		return 1;
	}
	for (unsigned i = 0; i < opt.threads; i++) {
		w[i].rng = 0x5eed0000u + i;
		for (unsigned k = 0; k < STREAM; k++)
			w[i].stream[k] = draw_room(&w[i].rng);
	}
	if (trace)
		pthread_create(&trace_thread, NULL, tracer, trace);
	t0 = now_ns();
	for (unsigned i = 0; i < opt.threads; i++)
		pthread_create(&w[i].t, NULL, serve, &w[i]);
	usleep(opt.duration_ms * 1000u);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < opt.threads; i++) {
		pthread_join(w[i].t, NULL);
		sends += w[i].sends;
		moves += w[i].moves;
		sink ^= w[i].sink;
	}
	t1 = now_ns();
	if (trace) {
		pthread_join(trace_thread, NULL);
		fclose(trace);
	}
	ok = check_state(sends, moves);
	printf("SUMMARY example=chatd lock=%s stripes=%" PRIu64 " threads=%u users=%" PRIu64
	       " rooms=%" PRIu64 " zipf=%.2f move_pct=%u ops=%" PRIu64 " ops_per_sec=%.0f sends=%"
	       PRIu64 " moves=%" PRIu64 " consistent=%d%s\n",
	       opt.kind == LOCK_PTHREAD ? "pthread" : opt.kind == LOCK_AMUTEX ? "amutex" : "group",
	       opt.kind == LOCK_GROUP ? opt.stripes : 1, opt.threads, opt.users, opt.rooms,
	       opt.zipf, opt.move_pct, sends + moves, (double)(sends + moves) * 1e9 / (double)(t1 - t0),
	       sends, moves, ok, sink == 42 ? " " : "");
	if (opt.report && opt.kind == LOCK_GROUP) {
		printf("chatd.rooms (by room id)\n");
		amutex_group_report(room_locks, stdout);
		printf("chatd.users (by user id)\n");
		amutex_group_report(user_locks, stdout);
	}
	if (opt.kind == LOCK_GROUP) {
		amutex_group_destroy(user_locks);
		amutex_group_destroy(room_locks);
	}
	amutex_destroy(&global_a);
	free(w);
	free(room_cdf);
	free(users);
	free(rooms);
	return ok ? 0 : 1;
}
