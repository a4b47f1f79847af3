/* local_path.c - keys and paths of the local store: which keys are valid,
 * how errnos map to the store's errors, and temporary files: made in
 * STORE/.tmp, fsynced, then renamed over the key. It must never let a key
 * name anything outside the store or under .tmp, never follow a symbolic link
 * or open a FIFO or device planted in the store (every path is opened with
 * openat2 beneath the root without links, or walked one component at a time
 * with O_NOFOLLOW), and never publish a file before its
 * data is durable (put) or handed to sync (put_file). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/* What a component that is not a directory is: a path through a regular file
 * is a missing object (as before: a foreign file), anything else (a symbolic
 * link, FIFO, device, socket) was planted: the store never makes those. */
static int local_not_dir_errno(int dir_fd, const char *name, int create)
{
	struct stat st;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return local_lookup_errno(errno);
	if (S_ISREG(st.st_mode))
		return create ? -ENOTDIR : -ENOENT;
	return -EIO;
}

/* Opens directory name under dir_fd without following a symbolic link (and
 * without blocking on a FIFO: O_DIRECTORY refuses it before it is opened);
 * with create, makes it (0700) when missing. A new fd, or a negative errno. */
static int local_dir_step(int dir_fd, const char *name, int create)
{
	const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	int fd = openat(dir_fd, name, flags);

	if (fd < 0 && errno == ENOENT && create) {
		/* New directories reach sync as ancestors of the key (local_dirty_note). */
		if (mkdirat(dir_fd, name, LOCAL_DIR_MODE) != 0 && errno != EEXIST)
			return local_errno(errno);
		fd = openat(dir_fd, name, flags);
	}
	if (fd >= 0)
		return fd;
	if (errno == ELOOP || errno == ENOTDIR)
		return local_not_dir_errno(dir_fd, name, create);
	return local_lookup_errno(errno);
}

/* The directory part of path (before its last '/'), opened in one call
 * with openat2: resolved beneath the store's root with no symbolic link
 * followed on the way nor at the end, and only a directory opened, so
 * exactly what the walk below would open when every component exists. -1
 * when that fails for any reason (a component missing, a link or anything
 * planted, a kernel or filter without openat2): the walk then runs and
 * makes missing directories or says precisely what is wrong. */
static int local_parent_beneath(struct local_store *s, const char *path, const char **leaf)
{
#ifdef SYS_openat2
	static atomic_bool unsupported;
	struct open_how how = {.flags =
				   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
					  RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
	char dir[LOCAL_KEY_MAX_BYTES + 1];
	const char *slash = strrchr(path, '/');
	long fd;

	if (!slash || (size_t)(slash - path) >= sizeof(dir) || atomic_load(&unsupported))
		return -1;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	fd = syscall(SYS_openat2, s->root_fd, dir, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		atomic_store(&unsupported, true);
	if (fd < 0)
		return -1;
	*leaf = slash + 1;
	return (int)fd;
#else
	(void)s;
	(void)path;
	(void)leaf;
	return -1;
#endif
}

int local_parent_open(struct local_store *s, const char *path, int create, int *dir_fd,
		      const char **leaf)
{
	char comp[LOCAL_KEY_MAX_BYTES + 1];
	const char *p = path, *slash;
	int fd = local_parent_beneath(s, path, leaf), next;

	if (fd >= 0) { /* 1 call instead of 2 per component, and as many closes */
		*dir_fd = fd;
		return 0;
	}
	fd = openat(s->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return local_errno(errno);
	while ((slash = strchr(p, '/')) != NULL) {
		if ((size_t)(slash - p) >= sizeof(comp)) {
			close(fd);
			return -EINVAL;
		}
		memcpy(comp, p, (size_t)(slash - p));
		comp[slash - p] = '\0';
		next = local_dir_step(fd, comp, create);
		close(fd);
		if (next < 0)
			return next;
		fd = next;
		p = slash + 1;
	}
	*dir_fd = fd;
	*leaf = p;
	return 0;
}

int local_make_dir(struct backend *b, const char *dir)
{
	struct local_store *s = local_of(b);
	char path[LOCAL_KEY_MAX_BYTES + 1];
	const char *leaf;
	int fd, r;

	/* the parent of an object key dir/x: made as a put would make it */
	if (snprintf(path, sizeof(path), "%s/x", dir) >= (int)sizeof(path))
		return -EINVAL;
	r = local_key_check(path);
	if (r == 0)
		r = local_parent_open(s, path, 1, &fd, &leaf);
	if (r)
		return r;
	close(fd);
	return local_dirty_note(s, path);
}

int local_leaf_kind(int dir_fd, const char *leaf, struct stat *st)
{
	if (fstatat(dir_fd, leaf, st, AT_SYMLINK_NOFOLLOW) != 0)
		return local_lookup_errno(errno);
	if (S_ISREG(st->st_mode))
		return 0;
	return S_ISDIR(st->st_mode) ? 1 : -EIO;
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
	const char *leaf;
	int dir_fd, r = local_tmp_name(tmp);

	if (r == 0)
		r = local_parent_open(s, tmp, 1, &dir_fd, &leaf);
	if (r)
		return r;
	*fd = openat(dir_fd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		     LOCAL_FILE_MODE);
	r = *fd < 0 ? local_errno(errno) : 0;
	close(dir_fd);
	return r;
}

int local_tmp_link(struct local_store *s, const char *path, char tmp[LOCAL_TMP_NAME_BYTES])
{
	const char *leaf;
	int dir_fd, r = local_tmp_name(tmp);

	if (r == 0)
		r = local_parent_open(s, tmp, 1, &dir_fd, &leaf);
	if (r)
		return r;
	if (linkat(AT_FDCWD, path, dir_fd, leaf, 0) == 0)
		r = 0;
	else if (errno == EXDEV || errno == EPERM || errno == EMLINK)
		r = 1;
	else
		r = local_errno(errno); /* ENOENT: path vanished */
	close(dir_fd);
	return r;
}

void local_tmp_unlink(struct local_store *s, const char *tmp)
{
	const char *leaf;
	int dir_fd;

	if (local_parent_open(s, tmp, 0, &dir_fd, &leaf) == 0) {
		unlinkat(dir_fd, leaf, 0);
		close(dir_fd);
	}
}

/* Renames tmp over key: both parents opened without following links, the
 * key's made when missing; a key held by something the store did not write
 * (a symbolic link, FIFO, device) is left alone: -EIO. */
static int local_rename(struct local_store *s, const char *tmp, const char *key)
{
	const char *tleaf, *kleaf;
	int tdir, kdir, r;
	struct stat st;

	r = local_parent_open(s, tmp, 0, &tdir, &tleaf);
	if (r)
		return r;
	r = local_parent_open(s, key, 1, &kdir, &kleaf);
	if (r) {
		close(tdir);
		return r;
	}
	r = local_leaf_kind(kdir, kleaf, &st);
	if (r == -ENOENT || r >= 0)
		r = renameat(tdir, tleaf, kdir, kleaf) == 0 ? 0 : local_errno(errno);
	close(tdir);
	close(kdir);
	return r;
}

int local_publish(struct local_store *s, const char *tmp, const char *key)
{
	int r = local_rename(s, tmp, key);

	return r ? r : local_dirty_note(s, key);
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
		local_tmp_unlink(s, tmp);
	return r;
}

/* Opens leaf (a regular file, checked before: st) under dir_fd: never
 * following a link, never blocking on a FIFO or opening a terminal, and
 * checking that what was opened is still that file. */
/* Opens leaf, which the lstat before found to be a regular file, and
 * checks again what was opened: a plain file is all that may be read. A
 * different regular file is fine (an overwrite renamed a new object over the
 * key meanwhile: *st becomes the one opened); anything else is -EIO. */
static int local_open_leaf(int dir_fd, const char *leaf, struct stat *st, int *fd)
{
	struct stat now;
	int r = 0;

	*fd = openat(dir_fd, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (*fd < 0)
		return errno == ELOOP ? -EIO : local_lookup_errno(errno);
	if (fstat(*fd, &now) != 0)
		r = local_errno(errno);
	else if (!S_ISREG(now.st_mode))
		r = -EIO; /* swapped for something that is no object since the check */
	else
		*st = now;
	if (r)
		close(*fd);
	return r;
}

int local_open_object(struct local_store *s, const char *key, int *fd, struct stat *st)
{
	const char *leaf;
	int dir_fd, r = local_key_check(key);

	if (r == 0)
		r = local_parent_open(s, key, 0, &dir_fd, &leaf);
	if (r)
		return r;
	r = local_leaf_kind(dir_fd, leaf, st);
	if (r == 1)
		r = -ENOENT; /* a directory is not an object */
	if (r == 0)
		r = local_open_leaf(dir_fd, leaf, st, fd);
	close(dir_fd);
	return r;
}

/* ctime, not mtime: a link made by put_file keeps the cache file's old mtime
 * but sets the ctime. */
void local_tmp_clean(struct local_store *s)
{
	time_t limit = time(NULL) - LOCAL_STALE_TMP_SECONDS;
	size_t suffix_len = strlen(LOCAL_TMP_SUFFIX), len;
	int fd = openat(s->root_fd, LOCAL_TMP_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
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
