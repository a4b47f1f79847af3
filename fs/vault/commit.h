/* commit.h - writing the in-memory tree as a copy-on-write snapshot
 * (docs/INTERNALS.md, "Commit"). Knows nothing of FUSE and never calls the
 * store: the uploader (fs/cache/upload.h) is the one path to it.
 *
 * A commit: under commit_lock, take tree_lock; collect every dirty file's new
 * segments (content_commit under the file's lock) and seal every dirty
 * directory bottom-up (version + 1, a fresh random store key), then the head
 * (seq + 1; garbage alone also makes a head); release tree_lock; make it
 * durable in the cache: small segments copied into the record, the others'
 * cache files fdatasync'ed, then one journal record (fs/cache/journal.h)
 * holding the head, the directory objects, the segment keys and the garbage;
 * kick the uploader, which stores it in the background. commit_sync (fsync)
 * can also wait for the upload (commit_set_store_wait); the unit tests wait
 * with upload_flush.
 *
 * On a cache error nothing is lost: the queued objects and the garbage stay
 * for the next commit, the root is marked dirty (the next commit writes a
 * new head), and commit_run returns -EIO. */
#ifndef SEALFS_COMMIT_H
#define SEALFS_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "dirobj.h"
#include "tree.h"

struct commit;
struct journal;
struct upload;

/* A committer for tree t that writes its records into journal, which up
 * stores (all borrowed, must outlive c), starting after the head of sequence
 * number seq (the one mounted); cache_dir holds CACHE/o/00..ff,
 * made durable beforehand (engine_open does both), so that a segment's name
 * is durable after an fsync of its own directory. *out is new. 0, -ENOMEM or
 * -ENAMETOOLONG. */
int commit_new(struct commit **out, struct tree *t, struct journal *journal, struct upload *up,
	       uint64_t seq, const char *cache_dir);
/* Frees (does not commit). NULL is fine. */
void commit_free(struct commit *c);

/* Commits everything dirty into the cache's journal and kicks the uploader.
 * Thread-safe (one commit at a time). Returns 0 when everything changed
 * before the call is durable in the journal, -EIO after a cache error
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
/* Format 2: the history of the head mounted (history.h), owned by c from
 * now on. From then on a commit defers its garbage into garbage lists and
 * archives each head. Call before the first commit. */
struct history;
void commit_set_history(struct commit *c, struct history *h);
/* The head seq of the last successful commit (or the one mounted). */
uint64_t commit_seq(struct commit *c);
/* The history's first-tier slot (tree.head_slot), read under commit_lock:
 * for the merge hook, which supersedes its own merged heads as commits do. */
uint32_t commit_head_slot(struct commit *c);
/* For a merged head (fs/vault/merge_store.c): when the last commit is still
 * the record of seq newest, takes the next seq above both it and `above`
 * (the other device's head) as *out, so every later commit is above the
 * merge; else -EAGAIN (a newer record: the merge must include it). Takes
 * commit_lock briefly. */
int commit_reserve_seq(struct commit *c, uint64_t above, uint64_t newest, uint64_t *out);
/* Runs fn(ctx) under commit_lock when no commit is pending (no journal
 * record, nothing half made), else -EAGAIN; fn's error is returned. After
 * fn succeeded the next commit takes a seq above head's and, in format 2,
 * names parent (the hash of head, the store's head the tree now shows) as
 * its parent and goes on with head's history (read before fn, through the
 * cache: its errors are returned and fn is not run) and window. For
 * fs/vault/poll_head.c, which refreshes the tree to another device's head. */
int commit_quiet(struct commit *c, const struct dirobj_head *head, const uint8_t parent[32],
		 int (*fn)(void *ctx), void *ctx);

#endif
