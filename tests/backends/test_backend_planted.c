/* test_backend_planted.c - the local store and what it did not write
 * (docs/SECURITY.md, "A malicious store"): a symbolic link to a file outside
 * the store, a FIFO, and (as root) a character device planted in place of an
 * object or of a fan-out directory make every call fail within a second,
 * and nothing outside the store is read or written; and bounded reads: an
 * object larger than the caller's bound is refused (get_to_fd's max,
 * backend_get_max). Each call runs in a child process under alarm(), so a
 * call that blocks (on a FIFO, or reading /dev/zero forever) fails the test
 * instead of hanging it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>

#include "backend.h"
#include "test_util.h"

#define OBJ_KEY "o/ab/ab0123456789abcdef0123456789ab"
#define OBJ_DIR "o/ab"
#define OUTSIDE_TEXT "outside the store: never read or written"

struct env {
	char root[1024];    /* holds store/ and outside/ */
	char store[1040];   /* the store directory */
	char outside[1060]; /* a file outside the store */
	char outdir[1040];  /* a directory outside the store */
	struct backend *b;
};

enum plant { PLANT_SYMLINK, PLANT_FIFO, PLANT_CHARDEV };
static const char *const plant_names[] = {"symlink", "fifo", "chardev"};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int env_open(struct env *e)
{
	char err[256];

	snprintf(e->root, sizeof(e->root), "%s/planted.XXXXXX", test_tmpdir_pick(false));
	if (!mkdtemp(e->root))
		return -errno;
	snprintf(e->store, sizeof(e->store), "%s/store", e->root);
	snprintf(e->outdir, sizeof(e->outdir), "%s/outside", e->root);
	snprintf(e->outside, sizeof(e->outside), "%s/file", e->outdir);
	if (mkdir(e->store, 0700) != 0 || mkdir(e->outdir, 0700) != 0)
		return -errno;
	FILE *f = fopen(e->outside, "w");
	if (!f)
		return -errno;
	fputs(OUTSIDE_TEXT, f);
	fclose(f);
	return backend_open(&e->b, e->store, NULL, err, sizeof(err));
}

/* Plants kind at path (relative to the store); 1 when it cannot (no root for
 * a device node), 0 done. A symlink points at the outside file, or for a
 * directory at the outside directory. */
static int plant(struct env *e, const char *rel, enum plant kind, int as_dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", e->store, rel);
	switch (kind) {
	case PLANT_SYMLINK:
		return symlink(as_dir ? e->outdir : e->outside, path) == 0 ? 0 : -errno;
	case PLANT_FIFO:
		return mkfifo(path, 0600) == 0 ? 0 : -errno;
	case PLANT_CHARDEV: /* /dev/zero's numbers: reading it never ends */
		if (mknod(path, S_IFCHR | 0600, makedev(1, 5)) == 0)
			return 0;
		return errno == EPERM ? 1 : -errno;
	}
	return -EINVAL;
}

enum op { OP_GET, OP_GET_TO_FD, OP_HEAD, OP_DEL, OP_PUT, OP_COUNT };
static const char *const op_names[] = {"get", "get_to_fd", "head", "del", "put"};

/* Runs op on OBJ_KEY in a child with a 2 s alarm: its result, or INT_MIN when
 * the child was killed (blocked) or crashed. */
static int run_op(struct env *e, enum op op)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return INT_MIN;
	if (pid == 0) {
		unsigned char *out = NULL;
		size_t len = 0;
		uint64_t size = 0;
		int r = -EINVAL, fd;

		alarm(2);
		switch (op) {
		case OP_GET:
			r = e->b->ops->get(e->b, OBJ_KEY, 0, 0, &out, &len);
			break;
		case OP_GET_TO_FD:
			fd = open("/dev/null", O_WRONLY);
			r = e->b->ops->get_to_fd(e->b, OBJ_KEY, fd, BACKEND_NO_MAX, &size);
			break;
		case OP_HEAD:
			r = e->b->ops->head(e->b, OBJ_KEY, &size);
			break;
		case OP_DEL:
			r = e->b->ops->del(e->b, OBJ_KEY);
			break;
		case OP_PUT:
			r = e->b->ops->put(e->b, OBJ_KEY, "new", 3);
			break;
		case OP_COUNT:
			break;
		}
		_exit(r < 0 && r > -256 ? -r : r == 0 ? 0 : 255);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status))
		return INT_MIN;
	return -WEXITSTATUS(status);
}

/* The outside file still holds exactly OUTSIDE_TEXT, and the outside
 * directory nothing else. */
static void expect_outside_untouched(struct env *e, const char *what)
{
	char buf[128] = {0};
	FILE *f = fopen(e->outside, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	struct stat st;

	if (f)
		fclose(f);
	CHECKF(n == strlen(OUTSIDE_TEXT) && strcmp(buf, OUTSIDE_TEXT) == 0,
	       "%s: the file outside the store changed", what);
	CHECKF(stat(e->outdir, &st) == 0 && st.st_nlink == 2, "%s: outside directory changed",
	       what);
	char extra[PATH_MAX];
	snprintf(extra, sizeof(extra), "%s/ab0123456789abcdef0123456789ab", e->outdir);
	CHECKF(access(extra, F_OK) != 0, "%s: an object was written outside the store", what);
}

/* Plants kind at OBJ_KEY (as_dir 0) or at its fan-out directory (1) and
 * runs every op. */
static void planted_case(struct env *e, enum plant kind, int as_dir)
{
	char what[96], path[PATH_MAX];
	int r;

	snprintf(path, sizeof(path), "%s/o", e->store);
	mkdir(path, 0700);
	if (!as_dir) {
		snprintf(path, sizeof(path), "%s/" OBJ_DIR, e->store);
		mkdir(path, 0700);
	}
	r = plant(e, as_dir ? OBJ_DIR : OBJ_KEY, kind, as_dir);
	if (r == 1) {
		printf("skip: %s (mknod needs root)\n", plant_names[kind]);
		return;
	}
	CHECKF(r == 0, "planting %s: %d", plant_names[kind], r);
	for (int op = 0; op < OP_COUNT; op++) {
		double t0 = now_s();

		snprintf(what, sizeof(what), "%s in place of %s, %s", plant_names[kind],
			 as_dir ? "the fan-out directory" : "the object", op_names[op]);
		r = run_op(e, (enum op)op);
		CHECKF(r != INT_MIN, "%s: blocked or crashed", what);
		CHECKF(r < 0, "%s: succeeded (%d), want an error", what, r);
		CHECKF(now_s() - t0 < 1.0, "%s: took %.2f s", what, now_s() - t0);
		expect_outside_untouched(e, what);
	}
	/* The planted thing is still there: nothing removed or replaced it. */
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", e->store, as_dir ? OBJ_DIR : OBJ_KEY);
	CHECKF(lstat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode),
	       "%s %s: the planted entry was replaced", plant_names[kind],
	       as_dir ? "directory" : "object");
	snprintf(path, sizeof(path), "%s/o", e->store);
	test_rm_rf(path);
}

static void test_planted(void)
{
	for (int as_dir = 0; as_dir < 2; as_dir++) {
		for (int kind = 0; kind < 3; kind++) {
			struct env e = {0};

			CHECK_RC(env_open(&e), 0);
			if (e.b)
				planted_case(&e, (enum plant)kind, as_dir);
			backend_destroy(e.b);
			test_rm_rf(e.root);
		}
	}
}

/* A planted .tmp (the store's own temporary directory) pointing outside: a
 * put fails and writes nothing there. */
static void test_planted_tmp_dir(void)
{
	struct env e = {0};
	char path[PATH_MAX];

	CHECK_RC(env_open(&e), 0);
	snprintf(path, sizeof(path), "%s/.tmp", e.store);
	CHECK(symlink(e.outdir, path) == 0);
	CHECK(e.b && e.b->ops->put(e.b, OBJ_KEY, "x", 1) < 0);
	expect_outside_untouched(&e, ".tmp as a symlink, put");
	DIR *d = opendir(e.outdir);
	int n = 0;
	for (struct dirent *de; d && (de = readdir(d));)
		n++;
	if (d)
		closedir(d);
	CHECKF(n == 3, ".tmp as a symlink: %d entries outside (want ., .., file)", n);
	backend_destroy(e.b);
	test_rm_rf(e.root);
}

/* Bounded reads: an object of 1000 bytes under a bound of 999 is refused
 * (-EFBIG), with no more than the bound + 1 written; under a bound of 1000
 * it is read whole. */
static void test_bounded(void)
{
	struct env e = {0};
	unsigned char data[1000], *out = NULL;
	uint64_t size = 0;
	size_t len = 0;
	char path[PATH_MAX];
	struct stat st;
	int fd;

	test_fill(data, sizeof(data), 7);
	CHECK_RC(env_open(&e), 0);
	if (!e.b)
		return;
	CHECK_RC(e.b->ops->put(e.b, OBJ_KEY, data, sizeof(data)), 0);
	snprintf(path, sizeof(path), "%s/fetched", e.root);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK_RC(e.b->ops->get_to_fd(e.b, OBJ_KEY, fd, 999, &size), -EFBIG);
	CHECKF(fstat(fd, &st) == 0 && st.st_size <= 1000, "over the bound: %lld bytes written",
	       (long long)st.st_size);
	CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
	CHECK_RC(e.b->ops->get_to_fd(e.b, OBJ_KEY, fd, 1000, &size), 0);
	CHECK_RC(size, 1000);
	close(fd);
	CHECK_RC(backend_get_max(e.b, OBJ_KEY, 999, &out, &len), -EFBIG);
	CHECK(out == NULL && len == 0);
	CHECK_RC(backend_get_max(e.b, OBJ_KEY, 1000, &out, &len), 0);
	CHECK(len == 1000 && out && memcmp(out, data, 1000) == 0);
	free(out);
	backend_destroy(e.b);
	test_rm_rf(e.root);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_planted();
	test_planted_tmp_dir();
	test_bounded();
	return check_done("test_backend_planted");
}
