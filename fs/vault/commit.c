/* commit.c - the copy-on-write commit of the tree: sealing a snapshot and
 * making it durable as one journal record that the uploader stores (see
 * commit.h for the order of writes). It must never reuse a store key, never
 * leave a record the uploader could store before every object it lists is
 * durable in the cache, and never log names, contents or keys (store keys
 * are random names and may be logged). */
#include "commit.h"
#include "commit_int.h"

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

#include "cache.h"
#include "chunk.h"
#include "dirio.h"
#include "fault.h"
#include "fdio.h"
#include "history.h"
#include "journal.h"
#include "log.h"
#include "seal.h"
#include "upload.h"

/* ---- growable arrays ---- */

int commit_reserve(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *p;

	if (n <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < n)
		ncap *= 2;
	p = fault_fire(FAULT_ALLOC) ? NULL : realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int commit_add_garbage_c(struct commit *c, const uint8_t key[OBJECT_ID_BYTES],
				uint64_t created)
{
	int r = commit_reserve((void **)&c->garbage, &c->garbage_cap, c->ngarbage + 1,
			       sizeof(*c->garbage));

	if (r == 0)
		r = commit_reserve((void **)&c->garbage_c, &c->garbage_c_cap, c->ngarbage + 1,
				   sizeof(*c->garbage_c));

	if (r) {
		char hex[33];
		log_msg(LOG_WARNING, "object %s leaks in the store (out of memory)",
			log_id(hex, key));
		return r;
	}
	c->garbage_c[c->ngarbage] = created;
	memcpy(c->garbage[c->ngarbage++], key, OBJECT_ID_BYTES);
	return 0;
}

/* ---- sealing (tree_lock held) ---- */

/* Fills e from ino, borrowing its name, target and xattrs; for a file,
 * queues its dirty segments and allocates e->segments (caller frees). */
static int commit_entry(struct commit *c, struct dirobj_entry *e, struct inode *ino)
{
	const struct content_ctx *cctx = &c->tree->cctx;
	struct content_garbage *g = NULL;
	size_t ng = 0;
	int r = 0;

	memset(e, 0, sizeof(*e));
	e->name = tree_name(ino);
	e->name_len = ino->name_len;
	e->type = ino->type;
	memcpy(e->id, ino->id, OBJECT_ID_BYTES);
	if (ino->type == DIROBJ_SYMLINK) {
		e->target = ino->target;
		e->target_len = ino->target_len;
	}
	if (ino->type == DIROBJ_DIR)
		e->ref = ino->ds->ref;
	if (tree_type_special(ino->type))
		e->rdev = ino->rdev;
	e->xattrs = ino->xattrs;
	e->nxattrs = ino->nxattrs;
	tree_inode_lock(ino);
	e->mode = ino->mode;
	e->uid = ino->uid;
	e->gid = ino->gid;
	e->atime = ino->atime;
	e->mtime = ino->mtime;
	e->ctime = ino->ctime;
	if (ino->type == DIROBJ_FILE && !ino->content) {
		r = content_cold_store(&ino->cold, e); /* cold: unchanged */
	} else if (ino->type == DIROBJ_FILE) {
		/* Changed since the last commit: a failure of this attempt is
		 * reported to it (tree_commit_failed_locked). */
		if (ino->content->snap_valid)
			ino->commit_try = (uint32_t)c->tries; /* its low 32 bits */
		r = content_commit(cctx, ino->content, c->seq + 1, commit_queue_upload, c, &g, &ng);
		if (r == 0)
			r = content_store(ino->content, e);
		if (r == 0 && ino->nopen == 0)
			tree_file_idle_locked(ino); /* closed and now clean: cold */
	}
	tree_inode_unlock(ino);
	for (size_t i = 0; i < ng; i++)
		commit_add_garbage_c(c, g[i].key, g[i].created);
	free(g);
	return r;
}

static void commit_entries_free(struct dirobj_entry *es, size_t n)
{
	for (size_t i = 0; es && i < n; i++)
		free(es[i].segments);
	free(es);
}

/* Sinks: a sealed object queued for upload (data taken); a replaced one, garbage. */
static int commit_itable_object(void *arg, const uint8_t key[OBJECT_ID_BYTES], unsigned char *data,
				size_t len)
{
	struct commit *c = arg;

	if (commit_reserve((void **)&c->objs, &c->objs_cap, c->nobjs + 1, sizeof(*c->objs))) {
		free(data);
		return -ENOMEM;
	}
	c->objs[c->nobjs] = (struct commit_object){.data = data, .len = len};
	memcpy(c->objs[c->nobjs++].key, key, OBJECT_ID_BYTES);
	return 0;
}

static int commit_itable_garbage(void *arg, const uint8_t key[OBJECT_ID_BYTES], uint64_t created)
{
	return commit_add_garbage_c(arg, key, created);
}

/* Seals dir's new version (in format 3 perhaps an index and its changed
 * pages, dirio.h) into the object queue and points dir at it. */
static int commit_dir(struct commit *c, struct inode *dir)
{
	const struct dirio_keys k = {c->tree->vault_id, c->tree->meta_key, c->tree->cctx.format};
	const struct dirio_sink sink = {c, commit_itable_object, commit_itable_garbage};
	uint64_t created = c->tree->cctx.format >= 2 ? c->seq + 1 : 0; /* the head sealed next */
	struct dirobj obj = {.nentries = 0};
	struct dirio_pages *pages = NULL;
	unsigned char *data = NULL;
	uint8_t key[OBJECT_ID_BYTES];
	size_t len = 0, mark = c->nobjs;
	int r = 0;

	if (c->tree->cctx.format >= 2)
		tree_links_single_locked(c->tree, dir); /* a last name: a file entry again */
	obj.entries = calloc(dir->ds->nchildren ? dir->ds->nchildren : 1, sizeof(*obj.entries));
	if (!obj.entries)
		return -ENOMEM;
	memcpy(obj.dir_id, dir->id, OBJECT_ID_BYTES);
	TREE_FOR_CHILDREN (dir, ch)
		if (r == 0)
			r = commit_entry(c, &obj.entries[obj.nentries++], ch);
	chunk_random_public(key, sizeof(key)); /* a store key */
	if (r == 0)
		r = dirio_seal(&data, &len, &pages, &obj, tree_pages_of_locked(dir),
			       dir->ds->ref.version + 1, key, created, &k, &sink);
	commit_entries_free(obj.entries, obj.nentries);
	if (r == 0)
		r = commit_itable_object(c, key, data, len); /* after its pages; takes data */
	if (r) { /* nothing of this directory stays queued */
		while (c->nobjs > mark)
			free(c->objs[--c->nobjs].data);
		dirio_pages_free(pages);
		return r;
	}
	if (dir->ds->ref.version > 0)
		commit_add_garbage_c(c, dir->ds->ref.store_key, dir->ds->ref.created);
	dir->ds->ref.version++;
	memcpy(dir->ds->ref.store_key, key, OBJECT_ID_BYTES);
	dir->ds->ref.created = created;
	tree_pages_set_locked(dir, pages);
	dir->ds->obj_pending = true; /* in the journal only, until uploaded */
	tree_dir_clean_locked(c->tree, dir);
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
		TREE_FOR_CHILDREN (d, ch) {
			if (ch->type != DIROBJ_DIR || !ch->ds->dirty)
				continue;
			if (commit_reserve((void **)&dirs, &cap, len + 1, sizeof(*dirs))) {
				free(dirs);
				return -ENOMEM;
			}
			dirs[len++] = ch;
		}
	}
	*out = dirs;
	*n = len;
	return 0;
}

/* ---- the inode table's side (tree_itable_cb; tree_lock held) ---- */

static int commit_itable_entry(void *arg, struct dirobj_entry *e, struct inode *file)
{
	return commit_entry(arg, e, file);
}

/* Format 2: the inode table's changed pages (1: sealed some, 0: none). */
static int commit_itable(struct commit *c)
{
	const struct tree_itable_cb cb = {.arg = c,
					  .entry = commit_itable_entry,
					  .object = commit_itable_object,
					  .garbage = commit_itable_garbage};

	return c->tree->cctx.format >= 2 ? tree_itable_seal_locked(c->tree, c->seq, &cb) : 0;
}

/* Format 2: the garbage of this commit (less what never reached a head:
 * the queue's own objects, commit_prune) into its garbage list, the
 * previous head into the history; fills head's keep, gr, hist and g. */
static int commit_history(struct commit *c, struct dirobj_head *head)
{
	struct history_garbage *g;
	struct timespec now;
	int r;

	commit_prune(c);
	g = malloc((c->ngarbage ? c->ngarbage : 1) * sizeof(*g));
	if (!g)
		return -ENOMEM;
	for (size_t i = 0; i < c->ngarbage; i++) {
		memcpy(g[i].key, c->garbage[i], OBJECT_ID_BYTES);
		g[i].created = c->garbage_c[i];
	}
	clock_gettime(CLOCK_REALTIME, &now);
	if (head->time.sec == 0) {
		head->time.sec = now.tv_sec;
		head->time.nsec = (uint32_t)now.tv_nsec;
	}
	r = history_seal(c->hist, head, g, c->ngarbage, now.tv_sec, &c->hout);
	free(g);
	if (r == 0)
		upload_set_grace(c->up, head->grace);
	return r;
}

static int commit_head(struct commit *c)
{
	struct tree *t = c->tree;
	struct dirobj_head head = {.seq = c->seq + 1};
	int r;

	head.root.name = "";
	head.root.type = DIROBJ_DIR;
	memcpy(head.root.id, t->root->id, OBJECT_ID_BYTES);
	head.root.ref = t->root->ds->ref;
	head.root.xattrs = t->root->xattrs;
	head.root.nxattrs = t->root->nxattrs;
	tree_inode_lock(t->root);
	head.root.mode = t->root->mode;
	head.root.uid = t->root->uid;
	head.root.gid = t->root->gid;
	head.root.atime = t->root->atime;
	head.root.mtime = t->root->mtime;
	head.root.ctime = t->root->ctime;
	tree_inode_unlock(t->root);
	if (t->cctx.format >= 2) {
		seal_head_carry(&head, &t->head_tmpl);
		tree_now(&head.time);
	}
	r = c->hist ? commit_history(c, &head) : 0;
	if (r == 0)
		r = seal_head(&c->head, &c->head_len, &head, t->vault_id, t->meta_key,
			      t->cctx.format);
	if (r == 0)
		c->seq++;
	else
		history_out_free(&c->hout);
	return r;
}

/* Phase 1: seals everything dirty into the queues (takes tree_lock). */
static int commit_collect(struct commit *c)
{
	struct tree *t = c->tree;
	struct inode **dirs = NULL;
	size_t n = 0;
	int r = 0, tbl = 0;

	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->ngarbage; i++)
		commit_add_garbage_c(c, t->garbage[i].key, t->garbage[i].created);
	t->ngarbage = 0;
	if (t->root->ds->dirty)
		r = commit_dirty_dirs(t->root, &dirs, &n);
	for (size_t i = n; r == 0 && i > 0; i--)
		r = commit_dir(c, dirs[i - 1]);
	if (r == 0 && (tbl = commit_itable(c)) < 0) /* after the dirs: they may drop records */
		r = tbl;
	/* Garbage alone also needs a record, hence a head. */
	if (r == 0 && (n > 0 || c->ngarbage > 0 || tbl > 0))
		r = commit_head(c);
	if (r == 0)
		t->dirty = false;
	tree_trim_locked(t); /* what the commit made clean may be unloaded */
	pthread_mutex_unlock(&t->lock);
	free(dirs);
	if (r)
		log_msg(LOG_ERR, "commit: sealing the tree failed (errno %d)", -r);
	return r;
}

/* ---- pruning (no tree_lock) ---- */

static int commit_key_cmp(const void *a, const void *b) { return memcmp(a, b, OBJECT_ID_BYTES); }

static bool commit_is_garbage(const struct commit *c, const uint8_t key[OBJECT_ID_BYTES])
{
	return c->ngarbage > 0 &&
	       bsearch(key, c->garbage, c->ngarbage, OBJECT_ID_BYTES, commit_key_cmp) != NULL;
}

/* Sorts the garbage keys (for bsearch), keeping each key's created seq
 * with it. */
static void commit_sort_garbage(struct commit *c)
{
	struct commit_gc {
		uint8_t key[OBJECT_ID_BYTES];
		uint64_t c;
	} * a;

	if (c->ngarbage < 2)
		return;
	a = malloc(c->ngarbage * sizeof(*a));
	if (!a) { /* the created seqs are only a help: 0 is always safe */
		memset(c->garbage_c, 0, c->ngarbage * sizeof(*c->garbage_c));
		qsort(c->garbage, c->ngarbage, OBJECT_ID_BYTES, commit_key_cmp);
		return;
	}
	for (size_t i = 0; i < c->ngarbage; i++) {
		memcpy(a[i].key, c->garbage[i], OBJECT_ID_BYTES);
		a[i].c = c->garbage_c[i];
	}
	qsort(a, c->ngarbage, sizeof(*a), commit_key_cmp);
	for (size_t i = 0; i < c->ngarbage; i++) {
		memcpy(c->garbage[i], a[i].key, OBJECT_ID_BYTES);
		c->garbage_c[i] = a[i].c;
	}
	free(a);
}

/* Drops queued objects that nothing will reference any more. */
void commit_prune(struct commit *c)
{
	size_t k = 0;

	commit_sort_garbage(c);
	for (size_t i = 0; i < c->nups; i++) {
		if (commit_is_garbage(c, c->ups[i].key))
			commit_upload_free(c, &c->ups[i]);
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

/* Format 2, before tree_lock: thinning's reads (history_prepare). A failure
 * only postpones thinning (logged there). */
static void commit_history_prepare(struct commit *c)
{
	struct upload_stats st;
	struct timespec now;

	upload_stats(&st, c->up);
	clock_gettime(CLOCK_REALTIME, &now);
	history_set_slot(c->hist, c->tree->head_slot); /* thinning's first tier too */
	(void)history_prepare(c->hist, now.tv_sec, st.stored_seq);
}

/* commit_run; *seq_out (if not NULL) gets the new head's seq, 0 if none. */
static int commit_run_seq(struct commit *c, uint64_t *seq_out)
{
	uint64_t before, after;
	int r;

	pthread_mutex_lock(&c->lock);
	before = c->seq;
	c->tries++;
	if (c->hist)
		commit_history_prepare(c);
	r = commit_collect(c);
	if (r == 0)
		r = commit_journal(c);
	if (r) {
		/* Keep everything: the next commit writes a new head over the
		 * queued objects. The files whose changes this attempt held
		 * hear of it at their next fsync or close. */
		pthread_mutex_lock(&c->tree->lock);
		tree_mark_dirty_locked(c->tree, c->tree->root);
		tree_commit_failed_locked(c->tree, c->tries, r == -ENOMEM ? r : -EIO);
		pthread_mutex_unlock(&c->tree->lock);
	}
	after = c->seq;
	pthread_mutex_unlock(&c->lock);
	if (seq_out)
		*seq_out = after > before ? after : 0;
	return r == -ENOMEM ? r : (r ? -EIO : 0);
}

int commit_run(struct commit *c) { return commit_run_seq(c, NULL); }

int commit_sync(struct commit *c)
{
	uint64_t seq;
	int r = commit_run_seq(c, &seq);

	/* Outside commit_lock: other commits go on while this one uploads. */
	if (r == 0 && c->store_wait_ms > 0 && seq > 0 && !upload_wait(c->up, seq, c->store_wait_ms))
		r = -EIO;
	return r;
}

void commit_set_store_wait(struct commit *c, unsigned ms) { c->store_wait_ms = ms; }

void commit_set_history(struct commit *c, struct history *h) { c->hist = h; }

uint32_t commit_head_slot(struct commit *c)
{
	uint32_t slot;

	pthread_mutex_lock(&c->lock);
	slot = c->tree->head_slot;
	pthread_mutex_unlock(&c->lock);
	return slot;
}

uint64_t commit_seq(struct commit *c)
{
	uint64_t seq;

	pthread_mutex_lock(&c->lock);
	seq = c->seq;
	pthread_mutex_unlock(&c->lock);
	return seq;
}

int commit_reserve_seq(struct commit *c, uint64_t above, uint64_t newest, uint64_t *out)
{
	int r = 0;

	pthread_mutex_lock(&c->lock);
	if (c->seq != newest) {
		r = -EAGAIN; /* a record newer than the merge's: merge it too */
	} else {
		c->seq = (c->seq > above ? c->seq : above) + 1;
		*out = c->seq;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* The head template after a refresh: parent, and head's window. */
static void commit_quiet_tmpl(struct tree *t, const struct dirobj_head *head,
			      const uint8_t parent[32])
{
	memcpy(t->head_tmpl.parent, parent, sizeof(t->head_tmpl.parent));
	t->head_tmpl.keep = head->keep;
	t->head_tmpl.grace = head->grace;
}

int commit_quiet(struct commit *c, const struct dirobj_head *head, const uint8_t parent[32],
		 int (*fn)(void *ctx), void *ctx)
{
	struct history *nh = NULL;
	uint64_t *seqs = NULL;
	size_t n = 0;
	int r;

	pthread_mutex_lock(&c->lock);
	r = journal_list(&seqs, &n, c->journal);
	if (r == 0 && (n > 0 || c->head || c->nobjs))
		r = -EAGAIN;   /* a commit is waiting for the store or half made */
	if (r == 0 && c->hist) /* the store's retained heads go on from head's */
		r = history_reopen(&nh, c->hist, head);
	if (r == 0)
		r = fn(ctx);
	if (r == 0) {
		if (c->seq < head->seq)
			c->seq = head->seq;
		if (c->tree->cctx.format >= 2)
			commit_quiet_tmpl(c->tree, head, parent);
		if (nh) {
			history_free(c->hist);
			c->hist = nh;
			nh = NULL;
		}
	}
	pthread_mutex_unlock(&c->lock);
	history_free(nh);
	free(seqs);
	return r;
}

int commit_new(struct commit **out, struct tree *t, struct journal *journal, struct upload *up,
	       uint64_t seq, const char *cache_dir)
{
	struct commit *c;

	*out = NULL;
	if (strlen(cache_dir) >= sizeof(c->cache_dir))
		return -ENAMETOOLONG;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->tree = t;
	c->journal = journal;
	c->up = up;
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
		commit_upload_free(c, &c->ups[i]);
	for (size_t i = 0; i < c->nobjs; i++)
		free(c->objs[i].data);
	free(c->ups);
	free(c->objs);
	free(c->garbage);
	free(c->garbage_c);
	free(c->head);
	history_out_free(&c->hout);
	history_free(c->hist);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
