/* test_vault.c - the vault config: create, serialise, parse, unlock by
 * passphrase and by recovery key, change keyslots, describe; the spec
 * re-derived by hand; and every single-bit change of the stored config. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "check.h"
#include "hex.h"
#include "recovery.h"
#include "vault.h"

static const struct vault_kdf_cost fast = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};

static bool keys_eq(const struct vault_keys *a, const struct vault_keys *b)
{
	return a && b && sodium_memcmp(a, b, sizeof(*a)) == 0;
}

static char *serialize(const struct vault_config *cfg)
{
	char *s = NULL;
	size_t n = 0;

	CHECK_RC(vault_config_serialize(&s, &n, cfg), 0);
	CHECK(s && strlen(s) == n && s[n - 1] == '\n');
	return s;
}

static struct vault_config *parse(const char *s)
{
	struct vault_config *cfg = NULL;

	CHECK_RC(vault_config_parse(&cfg, s, strlen(s)), 0);
	return cfg;
}

/* Field of a keyslot of the given type, decoded from hex. */
static void slot_hex(unsigned char *out, size_t n, json_t *doc, const char *type, const char *k)
{
	json_t *s;
	size_t i;

	json_array_foreach(json_object_get(doc, "keyslots"), i, s)
	{
		if (strcmp(json_string_value(json_object_get(s, "type")), type) == 0)
			CHECK_RC(hex_decode(out, n, json_string_value(json_object_get(s, k)),
					    strlen(json_string_value(json_object_get(s, k)))),
				 0);
	}
}

/* docs/FORMAT.md "Vault config", by hand with jansson and libsodium. */
static void test_spec_by_hand(const char *text, const struct vault_keys *keys, const char *pass,
			      const char *rtext)
{
	json_t *doc = json_loads(text, 0, NULL);
	unsigned char id[16], salt[16], nonce[24], wrapped[48], kek[32], master[32], sub[32];
	unsigned char mac[32], want[32], rkey[16], ad[64];
	char *canon;

	CHECK(doc != NULL);
	if (!doc)
		return;
	CHECK_RC(hex_decode(id, 16, json_string_value(json_object_get(doc, "vault_id")), 32), 0);
	slot_hex(salt, 16, doc, "passphrase", "salt");
	slot_hex(nonce, 24, doc, "passphrase", "nonce");
	slot_hex(wrapped, 48, doc, "passphrase", "wrapped");
	CHECK_RC(crypto_pwhash(kek, 32, pass, strlen(pass), salt, fast.opslimit, fast.memlimit,
			       crypto_pwhash_ALG_ARGON2ID13),
		 0);
	memcpy(ad, "sealfs-keyslot-v1", 17);
	memcpy(ad + 17, id, 16);
	memcpy(ad + 33, "passphrase", 10);
	CHECK_RC(crypto_aead_xchacha20poly1305_ietf_decrypt(master, NULL, NULL, wrapped, 48, ad, 43,
							    nonce, kek),
		 0);
	CHECK(memcmp(master, keys->master, 32) == 0);
	CHECK_RC(recovery_decode(rkey, rtext), 0);
	slot_hex(salt, 16, doc, "recovery", "salt");
	slot_hex(nonce, 24, doc, "recovery", "nonce");
	slot_hex(wrapped, 48, doc, "recovery", "wrapped");
	memcpy(ad, salt, 16);
	memcpy(ad + 16, id, 16);
	crypto_generichash(kek, 32, ad, 32, rkey, 16);
	memcpy(ad, "sealfs-keyslot-v1", 17);
	memcpy(ad + 17, id, 16);
	memcpy(ad + 33, "recovery", 8);
	CHECK_RC(crypto_aead_xchacha20poly1305_ietf_decrypt(master, NULL, NULL, wrapped, 48, ad, 41,
							    nonce, kek),
		 0);
	CHECK(memcmp(master, keys->master, 32) == 0);
	crypto_kdf_derive_from_key(sub, 32, 1, "sealfsv1", master);
	CHECK(memcmp(sub, keys->content, 32) == 0);
	crypto_kdf_derive_from_key(sub, 32, 2, "sealfsv1", master);
	CHECK(memcmp(sub, keys->meta, 32) == 0);
	crypto_kdf_derive_from_key(sub, 32, 3, "sealfsv1", master);
	CHECK(memcmp(sub, keys->config, 32) == 0);
	CHECK_RC(hex_decode(mac, 32, json_string_value(json_object_get(doc, "mac")), 64), 0);
	json_object_del(doc, "mac");
	canon = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK(strncmp(canon, "{\"chunk_bytes\":4096,\"content_cipher\":\"", 38) == 0);
	crypto_auth(want, (const unsigned char *)canon, strlen(canon), sub);
	CHECK(memcmp(want, mac, 32) == 0);
	free(canon);
	json_decref(doc);
}

static void test_lifecycle(enum suite_id suite)
{
	struct vault_config *cfg = NULL, *cfg2;
	struct vault_keys *keys = NULL, *k2 = NULL;
	char rtext[RECOVERY_TEXT_BYTES], rtext2[RECOVERY_TEXT_BYTES], *text;

	CHECK_RC(vault_create(&cfg, &keys, suite, "pass one", 8, fast, rtext, sizeof(rtext)), 0);
	if (!cfg || !keys)
		return;
	CHECK(cfg->format == VAULT_FORMAT_VERSION && cfg->suite == suite && strlen(rtext) == 36);
	text = serialize(cfg);
	test_spec_by_hand(text, keys, "pass one", rtext);
	cfg2 = parse(text);
	CHECK(cfg2 && cfg2->format == VAULT_FORMAT_VERSION && cfg2->suite == suite &&
	      memcmp(cfg2->vault_id, cfg->vault_id, 16) == 0);
	CHECK_RC(vault_unlock_passphrase(&k2, cfg2, "pass one", 8), 0);
	CHECK(keys_eq(k2, keys));
	vault_keys_free(k2);
	CHECK_RC(vault_unlock_passphrase(&k2, cfg2, "pass onE", 8), -EACCES);
	CHECK(k2 == NULL);
	CHECK_RC(vault_unlock_passphrase(&k2, cfg2, "pass one", 7), -EACCES);
	CHECK_RC(vault_unlock_recovery(&k2, cfg2, rtext), 0);
	CHECK(keys_eq(k2, keys));
	vault_keys_free(k2);
	memcpy(rtext2, rtext, sizeof(rtext));
	rtext2[0] = rtext2[0] == 'A' ? 'B' : 'A'; /* a typo: the checksum catches it */
	CHECK_RC(vault_unlock_recovery(&k2, cfg2, rtext2), -EINVAL);
	CHECK_RC(vault_unlock_recovery(&k2, cfg2, "not a key"), -EINVAL);

	/* New passphrase: the old one stops working, the recovery key still works. */
	CHECK_RC(vault_set_passphrase(cfg2, keys, "pass two", 8, fast), 0);
	free(text);
	text = serialize(cfg2);
	vault_config_free(cfg2);
	cfg2 = parse(text);
	CHECK_RC(vault_unlock_passphrase(&k2, cfg2, "pass one", 8), -EACCES);
	CHECK_RC(vault_unlock_passphrase(&k2, cfg2, "pass two", 8), 0);
	CHECK(keys_eq(k2, keys));
	vault_keys_free(k2);
	CHECK_RC(vault_unlock_recovery(&k2, cfg2, rtext), 0);
	vault_keys_free(k2);

	/* New recovery key: the old text is refused by the keyslot. */
	CHECK_RC(vault_set_recovery(cfg2, keys, rtext2, sizeof(rtext2)), 0);
	CHECK(strcmp(rtext, rtext2) != 0);
	free(text);
	text = serialize(cfg2);
	vault_config_free(cfg2);
	cfg2 = parse(text);
	CHECK_RC(vault_unlock_recovery(&k2, cfg2, rtext), -EACCES);
	CHECK_RC(vault_unlock_recovery(&k2, cfg2, rtext2), 0);
	CHECK(keys_eq(k2, keys));
	vault_keys_free(k2);
	CHECK_RC(vault_unlock_passphrase(&k2, cfg2, "pass two", 8), 0);
	vault_keys_free(k2);

	free(text);
	vault_config_free(cfg2);
	vault_config_free(cfg);
	vault_keys_free(keys);
}

/* Every single-bit change of the stored config is refused: by the parser, by
 * the keyslot (-EACCES: the passphrase slot's own fields), or by the MAC. */
static void test_every_bit_flip(void)
{
	struct vault_config *cfg = NULL, *t;
	struct vault_keys *keys = NULL, *k;
	char rtext[RECOVERY_TEXT_BYTES], *text, *flipped, *again;
	int parse_err = 0, mac_err = 0, slot_err = 0, harmless = 0, accepted = 0;
	size_t n;

	CHECK_RC(
	    vault_create(&cfg, &keys, SUITE_XCHACHA20POLY1305, "pw", 2, fast, rtext, sizeof(rtext)),
	    0);
	text = serialize(cfg);
	n = strlen(text);
	flipped = malloc(n + 1);
	for (size_t i = 0; i < 8 * n; i++) {
		int rp, rr;
		memcpy(flipped, text, n + 1);
		flipped[i / 8] ^= (char)(1u << (i % 8));
		if (vault_config_parse(&t, flipped, n) != 0) {
			parse_err++;
			continue;
		}
		rp = vault_unlock_passphrase(&k, t, "pw", 2);
		vault_keys_free(k);
		rr = vault_unlock_recovery(&k, t, rtext);
		vault_keys_free(k);
		if (rp == -EBADMSG || rr == -EBADMSG)
			mac_err++;
		else if (rp == -EACCES || rr == -EACCES)
			slot_err++;
		if (rp == 0 || rr == 0) {
			/* only a change that parses to the same config may pass */
			size_t m;
			vault_config_serialize(&again, &m, t);
			if (strcmp(again, text) == 0 && rp == 0 && rr == 0)
				harmless++;
			else
				accepted++;
			free(again);
		}
		vault_config_free(t);
	}
	printf("config bit flips: %zu, parse errors %d, mac errors %d, keyslot errors %d, "
	       "same config %d\n",
	       8 * n, parse_err, mac_err, slot_err, harmless);
	CHECK(accepted == 0);
	CHECK(mac_err > 0 && slot_err > 0 && parse_err > 0);
	free(flipped);
	free(text);
	vault_config_free(cfg);
	vault_keys_free(keys);
}

static char *replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	size_t n = strlen(s) + strlen(to) + 1;
	char *out = malloc(n);

	if (!p) {
		snprintf(out, n, "%s", s);
		return out;
	}
	snprintf(out, n, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
	return out;
}

static void expect_parse(const char *text, int want, const char *what)
{
	struct vault_config *cfg = (struct vault_config *)1;
	int rc = vault_config_parse(&cfg, text, strlen(text));

	CHECKF(rc == want && (rc == 0 || cfg == NULL), "parse of %s returned %d, want %d", what, rc,
	       want);
	vault_config_free(rc == 0 ? cfg : NULL);
}

static void test_parse_errors(void)
{
	struct vault_config *cfg = NULL;
	struct vault_keys *keys = NULL;
	char rtext[RECOVERY_TEXT_BYTES], *text, *t;

	CHECK_RC(
	    vault_create(&cfg, &keys, SUITE_XCHACHA20POLY1305, "pw", 2, fast, rtext, sizeof(rtext)),
	    0);
	text = serialize(cfg);
	expect_parse(text, 0, "the config");
	expect_parse("", -EBADMSG, "empty text");
	expect_parse("not json", -EBADMSG, "not JSON");
	expect_parse("[1,2]", -EBADMSG, "an array");
	expect_parse("{\"format\":4}", -EPROTONOSUPPORT, "a bare newer format");
	expect_parse("{\"format\":0}", -EBADMSG, "format 0");
	expect_parse("{\"format\":\"1\"}", -EBADMSG, "format as a string");
	t = replace(text, "\"format\": 3", "\"format\": 4");
	expect_parse(t, -EPROTONOSUPPORT, "format 4");
	free(t);
	{
		/* Format 1 parses (and keeps its number); a format changed in
		 * the file is caught by the MAC, so a store cannot make a
		 * format-3 vault be read by the format-1 rules. */
		struct vault_config *c1 = NULL;
		struct vault_keys *k1 = NULL;
		t = replace(text, "\"format\": 3", "\"format\": 1");
		CHECK_RC(vault_config_parse(&c1, t, strlen(t)), 0);
		CHECK(c1 && c1->format == 1);
		CHECK_RC(vault_unlock_passphrase(&k1, c1, "pw", 2), -EBADMSG);
		vault_config_free(c1);
		free(t);
	}
	t = replace(text, "xchacha20poly1305", "aes128ocb");
	expect_parse(t, -EPROTONOSUPPORT, "an unknown cipher");
	free(t);
	t = replace(text, "\"chunk_bytes\": 4096", "\"chunk_bytes\": 8192");
	expect_parse(t, -EBADMSG, "another chunk size");
	free(t);
	t = replace(text, "\"format\": 3", "\"format\": 3, \"extra\": 1");
	expect_parse(t, -EBADMSG, "an unknown field");
	free(t);
	t = replace(text, "\"format\": 3,", "");
	expect_parse(t, -EBADMSG, "no format");
	free(t);
	t = replace(text, "\"kdf\": \"argon2id13\"", "\"kdf\": \"scrypt\"");
	expect_parse(t, -EBADMSG, "an unknown kdf");
	free(t);
	t = replace(text, "\"opslimit\": 1", "\"opslimit\": 0");
	expect_parse(t, -EBADMSG, "opslimit below the minimum");
	free(t);
	{
		/* A cipher swap parses, unwraps, and is caught by the MAC. */
		struct vault_config *c2 = NULL;
		struct vault_keys *k2 = NULL;
		t = replace(text, "\"xchacha20poly1305\"", "\"aes256gcm\"");
		CHECK_RC(vault_config_parse(&c2, t, strlen(t)), 0);
		CHECK_RC(vault_unlock_passphrase(&k2, c2, "pw", 2), -EBADMSG);
		CHECK_RC(vault_unlock_recovery(&k2, c2, rtext), -EBADMSG);
		CHECK(k2 == NULL);
		vault_config_free(c2);
		free(t);
	}
	t = replace(text, "\"type\": \"recovery\"", "\"type\": \"passphrase\"");
	expect_parse(t, -EBADMSG, "two passphrase slots");
	free(t);
	free(text);
	vault_config_free(cfg);
	vault_keys_free(keys);
}

static void test_create_errors_and_describe(void)
{
	struct vault_config *cfg = NULL, *other = NULL;
	struct vault_keys *keys = NULL, *okeys = NULL;
	struct vault_kdf_cost low = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN - 1};
	struct vault_kdf_cost mib8 = {2, 8u << 20};
	char rtext[RECOVERY_TEXT_BYTES], buf[1024], id_hex[33];

	CHECK_RC(
	    vault_create(&cfg, &keys, SUITE_XCHACHA20POLY1305, "pw", 2, low, rtext, sizeof(rtext)),
	    -EINVAL);
	CHECK(cfg == NULL && keys == NULL);
	CHECK_RC(vault_create(&cfg, &keys, SUITE_XCHACHA20POLY1305, "pw", 2, fast, rtext, 20),
		 -EINVAL);
	CHECK_RC(vault_create(&cfg, &keys, (enum suite_id)77, "pw", 2, fast, rtext, sizeof(rtext)),
		 -EINVAL);
	CHECK(vault_kdf_default().opslimit == crypto_pwhash_OPSLIMIT_MODERATE &&
	      vault_kdf_default().memlimit == crypto_pwhash_MEMLIMIT_MODERATE);
	CHECK_RC(vault_create(&cfg, &keys, suite_default(), "pw", 2, mib8, rtext, sizeof(rtext)),
		 0);
	CHECK_RC(vault_describe(cfg, buf, sizeof(buf)), 0);
	hex_encode(id_hex, sizeof(id_hex), cfg->vault_id, 16);
	printf("%s", buf);
	CHECK(strstr(buf, "format:          3\n") && strstr(buf, id_hex) &&
	      strstr(buf, suite_name(suite_default())) && strstr(buf, "4096 bytes") &&
	      strstr(buf, "passphrase, argon2id13, opslimit 2, memlimit 8 MiB") &&
	      strstr(buf, "recovery, blake2b"));
	CHECK(!strstr(buf, "salt") && !strstr(buf, "wrapped") && !strstr(buf, "mac"));
	CHECK_RC(vault_describe(cfg, buf, 40), -ENOSPC);
	CHECK_RC(vault_set_passphrase(cfg, keys, "pw", 2, fast), 0);
	CHECK_RC(vault_describe(cfg, buf, sizeof(buf)), 0);
	CHECK(strstr(buf, "opslimit 1, memlimit 0.008 MiB") != NULL);
	CHECK_RC(vault_create(&other, &okeys, SUITE_XCHACHA20POLY1305, "pw", 2, fast, rtext,
			      sizeof(rtext)),
		 0);
	CHECK_RC(vault_set_passphrase(cfg, okeys, "pw", 2, fast), -EINVAL); /* wrong vault */
	CHECK_RC(vault_set_recovery(cfg, okeys, rtext, sizeof(rtext)), -EINVAL);
	CHECK_RC(vault_set_passphrase(cfg, keys, "pw", 2, low), -EINVAL);
	vault_config_free(other);
	vault_keys_free(okeys);
	vault_config_free(cfg);
	vault_keys_free(keys);
	vault_config_free(NULL);
	vault_keys_free(NULL);
}

/* A format-1 config (the committed golden vault's) raised to format 2: the
 * MAC is recomputed, a lower or unknown format and another vault's keys are
 * refused. */
static void test_set_format(void)
{
	const char *data = getenv("SEALFS_TEST_DATA");
	char path[4096], rtext[64] = "", *text = NULL, *t2;
	struct vault_config *cfg = NULL, *c2 = NULL, *other = NULL;
	struct vault_keys *keys = NULL, *k2 = NULL, *okeys = NULL;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/golden-xchacha20poly1305/sealfs.json", data ? data : ".");
	f = fopen(path, "rb");
	CHECK(f != NULL);
	if (!f)
		return;
	text = calloc(1, 8192);
	n = (long)fread(text, 1, 8191, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/golden-xchacha20poly1305/recovery.txt", data);
	f = fopen(path, "rb");
	CHECK(f && fgets(rtext, sizeof(rtext), f));
	if (f)
		fclose(f);
	CHECK_RC(vault_config_parse(&cfg, text, (size_t)n), 0);
	CHECK(cfg && cfg->format == 1);
	CHECK_RC(vault_unlock_recovery(&keys, cfg, rtext), 0);
	CHECK_RC(vault_create(&other, &okeys, SUITE_XCHACHA20POLY1305, "pw", 2, fast, path,
			      sizeof(path)),
		 0);
	CHECK_RC(vault_set_format(cfg, okeys, 2), -EINVAL); /* another vault's keys */
	CHECK_RC(vault_set_format(cfg, keys, VAULT_FORMAT_VERSION + 1), -EINVAL);
	CHECK_RC(vault_set_format(cfg, keys, 0), -EINVAL);
	CHECK(cfg->format == 1);
	CHECK_RC(vault_set_format(cfg, keys, 2), 0);
	CHECK(cfg->format == 2);
	CHECK_RC(vault_set_format(cfg, keys, 1), -EINVAL); /* never back */
	t2 = serialize(cfg);
	CHECK(t2 && strstr(t2, "\"format\": 2,") != NULL);
	CHECK_RC(vault_config_parse(&c2, t2, strlen(t2)), 0);
	CHECK(c2 && c2->format == 2);
	CHECK_RC(vault_unlock_recovery(&k2, c2, rtext), 0); /* the new MAC verifies */
	if (k2) {					    /* 2 -> 3, never back */
		CHECK_RC(vault_set_format(c2, k2, 3), 0);
		CHECK(c2->format == 3);
		CHECK_RC(vault_set_format(c2, k2, 2), -EINVAL);
	}
	CHECK(keys_eq(keys, k2));
	free(t2);
	free(text);
	vault_keys_free(k2);
	vault_keys_free(keys);
	vault_keys_free(okeys);
	vault_config_free(c2);
	vault_config_free(cfg);
	vault_config_free(other);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_lifecycle(SUITE_XCHACHA20POLY1305);
	if (suite_available(SUITE_AES256GCM))
		test_lifecycle(SUITE_AES256GCM);
	test_every_bit_flip();
	test_parse_errors();
	test_create_errors_and_describe();
	test_set_format();
	return check_done("test_vault");
}
