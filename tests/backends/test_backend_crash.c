/* test_backend_crash.c - a writer killed at a random moment never leaves a
 * torn object: after SIGKILL the key holds nothing or one complete object.
 * argv[1] is the store URL (default: a new directory under /tmp). It must
 * never look inside the store except through the ops table. */

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "backend.h"
#include "test_util.h"

#define CRASH_ROUNDS 12
#define CRASH_HEADER_BYTES 16 /* u64 length, u64 seed, little endian */
#define CRASH_MIN_BYTES (256 * 1024)
#define CRASH_MAX_BYTES (4 * 1024 * 1024)

static void put_u64le(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64le(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* An object that proves its own integrity: its length and seed, then the
 * seed's stream. */
static void object_make(unsigned char *buf, size_t len, uint64_t seed)
{
	put_u64le(buf, len);
	put_u64le(buf + 8, seed);
	test_fill(buf + CRASH_HEADER_BYTES, len - CRASH_HEADER_BYTES, seed);
}

static int object_whole(const unsigned char *buf, size_t len)
{
	unsigned char *want;
	int ok;

	if (len < CRASH_HEADER_BYTES || get_u64le(buf) != len)
		return 0;
	want = malloc(len);
	if (!want)
		return 0;
	object_make(want, len, get_u64le(buf + 8));
	ok = memcmp(want, buf, len) == 0;
	free(want);
	return ok;
}

/* The child: rewrites key forever until killed. */
static void writer_run(const char *url, const char *key)
{
	unsigned char *buf = malloc(CRASH_MAX_BYTES);
	struct backend *b = NULL;
	char err[256];

	if (!buf || backend_open(&b, url, NULL, err, sizeof(err)) != 0)
		_exit(2);
	for (;;) {
		uint64_t r = test_random64();
		size_t len = CRASH_MIN_BYTES + (size_t)(r % (CRASH_MAX_BYTES - CRASH_MIN_BYTES));

		object_make(buf, len, r);
		if (b->ops->put(b, key, buf, len) != 0)
			_exit(3);
	}
}

static int count_cb(void *arg, const char *key, uint64_t size)
{
	uint64_t *sizes = arg;

	(void)key;
	sizes[0]++;
	sizes[1] = size;
	return 0;
}

/* Checks key after a crash; returns 1 if it holds a whole object, 0 if absent. */
static int check_after_crash(struct backend *b, const char *prefix, const char *key)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	uint64_t listed[2] = {0, 0};
	int r = b->ops->get(b, key, 0, 0, &buf, &len);

	CHECK(r == 0 || r == -ENOENT);
	CHECK_RC(b->ops->list(b, prefix, count_cb, listed), 0);
	if (r != 0) {
		CHECK_RC(listed[0], 0);
		return 0;
	}
	if (!object_whole(buf, len))
		fprintf(stderr, "FAIL: torn object of %zu bytes after a crash\n", len);
	CHECK(object_whole(buf, len));
	CHECK_RC(listed[0], 1); /* only the key: no partial file under any other name */
	CHECK_RC(listed[1], len);
	free(buf);
	return 1;
}

static int crash_round(struct backend *b, const char *url, const char *prefix, const char *key)
{
	struct timespec delay = {0, (long)(test_random64() % 80) * 1000000L};
	pid_t pid = fork();
	int status = 0;

	if (pid < 0)
		return -errno;
	if (pid == 0)
		writer_run(url, key);
	nanosleep(&delay, NULL);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (!WIFSIGNALED(status))
		fprintf(stderr, "FAIL: writer exited with status %d before the kill\n", status);
	CHECK(WIFSIGNALED(status));
	return check_after_crash(b, prefix, key);
}

int main(int argc, char **argv)
{
	char work[PATH_MAX] = "/tmp/sealfs-crash-XXXXXX", store[PATH_MAX + 8], err[256];
	char prefix[20], key[64];
	const char *url = argc > 1 ? argv[1] : NULL;
	struct backend *b = NULL;
	int i, whole, seen_whole = 0;

	if (!url) {
		if (!mkdtemp(work))
			return 1;
		snprintf(store, sizeof(store), "%s/store", work);
		url = store;
	}
	if (backend_open(&b, url, &(struct backend_opts){.create = 1}, err, sizeof(err)) != 0) {
		fprintf(stderr, "FAIL: cannot open store: %s\n", err);
		return 1;
	}
	test_run_prefix(prefix);
	snprintf(key, sizeof(key), "%scrash/obj", prefix);
	for (i = 0; i < CRASH_ROUNDS; i++) {
		whole = crash_round(b, url, prefix, key);
		if (seen_whole && whole == 0)
			fprintf(stderr, "FAIL: a whole object vanished after a crash\n");
		CHECK(!(seen_whole && whole == 0));
		seen_whole |= whole == 1;
	}
	printf("%s\n", seen_whole ? "writer completed objects before kills"
				  : "note: every kill came before the first put finished");
	CHECK_RC(b->ops->del(b, key), 0);
	backend_destroy(b);
	if (argc <= 1)
		test_rm_rf(work);
	return check_done("test_backend_crash");
}
