/* merge_thin.c - a merged head M that does not supersede the store's head R
 * continues R's history the way a commit on R does (merge_thin.h): the
 * committer's history opened over R, thinned at M's time (history_prepare:
 * every head of R's history is stored), then sealed with M's garbage
 * (history_seal: R's record, the new first page, the list with what
 * thinning carries). So a merged head thins as an ordinary commit does,
 * instead of leaving it to this device's next commit. Must never turn into
 * a deletion what the local head still shows, and never writes the store. */
#include "merge_thin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Thinning's deletions, but what the local head reaches, into dels. */
static int merge_thin_dels(const struct history_out *out, const struct merge_gc_set *keep,
			   uint64_t seq, struct merge_gc_set *dels)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < out->ndeletes; i++)
		if (!merge_gc_set_has(keep, out->deletes[i]))
			r = merge_gc_set_add(dels, out->deletes[i], seq);
	return r;
}

int merge_thin_seal(struct dirobj_head *m, const struct dirobj_head *r, uint32_t slot,
		    const struct histobj_garbage_item *items, size_t n,
		    const struct merge_gc_set *keep, const struct history_io *io,
		    struct history_out *out, struct merge_gc_set *dels)
{
	struct history_garbage *g = calloc(n ? n : 1, sizeof(*g));
	struct history *h = NULL;
	int rc = g ? history_open(&h, r, io) : -ENOMEM;

	for (size_t i = 0; g && i < n; i++) {
		memcpy(g[i].key, items[i].key, OBJECT_ID_BYTES);
		g[i].created = items[i].created;
	}
	if (rc == 0) {
		history_set_slot(h, slot);
		/* A failed thinning is postponed, as in a commit: M still goes in. */
		(void)history_prepare(h, m->time.sec, r->seq);
		rc = history_seal(h, m, g, n, m->time.sec, out);
	}
	if (rc == 0)
		rc = merge_thin_dels(out, keep, m->seq, dels);
	history_free(h); /* M's history is the uploader's now; this one ends */
	free(g);
	return rc;
}
