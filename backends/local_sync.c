/* local_sync.c - durability of the local store: the directories whose
 * entries changed and the linked files whose data is not flushed yet, kept
 * until the next sync, and sync itself (one syncfs for many, else one fsync
 * each). It must never let sync return 0 before every earlier put and del is
 * durable: when memory to remember something runs out it is flushed at once. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local_store.h"

/* Opens path (relative to the root) with flags, never through a symbolic
 * link (local_parent_open); -ENOENT when it is gone. */
static int local_open_nofollow(struct local_store *s, const char *path, int flags)
{
	const char *leaf;
	int dir_fd, fd, r = local_parent_open(s, path, 0, &dir_fd, &leaf);

	if (r)
		return r;
	fd = openat(dir_fd, leaf, flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	r = fd >= 0 ? fd : errno == ELOOP ? -EIO : local_lookup_errno(errno);
	close(dir_fd);
	return r;
}

/* fsyncs directory dir (relative to the root); a directory gone since is fine. */
static int local_fsync_dir(struct local_store *s, const char *dir)
{
	int fd = local_open_nofollow(s, dir, O_RDONLY | O_DIRECTORY);
	int r = 0;

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	if (fsync(fd) != 0)
		r = local_errno(errno);
	close(fd);
	return r;
}

/* Appends a copy of str[0..len). Caller holds dirty_lock. */
static int local_dirset_push(struct local_dirset *set, const char *str, size_t len)
{
	if (set->n == set->cap) {
		size_t cap = set->cap ? 2 * set->cap : 64;
		char **grown = realloc(set->dirs, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		set->dirs = grown;
		set->cap = cap;
	}
	set->dirs[set->n] = strndup(str, len);
	if (!set->dirs[set->n])
		return -ENOMEM;
	set->n++;
	return 0;
}

/* Adds a copy of dir[0..len) unless present (keys in linked may repeat:
 * flushing twice is harmless). Caller holds dirty_lock. */
static int local_dirset_add(struct local_dirset *set, const char *dir, size_t len)
{
	for (size_t i = 0; i < set->n; i++)
		if (strncmp(set->dirs[i], dir, len) == 0 && set->dirs[i][len] == '\0')
			return 0;
	return local_dirset_push(set, dir, len);
}

void local_dirset_free(struct local_dirset *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		free(set->dirs[i]);
	free(set->dirs);
	memset(set, 0, sizeof(*set));
}

/* A directory another put just made must be durable before our object is,
 * hence the ancestors too. The root is synced every time. Without memory to
 * remember them they are fsynced now, so durability never depends on an
 * allocation. */
int local_dirty_note(struct local_store *s, const char *path)
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

int local_linked_note(struct local_store *s, const char *key, const char *path)
{
	int r, fd;

	pthread_mutex_lock(&s->dirty_lock);
	r = local_dirset_push(&s->linked, key, strlen(key));
	pthread_mutex_unlock(&s->dirty_lock);
	if (r == 0)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY); /* a cache file: sealfs's own */
	if (fd < 0)
		return local_lookup_errno(errno);
	r = fdatasync(fd) == 0 ? 0 : local_errno(errno);
	close(fd);
	return r;
}

/* fdatasyncs the object key (gone since: fine). */
static int local_flush_object(struct local_store *s, const char *key)
{
	int fd = local_open_nofollow(s, key, O_RDONLY), r = 0;
	struct stat st;

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		r = -EIO; /* replaced by a FIFO or device since the put */
	else if (fdatasync(fd) != 0)
		r = local_errno(errno);
	close(fd);
	return r;
}

int local_sync(struct backend *b)
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
