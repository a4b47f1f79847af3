/* tree_link.c - files with several names (format 2, docs/INTERNALS.md "Hard
 * links"): a file with one name is an ordinary inode in its directory's
 * table; link(2) takes it out of the table into the tree's inode table (a
 * hash by file id, with its link count) and puts a small name inode
 * (DIROBJ_HARDLINK) in each directory that names it. The kernel only ever
 * sees the file inode: lookups resolve names to it. Everything here runs
 * under tree_lock; reading and sealing the table's pages is tree_link_io.c.
 * Must never log a name, nor leave a link half done: everything that can
 * fail is allocated or checked before the first change. */
#include "tree_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "itable.h"
#include "log.h"
#include "tree_itable.h"
#include "vault.h"

/* More names than this: EMLINK (ext4 allows 65,000). */
#define TREE_LINK_MAX 65000u

/* ---- the hash by file id ---- */

static size_t tree_link_hash(const uint8_t id[OBJECT_ID_BYTES], size_t size)
{
	uint64_t v = 0;

	for (int i = 9; i >= 2; i--) /* bytes 0-1 pick the page: use others */
		v = (v << 8) | id[i];
	return (size_t)(v & (size - 1));
}

int tree_links_new(struct tree *t)
{
	t->itable = calloc(1, sizeof(*t->itable));
	return t->itable ? 0 : -ENOMEM;
}

struct tree_link *tree_link_find_locked(const struct tree *t, const uint8_t id[OBJECT_ID_BYTES])
{
	const struct tree_itable *it = t->itable;

	if (!it->hash)
		return NULL;
	for (struct tree_link *l = it->hash[tree_link_hash(id, it->hash_size)]; l; l = l->next)
		if (memcmp(l->file->id, id, OBJECT_ID_BYTES) == 0)
			return l;
	return NULL;
}

/* Room for one more link: 0 or -ENOMEM (nothing changed). */
int tree_links_reserve_locked(struct tree *t)
{
	struct tree_itable *it = t->itable;
	size_t size = it->hash_size ? it->hash_size * 2 : 64;
	struct tree_link **nh;

	if (it->n < it->hash_size)
		return 0;
	nh = calloc(size, sizeof(*nh));
	if (!nh)
		return it->hash ? 0 : -ENOMEM; /* chains just get longer */
	for (size_t i = 0; i < it->hash_size; i++) {
		struct tree_link *l = it->hash[i], *next;
		for (; l; l = next) {
			size_t h = tree_link_hash(l->file->id, size);
			next = l->next;
			l->next = nh[h];
			nh[h] = l;
		}
	}
	free(it->hash);
	it->hash = nh;
	it->hash_size = size;
	return 0;
}

/* Inserts l (reserved). */
void tree_link_insert_locked(struct tree *t, struct tree_link *l)
{
	struct tree_itable *it = t->itable;
	size_t h = tree_link_hash(l->file->id, it->hash_size);

	l->next = it->hash[h];
	it->hash[h] = l;
	it->n++;
}

void tree_link_remove_locked(struct tree *t, struct tree_link *l)
{
	struct tree_itable *it = t->itable;
	struct tree_link **p = &it->hash[tree_link_hash(l->file->id, it->hash_size)];

	while (*p && *p != l)
		p = &(*p)->next;
	if (*p) {
		*p = l->next;
		it->n--;
	}
	l->next = NULL;
}

void tree_links_foreach_locked(struct tree *t, void (*fn)(void *arg, struct inode *file), void *arg)
{
	struct tree_itable *it = t->itable;

	for (size_t i = 0; it->hash && i < it->hash_size; i++)
		for (struct tree_link *l = it->hash[i]; l; l = l->next)
			fn(arg, l->file);
}

/* ---- state the rest of the tree asks for ---- */

bool tree_has_links(struct tree *t)
{
	bool any;

	pthread_mutex_lock(&t->lock);
	any = t->itable->n > 0 || t->itable->has_root;
	pthread_mutex_unlock(&t->lock);
	return any;
}

void tree_link_changed_locked(struct tree *t, struct inode *file)
{
	struct tree_itable *it = t->itable;

	if (it->nslots)
		it->dirty[itable_slot_of(file->id, it->nslots)] = true;
	it->changed = true;
	tree_set_dirty_locked(t);
}

struct inode *tree_link_file(struct inode *c)
{
	return c && c->type == DIROBJ_HARDLINK ? c->link->file : c;
}

uint32_t tree_link_nlink_locked(const struct tree *t, const struct inode *file)
{
	const struct tree_link *l = tree_link_find_locked(t, file->id);

	return l ? l->nlink : 1;
}

static void tree_link_ctime(struct inode *file)
{
	tree_inode_lock(file);
	tree_now(&file->ctime);
	tree_inode_unlock(file);
}

int tree_links_resolve_locked(struct tree *t, struct inode **kids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct tree_link *l;
		if (kids[i]->type == DIROBJ_DIR)
			continue;
		l = tree_link_find_locked(t, kids[i]->id);
		if (kids[i]->type != DIROBJ_HARDLINK ? l != NULL : l == NULL)
			return -EBADMSG; /* a record's file named by its own entry */
		if (l)
			kids[i]->link = l;
	}
	return 0;
}

/* ---- names going away ---- */

struct inode *tree_link_unname_locked(struct tree *t, struct inode *h)
{
	struct tree_link *l = h->link;
	struct inode *file = l->file;

	tree_inode_free(h);
	t->ninodes--;
	tree_link_changed_locked(t, file); /* its count, or its record goes */
	tree_link_ctime(file);
	if (--l->nlink > 0)
		return NULL;
	tree_link_remove_locked(t, l);
	free(l);
	tree_inode_lock(file);
	file->linked = false;
	tree_inode_unlock(file);
	return file;
}

/* The one name h of its file becomes the file's own entry again. */
static void tree_link_single(struct tree *t, struct inode *dir, struct inode *h, char *name)
{
	struct tree_link *l = h->link;
	struct inode *file = l->file;
	size_t len = h->name_len;

	tree_table_remove(t, dir, h);
	tree_inode_free(h);
	t->ninodes--;
	tree_link_changed_locked(t, file); /* the record leaves its page */
	tree_link_remove_locked(t, l);
	free(l);
	tree_inode_lock(file);
	file->linked = false;
	tree_inode_unlock(file);
	tree_inode_set_name(file, name, len);
	tree_table_insert(t, dir, file); /* cannot fail: the table exists */
}

void tree_links_single_locked(struct tree *t, struct inode *dir)
{
	struct inode **one;
	size_t n = 0, k = 0;

	if (t->itable->n)
		TREE_FOR_CHILDREN (dir, c)
			n += c->type == DIROBJ_HARDLINK && c->link->nlink == 1;
	if (n == 0 || !(one = calloc(n, sizeof(*one))))
		return; /* optional: the name stays a name of a table record */
	TREE_FOR_CHILDREN (dir, c)
		if (c->type == DIROBJ_HARDLINK && c->link->nlink == 1)
			one[k++] = c;
	for (size_t i = 0; i < k; i++) {
		char *name = strndup(tree_name(one[i]), one[i]->name_len);
		if (name)
			tree_link_single(t, dir, one[i], name);
	}
	free(one);
}

/* ---- link(2) ---- */

/* What link refuses (tree_lock held, dir loaded). */
static int tree_link_check(struct tree *t, struct inode *ino, struct inode *dir, const char *name,
			   size_t len)
{
	const struct tree_link *l;

	if (dir->unlinked || ino->unlinked)
		return -ENOENT;
	if (tree_child(t, dir, name, len))
		return -EEXIST;
	l = ino->linked ? tree_link_find_locked(t, ino->id) : NULL;
	if (ino->linked && !l)
		return -EIO; /* never: a linked file is in the table */
	if (l && l->nlink >= TREE_LINK_MAX)
		return -EMLINK;
	return tree_table_reserve(t, dir, 1);
}

/* File ino (one name, in its parent's table) moves to the inode table: name
 * h (allocated with ino's name) takes its place. */
static void tree_link_adopt(struct tree *t, struct inode *ino, struct inode *h, struct tree_link *l)
{
	struct inode *p = ino->parent;

	memcpy(h->id, ino->id, OBJECT_ID_BYTES);
	h->link = l;
	l->file = ino;
	l->nlink = 1;
	tree_table_remove(t, p, ino);
	tree_table_insert(t, p, h); /* p's table exists: ino was in it */
	tree_link_insert_locked(t, l);
	t->ninodes++;
	tree_inode_lock(ino);
	ino->linked = true;
	tree_inode_unlock(ino);
	tree_mark_dirty_locked(t, p); /* its entry becomes a name */
}

static void tree_link_add_name(struct tree *t, struct inode *ino, struct inode *dir,
			       struct inode *h)
{
	struct tree_link *l = tree_link_find_locked(t, ino->id);

	memcpy(h->id, ino->id, OBJECT_ID_BYTES);
	h->link = l;
	tree_table_insert(t, dir, h); /* the table exists (tree_link_check) */
	l->nlink++;
	t->ninodes++;
	tree_link_ctime(ino);
	tree_link_changed_locked(t, ino);
	tree_dir_changed_locked(t, dir);
}

/* Which inodes may take a second name: a regular file in format 2; from
 * format 3 anything but a directory (docs/FORMAT.md "Inode table"). A
 * format-2 vault refuses the others with EPERM and one log line. */
static int tree_link_type_ok(struct tree *t, const struct inode *ino)
{
	if (ino->type == DIROBJ_FILE)
		return 0;
	if (ino->type == DIROBJ_DIR || ino->type == DIROBJ_HARDLINK)
		return -EPERM;
	if (vault_fmt_has(t->cctx.format, VAULT_FEAT_ITABLE_ANY))
		return 0;
	if (!atomic_exchange(&t->format2_links_said, true))
		log_msg(LOG_NOTICE,
			"hard links to symlinks, FIFOs, sockets and device nodes need a "
			"format-3 vault: this one is format %d, so they are refused (EPERM); "
			"`sealfs upgrade STORE` converts it",
			t->cctx.format);
	return -EPERM;
}

int tree_link(struct tree *t, struct inode *ino, struct inode *dir, const char *name,
	      struct inode **out)
{
	struct inode *h = NULL, *h_old = NULL;
	struct tree_link *l = NULL;
	size_t len;
	int r;

	*out = NULL;
	if (t->cctx.format < 2) {
		tree_format1_refused(t, "hard links");
		return -EPERM;
	}
	r = tree_check_name(name, &len);
	if (r)
		return r == -EINVAL ? -EEXIST : r;
	r = tree_link_type_ok(t, ino);
	if (r)
		return r;
	if (dir->type != DIROBJ_DIR)
		return -ENOTDIR;
	h = tree_inode_alloc(DIROBJ_HARDLINK, name, len);
	l = calloc(1, sizeof(*l));
	r = h && l ? tree_lock_loaded(t, dir) : -ENOMEM;
	if (r == 0) {
		r = tree_link_check(t, ino, dir, name, len);
		if (r == 0 && !ino->linked) {
			h_old = tree_inode_alloc(DIROBJ_HARDLINK, tree_name(ino), ino->name_len);
			r = h_old ? tree_links_reserve_locked(t) : -ENOMEM;
		}
		if (r == 0 && !ino->linked) {
			tree_link_adopt(t, ino, h_old, l);
			h_old = NULL;
			l = NULL;
		}
		if (r == 0) {
			tree_link_add_name(t, ino, dir, h);
			h = NULL;
			tree_ref_locked(t, ino, 1);
			*out = ino;
		}
		pthread_mutex_unlock(&t->lock);
	}
	if (h)
		tree_inode_free(h);
	if (h_old)
		tree_inode_free(h_old);
	free(l);
	return r;
}
