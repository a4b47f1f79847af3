/* chunk.h - sealing and opening file content chunks (docs/FORMAT.md, "Content").
 * Pure: no I/O. Keys live in slots of a locked secmem pool (secmem.h) and are
 * wiped on free.
 *
 * A file's plaintext is cut into CHUNK_PLAIN_BYTES chunks; chunk i lives in
 * segment i / SEGMENT_CHUNKS at slot i % SEGMENT_CHUNKS. Every chunk is sealed
 * at full size (the last one zero-padded), so a stored chunk is always
 * chunk_sealed_bytes(suite) long: nonce || ciphertext || tag. */
#ifndef SEALFS_CHUNK_H
#define SEALFS_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secmem.h"
#include "suite.h"

#define CHUNK_PLAIN_BYTES 4096u
#define SEGMENT_CHUNKS 256u
#define SEGMENT_PLAIN_BYTES (CHUNK_PLAIN_BYTES * SEGMENT_CHUNKS)
#define OBJECT_ID_BYTES 16

/* What a chunk's associated data binds. */
struct chunk_ad {
	uint8_t vault_id[OBJECT_ID_BYTES];
	uint8_t file_id[OBJECT_ID_BYTES];
	uint8_t segment_key[OBJECT_ID_BYTES]; /* store key of the segment holding the chunk */
	uint64_t index;			      /* chunk index within the file */
	bool last;			      /* the file's last chunk */
};

/* Per-file content key state (derived key, precomputed AES state). Opaque. */
struct chunk_key;

/* Bytes one sealed chunk occupies: nonce + CHUNK_PLAIN_BYTES + tag. */
size_t chunk_sealed_bytes(enum suite_id suite);

/* Layout arithmetic (docs/FORMAT.md, "Sizes"); pure, never fails. */
/* Chunks of a file of size bytes: ceil(size / CHUNK_PLAIN_BYTES). */
uint64_t chunk_file_chunks(uint64_t size);
/* Segments of a file of size bytes: ceil(size / SEGMENT_PLAIN_BYTES). */
uint64_t chunk_file_segments(uint64_t size);
/* Bytes of segment object seg of a file of size bytes when present: its chunk
 * count times chunk_sealed_bytes(suite); 0 for seg >= chunk_file_segments(size). */
uint64_t chunk_segment_stored_bytes(enum suite_id suite, uint64_t size, uint64_t seg);

/* A new pool whose slots hold one chunk_key each (see secmem_pool_new for
 * refused and arg). NULL when out of memory. Free with secmem_pool_free after
 * every key taken from it is freed. */
struct secmem_pool *chunk_key_pool_new(secmem_refused_fn refused, void *arg);

/* Derives the per-file key from the vault content key and the file id into a
 * slot of pool (borrowed: it must outlive the key). Returns a new key (free
 * with chunk_key_free), or NULL on out of memory, an unavailable suite or a
 * pool whose slots are too small. Thread-safe as the pool is. */
struct chunk_key *chunk_key_new(struct secmem_pool *pool, enum suite_id suite,
				const unsigned char content_key[32],
				const uint8_t file_id[OBJECT_ID_BYTES]);
/* Format 2: the key of one segment version (docs/FORMAT.md, "Keys"): keyed
 * BLAKE2b-256 (crypto_generichash) under the per-file key of file_id, of the
 * segment's store key followed by the 15 ASCII bytes "sealfs-segkey02".
 * Every new version of a segment has a new store key, hence a new key: the
 * nonces drawn under one key are those of one segment version. Same
 * returns and thread safety as chunk_key_new. */
struct chunk_key *chunk_key_new_segment(struct secmem_pool *pool, enum suite_id suite,
					const unsigned char content_key[32],
					const uint8_t file_id[OBJECT_ID_BYTES],
					const uint8_t segment_key[OBJECT_ID_BYTES]);
/* Wipes the key and returns its slot to its pool; NULL is fine. */
void chunk_key_free(struct chunk_key *key);

/* Seals plain[0..plain_len) (plain_len <= CHUNK_PLAIN_BYTES; the rest of the
 * chunk is zeros) into out, which holds chunk_sealed_bytes(). A fresh random
 * nonce is drawn each call. Returns 0, or -EINVAL for a bad length. */
int chunk_seal(unsigned char *out, const unsigned char *plain, size_t plain_len,
	       const struct chunk_ad *ad, const struct chunk_key *key);

/* len (at most 64) random bytes from the calling thread's pool of
 * libsodium's OS randomness, the one chunk nonces come from (one getrandom
 * per 4 KiB per thread instead of one per call; each byte handed out once;
 * a fork invalidates the pools). For nonces, store keys (random names the
 * store sees) and file ids (a key derivation's salt) only, never for secret
 * keys: the pool's unused bytes wait in memory. Thread-safe. */
void chunk_random_public(unsigned char *out, size_t len);

/* The same with a caller-supplied nonce: for known-answer tests only. */
int chunk_seal_with_nonce(unsigned char *out, const unsigned char *plain, size_t plain_len,
			  const struct chunk_ad *ad, const struct chunk_key *key,
			  const unsigned char *nonce);

/* Opens a sealed chunk into plain (CHUNK_PLAIN_BYTES). Returns 0, or -EBADMSG
 * when authentication fails, in which case plain is zeroed. */
__attribute__((warn_unused_result)) int chunk_open(unsigned char *plain,
						   const unsigned char *sealed,
						   const struct chunk_ad *ad,
						   const struct chunk_key *key);

#endif
