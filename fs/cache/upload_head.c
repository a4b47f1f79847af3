/* upload_head.c - the uploader's last step before its final sync: the
 * newest record's head goes into the store only by compare-and-swap on the
 * version of the head this mount built on (fs/cache/head.h), after asking a
 * server once whether it honours conditional writes. When another device
 * changed the head, the merge hook (format 2) merges onto the store's head
 * and the merged head goes in by compare-and-swap; without a hook the
 * uploader stops for good. It must never put a head over one it did not
 * build on or merge with, never let a round delete garbage after a conflict
 * (the other device's head may reach those objects), and logs seqs only. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"

#include "journal.h"
#include "log.h"
#include "meta.h"
#include "upload_int.h"

/* The store's answer to the probe, asked before the first head (lock not
 * held); a failure fails the round, which is retried. */
static int upload_probe(struct upload *u, enum head_cas *cas)
{
	int r;

	pthread_mutex_lock(&u->lock);
	*cas = u->cas;
	pthread_mutex_unlock(&u->lock);
	if (*cas != HEAD_CAS_UNKNOWN)
		return 0;
	r = head_cas_probe(u->store, cas);
	if (r)
		return r;
	if (*cas == HEAD_CAS_IGNORED)
		log_msg(LOG_WARNING,
			"the store ignores conditional writes (If-Match/If-None-Match): a second "
			"device writing this vault at the same moment could replace this mount's "
			"newest commit unseen; each head is checked just before it is written, "
			"which narrows that window but cannot close it (docs/CLI.md, \"Several "
			"devices\")");
	pthread_mutex_lock(&u->lock);
	u->cas = *cas;
	pthread_mutex_unlock(&u->lock);
	return 0;
}

/* Stops the uploader for good (another device's head over this mount's
 * commits, a merge refused for hard links, or a fork), saying so once. */
static void upload_conflict(struct upload *u, uint64_t seq, bool links, bool fork)
{
	pthread_mutex_lock(&u->lock);
	u->conflict = true;
	u->conflict_links = links;
	u->conflict_seq = seq;
	u->failing = true;
	u->last_err = -ESTALE;
	u->last_err_time = upload_now_s(CLOCK_REALTIME);
	pthread_cond_broadcast(&u->done);
	pthread_mutex_unlock(&u->lock);
	if (fork)
		log_msg(
		    LOG_ERR,
		    "the store's head does not descend from the one this mount stored or showed "
		    "last (seq %" PRIu64 "): the store forked or was rolled back; nothing is "
		    "merged onto it, this mount's commits (up to seq %" PRIu64 ") stay in the "
		    "cache's journal; unmount, check the store, then mount with "
		    "--accept-store-head (docs/SECURITY.md, \"Forks\")",
		    u->stored_seq, seq);
	else if (!links) /* else the hook said why, once */
		log_msg(
		    LOG_ERR,
		    "the store's head was changed by another device: this mount's commits (up to "
		    "seq %" PRIu64
		    ") stay in the cache's journal and are not uploaded; merging devices is not "
		    "supported yet: unmount, then see \"Several devices\" in docs/CLI.md",
		    seq);
}

/* CACHE/base-head: the sealed head the records build on, for a later mount
 * that finds another device's head over them (engine.c). Written whole
 * (temporary file, fdatasync, rename); a failure only costs that mount a
 * two-way merge. */
static void upload_save_base(const struct upload *u)
{
	char path[CACHE_PATH_MAX + 16], tmp[CACHE_PATH_MAX + 16];
	int r;

	snprintf(path, sizeof(path), "%s/" UPLOAD_BASE_FILE, u->cache_dir);
	snprintf(tmp, sizeof(tmp), "%s/" UPLOAD_BASE_FILE ".tmp", u->cache_dir);
	r = fdio_replace_file(path, tmp, NULL, u->base_head, u->base_len);
	if (r)
		log_msg(LOG_WARNING, "upload: keeping the merge base failed (errno %d)", -r);
}

int upload_read_base(const char *cache_dir, unsigned char **out, size_t *len)
{
	char path[CACHE_PATH_MAX + 16];
	unsigned char *buf = malloc(META_MAX_SEALED_BYTES);
	size_t got = 0;
	int fd, r;

	*out = NULL;
	*len = 0;
	if (!buf)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/" UPLOAD_BASE_FILE, cache_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	r = fd < 0 ? -errno : fdio_pread_all(fd, buf, META_MAX_SEALED_BYTES, 0, &got);
	if (fd >= 0)
		close(fd);
	if (r) {
		free(buf);
		return r;
	}
	*out = buf;
	*len = got;
	return 0;
}

int upload_set_base(struct upload *u, const unsigned char *head, size_t len)
{
	unsigned char *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, head, len);
	free(u->base_head);
	u->base_head = copy;
	u->base_len = len;
	upload_save_base(u);
	return 0;
}

int upload_rebase(struct upload *u, const unsigned char *head, size_t len,
		  const struct backend_version *ver, uint64_t seq)
{
	unsigned char *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, head, len);
	pthread_mutex_lock(&u->lock);
	free(u->rebase);
	u->rebase = copy;
	u->rebase_len = len;
	u->rebase_ver = *ver;
	u->rebase_seq = seq;
	head_hash(u->known_hash, head, len);
	u->known_merged = false;
	u->work = true;
	pthread_cond_signal(&u->cond);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

bool upload_known_hash(struct upload *u, uint8_t out[HEAD_HASH_BYTES])
{
	bool merged;

	pthread_mutex_lock(&u->lock);
	memcpy(out, u->known_hash, HEAD_HASH_BYTES);
	merged = u->known_merged;
	pthread_mutex_unlock(&u->lock);
	return merged;
}

/* A rebase (upload_rebase) waiting: the store's head the tree now shows
 * becomes the one the next head replaces, and the pin moves to it. */
int upload_apply_rebase(struct upload *u)
{
	unsigned char *head;
	size_t len;
	int r;

	pthread_mutex_lock(&u->lock);
	head = u->rebase;
	len = u->rebase_len;
	u->rebase = NULL;
	if (head) {
		u->head_ver = u->rebase_ver;
		u->stored_seq = u->rebase_seq;
		head_hash(u->stored_hash, head, len);
	}
	pthread_mutex_unlock(&u->lock);
	if (!head)
		return 0;
	u->diverged = false;
	free(u->base_head);
	u->base_head = head;
	u->base_len = len;
	upload_save_base(u);
	r = upload_remember(u, head, len);
	return r;
}

int upload_descends(struct upload *u, const unsigned char *sealed, size_t len)
{
	uint8_t hash[HEAD_HASH_BYTES];
	uint64_t seq;

	if (!u->descends)
		return -1;
	pthread_mutex_lock(&u->lock);
	seq = u->stored_seq;
	memcpy(hash, u->known_hash, HEAD_HASH_BYTES);
	pthread_mutex_unlock(&u->lock);
	return u->descends(u->reseal_ctx, sealed, len, seq, hash, u->cache_dir);
}

void upload_merge_out_release(struct upload_merge_out *out)
{
	for (size_t i = 0; out->objs && i < out->nobjs; i++)
		free(out->objs[i].data);
	free(out->objs);
	free(out->head);
	free(out->dead_now);
	memset(out, 0, sizeof(*out));
}

/* The record's head as the store takes it: naming the stored head it
 * replaces (u->stored_hash) as its parent, sealed again when the record
 * names another (an upload round skipped the heads between). *head then
 * points into u->resealed, kept until the next call. */
static int upload_reseal(struct upload *u, const unsigned char **head, size_t *len)
{
	unsigned char *out = NULL;
	size_t out_len = 0;
	int r;

	if (!u->reseal)
		return 0;
	r = u->reseal(u->reseal_ctx, *head, *len, u->stored_hash, &out, &out_len);
	if (r) {
		log_msg(LOG_WARNING, "upload: sealing the head for the store failed (errno %d)",
			-r);
		return r;
	}
	if (!out)
		return 0;
	free(u->resealed);
	u->resealed = out;
	u->resealed_len = out_len;
	*head = out;
	*len = out_len;
	return 0;
}

int upload_put_head(struct upload *u, const struct journal_batch *b, const unsigned char **head,
		    size_t *len, uint64_t *seq)
{
	const struct journal_record *last = &b->recs[b->n - 1];
	enum head_cas cas;
	int r = upload_probe(u, &cas);

	if (r == 0 && cas == HEAD_CAS_IGNORED && u->lease)
		r = u->lease(u->lease_ctx); /* -ENOLCK: another device's turn; halted */
	if (r)
		return r;
	if (!u->diverged) {
		const unsigned char *put = last->head;
		size_t put_len = last->head_len;

		r = upload_reseal(u, &put, &put_len);
		if (r == 0)
			r = head_put(u->store, put, put_len, cas, &u->head_ver);
		if (r == 0) {
			*head = put;
			*len = put_len;
			*seq = last->seq;
			/* The base stays the record's own bytes: the next record
			 * names them as its parent (engine.c's merge base check). */
			return u->merge ? upload_set_base(u, last->head, last->head_len) : 0;
		}
		if (r != -ESTALE)
			return r;
		if (!u->merge) {
			upload_conflict(u, last->seq, false, false);
			return r;
		}
	}
	r = upload_merge_head(u, b, cas);
	if (r == -EOPNOTSUPP) /* the hook cannot merge these heads (hard links) */
		upload_conflict(u, last->seq, true, false);
	if (r == -EXDEV) { /* the store's head is a fork */
		upload_conflict(u, last->seq, false, true);
		r = -ESTALE;
	}
	if (r == 0) {
		*head = u->put.head;
		*len = u->put.head_len;
		*seq = u->put.seq;
	}
	return r;
}
