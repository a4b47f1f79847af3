/* commit_head.h - internal to the committer (fs/vault/commit*.c): what a
 * format-2 head carries besides its seq and root (docs/FORMAT.md, "Head";
 * docs/DESIGN-FORMAT-2.md, section 2): the commit's time, the writing
 * device, the hash of the head it replaces, and the retention, history,
 * garbage and inode-table members carried forward from the head it was
 * built on. Format 1 heads carry none of them. No locks of its own: the
 * committer calls it under commit_lock. */
#ifndef SEALFS_COMMIT_HEAD_H
#define SEALFS_COMMIT_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "dirobj.h"
#include "head.h"

struct commit_head_base {
	int format; /* 1 (the default: nothing added) or 2 */
	uint8_t device[OBJECT_ID_BYTES];
	char device_name[DIROBJ_DEVICE_NAME_MAX + 1];
	uint8_t parent[HEAD_HASH_BYTES]; /* hash of the sealed head the next commit replaces */
	/* carried forward: keep, grace, history, garbage, inodes (root and
	 * seq unused; nothing in it is owned) */
	struct dirobj_head carry;
};

/* Sets b for a committer of a vault of format that starts on head on
 * (borrowed: only its format-2 scalar members are copied), whose sealed
 * bytes hash to parent, writing as device (id, name: at most
 * DIROBJ_DEVICE_NAME_MAX bytes, longer is cut). */
void commit_head_base_set(struct commit_head_base *b, int format, const struct dirobj_head *on,
			  const uint8_t parent[HEAD_HASH_BYTES],
			  const uint8_t device[OBJECT_ID_BYTES], const char *device_name);
/* Fills h's format-2 members from b (time: now, wall clock); nothing for
 * format 1. */
void commit_head_fill(const struct commit_head_base *b, struct dirobj_head *h);
/* The head sealed as sealed (len bytes) is now the one the next commit
 * replaces (it reached the journal). */
void commit_head_sealed(struct commit_head_base *b, const unsigned char *sealed, size_t len);

#endif
