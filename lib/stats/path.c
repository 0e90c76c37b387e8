/* File names from the environment: "%p" is the process id. */
#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int amutex__expand_path(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in; in++) {
		int n;

		if (in[0] == '%' && in[1] == 'p') {
			n = snprintf(out + o, len - o, "%ld", (long)getpid());
			in++;
		} else {
			n = o + 1 < len ? (out[o] = *in, 1) : (int)(len - o);
		}
		if (n < 0 || (size_t)n >= len - o)
			return EINVAL;
		o += (size_t)n;
	}
	if (o >= len)
		return EINVAL;
	out[o] = '\0';
	return 0;
}
