/* merge_thin.h - a merged head's history when it does not supersede the
 * store's head R (fs/vault/merge_thin.c; docs/FORMAT.md "Head records",
 * "Deferred deletion"): R archived and R's retained heads thinned at the
 * merged head's time, as a commit on R would. Seals objects, never stores
 * them. Internal to fs/vault. */
#ifndef SEALFS_MERGE_THIN_H
#define SEALFS_MERGE_THIN_H

#include "history.h"
#include "merge_gc.h"

/* Fills m's hist and g (keep and gr are R's already) and seals into *out
 * (empty on entry) R's head record, the pages that change and the garbage
 * list: items[0..n) (each [created, m->seq); created == m->seq for what no
 * stored head reached) plus what thinning carries. What thinning frees is
 * added to *dels with m->seq, except what keep (the local head's view)
 * holds: deleted once m is stored. slot: the first tier's (the mount's).
 * 0, -ENOMEM, the reader's errors, -EBADMSG. */
int merge_thin_seal(struct dirobj_head *m, const struct dirobj_head *r, uint32_t slot,
		    const struct histobj_garbage_item *items, size_t n,
		    const struct merge_gc_set *keep, const struct history_io *io,
		    struct history_out *out, struct merge_gc_set *dels);

#endif
