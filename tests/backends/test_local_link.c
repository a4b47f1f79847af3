/* test_local_link.c - put_file of the local store (backends/local_io.c):
 * a key the store does not hold is linked under its own name (the cache
 * file's inode, two links, no temporary name: the store's .tmp directory is
 * never made), a key it holds is replaced through a temporary name (the new
 * bytes, nothing left in .tmp), a missing source is -ENOENT, and after sync
 * both read back. make_dir makes a key's directory (again: a no-op), and
 * refuses a path out of the store or through a planted link. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "test_util.h"

#define KEY "o/ab/ab0123456789abcdef0123456789ab"

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -errno;
}

static void expect(struct backend *b, const char *text)
{
	unsigned char *out = NULL;
	size_t len = 0;

	CHECK_RC(b->ops->get(b, KEY, 0, 0, &out, &len), 0);
	CHECK(len == strlen(text) && out && memcmp(out, text, len) == 0);
	free(out);
}

int main(void)
{
	char root[PATH_MAX], store[PATH_MAX + 8], a[PATH_MAX + 8], c[PATH_MAX + 8],
	    obj[PATH_MAX + 64], tmp[PATH_MAX + 16], err[256];
	struct stat sa, so, st;
	struct backend *b = NULL;
	DIR *d;
	struct dirent *e;
	int entries = 0;

	snprintf(root, sizeof(root), "%s/link.XXXXXX", test_tmpdir_pick(false));
	if (!mkdtemp(root))
		return 1;
	snprintf(store, sizeof(store), "%s/store", root);
	snprintf(a, sizeof(a), "%s/a", root);
	snprintf(c, sizeof(c), "%s/c", root);
	snprintf(obj, sizeof(obj), "%s/%s", store, KEY);
	snprintf(tmp, sizeof(tmp), "%s/.tmp", store);
	CHECK_RC(mkdir(store, 0700), 0);
	CHECK_RC(write_file(a, "first"), 0);
	CHECK_RC(write_file(c, "second"), 0);
	CHECK_RC(backend_open(&b, store, NULL, err, sizeof(err)), 0);
	if (!b)
		return check_done("test_local_link");
	/* make_dir: the directory, twice; no escape, no link followed */
	snprintf(tmp, sizeof(tmp), "%s/o/ef", store);
	CHECK_RC(backend_make_dir(b, "o/ef"), 0);
	CHECK_RC(backend_make_dir(b, "o/ef"), 0);
	CHECK(stat(tmp, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_RC(backend_make_dir(b, "o/../x"), -EINVAL);
	CHECK_RC(backend_make_dir(b, ".tmp"), -EINVAL);
	snprintf(tmp, sizeof(tmp), "%s/o/ln", store);
	CHECK_RC(symlink(root, tmp), 0);
	CHECK_RC(backend_make_dir(b, "o/ln/x"), -EIO);
	snprintf(tmp, sizeof(tmp), "%s/x", root);
	CHECK(stat(tmp, &st) != 0 && errno == ENOENT);
	snprintf(tmp, sizeof(tmp), "%s/.tmp", store);
	/* a new key: the link itself, no temporary name */
	CHECK_RC(b->ops->put_file(b, KEY, a), 0);
	CHECK(stat(a, &sa) == 0 && stat(obj, &so) == 0);
	CHECK(sa.st_ino == so.st_ino && sa.st_dev == so.st_dev && sa.st_nlink == 2);
	CHECK(stat(tmp, &st) != 0 && errno == ENOENT);
	expect(b, "first");
	/* a key it holds: replaced whole */
	CHECK_RC(b->ops->put_file(b, KEY, c), 0);
	expect(b, "second");
	CHECK(stat(a, &sa) == 0 && sa.st_nlink == 1);
	d = opendir(tmp);
	CHECK(d != NULL);
	while (d && (e = readdir(d)) != NULL)
		entries += e->d_name[0] != '.';
	if (d)
		closedir(d);
	CHECK_RC(entries, 0);
	CHECK_RC(b->ops->put_file(b, "o/cd/cd0123456789abcdef0123456789ab", "/nonexistent/x"),
		 -ENOENT);
	CHECK_RC(b->ops->sync(b), 0);
	expect(b, "second");
	backend_destroy(b);
	test_rm_rf(root);
	return check_done("test_local_link");
}
