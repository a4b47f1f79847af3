/* tree_refresh_names.c - a poll's refresh (tree_refresh.c) of a directory the
 * daemon has unloaded (tree_cache.c, the inode cap) while the kernel still
 * holds it. Its children are not in memory, so the kernel names none of them
 * (a positive entry would keep the child busy and the directory loaded); but
 * it may hold negative entries under it: the names a LOOKUP was told are
 * missing, cached for the entry timeout. Each name the new object has that
 * the old one had not is noted, so the kernel forgets such a negative entry
 * and looks the name up again. A name the old object had cannot be negative
 * in the kernel (the daemon showed the old object), so removed and kept names
 * need nothing; the directory's own attributes and listing are noted by
 * rf_update. Must never hold tree_lock while reading, never log a name. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tree_int.h"
#include "tree_refresh_int.h"

/* Up to this many names in the new object, all are noted: cheaper than
 * reading and decoding the old object to leave some out. */
#define RF_NAMES_ALL_BELOW 64

static int rf_name_cmp(const void *a, const void *b)
{
	const struct dirobj_entry *x = a, *y = b;

	if (x->name_len != y->name_len)
		return x->name_len < y->name_len ? -1 : 1;
	return memcmp(x->name, y->name, x->name_len);
}

static bool rf_name_in(const struct dirobj *old, const struct dirobj_entry *e)
{
	return old && bsearch(e, old->entries, old->nentries, sizeof(*e), rf_name_cmp);
}

/* d->added: the names of obj not in old (old NULL: all of obj's). */
static int rf_names_diff(struct rf_dir *d, const struct dirobj *obj, const struct dirobj *old)
{
	d->added = calloc(obj->nentries + 1, sizeof(*d->added));
	if (!d->added)
		return -ENOMEM;
	for (size_t i = 0; i < obj->nentries; i++) {
		const struct dirobj_entry *e = &obj->entries[i];

		if (rf_name_in(old, e))
			continue;
		d->added[d->nadded] = malloc(e->name_len + 1);
		if (!d->added[d->nadded])
			return -ENOMEM;
		memcpy(d->added[d->nadded], e->name, e->name_len);
		d->added[d->nadded++][e->name_len] = '\0';
	}
	return 0;
}

int rf_names_read(struct rf *rf, struct rf_dir *d)
{
	struct dirobj obj, old;
	bool have_old = false;
	int r = tree_read_dirobj(rf->t, d->id, &d->new_ref, &obj);

	if (r)
		return r;
	/* The old object is in the cache (a directory is unloaded only once
	 * its object can be read back); when it cannot be read after all, every
	 * name is noted, which is only slower. */
	if (obj.nentries >= RF_NAMES_ALL_BELOW && d->old_ref.version != 0 &&
	    tree_read_dirobj(rf->t, d->id, &d->old_ref, &old) == 0) {
		have_old = true;
		qsort(old.entries, old.nentries, sizeof(*old.entries), rf_name_cmp);
	}
	r = rf_names_diff(d, &obj, have_old ? &old : NULL);
	if (have_old)
		dirobj_release(&old);
	dirobj_release(&obj);
	if (r == 0)
		d->have = true;
	return r;
}

int rf_names_note(struct rf *rf, struct inode *dir, const struct rf_dir *d)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < d->nadded; i++)
		r = rf_note(rf, dir, d->added[i], strlen(d->added[i]), NULL);
	return r;
}

void rf_names_free(struct rf_dir *d)
{
	for (size_t i = 0; d->added && i < d->nadded; i++)
		free(d->added[i]);
	free(d->added);
	d->added = NULL;
	d->nadded = 0;
}
