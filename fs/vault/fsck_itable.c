/* fsck_itable.c - the inode table of a format-2 vault (docs/FORMAT.md,
 * "Inode table") for the checker: after the tree's walk, its pages join the
 * reachable set, each record's "nl" is checked against the names ("h"
 * entries) the walk met, every name must have a record, and each record's
 * segments are checked like a file's, under its first name. Repair does not
 * change the table: damage found here is reported and left (the run says
 * so). Must never leave out a key it could not read past: a table it cannot
 * read fails the run, so no orphan is listed or deleted. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cache.h"
#include "errbuf.h"
#include "fsck_int.h"
#include "itable.h"
#include "meta.h"

int fsck_itable_name(struct fsck *f, const uint8_t id[OBJECT_ID_BYTES], char *path, size_t len)
{
	if (f->nh == f->hcap) {
		size_t cap = f->hcap ? f->hcap * 2 : 64;
		void *p = realloc(f->hnames, cap * sizeof(*f->hnames));
		if (!p) {
			free(path);
			return -ENOMEM;
		}
		f->hnames = p;
		f->hcap = cap;
	}
	memcpy(f->hnames[f->nh].id, id, OBJECT_ID_BYTES);
	f->hnames[f->nh].path = path;
	f->hnames[f->nh].used = false;
	f->hnames[f->nh++].path_len = len;
	return 0;
}

void fsck_itable_free(struct fsck *f)
{
	for (size_t i = 0; i < f->nh; i++)
		free(f->hnames[i].path);
	free(f->hnames);
	f->hnames = NULL;
	f->nh = f->hcap = 0;
}

static int fsck_hname_cmp(const void *a, const void *b)
{
	return memcmp(((const struct fsck_hname *)a)->id, ((const struct fsck_hname *)b)->id,
		      OBJECT_ID_BYTES);
}

/* The names of id: [*lo, *hi) of the sorted names. */
static void fsck_itable_names_of(const struct fsck *f, const uint8_t id[OBJECT_ID_BYTES],
				 size_t *lo, size_t *hi)
{
	size_t a = 0, b = f->nh;

	while (a < b) { /* the first name >= id */
		size_t m = a + (b - a) / 2;
		if (memcmp(f->hnames[m].id, id, OBJECT_ID_BYTES) < 0)
			a = m + 1;
		else
			b = m;
	}
	*lo = *hi = a;
	while (*hi < f->nh && memcmp(f->hnames[*hi].id, id, OBJECT_ID_BYTES) == 0)
		(*hi)++;
}

/* Reads and opens kind-6 object ref into new plaintext (meta_free_plain);
 * the object joins the reachable set first. */
static int fsck_itable_open(struct fsck *f, const struct dirobj_ref *ref, char **plain, size_t *len)
{
	char key[OBJECT_KEY_TEXT_BYTES];
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	struct meta_ad ad = {.kind = META_KIND_INODE_PAGE, .version = ref->version};
	int r;

	memcpy(ad.vault_id, f->cfg->vault_id, OBJECT_ID_BYTES);
	memcpy(ad.store_key, ref->store_key, OBJECT_ID_BYTES);
	object_key_text(key, ref->store_key);
	r = fsck_keyset_add(&f->reach, ref->store_key);
	if (r == 0)
		r = backend_get_max(f->store, key, META_MAX_SEALED_BYTES, &sealed, &sealed_len);
	if (r)
		return r;
	f->res->n.stored_bytes += sealed_len;
	r = meta_open(plain, len, sealed, sealed_len, &ad, f->keys->meta);
	free(sealed);
	return r;
}

/* Every present segment of e joins the reachable set, unchecked. */
static int fsck_itable_keep(struct fsck *f, const struct dirobj_entry *e)
{
	for (size_t s = 0; s < e->nsegments; s++)
		if (e->segments[s].present && fsck_keyset_add(&f->reach, e->segments[s].store_key))
			return -ENOMEM;
	return 0;
}

/* One record: its count against its names (marked used), its segments
 * queued under its first name (reachable in any case). A retained head's
 * (f->old_head): its segments only kept, since that walk skips subtrees a
 * newer head's walk saw and so does not meet every name. */
static int fsck_itable_record(struct fsck *f, struct fsck_batch *b, const struct itable_record *rec,
			      const char *key)
{
	size_t lo, hi;
	char why[96];

	if (f->old_head)
		return fsck_itable_keep(f, &rec->e);
	if (rec->e.type == DIROBJ_FILE)
		f->res->n.files++;
	else
		f->res->n.symlinks++; /* format 3: as fsck.c counts the other types */
	fsck_itable_names_of(f, rec->e.id, &lo, &hi);
	if (hi - lo != rec->nlink) {
		snprintf(why, sizeof(why), "%zu names, link count %" PRIu32, hi - lo, rec->nlink);
		fsck_report(f, FSCK_DAMAGED, lo < hi ? f->hnames[lo].path : "/",
			    lo < hi ? f->hnames[lo].path_len : 1, "inode table record", why, key);
		f->itable_bad = true;
	}
	for (size_t i = lo; i < hi; i++)
		f->hnames[i].used = true;
	if (lo < hi && rec->e.type == DIROBJ_FILE)
		return fsck_batch_add_file(f, b, f->hnames[lo].path, f->hnames[lo].path_len,
					   &rec->e);
	return fsck_itable_keep(f, &rec->e); /* no name: kept, not checked */
}

static int fsck_itable_leaf(struct fsck *f, struct fsck_batch *b, const struct dirobj_ref *ref,
			    size_t slot, size_t nslots)
{
	char key[OBJECT_KEY_TEXT_BYTES];
	struct itable_leaf l;
	char *plain = NULL;
	size_t len = 0;
	int r;

	if (f->old_head && fsck_keyset_has(&f->reach, ref->store_key))
		return 0; /* a newer head's walk read this leaf */
	r = fsck_itable_open(f, ref, &plain, &len);
	if (r)
		return r;
	object_key_text(key, ref->store_key);
	r = itable_leaf_decode_fmt(&l, plain, len, slot, nslots, f->cfg->format);
	meta_free_plain(plain, len);
	for (size_t i = 0; r == 0 && i < l.n; i++)
		r = fsck_itable_record(f, b, &l.recs[i], key);
	itable_leaf_release(&l); /* zeroed when it did not decode */
	return r;
}

/* Every name whose file has no record: damage. */
static void fsck_itable_orphan_names(struct fsck *f)
{
	for (size_t i = 0; i < f->nh; i++) {
		if (f->hnames[i].used)
			continue;
		fsck_report(f, FSCK_MISSING, f->hnames[i].path, f->hnames[i].path_len,
			    "inode table record", "a name of a file the table does not hold", "");
		f->itable_bad = true;
	}
}

int fsck_itable_walk(struct fsck *f, struct fsck_batch *b, const struct dirobj_head *head)
{
	struct itable_index ix = {.n = 0};
	char *plain = NULL;
	size_t len = 0;
	int r = 0;

	if (f->cfg->format < 2)
		return 0;
	if (f->nh > 1)
		qsort(f->hnames, f->nh, sizeof(*f->hnames), fsck_hname_cmp);
	if (head->has_inodes && (r = fsck_itable_open(f, &head->inodes, &plain, &len)) == 0) {
		r = itable_index_decode(&ix, plain, len);
		meta_free_plain(plain, len);
	}
	for (size_t i = 0; r == 0 && i < ix.n; i++)
		if (ix.slots[i].present)
			r = fsck_itable_leaf(f, b, &ix.slots[i].ref, i, ix.n);
	itable_index_release(&ix);
	if (r == 0)
		fsck_itable_orphan_names(f);
	fsck_itable_free(f); /* the next head's walk meets its own names */
	if (r == -ENOMEM)
		return r;
	if (r)
		return errbuf_fail(f->err, f->err_size, r,
				   "reading the inode table failed (%s): orphans not listed",
				   r == -EBADMSG ? "it failed to authenticate" : strerror(-r));
	return 0;
}

void fsck_itable_damage(struct fsck *f, uint64_t lo)
{
	size_t k = 0;

	for (size_t i = 0; i < f->ndmg; i++) {
		if (!f->dmg[i].is_dir && f->dmg[i].serial > lo) {
			free(f->dmg[i].path);
			free(f->dmg[i].segs);
			f->itable_bad = true;
			continue;
		}
		f->dmg[k++] = f->dmg[i];
	}
	f->ndmg = k;
}
