/* local.c - the local-directory store: object <key> is the file STORE/<key>.
 * This file holds its vtable and its open and destroy; the calls live by
 * concern in local_path.c (keys, temporary files), local_io.c (objects),
 * local_list.c, local_sync.c and local_cas.c (compare-and-swap: put_if
 * under a flock on STORE/<key>.lock; local_store.h joins them). It must never
 * leave a torn object: every write builds a file in STORE/.tmp, fsyncs it and
 * renames it into place; put_file links a cache file that will not change
 * again and leaves its flush to sync(); sync() flushes those files and fsyncs
 * the directories (one syncfs for many). */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"
#include "local.h"
#include "local_store.h"

static void local_destroy(struct backend *b)
{
	struct local_store *s = local_of(b);

	close(s->root_fd);
	local_dirset_free(&s->dirty);
	local_dirset_free(&s->linked);
	pthread_mutex_destroy(&s->dirty_lock);
	pthread_mutex_destroy(&s->sync_lock);
	free(s);
}

static const struct backend_ops local_ops = {
    .name = "local",
    .caps = BACKEND_CAP_LOCAL_FS | BACKEND_CAP_RANGE | BACKEND_CAP_PUT_IF,
    .get = local_get,
    .get_to_fd = local_get_to_fd,
    .put = local_put,
    .put_file = local_put_file,
    .del = local_del,
    .head = local_head,
    .list = local_list,
    .sync = local_sync,
    .destroy = local_destroy,
    .stored_time = local_stored_time,
    .get_version = local_get_version,
    .put_if = local_put_if,
    .make_dir = local_make_dir,
};

/* mkdir -p dir, mode 0700 for each directory it creates. */
static int local_mkdir_p(const char *dir)
{
	char *path = strdup(dir);
	char *p, c;
	int r = 0;

	if (!path)
		return -ENOMEM;
	if (path[0] == '\0') {
		free(path);
		return -ENOENT;
	}
	for (p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(path, LOCAL_DIR_MODE) != 0 && errno != EEXIST) {
			r = -errno;
			break;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	free(path);
	return r;
}

/* Opens dir as the root: 0 or a negative errno with the reason in err. */
static int local_open_root(int *fd, const char *dir, char *err, size_t err_size)
{
	*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd >= 0) {
		if (faccessat(*fd, ".", R_OK | X_OK, 0) == 0)
			return 0;
		close(*fd);
		*fd = -1;
		errno = EACCES;
	}
	if (errno == ENOENT)
		return errbuf_fail(err, err_size, -ENOENT, "store '%s' does not exist", dir);
	if (errno == ENOTDIR)
		return errbuf_fail(err, err_size, -ENOTDIR, "store '%s' is not a directory", dir);
	if (errno == EACCES || errno == EPERM)
		return errbuf_fail(err, err_size, -EACCES, "store '%s' is not readable", dir);
	return errbuf_fail(err, err_size, -errno, "cannot open store '%s': %s", dir,
			   strerror(errno));
}

int local_backend_open(struct backend **out, const char *dir, const struct backend_opts *opts,
		       char *err, size_t err_size)
{
	struct local_store *s;
	int fd, r;

	*out = NULL;
	if (err && err_size > 0)
		err[0] = '\0';
	if (opts && opts->create) {
		r = local_mkdir_p(dir);
		if (r)
			return errbuf_fail(err, err_size, local_errno(-r),
					   "cannot create store '%s': %s", dir, strerror(-r));
	}
	r = local_open_root(&fd, dir, err, err_size);
	if (r)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return errbuf_fail(err, err_size, -ENOMEM, "out of memory opening store '%s'", dir);
	}
	s->base.ops = &local_ops;
	s->root_fd = fd;
	pthread_mutex_init(&s->dirty_lock, NULL);
	pthread_mutex_init(&s->sync_lock, NULL);
	if (faccessat(fd, ".", W_OK, 0) != 0)
		errbuf_fail(err, err_size, 0, "store '%s' is read-only: writes will fail", dir);
	else
		local_tmp_clean(s); /* LOCAL_TMP_DIR itself is made by the first put */
	*out = &s->base;
	return 0;
}
