/* s3_sigv4.c - AWS Signature Version 4 (header form, signed payload) for S3.
 * Builds the canonical request, the string to sign and the signature exactly
 * as AWS documents them. Must never log, store or return the secret key or
 * the derived signing key (both are wiped before returning). */
#include "s3_sigv4.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* A growable string capped at S3_SIGV4_MAX_OUTPUT; err latches the first failure. */
struct sbuf {
	char *s;
	size_t len, cap;
	int err;
};

static void sbuf_add(struct sbuf *b, const char *p, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > S3_SIGV4_MAX_OUTPUT) {
		b->err = -E2BIG;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *s = realloc(b->s, cap);
		if (!s) {
			b->err = -ENOMEM;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sbuf_str(struct sbuf *b, const char *s) { sbuf_add(b, s, strlen(s)); }

/* Finishes b: on success *out takes the string (never NULL), else it is freed. */
static int sbuf_finish(struct sbuf *b, char **out)
{
	if (!b->err && !b->s)
		sbuf_add(b, "", 0);
	if (b->err) {
		free(b->s);
		*out = NULL;
		return b->err;
	}
	*out = b->s;
	return 0;
}

static int is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

size_t s3_sigv4_uri_encode(char *out, size_t out_size, const char *in, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		char tmp[3];
		size_t k = 1;
		if (is_unreserved(*p) || (keep_slash && *p == '/')) {
			tmp[0] = (char)*p;
		} else {
			tmp[0] = '%';
			tmp[1] = hex[*p >> 4];
			tmp[2] = hex[*p & 15];
			k = 3;
		}
		for (size_t i = 0; i < k; i++, n++)
			if (out && n + 1 < out_size)
				out[n] = tmp[i];
	}
	if (out && out_size)
		out[n < out_size ? n : out_size - 1] = '\0';
	return n;
}

void s3_sigv4_sha256_hex(char out[S3_SIGV4_HEX_BYTES], const void *data, size_t len)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(out, S3_SIGV4_HEX_BYTES, h, sizeof h);
}

void s3_sigv4_amz_date(char out[S3_SIGV4_DATE_BYTES], time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	if (strftime(out, S3_SIGV4_DATE_BYTES, "%Y%m%dT%H%M%SZ", &tm) == 0)
		out[0] = '\0';
}

/* Encoded query pairs, for sorting. */
struct qpair {
	char *name, *value;
};

static int qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

static char *encode_dup(const char *s)
{
	size_t need = s3_sigv4_uri_encode(NULL, 0, s, 0);
	if (need + 1 > S3_SIGV4_MAX_OUTPUT)
		return NULL;
	char *p = malloc(need + 1);
	if (p)
		s3_sigv4_uri_encode(p, need + 1, s, 0);
	return p;
}

/* The canonical query string: each name and value encoded, sorted by name. */
static int build_query(char **out, const struct s3_sigv4_request *req)
{
	struct qpair q[S3_SIGV4_MAX_QUERY] = {{0}};
	struct sbuf b = {0};
	size_t n = req->n_params;

	if (n > S3_SIGV4_MAX_QUERY)
		return -EINVAL;
	for (size_t i = 0; i < n && !b.err; i++) {
		if (!req->params[i].name || !req->params[i].value) {
			b.err = -EINVAL;
			break;
		}
		q[i].name = encode_dup(req->params[i].name);
		q[i].value = encode_dup(req->params[i].value);
		if (!q[i].name || !q[i].value)
			b.err = -ENOMEM;
	}
	if (!b.err)
		qsort(q, n, sizeof q[0], qpair_cmp);
	for (size_t i = 0; i < n && !b.err; i++) {
		if (i)
			sbuf_add(&b, "&", 1);
		sbuf_str(&b, q[i].name);
		sbuf_add(&b, "=", 1);
		sbuf_str(&b, q[i].value);
	}
	for (size_t i = 0; i < n; i++) {
		free(q[i].name);
		free(q[i].value);
	}
	return sbuf_finish(&b, out);
}

/* A header reduced to canonical form: lower-case name, trimmed folded value. */
struct chdr {
	char name[64];
	const char *value;
};

static int chdr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct chdr *)a)->name, ((const struct chdr *)b)->name);
}

static int lower_name(char out[64], const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= 64)
		return -EINVAL;
	for (size_t i = 0; i <= n; i++) {
		char c = name[i];
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		if (c == ':' || c == ' ' || c == '\n' || c == '\r')
			return -EINVAL;
	}
	return 0;
}

/* Appends a header value trimmed, with runs of spaces folded into one. */
static void sbuf_trimmed(struct sbuf *b, const char *v)
{
	while (*v == ' ' || *v == '\t')
		v++;
	size_t n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '\n' || v[i] == '\r') {
			b->err = b->err ? b->err : -EINVAL;
			return;
		}
		if ((v[i] == ' ' || v[i] == '\t') && i > 0 && (v[i - 1] == ' ' || v[i - 1] == '\t'))
			continue;
		sbuf_add(b, v[i] == '\t' ? " " : &v[i], 1);
	}
}

/* Canonical headers block and the signed header list. */
static int build_headers(char **canon, char **signed_list, const struct s3_sigv4_request *req)
{
	struct chdr h[S3_SIGV4_MAX_HEADERS];
	struct sbuf c = {0}, s = {0};
	size_t n = req->n_headers;

	if (n == 0 || n > S3_SIGV4_MAX_HEADERS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!req->headers[i].name || !req->headers[i].value ||
		    lower_name(h[i].name, req->headers[i].name) < 0)
			return -EINVAL;
		h[i].value = req->headers[i].value;
	}
	qsort(h, n, sizeof h[0], chdr_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && strcmp(h[i].name, h[i - 1].name) == 0)
			c.err = -EINVAL; /* one value per name: no folding of repeats */
		sbuf_str(&c, h[i].name);
		sbuf_add(&c, ":", 1);
		sbuf_trimmed(&c, h[i].value);
		sbuf_add(&c, "\n", 1);
		if (i)
			sbuf_add(&s, ";", 1);
		sbuf_str(&s, h[i].name);
	}
	int rc = sbuf_finish(&c, canon);
	int rs = sbuf_finish(&s, signed_list);
	if (rc < 0 || rs < 0) {
		free(*canon);
		free(*signed_list);
		*canon = *signed_list = NULL;
		return rc < 0 ? rc : rs;
	}
	return 0;
}

static int build_canonical(char **out, char **signed_list, const struct s3_sigv4_request *req,
			   const char *query)
{
	char *canon_hdrs = NULL;
	struct sbuf b = {0};
	int r = build_headers(&canon_hdrs, signed_list, req);
	if (r < 0)
		return r;
	sbuf_str(&b, req->method);
	sbuf_add(&b, "\n", 1);
	sbuf_str(&b, req->path);
	sbuf_add(&b, "\n", 1);
	sbuf_str(&b, query);
	sbuf_add(&b, "\n", 1);
	sbuf_str(&b, canon_hdrs);
	sbuf_add(&b, "\n", 1);
	sbuf_str(&b, *signed_list);
	sbuf_add(&b, "\n", 1);
	sbuf_str(&b, req->payload_hash);
	free(canon_hdrs);
	r = sbuf_finish(&b, out);
	if (r < 0) {
		free(*signed_list);
		*signed_list = NULL;
	}
	return r;
}

/* Everything secret one signature derives, in one locked slot of
 * creds->keys (not on the stack, not a sodium_malloc of its own per request:
 * one mapping per call was slow and failed with the rest of the process when
 * the map count ran out). */
struct sigv4_secrets {
	crypto_auth_hmacsha256_state hmac;
	crypto_hash_sha256_state sha;
	unsigned char k0[64]; /* the first HMAC key, "AWS4" || secret (see sigv4_k0) */
	unsigned char k[crypto_auth_hmacsha256_BYTES]; /* kDate .. kSigning */
};

struct secmem_pool *s3_sigv4_pool_new(secmem_refused_fn refused, void *arg)
{
	return secmem_pool_new(sizeof(struct sigv4_secrets), refused, arg);
}

static void hmac(unsigned char out[crypto_auth_hmacsha256_BYTES], struct sigv4_secrets *s,
		 const unsigned char *key, size_t key_len, const char *msg)
{
	crypto_auth_hmacsha256_init(&s->hmac, key, key_len);
	crypto_auth_hmacsha256_update(&s->hmac, (const unsigned char *)msg, strlen(msg));
	crypto_auth_hmacsha256_final(&s->hmac, out);
}

/* The HMAC key "AWS4" || secret into s->k0 without a copy of unbounded size:
 * as HMAC itself does (RFC 2104), a key longer than the 64-byte block is
 * replaced by its SHA-256. Returns the key's length. */
static size_t sigv4_k0(struct sigv4_secrets *s, const char *secret)
{
	size_t slen = strlen(secret);

	if (4 + slen <= sizeof(s->k0)) {
		memcpy(s->k0, "AWS4", 4);
		memcpy(s->k0 + 4, secret, slen);
		return 4 + slen;
	}
	crypto_hash_sha256_init(&s->sha);
	crypto_hash_sha256_update(&s->sha, (const unsigned char *)"AWS4", 4);
	crypto_hash_sha256_update(&s->sha, (const unsigned char *)secret, slen);
	crypto_hash_sha256_final(&s->sha, s->k0);
	return crypto_hash_sha256_BYTES;
}

/* signature = HMAC(kSigning, sts), kSigning derived from the secret per AWS. */
static int compute_signature(char out[S3_SIGV4_HEX_BYTES], const struct s3_sigv4_creds *creds,
			     const char *date8, const struct s3_sigv4_request *req, const char *sts)
{
	struct sigv4_secrets *s = secmem_alloc(creds->keys);
	unsigned char sig[crypto_auth_hmacsha256_BYTES];
	size_t k0_len;

	if (!s)
		return -ENOMEM;
	k0_len = sigv4_k0(s, creds->secret_key);
	hmac(s->k, s, s->k0, k0_len, date8);
	hmac(s->k, s, s->k, sizeof s->k, req->region);
	hmac(s->k, s, s->k, sizeof s->k, req->service);
	hmac(s->k, s, s->k, sizeof s->k, "aws4_request");
	hmac(sig, s, s->k, sizeof s->k, sts);
	secmem_free(creds->keys, s); /* wipes every derived key */
	sodium_bin2hex(out, S3_SIGV4_HEX_BYTES, sig, sizeof sig);
	return 0;
}

static int valid_request(const struct s3_sigv4_request *req, const struct s3_sigv4_creds *creds)
{
	if (!req || !creds || !req->method || !req->path || !req->payload_hash || !req->amz_date ||
	    !req->region || !req->service || !creds->access_key || !creds->secret_key ||
	    !creds->keys)
		return 0;
	if (strlen(req->amz_date) != 16 || req->amz_date[8] != 'T' || req->amz_date[15] != 'Z')
		return 0;
	return req->region[0] && req->service[0] && req->path[0] == '/';
}

static int build_sts(char **out, const struct s3_sigv4_request *req, const char *date8,
		     const char *canonical)
{
	char h[S3_SIGV4_HEX_BYTES];
	struct sbuf b = {0};
	s3_sigv4_sha256_hex(h, canonical, strlen(canonical));
	sbuf_str(&b, "AWS4-HMAC-SHA256\n");
	sbuf_str(&b, req->amz_date);
	sbuf_add(&b, "\n", 1);
	sbuf_str(&b, date8);
	sbuf_add(&b, "/", 1);
	sbuf_str(&b, req->region);
	sbuf_add(&b, "/", 1);
	sbuf_str(&b, req->service);
	sbuf_str(&b, "/aws4_request\n");
	sbuf_str(&b, h);
	return sbuf_finish(&b, out);
}

static int build_authorization(char **out, const struct s3_sigv4_request *req,
			       const struct s3_sigv4_creds *creds, const char *date8,
			       const char *signed_list, const char *sig)
{
	struct sbuf b = {0};
	sbuf_str(&b, "AWS4-HMAC-SHA256 Credential=");
	sbuf_str(&b, creds->access_key);
	sbuf_add(&b, "/", 1);
	sbuf_str(&b, date8);
	sbuf_add(&b, "/", 1);
	sbuf_str(&b, req->region);
	sbuf_add(&b, "/", 1);
	sbuf_str(&b, req->service);
	sbuf_str(&b, "/aws4_request,SignedHeaders=");
	sbuf_str(&b, signed_list);
	sbuf_str(&b, ",Signature=");
	sbuf_str(&b, sig);
	return sbuf_finish(&b, out);
}

int s3_sigv4_sign(struct s3_sigv4_result *res, const struct s3_sigv4_request *req,
		  const struct s3_sigv4_creds *creds)
{
	char date8[9], *signed_list = NULL;
	int r;

	memset(res, 0, sizeof *res);
	if (!valid_request(req, creds))
		return -EINVAL;
	memcpy(date8, req->amz_date, 8);
	date8[8] = '\0';
	r = build_query(&res->query, req);
	if (r == 0)
		r = build_canonical(&res->canonical_request, &signed_list, req, res->query);
	if (r == 0)
		r = build_sts(&res->string_to_sign, req, date8, res->canonical_request);
	if (r == 0)
		r = compute_signature(res->signature, creds, date8, req, res->string_to_sign);
	if (r == 0)
		r = build_authorization(&res->authorization, req, creds, date8, signed_list,
					res->signature);
	free(signed_list);
	if (r < 0)
		s3_sigv4_result_release(res);
	return r;
}

void s3_sigv4_result_release(struct s3_sigv4_result *res)
{
	if (!res)
		return;
	free(res->canonical_request);
	free(res->string_to_sign);
	free(res->query);
	free(res->authorization);
	memset(res, 0, sizeof *res);
}
