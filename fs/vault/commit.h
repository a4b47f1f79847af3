/* commit.h - writing the in-memory tree to the store as a copy-on-write
 * snapshot (docs/INTERNALS.md, "Commit"), the sealed head, and the rollback
 * guard kept in the cache directory. Knows nothing of FUSE.
 *
 * A commit: under commit_lock, take tree_lock; collect every dirty file's new
 * segments (content_commit under the file's lock) and seal every dirty
 * directory bottom-up (version + 1, a fresh random store key), then the head
 * (seq + 1); release tree_lock; put the segments, then the directory objects
 * (also into the cache); sync; put the head; sync; then delete the garbage
 * (store keys no longer reachable) from the store and the cache.
 *
 * On a store error nothing is lost: the objects not yet stored stay queued,
 * the root is marked dirty (the next commit writes a new head), the garbage
 * is kept, and commit_run returns -EIO.
 *
 * Write-back (commit_set_uploader, what a mount uses): commit_run stops after
 * making the sealed commit durable in the cache: the new segments' cache
 * files are fdatasync'ed, the directory objects cached, and one journal
 * record (fs/cache/journal.h) holding the head, the directory objects, the segment
 * keys and the garbage is written; the uploader (fs/cache/upload.h) stores it in
 * the background. Garbage alone also makes a record (with a new head).
 * commit_sync (fsync) can also wait for the upload (commit_set_store_wait). */
#ifndef SEALFS_COMMIT_H
#define SEALFS_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "dirobj.h"
#include "tree.h"

struct commit;

/* A committer for tree t over store (both borrowed), whose head in the store
 * has sequence number seq; cache_dir holds the state file. *out is new. */
int commit_new(struct commit **out, struct tree *t, struct backend *store, uint64_t seq,
	       const char *cache_dir);
/* Frees (does not commit). NULL is fine. */
void commit_free(struct commit *c);

struct upload;
/* Switches c to write-back: from now on commit_run journals and hands the
 * record to up (borrowed; must outlive c's use). Creates CACHE/o/00..ff
 * durably first. 0 or -errno. */
int commit_set_uploader(struct commit *c, struct upload *up);

/* Commits everything dirty. Thread-safe (one commit at a time). Returns 0
 * when everything changed before the call is durable in the store (or, in
 * write-back, in the cache's journal), -EIO after a store or cache error
 * (logged; retried by the next commit), -ENOMEM. */
int commit_run(struct commit *c);
/* What fsync and fsyncdir call: commit_run, then, when a store wait is set,
 * waits (outside commit_lock) until the commit is in the store: -EIO if it
 * is not there within the wait (the store is failing; the commit stays in the
 * journal and is uploaded later). */
int commit_sync(struct commit *c);
/* Sets how long commit_sync waits for the store; 0 (the default): fsync is
 * durable in the cache's journal and never waits for the store. Call before
 * the mount serves requests. */
void commit_set_store_wait(struct commit *c, unsigned ms);
/* The head seq of the last successful commit (or the one mounted). */
uint64_t commit_seq(struct commit *c);

#endif
