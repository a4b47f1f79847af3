/* vault.c - the vault config (sealfs.json): create, parse, serialise, MAC,
 * unlock, change keyslots, describe (docs/FORMAT.md, "Vault config").
 * Must never trust a config before its MAC verified, nor print or keep a
 * secret outside sodium_malloc memory. */
#include "vault.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "hex.h"
#include "recovery.h"
#include "vault_keyslot.h"

#define VAULT_KDF_CONTEXT "sealfsv1"
#define VAULT_SUBKEY_CONTENT 1
#define VAULT_SUBKEY_META 2
#define VAULT_SUBKEY_CONFIG 3
#define VAULT_KDF_CONTEXT_V2 "sealfsv2" /* docs/DESIGN-FORMAT-2.md, section 8 */
#define VAULT_SUBKEY_PIN 5
#define VAULT_SUBKEY_LEASE 6
#define VAULT_MAC_BYTES crypto_auth_BYTES
#define VAULT_MAX_KEYSLOTS 2

static json_t *vault_doc(const struct vault_config *cfg) { return cfg->priv; }

struct vault_kdf_cost vault_kdf_default(void)
{
	struct vault_kdf_cost c = {crypto_pwhash_OPSLIMIT_MODERATE,
				   crypto_pwhash_MEMLIMIT_MODERATE};
	return c;
}

void vault_keys_free(struct vault_keys *keys) { sodium_free(keys); /* wipes */ }

void vault_keys_keep_data_keys(struct vault_keys *keys)
{
	sodium_memzero(keys->master, sizeof(keys->master));
	sodium_memzero(keys->config, sizeof(keys->config));
}

void vault_config_free(struct vault_config *cfg)
{
	if (!cfg)
		return;
	json_decref(vault_doc(cfg));
	free(cfg);
}

/* New zeroed keys in sodium_malloc memory, or NULL. */
static struct vault_keys *vault_keys_alloc(void)
{
	struct vault_keys *k = sodium_malloc(sizeof(*k));

	if (k)
		sodium_memzero(k, sizeof(*k));
	return k;
}

static void vault_derive(struct vault_keys *k)
{
	crypto_kdf_derive_from_key(k->content, VAULT_KEY_BYTES, VAULT_SUBKEY_CONTENT,
				   VAULT_KDF_CONTEXT, k->master);
	crypto_kdf_derive_from_key(k->meta, VAULT_KEY_BYTES, VAULT_SUBKEY_META, VAULT_KDF_CONTEXT,
				   k->master);
	crypto_kdf_derive_from_key(k->config, VAULT_KEY_BYTES, VAULT_SUBKEY_CONFIG,
				   VAULT_KDF_CONTEXT, k->master);
	crypto_kdf_derive_from_key(k->pin, VAULT_KEY_BYTES, VAULT_SUBKEY_PIN, VAULT_KDF_CONTEXT_V2,
				   k->master);
	crypto_kdf_derive_from_key(k->lease, VAULT_KEY_BYTES, VAULT_SUBKEY_LEASE,
				   VAULT_KDF_CONTEXT_V2, k->master);
}

/* HMAC-SHA-512-256 of the compact, key-sorted JSON of doc without "mac". */
static int vault_mac(unsigned char mac[VAULT_MAC_BYTES], json_t *doc, const unsigned char *key)
{
	json_t *copy = json_copy(doc);
	char *text;

	if (!copy)
		return -ENOMEM;
	json_object_del(copy, "mac");
	text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(copy);
	if (!text)
		return -ENOMEM;
	crypto_auth(mac, (const unsigned char *)text, strlen(text), key);
	free(text);
	return 0;
}

static int vault_mac_set(json_t *doc, const struct vault_keys *keys)
{
	unsigned char mac[VAULT_MAC_BYTES];
	char hex[2 * VAULT_MAC_BYTES + 1];
	int r = vault_mac(mac, doc, keys->config);

	if (r)
		return r;
	hex_encode(hex, sizeof(hex), mac, sizeof(mac));
	return json_object_set_new(doc, "mac", json_string(hex)) ? -ENOMEM : 0;
}

/* 0 when doc's "mac" is right under keys; -EBADMSG otherwise. */
static int vault_mac_verify(json_t *doc, const struct vault_keys *keys)
{
	unsigned char want[VAULT_MAC_BYTES], got[VAULT_MAC_BYTES];
	json_t *j = json_object_get(doc, "mac");
	int r;

	if (!json_is_string(j) ||
	    hex_decode(got, sizeof(got), json_string_value(j), json_string_length(j)))
		return -EBADMSG;
	r = vault_mac(want, doc, keys->config);
	if (r)
		return r;
	return sodium_memcmp(want, got, sizeof(want)) == 0 ? 0 : -EBADMSG;
}

/* Index of the keyslot of that type in "keyslots", or -1. */
static int vault_find_slot(json_t *doc, enum vault_keyslot_type want)
{
	json_t *slots = json_object_get(doc, "keyslots"), *s;
	enum vault_keyslot_type t;
	size_t i;

	json_array_foreach(slots, i, s)
	{
		if (vault_keyslot_check(s, &t) == 0 && t == want)
			return (int)i;
	}
	return -1;
}

/* Puts slot (a new reference, stolen) in place of the slot of its type. */
static int vault_replace_slot(json_t *doc, enum vault_keyslot_type type, json_t *slot)
{
	json_t *slots = json_object_get(doc, "keyslots");
	int i = vault_find_slot(doc, type);

	if (i >= 0)
		return json_array_set_new(slots, (size_t)i, slot) ? -ENOMEM : 0;
	return json_array_append_new(slots, slot) ? -ENOMEM : 0;
}

/* ---- parse ---- */

static int vault_check_slots(json_t *slots)
{
	bool seen[2] = {false, false};
	enum vault_keyslot_type t;
	json_t *s;
	size_t i;

	if (!json_is_array(slots) || json_array_size(slots) == 0 ||
	    json_array_size(slots) > VAULT_MAX_KEYSLOTS)
		return -EBADMSG;
	json_array_foreach(slots, i, s)
	{
		if (vault_keyslot_check(s, &t) || seen[t])
			return -EBADMSG;
		seen[t] = true;
	}
	return 0;
}

static int vault_check_int(json_t *doc, const char *k, json_int_t want)
{
	json_t *j = json_object_get(doc, k);

	return json_is_integer(j) && json_integer_value(j) == want ? 0 : -EBADMSG;
}

/* The version gate first: a newer format may have any other fields. */
static int vault_check_format(json_t *doc)
{
	json_t *f = json_object_get(doc, "format");

	if (!json_is_integer(f) || json_integer_value(f) < VAULT_FORMAT_MIN)
		return -EBADMSG;
	return json_integer_value(f) > VAULT_FORMAT_VERSION ? -EPROTONOSUPPORT : 0;
}

static int vault_check_doc(struct vault_config *cfg, json_t *doc)
{
	json_t *id = json_object_get(doc, "vault_id"), *mac = json_object_get(doc, "mac");
	unsigned char m[VAULT_MAC_BYTES];
	int r = vault_check_format(doc);

	if (r)
		return r;
	if (suite_from_name(json_string_value(json_object_get(doc, "content_cipher")),
			    &cfg->suite) != 0)
		return json_is_string(json_object_get(doc, "content_cipher")) ? -EPROTONOSUPPORT
									      : -EBADMSG;
	if (json_object_size(doc) != 7 || !json_is_string(id) || !json_is_string(mac) ||
	    hex_decode(cfg->vault_id, OBJECT_ID_BYTES, json_string_value(id),
		       json_string_length(id)) ||
	    hex_decode(m, sizeof(m), json_string_value(mac), json_string_length(mac)) ||
	    vault_check_int(doc, "chunk_bytes", CHUNK_PLAIN_BYTES) ||
	    vault_check_int(doc, "segment_chunks", SEGMENT_CHUNKS) ||
	    vault_check_slots(json_object_get(doc, "keyslots")))
		return -EBADMSG;
	cfg->format = (int)json_integer_value(json_object_get(doc, "format"));
	return 0;
}

int vault_config_parse(struct vault_config **out, const char *text, size_t len)
{
	struct vault_config *cfg;
	json_t *doc;
	int r;

	*out = NULL;
	if (sodium_init() < 0)
		return -ENOMEM;
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return -EBADMSG;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		json_decref(doc);
		return -ENOMEM;
	}
	cfg->priv = doc;
	r = vault_check_doc(cfg, doc);
	if (r) {
		vault_config_free(cfg);
		return r;
	}
	*out = cfg;
	return 0;
}

int vault_config_serialize(char **out, size_t *out_len, const struct vault_config *cfg)
{
	char *text = json_dumps(vault_doc(cfg), JSON_INDENT(2) | JSON_SORT_KEYS);
	size_t n = text ? strlen(text) : 0;
	char *grown = text ? realloc(text, n + 2) : NULL;

	*out = NULL;
	*out_len = 0;
	if (!grown) {
		free(text);
		return -ENOMEM;
	}
	grown[n] = '\n'; /* a text file */
	grown[n + 1] = '\0';
	*out = grown;
	*out_len = n + 1;
	return 0;
}

/* ---- create ---- */

static json_t *vault_new_doc(const uint8_t vault_id[OBJECT_ID_BYTES], enum suite_id suite)
{
	char id_hex[2 * OBJECT_ID_BYTES + 1];

	hex_encode(id_hex, sizeof(id_hex), vault_id, OBJECT_ID_BYTES);
	return json_pack("{s:i, s:s, s:s, s:i, s:i, s:[]}", "format", VAULT_FORMAT_VERSION,
			 "vault_id", id_hex, "content_cipher", suite_name(suite), "chunk_bytes",
			 (int)CHUNK_PLAIN_BYTES, "segment_chunks", (int)SEGMENT_CHUNKS, "keyslots");
}

/* Adds a fresh recovery keyslot (replacing any) and writes its text. */
static int vault_add_recovery(json_t *doc, const uint8_t vault_id[OBJECT_ID_BYTES],
			      const struct vault_keys *keys, char *text, size_t text_size)
{
	unsigned char *rkey = sodium_malloc(RECOVERY_KEY_BYTES);
	json_t *slot = NULL;
	int r;

	if (!rkey)
		return -ENOMEM;
	randombytes_buf(rkey, RECOVERY_KEY_BYTES);
	r = recovery_encode(text, text_size, rkey);
	if (r == 0)
		r = vault_keyslot_new_recovery(&slot, vault_id, keys->master, rkey);
	if (r == 0)
		r = vault_replace_slot(doc, VAULT_KEYSLOT_RECOVERY, slot);
	sodium_free(rkey);
	if (r && text_size > 0)
		sodium_memzero(text, text_size);
	return r == -ENOSPC ? -EINVAL : r;
}

static int vault_fill(struct vault_config *cfg, const struct vault_keys *keys, const char *pass,
		      size_t pass_len, struct vault_kdf_cost cost, char *text, size_t text_size)
{
	json_t *slot = NULL;
	int r;

	cfg->priv = vault_new_doc(cfg->vault_id, cfg->suite);
	if (!cfg->priv)
		return -ENOMEM;
	r = vault_keyslot_new_passphrase(&slot, cfg->vault_id, keys->master, pass, pass_len, cost);
	if (r == 0)
		r = vault_replace_slot(vault_doc(cfg), VAULT_KEYSLOT_PASSPHRASE, slot);
	if (r == 0)
		r = vault_add_recovery(vault_doc(cfg), cfg->vault_id, keys, text, text_size);
	if (r == 0)
		r = vault_mac_set(vault_doc(cfg), keys);
	return r;
}

int vault_create(struct vault_config **cfg_out, struct vault_keys **keys_out, enum suite_id suite,
		 const char *pass, size_t pass_len, struct vault_kdf_cost cost, char *recovery_text,
		 size_t recovery_text_size)
{
	struct vault_config *cfg;
	struct vault_keys *keys;
	int r;

	*cfg_out = NULL;
	*keys_out = NULL;
	if (sodium_init() < 0)
		return -ENOMEM;
	if (!suite_available(suite) || !vault_keyslot_cost_ok(cost) ||
	    recovery_text_size < RECOVERY_TEXT_BYTES)
		return -EINVAL;
	cfg = calloc(1, sizeof(*cfg));
	keys = vault_keys_alloc();
	if (!cfg || !keys) {
		r = -ENOMEM;
		goto fail;
	}
	cfg->format = VAULT_FORMAT_VERSION;
	cfg->suite = suite;
	randombytes_buf(cfg->vault_id, OBJECT_ID_BYTES);
	crypto_kdf_keygen(keys->master);
	vault_derive(keys);
	r = vault_fill(cfg, keys, pass, pass_len, cost, recovery_text, recovery_text_size);
	if (r)
		goto fail;
	*cfg_out = cfg;
	*keys_out = keys;
	return 0;
fail:
	vault_config_free(cfg);
	vault_keys_free(keys);
	return r;
}

/* ---- unlock ---- */

/* Derives the subkeys from keys->master (just unwrapped), then checks the MAC. */
static int vault_finish_unlock(struct vault_keys **keys_out, struct vault_keys *keys,
			       const struct vault_config *cfg)
{
	int r;

	vault_derive(keys);
	r = vault_mac_verify(vault_doc(cfg), keys);
	if (r) {
		vault_keys_free(keys);
		return r;
	}
	*keys_out = keys;
	return 0;
}

int vault_unlock_passphrase(struct vault_keys **keys_out, const struct vault_config *cfg,
			    const char *pass, size_t pass_len)
{
	json_t *slots = json_object_get(vault_doc(cfg), "keyslots");
	int i = vault_find_slot(vault_doc(cfg), VAULT_KEYSLOT_PASSPHRASE);
	struct vault_keys *keys;
	int r;

	*keys_out = NULL;
	if (i < 0)
		return -EACCES;
	keys = vault_keys_alloc();
	if (!keys)
		return -ENOMEM;
	r = vault_keyslot_open_passphrase(keys->master, json_array_get(slots, (size_t)i),
					  cfg->vault_id, pass, pass_len);
	if (r) {
		vault_keys_free(keys);
		return r;
	}
	return vault_finish_unlock(keys_out, keys, cfg);
}

int vault_unlock_recovery(struct vault_keys **keys_out, const struct vault_config *cfg,
			  const char *text)
{
	json_t *slots = json_object_get(vault_doc(cfg), "keyslots");
	int i = vault_find_slot(vault_doc(cfg), VAULT_KEYSLOT_RECOVERY);
	struct vault_keys *keys = vault_keys_alloc();
	unsigned char *rkey = sodium_malloc(RECOVERY_KEY_BYTES);
	int r;

	*keys_out = NULL;
	r = keys && rkey ? recovery_decode(rkey, text) : -ENOMEM;
	if (r == 0 && i < 0)
		r = -EACCES;
	if (r == 0)
		r = vault_keyslot_open_recovery(keys->master, json_array_get(slots, (size_t)i),
						cfg->vault_id, rkey);
	sodium_free(rkey);
	if (r) {
		vault_keys_free(keys);
		return r;
	}
	return vault_finish_unlock(keys_out, keys, cfg);
}

/* ---- change keyslots ---- */

int vault_set_passphrase(struct vault_config *cfg, const struct vault_keys *keys, const char *pass,
			 size_t pass_len, struct vault_kdf_cost cost)
{
	json_t *slot = NULL;
	int r;

	if (vault_mac_verify(vault_doc(cfg), keys) != 0)
		return -EINVAL; /* keys of another vault, or an unverified config */
	r = vault_keyslot_new_passphrase(&slot, cfg->vault_id, keys->master, pass, pass_len, cost);
	if (r == 0)
		r = vault_replace_slot(vault_doc(cfg), VAULT_KEYSLOT_PASSPHRASE, slot);
	if (r == 0)
		r = vault_mac_set(vault_doc(cfg), keys);
	return r;
}

int vault_set_recovery(struct vault_config *cfg, const struct vault_keys *keys, char *recovery_text,
		       size_t recovery_text_size)
{
	int r;

	if (vault_mac_verify(vault_doc(cfg), keys) != 0 || recovery_text_size < RECOVERY_TEXT_BYTES)
		return -EINVAL;
	r = vault_add_recovery(vault_doc(cfg), cfg->vault_id, keys, recovery_text,
			       recovery_text_size);
	if (r == 0)
		r = vault_mac_set(vault_doc(cfg), keys);
	return r;
}

int vault_set_format(struct vault_config *cfg, const struct vault_keys *keys, int format)
{
	if (format < cfg->format || format > VAULT_FORMAT_VERSION ||
	    vault_mac_verify(vault_doc(cfg), keys) != 0)
		return -EINVAL;
	if (json_object_set_new(vault_doc(cfg), "format", json_integer(format)) != 0)
		return -ENOMEM;
	cfg->format = format;
	return vault_mac_set(vault_doc(cfg), keys);
}

/* ---- describe ---- */

struct vault_out {
	char *buf;
	size_t size, used;
	bool overflow;
};

__attribute__((format(printf, 2, 3))) static void vault_put(struct vault_out *o, const char *fmt,
							    ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, o->size - o->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->used) {
		o->overflow = true;
		return;
	}
	o->used += (size_t)n;
}

static void vault_describe_slot(struct vault_out *o, json_t *slot, size_t i)
{
	json_int_t ops = json_integer_value(json_object_get(slot, "opslimit"));
	json_int_t mem = json_integer_value(json_object_get(slot, "memlimit"));
	const char *type = json_string_value(json_object_get(slot, "type"));
	const char *kdf = json_string_value(json_object_get(slot, "kdf"));

	vault_put(o, "keyslot %zu:       %s, %s", i + 1, type, kdf);
	if (strcmp(type, "passphrase") == 0 && mem % (1 << 20) == 0)
		vault_put(o, ", opslimit %lld, memlimit %lld MiB", (long long)ops,
			  (long long)(mem >> 20));
	else if (strcmp(type, "passphrase") == 0)
		vault_put(o, ", opslimit %lld, memlimit %.3f MiB", (long long)ops,
			  (double)mem / (1 << 20));
	vault_put(o, "\n");
}

int vault_describe(const struct vault_config *cfg, char *buf, size_t size)
{
	struct vault_out o = {buf, size, 0, size == 0};
	char id_hex[2 * OBJECT_ID_BYTES + 1];
	json_t *slots = json_object_get(vault_doc(cfg), "keyslots"), *s;
	size_t i;

	if (size == 0)
		return -ENOSPC;
	buf[0] = '\0';
	hex_encode(id_hex, sizeof(id_hex), cfg->vault_id, OBJECT_ID_BYTES);
	vault_put(&o, "format:          %d\n", cfg->format);
	vault_put(&o, "vault id:        %s\n", id_hex);
	vault_put(&o, "content cipher:  %s\n", suite_name(cfg->suite));
	vault_put(&o, "chunk size:      %u bytes, %u chunks per segment\n", CHUNK_PLAIN_BYTES,
		  SEGMENT_CHUNKS);
	vault_put(&o, "metadata cipher: xchacha20poly1305\n");
	json_array_foreach(slots, i, s) { vault_describe_slot(&o, s, i); }
	return o.overflow ? -ENOSPC : 0;
}
