/* lost_merge.c - the objects of merge attempts whose head never went in
 * (lost_merge.h): read CACHE/merge-attempt, decide whether its head is in
 * the store's chain (the store's head, or an ancestor by head_chain_check),
 * and delete the objects of an attempt that is not. Must never delete an
 * object of a head that may be in the store (undecided: left alone), and
 * logs counts only. */
#include "lost_merge.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "head_chain.h"
#include "history.h"
#include "log.h"
#include "seal.h"
#include "upload.h"

/* Whether the attempt's head (sealed a->head) is in the store: 1 yes, 0
 * no, -1 cannot tell. */
static int lost_merge_in_store(const struct upload_attempt *a, const struct dirobj_head *head,
			       const uint8_t hash[HEAD_HASH_BYTES], struct cache *cache,
			       const struct vault_config *cfg, const struct vault_keys *keys)
{
	struct dirobj_head mine;
	struct history_io io;
	uint8_t h[HEAD_HASH_BYTES];
	enum head_chain_verdict v;
	int why = 0;

	if (a->head_len == 0)
		return 0; /* every attempt listed was lost */
	head_hash(h, a->head, a->head_len);
	if (memcmp(h, hash, HEAD_HASH_BYTES) == 0)
		return 1;
	if (seal_open_head(&mine, a->head, a->head_len, cfg->vault_id, keys->meta, cfg->format))
		return -1;
	/* In the store, it would be the head or below a newer one. */
	if (head->seq <= mine.seq) {
		dirobj_head_release(&mine);
		return 0;
	}
	history_io_cache(&io, cache, cfg->vault_id, keys->meta);
	v = head_chain_check(head, mine.seq, h, &mine, &io, &why);
	dirobj_head_release(&mine);
	return v == HEAD_CHAIN_DESCENDS ? 1 : v == HEAD_CHAIN_FORK ? 0 : -1;
}

/* Deletes a's objects; the count that failed. */
static size_t lost_merge_delete(struct backend *store, const struct upload_attempt *a)
{
	size_t failed = 0;

	for (size_t i = 0; i < a->nkeys; i++) {
		char text[OBJECT_KEY_TEXT_BYTES];

		object_key_text(text, a->keys[i]);
		failed += backend_del(store, text) != 0;
	}
	return failed;
}

void lost_merge_clean(struct backend *store, struct cache *cache, const char *cache_dir,
		      const unsigned char *sealed, size_t len, const struct vault_config *cfg,
		      const struct vault_keys *keys)
{
	struct upload_attempt a;
	struct dirobj_head head;
	uint8_t hash[HEAD_HASH_BYTES];
	int r = upload_attempt_read(cache_dir, &a), in;
	size_t failed = 0;

	if (r == -ENOENT)
		return;
	memset(&head, 0, sizeof(head));
	if (r == 0)
		r = seal_open_head(&head, sealed, len, cfg->vault_id, keys->meta, cfg->format);
	head_hash(hash, sealed, len);
	in = r ? -1 : lost_merge_in_store(&a, &head, hash, cache, cfg, keys);
	dirobj_head_release(&head);
	if (in == 0)
		failed = lost_merge_delete(store, &a);
	if (in == 0 && failed == 0 && backend_sync(store) == 0)
		log_msg(LOG_NOTICE,
			"deleted the %zu objects of merge attempts whose head never went in",
			a.nkeys);
	if (in < 0)
		log_msg(
		    LOG_WARNING,
		    "the objects of an earlier merge attempt (%zu) cannot be told in use or not "
		    "(errno %d): left to fsck --repair",
		    a.nkeys, -r);
	if (in == 0 && failed > 0)
		r = upload_attempt_keep_lost(cache_dir, (const uint8_t(*)[OBJECT_ID_BYTES])a.keys,
					     a.nkeys);
	else
		r = upload_attempt_remove(cache_dir);
	if (r)
		log_msg(LOG_WARNING, "updating the record of merge attempts failed (errno %d)", -r);
	upload_attempt_release(&a);
}
