/* fsck_int.h - internal to the vault checker (fs/vault/fsck*.c): the state
 * of one run and the calls its files share. fsck.c walks the tree,
 * fsck_seg.c checks content segments in parallel, fsck_repair.c writes the
 * repaired tree, fsck_orphans.c keeps the set of reachable keys and finds
 * what nothing references. Nothing outside fs/vault/fsck*.c includes it. */
#ifndef SEALFS_FSCK_INT_H
#define SEALFS_FSCK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dirobj.h"
#include "fsck.h"
#include "secmem.h"

/* A set of 16-byte store keys (random, so their first bytes are the hash):
 * open addressing, 17 bytes a slot. Not thread-safe. */
struct fsck_keyset {
	uint8_t (*keys)[OBJECT_ID_BYTES];
	uint8_t *state; /* 0 empty, 1 used, 2 removed */
	size_t cap, used, filled;
};

/* 0 or -ENOMEM. Adding a key already there is fine. */
int fsck_keyset_add(struct fsck_keyset *s, const uint8_t key[OBJECT_ID_BYTES]);
bool fsck_keyset_has(const struct fsck_keyset *s, const uint8_t key[OBJECT_ID_BYTES]);
void fsck_keyset_remove(struct fsck_keyset *s, const uint8_t key[OBJECT_ID_BYTES]);
void fsck_keyset_free(struct fsck_keyset *s);

/* A damaged entry repair would move aside: a file with damaged or missing
 * segments, or a directory whose object is damaged or missing. */
struct fsck_damage {
	char *path; /* owned, "/a/b" */
	size_t path_len;
	bool is_dir;
	uint64_t *segs; /* damaged segment indices (files), owned */
	size_t nsegs, cap;
	uint64_t serial; /* which file visit it came from (a file may span batches) */
};

/* A name (an "h" entry) of a file with several names, met by the walk. */
struct fsck_hname {
	uint8_t id[OBJECT_ID_BYTES];
	char *path; /* owned */
	size_t path_len;
	bool used; /* its file has a record */
};

struct fsck {
	struct backend *store;
	const struct vault_config *cfg;
	const struct vault_keys *keys;
	const struct fsck_opts *o;
	struct fsck_result *res;
	struct secmem_pool *pool; /* per-file keys */
	size_t chunk_len;	  /* sealed chunk bytes of the vault's suite */
	struct fsck_keyset reach; /* every key the head reaches (damaged ones too) */
	struct fsck_damage *dmg;
	size_t ndmg, dmg_cap;
	uint64_t serial;   /* files visited */
	unsigned ticks;	   /* objects since the last progress call */
	uint64_t old_head; /* walking a retained head's tree (its seq): report, skip what
			      reach holds, note no damage for repair; 0: the current head */
	/* fsck_itable.c: the names the walk met, and whether the inode table
	 * is damaged (its records' segments, or a count that does not match
	 * the names): repair leaves that alone. */
	struct fsck_hname *hnames;
	size_t nh, hcap;
	bool itable_bad;
	char *err;
	size_t err_size;
};

/* Reports a finding (fills the fields the caller left zero) and counts it. */
void fsck_report(struct fsck *f, enum fsck_kind kind, const char *path, size_t path_len,
		 const char *what, const char *why, const char *key);
/* Calls the progress callback every 64 ticks (force: now). */
void fsck_tick(struct fsck *f, bool force);
/* Remembers damage at path (is_dir, or segment seg of file visit serial).
 * 0 or -ENOMEM. */
int fsck_damage_note(struct fsck *f, const char *path, size_t path_len, bool is_dir,
		     uint64_t serial, uint64_t seg);

/* ---- fsck_seg.c: content segments, checked a batch at a time ---- */

struct fsck_batch;

/* A new empty batch, or NULL (out of memory). */
struct fsck_batch *fsck_batch_new(void);
void fsck_batch_free(struct fsck_batch *b);
/* Queues every present segment of file entry e at path (copied) for
 * checking; runs the batch whenever it is full. 0, -ENOMEM or a store
 * error (err set). */
int fsck_batch_add_file(struct fsck *f, struct fsck_batch *b, const char *path, size_t path_len,
			const struct dirobj_entry *e);
/* Checks and reports everything queued. 0, -ENOMEM or a store error. */
int fsck_batch_flush(struct fsck *f, struct fsck_batch *b);

/* ---- fsck_repair.c ---- */

/* Moves every noted damaged entry aside under a new head (seq + 1) written
 * after its new objects are durable, then deletes what the new head no
 * longer reaches (old directory versions, damaged objects). head is the
 * head checked; the reachable set is kept up to date. 0 or a negative
 * errno (err set); the store then still holds the old head or the new one. */
int fsck_repair(struct fsck *f, const struct dirobj_head *head);

/* Walks the tree of head: every directory object and segment not yet in
 * f->reach when f->old_head is set. 0 or an error (err set). */
int fsck_walk(struct fsck *f, const struct dirobj_head *head);

/* ---- fsck_history.c ---- */

/* --all-heads: walks every retained head's tree (the history's records),
 * newest first, with f->old_head set. 0 or an error (err set). */
int fsck_history_heads(struct fsck *f, const struct dirobj_head *head);

/* Format 2: adds the history's objects and every garbage-listed key of the
 * retained heads to f->reach (format 1: nothing). 0 or an error (err set):
 * the orphans must not be listed then. */
int fsck_history_reach(struct fsck *f, const struct dirobj_head *head);

/* ---- fsck_itable.c ---- */

/* The walk met name path (taken) of file id: 0 or -ENOMEM. */
int fsck_itable_name(struct fsck *f, const uint8_t id[OBJECT_ID_BYTES], char *path, size_t len);
/* Format 2, after the tree's walk: reads the inode table (its pages join
 * f->reach; an unreadable page fails the run, err set, so no orphan is
 * listed), checks each record's count against the names met and queues
 * its segments into b under its first name. 0 or an error. */
int fsck_itable_walk(struct fsck *f, struct fsck_batch *b, const struct dirobj_head *head);
/* After b's last flush: damage noted for files of serial > lo (the
 * table's) leaves the repair list and marks the table bad. */
void fsck_itable_damage(struct fsck *f, uint64_t lo);
/* Frees the names. */
void fsck_itable_free(struct fsck *f);

/* ---- fsck_orphans.c ---- */

/* Lists every o/ object, reports those outside f->reach as orphans, and
 * with repair deletes the ones old enough. 0 or a store error (err set). */
int fsck_orphans(struct fsck *f);

#endif
