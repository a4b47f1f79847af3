/* dirobj.c - encoding directory objects and the head as compact JSON
 * (docs/FORMAT.md, "Directory object", "Head"), and freeing decoded ones.
 * Must never write an object that dirobj_decode would refuse: every entry is
 * checked with the decoder's own rules (dirobj_check.h) first. */
#include "dirobj.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sodium.h>

#include "dirobj_check.h"
#include "dirobj_fast.h"
#include "hex.h"

#define DIROBJ_B64 sodium_base64_VARIANT_ORIGINAL
#define DIROBJ_HEX_BYTES (2 * OBJECT_ID_BYTES + 1)

/* ---- release ---- */

void dirobj_entry_release(struct dirobj_entry *e)
{
	free(e->name);
	free(e->target);
	free(e->segments);
	for (size_t i = 0; e->xattrs && i < e->nxattrs; i++) {
		free(e->xattrs[i].name);
		free(e->xattrs[i].value);
	}
	free(e->xattrs);
	memset(e, 0, sizeof(*e));
}

void dirobj_release(struct dirobj *dir)
{
	for (size_t i = 0; dir->entries && i < dir->nentries; i++)
		dirobj_entry_release(&dir->entries[i]);
	free(dir->entries);
	free(dir->pages);
	memset(dir, 0, sizeof(*dir));
}

void dirobj_head_release(struct dirobj_head *head)
{
	dirobj_entry_release(&head->root);
	memset(head, 0, sizeof(*head));
}

/* ---- encode ---- */

static json_t *dirobj_hex_json(const uint8_t bin[OBJECT_ID_BYTES])
{
	char hex[DIROBJ_HEX_BYTES];

	hex_encode(hex, sizeof(hex), bin, OBJECT_ID_BYTES);
	return json_string(hex);
}

static json_t *dirobj_b64_json(const unsigned char *bin, size_t len)
{
	size_t size = sodium_base64_ENCODED_LEN(len, DIROBJ_B64);
	char *b64 = malloc(size);
	json_t *j;

	if (!b64)
		return NULL;
	sodium_bin2base64(b64, size, bin, len, DIROBJ_B64);
	j = json_string(b64);
	free(b64);
	return j;
}

static json_t *dirobj_time_json(const struct dirobj_time *t)
{
	return json_pack("[II]", (json_int_t)t->sec, (json_int_t)t->nsec);
}

/* Text under k_text when s is valid UTF-8, else base64 under k_b64. */
static int dirobj_set_bytes(json_t *o, const char *k_text, const char *k_b64, const char *s,
			    size_t len)
{
	json_t *j = json_stringn(s, len);

	if (j)
		return json_object_set_new(o, k_text, j) ? -ENOMEM : 0;
	return json_object_set_new(o, k_b64, dirobj_b64_json((const unsigned char *)s, len))
		   ? -ENOMEM
		   : 0;
}

/* The members of format 2 that a format-1 entry must not carry. */
static bool dirobj_entry_v1_clean(const struct dirobj_entry *e)
{
	if (e->ref.created != 0 || e->rdev != 0)
		return false;
	for (size_t i = 0; e->segments && i < e->nsegments; i++)
		if (e->segments[i].present && e->segments[i].created != 0)
			return false;
	return true;
}

/* A name of a file in the inode table holds name, type and id only. */
static int dirobj_hardlink_check(const struct dirobj_entry *e, bool root)
{
	if (root || !dirobj_check_name(e->name, e->name_len, false) || e->nsegments > 0 ||
	    e->nxattrs > 0 || e->target || e->rdev != 0)
		return -EINVAL;
	return 0;
}

static int dirobj_entry_check(const struct dirobj_entry *e, bool root, int format)
{
	if (!dirobj_check_type(e->type, format) || (format == 1 && !dirobj_entry_v1_clean(e)))
		return -EINVAL;
	if (e->type == DIROBJ_HARDLINK)
		return dirobj_hardlink_check(e, root);
	if (!dirobj_check_name(e->name, e->name_len, root) ||
	    !dirobj_check_mode(e->type, e->mode) || e->atime.nsec > DIROBJ_NSEC_MAX ||
	    e->mtime.nsec > DIROBJ_NSEC_MAX || e->ctime.nsec > DIROBJ_NSEC_MAX)
		return -EINVAL;
	if (root && e->type != DIROBJ_DIR)
		return -EINVAL;
	if (e->type == DIROBJ_FILE &&
	    (e->size > DIROBJ_INT_MAX || e->nsegments != chunk_file_segments(e->size) ||
	     (e->nsegments > 0 && !e->segments)))
		return -EINVAL;
	for (size_t i = 0; e->type == DIROBJ_FILE && i < e->nsegments; i++)
		if (e->segments[i].present && e->segments[i].created > DIROBJ_INT_MAX)
			return -EINVAL; /* a hole's created is not stored: ignored */
	if (e->type == DIROBJ_DIR &&
	    (e->ref.version > DIROBJ_INT_MAX || e->ref.created > DIROBJ_INT_MAX))
		return -EINVAL;
	if (e->type == DIROBJ_SYMLINK && !dirobj_check_target(e->target, e->target_len))
		return -EINVAL;
	if ((e->type == DIROBJ_CHR || e->type == DIROBJ_BLK) ? e->rdev > DIROBJ_INT_MAX
							     : e->rdev != 0)
		return -EINVAL;
	if (e->nxattrs > 0 && !e->xattrs)
		return -EINVAL;
	for (size_t i = 0; i < e->nxattrs; i++)
		if (!dirobj_check_xattr(&e->xattrs[i]))
			return -EINVAL;
	return 0;
}

/* Format 1: "<key hex>"; format 2: ["<key hex>",c]. A hole: null. */
static json_t *dirobj_seg_json(const struct dirobj_segment *s, int format)
{
	if (!s->present)
		return json_null();
	if (format == 1)
		return dirobj_hex_json(s->store_key);
	return json_pack("[oI]", dirobj_hex_json(s->store_key), (json_int_t)s->created);
}

static json_t *dirobj_segs_json(const struct dirobj_entry *e, int format)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < e->nsegments; i++) {
		if (json_array_append_new(a, dirobj_seg_json(&e->segments[i], format)) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *dirobj_xattrs_json(const struct dirobj_entry *e)
{
	json_t *x = json_object();

	for (size_t i = 0; x && i < e->nxattrs; i++) {
		const struct dirobj_xattr *xa = &e->xattrs[i];
		if (json_object_set_new(x, xa->name, dirobj_b64_json(xa->value, xa->len)) != 0) {
			json_decref(x);
			return NULL;
		}
	}
	return x;
}

static int dirobj_entry_type_json(json_t *o, const struct dirobj_entry *e, int format)
{
	int r = 0;

	switch (e->type) {
	case DIROBJ_FILE:
		r |= json_object_set_new(o, "s", json_integer((json_int_t)e->size));
		r |= json_object_set_new(o, "seg", dirobj_segs_json(e, format));
		break;
	case DIROBJ_DIR:
		r |= json_object_set_new(o, "v", json_integer((json_int_t)e->ref.version));
		r |= json_object_set_new(o, "k", dirobj_hex_json(e->ref.store_key));
		if (format >= 2)
			r |= json_object_set_new(o, "kc", json_integer((json_int_t)e->ref.created));
		break;
	case DIROBJ_SYMLINK:
		return dirobj_set_bytes(o, "tg", "tgb", e->target, e->target_len);
	case DIROBJ_CHR:
	case DIROBJ_BLK:
		r |= json_object_set_new(o, "rd", json_integer((json_int_t)e->rdev));
		break;
	case DIROBJ_FIFO:
	case DIROBJ_SOCK:
	case DIROBJ_HARDLINK:
		break;
	}
	return r ? -ENOMEM : 0;
}

/* n/nb, t, id: what every entry has (a "h" entry nothing else). */
static int dirobj_entry_name_json(json_t *o, const struct dirobj_entry *e)
{
	char t[2] = {(char)e->type, '\0'};
	int r = dirobj_set_bytes(o, "n", "nb", e->name, e->name_len);

	r |= json_object_set_new(o, "t", json_string(t));
	r |= json_object_set_new(o, "id", dirobj_hex_json(e->id));
	return r;
}

static int dirobj_entry_attr_json(json_t *o, const struct dirobj_entry *e, int format)
{
	int r = json_object_set_new(o, "m", json_integer(e->mode));

	r |= json_object_set_new(o, "u", json_integer(e->uid));
	r |= json_object_set_new(o, "g", json_integer(e->gid));
	r |= json_object_set_new(o, "a", dirobj_time_json(&e->atime));
	r |= json_object_set_new(o, "mt", dirobj_time_json(&e->mtime));
	r |= json_object_set_new(o, "c", dirobj_time_json(&e->ctime));
	r |= dirobj_entry_type_json(o, e, format);
	if (e->nxattrs > 0)
		r |= json_object_set_new(o, "x", dirobj_xattrs_json(e));
	if (r == 0 && e->nxattrs > 0 && json_object_size(json_object_get(o, "x")) != e->nxattrs)
		r = -EINVAL; /* two xattrs of the same name */
	return r;
}

static int dirobj_entry_json(json_t **out, const struct dirobj_entry *e, bool root, int format)
{
	json_t *o;
	int r = dirobj_entry_check(e, root, format);

	*out = NULL;
	if (r)
		return r;
	o = json_object();
	if (!o)
		return -ENOMEM;
	r = dirobj_entry_name_json(o, e);
	if (r == 0 && e->type != DIROBJ_HARDLINK)
		r = dirobj_entry_attr_json(o, e, format);
	if (r) {
		json_decref(o);
		return r == -EINVAL ? -EINVAL : -ENOMEM;
	}
	*out = o;
	return 0;
}

static int dirobj_dump(char **out, size_t *out_len, json_t *doc)
{
	*out = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (!*out)
		return -ENOMEM;
	*out_len = strlen(*out);
	return 0;
}

/* The checks, then the direct writer (dirobj_fast.c) for what needs no
 * escape, base64 or xattrs, else jansson. */
/* What both encoders check first: *out cleared, the format known, names
 * unique. 0 or -EINVAL, -ENOMEM. */
static int dirobj_encode_start(char **out, size_t *out_len, const struct dirobj *dir, int format)
{
	int r;

	*out = NULL;
	*out_len = 0;
	if (format < DIROBJ_FORMAT_MIN || format > DIROBJ_FORMAT_MAX ||
	    (dir->nentries > 0 && !dir->entries))
		return -EINVAL;
	r = dirobj_check_unique(dir);
	return r == -EEXIST ? -EINVAL : r;
}

int dirobj_encode(char **out, size_t *out_len, const struct dirobj *dir, int format)
{
	int r = dirobj_encode_start(out, out_len, dir, format);

	if (r)
		return r;
	for (size_t i = 0; i < dir->nentries; i++)
		if ((r = dirobj_entry_check(&dir->entries[i], false, format)) != 0)
			return r;
	r = dirobj_fast_encode(out, out_len, dir, format);
	return r == DIROBJ_FAST_DECLINE ? dirobj_encode_jansson(out, out_len, dir, format) : r;
}

int dirobj_encode_jansson(char **out, size_t *out_len, const struct dirobj *dir, int format)
{
	json_t *doc, *arr, *e;
	int r = dirobj_encode_start(out, out_len, dir, format);

	if (r)
		return r;
	doc = json_object();
	arr = json_array();
	if (!doc || !arr || json_object_set_new(doc, "id", dirobj_hex_json(dir->dir_id)) ||
	    json_object_set(doc, "e", arr))
		goto nomem;
	for (size_t i = 0; i < dir->nentries; i++) {
		r = dirobj_entry_json(&e, &dir->entries[i], false, format);
		if (r)
			goto fail;
		if (json_array_append_new(arr, e))
			goto nomem;
	}
	json_decref(arr);
	return dirobj_dump(out, out_len, doc);
nomem:
	r = -ENOMEM;
fail:
	json_decref(arr);
	json_decref(doc);
	return r;
}

static json_t *dirobj_ref_json(const struct dirobj_ref *ref)
{
	return json_pack("{s:I,s:o,s:I}", "c", (json_int_t)ref->created, "k",
			 dirobj_hex_json(ref->store_key), "v", (json_int_t)ref->version);
}

static bool dirobj_ref_ok(const struct dirobj_ref *ref)
{
	return ref->version <= DIROBJ_INT_MAX && ref->created <= DIROBJ_INT_MAX;
}

/* Format 1: every format-2 field zero. Format 2: each within its range. */
static int dirobj_head_check(const struct dirobj_head *h, int format)
{
	static const uint8_t zeros[32];
	size_t dn_len = strnlen(h->device_name, sizeof(h->device_name));

	if (format == 1)
		return h->time.sec == 0 && h->time.nsec == 0 &&
			       !memcmp(h->device, zeros, OBJECT_ID_BYTES) && dn_len == 0 &&
			       !memcmp(h->parent, zeros, 32) && h->keep == 0 && h->grace == 0 &&
			       !h->has_history && !h->has_garbage && !h->has_inodes
			   ? 0
			   : -EINVAL;
	if (h->time.nsec > DIROBJ_NSEC_MAX || dn_len > DIROBJ_DEVICE_NAME_MAX ||
	    !dirobj_check_device_name(h->device_name, dn_len) || h->keep > DIROBJ_INT_MAX ||
	    h->grace > DIROBJ_INT_MAX || (h->has_history && !dirobj_ref_ok(&h->history)) ||
	    (h->has_garbage && !dirobj_ref_ok(&h->garbage)) ||
	    (h->has_inodes && !dirobj_ref_ok(&h->inodes)))
		return -EINVAL;
	return 0;
}

static int dirobj_head_v2_json(json_t *doc, const struct dirobj_head *h)
{
	char parent[2 * 32 + 1];
	int r;

	hex_encode(parent, sizeof(parent), h->parent, sizeof(h->parent));
	r = json_object_set_new(doc, "t", dirobj_time_json(&h->time));
	r |= json_object_set_new(doc, "dev", dirobj_hex_json(h->device));
	r |= json_object_set_new(doc, "dn", json_string(h->device_name));
	r |= json_object_set_new(doc, "parent", json_string(parent));
	r |= json_object_set_new(doc, "keep", json_integer((json_int_t)h->keep));
	r |= json_object_set_new(doc, "gr", json_integer((json_int_t)h->grace));
	if (h->has_history)
		r |= json_object_set_new(doc, "hist", dirobj_ref_json(&h->history));
	if (h->has_garbage)
		r |= json_object_set_new(doc, "g", dirobj_ref_json(&h->garbage));
	if (h->has_inodes)
		r |= json_object_set_new(doc, "it", dirobj_ref_json(&h->inodes));
	return r ? -ENOMEM : 0;
}

int dirobj_head_encode(char **out, size_t *out_len, const struct dirobj_head *head, int format)
{
	int r;

	*out = NULL;
	*out_len = 0;
	if (format < DIROBJ_FORMAT_MIN || format > DIROBJ_FORMAT_MAX ||
	    head->seq > DIROBJ_INT_MAX || dirobj_head_check(head, format))
		return -EINVAL;
	r = dirobj_entry_check(&head->root, true, format);
	if (r)
		return r;
	r = dirobj_fast_head_encode(out, out_len, head, format);
	return r == DIROBJ_FAST_DECLINE ? dirobj_head_encode_jansson(out, out_len, head, format)
					: r;
}

int dirobj_head_encode_jansson(char **out, size_t *out_len, const struct dirobj_head *head,
			       int format)
{
	json_t *doc, *root;
	int r;

	*out = NULL;
	*out_len = 0;
	if (format < DIROBJ_FORMAT_MIN || format > DIROBJ_FORMAT_MAX ||
	    head->seq > DIROBJ_INT_MAX || dirobj_head_check(head, format))
		return -EINVAL;
	r = dirobj_entry_json(&root, &head->root, true, format);
	if (r)
		return r;
	doc = json_object();
	if (!doc) {
		json_decref(root);
		return -ENOMEM;
	}
	r = json_object_set_new(doc, "seq", json_integer((json_int_t)head->seq));
	r |= json_object_set_new(doc, "root", root); /* steals root, even on failure */
	if (r == 0 && format >= 2)
		r = dirobj_head_v2_json(doc, head);
	if (r) {
		json_decref(doc);
		return -ENOMEM;
	}
	return dirobj_dump(out, out_len, doc);
}
