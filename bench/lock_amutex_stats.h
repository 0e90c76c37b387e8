/* Adapter: amutex with statistics on (a named lock in the registry), to price them. */
#include <amutex/stats.h>
static int amutexs_a_init(void *l)
{
	amutex_attr_t a;

	amutex_attr_init(&a);
	amutex_attr_setname(&a, "bench");
	return amutex_init(l, &a);
}
static const struct bench_lock lock_amutex_stats = { "amutex-stats", sizeof(amutex_t),
	amutexs_a_init, amutex_a_lock, amutex_a_unlock, amutex_a_destroy };
