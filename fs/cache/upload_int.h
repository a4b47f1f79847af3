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

struct upload {
	/* Read-only after upload_start. */
	struct backend *store;	 /* borrowed */
	struct cache *cache;	 /* borrowed */
	struct journal *journal; /* borrowed */
	char cache_dir[CACHE_PATH_MAX];
	uint8_t vault_id[OBJECT_ID_BYTES];
	pthread_t thread;
	struct backend_version head_ver; /* the store's head the next one replaces (thread only) */
	struct head_pin *pin;		 /* borrowed: CACHE/state, advanced by the thread */
	uint8_t stored_hash[HEAD_HASH_BYTES]; /* hash of the head of stored_seq (thread only) */
	upload_merge_fn merge;		      /* NULL: stop on another device's head */
	void *merge_ctx;
	unsigned char *base_head; /* sealed head the records build on (thread only; owned) */
	size_t base_len;
	bool diverged; /* the store holds a merge: every head is merged (thread only) */
	struct upload_merge_out put; /* the merged head last stored (thread only) */

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
	uint64_t round_begun; /* rounds started (written by the thread) */
	uint64_t round_done;  /* the number of the last round finished */
	int round_rc;	      /* its result */
	uint64_t flush_want;  /* upload_flush waits for this round: no gathering, no back-off */
	bool failing;
	int last_err;
	enum head_cas cas;		     /* whether the store honours conditional writes */
	bool conflict;			     /* another device changed the head: no more rounds */
	uint64_t conflict_seq;		     /* the newest commit that could not be stored */
	struct timespec progress;	     /* CLOCK_MONOTONIC of the last successful round */
	uint8_t known_hash[HEAD_HASH_BYTES]; /* upload_known_hash */
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
};

/* upload_head.c: puts the newest record's head by compare-and-swap on
 * u->head_ver (probing the store first, once); on -ESTALE merges it onto
 * the store's head when a hook is set, else marks the uploader stopped for
 * good (conflict) and logs it once. *head, *len, *seq: what went into the
 * store (the record's head, or the merge held in u->put until the next
 * call). -EAGAIN: a record came meanwhile; run the round again. Thread only. */
int upload_put_head(struct upload *u, const struct journal_record *last, const unsigned char **head,
		    size_t *len, uint64_t *seq);
/* Applies a pending upload_rebase before a round (thread only): 0 or the
 * pin's error. */
int upload_apply_rebase(struct upload *u);
/* upload.c: advances the pin (CACHE/state) to the stored head (thread only). */
int upload_remember(struct upload *u);
/* Keeps a copy of the sealed head the next records build on (thread only). */
int upload_set_base(struct upload *u, const unsigned char *head, size_t len);
/* Counts bytes the store took, for upload_stats. Takes the lock. */
void upload_count(struct upload *u, uint64_t bytes);
/* Seconds of clock now. */
int64_t upload_now_s(clockid_t clock);

#endif
