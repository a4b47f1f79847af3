/* tree_ahead.c - read-ahead across the files of a directory read file by
 * file (tar, grep -r, cp -r, a shell glob): each small file's one segment
 * is a cache file of its own (CACHE/o/<hh>/<key>), scattered over the disk,
 * so a cold reader waits for the disk once or more per file. When files of
 * one directory are opened one after another (following the listing, or
 * in another order: ahead_plan), the cache files of the next files are
 * handed to the read-ahead threads (fs/cache/prefetch.h, prefetch_warm),
 * which open them and ask the kernel to read them in, several at a time,
 * while the program works on the current one; with a remote store they
 * fetch the ones not cached yet (the reader would, one GET after another).
 * A hint only: it reads no plaintext, does no I/O on the opener's thread
 * and logs nothing; a file it could not warm is read as before. */
#include "tree_int.h"

#include "cache.h"
#include "chunk.h"
#include "meta.h"
#include "prefetch.h"

/* In the listing's order: the window ahead of the reader, in table slots
 * (a table is at most 4/5 full: about 16 files), topped up when the reader
 * is half way. In another order (cp -r goes by inode number, a shell glob
 * by name): from the second open on, each open sweeps the next
 * AHEAD_SWEEP slots of the table from its start, so the directory is warmed
 * at a pace bound to the reader's. */
#define AHEAD_SLOTS 20u
#define AHEAD_SWEEP 40u
/* A listing warms at most this many subdirectories' objects (half the
 * queue: room is left for the files a reader opens next). */
#define AHEAD_SUBDIRS (PREFETCH_QUEUE / 2)
_Static_assert(AHEAD_SLOTS <= AHEAD_SWEEP && AHEAD_SWEEP <= AHEAD_SUBDIRS,
	       "ahead_queue's arrays hold any batch");

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

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* Records an open of the file at slot of dir (tree_lock held) and sets
 * [*from, *to) to the slots to warm. A run is the opens in one directory
 * since another was opened; it is ordered while each open is at a later
 * slot than the one before. */
static void ahead_plan(struct tree *t, const struct inode *dir, size_t slot, size_t *from,
		       size_t *to)
{
	size_t size = dir->ds->table_size;

	*from = *to = 0;
	if (dir != t->ahead_dir) { /* a new run (dir compared, never dereferenced) */
		t->ahead_dir = dir;
		t->ahead_opens = 0;
		t->ahead_ordered = true;
		t->ahead_next = 0;
		t->ahead_sweep = 0;
	} else if (slot <= t->ahead_slot) {
		t->ahead_ordered = false;
	}
	t->ahead_slot = slot;
	t->ahead_opens++;
	if (t->ahead_opens < 2 && slot >= AHEAD_SLOTS)
		return; /* one open far into the listing: nothing known yet */
	if (t->ahead_ordered) {
		*from = t->ahead_next > slot + 1 ? t->ahead_next : slot + 1;
		if (*from > slot + AHEAD_SLOTS / 2)
			return; /* still far enough ahead */
		*to = min_size(slot + AHEAD_SLOTS, size);
		t->ahead_next = *to;
		return;
	}
	*from = t->ahead_sweep;
	*to = min_size(*from + AHEAD_SWEEP, size);
	t->ahead_sweep = *to;
}

/* Fills keys (room for AHEAD_SWEEP) with the files to warm after ino's
 * open; returns how many (tree_lock held). */
static size_t ahead_pick_locked(struct tree *t, const struct inode *ino, struct ahead_key *keys)
{
	const struct inode *dir = ino->parent;
	size_t slot, from, to, n = 0;

	if (!dir || ino->unlinked || !dir->ds->loaded)
		return 0;
	slot = tree_table_slot(t, dir, ino);
	if (slot == SIZE_MAX)
		return 0;
	ahead_plan(t, dir, slot, &from, &to);
	for (size_t s = from; s < to; s++)
		if (dir->ds->table[s] && dir->ds->table[s] != ino &&
		    ahead_key(t, dir->ds->table[s], &keys[n]))
			n++;
	return n;
}

/* Queues keys[0..n) to be warmed (a remote store: fetched when not
 * cached); first: ahead of what is queued (a reader needs them next). */
static void ahead_queue(struct tree *t, const struct ahead_key *keys, size_t n, bool first)
{
	char text[AHEAD_SUBDIRS][OBJECT_KEY_TEXT_BYTES];
	uint64_t lens[AHEAD_SUBDIRS];

	for (size_t i = 0; i < n; i++) {
		object_key_text(text[i], keys[i].key);
		lens[i] = keys[i].len;
	}
	prefetch_warm(t->warm, (const char(*)[OBJECT_KEY_TEXT_BYTES])text, lens, n,
		      (t->cctx.prefetch ? PREFETCH_FETCH : 0) | (first ? PREFETCH_FIRST : 0));
}

void tree_ahead_open(struct tree *t, struct inode *ino)
{
	struct ahead_key keys[AHEAD_SWEEP];
	size_t n;

	if (!t->warm || ino->type != DIROBJ_FILE)
		return;
	pthread_mutex_lock(&t->lock);
	n = ahead_pick_locked(t, ino, keys);
	pthread_mutex_unlock(&t->lock);
	ahead_queue(t, keys, n, true);
}

void tree_ahead_list(struct tree *t, const struct inode *dir)
{
	struct ahead_key keys[AHEAD_SUBDIRS];
	uint8_t ids[AHEAD_SUBDIRS][OBJECT_ID_BYTES];
	struct dirobj_ref refs[AHEAD_SUBDIRS];
	size_t n = 0;

	if (!t->warm && !t->early)
		return;
	pthread_mutex_lock(&t->lock);
	for (size_t s = 0; dir->type == DIROBJ_DIR && dir->ds->loaded && s < dir->ds->table_size &&
			   n < AHEAD_SUBDIRS;
	     s++) {
		const struct inode *c = dir->ds->table[s];

		if (!c || c->type != DIROBJ_DIR || c->ds->loaded || c->ds->ref.version == 0)
			continue;
		memcpy(keys[n].key, c->ds->ref.store_key, OBJECT_ID_BYTES);
		keys[n].len = META_MAX_SEALED_BYTES; /* the bound tree_load reads with */
		memcpy(ids[n], c->id, OBJECT_ID_BYTES);
		refs[n++] = c->ds->ref;
	}
	pthread_mutex_unlock(&t->lock);
	ahead_queue(t, keys, n, false); /* behind the files a reader needs next */
	/* In the listing's order, which a walk descends in: decoded ahead
	 * (tree_early.c) once cached, which the warming makes them. */
	tree_early_add(t->early, (const uint8_t(*)[OBJECT_ID_BYTES])ids, refs, n);
}
