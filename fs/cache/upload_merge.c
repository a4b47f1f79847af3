/* upload_merge.c - the uploader's merge step (format 2, a hook set): when
 * the compare-and-swap of the newest record's head was refused, the hook
 * merges it onto the store's head and the merged head goes in by
 * compare-and-swap; before that, CACHE/merged-upto remembers that the
 * records up to the newest one were merged, never stored as they are, so
 * that no later round (nor the next mount, after a crash) deletes their
 * garbage: those keys were chosen by this device's own history, and the
 * other device's head, or the merged head's history, may still reach them.
 * It must never put a merged head before that mark is durable, and logs
 * seqs only. Thread: the uploader's. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "fdio.h"
#include "journal.h"
#include "log.h"
#include "meta.h"
#include "upload_int.h"

/* Merges in a row when other devices keep writing between a read of the
 * head and the compare-and-swap; then the round fails and is retried. */
#define UPLOAD_MERGE_TRIES 8
#define UPLOAD_MERGED_FILE "merged-upto"

int upload_read_merged(const char *cache_dir, uint64_t *out)
{
	char path[CACHE_PATH_MAX + 16], buf[32];
	size_t got = 0;
	int fd, r;

	*out = 0;
	snprintf(path, sizeof(path), "%s/" UPLOAD_MERGED_FILE, cache_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = fdio_pread_all(fd, buf, sizeof(buf) - 1, 0, &got);
	close(fd);
	if (r)
		return r;
	buf[got] = '\0';
	if (sscanf(buf, "%" SCNu64, out) != 1)
		return -EBADMSG;
	return 0;
}

/* Records up to seq were merged: durable before the merged head is put. */
static int upload_mark_merged(struct upload *u, uint64_t seq)
{
	char path[CACHE_PATH_MAX + 16], tmp[CACHE_PATH_MAX + 16], buf[32];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", seq);
	int r;

	if (seq <= u->merged_upto)
		return 0;
	snprintf(path, sizeof(path), "%s/" UPLOAD_MERGED_FILE, u->cache_dir);
	snprintf(tmp, sizeof(tmp), "%s/" UPLOAD_MERGED_FILE ".tmp", u->cache_dir);
	r = fdio_replace_file(path, tmp, u->cache_dir, buf, (size_t)n);
	if (r) {
		log_msg(LOG_WARNING, "upload: remembering the merge failed (errno %d)", -r);
		return r;
	}
	u->merged_upto = seq;
	return 0;
}

bool upload_rec_merged(const struct upload *u, uint64_t seq) { return seq <= u->merged_upto; }

/* What the batch's records not yet stored put (or may have put) into the
 * store: their segments and objects, and the objects of merges whose head
 * did not go in. The merged head lists those it does not reach as garbage. */
static int upload_fresh(const struct upload *u, const struct journal_batch *b,
			uint8_t (**out)[OBJECT_ID_BYTES], size_t *n)
{
	size_t max = 0, k = 0;
	uint8_t(*a)[OBJECT_ID_BYTES];

	for (size_t i = 0; i < b->n; i++)
		max += b->recs[i].nsegs + b->recs[i].nobjs;
	a = malloc((max + u->nstray + 1) * OBJECT_ID_BYTES);
	if (!a)
		return -ENOMEM;
	if (u->nstray > 0)
		memcpy(a, u->stray, u->nstray * OBJECT_ID_BYTES);
	k = u->nstray;
	for (size_t i = 0; i < b->n; i++) {
		const struct journal_record *rec = &b->recs[i];
		if (rec->seq <= u->stored_seq)
			continue;
		for (size_t j = 0; j < rec->nsegs; j++)
			memcpy(a[k++], rec->segs[j], OBJECT_ID_BYTES);
		for (size_t j = 0; j < rec->nobjs; j++)
			memcpy(a[k++], rec->objs[j].key, OBJECT_ID_BYTES);
	}
	*out = a;
	*n = k;
	return 0;
}

int upload_deletable(const struct upload *u, const struct journal_batch *b, bool merged,
		     uint8_t (**out)[OBJECT_ID_BYTES], size_t *n)
{
	size_t max = 0, k = 0;
	uint8_t(*a)[OBJECT_ID_BYTES];

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < b->n; i++)
		max += b->recs[i].ngarbage;
	if (merged || max == 0)
		return 0;
	a = malloc(max * OBJECT_ID_BYTES);
	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < b->n; i++)
		for (size_t j = 0; !upload_rec_merged(u, b->recs[i].seq) && j < b->recs[i].ngarbage;
		     j++)
			memcpy(a[k++], b->recs[i].garbage[j], OBJECT_ID_BYTES);
	*out = a;
	*n = k;
	return 0;
}

/* The merged head's new objects, then a sync: durable before the head. */
static int upload_merge_objs(struct upload *u, const struct upload_merge_out *mo)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < mo->nobjs; i++) {
		char text[OBJECT_KEY_TEXT_BYTES];

		object_key_text(text, mo->objs[i].key);
		r = backend_put(u->store, text, mo->objs[i].data, mo->objs[i].len);
		if (r == 0)
			upload_count(u, mo->objs[i].len);
	}
	if (r == 0 && mo->nobjs)
		r = backend_sync(u->store);
	return r;
}

/* One try: the store's head now, the hook's merge onto it, its objects,
 * the merged head by compare-and-swap on the version read. */
/* A merge whose head did not go in: its objects may be in the store. Out
 * of memory they stay orphans (fsck --repair); CACHE/merge-attempt keeps
 * them for the next mount should this one end first. */
static bool upload_stray(struct upload *u, const struct upload_merge_out *mo)
{
	uint8_t(*p)[OBJECT_ID_BYTES];

	if (mo->nobjs == 0)
		return true;
	p = realloc(u->stray, (u->nstray + mo->nobjs) * OBJECT_ID_BYTES);
	if (!p)
		return false;
	u->stray = p;
	for (size_t i = 0; i < mo->nobjs; i++)
		memcpy(u->stray[u->nstray++], mo->objs[i].key, OBJECT_ID_BYTES);
	return true;
}

static int upload_merge_once(struct upload *u, const struct journal_batch *b, enum head_cas cas)
{
	const struct journal_record *last = &b->recs[b->n - 1];
	struct upload_merge_out mo = {0};
	struct backend_version ver;
	unsigned char *remote;
	size_t rlen;
	int r = head_get(u->store, META_MAX_SEALED_BYTES, &remote, &rlen, &ver);

	if (r)
		return r;
	if (u->descends && u->descends(u->reseal_ctx, remote, rlen, u->stored_seq, u->stored_hash,
				       u->cache_dir) == 0) {
		free(remote);
		return -EXDEV; /* a fork: never merged onto (upload_put_head stops) */
	}
	uint8_t(*fresh)[OBJECT_ID_BYTES] = NULL;
	size_t nfresh = 0;
	r = upload_fresh(u, b, &fresh, &nfresh);
	if (r) {
		free(remote);
		return r;
	}
	struct upload_merge_req req = {.base = u->base_head,
				       .base_len = u->base_len,
				       .local = last->head,
				       .local_len = last->head_len,
				       .remote = remote,
				       .remote_len = rlen,
				       .newest = last->seq,
				       .fresh = (const uint8_t(*)[OBJECT_ID_BYTES])fresh,
				       .nfresh = nfresh,
				       .remote_own = u->put.head && u->put.head_len == rlen &&
						     memcmp(u->put.head, remote, rlen) == 0};
	r = u->merge(u->merge_ctx, &req, &mo);
	free(remote);
	free(fresh);
	if (r == 0)
		r = upload_attempt_begin(u, &mo); /* before its objects: a crash leaves a record */
	if (r == 0)
		r = upload_merge_objs(u, &mo);
	if (r == 0)
		r = upload_mark_merged(u, last->seq);
	if (r == 0 && fault_die("merge-objs"))
		_exit(137); /* a test's crash: the attempt's objects stored, its head not */
	if (r == 0)
		r = head_put(u->store, mo.head, mo.head_len, cas, &ver);
	if (r) {
		/* Recorded: now lost, with the strays before it (out of memory
		 * the record with its head stays, for the next mount to check). */
		if (upload_stray(u, &mo) && mo.head)
			upload_attempt_lost(u);
		upload_merge_out_release(&mo);
		return r;
	}
	upload_attempt_done(u);
	free(u->stray);
	u->stray = NULL;
	u->nstray = 0;
	u->head_ver = ver;
	upload_merge_out_release(&u->put);
	u->put = mo;
	pthread_mutex_lock(&u->lock);
	u->merges++;
	u->last_merge_time = upload_now_s(CLOCK_REALTIME);
	u->last_merged = mo.merged;
	u->last_conflicts = mo.conflicts;
	pthread_mutex_unlock(&u->lock);
	log_msg(LOG_NOTICE,
		"merged this device's commits (up to seq %" PRIu64 ") with another device's "
		"head: stored as seq %" PRIu64 ", %" PRIu64 " entries merged, %" PRIu64
		" conflict names",
		last->seq, mo.seq, mo.merged, mo.conflicts);
	return 0;
}

/* Merges until the compare-and-swap holds (another device may write
 * meanwhile); the records' head becomes the next merge's base. */
int upload_merge_head(struct upload *u, const struct journal_batch *b, enum head_cas cas)
{
	const struct journal_record *last = &b->recs[b->n - 1];
	int r = -ESTALE;

	for (int i = 0; i < UPLOAD_MERGE_TRIES && r == -ESTALE; i++)
		r = upload_merge_once(u, b, cas);
	if (r == 0) {
		u->diverged = true;
		r = upload_set_base(u, last->head, last->head_len);
	}
	if (r && r != -EAGAIN && r != -EOPNOTSUPP && r != -EXDEV)
		log_msg(LOG_WARNING, "upload: merging with another device's head failed (errno %d)",
			-r);
	return r;
}
