/* runtime.c - the pid file of a running mount, the one reader of
 * /proc/self/mountinfo, and finding a mount's daemon. Must never follow a symlink
 * planted in a shared directory such as /tmp, nor use a directory that other
 * users can write. */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdio.h"
#include "hex.h"

#define RUNTIME_HASH_BYTES crypto_generichash_BYTES /* 32: BLAKE2b-256 */
#define RUNTIME_PID_TEXT_BYTES 32

/* The directory for pid files; created 0700 when missing. */
static int runtime_dir(char *out, size_t size)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	int n;

	if (xdg && xdg[0] == '/')
		n = snprintf(out, size, "%s/sealfs", xdg);
	else if (geteuid() == 0)
		n = snprintf(out, size, "/run/sealfs");
	else
		n = snprintf(out, size, "/tmp/sealfs-%u", (unsigned)geteuid());
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	if (mkdir(out, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(out, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0)
		return -EPERM;
	return 0;
}

int runtime_pid_path(char *out, size_t size, const char *mnt)
{
	unsigned char hash[RUNTIME_HASH_BYTES];
	char hex[2 * RUNTIME_HASH_BYTES + 1];
	size_t dlen;
	int rc, n;

	rc = runtime_dir(out, size);
	if (rc)
		return rc;
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)mnt, strlen(mnt), NULL, 0);
	hex_encode(hex, sizeof(hex), hash, sizeof(hash));
	dlen = strlen(out);
	n = snprintf(out + dlen, size - dlen, "/%s.pid", hex);
	if (n < 0 || (size_t)n >= size - dlen)
		return -ENAMETOOLONG;
	return 0;
}

/* The start time of process pid (field 22 of /proc/PID/stat, clock ticks
 * since boot): with the pid, it names one process for the machine's uptime,
 * whatever the program is called. 0 or -errno (-ESRCH: no such process). */
static int runtime_start_time(pid_t pid, unsigned long long *out)
{
	char path[64], text[1024], *p, *end;
	ssize_t r;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	r = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (r < 0)
		return -errno;
	text[r] = '\0';
	/* The name (field 2) may hold spaces and ')': fields 3.. follow the last ')'. */
	p = strrchr(text, ')');
	if (!p)
		return -EINVAL;
	for (i = 3; i <= 22 && p; i++) /* to the space before field i */
		p = strchr(p + 1, ' ');
	if (!p)
		return -EINVAL;
	errno = 0;
	*out = strtoull(p + 1, &end, 10);
	if (errno || end == p + 1 || (*end != ' ' && *end != '\n' && *end != '\0'))
		return -EINVAL;
	return 0;
}

int runtime_pid_write(const char *path, pid_t pid)
{
	char tmp[RUNTIME_PATH_BYTES], text[RUNTIME_PID_TEXT_BYTES];
	unsigned long long start;
	int fd, rc, n;

	rc = runtime_start_time(pid, &start);
	if (rc)
		return rc;
	n = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	n = snprintf(text, sizeof(text), "%ld %llu\n", (long)pid, start);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	rc = fdio_write_all(fd, text, (size_t)n);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

/* Parses "PID START\n", or an older daemon's "PID\n" (*has_start 0). */
static int runtime_pid_parse(const char *text, pid_t *pid, unsigned long long *start,
			     int *has_start)
{
	char *end, *s;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || v <= 1 || v > INT_MAX)
		return -EINVAL;
	*pid = (pid_t)v;
	*has_start = 0;
	if (*end == '\n' || *end == '\0')
		return 0;
	if (*end != ' ' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	s = end + 1;
	*start = strtoull(s, &end, 10);
	if (errno || (*end != '\n' && *end != '\0'))
		return -EINVAL;
	*has_start = 1;
	return 0;
}

/* Reads the pid file at path; errors as runtime_pid_read. */
static int runtime_pid_read_start(const char *path, pid_t *out, unsigned long long *start,
				  int *has_start)
{
	char text[RUNTIME_PID_TEXT_BYTES];
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	r = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (r < 0)
		return -errno;
	text[r] = '\0';
	return runtime_pid_parse(text, out, start, has_start);
}

int runtime_pid_read(const char *path, pid_t *out)
{
	unsigned long long start;
	int has_start;

	return runtime_pid_read_start(path, out, &start, &has_start);
}

void runtime_pid_remove(const char *path, pid_t pid)
{
	pid_t stored;

	if (runtime_pid_read(path, &stored) == 0 && stored == pid)
		unlink(path);
}

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void runtime_unescape(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/* One mountinfo line: "id parent maj:min root MOUNTPOINT OPTS [tags] - TYPE src sopts",
 * split in place into m (the mount point unescaped). 0 when malformed. */
static int runtime_mount_line(char *line, struct runtime_mount *m)
{
	char *rest = line, *field, *point = NULL, *opts = NULL;
	int i = 0, after_dash = 0;

	line[strcspn(line, "\n")] = '\0';
	while ((field = strsep(&rest, " ")) != NULL) {
		if (++i == 5)
			point = field;
		else if (i == 6)
			opts = field;
		else if (i > 6 && strcmp(field, "-") == 0)
			after_dash = 1;
		else if (after_dash)
			break;
	}
	if (!point || !opts || !field)
		return 0;
	runtime_unescape(point);
	*m = (struct runtime_mount){.point = point, .opts = opts, .type = field};
	return 1;
}

int runtime_mounts(int (*fn)(void *arg, const struct runtime_mount *m), void *arg)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	struct runtime_mount m;
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;

	if (!f)
		return -errno;
	while (rc == 0 && getline(&line, &cap, f) > 0)
		if (runtime_mount_line(line, &m))
			rc = fn(arg, &m);
	free(line);
	fclose(f);
	return rc;
}

struct runtime_type_find {
	const char *mnt;
	char *type;
	size_t type_size;
	int found;
};

static int runtime_type_of(void *arg, const struct runtime_mount *m)
{
	struct runtime_type_find *t = arg;

	if (strcmp(m->point, t->mnt) == 0) {
		snprintf(t->type, t->type_size, "%s", m->type);
		t->found = 1; /* keep going: the last match is the topmost mount */
	}
	return 0;
}

int runtime_mount_type(const char *mnt, char *type, size_t type_size)
{
	struct runtime_type_find t = {.mnt = mnt, .type = type, .type_size = type_size};
	int rc = runtime_mounts(runtime_type_of, &t);

	return rc < 0 ? rc : t.found;
}

/* The real path of a mount point whose root may not answer (a dead FUSE
 * mount gives ENOTCONN): resolves the parent and appends the last part. */
int runtime_realpath(char *out, const char *arg)
{
	char parent[PATH_MAX], real_parent[PATH_MAX];
	const char *base;
	size_t len;
	int n;

	if (realpath(arg, out))
		return 0;
	if (errno != ENOTCONN)
		return -errno;
	len = strlen(arg);
	while (len > 1 && arg[len - 1] == '/')
		len--;
	if (len >= sizeof(parent))
		return -ENAMETOOLONG;
	memcpy(parent, arg, len);
	parent[len] = '\0';
	base = strrchr(parent, '/');
	if (!base)
		n = snprintf(real_parent, sizeof(real_parent), ".");
	else
		n = snprintf(real_parent, sizeof(real_parent), "%.*s",
			     base == parent ? 1 : (int)(base - parent), parent);
	if (n < 0 || !realpath(real_parent, out))
		return -errno;
	n = snprintf(out + strlen(out), PATH_MAX - strlen(out), "%s%s",
		     strcmp(out, "/") == 0 ? "" : "/", base ? base + 1 : parent);
	return n < 0 ? -EINVAL : 0;
}

/* Whether pid, an older daemon's pid file read without a start time, runs
 * a program named sealfs: the best such a file allows. */
static int runtime_named_sealfs(pid_t pid)
{
	char comm_path[64], comm[32] = "";
	ssize_t r = -1;
	int cfd;

	snprintf(comm_path, sizeof(comm_path), "/proc/%ld/comm", (long)pid);
	cfd = open(comm_path, O_RDONLY | O_CLOEXEC);
	if (cfd >= 0) {
		r = read(cfd, comm, sizeof(comm) - 1);
		close(cfd);
	}
	return r >= 6 && strncmp(comm, "sealfs", 6) == 0;
}

/* A pidfd for the daemon named by the pid file (its pid in *pid), or -1
 * when there is none (no pid file, a stale one, or a pid now used by
 * another process). The pid file's start time tells the daemon from a
 * process that got its pid later, whatever the binary is called (a renamed
 * copy must still be waited for: its last commits are only in the cache). */
static int runtime_daemon_open(const char *pid_path, pid_t *pid)
{
	unsigned long long want = 0, now = 0;
	int fd, has_start, same;

	if (runtime_pid_read_start(pid_path, pid, &want, &has_start) < 0)
		return -1;
	fd = (int)syscall(SYS_pidfd_open, *pid, 0);
	if (fd < 0)
		return -1;
	/* Checked after pidfd_open: a recycled pid cannot slip in between. */
	if (has_start)
		same = runtime_start_time(*pid, &now) == 0 && now == want;
	else
		same = runtime_named_sealfs(*pid);
	if (!same) {
		close(fd);
		return -1;
	}
	return fd;
}

int runtime_daemon_find(const char *mnt, char *pid_path, size_t size, pid_t *pid)
{
	pid_t p;

	if (runtime_pid_path(pid_path, size, mnt) != 0) {
		pid_path[0] = '\0';
		return -1;
	}
	return runtime_daemon_open(pid_path, pid ? pid : &p);
}

int runtime_pending_path(char *out, size_t size, const char *pid_path)
{
	int n = snprintf(out, size, "%s.pending", pid_path);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int runtime_sock_path(char *out, size_t size, const char *pid_path)
{
	size_t len = strlen(pid_path);
	int n;

	if (len < 4 || strcmp(pid_path + len - 4, ".pid") != 0)
		return -EINVAL;
	n = snprintf(out, size, "%.*s.sock", (int)(len - 4), pid_path);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}
