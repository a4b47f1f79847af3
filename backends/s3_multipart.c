/* s3_multipart.c - large objects as S3 multipart uploads: initiate, equal
 * parts uploaded on a few threads (each with its real payload hash), complete
 * with the parts' ETags in order, abort on any failure. Must never leave a
 * failed upload behind without trying to abort it, nor send a part it did
 * not sign. */
#include "s3_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s3_xml.h"

#define S3_MAX_PARTS 10000 /* S3 limit on parts per upload */

struct mp {
	struct s3_backend *s;
	const char *key;
	const unsigned char *data; /* the object in memory, or NULL: read from fd */
	int fd;
	uint64_t len;
	size_t part_size;
	unsigned n_parts;
	char *upload_id;
	char **etags;
	pthread_mutex_t lock; /* protects next, err, errmsg */
	unsigned next;
	int err;
	char errmsg[S3_REQUEST_ERR_BYTES];
};

static int mp_initiate(struct mp *m)
{
	struct s3_request rq;
	struct http_reply rep = {.sink = HTTP_SINK_MEM, .mem_limit = S3_XML_MAX_REPLY};
	int r = s3_request_object(&rq, &m->s->t, "POST", m->key);
	if (r < 0)
		return r;
	s3_request_param(&rq, "uploads", "");
	r = s3_request_run(&rq, &rep);
	if (r == 0 && s3_xml_parse_upload_id(&m->upload_id, (char *)rep.body, rep.len) < 0)
		r = s3_request_fail(-EPROTO,
				    "s3 POST (initiate multipart upload): malformed reply");
	http_reply_release(&rep);
	return r;
}

int s3_pread_all(int fd, unsigned char *buf, size_t len, uint64_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return s3_request_fail(-errno, "cannot read the source file: %s",
					       strerror(errno));
		if (n == 0)
			return s3_request_fail(-EIO, "source file shrank during upload");
		got += (size_t)n;
	}
	return 0;
}

static int mp_part(struct mp *m, unsigned i, unsigned char *buf)
{
	struct s3_request rq;
	struct http_reply rep = {.sink = HTTP_SINK_NONE};
	uint64_t off = (uint64_t)i * m->part_size;
	size_t plen = m->len - off < m->part_size ? (size_t)(m->len - off) : m->part_size;
	char num[16];
	const unsigned char *body = m->data ? m->data + off : buf;
	int r = m->data ? 0 : s3_pread_all(m->fd, buf, plen, off);
	if (r == 0)
		r = s3_request_object(&rq, &m->s->t, "PUT", m->key);
	if (r < 0)
		return r;
	snprintf(num, sizeof num, "%u", i + 1);
	s3_request_param(&rq, "partNumber", num);
	s3_request_param(&rq, "uploadId", m->upload_id);
	s3_request_body(&rq, body, plen);
	r = s3_request_run(&rq, &rep);
	if (r == 0 && !rep.etag[0])
		r = s3_request_fail(-EPROTO, "s3 PUT (upload part): reply without an etag");
	if (r == 0 && !(m->etags[i] = strdup(rep.etag)))
		r = -ENOMEM;
	return r;
}

static void *mp_worker(void *arg)
{
	struct mp *m = arg;
	unsigned char *buf = m->data ? NULL : malloc(m->part_size);
	int r = (!m->data && !buf) ? -ENOMEM : 0;
	for (;;) {
		pthread_mutex_lock(&m->lock);
		unsigned i = m->next++;
		int stop = m->err || r < 0 || i >= m->n_parts;
		pthread_mutex_unlock(&m->lock);
		if (stop)
			break;
		r = mp_part(m, i, buf);
	}
	if (r < 0) {
		pthread_mutex_lock(&m->lock);
		if (!m->err) {
			m->err = r;
			snprintf(m->errmsg, sizeof m->errmsg, "%s", s3_request_last_error());
		}
		pthread_mutex_unlock(&m->lock);
	}
	free(buf);
	return NULL;
}

/* Uploads every part with up to parallel_parts threads (this one included). */
static int mp_upload_parts(struct mp *m)
{
	pthread_t t[4];
	unsigned n = m->s->tun.parallel_parts, started = 0;
	if (n > 4)
		n = 4;
	if (n > m->n_parts)
		n = m->n_parts;
	for (unsigned i = 1; i < n; i++)
		if (pthread_create(&t[started], NULL, mp_worker, m) == 0)
			started++;
	mp_worker(m);
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	if (m->err)
		s3_request_fail(m->err, "%s", m->errmsg);
	return m->err;
}

static int mp_complete(struct mp *m)
{
	struct s3_request rq;
	struct http_reply rep = {.sink = HTTP_SINK_NONE};
	char *xml = NULL;
	size_t xml_len = 0;
	int r = s3_xml_build_complete(&xml, &xml_len, (const char *const *)m->etags, m->n_parts);
	if (r == 0)
		r = s3_request_object(&rq, &m->s->t, "POST", m->key);
	if (r < 0) {
		free(xml);
		return r;
	}
	s3_request_param(&rq, "uploadId", m->upload_id);
	s3_request_body(&rq, xml, xml_len);
	rq.flags = HTTP_ERROR_IN_200;
	r = s3_request_run(&rq, &rep);
	free(xml);
	if (r == -ENOENT &&
	    rep.tries > 1) { /* an earlier try completed it and its reply was lost */
		uint64_t size = 0;
		if (s3_head(&m->s->base, m->key, &size) == 0 && size == m->len)
			r = 0;
	}
	return r;
}

static void mp_abort(struct mp *m)
{
	struct s3_request rq;
	struct http_reply rep = {.sink = HTTP_SINK_NONE};
	char keep[S3_REQUEST_ERR_BYTES];
	snprintf(keep, sizeof keep, "%s", s3_request_last_error()); /* report the failure */
	if (s3_request_object(&rq, &m->s->t, "DELETE", m->key) == 0) {
		s3_request_param(&rq, "uploadId", m->upload_id);
		s3_request_run(&rq, &rep);
	}
	s3_request_fail(0, "%s", keep);
}

int s3_put_multipart(struct s3_backend *s, const char *key, const void *data, int fd, uint64_t len)
{
	struct mp m = {.s = s, .key = key, .data = data, .fd = fd, .len = len};
	m.part_size = s->tun.part_size;
	if ((len + m.part_size - 1) / m.part_size > S3_MAX_PARTS)
		m.part_size =
		    (size_t)(((len + S3_MAX_PARTS - 1) / S3_MAX_PARTS + MIB - 1) / MIB * MIB);
	m.n_parts = (unsigned)((len + m.part_size - 1) / m.part_size);
	m.etags = calloc(m.n_parts, sizeof *m.etags);
	if (!m.etags)
		return -ENOMEM;
	pthread_mutex_init(&m.lock, NULL);
	int r = mp_initiate(&m);
	if (r == 0) {
		r = mp_upload_parts(&m);
		if (r == 0)
			r = mp_complete(&m);
		if (r < 0)
			mp_abort(&m);
	}
	for (unsigned i = 0; i < m.n_parts; i++)
		free(m.etags[i]);
	free(m.etags);
	free(m.upload_id);
	pthread_mutex_destroy(&m.lock);
	return r;
}
