/* backend.c - opens a store from its URL and hands it to the implementation
 * that serves the scheme. Dispatch only: it must never touch objects itself. */

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "backend.h"
#include "errbuf.h"
#include "local.h"
#include "s3.h"

#define BACKEND_BUCKET_MAX_BYTES 255  /* S3 allows 63; some compatible servers more */
#define BACKEND_SCHEME_SHOWN_BYTES 32 /* how much of an unknown scheme a message quotes */

/* rest is what follows "s3://": "bucket" or "bucket/prefix". The prefix is
 * passed as written (possibly empty); the S3 store normalises it. */
static int backend_open_s3(struct backend **out, const char *rest, const struct backend_opts *opts,
			   char *err, size_t err_size)
{
	char bucket[BACKEND_BUCKET_MAX_BYTES + 1];
	const char *slash = strchr(rest, '/');
	size_t len = slash ? (size_t)(slash - rest) : strlen(rest);

	if (len == 0)
		return errbuf_fail(err, err_size, -EINVAL,
				   "s3 store url needs a bucket: s3://bucket/prefix");
	if (len > BACKEND_BUCKET_MAX_BYTES)
		return errbuf_fail(err, err_size, -EINVAL, "s3 bucket name is too long");
	memcpy(bucket, rest, len);
	bucket[len] = '\0';
	return s3_backend_open(out, bucket, slash ? slash + 1 : "", opts, err, err_size);
}

/* rest is what follows "file://": an absolute path, optionally after the
 * host name "localhost". No percent-decoding. */
static int backend_open_file(struct backend **out, const char *rest,
			     const struct backend_opts *opts, char *err, size_t err_size)
{
	if (strncmp(rest, "localhost/", strlen("localhost/")) == 0)
		rest += strlen("localhost");
	if (rest[0] != '/')
		return errbuf_fail(err, err_size, -EINVAL,
				   "file store url must be file:///absolute/path");
	return local_backend_open(out, rest, opts, err, err_size);
}

int backend_open(struct backend **out, const char *url, const struct backend_opts *opts, char *err,
		 size_t err_size)
{
	static const struct backend_opts no_opts;
	const char *sep;
	size_t scheme_len;

	*out = NULL;
	if (err && err_size > 0)
		err[0] = '\0';
	if (!opts)
		opts = &no_opts;
	if (!url || url[0] == '\0')
		return errbuf_fail(err, err_size, -EINVAL, "empty store url");
	sep = strstr(url, "://");
	if (!sep)
		return local_backend_open(out, url, opts, err, err_size);
	scheme_len = (size_t)(sep - url);
	if (scheme_len == 2 && strncasecmp(url, "s3", 2) == 0)
		return backend_open_s3(out, sep + 3, opts, err, err_size);
	if (scheme_len == 4 && strncasecmp(url, "file", 4) == 0)
		return backend_open_file(out, sep + 3, opts, err, err_size);
	if (scheme_len > BACKEND_SCHEME_SHOWN_BYTES)
		scheme_len = BACKEND_SCHEME_SHOWN_BYTES;
	return errbuf_fail(err, err_size, -EPROTONOSUPPORT, "unknown store scheme '%.*s'",
			   (int)scheme_len, url);
}
