/* merge_itable.h - the inode tables around the merge hook (merge_store.c):
 * reading a head's whole table (every leaf, through the cache) for the pure
 * merge, sealing the merged table's pages (the store's head's leaves kept
 * where a slot did not change), and the objects each table reaches for the
 * merged head's garbage (merge_gc.h). Never writes the store, never logs a
 * name, never returns a page that failed to authenticate. Internal to
 * fs/vault; called on the merging thread only. */
#ifndef SEALFS_MERGE_ITABLE_H
#define SEALFS_MERGE_ITABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "itable.h"
#include "merge.h"
#include "merge_gc.h"
#include "merge_store.h"

/* One head's table. has false: the head has none (everything empty). */
struct merge_itable_side {
	bool has;
	struct dirobj_ref root;
	struct itable_index ix;
	struct itable_leaf *leaves; /* ix.n long; an absent slot's has n 0 */
	struct itable_record *recs; /* every record: shallow copies of leaves' */
	size_t nrecs;
	struct merge_gc_set objs; /* its pages and its records' segments */
};

/* Reads head's table through m's cache. 0 (*s new: merge_itable_side_free),
 * -EBADMSG (a page failed to authenticate or parse), the cache's errno,
 * -ENOMEM. */
int merge_itable_read(struct merge_store *m, const struct dirobj_head *head,
		      struct merge_itable_side *s);
void merge_itable_side_free(struct merge_itable_side *s);
/* The pure merge's view of it (borrowed from s). */
struct merge_itable merge_itable_view(const struct merge_itable_side *s);

/* Stores an object (the hook's list): 0 or -ENOMEM (data freed either way
 * unless 0, when the list owns it). */
typedef int (*merge_itable_add_fn)(void *out, const uint8_t key[OBJECT_ID_BYTES],
				   unsigned char *data, size_t len);

/* Seals the merged table res->records under seq: slot count by the tree's
 * rule (tree_link_io.c) starting from r's; a slot whose records are those of
 * r's leaf keeps r's leaf, others get a new one (add), and a new index unless
 * every leaf was kept. Sets head->has_inodes and head->inodes; *m_objs (the
 * caller's, empty) gets what the table reaches. 0, -ENOMEM, -EINVAL. */
int merge_itable_seal(struct merge_store *m, const struct merge_result *res,
		      const struct merge_itable_side *r, uint64_t seq, struct dirobj_head *head,
		      merge_itable_add_fn add, void *out, struct merge_gc_set *m_objs);

/* Moves a side's table objects into the garbage walk's result: *gone (what
 * that side reaches and the merged head does not) gets side's objects that
 * the merged head's walk (*seen) and table (m_objs) do not reach, and loses
 * those m_objs holds; *seen gets m_objs. Both stay sorted. 0, -ENOMEM. */
int merge_itable_gc(struct merge_gc_set *gone, struct merge_gc_set *seen,
		    const struct merge_gc_set *side, const struct merge_gc_set *m_objs);

#endif
