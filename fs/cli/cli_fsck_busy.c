/* cli_fsck_busy.c - whether a vault is in use on this machine, for `sealfs
 * fsck` (and upgrade and config, which write a head too): a mount of it (found through its daemon's
 * open cache lock), its cache locked by a mount, or journal records in its cache that the store has
 * not got. Reads /proc and the cache; must never write to a cache nor follow a symlink planted in
 * one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli_fsck.h"
#include "cli_util.h"
#include "head.h"
#include "journal.h"
#include "runtime.h"

#define CLI_FSCK_REC_HEAD 20 /* magic (8), version (4), seq (8) */

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

struct cli_fsck_find {
	const uint8_t *vault_id;
	struct cli_fsck_mount *m;
	int found;
};

/* One mount: a fuse.sealfs mount of the vault? Prefers a read-write one. */
static int cli_fsck_mount_of(void *arg, const struct runtime_mount *mi)
{
	struct cli_fsck_find *f = arg;
	char pid_path[RUNTIME_PATH_BYTES];
	bool rw;
	pid_t pid;
	int fd;

	if (strcmp(mi->type, "fuse.sealfs") != 0)
		return 0;
	fd = runtime_daemon_find(mi->point, pid_path, sizeof(pid_path), &pid);
	if (fd < 0)
		return 0;
	if (cli_fsck_daemon_has(pid, f->vault_id)) {
		rw = strncmp(mi->opts, "rw", 2) == 0 && (mi->opts[2] == ',' || mi->opts[2] == '\0');
		if (!f->found || (rw && !f->m->rw)) {
			snprintf(f->m->mnt, sizeof(f->m->mnt), "%s", mi->point);
			f->m->rw = rw;
		}
		f->found = 1;
	}
	close(fd); /* held until here: the pid cannot be recycled meanwhile */
	return 0;
}

int cli_fsck_find_mount(const uint8_t vault_id[OBJECT_ID_BYTES], struct cli_fsck_mount *m)
{
	struct cli_fsck_find f = {.vault_id = vault_id, .m = m};
	int rc = runtime_mounts(cli_fsck_mount_of, &f);

	return rc < 0 ? rc : f.found;
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

int cli_fsck_claim(const char *doing, const uint8_t vault_id[OBJECT_ID_BYTES],
		   const char *cache_arg, char cache[PATH_MAX], int *fd)
{
	struct cli_fsck_mount m;
	int rc = cli_fsck_find_mount(vault_id, &m);

	*fd = -1;
	if (rc < 0)
		return cli_fail(EXITCODE_OTHER, "reading /proc/self/mountinfo: %s", cli_why(-rc));
	if (rc == 1)
		return cli_fail(EXITCODE_MOUNTPOINT,
				"the vault is mounted at '%s': unmount it before %s", m.mnt, doing);
	rc = 0;
	if (cache_arg)
		snprintf(cache, PATH_MAX, "%s", cache_arg);
	else
		rc = cli_cache_default(cache, vault_id);
	if (rc == 0)
		rc = cli_fsck_cache_lock(cache, fd);
	if (rc == -EWOULDBLOCK)
		return cli_fail(EXITCODE_MOUNTPOINT,
				"cache '%s' is in use: the vault is mounted; unmount it first",
				cache);
	return rc ? cli_fail(EXITCODE_CACHE, "cache '%s': %s", cache, cli_why(-rc)) : 0;
}

int cli_fsck_refuse_pending(const char *dir, uint64_t seq)
{
	uint64_t n = cli_fsck_cache_pending(dir, seq);

	if (n)
		return cli_fail(EXITCODE_CACHE,
				"cache '%s' holds %llu commit%s the store has not got yet: mount "
				"the vault with this sealfs and run 'sealfs sync' first",
				dir, (unsigned long long)n, n == 1 ? "" : "s");
	return 0;
}
