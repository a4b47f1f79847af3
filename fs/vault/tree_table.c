/* tree_table.c - the two open-addressed sets of inode pointers the tree
 * keeps: each directory's children by name (a keyed hash: SipHash under the
 * tree's random hash_key, so names chosen by others cannot pile into one
 * run) and the tree's orphans by address. Linear probing at most 4/5 full,
 * deletion by backward shift (no tombstones): 8 bytes a slot and no chain
 * pointer in the inode, which every referenced inode of a big vault would
 * pay for. All calls need tree_lock (tree.h). Must never log a name. */
#include "tree_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "log.h"
#include "tree_cache.h"

/* The slot of hash h in a table of size slots (any size, not only powers of
 * two: a loaded directory gets a table sized to its children). */
static size_t slot_of(uint64_t h, size_t size)
{
	return (size_t)(((unsigned __int128)h * size) >> 64);
}

/* The smallest table that holds n entries at most 4/5 full, with a free
 * slot left for the probes to stop at. */
static size_t size_for(size_t n)
{
	size_t s = n + n / 4 + 2;

	return s < 8 ? 8 : s;
}

typedef uint64_t (*hash_fn)(const struct tree *t, const struct inode *c);

static uint64_t hash_name_bytes(const struct tree *t, const char *name, size_t len)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v = 0;

	crypto_shorthash(h, (const unsigned char *)name, len, t->hash_key);
	for (int i = 0; i < 8; i++)
		v = (v << 8) | h[i];
	return v;
}

static uint64_t hash_name(const struct tree *t, const struct inode *c)
{
	return hash_name_bytes(t, tree_name(c), c->name_len);
}

static uint64_t hash_addr(const struct tree *t, const struct inode *c)
{
	(void)t;
	return (uint64_t)(uintptr_t)c * UINT64_C(0x9e3779b97f4a7c15);
}

static void put(struct inode **tab, size_t size, size_t i, struct inode *c)
{
	while (tab[i])
		i = i + 1 == size ? 0 : i + 1;
	tab[i] = c;
}

/* Moves every entry into a new table of size slots. 0 or -ENOMEM (the old
 * table unchanged). */
static int rehash(const struct tree *t, struct inode ***tab, size_t *size, size_t nsize, hash_fn h)
{
	struct inode **nt = calloc(nsize, sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i < *size; i++)
		if ((*tab)[i])
			put(nt, nsize, slot_of(h(t, (*tab)[i]), nsize), (*tab)[i]);
	free(*tab);
	*tab = nt;
	*size = nsize;
	return 0;
}

/* Room for n + more entries: grows (doubling, or to what they need) when
 * they would fill more than 4/5. 0, or -ENOMEM when growing failed and the
 * table has no slot to spare (a fuller table still works, only slower). */
static int reserve(const struct tree *t, struct inode ***tab, size_t *size, size_t n, size_t more,
		   hash_fn h)
{
	size_t need = size_for(n + more);

	if (need <= *size)
		return 0;
	if (rehash(t, tab, size, need > *size * 2 ? need : *size * 2, h) == 0)
		return 0;
	return n + more + 1 <= *size ? 0 : -ENOMEM;
}

/* The slot holding c, or size when c is not in the table. */
static size_t find_ptr(const struct tree *t, struct inode *const *tab, size_t size,
		       const struct inode *c, hash_fn h)
{
	if (!tab)
		return size;
	for (size_t i = slot_of(h(t, c), size); tab[i]; i = i + 1 == size ? 0 : i + 1)
		if (tab[i] == c)
			return i;
	return size;
}

/* Empties slot i, shifting back the entries of its run that may not stay
 * past the hole (their home is not cyclically in (i, j]). */
static void delete_at(const struct tree *t, struct inode **tab, size_t size, size_t i, hash_fn h)
{
	size_t j = i;

	for (;;) {
		j = j + 1 == size ? 0 : j + 1;
		if (!tab[j])
			break;
		size_t k = slot_of(h(t, tab[j]), size);
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (!stays) {
			tab[i] = tab[j];
			i = j;
		}
	}
	tab[i] = NULL;
}

/* ---- a directory's children ---- */

struct inode *tree_child(const struct tree *t, const struct inode *dir, const char *name,
			 size_t len)
{
	struct inode **tab = dir->ds->table;
	size_t size = dir->ds->table_size;

	if (!tab)
		return NULL;
	for (size_t i = slot_of(hash_name_bytes(t, name, len), size); tab[i];
	     i = i + 1 == size ? 0 : i + 1)
		if (tab[i]->name_len == len && memcmp(tree_name(tab[i]), name, len) == 0)
			return tab[i];
	return NULL;
}

size_t tree_table_slot(const struct tree *t, const struct inode *dir, const struct inode *c)
{
	size_t size = dir->ds->table_size;
	size_t i = find_ptr(t, dir->ds->table, size, c, hash_name);

	return i == size ? SIZE_MAX : i;
}

int tree_table_reserve(const struct tree *t, struct inode *dir, size_t n)
{
	return reserve(t, &dir->ds->table, &dir->ds->table_size, dir->ds->nchildren, n, hash_name);
}

int tree_table_insert(const struct tree *t, struct inode *dir, struct inode *c)
{
	struct tree_dirstate *ds = dir->ds;

	if (reserve(t, &ds->table, &ds->table_size, ds->nchildren, 1, hash_name))
		return -ENOMEM;
	put(ds->table, ds->table_size, slot_of(hash_name(t, c), ds->table_size), c);
	c->parent = dir;
	ds->nchildren++;
	if (c->type == DIROBJ_DIR)
		ds->nsubdirs++;
	if (tree_cache_busy(c))
		ds->busy_kids++;
	return 0;
}

void tree_table_remove(const struct tree *t, struct inode *dir, struct inode *c)
{
	struct tree_dirstate *ds = dir->ds;
	size_t i = find_ptr(t, ds->table, ds->table_size, c, hash_name);

	if (i < ds->table_size) {
		delete_at(t, ds->table, ds->table_size, i, hash_name);
		ds->nchildren--;
		if (c->type == DIROBJ_DIR)
			ds->nsubdirs--;
		if (tree_cache_busy(c))
			ds->busy_kids--;
	}
	c->parent = NULL;
}

/* ---- orphans ---- */

void tree_orphan_add(struct tree *t, struct inode *ino)
{
	if (reserve(t, &t->orphans, &t->orphans_size, t->norphans, 1, hash_addr)) {
		/* Reaped when the kernel forgets it all the same; only an
		 * unmount before that misses its segments. */
		log_msg(LOG_WARNING, "out of memory: an unlinked file's objects may stay in the "
				     "store (sealfs fsck --repair deletes them)");
		return;
	}
	put(t->orphans, t->orphans_size, slot_of(hash_addr(t, ino), t->orphans_size), ino);
	t->norphans++;
}

void tree_orphan_remove(struct tree *t, struct inode *ino)
{
	size_t i = find_ptr(t, t->orphans, t->orphans_size, ino, hash_addr);

	if (i < t->orphans_size) {
		delete_at(t, t->orphans, t->orphans_size, i, hash_addr);
		t->norphans--;
	}
}

struct inode **tree_orphans_take(struct tree *t, size_t *size)
{
	struct inode **o = t->orphans;

	*size = t->orphans_size;
	t->orphans = NULL;
	t->orphans_size = 0;
	t->norphans = 0;
	return o;
}
