/* upload.h - the background uploader (docs/INTERNALS.md, "Commit"): a thread
 * that moves the journal's records (fs/cache/journal.h) into the store in seq
 * order, merging whatever is pending into one store commit. It is the one
 * path by which commits reach the store. Knows nothing of FUSE or trees.
 *
 * For the pending records with seq > the last head known to be in the store:
 * put every segment (from its cache file) and directory object that no
 * pending record lists as garbage; sync; put the newest record's head by
 * compare-and-swap on the head it was built on (fs/cache/head.h); sync;
 * remember its seq (CACHE/state); delete every pending record's garbage from
 * the store and the cache; remove the record files. Records at or below the
 * remembered seq only have their garbage deleted. On a store error nothing
 * is removed and the round is retried after a back-off (1 s doubling to
 * 60 s). When another device changed the head (-ESTALE) and a merge hook
 * is set (format 2), the uploader reads the store's head, has the hook merge
 * its newest record's head onto it (upload_merge_fn), stores the result by
 * compare-and-swap (again on -ESTALE, a few times), and from then on merges
 * every head it stores (the mounted tree does not show the other device's
 * changes until the next mount): the garbage of merged records is not
 * deleted (the other device's head may reach it; fsck --repair removes
 * orphans). Without a hook (format 1) the uploader stops for good: every
 * record stays, nothing is deleted, upload_wait fails, upload_flush returns
 * -ESTALE, upload_drain returns at once, and upload_stats says conflict.
 * Logs errnos and counts only. */
#ifndef SEALFS_UPLOAD_H
#define SEALFS_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "cache.h"
#include "dirobj.h"
#include "head.h"

#define UPLOAD_THREADS 4 /* store calls in flight besides the calling thread */
#define UPLOAD_BACKOFF_MAX_MS 60000u

#define UPLOAD_RATE_WINDOW_S 10 /* upload_stats' rate: bytes/s over this many seconds */

struct upload;

/* What the uploader did since upload_start (sealfs status, fs/daemon/control.h).
 * Counts only: never a name or a key. */
struct upload_stats {
	uint64_t stored_seq;   /* head seq known to be in the store */
	uint64_t done_seq;     /* records up to here done (head stored, garbage deleted) */
	uint64_t sent_bytes;   /* bytes of objects and heads the store took */
	uint64_t rate;	       /* bytes/s over the last UPLOAD_RATE_WINDOW_S seconds */
	bool failing;	       /* the last round failed */
	int last_err;	       /* negative errno of the last failed round, 0: none yet */
	int64_t last_err_time; /* its CLOCK_REALTIME seconds (0: none) */
	bool conflict;	       /* another device changed the store's head: nothing is
				  uploaded any more (the records stay) */
	uint64_t conflict_seq; /* the newest commit that could not be stored then */
	bool conflict_links;   /* why: the merge hook cannot merge hard links (-EOPNOTSUPP) */
	bool cas_ignored;      /* the store ignores conditional writes (probe) */
	/* Merges of another device's head (format 2). */
	uint64_t merges;	 /* merged heads stored since the mount */
	int64_t last_merge_time; /* CLOCK_REALTIME seconds of the last (0: none) */
	uint64_t last_merged;	 /* its entries merged (merge_result.merged) */
	uint64_t last_conflicts; /* its conflict names and copies */
	uint64_t put_objects;	 /* objects (not heads) the store took */
	uint64_t put_heads;	 /* heads the store took */
	uint64_t dropped;	 /* dead objects never stored: deleted from the cache */
};

/* What a merge hook gets: three sealed heads (borrowed for the call). base:
 * the head this device's records were built on, NULL when unknown (a
 * two-way merge); local: the newest record's; remote: the store's now.
 * newest: the newest record's seq (the merged head must take a seq above
 * every record's, and none may have been written since: see -EAGAIN). */
struct upload_merge_req {
	const unsigned char *base, *local, *remote;
	size_t base_len, local_len, remote_len;
	uint64_t newest;
	/* What the pending records not yet stored put, or may have put, into
	 * the store (their segments and objects): the merged head lists those
	 * it does not reach as garbage (fs/vault/merge_hist.c). */
	const uint8_t (*fresh)[OBJECT_ID_BYTES];
	size_t nfresh;
	/* remote is the merged head this mount stored last (no other device
	 * wrote since): the hook may supersede it as a commit supersedes its
	 * own previous head within one slot. */
	bool remote_own;
};

/* A sealed object the merged head reaches that the store does not have yet. */
struct upload_merge_obj {
	uint8_t key[OBJECT_ID_BYTES];
	unsigned char *data; /* malloc'ed */
	size_t len;
};

/* The hook's result (upload_merge_out_release frees it). */
struct upload_merge_out {
	unsigned char *head; /* the sealed merged head, malloc'ed */
	size_t head_len;
	uint64_t seq; /* its seq: above the remote's and every record's */
	struct upload_merge_obj *objs;
	size_t nobjs;
	uint64_t merged, conflicts;
	/* In the merged head's garbage list and never reached by a stored head
	 * (what this device's records stored for nothing): the uploader deletes
	 * them once the merged head is stored (malloc'ed; thinning deletes
	 * whatever a mount ends before). What only a superseded merged head
	 * reached waits for thinning: the other device may still show it. */
	uint8_t (*dead_now)[OBJECT_ID_BYTES];
	size_t ndead_now;
};

/* Merges req into *out: 0, -EAGAIN when a record newer than req->newest was
 * written meanwhile (the round is retried with it), -EOPNOTSUPP when these
 * heads cannot be merged (hard links: the uploader stops for good, as
 * without a hook, upload_stats.conflict_links), or another negative
 * errno (the round fails and is retried after a back-off). Called on the
 * uploader's thread with none of its locks held. */
typedef int (*upload_merge_fn)(void *ctx, const struct upload_merge_req *req,
			       struct upload_merge_out *out);
void upload_merge_out_release(struct upload_merge_out *out);

/* Format 2: head (sealed, borrowed) sealed again with parent as its
 * "parent", so that every head the store takes names the stored head it
 * replaces (docs/FORMAT.md, "Head"); *out new, NULL when head names it
 * already. 0, -EBADMSG, -ENOMEM. Called by the uploader's thread only. */
typedef int (*upload_reseal_fn)(void *ctx, const unsigned char *head, size_t len,
				const uint8_t parent[HEAD_HASH_BYTES], unsigned char **out,
				size_t *out_len);

/* Format 2: whether the store's head (sealed remote[0..len), read for a
 * merge) descends from the head this mount stored or showed last (seq,
 * hash; its bytes in cache_dir's CACHE/pin-head): 1 yes, 0 provably not
 * (the store forked, or was rolled back), -1 cannot tell. Called by the
 * uploader's thread only (docs/SECURITY.md, "Forks"). */
typedef int (*upload_descends_fn)(void *ctx, const unsigned char *remote, size_t len, uint64_t seq,
				  const uint8_t hash[HEAD_HASH_BYTES], const char *cache_dir);

/* The descends hook (upload_base.descends) for a head another thread read
 * (a poll): sealed[0..len) against the head this uploader stored or was
 * rebased to last. 1, 0 (a fork), -1 (cannot tell, or no hook).
 * Thread-safe. */
struct upload;
int upload_descends(struct upload *u, const unsigned char *sealed, size_t len);

/* Where the uploader starts: the store's head this mount builds on. */
struct upload_base {
	uint64_t stored_seq;	       /* its seq: records up to it are in the store */
	struct backend_version ver;    /* its version (head_get), replaced by compare-and-swap */
	uint8_t hash[HEAD_HASH_BYTES]; /* its hash (head_hash), for the pin */
	struct head_pin *pin;	       /* borrowed, outlives the uploader: advanced after each head
					  stored; NULL: none */
	/* The engine found another device's head over this cache's commits
	 * (a read-only mount of them): never write; conflict_seq the newest. */
	bool conflict;
	uint64_t conflict_seq;
	/* Format 2: the store's head's sealed bytes (copied: the first merge's
	 * base) and the merge hook with its context (borrowed, must outlive the
	 * uploader); merge NULL: stop on another device's head. */
	const unsigned char *head;
	size_t head_len;
	upload_merge_fn merge;
	void *merge_ctx;
	/* Format 2: the reseal hook (borrowed context, must outlive the
	 * uploader); NULL: heads go in as their records hold them. */
	upload_reseal_fn reseal;
	void *reseal_ctx;
	/* Format 2, with merge: asked before every merge (context reseal_ctx);
	 * a fork stops the uploader for good as a conflict. NULL: not asked. */
	upload_descends_fn descends;
	/* Format 2: another device's head is over this cache's records (a mount
	 * after an outage): the first round merges onto it, with head (NULL:
	 * unknown, a two-way merge) as the base. */
	bool diverged;
	/* The probe's verdict when the engine asked at mount; HEAD_CAS_UNKNOWN:
	 * the uploader asks before its first head. */
	enum head_cas cas;
	/* The lease (fs/vault/lease.h) of a store that ignores conditional
	 * writes: called with lease_ctx before every head put there (never
	 * otherwise); 0 this device holds it, -ENOLCK another device does (the
	 * hook halted the uploader: upload_halt), else the store's errno (the
	 * round fails and is retried). NULL: no lease. */
	int (*lease)(void *ctx);
	void *lease_ctx;
};

/* The cache file holding the sealed head a mount's records build on
 * (format 2; written by the uploader whenever that head changes). */
#define UPLOAD_BASE_FILE "base-head"
/* Its bytes (new: free) from cache_dir. -ENOENT none; read errors. */
int upload_read_base(const char *cache_dir, unsigned char **out, size_t *len);

/* CACHE/merge-attempt (fs/cache/upload_attempt.c): the objects of merge
 * attempts whose head may not be in the store. head: the sealed merged
 * head the objects were put for while its outcome was open (head_len 0:
 * every attempt listed was lost). */
#define UPLOAD_ATTEMPT_FILE "merge-attempt"
struct upload_attempt {
	unsigned char *head;
	size_t head_len;
	uint8_t (*keys)[OBJECT_ID_BYTES];
	size_t nkeys;
};
/* Reads it: 0, -ENOENT (none), -EBADMSG (damaged), read errors. */
int upload_attempt_read(const char *cache_dir, struct upload_attempt *out);
void upload_attempt_release(struct upload_attempt *a);
/* Replaces it by the keys of lost attempts only (keys[0..n)), which the
 * uploader takes as its strays at start (the next merged head lists them as
 * garbage): 0 or -errno. */
int upload_attempt_keep_lost(const char *cache_dir, const uint8_t (*keys)[OBJECT_ID_BYTES],
			     size_t n);
/* Removes it once its objects are dealt with: 0 or -errno. */
int upload_attempt_remove(const char *cache_dir);

/* Starts the uploader thread over store, cache and the cache's open journal
 * (borrowed, must outlive it); cache_dir (copied) holds the rollback guard.
 * base (copied) is the head in the store. The thread begins with whatever
 * records are pending. *out is new. 0, -ENOMEM, -ENAMETOOLONG, or
 * pthread_create's error. */
struct journal;
int upload_start(struct upload **out, struct backend *store, struct cache *cache,
		 struct journal *journal, const char *cache_dir,
		 const uint8_t vault_id[OBJECT_ID_BYTES], const struct upload_base *base);
/* A round gathers records for a while (fs/cache/upload.c) but starts once
 * this many were written since the last round began. */
#define UPLOAD_GATHER_RECORDS 32u
/* A new record was written: upload it soon. Thread-safe, never blocks long. */
void upload_kick(struct upload *u);
/* As upload_kick, for a caller that waits for the store (`sealfs sync`),
 * or a commit of many segments (fs/vault/commit_journal.c): the round
 * starts at once, without gathering more records first (the
 * UPLOAD_GATHER_MS that lets a burst of fsyncs share a round). Thread-safe,
 * never blocks long. */
void upload_kick_now(struct upload *u);
/* Waits until the record of seq (or a newer one) is done: its head in the
 * store and its garbage deleted; or the store fails, or ms pass. Returns
 * whether it is done. Thread-safe. */
bool upload_wait(struct upload *u, uint64_t seq, unsigned ms);
/* Waits until no record is pending, or until the store has failed for
 * give_up_ms without progress (since the call, the last round that
 * succeeded, or the last object a round stored beyond what the failed rounds
 * before it stored, whichever is later). Returns the number of records
 * still pending (0 when drained). While draining, retries come every second. */
size_t upload_drain(struct upload *u, unsigned give_up_ms);
/* The test hook that drives the uploader synchronously (what the unit tests
 * of commits call after commit_run, instead of a second store protocol):
 * runs a round now (no gathering, no back-off), and more while records are
 * left, until every record is done. Returns 0 when the journal is empty, the
 * error of the first failed round (its records stay; the thread retries them
 * after its back-off, or at the next flush), or -ETIMEDOUT after ms. One
 * caller at a time; thread-safe against the thread and kicks. */
int upload_flush(struct upload *u, unsigned ms);
/* The mounted tree now shows the store's head `head` (len bytes, copied),
 * of version ver and seq (fs/vault/poll_head.c, after tree_refresh, with no
 * record pending): the next round builds on it (no merge unless another
 * device writes again) and the pin advances to it. Applied by the thread
 * before its next round. 0 or -ENOMEM. Thread-safe. */
int upload_rebase(struct upload *u, const unsigned char *head, size_t len,
		  const struct backend_version *ver, uint64_t seq);
/* The hash (head_hash) of the newest head this uploader stored or was
 * rebased to: a head in the store with this hash is this mount's own.
 * Returns whether it is a merge with another device's head (which the
 * mounted tree does not show until a refresh). Thread-safe. */
bool upload_known_hash(struct upload *u, uint8_t out[HEAD_HASH_BYTES]);
/* The grace (seconds, the head's gr) before a dead object that a stored
 * head reached is deleted (docs/FORMAT.md "Deferred deletion"); until set,
 * such objects wait (thinning deletes them). Thread-safe. */
void upload_set_grace(struct upload *u, uint64_t seconds);
/* Stops the uploader for good as another device's head does (upload_stats
 * says conflict; no round runs again, every record stays, nothing more is
 * deleted), without a log line: the caller says why (the lease, another
 * device took it). conflict_seq: the newest record's. Thread-safe; call it
 * holding none of the uploader's locks (fs/cache/upload_lease.c). */
void upload_halt(struct upload *u);
/* Fills *out under the uploader's lock. Thread-safe, never blocks long. */
void upload_stats(struct upload_stats *out, struct upload *u);
/* Stops the thread (an upload in progress finishes its current store call
 * round first) and frees. NULL is fine. */
void upload_stop(struct upload *u);

#endif
