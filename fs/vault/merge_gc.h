/* merge_gc.h - what a merged head stops reaching (fs/vault/merge_gc.c), for
 * its garbage list (docs/FORMAT.md "Garbage lists"; docs/INTERNALS.md
 * "Merge"). Pure over a loader: reads directory objects, never writes,
 * never logs. Internal to fs/vault. */
#ifndef SEALFS_MERGE_GC_H
#define SEALFS_MERGE_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dirobj.h"
#include "merge.h"

/* A store key and the seq that created it (0: unknown). */
struct merge_gc_item {
	uint8_t key[OBJECT_ID_BYTES];
	uint64_t created;
};

/* A growing set of items (merge_gc_set_sort makes it searchable). */
struct merge_gc_set {
	struct merge_gc_item *a;
	size_t n, cap;
};

int merge_gc_set_add(struct merge_gc_set *s, const uint8_t key[OBJECT_ID_BYTES], uint64_t created);
/* Sorts by key and keeps each key once (the lowest created). */
void merge_gc_set_sort(struct merge_gc_set *s);
/* After merge_gc_set_sort. */
bool merge_gc_set_has(const struct merge_gc_set *s, const uint8_t key[OBJECT_ID_BYTES]);
void merge_gc_set_free(struct merge_gc_set *s);

/* The merged tree's directory objects not in the store yet: new[i] is
 * sealed under refs[i] (looked up by store key instead of loaded). */
struct merge_gc_new {
	const struct merge_dir *dirs;
	const struct dirobj_ref *refs;
	size_t n;
};

/* Walks the tree of r_root (the store's head R) and of m_root (the merged
 * head M) where they differ, matching directories by id: a directory whose
 * object is the same on both sides is never read (its subtree is in both);
 * every other one is read on each side that has it. *gone gets the
 * objects of R so read (directory objects, segments of their files) that M
 * does not reach; *m_seen (sorted) every object of M the walk met, which
 * holds every object of M that R does not reach. Both sets are the caller's
 * (empty on entry, merge_gc_set_free). 0, -ENOMEM, the loader's error. */
int merge_gc_diff(const struct dirobj_entry *r_root, const struct dirobj_entry *m_root,
		  const struct merge_gc_new *fresh, merge_load_fn load, void *ctx,
		  struct merge_gc_set *gone, struct merge_gc_set *m_seen);

#endif
