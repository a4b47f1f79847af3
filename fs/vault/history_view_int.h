/* history_view_int.h - internal to fs/vault/history_view*.c: the state of
 * one view of a vault's retained heads. Nothing else includes it. */
#ifndef SEALFS_HISTORY_VIEW_INT_H
#define SEALFS_HISTORY_VIEW_INT_H

#include "cache.h"
#include "history.h"
#include "history_view.h"
#include "itable.h"
#include "secmem.h"

/* The directory object last opened at one depth of a path. */
struct history_view_level {
	bool used;
	uint8_t key[OBJECT_ID_BYTES];
	uint64_t version;
	struct dirobj obj;
};

/* Which kind-6 object a decoded page of the inode table came from. */
struct history_view_page {
	bool used;
	uint8_t key[OBJECT_ID_BYTES];
	uint64_t version;
};

/* The inode table's index and leaf last opened (history_view_link.c). */
struct history_view_itable {
	struct history_view_page index, leaf;
	struct itable_index ix; /* valid while index.used */
	struct itable_leaf l;	/* valid while leaf.used */
	size_t leaf_slot, leaf_nslots;
};

struct history_view {
	struct backend *store;		/* borrowed */
	const struct vault_config *cfg; /* borrowed */
	const struct vault_keys *keys;	/* borrowed */
	struct history_io io;
	struct dirobj_head *heads; /* newest first: [0] the store's head */
	size_t n, cap;
	struct history_view_level *levels; /* one per depth of the last lookup */
	size_t nlevels;
	struct secmem_pool *pool; /* chunk keys (history_view_file.c), made on first use */
	struct history_view_itable it;
};

/* Frees what history_view_link.c keeps. */
void history_view_link_free(struct history_view *v);

#endif
