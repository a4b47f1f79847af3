/* test_s3_faults.c - the S3 store through faultproxy.py in front of s3rver:
 * 503 SlowDown, connections reset in the middle of a reply, requests cut,
 * slow and silent servers. Transient faults must be retried to success;
 * permanent ones must fail within the retry bound with a clear message.
 * argv[1] is the path of faultproxy.py; run under s3rver.sh run. */
#include <fcntl.h>

#include "s3_test_util.h"

#define MIB ((size_t)1 << 20)

static const char *script;

/* A store through a new proxy with schedule; NULL (and a failed check) if not. */
static struct backend *via_proxy(struct t_proxy *p, const char *schedule, const char *prefix,
				 const struct s3_tuning *t)
{
	char err[512], ep[64];
	int rc;
	memset(p, 0, sizeof *p);
	if (t_proxy_start(p, script, schedule) < 0) {
		CHECKF(0, "cannot start faultproxy with '%s'", schedule);
		return NULL;
	}
	t_endpoint(ep, p);
	struct backend *b = t_open(prefix, ep, t, err, sizeof err, &rc);
	CHECKF(rc == 0, "open through proxy '%s': %d %s", schedule, rc, err);
	return b;
}

static void fast_policy(struct s3_tuning *t)
{
	s3_tuning_default(t);
	t->policy.base_delay_ms = 20;
	t->policy.max_delay_ms = 200;
	t->read_policy.base_delay_ms = 20;
	t->read_policy.max_delay_ms = 200;
}

static void test_slowdown_is_retried(void)
{
	struct t_proxy p;
	struct s3_tuning t;
	unsigned char *out = NULL;
	size_t len = 0;
	fast_policy(&t);
	/* the open's listing passes; then 3 x 503 on the PUT, 2 on the GET */
	struct backend *b =
	    via_proxy(&p, "slowdown*3@PUT ,slowdown*2@GET /sealfs-test/slow/", "slow", &t);
	if (b) {
		int rc = b->ops->put(b, "obj", "hello", 5);
		CHECKF(rc == 0, "put after 3 x SlowDown: %d %s", rc, s3_last_error());
		rc = b->ops->get(b, "obj", 0, 0, &out, &len);
		CHECKF(rc == 0 && len == 5 && memcmp(out, "hello", 5) == 0,
		       "get after 2 x SlowDown: %d", rc);
		CHECKF(t_proxy_count(&p, "slowdown") == 5 && t_proxy_count(&p, "pass") == 3,
		       "requests: %d slowdown, %d pass", t_proxy_count(&p, "slowdown"),
		       t_proxy_count(&p, "pass"));
	}
	free(out);
	backend_destroy(b);
	t_proxy_stop(&p);
}

/* Resets in the middle of GET replies: get retries whole, get_to_fd resumes. */
static void test_reset_mid_reply_is_retried(void)
{
	struct t_proxy p;
	struct s3_tuning t;
	unsigned char *data = malloc(3 * MIB), *out = NULL, *back = malloc(3 * MIB + 2);
	size_t len = 0;
	uint64_t size = 0;
	char path[] = "/tmp/sealfs-s3reset-XXXXXX";
	fast_policy(&t);
	struct backend *b = via_proxy(&p, "reset*2@GET /sealfs-test/rst/obj", "rst", &t);
	if (!b || !data || !back)
		goto out;
	t_fill(data, 3 * MIB, 3);
	CHECKF(b->ops->put(b, "obj", data, 3 * MIB) == 0, "put: %s", s3_last_error());
	int rc = b->ops->get(b, "obj", 0, 0, &out, &len);
	CHECKF(rc == 0 && len == 3 * MIB && memcmp(out, data, len) == 0, "get after 2 resets: %d",
	       rc);
	CHECKF(t_proxy_count(&p, "reset") == 2, "resets: %d", t_proxy_count(&p, "reset"));
	t_proxy_stop(&p);
	backend_destroy(b);

	/* get_to_fd: half the body arrives, then a reset; the retry asks for the rest */
	b = via_proxy(&p, "reset*1@GET /sealfs-test/rst/obj", "rst", &t);
	int fd = mkstemp(path);
	CHECKF(fd >= 0 && write(fd, "ab", 2) == 2, "temp file");
	rc = b ? b->ops->get_to_fd(b, "obj", fd, BACKEND_NO_MAX, &size) : -1;
	CHECKF(rc == 0 && size == 3 * MIB, "get_to_fd after a reset: %d size %llu (%s)", rc,
	       (unsigned long long)size, s3_last_error());
	CHECKF(pread(fd, back, 3 * MIB + 2, 0) == (ssize_t)(3 * MIB + 2) &&
		   memcmp(back, "ab", 2) == 0 && memcmp(back + 2, data, 3 * MIB) == 0,
	       "get_to_fd content after resume");
	CHECKF(t_proxy_count(&p, "reset") == 1 &&
		   t_proxy_grep(&p, "pass GET /sealfs-test/rst/obj") == 1 &&
		   t_proxy_grep(&p, "range=bytes=") == 1 && t_proxy_grep(&p, "range=bytes=0-") == 0,
	       "the retry resumed with a Range (%d ranged requests)", t_proxy_grep(&p, "range="));
	close(fd);
	unlink(path);
out:
	free(data);
	free(out);
	free(back);
	backend_destroy(b);
	t_proxy_stop(&p);
}

/* Requests cut in the middle of the body (single PUT and multipart parts). */
static void test_cut_requests_are_retried(void)
{
	struct t_proxy p;
	struct s3_tuning t;
	unsigned char *data = malloc(6 * MIB), *out = NULL;
	size_t len = 0;
	fast_policy(&t);
	t.multipart_threshold = 2 * MIB;
	t.part_size = MIB;
	struct backend *b =
	    via_proxy(&p,
		      "cut*2@PUT /sealfs-test/cut/single,"
		      "cut*2@partNumber=2&,reset*1@partNumber=4&,slowdown*2@partNumber=6&,"
		      "slowdown*1@POST /sealfs-test/cut/multi?uploadId",
		      "cut", &t);
	if (!b || !data)
		goto out;
	t_fill(data, 6 * MIB, 6);
	int rc = b->ops->put(b, "single", data, MIB);
	CHECKF(rc == 0, "single put after 2 cuts: %d %s", rc, s3_last_error());
	rc = b->ops->put(b, "multi", data, 6 * MIB);
	CHECKF(rc == 0, "multipart put with faulty parts: %d %s", rc, s3_last_error());
	rc = b->ops->get(b, "multi", 0, 0, &out, &len);
	CHECKF(rc == 0 && len == 6 * MIB && memcmp(out, data, len) == 0, "multipart content");
	free(out);
	out = NULL;
	rc = b->ops->get(b, "single", 0, 0, &out, &len);
	CHECKF(rc == 0 && len == MIB && memcmp(out, data, len) == 0, "single content");
	CHECKF(t_proxy_count(&p, "cut") == 4 && t_proxy_count(&p, "slowdown") == 3,
	       "faults served: %d cut, %d slowdown", t_proxy_count(&p, "cut"),
	       t_proxy_count(&p, "slowdown"));
out:
	free(data);
	free(out);
	backend_destroy(b);
	t_proxy_stop(&p);
}

/* Everything after the open answers 503: the default policy gives up within
 * its bound (6 tries, under 60 s) with -EIO naming SlowDown. */
static void test_persistent_slowdown_fails_within_bound(void)
{
	struct t_proxy p;
	struct backend *b = via_proxy(&p, "slowdown@PUT ", "fail", NULL);
	if (b) {
		double t0 = t_now();
		int rc = b->ops->put(b, "obj", "x", 1);
		double dt = t_now() - t0;
		CHECKF(rc == -EIO, "persistent 503: %d", rc);
		CHECKF(strstr(s3_last_error(), "SlowDown") && strstr(s3_last_error(), "6 tries"),
		       "message: %s", s3_last_error());
		CHECKF(dt < 60.0, "gave up after %.1f s", dt);
		CHECKF(t_proxy_count(&p, "slowdown") == 6, "tries: %d",
		       t_proxy_count(&p, "slowdown"));
		printf("persistent SlowDown: %.1f s, '%s'\n", dt, s3_last_error());
	}
	backend_destroy(b);
	t_proxy_stop(&p);
}

/* Persistent resets: -EIO with curl's reason. */
static void test_persistent_reset_fails(void)
{
	struct t_proxy p;
	struct s3_tuning t;
	unsigned char *out = NULL;
	size_t len = 0;
	fast_policy(&t);
	struct backend *b = via_proxy(&p, "reset@GET /sealfs-test/prst/obj", "prst", &t);
	if (b) {
		CHECKF(b->ops->put(b, "obj", "0123456789", 10) == 0, "put");
		int rc = b->ops->get(b, "obj", 0, 0, &out, &len);
		CHECKF(rc == -EIO && out == NULL, "persistent reset: %d", rc);
		/* a GET runs under the read policy: 8 tries (http_policy_foreground) */
		CHECKF(strstr(s3_last_error(), "8 tries") != NULL, "message: %s", s3_last_error());
	}
	backend_destroy(b);
	t_proxy_stop(&p);
}

/* A server that never answers: -ETIMEDOUT once the low-speed limit trips on
 * every try; a slow one (1.5 s late) is waited for. */
static void test_silent_server_times_out(void)
{
	struct t_proxy p;
	struct s3_tuning t;
	unsigned char *out = NULL;
	size_t len = 0;
	fast_policy(&t);
	t.policy.low_speed_secs = 2;
	t.policy.max_tries = 3;
	t.read_policy = t.policy; /* the GETs below: 3 tries of 2 s each */
	struct backend *b = via_proxy(&p,
				      "delay:1500*1@GET /sealfs-test/hang/obj?,"
				      "hang@GET /sealfs-test/hang/never",
				      "hang", &t);
	if (b) {
		CHECKF(b->ops->put(b, "obj", "late", 4) == 0, "put");
		int rc = b->ops->get(b, "obj", 0, 0, &out, &len);
		CHECKF(rc == 0 && len == 4, "a 1.5 s late reply: %d", rc);
		double t0 = t_now();
		free(out);
		out = NULL;
		rc = b->ops->get(b, "never", 0, 0, &out, &len);
		double dt = t_now() - t0;
		CHECKF(rc == -ETIMEDOUT, "silent server: %d %s", rc, s3_last_error());
		CHECKF(dt < 15.0, "timed out after %.1f s", dt);
		CHECKF(t_proxy_count(&p, "hang") == 3, "tries: %d", t_proxy_count(&p, "hang"));
	}
	free(out);
	backend_destroy(b);
	t_proxy_stop(&p);
}

/* A read under the default read policy gives up within
 * HTTP_FOREGROUND_BOUND_MS on a server that never answers and on one that
 * went away (connection refused), while a put of the same store still has
 * the long background policy. */
static void test_read_policy_bounds_a_dead_server(void)
{
	struct t_proxy p;
	unsigned char *out = NULL;
	size_t len = 0;
	double bound = HTTP_FOREGROUND_BOUND_MS / 1000.0;
	struct backend *b = via_proxy(&p, "hang@GET /sealfs-test/rbound/never", "rbound", NULL);
	if (b) {
		double t0 = t_now();
		int rc = b->ops->get(b, "never", 0, 0, &out, &len);
		double dt = t_now() - t0;
		CHECKF(rc == -ETIMEDOUT && out == NULL, "silent server: %d %s", rc,
		       s3_last_error());
		CHECKF(dt < bound, "silent server: gave up after %.1f s (bound %.0f s)", dt, bound);
		printf("read, silent server: %.1f s, '%s'\n", dt, s3_last_error());
		uint64_t size = 0;
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		t_proxy_stop(&p); /* nothing listens on its port now */
		t0 = t_now();
		rc = fd >= 0 ? b->ops->get_to_fd(b, "never", fd, BACKEND_NO_MAX, &size) : -EBADF;
		dt = t_now() - t0;
		CHECKF(rc == -ECONNREFUSED, "refused: %d %s", rc, s3_last_error());
		CHECKF(dt < bound, "refused: gave up after %.1f s (bound %.0f s)", dt, bound);
		CHECKF(strstr(s3_last_error(), "tries in") != NULL, "refused, not retried: %s",
		       s3_last_error());
		printf("read, refused: %.1f s, '%s'\n", dt, s3_last_error());
		if (fd >= 0)
			close(fd);
	}
	backend_destroy(b);
	t_proxy_stop(&p);
}

/* Nothing listening: -ECONNREFUSED, within the bound, at open. */
static void test_connection_refused_at_open(void)
{
	struct t_proxy p;
	struct s3_tuning t;
	char err[512], ep[64];
	int rc;
	fast_policy(&t);
	if (t_proxy_start(&p, script, "") < 0) {
		CHECKF(0, "cannot start faultproxy");
		return;
	}
	t_endpoint(ep, &p);
	t_proxy_stop(&p); /* its port is now (almost certainly) closed */
	double t0 = t_now();
	struct backend *b = t_open("", ep, &t, err, sizeof err, &rc);
	CHECKF(rc == -ECONNREFUSED && !b && strstr(err, "cannot reach s3 endpoint"),
	       "refused: %d %s", rc, err);
	CHECKF(t_now() - t0 < 10.0, "refused took %.1f s", t_now() - t0);
}

int main(int argc, char **argv)
{
	t_port();
	script = argc > 1 ? argv[1] : "faultproxy.py";
	test_slowdown_is_retried();
	test_reset_mid_reply_is_retried();
	test_cut_requests_are_retried();
	test_persistent_reset_fails();
	test_silent_server_times_out();
	test_read_policy_bounds_a_dead_server();
	test_connection_refused_at_open();
	test_persistent_slowdown_fails_within_bound();
	return check_done("test_s3_faults");
}
