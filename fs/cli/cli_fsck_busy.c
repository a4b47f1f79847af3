/* cli_fsck_busy.c - whether a vault is in use on this machine, for `sealfs
 * fsck`: a mount of it (found through its daemon's open cache lock), its
 * cache locked by a mount, or journal records in its cache that the store
 * has not got. Reads /proc and the cache; must never write to a cache nor
 * follow a symlink planted in one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli_fsck.h"
#include "head.h"
#include "journal.h"
#include "runtime.h"

#define CLI_FSCK_REC_HEAD 20 /* magic (8), version (4), seq (8) */

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void cli_fsck_unescape(char *s)
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

/* Whether the daemon pid has open the lock of a cache of vault_id. */
static bool cli_fsck_daemon_has(pid_t pid, const uint8_t vault_id[OBJECT_ID_BYTES])
{
	char dir[64], link[PATH_MAX + 1], path[PATH_MAX + 80];
	struct dirent *e;
	bool found = false;
	uint64_t seq;
	ssize_t n;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long)pid);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (e = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 6 || n >= (ssize_t)sizeof(link) - 1)
			continue;
		link[n] = '\0';
		if (strcmp(link + n - 5, "/lock") != 0)
			continue;
		link[n - 5] = '\0';
		found = head_state_read(link, vault_id, &seq) == 0;
	}
	closedir(d);
	return found;
}

/* One mountinfo line: a fuse.sealfs mount of vault_id? Fills m. */
static bool cli_fsck_mount_line(char *line, const uint8_t vault_id[OBJECT_ID_BYTES],
				struct cli_fsck_mount *m)
{
	char *rest = line, *field, *point = NULL, *opts = NULL, pid_path[RUNTIME_PATH_BYTES];
	int i = 0, after_dash = 0, fd;
	pid_t pid;

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
	if (!point || !opts || !field || strcmp(field, "fuse.sealfs") != 0)
		return false;
	cli_fsck_unescape(point);
	if (runtime_pid_path(pid_path, sizeof(pid_path), point) != 0)
		return false;
	fd = runtime_daemon_open(pid_path); /* checks the pid is a sealfs process */
	if (fd < 0)
		return false;
	close(fd);
	if (runtime_pid_read(pid_path, &pid) != 0 || !cli_fsck_daemon_has(pid, vault_id))
		return false;
	snprintf(m->mnt, sizeof(m->mnt), "%s", point);
	m->rw = strncmp(opts, "rw", 2) == 0 && (opts[2] == ',' || opts[2] == '\0');
	return true;
}

int cli_fsck_find_mount(const uint8_t vault_id[OBJECT_ID_BYTES], struct cli_fsck_mount *m)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	struct cli_fsck_mount one;
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		if (!cli_fsck_mount_line(line, vault_id, &one))
			continue;
		if (!found || (one.rw && !m->rw))
			*m = one;
		found = 1;
	}
	free(line);
	fclose(f);
	return found;
}

int cli_fsck_cache_lock(const char *dir, int *fd)
{
	char lock[PATH_MAX + 8];

	snprintf(lock, sizeof(lock), "%s/lock", dir);
	*fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	int e = errno;
	close(*fd);
	*fd = -1;
	return -e;
}

/* Whether journal file name (in dir_fd) holds a record above seq. */
static bool cli_fsck_record_above(int dir_fd, const char *name, uint64_t seq)
{
	unsigned char h[CLI_FSCK_REC_HEAD];
	uint64_t rec_seq = 0;
	ssize_t n;
	int fd;

	if (strncmp(name, "slot-", 5) != 0 &&
	    (strlen(name) < 4 || strcmp(name + strlen(name) - 4, ".rec") != 0))
		return false;
	fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	n = read(fd, h, sizeof(h));
	close(fd);
	if (n != (ssize_t)sizeof(h) || memcmp(h, JOURNAL_MAGIC, JOURNAL_MAGIC_BYTES) != 0)
		return false;
	for (int i = 7; i >= 0; i--)
		rec_seq = (rec_seq << 8) | h[12 + i]; /* little endian */
	return rec_seq > seq;
}

uint64_t cli_fsck_cache_pending(const char *dir, uint64_t seq)
{
	char path[PATH_MAX + 16];
	struct dirent *e;
	uint64_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_DIR_NAME);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += cli_fsck_record_above(dirfd(d), e->d_name, seq);
	closedir(d);
	return n;
}
