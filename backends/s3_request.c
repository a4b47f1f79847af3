/* s3_request.c - one S3 REST request: key checks, the encoded path, SigV4
 * headers made anew for every try (fresh x-amz-date, resume Range), and the
 * thread-local last error of the S3 store. Must never send an unsigned
 * request or put a credential into a message. */
#include "s3_request.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

static _Thread_local char last_err[S3_REQUEST_ERR_BYTES];

const char *s3_request_last_error(void) { return last_err; }

int s3_request_fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_err, sizeof last_err, fmt, ap);
	va_end(ap);
	return code;
}

int s3_request_key_valid(const char *key, int is_prefix)
{
	size_t n = strlen(key);
	if ((!is_prefix && n == 0) || n > S3_REQUEST_KEY_MAX || key[0] == '/')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = key[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '/' || c == '-'))
			return 0;
		if (c == '.' && key[i + 1] == '.' && (i == 0 || key[i - 1] == '/') &&
		    (key[i + 2] == '/' || key[i + 2] == '\0') && !is_prefix)
			return 0;
	}
	return 1;
}

/* Writes "[/bucket]/" + encode(prefix/key) into out. */
static int object_path(const struct s3_target *t, char out[S3_REQUEST_PATH_MAX], const char *key)
{
	char name[2 * S3_REQUEST_KEY_MAX + 2];
	int n = snprintf(name, sizeof name, "%s%s%s", t->prefix, t->prefix[0] ? "/" : "", key);
	if (n < 0 || (size_t)n >= sizeof name)
		return -ENAMETOOLONG;
	n = snprintf(out, S3_REQUEST_PATH_MAX, "%s/", t->path_base);
	if (n < 0 || (size_t)n >= S3_REQUEST_PATH_MAX ||
	    s3_sigv4_uri_encode(out + n, S3_REQUEST_PATH_MAX - (size_t)n, name, 1) >=
		S3_REQUEST_PATH_MAX - (size_t)n)
		return -ENAMETOOLONG;
	return 0;
}

/* --- one signed request, re-signed on every attempt --- */

static void req_init(struct s3_request *rq, const struct s3_target *t, const char *method)
{
	memset(rq, 0, sizeof *rq);
	rq->t = t;
	rq->method = method;
	memcpy(rq->payload_hash, S3_SIGV4_EMPTY_SHA256, sizeof rq->payload_hash);
}

void s3_request_param(struct s3_request *rq, const char *name, const char *value)
{
	if (rq->n_params >= S3_REQUEST_MAX_PARAMS)
		return;
	rq->params[rq->n_params].name = name;
	rq->params[rq->n_params++].value = value;
}

void s3_request_body(struct s3_request *rq, const void *body, size_t len)
{
	rq->body = body;
	rq->body_len = len;
	s3_sigv4_sha256_hex(rq->payload_hash, body ? body : "", len);
}

static void req_release(struct s3_request *rq)
{
	s3_sigv4_result_release(&rq->sig);
	free(rq->url);
	rq->url = NULL;
	for (size_t i = 0; i < sizeof rq->lines / sizeof rq->lines[0]; i++) {
		if (rq->secret_lines & (1u << i))
			sodium_free(rq->lines[i]); /* wipes: the session token */
		else
			free(rq->lines[i]);
		rq->lines[i] = NULL;
	}
	rq->secret_lines = 0;
	s3_creds_put(rq->cr);
	rq->cr = NULL;
}

int s3_location_init(struct s3_location *loc, const struct s3_config *cfg, const char *bucket)
{
	int n = cfg->path_style ? snprintf(loc->host, sizeof loc->host, "%s", cfg->host)
				: snprintf(loc->host, sizeof loc->host, "%s.%s", bucket, cfg->host);
	if (n < 0 || (size_t)n >= sizeof loc->host || strlen(cfg->region) >= sizeof loc->region)
		return -ENAMETOOLONG;
	snprintf(loc->region, sizeof loc->region, "%s", cfg->region);
	loc->clock_offset = 0;
	pthread_mutex_init(&loc->lock, NULL);
	return 0;
}

static void loc_snapshot(struct s3_request *rq)
{
	struct s3_location *l = rq->t->loc;
	pthread_mutex_lock(&l->lock);
	memcpy(rq->host, l->host, sizeof rq->host);
	memcpy(rq->region, l->region, sizeof rq->region);
	pthread_mutex_unlock(&l->lock);
}

/* The region a failed try's reply names, or NULL. */
static const char *reply_region(const struct http_reply *rep)
{
	if (rep->bucket_region[0])
		return rep->bucket_region;
	return rep->s3err.region[0] ? rep->s3err.region : NULL;
}

/* Whether the endpoint is AWS's regional one, to be moved with the region. */
static int endpoint_is_regional_aws(const struct s3_config *c)
{
	char r[S3_REQUEST_REGION_MAX];
	if (c->endpoint_is_default)
		return 1;
	return c->endpoint_is_aws && !c->base_path[0] &&
	       s3_config_region_from_host(r, sizeof r, c->host) && strcmp(r, c->region) == 0;
}

/* Moves the store to region on AWS's own endpoint; 0, or GIVE_UP. */
static int move_region(struct s3_request *rq, const char *region)
{
	const struct s3_config *c = rq->t->cfg;
	struct s3_location *l = rq->t->loc;
	char host[S3_REQUEST_HOST_MAX], name[S3_REQUEST_HOST_MAX];
	const char *port = c->host[0] == '[' ? NULL : strchr(c->host, ':');
	if (!endpoint_is_regional_aws(c) || strlen(region) >= sizeof l->region ||
	    strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region) ||
	    s3_config_aws_host(name, sizeof name, region, c->dualstack) < 0)
		return HTTP_PREPARE_GIVE_UP; /* elsewhere: the message names AWS_REGION */
	int n = c->path_style
		    ? snprintf(host, sizeof host, "%s%s", name, port ? port : "")
		    : snprintf(host, sizeof host, "%s.%s%s", rq->t->bucket, name, port ? port : "");
	if (n < 0 || (size_t)n >= sizeof host)
		return HTTP_PREPARE_GIVE_UP;
	pthread_mutex_lock(&l->lock);
	snprintf(l->region, sizeof l->region, "%s", region);
	memcpy(l->host, host, sizeof l->host);
	pthread_mutex_unlock(&l->lock);
	return 0;
}

/* Decides whether a new request can cure the last try's error. */
static int cure(struct s3_request *rq, const struct http_reply *rep)
{
	const char *code = rep->s3err.code, *region = reply_region(rep);
	if (strcmp(code, "ExpiredToken") == 0 || strcmp(code, "TokenRefreshRequired") == 0) {
		if (rq->fixed_creds++ || !rq->cr || !s3_creds_invalidate(rq->t->creds, rq->cr))
			return HTTP_PREPARE_GIVE_UP;
		return 0;
	}
	if (strcmp(code, "RequestTimeTooSkewed") == 0) {
		if (rq->fixed_clock++ || !rep->server_date)
			return HTTP_PREPARE_GIVE_UP;
		__atomic_store_n(&rq->t->loc->clock_offset,
				 rep->server_date - (long long)time(NULL), __ATOMIC_RELAXED);
		return 0;
	}
	if (region && strcmp(region, rq->region) != 0 && !rq->fixed_region++)
		return move_region(rq, region);
	return HTTP_PREPARE_GIVE_UP;
}

/* The Range value for this attempt; a resumed download asks for the rest. */
static int range_value(char *out, size_t size, const struct s3_request *rq, uint64_t done)
{
	uint64_t from = rq->off + done;
	if (rq->len)
		return snprintf(out, size, "bytes=%llu-%llu", (unsigned long long)from,
				(unsigned long long)(rq->off + rq->len - 1));
	return snprintf(out, size, "bytes=%llu-", (unsigned long long)from);
}

static int req_sign(struct s3_request *rq, const char *date, const char *range)
{
	const struct s3_creds *c = rq->cr;
	struct s3_sigv4_header h[5] = {
	    {"host", rq->host}, {"x-amz-content-sha256", rq->payload_hash}, {"x-amz-date", date}};
	size_t n = 3;
	if (c->session_token)
		h[n++] = (struct s3_sigv4_header){"x-amz-security-token", c->session_token};
	if (range)
		h[n++] = (struct s3_sigv4_header){"range", range};
	struct s3_sigv4_request sr = {rq->method, rq->path,	    rq->params, rq->n_params, h,
				      n,	  rq->payload_hash, date,	rq->region,   "s3"};
	struct s3_sigv4_creds cr = {c->access_key, c->secret_key, c->session_token, rq->t->keys};
	return s3_sigv4_sign(&rq->sig, &sr, &cr);
}

/* One header line, sized to what it holds (a session token runs to KiBs).
 * Only a secret (the session token) goes to guarded, locked memory: a
 * sodium_malloc costs an mmap, mprotects and an mlock, and its free as many
 * again, which for the other lines of every request (Host, date, payload
 * hash, Authorization: a signature, no key) was a fifth of the uploader's
 * CPU on small objects (docs/PERFORMANCE.md, "S3 drains (session 6)"). */
static int req_line(struct s3_request *rq, size_t *n, const char *name, const char *value,
		    int secret)
{
	size_t len = strlen(name) + strlen(value) + 3;
	rq->lines[*n] = secret ? sodium_malloc(len) : malloc(len);
	if (!rq->lines[*n])
		return -ENOMEM;
	if (secret)
		rq->secret_lines |= 1u << *n;
	snprintf(rq->lines[*n], len, "%s: %s", name, value);
	rq->hdrs[*n] = rq->lines[*n];
	(*n)++;
	return 0;
}

static int prepare(void *arg, struct http_request *hr, unsigned attempt,
		   const struct http_reply *rep)
{
	struct s3_request *rq = arg;
	char date[S3_SIGV4_DATE_BYTES], range[64], why[S3_REQUEST_ERR_BYTES];
	size_t n = 0;
	(void)attempt;
	if (rep->fixable && cure(rq, rep) != 0)
		return HTTP_PREPARE_GIVE_UP;
	req_release(rq);
	loc_snapshot(rq);
	int r = s3_creds_acquire(rq->t->creds, &rq->cr, why, sizeof why);
	if (r < 0)
		return s3_request_fail(r, "%s", why);
	if (rep->fd_written && rep->etag[0] && !rq->if_match[0])
		snprintf(rq->if_match, sizeof rq->if_match, "%s", rep->etag);
	int ranged = rq->ranged || rep->fd_written;
	if (ranged)
		range_value(range, sizeof range, rq, rep->fd_written);
	s3_sigv4_amz_date(date, time(NULL) + (time_t)__atomic_load_n(&rq->t->loc->clock_offset,
								     __ATOMIC_RELAXED));
	r = req_sign(rq, date, ranged ? range : NULL);
	if (r < 0)
		return r;
	if (asprintf(&rq->url, "%s://%s%s%s%s", rq->t->cfg->scheme, rq->host, rq->path,
		     rq->sig.query[0] ? "?" : "", rq->sig.query) < 0) {
		rq->url = NULL;
		return -ENOMEM;
	}
	r = req_line(rq, &n, "Host", rq->host, 0);
	if (r == 0)
		r = req_line(rq, &n, "x-amz-date", date, 0);
	if (r == 0)
		r = req_line(rq, &n, "x-amz-content-sha256", rq->payload_hash, 0);
	if (r == 0)
		r = req_line(rq, &n, "Authorization", rq->sig.authorization, 0);
	if (r == 0 && rq->cr->session_token)
		r = req_line(rq, &n, "x-amz-security-token", rq->cr->session_token, 1);
	if (r == 0 && ranged)
		r = req_line(rq, &n, "Range", range, 0);
	if (r == 0 && rq->if_match[0]) /* unsigned; pins the object resumed, or put_if's */
		r = req_line(rq, &n, "If-Match", rq->if_match, 0);
	if (r == 0 && rq->if_none_match)
		r = req_line(rq, &n, "If-None-Match", "*", 0);
	else if (r == 0 && rq->if_none_match_etag[0]) /* unsigned, as If-Match */
		r = req_line(rq, &n, "If-None-Match", rq->if_none_match_etag, 0);
	if (r < 0)
		return r;
	*hr = (struct http_request){rq->method, rq->url,      rq->hdrs, n,
				    rq->body,	rq->body_len, rq->flags};
	return 0;
}

int s3_request_run(struct s3_request *rq, struct http_reply *rep)
{
	char err[S3_REQUEST_ERR_BYTES];
	const char *region;
	last_err[0] = '\0';
	int r = http_exchange_policy(rq->t->http, rq->policy, prepare, rq, rep, err, sizeof err);
	req_release(rq);
	if (r < 0 && rep->fixable && (region = reply_region(rep)) && strcmp(region, rq->region))
		s3_request_fail(r, "%s; the bucket is in region %s: set AWS_REGION=%s", err, region,
				region);
	else if (r < 0 && rep->fixable && strcmp(rep->s3err.code, "RequestTimeTooSkewed") == 0)
		s3_request_fail(r, "%s; this computer's clock is wrong: set it (e.g. with NTP)",
				err);
	else if (r < 0 && !(strstr(err, "cannot build the request") && last_err[0]))
		s3_request_fail(r, "%s", err);
	return r;
}

void s3_request_bucket(struct s3_request *rq, const struct s3_target *t, const char *method)
{
	req_init(rq, t, method);
	snprintf(rq->path, sizeof rq->path, "%s", t->path_base[0] ? t->path_base : "/");
}

int s3_request_object(struct s3_request *rq, const struct s3_target *t, const char *method,
		      const char *key)
{
	req_init(rq, t, method);
	if (!s3_request_key_valid(key, 0))
		return s3_request_fail(-EINVAL, "invalid object key");
	return object_path(t, rq->path, key);
}
