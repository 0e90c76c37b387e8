/*
 * Private to lib/group: the striped group's statistics block, its sample
 * rings, and the allocation seam the tests fail on purpose.
 *
 * Who calls whom: group.c makes and destroys groups (opts.c checks the
 * options, report.c supplies the statistics family); group.c and many.c
 * take stripes through observe.c when statistics are on; report.c reads.
 */
#ifndef AMUTEX_GROUP_PRIVATE_H
#define AMUTEX_GROUP_PRIVATE_H

#include "../base/base.h"
#include "../stats/stats.h"

#include <amutex/group.h>

#define AMUTEX__GROUP_MAGIC 0x67727570u	/* "grup": a live group */
#define AMUTEX__GROUP_OPTS_MAGIC 0x676f7074u	/* "gopt": set by opts_init */
#define AMUTEX__GROUP_ALLOCATED 1u	/* made by amutex_group_create: free it */

/* A key as the statistics keep it. */
struct amutex__group_key {
	int kind;		/* AMUTEX__GROUP_U64, _PTR, _BYTES, or _STRIPE */
	uint64_t key;		/* the integer, the address, the bytes' XXH3 */
	const void *bytes;	/* bytes keys */
	size_t len;
	/* lock-many: the keys the stripe came from (found when sampled) */
	const void *many;
	size_t nmany;
};
#define AMUTEX__GROUP_STRIPE 3	/* lock_stripes: only the stripe is known */

/*
 * One sampled key: four words, each written with a relaxed atomic store.
 * meta: kind in bits 0-7, the stripe in bits 8-31, the length of a bytes
 * key (capped at 2^32-1) in bits 32-63. prefix: a bytes key's first 8.
 */
struct amutex__group_sample {
	uint64_t key, wait_ns, meta, prefix;
};

/*
 * A ring of the newest AMUTEX_GROUP_SAMPLE samples: next counts every
 * sample ever taken (a writer claims slot next % 256 with an atomic add),
 * so readers know which slots are filled and which are new since a cursor.
 */
struct amutex__group_ring {
	uint64_t next __attribute__((aligned(64)));
	struct amutex__group_sample slot[AMUTEX_GROUP_SAMPLE] __attribute__((aligned(64)));
};

/*
 * Per stripe, written only by the stripe's holder (a relaxed load and
 * store), so exact. A line each: at 32 bytes two stripes' holders passed
 * one line between their CPUs on every acquisition, and 4 stripes under 2
 * threads ran at 0.56x the group without statistics (amutex-stripes
 * --trace-out, 2-core machine).
 */
struct amutex__group_stripe_ctr {
	uint64_t acquired, contended, wait_ns, unused[5];
};

/*
 * The statistics of a group: one allocation, handed to the stats layer's
 * block (amutex__stats_new_family) that frees it after every exporter that
 * could read it is done, so a group may be destroyed while one runs.
 */
struct amutex__group_stats {
	/* Written by the holders of every stripe at once: atomic (amutex_hist_record). */
	amutex_hist_t wait;
	uint64_t timeouts __attribute__((aligned(64)));	/* atomic add */
	/* Set at creation. */
	uint32_t n __attribute__((aligned(64)));
	int layout;
	uint64_t memory;	/* bytes of the group (header and stripes) */
	struct amutex__group_ring waits;	/* contended acquisitions */
	struct amutex__group_ring acquired;	/* every 64th acquisition of a stripe */
	struct amutex__group_stripe_ctr stripe[] __attribute__((aligned(64)));
};

/* Contended or not, how it went: observe.c. 0, or what the lock returned. */
hidden int amutex__group_take(amutex_group_t *g, uint32_t i, const struct amutex__group_key *k,
			      const struct timespec *abs_mono);
hidden int amutex__group_trytake(amutex_group_t *g, uint32_t i,
				 const struct amutex__group_key *k);

/* The statistics family the exporters call (report.c). */
extern hidden const struct amutex__family amutex__group_family;

/* Options: 0 or EINVAL; the stripe shift and the byte size of the group (opts.c). */
hidden int amutex__group_opts_check(const amutex_group_opts_t *o, uint32_t *shift, size_t *bytes);

/*
 * Test seam: the nth allocation of group creation from now fails (1: the
 * group's memory, 2: its statistics, 3: the statistics block). 0: none.
 */
hidden void amutex__group_fail_alloc(unsigned nth);

#endif /* AMUTEX_GROUP_PRIVATE_H */
