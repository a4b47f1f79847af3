/* tree_ns.c - the namespace: lookup, create, unlink/rmdir, rename and
 * directory listings, each under tree_lock on a loaded directory (a trim may
 * unload it meanwhile: then it is loaded again). Must never log a name, nor
 * leave a rename half done: everything that can fail is checked first. */
#include "tree_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "log.h"
#include "tree_cache.h"

/* ---- lookup ---- */

uint32_t tree_type_bits(enum dirobj_type type)
{
	return type == DIROBJ_HARDLINK ? S_IFREG : dirobj_type_mode(type); /* h: a file's name */
}

bool tree_type_special(enum dirobj_type type)
{
	return type == DIROBJ_FIFO || type == DIROBJ_SOCK || type == DIROBJ_CHR ||
	       type == DIROBJ_BLK;
}

int tree_check_name(const char *name, size_t *len)
{
	*len = strlen(name);
	if (*len > TREE_NAME_MAX)
		return -ENAMETOOLONG;
	if (*len == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	return 0;
}

/* Loads dir and returns with tree_lock held and dir loaded (a trim may
 * unload it between the load and the lock: then load again), or an error
 * without the lock. The caller must hold a reference on dir. */
int tree_lock_loaded(struct tree *t, struct inode *dir)
{
	for (;;) {
		int r = tree_load_dir(t, dir);
		if (r)
			return r;
		pthread_mutex_lock(&t->lock);
		if (dir->ds->loaded)
			return 0;
		pthread_mutex_unlock(&t->lock);
	}
}

/* Takes n kernel references on ino (tree_lock held). */
void tree_ref_locked(struct tree *t, struct inode *ino, uint64_t n)
{
	bool was_busy = tree_cache_busy(ino);

	/* Saturating (tree.h): a pinned inode is never freed. */
	if (n >= TREE_NLOOKUP_PINNED - ino->nlookup)
		ino->nlookup = TREE_NLOOKUP_PINNED;
	else
		ino->nlookup += (uint32_t)n;
	tree_cache_changed_locked(t, ino, was_busy);
}

int tree_lookup(struct tree *t, struct inode *dir, const char *name, struct inode **out)
{
	struct inode *c;
	size_t len;
	int r = tree_check_name(name, &len);

	*out = NULL;
	if (r)
		return r == -EINVAL ? -ENOENT : r;
	r = tree_lock_loaded(t, dir);
	if (r)
		return r;
	c = tree_link_file(tree_child(t, dir, name, len)); /* a name: its file */
	if (c)
		tree_ref_locked(t, c, 1);
	tree_cache_touch_locked(t, dir);
	pthread_mutex_unlock(&t->lock);
	*out = c;
	return c ? 0 : -ENOENT;
}

/* ---- namespace ---- */

/* A new inode for tree_create, not yet in the tree. */
static int tree_new_inode(struct inode **out, enum dirobj_type type, uint32_t mode, uint32_t uid,
			  uint32_t gid, const char *name, size_t name_len, const char *target,
			  uint64_t rdev)
{
	struct inode *ino = tree_inode_alloc(type, name, name_len);

	*out = NULL;
	if (!ino)
		return -ENOMEM;
	ino->mode = tree_type_bits(type) | (type == DIROBJ_SYMLINK ? 0777 : (mode & 07777));
	ino->uid = uid;
	ino->gid = gid;
	tree_now(&ino->mtime);
	ino->atime = ino->ctime = ino->mtime;
	/* A new file starts cold and empty (the first write makes its
	 * content_file); its id is its file id: an id and a key derivation's
	 * salt, not a secret, so from the thread's pool of public randomness
	 * (crypto/chunk.h), not a getrandom per create. */
	chunk_random_public(ino->id, OBJECT_ID_BYTES);
	if (type == DIROBJ_SYMLINK && target) { /* callers always give one */
		ino->target_len = strlen(target);
		ino->target = strdup(target);
	}
	if (type == DIROBJ_DIR)
		ino->ds->loaded = ino->ds->sub_known = true;
	if (tree_type_special(type))
		ino->rdev = type == DIROBJ_CHR || type == DIROBJ_BLK ? rdev : 0;
	if (type == DIROBJ_SYMLINK && !ino->target) {
		tree_inode_free(ino);
		return -ENOMEM;
	}
	*out = ino;
	return 0;
}

void tree_dir_changed_locked(struct tree *t, struct inode *dir)
{
	tree_inode_lock(dir);
	tree_now(&dir->mtime);
	dir->ctime = dir->mtime;
	tree_inode_unlock(dir);
	tree_mark_dirty_locked(t, dir);
}

/* New entries in a set-group-ID directory take its group; subdirectories
 * inherit the bit (tree_lock held). */
static void tree_inherit_gid(struct inode *dir, struct inode *ino)
{
	tree_inode_lock(dir);
	if (dir->mode & S_ISGID) {
		ino->gid = dir->gid;
		if (ino->type == DIROBJ_DIR)
			ino->mode |= S_ISGID;
	}
	tree_inode_unlock(dir);
}

static int tree_create_node(struct tree *t, struct inode *dir, const char *name,
			    enum dirobj_type type, uint32_t mode, uint32_t uid, uint32_t gid,
			    const char *target, uint64_t rdev, struct inode **out)
{
	struct inode *ino;
	size_t len;
	int r = tree_check_name(name, &len);

	*out = NULL;
	if (r)
		return r == -EINVAL ? -EEXIST : r;
	if (type == DIROBJ_SYMLINK && (!target || !*target))
		return -ENOENT;
	if (target && strlen(target) > DIROBJ_TARGET_MAX)
		return -ENAMETOOLONG;
	if (dir->type != DIROBJ_DIR)
		return -ENOTDIR;
	r = tree_new_inode(&ino, type, mode, uid, gid, name, len, target, rdev);
	if (r)
		return r;
	ino->nlookup = 1; /* before the insert: it is busy from the start */
	r = tree_lock_loaded(t, dir);
	if (r) {
		tree_inode_free(ino);
		return r;
	}
	tree_inherit_gid(dir, ino);
	if (dir->unlinked)
		r = -ENOENT;
	else if (tree_child(t, dir, name, len))
		r = -EEXIST;
	else
		r = tree_table_insert(t, dir, ino);
	if (r == 0) {
		t->ninodes++;
		tree_dir_changed_locked(t, dir);
		if (type == DIROBJ_DIR)
			tree_mark_dirty_locked(t, ino);
	}
	pthread_mutex_unlock(&t->lock);
	if (r) {
		tree_inode_free(ino);
		return r;
	}
	*out = ino;
	return 0;
}

int tree_create(struct tree *t, struct inode *dir, const char *name, enum dirobj_type type,
		uint32_t mode, uint32_t uid, uint32_t gid, const char *target, struct inode **out)
{
	*out = NULL;
	if (type != DIROBJ_FILE && type != DIROBJ_DIR && type != DIROBJ_SYMLINK)
		return -EINVAL;
	return tree_create_node(t, dir, name, type, mode, uid, gid, target, 0, out);
}

/* Once a mount: why a format-1 vault refuses what format 2 can store. */
void tree_format1_refused(struct tree *t, const char *what)
{
	if (!atomic_exchange(&t->format1_said, true))
		log_msg(LOG_NOTICE,
			"%s need a format-2 vault: this one is format 1, so they are refused "
			"(EPERM); `sealfs upgrade STORE` converts it",
			what);
}

int tree_mknod(struct tree *t, struct inode *dir, const char *name, enum dirobj_type type,
	       uint32_t mode, uint32_t uid, uint32_t gid, uint64_t rdev, struct inode **out)
{
	*out = NULL;
	if (!tree_type_special(type))
		return -EINVAL;
	if (t->cctx.format < 2) {
		tree_format1_refused(t, "FIFOs, sockets and device nodes");
		return -EPERM;
	}
	return tree_create_node(t, dir, name, type, mode, uid, gid, NULL, rdev, out);
}

/* Finds the victim of unlink/rmdir (tree_lock held). 1 means: load *c, retry. */
static int tree_remove_check(struct tree *t, struct inode *dir, const char *name, size_t len,
			     bool is_dir, struct inode **c)
{
	*c = tree_child(t, dir, name, len);
	if (!*c)
		return -ENOENT;
	if (!is_dir)
		return (*c)->type == DIROBJ_DIR ? -EISDIR : 0;
	if ((*c)->type != DIROBJ_DIR)
		return -ENOTDIR;
	if (!(*c)->ds->loaded)
		return 1;
	return (*c)->ds->nchildren > 0 ? -ENOTEMPTY : 0;
}

int tree_remove(struct tree *t, struct inode *dir, const char *name, bool is_dir)
{
	struct inode *c, *reap = NULL;
	size_t len;
	int r = tree_check_name(name, &len);

	if (r)
		return r == -EINVAL ? (is_dir ? -EINVAL : -EISDIR) : r;
	for (;;) {
		r = tree_lock_loaded(t, dir);
		if (r)
			return r;
		r = tree_remove_check(t, dir, name, len, is_dir, &c);
		if (r != 1)
			break;
		/* Our own reference keeps c while it loads without the lock. */
		tree_ref_locked(t, c, 1);
		pthread_mutex_unlock(&t->lock);
		r = tree_load_dir(t, c);
		tree_forget(t, c, 1);
		if (r)
			return r;
	}
	if (r == 0) {
		reap = tree_detach_locked(t, c);
		tree_dir_changed_locked(t, dir);
	}
	pthread_mutex_unlock(&t->lock);
	if (reap)
		tree_reap(t, reap);
	return r;
}

/* Whether a is d or one of d's ancestors (tree_lock held). */
static bool tree_is_ancestor(const struct inode *a, const struct inode *d)
{
	for (; d; d = d->parent)
		if (d == a)
			return true;
	return false;
}

struct tree_rename_op {
	struct inode *odir, *ndir, *src, *dst;
	const char *oname, *nname;
	size_t olen, nlen;
	unsigned flags;
};

/* Checks a rename (tree_lock held). 1: load op->dst and retry. */
static int tree_rename_check(struct tree *t, struct tree_rename_op *op)
{
	op->src = tree_child(t, op->odir, op->oname, op->olen);
	op->dst = tree_child(t, op->ndir, op->nname, op->nlen);
	if (!op->src || op->ndir->unlinked)
		return -ENOENT;
	if (op->src == op->dst)
		return 0;
	if (op->dst && op->src->type == DIROBJ_HARDLINK && op->dst->type == DIROBJ_HARDLINK &&
	    op->src->link == op->dst->link) {
		op->dst = op->src; /* two names of one file: nothing to do (POSIX) */
		return 0;
	}
	if (op->flags & TREE_RENAME_EXCHANGE) {
		if (!op->dst)
			return -ENOENT;
		if ((op->src->type == DIROBJ_DIR && tree_is_ancestor(op->src, op->ndir)) ||
		    (op->dst->type == DIROBJ_DIR && tree_is_ancestor(op->dst, op->odir)))
			return -EINVAL;
		return 0;
	}
	if (op->dst && (op->flags & TREE_RENAME_NOREPLACE))
		return -EEXIST;
	if (op->src->type == DIROBJ_DIR && tree_is_ancestor(op->src, op->ndir))
		return -EINVAL;
	if (!op->dst)
		return 0;
	if (op->src->type == DIROBJ_DIR && op->dst->type != DIROBJ_DIR)
		return -ENOTDIR;
	if (op->src->type != DIROBJ_DIR && op->dst->type == DIROBJ_DIR)
		return -EISDIR;
	if (op->dst->type == DIROBJ_DIR && !op->dst->ds->loaded)
		return 1;
	return op->dst && op->dst->type == DIROBJ_DIR && op->dst->ds->nchildren > 0 ? -ENOTEMPTY
										    : 0;
}

/* A renamed entry's ctime (tree_lock held): a name's is its file's. */
static void tree_rename_ctime(struct tree *t, struct inode *c)
{
	struct inode *f = tree_link_file(c);

	tree_inode_lock(f);
	tree_now(&f->ctime);
	tree_inode_unlock(f);
	if (f != c)
		tree_link_changed_locked(t, f);
}

/* Moves c to dir under name (tree_lock held; name is new, owned). */
static void tree_move_locked(struct tree *t, struct inode *c, struct inode *dir, char *name,
			     size_t len)
{
	tree_table_remove(t, c->parent, c);
	tree_inode_set_name(c, name, len);
	tree_table_insert(t, dir, c); /* cannot fail: dir's table exists */
	tree_rename_ctime(t, c);
	if (c->type == DIROBJ_DIR && c->ds->dirty)
		tree_mark_dirty_locked(t, dir);
}

/* Applies a checked rename (tree_lock held). Returns what must be reaped
 * after unlocking, or NULL. */
static struct inode *tree_rename_apply(struct tree *t, struct tree_rename_op *op, char *nname,
				       char *oname)
{
	struct inode *reap = NULL;

	if (op->flags & TREE_RENAME_EXCHANGE) {
		tree_table_remove(t, op->ndir, op->dst);
		tree_move_locked(t, op->src, op->ndir, nname, op->nlen);
		tree_inode_set_name(op->dst, oname, op->olen);
		tree_table_insert(t, op->odir, op->dst);
		tree_rename_ctime(t, op->dst);
		oname = NULL;
	} else {
		if (op->dst)
			reap = tree_detach_locked(t, op->dst);
		tree_move_locked(t, op->src, op->ndir, nname, op->nlen);
	}
	free(oname);
	tree_dir_changed_locked(t, op->odir);
	if (op->ndir != op->odir)
		tree_dir_changed_locked(t, op->ndir);
	return reap;
}

static int tree_rename_prepare(struct tree_rename_op *op, char **nname, char **oname)
{
	int r = tree_check_name(op->oname, &op->olen);

	if (r == 0)
		r = tree_check_name(op->nname, &op->nlen);
	if (r)
		return r == -EINVAL ? -EBUSY : r;
	if ((op->flags & ~(unsigned)(TREE_RENAME_NOREPLACE | TREE_RENAME_EXCHANGE)) ||
	    op->flags == (TREE_RENAME_NOREPLACE | TREE_RENAME_EXCHANGE))
		return -EINVAL;
	*nname = strndup(op->nname, op->nlen);
	*oname = strndup(op->oname, op->olen);
	if (!*nname || !*oname)
		return -ENOMEM;
	return 0;
}

int tree_rename(struct tree *t, struct inode *odir, const char *oname, struct inode *ndir,
		const char *nname, unsigned flags)
{
	struct tree_rename_op op = {
	    .odir = odir, .ndir = ndir, .oname = oname, .nname = nname, .flags = flags};
	char *nn = NULL, *on = NULL;
	struct inode *reap = NULL;
	int r = tree_rename_prepare(&op, &nn, &on);

	for (; r == 0;) {
		r = tree_load_dir(t, odir);
		if (r == 0)
			r = tree_load_dir(t, ndir);
		if (r)
			break;
		pthread_mutex_lock(&t->lock);
		if (!odir->ds->loaded || !ndir->ds->loaded) { /* unloaded meanwhile */
			pthread_mutex_unlock(&t->lock);
			continue;
		}
		r = tree_rename_check(t, &op);
		if (r == 1) /* our own reference keeps dst while it loads */
			tree_ref_locked(t, op.dst, 1);
		if (r == 0) /* moving must not fail half way */
			r = tree_table_reserve(t, ndir, 1);
		if (r == 0 && op.src != op.dst) {
			reap = tree_rename_apply(t, &op, nn, on);
			nn = on = NULL;
		}
		pthread_mutex_unlock(&t->lock);
		if (r != 1)
			break;
		r = tree_load_dir(t, op.dst);
		tree_forget(t, op.dst, 1);
	}
	free(nn);
	free(on);
	if (reap)
		tree_reap(t, reap);
	return r;
}

/* ---- directory listings ---- */

static int tree_dirent_set(struct tree_dirent *d, const char *name, size_t len,
			   const struct inode *ino)
{
	d->name = strndup(name, len);
	d->st_ino = tree_ino(ino);
	/* a name of a file with several names lists as its file's type */
	d->mode = tree_type_bits(ino->type == DIROBJ_HARDLINK && ino->link
				     ? tree_link_file((struct inode *)ino)->type
				     : ino->type);
	return d->name ? 0 : -ENOMEM;
}

void tree_dirlist_free(struct tree_dirlist *l)
{
	for (size_t i = 0; l->ents && i < l->n; i++)
		free(l->ents[i].name);
	free(l->ents);
	l->ents = NULL;
	l->n = 0;
}

/* Fills l from dir's table (tree_lock held). */
static int tree_dirlist_fill(struct tree_dirlist *l, const struct inode *dir)
{
	int r = tree_dirent_set(&l->ents[l->n++], ".", 1, dir);

	if (r == 0)
		r = tree_dirent_set(&l->ents[l->n++], "..", 2, dir->parent ? dir->parent : dir);
	TREE_FOR_CHILDREN (dir, c)
		if (r == 0)
			r = tree_dirent_set(&l->ents[l->n++], tree_name(c), c->name_len, c);
	return r;
}

int tree_dirlist(struct tree *t, struct inode *dir, struct tree_dirlist *out)
{
	int r = tree_lock_loaded(t, dir);

	memset(out, 0, sizeof(*out));
	if (r)
		return r;
	out->ents = calloc(dir->ds->nchildren + 2, sizeof(*out->ents));
	r = out->ents ? tree_dirlist_fill(out, dir) : -ENOMEM;
	tree_cache_touch_locked(t, dir);
	pthread_mutex_unlock(&t->lock);
	if (r)
		tree_dirlist_free(out);
	else
		tree_ahead_list(t, dir); /* a walk descends next: warm the subdirectories */
	return r;
}
