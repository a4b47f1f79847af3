/* lost_merge.h - at a read-write mount of a format-2 vault, before the
 * uploader starts: the objects a merge attempt of an earlier mount put into
 * the store for a head that never went in (CACHE/merge-attempt, written by
 * fs/cache/upload_attempt.c) are deleted (fs/vault/lost_merge.c). */
#ifndef SEALFS_LOST_MERGE_H
#define SEALFS_LOST_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "cache.h"
#include "dirobj.h"
#include "head.h"
#include "vault.h"

/* sealed[0..len): the store's head. A record whose head is the store's or an
 * ancestor of it is dropped; one whose head provably is not (or a record of
 * lost attempts only) has its objects deleted; one that cannot be decided
 * (the history between is not retained) is dropped with one log line, its
 * objects left to fsck --repair. A delete that fails keeps the keys for the
 * uploader (upload_attempt_keep_lost). Logs counts only; errors are logged,
 * never returned: the mount goes on. */
void lost_merge_clean(struct backend *store, struct cache *cache, const char *cache_dir,
		      const unsigned char *sealed, size_t len, const struct vault_config *cfg,
		      const struct vault_keys *keys);

#endif
