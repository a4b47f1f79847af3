/* dirobj_check.c - the validity rules of directory entries, shared by the
 * encoder and the decoder so that neither accepts what the other refuses.
 * Pure: must never allocate beyond a scratch index, never touch I/O. */
#include "dirobj_check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

bool dirobj_check_utf8(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len); /* jansson's own UTF-8 check */
	bool ok = j != NULL;

	json_decref(j);
	return ok;
}

bool dirobj_check_name(const char *name, size_t len, bool root)
{
	if (!name)
		return false;
	if (root)
		return len == 0;
	if (len == 0 || len > DIROBJ_NAME_MAX || memchr(name, '/', len) || memchr(name, '\0', len))
		return false;
	return !(len == 1 && name[0] == '.') && !(len == 2 && name[0] == '.' && name[1] == '.');
}

bool dirobj_check_target(const char *t, size_t len)
{
	return t && len > 0 && len <= DIROBJ_TARGET_MAX && !memchr(t, '\0', len);
}

uint32_t dirobj_type_mode(enum dirobj_type type)
{
	switch (type) {
	case DIROBJ_FILE:
		return S_IFREG;
	case DIROBJ_DIR:
		return S_IFDIR;
	case DIROBJ_SYMLINK:
		return S_IFLNK;
	case DIROBJ_FIFO:
		return S_IFIFO;
	case DIROBJ_SOCK:
		return S_IFSOCK;
	case DIROBJ_CHR:
		return S_IFCHR;
	case DIROBJ_BLK:
		return S_IFBLK;
	case DIROBJ_HARDLINK:
		break;
	}
	return 0; /* stores no mode */
}

bool dirobj_check_mode(enum dirobj_type type, uint64_t mode)
{
	return (mode & ~(uint64_t)(S_IFMT | 07777)) == 0 && dirobj_type_mode(type) != 0 &&
	       (mode & S_IFMT) == dirobj_type_mode(type);
}

bool dirobj_check_type(int t, int format)
{
	if (t == DIROBJ_FILE || t == DIROBJ_DIR || t == DIROBJ_SYMLINK)
		return format >= DIROBJ_FORMAT_MIN && format <= DIROBJ_FORMAT_MAX;
	return format >= 2 && format <= DIROBJ_FORMAT_MAX &&
	       (t == DIROBJ_FIFO || t == DIROBJ_SOCK || t == DIROBJ_CHR || t == DIROBJ_BLK ||
		t == DIROBJ_HARDLINK);
}

bool dirobj_check_device_name(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	if (!s || len == 0 || len > DIROBJ_DEVICE_NAME_MAX || !dirobj_check_utf8(s, len))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (u[i] < 0x20 || u[i] == 0x7f)
			return false;
		/* U+0080..U+009F (C1 controls) are C2 80 .. C2 9F in UTF-8. */
		if (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
			return false;
	}
	return true;
}

bool dirobj_check_xattr(const struct dirobj_xattr *x)
{
	size_t nlen = x->name ? strlen(x->name) : 0;

	return nlen > 0 && nlen <= DIROBJ_XATTR_NAME_MAX && dirobj_check_utf8(x->name, nlen) &&
	       x->len <= DIROBJ_XATTR_VALUE_MAX && (x->len == 0 || x->value);
}

/* The uniqueness check is one pass over an open-addressing table of entry
 * indexes (a sort by name and another by id were 16 % of a cold `find`'s
 * instructions, docs/PERFORMANCE.md session 7). Names hash by FNV-1a, ids
 * by their first bytes (random). A decoded object was authenticated before
 * it gets here, so nobody without the key chooses what collides. */
static uint64_t dirobj_name_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t dirobj_id_hash(const uint8_t id[OBJECT_ID_BYTES])
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	return h;
}

static bool dirobj_same_name(const struct dirobj_entry *x, const struct dirobj_entry *y)
{
	return x->name_len == y->name_len && memcmp(x->name, y->name, x->name_len) == 0;
}

/* Inserts entry i into the table (slots hold index + 1, 0 is empty) unless
 * an equal entry is there: true on a clash. Two entries may share an id
 * only when both are hard links to it: such an id is inserted once and each
 * further entry is compared with that first one, so any entry of the group
 * that is not a link clashes (the rule the sorted pairs applied before). */
static bool dirobj_unique_insert(uint32_t *slots, size_t mask, const struct dirobj *dir, size_t i,
				 bool by_name)
{
	const struct dirobj_entry *e = &dir->entries[i];
	size_t k =
	    (size_t)(by_name ? dirobj_name_hash(e->name, e->name_len) : dirobj_id_hash(e->id));

	for (k &= mask; slots[k] != 0; k = (k + 1) & mask) {
		const struct dirobj_entry *o = &dir->entries[slots[k] - 1];
		if (by_name ? dirobj_same_name(o, e) : memcmp(o->id, e->id, OBJECT_ID_BYTES) == 0)
			return by_name || o->type != DIROBJ_HARDLINK || e->type != DIROBJ_HARDLINK;
	}
	slots[k] = (uint32_t)(i + 1);
	return false;
}

/* 0 when no two entries share a name or an id; -EEXIST otherwise. */
int dirobj_check_unique(const struct dirobj *dir)
{
	size_t cap = 16, n = dir->nentries;
	uint32_t *names, *ids;
	int rc = 0;

	if (n < 2)
		return 0;
	if (n > UINT32_MAX / 4)
		return -ENOMEM;
	while (cap < 2 * n)
		cap *= 2;
	names = calloc(2 * cap, sizeof(*names));
	if (!names)
		return -ENOMEM;
	ids = names + cap;
	for (size_t i = 0; i < n && rc == 0; i++)
		if (dirobj_unique_insert(names, cap - 1, dir, i, true) ||
		    dirobj_unique_insert(ids, cap - 1, dir, i, false))
			rc = -EEXIST;
	free(names);
	return rc;
}
