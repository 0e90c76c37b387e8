/*
 * amutex_rwlock_t's inline read paths and its word. Not API: include
 * <amutex/rwlock.h>, which includes this. docs/rwlock.md has every
 * transition (labels RL1... are its table's).
 *
 * The word (amutex_rwlock_t.state), changed only by 64-bit CAS; its low
 * half is the futex word (readers sleep on it with bitset RD, the claiming
 * writer with WR):
 *
 *   bits 0-28   READERS   read holds, and readers let in by a release
 *                         that have not woken yet
 *   bit 29      PHASE     flips at every release of a write lock
 *   bit 30      WRITER    a writer claimed the lock: holds it when READERS
 *                         is 0, else waits for them. Set and cleared only by
 *                         the holder of the writers' mutex w
 *   bit 31      WSLEEP    the holder of w sleeps (for READERS to reach 0,
 *                         WRITER to clear or QUEUED to reach 0) and must
 *                         be woken
 *   bits 32-47  QUEUED    readers that came while WRITER was set, not let
 *                         in yet
 *   bits 48-63  ADMITTED  readers a release let in (counted in READERS)
 *                         that have not woken yet
 *
 * All-zero is unlocked, nobody waiting.
 */
#ifndef AMUTEX_STATIC_RWLOCK_H
#define AMUTEX_STATIC_RWLOCK_H

#ifndef AMUTEX_RWLOCK_H
#error "include <amutex/rwlock.h>, not <amutex/static/rwlock.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define AMUTEX__RW_READER      1ull
#define AMUTEX__RW_READERS     0x1fffffffull
#define AMUTEX__RW_PHASE       (1ull << 29)
#define AMUTEX__RW_WRITER      (1ull << 30)
#define AMUTEX__RW_WSLEEP      (1ull << 31)
#define AMUTEX__RW_QUEUED_SHIFT   32
#define AMUTEX__RW_ADMITTED_SHIFT 48
#define AMUTEX__RW_QUEUED_ONE     (1ull << AMUTEX__RW_QUEUED_SHIFT)
#define AMUTEX__RW_ADMITTED_ONE   (1ull << AMUTEX__RW_ADMITTED_SHIFT)
#define AMUTEX__RW_COUNT_MAX      0xffffull	/* QUEUED and ADMITTED */

AMUTEX__STATIC_ASSERT(offsetof(amutex_rwlock_t, state) == 0, "amutex_rwlock_t.state at 0");
AMUTEX__STATIC_ASSERT(offsetof(amutex_rwlock_t, w) == 8, "amutex_rwlock_t.w at 8");
AMUTEX__STATIC_ASSERT(sizeof(amutex_rwlock_t) == 48, "amutex_rwlock_t is 48 bytes");

/* The slow paths (lib/rwlock/rwlock.c). */
AMUTEX_API int amutex__rwlock_rdlock_slow(amutex_rwlock_t *rw, const struct timespec *abs_mono);
AMUTEX_API int amutex__rwlock_rdunlock_slow(amutex_rwlock_t *rw);

/*
 * amutex__rwlock_enter: RL1, READERS + 1 while no writer has claimed the
 * lock; 1 when it took a read hold. Acquire: paired with the release of
 * every CAS that lets readers in (RU4, WT2).
 */
static inline int amutex__rwlock_enter(amutex_rwlock_t *rw)
{
	uint64_t s = __atomic_load_n(&rw->state, __ATOMIC_RELAXED);

	return !(s & AMUTEX__RW_WRITER) && (s & AMUTEX__RW_READERS) < AMUTEX__RW_READERS &&
	       __builtin_expect(__atomic_compare_exchange_n(&rw->state, &s, s + AMUTEX__RW_READER,
			0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED), 1);
}

static inline int amutex_rwlock_rdlock(amutex_rwlock_t *rw)
{
	return amutex__rwlock_enter(rw) ? 0 : amutex__rwlock_rdlock_slow(rw, 0);
}

static inline int amutex_rwlock_tryrdlock(amutex_rwlock_t *rw)
{
	uint64_t s = __atomic_load_n(&rw->state, __ATOMIC_RELAXED);

	while (!(s & AMUTEX__RW_WRITER)) {
		if ((s & AMUTEX__RW_READERS) == AMUTEX__RW_READERS)
			return EAGAIN;
		/* RL1. Acquire: as in amutex__rwlock_enter. */
		if (__atomic_compare_exchange_n(&rw->state, &s, s + AMUTEX__RW_READER, 0,
				__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return 0;
	}
	return EBUSY;
}

/*
 * RU1: READERS - 1 while no writer has claimed the lock. A claiming writer
 * may wait for this reader: the slow path (RU2) wakes it. Release: paired
 * with the acquire of the writer's look at READERS.
 */
static inline int amutex_rwlock_rdunlock(amutex_rwlock_t *rw)
{
	uint64_t s = __atomic_load_n(&rw->state, __ATOMIC_RELAXED);

	if (!(s & AMUTEX__RW_WRITER) && (s & AMUTEX__RW_READERS) != 0 &&
	    __builtin_expect(__atomic_compare_exchange_n(&rw->state, &s, s - AMUTEX__RW_READER, 0,
			__ATOMIC_RELEASE, __ATOMIC_RELAXED), 1))
		return 0;
	return amutex__rwlock_rdunlock_slow(rw);
}

#ifdef __cplusplus
}
#endif

#endif /* AMUTEX_STATIC_RWLOCK_H */
