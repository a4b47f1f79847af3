/* tree_itable.h - the in-memory inode table shared by tree_link.c (names,
 * link(2)), tree_link_io.c (reading and sealing its pages) and
 * tree_refresh_links.c (a poll bringing it to another head's); nothing else
 * includes it. Every field is guarded by tree_lock (and commit_lock where
 * the commit seals). Never holds plaintext beyond what the inodes hold. */
#ifndef SEALFS_TREE_ITABLE_H
#define SEALFS_TREE_ITABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "itable.h"
#include "tree.h"

/* One file with several names. */
struct tree_link {
	struct inode *file; /* the inode the kernel sees; linked */
	uint32_t nlink;	    /* its names (DIROBJ_HARDLINK inodes, loaded or not) */
	struct tree_link *next;
};

struct tree_itable {
	struct tree_link **hash; /* by file id; hash_size a power of two */
	size_t hash_size, n;
	/* The sealed pages: slot i's leaf (present or not), nslots a power of
	 * two, 0 while the table was never sealed in this partition; dirty[i]:
	 * slot i needs a new leaf. changed: something to seal (a dirty slot,
	 * or n changed so that the partition may change). */
	struct itable_slot *slots;
	bool *dirty;
	size_t nslots;
	bool changed;
	bool has_root; /* the index page the head's "it" names */
	struct dirobj_ref root;
};

struct tree_link *tree_link_find_locked(const struct tree *t, const uint8_t id[OBJECT_ID_BYTES]);
/* Room for one more link in the hash: 0 or -ENOMEM (nothing changed). */
int tree_links_reserve_locked(struct tree *t);
/* Inserts l (l->file set; room reserved). */
void tree_link_insert_locked(struct tree *t, struct tree_link *l);
/* Takes l out of the hash (not freed; its file untouched). */
void tree_link_remove_locked(struct tree *t, struct tree_link *l);
/* Reads and opens (no lock held) the kind-6 page ref: *plain new
 * (meta_free_plain). 0, -EBADMSG (logged with the key), -EIO, -ENOMEM. */
int tree_itable_read(struct tree *t, const struct dirobj_ref *ref, char **plain, size_t *len);

#endif
