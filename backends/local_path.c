/* local_path.c - keys and paths of the local store: which keys are valid,
 * how errnos map to the store's errors, and temporary files: made in
 * STORE/.tmp, fsynced, then renamed over the key. It must never let a key
 * name anything outside the store or under .tmp, and never publish a file
 * before its data is durable (put) or handed to sync (put_file). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "local_store.h"

int local_errno(int e)
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

int local_lookup_errno(int e) { return (e == ENOENT || e == ENOTDIR) ? -ENOENT : local_errno(e); }

static int local_component_ok(const char *c, size_t len)
{
	return len > 0 && !(len == 1 && c[0] == '.');
}

int local_key_check(const char *key)
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
	unsigned char rnd[LOCAL_TMP_RANDOM_BYTES];
	size_t dir_len = strlen(LOCAL_TMP_DIR "/");

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	memcpy(out, LOCAL_TMP_DIR "/", dir_len);
	sodium_bin2hex(out + dir_len, 2 * sizeof(rnd) + 1, rnd, sizeof(rnd));
	memcpy(out + dir_len + 2 * sizeof(rnd), LOCAL_TMP_SUFFIX, sizeof(LOCAL_TMP_SUFFIX));
	return 0;
}

int local_tmp_create(struct local_store *s, char tmp[LOCAL_TMP_NAME_BYTES], int *fd)
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

int local_tmp_link(struct local_store *s, const char *path, char tmp[LOCAL_TMP_NAME_BYTES])
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

int local_publish(struct local_store *s, const char *tmp, const char *key)
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

int local_finish(struct local_store *s, const char *tmp, int fd, int r, const char *key)
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

int local_open_object(struct local_store *s, const char *key, int *fd, struct stat *st)
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

/* ctime, not mtime: a link made by put_file keeps the cache file's old mtime
 * but sets the ctime. */
void local_tmp_clean(struct local_store *s)
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
