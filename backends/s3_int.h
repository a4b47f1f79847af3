/* s3_int.h - what the S3 store's files share: the store itself. Inside
 * backends/ only. */
#ifndef SEALFS_S3_INT_H
#define SEALFS_S3_INT_H

#include <stdint.h>

#include "s3.h"
#include "s3_config.h"
#include "s3_request.h"

struct s3_backend {
	struct backend base;
	struct s3_target t; /* points into the fields below; immutable after open */
	struct s3_config cfg;
	struct s3_tuning tun;
	struct http_client *http;
	char *bucket;
	char *prefix;		/* "" or "a/b": no leading or trailing '/' */
	char *path_base;	/* endpoint path + "/bucket" (path style), or the path */
	struct s3_location loc; /* host, region and clock learnt while running */
	int loc_ready;
	struct s3_creds_provider *creds;
	struct secmem_pool *keys; /* locked slots of the per-request signing keys */
};

#define MIB ((size_t)1 << 20)

/* The store's HEAD (s3.c): the object's size, -ENOENT, or the error. */
int s3_head(struct backend *b, const char *key, uint64_t *size);
/* pread of exactly len bytes of a source file, the reason in
 * s3_last_error on failure (s3_multipart.c). 0 or -errno. */
int s3_pread_all(int fd, unsigned char *buf, size_t len, uint64_t off);

/* Uploads len bytes (from data, or read from fd when data is NULL) as key
 * with a multipart upload: equal parts, several at once; a failed upload is
 * aborted (best effort). 0 or -errno (s3_last_error says why). */
int s3_put_multipart(struct s3_backend *s, const char *key, const void *data, int fd, uint64_t len);

/* backend_ops.stale_uploads (s3_uploads.c). */
int s3_stale_uploads(struct backend *b, const char *prefix, int64_t min_age_s, int do_abort,
		     unsigned budget_ms, struct backend_stale *out);

#endif
