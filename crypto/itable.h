/* itable.h - the plaintext schema of the inode table of a format-2 vault
 * (docs/FORMAT.md, "Inode table"): the records of files with more than one
 * name, split into leaf pages by file id, and the index page the head's
 * "it" names. Both are kind-6 objects. Pure: no I/O, no globals. These are
 * parsers of stored bytes: they must reject, never crash on, any input.
 * Thread-safe. */
#ifndef SEALFS_ITABLE_H
#define SEALFS_ITABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dirobj.h"

#define ITABLE_SLOTS_MAX 65536u	     /* leaf pages of one table (a power of two) */
#define ITABLE_NLINK_MAX 4294967295u /* "nl" */

/* The index page: {"p":[REF or null, ...]}: 1..ITABLE_SLOTS_MAX slots (a
 * power of two), at least one present, no store key twice. Slot i holds the
 * files whose id's first two bytes (u16, little endian) mod the slot count
 * are i; null: no such file. */
struct itable_slot {
	bool present;
	struct dirobj_ref ref;
};
struct itable_index {
	struct itable_slot *slots; /* malloc'ed, n long */
	size_t n;
};

/* One file's record: a format-2 "f" entry without n/nb/t (type is
 * DIROBJ_FILE; from format 3 any non-directory type, see the _fmt codecs;
 * name is a placeholder the decoder makes up and the encoder ignores) and
 * "nl", its number of names, 1..ITABLE_NLINK_MAX. */
struct itable_record {
	struct dirobj_entry e;
	uint32_t nlink;
};
/* A leaf page: {"r":[RECORD, ...]}: any number of records, no id twice,
 * each in the page's slot. */
struct itable_leaf {
	struct itable_record *recs; /* malloc'ed, n long */
	size_t n;
};

/* A leaf holds about this many records before the table doubles its slots
 * (and halves below a quarter of it): a commit that changes one linked
 * file rewrites one leaf (about 16 KiB) and the index. */
#define ITABLE_PER_SLOT 64u

/* The slot count for nrecs records of a table that has was slots (0: none):
 * doubles past ITABLE_PER_SLOT a slot, halves below a quarter of it, up to
 * ITABLE_SLOTS_MAX; 0 when nrecs is 0 (no table). The tree and the merge
 * both partition by it, so their tables agree. */
size_t itable_slots_want(size_t nrecs, size_t was);

/* The slot of file id among nslots (a power of two). */
size_t itable_slot_of(const uint8_t id[OBJECT_ID_BYTES], size_t nslots);

/* Compact JSON with sorted keys; *out new (free), NUL-ended. 0, -EINVAL
 * (a rule broken: the decoder's own), -ENOMEM. */
int itable_index_encode(char **out, size_t *out_len, const struct itable_index *ix);
/* 0 (*ix new: itable_index_release), -EBADMSG, -ENOMEM (*ix zeroed). */
int itable_index_decode(struct itable_index *ix, const char *json, size_t len);
void itable_index_release(struct itable_index *ix);

/* Leaf page slot of nslots: the encoder and decoder refuse a record of
 * another slot (-EINVAL, -EBADMSG). The records' entries are borrowed. */
int itable_leaf_encode(char **out, size_t *out_len, const struct itable_leaf *l, size_t slot,
		       size_t nslots);
int itable_leaf_decode(struct itable_leaf *l, const char *json, size_t len, size_t slot,
		       size_t nslots);
/* The same under the rules of vault format `format` (2 .. DIROBJ_FORMAT_MAX):
 * from format 3 a record may be of any type but a directory or a name, and
 * says so with "t" (docs/FORMAT.md "Inode table"); a regular file's record
 * has no "t" in every format. The two above are these with format 2. */
int itable_leaf_encode_fmt(char **out, size_t *out_len, const struct itable_leaf *l, size_t slot,
			   size_t nslots, int format);
int itable_leaf_decode_fmt(struct itable_leaf *l, const char *json, size_t len, size_t slot,
			   size_t nslots, int format);
/* Frees a decoded leaf (its entries too); zeroes *l. */
void itable_leaf_release(struct itable_leaf *l);

#endif
