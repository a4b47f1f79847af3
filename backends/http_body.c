/* http_body.c - the libcurl callbacks of one attempt: the request body
 * read and rewound, the reply's headers parsed (ETag, Content-Range, Date,
 * Retry-After), its body written to memory or a file within the caller's
 * bound, an error reply's body kept (capped). Must never keep a reply body
 * past its cap nor write past a file's bound. */
#include "http_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fdio.h"

size_t http_read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	size_t want = size * nitems, left = x->req->body_len - x->body_pos;
	size_t n = want < left ? want : left;
	if (n)
		memcpy(buf, x->req->body + x->body_pos, n);
	x->body_pos += n;
	return n;
}

int http_seek_cb(void *arg, curl_off_t off, int origin)
{
	struct xfer *x = arg;
	if (origin != SEEK_SET || off < 0 || (uint64_t)off > x->req->body_len)
		return CURL_SEEKFUNC_FAIL;
	x->body_pos = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

static void header_value(char *out, size_t size, const char *v, size_t n)
{
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	if (n >= size)
		n = size - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

/* Retry-After: delay-seconds or an HTTP date; capped. */
static unsigned retry_after_ms(const struct xfer *x, const char *v)
{
	char *end;
	long long s = strtoll(v, &end, 10);
	if (end == v || *end) {
		time_t t = x->curl->getdate(v, NULL);
		s = t > 0 ? (long long)(t - time(NULL)) : 0;
	}
	if (s <= 0)
		return 0;
	return s > HTTP_RETRY_AFTER_MAX_MS / 1000 ? HTTP_RETRY_AFTER_MAX_MS : (unsigned)s * 1000u;
}

size_t http_header_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nitems;
	char num[64];
	if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) { /* a new reply (after 100 Continue) */
		x->rep->etag[0] = x->rep->content_range[0] = x->rep->bucket_region[0] = '\0';
		x->rep->content_length = -1;
		x->rep->server_date = 0;
		x->rep->retry_after_ms = 0;
	} else if (n > 5 && strncasecmp(buf, "etag:", 5) == 0) {
		header_value(x->rep->etag, sizeof x->rep->etag, buf + 5, n - 5);
	} else if (n > 14 && strncasecmp(buf, "content-range:", 14) == 0) {
		header_value(x->rep->content_range, sizeof x->rep->content_range, buf + 14, n - 14);
	} else if (n > 5 && strncasecmp(buf, "date:", 5) == 0) {
		header_value(num, sizeof num, buf + 5, n - 5);
		time_t t = x->curl->getdate(num, NULL);
		x->rep->server_date = t > 0 ? (long long)t : 0;
	} else if (n > 12 && strncasecmp(buf, "retry-after:", 12) == 0) {
		header_value(num, sizeof num, buf + 12, n - 12);
		x->rep->retry_after_ms = retry_after_ms(x, num);
	} else if (n > 20 && strncasecmp(buf, "x-amz-bucket-region:", 20) == 0) {
		header_value(x->rep->bucket_region, sizeof x->rep->bucket_region, buf + 20, n - 20);
	} else if (n > 15 && strncasecmp(buf, "content-length:", 15) == 0) {
		header_value(num, sizeof num, buf + 15, n - 15);
		char *end;
		errno = 0;
		long long v = strtoll(num, &end, 10);
		x->rep->content_length = (errno || *end || v < 0) ? -1 : v;
	}
	return n;
}

static int mem_append(struct xfer *x, const char *p, size_t n)
{
	struct http_reply *r = x->rep;
	if (n > r->mem_limit - r->len)
		return -EFBIG;
	size_t want = r->len + n + 1;
	if (r->content_length > 0 && (uint64_t)r->content_length < r->mem_limit &&
	    want < (size_t)r->content_length + 1)
		want = (size_t)r->content_length + 1; /* one allocation for the announced size */
	if (want > r->body_cap) {
		/* Grow geometrically: curl hands the body over in small pieces. */
		size_t cap = r->body_cap > want / 2 ? 2 * r->body_cap : want;

		if (cap > r->mem_limit + 1)
			cap = want > r->mem_limit + 1 ? want : r->mem_limit + 1;
		unsigned char *b = realloc(r->body, cap);

		if (!b)
			return -ENOMEM;
		r->body = b;
		r->body_cap = cap;
	}
	memcpy(r->body + r->len, p, n);
	r->len += n;
	r->body[r->len] = '\0';
	return 0;
}

static int err_append(struct xfer *x, const char *p, size_t n)
{
	if (x->errlen + n > HTTP_ERROR_BODY_MAX)
		n = HTTP_ERROR_BODY_MAX - x->errlen; /* the rest is not needed */
	char *b = realloc(x->errbody, x->errlen + n + 1);
	if (!b)
		return -ENOMEM;
	memcpy(b + x->errlen, p, n);
	x->errbody = b;
	x->errlen += n;
	return 0;
}

/* Called once per reply body start: decides what a resumed download keeps. */
static void body_start(struct xfer *x, long status)
{
	x->started = 1;
	if (status == 200 && x->resume_from) /* the server ignored our Range */
		x->skip = x->resume_from;
}

static int sink_write(struct xfer *x, const char *p, size_t n)
{
	if (x->skip) {
		size_t k = x->skip < n ? (size_t)x->skip : n;
		x->skip -= k;
		p += k;
		n -= k;
	}
	if (!n)
		return 0;
	switch (x->rep->sink) {
	case HTTP_SINK_MEM:
		return mem_append(x, p, n);
	case HTTP_SINK_FD: {
		int r;
		if (x->rep->fd_limit && n > x->rep->fd_limit - x->rep->fd_written)
			return -EFBIG; /* a store sending more than the object can hold */
		r = fdio_write_all(x->rep->fd, p, n);
		if (r == 0)
			x->rep->fd_written += n;
		return r;
	}
	default:
		return 0;
	}
}

size_t http_write_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nitems;
	long status = 0;
	x->curl->easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	int r;
	if (status < 200 || status > 299 ||
	    (x->req->flags & HTTP_ERROR_IN_200 && x->rep->sink == HTTP_SINK_NONE)) {
		r = err_append(x, buf, n);
	} else {
		if (!x->started)
			body_start(x, status);
		r = sink_write(x, buf, n);
	}
	if (r < 0) {
		x->sink_err = r;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	return n;
}
