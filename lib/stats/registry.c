/*
 * A statistics block's life: made by amutex_init (or taken from the drop-in's
 * pool and attached on a lock path), registered when named, unregistered and
 * freed when its lock is destroyed, after every reader is done with it.
 *
 * The registry of named locks: a liburcu lock-free hash table (rculfhash)
 * keyed by the lock's address, with the urcu-bp flavor, so exporters read
 * it while lock users go on, and neither they nor the host program's
 * threads register with RCU. A removed entry, and the statistics it points
 * to, are freed by call_rcu once no exporter can still see them.
 *
 * liburcu: the hash table starts a resize thread, the first call_rcu a
 * callback thread; both appear in the host program, and only once a lock
 * has been named.
 */
#include "stats.h"

#include <urcu-bp.h>
#include <urcu/rculfhash.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct amutex__reg {
	struct cds_lfht_node node;
	struct rcu_head rcu;
	struct amutex__stats *stats;
	int retired;	/* release by the remover, acquire by the freer */
};

static struct cds_lfht *table;
static size_t registered;

static unsigned long hash_key(const void *key)
{
	uint64_t x = (uint64_t)(uintptr_t)key;

	/* splitmix64's finalizer: addresses differ in few low bits. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return (unsigned long)(x ^ (x >> 31));
}

static struct cds_lfht *get_table(void)
{
	struct cds_lfht *t = __atomic_load_n(&table, __ATOMIC_ACQUIRE), *none = NULL;

	if (t)
		return t;
	t = cds_lfht_new_flavor(64, 64, 0, CDS_LFHT_AUTO_RESIZE,
				&urcu_bp_flavor, NULL);
	if (!t)
		return NULL;
	/* Two first registrations race: the loser's table is destroyed unused. */
	if (!__atomic_compare_exchange_n(&table, &none, t, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		cds_lfht_destroy(t, NULL);
		return none;
	}
	return t;
}

static void stats_free(struct amutex__stats *s)
{
	free(s->family_data);
	free(s->name);
	free(s->hold);
	free(s);
}

static int registry_add(struct amutex__stats *s);
static void registry_remove(struct amutex__stats *s);

struct amutex__stats *amutex__stats_new(const amutex_t *m, const amutex_attr_t *attr)
{
	return amutex__stats_new_family(m, attr, NULL, NULL);
}

struct amutex__stats *amutex__stats_new_family(const amutex_t *m, const amutex_attr_t *attr,
					       const struct amutex__family *family, void *data)
{
	struct amutex__stats *s = aligned_alloc(64, sizeof(*s));

	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->lock = m;
	s->hooks = attr->hooks;
	/* Before registry_add: its release publishes them with the block. */
	s->family = family;
	s->family_data = data;
	if (attr->hold_times && !(s->hold = calloc(1, sizeof(*s->hold))))
		goto fail;
	if (attr->name && !(s->name = strdup(attr->name)))
		goto fail;
	if (s->name && registry_add(s) != 0)
		goto fail;
	return s;
fail:
	s->family_data = NULL;	/* still the caller's */
	stats_free(s);
	return NULL;
}

void amutex__stats_release(struct amutex__stats *s)
{
	if (s->reg)
		registry_remove(s);
	else
		stats_free(s);
}

static struct amutex__stats *pending;

/*
 * Drains in progress. A drainer takes the whole pending list, then adds its
 * blocks one by one: a reader whose own drain found the list empty waits
 * for the drains that took it before (else an export, such as the report at
 * exit while a watchdog thread drains, misses a block in flight). Readers
 * are exporters, never lock paths; they wait at most 100 ms.
 *
 * The word: the process id in the high half, the count of drains in the
 * low. A child of a fork taken during a drain inherits a count that no
 * thread of its own will take back: it reads another process's id there
 * and counts from 0 (no fork handler needed, whatever their order).
 */
static uint64_t draining;
#ifdef AMUTEX_TEST_SEAMS
void (*amutex__registry_drain_point)(void);
void (*amutex__registry_wait_point)(void);
#endif

static uint64_t drain_word(uint32_t pid, uint32_t count)
{
	return (uint64_t)pid << 32 | count;
}

/* +1 or -1 to this process's count (from 0 when the word is another process's). */
static void drain_count(uint32_t pid, int delta)
{
	uint64_t old = __atomic_load_n(&draining, __ATOMIC_RELAXED), new;

	do {
		uint32_t n = (uint32_t)(old >> 32) == pid ? (uint32_t)old : 0;

		new = drain_word(pid, n + (uint32_t)delta);
	} while (!__atomic_compare_exchange_n(&draining, &old, new, 1, __ATOMIC_SEQ_CST,
					      __ATOMIC_RELAXED));
}

static int drains_in_progress(uint32_t pid)
{
	uint64_t w = __atomic_load_n(&draining, __ATOMIC_SEQ_CST);

	return (uint32_t)(w >> 32) == pid && (uint32_t)w != 0;
}

void amutex__registry_pending(struct amutex__stats *s)
{
	struct amutex__stats *head = __atomic_load_n(&pending, __ATOMIC_RELAXED);

	/* Release: the block's contents happen before the drainer's use. */
	do
		s->next_pending = head;
	while (!__atomic_compare_exchange_n(&pending, &head, s, 1, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED));
}

static void pending_drain(void)
{
	uint32_t pid = (uint32_t)getpid();
	struct amutex__stats *s;
	uint64_t until;

	/*
	 * A reader whose exchange finds the list empty synchronizes with the
	 * exchange that emptied it (the pushes are read-modify-writes in its
	 * release sequence), so it sees that drainer's count, and its table
	 * adds once the count is back.
	 */
	drain_count(pid, 1);
	s = __atomic_exchange_n(&pending, NULL, __ATOMIC_ACQ_REL);
	if (s)
		AMUTEX_PAUSE_POINT(amutex__registry_drain_point);
	while (s) {
		struct amutex__stats *next = s->next_pending;

		if (registry_add(s) != 0)
			break;	/* out of memory: the rest stay unlisted */
		s = next;
	}
	drain_count(pid, -1);
	if (!drains_in_progress(pid))
		return;
	AMUTEX_PAUSE_POINT(amutex__registry_wait_point);
	until = amutex__now_ns() + 100000000;
	while (drains_in_progress(pid) && amutex__now_ns() < until) {
		struct timespec nap = { 0, 100000 };

		nanosleep(&nap, NULL);
	}
}

static int registry_add(struct amutex__stats *s)
{
	struct cds_lfht *t = get_table();
	struct amutex__reg *r;

	if (!t || !(r = calloc(1, sizeof(*r))))
		return ENOMEM;
	/*
	 * Release, paired with the acquire in amutex__registry_each: the
	 * statistics' initialization happens before any reader's use. (The
	 * table publishes with its own barriers; this pair states the order in
	 * C11 terms, which is also what ThreadSanitizer can see.)
	 */
	s->reg = r;
	__atomic_store_n(&r->stats, s, __ATOMIC_RELEASE);
	cds_lfht_node_init(&r->node);
	urcu_bp_read_lock();
	cds_lfht_add(t, hash_key(s->lock), &r->node);
	urcu_bp_read_unlock();
	__atomic_add_fetch(&registered, 1, __ATOMIC_RELAXED);
	return 0;
}

/*
 * Readers that left their read-side section: each adds 1 with release; a
 * grace period later, the freer reads it with acquire, so every read of an
 * entry happens before its free in C11 terms too, not only by RCU's
 * guarantee (which ThreadSanitizer cannot see through liburcu).
 */
static unsigned long readers_done;

static void free_entry(struct rcu_head *head)
{
	struct amutex__reg *r = caa_container_of(head, struct amutex__reg, rcu);

	(void)__atomic_load_n(&readers_done, __ATOMIC_ACQUIRE);
	(void)__atomic_load_n(&r->retired, __ATOMIC_ACQUIRE);

	stats_free(r->stats);
	free(r);
}

static void registry_remove(struct amutex__stats *s)
{
	struct amutex__reg *r = s->reg;

	urcu_bp_read_lock();
	cds_lfht_del(table, &r->node);
	urcu_bp_read_unlock();
	__atomic_sub_fetch(&registered, 1, __ATOMIC_RELAXED);
	/* The owner's last uses of the statistics happen before the free. */
	__atomic_store_n(&r->retired, 1, __ATOMIC_RELEASE);
	urcu_bp_call_rcu(&r->rcu, free_entry);
}

void amutex__registry_each(void (*fn)(void *arg, const struct amutex__stats *s), void *arg)
{
	struct cds_lfht *t;
	struct cds_lfht_iter iter;
	struct amutex__reg *r;

	/* Blocks attached on lock paths join here, outside any lock path. */
	pending_drain();
	if (!(t = __atomic_load_n(&table, __ATOMIC_ACQUIRE)))
		return;
	urcu_bp_read_lock();
	cds_lfht_for_each_entry(t, &iter, r, node)
		fn(arg, __atomic_load_n(&r->stats, __ATOMIC_ACQUIRE));
	urcu_bp_read_unlock();
	__atomic_fetch_add(&readers_done, 1, __ATOMIC_RELEASE);
}

size_t amutex_registry_size(void)
{
	return __atomic_load_n(&registered, __ATOMIC_RELAXED);
}
