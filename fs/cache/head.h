/* head.h - where the store keeps the vault's one mutable object (the sealed
 * head), how it is read with its version and replaced only by
 * compare-and-swap (docs/INTERNALS.md, "Commit"), and what this cache
 * remembers of it: the rollback guard, CACHE/state (docs/FORMAT.md,
 * "Cache"). Knows no keys: the head is opaque bytes here, sealed and opened
 * by fs/vault/seal.h. */
#ifndef SEALFS_HEAD_H
#define SEALFS_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "chunk.h"

#define HEAD_STORE_KEY "head"
#define HEAD_STATE_NAME "state" /* CACHE/state: the last head seq the store held */

/* The seq remembered in CACHE/state for this vault: 0, -ENOENT when there is
 * none (or it belongs to another vault), -EINVAL when unreadable. */
int head_state_read(const char *cache_dir, const uint8_t vault_id[OBJECT_ID_BYTES], uint64_t *seq);
/* The same from the file's bytes (text, len bytes; no NUL needed): pure,
 * no I/O (fs/cache/head_state.c, so that tests/fuzz/fuzz_head_state.c can
 * drive it). 0, -ENOENT another vault's, -EINVAL malformed, -ENOMEM. */
int head_state_parse(const char *text, size_t len, const uint8_t vault_id[OBJECT_ID_BYTES],
		     uint64_t *seq);
/* Remembers seq (atomic replace, fsync'ed). 0 or -errno. */
int head_state_write(const char *cache_dir, const uint8_t vault_id[OBJECT_ID_BYTES], uint64_t seq);

/* Whether the store honours conditional writes (backend_probe_put_if). */
enum head_cas {
	HEAD_CAS_UNKNOWN, /* not asked yet */
	HEAD_CAS_HONOURED,
	HEAD_CAS_IGNORED, /* head_put checks the version just before it writes */
};

/* The sealed head (at most max bytes: -EFBIG beyond) into a new malloc'ed
 * *out, with the version of those bytes. -ENOENT when there is none, or the
 * store's errno. Thread-safe. */
int head_get(struct backend *store, size_t max, unsigned char **out, size_t *len,
	     struct backend_version *ver);
/* Asks the store once whether it honours conditional writes: HONOURED for
 * a store that makes put_if atomic itself (no BACKEND_CAP_PUT_IF_PROBE),
 * else the probe's answer (on a fresh random key o/<hh>/<32 hex>, deleted
 * again: an orphan to fsck should a crash leave it). 0 or the store's errno
 * (*cas stays UNKNOWN). */
int head_cas_probe(struct backend *store, enum head_cas *cas);
/* Replaces the head with data only if it still holds version *ver (as read
 * by head_get, or returned by the last head_put); *ver gets the new version.
 * cas IGNORED: reads the head's version first and refuses when it differs
 * (narrows the window the store leaves open, does not close it). -ESTALE:
 * the head changed (another device wrote it): nothing written; else 0 or the
 * store's errno. */
int head_put(struct backend *store, const void *data, size_t len, enum head_cas cas,
	     struct backend_version *ver);

#endif
