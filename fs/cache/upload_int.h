/* upload_int.h - what the uploader's files share (fs/cache/upload.c, the
 * rounds and the thread; upload_head.c, the head's compare-and-swap step).
 * Nothing outside fs/cache/upload*.c includes it. */
#ifndef SEALFS_UPLOAD_INT_H
#define SEALFS_UPLOAD_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "backend.h"
#include "cache.h"
#include "head.h"
#include "upload.h"

struct journal;
struct journal_record;
struct journal_batch;

/* The keys the store took since the last good round (upload_put.c): a
 * retry that stores only keys in it made no progress (upload_drain). */
struct upload_taken_slot {
	uint8_t key[OBJECT_ID_BYTES];
	bool used;
};
struct upload_taken {
	struct upload_taken_slot *slot;
	size_t n, cap; /* cap: 0 or a power of two */
};

/* A dead entry (upload_dead.c): its key, created seq and, once queued for
 * its grace, the CLOCK_REALTIME second its grace began. */
struct upload_dead {
	uint8_t key[OBJECT_ID_BYTES];
	uint64_t created;
	int64_t since;
};

/* One round's dead entries: drop (sorted by key) were never reached by a
 * stored head, keep were. */
struct upload_dead_round {
	struct upload_dead *drop, *keep;
	size_t ndrop, nkeep;
	uint64_t s_prev;   /* the newest head stored before the round */
	uint64_t put_upto; /* records up to it may have objects in the store */
};

struct upload {
	/* Read-only after upload_start. */
	struct backend *store;	 /* borrowed */
	struct cache *cache;	 /* borrowed */
	struct journal *journal; /* borrowed */
	unsigned gather_ms;	 /* UPLOAD_GATHER_MS, or SEALFS_UPLOAD_GATHER_MS */
	char cache_dir[CACHE_PATH_MAX];
	uint8_t vault_id[OBJECT_ID_BYTES];
	pthread_t thread;
	struct backend_version head_ver; /* the store's head the next one replaces (thread only) */
	struct head_pin *pin;		 /* borrowed: CACHE/state, advanced by the thread */
	uint8_t stored_hash[HEAD_HASH_BYTES]; /* hash of the head of stored_seq (thread only) */
	upload_merge_fn merge;		      /* NULL: stop on another device's head */
	void *merge_ctx;
	int (*lease)(void *ctx); /* upload_base.lease: before a head put, cas IGNORED */
	void *lease_ctx;
	unsigned char *base_head; /* sealed head the records build on (thread only; owned) */
	size_t base_len;
	bool diverged; /* the store holds a merge: every head is merged (thread only) */
	struct upload_merge_out put; /* the merged head last stored (thread only) */
	upload_reseal_fn reseal;     /* upload_base.reseal */
	upload_descends_fn descends; /* upload_base.descends (reseal_ctx) */
	void *reseal_ctx;
	unsigned char *resealed; /* the record's head as last put, sealed again (thread only) */
	size_t resealed_len;

	pthread_mutex_t lock; /* the fields below; stored_seq written by the thread only */
	uint64_t stored_seq;  /* head seq known to be in the store */
	uint64_t done_seq;    /* records up to here fully done (garbage deleted) */
	pthread_cond_t cond;  /* the thread waits: work, stop */
	pthread_cond_t done;  /* drain waits: idle, failing */
	bool work;	      /* a record may be pending */
	bool idle;	      /* the last round found nothing left */
	bool stop;
	bool draining;
	bool urgent;	      /* upload_wait is waiting: no gathering */
	unsigned kicks;	      /* records written since the last round began */
	uint64_t round_begun; /* rounds started (written by the thread) */
	uint64_t round_done;  /* the number of the last round finished */
	int round_rc;	      /* its result */
	uint64_t flush_want;  /* upload_flush waits for this round: no gathering, no back-off */
	bool failing;
	int last_err;
	enum head_cas cas;		     /* whether the store honours conditional writes */
	bool conflict;			     /* another device changed the head: no more rounds */
	bool conflict_links;		     /* ... and the hook refused to merge (hard links) */
	uint64_t conflict_seq;		     /* the newest commit that could not be stored */
	struct timespec progress;	     /* CLOCK_MONOTONIC: last progress (upload_drain) */
	struct upload_taken taken;	     /* objects the store took since a good round */
	uint8_t known_hash[HEAD_HASH_BYTES]; /* upload_known_hash */
	bool known_merged;		     /* that head is a merge the tree does not show */
	unsigned char *rebase;		     /* upload_rebase's head, pending; owned */
	size_t rebase_len;
	struct backend_version rebase_ver;
	uint64_t rebase_seq;
	uint64_t merges; /* upload_stats' merge counters */
	int64_t last_merge_time;
	uint64_t last_merged, last_conflicts;
	/* upload_stats: bytes taken by the store, per CLOCK_MONOTONIC second. */
	int64_t last_err_time; /* CLOCK_REALTIME seconds of the last failure */
	int64_t started_s;
	uint64_t sent_bytes;
	uint64_t rate_bytes[UPLOAD_RATE_WINDOW_S];
	int64_t rate_sec[UPLOAD_RATE_WINDOW_S];
	uint64_t put_objects; /* objects the store took */
	uint64_t put_heads;   /* heads the store took */
	uint64_t dropped;     /* dead objects never stored (deleted from the cache) */
	uint64_t grace;	      /* seconds (upload_set_grace); UINT64_MAX: not known yet */
	/* Thread only: the records up to put_upto may have objects in the store
	 * (a failed round's, or an earlier mount's: UINT64_MAX until a round
	 * succeeds); the dead entries waiting for their grace. */
	uint64_t put_upto;
	/* Thread only: records up to it were merged (CACHE/merged-upto). */
	uint64_t merged_upto;
	/* Thread only: objects a merge stored whose head did not go in (another
	 * device wrote first): the next merged head lists them as garbage. */
	uint8_t (*stray)[OBJECT_ID_BYTES];
	size_t nstray;
	struct upload_dead *gq;
	size_t ngq;
};

/* upload_head.c: puts the newest record's head by compare-and-swap on
 * u->head_ver (probing the store first, once); on -ESTALE merges it onto
 * the store's head when a hook is set, else marks the uploader stopped for
 * good (conflict) and logs it once. *head, *len, *seq: what went into the
 * store (the record's head, or the merge held in u->put until the next
 * call). -EAGAIN: a record came meanwhile; run the round again. Thread only. */
int upload_put_head(struct upload *u, const struct journal_batch *b, const unsigned char **head,
		    size_t *len, uint64_t *seq);
/* upload_merge.c. Merges the batch's newest record onto the store's head
 * (after marking its records merged, durably) until the compare-and-swap
 * holds; u->put then holds the merged head. -EAGAIN: a newer record came;
 * -EOPNOTSUPP: the hook cannot merge these heads. */
int upload_merge_head(struct upload *u, const struct journal_batch *b, enum head_cas cas);
/* upload_attempt.c. Records mo's objects (and the strays) with mo's head,
 * durably, before they are put: 0 or -errno (then nothing is put). */
int upload_attempt_begin(struct upload *u, const struct upload_merge_out *mo);
/* The attempt was lost: the strays, without a head (logged on failure). */
void upload_attempt_lost(struct upload *u);
/* A merged head went in: the strays are in its garbage list. */
void upload_attempt_done(struct upload *u);
/* At start: the keys of a record of lost attempts only become the strays. */
int upload_attempt_load_strays(struct upload *u);
/* CACHE/merged-upto: records up to *out were merged (0: none). */
int upload_read_merged(const char *cache_dir, uint64_t *out);
/* The record of seq was merged, never stored as it is: none of its garbage
 * (keys, dead entries) may be deleted by the uploader. */
bool upload_rec_merged(const struct upload *u, uint64_t seq);
/* The batch's garbage keys the round may delete after its head (*out new,
 * NULL when none): none after a merge, never a merged record's. */
int upload_deletable(const struct upload *u, const struct journal_batch *b, bool merged,
		     uint8_t (**out)[OBJECT_ID_BYTES], size_t *n);
/* Applies a pending upload_rebase before a round (thread only): 0 or the
 * pin's error. */
int upload_apply_rebase(struct upload *u);
/* upload.c: advances the pin (CACHE/state) to the stored head, whose
 * sealed bytes are head[0..len) (NULL: not at hand) (thread only). */
int upload_remember(struct upload *u, const unsigned char *head, size_t len);
/* Keeps a copy of the sealed head the next records build on (thread only). */
int upload_set_base(struct upload *u, const unsigned char *head, size_t len);
/* Counts bytes the store took, for upload_stats. Takes the lock. */
void upload_count(struct upload *u, uint64_t bytes);
/* upload_put.c: counts one object the store took (upload_stats) and, when
 * it is new since the last good round, progress. Takes the lock. */
void upload_count_object(struct upload *u, const uint8_t key[OBJECT_ID_BYTES]);
/* Empties u->taken (a good round; the lock held, or the thread gone). */
void upload_taken_clear(struct upload *u);
/* upload_put.c: stores object text (its bytes: data, len) and leaves a copy
 * in the cache at path (a local store links that copy, written first when
 * missing). 0 or the store's -errno. Thread-safe (the round's threads). */
int upload_put_object(struct upload *u, const char *text, const char *path,
		      const unsigned char *data, size_t len);
/* upload_put.c: upload_put_object for an object of a record read without
 * its objects' bytes: len bytes at off in record seq's file, read only when
 * the store cannot link a cache copy. Thread-safe. */
int upload_put_lean(struct upload *u, const char *text, const char *path, uint64_t seq,
		    uint64_t off, size_t len);
/* upload_dead.c. Splits the round's dead entries (0 or -ENOMEM). */
int upload_dead_plan(struct upload *u, const struct journal_batch *b, struct upload_dead_round *d);
/* key is never to be uploaded this round. */
bool upload_dead_skips(const struct upload_dead_round *d, const uint8_t key[OBJECT_ID_BYTES]);
/* The round's head is stored: deletes the dropped entries, queues the
 * others for their grace. 0 or the store's error. */
int upload_dead_after_head(struct upload *u, struct upload_dead_round *d, bool merged);
void upload_dead_round_free(struct upload_dead_round *d);
/* The merged head u->put is stored: deletes its dead_now. 0 or the store's
 * error. */
int upload_dead_merged(struct upload *u);
/* Deletes the queued entries whose grace passed; *next_due: the
 * CLOCK_REALTIME second the next one is due (0: none). 0 or the first
 * store error (that entry and the rest stay queued). */
int upload_dead_due(struct upload *u, int64_t *next_due);
void upload_dead_free(struct upload *u);

/* Seconds of clock now. */
int64_t upload_now_s(clockid_t clock);

#endif
