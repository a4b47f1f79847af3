/* content_patch.c - the mount after a crash, for the segment versions a
 * journal record carries as patches (fs/cache/journal.h, struct
 * journal_patch; docs/INTERNALS.md, "Commit"): the commit did not flush
 * such a version's cache file, so it may be lost or torn. Each one is
 * checked with the vault's keys (every chunk opens, the carried ones are the
 * record's bytes) and, when it is not whole, rebuilt: the carried chunks,
 * and the base's other chunks opened and sealed again for the new version.
 * Reads and writes only sealed bytes; never logs anything but store keys. */
#include "content_patch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "fdio.h"
#include "log.h"

/* What one patch needs: the keys and associated data of the base and the
 * new version, the chunk counts in the segment and the sealed size. */
struct patch_job {
	const struct content_patch_ctx *ctx;
	const struct journal_patch *p;
	struct chunk_key *old_k, *new_k;
	struct chunk_ad old_ad, new_ad;
	uint64_t a, m0, m1; /* first chunk; the base's and the version's chunks */
	size_t l;
};

static const unsigned char *patch_chunk(const struct journal_patch *p, size_t l, uint64_t j)
{
	const unsigned char *c = p->chunks;

	for (uint32_t i = 0; i < p->nchunks; i++, c += 4 + l) {
		uint32_t at = (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 |
			      (uint32_t)c[3] << 24;
		if (at == j)
			return c + 4;
	}
	return NULL;
}

/* Whether buf (len bytes, the version's cache file) holds exactly the
 * version: m1 chunks that open under its key, the carried ones the record's. */
static bool patch_whole(struct patch_job *jb, const unsigned char *buf, size_t len)
{
	unsigned char plain[CHUNK_PLAIN_BYTES];
	bool ok = len == jb->m1 * jb->l;

	for (uint64_t j = 0; ok && j < jb->m1; j++) {
		const unsigned char *want = patch_chunk(jb->p, jb->l, j);
		jb->new_ad.index = jb->a + j;
		jb->new_ad.last = jb->a + j == jb->p->n1 - 1;
		ok = want ? memcmp(want, buf + j * jb->l, jb->l) == 0
			  : chunk_open(plain, buf + j * jb->l, &jb->new_ad, jb->new_k) == 0;
	}
	sodium_memzero(plain, sizeof(plain));
	return ok;
}

/* The version rebuilt into out (m1 chunks) from the base's bytes. */
static int patch_build(struct patch_job *jb, const unsigned char *base, size_t blen,
		       unsigned char *out)
{
	unsigned char plain[CHUNK_PLAIN_BYTES];
	int r = 0;

	for (uint64_t j = 0; r == 0 && j < jb->m1; j++) {
		const unsigned char *carried = patch_chunk(jb->p, jb->l, j);
		if (carried) {
			memcpy(out + j * jb->l, carried, jb->l);
			continue;
		}
		if (j >= jb->m0 || blen < (j + 1) * jb->l) {
			r = -EBADMSG;
			break;
		}
		jb->old_ad.index = jb->new_ad.index = jb->a + j;
		jb->old_ad.last = jb->a + j == jb->p->n0 - 1;
		jb->new_ad.last = jb->a + j == jb->p->n1 - 1;
		r = chunk_open(plain, base + j * jb->l, &jb->old_ad, jb->old_k);
		if (r == 0)
			r = chunk_seal(out + j * jb->l, plain, CHUNK_PLAIN_BYTES, &jb->new_ad,
				       jb->new_k);
	}
	sodium_memzero(plain, sizeof(plain));
	return r;
}

/* The cache file of the version, as it is (cache only): 0 with *buf, or
 * -ENOENT. */
static int patch_read_cached(struct patch_job *jb, const char *text, unsigned char **buf,
			     size_t *len)
{
	size_t want = jb->m1 * jb->l;
	int fd = cache_open_cached(jb->ctx->cache, text), r;

	*buf = NULL;
	if (fd < 0)
		return fd;
	*buf = malloc(want + 1);
	r = *buf ? 0 : -ENOMEM;
	if (r == 0) { /* one byte more: a longer file is not the version */
		ssize_t got = pread(fd, *buf, want + 1, 0);
		r = got < 0 ? -errno : 0;
		*len = got < 0 ? 0 : (size_t)got;
	}
	close(fd);
	return r;
}

static int patch_keys(struct patch_job *jb)
{
	const struct content_patch_ctx *c = jb->ctx;
	const struct journal_patch *p = jb->p;

	jb->new_k = chunk_key_new_segment(c->pool, c->suite, c->content_key, p->file_id, p->key);
	jb->old_k = p->base_created ? chunk_key_new_segment(c->pool, c->suite, c->content_key,
							    p->file_id, p->base)
				    : chunk_key_new(c->pool, c->suite, c->content_key, p->file_id);
	memcpy(jb->new_ad.vault_id, c->vault_id, OBJECT_ID_BYTES);
	memcpy(jb->new_ad.file_id, p->file_id, OBJECT_ID_BYTES);
	jb->old_ad = jb->new_ad;
	memcpy(jb->new_ad.segment_key, p->key, OBJECT_ID_BYTES);
	memcpy(jb->old_ad.segment_key, p->base, OBJECT_ID_BYTES);
	return jb->new_k && jb->old_k ? 0 : -ENOMEM;
}

/* One patch: checked, rebuilt when not whole. */
static int patch_replay(struct patch_job *jb)
{
	char text[OBJECT_KEY_TEXT_BYTES], btext[OBJECT_KEY_TEXT_BYTES];
	unsigned char *cur = NULL, *base = NULL, *out = NULL;
	size_t len = 0, blen = 0;
	int r = patch_keys(jb);

	object_key_text(text, jb->p->key);
	object_key_text(btext, jb->p->base);
	if (r == 0 && patch_read_cached(jb, text, &cur, &len) == 0 && patch_whole(jb, cur, len))
		goto out; /* the cache file holds the version (the usual crash) */
	if (r == 0)
		r = cache_read_object(jb->ctx->cache, btext, jb->m0 * jb->l, &base, &blen);
	if (r == 0)
		r = (out = malloc(jb->m1 * jb->l)) ? patch_build(jb, base, blen, out) : -ENOMEM;
	if (r == 0)
		r = cache_write_object(jb->ctx->cache, text, out, jb->m1 * jb->l);
	if (r == 0)
		log_msg(LOG_NOTICE, "journal: rebuilt segment %s from %s", text, btext);
	else
		log_msg(LOG_ERR, "journal: segment %s cannot be rebuilt from %s (errno %d)", text,
			btext, -r);
out:
	free(cur);
	free(base);
	free(out);
	chunk_key_free(jb->old_k);
	chunk_key_free(jb->new_k);
	return r;
}

void content_patch_done(struct content_patch_ctx *ctx)
{
	secmem_pool_free(ctx->pool);
	ctx->pool = NULL;
}

int content_patch_replay(struct content_patch_ctx *ctx, const struct journal_record *rec)
{
	const unsigned char *p = rec->patches, *end = p ? p + rec->patches_len : NULL;
	struct journal_patch jp;
	int got, r = 0;

	if (rec->seq <= ctx->remembered || !p || rec->patches_len == 0)
		return 0;
	if (!ctx->pool && !(ctx->pool = chunk_key_pool_new(NULL, NULL)))
		return -ENOMEM;

	while (p && (got = journal_patch_next(&p, end, &jp)) != 0) {
		struct patch_job jb = {.ctx = ctx, .p = &jp, .l = chunk_sealed_bytes(ctx->suite)};
		if (got < 0 || jp.chunk_bytes != jb.l || jp.n1 <= jp.seg * SEGMENT_CHUNKS)
			return -EBADMSG; /* the parser checked the layout; not these */
		jb.a = jp.seg * SEGMENT_CHUNKS;
		jb.m1 = jp.n1 - jb.a < SEGMENT_CHUNKS ? jp.n1 - jb.a : SEGMENT_CHUNKS;
		jb.m0 = jp.n0 <= jb.a			? 0
			: jp.n0 - jb.a < SEGMENT_CHUNKS ? jp.n0 - jb.a
							: SEGMENT_CHUNKS;
		int e = patch_replay(&jb);
		if (e && (r == 0 || r == -ENOENT))
			r = e; /* the others are still tried */
	}
	return r;
}
