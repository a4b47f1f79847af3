/* history_view.h - reading a format-2 vault's retained heads from its store
 * (`sealfs history`, `sealfs restore`; docs/CLI.md): the current head and
 * every head record the history lists, newest first; a path followed by name
 * in any of them; the versions of a path (where its entry differs from the
 * newer head's); the content of an old file, opened and authenticated chunk
 * by chunk. Reads only: never writes to the store, never logs a name or a
 * plaintext byte. Not thread-safe: one caller per view. */
#ifndef SEALFS_HISTORY_VIEW_H
#define SEALFS_HISTORY_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "dirobj.h"
#include "vault.h"

struct history_view;

/* Reads the store's head and its history (pages, then every retained head
 * record) into a new view; store, cfg and keys are borrowed and must outlive
 * it. 0; -EPERM for a format-1 vault; -ENOENT no head; -EBADMSG an object
 * that fails to authenticate or decode; -ENOMEM; store errors. */
int history_view_open(struct history_view **out, struct backend *store,
		      const struct vault_config *cfg, const struct vault_keys *keys);
void history_view_free(struct history_view *v);

/* The retained heads, newest first: 0 is the store's current head. */
size_t history_view_count(const struct history_view *v);
const struct dirobj_head *history_view_head(const struct history_view *v, size_t i);

/* Follows path (names separated by '/', relative to the root; "" is the
 * root) in head i. 1 with *e pointing at the entry (borrowed: valid until the
 * next lookup or resolve on v or history_view_free), 0 when a name is absent
 * or a parent is not a directory, -EBADMSG a directory object that fails to
 * authenticate, -ENOMEM, store errors (-ENOENT: a missing object). A name of
 * a file with several names (an `h` entry) comes resolved: *e is the file's
 * record (history_view_resolve; its name is not the path's). */
int history_view_lookup(struct history_view *v, size_t i, const char *path,
			const struct dirobj_entry **e);

/* The file entry e (from a lookup or open_dir of head i) stands for: e
 * itself, or for an `h` entry the file's record in head i's inode table
 * (docs/FORMAT.md, "Inode table"; type DIROBJ_FILE, with the file's
 * attributes and segments; name not meaningful). *out is borrowed: valid
 * until the next lookup or resolve on v. 0; -EBADMSG (a table page that
 * fails to authenticate or decode, or no record for the id); -ENOMEM;
 * store errors (-ENOENT: a missing page). */
int history_view_resolve(struct history_view *v, size_t i, const struct dirobj_entry *e,
			 const struct dirobj_entry **out);

/* Opens the object of directory entry dir into *obj (new: dirobj_release).
 * Errors as history_view_lookup. */
int history_view_open_dir(struct history_view *v, const struct dirobj_entry *dir,
			  struct dirobj *obj);

/* BLAKE2b-256 of what makes an entry's version: type, mode, size, mtime,
 * rdev, a file's segment keys, a directory's object key, a symlink's
 * target. Two heads hold the same version of a path exactly when these
 * agree. Pure. */
void history_view_sig(uint8_t out[32], const struct dirobj_entry *e);

/* One version of a path: a run of consecutive retained heads whose entry
 * for it has one signature. */
struct history_version {
	size_t head;		 /* the oldest retained head of the run (it wrote the version) */
	size_t newest;		 /* the newest head of the run (0: the current head holds it) */
	uint64_t seq;		 /* head's seq */
	struct dirobj_time time; /* head's commit time */
	char device_name[DIROBJ_DEVICE_NAME_MAX + 1];
	enum dirobj_type type;
	uint32_t mode;
	uint64_t size;
	struct dirobj_time mtime;
};

/* The versions of path, newest first, into *out (new: free) and *n; a head
 * whose tree lacks path ends a run and starts none. 0 or the errors of
 * history_view_lookup. */
int history_view_versions(struct history_view *v, const char *path, struct history_version **out,
			  size_t *n);

/* Hands the plaintext of file entry e (from a lookup or open_dir of v) to
 * out in order, in pieces of at most 4,096 bytes at their offsets; holes
 * are skipped (the caller sets the size). Every chunk is authenticated
 * before any of its bytes reaches out; the buffer is wiped after. 0,
 * -EBADMSG (a chunk fails to authenticate or a segment has a wrong size),
 * -ENOENT (a missing segment), -ENOMEM, store errors, or what out returned
 * (a negative errno stops the copy). */
typedef int (*history_view_out_fn)(void *arg, uint64_t off, const unsigned char *buf, size_t len);
int history_view_read_file(struct history_view *v, const struct dirobj_entry *e,
			   history_view_out_fn out, void *arg);

#endif
