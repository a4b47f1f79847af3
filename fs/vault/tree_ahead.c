/* tree_ahead.c - read-ahead across the files of a directory read in the
 * order of its listing (tar, cp -r, grep -r): each small file's one segment
 * is a cache file of its own (CACHE/o/<hh>/<key>), scattered over the disk,
 * so a cold reader waits for the disk once or more per file. When the opens
 * follow the listing, the cache files of the next files are handed to the
 * read-ahead threads (fs/cache/prefetch.h, prefetch_warm), which open them
 * and ask the kernel to read them in, several at a time, while the program
 * works on the current one; with a remote store they fetch the ones not
 * cached yet (the reader would, one GET after another). A hint only: it
 * reads no plaintext, does no I/O on the opener's thread and logs nothing;
 * a file it could not warm is read as before. */
#include "tree_int.h"

#include "cache.h"
#include "chunk.h"
#include "prefetch.h"

/* The window ahead of the reader, in table slots (a table is at most 4/5
 * full: about 16 files); it is topped up when the reader is half way. */
#define AHEAD_SLOTS 20u

struct ahead_key {
	uint8_t key[OBJECT_ID_BYTES];
	uint64_t len; /* the sealed segment's bytes */
};

/* c's one segment when c is a closed file of one present segment (tree_lock
 * held; takes c's lock). Open and changed files are left alone: they are in
 * use already, and a dirty segment is no cache object to warm. */
static bool ahead_key(const struct tree *t, struct inode *c, struct ahead_key *out)
{
	const uint8_t *key;
	bool ok = false;

	if (c->type != DIROBJ_FILE || c->unlinked)
		return false;
	tree_inode_lock(c);
	if (!c->content && content_cold_nsegs(&c->cold) == 1 &&
	    (key = content_cold_key(&c->cold, 0)) != NULL) {
		memcpy(out->key, key, OBJECT_ID_BYTES);
		out->len =
		    chunk_segment_stored_bytes(t->cctx.suite, content_cold_size(&c->cold), 0);
		ok = true;
	}
	tree_inode_unlock(c);
	return ok;
}

/* Whether the open of ino at slot of dir follows the listing: a later slot
 * of the directory opened last, or one of the first slots of another (a walk
 * entering it). Records this open either way (tree_lock held). */
static bool ahead_in_order(struct tree *t, const struct inode *dir, size_t slot)
{
	bool same = dir == t->ahead_dir,
	     in_order = same ? slot > t->ahead_slot : slot < AHEAD_SLOTS;

	if (!same || slot <= t->ahead_slot)
		t->ahead_next = 0; /* a new walk: nothing warmed ahead of it yet */
	t->ahead_dir = dir;
	t->ahead_slot = slot;
	return in_order;
}

/* Fills keys (room for AHEAD_SLOTS) with the files to warm after ino's open;
 * returns how many (tree_lock held). */
static size_t ahead_pick_locked(struct tree *t, const struct inode *ino, struct ahead_key *keys)
{
	const struct inode *dir = ino->parent;
	size_t slot, s, end, n = 0;

	if (!dir || ino->unlinked || !dir->ds->loaded)
		return 0;
	slot = tree_table_slot(t, dir, ino);
	if (slot == SIZE_MAX || !ahead_in_order(t, dir, slot))
		return 0;
	s = t->ahead_next > slot + 1 ? t->ahead_next : slot + 1;
	if (s > slot + AHEAD_SLOTS / 2)
		return 0; /* still far enough ahead */
	end = slot + AHEAD_SLOTS < dir->ds->table_size ? slot + AHEAD_SLOTS : dir->ds->table_size;
	for (; s < end; s++)
		if (dir->ds->table[s] && ahead_key(t, dir->ds->table[s], &keys[n]))
			n++;
	t->ahead_next = s;
	return n;
}

void tree_ahead_open(struct tree *t, struct inode *ino)
{
	struct ahead_key keys[AHEAD_SLOTS];
	char text[AHEAD_SLOTS][OBJECT_KEY_TEXT_BYTES];
	uint64_t lens[AHEAD_SLOTS];
	size_t n;

	if (!t->warm || ino->type != DIROBJ_FILE)
		return;
	pthread_mutex_lock(&t->lock);
	n = ahead_pick_locked(t, ino, keys);
	pthread_mutex_unlock(&t->lock);
	for (size_t i = 0; i < n; i++) {
		object_key_text(text[i], keys[i].key);
		lens[i] = keys[i].len;
	}
	/* a remote store (content_ctx.prefetch set): fetch what is not cached */
	prefetch_warm(t->warm, (const char(*)[OBJECT_KEY_TEXT_BYTES])text, lens, n,
		      t->cctx.prefetch != NULL);
}
