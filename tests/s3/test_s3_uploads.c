/* test_s3_uploads.c - the S3 store's abandoned multipart uploads
 * (backend_ops.stale_uploads) against the patched s3rver: uploads are begun
 * and left unfinished, some aged by setting their initiation time under the
 * server's data directory (patch-s3rver.js 9); the sweep lists them over
 * several pages, counts, and aborts exactly the old ones under the store's
 * prefix: not a fresh one, not one 23 hours old, not one of another key
 * prefix or of another store whose prefix only begins alike. Run under
 * s3rver.sh run (S3RVER_STATE). */
#include <dirent.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "s3_cond.h"
#include "s3_request.h"
#include "s3_test_util.h"
#include "s3_xml.h"

#define DAY 86400

/* Begins a multipart upload of key in store b and never finishes it. */
static char *begin_upload(struct backend *b, const char *key)
{
	const struct http_policy *rp;
	const struct s3_target *t = s3_store_target(b, &rp);
	struct s3_request rq;
	struct http_reply rep = {.sink = HTTP_SINK_MEM, .mem_limit = S3_XML_MAX_REPLY};
	char *id = NULL;
	int r = s3_request_object(&rq, t, "POST", key);
	if (r == 0) {
		s3_request_param(&rq, "uploads", "");
		r = s3_request_run(&rq, &rep);
	}
	if (r == 0)
		r = s3_xml_parse_upload_id(&id, (char *)rep.body, rep.len);
	http_reply_release(&rep);
	CHECKF(r == 0, "begin upload of %s: %d %s", key, r, s3_last_error());
	return id;
}

static void upload_path(char *out, size_t size, const char *id, const char *file)
{
	const char *state = getenv("S3RVER_STATE");
	snprintf(out, size, "%s/data/sealfs-test/._S3rver_uploads/%s%s%s",
		 state ? state : "/nonexistent", id, file ? "/" : "", file ? file : "");
}

/* Makes the upload look begun age_s seconds ago (the server's Initiated). */
static void age_upload(const char *id, long age_s)
{
	char path[512];
	struct timeval tv[2] = {{time(NULL) - age_s, 0}, {time(NULL) - age_s, 0}};
	upload_path(path, sizeof path, id, "key");
	CHECKF(id && utimes(path, tv) == 0, "age %s", path);
}

static int upload_exists(const char *id)
{
	char path[512];
	struct stat st;
	upload_path(path, sizeof path, id, NULL);
	return id && stat(path, &st) == 0;
}

static void test_sweep_aborts_only_old_uploads(void)
{
	struct s3_tuning t;
	char err[512];
	int rc, rc2;
	s3_tuning_default(&t);
	t.max_uploads_page = 2; /* several pages */
	struct backend *b = t_open("sweep", NULL, &t, err, sizeof err, &rc);
	struct backend *other = t_open("sweep-other", NULL, NULL, err, sizeof err, &rc2);
	CHECKF(rc == 0 && rc2 == 0, "open: %s", err);
	if (!b || !other)
		goto out;
	CHECKF(b->ops->stale_uploads != NULL, "the S3 store has stale_uploads");
	const char *old_keys[] = {"o/aa/old1", "o/aa/old1", "o/aa/old2", "o/bb/old3"};
	char *old[4], *fresh, *edge, *foreign, *neighbour;
	for (int i = 0; i < 4; i++)
		old[i] = begin_upload(b, old_keys[i]); /* old1 twice: two uploads, one key */
	fresh = begin_upload(b, "o/cc/fresh");
	edge = begin_upload(b, "o/dd/edge");
	foreign = begin_upload(b, "x/old");
	neighbour = begin_upload(other, "o/aa/old1");
	for (int i = 0; i < 4; i++)
		age_upload(old[i], 2 * DAY);
	age_upload(edge, DAY - 3600); /* 23 h: another device might still finish it */
	age_upload(foreign, 2 * DAY);
	age_upload(neighbour, 2 * DAY);

	struct backend_stale st;
	double t0 = t_now();
	rc = b->ops->stale_uploads(b, "o/", DAY, 0, 10000, &st);
	CHECKF(rc == 0 && st.stale == 4 && st.young == 2 && st.aborted == 0,
	       "count: %d stale %u young %u aborted %u (%s)", rc, st.stale, st.young, st.aborted,
	       s3_last_error());
	for (int i = 0; i < 4; i++)
		CHECKF(upload_exists(old[i]), "counting aborted upload %d", i);

	rc = b->ops->stale_uploads(b, "o/", DAY, 1, 10000, &st);
	double t1 = t_now();
	CHECKF(rc == 0 && st.stale == 4 && st.aborted == 4 && st.young == 2,
	       "abort: %d stale %u aborted %u young %u (%s)", rc, st.stale, st.aborted, st.young,
	       s3_last_error());
	for (int i = 0; i < 4; i++)
		CHECKF(!upload_exists(old[i]), "old upload %d kept", i);
	CHECKF(upload_exists(fresh), "a fresh upload was aborted");
	CHECKF(upload_exists(edge), "an upload 23 h old was aborted");
	CHECKF(upload_exists(foreign), "an upload outside the key prefix was aborted");
	CHECKF(upload_exists(neighbour), "another store's upload was aborted");
	printf("sweep of 8 uploads (2 per page), 4 aborted: %.3f s\n", t1 - t0);

	rc = b->ops->stale_uploads(b, "o/", DAY, 1, 10000, &st);
	CHECKF(rc == 0 && st.stale == 0 && st.young == 2, "again: %d stale %u young %u", rc,
	       st.stale, st.young);
	/* no time left: stops before the first request */
	rc = b->ops->stale_uploads(b, "", 0, 1, 0, &st);
	CHECKF(rc == -ETIMEDOUT && st.aborted == 0, "budget 0: %d", rc);
	CHECKF(upload_exists(fresh), "budget 0 aborted an upload");
	for (int i = 0; i < 4; i++)
		free(old[i]);
	free(fresh);
	free(edge);
	free(foreign);
	free(neighbour);
out:
	backend_destroy(b);
	backend_destroy(other);
}

int main(void)
{
	t_port();
	test_sweep_aborts_only_old_uploads();
	return check_done("test_s3_uploads");
}
