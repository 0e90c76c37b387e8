/* Adapter: amutex with the process defaults (AMUTEX_SPIN, AMUTEX_STARVATION_THRESHOLD). */
#include <amutex.h>
static int amutex_a_init(void *l) { return amutex_init(l, NULL); }
static inline __attribute__((always_inline)) int amutex_a_lock(void *l) { return amutex_lock(l); }
static inline __attribute__((always_inline)) int amutex_a_unlock(void *l) { return amutex_unlock(l); }
static int amutex_a_destroy(void *l) { return amutex_destroy(l); }
static const struct bench_lock lock_amutex = { "amutex", sizeof(amutex_t),
	amutex_a_init, amutex_a_lock, amutex_a_unlock, amutex_a_destroy };
