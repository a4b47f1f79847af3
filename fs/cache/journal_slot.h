/* journal_slot.h - the journal's record slots (internal to fs/cache/journal.c).
 *
 * A record lives in a slot file CACHE/journal/slot-<k> (k decimal), written
 * in place and fdatasync'ed: the slot's name exists already, so a commit
 * costs one flush and creates no file. A slot is used when its file starts
 * with a record header (magic, version, seq), free otherwise (journal_remove
 * zeroes the magic). The table of slots is kept in memory, one per open
 * journal (built by scanning at journal_open), under its own lock, with the
 * files of the first JSLOT_KEEP_FREE slots kept open once used (a commit
 * then writes with pwrite and fdatasync alone). Knows nothing of record
 * contents beyond the header. */
#ifndef SEALFS_JOURNAL_SLOT_H
#define SEALFS_JOURNAL_SLOT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"

#define JSLOT_PREFIX "slot-"
/* Free slot files kept beyond this index are removed at a scan. */
#define JSLOT_KEEP_FREE 64u
/* struct jslot.len when the file's size is not known. */
#define JSLOT_LEN_UNKNOWN SIZE_MAX
/* A record of at most JSLOT_MEM_MAX bytes stays in memory while pending,
 * up to JSLOT_MEM_BUDGET bytes for the whole table (jslot_hold). */
#define JSLOT_MEM_MAX (64u * 1024u)
#define JSLOT_MEM_BUDGET (1024u * 1024u)
/* Highest slot index accepted (more pending records than this: -ENOSPC). */
#define JSLOT_MAX (1u << 20)

struct jslot;

/* The slots of one journal directory. */
struct jslot_table {
	pthread_mutex_t lock;	  /* everything below but dir */
	char dir[CACHE_PATH_MAX]; /* the cache directory; read-only */
	struct jslot *slots;
	size_t n, cap;	  /* slots[0..n) known */
	size_t mem_total; /* bytes held in memory (jslot_hold) */
};

/* Path of slot k of the journal in cache_dir. 0 or -ENAMETOOLONG. */
int jslot_path(char out[CACHE_PATH_MAX], const char *cache_dir, unsigned k);
/* An empty table for cache_dir (copied). 0 or -ENAMETOOLONG. */
int jslot_init(struct jslot_table *t, const char *cache_dir);
void jslot_destroy(struct jslot_table *t);
/* Rebuilds the table from the directory (removing free slots past
 * JSLOT_KEEP_FREE). 0, -ENOMEM or -errno. */
int jslot_scan(struct jslot_table *t);
/* Reserves a slot for seq's record of len bytes: a free one if any (*fresh
 * false; preferably one whose file is no longer than len), else a new index
 * whose file does not exist yet (*fresh true: its name must be made
 * durable). 0, -ENOMEM, -ENOSPC. */
int jslot_take(struct jslot_table *t, uint64_t seq, size_t len, unsigned *k, bool *fresh);
/* An fd of slot k's file, read-write (created when create): one the table
 * keeps open until jslot_destroy (*kept true: the caller must not close it;
 * slots below JSLOT_KEEP_FREE), else the caller's to close. *len is the
 * file's size as last recorded by jslot_set_len, or JSLOT_LEN_UNKNOWN.
 * -errno on failure. Thread-safe; the fd itself may be used by several
 * threads (pread/pwrite only). */
int jslot_open(struct jslot_table *t, unsigned k, bool create, bool *kept, size_t *len);
/* Records that slot k's file is now len bytes long (JSLOT_LEN_UNKNOWN when
 * a write failed half way): the next write to it needs no fstat, and
 * jslot_take prefers slots a record covers whole. */
void jslot_set_len(struct jslot_table *t, unsigned k, size_t len);
/* Keeps buf (len bytes, malloc'ed: the record just written durably into
 * used slot k) in memory until the slot is released: true when taken (the
 * table owns buf), false when too big or over the budget (buf stays the
 * caller's). */
bool jslot_hold(struct jslot_table *t, unsigned k, unsigned char *buf, size_t len);
/* A copy of the bytes held for the record seq (*out new, *len). 0, -ENOENT
 * when none are held, -ENOMEM. */
int jslot_held_copy(struct jslot_table *t, uint64_t seq, unsigned char **out, size_t *len);
/* Marks slot k free (its file stays; held bytes are freed). */
void jslot_release(struct jslot_table *t, unsigned k);
/* The slot holding seq: 0 or -ENOENT. */
int jslot_find(struct jslot_table *t, uint64_t seq, unsigned *k);
/* Appends the seqs of the used slots to *seqs (realloc'ed; *n, *cap grow). */
int jslot_seqs(struct jslot_table *t, uint64_t **seqs, size_t *n, size_t *cap);

#endif
