/* commit_int.h - what fs/vault/commit.c and commit_journal.c share: the
 * commit object and the steps of phase 1 that each file holds. Not a public
 * interface (commit.h is); fs/vault only. */
#ifndef SEALFS_COMMIT_INT_H
#define SEALFS_COMMIT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "commit.h"
#include "history.h"
#include "tree.h"

/* Segments copied into the journal record rather than fsync'ed as files. */
#define COMMIT_INLINE_SEG_MAX (128u * 1024u)
#define COMMIT_INLINE_BUDGET (4u * 1024u * 1024u)
/* From this many segments to flush, one syncfs() does it. */
#define COMMIT_SYNCFS_MIN 64u
/* A segment copied on write with at most this many chunks changed since goes
 * into the record as a patch (its base and those chunks) instead of being
 * flushed; up to COMMIT_PATCH_BUDGET bytes of patches per record. */
#define COMMIT_PATCH_CHUNKS_MAX 64u
#define COMMIT_PATCH_BUDGET (4u * 1024u * 1024u)

struct commit_upload {
	uint8_t key[OBJECT_ID_BYTES];
	char *path; /* cache file to store, owned */
	/* Its bytes, read while content_commit held the file open (a small
	 * segment going into the record: no open, fstat, close), or NULL. */
	unsigned char *data;
	size_t len; /* the segment's size as content_commit expects it */
	/* A patch entry for the record (journal.h, struct journal_patch;
	 * patch_len bytes, owned): the file is not flushed, or NULL. */
	unsigned char *patch;
	size_t patch_len;
	uint8_t base[OBJECT_ID_BYTES]; /* the patch's base */
};

struct commit_object {
	uint8_t key[OBJECT_ID_BYTES];
	unsigned char *data; /* sealed bytes, owned */
	size_t len;
};

struct commit {
	pthread_mutex_t lock;	 /* commit_lock */
	struct tree *tree;	 /* borrowed */
	struct journal *journal; /* borrowed: where commit_run writes records */
	struct upload *up;	 /* borrowed: stores what commit_run journals */
	char cache_dir[CACHE_PATH_MAX];

	/* commit_lock. Queues survive a failed commit and are retried. */
	uint64_t seq; /* seq of the last head written */
	struct commit_upload *ups;
	size_t nups, ups_cap;
	size_t ups_data;  /* bytes held in ups[].data (COMMIT_INLINE_BUDGET at most) */
	size_t ups_patch; /* bytes held in ups[].patch (COMMIT_PATCH_BUDGET at most) */
	/* The record inlines no segment: plan_out queued segments (of sizes
	 * past COMMIT_INLINE_SEG_MAX, or past COMMIT_INLINE_BUDGET once
	 * plan_used bytes were planned in) reached COMMIT_SYNCFS_MIN, so one
	 * syncfs flushes them all (commit_journal.c). */
	bool no_inline;
	size_t plan_used, plan_out;
	struct commit_object *objs;
	size_t nobjs, objs_cap;
	uint8_t (*garbage)[OBJECT_ID_BYTES];
	uint64_t *garbage_c; /* format 2: the seq that created each (0: unknown) */
	size_t ngarbage, garbage_cap, garbage_c_cap;
	/* Format 2 (history.h; NULL in format 1): the retained heads. A
	 * commit's garbage goes into its garbage list, never straight to a
	 * deletion; hout holds the history's objects and the deletions that
	 * thinning allows, for the record being written. */
	struct history *hist;
	struct history_out hout;
	unsigned char *head; /* sealed head of this commit, or NULL */
	size_t head_len;
	uint64_t tries;		/* commit attempts so far (inode.commit_try) */
	unsigned store_wait_ms; /* set before serving; read-only after */
};

/* commit.c: grows *arr (of *cap elements of elem bytes) to hold n. 0 or
 * -ENOMEM (the array unchanged). */
int commit_reserve(void **arr, size_t *cap, size_t n, size_t elem);
/* commit_journal.c: content_upload_cb: queues a dirty segment's cache file
 * for the store (arg: the commit; commit_lock and the file's lock held). */
int commit_queue_upload(void *arg, const char *key_text, const char *cache_path, int fd,
			uint64_t len, const struct content_patch_info *patch);
/* commit_journal.c: frees u's path and bytes (u zeroed). */
void commit_upload_free(struct commit *c, struct commit_upload *u);
/* commit.c: drops from the queues what this commit's own garbage holds
 * (objects sealed and replaced before any record listed them). */
void commit_prune(struct commit *c);
/* commit_journal.c: makes the sealed commit durable in the cache as one
 * journal record (segments inlined or flushed, the record written and
 * fdatasync'ed), then kicks the uploader. 0, or -EIO (logged once) with
 * the queues kept for the next try. commit_lock held. */
int commit_journal(struct commit *c);

#endif
