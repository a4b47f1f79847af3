/* merge.h - the three-way merge of two devices' trees onto their common base
 * (docs/DESIGN-FORMAT-2.md, section 5; docs/INTERNALS.md, "Merge"). Pure and
 * deterministic: directory objects come in through the caller's loader (the
 * cache or the store), the result goes out as plain listings; nothing here
 * seals, stores, or touches the tree. It must never drop an entry that either
 * side changed: when it cannot place one it fails instead.
 *
 * Entries are matched by id, never by bytes or name, across the whole
 * touched part of the trees (so a move into another directory on one side and
 * an edit on the other both apply). Rules, per id:
 *   - changed on one side only: that side's version (name, place and body
 *     are merged separately, so a rename on one side and an edit on the
 *     other both apply);
 *   - a file or symlink changed on both sides: both kept; the later one (by
 *     mtime, then device id, then bytes) keeps the id and the name, the other
 *     becomes a conflict copy with a new id (derived, so both devices derive
 *     the same) whose content the caller re-seals under that id;
 *   - deleted on one side, changed on the other: the change is kept; a
 *     directory deleted on one side stays with what the other side changed
 *     or added in it, and goes if that is nothing;
 *   - a directory changed on both sides: its listings are merged the same way.
 * Then per name in each directory: two directories of one name become one
 * (the later keeps its id, the other's entries move into it, merged again);
 * any other clash: the later keeps the name, the others are renamed
 *   "name (conflict from DEVICE YYYY-MM-DD HHMMSS).ext" (UTC, their mtime).
 * Swapping local and remote (with their devices) gives the same tree.
 *
 * Files with several names (format 2: `h` entries and the inode table, when
 * any side has a table): each name is matched by (file id, directory id,
 * name), so a rename of a name is a delete and an add, and names added on
 * both sides are unioned; a name deleted on one side stays when the other
 * side edited the file (its content or attributes; a new name alone changes
 * only its ctime). The file's record is merged three-way on its own: changed
 * on one side, that side's; on both differently, the later keeps the id and
 * every name and the other becomes a conflict copy, an ordinary file named as
 * other copies are, next to the file's first name. Its number of names is
 * counted on the merged tree (never added up); a file with no name left has
 * no record. Every name of a file with a record is an `h` entry. */
#ifndef SEALFS_MERGE_H
#define SEALFS_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dirobj.h"
#include "itable.h"

/* One side's device: its id (the tie-break) and its name (for copy names,
 * NUL-terminated, borrowed for the call). */
struct merge_device {
	uint8_t id[OBJECT_ID_BYTES];
	const char *name;
};

/* Loads the directory object that the directory entry e references (e->id
 * is its directory id, e->ref its version and store key) into *out, which the
 * merge releases with dirobj_release. Returns 0 or a negative errno, which the
 * merge returns. Called from the merging thread only. */
typedef int (*merge_load_fn)(void *ctx, const struct dirobj_entry *e, struct dirobj *out);

/* One side's inode table, every record (borrowed for the call); n == 0: the
 * side has none. */
struct merge_itable {
	const struct itable_record *recs;
	size_t n;
};

struct merge_input {
	/* The root entries of the three heads (borrowed). base may be NULL: a
	 * two-way merge (every entry both sides hold differently is a
	 * conflict), for a device whose base objects are gone. */
	const struct dirobj_entry *base, *local, *remote;
	struct merge_device local_dev, remote_dev;
	merge_load_fn load;
	void *ctx;
	/* The inode tables of base, local and remote (all empty: no file has
	 * several names, and the merge costs what it did before tables). */
	struct merge_itable base_it, local_it, remote_it;
};

/* A directory whose merged listing matches neither side's object: the caller
 * seals it as a new object. entries whose pending[i] is set are directories
 * merged in the same way: their ref is the one the caller gave the earlier
 * merge_dir whose dir.dir_id equals entries[i].id. */
struct merge_dir {
	struct dirobj dir;
	bool *pending; /* dir.nentries long */
};

/* A conflict copy of a file changed on both sides: the entry `id` in the
 * directory `dir_id` lists the segments of the file `source_id`, sealed
 * under that file's key; the caller re-seals its content under `id` (new
 * segment keys) before the result is committed. */
struct merge_copy {
	uint8_t dir_id[OBJECT_ID_BYTES];
	uint8_t id[OBJECT_ID_BYTES];
	uint8_t source_id[OBJECT_ID_BYTES];
};

struct merge_result {
	struct dirobj_entry root; /* the merged root entry */
	bool root_pending;	  /* its ref is the last merge_dir's */
	struct merge_dir *dirs;	  /* children before parents */
	size_t ndirs;
	struct merge_copy *copies;
	size_t ncopies;
	size_t merged;	  /* entries the local side changed, merged in */
	size_t conflicts; /* entries renamed or copied to a conflict name */
	/* Some side had an inode table: records is the whole merged table
	 * (sorted by id; entries owned, names placeholders), possibly empty. A
	 * conflict copy of such a file has its id as source_id. */
	bool links;
	struct itable_record *records;
	size_t nrecords;
};

/* Merges; *out holds new allocations (free with merge_result_release), or
 * is zeroed on failure. Returns 0; -EINVAL when the inputs are inconsistent
 * (roots of different ids, an id twice on one side, one id of two types),
 * -ELOOP when moves on both sides would cut a directory off the root,
 * -ENAMETOOLONG when no conflict name fits, -ENOMEM, or the loader's error
 * (-EINVAL too for tables that disagree with the trees: an `h` entry with no
 * record, an `f` entry whose id has one, names not matching `nl`).
 * Thread-safe for distinct inputs. */
int merge_tree(struct merge_result *out, const struct merge_input *in);
void merge_result_release(struct merge_result *r);

/* The name a conflict copy of `name` gets: "stem (conflict from DEVICE
 * YYYY-MM-DD HHMMSS[ N]).ext", the extension split off only for files
 * (is_dir false) at the last dot that is neither first nor last; the stem is
 * cut at a UTF-8 boundary so the result fits DIROBJ_NAME_MAX bytes; '/' in the
 * device name becomes '_'. n > 1 adds " N" (a second clash). *out is
 * malloc'ed, NUL-terminated. Returns 0, -ENAMETOOLONG, -ENOMEM. */
int merge_conflict_name(char **out, size_t *out_len, const char *name, size_t name_len, bool is_dir,
			const char *device, int64_t mtime_sec, unsigned n);

#endif
