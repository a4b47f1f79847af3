/* merge_hist.h - the history and garbage list of a merged head
 * (fs/vault/merge_hist.c; docs/INTERNALS.md "Merge", docs/FORMAT.md
 * "History", "Garbage lists"). Seals objects, never stores them. Internal
 * to fs/vault. */
#ifndef SEALFS_MERGE_HIST_H
#define SEALFS_MERGE_HIST_H

#include "history.h"
#include "merge_gc.h"

struct merge_hist_in {
	const struct dirobj_head *remote;	 /* R: the store's head M replaces */
	uint64_t seq;				 /* M's */
	const struct merge_gc_set *gone;	 /* what R reaches and M does not (sorted) */
	const struct merge_gc_set *m_seen;	 /* merge_gc_diff: M's objects R does not reach */
	const struct merge_gc_set *local;	 /* what the local head reaches and M does not */
	const uint8_t (*fresh)[OBJECT_ID_BYTES]; /* what this device's pending records stored */
	size_t nfresh;
	const struct history_io *io; /* reads R's first page; seals */
	/* R is this mount's own merged head in M's slot: M supersedes it (no
	 * record, R's pages reused, R's garbage list chained after M's). */
	bool supersede;
	uint32_t slot; /* the first tier's slot of thinning (the mount's) */
};

/* What merge_hist_seal lists that no stored head ever reached and this
 * device's tree does not show (sorted): what the pending records (and lost
 * merges) stored that neither M nor the local head reaches. */
struct merge_hist_dead {
	struct merge_gc_set now;
};

/* Fills m's keep, gr, hist and g (every other member the caller's) and
 * seals the objects they name into *out (new; history_out_free): R's head
 * record, the new first page, the garbage list; *dead (empty on entry,
 * the caller frees its sets) what of it the uploader may delete. 0,
 * -ENOMEM, -EBADMSG (R's
 * history is not older than R), the reader's errors. */
int merge_hist_seal(struct dirobj_head *m, const struct merge_hist_in *in, struct history_out *out,
		    struct merge_hist_dead *dead);

#endif
