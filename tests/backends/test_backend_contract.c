/* test_backend_contract.c - what every store must do, checked through
 * backend_open(url) and the ops table only (compare-and-swap in
 * contract_cas.h). argv[1] is the store URL (default: a new directory under
 * /tmp); argv[2] "cas" runs the compare-and-swap part only. Checks marked "local" look at the files
 * and run only when the URL names a directory; nothing else may depend on the store. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "backend.h"
#include "test_util.h"

#include "contract_cas.h"

#define MIB (1024 * 1024)
#define LIST_MAX 256

struct ctx {
	struct backend *b;
	const char *local_dir; /* the store directory when the URL names one, else NULL */
	char work[PATH_MAX];   /* scratch directory for source files */
	char run[20];	       /* every key of this run starts with it */
};

/* Builds run prefix + suffix into a static-sized buffer owned by the caller. */
static const char *key_of(const struct ctx *c, char out[512], const char *suffix)
{
	if (snprintf(out, 512, "%s%s", c->run, suffix) >= 512)
		abort();
	return out;
}

static void path_of(char out[PATH_MAX], const char *dir, const char *name)
{
	if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		abort();
}

static int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

/* Gets key [off, off+len) and compares it with want[0..want_len). */
static void expect_get(struct ctx *c, const char *key, uint64_t off, size_t len,
		       const unsigned char *want, size_t want_len)
{
	unsigned char *got = NULL;
	size_t got_len = 0;

	CHECK_RC(c->b->ops->get(c->b, key, off, len, &got, &got_len), 0);
	CHECK_RC(got_len, want_len);
	CHECK(got != NULL);
	if (got && got_len == want_len)
		CHECK(want_len == 0 || memcmp(got, want, want_len) == 0);
	free(got);
}

static void test_put_get_roundtrip(struct ctx *c)
{
	unsigned char data[1000], small[10];
	char k[512], k0[512];
	uint64_t size = 0;

	test_fill(data, sizeof(data), 1);
	test_fill(small, sizeof(small), 2);
	CHECK_RC(c->b->ops->put(c->b, key_of(c, k, "rt/obj"), data, sizeof(data)), 0);
	expect_get(c, k, 0, 0, data, sizeof(data));
	CHECK_RC(c->b->ops->head(c->b, k, &size), 0);
	CHECK_RC(size, sizeof(data));
	CHECK_RC(c->b->ops->put(c->b, k, small, sizeof(small)), 0);
	expect_get(c, k, 0, 0, small, sizeof(small));
	CHECK_RC(c->b->ops->put(c->b, key_of(c, k0, "rt/empty"), "", 0), 0);
	expect_get(c, k0, 0, 0, NULL, 0);
	CHECK_RC(c->b->ops->head(c->b, k0, &size), 0);
	CHECK_RC(size, 0);
}

static void test_ranged_get(struct ctx *c)
{
	static unsigned char data[10000];
	char k[512];

	test_fill(data, sizeof(data), 3);
	CHECK_RC(c->b->ops->put(c->b, key_of(c, k, "range"), data, sizeof(data)), 0);
	expect_get(c, k, 100, 50, data + 100, 50);
	expect_get(c, k, 9990, 100, data + 9990, 10);
	expect_get(c, k, 5000, 0, data + 5000, 5000);
	expect_get(c, k, 10000, 10, NULL, 0);
	expect_get(c, k, 20000, 0, NULL, 0);
}

static void test_get_to_fd(struct ctx *c)
{
	static unsigned char data[300000], back[300003];
	char k[512], path[PATH_MAX];
	uint64_t size = 0;
	int fd;

	test_fill(data, sizeof(data), 4);
	CHECK_RC(c->b->ops->put(c->b, key_of(c, k, "tofd"), data, sizeof(data)), 0);
	path_of(path, c->work, "tofd.out");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_RC(write(fd, "abc", 3), 3);
	CHECK_RC(c->b->ops->get_to_fd(c->b, k, fd, BACKEND_NO_MAX, &size), 0);
	CHECK_RC(size, sizeof(data));
	CHECK_RC(pread(fd, back, sizeof(back), 0), sizeof(back));
	CHECK(memcmp(back, "abc", 3) == 0 && memcmp(back + 3, data, sizeof(data)) == 0);
	CHECK_RC(
	    c->b->ops->get_to_fd(c->b, key_of(c, k, "tofd-missing"), fd, BACKEND_NO_MAX, &size),
	    -ENOENT);
	close(fd);
}

static void test_missing_and_delete(struct ctx *c)
{
	unsigned char *out = NULL;
	size_t len = 0;
	uint64_t size = 0;
	char k[512];

	key_of(c, k, "missing/obj");
	CHECK_RC(c->b->ops->get(c->b, k, 0, 0, &out, &len), -ENOENT);
	CHECK_RC(c->b->ops->head(c->b, k, &size), -ENOENT);
	CHECK_RC(c->b->ops->del(c->b, k), 0);
	key_of(c, k, "del/obj");
	CHECK_RC(c->b->ops->put(c->b, k, "x", 1), 0);
	CHECK_RC(c->b->ops->del(c->b, k), 0);
	CHECK_RC(c->b->ops->head(c->b, k, &size), -ENOENT);
	CHECK_RC(c->b->ops->get(c->b, k, 0, 0, &out, &len), -ENOENT);
	CHECK_RC(c->b->ops->del(c->b, k), 0);
}

/* The overwrite test: a reader must only ever see one of two whole objects. */
struct flip {
	struct ctx *c;
	const char *key;
	atomic_int done;
	atomic_int reads;
	atomic_int bad;
};

static int flip_whole(const unsigned char *buf, size_t len)
{
	size_t i;

	if (len != MIB || (buf[0] != 0xa5 && buf[0] != 0x5a))
		return 0;
	for (i = 1; i < len; i++)
		if (buf[i] != buf[0])
			return 0;
	return 1;
}

static void *flip_reader(void *arg)
{
	struct flip *f = arg;

	while (!atomic_load(&f->done)) {
		unsigned char *buf = NULL;
		size_t len = 0;
		int r = f->c->b->ops->get(f->c->b, f->key, 0, 0, &buf, &len);

		if (r != 0 || !flip_whole(buf, len))
			atomic_fetch_add(&f->bad, 1);
		atomic_fetch_add(&f->reads, 1);
		free(buf);
	}
	return NULL;
}

static void test_overwrite_is_atomic(struct ctx *c)
{
	unsigned char *a = malloc(MIB), *b = malloc(MIB);
	struct flip f = {.c = c};
	char k[512];
	pthread_t t;
	int i, waited;

	CHECK(a && b);
	if (!a || !b)
		goto out;
	memset(a, 0xa5, MIB);
	memset(b, 0x5a, MIB);
	f.key = key_of(c, k, "flip");
	CHECK_RC(c->b->ops->put(c->b, k, a, MIB), 0);
	CHECK_RC(pthread_create(&t, NULL, flip_reader, &f), 0);
	for (waited = 0; atomic_load(&f.reads) == 0 && waited < 5000; waited++)
		usleep(1000);
	for (i = 0; i < 24; i++)
		CHECK_RC(c->b->ops->put(c->b, k, i % 2 ? a : b, MIB), 0);
	atomic_store(&f.done, 1);
	pthread_join(t, NULL);
	CHECK(atomic_load(&f.reads) > 1);
	CHECK_RC(atomic_load(&f.bad), 0);
out:
	free(a);
	free(b);
}

struct listing {
	char keys[LIST_MAX][512];
	uint64_t sizes[LIST_MAX];
	int n;
	int stop; /* returned by the callback when non-zero */
};

static int list_cb(void *arg, const char *key, uint64_t size)
{
	struct listing *l = arg;

	if (l->n < LIST_MAX) {
		snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", key);
		l->sizes[l->n] = size;
	}
	l->n++;
	return l->stop;
}

/* Lists run+prefix and checks it yields exactly the n suffixes in want, each
 * of size 10 + its index in the list test's key table. */
static void expect_list(struct ctx *c, const char *prefix, const char *const *want, int n)
{
	static const char *const all[] = {"l/a", "l/b/c", "l/b/d/e", "l/bb", "l/c-1.x_y", "m/x"};
	static struct listing l;
	char p[512], k[512];
	int i, j, found;

	memset(&l, 0, sizeof(l));
	CHECK_RC(c->b->ops->list(c->b, key_of(c, p, prefix), list_cb, &l), 0);
	CHECK_RC(l.n, n);
	for (i = 0; i < n; i++) {
		key_of(c, k, want[i]);
		found = 0; /* index + 1 of want[i] in the listing */
		for (j = 0; j < l.n && j < LIST_MAX && !found; j++)
			found = strcmp(l.keys[j], k) == 0 ? j + 1 : 0;
		if (!found)
			fprintf(stderr, "FAIL: list '%s' lacks '%s'\n", prefix, want[i]);
		CHECK(found);
		for (j = 0; found && j < 6; j++)
			if (strcmp(all[j], want[i]) == 0)
				CHECK_RC(l.sizes[found - 1], 10 + j);
	}
}

static void test_list(struct ctx *c)
{
	static const char *const all[] = {"l/a", "l/b/c", "l/b/d/e", "l/bb", "l/c-1.x_y", "m/x"};
	static const char *const under_b[] = {"l/b/c", "l/b/d/e", "l/bb"};
	static const char *const under_b_dir[] = {"l/b/c", "l/b/d/e"};
	static struct listing l;
	unsigned char data[16] = {0};
	char k[512];
	int i;

	for (i = 0; i < 6; i++)
		CHECK_RC(c->b->ops->put(c->b, key_of(c, k, all[i]), data, (size_t)(10 + i)), 0);
	expect_list(c, "l/", all, 5);
	expect_list(c, "l/b", under_b, 3);
	expect_list(c, "l/b/", under_b_dir, 2);
	expect_list(c, "l/bb", under_b + 2, 1);
	expect_list(c, "l/zz", NULL, 0);
	expect_list(c, "nothing/", NULL, 0);
	expect_list(c, "m/", all + 5, 1);
	memset(&l, 0, sizeof(l));
	l.stop = 7;
	CHECK_RC(c->b->ops->list(c->b, key_of(c, k, "l/"), list_cb, &l), 7);
	CHECK_RC(l.n, 1);
	CHECK_RC(c->b->ops->del(c->b, key_of(c, k, "l/b/d/e")), 0);
	expect_list(c, "l/b/", under_b_dir, 1);
	expect_list(c, "l/b/d", NULL, 0);
}

static int inode_of(const char *path, struct stat *st) { return stat(path, st) == 0 ? 0 : -errno; }

/* put_file from a source on the store's own filesystem: linked, not copied. */
static void test_put_file_same_fs(struct ctx *c)
{
	static unsigned char data[200000];
	char k[512], src[PATH_MAX], obj[PATH_MAX];
	struct stat s1, s2;

	test_fill(data, sizeof(data), 5);
	/* Upper case: not a key, so the store never lists it. */
	path_of(src, c->local_dir ? c->local_dir : c->work, "Contract-src");
	CHECK_RC(write_file(src, data, sizeof(data)), 0);
	CHECK_RC(c->b->ops->put_file(c->b, key_of(c, k, "pf/same"), src), 0);
	expect_get(c, k, 0, 0, data, sizeof(data));
	CHECK_RC(c->b->ops->put_file(c->b, k, src), 0); /* again: same inode already there */
	expect_get(c, k, 0, 0, data, sizeof(data));
	if (c->local_dir && (c->b->ops->caps & BACKEND_CAP_LOCAL_FS)) { /* local */
		path_of(obj, c->local_dir, k);
		CHECK_RC(inode_of(src, &s1), 0);
		CHECK_RC(inode_of(obj, &s2), 0);
		CHECK(s1.st_ino == s2.st_ino && s1.st_dev == s2.st_dev);
		CHECK_RC(s1.st_nlink, 2); /* no temporary link left behind */
	}
	unlink(src);
	expect_get(c, k, 0, 0, data, sizeof(data));
	CHECK_RC(c->b->ops->put_file(c->b, key_of(c, k, "pf/nosrc"), src), -ENOENT);
}

/* put_file from another filesystem (/dev/shm): the copy path. */
static void test_put_file_other_fs(struct ctx *c)
{
	static unsigned char data[300000];
	char k[512], src[PATH_MAX], obj[PATH_MAX];
	struct stat shm, store, s1, s2;

	if (stat("/dev/shm", &shm) != 0 || !S_ISDIR(shm.st_mode) ||
	    (c->local_dir && (stat(c->local_dir, &store) != 0 || store.st_dev == shm.st_dev))) {
		printf("SKIP put_file copy: no /dev/shm on another filesystem than the store\n");
		return;
	}
	test_fill(data, sizeof(data), 6);
	snprintf(src, sizeof(src), "/dev/shm/sealfs-contract-%ld", (long)getpid());
	CHECK_RC(write_file(src, data, sizeof(data)), 0);
	CHECK_RC(c->b->ops->put_file(c->b, key_of(c, k, "pf/other"), src), 0);
	expect_get(c, k, 0, 0, data, sizeof(data));
	if (c->local_dir) { /* local: a copy of its own */
		path_of(obj, c->local_dir, k);
		CHECK_RC(inode_of(src, &s1), 0);
		CHECK_RC(inode_of(obj, &s2), 0);
		CHECK(s1.st_dev != s2.st_dev);
		CHECK_RC(s2.st_nlink, 1);
	}
	unlink(src);
	expect_get(c, k, 0, 0, data, sizeof(data));
}

static void expect_invalid(struct ctx *c, const char *key, const char *src, int fd)
{
	unsigned char *out = NULL;
	size_t len = 0;
	uint64_t size = 0;
	int r;

	r = c->b->ops->put(c->b, key, "x", 1);
	if (r != -EINVAL)
		fprintf(stderr, "FAIL: put of invalid key '%s' gave %d\n", key, r);
	CHECK_RC(r, -EINVAL);
	CHECK_RC(c->b->ops->get(c->b, key, 0, 0, &out, &len), -EINVAL);
	CHECK_RC(c->b->ops->head(c->b, key, &size), -EINVAL);
	CHECK_RC(c->b->ops->del(c->b, key), -EINVAL);
	CHECK_RC(c->b->ops->put_file(c->b, key, src), -EINVAL);
	CHECK_RC(c->b->ops->get_to_fd(c->b, key, fd, BACKEND_NO_MAX, &size), -EINVAL);
}

static void test_invalid_keys(struct ctx *c)
{
	static const char *const bad[] = {"",	 "/a",	 "..",	"../a", "a/../b",   "a/..", "A",
					  "a b", "a\\b", "a\n", "a*",	"\xc3\xa9", "a:b"};
	static const char *const bad_local[] = {"a//b",	 "a/",	 ".",	  "./a",
						"a/./b", ".tmp", ".tmp/x"};
	char longkey[300], src[PATH_MAX];
	size_t i;
	int fd;

	path_of(src, c->work, "keys-src");
	CHECK_RC(write_file(src, "x", 1), 0);
	fd = open(src, O_WRONLY | O_APPEND | O_CLOEXEC);
	CHECK(fd >= 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_invalid(c, bad[i], src, fd);
	for (i = 0; c->local_dir && i < sizeof(bad_local) / sizeof(bad_local[0]); i++)
		expect_invalid(c, bad_local[i], src, fd); /* local */
	memset(longkey, 'a', sizeof(longkey));
	longkey[256] = '\0';
	expect_invalid(c, longkey, src, fd);
	/* 255 bytes is the longest key: run prefix, then 99-byte components. */
	snprintf(longkey, sizeof(longkey), "%s", c->run);
	for (i = strlen(longkey); i < 255; i++)
		longkey[i] = (i - strlen(c->run)) % 100 == 99 ? '/' : 'k';
	longkey[255] = '\0';
	CHECK_RC(c->b->ops->put(c->b, longkey, "x", 1), 0);
	expect_get(c, longkey, 0, 0, (const unsigned char *)"x", 1);
	CHECK_RC(c->b->ops->del(c->b, longkey), 0);
	if (fd >= 0)
		close(fd);
}

struct putter {
	struct ctx *c;
	int id;
	int bad;
};

static void *putter_run(void *arg)
{
	struct putter *p = arg;
	char suffix[64], k[512];
	int i;

	for (i = 0; i < 25; i++) {
		snprintf(suffix, sizeof(suffix), "c/%d/%d", p->id, i);
		key_of(p->c, k, suffix);
		p->bad += p->c->b->ops->put(p->c->b, k, k, strlen(k)) != 0;
		snprintf(suffix, sizeof(suffix), "c/s/%d-%d", p->id, i);
		key_of(p->c, k, suffix);
		p->bad += p->c->b->ops->put(p->c->b, k, k, strlen(k)) != 0;
	}
	return NULL;
}

static void test_concurrent_puts(struct ctx *c)
{
	struct putter p[4];
	pthread_t t[4];
	static struct listing l;
	char k[512];
	int i;

	for (i = 0; i < 4; i++) {
		p[i] = (struct putter){.c = c, .id = i};
		CHECK_RC(pthread_create(&t[i], NULL, putter_run, &p[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_RC(p[i].bad, 0);
	}
	memset(&l, 0, sizeof(l));
	CHECK_RC(c->b->ops->list(c->b, key_of(c, k, "c/"), list_cb, &l), 0);
	CHECK_RC(l.n, 200);
	for (i = 0; i < l.n && i < LIST_MAX; i++)
		CHECK_RC(l.sizes[i], strlen(l.keys[i])); /* each object holds its own key */
	CHECK_RC(c->b->ops->sync(c->b), 0);
}

/* Opens url expecting failure want, a NULL *out and a message (naming mention). */
static void expect_open_fails(const char *url, int create, int want, const char *mention)
{
	struct backend_opts o = {.create = create};
	struct backend dummy = {0}, *b = &dummy;
	char err[256] = "";

	CHECK_RC(backend_open(&b, url, &o, err, sizeof(err)), want);
	CHECK(b == NULL);
	CHECK(err[0] != '\0');
	if (mention && !strstr(err, mention))
		fprintf(stderr, "FAIL: message '%s' does not name '%s'\n", err, mention);
	CHECK(!mention || strstr(err, mention));
}

/* Entries of directory path other than "." and "..", or -1. */
static int dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* create makes the directory (0700); file:// names the same store. */
static void test_open_create(struct ctx *c)
{
	struct backend_opts o = {.create = 1};
	struct backend *b1 = NULL, *b2 = NULL;
	char dir[PATH_MAX], url[PATH_MAX + 8], err[256] = "", k[512];
	struct stat st;

	path_of(dir, c->work, "new/nested/store");
	CHECK_RC(backend_open(&b1, dir, &o, err, sizeof(err)), 0);
	CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
	CHECK_RC(dir_entries(dir), 0); /* opening leaves no trace */
	snprintf(url, sizeof(url), "file://%s", dir);
	CHECK_RC(backend_open(&b2, url, NULL, err, sizeof(err)), 0);
	if (b1 && b2) {
		CHECK_RC(b1->ops->put(b1, key_of(c, k, "via-path"), "abc", 3), 0);
		CHECK_RC(b1->ops->sync(b1), 0);
		c->b = b2; /* expect_get reads through c->b */
		expect_get(c, k, 0, 0, (const unsigned char *)"abc", 3);
	}
	backend_destroy(b1);
	backend_destroy(b2);
}

/* local: a temporary file younger than an hour survives a reopen (it may be
 * another process's put in flight). */
static void test_open_keeps_fresh_tmp(struct ctx *c)
{
	struct backend *b = NULL;
	char dir[PATH_MAX], tmp[PATH_MAX], err[256] = "";

	path_of(dir, c->work, "new/nested/store");
	path_of(tmp, dir, ".tmp/0123456789abcdef0123456789abcdef.tmp");
	CHECK_RC(write_file(tmp, "partial", 7), 0);
	CHECK_RC(backend_open(&b, dir, NULL, err, sizeof(err)), 0);
	CHECK(access(tmp, F_OK) == 0);
	backend_destroy(b);
}

static void test_open_errors(struct ctx *c)
{
	struct backend *saved = c->b, *b = NULL;
	char missing[PATH_MAX], file[PATH_MAX], under[PATH_MAX], url[PATH_MAX + 8];
	char err[256] = "";

	path_of(missing, c->work, "no-such-store");
	expect_open_fails(missing, 0, -ENOENT, "no-such-store");
	snprintf(url, sizeof(url), "file://%s", missing);
	expect_open_fails(url, 0, -ENOENT, "no-such-store");
	path_of(file, c->work, "a-file");
	CHECK_RC(write_file(file, "x", 1), 0);
	expect_open_fails(file, 0, -ENOTDIR, "a-file");
	expect_open_fails(file, 1, -ENOTDIR, "a-file");
	path_of(under, file, "store");
	expect_open_fails(under, 1, -ENOTDIR, "a-file");
	expect_open_fails("ftp://host/x", 0, -EPROTONOSUPPORT, "ftp");
	expect_open_fails("file://relative/x", 0, -EINVAL, NULL);
	expect_open_fails("", 0, -EINVAL, NULL);
	/* No bucket: -EINVAL, or -EPROTONOSUPPORT when S3 is not built in. */
	CHECK(backend_open(&b, "s3://", NULL, err, sizeof(err)) < 0 && b == NULL && err[0]);
	test_open_create(c);
	test_open_keeps_fresh_tmp(c);
	c->b = saved;
}

static int del_cb(void *arg, const char *key, uint64_t size)
{
	struct backend *b = arg;

	(void)size;
	return b->ops->del(b, key);
}

static int setup(struct ctx *c, const char *url)
{
	char err[256] = "", store[PATH_MAX];

	snprintf(c->work, sizeof(c->work), "/tmp/sealfs-contract-XXXXXX");
	if (!mkdtemp(c->work)) {
		c->work[0] = '\0';
		return -errno;
	}
	if (!url) {
		path_of(store, c->work, "store");
		url = store;
		if (mkdir(store, 0700) != 0)
			return -errno;
	}
	if (!strstr(url, "://"))
		c->local_dir = realpath(url, NULL);
	else if (strncmp(url, "file://", 7) == 0)
		c->local_dir = realpath(url + 7, NULL);
	test_run_prefix(c->run);
	if (backend_open(&c->b, url, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "FAIL: cannot open store: %s\n", err);
		return -EIO;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ctx c = {0};

	if (setup(&c, argc > 1 ? argv[1] : NULL) != 0) {
		if (c.work[0])
			test_rm_rf(c.work);
		return 1;
	}
	printf("store '%s' (%s), keys under %s\n", argc > 1 ? argv[1] : c.local_dir, c.b->ops->name,
	       c.run);
	/* argv[2] "cas": only the compare-and-swap part; the server is told to
	 * ignore conditional writes by S3RVER_IGNORE_CONDITIONAL=1 (s3rver). */
	contract_cas(c.b, c.run, c.local_dir, getenv("S3RVER_IGNORE_CONDITIONAL") != NULL);
	if (argc > 2 && strcmp(argv[2], "cas") == 0)
		goto done;
	test_put_get_roundtrip(&c);
	test_ranged_get(&c);
	test_get_to_fd(&c);
	test_missing_and_delete(&c);
	test_overwrite_is_atomic(&c);
	test_list(&c);
	test_put_file_same_fs(&c);
	test_put_file_other_fs(&c);
	test_invalid_keys(&c);
	test_concurrent_puts(&c);
	CHECK_RC(c.b->ops->sync(c.b), 0);
	test_open_errors(&c);
done:
	CHECK_RC(c.b->ops->list(c.b, c.run, del_cb, c.b), 0);
	CHECK_RC(c.b->ops->sync(c.b), 0);
	backend_destroy(c.b);
	test_rm_rf(c.work);
	free((char *)c.local_dir);
	return check_done("test_backend_contract");
}
