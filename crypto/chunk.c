/* chunk.c - sealing and opening 4 KiB content chunks with a per-file key or
 * (format 2) a per-segment-version key (docs/FORMAT.md, "Content", "Keys"). Must never return
 * plaintext that failed to authenticate, nor reuse a nonce on purpose: every seal draws a fresh
 * one. */
#include "chunk.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <sodium.h>

#define CHUNK_AD_BYTES 57
#define CHUNK_FILEKEY_PERSONAL "sealfs-filekey01"
#define CHUNK_SEGKEY_TAG "sealfs-segkey02" /* 15 bytes, after the segment's store key */

/* Lives in a slot of a secmem pool (locked, not read-only: slots share their
 * pages). Slots are SECMEM_ALIGN-aligned and the AES state comes first, so
 * the state keeps the 16-byte alignment libsodium's AES-NI code needs. */
struct chunk_key {
	crypto_aead_aes256gcm_state aes;    /* SUITE_AES256GCM only */
	unsigned char key[SUITE_KEY_BYTES]; /* SUITE_XCHACHA20POLY1305 only */
	enum suite_id suite;
	struct secmem_pool *pool; /* borrowed: where the key goes back */
};
_Static_assert(sizeof(struct chunk_key) % 16 == 0, "keeps the AES state 16-byte aligned");
_Static_assert(_Alignof(struct chunk_key) <= SECMEM_ALIGN, "slots are aligned enough");
_Static_assert(sizeof(struct chunk_key) <= SECMEM_SLOT_MAX, "a key fits a slot");

size_t chunk_sealed_bytes(enum suite_id suite)
{
	return suite_nonce_bytes(suite) + CHUNK_PLAIN_BYTES + SUITE_TAG_BYTES;
}

uint64_t chunk_file_chunks(uint64_t size)
{
	return size / CHUNK_PLAIN_BYTES + (size % CHUNK_PLAIN_BYTES != 0);
}

uint64_t chunk_file_segments(uint64_t size)
{
	return size / SEGMENT_PLAIN_BYTES + (size % SEGMENT_PLAIN_BYTES != 0);
}

uint64_t chunk_segment_stored_bytes(enum suite_id suite, uint64_t size, uint64_t seg)
{
	uint64_t chunks = chunk_file_chunks(size);
	uint64_t first = seg * SEGMENT_CHUNKS;

	if (seg >= chunk_file_segments(size))
		return 0;
	chunks -= first;
	if (chunks > SEGMENT_CHUNKS)
		chunks = SEGMENT_CHUNKS;
	return chunks * chunk_sealed_bytes(suite);
}

struct secmem_pool *chunk_key_pool_new(secmem_refused_fn refused, void *arg)
{
	return secmem_pool_new(sizeof(struct chunk_key), refused, arg);
}

/* A key in a slot of pool from the 32 raw key bytes raw (the caller wipes
 * raw). NULL on out of memory or failure. */
static struct chunk_key *chunk_key_from(struct secmem_pool *pool, enum suite_id suite,
					const unsigned char raw[SUITE_KEY_BYTES])
{
	struct chunk_key *k;

	if (!suite_available(suite) || secmem_slot_bytes(pool) < sizeof(*k))
		return NULL;
	k = secmem_alloc(pool); /* zeroed */
	if (!k)
		return NULL;
	k->suite = suite;
	k->pool = pool;
	if (suite == SUITE_AES256GCM) {
		/* The expanded state suffices: the raw key is not kept. */
		if (crypto_aead_aes256gcm_beforenm(&k->aes, raw) != 0) {
			secmem_free(pool, k);
			return NULL;
		}
	} else {
		memcpy(k->key, raw, sizeof(k->key));
	}
	return k;
}

/* The per-file key's raw bytes (docs/FORMAT.md, "Keys"). */
static int chunk_file_key_raw(unsigned char out[SUITE_KEY_BYTES],
			      const unsigned char content_key[32],
			      const uint8_t file_id[OBJECT_ID_BYTES])
{
	return crypto_generichash_blake2b_salt_personal(
	    out, SUITE_KEY_BYTES, NULL, 0, content_key, SUITE_KEY_BYTES, file_id,
	    (const unsigned char *)CHUNK_FILEKEY_PERSONAL);
}

struct chunk_key *chunk_key_new(struct secmem_pool *pool, enum suite_id suite,
				const unsigned char content_key[32],
				const uint8_t file_id[OBJECT_ID_BYTES])
{
	unsigned char raw[SUITE_KEY_BYTES];
	struct chunk_key *k = NULL;

	if (chunk_file_key_raw(raw, content_key, file_id) == 0)
		k = chunk_key_from(pool, suite, raw);
	sodium_memzero(raw, sizeof(raw));
	return k;
}

struct chunk_key *chunk_key_new_segment(struct secmem_pool *pool, enum suite_id suite,
					const unsigned char content_key[32],
					const uint8_t file_id[OBJECT_ID_BYTES],
					const uint8_t segment_key[OBJECT_ID_BYTES])
{
	unsigned char file_key[SUITE_KEY_BYTES], raw[SUITE_KEY_BYTES];
	unsigned char in[OBJECT_ID_BYTES + sizeof(CHUNK_SEGKEY_TAG) - 1];
	struct chunk_key *k = NULL;

	memcpy(in, segment_key, OBJECT_ID_BYTES);
	memcpy(in + OBJECT_ID_BYTES, CHUNK_SEGKEY_TAG, sizeof(CHUNK_SEGKEY_TAG) - 1);
	if (chunk_file_key_raw(file_key, content_key, file_id) == 0 &&
	    crypto_generichash(raw, sizeof(raw), in, sizeof(in), file_key, sizeof(file_key)) == 0)
		k = chunk_key_from(pool, suite, raw);
	sodium_memzero(file_key, sizeof(file_key));
	sodium_memzero(raw, sizeof(raw));
	return k;
}

void chunk_key_free(struct chunk_key *key)
{
	if (key)
		secmem_free(key->pool, key); /* wipes the whole slot */
}

/* vault_id || file_id || segment_key || index (u64 LE) || last (u8). */
static void chunk_ad_bytes(unsigned char out[CHUNK_AD_BYTES], const struct chunk_ad *ad)
{
	unsigned char *p = out;

	memcpy(p, ad->vault_id, OBJECT_ID_BYTES);
	p += OBJECT_ID_BYTES;
	memcpy(p, ad->file_id, OBJECT_ID_BYTES);
	p += OBJECT_ID_BYTES;
	memcpy(p, ad->segment_key, OBJECT_ID_BYTES);
	p += OBJECT_ID_BYTES;
	for (int i = 0; i < 8; i++)
		*p++ = (unsigned char)(ad->index >> (8 * i));
	*p = ad->last ? 1 : 0;
}

static int chunk_encrypt(unsigned char *ct, unsigned char *tag, const unsigned char *m,
			 const unsigned char *ad, const unsigned char *nonce,
			 const struct chunk_key *key)
{
	if (key->suite == SUITE_AES256GCM)
		return crypto_aead_aes256gcm_encrypt_detached_afternm(
		    ct, tag, NULL, m, CHUNK_PLAIN_BYTES, ad, CHUNK_AD_BYTES, NULL, nonce,
		    &key->aes);
	return crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
	    ct, tag, NULL, m, CHUNK_PLAIN_BYTES, ad, CHUNK_AD_BYTES, NULL, nonce, key->key);
}

static int chunk_decrypt(unsigned char *m, const unsigned char *ct, const unsigned char *tag,
			 const unsigned char *ad, const unsigned char *nonce,
			 const struct chunk_key *key)
{
	if (key->suite == SUITE_AES256GCM)
		return crypto_aead_aes256gcm_decrypt_detached_afternm(
		    m, NULL, ct, CHUNK_PLAIN_BYTES, tag, ad, CHUNK_AD_BYTES, nonce, &key->aes);
	return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
	    m, NULL, ct, CHUNK_PLAIN_BYTES, tag, ad, CHUNK_AD_BYTES, nonce, key->key);
}

int chunk_seal_with_nonce(unsigned char *out, const unsigned char *plain, size_t plain_len,
			  const struct chunk_ad *ad, const struct chunk_key *key,
			  const unsigned char *nonce)
{
	size_t nlen = suite_nonce_bytes(key->suite);
	unsigned char adb[CHUNK_AD_BYTES];
	unsigned char padded[CHUNK_PLAIN_BYTES];
	const unsigned char *m = plain;
	int rc;

	if (plain_len > CHUNK_PLAIN_BYTES || (plain_len > 0 && !plain))
		return -EINVAL;
	if (plain_len < CHUNK_PLAIN_BYTES) {
		/* The last chunk of a file is sealed full size: zero padding. */
		if (plain_len > 0)
			memcpy(padded, plain, plain_len);
		memset(padded + plain_len, 0, sizeof(padded) - plain_len);
		m = padded;
	}
	chunk_ad_bytes(adb, ad);
	memmove(out, nonce, nlen);
	rc = chunk_encrypt(out + nlen, out + nlen + CHUNK_PLAIN_BYTES, m, adb, out, key);
	if (m == padded)
		sodium_memzero(padded, sizeof(padded));
	return rc == 0 ? 0 : -EINVAL;
}

/* Nonces are random bytes from libsodium's OS-backed randombytes_buf, drawn
 * in batches: one getrandom() per NONCE_POOL_BYTES instead of one per chunk
 * (it was up to a third of the write path). Each byte is handed out once.
 * After fork() the child must not hand out its parent's unused bytes: a fork
 * generation bumped in the child invalidates every pool. */
#define NONCE_POOL_BYTES 4096
struct nonce_pool {
	unsigned char buf[NONCE_POOL_BYTES];
	size_t used;
	unsigned gen;
};
static _Thread_local struct nonce_pool nonce_pool = {.used = NONCE_POOL_BYTES};
static atomic_uint nonce_fork_gen;
static pthread_once_t nonce_once = PTHREAD_ONCE_INIT;

static void nonce_after_fork(void) { atomic_fetch_add(&nonce_fork_gen, 1); }

static void nonce_register(void) { pthread_atfork(NULL, NULL, nonce_after_fork); }

static void nonce_take(unsigned char *out, size_t len)
{
	struct nonce_pool *p = &nonce_pool;
	unsigned gen;

	pthread_once(&nonce_once, nonce_register);
	gen = atomic_load(&nonce_fork_gen);
	if (p->gen != gen || NONCE_POOL_BYTES - p->used < len) {
		randombytes_buf(p->buf, sizeof(p->buf));
		p->used = 0;
		p->gen = gen;
	}
	memcpy(out, p->buf + p->used, len);
	sodium_memzero(p->buf + p->used, len);
	p->used += len;
}

void chunk_random_public(unsigned char *out, size_t len)
{
	if (len > 64) { /* not what the pool is for */
		randombytes_buf(out, len);
		return;
	}
	nonce_take(out, len);
}

int chunk_seal(unsigned char *out, const unsigned char *plain, size_t plain_len,
	       const struct chunk_ad *ad, const struct chunk_key *key)
{
	unsigned char nonce[SUITE_MAX_NONCE_BYTES];

	nonce_take(nonce, suite_nonce_bytes(key->suite));
	return chunk_seal_with_nonce(out, plain, plain_len, ad, key, nonce);
}

int chunk_open(unsigned char *plain, const unsigned char *sealed, const struct chunk_ad *ad,
	       const struct chunk_key *key)
{
	size_t nlen = suite_nonce_bytes(key->suite);
	unsigned char adb[CHUNK_AD_BYTES];

	chunk_ad_bytes(adb, ad);
	if (chunk_decrypt(plain, sealed + nlen, sealed + nlen + CHUNK_PLAIN_BYTES, adb, sealed,
			  key) != 0) {
		sodium_memzero(plain, CHUNK_PLAIN_BYTES);
		return -EBADMSG;
	}
	return 0;
}
