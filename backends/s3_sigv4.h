/* s3_sigv4.h - AWS Signature Version 4 for S3 requests (Authorization header,
 * single-chunk signed payload). Pure string work over libsodium's SHA-256 and
 * HMAC-SHA-256: no I/O, no clock, no globals. It must never log or keep the
 * secret key beyond one call. */
#ifndef SEALFS_S3_SIGV4_H
#define SEALFS_S3_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "secmem.h"

#define S3_SIGV4_HEX_BYTES 65  /* 64 lower-case hex digits + NUL */
#define S3_SIGV4_DATE_BYTES 17 /* "20130524T000000Z" + NUL */
#define S3_SIGV4_MAX_HEADERS 16
#define S3_SIGV4_MAX_QUERY 16
#define S3_SIGV4_MAX_OUTPUT 65536 /* cap on any string built here */

/* SHA-256 of the empty payload, the x-amz-content-sha256 of bodiless requests. */
#define S3_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Borrowed credentials; secret_key is only read during s3_sigv4_sign. keys
 * holds the per-request secrets (the derived signing keys) in locked memory:
 * one slot taken and wiped by each signature. */
struct s3_sigv4_creds {
	const char *access_key;
	const char *secret_key;
	const char *session_token; /* NULL: none */
	struct secmem_pool *keys;  /* from s3_sigv4_pool_new; thread-safe */
};

/* A pool of slots for s3_sigv4_sign's secrets (secmem.h; refused and arg as
 * there). NULL when out of memory. Free with secmem_pool_free. */
struct secmem_pool *s3_sigv4_pool_new(secmem_refused_fn refused, void *arg);

/* A header to sign: any case, value trimmed and inner runs of spaces folded. */
struct s3_sigv4_header {
	const char *name;
	const char *value;
};

/* A query parameter, NOT encoded (value "" for "?uploads"). */
struct s3_sigv4_param {
	const char *name;
	const char *value;
};

/* One request to sign; every pointer is borrowed. The headers must include
 * host, x-amz-date and x-amz-content-sha256 (and x-amz-security-token when the
 * credentials have one): exactly what will be sent is what is signed. */
struct s3_sigv4_request {
	const char *method; /* "GET", "PUT", ... */
	const char *path;   /* canonical URI, already encoded (s3_sigv4_uri_encode) */
	const struct s3_sigv4_param *params;
	size_t n_params;
	const struct s3_sigv4_header *headers;
	size_t n_headers;
	const char *payload_hash; /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
	const char *amz_date;	  /* "YYYYMMDDTHHMMSSZ", the x-amz-date value */
	const char *region;
	const char *service; /* "s3" */
};

/* Everything a signature produces. The char * members are new malloc'ed
 * strings owned by the struct: free them with s3_sigv4_result_release. */
struct s3_sigv4_result {
	char *canonical_request;
	char *string_to_sign;
	char *query;	     /* canonical query: sorted, encoded; also what goes in the URL */
	char *authorization; /* value of the Authorization header */
	char signature[S3_SIGV4_HEX_BYTES];
};

/* Signs req. On success fills *res (release it later); on failure res holds no
 * memory. -EINVAL missing or malformed input, -E2BIG a string over
 * S3_SIGV4_MAX_OUTPUT, -ENOMEM (no memory, or no slot in creds->keys).
 * Thread-safe. */
int s3_sigv4_sign(struct s3_sigv4_result *res, const struct s3_sigv4_request *req,
		  const struct s3_sigv4_creds *creds);

/* Frees the strings of res and zeroes it; safe on a zeroed struct. */
void s3_sigv4_result_release(struct s3_sigv4_result *res);

/* UriEncode() of the S3 SigV4 rules: every byte except A-Z a-z 0-9 - . _ ~ is
 * written as %XX (upper-case hex); '/' is kept when keep_slash. Writes at most
 * out_size bytes including the NUL and returns the length the full encoding
 * needs (excluding the NUL), like snprintf: a result >= out_size means cut. */
size_t s3_sigv4_uri_encode(char *out, size_t out_size, const char *in, int keep_slash);

/* Lower-case hex SHA-256 of len bytes at data into out. */
void s3_sigv4_sha256_hex(char out[S3_SIGV4_HEX_BYTES], const void *data, size_t len);

/* Formats t (UTC) as the x-amz-date value "YYYYMMDDTHHMMSSZ". */
void s3_sigv4_amz_date(char out[S3_SIGV4_DATE_BYTES], time_t t);

#endif
