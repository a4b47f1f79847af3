/* s3_cond.h - the S3 store's compare-and-swap calls (backend.h get_version,
 * put_if): the version is the ETag. Internal to the S3 store (s3.c builds
 * the ops table). */
#ifndef SEALFS_S3_COND_H
#define SEALFS_S3_COND_H

#include "backend.h"
#include "s3_request.h"

/* s3.c: the request target of store b and its policy for reads. */
const struct s3_target *s3_store_target(struct backend *b, const struct http_policy **read_policy);

int s3_get_version(struct backend *b, const char *key, size_t max, unsigned char **out,
		   size_t *out_len, struct backend_version *ver);
int s3_get_changed(struct backend *b, const char *key, size_t max,
		   const struct backend_version *known, unsigned char **out, size_t *out_len,
		   struct backend_version *ver);
int s3_put_if(struct backend *b, const char *key, const void *data, size_t len,
	      const struct backend_version *expect, struct backend_version *out);

#endif
