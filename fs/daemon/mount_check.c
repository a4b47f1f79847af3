/* mount_check.c - the one check of FUSE and of a mountpoint before a mount
 * (mount.h): `sealfs mount` runs it before it asks for the passphrase, the
 * daemon again right before it mounts (the directory may have changed in
 * between). It must never create, change or remove anything, and never
 * block on a dead mount (stat and statvfs of a dead FUSE mount fail at once
 * with ENOTCONN). */
#include "errbuf.h"
#include "mount.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "runtime.h"

/* strerror with a lower-case first letter, as every message here is. */
static const char *check_why(int e, char buf[128])
{
	snprintf(buf, 128, "%s", strerror(e));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

int mount_check_fuse(char *err, size_t size)
{
	char why[128];
	struct stat st;
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC), e = errno;

	if (fd < 0 && e == ENOENT)
		return errbuf_fail(err, size, -ENODEV,
				   "no FUSE: /dev/fuse missing (modprobe fuse / install fuse3)");
	if (fd < 0)
		return errbuf_fail(err, size, -ENODEV, "no FUSE: /dev/fuse: %s", check_why(e, why));
	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
		close(fd);
		return errbuf_fail(err, size, -ENODEV, "no FUSE: /dev/fuse is not the fuse device");
	}
	close(fd);
	return 0;
}

static int check_empty(const char *arg, const char *real, char *err, size_t size)
{
	char why[128];
	struct dirent *de;
	DIR *d = opendir(real);
	int found = 0, e = errno;

	if (!d)
		return errbuf_fail(err, size, -e, "mountpoint '%s': %s", arg, check_why(e, why));
	while (!found && (de = readdir(d)) != NULL)
		found = strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	if (found)
		return errbuf_fail(err, size, -ENOTEMPTY, "mountpoint '%s' is not empty", arg);
	return 0;
}

static int check_dead(const char *arg, char *err, size_t size)
{
	return errbuf_fail(err, size, -ENOTCONN,
			   "mountpoint '%s' is a dead mount (run 'sealfs unmount %s')", arg, arg);
}

int mount_check_point(const char *arg, char real[PATH_MAX], char *err, size_t size)
{
	char type[64], why[128];
	struct statvfs sv;
	struct stat st;
	int rc, e;

	if (stat(arg, &st) < 0) {
		e = errno;
		if (e == ENOTCONN)
			return check_dead(arg, err, size);
		if (e == ENOENT)
			return errbuf_fail(err, size, -ENOENT, "mountpoint '%s' does not exist",
					   arg);
		return errbuf_fail(err, size, -e, "mountpoint '%s': %s", arg, check_why(e, why));
	}
	if (!S_ISDIR(st.st_mode))
		return errbuf_fail(err, size, -ENOTDIR, "mountpoint '%s' is not a directory", arg);
	if (!realpath(arg, real)) {
		e = errno;
		return errbuf_fail(err, size, -e, "mountpoint '%s': %s", arg, check_why(e, why));
	}
	rc = runtime_mount_type(real, type, sizeof(type));
	if (rc < 0)
		return errbuf_fail(err, size, rc, "reading /proc/self/mountinfo: %s",
				   check_why(-rc, why));
	if (rc > 0 && statvfs(real, &sv) < 0 && errno == ENOTCONN)
		return check_dead(arg, err, size);
	if (rc > 0)
		return errbuf_fail(err, size, -EBUSY, "mountpoint '%s' is already mounted (%s)",
				   arg, type);
	return check_empty(arg, real, err, size);
}
