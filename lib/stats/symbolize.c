/* Code addresses for people: the function and object a call site is in. */
#include "stats.h"

#include <dlfcn.h>
#include <stdio.h>

void amutex__symbolize(const void *addr, char *buf, size_t len)
{
	Dl_info info;

	if (!addr) {
		snprintf(buf, len, "-");
		return;
	}
	if (dladdr(addr, &info) && info.dli_sname)
		snprintf(buf, len, "%s+0x%lx (%s)", info.dli_sname,
			 (unsigned long)((const char *)addr - (const char *)info.dli_saddr),
			 info.dli_fname ? info.dli_fname : "?");
	else if (dladdr(addr, &info) && info.dli_fname)
		snprintf(buf, len, "%s+0x%lx", info.dli_fname,
			 (unsigned long)((const char *)addr - (const char *)info.dli_fbase));
	else
		snprintf(buf, len, "%p", addr);
}
