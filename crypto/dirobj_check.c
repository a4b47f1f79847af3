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

static int dirobj_cmp_name(const void *a, const void *b)
{
	const struct dirobj_entry *x = *(const struct dirobj_entry *const *)a;
	const struct dirobj_entry *y = *(const struct dirobj_entry *const *)b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);

	if (c != 0)
		return c;
	return (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static int dirobj_cmp_id(const void *a, const void *b)
{
	const struct dirobj_entry *x = *(const struct dirobj_entry *const *)a;
	const struct dirobj_entry *y = *(const struct dirobj_entry *const *)b;

	return memcmp(x->id, y->id, OBJECT_ID_BYTES);
}

/* 0 when no two entries share a name or an id; -EEXIST otherwise. */
int dirobj_check_unique(const struct dirobj *dir)
{
	const struct dirobj_entry **v;
	int rc = 0;

	if (dir->nentries < 2)
		return 0;
	v = calloc(dir->nentries, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < dir->nentries; i++)
		v[i] = &dir->entries[i];
	qsort(v, dir->nentries, sizeof(*v), dirobj_cmp_name);
	for (size_t i = 1; i < dir->nentries && rc == 0; i++)
		if (dirobj_cmp_name(&v[i - 1], &v[i]) == 0)
			rc = -EEXIST;
	qsort(v, dir->nentries, sizeof(*v), dirobj_cmp_id);
	for (size_t i = 1; i < dir->nentries && rc == 0; i++)
		if (dirobj_cmp_id(&v[i - 1], &v[i]) == 0 &&
		    (v[i - 1]->type != DIROBJ_HARDLINK || v[i]->type != DIROBJ_HARDLINK))
			rc = -EEXIST;
	free(v);
	return rc;
}
