/* test_chunk.c - content chunks: known answers for both suites, a cross-check
 * of the spec against libsodium's primitives called directly, and every
 * tampering that must fail with a zeroed output. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chunk.h"
#include "vectors.h"

/* Where every key of these tests lives, as in a mount (made in main). */
static struct secmem_pool *keys;

/* Fixed inputs of the known-answer tests. */
static unsigned char kat_content_key[32]; /* 00 01 .. 1f */
static struct chunk_ad kat_ad;		  /* vault 10.., file a0.., segment c0.., index 1, last */
static unsigned char kat_nonce[24];	  /* 40 41 .. 57 */
static unsigned char kat_plain[100];	  /* "sealfs chunk kat " repeated */

static void kat_init(void)
{
	static const char text[] = "sealfs chunk kat ";

	for (int i = 0; i < 32; i++)
		kat_content_key[i] = (unsigned char)i;
	for (int i = 0; i < 16; i++) {
		kat_ad.vault_id[i] = (uint8_t)(0x10 + i);
		kat_ad.file_id[i] = (uint8_t)(0xa0 + i);
		kat_ad.segment_key[i] = (uint8_t)(0xc0 + i);
	}
	kat_ad.index = 1;
	kat_ad.last = true;
	for (int i = 0; i < 24; i++)
		kat_nonce[i] = (unsigned char)(0x40 + i);
	for (size_t i = 0; i < sizeof(kat_plain); i++)
		kat_plain[i] = (unsigned char)text[i % (sizeof(text) - 1)];
}

struct kat {
	enum suite_id suite;
	const char *file_key; /* per-file key, before any AES expansion */
	const char *head;     /* nonce and the first 16 ciphertext bytes */
	const char *tag;      /* the last 16 bytes */
	const char *sha256;   /* of the whole sealed chunk */
};

static const struct kat kats[] = {
    {SUITE_AES256GCM, "bbfa4e5f708ed9c9b6be1eac0baaa3c2a8f410e102ecd3b5cd7c7be5fe84e8d8",
     "404142434445464748494a4bbb49e2ad21b92059e3d8f560ed87eae4", "3e6441ec42e0439a3b154cf20b06d2bc",
     "08963a6304e5d3e72777b2f3bceafe5f23c77ba99331f79390d6530ca7511903"},
    {SUITE_XCHACHA20POLY1305, "bbfa4e5f708ed9c9b6be1eac0baaa3c2a8f410e102ecd3b5cd7c7be5fe84e8d8",
     "404142434445464748494a4b4c4d4e4f505152535455565773b013ea1b3bbeef2160001abdd3812b",
     "e5b414662cc9d8e398cf5a382261efa8",
     "d7d6a79aaf0bb287c57f76f455538b4d6b1950d15ea77d563f91539754ccfaf6"},
};

/* The spec, written out by hand from docs/FORMAT.md "Content": the per-file
 * key, the 57-byte associated data, the zero-padded chunk, nonce||ct||tag. */
static void spec_seal(unsigned char *out, enum suite_id suite)
{
	unsigned char fk[32], ad[57], m[CHUNK_PLAIN_BYTES];
	size_t nlen = suite == SUITE_AES256GCM ? 12 : 24;
	unsigned long long clen = 0;

	crypto_generichash_blake2b_salt_personal(fk, 32, NULL, 0, kat_content_key, 32,
						 kat_ad.file_id,
						 (const unsigned char *)"sealfs-filekey01");
	memcpy(ad, kat_ad.vault_id, 16);
	memcpy(ad + 16, kat_ad.file_id, 16);
	memcpy(ad + 32, kat_ad.segment_key, 16);
	memcpy(ad + 48, "\x01\x00\x00\x00\x00\x00\x00\x00", 8); /* index 1, LE */
	ad[56] = 1;						/* last */
	memset(m, 0, sizeof(m));
	memcpy(m, kat_plain, sizeof(kat_plain));
	memcpy(out, kat_nonce, nlen);
	if (suite == SUITE_AES256GCM)
		crypto_aead_aes256gcm_encrypt(out + nlen, &clen, m, sizeof(m), ad, sizeof(ad), NULL,
					      kat_nonce, fk);
	else
		crypto_aead_xchacha20poly1305_ietf_encrypt(out + nlen, &clen, m, sizeof(m), ad,
							   sizeof(ad), NULL, kat_nonce, fk);
	CHECK(clen == CHUNK_PLAIN_BYTES + 16);
}

static void test_kat(const struct kat *k)
{
	size_t n = chunk_sealed_bytes(k->suite), nlen = suite_nonce_bytes(k->suite);
	unsigned char sealed[4200], spec[4200], plain[CHUNK_PLAIN_BYTES], fk[32], h[32];
	struct chunk_key *key = chunk_key_new(keys, k->suite, kat_content_key, kat_ad.file_id);

	CHECK(key != NULL);
	if (!key)
		return;
	crypto_generichash_blake2b_salt_personal(fk, 32, NULL, 0, kat_content_key, 32,
						 kat_ad.file_id,
						 (const unsigned char *)"sealfs-filekey01");
	CHECK(check_hex_eq(fk, 32, k->file_key));
	CHECK_RC(
	    chunk_seal_with_nonce(sealed, kat_plain, sizeof(kat_plain), &kat_ad, key, kat_nonce),
	    0);
	CHECK(check_hex_eq(sealed, nlen + 16, k->head));
	CHECK(check_hex_eq(sealed + n - 16, 16, k->tag));
	crypto_hash_sha256(h, sealed, n);
	CHECK(check_hex_eq(h, 32, k->sha256));
	spec_seal(spec, k->suite);
	CHECK(memcmp(spec, sealed, n) == 0);
	CHECK_RC(chunk_open(plain, sealed, &kat_ad, key), 0);
	CHECK(memcmp(plain, kat_plain, sizeof(kat_plain)) == 0);
	CHECK(check_all_zero(plain + sizeof(kat_plain), sizeof(plain) - sizeof(kat_plain)));
	chunk_key_free(key);
}

/* Opening must fail with -EBADMSG and leave plain all zeros. */
static void expect_reject(const unsigned char *sealed, const struct chunk_ad *ad,
			  const struct chunk_key *key, const char *what)
{
	unsigned char plain[CHUNK_PLAIN_BYTES];
	int rc;

	memset(plain, 0xaa, sizeof(plain));
	rc = chunk_open(plain, sealed, ad, key);
	CHECKF(rc == -EBADMSG && check_all_zero(plain, sizeof(plain)),
	       "tamper case accepted or output not zeroed: %s (rc %d)", what, rc);
}

static void test_open_rejects_every_flipped_bit(enum suite_id suite, const struct chunk_key *key,
						const struct chunk_ad *ad,
						const unsigned char *sealed)
{
	size_t n = chunk_sealed_bytes(suite);
	unsigned char *t = malloc(n);
	int bad = 0;

	for (size_t i = 0; t && i < n; i++) {
		unsigned char plain[CHUNK_PLAIN_BYTES];
		memcpy(t, sealed, n);
		t[i] ^= (unsigned char)(1u << (i % 8));
		memset(plain, 0xaa, sizeof(plain));
		if (chunk_open(plain, t, ad, key) != -EBADMSG ||
		    !check_all_zero(plain, sizeof(plain)))
			bad++;
	}
	CHECK(t != NULL && bad == 0); /* nonce, ciphertext and tag bytes alike */
	free(t);
}

static void test_tamper(enum suite_id suite)
{
	unsigned char ck[32], ck2[32], plain[CHUNK_PLAIN_BYTES], got[CHUNK_PLAIN_BYTES];
	unsigned char s5[4200], s6[4200];
	uint8_t file_b[16];
	struct chunk_ad ad = {.index = 5, .last = false}, ad6, other;
	struct chunk_key *ka, *kb, *kc;

	randombytes_buf(ck, sizeof(ck));
	randombytes_buf(ck2, sizeof(ck2));
	randombytes_buf(ad.vault_id, 16);
	randombytes_buf(ad.file_id, 16);
	randombytes_buf(ad.segment_key, 16);
	randombytes_buf(file_b, 16);
	randombytes_buf(plain, sizeof(plain));
	ka = chunk_key_new(keys, suite, ck, ad.file_id);
	kb = chunk_key_new(keys, suite, ck, file_b);
	kc = chunk_key_new(keys, suite, ck2, ad.file_id);
	CHECK(ka && kb && kc);
	if (!ka || !kb || !kc)
		goto out;
	ad6 = ad;
	ad6.index = 6;
	CHECK_RC(chunk_seal(s5, plain, sizeof(plain), &ad, ka), 0);
	CHECK_RC(chunk_seal(s6, plain, sizeof(plain), &ad6, ka), 0);
	CHECK_RC(chunk_open(got, s5, &ad, ka), 0);
	CHECK(memcmp(got, plain, sizeof(plain)) == 0);
	test_open_rejects_every_flipped_bit(suite, ka, &ad, s5);
	expect_reject(s6, &ad, ka, "chunks swapped (6 read at 5)");
	expect_reject(s5, &ad6, ka, "chunks swapped (5 read at 6)");
	other = ad;
	memcpy(other.file_id, file_b, 16);
	expect_reject(s5, &other, kb, "chunk from another file (its key and id)");
	expect_reject(s5, &other, ka, "chunk from another file (id in ad only)");
	expect_reject(s5, &ad, kb, "chunk under another file's key");
	other = ad;
	other.segment_key[3] ^= 1;
	expect_reject(s5, &other, ka, "chunk from another segment key");
	other = ad;
	other.last = true;
	expect_reject(s5, &other, ka, "last flag set on a middle chunk (truncation)");
	other = ad;
	other.vault_id[0] ^= 0x80;
	expect_reject(s5, &other, ka, "chunk from another vault");
	expect_reject(s5, &ad, kc, "another content key");
out:
	chunk_key_free(ka);
	chunk_key_free(kb);
	chunk_key_free(kc);
}

static void test_seal_basics(enum suite_id suite)
{
	unsigned char ck[32] = {1}, s1[4200], s2[4200], got[CHUNK_PLAIN_BYTES];
	unsigned char big[CHUNK_PLAIN_BYTES + 1] = {0};
	struct chunk_ad ad = {.index = 0, .last = true};
	struct chunk_key *k = chunk_key_new(keys, suite, ck, ad.file_id);
	size_t n = chunk_sealed_bytes(suite);

	CHECK(k != NULL);
	if (!k)
		return;
	CHECK_RC(chunk_seal(s1, big, sizeof(big), &ad, k), -EINVAL);
	CHECK_RC(chunk_seal(s1, (const unsigned char *)"x", 1, &ad, k), 0);
	CHECK_RC(chunk_seal(s2, (const unsigned char *)"x", 1, &ad, k), 0);
	CHECK(memcmp(s1, s2, n) != 0); /* a fresh random nonce per seal */
	CHECK(memcmp(s1, s2, suite_nonce_bytes(suite)) != 0);
	CHECK_RC(chunk_open(got, s2, &ad, k), 0);
	CHECK(got[0] == 'x' && check_all_zero(got + 1, sizeof(got) - 1));
	CHECK_RC(chunk_seal(s1, NULL, 0, &ad, k), 0); /* an all-zero chunk */
	CHECK_RC(chunk_open(got, s1, &ad, k), 0);
	CHECK(check_all_zero(got, sizeof(got)));
	chunk_key_free(k);
}

static void test_layout(void)
{
	const uint64_t mib = 1 << 20;

	CHECK(chunk_sealed_bytes(SUITE_AES256GCM) == 4124);
	CHECK(chunk_sealed_bytes(SUITE_XCHACHA20POLY1305) == 4136);
	CHECK(chunk_file_chunks(0) == 0 && chunk_file_chunks(1) == 1);
	CHECK(chunk_file_chunks(4096) == 1 && chunk_file_chunks(4097) == 2);
	CHECK(chunk_file_segments(0) == 0 && chunk_file_segments(1) == 1);
	CHECK(chunk_file_segments(mib) == 1 && chunk_file_segments(mib + 1) == 2);
	CHECK(chunk_segment_stored_bytes(SUITE_AES256GCM, 0, 0) == 0);
	CHECK(chunk_segment_stored_bytes(SUITE_AES256GCM, 1, 0) == 4124);
	CHECK(chunk_segment_stored_bytes(SUITE_AES256GCM, mib, 0) == 256 * 4124);
	CHECK(chunk_segment_stored_bytes(SUITE_XCHACHA20POLY1305, mib + 1, 0) == 256 * 4136);
	CHECK(chunk_segment_stored_bytes(SUITE_XCHACHA20POLY1305, mib + 1, 1) == 4136);
	CHECK(chunk_segment_stored_bytes(SUITE_XCHACHA20POLY1305, mib + 1, 2) == 0);
	CHECK(chunk_key_new(keys, (enum suite_id)99, kat_content_key, kat_ad.file_id) == NULL);
	chunk_key_free(NULL);
}

/* A pool whose slots cannot hold a key is refused, not overflowed. */
static void test_small_pool_refused(void)
{
	struct secmem_pool *small = secmem_pool_new(64, NULL, NULL);

	CHECK(small != NULL);
	if (small)
		CHECK(chunk_key_new(small, SUITE_XCHACHA20POLY1305, kat_content_key,
				    kat_ad.file_id) == NULL);
	secmem_pool_free(small);
}

/* A forked child must not reuse nonces its parent drew but had not used yet. */
static void test_seal_nonces_differ_across_fork(void)
{
	enum suite_id suite = SUITE_XCHACHA20POLY1305;
	struct chunk_key *key = chunk_key_new(keys, suite, kat_content_key, kat_ad.file_id);
	size_t sz = chunk_sealed_bytes(suite), nlen = suite_nonce_bytes(suite);
	unsigned char *a = malloc(sz), *b = malloc(sz);
	int fds[2];
	pid_t pid;

	CHECK(key && a && b && pipe(fds) == 0);
	CHECK(chunk_seal(a, kat_plain, sizeof(kat_plain), &kat_ad, key) == 0); /* fills the pool */
	pid = fork();
	if (pid == 0) {
		int ok = chunk_seal(b, kat_plain, sizeof(kat_plain), &kat_ad, key) == 0 &&
			 write(fds[1], b, nlen) == (ssize_t)nlen;
		_exit(ok ? 0 : 1);
	}
	CHECK(pid > 0);
	CHECK(chunk_seal(a, kat_plain, sizeof(kat_plain), &kat_ad, key) == 0);
	CHECK(read(fds[0], b, nlen) == (ssize_t)nlen);
	CHECK(memcmp(a, b, nlen) != 0);
	for (int st = 0; pid > 0 && waitpid(pid, &st, 0) == pid;)
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(fds[0]);
	close(fds[1]);
	free(a);
	free(b);
	chunk_key_free(key);
}

/* The known answers hold for keys anywhere in the pool: here past the first
 * regions, behind thousands of other keys, and with their neighbours freed. */
static void test_kat_in_a_crowded_pool(const struct kat *k)
{
	enum { FILL = 5000 };
	struct chunk_key **fill = calloc(FILL, sizeof(*fill));
	unsigned char ck[32];
	size_t n = 0;

	CHECK(fill != NULL);
	randombytes_buf(ck, sizeof(ck));
	for (; fill && n < FILL; n++) {
		uint8_t id[16] = {(uint8_t)n, (uint8_t)(n >> 8)};
		if (!(fill[n] = chunk_key_new(keys, k->suite, ck, id)))
			break;
		CHECK((uintptr_t)fill[n] % 16 == 0); /* the AES state comes first */
	}
	CHECK(n == FILL);
	for (size_t i = 0; i < n; i += 2) /* free every other one: holes between */
		chunk_key_free(fill[i]);
	test_kat(k);
	for (size_t i = 1; i < n; i += 2)
		chunk_key_free(fill[i]);
	free(fill);
}

/* 20,000 live keys cost a few regions, not four mappings each (the old design
 * of one sodium_malloc per key: 80,000 mappings, over vm.max_map_count). */
static void test_many_keys_few_mappings(void)
{
	enum { NKEYS = 20000 };
	struct chunk_key **k = calloc(NKEYS, sizeof(*k));
	long before = check_maps_count(), during, after;
	struct secmem_stats st, after_st;
	size_t n = 0;

	CHECK(k != NULL && before > 0);
	for (; k && n < NKEYS; n++) {
		uint8_t id[16] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16)};
		if (!(k[n] = chunk_key_new(keys, SUITE_XCHACHA20POLY1305, kat_content_key, id)))
			break;
	}
	CHECK(n == NKEYS);
	during = check_maps_count();
	secmem_pool_stats(keys, &st);
	printf("%d keys: %zu regions, %zu KiB, maps %ld -> %ld\n", NKEYS, st.regions,
	       st.region_bytes >> 10, before, during);
	CHECK(during - before < 100);
	CHECK(st.slots_used >= n && st.region_bytes < (size_t)NKEYS * 1024);
	for (size_t i = 0; i < n; i++)
		chunk_key_free(k[i]);
	after = check_maps_count();
	/* The regions are unmapped (about 4 mappings each; one empty one is
	 * kept); what stays is malloc's own, more under ASan's quarantine. */
	secmem_pool_stats(keys, &after_st);
	CHECK(after_st.regions <= 1 && after_st.slots_used == 0);
	CHECK(during - after >= 3 * (long)(st.regions - after_st.regions));
	CHECK(after - before < 100);
	free(k);
}

int main(void)
{
	if (sodium_init() < 0 || !(keys = chunk_key_pool_new(NULL, NULL)))
		return 1;
	kat_init();
	test_many_keys_few_mappings();
	test_layout();
	test_seal_nonces_differ_across_fork();
	for (size_t i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		if (!suite_available(kats[i].suite)) {
			printf("suite %s unavailable on this cpu: skipped\n",
			       suite_name(kats[i].suite));
			continue;
		}
		test_kat(&kats[i]);
		test_kat_in_a_crowded_pool(&kats[i]);
		test_tamper(kats[i].suite);
		test_seal_basics(kats[i].suite);
	}
	test_small_pool_refused();
	secmem_pool_free(keys);
	return check_done("test_chunk");
}
