/* merge_name.c - the merge's entry helpers: which parts of two versions of an
 * entry differ (name, attributes, content, a directory's ref), the order that
 * picks the later of two versions, deep copies, and the conflict copy's name.
 * Pure: no I/O. Must never let the order depend on which side is "local". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "merge_int.h"

bool ment_same_name(const struct dirobj_entry *a, const struct dirobj_entry *b)
{
	return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

bool ment_same_ref(const struct dirobj_entry *a, const struct dirobj_entry *b)
{
	return a->ref.version == b->ref.version &&
	       memcmp(a->ref.store_key, b->ref.store_key, OBJECT_ID_BYTES) == 0;
}

static bool ment_same_xattrs(const struct dirobj_entry *a, const struct dirobj_entry *b)
{
	if (a->nxattrs != b->nxattrs)
		return false;
	for (size_t i = 0; i < a->nxattrs; i++) {
		const struct dirobj_xattr *x = &a->xattrs[i], *y = &b->xattrs[i];

		if (strcmp(x->name, y->name) != 0 || x->len != y->len ||
		    (x->len && memcmp(x->value, y->value, x->len) != 0))
			return false;
	}
	return true;
}

/* Everything but the name, atime (a read is not a change) and a directory's
 * ref: mode, owner, mtime, ctime, xattrs. */
bool ment_same_attrs(const struct dirobj_entry *a, const struct dirobj_entry *b)
{
	return a->type == b->type && a->mode == b->mode && a->uid == b->uid && a->gid == b->gid &&
	       a->mtime.sec == b->mtime.sec && a->mtime.nsec == b->mtime.nsec &&
	       a->ctime.sec == b->ctime.sec && a->ctime.nsec == b->ctime.nsec &&
	       a->rdev == b->rdev && ment_same_xattrs(a, b);
}

/* Attributes and content (size, segments, target); directories: and ref. */
bool ment_same_body(const struct dirobj_entry *a, const struct dirobj_entry *b)
{
	if (!ment_same_attrs(a, b) || a->size != b->size || a->nsegments != b->nsegments ||
	    a->target_len != b->target_len)
		return false;
	if (a->target_len && memcmp(a->target, b->target, a->target_len) != 0)
		return false;
	for (size_t i = 0; i < a->nsegments; i++) {
		const struct dirobj_segment *x = &a->segments[i], *y = &b->segments[i];

		if (x->present != y->present ||
		    (x->present && memcmp(x->store_key, y->store_key, OBJECT_ID_BYTES) != 0))
			return false;
	}
	return a->type != DIROBJ_DIR || ment_same_ref(a, b);
}

static int cmp_u64(uint64_t a, uint64_t b) { return a < b ? -1 : a > b; }

/* A total order on versions that differ in content: size, segments, target,
 * ref, then the attributes. Only a last tie-break. */
int ment_cmp_bytes(const struct dirobj_entry *a, const struct dirobj_entry *b)
{
	int c = cmp_u64(a->size, b->size);

	if (!c)
		c = cmp_u64(a->nsegments, b->nsegments);
	for (size_t i = 0; !c && i < a->nsegments; i++) {
		c = cmp_u64(a->segments[i].present, b->segments[i].present);
		if (!c && a->segments[i].present)
			c = memcmp(a->segments[i].store_key, b->segments[i].store_key,
				   OBJECT_ID_BYTES);
	}
	if (!c)
		c = cmp_u64(a->target_len, b->target_len);
	if (!c && a->target_len)
		c = memcmp(a->target, b->target, a->target_len);
	if (!c)
		c = cmp_u64(a->ref.version, b->ref.version);
	if (!c)
		c = memcmp(a->ref.store_key, b->ref.store_key, OBJECT_ID_BYTES);
	if (!c)
		c = cmp_u64(a->ctime.sec, b->ctime.sec);
	if (!c)
		c = cmp_u64(a->ctime.nsec, b->ctime.nsec);
	if (!c)
		c = cmp_u64(a->mode, b->mode);
	if (!c)
		c = cmp_u64((uint64_t)a->uid << 32 | a->gid, (uint64_t)b->uid << 32 | b->gid);
	if (!c)
		c = cmp_u64(a->name_len, b->name_len);
	if (!c)
		c = memcmp(a->name, b->name, a->name_len);
	return c;
}

bool ment_later(const struct mstate *st, const struct dirobj_entry *a, int sa,
		const struct dirobj_entry *b, int sb)
{
	int c;

	if (a->mtime.sec != b->mtime.sec)
		return a->mtime.sec > b->mtime.sec;
	if (a->mtime.nsec != b->mtime.nsec)
		return a->mtime.nsec > b->mtime.nsec;
	c = memcmp(st->dev[sa]->id, st->dev[sb]->id, OBJECT_ID_BYTES);
	if (c)
		return c > 0;
	c = ment_cmp_bytes(a, b);
	if (c)
		return c > 0;
	return memcmp(a->id, b->id, OBJECT_ID_BYTES) > 0;
}

static void *dup_bytes(const void *p, size_t n, size_t extra)
{
	char *d = malloc(n + extra);

	if (d) {
		if (n)
			memcpy(d, p, n);
		memset(d + n, 0, extra);
	}
	return d;
}

int ment_copy(struct dirobj_entry *dst, const struct dirobj_entry *src)
{
	*dst = *src;
	dst->name = dst->target = NULL;
	dst->segments = NULL;
	dst->xattrs = NULL;
	dst->nxattrs = 0;
	dst->name = dup_bytes(src->name, src->name_len, 1);
	if (!dst->name)
		goto nomem;
	if (src->target && !(dst->target = dup_bytes(src->target, src->target_len, 1)))
		goto nomem;
	if (src->nsegments &&
	    !(dst->segments = dup_bytes(src->segments, src->nsegments * sizeof(*src->segments), 0)))
		goto nomem;
	if (src->nxattrs && !(dst->xattrs = calloc(src->nxattrs, sizeof(*dst->xattrs))))
		goto nomem;
	for (; dst->nxattrs < src->nxattrs; dst->nxattrs++) {
		const struct dirobj_xattr *x = &src->xattrs[dst->nxattrs];
		struct dirobj_xattr *y = &dst->xattrs[dst->nxattrs];

		y->name = dup_bytes(x->name, strlen(x->name), 1);
		y->value = x->len ? dup_bytes(x->value, x->len, 0) : NULL;
		y->len = x->len;
		if (!y->name || (x->len && !y->value)) {
			free(y->name);
			free(y->value);
			goto nomem;
		}
	}
	return 0;
nomem:
	dirobj_entry_release(dst);
	return -ENOMEM;
}

/* Bytes of s[0..len) to keep so that the cut is not inside a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t len)
{
	while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
		len--;
	return len;
}

int merge_conflict_name(char **out, size_t *out_len, const char *name, size_t name_len, bool is_dir,
			const char *device, int64_t mtime_sec, unsigned n)
{
	char tag[DIROBJ_DEVICE_NAME_MAX + 80], dev[DIROBJ_DEVICE_NAME_MAX + 1], num[16] = "";
	size_t stem = name_len, tlen, dlen = strnlen(device, DIROBJ_DEVICE_NAME_MAX);
	time_t t = (time_t)mtime_sec;
	struct tm tm;

	memcpy(dev, device, dlen);
	dev[dlen] = '\0';
	for (size_t i = 0; i < dlen; i++)
		if (dev[i] == '/')
			dev[i] = '_';
	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	if (n > 1)
		snprintf(num, sizeof(num), " %u", n);
	tlen = (size_t)snprintf(
	    tag, sizeof(tag), " (conflict from %s %04d-%02d-%02d %02d%02d%02d%s)", dev,
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, num);
	if (!is_dir) {
		const char *dot = memrchr(name, '.', name_len);

		if (dot && dot != name && (size_t)(dot - name) + 1 < name_len)
			stem = (size_t)(dot - name);
	}
	size_t ext = name_len - stem;
	if (tlen + ext >= DIROBJ_NAME_MAX)
		return -ENAMETOOLONG;
	size_t keep = stem;
	if (keep + tlen + ext > DIROBJ_NAME_MAX)
		keep = utf8_cut(name, DIROBJ_NAME_MAX - tlen - ext);
	if (keep == 0)
		return -ENAMETOOLONG;
	*out_len = keep + tlen + ext;
	*out = malloc(*out_len + 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, name, keep);
	memcpy(*out + keep, tag, tlen);
	memcpy(*out + keep + tlen, name + stem, ext);
	(*out)[*out_len] = '\0';
	return 0;
}
