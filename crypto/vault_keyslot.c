/* vault_keyslot.c - keyslots: the master key wrapped with
 * XChaCha20-Poly1305-IETF under a key-encryption key (docs/FORMAT.md,
 * "Keyslots"). Must never leave a key-encryption key or an unwrapped master
 * key outside sodium_malloc memory or unwiped. */
#include "vault_keyslot.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "hex.h"

#define KS_SALT_BYTES 16
#define KS_NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define KS_WRAPPED_BYTES (VAULT_KEY_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define KS_AD_PREFIX "sealfs-keyslot-v1"
#define KS_AD_MAX (sizeof(KS_AD_PREFIX) - 1 + OBJECT_ID_BYTES + 16)
#define KS_HEX_MAX (2 * KS_WRAPPED_BYTES + 1)

_Static_assert(KS_SALT_BYTES == crypto_pwhash_SALTBYTES, "argon2 salt size");
_Static_assert(KS_SALT_BYTES >= crypto_generichash_KEYBYTES_MIN, "recovery key size");

static const char *ks_type_name(enum vault_keyslot_type type)
{
	return type == VAULT_KEYSLOT_PASSPHRASE ? "passphrase" : "recovery";
}

static const char *ks_kdf_name(enum vault_keyslot_type type)
{
	return type == VAULT_KEYSLOT_PASSPHRASE ? "argon2id13" : "blake2b";
}

/* "sealfs-keyslot-v1" || vault_id || type name (ASCII, no NUL). */
static size_t ks_ad(unsigned char ad[KS_AD_MAX], const uint8_t vault_id[OBJECT_ID_BYTES],
		    enum vault_keyslot_type type)
{
	const char *name = ks_type_name(type);
	size_t n = sizeof(KS_AD_PREFIX) - 1;

	memcpy(ad, KS_AD_PREFIX, n);
	memcpy(ad + n, vault_id, OBJECT_ID_BYTES);
	n += OBJECT_ID_BYTES;
	memcpy(ad + n, name, strlen(name));
	return n + strlen(name);
}

static int ks_hex_field(unsigned char *out, size_t n, json_t *slot, const char *k)
{
	json_t *j = json_object_get(slot, k);

	if (!json_is_string(j))
		return -EBADMSG;
	return hex_decode(out, n, json_string_value(j), json_string_length(j)) ? -EBADMSG : 0;
}

int vault_keyslot_cost_ok(struct vault_kdf_cost c)
{
	/* The upper bounds are ours, far below libsodium's: the store must not be
	 * able to make an unlock run for years or exhaust memory. */
	return c.opslimit >= crypto_pwhash_argon2id_OPSLIMIT_MIN &&
	       c.opslimit <= VAULT_KDF_OPSLIMIT_MAX &&
	       c.memlimit >= crypto_pwhash_argon2id_MEMLIMIT_MIN &&
	       c.memlimit <= VAULT_KDF_MEMLIMIT_MAX;
}

static int ks_get_cost(struct vault_kdf_cost *c, json_t *slot)
{
	json_t *o = json_object_get(slot, "opslimit"), *m = json_object_get(slot, "memlimit");

	if (!json_is_integer(o) || !json_is_integer(m) || json_integer_value(o) < 0 ||
	    json_integer_value(m) < 0)
		return -EBADMSG;
	c->opslimit = (unsigned long long)json_integer_value(o);
	c->memlimit = (size_t)json_integer_value(m);
	return vault_keyslot_cost_ok(*c) ? 0 : -EBADMSG;
}

static int ks_exact_keys(json_t *slot, const char *const *keys)
{
	size_t n = 0;

	for (; keys[n]; n++)
		if (!json_object_get(slot, keys[n]))
			return -EBADMSG;
	return json_object_size(slot) == n ? 0 : -EBADMSG;
}

int vault_keyslot_check(json_t *slot, enum vault_keyslot_type *type)
{
	static const char *const pass_keys[] = {"type", "kdf",	 "opslimit", "memlimit",
						"salt", "nonce", "wrapped",  NULL};
	static const char *const rec_keys[] = {"type", "kdf", "salt", "nonce", "wrapped", NULL};
	unsigned char b[KS_WRAPPED_BYTES];
	struct vault_kdf_cost cost;
	const char *t = json_string_value(json_object_get(slot, "type"));
	const char *kdf = json_string_value(json_object_get(slot, "kdf"));

	if (!json_is_object(slot) || !t || !kdf)
		return -EBADMSG;
	if (strcmp(t, "passphrase") == 0)
		*type = VAULT_KEYSLOT_PASSPHRASE;
	else if (strcmp(t, "recovery") == 0)
		*type = VAULT_KEYSLOT_RECOVERY;
	else
		return -EBADMSG;
	if (ks_exact_keys(slot, *type == VAULT_KEYSLOT_PASSPHRASE ? pass_keys : rec_keys) ||
	    strcmp(kdf, ks_kdf_name(*type)) != 0 ||
	    (*type == VAULT_KEYSLOT_PASSPHRASE && ks_get_cost(&cost, slot)) ||
	    ks_hex_field(b, KS_SALT_BYTES, slot, "salt") ||
	    ks_hex_field(b, KS_NONCE_BYTES, slot, "nonce") ||
	    ks_hex_field(b, KS_WRAPPED_BYTES, slot, "wrapped"))
		return -EBADMSG;
	return 0;
}

static void ks_kek_recovery(unsigned char kek[VAULT_KEY_BYTES],
			    const unsigned char salt[KS_SALT_BYTES],
			    const uint8_t vault_id[OBJECT_ID_BYTES],
			    const unsigned char rkey[RECOVERY_KEY_BYTES])
{
	unsigned char in[KS_SALT_BYTES + OBJECT_ID_BYTES];

	memcpy(in, salt, KS_SALT_BYTES);
	memcpy(in + KS_SALT_BYTES, vault_id, OBJECT_ID_BYTES);
	crypto_generichash(kek, VAULT_KEY_BYTES, in, sizeof(in), rkey, RECOVERY_KEY_BYTES);
}

static int ks_kek_passphrase(unsigned char kek[VAULT_KEY_BYTES],
			     const unsigned char salt[KS_SALT_BYTES], const char *pass,
			     size_t pass_len, struct vault_kdf_cost c)
{
	if (crypto_pwhash(kek, VAULT_KEY_BYTES, pass, pass_len, salt, c.opslimit, c.memlimit,
			  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM; /* libsodium's only runtime failure here */
	return 0;
}

/* Builds the slot object around a wrap of master under kek. */
static int ks_build(json_t **out, enum vault_keyslot_type type, const unsigned char *salt,
		    const unsigned char *kek, const unsigned char *master,
		    const uint8_t vault_id[OBJECT_ID_BYTES])
{
	unsigned char nonce[KS_NONCE_BYTES], wrapped[KS_WRAPPED_BYTES], ad[KS_AD_MAX];
	char salt_hex[KS_HEX_MAX], nonce_hex[KS_HEX_MAX], wrapped_hex[KS_HEX_MAX];
	size_t ad_len = ks_ad(ad, vault_id, type);

	randombytes_buf(nonce, sizeof(nonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped, NULL, master, VAULT_KEY_BYTES, ad,
						   ad_len, NULL, nonce, kek);
	hex_encode(salt_hex, sizeof(salt_hex), salt, KS_SALT_BYTES);
	hex_encode(nonce_hex, sizeof(nonce_hex), nonce, sizeof(nonce));
	hex_encode(wrapped_hex, sizeof(wrapped_hex), wrapped, sizeof(wrapped));
	*out = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", ks_type_name(type), "kdf",
			 ks_kdf_name(type), "salt", salt_hex, "nonce", nonce_hex, "wrapped",
			 wrapped_hex);
	return *out ? 0 : -ENOMEM;
}

int vault_keyslot_new_passphrase(json_t **out, const uint8_t vault_id[OBJECT_ID_BYTES],
				 const unsigned char master[VAULT_KEY_BYTES], const char *pass,
				 size_t pass_len, struct vault_kdf_cost cost)
{
	unsigned char salt[KS_SALT_BYTES];
	unsigned char *kek;
	int r;

	*out = NULL;
	if (!vault_keyslot_cost_ok(cost))
		return -EINVAL;
	kek = sodium_malloc(VAULT_KEY_BYTES);
	if (!kek)
		return -ENOMEM;
	randombytes_buf(salt, sizeof(salt));
	r = ks_kek_passphrase(kek, salt, pass, pass_len, cost);
	if (r == 0)
		r = ks_build(out, VAULT_KEYSLOT_PASSPHRASE, salt, kek, master, vault_id);
	if (r == 0 &&
	    (json_object_set_new(*out, "opslimit", json_integer((json_int_t)cost.opslimit)) ||
	     json_object_set_new(*out, "memlimit", json_integer((json_int_t)cost.memlimit)))) {
		json_decref(*out);
		*out = NULL;
		r = -ENOMEM;
	}
	sodium_free(kek);
	return r;
}

int vault_keyslot_new_recovery(json_t **out, const uint8_t vault_id[OBJECT_ID_BYTES],
			       const unsigned char master[VAULT_KEY_BYTES],
			       const unsigned char rkey[RECOVERY_KEY_BYTES])
{
	unsigned char salt[KS_SALT_BYTES];
	unsigned char *kek = sodium_malloc(VAULT_KEY_BYTES);
	int r;

	*out = NULL;
	if (!kek)
		return -ENOMEM;
	randombytes_buf(salt, sizeof(salt));
	ks_kek_recovery(kek, salt, vault_id, rkey);
	r = ks_build(out, VAULT_KEYSLOT_RECOVERY, salt, kek, master, vault_id);
	sodium_free(kek);
	return r;
}

static int ks_unwrap(unsigned char master[VAULT_KEY_BYTES], json_t *slot,
		     enum vault_keyslot_type type, const unsigned char *kek,
		     const uint8_t vault_id[OBJECT_ID_BYTES])
{
	unsigned char nonce[KS_NONCE_BYTES], wrapped[KS_WRAPPED_BYTES], ad[KS_AD_MAX];
	size_t ad_len = ks_ad(ad, vault_id, type);

	if (ks_hex_field(nonce, sizeof(nonce), slot, "nonce") ||
	    ks_hex_field(wrapped, sizeof(wrapped), slot, "wrapped") ||
	    crypto_aead_xchacha20poly1305_ietf_decrypt(master, NULL, NULL, wrapped, sizeof(wrapped),
						       ad, ad_len, nonce, kek) != 0) {
		sodium_memzero(master, VAULT_KEY_BYTES);
		return -EACCES;
	}
	return 0;
}

int vault_keyslot_open_passphrase(unsigned char master[VAULT_KEY_BYTES], json_t *slot,
				  const uint8_t vault_id[OBJECT_ID_BYTES], const char *pass,
				  size_t pass_len)
{
	unsigned char salt[KS_SALT_BYTES];
	struct vault_kdf_cost cost;
	unsigned char *kek;
	int r;

	if (ks_hex_field(salt, sizeof(salt), slot, "salt") || ks_get_cost(&cost, slot))
		return -EACCES;
	kek = sodium_malloc(VAULT_KEY_BYTES);
	if (!kek)
		return -ENOMEM;
	r = ks_kek_passphrase(kek, salt, pass, pass_len, cost);
	if (r == 0)
		r = ks_unwrap(master, slot, VAULT_KEYSLOT_PASSPHRASE, kek, vault_id);
	sodium_free(kek);
	return r;
}

int vault_keyslot_open_recovery(unsigned char master[VAULT_KEY_BYTES], json_t *slot,
				const uint8_t vault_id[OBJECT_ID_BYTES],
				const unsigned char rkey[RECOVERY_KEY_BYTES])
{
	unsigned char salt[KS_SALT_BYTES];
	unsigned char *kek;
	int r;

	if (ks_hex_field(salt, sizeof(salt), slot, "salt"))
		return -EACCES;
	kek = sodium_malloc(VAULT_KEY_BYTES);
	if (!kek)
		return -ENOMEM;
	ks_kek_recovery(kek, salt, vault_id, rkey);
	r = ks_unwrap(master, slot, VAULT_KEYSLOT_RECOVERY, kek, vault_id);
	sodium_free(kek);
	return r;
}
