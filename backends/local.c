/* local.c - the local-directory store: object <key> is the file STORE/<key>.
 * It must never leave a torn object: every write builds a file in STORE/.tmp,
 * fsyncs it and renames it into place; put_file links a cache file that will
 * not change again and leaves its flush to sync(); sync() flushes those
 * files and fsyncs the directories (one syncfs for many). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "local.h"

#define LOCAL_KEY_MAX_BYTES 255
#define LOCAL_TMP_DIR ".tmp"
#define LOCAL_TMP_SUFFIX ".tmp"
#define LOCAL_TMP_RANDOM_BYTES 16
/* ".tmp/" + 32 hex + ".tmp" + NUL */
#define LOCAL_TMP_NAME_BYTES (5 + 2 * LOCAL_TMP_RANDOM_BYTES + 4 + 1)
#define LOCAL_STALE_TMP_SECONDS 3600
#define LOCAL_DIR_MODE 0700
#define LOCAL_FILE_MODE 0600
#define LOCAL_COPY_BUF_BYTES (128 * 1024) /* read/write fallback buffer */
#define LOCAL_COPY_RANGE_BYTES (1u << 30) /* one copy_file_range call */
#define LOCAL_SYNCFS_MIN 64u /* from this many files and directories to flush, one syncfs */

/* A set of directories relative to the store root ("o/ab"); linear search is
 * enough: sealfs uses about 260 directories. */
struct local_dirset {
	char **dirs; /* owned strings */
	size_t n, cap;
};

struct local_store {
	struct backend base;	    /* first: the table gets a struct backend */
	int root_fd;		    /* the store directory; constant after open */
	pthread_mutex_t dirty_lock; /* protects dirty and linked */
	struct local_dirset dirty;  /* directories whose entries changed since the last sync */
	struct local_dirset linked; /* keys put_file linked, data not flushed since */
	pthread_mutex_t sync_lock;  /* held through a whole sync, so each one is a full barrier */
};

static struct local_store *local_of(struct backend *b) { return (struct local_store *)b; }

/* Maps an errno from a write path to the store's error codes. */
static int local_errno(int e)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT:
		return -ENOSPC;
	case EROFS:
	case EACCES:
	case EPERM:
		return -EACCES;
	default:
		return -e;
	}
}

/* Maps an errno from a lookup: a path through a file or a missing path is
 * a missing object. */
static int local_lookup_errno(int e)
{
	return (e == ENOENT || e == ENOTDIR) ? -ENOENT : local_errno(e);
}

static int local_component_ok(const char *c, size_t len)
{
	return len > 0 && !(len == 1 && c[0] == '.');
}

/* backend.h key rules, plus what a directory tree needs: no empty or "."
 * component, and nothing under the store's own LOCAL_TMP_DIR. */
static int local_key_check(const char *key)
{
	size_t len, i, start = 0;

	if (!key)
		return -EINVAL;
	len = strlen(key);
	if (len == 0 || len > LOCAL_KEY_MAX_BYTES || strstr(key, ".."))
		return -EINVAL;
	for (i = 0; i <= len; i++) {
		char c = key[i];

		if (c == '/' || c == '\0') {
			if (!local_component_ok(key + start, i - start))
				return -EINVAL;
			start = i + 1;
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
			     c == '_' || c == '-')) {
			return -EINVAL;
		}
	}
	if (strncmp(key, LOCAL_TMP_DIR, strlen(LOCAL_TMP_DIR)) == 0 &&
	    (key[strlen(LOCAL_TMP_DIR)] == '/' || key[strlen(LOCAL_TMP_DIR)] == '\0'))
		return -EINVAL;
	return 0;
}

/* fsyncs directory dir (relative to the root); a directory gone since is fine. */
static int local_fsync_dir(struct local_store *s, const char *dir)
{
	int fd = openat(s->root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : local_errno(errno);
	if (fsync(fd) != 0)
		r = local_errno(errno);
	close(fd);
	return r;
}

/* Adds a copy of dir[0..len) unless present. Caller holds dirty_lock. */
static int local_dirset_add(struct local_dirset *set, const char *dir, size_t len)
{
	size_t i;
	char **grown;

	for (i = 0; i < set->n; i++)
		if (strncmp(set->dirs[i], dir, len) == 0 && set->dirs[i][len] == '\0')
			return 0;
	if (set->n == set->cap) {
		size_t cap = set->cap ? 2 * set->cap : 64;

		grown = realloc(set->dirs, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		set->dirs = grown;
		set->cap = cap;
	}
	set->dirs[set->n] = strndup(dir, len);
	if (!set->dirs[set->n])
		return -ENOMEM;
	set->n++;
	return 0;
}

/* Appends a copy of key (no duplicate check: keys put in one sync period
 * may repeat, flushing twice is harmless). Caller holds dirty_lock. */
static int local_list_add(struct local_dirset *set, const char *key)
{
	if (set->n == set->cap) {
		size_t cap = set->cap ? 2 * set->cap : 64;
		char **grown = realloc(set->dirs, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		set->dirs = grown;
		set->cap = cap;
	}
	set->dirs[set->n] = strdup(key);
	if (!set->dirs[set->n])
		return -ENOMEM;
	set->n++;
	return 0;
}

static void local_dirset_free(struct local_dirset *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		free(set->dirs[i]);
	free(set->dirs);
	memset(set, 0, sizeof(*set));
}

/* Remembers the directory holding path and its ancestors for the next sync:
 * a directory another put just made must be durable before our object is.
 * The root is synced every time. Without memory to remember them they are
 * fsynced now, so durability never depends on an allocation. */
static int local_dirty_note(struct local_store *s, const char *path)
{
	char dir[LOCAL_KEY_MAX_BYTES + 1], *q;
	const char *p;
	int r = 0, ri;

	pthread_mutex_lock(&s->dirty_lock);
	for (p = strchr(path, '/'); p && r == 0; p = strchr(p + 1, '/'))
		r = local_dirset_add(&s->dirty, path, (size_t)(p - path));
	pthread_mutex_unlock(&s->dirty_lock);
	if (r == 0)
		return 0;
	snprintf(dir, sizeof(dir), "%s", path);
	for (r = 0, q = strrchr(dir, '/'); q; q = strrchr(dir, '/')) {
		*q = '\0';
		ri = local_fsync_dir(s, dir);
		if (r == 0)
			r = ri;
	}
	return r;
}

/* Creates the missing parent directories of key (mode 0700). */
static int local_mkdirs(struct local_store *s, const char *key)
{
	char path[LOCAL_KEY_MAX_BYTES + 1];
	char *p;

	snprintf(path, sizeof(path), "%s", key);
	for (p = strchr(path, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		/* New directories reach sync as ancestors of the key (local_dirty_note). */
		if (mkdirat(s->root_fd, path, LOCAL_DIR_MODE) != 0 && errno != EEXIST)
			return local_errno(errno);
		*p = '/';
	}
	return 0;
}

/* Creates LOCAL_TMP_DIR: 0 created, 1 it existed, or a negative errno. */
static int local_tmp_dir_make(struct local_store *s)
{
	if (mkdirat(s->root_fd, LOCAL_TMP_DIR, LOCAL_DIR_MODE) == 0)
		return 0;
	return errno == EEXIST ? 1 : local_errno(errno);
}

/* A fresh name ".tmp/<32 hex>.tmp", relative to the root. */
static int local_tmp_name(char out[LOCAL_TMP_NAME_BYTES])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[LOCAL_TMP_RANDOM_BYTES];
	char *p = out;
	size_t i;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	p += snprintf(out, LOCAL_TMP_NAME_BYTES, "%s/", LOCAL_TMP_DIR);
	for (i = 0; i < sizeof(rnd); i++) {
		*p++ = hex[rnd[i] >> 4];
		*p++ = hex[rnd[i] & 15];
	}
	memcpy(p, LOCAL_TMP_SUFFIX, sizeof(LOCAL_TMP_SUFFIX));
	return 0;
}

/* Creates a new temporary file: its name into tmp, a write fd into *fd. */
static int local_tmp_create(struct local_store *s, char tmp[LOCAL_TMP_NAME_BYTES], int *fd)
{
	int attempt, r;

	for (attempt = 0;; attempt++) {
		r = local_tmp_name(tmp);
		if (r)
			return r;
		*fd = openat(s->root_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			     LOCAL_FILE_MODE);
		if (*fd >= 0)
			return 0;
		if (errno != ENOENT || attempt > 0)
			return local_errno(errno);
		r = local_tmp_dir_make(s);
		if (r < 0)
			return r;
	}
}

/* Hard-links path under a fresh temporary name. Returns 0, 1 when linking is
 * impossible here (another filesystem, link limits: the caller copies), or a
 * negative errno. */
static int local_tmp_link(struct local_store *s, const char *path, char tmp[LOCAL_TMP_NAME_BYTES])
{
	int attempt, r;

	for (attempt = 0;; attempt++) {
		r = local_tmp_name(tmp);
		if (r)
			return r;
		if (linkat(AT_FDCWD, path, s->root_fd, tmp, 0) == 0)
			return 0;
		if (errno == EXDEV || errno == EPERM || errno == EMLINK)
			return 1;
		if (errno != ENOENT || attempt > 0)
			return local_errno(errno);
		/* ENOENT: either path vanished or LOCAL_TMP_DIR is missing. */
		r = local_tmp_dir_make(s);
		if (r != 0)
			return r < 0 ? r : -ENOENT;
	}
}

static int local_write_full(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return local_errno(errno);
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copies in -> out between current offsets with copy_file_range. Returns 1
 * when the kernel cannot do it for these files (the caller falls back; a
 * refused call moves no offset). */
static int local_copy_range(int out, int in, uint64_t *total)
{
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, LOCAL_COPY_RANGE_BYTES, 0);

		if (n > 0) {
			*total += (uint64_t)n;
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP ||
		    errno == EBADF)
			return 1;
		return local_errno(errno);
	}
}

static int local_copy_rw(int out, int in, uint64_t *total)
{
	unsigned char *buf = malloc(LOCAL_COPY_BUF_BYTES);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(in, buf, LOCAL_COPY_BUF_BYTES);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? local_errno(errno) : 0;
			break;
		}
		r = local_write_full(out, buf, (size_t)n);
		if (r)
			break;
		*total += (uint64_t)n;
	}
	free(buf);
	return r;
}

/* Copies everything from in's offset to its end to out at out's offset. */
static int local_copy_fd(int out, int in, uint64_t *total)
{
	int r;

	*total = 0;
	r = local_copy_range(out, in, total);
	return r == 1 ? local_copy_rw(out, in, total) : r;
}

/* Renames temporary file tmp over key, creating the parent directories when
 * missing, and remembers the parent for sync. */
static int local_publish(struct local_store *s, const char *tmp, const char *key)
{
	int r;

	if (renameat(s->root_fd, tmp, s->root_fd, key) != 0) {
		if (errno != ENOENT)
			return local_errno(errno);
		r = local_mkdirs(s, key);
		if (r)
			return r;
		if (renameat(s->root_fd, tmp, s->root_fd, key) != 0)
			return local_errno(errno);
	}
	return local_dirty_note(s, key);
}

/* Makes temporary file fd durable, closes it and publishes it as key; on any
 * failure the temporary file is removed. */
static int local_finish(struct local_store *s, const char *tmp, int fd, int r, const char *key)
{
	if (r == 0 && fsync(fd) != 0)
		r = local_errno(errno);
	if (close(fd) != 0 && r == 0)
		r = local_errno(errno);
	if (r == 0)
		r = local_publish(s, tmp, key);
	if (r)
		unlinkat(s->root_fd, tmp, 0);
	return r;
}

static int local_put(struct backend *b, const char *key, const void *data, size_t len)
{
	struct local_store *s = local_of(b);
	char tmp[LOCAL_TMP_NAME_BYTES];
	int fd, r;

	r = local_key_check(key);
	if (r)
		return r;
	r = local_tmp_create(s, tmp, &fd);
	if (r)
		return r;
	return local_finish(s, tmp, fd, local_write_full(fd, data, len), key);
}

/* put_file by copying src (open for reading) into a temporary file. */
static int local_put_copy(struct local_store *s, const char *key, int src)
{
	char tmp[LOCAL_TMP_NAME_BYTES];
	uint64_t copied;
	int fd, r;

	r = local_tmp_create(s, tmp, &fd);
	if (r)
		return r;
	return local_finish(s, tmp, fd, local_copy_fd(fd, src, &copied), key);
}

/* put_file without copying: path's data is already flushed; link it under a
 * temporary name and rename that over key. Returns 1 when linking is
 * impossible (the caller copies). */
static int local_put_link(struct local_store *s, const char *key, const char *path)
{
	char tmp[LOCAL_TMP_NAME_BYTES];
	int r = local_tmp_link(s, path, tmp);

	if (r)
		return r;
	r = local_publish(s, tmp, key);
	/* When key already named path's inode, rename did nothing and tmp remains. */
	unlinkat(s->root_fd, tmp, 0);
	return r;
}

/* Remembers key for the next sync's flush; without memory for that, flushes
 * src now. */
static int local_linked_note(struct local_store *s, const char *key, int src)
{
	int r;

	pthread_mutex_lock(&s->dirty_lock);
	r = local_list_add(&s->linked, key);
	pthread_mutex_unlock(&s->dirty_lock);
	if (r == 0)
		return 0;
	return fdatasync(src) == 0 ? 0 : local_errno(errno);
}

static int local_put_file(struct backend *b, const char *key, const char *path)
{
	struct local_store *s = local_of(b);
	int src, r;

	r = local_key_check(key);
	if (r)
		return r;
	src = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (src < 0)
		return local_lookup_errno(errno);
	/* The data is flushed by the next sync, before anything that sync
	 * orders after it (a head) can point at this object. */
	r = local_put_link(s, key, path);
	if (r == 0)
		r = local_linked_note(s, key, src);
	if (r == 1)
		r = local_put_copy(s, key, src);
	close(src);
	return r;
}

/* Opens object key for reading: a regular file, or -ENOENT. */
static int local_open_object(struct local_store *s, const char *key, int *fd, struct stat *st)
{
	int r = local_key_check(key);

	if (r)
		return r;
	*fd = openat(s->root_fd, key, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (*fd < 0)
		return local_lookup_errno(errno);
	if (fstat(*fd, st) != 0)
		r = local_errno(errno);
	else if (!S_ISREG(st->st_mode))
		r = -ENOENT; /* a directory is not an object */
	if (r)
		close(*fd);
	return r;
}

/* Reads up to len bytes at off; *got is short only at the end of the file. */
static int local_pread_full(int fd, unsigned char *buf, size_t len, uint64_t off, size_t *got)
{
	*got = 0;
	while (*got < len) {
		ssize_t n = pread(fd, buf + *got, len - *got, (off_t)(off + *got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return local_errno(errno);
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

static int local_get(struct backend *b, const char *key, uint64_t off, size_t len,
		     unsigned char **out, size_t *out_len)
{
	struct local_store *s = local_of(b);
	uint64_t size, avail;
	struct stat st;
	unsigned char *buf;
	int fd, r;

	*out = NULL;
	*out_len = 0;
	r = local_open_object(s, key, &fd, &st);
	if (r)
		return r;
	size = (uint64_t)st.st_size;
	avail = off >= size ? 0 : size - off;
	if (len == 0 || len > avail)
		len = avail > SIZE_MAX ? SIZE_MAX : (size_t)avail;
	buf = malloc(len ? len : 1);
	r = buf ? local_pread_full(fd, buf, len, off, out_len) : -ENOMEM;
	close(fd);
	if (r) {
		free(buf);
		*out_len = 0;
		return r;
	}
	*out = buf;
	return 0;
}

static int local_get_to_fd(struct backend *b, const char *key, int fd, uint64_t *size)
{
	struct local_store *s = local_of(b);
	struct stat st;
	int src, r;

	*size = 0;
	r = local_open_object(s, key, &src, &st);
	if (r)
		return r;
	r = local_copy_fd(fd, src, size);
	close(src);
	return r;
}

static int local_head(struct backend *b, const char *key, uint64_t *size)
{
	struct local_store *s = local_of(b);
	struct stat st;
	int r = local_key_check(key);

	*size = 0;
	if (r)
		return r;
	if (fstatat(s->root_fd, key, &st, 0) != 0)
		return local_lookup_errno(errno);
	if (!S_ISREG(st.st_mode))
		return -ENOENT;
	*size = (uint64_t)st.st_size;
	return 0;
}

static int local_del(struct backend *b, const char *key)
{
	struct local_store *s = local_of(b);
	int r = local_key_check(key);

	if (r)
		return r;
	if (unlinkat(s->root_fd, key, 0) != 0) {
		/* EISDIR: a directory is not an object, so there is nothing to delete. */
		if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR)
			return 0;
		return local_errno(errno);
	}
	return local_dirty_note(s, key);
}

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

static int local_list(struct backend *b, const char *prefix, backend_list_cb cb, void *arg)
{
	struct local_store *s = local_of(b);
	struct local_walk w = {.prefix = prefix ? prefix : "", .cb = cb, .arg = arg};
	int fd = openat(s->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return local_errno(errno);
	w.prefix_len = strlen(w.prefix);
	return local_walk_dir(&w, fd, 0);
}

/* fdatasyncs the object key (gone since: fine). */
static int local_flush_object(struct local_store *s, const char *key)
{
	int fd = openat(s->root_fd, key, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : local_errno(errno);
	if (fdatasync(fd) != 0)
		r = local_errno(errno);
	close(fd);
	return r;
}

static int local_sync(struct backend *b)
{
	struct local_store *s = local_of(b);
	struct local_dirset set, linked;
	size_t i;
	int r = 0, ri;

	pthread_mutex_lock(&s->sync_lock);
	pthread_mutex_lock(&s->dirty_lock);
	set = s->dirty;
	linked = s->linked;
	memset(&s->dirty, 0, sizeof(s->dirty));
	memset(&s->linked, 0, sizeof(s->linked));
	pthread_mutex_unlock(&s->dirty_lock);
	if (set.n + linked.n >= LOCAL_SYNCFS_MIN) {
		/* one flush of the whole file system beats hundreds of them */
		if (syncfs(s->root_fd) != 0)
			r = local_errno(errno);
	} else {
		for (i = 0; i < linked.n; i++) {
			ri = local_flush_object(s, linked.dirs[i]);
			if (r == 0)
				r = ri;
		}
		for (i = 0; i < set.n; i++) {
			ri = local_fsync_dir(s, set.dirs[i]);
			if (r == 0)
				r = ri;
		}
		if (fsync(s->root_fd) != 0 && r == 0)
			r = local_errno(errno);
	}
	pthread_mutex_unlock(&s->sync_lock);
	local_dirset_free(&set);
	local_dirset_free(&linked);
	return r;
}

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
    .caps = BACKEND_CAP_LOCAL_FS | BACKEND_CAP_RANGE,
    .get = local_get,
    .get_to_fd = local_get_to_fd,
    .put = local_put,
    .put_file = local_put_file,
    .del = local_del,
    .head = local_head,
    .list = local_list,
    .sync = local_sync,
    .destroy = local_destroy,
};

static int local_fail(char *err, size_t err_size, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes a one-line reason into err (when there is room) and returns code. */
static int local_fail(char *err, size_t err_size, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && err_size > 0) {
		va_start(ap, fmt);
		vsnprintf(err, err_size, fmt, ap);
		va_end(ap);
	}
	return code;
}

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

/* Removes LOCAL_TMP_DIR files a crash left behind. ctime, not mtime: a link
 * made by put_file keeps the cache file's old mtime but sets the ctime. */
static void local_tmp_clean(struct local_store *s)
{
	time_t limit = time(NULL) - LOCAL_STALE_TMP_SECONDS;
	size_t suffix_len = strlen(LOCAL_TMP_SUFFIX), len;
	int fd = openat(s->root_fd, LOCAL_TMP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	struct stat st;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		len = strlen(e->d_name);
		if (len <= suffix_len ||
		    strcmp(e->d_name + len - suffix_len, LOCAL_TMP_SUFFIX) != 0)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_ctime < limit)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
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
		return local_fail(err, err_size, -ENOENT, "store '%s' does not exist", dir);
	if (errno == ENOTDIR)
		return local_fail(err, err_size, -ENOTDIR, "store '%s' is not a directory", dir);
	if (errno == EACCES || errno == EPERM)
		return local_fail(err, err_size, -EACCES, "store '%s' is not readable", dir);
	return local_fail(err, err_size, -errno, "cannot open store '%s': %s", dir,
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
			return local_fail(err, err_size, local_errno(-r),
					  "cannot create store '%s': %s", dir, strerror(-r));
	}
	r = local_open_root(&fd, dir, err, err_size);
	if (r)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return local_fail(err, err_size, -ENOMEM, "out of memory opening store '%s'", dir);
	}
	s->base.ops = &local_ops;
	s->root_fd = fd;
	pthread_mutex_init(&s->dirty_lock, NULL);
	pthread_mutex_init(&s->sync_lock, NULL);
	if (faccessat(fd, ".", W_OK, 0) != 0)
		local_fail(err, err_size, 0, "store '%s' is read-only: writes will fail", dir);
	else
		local_tmp_clean(s); /* LOCAL_TMP_DIR itself is made by the first put */
	*out = &s->base;
	return 0;
}
