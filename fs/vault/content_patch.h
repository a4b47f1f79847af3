/* content_patch.h - rebuilding, at a mount, the cache files of the segment
 * versions journal records carry as patches (fs/vault/content_patch.c). */
#ifndef SEALFS_CONTENT_PATCH_H
#define SEALFS_CONTENT_PATCH_H

#include <stdint.h>

#include "cache.h"
#include "chunk.h"
#include "journal.h"
#include "secmem.h"
#include "suite.h"

/* What the replay needs of the vault. */
struct content_patch_ctx {
	struct cache *cache; /* borrowed */
	enum suite_id suite;
	const unsigned char *content_key; /* borrowed: vault_keys.content */
	uint8_t vault_id[OBJECT_ID_BYTES];
	/* Records at or below this seq (the cache's pin: a head the store
	 * held) are left alone: the uploader flushed their patched files
	 * before their head went in, and may have deleted the bases since. */
	uint64_t remembered;
	struct secmem_pool *pool; /* made by the first patch; content_patch_done */
};

/* For every patch of rec (above ctx->remembered), in order: leaves a cache
 * file that holds the version alone, else rebuilds it from its base (the
 * cache's copy, or the store's) and the carried chunks. 0; -ENOENT when a
 * base is in neither (logged: that segment reads as damaged); -EBADMSG,
 * -ENOMEM, or the store's error for the first patch that failed otherwise
 * (logged; the later ones are still tried). */
int content_patch_replay(struct content_patch_ctx *ctx, const struct journal_record *rec);
/* Frees what the replay made. */
void content_patch_done(struct content_patch_ctx *ctx);

#endif
