/* poll_head.h - another device's changes shown in a mounted format-2 vault
 * (docs/DESIGN-FORMAT-2.md section 5, "Polling"): every --poll seconds the
 * store's head is read; when it is neither the one the mount shows nor one
 * this mount stored (other than a merge the uploader made when another
 * device's head refused its own), the mount's own changes are committed and uploaded
 * (the uploader merges them onto it, merge_store.c), the head the store then
 * holds is read again and the tree is brought to it in place (tree_refresh.h),
 * and the kernel is told what changed through the caller's callback. Never
 * writes the store itself; never refreshes a tree with uncommitted changes
 * (it tries again at the next poll). */
#ifndef SEALFS_POLL_HEAD_H
#define SEALFS_POLL_HEAD_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "tree_refresh.h"
#include "vault.h"

struct commit;
struct tree;
struct upload;

#define POLL_DEFAULT_S 15

/* Tells the kernel: the entry name of directory parent, or (name NULL) the
 * inode ino changed. Called on the poll's thread with no lock held. */
typedef void (*poll_inval_fn)(void *ctx, const struct tree_inval *v);

struct poll_deps {
	struct backend *store;
	struct tree *tree;
	struct commit *commit;
	struct upload *up;
	const struct vault_config *cfg;
	const unsigned char *meta_key;
	poll_inval_fn inval; /* NULL: nobody to tell (the unit tests) */
	void *inval_ctx;
	unsigned wait_ms; /* how long a poll waits for its own commits to be stored */
};

struct poll;

/* What the polls did (sealfs status). */
struct poll_stats {
	uint64_t polls;		   /* reads of the store's head (each poll's first) */
	uint64_t unchanged;	   /* of those, answered "not modified" (S3: 304, no head sent) */
	uint64_t refreshes;	   /* other devices' heads shown */
	int64_t last_refresh_time; /* CLOCK_REALTIME seconds; 0: none */
	uint64_t last_changes;	   /* names and inodes the last one told the kernel about */
};

/* A poll over deps (borrowed, must outlive it); no thread yet. NULL: out of
 * memory. */
struct poll *poll_new(const struct poll_deps *deps);
/* One poll now, on the caller's thread: 1 when the tree was refreshed to
 * another device's head, 0 when there was nothing new, -EAGAIN when it must
 * wait (uncommitted changes, the upload not done in time), -EXDEV when the
 * store's head provably does not descend from the one shown (a fork: not
 * shown, logged once), or the store's errno / -EBADMSG. */
int poll_once(struct poll *p);
/* Starts a thread calling poll_once every seconds (> 0). 0 or an errno. */
int poll_start(struct poll *p, unsigned seconds);
void poll_stats(struct poll *p, struct poll_stats *out);
/* Stops the thread (if any); poll_stats still works. NULL is fine. */
void poll_stop(struct poll *p);
/* Stops the thread (if any) and frees. NULL is fine. */
void poll_free(struct poll *p);

#endif
