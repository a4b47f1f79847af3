/* test_s3_store.c - the S3 store against a real (patched) s3rver: multipart
 * round trips of 64 MiB from memory and from a file, ranged reads, a listing
 * of more than 1000 keys (continuation), credentials and bucket errors, a
 * session token, and the abort of a failed multipart upload. Run under
 * s3rver.sh run, which exports AWS_*, S3RVER_PORT and S3RVER_STATE. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

#include "s3_test_util.h"

#define MIB ((size_t)1 << 20)
#define BIG (64 * MIB)

static const char *proxy_script;

static void test_multipart_roundtrip_64mib(void)
{
	char err[512], path[] = "/tmp/sealfs-s3big-XXXXXX";
	int rc;
	struct backend *b = t_open("big", NULL, NULL, err, sizeof err, &rc);
	CHECKF(rc == 0, "open: %s", err);
	unsigned char *data = malloc(BIG), *back = NULL;
	size_t len = 0;
	uint64_t size = 0;
	if (!b || !data)
		goto out;
	t_fill(data, BIG, 64);
	double t0 = t_now();
	rc = b->ops->put(b, "mem/obj", data, BIG);
	CHECKF(rc == 0, "64 MiB multipart put: %d %s", rc, s3_last_error());
	double t1 = t_now();
	CHECKF(b->ops->head(b, "mem/obj", &size) == 0 && size == BIG, "head size %llu",
	       (unsigned long long)size);
	rc = b->ops->get(b, "mem/obj", 0, 0, &back, &len);
	CHECKF(rc == 0 && len == BIG && memcmp(back, data, BIG) == 0, "64 MiB get back: %d len %zu",
	       rc, len);
	free(back);
	back = NULL;
	/* ranges across part boundaries (parts are 8 MiB) */
	rc = b->ops->get(b, "mem/obj", 8 * MIB - 100, 200, &back, &len);
	CHECKF(rc == 0 && len == 200 && memcmp(back, data + 8 * MIB - 100, 200) == 0,
	       "range over a part boundary");
	free(back);
	back = NULL;
	rc = b->ops->get(b, "mem/obj", BIG - 10, 0, &back, &len);
	CHECKF(rc == 0 && len == 10 && memcmp(back, data + BIG - 10, 10) == 0, "range to the end");
	free(back);
	back = NULL;
	printf("64 MiB multipart put %.2f s\n", t1 - t0);

	/* from a file, read back with get_to_fd */
	int fd = mkstemp(path);
	CHECKF(fd >= 0, "mkstemp");
	if (fd < 0)
		goto out;
	t_fill(data, BIG, 65);
	CHECKF(write(fd, data, BIG) == (ssize_t)BIG, "write source");
	close(fd);
	rc = b->ops->put_file(b, "file/obj", path);
	CHECKF(rc == 0, "64 MiB put_file: %d %s", rc, s3_last_error());
	fd = open(path, O_RDWR | O_TRUNC);
	rc = b->ops->get_to_fd(b, "file/obj", fd, BACKEND_NO_MAX, &size);
	CHECKF(rc == 0 && size == BIG, "get_to_fd: %d size %llu", rc, (unsigned long long)size);
	back = malloc(BIG);
	CHECKF(back && pread(fd, back, BIG, 0) == (ssize_t)BIG && memcmp(back, data, BIG) == 0,
	       "get_to_fd content");
	close(fd);
	unlink(path);
	CHECKF(b->ops->del(b, "mem/obj") == 0 && b->ops->del(b, "file/obj") == 0, "del big");
	CHECKF(b->ops->head(b, "mem/obj", &size) == -ENOENT, "deleted");
out:
	free(back);
	free(data);
	backend_destroy(b);
}

struct filler {
	struct backend *b;
	int from, to, bad;
};

static void *fill_keys(void *arg)
{
	struct filler *f = arg;
	char key[64];
	for (int i = f->from; i < f->to; i++) {
		snprintf(key, sizeof key, "k/%05d", i);
		f->bad += f->b->ops->put(f->b, key, key, strlen(key)) != 0;
	}
	return NULL;
}

struct seen {
	unsigned char hit[1200];
	int n, dup, bad;
	char last[64];
};

static int seen_cb(void *arg, const char *key, uint64_t size)
{
	struct seen *s = arg;
	int i = -1;
	if (sscanf(key, "k/%05d", &i) != 1 || i < 0 || i >= 1200 || size != strlen(key))
		s->bad++;
	else if (s->hit[i]++)
		s->dup++;
	if (strcmp(key, s->last) <= 0)
		s->bad++; /* S3 lists in key order */
	snprintf(s->last, sizeof s->last, "%s", key);
	s->n++;
	return 0;
}

static void test_list_over_1000_keys(void)
{
	char err[512];
	int rc;
	struct backend *b = t_open("many/keys", NULL, NULL, err, sizeof err, &rc);
	CHECKF(rc == 0, "open: %s", err);
	if (!b)
		return;
	struct filler f[4];
	pthread_t t[4];
	double t0 = t_now();
	for (int i = 0; i < 4; i++) {
		f[i] = (struct filler){b, i * 300, (i + 1) * 300, 0};
		pthread_create(&t[i], NULL, fill_keys, &f[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECKF(f[i].bad == 0, "put failures %d", f[i].bad);
	}
	double t1 = t_now();
	struct seen s = {0};
	rc = b->ops->list(b, "k/", seen_cb, &s);
	CHECKF(rc == 0 && s.n == 1200 && s.dup == 0 && s.bad == 0, "list: rc %d n %d dup %d bad %d",
	       rc, s.n, s.dup, s.bad);
	memset(&s, 0, sizeof s);
	CHECKF(b->ops->list(b, "k/011", seen_cb, &s) == 0 && s.n == 100, "sub-prefix: %d", s.n);
	printf("1200 puts %.2f s, listing %.2f s\n", t1 - t0, t_now() - t1);
	backend_destroy(b);
}

static void test_wrong_credentials_fail_fast(void)
{
	char err[512] = "", *saved = strdup(getenv("AWS_SECRET_ACCESS_KEY"));
	int rc;
	setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret", 1);
	double t0 = t_now();
	struct backend *b = t_open("", NULL, NULL, err, sizeof err, &rc);
	CHECKF(rc == -EACCES && !b && strstr(err, "SignatureDoesNotMatch"), "wrong secret: %d %s",
	       rc, err);
	CHECKF(t_now() - t0 < 2.0, "wrong secret took %.1f s", t_now() - t0);
	setenv("AWS_SECRET_ACCESS_KEY", saved, 1);
	free(saved);

	saved = strdup(getenv("AWS_ACCESS_KEY_ID"));
	setenv("AWS_ACCESS_KEY_ID", "AKIDUNKNOWN", 1);
	b = t_open("", NULL, NULL, err, sizeof err, &rc);
	CHECKF(rc == -EACCES && !b && strstr(err, "InvalidAccessKeyId"), "wrong key id: %d %s", rc,
	       err);
	setenv("AWS_ACCESS_KEY_ID", saved, 1);
	free(saved);
}

static void test_missing_bucket_is_enoent(void)
{
	struct backend *b = NULL;
	char err[512] = "";
	int rc = s3_backend_open(&b, "no-such-bucket", "x", NULL, err, sizeof err);
	CHECKF(rc == -ENOENT && !b && strstr(err, "bucket 'no-such-bucket' does not exist"),
	       "missing bucket: %d %s", rc, err);
	rc = s3_backend_open(&b, "Bad_Bucket!", "", NULL, err, sizeof err);
	CHECKF(rc == -EINVAL && !b, "invalid bucket name: %d %s", rc, err);
}

/* Requests carry x-amz-security-token, signed; the server checks the signature. */
static void test_session_token_is_sent_signed(void)
{
	char err[512];
	int rc;
	setenv("AWS_SESSION_TOKEN", "FQoGZXIvYXdzEXAMPLETOKEN//+=", 1);
	struct backend *b = t_open("tok", NULL, NULL, err, sizeof err, &rc);
	CHECKF(rc == 0, "open with token: %s", err);
	if (b) {
		CHECKF(b->ops->put(b, "a", "x", 1) == 0, "put with token: %s", s3_last_error());
		backend_destroy(b);
	}
	unsetenv("AWS_SESSION_TOKEN");
}

static int count_uploads(void)
{
	char path[512];
	const char *state = getenv("S3RVER_STATE");
	snprintf(path, sizeof path, "%s/data/sealfs-test/._S3rver_uploads",
		 state ? state : "/nonexistent");
	DIR *d = opendir(path);
	int n = 0;
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Part 2 always fails (503 through the proxy): the upload fails with the
 * S3 code in the message and is aborted on the server. */
static void test_failed_multipart_is_aborted(void)
{
	struct t_proxy p = {0};
	char err[512], ep[64];
	int rc;
	struct s3_tuning t;
	s3_tuning_default(&t);
	t.multipart_threshold = 2 * MIB;
	t.part_size = MIB;
	t.policy.base_delay_ms = 10;
	t.policy.max_delay_ms = 50;
	if (t_proxy_start(&p, proxy_script, "slowdown@partNumber=2&") < 0) {
		CHECKF(0, "cannot start faultproxy");
		return;
	}
	t_endpoint(ep, &p);
	struct backend *b = t_open("abort", ep, &t, err, sizeof err, &rc);
	CHECKF(rc == 0, "open via proxy: %s", err);
	unsigned char *data = malloc(5 * MIB);
	uint64_t size;
	if (b && data) {
		t_fill(data, 5 * MIB, 9);
		CHECKF(count_uploads() == 0, "uploads before: %d", count_uploads());
		rc = b->ops->put(b, "obj", data, 5 * MIB);
		CHECKF(rc == -EIO && strstr(s3_last_error(), "SlowDown"), "failed multipart: %d %s",
		       rc, s3_last_error());
		CHECKF(t_proxy_count(&p, "slowdown") == 6, "part 2 tried %d times",
		       t_proxy_count(&p, "slowdown"));
		CHECKF(count_uploads() == 0, "upload not aborted (%d left)", count_uploads());
		CHECKF(b->ops->head(b, "obj", &size) == -ENOENT, "object exists after failure");
	}
	free(data);
	backend_destroy(b);
	t_proxy_stop(&p);
}

/* A store sending more than the caller's bound is cut off while streaming:
 * -EFBIG, and the file never holds more than the bound (a hostile store
 * cannot fill the cache disk). */
static void test_get_to_fd_cuts_an_oversized_object(void)
{
	enum { OBJ = 4 * MIB, MAX = 64 * 1024 };
	char err[512], path[] = "/tmp/s3-bound-XXXXXX";
	unsigned char *data = malloc(OBJ);
	uint64_t size = 0;
	struct stat st;
	int rc, fd;
	struct backend *b = t_open("bound", NULL, NULL, err, sizeof err, &rc);

	CHECKF(rc == 0 && data, "open: %s", err);
	if (!b || !data)
		goto out;
	t_fill(data, OBJ, 7);
	CHECKF(b->ops->put(b, "big", data, OBJ) == 0, "put: %s", s3_last_error());
	fd = mkstemp(path);
	CHECKF(fd >= 0, "mkstemp");
	if (fd >= 0) {
		rc = b->ops->get_to_fd(b, "big", fd, MAX, &size);
		CHECKF(rc == -EFBIG, "get_to_fd over the bound: %d", rc);
		CHECKF(fstat(fd, &st) == 0 && st.st_size <= MAX, "wrote %lld bytes, bound %d",
		       (long long)st.st_size, MAX);
		close(fd);
		unlink(path);
	}
	CHECKF(b->ops->del(b, "big") == 0, "del");
out:
	free(data);
	if (b)
		backend_destroy(b);
}

int main(int argc, char **argv)
{
	t_port();
	proxy_script = argc > 1 ? argv[1] : "faultproxy.py";
	test_wrong_credentials_fail_fast();
	test_missing_bucket_is_enoent();
	test_session_token_is_sent_signed();
	test_multipart_roundtrip_64mib();
	test_list_over_1000_keys();
	test_failed_multipart_is_aborted();
	test_get_to_fd_cuts_an_oversized_object();
	return check_done("test_s3_store");
}
