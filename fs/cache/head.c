/* head.c - the rollback guard: CACHE/state remembers the newest head seq the
 * store was seen to hold, so a store served older than that is refused. It
 * must never hold anything secret: a vault id and a number. */
#include "head.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "log.h"

static int head_state_path(char *out, size_t size, const char *cache_dir, const char *suffix)
{
	int n = snprintf(out, size, "%s/%s%s", cache_dir, HEAD_STATE_NAME, suffix);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int head_state_read(const char *cache_dir, const uint8_t vault_id[OBJECT_ID_BYTES], uint64_t *seq)
{
	char path[CACHE_PATH_MAX], buf[160], want[33], vault[33];
	unsigned long long v;
	FILE *f;
	int r = head_state_path(path, sizeof(path), cache_dir, "");

	*seq = 0;
	if (r)
		return r;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ENOENT : -errno;
	r = -EINVAL;
	if (fgets(buf, sizeof(buf), f) && strcmp(buf, "sealfs-state 1\n") == 0 &&
	    fgets(buf, sizeof(buf), f) && sscanf(buf, "vault %32[0-9a-f]\n", vault) == 1 &&
	    fgets(buf, sizeof(buf), f) && sscanf(buf, "seq %llu\n", &v) == 1) {
		log_id(want, vault_id);
		r = strcmp(want, vault) == 0 ? 0 : -ENOENT;
		*seq = r == 0 ? v : 0;
	}
	fclose(f);
	return r;
}

int head_state_write(const char *cache_dir, const uint8_t vault_id[OBJECT_ID_BYTES], uint64_t seq)
{
	char path[CACHE_PATH_MAX], tmp[CACHE_PATH_MAX], text[160], hex[33];
	int fd, n, r = head_state_path(path, sizeof(path), cache_dir, "");

	if (r == 0)
		r = head_state_path(tmp, sizeof(tmp), cache_dir, ".tmp");
	if (r)
		return r;
	n = snprintf(text, sizeof(text), "sealfs-state 1\nvault %s\nseq %" PRIu64 "\n",
		     log_id(hex, vault_id), seq);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)n) != n || fsync(fd) != 0)
		r = errno ? -errno : -EIO;
	close(fd);
	if (r == 0 && rename(tmp, path) != 0)
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}
