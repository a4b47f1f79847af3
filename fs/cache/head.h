/* head.h - where the store keeps the vault's one mutable object (the sealed
 * head) and what this cache remembers of it: the rollback guard, CACHE/state
 * (docs/FORMAT.md, "Cache"). Knows no keys: the head is opaque bytes here,
 * sealed and opened by fs/vault/seal.h. */
#ifndef SEALFS_HEAD_H
#define SEALFS_HEAD_H

#include <stdint.h>

#include "chunk.h"

#define HEAD_STORE_KEY "head"
#define HEAD_STATE_NAME "state" /* CACHE/state: the last head seq the store held */

/* The seq remembered in CACHE/state for this vault: 0, -ENOENT when there is
 * none (or it belongs to another vault), -EINVAL when unreadable. */
int head_state_read(const char *cache_dir, const uint8_t vault_id[OBJECT_ID_BYTES], uint64_t *seq);
/* Remembers seq (atomic replace, fsync'ed). 0 or -errno. */
int head_state_write(const char *cache_dir, const uint8_t vault_id[OBJECT_ID_BYTES], uint64_t seq);

#endif
