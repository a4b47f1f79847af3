/* http.h - the HTTP exchange under the S3 client: a libcurl wrapper with a
 * pool of reusable easy handles (connection reuse; DNS and TLS sessions shared
 * through a curl share object), User-Agent sealfs/VERSION, timeouts, capped reply
 * bodies, bounded retries with exponential backoff and full jitter, and the
 * one table that turns an HTTP status / S3 error code into an errno. Knows S3
 * error replies, not S3 operations. Every call is thread-safe. */
#ifndef SEALFS_HTTP_H
#define SEALFS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "s3_xml.h"

/* Retry and timeout policy; http_policy_default fills the defaults. */
struct http_policy {
	unsigned max_tries;	     /* attempts in all, >= 1 (default 6) */
	unsigned base_delay_ms;	     /* backoff before try n+1: rand(0, min(cap, base*2^n)) */
	unsigned max_delay_ms;	     /* cap of one backoff (default 8000) */
	unsigned total_ms;	     /* no try starts later than this after the first (60000) */
	unsigned connect_timeout_ms; /* default 10000 */
	unsigned low_speed_bytes;    /* abort a transfer slower than this many bytes/s ... */
	unsigned low_speed_secs;     /* ... for this long (default 1024 B/s for 30 s) */
};

void http_policy_default(struct http_policy *p);

/* The policy for a request someone is waiting on (a read of a file that is
 * not cached, blocking a FUSE request): rides out a blip of a few seconds but
 * gives up within HTTP_FOREGROUND_BOUND_MS of the first try when the server
 * refuses, drops or never answers. Up to 8 tries, no try starting later than
 * 4 s after the first, connect timeout 3 s, abort a try slower than 1024 B/s
 * for 5 s. A transfer that keeps moving is not cut. */
void http_policy_foreground(struct http_policy *p);

/* Worst case of an exchange under http_policy_foreground against a server
 * that sends nothing: the last try starts by total_ms (4 s) and stalls out
 * after low_speed_secs (5 s), plus curl's one-second speed check. */
#define HTTP_FOREGROUND_BOUND_MS 10000u

struct http_client;

/* A new client; ca_bundle (borrowed, may be NULL) replaces the system CA
 * store. TLS peers are always verified. -ENOMEM, -EIO (libsodium init),
 * -ENOSYS (libcurl cannot be loaded: s3_dl_load says why). */
int http_client_new(struct http_client **out, const struct http_policy *policy,
		    const char *ca_bundle);

/* Makes the client resolve host:port to an address of its choosing
 * (CURLOPT_RESOLVE): list is "HOST:PORT:ADDR[,HOST:PORT:ADDR...]" (copied).
 * For tests that reach a local server under a real-looking host name; call
 * before any exchange. -ENOMEM. */
int http_client_set_resolve(struct http_client *c, const char *list);

/* Frees the client and its pooled handles; no exchange may be running. */
void http_client_free(struct http_client *c);

enum {
	HTTP_ERROR_IN_200 =
	    1u << 0, /* a 200 reply may carry an S3 <Error> (CompleteMultipartUpload) */
};

/* One attempt's request, filled by the prepare callback; everything is
 * borrowed and must stay valid until the next prepare call or the end of
 * http_exchange. */
struct http_request {
	const char *method; /* GET HEAD PUT POST DELETE */
	const char *url;
	const char *const *headers; /* "Name: value" lines */
	size_t n_headers;
	const unsigned char *body; /* PUT/POST body (NULL with body_len 0: empty) */
	size_t body_len;
	unsigned flags;
};

/* Where a successful reply's body goes. */
enum http_sink {
	HTTP_SINK_NONE, /* discarded */
	HTTP_SINK_MEM,	/* a malloc'ed buffer of at most mem_limit bytes (-EFBIG beyond) */
	HTTP_SINK_FD,	/* written to fd at its current offset */
};

/* The reply. The caller sets sink, mem_limit / fd before the exchange and
 * frees body afterwards (http_reply_release). */
struct http_reply {
	enum http_sink sink;
	size_t mem_limit;
	int fd;
	uint64_t fd_limit; /* HTTP_SINK_FD: the most bytes the object may have
			    * (-EFBIG, the transfer cut, beyond); 0: no limit */
	/* filled in: */
	long status;	     /* last HTTP status, 0 if none */
	unsigned char *body; /* HTTP_SINK_MEM: new malloc'ed body (+1 NUL byte) */
	size_t len;
	size_t body_cap;	/* bytes allocated for body */
	uint64_t fd_written;	/* HTTP_SINK_FD: bytes of the object written so far */
	int64_t content_length; /* of the last reply, -1 unknown */
	char etag[128];
	char content_range[96];
	struct s3_xml_error s3err; /* code/message of the last error reply, if any */
	unsigned tries;
	long long server_date;	 /* Date of the last reply (Unix time), 0 if none */
	unsigned retry_after_ms; /* Retry-After of the last reply, 0 if none */
	char bucket_region[64];	 /* x-amz-bucket-region of the last reply, "" if none */
	int fixable;		 /* the last try failed in a way a new request may fix */
};

/* What prepare returns to end the exchange with the last try's error. */
#define HTTP_PREPARE_GIVE_UP 1

/* Builds the request for attempt number attempt (0-based), e.g. signing it
 * with a fresh date; rep shows the state so far (fd_written, to resume a
 * download with a Range). When rep->fixable is set the last try failed with
 * an error a different request may cure (ExpiredToken, RequestTimeTooSkewed,
 * a redirect to another region: rep->s3err, server_date, bucket_region say
 * which): prepare returns 0 to send the cure at once, or
 * HTTP_PREPARE_GIVE_UP. Returns 0, HTTP_PREPARE_GIVE_UP or a negative errno
 * that ends the exchange. */
typedef int (*http_prepare_fn)(void *arg, struct http_request *req, unsigned attempt,
			       const struct http_reply *rep);

/* Runs a request with retries: 5xx, 429, S3 SlowDown/InternalError/
 * RequestTimeout, timeouts and connection failures are retried within the
 * policy, no sooner than a Retry-After asks; 4xx fail at once, but for the
 * fixable ones above (at most two cures per exchange). Returns 0 on a 2xx status, else a negative
 * errno: -EACCES (401/403, AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch,
 * ...), -ENOENT (404, NoSuchKey, NoSuchBucket, NoSuchUpload), -ERANGE (416),
 * -EFBIG (a body over mem_limit, EntityTooLarge), -ESTALE (412,
 * PreconditionFailed: a conditional write's condition not met), -EALREADY
 * (304 Not Modified: a conditional GET's object unchanged), -EOPNOTSUPP
 * (501, NotImplemented), -EPROTO (a reply that makes
 * no sense), -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH, -EIO (the rest), or the
 * sink's write error; err gets a one-line reason naming the method, the S3
 * code and message, and the tries. */
int http_exchange(struct http_client *c, http_prepare_fn prepare, void *arg, struct http_reply *rep,
		  char *err, size_t err_size);

/* http_exchange under policy (borrowed; NULL: the client's own) for this one
 * exchange; the pooled connections are shared. */
int http_exchange_policy(struct http_client *c, const struct http_policy *policy,
			 http_prepare_fn prepare, void *arg, struct http_reply *rep, char *err,
			 size_t err_size);

/* Frees rep->body; safe to call twice. */
void http_reply_release(struct http_reply *rep);

#endif
