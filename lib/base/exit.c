/*
 * Functions run at exit, for the parts of the library that own a thread
 * (the metrics publishers, the watchdog): each registers its own stop, so
 * none of them needs to know the others. One atexit(3) handler for all.
 */
#include "base.h"

#include <stdlib.h>

/* Callers are a fixed handful of start functions. */
#define AT_EXIT_MAX 8
static void (*fns[AT_EXIT_MAX])(void);

static void run_all(void)
{
	for (unsigned i = AT_EXIT_MAX; i-- > 0;) {
		void (*fn)(void) = __atomic_load_n(&fns[i], __ATOMIC_ACQUIRE);

		if (fn)
			fn();
	}
}

void amutex__at_exit(void (*fn)(void))
{
	for (unsigned i = 0; i < AT_EXIT_MAX; i++) {
		void (*none)(void) = NULL;

		if (__atomic_compare_exchange_n(&fns[i], &none, fn, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			if (i == 0)
				atexit(run_all);
			return;
		}
		if (none == fn)
			return;
	}
	amutex__die("too many at-exit functions");
}
