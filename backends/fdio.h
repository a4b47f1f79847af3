/* fdio.h - whole transfers on a file descriptor: write, pwrite and pread
 * loops that retry EINTR and short transfers. The one copy for every room of
 * sealfs (backends/ is the lowest room that does I/O; fs/ links it). Never
 * logs, never allocates. Thread-safe: each call touches only its own fd. */
#ifndef SEALFS_FDIO_H
#define SEALFS_FDIO_H

#include <stddef.h>
#include <stdint.h>

/* Writes all len bytes of buf at fd's offset. Returns 0, the negative errno
 * of a failed write(2), or -EIO when write(2) accepts nothing. */
int fdio_write_all(int fd, const void *buf, size_t len);

/* fdio_write_all of the string s (without its NUL). */
int fdio_write_str(int fd, const char *s);

/* The same at offset off with pwrite(2); the fd's offset does not move. */
int fdio_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);

/* Reads len bytes at off with pread(2). With got, a file that ends first is
 * no error: *got says how many bytes were read. Without got (NULL), it is
 * -ENODATA. Returns 0 or a negative errno. */
int fdio_pread_all(int fd, void *buf, size_t len, uint64_t off, size_t *got);

/* fsync(2) of the directory at path (opened O_DIRECTORY): what makes a
 * name created, renamed or removed in it durable. Returns 0 or a negative
 * errno (of open or fsync). */
int fdio_fsync_dir(const char *path);

/* Replaces the file at path with data[0..len) whole: written to tmp (a
 * path in the same directory, mode 0600, never following a symlink),
 * fdatasync'ed, renamed over path; with dir (path's directory) that is
 * fsync'ed too, which makes the rename durable. On failure tmp is removed
 * and path is as it was. Returns 0 or a negative errno. */
int fdio_replace_file(const char *path, const char *tmp, const char *dir, const void *data,
		      size_t len);

#endif
