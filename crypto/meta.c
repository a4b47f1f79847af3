/* meta.c - sealing and opening metadata objects (directory objects, head)
 * with XChaCha20-Poly1305-IETF over sodium_pad'ed plaintext (docs/FORMAT.md,
 * "Metadata objects"). Must never hand back plaintext that failed to
 * authenticate or whose padding is malformed. */
#include "meta.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chunk.h"

#define META_AD_BYTES 57
#define META_NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define META_TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define META_OVERHEAD_BYTES (META_NONCE_BYTES + META_TAG_BYTES)

/* kind (u8) || vault_id || object_id || version (u64 LE) || store_key. */
static void meta_ad_bytes(unsigned char out[META_AD_BYTES], const struct meta_ad *ad)
{
	unsigned char *p = out;

	*p++ = (unsigned char)ad->kind;
	memcpy(p, ad->vault_id, OBJECT_ID_BYTES);
	p += OBJECT_ID_BYTES;
	memcpy(p, ad->object_id, OBJECT_ID_BYTES);
	p += OBJECT_ID_BYTES;
	for (int i = 0; i < 8; i++)
		*p++ = (unsigned char)(ad->version >> (8 * i));
	memcpy(p, ad->store_key, OBJECT_ID_BYTES);
}

void meta_ad_set(struct meta_ad *ad, enum meta_kind kind, const uint8_t vault_id[OBJECT_ID_BYTES],
		 const uint8_t object_id[OBJECT_ID_BYTES], uint64_t version,
		 const uint8_t store_key[OBJECT_ID_BYTES])
{
	memset(ad, 0, sizeof(*ad));
	ad->kind = kind;
	ad->version = version;
	memcpy(ad->vault_id, vault_id, OBJECT_ID_BYTES);
	if (object_id)
		memcpy(ad->object_id, object_id, OBJECT_ID_BYTES);
	memcpy(ad->store_key, store_key, OBJECT_ID_BYTES);
}

int meta_seal(unsigned char **out, size_t *out_len, const void *plain, size_t len,
	      const struct meta_ad *ad, const unsigned char meta_key[32])
{
	/* sodium_pad always appends at least one byte: 0x80 then zeros. */
	size_t padded_max = (len / META_PAD_BLOCK + 1) * META_PAD_BLOCK;
	unsigned char adb[META_AD_BYTES];
	unsigned char *buf, *body;
	size_t padded;

	*out = NULL;
	*out_len = 0;
	if (len > META_MAX_PLAIN_BYTES)
		return -EFBIG;
	if (sodium_init() < 0) /* idempotent; picks the fastest ChaCha20 code */
		return -ENOMEM;
	if (len > 0 && !plain)
		return -EINVAL;
	buf = malloc(META_OVERHEAD_BYTES + padded_max);
	if (!buf)
		return -ENOMEM;
	body = buf + META_NONCE_BYTES;
	if (len > 0)
		memcpy(body, plain, len);
	/* The bytes sodium_pad writes (ISO/IEC 7816-4: 0x80, then zeros to the
	 * block), written directly: sodium_pad hides the length from timing by
	 * touching the whole last block byte by byte (a tenth of the daemon's
	 * work per atomic save), but the memcpy above already takes time in
	 * the length, and the store sees only the padded size either way.
	 * meta_open checks it with sodium_unpad. */
	body[len] = 0x80;
	memset(body + len + 1, 0, padded_max - len - 1);
	padded = padded_max;
	meta_ad_bytes(adb, ad);
	chunk_random_public(buf, META_NONCE_BYTES); /* the nonce */
	/* In place: the stream cipher XORs m into c, then Poly1305 reads c. */
	crypto_aead_xchacha20poly1305_ietf_encrypt(body, NULL, body, padded, adb, sizeof(adb), NULL,
						   buf, meta_key);
	*out = buf;
	*out_len = META_OVERHEAD_BYTES + padded;
	return 0;
}

static int meta_check_length(size_t sealed_len)
{
	size_t body;

	if (sealed_len < META_OVERHEAD_BYTES + META_PAD_BLOCK)
		return -EBADMSG;
	body = sealed_len - META_OVERHEAD_BYTES;
	if (body % META_PAD_BLOCK != 0 || body > META_MAX_PLAIN_BYTES + META_PAD_BLOCK)
		return -EBADMSG;
	return 0;
}

int meta_open(char **out, size_t *out_len, const unsigned char *sealed, size_t sealed_len,
	      const struct meta_ad *ad, const unsigned char meta_key[32])
{
	unsigned char adb[META_AD_BYTES];
	size_t padded, unpadded = 0;
	unsigned char *buf;

	*out = NULL;
	*out_len = 0;
	if (meta_check_length(sealed_len) != 0)
		return -EBADMSG;
	if (sodium_init() < 0)
		return -ENOMEM;
	padded = sealed_len - META_OVERHEAD_BYTES;
	buf = malloc(padded + 1);
	if (!buf)
		return -ENOMEM;
	meta_ad_bytes(adb, ad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(buf, NULL, NULL, sealed + META_NONCE_BYTES,
						       sealed_len - META_NONCE_BYTES, adb,
						       sizeof(adb), sealed, meta_key) != 0)
		goto bad;
	if (sodium_unpad(&unpadded, buf, padded, META_PAD_BLOCK) != 0)
		goto bad;
	buf[unpadded] = '\0';
	*out = (char *)buf;
	*out_len = unpadded;
	return 0;
bad:
	sodium_memzero(buf, padded + 1);
	free(buf);
	return -EBADMSG;
}

void meta_free_plain(char *plain, size_t len)
{
	if (!plain)
		return;
	sodium_memzero(plain, len);
	free(plain);
}
