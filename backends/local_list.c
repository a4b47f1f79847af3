/* local_list.c - listing of the local store: a walk of the directory tree
 * that yields regular files whose path is a valid key starting with the
 * prefix. It must never list or descend into what is not a key (.tmp,
 * lost+found, foreign files) and never follow a symbolic link. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local_store.h"

/* A recursive listing; path holds the key being built. */
struct local_walk {
	const char *prefix;
	size_t prefix_len;
	backend_list_cb cb;
	void *arg;
	char path[LOCAL_KEY_MAX_BYTES + 2]; /* a key, or a directory with its '/' */
};

static int local_walk_dir(struct local_walk *w, int dir_fd, size_t path_len);

/* Visits subdirectory name of parent_fd, whose key part is path[0..len). */
static int local_walk_subdir(struct local_walk *w, int parent_fd, const char *name, size_t len)
{
	size_t common;
	int fd;

	w->path[len] = '/';
	w->path[len + 1] = '\0';
	/* Only descend where a key starting with prefix can be. */
	common = len + 1 < w->prefix_len ? len + 1 : w->prefix_len;
	if (memcmp(w->path, w->prefix, common) != 0)
		return 0;
	fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : local_errno(errno);
	return local_walk_dir(w, fd, len + 1);
}

static int local_walk_entry(struct local_walk *w, int dir_fd, const char *name, size_t path_len)
{
	size_t name_len = strlen(name);
	struct stat st;

	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	if (path_len == 0 && strcmp(name, LOCAL_TMP_DIR) == 0)
		return 0;
	if (path_len + name_len + 2 > sizeof(w->path))
		return 0; /* too long to be a key */
	memcpy(w->path + path_len, name, name_len + 1);
	/* Not a key (lost+found, foreign files): neither listed nor descended into. */
	if (local_key_check(w->path) != 0)
		return 0;
	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : local_errno(errno); /* ENOENT: deleted meanwhile */
	if (S_ISDIR(st.st_mode))
		return local_walk_subdir(w, dir_fd, name, path_len + name_len);
	if (!S_ISREG(st.st_mode) || strncmp(w->path, w->prefix, w->prefix_len) != 0)
		return 0;
	return w->cb(w->arg, w->path, (uint64_t)st.st_size);
}

/* Lists the directory open as dir_fd (taken over) whose keys start with path[0..path_len). */
static int local_walk_dir(struct local_walk *w, int dir_fd, size_t path_len)
{
	DIR *d = fdopendir(dir_fd);
	struct dirent *e;
	int r = 0;

	if (!d) {
		r = local_errno(errno);
		close(dir_fd);
		return r;
	}
	for (;;) {
		errno = 0;
		e = readdir(d);
		if (!e) {
			r = errno ? local_errno(errno) : 0;
			break;
		}
		r = local_walk_entry(w, dirfd(d), e->d_name, path_len);
		if (r)
			break;
	}
	closedir(d);
	return r;
}

int local_list(struct backend *b, const char *prefix, backend_list_cb cb, void *arg)
{
	struct local_store *s = local_of(b);
	struct local_walk w = {.prefix = prefix ? prefix : "", .cb = cb, .arg = arg};
	int fd = openat(s->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return local_errno(errno);
	w.prefix_len = strlen(w.prefix);
	return local_walk_dir(&w, fd, 0);
}
