/* test_meta.c - metadata objects: sizes and padding, a cross-check of the
 * spec against libsodium called directly, and every substitution the store
 * could try (older version, another directory, another key, head/dir kind). */
#include <errno.h>

#include "meta.h"
#include "vectors.h"

static unsigned char key[32], key2[32];
static struct meta_ad dir_ad;

static void setup(void)
{
	randombytes_buf(key, sizeof(key));
	randombytes_buf(key2, sizeof(key2));
	dir_ad.kind = META_KIND_DIR;
	randombytes_buf(dir_ad.vault_id, 16);
	randombytes_buf(dir_ad.object_id, 16);
	randombytes_buf(dir_ad.store_key, 16);
	dir_ad.version = 7;
}

static void test_roundtrip_sizes(void)
{
	static const size_t lens[] = {0, 1, 1023, 1024, 1025, 65536};
	unsigned char *plain = malloc(65536), *sealed;
	size_t sealed_len, out_len;
	char *out;

	randombytes_buf(plain, 65536);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		CHECK_RC(meta_seal(&sealed, &sealed_len, plain, lens[i], &dir_ad, key), 0);
		CHECK(sealed_len == 24 + 16 + (lens[i] / 1024 + 1) * 1024);
		CHECK_RC(meta_open(&out, &out_len, sealed, sealed_len, &dir_ad, key), 0);
		CHECK(out && out_len == lens[i] && memcmp(out, plain, lens[i]) == 0 &&
		      out[lens[i]] == '\0');
		meta_free_plain(out, out_len);
		free(sealed);
	}
	free(plain);
	meta_free_plain(NULL, 0);
}

/* docs/FORMAT.md "Metadata objects", by hand: AD = kind || vault || id ||
 * version LE || store key; body = plain || 0x80 || zeros to 1 KiB. */
static void test_spec_by_hand(void)
{
	const char *text = "{\"id\":\"x\",\"e\":[]}";
	unsigned char ad[57], m[1024], *sealed;
	unsigned long long mlen = 0;
	size_t sealed_len;

	CHECK_RC(meta_seal(&sealed, &sealed_len, text, strlen(text), &dir_ad, key), 0);
	CHECK(sealed_len == 1064);
	ad[0] = 1;
	memcpy(ad + 1, dir_ad.vault_id, 16);
	memcpy(ad + 17, dir_ad.object_id, 16);
	memcpy(ad + 33, "\x07\x00\x00\x00\x00\x00\x00\x00", 8);
	memcpy(ad + 41, dir_ad.store_key, 16);
	CHECK_RC(crypto_aead_xchacha20poly1305_ietf_decrypt(
		     m, &mlen, NULL, sealed + 24, sealed_len - 24, ad, sizeof(ad), sealed, key),
		 0);
	CHECK(mlen == 1024 && memcmp(m, text, strlen(text)) == 0 && m[strlen(text)] == 0x80 &&
	      check_all_zero(m + strlen(text) + 1, 1024 - strlen(text) - 1));
	free(sealed);
}

static void expect_reject(const unsigned char *sealed, size_t len, const struct meta_ad *ad,
			  const unsigned char *k, const char *what)
{
	char *out = (char *)1;
	size_t out_len = 1;
	int rc = meta_open(&out, &out_len, sealed, len, ad, k);

	CHECKF(rc == -EBADMSG && out == NULL && out_len == 0,
	       "meta tamper case accepted: %s (rc %d)", what, rc);
}

static void test_tamper(void)
{
	unsigned char *sealed, *t;
	struct meta_ad ad, head = {.kind = META_KIND_HEAD, .version = 7};
	size_t n;
	int bad = 0;

	CHECK_RC(meta_seal(&sealed, &n, "{}", 2, &dir_ad, key), 0);
	t = malloc(n);
	for (size_t i = 0; i < n; i++) {
		char *out = NULL;
		size_t out_len = 0;
		memcpy(t, sealed, n);
		t[i] ^= (unsigned char)(1u << (i % 8));
		if (meta_open(&out, &out_len, t, n, &dir_ad, key) != -EBADMSG || out)
			bad++;
	}
	CHECK(bad == 0);
	ad = dir_ad;
	ad.version = 6;
	expect_reject(sealed, n, &ad, key, "an older version of the directory");
	ad = dir_ad;
	ad.object_id[15] ^= 1;
	expect_reject(sealed, n, &ad, key, "another directory's object");
	ad = dir_ad;
	ad.store_key[0] ^= 1;
	expect_reject(sealed, n, &ad, key, "the object moved to another store key");
	ad = dir_ad;
	ad.vault_id[0] ^= 1;
	expect_reject(sealed, n, &ad, key, "another vault");
	expect_reject(sealed, n, &dir_ad, key2, "another metadata key");
	memcpy(head.vault_id, dir_ad.vault_id, 16);
	ad = head;
	ad.kind = META_KIND_DIR;
	free(sealed);
	CHECK_RC(meta_seal(&sealed, &n, "{}", 2, &head, key), 0);
	expect_reject(sealed, n, &ad, key, "a head read as a directory");
	expect_reject(sealed, n - 1024, &head, key, "a truncated head");
	ad = head;
	ad.version = 6;
	expect_reject(sealed, n, &ad, key, "a rolled-back head (older seq)");
	free(sealed);
	free(t);
}

static void test_lengths_and_padding(void)
{
	unsigned char buf[2200] = {0}, ad[57] = {0}, m[1024] = {0};
	struct meta_ad zero = {.kind = 0};
	unsigned char *sealed = NULL;
	size_t n = 0;

	expect_reject(buf, 0, &dir_ad, key, "empty");
	expect_reject(buf, 39, &dir_ad, key, "shorter than nonce and tag");
	expect_reject(buf, 40, &dir_ad, key, "no body");
	expect_reject(buf, 1063, &dir_ad, key, "body not a whole block");
	expect_reject(buf, 1065, &dir_ad, key, "body not a whole block");
	/* Authentic but not sodium_pad'ed: no 0x80 marker. */
	randombytes_buf(buf, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(buf + 24, NULL, m, sizeof(m), ad, sizeof(ad),
						   NULL, buf, key);
	expect_reject(buf, 1064, &zero, key, "authentic, malformed padding");
	m[0] = 0x80; /* control: the same object correctly padded opens, empty */
	crypto_aead_xchacha20poly1305_ietf_encrypt(buf + 24, NULL, m, sizeof(m), ad, sizeof(ad),
						   NULL, buf, key);
	{
		char *out = NULL;
		size_t out_len = 1;
		CHECK_RC(meta_open(&out, &out_len, buf, 1064, &zero, key), 0);
		CHECK(out && out_len == 0 && out[0] == '\0');
		meta_free_plain(out, out_len);
	}
	CHECK_RC(meta_seal(&sealed, &n, buf, (size_t)META_MAX_PLAIN_BYTES + 1, &dir_ad, key),
		 -EFBIG);
	CHECK(sealed == NULL && n == 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	setup();
	test_roundtrip_sizes();
	test_spec_by_hand();
	test_tamper();
	test_lengths_and_padding();
	return check_done("test_meta");
}
