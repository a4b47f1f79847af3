/* s3.c - the S3 store: the backend ops table over signed S3 REST requests
 * (GET with Range, PUT, multipart upload with parallel parts, HEAD, DELETE,
 * ListObjectsV2; conditional PUT and GET with the ETag in s3_cond.c, abandoned
 * multipart uploads in s3_uploads.c). Must never send a request it
 * did not sign with the real payload hash, print a credential, or leave a failed multipart upload
 * behind without trying to abort it. */
#include "s3.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "s3_cond.h"
#include "s3_config.h"
#include "s3_dl.h"
#include "s3_int.h"
#include "s3_request.h"
#include "s3_xml.h"

#define S3_KEY_MAX S3_REQUEST_KEY_MAX

const char *s3_last_error(void) { return s3_request_last_error(); }

const struct s3_target *s3_store_target(struct backend *b, const struct http_policy **read_policy)
{
	struct s3_backend *s = (struct s3_backend *)b;
	*read_policy = &s->tun.read_policy;
	return &s->t;
}

void s3_tuning_default(struct s3_tuning *t)
{
	t->multipart_threshold = 8 * MIB;
	t->part_size = 8 * MIB;
	t->parallel_parts = 4;
	t->max_get_bytes = 1024 * MIB;
	t->creds_margin_s = 300;
	t->resolve = NULL;
	t->max_uploads_page = 0;
	http_policy_default(&t->policy);
	http_policy_foreground(&t->read_policy);
}

/* --- get, get_to_fd, head, del --- */

/* Checks a reply to a ranged GET and cuts a 200 (range ignored) to the range. */
static int fit_range(struct http_reply *rep, const struct s3_request *rq)
{
	unsigned long long a = 0, b = 0;
	if (rep->status == 206) {
		if (sscanf(rep->content_range, "bytes %llu-%llu/", &a, &b) != 2 || a != rq->off ||
		    b < a || b - a + 1 != rep->len || (rq->len && rep->len > rq->len))
			return s3_request_fail(-EPROTO,
					       "s3 GET: reply does not match the range asked for");
		return 0;
	}
	size_t skip = rq->off < rep->len ? (size_t)rq->off : rep->len;
	size_t keep = rep->len - skip;
	if (rq->len && keep > rq->len)
		keep = rq->len;
	memmove(rep->body, rep->body + skip, keep);
	rep->len = keep;
	return 0;
}

static int s3_get(struct backend *b, const char *key, uint64_t off, size_t len, unsigned char **out,
		  size_t *out_len)
{
	struct s3_backend *s = (struct s3_backend *)b;
	struct s3_request rq;
	struct http_reply rep = {.sink = HTTP_SINK_MEM, .mem_limit = s->tun.max_get_bytes};
	*out = NULL;
	*out_len = 0;
	int r = s3_request_object(&rq, &s->t, "GET", key);
	if (r < 0)
		return r;
	rq.policy = &s->tun.read_policy;
	rq.ranged = off || len;
	rq.off = off;
	rq.len = len;
	r = s3_request_run(&rq, &rep);
	if (r == -ERANGE) /* starts at or past the end: nothing to read */
		r = 0;
	else if (r == 0 && rq.ranged && rep.body)
		r = fit_range(&rep, &rq);
	if (r == 0 && !rep.body && !(rep.body = malloc(1)))
		r = -ENOMEM;
	if (r < 0) {
		http_reply_release(&rep);
		return r;
	}
	*out = rep.body;
	*out_len = rep.len;
	return 0;
}

static int s3_get_to_fd(struct backend *b, const char *key, int fd, uint64_t max, uint64_t *size)
{
	struct s3_backend *s = (struct s3_backend *)b;
	struct s3_request rq;
	struct http_reply rep = {
	    .sink = HTTP_SINK_FD, .fd = fd, .fd_limit = max == BACKEND_NO_MAX ? 0 : max};
	*size = 0;
	int r = s3_request_object(&rq, &s->t, "GET", key);
	rq.policy = &s->tun.read_policy;
	if (r == 0)
		r = s3_request_run(&rq, &rep);
	if (r == -ERANGE) /* resumed exactly at the end */
		r = 0;
	*size = rep.fd_written;
	if (r == 0 && *size > max) /* cut while streaming (fd_limit); kept as a second check */
		r = -EFBIG;
	return r;
}

int s3_head(struct backend *b, const char *key, uint64_t *size)
{
	struct s3_backend *s = (struct s3_backend *)b;
	struct s3_request rq;
	struct http_reply rep = {.sink = HTTP_SINK_NONE};
	*size = 0;
	int r = s3_request_object(&rq, &s->t, "HEAD", key);
	if (r == 0)
		r = s3_request_run(&rq, &rep);
	if (r == 0 && rep.content_length < 0)
		r = s3_request_fail(-EPROTO, "s3 HEAD: reply without a content length");
	if (r == 0)
		*size = (uint64_t)rep.content_length;
	return r;
}

static int s3_del(struct backend *b, const char *key)
{
	struct s3_backend *s = (struct s3_backend *)b;
	struct s3_request rq;
	struct http_reply rep = {.sink = HTTP_SINK_NONE};
	int r = s3_request_object(&rq, &s->t, "DELETE", key);
	if (r == 0)
		r = s3_request_run(&rq, &rep);
	if (r == -ENOENT && strcmp(rep.s3err.code, "NoSuchBucket") != 0)
		r = 0; /* already gone (a retried DELETE, or a server that says so) */
	return r;
}

/* --- put --- */

static int put_single(struct s3_backend *s, const char *key, const void *data, size_t len)
{
	struct s3_request rq;
	struct http_reply rep = {.sink = HTTP_SINK_NONE};
	int r = s3_request_object(&rq, &s->t, "PUT", key);
	if (r < 0)
		return r;
	s3_request_body(&rq, data, len);
	return s3_request_run(&rq, &rep);
}

static int s3_put(struct backend *b, const char *key, const void *data, size_t len)
{
	struct s3_backend *s = (struct s3_backend *)b;
	if (!s3_request_key_valid(key, 0))
		return s3_request_fail(-EINVAL, "invalid object key");
	if (len > s->tun.multipart_threshold)
		return s3_put_multipart(s, key, data, -1, len);
	return put_single(s, key, data, len);
}

static int s3_put_file(struct backend *b, const char *key, const char *path)
{
	struct s3_backend *s = (struct s3_backend *)b;
	struct stat st;
	if (!s3_request_key_valid(key, 0))
		return s3_request_fail(-EINVAL, "invalid object key");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return s3_request_fail(-errno, "cannot open the source file: %s", strerror(errno));
	int r = fstat(fd, &st) < 0 ? -errno : 0;
	if (r == 0 && !S_ISREG(st.st_mode))
		r = s3_request_fail(-EINVAL, "the source is not a regular file");
	if (r == 0 && (uint64_t)st.st_size > s->tun.multipart_threshold) {
		r = s3_put_multipart(s, key, NULL, fd, (uint64_t)st.st_size);
	} else if (r == 0) {
		unsigned char *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
		r = buf ? s3_pread_all(fd, buf, (size_t)st.st_size, 0) : -ENOMEM;
		if (r == 0)
			r = put_single(s, key, buf, (size_t)st.st_size);
		free(buf);
	}
	close(fd);
	return r;
}

/* --- list --- */

struct list_ctx {
	const char *strip; /* store prefix + "/" */
	size_t strip_len;
	backend_list_cb cb;
	void *arg;
};

static int list_one(void *arg, const char *key, uint64_t size)
{
	struct list_ctx *l = arg;
	if (strncmp(key, l->strip, l->strip_len) != 0 || !key[l->strip_len])
		return s3_request_fail(-EPROTO, "s3 list: a key outside the prefix asked for");
	return l->cb(l->arg, key + l->strip_len, size);
}

static int list_page(struct s3_backend *s, const char *full, char **token, struct list_ctx *l)
{
	struct s3_request rq;
	struct http_reply rep = {.sink = HTTP_SINK_MEM, .mem_limit = S3_XML_MAX_REPLY};
	struct s3_xml_list_page page;
	s3_request_bucket(&rq, &s->t, "GET");
	s3_request_param(&rq, "list-type", "2");
	s3_request_param(&rq, "prefix", full);
	if (*token)
		s3_request_param(&rq, "continuation-token", *token);
	int r = s3_request_run(&rq, &rep);
	free(*token);
	*token = NULL;
	if (r == 0) {
		r = s3_xml_parse_list(&page, (char *)rep.body, rep.len, list_one, l);
		if (r == -EPROTO && !s3_request_last_error()[0])
			s3_request_fail(r, "s3 list: malformed reply");
		if (r == 0)
			*token = page.next_token;
	}
	http_reply_release(&rep);
	return r;
}

static int s3_list(struct backend *b, const char *prefix, backend_list_cb cb, void *arg)
{
	struct s3_backend *s = (struct s3_backend *)b;
	char strip[S3_KEY_MAX + 2], full[2 * S3_KEY_MAX + 2];
	char *token = NULL;
	if (!s3_request_key_valid(prefix, 1))
		return s3_request_fail(-EINVAL, "invalid list prefix");
	snprintf(strip, sizeof strip, "%s%s", s->prefix, s->prefix[0] ? "/" : "");
	snprintf(full, sizeof full, "%s%s", strip, prefix);
	struct list_ctx l = {strip, strlen(strip), cb, arg};
	int r;
	s3_request_fail(0, "%s", "");
	do
		r = list_page(s, full, &token, &l);
	while (r == 0 && token);
	free(token);
	return r;
}

static int s3_sync(struct backend *b)
{
	(void)b; /* every acknowledged PUT and DELETE is already durable */
	return 0;
}

static void s3_destroy(struct backend *b)
{
	struct s3_backend *s = (struct s3_backend *)b;
	if (!s)
		return;
	http_client_free(s->http);
	secmem_pool_free(s->keys); /* no request is in flight any more */
	s3_creds_provider_free(s->creds);
	s3_config_release(&s->cfg);
	if (s->loc_ready)
		pthread_mutex_destroy(&s->loc.lock);
	free(s->bucket);
	free(s->prefix);
	free(s->path_base);
	free(s);
}

/* After a fork: the secrets the child inherited are no longer locked. The
 * signing-key pool locks its regions again on its next allocation (and holds
 * no key between requests). */
static int s3_relock_secrets(struct backend *b)
{
	struct s3_backend *s = (struct s3_backend *)b;
	int a = s3_config_relock(&s->cfg);
	int c = s->creds ? s3_creds_provider_relock(s->creds) : 0;
	return a ? a : c;
}

static const struct backend_ops s3_ops = {
    .name = "s3",
    .caps = BACKEND_CAP_RANGE | BACKEND_CAP_PUT_IF | BACKEND_CAP_PUT_IF_PROBE,
    .get = s3_get,
    .get_to_fd = s3_get_to_fd,
    .put = s3_put,
    .put_file = s3_put_file,
    .del = s3_del,
    .head = s3_head,
    .list = s3_list,
    .sync = s3_sync,
    .destroy = s3_destroy,
    .get_version = s3_get_version, /* s3_cond.c */
    .get_changed = s3_get_changed, /* s3_cond.c */
    .put_if = s3_put_if,
    .relock_secrets = s3_relock_secrets,
    .stale_uploads = s3_stale_uploads, /* s3_uploads.c */
};

/* --- open --- */

static int bucket_valid(const char *b)
{
	size_t n = strlen(b);
	if (n < 3 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '.' ||
		      b[i] == '-' || b[i] == '_'))
			return 0;
	return 1;
}

static char *prefix_normalize(const char *p)
{
	while (*p == '/')
		p++;
	size_t n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	return strndup(p, n);
}

static int open_names(struct s3_backend *s, const char *bucket, const char *prefix)
{
	s->bucket = strdup(bucket);
	s->prefix = prefix_normalize(prefix ? prefix : "");
	if (!s->bucket || !s->prefix)
		return -ENOMEM;
	if (s->prefix[0] && !s3_request_key_valid(s->prefix, 0))
		return s3_request_fail(-EINVAL, "invalid s3 prefix '%s': use [a-z0-9._/-]",
				       s->prefix);
	int r = s->cfg.path_style ? asprintf(&s->path_base, "%s/%s", s->cfg.base_path, bucket)
				  : asprintf(&s->path_base, "%s", s->cfg.base_path);
	if (r < 0) {
		s->path_base = NULL;
		return -ENOMEM;
	}
	if (s3_location_init(&s->loc, &s->cfg, bucket) < 0)
		return s3_request_fail(-EINVAL, "s3 endpoint host name is too long");
	s->loc_ready = 1;
	s->t = (struct s3_target){&s->cfg,   s->http,	   &s->loc,   s->creds,
				  s->bucket, s->path_base, s->prefix, s->keys};
	return 0;
}

/* One listing of the prefix: tells a missing bucket, bad credentials and an
 * unreachable endpoint apart before anything else is tried. */
static int open_check(struct s3_backend *s)
{
	struct s3_request rq;
	struct http_reply rep = {.sink = HTTP_SINK_MEM, .mem_limit = S3_XML_MAX_REPLY};
	char err[S3_REQUEST_ERR_BYTES], full[S3_KEY_MAX + 2];
	s3_request_bucket(&rq, &s->t, "GET");
	snprintf(full, sizeof full, "%s%s", s->prefix, s->prefix[0] ? "/" : "");
	s3_request_param(&rq, "list-type", "2");
	s3_request_param(&rq, "max-keys", "1");
	s3_request_param(&rq, "prefix", full);
	int r = s3_request_run(&rq, &rep);
	snprintf(err, sizeof err, "%s", s3_request_last_error());
	http_reply_release(&rep);
	if (r == -ENOENT)
		return s3_request_fail(r, "bucket '%s' does not exist (%s://%s)", s->bucket,
				       s->cfg.scheme, s->cfg.host);
	if (r < 0 && strstr(err, "set AWS_REGION"))
		return s3_request_fail(r, "cannot open bucket '%s': %s", s->bucket, err);
	if (r == -EACCES && strstr(err, "s3 GET failed") == NULL)
		return s3_request_fail(r, "%s", err); /* the credentials could not be had */
	if (r == -EACCES)
		return s3_request_fail(r, "access to bucket '%s' denied: %s", s->bucket, err);
	if (r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ETIMEDOUT)
		return s3_request_fail(r, "cannot reach s3 endpoint %s://%s: %s", s->cfg.scheme,
				       s->cfg.host, err);
	return r < 0 ? s3_request_fail(r, "cannot open bucket '%s': %s", s->bucket, err) : 0;
}

/* Splits "prefix?addressing=STYLE" into *copy (the prefix) and opts. */
static int prefix_query(char **copy, struct backend_opts *o, const char *prefix)
{
	const char *q = prefix ? strchr(prefix, '?') : NULL;
	*copy = q ? strndup(prefix, (size_t)(q - prefix)) : strdup(prefix ? prefix : "");
	if (!*copy)
		return -ENOMEM;
	if (!q)
		return 0;
	if (strcmp(q, "?addressing=path") == 0)
		o->path_style = 1;
	else if (strcmp(q, "?addressing=virtual") == 0)
		o->path_style = 0;
	else if (strcmp(q, "?addressing=auto") != 0)
		return s3_request_fail(-EINVAL,
				       "unknown s3 url option '%s': use ?addressing=path, "
				       "virtual or auto",
				       q);
	return 0;
}

/* Client, keys, credentials and names, once the configuration is read. */
static int open_parts(struct s3_backend *s, const char *bucket, const char *prefix,
		      const struct backend_opts *opts)
{
	int r = http_client_new(&s->http, &s->tun.policy, s->cfg.ca_bundle);
	if (r < 0)
		return s3_request_fail(r, "cannot set up the http client");
	if (s->tun.resolve && (r = http_client_set_resolve(s->http, s->tun.resolve)) < 0)
		return r;
	if (!(s->keys = s3_sigv4_pool_new(opts ? opts->secrets_unlocked : NULL,
					  opts ? opts->secrets_unlocked_arg : NULL)))
		return s3_request_fail(-ENOMEM, "out of memory");
	if ((r = s3_creds_provider_new(&s->creds, &s->cfg, s->tun.creds_margin_s)) < 0)
		return r;
	return open_names(s, bucket, prefix);
}

int s3_backend_open_tuned(struct backend **out, const char *bucket, const char *prefix_url,
			  const struct backend_opts *opts_in, const struct s3_tuning *t, char *err,
			  size_t err_size)
{
	struct backend_opts o = {.path_style = -1};
	const struct backend_opts *opts = &o;
	char *prefix = NULL;
	if (opts_in)
		o = *opts_in;
	struct s3_backend *s = calloc(1, sizeof *s);
	int r = s ? 0 : -ENOMEM;
	char cfg_err[S3_REQUEST_ERR_BYTES] = "";
	*out = NULL;
	s3_request_fail(0, "%s", "");
	if (r == 0 && (r = s3_dl_load(cfg_err, sizeof cfg_err)) < 0) /* libcurl, libxml2 */
		s3_request_fail(r, "%s", cfg_err);
	if (r == 0)
		r = prefix_query(&prefix, &o, prefix_url);
	if (r == 0 && !bucket_valid(bucket))
		r = s3_request_fail(-EINVAL, "invalid s3 bucket name '%s'", bucket);
	if (r == 0) {
		s->base.ops = &s3_ops;
		if (t)
			s->tun = *t;
		else
			s3_tuning_default(&s->tun);
		if (s->tun.part_size < MIB)
			s->tun.part_size = MIB;
		if (s->tun.parallel_parts == 0)
			s->tun.parallel_parts = 1;
		if (s->tun.read_policy.max_tries == 0) /* a tuning made before read_policy */
			http_policy_foreground(&s->tun.read_policy);
		r = s3_config_load(&s->cfg, bucket, opts, cfg_err, sizeof cfg_err);
		if (r < 0)
			s3_request_fail(r, "%s", cfg_err);
	}
	if (r == 0)
		r = open_parts(s, bucket, prefix, opts);
	if (r == 0)
		r = open_check(s);
	free(prefix);
	if (r < 0) {
		if (!s3_request_last_error()[0])
			s3_request_fail(r, "cannot open s3 store: %s", strerror(-r));
		snprintf(err, err_size, "%s", s3_request_last_error());
		s3_destroy(s ? &s->base : NULL);
		return r;
	}
	*out = &s->base;
	return 0;
}

int s3_backend_open(struct backend **out, const char *bucket, const char *prefix,
		    const struct backend_opts *opts, char *err, size_t err_size)
{
	return s3_backend_open_tuned(out, bucket, prefix, opts, NULL, err, err_size);
}
