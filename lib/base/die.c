/*
 * Messages to people: a bad setting reported once on stderr, and the end
 * of the process, with its place in the source, on a state that cannot be.
 */
#include "base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void amutex__die_at(const char *file, int line, const char *what)
{
	fprintf(stderr, "amutex: %s:%d: %s\n", file, line, what);
	abort();
}

/* A fixed table: warnings come from a handful of settings, never many. */
static const char *warned[16];

void amutex__warn_once(const char *key, const char *fmt, ...)
{
	va_list ap;
	unsigned i;

	for (i = 0; i < sizeof(warned) / sizeof(warned[0]); i++) {
		const char *k = __atomic_load_n(&warned[i], __ATOMIC_ACQUIRE);

		if (k && strcmp(k, key) == 0)
			return;
		if (!k) {
			const char *none = NULL;

			if (__atomic_compare_exchange_n(&warned[i], &none, key, 0,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				break;
			if (strcmp(none, key) == 0)
				return;
		}
	}
	va_start(ap, fmt);
	fputs("amutex: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void amutex__warn_reset(void)
{
	for (unsigned i = 0; i < sizeof(warned) / sizeof(warned[0]); i++)
		__atomic_store_n(&warned[i], NULL, __ATOMIC_RELEASE);
}
