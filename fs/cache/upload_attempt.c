/* upload_attempt.c - CACHE/merge-attempt (upload.h): the store keys of the
 * objects a merge attempt puts into the store, written durably before they
 * go, with the sealed merged head they are for while its outcome is open;
 * once the attempt is lost (its compare-and-swap refused, or any failure:
 * its objects are then the uploader's strays), the keys of every lost
 * attempt without a head. A mount that finds the file (the process ended in
 * between) deletes the objects of attempts whose head is not in the store
 * (fs/vault/lost_merge.c). Holds store keys and a sealed head only: nothing
 * a store does not hold. Must never drop the record of an attempt whose
 * objects may be orphans. Thread: the uploader's (and the mount's, before
 * the uploader starts). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "log.h"
#include "meta.h"
#include "upload_int.h"

#define UPLOAD_ATTEMPT_MAGIC "sealfs-merge-attempt-1\n"
#define UPLOAD_ATTEMPT_MAX_KEYS (1u << 24)

static void upload_attempt_path(char *out, size_t size, const char *cache_dir, const char *sfx)
{
	snprintf(out, size, "%s/" UPLOAD_ATTEMPT_FILE "%s", cache_dir, sfx);
}

static void upload_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t upload_get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* magic, head length (LE 32), head, key count (LE 32), keys. */
static int upload_attempt_write(const char *cache_dir, const unsigned char *head, size_t hlen,
				const uint8_t (*a)[OBJECT_ID_BYTES], size_t na,
				const uint8_t (*b)[OBJECT_ID_BYTES], size_t nb)
{
	size_t m = sizeof(UPLOAD_ATTEMPT_MAGIC) - 1,
	       len = m + 8 + hlen + (na + nb) * OBJECT_ID_BYTES;
	char path[CACHE_PATH_MAX + 32], tmp[CACHE_PATH_MAX + 32];
	unsigned char *buf = malloc(len), *p = buf;
	int r;

	if (!buf)
		return -ENOMEM;
	memcpy(p, UPLOAD_ATTEMPT_MAGIC, m);
	upload_u32(p + m, (uint32_t)hlen);
	p += m + 4;
	if (hlen)
		memcpy(p, head, hlen);
	upload_u32(p + hlen, (uint32_t)(na + nb));
	p += hlen + 4;
	if (na)
		memcpy(p, a, na * OBJECT_ID_BYTES);
	if (nb)
		memcpy(p + na * OBJECT_ID_BYTES, b, nb * OBJECT_ID_BYTES);
	upload_attempt_path(path, sizeof(path), cache_dir, "");
	upload_attempt_path(tmp, sizeof(tmp), cache_dir, ".tmp");
	r = fdio_replace_file(path, tmp, cache_dir, buf, len);
	free(buf);
	return r;
}

int upload_attempt_begin(struct upload *u, const struct upload_merge_out *mo)
{
	uint8_t(*keys)[OBJECT_ID_BYTES] = malloc((mo->nobjs ? mo->nobjs : 1) * OBJECT_ID_BYTES);
	int r = keys ? 0 : -ENOMEM;

	for (size_t i = 0; keys && i < mo->nobjs; i++)
		memcpy(keys[i], mo->objs[i].key, OBJECT_ID_BYTES);
	if (r == 0)
		r = upload_attempt_write(u->cache_dir, mo->head, mo->head_len,
					 (const uint8_t(*)[OBJECT_ID_BYTES])keys, mo->nobjs,
					 (const uint8_t(*)[OBJECT_ID_BYTES])u->stray, u->nstray);
	free(keys);
	if (r)
		log_msg(LOG_WARNING, "upload: recording a merge's objects failed (errno %d)", -r);
	return r;
}

void upload_attempt_lost(struct upload *u)
{
	int r = upload_attempt_write(
	    u->cache_dir, NULL, 0, (const uint8_t(*)[OBJECT_ID_BYTES])u->stray, u->nstray, NULL, 0);

	if (r) /* the head-bearing record stays: the next mount checks it */
		log_msg(LOG_WARNING, "upload: recording a lost merge failed (errno %d)", -r);
}

void upload_attempt_done(struct upload *u)
{
	char path[CACHE_PATH_MAX + 32];

	upload_attempt_path(path, sizeof(path), u->cache_dir, "");
	if (unlink(path) != 0 && errno != ENOENT)
		log_msg(LOG_WARNING, "upload: removing %s failed (errno %d)", UPLOAD_ATTEMPT_FILE,
			errno);
}

/* Parses buf[0..len): 0, or -EBADMSG. */
static int upload_attempt_parse(const unsigned char *buf, size_t len, struct upload_attempt *out)
{
	size_t m = sizeof(UPLOAD_ATTEMPT_MAGIC) - 1, hlen, n;

	if (len < m + 8 || memcmp(buf, UPLOAD_ATTEMPT_MAGIC, m) != 0)
		return -EBADMSG;
	hlen = upload_get_u32(buf + m);
	if (hlen > len - m - 8)
		return -EBADMSG;
	n = upload_get_u32(buf + m + 4 + hlen);
	if (n > UPLOAD_ATTEMPT_MAX_KEYS || len != m + 8 + hlen + n * OBJECT_ID_BYTES)
		return -EBADMSG;
	out->head = malloc(hlen ? hlen : 1);
	out->keys = malloc((n ? n : 1) * OBJECT_ID_BYTES);
	if (!out->head || !out->keys)
		return -ENOMEM;
	if (hlen)
		memcpy(out->head, buf + m + 4, hlen);
	if (n)
		memcpy(out->keys, buf + m + 8 + hlen, n * OBJECT_ID_BYTES);
	out->head_len = hlen;
	out->nkeys = n;
	return 0;
}

int upload_attempt_read(const char *cache_dir, struct upload_attempt *out)
{
	char path[CACHE_PATH_MAX + 32];
	unsigned char *buf = NULL;
	size_t len = 0;
	off_t size;
	int fd, r;

	memset(out, 0, sizeof(*out));
	upload_attempt_path(path, sizeof(path), cache_dir, "");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	size = lseek(fd, 0, SEEK_END);
	r = size < 0 ? -errno : (uint64_t)size > META_MAX_SEALED_BYTES + (64u << 20) ? -EBADMSG : 0;
	if (r == 0 && !(buf = malloc(size ? (size_t)size : 1)))
		r = -ENOMEM;
	if (r == 0)
		r = fdio_pread_all(fd, buf, (size_t)size, 0, &len);
	close(fd);
	if (r == 0)
		r = upload_attempt_parse(buf, len, out);
	free(buf);
	if (r)
		upload_attempt_release(out);
	return r;
}

void upload_attempt_release(struct upload_attempt *a)
{
	free(a->head);
	free(a->keys);
	memset(a, 0, sizeof(*a));
}

int upload_attempt_keep_lost(const char *cache_dir, const uint8_t (*keys)[OBJECT_ID_BYTES],
			     size_t n)
{
	return upload_attempt_write(cache_dir, NULL, 0, keys, n, NULL, 0);
}

int upload_attempt_load_strays(struct upload *u)
{
	struct upload_attempt a;
	int r = upload_attempt_read(u->cache_dir, &a);

	if (r == -ENOENT)
		return 0;
	if (r == 0 && a.head_len == 0 && a.nkeys > 0) { /* all lost: the strays */
		u->stray = a.keys;
		u->nstray = a.nkeys;
		a.keys = NULL;
	}
	upload_attempt_release(&a);
	return r;
}

int upload_attempt_remove(const char *cache_dir)
{
	char path[CACHE_PATH_MAX + 32];

	upload_attempt_path(path, sizeof(path), cache_dir, "");
	return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
}
