/* merge_store.h - the uploader's merge hook for format-2 vaults
 * (fs/cache/upload.h, upload_merge_fn): opens the three sealed heads, runs
 * the pure merge (merge.h) over directory objects read through the cache
 * (then the store), re-seals the content of conflict copies under their new
 * ids, seals the new directory objects and the merged head. Never writes the
 * store or the tree: the uploader stores what it returns. */
#ifndef SEALFS_MERGE_STORE_H
#define SEALFS_MERGE_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "cache.h"
#include "secmem.h"
#include "suite.h"
#include "upload.h"

struct commit;

/* The hook's context (merge_store_new): borrowed pointers, usable only
 * while `commit` is set and `off` is not. The lock is held for a whole merge,
 * store reads included: only merge_store_set and merge_store_off (the
 * committer's start, the unmount before the keys go) ever wait on it. */
struct merge_store {
	pthread_mutex_t lock;
	struct cache *cache;
	uint8_t vault_id[OBJECT_ID_BYTES];
	const unsigned char *meta_key;
	const unsigned char *content_key;
	enum suite_id suite;
	int format;
	struct secmem_pool *keys; /* for the per-file keys of copies */
	struct commit *commit;	  /* NULL until the committer exists: -EAGAIN */
	bool off;		  /* the keys are going: -EAGAIN for good */
};

/* A new context (fields copied from *tmpl but the lock, commit and off);
 * NULL when out of memory. merge_store_free after the uploader stopped. */
struct merge_store *merge_store_new(const struct merge_store *tmpl);
void merge_store_set(struct merge_store *m, struct commit *c);
/* Waits for a merge in progress, then makes every later one -EAGAIN (before
 * the committer, tree or keys are freed). NULL is fine. */
void merge_store_off(struct merge_store *m);
void merge_store_free(struct merge_store *m);

/* upload_merge_fn over a struct merge_store *ctx. 0; -EAGAIN (the committer
 * wrote a newer record, or is not there yet); -EBADMSG (a head or directory
 * object failed to authenticate); -ELOOP, -EINVAL, -ENAMETOOLONG from the
 * merge; -ENOMEM; the store's errno. Thread-safe for distinct contexts. */
int merge_store_run(void *ctx, const struct upload_merge_req *req, struct upload_merge_out *out);

#endif
