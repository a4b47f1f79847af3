/* http_int.h - what http.c and http_body.c share: one attempt's transfer
 * state and the libcurl callbacks that fill the reply. Inside backends/
 * only. */
#ifndef SEALFS_HTTP_INT_H
#define SEALFS_HTTP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "s3_dl.h"

#define HTTP_ERROR_BODY_MAX (64u << 10) /* bytes of an error reply kept */
#define HTTP_RETRY_AFTER_MAX_MS 60000u

/* One attempt's transfer state. */
struct xfer {
	const struct s3_dl_curl *curl; /* the loaded libcurl */
	CURL *h;
	struct http_reply *rep;
	const struct http_request *req;
	size_t body_pos;
	char *errbody; /* body of a non-2xx reply, capped */
	size_t errlen;
	uint64_t skip; /* bytes to drop: a resumed download answered from byte 0 */
	uint64_t resume_from;
	int started; /* the body of this reply has begun */
	int sink_err;
};

/* libcurl callbacks (CURLOPT_READFUNCTION, _SEEKFUNCTION, _HEADERFUNCTION,
 * _WRITEFUNCTION); arg is the struct xfer of the attempt. */
size_t http_read_cb(char *buf, size_t size, size_t nitems, void *arg);
int http_seek_cb(void *arg, curl_off_t off, int origin);
size_t http_header_cb(char *buf, size_t size, size_t nitems, void *arg);
size_t http_write_cb(char *buf, size_t size, size_t nitems, void *arg);

#endif
