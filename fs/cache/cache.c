/* cache.c - the local ciphertext cache: sealed objects under the store's keys,
 * fetched on demand, plus the lock that keeps two mounts apart.
 * It only moves sealed bytes: it must never see, write or log plaintext. */
#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cache_int.h"
#include "cache_lru.h"
#include "cache_pool.h"
#include "chunk.h"
#include "fault.h"
#include "fdio.h"
#include "hex.h"

static const char *cache_reason(int err)
{
	switch (err) {
	case EACCES:
	case EPERM:
		return "permission denied";
	case EROFS:
		return "read-only file system";
	case ENOTDIR:
		return "a path component is not a directory";
	case ENOSPC:
		return "no space left on device";
	default:
		return strerror(err);
	}
}

static int cache_fail(char *err, size_t err_size, int rc, const char *what, const char *path)
{
	snprintf(err, err_size, "cannot %s cache '%s': %s", what, path, cache_reason(-rc));
	return rc;
}

/* mkdir -p with mode 0700; an existing directory is fine. */
static int cache_mkdirs(const char *dir)
{
	char path[CACHE_PATH_MAX];
	size_t len = strlen(dir);

	memcpy(path, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -errno;
		path[i] = i == len ? '\0' : '/';
	}
	return 0;
}

static int cache_subdir(const struct cache *c, const char *name)
{
	char path[CACHE_PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", c->dir, name);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Removes what a previous mount left half-built in CACHE/tmp (best effort:
 * a leftover only wastes space). */
static int cache_clean_tmp(const struct cache *c)
{
	char path[CACHE_PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/tmp", c->dir);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	return 0;
}

static int cache_lock(struct cache *c, char *err, size_t err_size)
{
	char path[CACHE_PATH_MAX];

	snprintf(path, sizeof(path), "%s/lock", c->dir);
	c->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (c->lock_fd < 0)
		return cache_fail(err, err_size, -errno, "use", c->dir);
	if (flock(c->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int rc = errno == EWOULDBLOCK ? -EBUSY : -errno;

		if (rc == -EBUSY)
			snprintf(err, err_size, "cache '%s' is in use by another mount", c->dir);
		else
			cache_fail(err, err_size, rc, "use", c->dir);
		close(c->lock_fd);
		c->lock_fd = -1;
		return rc;
	}
	return 0;
}

/* Asks ext4's Orlov allocator to spread CACHE/o/<hh> over the block groups
 * (FS_TOPDIR_FL, as `chattr +T`), so that creating cache files does not crowd
 * one group; file systems without the flag ignore it (best effort). */
static void cache_spread(const struct cache *c)
{
	char path[CACHE_PATH_MAX];
	int fd, flags = 0;

	snprintf(path, sizeof(path), "%s/o", c->dir);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && !(flags & FS_TOPDIR_FL)) {
		flags |= FS_TOPDIR_FL;
		(void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	close(fd);
}

static int cache_pool_make(void *arg, const uint8_t key[16]);
static void cache_pool_drop(void *arg, const uint8_t key[16]);

/* The pool of files for new objects, with its list CACHE/pool (what a crash
 * of the last process left is removed now). Best effort: without it every
 * new object's file is made by its writer. */
static void cache_pool_open(struct cache *c)
{
	struct cache_pool_ops ops = {.make = cache_pool_make, .drop = cache_pool_drop, .arg = c};
	char path[CACHE_PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/pool", c->dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	(void)cache_pool_new(&c->pool, &ops, fd);
}

static int cache_prepare(struct cache *c, char *err, size_t err_size)
{
	int rc = cache_mkdirs(c->dir);

	if (rc < 0)
		return cache_fail(err, err_size, rc, "create", c->dir);
	rc = cache_lock(c, err, err_size);
	if (rc < 0)
		return rc;
	rc = cache_subdir(c, "o");
	if (rc == 0)
		cache_spread(c);
	if (rc == 0)
		rc = cache_subdir(c, "tmp");
	if (rc == 0)
		rc = cache_clean_tmp(c);
	if (rc < 0)
		return cache_fail(err, err_size, rc, "use", c->dir);
	cache_pool_open(c);
	return 0;
}

int cache_open(struct cache **out, const char *dir, struct backend *store, char *err,
	       size_t err_size)
{
	size_t len = strlen(dir);
	struct cache *c;
	int rc;

	*out = NULL;
	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (len == 0 || len >= sizeof(((struct cache *)0)->dir)) {
		snprintf(err, err_size, "cache directory path is empty or too long");
		return -ENAMETOOLONG;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	memcpy(c->dir, dir, len);
	c->dir[len] = '\0';
	c->lock_fd = -1;
	c->store = store;
	atomic_init(&c->tmp_seq, 0);
	rc = cache_prepare(c, err, err_size);
	if (rc < 0) {
		cache_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

void cache_close(struct cache *c)
{
	if (!c)
		return;
	cache_pool_free(c->pool); /* its list and files, while the lock is held */
	if (c->lock_fd >= 0)
		close(c->lock_fd); /* releases the flock */
	cache_lru_free(c->lru);
	free(c);
}

void cache_path(const struct cache *c, const char *key, char out[CACHE_PATH_MAX])
{
	snprintf(out, CACHE_PATH_MAX, "%s/%s", c->dir, key);
}

void cache_tmp_path(struct cache *c, char out[CACHE_PATH_MAX])
{
	unsigned long seq = atomic_fetch_add(&c->tmp_seq, 1);

	snprintf(out, CACHE_PATH_MAX, "%s/tmp/%ld.%lu.%08x", c->dir, (long)getpid(), seq,
		 (unsigned)randombytes_random());
}

/* fsync()s the directory holding path (make a new name durable); the
 * test-only failure hook only where a failure reaches a writer (faults). */
static int cache_fsync_parent(const char *path, bool faults)
{
	char dir[CACHE_PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	if (faults && fault_fire(FAULT_CACHE))
		return -EIO;
	return fdio_fsync_dir(dir);
}

int cache_sync_parent(struct cache *c, const char *key)
{
	char path[CACHE_PATH_MAX];

	cache_path(c, key, path);
	return cache_fsync_parent(path, true);
}

/* Creates the directories leading to path (inside the cache): usually just
 * CACHE/o/<hh>, so try that first. faults: as cache_fsync_parent. */
static int cache_mkparent(const struct cache *c, const char *path, bool faults)
{
	char dir[CACHE_PATH_MAX];
	size_t base = strlen(c->dir);
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || (size_t)(slash - dir) <= base)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) == 0)
		return cache_fsync_parent(dir, faults); /* a new CACHE/o/<hh>: make it last */
	if (errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -errno;
	for (size_t i = base + 1; dir[i]; i++) {
		if (dir[i] != '/')
			continue;
		dir[i] = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		dir[i] = '/';
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

void cache_evict(struct cache *c)
{
	uint8_t key[CACHE_LRU_KEY_BYTES];
	char text[OBJECT_KEY_TEXT_BYTES], path[CACHE_PATH_MAX];

	while (cache_lru_victim(c->lru, key)) {
		object_key_text(text, key);
		cache_path(c, text, path);
		unlink(path); /* an open fd still reads it; missing is fine */
	}
}

/* Indexes the object just installed at path (pinned or clean), then evicts. */
static void cache_note(struct cache *c, const char *key, const char *path, bool pin)
{
	uint8_t k[CACHE_LRU_KEY_BYTES];
	struct stat st;

	if (!c->lru || !cache_lru_parse_key(k, key) || stat(path, &st) != 0)
		return;
	if (cache_lru_put(c->lru, k, (uint64_t)st.st_size, pin) == 0)
		cache_evict(c);
}

static int cache_install_as(struct cache *c, const char *tmp_path, const char *key, bool pin)
{
	char path[CACHE_PATH_MAX];
	int rc;

	cache_path(c, key, path);
	if (fault_fire(FAULT_CACHE))
		return -EIO;
	if (rename(tmp_path, path) < 0) {
		if (errno != ENOENT)
			return -errno;
		rc = cache_mkparent(c, path, true);
		if (rc < 0)
			return rc;
		if (rename(tmp_path, path) < 0)
			return -errno;
	}
	cache_note(c, key, path, pin);
	return 0;
}

int cache_install(struct cache *c, const char *tmp_path, const char *key)
{
	return cache_install_as(c, tmp_path, key, true);
}

/* Creates the empty file at path, a new object's under its final name.
 * faults: false on the pool's thread, whose failures reach no writer. */
static int cache_create_at(const struct cache *c, const char *path, bool faults)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600), rc;

	if (fd < 0 && errno == ENOENT) {
		rc = cache_mkparent(c, path, faults);
		if (rc < 0)
			return rc;
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	return fd < 0 ? -errno : fd;
}

int cache_create_object(struct cache *c, const char *key, char path[CACHE_PATH_MAX])
{
	int fd;

	cache_path(c, key, path);
	if (fault_fire(FAULT_CACHE))
		return -EIO;
	fd = cache_create_at(c, path, true);
	if (fd >= 0)
		cache_note(c, key, path, true); /* pinned, empty: the writer accounts its bytes */
	return fd;
}

/* cache_pool_ops.make: the empty file of a new key. Runs on the pool's
 * thread, or the writer's when no file is ready. */
static int cache_pool_make(void *arg, const uint8_t key[16])
{
	char text[OBJECT_KEY_TEXT_BYTES], path[CACHE_PATH_MAX];
	struct cache *c = arg;

	object_key_text(text, key);
	cache_path(c, text, path);
	return cache_create_at(c, path, false);
}

/* cache_pool_ops.drop: only an empty file (never handed out, or a writer's
 * that never got a byte: nothing can reference it). */
static void cache_pool_drop(void *arg, const uint8_t key[16])
{
	char text[OBJECT_KEY_TEXT_BYTES], path[CACHE_PATH_MAX];
	struct stat st;

	object_key_text(text, key);
	cache_path(arg, text, path);
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0)
		unlink(path);
}

int cache_new_object(struct cache *c, uint8_t key[16], char path[CACHE_PATH_MAX])
{
	char text[OBJECT_KEY_TEXT_BYTES];
	int fd;

	if (fault_fire(FAULT_CACHE))
		return -EIO;
	fd = cache_pool_take(c->pool, key);
	if (fd == -EAGAIN)		      /* none ready: made here, as before the pool */
		chunk_random_public(key, 16); /* a store key: public randomness */
	object_key_text(text, key);
	cache_path(c, text, path);
	if (fd == -EAGAIN)
		fd = cache_create_at(c, path, true);
	if (fd < 0)
		return fd;
	if (c->lru && cache_lru_put(c->lru, key, 0, true) == 0) /* pinned, empty */
		cache_evict(c);
	return fd;
}

int cache_tmp_create(struct cache *c, char path[CACHE_PATH_MAX])
{
	int fd;

	cache_tmp_path(c, path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

/* Fetches key from the store into the cache (tmp file, then rename) and
 * returns a read-only fd of it, opened before the rename so that an eviction
 * right after cannot take it away. Two threads fetching the same key both
 * succeed: the last rename wins with identical bytes. Fetched objects are
 * clean. */
static int cache_fetch(struct cache *c, const char *key, uint64_t max)
{
	char tmp[CACHE_PATH_MAX];
	uint64_t size = 0;
	int fd, rfd = -1, rc;

	fd = cache_tmp_create(c, tmp);
	if (fd < 0)
		return fd;
	rc = c->store->ops->get_to_fd(c->store, key, fd, max, &size);
	close(fd);
	if (rc == 0) {
		rfd = open(tmp, O_RDONLY | O_CLOEXEC);
		rc = rfd < 0 ? -errno : cache_install_as(c, tmp, key, false);
	}
	if (rc < 0) {
		if (rfd >= 0)
			close(rfd);
		unlink(tmp);
		return rc;
	}
	return rfd;
}

static void cache_touch(struct cache *c, const char *key)
{
	uint8_t k[CACHE_LRU_KEY_BYTES];

	if (c->lru && cache_lru_parse_key(k, key))
		cache_lru_touch(c->lru, k);
}

int cache_open_cached(struct cache *c, const char *key)
{
	char path[CACHE_PATH_MAX];
	int fd;

	cache_path(c, key, path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	cache_touch(c, key);
	return fd;
}

bool cache_has_object(struct cache *c, const char *key)
{
	char path[CACHE_PATH_MAX];

	cache_path(c, key, path);
	return access(path, F_OK) == 0;
}

int cache_open_object(struct cache *c, const char *key, uint64_t max)
{
	int fd = cache_open_cached(c, key);

	if (fd != -ENOENT || !c->store)
		return fd;
	return cache_fetch(c, key, max);
}

int cache_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	if (fault_fire(FAULT_CACHE))
		return -EIO; /* before any byte: like a full or failing disk */
	return fdio_pwrite_all(fd, buf, len, off);
}

static int cache_read_fd(int fd, uint64_t max, unsigned char **out, size_t *out_len)
{
	struct stat st;
	unsigned char *buf;
	int rc;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size > max || (uint64_t)st.st_size >= SIZE_MAX)
		return -EFBIG;
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (!buf)
		return -ENOMEM;
	rc = fdio_pread_all(fd, buf, (size_t)st.st_size, 0, NULL);
	if (rc < 0) {
		free(buf);
		return rc == -ENODATA ? -EIO : rc;
	}
	*out = buf;
	*out_len = (size_t)st.st_size;
	return 0;
}

int cache_read_object(struct cache *c, const char *key, uint64_t max, unsigned char **out,
		      size_t *out_len)
{
	int fd = cache_open_object(c, key, max);
	int rc;

	*out = NULL;
	*out_len = 0;
	if (fd < 0)
		return fd;
	rc = cache_read_fd(fd, max, out, out_len);
	close(fd);
	return rc;
}

int cache_write_object(struct cache *c, const char *key, const void *data, size_t len)
{
	char tmp[CACHE_PATH_MAX];
	int fd, rc;

	fd = cache_tmp_create(c, tmp);
	if (fd < 0)
		return fd;
	rc = cache_pwrite_full(fd, data, len, 0);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0)
		rc = cache_install_as(c, tmp, key, true);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int cache_drop_object(struct cache *c, const char *key)
{
	char path[CACHE_PATH_MAX];
	uint8_t k[CACHE_LRU_KEY_BYTES];

	cache_path(c, key, path);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	if (c->lru && cache_lru_parse_key(k, key))
		cache_lru_remove(c->lru, k);
	return 0;
}

void object_key_text(char out[OBJECT_KEY_TEXT_BYTES], const uint8_t key[16])
{
	/* "o/" + the first byte's 2 digits + "/" + 32 digits (docs/FORMAT.md) */
	memcpy(out, "o/", 2);
	hex_encode(out + 2, 3, key, 1);
	out[4] = '/';
	hex_encode(out + 5, OBJECT_KEY_TEXT_BYTES - 5, key, 16);
}

int object_key_dirs_make(struct backend *store)
{
	char dir[OBJECT_KEY_TEXT_BYTES];
	uint8_t key[16] = {0};
	int r = 0;

	for (unsigned i = 0; i < 256 && r == 0; i++) {
		key[0] = (uint8_t)i;
		object_key_text(dir, key);
		dir[4] = '\0'; /* "o/<hh>" */
		r = backend_make_dir(store, dir);
	}
	return r;
}
