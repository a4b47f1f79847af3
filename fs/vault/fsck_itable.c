/* fsck_itable.c - the inode table of a format-2 vault (docs/FORMAT.md,
 * "Inode table") for the checker: its pages and every segment of its
 * records join the reachable set before orphans are listed, so repair
 * never deletes the content of a file with several names. The records'
 * segments are counted reachable, not opened (repair moves damage aside by
 * path, and a record has none). Must never leave out a key it could not
 * read past: a table it cannot read fails the run (no orphan is deleted). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cache.h"
#include "errbuf.h"
#include "fsck_int.h"
#include "itable.h"
#include "meta.h"

/* Reads and opens kind-6 object ref into new plaintext (meta_free_plain). */
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

static int fsck_itable_leaf(struct fsck *f, const struct dirobj_ref *ref, size_t slot,
			    size_t nslots)
{
	struct itable_leaf l;
	char *plain = NULL;
	size_t len = 0;
	int r = fsck_itable_open(f, ref, &plain, &len);

	if (r)
		return r;
	r = itable_leaf_decode(&l, plain, len, slot, nslots);
	meta_free_plain(plain, len);
	for (size_t i = 0; r == 0 && i < l.n; i++) {
		const struct dirobj_entry *e = &l.recs[i].e;
		f->res->n.files++;
		for (size_t s = 0; r == 0 && s < e->nsegments; s++)
			if (e->segments[s].present)
				r = fsck_keyset_add(&f->reach, e->segments[s].store_key);
	}
	itable_leaf_release(&l); /* zeroed when it did not decode */
	return r;
}

int fsck_itable_reach(struct fsck *f, const struct dirobj_head *head)
{
	struct itable_index ix = {.n = 0};
	char *plain = NULL;
	size_t len = 0;
	int r;

	if (f->cfg->format < 2 || !head->has_inodes)
		return 0;
	r = fsck_itable_open(f, &head->inodes, &plain, &len);
	if (r == 0) {
		r = itable_index_decode(&ix, plain, len);
		meta_free_plain(plain, len);
	}
	for (size_t i = 0; r == 0 && i < ix.n; i++)
		if (ix.slots[i].present)
			r = fsck_itable_leaf(f, &ix.slots[i].ref, i, ix.n);
	itable_index_release(&ix);
	if (r)
		return errbuf_fail(f->err, f->err_size, r < 0 ? r : -EIO,
				   "reading the inode table failed (%s): orphans not listed",
				   r == -EBADMSG ? "it failed to authenticate" : strerror(-r));
	return 0;
}
