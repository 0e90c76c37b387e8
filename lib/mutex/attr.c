/* amutex_attr_t: starvation threshold, spinning, statistics. */
#include "mutex.h"

#include <errno.h>
#include <string.h>
#include <amutex/stats.h>

int amutex_attr_init(amutex_attr_t *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->starve_ns = AMUTEX_STARVATION_DEFAULT;
	attr->spin = AMUTEX_SPIN_DEFAULT;
	attr->fair = AMUTEX_FAIR_DEFAULT;
	attr->magic = AMUTEX_ATTR_MAGIC;
	return 0;
}

int amutex_attr_destroy(amutex_attr_t *attr)
{
	if (attr->magic != AMUTEX_ATTR_MAGIC)
		return EINVAL;
	attr->magic = 0;
	return 0;
}

int amutex_attr_setstarvation(amutex_attr_t *attr, uint64_t ns)
{
	if (attr->magic != AMUTEX_ATTR_MAGIC)
		return EINVAL;
	if (ns > AMUTEX_STARVATION_MAX_NS && ns != AMUTEX_STARVATION_NEVER)
		return EINVAL;
	attr->starve_ns = ns;
	return 0;
}

int amutex_attr_getstarvation(const amutex_attr_t *attr, uint64_t *ns)
{
	if (attr->magic != AMUTEX_ATTR_MAGIC)
		return EINVAL;
	*ns = attr->starve_ns;
	return 0;
}

int amutex_attr_setspin(amutex_attr_t *attr, int spin)
{
	if (attr->magic != AMUTEX_ATTR_MAGIC)
		return EINVAL;
	if (spin < AMUTEX_SPIN_DEFAULT || spin > AMUTEX_SPIN_MAX)
		return EINVAL;
	attr->spin = spin;
	return 0;
}

int amutex_attr_getspin(const amutex_attr_t *attr, int *spin)
{
	if (attr->magic != AMUTEX_ATTR_MAGIC)
		return EINVAL;
	*spin = attr->spin;
	return 0;
}

int amutex_attr_setfair(amutex_attr_t *attr, int fair)
{
	if (attr->magic != AMUTEX_ATTR_MAGIC ||
	    (fair != AMUTEX_FAIR_DEFAULT && fair != 0 && fair != 1))
		return EINVAL;
	attr->fair = fair;
	return 0;
}

int amutex_attr_getfair(const amutex_attr_t *attr, int *fair)
{
	if (attr->magic != AMUTEX_ATTR_MAGIC)
		return EINVAL;
	*fair = attr->fair;
	return 0;
}

int amutex_attr_setstats(amutex_attr_t *attr, int on)
{
	if (attr->magic != AMUTEX_ATTR_MAGIC || (on != 0 && on != 1))
		return EINVAL;
	attr->stats = on;
	return 0;
}

int amutex_attr_getstats(const amutex_attr_t *attr, int *on)
{
	if (attr->magic != AMUTEX_ATTR_MAGIC)
		return EINVAL;
	*on = attr->stats;
	return 0;
}

int amutex_attr_setname(amutex_attr_t *attr, const char *name)
{
	if (attr->magic != AMUTEX_ATTR_MAGIC || !name || !*name ||
	    strlen(name) > AMUTEX_NAME_MAX)
		return EINVAL;
	attr->name = name;
	attr->stats = 1;
	return 0;
}

int amutex_attr_setholdtimes(amutex_attr_t *attr, int on)
{
	if (attr->magic != AMUTEX_ATTR_MAGIC || (on != 0 && on != 1))
		return EINVAL;
	attr->hold_times = on;
	if (on)
		attr->stats = 1;
	return 0;
}

int amutex_attr_sethooks(amutex_attr_t *attr, const struct amutex_hooks *hooks)
{
	if (attr->magic != AMUTEX_ATTR_MAGIC)
		return EINVAL;
	attr->hooks = hooks;
	if (hooks)
		attr->stats = 1;
	return 0;
}
