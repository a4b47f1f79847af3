/* http.c - libcurl under the S3 client: pooled easy handles, timeouts,
 * capped bodies, bounded retries with full-jitter backoff and the status /
 * S3-code to errno table. Must never retry without bound, disable TLS
 * verification, follow redirects, or keep a reply body past its cap. */
#include "http.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "fdio.h"
#include "http_int.h"
#include "s3_dl.h"

#define HTTP_POOL_MAX 64 /* idle easy handles kept: more than the requests in flight */
#define HTTP_MAX_FIXES 2 /* cures (new credentials, clock, region) per exchange */

#ifndef SEALFS_VERSION
#define SEALFS_VERSION "unknown"
#endif

struct http_client {
	const struct s3_dl_curl *curl; /* libcurl, loaded by the first client */
	struct http_policy policy;
	char *ca_bundle;
	struct curl_slist *resolve; /* CURLOPT_RESOLVE entries (tests) */
	CURLSH *share;		    /* DNS cache and TLS sessions of every handle */
	pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
	pthread_mutex_t lock; /* protects pool and n_pool */
	CURL *pool[HTTP_POOL_MAX];
	unsigned n_pool;
};

void http_policy_default(struct http_policy *p)
{
	p->max_tries = 6;
	p->base_delay_ms = 200;
	p->max_delay_ms = 8000;
	p->total_ms = 60000;
	p->connect_timeout_ms = 10000;
	p->low_speed_bytes = 1024;
	p->low_speed_secs = 30;
}

void http_policy_foreground(struct http_policy *p)
{
	p->max_tries = 8;
	p->base_delay_ms = 250;
	p->max_delay_ms = 1000;
	p->total_ms = 4000;
	p->connect_timeout_ms = 3000;
	p->low_speed_bytes = 1024;
	p->low_speed_secs = 5;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
	struct http_client *c = arg;
	(void)h;
	(void)access;
	pthread_mutex_lock(&c->share_lock[data < CURL_LOCK_DATA_LAST ? data : 0]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	struct http_client *c = arg;
	(void)h;
	pthread_mutex_unlock(&c->share_lock[data < CURL_LOCK_DATA_LAST ? data : 0]);
}

/* DNS and TLS sessions only: libcurl does not support one connection cache
 * shared by concurrent threads, so each pooled handle keeps its own. */
static void share_setup(struct http_client *c)
{
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->share_lock[i], NULL);
	c->share = c->curl->share_init();
	if (!c->share)
		return; /* works without: each handle caches for itself */
	c->curl->share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	c->curl->share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	c->curl->share_setopt(c->share, CURLSHOPT_USERDATA, c);
	c->curl->share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	c->curl->share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
}

int http_client_set_resolve(struct http_client *c, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		struct curl_slist *n = c->curl->slist_append(c->resolve, t);
		if (!n) {
			free(copy);
			return -ENOMEM;
		}
		c->resolve = n;
	}
	free(copy);
	return 0;
}

int http_client_new(struct http_client **out, const struct http_policy *policy,
		    const char *ca_bundle)
{
	const struct s3_dl_curl *cu = s3_dl_curl(NULL, 0); /* s3_dl_load said why */
	*out = NULL;
	if (!cu)
		return -ENOSYS;
	if (sodium_init() < 0)
		return -EIO;
	struct http_client *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->curl = cu;
	if (policy)
		c->policy = *policy;
	else
		http_policy_default(&c->policy);
	if (c->policy.max_tries == 0)
		c->policy.max_tries = 1;
	if (ca_bundle && !(c->ca_bundle = strdup(ca_bundle))) {
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	share_setup(c);
	*out = c;
	return 0;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->n_pool; i++)
		c->curl->easy_cleanup(c->pool[i]);
	if (c->share)
		c->curl->share_cleanup(c->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->share_lock[i]);
	c->curl->slist_free_all(c->resolve);
	pthread_mutex_destroy(&c->lock);
	free(c->ca_bundle);
	free(c);
}

/* A handle from the pool (its connections kept alive) or a new one. */
static CURL *handle_get(struct http_client *c)
{
	CURL *h = NULL;
	pthread_mutex_lock(&c->lock);
	if (c->n_pool)
		h = c->pool[--c->n_pool];
	pthread_mutex_unlock(&c->lock);
	if (h)
		c->curl->easy_reset(h); /* keeps live connections, DNS and TLS session caches */
	else
		h = c->curl->easy_init();
	return h;
}

static void handle_put(struct http_client *c, CURL *h)
{
	pthread_mutex_lock(&c->lock);
	if (c->n_pool < HTTP_POOL_MAX) {
		c->pool[c->n_pool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (h)
		c->curl->easy_cleanup(h);
}

void http_reply_release(struct http_reply *rep)
{
	free(rep->body);
	rep->body = NULL;
	rep->len = 0;
	rep->body_cap = 0;
}

/* --- the errno table --- */

struct http_errmap {
	const char *code; /* S3 error code, or NULL: matches on status only */
	long status;	  /* 0: any */
	int err;
	int retry;
};

static const struct http_errmap errmap[] = {
    {"AccessDenied", 0, -EACCES, 0},
    {"InvalidAccessKeyId", 0, -EACCES, 0},
    {"SignatureDoesNotMatch", 0, -EACCES, 0},
    {"ExpiredToken", 0, -EACCES, 0},
    {"InvalidToken", 0, -EACCES, 0},
    {"AccountProblem", 0, -EACCES, 0},
    {"AllAccessDisabled", 0, -EACCES, 0},
    {"RequestTimeTooSkewed", 0, -EACCES, 0},
    {"PermanentRedirect", 0, -EIO, 0},
    {"AuthorizationHeaderMalformed", 0, -EINVAL, 0},
    {"NoSuchKey", 0, -ENOENT, 0},
    {"NoSuchBucket", 0, -ENOENT, 0},
    {"NoSuchUpload", 0, -ENOENT, 0},
    {"InvalidRange", 0, -ERANGE, 0},
    {"EntityTooLarge", 0, -EFBIG, 0},
    {"SlowDown", 0, -EIO, 1},
    {"InternalError", 0, -EIO, 1},
    {"ServiceUnavailable", 0, -EIO, 1},
    {"RequestTimeout", 0, -EIO, 1}, /* a 400 that AWS asks clients to retry */
    {"Throttling", 0, -EIO, 1},
    {"PreconditionFailed", 0, -ESTALE, 0},	/* If-Match / If-None-Match not met */
    {"ConditionalRequestConflict", 0, -EIO, 1}, /* a 409 AWS asks clients to retry */
    {"NotImplemented", 0, -EOPNOTSUPP, 0},	/* e.g. a conditional header */
    {NULL, 304, -EALREADY, 0}, /* Not Modified: a conditional GET (If-None-Match) */
    {NULL, 401, -EACCES, 0},
    {NULL, 403, -EACCES, 0},
    {NULL, 404, -ENOENT, 0},
    {NULL, 412, -ESTALE, 0},
    {NULL, 416, -ERANGE, 0},
    {NULL, 429, -EIO, 1},
    {NULL, 500, -EIO, 1},
    {NULL, 501, -EOPNOTSUPP, 0},
    {NULL, 502, -EIO, 1},
    {NULL, 503, -EIO, 1},
    {NULL, 504, -EIO, 1},
};

/* Maps a non-2xx status (and S3 code, "" if none) to an errno and whether to retry. */
static int map_status(long status, const char *code, int *retry)
{
	for (size_t i = 0; i < sizeof errmap / sizeof errmap[0]; i++) {
		const struct http_errmap *m = &errmap[i];
		if ((m->code && strcmp(m->code, code) == 0) || (!m->code && m->status == status)) {
			*retry = m->retry;
			return m->err;
		}
	}
	*retry = status >= 500;
	return -EIO;
}

/* Maps a libcurl failure to an errno and whether to retry. */
static int map_curl(const struct s3_dl_curl *cu, CURLcode cc, CURL *h, int *retry)
{
	long oserr = 0;
	*retry = 1;
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		cu->easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
		if (oserr == EHOSTUNREACH || oserr == ENETUNREACH)
			return -EHOSTUNREACH;
		return oserr == ETIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
		return -EIO;
	default:
		*retry = 0;
		return -EIO;
	}
}

/* --- one attempt --- */

static int method_setup(CURL *h, struct xfer *x)
{
	const struct s3_dl_curl *cu = x->curl;
	const struct http_request *req = x->req;
	if (strcmp(req->method, "HEAD") == 0)
		return cu->easy_setopt(h, CURLOPT_NOBODY, 1L) == CURLE_OK ? 0 : -EIO;
	if (strcmp(req->method, "GET") == 0)
		return 0;
	if (strcmp(req->method, "PUT") == 0 || strcmp(req->method, "POST") == 0) {
		cu->easy_setopt(h, CURLOPT_UPLOAD, 1L);
		cu->easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
		cu->easy_setopt(h, CURLOPT_READFUNCTION, http_read_cb);
		cu->easy_setopt(h, CURLOPT_READDATA, x);
		cu->easy_setopt(h, CURLOPT_SEEKFUNCTION, http_seek_cb);
		cu->easy_setopt(h, CURLOPT_SEEKDATA, x);
	}
	if (strcmp(req->method, "PUT") != 0)
		cu->easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	return 0;
}

static struct curl_slist *header_list(const struct s3_dl_curl *cu, const struct http_request *req)
{
	struct curl_slist *l = NULL, *t;
	for (size_t i = 0; i < req->n_headers; i++) {
		if (!(t = cu->slist_append(l, req->headers[i])))
			goto fail;
		l = t;
	}
	if (!(t = cu->slist_append(l, "Expect:"))) /* no 100-continue round trip */
		goto fail;
	return t;
fail:
	cu->slist_free_all(l);
	return NULL;
}

static void common_setup(struct http_client *c, const struct http_policy *p, CURL *h,
			 struct xfer *x, char *cerr)
{
	const struct s3_dl_curl *cu = c->curl;

	cu->easy_setopt(h, CURLOPT_URL, x->req->url);
	cu->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: the string form; the bitmask is deprecated */
	cu->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	cu->easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	cu->easy_setopt(h, CURLOPT_USERAGENT, "sealfs/" SEALFS_VERSION);
	if (c->share)
		cu->easy_setopt(h, CURLOPT_SHARE, c->share);
	if (c->resolve)
		cu->easy_setopt(h, CURLOPT_RESOLVE, c->resolve);
	cu->easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	cu->easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)p->connect_timeout_ms);
	cu->easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)p->low_speed_bytes);
	cu->easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)p->low_speed_secs);
	cu->easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	cu->easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	cu->easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write_cb);
	cu->easy_setopt(h, CURLOPT_WRITEDATA, x);
	cu->easy_setopt(h, CURLOPT_HEADERFUNCTION, http_header_cb);
	cu->easy_setopt(h, CURLOPT_HEADERDATA, x);
	if (c->ca_bundle)
		cu->easy_setopt(h, CURLOPT_CAINFO, c->ca_bundle);
}

/* Outcome of one attempt. */
struct outcome {
	int err; /* 0 success */
	int retry;
	int fixable; /* a different request may succeed (http.h: prepare) */
	char why[400];
};

static void outcome_http(struct outcome *o, struct xfer *x, long status)
{
	struct http_reply *rep = x->rep;
	const char *code = "";
	memset(&rep->s3err, 0, sizeof rep->s3err);
	if (x->errlen && s3_xml_parse_error(&rep->s3err, x->errbody, x->errlen) == 0)
		code = rep->s3err.code;
	o->err = map_status(status, code, &o->retry);
	int moved = status == 301 || strcmp(code, "PermanentRedirect") == 0 ||
		    strcmp(code, "AuthorizationHeaderMalformed") == 0;
	o->fixable = strcmp(code, "ExpiredToken") == 0 ||
		     strcmp(code, "TokenRefreshRequired") == 0 ||
		     (strcmp(code, "RequestTimeTooSkewed") == 0 && rep->server_date) ||
		     (moved && (rep->bucket_region[0] || rep->s3err.region[0]));
	if (status == 301 && !code[0])
		snprintf(o->why, sizeof o->why, "http status 301 (the bucket is elsewhere%s%s)",
			 rep->bucket_region[0] ? ": region " : "", rep->bucket_region);
	else if (code[0])
		snprintf(o->why, sizeof o->why, "%s: %s (http %ld)", code,
			 rep->s3err.message[0] ? rep->s3err.message : "no message", status);
	else
		snprintf(o->why, sizeof o->why, "http status %ld", status);
}

static void run_attempt(struct http_client *c, const struct http_policy *p, CURL *h, struct xfer *x,
			struct outcome *o)
{
	const struct s3_dl_curl *cu = c->curl;
	char cerr[CURL_ERROR_SIZE] = "";
	long status = 0;
	struct curl_slist *hl = header_list(cu, x->req);
	o->err = 0;
	o->retry = 0;
	o->fixable = 0;
	o->why[0] = '\0';
	if (!hl) {
		o->err = -ENOMEM;
		return;
	}
	common_setup(c, p, h, x, cerr);
	cu->easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	CURLcode cc = method_setup(h, x) < 0 ? CURLE_FAILED_INIT : cu->easy_perform(h);
	cu->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	x->rep->status = status;
	cu->slist_free_all(hl);
	if (cc == CURLE_WRITE_ERROR && x->sink_err) {
		o->err = x->sink_err;
		snprintf(o->why, sizeof o->why, "%s",
			 o->err == -EFBIG ? "reply too large" : strerror(-o->err));
	} else if (cc != CURLE_OK) {
		o->err = map_curl(cu, cc, h, &o->retry);
		snprintf(o->why, sizeof o->why, "%s", cerr[0] ? cerr : cu->easy_strerror(cc));
	} else if (status < 200 || status > 299) {
		outcome_http(o, x, status);
	} else if ((x->req->flags & HTTP_ERROR_IN_200) && x->errlen) {
		struct s3_xml_error e;
		int r = s3_xml_check_complete(&e, x->errbody, x->errlen);
		if (r == -EAGAIN) {
			x->rep->s3err = e;
			o->err = map_status(500, e.code, &o->retry);
			o->retry = 1;
			snprintf(o->why, sizeof o->why, "%s: %s (in a 200 reply)", e.code,
				 e.message);
		} else if (r < 0) {
			o->err = -EPROTO;
			snprintf(o->why, sizeof o->why, "malformed reply");
		}
	}
}

/* --- the retry loop --- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static unsigned backoff_ms(const struct http_policy *p, unsigned attempt)
{
	uint64_t cap = p->base_delay_ms;
	for (unsigned i = 0; i < attempt && cap < p->max_delay_ms; i++)
		cap *= 2;
	if (cap > p->max_delay_ms)
		cap = p->max_delay_ms;
	return randombytes_uniform((uint32_t)cap + 1); /* full jitter */
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void reset_for_attempt(struct xfer *x, CURL *h, const struct http_request *req)
{
	struct http_reply *rep = x->rep;
	const struct s3_dl_curl *cu = x->curl;
	free(x->errbody);
	memset(x, 0, sizeof *x);
	x->curl = cu;
	x->h = h;
	x->rep = rep;
	x->req = req;
	x->resume_from = rep->fd_written;
	if (rep->sink == HTTP_SINK_MEM)
		http_reply_release(rep);
	rep->status = 0;
	rep->content_length = -1;
	rep->etag[0] = rep->content_range[0] = '\0';
}

int http_exchange(struct http_client *c, http_prepare_fn prepare, void *arg, struct http_reply *rep,
		  char *err, size_t err_size)
{
	return http_exchange_policy(c, NULL, prepare, arg, rep, err, err_size);
}

int http_exchange_policy(struct http_client *c, const struct http_policy *policy,
			 http_prepare_fn prepare, void *arg, struct http_reply *rep, char *err,
			 size_t err_size)
{
	const struct http_policy *p = policy ? policy : &c->policy;
	struct xfer x = {0};
	struct outcome o = {0};
	struct http_request req;
	uint64_t start = now_ms();
	const char *method = "request";
	CURL *h = handle_get(c);

	rep->body = NULL;
	rep->len = 0;
	rep->body_cap = 0;
	rep->fd_written = 0;
	rep->tries = 0;
	rep->fixable = 0;
	if (!h) {
		snprintf(err, err_size, "cannot create a curl handle");
		return -ENOMEM;
	}
	x.rep = rep;
	x.curl = c->curl;
	unsigned fixes = 0;
	for (unsigned attempt = 0;; attempt++) {
		memset(&req, 0, sizeof req);
		int pr = prepare(arg, &req, attempt, rep);
		if (pr == HTTP_PREPARE_GIVE_UP && rep->fixable)
			break; /* o still holds the last try's error */
		o.err = pr > 0 ? -EINVAL : pr;
		if (o.err < 0) {
			snprintf(o.why, sizeof o.why, "cannot build the request: %s",
				 strerror(-o.err));
			break;
		}
		method = req.method;
		reset_for_attempt(&x, h, &req);
		run_attempt(c, p, h, &x, &o);
		rep->tries = attempt + 1;
		rep->fixable = o.err && o.fixable && fixes < HTTP_MAX_FIXES;
		if (rep->fixable) {
			fixes++;
			continue; /* at once: prepare decides whether it can cure it */
		}
		if (o.err == 0 || !o.retry || attempt + 1 >= p->max_tries)
			break;
		unsigned d = backoff_ms(p, attempt);
		if (rep->retry_after_ms > d)
			d = rep->retry_after_ms; /* the server asked for at least this */
		if (now_ms() + d - start > p->total_ms)
			break;
		sleep_ms(d);
	}
	free(x.errbody);
	handle_put(c, h);
	if (o.err < 0) {
		snprintf(err, err_size, "s3 %s failed: %s (%u %s in %.1f s)", method, o.why,
			 rep->tries, rep->tries == 1 ? "try" : "tries",
			 (double)(now_ms() - start) / 1000.0);
		if (rep->sink == HTTP_SINK_MEM)
			http_reply_release(rep);
	}
	return o.err;
}
