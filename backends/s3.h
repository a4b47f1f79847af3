/* s3.h - the S3-compatible store: objects live under s3://bucket/prefix as
 * prefix + "/" + key, read and written over the S3 REST API with SigV4.
 * A PUT is durable when S3 acknowledges it, so sync() has nothing to do. */
#ifndef SEALFS_S3_H
#define SEALFS_S3_H

#include <stddef.h>

#include "backend.h"
#include "http.h"

/* Knobs of an S3 store; s3_tuning_default gives the values s3_backend_open
 * uses. */
struct s3_tuning {
	size_t multipart_threshold; /* objects larger than this go multipart (8 MiB) */
	size_t part_size;	    /* bytes per part, >= 5 MiB on AWS (8 MiB) */
	unsigned parallel_parts;    /* parts in flight at once, 1..4 (4) */
	size_t max_get_bytes;	    /* largest reply get() loads into memory (1 GiB) */
	struct http_policy policy;  /* retries and timeouts of everything but GET */
	/* GET (get, get_to_fd): someone usually waits on it, a FUSE read of an
	 * object not in the cache; http_policy_foreground by default. */
	struct http_policy read_policy;
	/* Temporary credentials are fetched again this many seconds before they
	 * expire (300, as the AWS SDKs do). */
	unsigned creds_margin_s;
	/* Tests: "HOST:PORT:ADDR[,...]" the client resolves so (CURLOPT_RESOLVE),
	 * to reach a local server under a real-looking host name; NULL: DNS. */
	const char *resolve;
	/* Tests: max-uploads of each ListMultipartUploads page (0: the
	 * server's, 1000 on S3). */
	unsigned max_uploads_page;
};

void s3_tuning_default(struct s3_tuning *t);

/* Opens the store in bucket under prefix (borrowed; leading and trailing '/'
 * are dropped, "" is the bucket root; a query "?addressing=path|virtual|auto"
 * at its end chooses the addressing style). Configuration as in s3_config.h;
 * opts may be NULL. Checks the bucket with one listing request. Returns 0 and a
 * new *out (free with backend_destroy) or a negative errno with a one-line
 * reason in err: -ENOENT "bucket 'b' does not exist", -EACCES with the S3
 * error code (bad credentials), -EINVAL (bad name or endpoint),
 * -ECONNREFUSED / -EHOSTUNREACH / -ETIMEDOUT / -EIO (cannot reach the
 * endpoint), -ENOMEM. */
int s3_backend_open(struct backend **out, const char *bucket, const char *prefix,
		    const struct backend_opts *opts, char *err, size_t err_size);

/* s3_backend_open with explicit tuning (tests, benchmarks); t may be NULL. */
int s3_backend_open_tuned(struct backend **out, const char *bucket, const char *prefix,
			  const struct backend_opts *opts, const struct s3_tuning *t, char *err,
			  size_t err_size);

/* The reason for the last failed S3 store call made by this thread (the ops
 * table has no room for a message): a borrowed, thread-local string, "" if
 * none. Names the S3 error code and message; never a credential. */
const char *s3_last_error(void);

#endif
