/* fdio.c - whole transfers on a file descriptor (fdio.h). Must never lose a
 * short transfer: every byte is written or the call fails. */
#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The one loop of fdio_write_all (off < 0: write at the fd's offset) and
 * fdio_pwrite_all. */
static int fdio_put(int fd, const unsigned char *p, size_t len, int64_t off)
{
	while (len > 0) {
		ssize_t n = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		if (off >= 0)
			off += n;
	}
	return 0;
}

int fdio_write_all(int fd, const void *buf, size_t len) { return fdio_put(fd, buf, len, -1); }

int fdio_write_str(int fd, const char *s) { return fdio_put(fd, (const void *)s, strlen(s), -1); }

int fdio_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	if (off > INT64_MAX)
		return -EINVAL;
	return fdio_put(fd, buf, len, (int64_t)off);
}

int fdio_pread_all(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	unsigned char *p = buf;
	size_t done = 0;

	if (got)
		*got = 0;
	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
		if (got)
			*got = done;
	}
	return (done == len || got) ? 0 : -ENODATA;
}

int fdio_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		r = -errno;
	close(fd);
	return r;
}

int fdio_replace_file(const char *path, const char *tmp, const char *dir, const void *data,
		      size_t len)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600), r;

	if (fd < 0)
		return -errno;
	r = fdio_write_all(fd, data, len);
	if (r == 0 && fdatasync(fd) != 0)
		r = -errno;
	close(fd);
	if (r == 0 && rename(tmp, path) != 0)
		r = -errno;
	if (r) {
		unlink(tmp);
		return r;
	}
	return dir ? fdio_fsync_dir(dir) : 0;
}
