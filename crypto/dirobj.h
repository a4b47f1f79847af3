/* dirobj.h - the plaintext schema of directory objects and of the head: JSON
 * through jansson (docs/FORMAT.md, "Directory object", "Head"). Pure: no I/O.
 * This is a parser of stored bytes: it must reject, never crash on, any input. */
#ifndef SEALFS_DIROBJ_H
#define SEALFS_DIROBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chunk.h"

#define DIROBJ_NAME_MAX 255
#define DIROBJ_TARGET_MAX 4095
#define DIROBJ_XATTR_NAME_MAX 255
#define DIROBJ_XATTR_VALUE_MAX 65536

enum dirobj_type {
	DIROBJ_FILE = 'f',
	DIROBJ_DIR = 'd',
	DIROBJ_SYMLINK = 'l',
	/* Format 2 only (docs/FORMAT.md, "Entry types"): special files, which
	 * carry rdev, and a name of a file with more than one name, whose
	 * record is in the inode table (the entry holds name, type and id). */
	DIROBJ_FIFO = 'p',
	DIROBJ_SOCK = 's',
	DIROBJ_CHR = 'c',
	DIROBJ_BLK = 'b',
	DIROBJ_HARDLINK = 'h',
};

/* The vault format a directory object or head is encoded for
 * (sealfs.json "format"): 1, 2 or 3. Format 1 refuses every member and type
 * marked "format 2" below; format 3 reads and writes everything format 2
 * does (it adds paged directories, crypto/dirpage.h). */
#define DIROBJ_FORMAT_MIN 1
#define DIROBJ_FORMAT_MAX 3

/* Packed to 12 bytes (4-byte aligned): every inode in memory holds three
 * (fs/vault/tree.h), and a million referenced inodes would pay 12 MiB for
 * the padding. */
struct __attribute__((packed, aligned(4))) dirobj_time {
	int64_t sec;
	uint32_t nsec;
};

struct dirobj_xattr {
	char *name;	      /* NUL-terminated, malloc'ed */
	unsigned char *value; /* malloc'ed, may be NULL when len == 0 */
	size_t len;
};

/* A reference to a sealed object (a child directory object; in format 2
 * also a page, history page, garbage list or inode table page). */
struct dirobj_ref {
	uint64_t version;
	uint8_t store_key[OBJECT_ID_BYTES];
	/* Format 2 ("c"): the seq of the commit that created the object; 0 for
	 * objects made before the vault was upgraded to format 2. Deferred
	 * deletion (docs/FORMAT.md) knows from it which retained heads reach
	 * the object. Format 1: always 0, not stored. */
	uint64_t created;
};

/* One segment of a file: present with its store key, or a hole (all zeros). */
struct dirobj_segment {
	bool present;
	uint8_t store_key[OBJECT_ID_BYTES];
	/* Format 2: the seq of the commit that created this segment version
	 * (0: made before the upgrade, sealed under the per-file key; else
	 * under the per-segment key, docs/FORMAT.md "Keys"). Format 1: 0. */
	uint64_t created;
};

/* One entry: everything about a child (there are no separate inode objects). */
struct dirobj_entry {
	char *name; /* malloc'ed, name_len bytes + NUL; any bytes but '/' and NUL */
	size_t name_len;
	enum dirobj_type type;
	uint8_t id[OBJECT_ID_BYTES]; /* file id (files, symlinks) or directory id */
	uint32_t mode;		     /* full st_mode including the type bits */
	uint32_t uid, gid;
	uint64_t size; /* files: bytes; others: 0 (not stored, ignored by the encoder) */
	struct dirobj_time atime, mtime, ctime;
	char *target; /* symlinks: malloc'ed target, target_len bytes + NUL */
	size_t target_len;
	struct dirobj_ref ref;		 /* directories: the child's current object */
	struct dirobj_segment *segments; /* files: malloc'ed, nsegments long */
	size_t nsegments;
	struct dirobj_xattr *xattrs; /* malloc'ed, nxattrs long */
	size_t nxattrs;
	uint64_t rdev; /* format 2, DIROBJ_CHR and DIROBJ_BLK: the device number */
};

struct dirobj {
	uint8_t dir_id[OBJECT_ID_BYTES];
	struct dirobj_entry *entries; /* malloc'ed, nentries long */
	size_t nentries;
	/* Format 3, a paged directory as fs/vault/dirio.c read it: the REFs of
	 * its pages (malloc'ed, npages long), so that every walker knows every
	 * object a directory references. The codecs here never set them, the
	 * encoder ignores them; dirobj_release frees them. */
	struct dirobj_ref *pages;
	size_t npages;
};

#define DIROBJ_DEVICE_NAME_MAX 64 /* bytes of UTF-8 */

/* The head: the vault's single mutable object, pointing at the root. */
struct dirobj_head {
	uint64_t seq;		  /* bumped on every commit */
	struct dirobj_entry root; /* name "", type DIROBJ_DIR */
	/* Format 2 (docs/FORMAT.md, "Head"); zero in format 1. */
	struct dirobj_time time;	 /* "t": commit time, the writer's wall clock */
	uint8_t device[OBJECT_ID_BYTES]; /* "dev": the writing device's random id */
	char device_name[DIROBJ_DEVICE_NAME_MAX + 1]; /* "dn": its name, NUL-terminated */
	uint8_t parent[32]; /* "parent": BLAKE2b-256 of the sealed head replaced; zeros: first */
	uint64_t keep;	    /* "keep": retention window, seconds */
	uint64_t grace;	    /* "gr": deletion grace, seconds */
	bool has_history;   /* "hist": the newest history page */
	struct dirobj_ref history;
	bool has_garbage; /* "g": this commit's garbage list */
	struct dirobj_ref garbage;
	bool has_inodes; /* "it": the inode table's root page */
	struct dirobj_ref inodes;
};

/* Every function below takes the vault format (DIROBJ_FORMAT_MIN ..
 * DIROBJ_FORMAT_MAX; any other value: -EINVAL from every call). Format 1 is
 * byte for byte what sealfs always wrote and refuses every format-2 member
 * and type (encode: -EINVAL; decode: -EBADMSG); format 2 requires its own
 * members: "kc" on directory entries, [key, c] segments, the head's
 * t/dev/dn/parent/keep/gr (docs/FORMAT.md, every rule). */

/* The st_mode type bits (S_IFREG, S_IFDIR, ...) of an entry type; 0 for
 * DIROBJ_HARDLINK, which stores no mode. Pure. */
uint32_t dirobj_type_mode(enum dirobj_type type);

/* Serialises to compact JSON with sorted keys. *out is a new malloc'ed
 * NUL-terminated string. Applies the decoder's rules first: returns 0, -EINVAL
 * for an invalid entry (bad name, type, mode, size/segment count, target,
 * xattr, duplicate name or id, a member the format does not have), -ENOMEM. */
int dirobj_encode(char **out, size_t *out_len, const struct dirobj *dir, int format);
/* Parses; on success *dir holds new allocations (free with dirobj_release).
 * Returns 0, or -EBADMSG for anything malformed: bad JSON, missing, unknown or
 * wrongly typed fields, invalid names ('/', NUL, "." , "..", empty, >255 bytes),
 * duplicate names or ids, file sizes inconsistent with the segment count
 * (see docs/FORMAT.md for every rule); -EINVAL for a bad format; -ENOMEM.
 * On failure *dir is zeroed. */
int dirobj_decode(struct dirobj *dir, const char *json, size_t len, int format);
/* Frees what dirobj_decode (or a caller building one) allocated; zeroes *dir. */
void dirobj_release(struct dirobj *dir);
/* Frees one entry's allocations; zeroes *e. */
void dirobj_entry_release(struct dirobj_entry *e);

/* The same for the head: the root entry must be a directory named "".
 * encode: 0, -EINVAL, -ENOMEM; decode: 0, -EBADMSG, -EINVAL (bad format),
 * -ENOMEM (*head zeroed). In format 1 every format-2 field of *head must be
 * zero (encode) and is zero (decode). */
int dirobj_head_encode(char **out, size_t *out_len, const struct dirobj_head *head, int format);
int dirobj_head_decode(struct dirobj_head *head, const char *json, size_t len, int format);
/* Frees what dirobj_head_decode allocated; zeroes *head. */
void dirobj_head_release(struct dirobj_head *head);

/* Whether s[0..len) is UTF-8 that a directory object may hold in a name or an
 * xattr name (jansson's own check: no overlong forms, no surrogates, nothing
 * above U+10FFFF). The one rule: the encoder, the decoder and fs/vault/tree_attr.c
 * (xattr names) all call this. Pure; thread-safe. */
bool dirobj_check_utf8(const char *s, size_t len);

#endif
