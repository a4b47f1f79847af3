/* history.h - the retained heads of a format-2 vault and deferred deletion
 * (docs/DESIGN-FORMAT-2.md sections 3 and 4; docs/FORMAT.md "Head records",
 * "History pages", "Garbage lists", "Deferred deletion"). The committer
 * keeps the history in memory (struct history) and, for each commit: archives
 * the previous head as a head record, writes a new first history page, puts
 * what the commit stopped referencing into a garbage list, and now and then
 * thins the history and turns the garbage whose interval no retained head
 * meets (and whose grace has passed) into deletions. It never calls the
 * store for writes: its objects and deletions go into the commit's journal
 * record, which the uploader stores. Never logs names or keys of files (store
 * keys are random and may be logged). Not thread-safe: the committer's
 * commit_lock serialises every call on one struct history. */
#ifndef SEALFS_HISTORY_H
#define SEALFS_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dirobj.h"
#include "histobj.h"

/* Defaults of a new format-2 vault (the head's "keep" and "gr"). */
#define HISTORY_KEEP_DEFAULT (30u * 86400u)
#define HISTORY_GRACE_DEFAULT 900u
/* The first tier's slot (seconds): a commit supersedes the previous head
 * when both fall in one slot, so the history keeps the newest head of each
 * minute (docs/FORMAT.md "Deferred deletion"). */
#define HISTORY_SLOT 60u
/* Entries the committer puts on one page before it starts a new one (the
 * format allows HISTOBJ_PAGE_MAX): the first page is rewritten by every
 * commit, so a smaller page is fewer bytes per commit. */
#define HISTORY_PAGE_FILL 128u

/* Reads a whole sealed object by store key into a new buffer (at most max
 * bytes): the cache (a commit) or the store (the CLI, fsck). 0 or -errno. */
typedef int (*history_read_fn)(void *arg, const uint8_t key[OBJECT_ID_BYTES], uint64_t max,
			       unsigned char **out, size_t *out_len);

struct history_io {
	history_read_fn read;
	void *arg;
	const uint8_t *vault_id;       /* OBJECT_ID_BYTES */
	const unsigned char *meta_key; /* 32 bytes */
};

struct backend;
struct cache;
/* Readers through the cache (a mount) or straight from the store (the CLI,
 * fsck); all pointers borrowed for io's life. */
void history_io_cache(struct history_io *io, struct cache *cache, const uint8_t *vault_id,
		      const unsigned char *meta_key);
void history_io_store(struct history_io *io, struct backend *store, const uint8_t *vault_id,
		      const unsigned char *meta_key);

/* ---- sealing and opening the history's objects (history_seal.c) ---- */

/* Seal kind 4 (head record: json[0..len), a head's format-2 JSON), 5
 * (page), 7 (garbage list) under ref (version and store key go into the
 * associated data). *out new. 0, -EINVAL, -ENOMEM. */
int history_seal_record(unsigned char **out, size_t *out_len, const char *json, size_t len,
			const struct dirobj_ref *ref, const struct history_io *io);
int history_seal_page(unsigned char **out, size_t *out_len, const struct histobj_page *p,
		      const struct dirobj_ref *ref, const struct history_io *io);
int history_seal_garbage(unsigned char **out, size_t *out_len, const struct histobj_garbage *g,
			 const struct dirobj_ref *ref, const struct history_io *io);
/* history_seal_garbage copying the text of the triples prev (NULL: none)
 * holds unchanged (histobj_garbage_encode_with), and handing the JSON text
 * and its offsets back in *text (json and offs new, the caller wipes and
 * frees them) for the next commit's list. Same returns. */
int history_seal_garbage_with(unsigned char **out, size_t *out_len, const struct histobj_garbage *g,
			      const struct dirobj_ref *ref, const struct history_io *io,
			      const struct histobj_garbage_text *prev,
			      struct histobj_garbage_text *text, size_t *text_len);
/* Read (io->read) and open one object: new allocations in *h / *p / *g.
 * -EBADMSG (does not authenticate or decode), the reader's errors. */
int history_read_record(struct dirobj_head *h, const struct dirobj_ref *ref, uint64_t max,
			const struct history_io *io);
int history_read_page(struct histobj_page *p, const struct dirobj_ref *ref,
		      const struct history_io *io);
int history_read_garbage(struct histobj_garbage *g, const struct dirobj_ref *ref,
			 const struct history_io *io);

/* ---- thinning (history_thin.c, pure) ---- */

/* Which entries of e[0..n) (newest first) the retention keeps at time now
 * with window keep seconds: kept[i] is set or cleared. Dropped: older than
 * keep. Kept: the newest of each slot (slot seconds; 0: every entry)
 * younger than an hour (and than keep); then the newest of each hour for a
 * day, then the newest of each day. */
void history_thin(const struct histobj_entry *e, size_t n, int64_t now, uint64_t keep,
		  uint32_t slot, bool *kept);
/* Whether a seq in sorted ascending seqs[0..n) lies in [c, d). */
bool history_meets(const uint64_t *seqs, size_t n, uint64_t c, uint64_t d);

/* ---- the committer's history (history.c) ---- */

struct history;

/* One key the commit stopped referencing, with the seq that created it (0
 * when unknown: treated as reached by every older head; the commit's own
 * seq: reached by no head, [N, N), as what a merge stored for nothing). */
struct history_garbage {
	uint8_t key[OBJECT_ID_BYTES];
	uint64_t created;
};

/* A key no retained head reaches, with the seq that created it: the
 * journal record's dead entries (docs/FORMAT.md "Cache"). The uploader
 * neither stores nor keeps one that no stored head reached (created after
 * the last head it stored), and deletes the others after the grace. */
struct history_dead {
	uint8_t key[OBJECT_ID_BYTES];
	uint64_t created;
};

/* What a commit adds to its journal record. */
struct history_out {
	struct history_obj {
		uint8_t key[OBJECT_ID_BYTES];
		unsigned char *data; /* sealed, owned */
		size_t len;
	} * objs;
	size_t nobjs;
	uint8_t (*deletes)[OBJECT_ID_BYTES]; /* to delete once the head is stored */
	size_t ndeletes;
	struct history_dead *dead; /* no retained head reaches them */
	size_t ndead;
};
void history_out_free(struct history_out *o);

/* Opens the history of head (format 2, borrowed; its pages are read through
 * io, which must outlive h). A head without "hist" has an empty history. 0,
 * -ENOMEM, the reader's errors, -EBADMSG. */
int history_open(struct history **out, const struct dirobj_head *head, const struct history_io *io);
void history_free(struct history *h);
/* The history of head (another device's, the tree now showing it: a poll's
 * refresh) read through old's reader: a new one, as history_open. The
 * committer's own history (old) never goes on over a head it did not build
 * on: its next commit would drop the store's retained heads. */
int history_reopen(struct history **out, const struct history *old, const struct dirobj_head *head);

/* Before a commit takes tree_lock: when thinning is due at now (commit time,
 * seconds), decides which retained heads it drops and reads their records
 * and garbage lists (I/O through io; stored_seq: heads up to it are in the
 * store, so only their objects are read, and only they are dropped). Kept
 * for the next history_seal. 0, or -errno (the commit still goes on, without
 * thinning). */
int history_prepare(struct history *h, int64_t now, uint64_t stored_seq);
/* Under tree_lock: fills next's keep, grace, history and garbage (every
 * other member set by the caller), seals the objects of this commit into
 * *out (the previous head's record unless next supersedes it, the pages
 * that change, the garbage list of g[0..n) plus what thinning carries) and
 * keeps next's JSON for the next archive. The previous head is superseded
 * (not archived) when this history sealed it and next->time falls in its
 * slot. Nothing in h changes until history_done. 0, -ENOMEM, -EINVAL. */
int history_seal(struct history *h, struct dirobj_head *next, const struct history_garbage *g,
		 size_t n, int64_t now, struct history_out *out);
/* After the journal record: ok adopts what history_seal made (its head is
 * the one the next commit archives); !ok forgets it. */
void history_done(struct history *h, bool ok);

/* The window (seconds) heads are retained, and the grace. */
uint64_t history_keep(const struct history *h);
/* The first tier's slot in seconds (HISTORY_SLOT by default; 0 keeps every
 * head: tests only, tree.head_slot). */
void history_set_slot(struct history *h, uint32_t slot);

#endif
