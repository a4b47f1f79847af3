/* history_view_int.h - internal to fs/vault/history_view*.c: the state of
 * one view of a vault's retained heads. Nothing else includes it. */
#ifndef SEALFS_HISTORY_VIEW_INT_H
#define SEALFS_HISTORY_VIEW_INT_H

#include "cache.h"
#include "history.h"
#include "history_view.h"
#include "secmem.h"

/* The directory object last opened at one depth of a path. */
struct history_view_level {
	bool used;
	uint8_t key[OBJECT_ID_BYTES];
	uint64_t version;
	struct dirobj obj;
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
};

#endif
