/* journal.h - the write-back journal in the cache directory (docs/FORMAT.md,
 * "Cache"): one record per sealed commit that is durable locally but not yet
 * in the store. A record holds only sealed objects and random store keys,
 * never plaintext. Knows nothing of FUSE, trees or stores.
 *
 * Layout: records live in slot files CACHE/journal/slot-<k>
 * (fs/cache/journal_slot.h): a record is written in place into a free slot and
 * fdatasync'ed (one flush; the directory is fsync'ed only when a new slot
 * file is made), and removing it zeroes its magic. A slot whose bytes do not
 * start with a record header is free. Records named <seq>.rec (16 hex
 * digits), which earlier versions wrote, are still read and removed. Each
 * record ends with a BLAKE2b-256 checksum of its bytes (integrity against
 * torn or damaged files, not authentication: the head inside is sealed).
 *
 * A struct journal is one open journal directory with its table of slots,
 * opened once per mount (fs/vault/engine.c) and passed to whoever writes
 * (the committer), uploads (the uploader) or reads (the control thread).
 * Thread safety: the slot table has its own lock; callers serialise writes
 * (fs/vault/commit.c holds commit_lock) and removals (the uploader thread). */
#ifndef SEALFS_JOURNAL_H
#define SEALFS_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dirobj.h"

#define JOURNAL_DIR_NAME "journal"
#define JOURNAL_MAGIC "sealfsJ1" /* 8 bytes, no NUL in the file */
#define JOURNAL_MAGIC_BYTES 8u
/* Read up to this version. Written: 3 when a record carries patches, else 2
 * (version 1, without the dead entries, is still read). */
#define JOURNAL_VERSION 3u
#define JOURNAL_VERSION_PLAIN 2u
/* A dead entry: a store key (16 bytes) and the seq that created it (u64,
 * little endian). */
#define JOURNAL_DEAD_BYTES (OBJECT_ID_BYTES + 8u)
#define JOURNAL_SUM_BYTES 32u
/* A patched segment in a record's list: its new key and its base's. */
#define JOURNAL_PATCHED_BYTES (2u * OBJECT_ID_BYTES)
/* A patch entry's fixed part: new key, base key, file id, segment index,
 * n0, n1, base created (u64 each), sealed chunk size, chunk count (u32). */
#define JOURNAL_PATCH_HEAD_BYTES (3u * OBJECT_ID_BYTES + 4u * 8u + 4u + 4u)
/* The most bytes a sealed chunk in a patch may have. */
#define JOURNAL_PATCH_CHUNK_MAX 4200u
/* A record file larger than this is refused as damaged. */
#define JOURNAL_RECORD_MAX ((size_t)1 << 30)
/* journal_read_lean reads a record file above this size in pieces. */
#define JOURNAL_LEAN_MIN (64u * 1024u)

struct journal_object {
	uint8_t key[OBJECT_ID_BYTES];
	/* Sealed directory object or inlined segment, borrowed; NULL in a
	 * record read without its objects' bytes (journal_read_lean): they are
	 * at off in the record's file (journal_read_object). */
	const unsigned char *data;
	size_t len;
	uint64_t off;
};

/* Version 3: a new segment version a record carries as its base and the
 * chunks that changed, not as a flushed cache file (docs/FORMAT.md "Cache",
 * "Patches"). Every other chunk of the version is the base's chunk of the
 * same index sealed again: a mount after a crash rebuilds the version's
 * cache file from the base with the vault's keys (fs/vault/content_patch.c). */
struct journal_patch {
	uint8_t key[OBJECT_ID_BYTES];	  /* the new version (one of the record's segs) */
	uint8_t base[OBJECT_ID_BYTES];	  /* the version it was copied from */
	uint8_t file_id[OBJECT_ID_BYTES]; /* the file both belong to */
	uint64_t seg;			  /* the segment's index in the file */
	uint64_t n0, n1; /* the file's chunk counts the base and the new version are sealed for */
	uint64_t base_created; /* the base's created (0: under the file's key) */
	uint32_t chunk_bytes;  /* sealed chunk size */
	uint32_t nchunks;      /* chunks carried */
	/* nchunks times: index in the segment (u32) and chunk_bytes sealed bytes */
	const unsigned char *chunks;
};

/* One commit: its sealed head, new directory objects, new segment keys, and
 * the keys to delete once its head is in the store. */
struct journal_record {
	uint64_t seq;
	const unsigned char *head; /* borrowed */
	size_t head_len;
	struct journal_object *objs;
	size_t nobjs;
	const uint8_t (*segs)[OBJECT_ID_BYTES];
	size_t nsegs;
	const uint8_t (*garbage)[OBJECT_ID_BYTES];
	size_t ngarbage;
	/* Format 2: the keys this commit made garbage that no retained head
	 * reaches, each with its created seq: ndead entries of
	 * JOURNAL_DEAD_BYTES (journal_dead_get). The uploader stores none
	 * created after the last head it stored and deletes those after this
	 * head; the others after the grace (docs/FORMAT.md "Cache"). */
	const unsigned char *dead;
	size_t ndead;
	/* Version 3: npatched entries of JOURNAL_PATCHED_BYTES (new key, base
	 * key), and the patch entries themselves (patches_len bytes,
	 * journal_patch_next; NULL in a lean read, which keeps only the list). */
	const unsigned char *patched;
	size_t npatched;
	const unsigned char *patches;
	size_t patches_len;
	/* Set by journal_read: the file's bytes (everything above points into
	 * it) and objs, both owned; NULL for a record built by a caller. */
	unsigned char *buf;
	struct journal_object *objs_owned;
};

/* Dead entry i of rec: its key and created seq. */
void journal_dead_get(const struct journal_record *rec, size_t i, uint8_t key[OBJECT_ID_BYTES],
		      uint64_t *created);
/* Encodes one dead entry into out (JOURNAL_DEAD_BYTES). */
void journal_dead_put(unsigned char *out, const uint8_t key[OBJECT_ID_BYTES], uint64_t created);

/* The patch entry at *p (below end) into *out (pointing into the bytes);
 * *p moves past it. 1, 0 at end, -EBADMSG for bytes that are no entry. */
int journal_patch_next(const unsigned char **p, const unsigned char *end,
		       struct journal_patch *out);
/* Decodes a patch entry's fixed part (JOURNAL_PATCH_HEAD_BYTES at b; chunks
 * NULL): 0, or -EBADMSG for counts or sizes no entry has. */
int journal_patch_head(const unsigned char *b, struct journal_patch *out);
/* Encodes patch's fixed part into out (JOURNAL_PATCH_HEAD_BYTES); the
 * caller appends its chunks. */
void journal_patch_put_head(unsigned char *out, const struct journal_patch *patch);

struct journal;

/* Opens the journal of the cache at cache_dir (copied): creates
 * CACHE/journal (0700) if missing, removes leftover .tmp files and reads the
 * slot table. One open journal per directory at a time (the cache's lock
 * ensures it for mounts). *out is new. 0, -ENOMEM, -ENAMETOOLONG or -errno. */
int journal_open(struct journal **out, const char *cache_dir);
/* Frees (the records stay on disk). NULL is fine. */
void journal_close(struct journal *j);
/* Writes rec durably into a free slot (one fdatasync). Returns 0 or -errno
 * (-EFBIG over JOURNAL_RECORD_MAX, -ENOSPC past JSLOT_MAX pending records);
 * on error no record of that seq is left behind. */
int journal_write(struct journal *j, const struct journal_record *rec);
/* Reads record seq into *out (new: journal_record_release). -ENOENT missing,
 * -EBADMSG torn or damaged, -EPROTONOSUPPORT written by a newer sealfs,
 * -ENOMEM, -errno. */
int journal_read(struct journal_record *out, struct journal *j, uint64_t seq);
void journal_record_release(struct journal_record *r);
/* journal_read, except that a record not held in memory and larger than
 * JOURNAL_LEAN_MIN is read in pieces without its objects' bytes (each
 * objs[i].data NULL; checksum and layout checked all the same): what the
 * uploader and `sealfs status` need, without a record-sized buffer. */
int journal_read_lean(struct journal_record *out, struct journal *j, uint64_t seq);
/* The bytes of an object of the lean record seq: len bytes at off, read
 * from its file into *out (new). The record must still be pending (its slot
 * is reused only after journal_remove). 0, -ENOENT, -EBADMSG (the file is
 * shorter), -ENOMEM, -errno. */
int journal_read_object(struct journal *j, uint64_t seq, uint64_t off, size_t len,
			unsigned char **out);
/* Parses the bytes of one record (a slot or record file's whole content):
 * the checksum, then every field (fs/cache/journal_parse.c; no I/O, no
 * globals, thread-safe). Takes buf (malloc'ed, len bytes) in every case: on
 * success it becomes out->buf (journal_record_release), on error it is freed
 * and *out is zeroed. -EBADMSG torn or damaged, -EPROTONOSUPPORT a newer
 * sealfs's record (journal_newer), -ENOMEM. Does not check the seq against
 * the file's name. */
int journal_record_parse(struct journal_record *out, unsigned char *buf, size_t len);
/* Whether buf (len bytes before a record's checksum) starts with the
 * header of a record of a newer sealfs: the magic, then a version above
 * JOURNAL_VERSION. Such a record is never taken for a free slot or a torn
 * one (reading it fails with -EPROTONOSUPPORT): a cache a newer sealfs
 * left commits in is refused, not emptied. */
bool journal_newer(const unsigned char *buf, size_t len);
/* journal_record_parse for bytes this process encoded itself and kept in
 * memory (never read back from a file): the same decoding, without
 * recomputing the checksum. For fs/cache/journal.c. */
int journal_record_parse_own(struct journal_record *out, unsigned char *buf, size_t len);
/* The seqs of every record file, ascending. *seqs is new (NULL when none). */
int journal_list(uint64_t **seqs, size_t *n, struct journal *j);
/* Removes record seq (missing is fine). Not durable: after a crash a removed
 * record may come back; callers remove a record only once the store holds
 * its head (so a record that comes back is one the store holds). 0 or -errno. */
int journal_remove(struct journal *j, uint64_t seq);

/* Records read together (the uploader's round, `sealfs status`), with every
 * record's garbage keys in one sorted array: an object a pending record
 * lists as garbage was replaced by a later commit and is never uploaded. */
struct journal_batch {
	struct journal_record *recs; /* in the order of the seqs given */
	size_t n;
	uint8_t (*garbage)[OBJECT_ID_BYTES]; /* sorted */
	size_t ngarbage;
};

/* Reads the records seqs[0..n) into *b (all fields set), each with
 * journal_read_lean (objects' bytes may be left in the files). A record gone
 * meanwhile is skipped when skip_missing, else it fails the load; *bad gets
 * the seq that failed. 0, -ENOMEM or journal_read's error; release *b in
 * every case. */
int journal_batch_load(struct journal_batch *b, struct journal *j, const uint64_t *seqs, size_t n,
		       bool skip_missing, uint64_t *bad);
/* key is some record's garbage. */
bool journal_batch_is_garbage(const struct journal_batch *b, const uint8_t key[OBJECT_ID_BYTES]);
void journal_batch_release(struct journal_batch *b);

#endif
