/* s3_uploads.c - the store's abandoned multipart uploads: ListMultipartUploads
 * under the store's prefix, page by page (key-marker, upload-id-marker), and
 * AbortMultipartUpload of those the server says began at least a given age
 * ago. Must never abort an upload younger than that (another device may be
 * writing it), one outside the store's prefix, or go on past its time
 * budget. */
#include "s3_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3_xml.h"

static int64_t mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* One stale upload of a page, to abort once the page is read. */
struct stale_item {
	char *key; /* relative to the store's prefix */
	char *upload_id;
};

struct sweep {
	struct s3_backend *s;
	const char *strip; /* store prefix + "/" */
	size_t strip_len;
	int64_t cutoff; /* server seconds: begun at or before this is stale */
	struct stale_item *items;
	size_t n, cap;
	struct backend_stale *out;
};

static int sweep_one(void *arg, const char *key, const char *upload_id, int64_t initiated)
{
	struct sweep *w = arg;
	if (strncmp(key, w->strip, w->strip_len) != 0)
		return s3_request_fail(-EPROTO, "s3 list uploads: an upload outside the prefix");
	if (initiated > w->cutoff) {
		w->out->young++;
		return 0;
	}
	if (!s3_request_key_valid(key + w->strip_len, 0))
		return 0; /* not a key this store writes: not ours to abort */
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;
		struct stale_item *p = realloc(w->items, cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		w->items = p;
		w->cap = cap;
	}
	struct stale_item *it = &w->items[w->n];
	it->key = strdup(key + w->strip_len);
	it->upload_id = strdup(upload_id);
	if (!it->key || !it->upload_id) {
		free(it->key);
		free(it->upload_id);
		return -ENOMEM;
	}
	w->n++;
	w->out->stale++;
	return 0;
}

/* One page from the markers (NULL: the first); *next_* become the next
 * page's (NULL when it was the last). */
static int sweep_page(struct sweep *w, const char *full, char **next_key, char **next_id)
{
	struct s3_request rq;
	struct http_reply rep = {.sink = HTTP_SINK_MEM, .mem_limit = S3_XML_MAX_REPLY};
	struct s3_xml_uploads_page page;
	char max[16];
	s3_request_bucket(&rq, &w->s->t, "GET");
	rq.policy = &w->s->tun.read_policy; /* gives up within seconds */
	s3_request_param(&rq, "uploads", "");
	s3_request_param(&rq, "prefix", full);
	if (*next_key) {
		s3_request_param(&rq, "key-marker", *next_key);
		if ((*next_id)[0])
			s3_request_param(&rq, "upload-id-marker", *next_id);
	}
	if (w->s->tun.max_uploads_page) {
		snprintf(max, sizeof max, "%u", w->s->tun.max_uploads_page);
		s3_request_param(&rq, "max-uploads", max);
	}
	int r = s3_request_run(&rq, &rep);
	if (r == 0) {
		r = s3_xml_parse_uploads(&page, (char *)rep.body, rep.len, sweep_one, w);
		if (r == -EPROTO && !s3_request_last_error()[0])
			s3_request_fail(r, "s3 list uploads: malformed reply");
	}
	http_reply_release(&rep);
	if (r == 0 && page.truncated && *next_key && strcmp(page.next_key, *next_key) == 0 &&
	    strcmp(page.next_upload_id, *next_id) == 0)
		r = s3_request_fail(-EPROTO, "s3 list uploads: the server repeats a page");
	free(*next_key);
	free(*next_id);
	*next_key = r == 0 ? page.next_key : NULL;
	*next_id = r == 0 ? page.next_upload_id : NULL;
	if (r != 0) {
		free(page.next_key);
		free(page.next_upload_id);
	}
	return r;
}

static int sweep_abort(struct s3_backend *s, const struct stale_item *it)
{
	struct s3_request rq;
	struct http_reply rep = {.sink = HTTP_SINK_NONE};
	int r = s3_request_object(&rq, &s->t, "DELETE", it->key);
	if (r < 0)
		return r;
	rq.policy = &s->tun.read_policy;
	s3_request_param(&rq, "uploadId", it->upload_id);
	r = s3_request_run(&rq, &rep);
	return r == -ENOENT ? 0 : r; /* gone meanwhile: completed, or aborted by another */
}

static void sweep_clear(struct sweep *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->items[i].key);
		free(w->items[i].upload_id);
	}
	w->n = 0;
}

/* Aborts the page's stale uploads while time is left; the first error. */
static int sweep_abort_all(struct sweep *w, int64_t deadline_ms)
{
	int first = 0;
	for (size_t i = 0; i < w->n; i++) {
		if (mono_ms() >= deadline_ms)
			return first ? first : -ETIMEDOUT;
		int r = sweep_abort(w->s, &w->items[i]);
		if (r == 0)
			w->out->aborted++;
		else if (!first)
			first = r;
	}
	return first;
}

int s3_stale_uploads(struct backend *b, const char *prefix, int64_t min_age_s, int do_abort,
		     unsigned budget_ms, struct backend_stale *out)
{
	struct s3_backend *s = (struct s3_backend *)b;
	char strip[S3_REQUEST_KEY_MAX + 2], full[2 * S3_REQUEST_KEY_MAX + 2];
	char *next_key = NULL, *next_id = NULL;
	int64_t deadline = mono_ms() + budget_ms;
	memset(out, 0, sizeof *out);
	if (!s3_request_key_valid(prefix, 1))
		return s3_request_fail(-EINVAL, "invalid list prefix");
	snprintf(strip, sizeof strip, "%s%s", s->prefix, s->prefix[0] ? "/" : "");
	snprintf(full, sizeof full, "%s%s", strip, prefix);
	int64_t now =
	    (int64_t)time(NULL) + (int64_t)__atomic_load_n(&s->loc.clock_offset, __ATOMIC_RELAXED);
	struct sweep w = {.s = s,
			  .strip = strip,
			  .strip_len = strlen(strip),
			  .cutoff = now - min_age_s,
			  .out = out};
	int r = 0, first = 0;
	s3_request_fail(0, "%s", "");
	do {
		if (mono_ms() >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		r = sweep_page(&w, full, &next_key, &next_id);
		if (r == 0 && do_abort) {
			int a = sweep_abort_all(&w, deadline);
			if (a == -ETIMEDOUT)
				r = a;
			else if (a && !first)
				first = a;
		}
		sweep_clear(&w);
	} while (r == 0 && next_key);
	free(next_key);
	free(next_id);
	free(w.items);
	if (r == -ETIMEDOUT)
		s3_request_fail(r, "s3 list uploads: out of time");
	return r ? r : first;
}
