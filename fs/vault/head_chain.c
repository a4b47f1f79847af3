/* head_chain.c - the chain of stored heads (head_chain.h): the uploader's
 * reseal hook (a record's head with the stored head it replaces as its
 * parent) and the ancestry check of a pinned head against the store's head
 * through the retained history. Must never use the meta key once switched
 * off, never answer HEAD_CHAIN_FORK without proof, and logs nothing. */
#include "head_chain.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "seal.h"

struct head_chain *head_chain_new(const uint8_t vault_id[OBJECT_ID_BYTES],
				  const unsigned char *meta_key, int format, struct backend *store)
{
	struct head_chain *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	memcpy(c->vault_id, vault_id, OBJECT_ID_BYTES);
	c->meta_key = meta_key;
	c->format = format;
	c->store = store;
	return c;
}

void head_chain_off(struct head_chain *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->off = true;
	c->meta_key = NULL;
	pthread_mutex_unlock(&c->lock);
}

void head_chain_free(struct head_chain *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int head_chain_reseal(void *ctx, const unsigned char *head, size_t len,
		      const uint8_t parent[HEAD_HASH_BYTES], unsigned char **out, size_t *out_len)
{
	struct head_chain *c = ctx;
	struct dirobj_head h;
	int r = 0;

	*out = NULL;
	*out_len = 0;
	memset(&h, 0, sizeof(h));
	pthread_mutex_lock(&c->lock);
	if (!c->off)
		r = seal_open_head(&h, head, len, c->vault_id, c->meta_key, c->format);
	/* Only the parent changes: t, dev and the rest stay, so the head
	 * record a later commit makes of this head still names the same commit. */
	if (r == 0 && !c->off && memcmp(h.parent, parent, HEAD_HASH_BYTES) != 0) {
		memcpy(h.parent, parent, HEAD_HASH_BYTES);
		r = seal_head(out, out_len, &h, c->vault_id, c->meta_key, c->format);
	}
	pthread_mutex_unlock(&c->lock);
	dirobj_head_release(&h);
	return r;
}

bool head_chain_same(const struct head_chain *c, const unsigned char *a, size_t alen,
		     const unsigned char *b, size_t blen)
{
	struct dirobj_head x, y;
	bool same;

	if (alen == blen && memcmp(a, b, alen) == 0)
		return true;
	if (c->format < 2)
		return false;
	memset(&x, 0, sizeof(x));
	memset(&y, 0, sizeof(y));
	same = seal_open_head(&x, a, alen, c->vault_id, c->meta_key, c->format) == 0 &&
	       seal_open_head(&y, b, blen, c->vault_id, c->meta_key, c->format) == 0 &&
	       x.seq == y.seq && x.time.sec == y.time.sec && x.time.nsec == y.time.nsec &&
	       memcmp(x.device, y.device, OBJECT_ID_BYTES) == 0 &&
	       memcmp(x.root.ref.store_key, y.root.ref.store_key, OBJECT_ID_BYTES) == 0 &&
	       x.root.ref.version == y.root.ref.version;
	dirobj_head_release(&x);
	dirobj_head_release(&y);
	return same;
}

/* ---- the check ---- */

/* What the walk over the history found. */
struct head_chain_walk {
	uint64_t pin_seq;
	const struct dirobj_head *pinned;
	enum head_chain_verdict verdict;
	bool decided;
	bool has_above; /* the oldest entry above pin_seq: the pinned head's child, maybe */
	struct histobj_entry above;
};

/* One entry, newest first: false when the walk is over. */
static bool head_chain_entry(struct head_chain_walk *w, const struct histobj_entry *e)
{
	if (e->seq > w->pin_seq) {
		w->above = *e;
		w->has_above = true;
		return true;
	}
	if (e->seq == w->pin_seq && w->pinned) {
		/* The chain's head at pin_seq: the pinned one only if it is the
		 * same commit (its device and its time to the nanosecond). */
		bool same = memcmp(e->device, w->pinned->device, OBJECT_ID_BYTES) == 0 &&
			    e->time.sec == w->pinned->time.sec &&
			    e->time.nsec == w->pinned->time.nsec;
		w->verdict = same ? HEAD_CHAIN_DESCENDS : HEAD_CHAIN_FORK;
		w->decided = true;
	}
	return false;
}

/* head's history pages, newest first, until the walk is over. */
static int head_chain_pages(const struct dirobj_head *head, struct head_chain_walk *w,
			    const struct history_io *io)
{
	struct dirobj_ref ref = head->history;
	bool more = head->has_history;
	int r = 0;

	while (r == 0 && more) {
		struct histobj_page p;

		memset(&p, 0, sizeof(p));
		r = history_read_page(&p, &ref, io);
		for (size_t i = 0; r == 0 && more && i < p.n; i++)
			more = head_chain_entry(w, &p.entries[i]);
		if (r == 0 && more) {
			more = p.has_next;
			ref = p.next;
		}
		free(p.entries);
	}
	return r;
}

enum head_chain_verdict head_chain_check(const struct dirobj_head *head, uint64_t pin_seq,
					 const uint8_t pin_hash[HEAD_HASH_BYTES],
					 const struct dirobj_head *pinned,
					 const struct history_io *io, int *why)
{
	struct head_chain_walk w = {.pin_seq = pin_seq, .pinned = pinned};
	struct dirobj_head rec;
	int r;

	*why = 0;
	if (memcmp(head->parent, pin_hash, HEAD_HASH_BYTES) == 0)
		return HEAD_CHAIN_DESCENDS;
	if (pinned) /* its own seq: the hash names it, whatever seq a caller kept */
		w.pin_seq = pin_seq = pinned->seq;
	if (pinned && head->seq <= pin_seq)
		return HEAD_CHAIN_FORK; /* another head of its seq, or an older one */
	/* No shortcut for head->seq == pin_seq + 1: a head put after the
	 * keys went names its record's parent, which may be the pinned head's
	 * own bytes before they were sealed again for the store. */
	r = head_chain_pages(head, &w, io);
	if (r == 0 && w.decided)
		return w.verdict;
	if (r == 0 && w.has_above) {
		/* The pinned head's child names it, if it is retained. Only a
		 * proof: a record holds the parent its commit sealed, which may
		 * be a head the store never took (FORMAT.md, "Head records"). */
		memset(&rec, 0, sizeof(rec));
		r = history_read_record(&rec, &w.above.rec, w.above.size, io);
		if (r == 0 && memcmp(rec.parent, pin_hash, HEAD_HASH_BYTES) == 0)
			w.verdict = HEAD_CHAIN_DESCENDS, w.decided = true;
		dirobj_head_release(&rec);
	}
	*why = r;
	return w.decided ? w.verdict : HEAD_CHAIN_UNKNOWN;
}

/* The verdict for remote (opened) against (seq, hash), lock held. */
static int head_chain_judge(struct head_chain *c, const struct dirobj_head *remote, uint64_t seq,
			    const uint8_t hash[HEAD_HASH_BYTES], const char *cache_dir)
{
	struct dirobj_head pinned;
	struct history_io io;
	unsigned char *kept = NULL;
	size_t klen = 0;
	bool have;
	int why = 0;
	enum head_chain_verdict v;

	memset(&pinned, 0, sizeof(pinned));
	have = head_pin_read_head(cache_dir, hash, &kept, &klen) == 0 &&
	       seal_open_head(&pinned, kept, klen, c->vault_id, c->meta_key, c->format) == 0;
	free(kept);
	history_io_store(&io, c->store, c->vault_id, c->meta_key);
	v = head_chain_check(remote, seq, hash, have ? &pinned : NULL, &io, &why);
	dirobj_head_release(&pinned);
	return v == HEAD_CHAIN_DESCENDS ? 1 : v == HEAD_CHAIN_FORK ? 0 : -1;
}

int head_chain_descends(void *ctx, const unsigned char *remote, size_t len, uint64_t seq,
			const uint8_t hash[HEAD_HASH_BYTES], const char *cache_dir)
{
	struct head_chain *c = ctx;
	struct dirobj_head h;
	uint8_t have[HEAD_HASH_BYTES];
	int r = -1;

	head_hash(have, remote, len);
	if (memcmp(have, hash, HEAD_HASH_BYTES) == 0)
		return 1;
	memset(&h, 0, sizeof(h));
	pthread_mutex_lock(&c->lock);
	if (!c->off && c->format >= 2 &&
	    seal_open_head(&h, remote, len, c->vault_id, c->meta_key, c->format) == 0)
		r = head_chain_judge(c, &h, seq, hash, cache_dir);
	pthread_mutex_unlock(&c->lock);
	dirobj_head_release(&h);
	return r;
}
