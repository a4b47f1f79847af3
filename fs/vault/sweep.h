/* sweep.h - the store's abandoned uploads (backend_ops.stale_uploads): the
 * multipart uploads of object keys a crash or a cut connection left behind on
 * S3, billed yet in no listing. A mount aborts those begun more than
 * BACKEND_STALE_UPLOAD_AGE_S ago once, on a thread of its own, within
 * SWEEP_BUDGET_MS; fsck reports them and --repair aborts them. An upload
 * younger than that is never touched: another device may be writing it. */
#ifndef SEALFS_SWEEP_H
#define SEALFS_SWEEP_H

#include <stdbool.h>

#include "backend.h"

/* Time a sweep may take in all (a few list pages and aborts; each request
 * gives up within seconds on its own). */
#define SWEEP_BUDGET_MS 15000u

/* Counts (and with do_abort aborts) the store's uploads of object keys begun
 * at least BACKEND_STALE_UPLOAD_AGE_S ago, within budget_ms. -EOPNOTSUPP
 * (*out zeroed) for a store that leaves none behind; otherwise as
 * backend_ops.stale_uploads. Thread-safe as the store is. */
int sweep_uploads(struct backend *store, bool do_abort, unsigned budget_ms,
		  struct backend_stale *out);

struct sweep;

/* Starts the mount's one sweep on a thread with every signal blocked; it
 * logs one line when it aborted something or failed (counts and errno only).
 * *out is NULL (and 0 returned) for a store that leaves none behind. The
 * store must outlive sweep_stop. -errno when the thread cannot start. */
int sweep_start(struct sweep **out, struct backend *store);

/* Waits for the sweep (at most about SWEEP_BUDGET_MS after its start) and
 * frees it; NULL is fine. */
void sweep_stop(struct sweep *w);

#endif
