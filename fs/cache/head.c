/* head.c - the head's store calls and the rollback guard. The head is read
 * with its version and replaced only by compare-and-swap, so a device never
 * overwrites a head it did not build on; CACHE/state remembers the newest
 * head seq the store was seen to hold, so a store served older than that is
 * refused. It must never write the head unconditionally, and the state must
 * never hold anything secret: a vault id and a number. */
#include "head.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cache.h"
#include "log.h"
#include "meta.h"

/* What head_check reads at most: the largest sealed head. */
#define HEAD_CHECK_MAX META_MAX_SEALED_BYTES

static int head_state_path(char *out, size_t size, const char *cache_dir, const char *suffix)
{
	int n = snprintf(out, size, "%s/%s%s", cache_dir, HEAD_STATE_NAME, suffix);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* At most what head_state_parse's three lines of fgets can consume. */
#define HEAD_STATE_READ_MAX 480

int head_state_read(const char *cache_dir, const uint8_t vault_id[OBJECT_ID_BYTES], uint64_t *seq)
{
	char path[CACHE_PATH_MAX], buf[HEAD_STATE_READ_MAX];
	ssize_t n;
	int fd, r = head_state_path(path, sizeof(path), cache_dir, "");

	*seq = 0;
	if (r)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	do
		n = pread(fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	r = n < 0 ? -errno : head_state_parse(buf, (size_t)n, vault_id, seq);
	close(fd);
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

int head_get(struct backend *store, size_t max, unsigned char **out, size_t *len,
	     struct backend_version *ver)
{
	*out = NULL;
	*len = 0;
	ver->len = 0;
	if (!(store->ops->caps & BACKEND_CAP_PUT_IF))
		return -EOPNOTSUPP;
	return store->ops->get_version(store, HEAD_STORE_KEY, max, out, len, ver);
}

int head_cas_probe(struct backend *store, enum head_cas *cas)
{
	char key[OBJECT_KEY_TEXT_BYTES];
	uint8_t id[OBJECT_ID_BYTES];
	int r;

	if (!(store->ops->caps & BACKEND_CAP_PUT_IF_PROBE)) {
		*cas = HEAD_CAS_HONOURED;
		return 0;
	}
	randombytes_buf(id, sizeof(id));
	object_key_text(key, id);
	r = backend_probe_put_if(store, key);
	if (r < 0)
		return r;
	*cas = r ? HEAD_CAS_HONOURED : HEAD_CAS_IGNORED;
	return 0;
}

/* -ESTALE unless the store's head is at version *ver (IGNORED stores). */
static int head_check(struct backend *store, const struct backend_version *ver)
{
	struct backend_version now;
	unsigned char *data;
	size_t len;
	int r = head_get(store, HEAD_CHECK_MAX, &data, &len, &now);

	free(data);
	if (r == -ENOENT)
		return ver->len == 0 ? 0 : -ESTALE;
	if (r)
		return r;
	return now.len == ver->len && memcmp(now.v, ver->v, now.len) == 0 ? 0 : -ESTALE;
}

int head_put(struct backend *store, const void *data, size_t len, enum head_cas cas,
	     struct backend_version *ver)
{
	struct backend_version out;
	int r = cas == HEAD_CAS_IGNORED ? head_check(store, ver) : 0;

	if (r == 0)
		r = backend_put_if(store, HEAD_STORE_KEY, data, len, ver, &out);
	if (r == 0)
		*ver = out;
	return r;
}
