/* tree_refresh_int.h - what tree_refresh.c (directories) and
 * tree_refresh_links.c (the inode table: files with several names) share
 * while a poll brings the tree to another head. Private to those two files;
 * every call states its lock. */
#ifndef SEALFS_TREE_REFRESH_INT_H
#define SEALFS_TREE_REFRESH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tree_refresh.h"

/* A loaded directory and its new listing (sorted by id); or (unloaded) a
 * directory the kernel holds whose children are not in memory, and the
 * names its new object has that its old one had not (tree_refresh_names.c). */
struct rf_dir {
	uint8_t id[OBJECT_ID_BYTES];
	struct dirobj_ref old_ref, new_ref;
	struct dirobj obj;
	struct dirio_pages *pages; /* format 3: obj's paged state, or NULL */
	bool have;		   /* obj read (unloaded: added read) */
	bool unloaded;		   /* not loaded at the snapshot; obj stays empty */
	char **added;		   /* unloaded: the new names (NUL-terminated) */
	size_t nadded;
};

struct rf_links;
struct dirio_pages;

struct rf {
	struct tree *t;
	struct rf_dir *dirs;
	size_t ndirs, cap;
	struct tree_inval *inval; /* what the kernel must forget */
	size_t ninval, icap;
	struct inode **reap;
	size_t nreap, rcap;
	struct rf_links *lk; /* NULL: no table in the tree nor in the new head */
};

/* tree_refresh.c, tree_lock held. rf_note: the kernel must forget name in
 * parent (name set) or ino. rf_update: c's attributes and xattrs from e
 * (whose xattrs it takes), noted. rf_content_differs: size or segment keys
 * (c's lock held). rf_kids: a directory's children (new array; NULL: no
 * memory). rf_reap_later: c is freed once the lock is dropped. */
int rf_note(struct rf *rf, struct inode *parent, const char *name, size_t len, struct inode *ino);
int rf_update(struct rf *rf, struct inode *c, struct dirobj_entry *e);
bool rf_content_differs(struct inode *c, const struct dirobj_entry *e);
struct inode **rf_kids(struct inode *dir, size_t *n);
int rf_reap_later(struct rf *rf, struct inode *c);

/* tree_refresh_links.c. read: no lock; the new head's table (inodes NULL:
 * none), only when links (the tree has some) or a table. pre: before the
 * directories, every record into the hash (new files get inodes, changed
 * content a new inode). type_ok: an id may turn from file to name and back.
 * child: a directory's child c that is a name, or a file that became
 * linked (*done: handled). add: a new entry that is a name, or the one name
 * left of a linked file (*done). post: files that lost every name dropped,
 * the names of replaced files noted, the table's pages and the head
 * template become the new head's. free: always. */
int rf_links_read(struct rf *rf, bool links, const struct dirobj_ref *inodes);
int rf_links_pre(struct rf *rf);
bool rf_links_type_ok(enum dirobj_type was, enum dirobj_type now);
int rf_links_child(struct rf *rf, struct inode *dir, struct rf_dir *d, struct inode *c,
		   bool *matched, bool *done);
int rf_links_add(struct rf *rf, struct inode *dir, struct dirobj_entry *e, bool *done);
int rf_links_post(struct rf *rf);
void rf_links_free(struct rf *rf);

/* tree_refresh_names.c, for an unloaded directory d the kernel holds (so it
 * may hold negative entries under it: names it was told are missing).
 * read: no lock; d's new object (new_ref) and, when it is large, its old one,
 * into d->added: every name of the new object the old one had not (all of
 * them when the old one is small or cannot be read); 0 or the new object's
 * read error. note: tree_lock held, dir is d's inode, its ref now new_ref:
 * each added name noted for the kernel. free: always. */
int rf_names_read(struct rf *rf, struct rf_dir *d);
int rf_names_note(struct rf *rf, struct inode *dir, const struct rf_dir *d);
void rf_names_free(struct rf_dir *d);

#endif
