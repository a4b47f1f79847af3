/* local_cas.c - the compare-and-swap calls of the local store (backend.h
 * get_version, put_if): a version is BLAKE2b-256 of the object's bytes, and
 * put_if reads, compares and writes under an exclusive flock on
 * STORE/<key>.lock, so two processes (two mounts on this machine, or on
 * several machines of a file system whose flock works between them, such as
 * NFS) never both replace the version they read. It must never write when the
 * object changed, and never hold the lock longer than one read and one put. A
 * folder synchronised by a service (Dropbox, Syncthing) cannot honour this
 * between machines: the docs say so. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <sodium.h>

#include "local_store.h"

#define LOCAL_LOCK_SUFFIX ".lock"

static void local_version_of(struct backend_version *v, const unsigned char *data, size_t len)
{
	v->len = crypto_generichash_BYTES;
	crypto_generichash(v->v, crypto_generichash_BYTES, data, len, NULL, 0);
}

int local_get_version(struct backend *b, const char *key, size_t max, unsigned char **out,
		      size_t *out_len, struct backend_version *ver)
{
	int r = b->ops->get(b, key, 0, max < SIZE_MAX ? max + 1 : max, out, out_len);

	ver->len = 0;
	if (r)
		return r;
	if (*out_len > max) {
		free(*out);
		*out = NULL;
		*out_len = 0;
		return -EFBIG;
	}
	local_version_of(ver, *out, *out_len);
	return 0;
}

/* Opens and locks STORE/<key>.lock (made on first use); *fd holds the lock. */
static int local_cas_lock(struct local_store *s, const char *key, int *fd)
{
	char lock[LOCAL_KEY_MAX_BYTES + 1];
	const char *leaf;
	int dir_fd, n = snprintf(lock, sizeof(lock), "%s%s", key, LOCAL_LOCK_SUFFIX);
	int r = n < 0 || (size_t)n >= sizeof(lock) ? -EINVAL : local_key_check(lock);

	if (r == 0)
		r = local_parent_open(s, lock, 1, &dir_fd, &leaf);
	if (r)
		return r;
	*fd = openat(dir_fd, leaf, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
		     LOCAL_FILE_MODE);
	r = *fd < 0 ? local_lookup_errno(errno) : 0;
	close(dir_fd); /* the lock file's name need not be durable: no sync */
	while (r == 0 && flock(*fd, LOCK_EX) != 0)
		if (errno != EINTR)
			r = local_errno(errno);
	if (r && *fd >= 0)
		close(*fd);
	return r;
}

/* 0 when key holds version expect (len 0: is missing), -ESTALE when not. */
static int local_cas_check(struct backend *b, const char *key, const struct backend_version *expect)
{
	struct backend_version now;
	unsigned char *data = NULL;
	size_t len = 0;
	int r = local_get_version(b, key, SIZE_MAX, &data, &len, &now);

	free(data);
	if (r == -ENOENT)
		return expect->len == 0 ? 0 : -ESTALE;
	if (r)
		return r;
	return now.len == expect->len && memcmp(now.v, expect->v, now.len) == 0 ? 0 : -ESTALE;
}

int local_put_if(struct backend *b, const char *key, const void *data, size_t len,
		 const struct backend_version *expect, struct backend_version *out)
{
	int fd, r = local_key_check(key);

	out->len = 0;
	if (r == 0)
		r = local_cas_lock(local_of(b), key, &fd);
	if (r)
		return r;
	r = local_cas_check(b, key, expect);
	if (r == 0)
		r = local_put(b, key, data, len); /* temporary file, fsync, rename */
	if (r == 0)
		local_version_of(out, data, len);
	close(fd); /* drops the lock */
	return r;
}
