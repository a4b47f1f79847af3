/* commit.c - the copy-on-write commit of the tree to the store, the sealed
 * head, and the rollback guard (CACHE/state). See commit.h for the order of
 * writes. It must never overwrite a stored object other than the head, never
 * delete an object the durable head still reaches, and never log names,
 * contents or keys (store keys are random names and may be logged). */
#include "commit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fdio.h"
#include "cache.h"
#include "hex.h"
#include "head.h"
#include "seal.h"
#include "log.h"
#include "journal.h"
#include "upload.h"

/* Segments copied into the journal record rather than fsync'ed as files. */
#define COMMIT_INLINE_SEG_MAX (128u * 1024u)
#define COMMIT_INLINE_BUDGET (4u * 1024u * 1024u)
/* From this many segments to flush, one syncfs() does it. */
#define COMMIT_SYNCFS_MIN 64u

struct commit_upload {
	uint8_t key[OBJECT_ID_BYTES];
	char *path; /* cache file to store, owned */
};

struct commit_object {
	uint8_t key[OBJECT_ID_BYTES];
	unsigned char *data; /* sealed bytes, owned */
	size_t len;
};

struct commit {
	pthread_mutex_t lock; /* commit_lock */
	struct tree *tree;    /* borrowed */
	struct backend *store;
	char cache_dir[CACHE_PATH_MAX];

	/* commit_lock. Queues survive a failed commit and are retried. */
	uint64_t seq; /* seq of the last head written */
	struct commit_upload *ups;
	size_t nups, ups_cap;
	struct commit_object *objs;
	size_t nobjs, objs_cap;
	uint8_t (*garbage)[OBJECT_ID_BYTES];
	size_t ngarbage, garbage_cap;
	unsigned char *head; /* sealed head of this commit, or NULL */
	size_t head_len;
	struct upload *up; /* borrowed; NULL: commit_run stores synchronously */
	unsigned store_wait_ms; /* set before serving; read-only after */
};

/* ---- growable arrays ---- */

static int commit_reserve(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *p;

	if (n <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < n)
		ncap *= 2;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int commit_add_garbage(struct commit *c, const uint8_t key[OBJECT_ID_BYTES])
{
	int r = commit_reserve((void **)&c->garbage, &c->garbage_cap, c->ngarbage + 1,
			       sizeof(*c->garbage));

	if (r) {
		char hex[33];
		log_msg(LOG_WARNING, "object %s leaks in the store (out of memory)",
			log_id(hex, key));
		return r;
	}
	memcpy(c->garbage[c->ngarbage++], key, OBJECT_ID_BYTES);
	return 0;
}

/* content_upload_cb: queues a dirty segment's cache file for the store. */
static int commit_queue_upload(void *arg, const char *key_text, const char *cache_path)
{
	struct commit *c = arg;
	struct commit_upload *u;
	size_t klen = strlen(key_text);

	if (klen < 2 * OBJECT_ID_BYTES)
		return -EINVAL;
	if (commit_reserve((void **)&c->ups, &c->ups_cap, c->nups + 1, sizeof(*c->ups)))
		return -ENOMEM;
	u = &c->ups[c->nups];
	if (hex_decode(u->key, OBJECT_ID_BYTES, key_text + klen - 2 * OBJECT_ID_BYTES,
		       2 * OBJECT_ID_BYTES) != 0)
		return -EINVAL;
	u->path = strdup(cache_path);
	if (!u->path)
		return -ENOMEM;
	c->nups++;
	return 0;
}

/* ---- sealing (tree_lock held) ---- */

/* Fills e from ino, borrowing its name, target and xattrs; for a file,
 * queues its dirty segments and allocates e->segments (caller frees). */
static int commit_entry(struct commit *c, struct dirobj_entry *e, struct inode *ino)
{
	const struct content_ctx *cctx = &c->tree->cctx;
	uint8_t(*g)[OBJECT_ID_BYTES] = NULL;
	size_t ng = 0;
	int r = 0;

	memset(e, 0, sizeof(*e));
	e->name = ino->name;
	e->name_len = ino->name_len;
	e->type = ino->type;
	memcpy(e->id, ino->id, OBJECT_ID_BYTES);
	e->target = ino->target;
	e->target_len = ino->target_len;
	e->ref = ino->ref;
	e->xattrs = ino->xattrs;
	e->nxattrs = ino->nxattrs;
	pthread_mutex_lock(&ino->lock);
	e->mode = ino->mode;
	e->uid = ino->uid;
	e->gid = ino->gid;
	e->atime = ino->atime;
	e->mtime = ino->mtime;
	e->ctime = ino->ctime;
	if (ino->type == DIROBJ_FILE) {
		r = content_commit(cctx, &ino->content, commit_queue_upload, c, &g, &ng);
		if (r == 0)
			r = content_store(&ino->content, e);
	}
	pthread_mutex_unlock(&ino->lock);
	for (size_t i = 0; i < ng; i++)
		commit_add_garbage(c, g[i]);
	free(g);
	return r;
}

static void commit_entries_free(struct dirobj_entry *es, size_t n)
{
	for (size_t i = 0; es && i < n; i++)
		free(es[i].segments);
	free(es);
}

/* Seals dir's new version into the object queue and points dir at it. */
static int commit_dir(struct commit *c, struct inode *dir)
{
	struct dirobj obj = {.nentries = 0};
	struct commit_object *o;
	uint8_t key[OBJECT_ID_BYTES];
	int r = commit_reserve((void **)&c->objs, &c->objs_cap, c->nobjs + 1, sizeof(*c->objs));

	obj.entries = calloc(dir->nchildren ? dir->nchildren : 1, sizeof(*obj.entries));
	if (r || !obj.entries) {
		free(obj.entries);
		return -ENOMEM;
	}
	memcpy(obj.dir_id, dir->id, OBJECT_ID_BYTES);
	for (size_t i = 0; r == 0 && dir->table && i < dir->table_size; i++)
		for (struct inode *ch = dir->table[i]; ch && r == 0; ch = ch->hash_next)
			r = commit_entry(c, &obj.entries[obj.nentries++], ch);
	randombytes_buf(key, sizeof(key));
	o = &c->objs[c->nobjs];
	if (r == 0)
		r = seal_dir(&o->data, &o->len, &obj, dir->ref.version + 1, key,
				    c->tree->vault_id, c->tree->meta_key);
	commit_entries_free(obj.entries, obj.nentries);
	if (r)
		return r;
	memcpy(o->key, key, OBJECT_ID_BYTES);
	c->nobjs++;
	if (dir->ref.version > 0)
		commit_add_garbage(c, dir->ref.store_key);
	dir->ref.version++;
	memcpy(dir->ref.store_key, key, OBJECT_ID_BYTES);
	dir->dirty = false;
	return 0;
}

/* The dirty directories, parents before children (tree_lock held). */
static int commit_dirty_dirs(struct inode *root, struct inode ***out, size_t *n)
{
	struct inode **dirs = NULL;
	size_t cap = 0, len = 0;

	if (commit_reserve((void **)&dirs, &cap, 1, sizeof(*dirs)))
		return -ENOMEM;
	dirs[len++] = root;
	for (size_t k = 0; k < len; k++) {
		struct inode *d = dirs[k];
		for (size_t i = 0; d->table && i < d->table_size; i++) {
			for (struct inode *ch = d->table[i]; ch; ch = ch->hash_next) {
				if (ch->type != DIROBJ_DIR || !ch->dirty)
					continue;
				if (commit_reserve((void **)&dirs, &cap, len + 1, sizeof(*dirs))) {
					free(dirs);
					return -ENOMEM;
				}
				dirs[len++] = ch;
			}
		}
	}
	*out = dirs;
	*n = len;
	return 0;
}

static int commit_head(struct commit *c)
{
	struct tree *t = c->tree;
	struct dirobj_head head = {.seq = c->seq + 1};
	int r;

	head.root.name = "";
	head.root.type = DIROBJ_DIR;
	memcpy(head.root.id, t->root->id, OBJECT_ID_BYTES);
	head.root.ref = t->root->ref;
	head.root.xattrs = t->root->xattrs;
	head.root.nxattrs = t->root->nxattrs;
	pthread_mutex_lock(&t->root->lock);
	head.root.mode = t->root->mode;
	head.root.uid = t->root->uid;
	head.root.gid = t->root->gid;
	head.root.atime = t->root->atime;
	head.root.mtime = t->root->mtime;
	head.root.ctime = t->root->ctime;
	pthread_mutex_unlock(&t->root->lock);
	r = seal_head(&c->head, &c->head_len, &head, t->vault_id, t->meta_key);
	if (r == 0)
		c->seq++;
	return r;
}

/* Phase 1: seals everything dirty into the queues (takes tree_lock). */
static int commit_collect(struct commit *c)
{
	struct tree *t = c->tree;
	struct inode **dirs = NULL;
	size_t n = 0;
	int r = 0;

	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->ngarbage; i++)
		commit_add_garbage(c, t->garbage[i]);
	t->ngarbage = 0;
	if (t->root->dirty)
		r = commit_dirty_dirs(t->root, &dirs, &n);
	for (size_t i = n; r == 0 && i > 0; i--)
		r = commit_dir(c, dirs[i - 1]);
	/* Write-back: garbage alone also needs a record, hence a head. */
	if (r == 0 && (n > 0 || (c->up && c->ngarbage > 0)))
		r = commit_head(c);
	if (r == 0)
		t->dirty = false;
	pthread_mutex_unlock(&t->lock);
	free(dirs);
	if (r)
		log_msg(LOG_ERR, "commit: sealing the tree failed (errno %d)", -r);
	return r;
}

/* ---- storing (no tree_lock) ---- */

static int commit_key_cmp(const void *a, const void *b) { return memcmp(a, b, OBJECT_ID_BYTES); }

static bool commit_is_garbage(const struct commit *c, const uint8_t key[OBJECT_ID_BYTES])
{
	return c->ngarbage > 0 &&
	       bsearch(key, c->garbage, c->ngarbage, OBJECT_ID_BYTES, commit_key_cmp) != NULL;
}

/* Drops queued objects that nothing will reference any more. */
static void commit_prune(struct commit *c)
{
	size_t k = 0;

	if (c->ngarbage > 1)
		qsort(c->garbage, c->ngarbage, OBJECT_ID_BYTES, commit_key_cmp);
	for (size_t i = 0; i < c->nups; i++) {
		if (commit_is_garbage(c, c->ups[i].key))
			free(c->ups[i].path);
		else
			c->ups[k++] = c->ups[i];
	}
	c->nups = k;
	k = 0;
	for (size_t i = 0; i < c->nobjs; i++) {
		if (commit_is_garbage(c, c->objs[i].key))
			free(c->objs[i].data);
		else
			c->objs[k++] = c->objs[i];
	}
	c->nobjs = k;
}

static int commit_fail(const char *what, const uint8_t key[OBJECT_ID_BYTES], int r)
{
	char text[OBJECT_KEY_TEXT_BYTES];

	if (key) {
		object_key_text(text, key);
		log_msg(LOG_ERR, "commit: %s %s failed (errno %d)", what, text, -r);
	} else {
		log_msg(LOG_ERR, "commit: %s failed (errno %d)", what, -r);
	}
	return -EIO;
}

/* Stores job i: a segment from its cache file, or a directory object (then
 * also cached). */
static int commit_put_one(void *arg, size_t i)
{
	struct commit *c = arg;
	char text[OBJECT_KEY_TEXT_BYTES];
	struct commit_object *o;
	int r;

	if (i < c->nups) {
		object_key_text(text, c->ups[i].key);
		r = c->store->ops->put_file(c->store, text, c->ups[i].path);
		if (r == 0)
			cache_unpin(c->tree->cctx.cache, c->ups[i].key); /* in the store now */
		return r;
	}
	o = &c->objs[i - c->nups];
	object_key_text(text, o->key);
	r = backend_put(c->store, text, o->data, o->len);
	if (r == 0 && cache_write_object(c->tree->cctx.cache, text, o->data, o->len) != 0)
		log_msg(LOG_WARNING, "commit: caching %s failed", text);
	if (r == 0)
		cache_unpin(c->tree->cctx.cache, o->key);
	return r;
}

/* Keeps only the jobs that failed (for the next commit); returns the first
 * failure as -EIO after logging it. */
static int commit_keep_failed(struct commit *c, const int *rc)
{
	size_t ku = 0, ko = 0, nups = c->nups;
	int r = 0;

	for (size_t i = 0; i < nups + c->nobjs; i++) {
		bool seg = i < nups;
		const uint8_t *key = seg ? c->ups[i].key : c->objs[i - nups].key;
		if (rc[i] && r == 0)
			r = commit_fail(seg ? "storing segment" : "storing directory object", key,
					rc[i]);
		if (seg && rc[i])
			c->ups[ku++] = c->ups[i];
		else if (seg)
			free(c->ups[i].path);
		else if (rc[i])
			c->objs[ko++] = c->objs[i - nups];
		else
			free(c->objs[i - nups].data);
	}
	c->nups = ku;
	c->nobjs = ko;
	return r;
}

/* Stores every queued segment and directory object. */
static int commit_put_all(struct commit *c)
{
	int *rc, r;

	if (c->nups + c->nobjs == 0)
		return 0;
	rc = upload_parallel(commit_put_one, c, c->nups + c->nobjs);
	if (!rc)
		return -ENOMEM;
	r = commit_keep_failed(c, rc);
	free(rc);
	return r;
}

static int commit_del_one(void *arg, size_t i)
{
	struct commit *c = arg;
	char text[OBJECT_KEY_TEXT_BYTES];
	int r;

	object_key_text(text, c->garbage[i]);
	r = backend_del(c->store, text);
	if (r == 0)
		cache_drop_object(c->tree->cctx.cache, text);
	return r;
}

/* Deletes the garbage; what fails stays queued for the next commit. */
static void commit_delete_garbage(struct commit *c)
{
	size_t k = 0;
	int *rc;

	if (c->ngarbage == 0)
		return;
	rc = upload_parallel(commit_del_one, c, c->ngarbage);
	if (!rc)
		return;
	for (size_t i = 0; i < c->ngarbage; i++) {
		if (rc[i] == 0)
			continue;
		if (k == 0)
			commit_fail("deleting", c->garbage[i], rc[i]);
		memmove(c->garbage[k++], c->garbage[i], OBJECT_ID_BYTES);
	}
	c->ngarbage = k;
	free(rc);
}

/* Phase 2: segments, objects, sync, head, sync, garbage. */
static int commit_store(struct commit *c)
{
	int r;

	commit_prune(c);
	if (c->nups + c->nobjs == 0 && !c->head)
		goto garbage; /* nothing new: the last head is durable already */
	r = commit_put_all(c);
	if (r == 0 && (r = backend_sync(c->store)) != 0)
		r = commit_fail("syncing the store", NULL, r);
	if (r == 0 && c->head) {
		r = backend_put(c->store, HEAD_STORE_KEY, c->head, c->head_len);
		if (r == 0)
			r = backend_sync(c->store);
		if (r)
			r = commit_fail("storing the head", NULL, r);
	}
	if (r == 0 && c->head && head_state_write(c->cache_dir, c->tree->vault_id, c->seq) != 0)
		log_msg(LOG_WARNING, "commit: remembering head seq %" PRIu64 " failed", c->seq);
	free(c->head);
	c->head = NULL;
	if (r)
		return r;
garbage:
	commit_delete_garbage(c);
	return 0;
}

/* ---- write-back: the journal record ---- */

/* syncfs() of the file system holding the cache: every file's data and
 * every name on it, in one call. */
static int commit_syncfs(const char *cache_dir)
{
	int fd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (syncfs(fd) != 0)
		r = -errno;
	close(fd);
	return r;
}

/* Makes the new segments' cache files durable: data, then names; for many
 * segments (a large file written at once) one syncfs instead of a flush per
 * file and per directory. */
static int commit_sync_segments(struct commit *c)
{
	char text[OBJECT_KEY_TEXT_BYTES];
	uint8_t synced[256 / 8] = {0}; /* CACHE/o/<hh> fsync'ed, by first key byte */

	if (c->nups >= COMMIT_SYNCFS_MIN)
		return commit_syncfs(c->cache_dir);
	for (size_t i = 0; i < c->nups; i++) {
		const uint8_t *key = c->ups[i].key;
		int fd = open(c->ups[i].path, O_RDONLY | O_CLOEXEC), r = 0;
		if (fd < 0)
			return -errno;
		if (fdatasync(fd) != 0)
			r = -errno;
		close(fd);
		if (r == 0 && !(synced[key[0] / 8] & (1u << (key[0] % 8)))) {
			synced[key[0] / 8] |= (uint8_t)(1u << (key[0] % 8));
			object_key_text(text, key);
			r = cache_sync_parent(c->tree->cctx.cache, text);
		}
		if (r)
			return r;
	}
	return 0;
}

/* Reads a segment's cache file into a new buffer when it is at most max
 * bytes: 0 (*data set), 1 (too big: leave it a file), or -errno. */
static int commit_slurp(unsigned char **data, size_t *len, const char *path, size_t max)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 1;

	*data = NULL;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0)
		r = -errno;
	else if ((uint64_t)st.st_size <= max) {
		*len = (size_t)st.st_size;
		*data = malloc(*len ? *len : 1);
		r = !*data ? -ENOMEM : fdio_pread_all(fd, *data, *len, 0, NULL);
		if (r == -ENODATA)
			r = -EIO; /* shrank under us: never happens to a committed segment */
		if (r < 0) {
			free(*data);
			*data = NULL;
		}
	}
	close(fd);
	return r;
}

/* Moves small new segments into the record itself (docs/INTERNALS.md,
 * "Commit"): their bytes then become durable with the record's one
 * fdatasync, instead of an fdatasync of each file and an fsync of its
 * directory. Up to COMMIT_INLINE_BUDGET bytes per record, segments of at most
 * COMMIT_INLINE_SEG_MAX bytes. A segment's bytes never change after
 * content_commit handed it out, so the copy is exact. */
static int commit_inline_segments(struct commit *c)
{
	size_t budget = COMMIT_INLINE_BUDGET, k = 0;
	int r = 0;

	for (size_t i = 0; i < c->nups; i++) {
		struct commit_upload *u = &c->ups[i];
		unsigned char *data = NULL;
		size_t len = 0;
		int s = 1;

		if (r == 0 && budget > 0)
			s = commit_slurp(&data, &len, u->path,
					 budget < COMMIT_INLINE_SEG_MAX ? budget : COMMIT_INLINE_SEG_MAX);
		if (s == 0 && commit_reserve((void **)&c->objs, &c->objs_cap, c->nobjs + 1,
					     sizeof(*c->objs)) != 0) {
			free(data);
			s = -ENOMEM;
		}
		if (s != 0) {
			if (s < 0)
				r = s;
			c->ups[k++] = *u;
			continue;
		}
		c->objs[c->nobjs++] = (struct commit_object){.data = data, .len = len};
		memcpy(c->objs[c->nobjs - 1].key, u->key, OBJECT_ID_BYTES);
		free(u->path);
		budget -= len;
	}
	c->nups = k;
	return r;
}

static void commit_clear_queues(struct commit *c)
{
	for (size_t i = 0; i < c->nups; i++)
		free(c->ups[i].path);
	for (size_t i = 0; i < c->nobjs; i++)
		free(c->objs[i].data);
	c->nups = c->nobjs = c->ngarbage = 0;
}

static int commit_write_record(struct commit *c)
{
	struct journal_record rec = {.seq = c->seq, .head = c->head, .head_len = c->head_len,
				     .nobjs = c->nobjs, .nsegs = c->nups,
				     .garbage = (const uint8_t(*)[OBJECT_ID_BYTES])c->garbage,
				     .ngarbage = c->ngarbage};
	uint8_t(*segs)[OBJECT_ID_BYTES] = malloc((c->nups ? c->nups : 1) * OBJECT_ID_BYTES);
	int r = -ENOMEM;

	rec.objs = calloc(c->nobjs ? c->nobjs : 1, sizeof(*rec.objs));
	if (segs && rec.objs) {
		for (size_t i = 0; i < c->nups; i++)
			memcpy(segs[i], c->ups[i].key, OBJECT_ID_BYTES);
		for (size_t i = 0; i < c->nobjs; i++) {
			memcpy(rec.objs[i].key, c->objs[i].key, OBJECT_ID_BYTES);
			rec.objs[i].data = c->objs[i].data;
			rec.objs[i].len = c->objs[i].len;
		}
		rec.segs = (const uint8_t(*)[OBJECT_ID_BYTES])segs;
		r = journal_write(c->cache_dir, &rec);
	}
	free(segs);
	free(rec.objs);
	return r;
}

/* Phase 1's durable half: segments fdatasync'ed, then one journal record;
 * the uploader takes it from there. On failure the queues stay (the next
 * commit's record carries them) and the unwritten head is dropped. */
static int commit_journal(struct commit *c)
{
	int r;

	commit_prune(c);
	if (!c->head)
		return 0; /* nothing sealed since the last record */
	r = commit_inline_segments(c);
	if (r == 0)
		r = commit_sync_segments(c);
	if (r == 0)
		r = commit_write_record(c);
	free(c->head);
	c->head = NULL;
	if (r) {
		log_msg(LOG_ERR, "commit: writing journal record %016" PRIx64 " failed (errno %d)",
			c->seq, -r);
		return -EIO;
	}
	commit_clear_queues(c);
	upload_kick(c->up);
	return 0;
}

/* commit_run; *seq_out (if not NULL) gets the new head's seq, 0 if none. */
static int commit_run_seq(struct commit *c, uint64_t *seq_out)
{
	uint64_t before, after;
	int r;

	pthread_mutex_lock(&c->lock);
	before = c->seq;
	r = commit_collect(c);
	if (r == 0)
		r = c->up ? commit_journal(c) : commit_store(c);
	if (r) {
		/* Keep everything: the next commit writes a new head over the
		 * queued objects. */
		pthread_mutex_lock(&c->tree->lock);
		tree_mark_dirty_locked(c->tree, c->tree->root);
		pthread_mutex_unlock(&c->tree->lock);
	}
	after = c->seq;
	pthread_mutex_unlock(&c->lock);
	if (seq_out)
		*seq_out = after > before ? after : 0;
	return r == -ENOMEM ? r : (r ? -EIO : 0);
}

int commit_run(struct commit *c)
{
	return commit_run_seq(c, NULL);
}

int commit_sync(struct commit *c)
{
	uint64_t seq;
	int r = commit_run_seq(c, &seq);

	/* Outside commit_lock: other commits go on while this one uploads. */
	if (r == 0 && c->up && c->store_wait_ms > 0 && seq > 0 &&
	    !upload_wait(c->up, seq, c->store_wait_ms))
		r = -EIO;
	return r;
}

void commit_set_store_wait(struct commit *c, unsigned ms)
{
	c->store_wait_ms = ms;
}

/* CACHE/o/00..ff, created and made durable once, so that a segment file's
 * name is durable after an fsync of its own directory. */
static int commit_prepare_cache(const char *cache_dir)
{
	char path[CACHE_PATH_MAX];
	int fd, r = 0;

	for (unsigned i = 0; i < 256 && r == 0; i++) {
		snprintf(path, sizeof(path), "%s/o/%02x", cache_dir, i);
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			r = -errno;
	}
	snprintf(path, sizeof(path), "%s/o", cache_dir);
	fd = r ? -1 : open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r == 0 && fd < 0)
		r = -errno;
	if (fd >= 0 && fsync(fd) != 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	return r;
}

int commit_set_uploader(struct commit *c, struct upload *up)
{
	int r = commit_prepare_cache(c->cache_dir);

	if (r)
		return r;
	pthread_mutex_lock(&c->lock);
	c->up = up;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

uint64_t commit_seq(struct commit *c)
{
	uint64_t seq;

	pthread_mutex_lock(&c->lock);
	seq = c->seq;
	pthread_mutex_unlock(&c->lock);
	return seq;
}

int commit_new(struct commit **out, struct tree *t, struct backend *store, uint64_t seq,
	       const char *cache_dir)
{
	struct commit *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return -ENOMEM;
	if (strlen(cache_dir) >= sizeof(c->cache_dir)) {
		free(c);
		return -ENAMETOOLONG;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->tree = t;
	c->store = store;
	c->seq = seq;
	memcpy(c->cache_dir, cache_dir, strlen(cache_dir) + 1);
	*out = c;
	return 0;
}

void commit_free(struct commit *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nups; i++)
		free(c->ups[i].path);
	for (size_t i = 0; i < c->nobjs; i++)
		free(c->objs[i].data);
	free(c->ups);
	free(c->objs);
	free(c->garbage);
	free(c->head);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
