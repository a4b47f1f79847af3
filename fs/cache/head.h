/* head.h - where the store keeps the vault's one mutable object (the sealed
 * head), how it is read with its version and replaced only by
 * compare-and-swap (docs/INTERNALS.md, "Commit"), and what this cache
 * remembers of it: the pin, CACHE/state (docs/FORMAT.md, "Cache"). Knows
 * no vault key: the head is opaque bytes here, sealed and opened by
 * fs/vault/seal.h; the one key is the pin's MAC key, which authenticates
 * CACHE/state and nothing else. */
#ifndef SEALFS_HEAD_H
#define SEALFS_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "chunk.h"

#define HEAD_STORE_KEY "head"
#define HEAD_STATE_NAME "state" /* CACHE/state: the pin (docs/FORMAT.md, "Cache") */
#define HEAD_HASH_BYTES 32	/* BLAKE2b-256 of a sealed head: its identity */
#define HEAD_FP_BYTES 16	/* a head's fingerprint: the first bytes of its hash */
#define HEAD_DEVICE_NAME_MAX 64 /* bytes of UTF-8 (DIROBJ_DEVICE_NAME_MAX) */
#define HEAD_PIN_KEY_BYTES 32	/* crypto_auth key (vault_keys.pin) */

/* The hash of sealed head bytes (BLAKE2b-256, no key): what a format-2
 * head's "parent" names, and what the pin and --expect compare. */
void head_hash(uint8_t out[HEAD_HASH_BYTES], const void *sealed, size_t len);

/* What CACHE/state holds. */
struct head_state {
	int version;			 /* 1: the old three lines (seq only, no MAC; read,
					    never written); 2: the pin */
	uint64_t seq;			 /* the newest head seq seen in the store */
	uint8_t hash[HEAD_HASH_BYTES];	 /* version 2: that head's hash */
	uint8_t device[OBJECT_ID_BYTES]; /* version 2: this cache's device id */
	char device_name[HEAD_DEVICE_NAME_MAX + 1]; /* version 2: its name, NUL-terminated */
};

/* Whether name (len bytes, no NUL needed) may be a device name: 1 to 64
 * bytes of UTF-8 without control characters. Pure. */
bool head_device_name_ok(const char *name, size_t len);

/* The state from the file's bytes (text, len bytes; no NUL needed): pure,
 * no I/O (fs/cache/head_state.c; tests/fuzz/fuzz_head_state.c drives it).
 * key (HEAD_PIN_KEY_BYTES) verifies a version-2 pin's MAC; NULL skips that
 * (only to tell which vault a cache belongs to). 0; -ENOENT another
 * vault's; -EINVAL malformed; -EBADMSG the MAC does not verify (st->version
 * still 2, nothing else kept). On failure *st is zeroed but for that. */
int head_state_decode(struct head_state *st, const char *text, size_t len,
		      const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *key);
/* The version-2 bytes of st (its seq, hash, device and name) for vault_id,
 * MAC'ed under key, into out (size bytes; *len set). Pure. 0, -EINVAL (a
 * bad device name), -ENOSPC. */
int head_state_encode(char *out, size_t size, size_t *len, const struct head_state *st,
		      const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *key);
/* The seq of a state of vault_id, MAC not checked (head_state_decode with
 * no key; *seq 0 on failure). Kept for the fuzzer and callers that only
 * ask whether a cache is this vault's. */
int head_state_parse(const char *text, size_t len, const uint8_t vault_id[OBJECT_ID_BYTES],
		     uint64_t *seq);
/* head_state_parse over CACHE/state in cache_dir (fs/cache/head_pin.c):
 * 0, -ENOENT none or another vault's, -EINVAL unreadable. */
int head_state_read(const char *cache_dir, const uint8_t vault_id[OBJECT_ID_BYTES], uint64_t *seq);

/* CACHE/state of cache_dir, decoded (key as head_state_decode). -ENOENT
 * no file, -EXDEV another vault's, else as head_state_decode or the read's
 * errno. */
int head_state_load(struct head_state *st, const char *cache_dir,
		    const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *key);
/* Writes st as a version-2 pin: a temporary file, fsync, rename over
 * CACHE/state, fsync of cache_dir. 0 or -errno. Not thread-safe for one
 * cache (the engine writes it at open, then only the uploader). */
int head_state_store(const char *cache_dir, const struct head_state *st,
		     const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *key);
/* A default device name: the host name cut to HEAD_DEVICE_NAME_MAX bytes at
 * a character boundary ("sealfs" when it has none fit for it). */
void head_device_name_default(char out[HEAD_DEVICE_NAME_MAX + 1]);

/* The pin the uploader advances after every head it stored: the key, the
 * cache and the state, in locked memory (sodium_malloc). */
struct head_pin;
/* A pin for cache_dir (copied) of vault_id holding st (copied), MAC'ed
 * with key (copied). 0, -ENOMEM, -ENAMETOOLONG. */
int head_pin_new(struct head_pin **out, const char *cache_dir,
		 const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *key,
		 const struct head_state *st);
/* Remembers head seq with hash when seq is above the pinned one (written
 * as head_state_store), and its sealed bytes (sealed[0..len), NULL: not
 * known) in CACHE/pin-head first (head_pin_keep_head). 0 or -errno (the
 * pin in memory is not moved then). One caller at a time. */
int head_pin_advance(struct head_pin *p, uint64_t seq, const uint8_t hash[HEAD_HASH_BYTES],
		     const unsigned char *sealed, size_t len);
/* CACHE/pin-head: the sealed bytes of the pinned head, for the fork check
 * (docs/SECURITY.md, "Forks"). Written whole (temporary file, fdatasync,
 * rename; no fsync of the directory: a copy lost in a crash only weakens
 * that check, as its hash then differs from the pin's). 0 or -errno. */
#define HEAD_PIN_HEAD_NAME "pin-head"
int head_pin_keep_head(const char *cache_dir, const unsigned char *sealed, size_t len);
/* Its bytes (new: free) when their hash is hash (the pin's): 0, -ENOENT
 * (missing, or another head's), read errors. */
int head_pin_read_head(const char *cache_dir, const uint8_t hash[HEAD_HASH_BYTES],
		       unsigned char **out, size_t *len);
/* The pinned state (device id and name, seq, hash): borrowed from p; read
 * it where head_pin_advance cannot run at the same time. */
const struct head_state *head_pin_state(const struct head_pin *p);
/* Wipes and frees; NULL is fine. */
void head_pin_free(struct head_pin *p);

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
/* head_get unless the head is still at version *known (known->len 0:
 * always read): then 1, *out NULL, nothing sent by the store where it can
 * tell (backend_get_changed). Thread-safe. */
int head_get_changed(struct backend *store, size_t max, const struct backend_version *known,
		     unsigned char **out, size_t *len, struct backend_version *ver);
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
