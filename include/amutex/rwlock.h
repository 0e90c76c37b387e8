/*
 * amutex_rwlock_t: a reader-writer lock with the mutex's bound on waiting
 * (docs/rwlock.md). Writers queue on an amutex, so among writers the
 * mutex's normal and starvation modes hold; a writer that has claimed the
 * lock stops new readers, and the readers it stopped go in together when
 * it releases (or gives up), before the next writer. A reader waits for at
 * most the writer that holds or claims the lock when it arrives; a writer
 * for the writers ahead of it and the readers inside at its claim.
 *
 * Not recursive for readers: a thread that holds a read lock and asks for
 * another can deadlock behind a writer that claimed the lock in between
 * (as with Go's RWMutex). No upgrade from read to write. Private to one
 * process.
 *
 * Every call returns 0 or a POSIX error code and leaves errno alone. The
 * read lock and unlock are inline (<amutex/static/rwlock.h>, included at
 * the end); the rest is in the library (lib/rwlock/rwlock.c). Deadlines are
 * absolute CLOCK_MONOTONIC times, as amutex_timedlock's.
 *
 * Compiles as C11 and as C++.
 */
#ifndef AMUTEX_RWLOCK_H
#define AMUTEX_RWLOCK_H

#include <amutex.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * 48 bytes; all-zero bytes are an unlocked rwlock with default settings.
 * Fields are private: the word's bits are in <amutex/static/rwlock.h>.
 */
typedef struct amutex_rwlock {
	uint64_t state;
	amutex_t w;
	uint64_t reserved;
} amutex_rwlock_t;

#define AMUTEX_RWLOCK_INITIALIZER { 0, AMUTEX_INITIALIZER, 0 }

/*
 * attr NULL: defaults. Its starvation threshold, spin and fairness apply
 * to the writers' queue and to how long a waiter spins before it sleeps.
 * EINVAL for an attribute not made by amutex_attr_init, or one that asks
 * for statistics (not kept for rwlocks yet).
 */
AMUTEX_API int amutex_rwlock_init(amutex_rwlock_t *rw, const amutex_attr_t *attr);
/* EBUSY while held or waited on; the rwlock is then left untouched. */
AMUTEX_API int amutex_rwlock_destroy(amutex_rwlock_t *rw);

/*
 * 0: a read hold, shared with other readers. Waits while a writer holds or
 * has claimed the lock. EAGAIN past 2^29 - 1 read holds or 65535 queued
 * readers (nothing changed). Pair with amutex_rwlock_rdunlock.
 */
static inline int amutex_rwlock_rdlock(amutex_rwlock_t *rw);
/* 0, EBUSY when a writer holds or has claimed the lock, or EAGAIN as above. */
static inline int amutex_rwlock_tryrdlock(amutex_rwlock_t *rw);
/* As rdlock, or ETIMEDOUT at abs_mono, or EINVAL for a malformed timespec. */
AMUTEX_API int amutex_rwlock_timedrdlock(amutex_rwlock_t *rw, const struct timespec *abs_mono);
/* 0, or EPERM when there was no read hold (nothing changed). */
static inline int amutex_rwlock_rdunlock(amutex_rwlock_t *rw);

/* 0: the write hold, alone. Pair with amutex_rwlock_wrunlock. */
AMUTEX_API int amutex_rwlock_wrlock(amutex_rwlock_t *rw);
/* 0, or EBUSY when held by anyone or claimed by another writer. */
AMUTEX_API int amutex_rwlock_trywrlock(amutex_rwlock_t *rw);
/*
 * As wrlock, or ETIMEDOUT at abs_mono (the readers it stopped then go in),
 * or EINVAL for a malformed timespec.
 */
AMUTEX_API int amutex_rwlock_timedwrlock(amutex_rwlock_t *rw, const struct timespec *abs_mono);
/* 0, or EPERM when no writer held it (nothing changed). */
AMUTEX_API int amutex_rwlock_wrunlock(amutex_rwlock_t *rw);

#ifdef __cplusplus
}
#endif

#include <amutex/static/rwlock.h>

#endif /* AMUTEX_RWLOCK_H */
