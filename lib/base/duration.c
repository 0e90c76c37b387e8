/* Durations in settings: a whole number and a unit, "750ns" to "2s". */
#include "base.h"

#include <errno.h>
#include <string.h>

int amutex__parse_duration_max(const char *s, uint64_t max_ns, uint64_t *ns)
{
	static const struct { const char *unit; uint64_t mult; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 },
	};
	uint64_t v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) != 0)
			continue;
		if (v == 0 || v > max_ns / units[i].mult)
			return EINVAL;
		*ns = v * units[i].mult;
		return 0;
	}
	return EINVAL;
}
