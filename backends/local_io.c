/* local_io.c - the object calls of the local store: put (a temporary file
 * written, fsynced, renamed), put_file (a hard link of a cache file that
 * never changes again, made under the key itself when the key is new, else
 * under a temporary name renamed over it, else a copy), get, get_to_fd, head,
 * del. It must never leave a torn object under a key: every object appears
 * whole, by rename or by the link of a complete file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "local_store.h"

/* fdio_write_all with the store's error codes. */
static int local_write(int fd, const void *p, size_t len)
{
	int r = fdio_write_all(fd, p, len);

	return r ? local_errno(-r) : 0;
}

/* Copies in -> out between current offsets with copy_file_range, at most
 * limit bytes in all (*total counts them). Returns 1 when the kernel cannot
 * do it for these files (the caller falls back; a refused call moves no
 * offset). */
static int local_copy_range(int out, int in, uint64_t limit, uint64_t *total)
{
	while (*total < limit) {
		uint64_t want = limit - *total;
		ssize_t n = copy_file_range(
		    in, NULL, out, NULL,
		    want < LOCAL_COPY_RANGE_BYTES ? (size_t)want : LOCAL_COPY_RANGE_BYTES, 0);

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
	return 0;
}

static int local_copy_rw(int out, int in, uint64_t limit, uint64_t *total)
{
	unsigned char *buf = malloc(LOCAL_COPY_BUF_BYTES);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	while (*total < limit) {
		uint64_t want = limit - *total;
		ssize_t n = read(in, buf,
				 want < LOCAL_COPY_BUF_BYTES ? (size_t)want : LOCAL_COPY_BUF_BYTES);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? local_errno(errno) : 0;
			break;
		}
		r = local_write(out, buf, (size_t)n);
		if (r)
			break;
		*total += (uint64_t)n;
	}
	free(buf);
	return r;
}

/* Copies from in's offset to its end, but at most limit bytes, to out at
 * out's offset. */
static int local_copy_fd(int out, int in, uint64_t limit, uint64_t *total)
{
	int r;

	*total = 0;
	r = local_copy_range(out, in, limit, total);
	return r == 1 ? local_copy_rw(out, in, limit, total) : r;
}

int local_put(struct backend *b, const char *key, const void *data, size_t len)
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
	return local_finish(s, tmp, fd, local_write(fd, data, len), key);
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
	return local_finish(s, tmp, fd, local_copy_fd(fd, src, UINT64_MAX, &copied), key);
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
	local_tmp_unlink(s, tmp);
	return r;
}

/* put_file of a key the store does not hold (a new object's key is random):
 * one hard link made under the key's own name, where the object appears whole
 * at once (path is complete and never changes again): no temporary name, no
 * rename, 9 system calls instead of 27 (an unmount after a 1 GiB write puts
 * 1,024 of them; docs/PERFORMANCE.md, "Memory while draining (session 7)").
 * 1 when the key exists or path cannot be linked there (the caller replaces
 * through a temporary name, or copies); -ENOENT when path is missing. */
static int local_put_link_new(struct local_store *s, const char *key, const char *path)
{
	const char *leaf;
	int dir_fd, r = local_parent_open(s, key, 1, &dir_fd, &leaf);

	if (r)
		return r;
	if (linkat(AT_FDCWD, path, dir_fd, leaf, 0) == 0)
		r = 0;
	else
		r = errno == ENOENT ? -ENOENT : 1;
	close(dir_fd);
	if (r == 0)
		r = local_dirty_note(s, key);
	return r;
}

int local_put_file(struct backend *b, const char *key, const char *path)
{
	struct local_store *s = local_of(b);
	int src, r;

	r = local_key_check(key);
	if (r)
		return r;
	/* The data is flushed by the next sync, before anything that sync
	 * orders after it (a head) can point at this object. */
	r = local_put_link_new(s, key, path);
	if (r <= 0)
		return r == 0 ? local_linked_note(s, key, path) : r;
	src = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY); /* a cache file: sealfs's own */
	if (src < 0)
		return local_lookup_errno(errno);
	r = local_put_link(s, key, path);
	if (r == 0)
		r = local_linked_note(s, key, path);
	if (r == 1)
		r = local_put_copy(s, key, src);
	close(src);
	return r;
}

int local_get(struct backend *b, const char *key, uint64_t off, size_t len, unsigned char **out,
	      size_t *out_len)
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
	r = buf ? fdio_pread_all(fd, buf, len, off, out_len) : -ENOMEM;
	if (r < 0)
		r = local_errno(-r);
	close(fd);
	if (r) {
		free(buf);
		*out_len = 0;
		return r;
	}
	*out = buf;
	return 0;
}

int local_get_to_fd(struct backend *b, const char *key, int fd, uint64_t max, uint64_t *size)
{
	struct local_store *s = local_of(b);
	struct stat st;
	int src, r;

	*size = 0;
	r = local_open_object(s, key, &src, &st);
	if (r)
		return r;
	/* One byte past max shows an object that grew after the fstat. */
	r = (uint64_t)st.st_size > max
		? -EFBIG
		: local_copy_fd(fd, src, max == UINT64_MAX ? max : max + 1, size);
	if (r == 0 && *size > max)
		r = -EFBIG;
	close(src);
	return r;
}

int local_head(struct backend *b, const char *key, uint64_t *size)
{
	struct local_store *s = local_of(b);
	const char *leaf;
	struct stat st;
	int dir_fd, r = local_key_check(key);

	*size = 0;
	if (r == 0)
		r = local_parent_open(s, key, 0, &dir_fd, &leaf);
	if (r)
		return r;
	r = local_leaf_kind(dir_fd, leaf, &st);
	close(dir_fd);
	if (r == 1)
		return -ENOENT; /* a directory is not an object */
	if (r)
		return r;
	*size = (uint64_t)st.st_size;
	return 0;
}

int local_del(struct backend *b, const char *key)
{
	struct local_store *s = local_of(b);
	const char *leaf;
	struct stat st;
	int dir_fd, r = local_key_check(key);

	if (r == 0)
		r = local_parent_open(s, key, 0, &dir_fd, &leaf);
	if (r)
		return r == -ENOENT ? 0 : r;
	/* A directory is not an object: nothing to delete. A link, FIFO or
	 * device was not written by the store: left alone, an error. */
	r = local_leaf_kind(dir_fd, leaf, &st);
	if (r == 0 && unlinkat(dir_fd, leaf, 0) != 0)
		r = errno == ENOENT ? 1 : local_errno(errno);
	close(dir_fd);
	if (r == -ENOENT || r == 1)
		return 0;
	return r ? r : local_dirty_note(s, key);
}
