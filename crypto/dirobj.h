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
};

struct dirobj_time {
	int64_t sec;
	uint32_t nsec;
};

struct dirobj_xattr {
	char *name;	      /* NUL-terminated, malloc'ed */
	unsigned char *value; /* malloc'ed, may be NULL when len == 0 */
	size_t len;
};

/* A reference to a sealed child directory object. */
struct dirobj_ref {
	uint64_t version;
	uint8_t store_key[OBJECT_ID_BYTES];
};

/* One segment of a file: present with its store key, or a hole (all zeros). */
struct dirobj_segment {
	bool present;
	uint8_t store_key[OBJECT_ID_BYTES];
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
};

struct dirobj {
	uint8_t dir_id[OBJECT_ID_BYTES];
	struct dirobj_entry *entries; /* malloc'ed, nentries long */
	size_t nentries;
};

/* The head: the vault's single mutable object, pointing at the root. */
struct dirobj_head {
	uint64_t seq;		  /* bumped on every commit */
	struct dirobj_entry root; /* name "", type DIROBJ_DIR */
};

/* Serialises to compact JSON with sorted keys. *out is a new malloc'ed
 * NUL-terminated string. Applies the decoder's rules first: returns 0, -EINVAL
 * for an invalid entry (bad name, type, mode, size/segment count, target,
 * xattr, duplicate name or id), -ENOMEM. */
int dirobj_encode(char **out, size_t *out_len, const struct dirobj *dir);
/* Parses; on success *dir holds new allocations (free with dirobj_release).
 * Returns 0, or -EBADMSG for anything malformed: bad JSON, missing, unknown or
 * wrongly typed fields, invalid names ('/', NUL, "." , "..", empty, >255 bytes),
 * duplicate names or ids, file sizes inconsistent with the segment count
 * (see docs/FORMAT.md for every rule); -ENOMEM. On failure *dir is zeroed. */
int dirobj_decode(struct dirobj *dir, const char *json, size_t len);
/* Frees what dirobj_decode (or a caller building one) allocated; zeroes *dir. */
void dirobj_release(struct dirobj *dir);
/* Frees one entry's allocations; zeroes *e. */
void dirobj_entry_release(struct dirobj_entry *e);

/* The same for the head: the root entry must be a directory named "".
 * encode: 0, -EINVAL, -ENOMEM; decode: 0, -EBADMSG, -ENOMEM (*head zeroed). */
int dirobj_head_encode(char **out, size_t *out_len, const struct dirobj_head *head);
int dirobj_head_decode(struct dirobj_head *head, const char *json, size_t len);
/* Frees what dirobj_head_decode allocated; zeroes *head. */
void dirobj_head_release(struct dirobj_head *head);

/* Whether s[0..len) is UTF-8 that a directory object may hold in a name or an
 * xattr name (jansson's own check: no overlong forms, no surrogates, nothing
 * above U+10FFFF). The one rule: the encoder, the decoder and fs/vault/tree_attr.c
 * (xattr names) all call this. Pure; thread-safe. */
bool dirobj_check_utf8(const char *s, size_t len);

#endif
