/* tree.c - the in-memory tree's core: inodes, a directory's hash table of
 * children, dirtiness and garbage, orphans, opening and freeing the tree, and
 * an inode's lifetime (kernel references, open handles). Loading is in
 * tree_load.c, names in tree_ns.c, attributes in tree_attr.c, bytes in
 * tree_io.c (locks and lifetime rules in tree.h). Must never write to the
 * store nor log a name, a content byte or a key: only object ids. */
#include "tree_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dirio.h"
#include "log.h"
#include "slab.h"
#include "tree_cache.h"

/* What every referenced inode costs before its name (docs/PERFORMANCE.md,
 * "Scale"): a field added here is paid a million times in a big vault. */
_Static_assert(offsetof(struct inode, name_buf) <= 140, "struct inode stays small");

/* ---- small helpers ---- */

void tree_now(struct dirobj_time *out)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	out->sec = ts.tv_sec;
	out->nsec = (uint32_t)ts.tv_nsec;
}

uint64_t tree_ino(const struct inode *ino)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | ino->id[i];
	return v;
}

/* Every inode of every tree of the process, without malloc's header and
 * rounding (fs/util/slab.h): a million referenced inodes pay ~12 bytes less
 * each. Its chunks live as long as the process. */
static struct slab tree_inode_slab = SLAB_INIT;

static size_t tree_inode_bytes(size_t cap) { return offsetof(struct inode, name_buf) + cap + 1; }

struct inode *tree_inode_alloc(enum dirobj_type type, const char *name, size_t len)
{
	/* Room for a pointer: a rename to a longer name keeps it there. */
	size_t cap = len < sizeof(char *) - 1 ? sizeof(char *) - 1 : len;
	struct inode *ino;

	cap = cap < UINT8_MAX ? cap : UINT8_MAX;
	ino = slab_alloc(&tree_inode_slab, tree_inode_bytes(cap));
	if (!ino)
		return NULL;
	ino->type = type;
	ino->name_cap = (uint8_t)cap;
	if (type == DIROBJ_DIR && !(ino->ds = calloc(1, sizeof(*ino->ds)))) {
		slab_free(&tree_inode_slab, ino, tree_inode_bytes(cap));
		return NULL;
	}
	len = len < cap ? len : cap;
	memcpy(ino->name_buf, name, len);
	ino->name_len = (uint16_t)len;
	return ino;
}

void tree_inode_set_name(struct inode *ino, char *name, size_t len)
{
	if (ino->name_len > ino->name_cap)
		free(tree_name(ino));
	if (len <= ino->name_cap) {
		memcpy(ino->name_buf, name, len);
		ino->name_buf[len] = '\0';
		free(name);
	} else {
		memcpy(ino->name_buf, &name, sizeof(name));
	}
	ino->name_len = (uint16_t)len;
}

static void tree_xattrs_free(struct dirobj_xattr *x, size_t n)
{
	for (size_t i = 0; x && i < n; i++) {
		free(x[i].name);
		if (x[i].value)
			sodium_memzero(x[i].value, x[i].len);
		free(x[i].value);
	}
	free(x);
}

void tree_inode_free(struct inode *ino)
{
	switch (ino->type) {
	case DIROBJ_FILE:
		if (ino->content) {
			content_release(ino->content);
			free(ino->content->garbage);
			free(ino->content);
		}
		content_cold_free(&ino->cold);
		break;
	case DIROBJ_SYMLINK:
		free(ino->target);
		break;
	case DIROBJ_DIR:
		free(ino->ds->table);
		dirio_pages_free(ino->ds->pages);
		free(ino->ds);
		break;
	default: /* special files hold nothing allocated */
		break;
	}
	if (ino->name_len > ino->name_cap)
		free(tree_name(ino));
	tree_xattrs_free(ino->xattrs, ino->nxattrs);
	slab_free(&tree_inode_slab, ino, tree_inode_bytes(ino->name_cap));
}

/* ---- dirtiness, garbage, orphans (tree_lock) ---- */

void tree_set_dirty_locked(struct tree *t)
{
	clock_gettime(CLOCK_MONOTONIC, &t->changed_at);
	if (t->dirty)
		return;
	t->dirty = true;
	t->dirty_since = t->changed_at;
	pthread_cond_broadcast(&t->dirty_cond);
}

void tree_mark_dirty_locked(struct tree *t, struct inode *dir)
{
	for (; dir && !dir->ds->dirty; dir = dir->parent) {
		dir->ds->dirty = true;
		tree_cache_touch_locked(t, dir); /* a dirty directory stays loaded */
	}
	tree_set_dirty_locked(t);
}

void tree_attr_changed_locked(struct tree *t, struct inode *ino)
{
	if (ino == t->root)
		tree_mark_dirty_locked(t, ino);
	else if (ino->linked) /* its record is in the inode table */
		tree_link_changed_locked(t, ino);
	else if (ino->parent)
		tree_mark_dirty_locked(t, ino->parent);
}

int tree_add_garbage_locked(struct tree *t, const uint8_t key[OBJECT_ID_BYTES], uint64_t created)
{
	if (t->ngarbage == t->garbage_cap) {
		size_t cap = t->garbage_cap ? t->garbage_cap * 2 : 64;
		void *g = realloc(t->garbage, cap * sizeof(*t->garbage));
		if (!g) {
			char hex[33];
			log_msg(LOG_WARNING, "object %s leaks in the store (out of memory)",
				log_id(hex, key));
			return -ENOMEM;
		}
		t->garbage = g;
		t->garbage_cap = cap;
	}
	memcpy(t->garbage[t->ngarbage].key, key, OBJECT_ID_BYTES);
	t->garbage[t->ngarbage++].created = created;
	tree_set_dirty_locked(t);
	return 0;
}

static bool tree_reapable(const struct inode *ino)
{
	return ino->unlinked && ino->nlookup == 0 && ino->nopen == 0;
}

/* Frees an unlinked inode nobody references; its segments become garbage.
 * Called without locks: nothing else can reach ino any more. */
void tree_reap(struct tree *t, struct inode *ino)
{
	struct content_file *f = ino->type == DIROBJ_FILE ? ino->content : NULL;
	size_t ncold = ino->type == DIROBJ_FILE ? content_cold_nsegs(&ino->cold) : 0;

	if (f)
		content_forget(&t->cctx, f);
	if (ino->foreign) { /* another device's head may still reach its objects */
		ncold = 0;
		f = NULL;
	}
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; f && i < f->ngarbage; i++)
		tree_add_garbage_locked(t, f->garbage[i].key, f->garbage[i].created);
	/* A cold file: every present segment is in the store. */
	for (size_t s = 0; !f && s < ncold; s++)
		if (content_cold_key(&ino->cold, s))
			tree_add_garbage_locked(t, content_cold_key(&ino->cold, s),
						content_cold_created(&ino->cold, s));
	t->ninodes--;
	pthread_mutex_unlock(&t->lock);
	tree_inode_free(ino);
}

/* Takes c out of the namespace (tree_lock held). Returns what the caller
 * must tree_reap after unlocking, or NULL. */
struct inode *tree_detach_locked(struct tree *t, struct inode *c)
{
	tree_table_remove(t, c->parent, c);
	if (c->type == DIROBJ_HARDLINK && !(c = tree_link_unname_locked(t, c)))
		return NULL; /* the file has other names */
	return tree_orphan_locked(t, c);
}

struct inode *tree_orphan_locked(struct tree *t, struct inode *c)
{
	tree_inode_lock(c);
	c->unlinked = true;
	tree_now(&c->ctime);
	tree_inode_unlock(c);
	if (c->type == DIROBJ_DIR && c->ds->ref.version > 0 && !c->foreign) {
		tree_add_garbage_locked(t, c->ds->ref.store_key, c->ds->ref.created);
		tree_pages_garbage_locked(t, c); /* a paged directory's pages too */
	}
	tree_cache_touch_locked(t, c); /* unlinked: out of the list */
	if (tree_reapable(c))
		return c;
	tree_orphan_add(t, c);
	return NULL;
}

void tree_drop_orphans(struct tree *t)
{
	struct inode **o;
	size_t n;

	/* At unmount, after the last request: nothing else reaps them. */
	pthread_mutex_lock(&t->lock);
	o = tree_orphans_take(t, &n);
	pthread_mutex_unlock(&t->lock);
	for (size_t i = 0; i < n; i++)
		if (o[i])
			tree_reap(t, o[i]);
	free(o);
}

/* ---- open and free ---- */

static int tree_xattrs_dup(struct dirobj_xattr **out, const struct dirobj_xattr *x, size_t n)
{
	struct dirobj_xattr *d = calloc(n ? n : 1, sizeof(*d));

	*out = NULL;
	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		d[i].name = strdup(x[i].name);
		d[i].value = malloc(x[i].len ? x[i].len : 1);
		d[i].len = x[i].len;
		if (!d[i].name || !d[i].value) {
			tree_xattrs_free(d, i + 1);
			return -ENOMEM;
		}
		memcpy(d[i].value, x[i].value, x[i].len);
	}
	*out = d;
	return 0;
}

/* The root inode from the head's root entry (borrowed, copied). */
static int tree_root_init(struct inode *root, const struct dirobj_entry *e)
{
	if (e->type != DIROBJ_DIR)
		return -EBADMSG;
	memcpy(root->id, e->id, OBJECT_ID_BYTES);
	root->mode = e->mode;
	root->uid = e->uid;
	root->gid = e->gid;
	root->atime = e->atime;
	root->mtime = e->mtime;
	root->ctime = e->ctime;
	root->ds->ref = e->ref;
	root->nxattrs = e->nxattrs;
	return tree_xattrs_dup(&root->xattrs, e->xattrs, e->nxattrs);
}

/* The key pool's only notice (secmem_refused_fn): said once per mount. */
static void tree_keys_unlocked(void *arg, int err, size_t bytes)
{
	(void)arg;
	log_msg(LOG_WARNING,
		"the kernel refused to lock %zu bytes of file-key memory (%s): keys stay in use "
		"but may be swapped out; raise the memlock limit (ulimit -l) to avoid this",
		bytes, strerror(err));
}

int tree_open(struct tree **out, const struct content_ctx *cctx, const unsigned char *meta_key,
	      const uint8_t vault_id[OBJECT_ID_BYTES], const struct dirobj_entry *root,
	      const struct dirobj_ref *itable, const char *cache_dir)
{
	struct tree *t = calloc(1, sizeof(*t));
	pthread_condattr_t ca;
	int r;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->dirty_cond, &ca);
	pthread_condattr_destroy(&ca);
	t->cctx = *cctx;
	t->cctx.keys = chunk_key_pool_new(tree_keys_unlocked, NULL);
	t->meta_key = meta_key;
	t->cache_dir = cache_dir;
	memcpy(t->vault_id, vault_id, OBJECT_ID_BYTES);
	randombytes_buf(t->hash_key, sizeof(t->hash_key));
	t->cache_dirs_max = TREE_CACHE_DIRS;
	t->cache_inodes_max = TREE_CACHE_INODES;
	t->root = tree_inode_alloc(DIROBJ_DIR, "", 0);
	if (!t->root || !t->cctx.keys || tree_links_new(t) != 0) {
		tree_free(t);
		return -ENOMEM;
	}
	r = tree_root_init(t->root, root);
	if (r == 0 && itable) /* first: the root may hold names of its files */
		r = tree_links_load(t, itable);
	if (r == 0)
		r = tree_load_dir(t, t->root);
	if (r) {
		tree_free(t);
		return r;
	}
	t->ninodes++; /* the root */
	*out = t;
	return 0;
}

/* Frees top and everything below it, using parent as the link of a stack
 * (nothing reads it any more); iterative because directories may nest
 * deeply. */
static void tree_free_subtree(struct inode *top)
{
	struct inode *stack = top;

	top->parent = NULL;
	while (stack) {
		struct inode *n = stack;
		stack = n->parent;
		if (n->type == DIROBJ_DIR)
			TREE_FOR_CHILDREN (n, c) {
				c->parent = stack;
				stack = c;
			}
		tree_inode_free(n);
	}
}

void tree_free(struct tree *t)
{
	if (!t)
		return;
	tree_early_stop(t); /* the caller has stopped every other thread that loads */
	if (t->orphans) {
		size_t n;
		struct inode **o = tree_orphans_take(t, &n);
		for (size_t i = 0; i < n; i++)
			if (o[i])
				tree_inode_free(o[i]);
		free(o);
	}
	if (t->root)
		tree_free_subtree(t->root);
	tree_links_free(t);		/* after the names, which point at it */
	secmem_pool_free(t->cctx.keys); /* after the inodes: they hold its keys */
	free(t->garbage);
	pthread_cond_destroy(&t->dirty_cond);
	pthread_mutex_destroy(&t->lock);
	sodium_memzero(t->hash_key, sizeof(t->hash_key));
	free(t);
}

/* ---- lifetime ---- */

void tree_dir_clean_locked(struct tree *t, struct inode *dir)
{
	dir->ds->dirty = false;
	tree_cache_touch_locked(t, dir);
}

void tree_trim_locked(struct tree *t) { tree_cache_trim_locked(t); }

void tree_forget(struct tree *t, struct inode *ino, uint64_t n)
{
	bool reap, was_busy;

	if (ino == t->root)
		return;
	pthread_mutex_lock(&t->lock);
	was_busy = tree_cache_busy(ino);
	if (ino->nlookup != TREE_NLOOKUP_PINNED) /* pinned: never freed */
		ino->nlookup -= n < ino->nlookup ? (uint32_t)n : ino->nlookup;
	reap = tree_reapable(ino);
	if (reap) {
		tree_orphan_remove(t, ino);
	} else {
		/* ino may be freed here (its parent drops its children): it is
		 * not touched again. */
		tree_cache_changed_locked(t, ino, was_busy);
		tree_cache_trim_locked(t);
	}
	pthread_mutex_unlock(&t->lock);
	if (reap)
		tree_reap(t, ino);
}

/* ---- file content ---- */

int tree_open_file(struct tree *t, struct inode *ino, bool trunc)
{
	bool was_busy;
	int r = 0;

	if (ino->type != DIROBJ_FILE)
		return ino->type == DIROBJ_DIR ? -EISDIR : -ELOOP;
	pthread_mutex_lock(&t->lock);
	was_busy = tree_cache_busy(ino);
	ino->nopen++;
	tree_cache_changed_locked(t, ino, was_busy);
	pthread_mutex_unlock(&t->lock);
	if (!trunc)
		return 0;
	tree_inode_lock(ino);
	r = tree_stopped_locked(ino);
	if (r == 0 && tree_file_size_locked(ino) > 0 &&
	    ((r = tree_file_thaw_locked(ino)) != 0 ||
	     (r = content_truncate(&t->cctx, ino->content, 0)) != 0)) /* needs no old bytes */
		tree_change_failed_locked(t, ino, r, "a truncating open");
	if (r == 0 && !t->writeback) {
		/* With the writeback cache the kernel owns a file's times and
		 * sends them (it may keep them unchanged within a clock tick). */
		tree_now(&ino->mtime);
		ino->ctime = ino->mtime;
	}
	tree_inode_unlock(ino);
	if (r) {
		tree_release_file(t, ino);
		return r;
	}
	pthread_mutex_lock(&t->lock);
	tree_attr_changed_locked(t, ino);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

void tree_release_file(struct tree *t, struct inode *ino)
{
	bool reap, closed, was_busy;

	pthread_mutex_lock(&t->lock);
	was_busy = tree_cache_busy(ino);
	if (ino->nopen > 0)
		ino->nopen--;
	if (ino->nopen == 0 && ino->type == DIROBJ_FILE) {
		/* The last handle: a failure its flush did not take was reported
		 * by the kernel itself (it skips FLUSH after a writeback error). */
		tree_inode_lock(ino);
		ino->wb_err = 0;
		ino->wb_stop = false;
		tree_inode_unlock(ino);
	}
	closed = ino->nopen == 0 && ino->type == DIROBJ_FILE;
	reap = tree_reapable(ino);
	if (reap) {
		tree_orphan_remove(t, ino);
	} else if (closed) {
		/* A closed file keeps neither fds nor its key (locked memory),
		 * nor, once clean, more than its size and segment keys: a walk
		 * that reads a million files must not hold a million keys nor
		 * a million content states. Done under tree_lock: once ino is
		 * idle a trim may free it. */
		tree_inode_lock(ino);
		tree_file_idle_locked(ino);
		tree_inode_unlock(ino);
		tree_cache_changed_locked(t, ino, was_busy);
		tree_cache_trim_locked(t);
	}
	pthread_mutex_unlock(&t->lock);
	if (reap)
		tree_reap(t, ino);
}
