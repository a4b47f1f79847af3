/* vault_name.c - the vault's local name in CACHE/name (vault_name.h). It
 * must never write the name to the store or anywhere but the cache
 * directory, and never trust the file: a saved name is checked again
 * (mount_name_ok) before it is used. */
#include "vault_name.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"

static int vault_name_path(char out[PATH_MAX], const char *cache_dir, const char *leaf)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", cache_dir, leaf);

	return n > 0 && n < PATH_MAX ? 0 : -ENAMETOOLONG;
}

/* Written to CACHE/name.tmp, fsynced, renamed over CACHE/name. */
int vault_name_save(const char *cache_dir, const char *name)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	int fd, r;

	if (!mount_name_ok(name))
		return -EINVAL;
	r = vault_name_path(tmp, cache_dir, "name.tmp");
	if (r == 0)
		r = vault_name_path(path, cache_dir, "name");
	if (r)
		return r;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	r = fdio_write_str(fd, name);
	if (r == 0)
		r = fdio_write_str(fd, "\n");
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

/* The saved name, or "" when there is none or it is not a valid name. */
static void vault_name_load(char out[MOUNT_NAME_MAX + 1], const char *cache_dir)
{
	char path[PATH_MAX], buf[MOUNT_NAME_MAX + 2];
	ssize_t n = -1;
	int fd = -1;

	out[0] = '\0';
	if (vault_name_path(path, cache_dir, "name") == 0)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (n <= 0)
		return;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (mount_name_ok(buf))
		memcpy(out, buf, strlen(buf) + 1);
}

int vault_name_resolve(char out[MOUNT_NAME_MAX + 1], const char *cache_dir, const char *arg)
{
	int r;

	if (!arg) {
		vault_name_load(out, cache_dir);
		return 0;
	}
	r = vault_name_save(cache_dir, arg);
	if (r == 0)
		memcpy(out, arg, strlen(arg) + 1);
	return r;
}
