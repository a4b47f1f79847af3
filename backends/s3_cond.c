/* s3_cond.c - conditional writes on S3 (backend.h put_if, get_version): a
 * GET that keeps the ETag of the bytes it returns, and a single PUT with
 * If-Match: "<ETag>" (or If-None-Match: * for an object expected absent),
 * which the server refuses with 412 PreconditionFailed (-ESTALE) when the
 * object changed; and a GET with If-None-Match: "<ETag>" that a server
 * answers 304 Not Modified, without the object, while it is unchanged. AWS S3 has honoured both
 * since 2024; an older or partial server may ignore them, which backend_probe_put_if finds out.
 * Must never send the PUT without its condition, nor report a version the server did not name. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_cond.h"

#define S3_COND_MAX_BYTES (8u << 20) /* one PUT; put_if does no multipart */

/* The ETag of a reply as a version; -EPROTO without one. */
static int s3_cond_etag(struct backend_version *ver, const struct http_reply *rep, const char *op)
{
	size_t n = strlen(rep->etag);

	if (n == 0 || n >= sizeof(rep->etag) - 1 || n > BACKEND_VERSION_MAX)
		return s3_request_fail(-EPROTO, "s3 %s: reply without a usable etag", op);
	memcpy(ver->v, rep->etag, n);
	ver->len = n;
	return 0;
}

/* A GET keeping the ETag; with known (len > 0) sent as If-None-Match,
 * whose 304 answer gives 1 and no object. */
static int s3_cond_get(struct backend *b, const char *key, size_t max,
		       const struct backend_version *known, unsigned char **out, size_t *out_len,
		       struct backend_version *ver)
{
	const struct http_policy *policy;
	const struct s3_target *t = s3_store_target(b, &policy);
	struct http_reply rep = {.sink = HTTP_SINK_MEM,
				 .mem_limit =
				     max < S3_COND_MAX_BYTES ? max + 1 : S3_COND_MAX_BYTES};
	struct s3_request rq;
	int r;

	*out = NULL;
	*out_len = 0;
	ver->len = 0;
	if (known && known->len >= sizeof(rq.if_none_match_etag))
		return s3_request_fail(-EINVAL, "s3 conditional GET: etag too long");
	r = s3_request_object(&rq, t, "GET", key);
	if (r < 0)
		return r;
	if (known && known->len) {
		memcpy(rq.if_none_match_etag, known->v, known->len);
		rq.if_none_match_etag[known->len] = '\0';
	}
	rq.policy = policy;
	r = s3_request_run(&rq, &rep);
	if (r == -EALREADY && known && known->len) { /* 304: still at that ETag */
		http_reply_release(&rep);
		*ver = *known;
		return 1;
	}
	if (r == 0 && rep.len > max)
		r = -EFBIG;
	if (r == 0)
		r = s3_cond_etag(ver, &rep, "GET");
	if (r == 0 && !rep.body && !(rep.body = malloc(1)))
		r = -ENOMEM;
	if (r < 0) {
		http_reply_release(&rep);
		return r == -EALREADY ? -EPROTO : r; /* a 304 nobody asked for */
	}
	*out = rep.body;
	*out_len = rep.len;
	return 0;
}

int s3_get_version(struct backend *b, const char *key, size_t max, unsigned char **out,
		   size_t *out_len, struct backend_version *ver)
{
	return s3_cond_get(b, key, max, NULL, out, out_len, ver);
}

int s3_get_changed(struct backend *b, const char *key, size_t max,
		   const struct backend_version *known, unsigned char **out, size_t *out_len,
		   struct backend_version *ver)
{
	return s3_cond_get(b, key, max, known, out, out_len, ver);
}

int s3_put_if(struct backend *b, const char *key, const void *data, size_t len,
	      const struct backend_version *expect, struct backend_version *out)
{
	const struct http_policy *policy;
	const struct s3_target *t = s3_store_target(b, &policy);
	struct http_reply rep = {.sink = HTTP_SINK_NONE};
	struct s3_request rq;
	int r;

	out->len = 0;
	if (len > S3_COND_MAX_BYTES)
		return s3_request_fail(-EFBIG, "s3 conditional PUT: object too large");
	if (expect->len >= sizeof(rq.if_match))
		return s3_request_fail(-EINVAL, "s3 conditional PUT: etag too long");
	r = s3_request_object(&rq, t, "PUT", key);
	if (r < 0)
		return r;
	if (expect->len) {
		memcpy(rq.if_match, expect->v, expect->len);
		rq.if_match[expect->len] = '\0';
	} else {
		rq.if_none_match = 1;
	}
	s3_request_body(&rq, data, len);
	r = s3_request_run(&rq, &rep);
	/* If-Match on a key that is gone: AWS answers 404, the object changed. */
	if (r == -ENOENT && expect->len && strcmp(rep.s3err.code, "NoSuchBucket") != 0)
		r = -ESTALE;
	return r ? r : s3_cond_etag(out, &rep, "PUT");
}
