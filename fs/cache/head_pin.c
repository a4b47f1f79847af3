/* head_pin.c - the pin, CACHE/state (head.h; docs/FORMAT.md, "Cache";
 * docs/SECURITY.md, "Rollback and the pin"): reading and writing the file
 * (a temporary file, fsync, rename, fsync of the directory), the copy of
 * the pinned head's sealed bytes (CACHE/pin-head, for the fork check), the
 * default device name, and the pin object the uploader advances after each
 * head it stored. It must never write a pin without its MAC, never move the pin
 * back, and never hold anything secret in the file: the vault id, the
 * device's id and the user's own label for it, a seq and a hash. */
#include "fdio.h"
#include "head.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cache.h"
#include "dirobj.h"
#include "log.h"
#include "meta.h"

/* At most what a state file of either version holds. */
#define HEAD_STATE_READ_MAX 512

struct head_pin {
	unsigned char key[HEAD_PIN_KEY_BYTES];
	uint8_t vault_id[OBJECT_ID_BYTES];
	struct head_state st;
	char cache_dir[CACHE_PATH_MAX];
};

static int head_state_path(char *out, size_t size, const char *cache_dir, const char *suffix)
{
	int n = snprintf(out, size, "%s/%s%s", cache_dir, HEAD_STATE_NAME, suffix);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The file's bytes into buf (at most size): their count, or -errno. */
static ssize_t head_state_slurp(const char *cache_dir, char *buf, size_t size)
{
	char path[CACHE_PATH_MAX];
	ssize_t n;
	int fd, r = head_state_path(path, sizeof(path), cache_dir, "");

	if (r)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ELOOP ? -EINVAL : -errno;
	do
		n = pread(fd, buf, size, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		n = errno == EISDIR ? -EINVAL : -errno;
	close(fd);
	return n;
}

int head_state_load(struct head_state *st, const char *cache_dir,
		    const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *key)
{
	char buf[HEAD_STATE_READ_MAX];
	ssize_t n = head_state_slurp(cache_dir, buf, sizeof(buf));
	int r;

	memset(st, 0, sizeof(*st));
	if (n < 0)
		return (int)n;
	r = head_state_decode(st, buf, (size_t)n, vault_id, key);
	return r == -ENOENT ? -EXDEV : r;
}

int head_state_read(const char *cache_dir, const uint8_t vault_id[OBJECT_ID_BYTES], uint64_t *seq)
{
	char buf[HEAD_STATE_READ_MAX];
	ssize_t n = head_state_slurp(cache_dir, buf, sizeof(buf));

	*seq = 0;
	if (n < 0)
		return n == -ENOENT ? -ENOENT : -EINVAL;
	return head_state_parse(buf, (size_t)n, vault_id, seq);
}

int head_state_store(const char *cache_dir, const struct head_state *st,
		     const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *key)
{
	char path[CACHE_PATH_MAX], tmp[CACHE_PATH_MAX], text[HEAD_STATE_READ_MAX];
	size_t len = 0;
	int r = head_state_path(path, sizeof(path), cache_dir, "");

	if (r == 0)
		r = head_state_path(tmp, sizeof(tmp), cache_dir, ".tmp");
	if (r == 0)
		r = head_state_encode(text, sizeof(text), &len, st, vault_id, key);
	if (r)
		return r;
	return fdio_replace_file(path, tmp, cache_dir, text, len);
}

void head_device_name_default(char out[HEAD_DEVICE_NAME_MAX + 1])
{
	char host[256] = "";
	size_t len;

	if (gethostname(host, sizeof(host) - 1) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	len = strlen(host);
	if (len > HEAD_DEVICE_NAME_MAX)
		len = HEAD_DEVICE_NAME_MAX;
	while (len > 0 && ((unsigned char)host[len] & 0xc0) == 0x80)
		len--; /* host[len] continues a character: cut before that character */
	if (!head_device_name_ok(host, len)) {
		snprintf(out, HEAD_DEVICE_NAME_MAX + 1, "sealfs");
		return;
	}
	memcpy(out, host, len);
	out[len] = '\0';
}

int head_pin_new(struct head_pin **out, const char *cache_dir,
		 const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *key,
		 const struct head_state *st)
{
	struct head_pin *p;

	*out = NULL;
	if (strlen(cache_dir) >= CACHE_PATH_MAX)
		return -ENAMETOOLONG;
	p = sodium_malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	memcpy(p->key, key, sizeof(p->key));
	memcpy(p->vault_id, vault_id, OBJECT_ID_BYTES);
	p->st = *st;
	memcpy(p->cache_dir, cache_dir, strlen(cache_dir) + 1);
	*out = p;
	return 0;
}

int head_pin_keep_head(const char *cache_dir, const unsigned char *sealed, size_t len)
{
	char path[CACHE_PATH_MAX + 16], tmp[CACHE_PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/" HEAD_PIN_HEAD_NAME, cache_dir);
	snprintf(tmp, sizeof(tmp), "%s/" HEAD_PIN_HEAD_NAME ".tmp", cache_dir);
	return fdio_replace_file(path, tmp, NULL, sealed, len);
}

int head_pin_read_head(const char *cache_dir, const uint8_t hash[HEAD_HASH_BYTES],
		       unsigned char **out, size_t *len)
{
	char path[CACHE_PATH_MAX + 16];
	unsigned char *buf = malloc(META_MAX_SEALED_BYTES);
	uint8_t have[HEAD_HASH_BYTES];
	size_t got = 0;
	int fd, r;

	*out = NULL;
	*len = 0;
	if (!buf)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/" HEAD_PIN_HEAD_NAME, cache_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	r = fd < 0 ? -errno : fdio_pread_all(fd, buf, META_MAX_SEALED_BYTES, 0, &got);
	if (fd >= 0)
		close(fd);
	if (r == 0) {
		head_hash(have, buf, got);
		r = sodium_memcmp(have, hash, HEAD_HASH_BYTES) == 0 ? 0 : -ENOENT;
	}
	if (r) {
		free(buf);
		return r;
	}
	*out = buf;
	*len = got;
	return 0;
}

int head_pin_advance(struct head_pin *p, uint64_t seq, const uint8_t hash[HEAD_HASH_BYTES],
		     const unsigned char *sealed, size_t len)
{
	struct head_state st = p->st;
	int r;

	if (seq <= p->st.seq)
		return 0;
	/* The bytes first: a crash between leaves an older copy, never a pin
	 * whose head the check would take for another's. */
	if (sealed && head_pin_keep_head(p->cache_dir, sealed, len) != 0)
		log_msg(LOG_WARNING, "keeping the pinned head's copy failed: the fork check "
				     "may not verify the next head");
	st.seq = seq;
	memcpy(st.hash, hash, HEAD_HASH_BYTES);
	r = head_state_store(p->cache_dir, &st, p->vault_id, p->key);
	if (r == 0)
		p->st = st;
	return r;
}

const struct head_state *head_pin_state(const struct head_pin *p) { return &p->st; }

void head_pin_free(struct head_pin *p)
{
	if (p)
		sodium_free(p); /* wipes */
}
