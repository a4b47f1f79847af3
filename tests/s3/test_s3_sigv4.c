/* test_s3_sigv4.c - SigV4 against the four worked examples AWS publishes in
 * "Signature Calculations for the Authorization Header: Transferring Payload
 * in a Single Chunk" (Amazon S3 API reference, sig-v4-header-based-auth), and
 * the URI encoding rules. The expected strings are the published ones. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "s3_sigv4.h"

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define HOST "examplebucket.s3.amazonaws.com"
#define DATE "20130524T000000Z"
#define EMPTY S3_SIGV4_EMPTY_SHA256
#define SCOPE AK "/20130524/us-east-1/s3/aws4_request"

/* keys: made in main (the signing keys' locked slots). */
static struct s3_sigv4_creds creds = {AK, SK, NULL, NULL};

struct example {
	const char *name;
	struct s3_sigv4_request req;
	const char *canonical, *sts, *signature, *authorization;
};

static void check_example(const struct example *e)
{
	struct s3_sigv4_result r;
	int rc = s3_sigv4_sign(&r, &e->req, &creds);
	CHECKF(rc == 0, "%s: sign returned %d", e->name, rc);
	if (rc)
		return;
	CHECKF(strcmp(r.canonical_request, e->canonical) == 0,
	       "%s: canonical request\n%s\n--want--\n%s", e->name, r.canonical_request,
	       e->canonical);
	CHECKF(strcmp(r.string_to_sign, e->sts) == 0, "%s: string to sign\n%s", e->name,
	       r.string_to_sign);
	CHECKF(strcmp(r.signature, e->signature) == 0, "%s: signature %s", e->name, r.signature);
	CHECKF(strcmp(r.authorization, e->authorization) == 0, "%s: authorization %s", e->name,
	       r.authorization);
	s3_sigv4_result_release(&r);
}

static void test_sign_get_object_with_range(void)
{
	static const struct s3_sigv4_header h[] = {{"Host", HOST},
						   {"Range", "bytes=0-9"},
						   {"x-amz-content-sha256", EMPTY},
						   {"x-amz-date", DATE}};
	struct example e = {
	    "GET Object",
	    {"GET", "/test.txt", NULL, 0, h, 4, EMPTY, DATE, "us-east-1", "s3"},
	    "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
	    "x-amz-content-sha256:" EMPTY "\nx-amz-date:20130524T000000Z\n\n"
	    "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY,
	    "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
	    "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
	    "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
	    "AWS4-HMAC-SHA256 Credential=" SCOPE ",SignedHeaders=host;range;x-amz-content-sha256;"
	    "x-amz-date,Signature="
	    "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"};
	check_example(&e);
}

static void test_sign_put_object(void)
{
	const char *body = "Welcome to Amazon S3.";
	char hash[S3_SIGV4_HEX_BYTES], path[64];
	s3_sigv4_sha256_hex(hash, body, strlen(body));
	CHECKF(strcmp(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072") ==
		   0,
	       "payload hash %s", hash);
	path[0] = '/';
	s3_sigv4_uri_encode(path + 1, sizeof path - 1, "test$file.text", 1);
	struct s3_sigv4_header h[] = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
				      {"Host", HOST},
				      {"x-amz-content-sha256", hash},
				      {"x-amz-date", DATE},
				      {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
	struct example e = {
	    "PUT Object",
	    {"PUT", path, NULL, 0, h, 5, hash, DATE, "us-east-1", "s3"},
	    "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
	    "host:examplebucket.s3.amazonaws.com\n"
	    "x-amz-content-sha256:"
	    "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
	    "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
	    "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
	    "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
	    "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
	    "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
	    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
	    "AWS4-HMAC-SHA256 Credential=" SCOPE ",SignedHeaders=date;host;x-amz-content-sha256;"
	    "x-amz-date;x-amz-storage-class,"
	    "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"};
	check_example(&e);
}

static void test_sign_get_bucket_lifecycle(void)
{
	static const struct s3_sigv4_header h[] = {
	    {"x-amz-date", DATE}, {"host", HOST}, {"x-amz-content-sha256", EMPTY}};
	static const struct s3_sigv4_param q[] = {{"lifecycle", ""}};
	struct example e = {
	    "GET Bucket Lifecycle",
	    {"GET", "/", q, 1, h, 3, EMPTY, DATE, "us-east-1", "s3"},
	    "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n"
	    "x-amz-content-sha256:" EMPTY "\nx-amz-date:20130524T000000Z\n\n"
	    "host;x-amz-content-sha256;x-amz-date\n" EMPTY,
	    "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
	    "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
	    "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
	    "AWS4-HMAC-SHA256 Credential=" SCOPE
	    ",SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
	    "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"};
	check_example(&e);
}

static void test_sign_list_objects_sorts_query(void)
{
	static const struct s3_sigv4_header h[] = {
	    {"host", HOST}, {"x-amz-content-sha256", EMPTY}, {"x-amz-date", DATE}};
	/* given out of order: the canonical form sorts by name */
	static const struct s3_sigv4_param q[] = {{"prefix", "J"}, {"max-keys", "2"}};
	struct example e = {
	    "GET Bucket (List Objects)",
	    {"GET", "/", q, 2, h, 3, EMPTY, DATE, "us-east-1", "s3"},
	    "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n"
	    "x-amz-content-sha256:" EMPTY "\nx-amz-date:20130524T000000Z\n\n"
	    "host;x-amz-content-sha256;x-amz-date\n" EMPTY,
	    "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
	    "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
	    "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
	    "AWS4-HMAC-SHA256 Credential=" SCOPE
	    ",SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
	    "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"};
	check_example(&e);
}

static void check_enc(const char *in, int keep_slash, const char *want)
{
	char out[256];
	size_t n = s3_sigv4_uri_encode(out, sizeof out, in, keep_slash);
	CHECKF(strcmp(out, want) == 0 && n == strlen(want), "encode(%s,%d) = %s, want %s", in,
	       keep_slash, out, want);
}

static void test_uri_encode_rules(void)
{
	check_enc("a b", 1, "a%20b");
	check_enc("a+b", 1, "a%2Bb");
	check_enc("~user_a-b.c", 1, "~user_a-b.c");
	check_enc("100%", 1, "100%25");
	check_enc("d\xc3\xa9j\xc3\xa0", 1, "d%C3%A9j%C3%A0"); /* UTF-8 bytes, upper-case hex */
	check_enc("vault/ab/cd", 1, "vault/ab/cd");	      /* key path: '/' kept */
	check_enc("vault/ab/cd", 0, "vault%2Fab%2Fcd");	      /* query value: '/' encoded */
	check_enc("=&?#*", 0, "%3D%26%3F%23%2A");
	char small[4];
	size_t n = s3_sigv4_uri_encode(small, sizeof small, "a b", 1);
	CHECKF(n == 5 && strcmp(small, "a%2") == 0, "truncated encode gives %zu '%s'", n, small);
}

static void test_query_slash_and_space_encoded(void)
{
	static const struct s3_sigv4_header h[] = {
	    {"host", "h"}, {"x-amz-content-sha256", EMPTY}, {"x-amz-date", DATE}};
	static const struct s3_sigv4_param q[] = {
	    {"prefix", "a b/c~"}, {"list-type", "2"}, {"continuation-token", "x+y/z="}};
	struct s3_sigv4_request req = {"GET", "/", q, 3, h, 3, EMPTY, DATE, "eu-west-1", "s3"};
	struct s3_sigv4_result r;
	CHECKF(s3_sigv4_sign(&r, &req, &creds) == 0, "sign with query");
	CHECKF(strcmp(r.query, "continuation-token=x%2By%2Fz%3D&list-type=2&prefix=a%20b%2Fc~") ==
		   0,
	       "query %s", r.query);
	s3_sigv4_result_release(&r);
}

static void test_header_values_trimmed_and_folded(void)
{
	static const struct s3_sigv4_header h[] = {{"HOST", "  h  "},
						   {"X-Amz-Meta-A", "a   b \t c"},
						   {"x-amz-content-sha256", EMPTY},
						   {"x-amz-date", DATE}};
	struct s3_sigv4_request req = {"GET", "/k", NULL, 0, h, 4, EMPTY, DATE, "us-east-1", "s3"};
	struct s3_sigv4_result r;
	CHECKF(s3_sigv4_sign(&r, &req, &creds) == 0, "sign with spaces");
	CHECKF(strstr(r.canonical_request, "\nhost:h\n") != NULL, "host trimmed: %s",
	       r.canonical_request);
	CHECKF(strstr(r.canonical_request, "\nx-amz-meta-a:a b c\n") != NULL, "folded: %s",
	       r.canonical_request);
	s3_sigv4_result_release(&r);
}

static void test_session_token_is_signed(void)
{
	static const struct s3_sigv4_header h[] = {{"host", "h"},
						   {"x-amz-content-sha256", EMPTY},
						   {"x-amz-date", DATE},
						   {"x-amz-security-token", "tok"}};
	struct s3_sigv4_creds c = {AK, SK, "tok", creds.keys};
	struct s3_sigv4_request req = {"GET", "/k", NULL, 0, h, 4, EMPTY, DATE, "us-east-1", "s3"};
	struct s3_sigv4_result r;
	CHECKF(s3_sigv4_sign(&r, &req, &c) == 0, "sign with token");
	CHECKF(strstr(r.authorization, "SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
				       "x-amz-security-token,") != NULL,
	       "token signed: %s", r.authorization);
	s3_sigv4_result_release(&r);
}

static void test_rejects_bad_input(void)
{
	static const struct s3_sigv4_header dup[] = {{"host", "a"}, {"Host", "b"}};
	static const struct s3_sigv4_header nl[] = {{"host", "a\nb"}};
	struct s3_sigv4_request req = {"GET", "/k",  NULL, 0,		dup,
				       2,     EMPTY, DATE, "us-east-1", "s3"};
	struct s3_sigv4_result r;
	CHECKF(s3_sigv4_sign(&r, &req, &creds) == -EINVAL, "duplicate header accepted");
	req.headers = nl;
	req.n_headers = 1;
	CHECKF(s3_sigv4_sign(&r, &req, &creds) == -EINVAL, "newline in value accepted");
	req.amz_date = "2013-05-24";
	CHECKF(s3_sigv4_sign(&r, &req, &creds) == -EINVAL, "bad date accepted");
	CHECKF(r.authorization == NULL, "result not empty after failure");
}

/* The signing key chain written out with libsodium's HMAC over the whole
 * "AWS4" || secret, whatever its length (AWS keys are 40 characters; longer
 * ones go through sigv4_k0's SHA-256 of a key longer than a block). */
static void reference_signature(char out[S3_SIGV4_HEX_BYTES], const char *secret, const char *sts)
{
	size_t klen = 4 + strlen(secret);
	unsigned char *k0 = malloc(klen), k[32], sig[32];
	crypto_auth_hmacsha256_state st;
	const char *parts[] = {"20130524", "us-east-1", "s3", "aws4_request", sts};

	if (!k0)
		abort();
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret, klen - 4);
	for (size_t i = 0; i < 5; i++) {
		crypto_auth_hmacsha256_init(&st, i == 0 ? k0 : k, i == 0 ? klen : sizeof k);
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)parts[i],
					      strlen(parts[i]));
		crypto_auth_hmacsha256_final(&st, i == 4 ? sig : k);
	}
	sodium_bin2hex(out, S3_SIGV4_HEX_BYTES, sig, sizeof sig);
	free(k0);
}

static void test_secrets_of_any_length(void)
{
	static const struct s3_sigv4_header h[] = {
	    {"host", "h"}, {"x-amz-content-sha256", EMPTY}, {"x-amz-date", DATE}};
	struct s3_sigv4_request req = {"GET", "/k", NULL, 0, h, 3, EMPTY, DATE, "us-east-1", "s3"};
	char secret[301], want[S3_SIGV4_HEX_BYTES];
	size_t lens[] = {1, 40, 59, 60, 61, 64, 100, 300};

	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		struct s3_sigv4_creds c = {AK, secret, NULL, creds.keys};
		struct s3_sigv4_result r;
		for (size_t j = 0; j < lens[i]; j++)
			secret[j] = (char)('A' + (j * 7 + i) % 26);
		secret[lens[i]] = '\0';
		CHECKF(s3_sigv4_sign(&r, &req, &c) == 0, "sign with a %zu-byte secret", lens[i]);
		reference_signature(want, secret, r.string_to_sign);
		CHECKF(strcmp(r.signature, want) == 0, "%zu-byte secret: %s, want %s", lens[i],
		       r.signature, want);
		s3_sigv4_result_release(&r);
	}
}

/* Each signature takes one slot and gives it back wiped: 20,000 of them map
 * one region (the old design mapped and unmapped one sodium_malloc each), and
 * a missing pool is refused. */
static void test_signing_keys_in_the_pool(void)
{
	static const struct s3_sigv4_header h[] = {
	    {"host", "h"}, {"x-amz-content-sha256", EMPTY}, {"x-amz-date", DATE}};
	struct s3_sigv4_request req = {"GET", "/k", NULL, 0, h, 3, EMPTY, DATE, "us-east-1", "s3"};
	struct s3_sigv4_creds none = {AK, SK, NULL, NULL};
	struct s3_sigv4_result r;
	struct secmem_stats st;
	int ok = 1;

	for (int i = 0; i < 20000 && ok; i++) {
		ok = s3_sigv4_sign(&r, &req, &creds) == 0;
		s3_sigv4_result_release(&r);
	}
	secmem_pool_stats(creds.keys, &st);
	CHECKF(ok && st.slots_used == 0 && st.regions == 1, "20000 signatures: %zu regions",
	       st.regions);
	CHECKF(s3_sigv4_sign(&r, &req, &none) == -EINVAL, "signed without a pool");
}

static void test_amz_date_format(void)
{
	char d[S3_SIGV4_DATE_BYTES];
	s3_sigv4_amz_date(d, (time_t)1369353600); /* 2013-05-24 00:00:00 UTC */
	CHECKF(strcmp(d, DATE) == 0, "amz date %s", d);
}

int main(void)
{
	if (sodium_init() < 0 || !(creds.keys = s3_sigv4_pool_new(NULL, NULL)))
		return 1;
	test_sign_get_object_with_range();
	test_secrets_of_any_length();
	test_signing_keys_in_the_pool();
	test_sign_put_object();
	test_sign_get_bucket_lifecycle();
	test_sign_list_objects_sorts_query();
	test_uri_encode_rules();
	test_query_slash_and_space_encoded();
	test_header_values_trimmed_and_folded();
	test_session_token_is_signed();
	test_rejects_bad_input();
	test_amz_date_format();
	secmem_pool_free(creds.keys);
	return check_done("test_s3_sigv4");
}
