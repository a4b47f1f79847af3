/* s3_request.h - one S3 REST request, signed afresh (SigV4, real payload
 * hash) for every try of the retry loop in http.c, and the thread-local
 * "last error" text of the S3 store. Internal to the S3 store (s3.c). Never
 * puts a credential in a message. */
#ifndef SEALFS_S3_REQUEST_H
#define SEALFS_S3_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include "http.h"
#include "s3_config.h"
#include "s3_creds.h"
#include "s3_sigv4.h"

#define S3_REQUEST_KEY_MAX 255	 /* backend.h key limit */
#define S3_REQUEST_PATH_MAX 2048 /* encoded request path */
#define S3_REQUEST_ERR_BYTES 512
#define S3_REQUEST_MAX_PARAMS 6 /* query parameters of one request */

#define S3_REQUEST_HOST_MAX 320
#define S3_REQUEST_REGION_MAX 64

/* What a store learns from the server while it runs: the bucket's region
 * (a redirect on AWS), the host that goes with it and the server's clock. */
struct s3_location {
	pthread_mutex_t lock;		    /* protects host and region */
	char host[S3_REQUEST_HOST_MAX];	    /* Host header: endpoint host, or bucket.host */
	char region[S3_REQUEST_REGION_MAX]; /* signing region */
	long long clock_offset;		    /* server time - our time, seconds (atomic) */
};

/* Where requests go; every pointer is borrowed and must outlive the requests. */
struct s3_target {
	const struct s3_config *cfg;
	struct http_client *http;
	struct s3_location *loc;	 /* shared, changes under its lock */
	struct s3_creds_provider *creds; /* what every try signs with */
	const char *bucket;
	const char *path_base;	  /* endpoint path + "/bucket" (path style), or the path */
	const char *prefix;	  /* store prefix: "" or "a/b" */
	struct secmem_pool *keys; /* slots of the signing keys (s3_sigv4_pool_new) */
};

/* A request under construction; the caller's stack holds it. Pointers set
 * through the s3_request_* calls are borrowed until s3_request_run returns. */
struct s3_request {
	const struct s3_target *t;
	const char *method;
	char path[S3_REQUEST_PATH_MAX];
	struct s3_sigv4_param params[S3_REQUEST_MAX_PARAMS];
	size_t n_params;
	const unsigned char *body;
	size_t body_len;
	char payload_hash[S3_SIGV4_HEX_BYTES];
	unsigned flags;			  /* HTTP_* flags */
	const struct http_policy *policy; /* retries and timeouts; NULL: the client's */
	int ranged;			  /* send a Range for [off, off+len) (len 0: to the end) */
	uint64_t off;
	size_t len;
	char if_match[128]; /* ETag pinned when a download resumes; a put_if's expected ETag */
	int if_none_match;  /* put_if of an object expected absent: If-None-Match: * */
	char if_none_match_etag[128]; /* a conditional GET: If-None-Match: "<ETag>" (304) */
	/* per try: */
	struct s3_sigv4_result sig;
	struct s3_creds *cr; /* a reference for this try */
	char host[S3_REQUEST_HOST_MAX];
	char region[S3_REQUEST_REGION_MAX];
	int fixed_creds, fixed_clock, fixed_region; /* cures tried (http.h fixable) */
	char *url;
	char *lines[8]; /* "Name: value", malloc'ed (sodium_malloc for the token) */
	const char *hdrs[8];
	unsigned secret_lines; /* bit i: lines[i] came from sodium_malloc */
};

/* Sets loc for cfg and bucket (path_style: the endpoint host). -ENAMETOOLONG. */
int s3_location_init(struct s3_location *loc, const struct s3_config *cfg, const char *bucket);

/* A request on the bucket itself (listing). */
void s3_request_bucket(struct s3_request *rq, const struct s3_target *t, const char *method);

/* A request on object key (validated: -EINVAL, with the last error set). */
int s3_request_object(struct s3_request *rq, const struct s3_target *t, const char *method,
		      const char *key);

/* Adds a query parameter (at most S3_REQUEST_MAX_PARAMS, more are a bug and
 * dropped; name and value borrowed, not encoded). */
void s3_request_param(struct s3_request *rq, const char *name, const char *value);

/* Sets the body (borrowed) and its SHA-256 as the signed payload hash. */
void s3_request_body(struct s3_request *rq, const void *body, size_t len);

/* Runs rq through http_exchange with retries; a download into an fd resumes
 * with a Range (pinned by If-Match) after a cut. Cures in place: new
 * credentials after ExpiredToken, the server's clock after
 * RequestTimeTooSkewed (signed again once), the bucket's region after a
 * redirect on AWS's endpoints (elsewhere the message says which AWS_REGION
 * to set). Returns its result; on failure the reason becomes the last error. */
int s3_request_run(struct s3_request *rq, struct http_reply *rep);

/* backend.h keys: [a-z0-9._/-], no leading '/', no ".." component, at most
 * 255 bytes; a prefix (is_prefix) may be empty and end anywhere. */
int s3_request_key_valid(const char *key, int is_prefix);

/* Sets this thread's last error and returns code. */
int s3_request_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* This thread's last error text (borrowed, thread-local), "" if none. */
const char *s3_request_last_error(void);

#endif
