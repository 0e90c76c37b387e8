/* amutex_group_opts_t: stripe count, layout, the stripes' attribute, statistics, name. */
#include "group.h"

#include <errno.h>
#include <string.h>

int amutex_group_opts_init(amutex_group_opts_t *o)
{
	memset(o, 0, sizeof(*o));
	o->layout = AMUTEX_GROUP_PADDED;
	o->magic = AMUTEX__GROUP_OPTS_MAGIC;
	return 0;
}

int amutex_group_opts_setstripes(amutex_group_opts_t *o, uint64_t n)
{
	if (o->magic != AMUTEX__GROUP_OPTS_MAGIC || n == 0 || n > AMUTEX_GROUP_STRIPES_MAX)
		return EINVAL;
	o->stripes = n;
	return 0;
}

int amutex_group_opts_setlayout(amutex_group_opts_t *o, int layout)
{
	if (o->magic != AMUTEX__GROUP_OPTS_MAGIC ||
	    (layout != AMUTEX_GROUP_PADDED && layout != AMUTEX_GROUP_PACKED))
		return EINVAL;
	o->layout = layout;
	return 0;
}

int amutex_group_opts_setattr(amutex_group_opts_t *o, const amutex_attr_t *attr)
{
	int stats;

	if (o->magic != AMUTEX__GROUP_OPTS_MAGIC)
		return EINVAL;
	if (attr && (amutex_attr_getstats(attr, &stats) != 0 || stats))
		return EINVAL;
	o->attr = attr;
	return 0;
}

int amutex_group_opts_setstats(amutex_group_opts_t *o, int on)
{
	if (o->magic != AMUTEX__GROUP_OPTS_MAGIC || (on != 0 && on != 1))
		return EINVAL;
	o->stats = on;
	return 0;
}

int amutex_group_opts_setname(amutex_group_opts_t *o, const char *name)
{
	if (o->magic != AMUTEX__GROUP_OPTS_MAGIC || !name || !*name ||
	    strlen(name) > AMUTEX_NAME_MAX)
		return EINVAL;
	o->name = name;
	o->stats = 1;
	return 0;
}

int amutex__group_opts_check(const amutex_group_opts_t *o, uint32_t *shift, size_t *bytes)
{
	int stats;

	if (!o || o->magic != AMUTEX__GROUP_OPTS_MAGIC || o->stripes == 0 ||
	    o->stripes > AMUTEX_GROUP_STRIPES_MAX)
		return EINVAL;
	if (o->layout != AMUTEX_GROUP_PADDED && o->layout != AMUTEX_GROUP_PACKED)
		return EINVAL;
	/* The attribute may have changed since it was set: look again. */
	if (o->attr && (amutex_attr_getstats(o->attr, &stats) != 0 || stats))
		return EINVAL;
	*shift = o->layout == AMUTEX_GROUP_PACKED ? AMUTEX__GROUP_SHIFT_PACKED :
						    AMUTEX__GROUP_SHIFT_PADDED;
	*bytes = AMUTEX_GROUP_STORAGE(o->stripes, o->layout);
	return 0;
}

int amutex_group_size(const amutex_group_opts_t *o, size_t *bytes)
{
	uint32_t shift;

	return amutex__group_opts_check(o, &shift, bytes);
}
