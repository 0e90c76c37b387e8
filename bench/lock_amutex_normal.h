/* Adapter: amutex held in normal mode (no starvation mode), to show what that mode buys. */
#include <amutex.h>
static int amutexn_a_init(void *l)
{
	amutex_attr_t a;

	amutex_attr_init(&a);
	amutex_attr_setstarvation(&a, AMUTEX_STARVATION_NEVER);
	return amutex_init(l, &a);
}
static const struct bench_lock lock_amutex_normal = { "amutex-normal", sizeof(amutex_t),
	amutexn_a_init, amutex_a_lock, amutex_a_unlock, amutex_a_destroy };
