/* Adapter: amutex_rwlock_t with the process defaults. */
#include <amutex/rwlock.h>
static int rw_amutex_init(void *l) { return amutex_rwlock_init(l, NULL); }
static inline __attribute__((always_inline)) int rw_amutex_rdlock(void *l) { return amutex_rwlock_rdlock(l); }
static inline __attribute__((always_inline)) int rw_amutex_rdunlock(void *l) { return amutex_rwlock_rdunlock(l); }
static int rw_amutex_wrlock(void *l) { return amutex_rwlock_wrlock(l); }
static int rw_amutex_wrunlock(void *l) { return amutex_rwlock_wrunlock(l); }
static int rw_amutex_destroy(void *l) { return amutex_rwlock_destroy(l); }
static const struct bench_rwlock rw_amutex = { "amutex", sizeof(amutex_rwlock_t), rw_amutex_init,
	rw_amutex_rdlock, rw_amutex_rdunlock, rw_amutex_wrlock, rw_amutex_wrunlock, rw_amutex_destroy };
