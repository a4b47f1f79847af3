/* dirobj_decode.c - parsing directory objects and the head from JSON
 * (docs/FORMAT.md, "Directory object", "Head"). A parser of stored bytes: it
 * must never crash on, nor accept, a malformed object; unknown fields,
 * duplicates and non-canonical spellings are refused. */
#include "dirobj.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "dirobj_check.h"
#include "dirobj_fast.h"
#include "hex.h"

#define DIROBJ_B64 sodium_base64_VARIANT_ORIGINAL

/* ---- decode: every helper returns 0 or -EBADMSG (or -ENOMEM) ---- */

static const char *const dirobj_keys_common[] = {"n", "nb", "t",  "id", "m", "u",
						 "g", "a",  "mt", "c",	"x", NULL};
static const char *const dirobj_keys_file[] = {"s", "seg", NULL};
static const char *const dirobj_keys_dir[] = {"v", "k", NULL};
static const char *const dirobj_keys_dir2[] = {"v", "k", "kc", NULL};
static const char *const dirobj_keys_link[] = {"tg", "tgb", NULL};
static const char *const dirobj_keys_dev[] = {"rd", NULL};
static const char *const dirobj_keys_none[] = {NULL};
static const char *const dirobj_keys_hardlink[] = {"n", "nb", "t", "id", NULL};

static bool dirobj_key_in(const char *key, const char *const *set)
{
	for (; set && *set; set++)
		if (strcmp(key, *set) == 0)
			return true;
	return false;
}

/* Every key of o is in a or b: unknown fields are refused, not skipped. */
static int dirobj_only_keys(json_t *o, const char *const *a, const char *const *b)
{
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v)
	{
		if (!dirobj_key_in(key, a) && !dirobj_key_in(key, b))
			return -EBADMSG;
	}
	return 0;
}

static int dirobj_get_uint(json_t *o, const char *k, uint64_t max, uint64_t *out)
{
	json_t *j = json_object_get(o, k);
	json_int_t v;

	if (!json_is_integer(j))
		return -EBADMSG;
	v = json_integer_value(j);
	if (v < 0 || (uint64_t)v > max)
		return -EBADMSG;
	*out = (uint64_t)v;
	return 0;
}

static int dirobj_hex_value(json_t *j, uint8_t out[OBJECT_ID_BYTES])
{
	if (!json_is_string(j))
		return -EBADMSG;
	return hex_decode(out, OBJECT_ID_BYTES, json_string_value(j), json_string_length(j))
		   ? -EBADMSG
		   : 0;
}

static int dirobj_get_time(json_t *o, const char *k, struct dirobj_time *t)
{
	json_t *a = json_object_get(o, k);
	json_t *s = json_array_get(a, 0), *ns = json_array_get(a, 1);

	if (!json_is_array(a) || json_array_size(a) != 2 || !json_is_integer(s) ||
	    !json_is_integer(ns))
		return -EBADMSG;
	if (json_integer_value(ns) < 0 || json_integer_value(ns) > DIROBJ_NSEC_MAX)
		return -EBADMSG;
	t->sec = json_integer_value(s);
	t->nsec = (uint32_t)json_integer_value(ns);
	return 0;
}

/* Decodes canonical base64 into a new buffer with a NUL after *len bytes. */
static int dirobj_b64_value(json_t *j, size_t max, char **out, size_t *len)
{
	const char *b64 = json_string_value(j), *end = NULL;
	size_t b64_len = json_string_length(j);
	char *bin;

	if (!b64 || b64_len / 4 * 3 > max + 2)
		return -EBADMSG;
	bin = malloc(b64_len / 4 * 3 + 1);
	if (!bin)
		return -ENOMEM;
	if (sodium_base642bin((unsigned char *)bin, b64_len / 4 * 3, b64, b64_len, NULL, len, &end,
			      DIROBJ_B64) != 0 ||
	    end != b64 + b64_len || *len > max) {
		free(bin);
		return -EBADMSG;
	}
	bin[*len] = '\0';
	*out = bin;
	return 0;
}

/* Exactly one of o[k_text] (a string) and o[k_b64] (base64 of bytes that are
 * not valid UTF-8, so every byte string has one spelling). */
static int dirobj_get_bytes(json_t *o, const char *k_text, const char *k_b64, size_t max,
			    char **out, size_t *len)
{
	json_t *t = json_object_get(o, k_text), *b = json_object_get(o, k_b64);
	int r;

	if ((t == NULL) == (b == NULL))
		return -EBADMSG;
	if (t) {
		if (!json_is_string(t) || json_string_length(t) > max)
			return -EBADMSG;
		*len = json_string_length(t);
		*out = malloc(*len + 1);
		if (!*out)
			return -ENOMEM;
		memcpy(*out, json_string_value(t), *len + 1);
		return 0;
	}
	r = dirobj_b64_value(b, max, out, len);
	if (r == 0 && dirobj_check_utf8(*out, *len)) {
		free(*out);
		*out = NULL;
		r = -EBADMSG;
	}
	return r;
}

/* Format 1: "<key hex>"; format 2: ["<key hex>",c], nothing else. */
static int dirobj_seg_value(json_t *v, struct dirobj_segment *seg, int format)
{
	json_t *k = v, *c = NULL;
	json_int_t cv;

	if (format >= 2) {
		if (!json_is_array(v) || json_array_size(v) != 2)
			return -EBADMSG;
		k = json_array_get(v, 0);
		c = json_array_get(v, 1);
		if (!json_is_integer(c) || (cv = json_integer_value(c)) < 0)
			return -EBADMSG;
		seg->created = (uint64_t)cv;
	}
	if (dirobj_hex_value(k, seg->store_key))
		return -EBADMSG;
	seg->present = true;
	return 0;
}

static int dirobj_get_segments(json_t *o, struct dirobj_entry *e, int format)
{
	json_t *a = json_object_get(o, "seg"), *v;
	size_t i;

	if (!json_is_array(a) || json_array_size(a) != chunk_file_segments(e->size))
		return -EBADMSG;
	e->nsegments = json_array_size(a);
	if (e->nsegments == 0)
		return 0;
	e->segments = calloc(e->nsegments, sizeof(*e->segments));
	if (!e->segments)
		return -ENOMEM;
	json_array_foreach(a, i, v)
	{
		if (json_is_null(v))
			continue;
		if (dirobj_seg_value(v, &e->segments[i], format))
			return -EBADMSG;
	}
	return 0;
}

static int dirobj_get_xattrs(json_t *o, struct dirobj_entry *e)
{
	json_t *x = json_object_get(o, "x"), *v;
	const char *key;
	char *val = NULL;
	int r;

	if (!x)
		return 0;
	if (!json_is_object(x) || json_object_size(x) == 0)
		return -EBADMSG;
	e->xattrs = calloc(json_object_size(x), sizeof(*e->xattrs));
	if (!e->xattrs)
		return -ENOMEM;
	json_object_foreach(x, key, v)
	{
		struct dirobj_xattr *xa = &e->xattrs[e->nxattrs];
		size_t klen = strlen(key);
		if (klen == 0 || klen > DIROBJ_XATTR_NAME_MAX)
			return -EBADMSG;
		r = dirobj_b64_value(v, DIROBJ_XATTR_VALUE_MAX, &val, &xa->len);
		if (r)
			return r;
		xa->value = (unsigned char *)val;
		if (xa->len == 0) {
			free(val);
			xa->value = NULL;
		}
		e->nxattrs++; /* counted before strdup so release frees value */
		xa->name = strdup(key);
		if (!xa->name)
			return -ENOMEM;
	}
	return 0;
}

static int dirobj_get_type_fields(json_t *o, struct dirobj_entry *e, int format)
{
	switch (e->type) {
	case DIROBJ_FILE:
		if (dirobj_get_uint(o, "s", DIROBJ_INT_MAX, &e->size))
			return -EBADMSG;
		return dirobj_get_segments(o, e, format);
	case DIROBJ_DIR:
		if (dirobj_get_uint(o, "v", DIROBJ_INT_MAX, &e->ref.version) ||
		    dirobj_hex_value(json_object_get(o, "k"), e->ref.store_key) ||
		    (format >= 2 && dirobj_get_uint(o, "kc", DIROBJ_INT_MAX, &e->ref.created)))
			return -EBADMSG;
		return 0;
	case DIROBJ_SYMLINK: {
		int r =
		    dirobj_get_bytes(o, "tg", "tgb", DIROBJ_TARGET_MAX, &e->target, &e->target_len);
		if (r == 0 && !dirobj_check_target(e->target, e->target_len))
			r = -EBADMSG;
		return r;
	}
	case DIROBJ_CHR:
	case DIROBJ_BLK:
		return dirobj_get_uint(o, "rd", DIROBJ_INT_MAX, &e->rdev);
	case DIROBJ_FIFO:
	case DIROBJ_SOCK:
		return 0;
	case DIROBJ_HARDLINK:
		break;
	}
	return -EBADMSG;
}

static int dirobj_get_type(json_t *o, enum dirobj_type *type, int format)
{
	json_t *t = json_object_get(o, "t");
	const char *s = json_string_value(t);

	if (!s || json_string_length(t) != 1 || !dirobj_check_type(s[0], format))
		return -EBADMSG;
	*type = (enum dirobj_type)s[0];
	return 0;
}

static const char *const *dirobj_type_keys(enum dirobj_type type, int format)
{
	switch (type) {
	case DIROBJ_FILE:
		return dirobj_keys_file;
	case DIROBJ_DIR:
		return format >= 2 ? dirobj_keys_dir2 : dirobj_keys_dir;
	case DIROBJ_SYMLINK:
		return dirobj_keys_link;
	case DIROBJ_CHR:
	case DIROBJ_BLK:
		return dirobj_keys_dev;
	case DIROBJ_FIFO:
	case DIROBJ_SOCK:
	case DIROBJ_HARDLINK:
		break;
	}
	return dirobj_keys_none;
}

static int dirobj_get_common(json_t *o, struct dirobj_entry *e, bool root)
{
	uint64_t mode, uid, gid;
	int r;

	r = dirobj_get_bytes(o, "n", "nb", DIROBJ_NAME_MAX, &e->name, &e->name_len);
	if (r)
		return r;
	if (!dirobj_check_name(e->name, e->name_len, root) ||
	    dirobj_hex_value(json_object_get(o, "id"), e->id) ||
	    dirobj_get_uint(o, "m", UINT32_MAX, &mode) || !dirobj_check_mode(e->type, mode) ||
	    dirobj_get_uint(o, "u", UINT32_MAX, &uid) ||
	    dirobj_get_uint(o, "g", UINT32_MAX, &gid) || dirobj_get_time(o, "a", &e->atime) ||
	    dirobj_get_time(o, "mt", &e->mtime) || dirobj_get_time(o, "c", &e->ctime))
		return -EBADMSG;
	e->mode = (uint32_t)mode;
	e->uid = (uint32_t)uid;
	e->gid = (uint32_t)gid;
	return 0;
}

/* A "h" entry: exactly n/nb, t and id. */
static int dirobj_get_hardlink(json_t *o, struct dirobj_entry *e)
{
	int r = dirobj_only_keys(o, dirobj_keys_hardlink, NULL);

	if (r == 0)
		r = dirobj_get_bytes(o, "n", "nb", DIROBJ_NAME_MAX, &e->name, &e->name_len);
	if (r == 0 && (!dirobj_check_name(e->name, e->name_len, false) ||
		       dirobj_hex_value(json_object_get(o, "id"), e->id)))
		r = -EBADMSG;
	return r;
}

/* Fills *e (zeroed first); on failure releases what it allocated. */
static int dirobj_entry_from_json(struct dirobj_entry *e, json_t *o, bool root, int format)
{
	int r;

	memset(e, 0, sizeof(*e));
	if (!json_is_object(o))
		return -EBADMSG;
	r = dirobj_get_type(o, &e->type, format);
	if (r == 0 && (root && e->type != DIROBJ_DIR))
		r = -EBADMSG;
	if (r == 0 && e->type == DIROBJ_HARDLINK) {
		r = dirobj_get_hardlink(o, e);
		if (r)
			dirobj_entry_release(e);
		return r;
	}
	if (r == 0)
		r = dirobj_only_keys(o, dirobj_keys_common, dirobj_type_keys(e->type, format));
	if (r == 0)
		r = dirobj_get_common(o, e, root);
	if (r == 0)
		r = dirobj_get_type_fields(o, e, format);
	if (r == 0)
		r = dirobj_get_xattrs(o, e);
	if (r)
		dirobj_entry_release(e);
	return r;
}

static json_t *dirobj_load(const char *json, size_t len, const char *const *keys)
{
	json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);

	if (doc && (!json_is_object(doc) || dirobj_only_keys(doc, keys, NULL))) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static int dirobj_get_entries(struct dirobj *dir, json_t *arr, int format)
{
	json_t *v;
	size_t i;
	int r;

	if (!json_is_array(arr))
		return -EBADMSG;
	if (json_array_size(arr) == 0)
		return 0;
	dir->entries = calloc(json_array_size(arr), sizeof(*dir->entries));
	if (!dir->entries)
		return -ENOMEM;
	json_array_foreach(arr, i, v)
	{
		r = dirobj_entry_from_json(&dir->entries[i], v, false, format);
		if (r)
			return r;
		dir->nentries++;
	}
	r = dirobj_check_unique(dir);
	return r == -EEXIST ? -EBADMSG : r;
}

/* dirobj_decode (dirobj_fast.c) comes here for what its fast path declines. */
int dirobj_decode_jansson(struct dirobj *dir, const char *json, size_t len, int format)
{
	static const char *const keys[] = {"id", "e", NULL};
	json_t *doc;
	int r;

	memset(dir, 0, sizeof(*dir));
	if (format < DIROBJ_FORMAT_MIN || format > DIROBJ_FORMAT_MAX)
		return -EINVAL;
	doc = dirobj_load(json, len, keys);
	if (!doc)
		return -EBADMSG;
	r = dirobj_hex_value(json_object_get(doc, "id"), dir->dir_id);
	if (r == 0)
		r = dirobj_get_entries(dir, json_object_get(doc, "e"), format);
	json_decref(doc);
	if (r)
		dirobj_release(dir);
	return r;
}

/* A REF: exactly {"c":N,"k":"<hex>","v":N}; absent leaves *has false. */
static int dirobj_get_ref(json_t *doc, const char *k, bool *has, struct dirobj_ref *ref)
{
	static const char *const keys[] = {"c", "k", "v", NULL};
	json_t *o = json_object_get(doc, k);

	if (!o)
		return 0;
	if (!json_is_object(o) || json_object_size(o) != 3 || dirobj_only_keys(o, keys, NULL) ||
	    dirobj_get_uint(o, "v", DIROBJ_INT_MAX, &ref->version) ||
	    dirobj_get_uint(o, "c", DIROBJ_INT_MAX, &ref->created) ||
	    dirobj_hex_value(json_object_get(o, "k"), ref->store_key))
		return -EBADMSG;
	*has = true;
	return 0;
}

static int dirobj_get_device_name(json_t *doc, struct dirobj_head *head)
{
	json_t *dn = json_object_get(doc, "dn");
	size_t len = json_string_length(dn);

	if (!json_is_string(dn) || !dirobj_check_device_name(json_string_value(dn), len))
		return -EBADMSG;
	memcpy(head->device_name, json_string_value(dn), len);
	head->device_name[len] = '\0';
	return 0;
}

static int dirobj_get_parent(json_t *doc, struct dirobj_head *head)
{
	json_t *p = json_object_get(doc, "parent");

	if (!json_is_string(p) || hex_decode(head->parent, sizeof(head->parent),
					     json_string_value(p), json_string_length(p)))
		return -EBADMSG;
	return 0;
}

/* The members of a format-2 head beside seq and root. */
static int dirobj_head_v2_from_json(json_t *doc, struct dirobj_head *head)
{
	if (dirobj_get_time(doc, "t", &head->time) ||
	    dirobj_hex_value(json_object_get(doc, "dev"), head->device) ||
	    dirobj_get_device_name(doc, head) || dirobj_get_parent(doc, head) ||
	    dirobj_get_uint(doc, "keep", DIROBJ_INT_MAX, &head->keep) ||
	    dirobj_get_uint(doc, "gr", DIROBJ_INT_MAX, &head->grace) ||
	    dirobj_get_ref(doc, "hist", &head->has_history, &head->history) ||
	    dirobj_get_ref(doc, "g", &head->has_garbage, &head->garbage) ||
	    dirobj_get_ref(doc, "it", &head->has_inodes, &head->inodes))
		return -EBADMSG;
	return 0;
}

int dirobj_head_decode(struct dirobj_head *head, const char *json, size_t len, int format)
{
	static const char *const keys1[] = {"seq", "root", NULL};
	static const char *const keys2[] = {"seq",  "root", "t",    "dev", "dn", "parent",
					    "keep", "gr",   "hist", "g",   "it", NULL};
	json_t *doc;
	int r;

	memset(head, 0, sizeof(*head));
	if (format < DIROBJ_FORMAT_MIN || format > DIROBJ_FORMAT_MAX)
		return -EINVAL;
	doc = dirobj_load(json, len, format >= 2 ? keys2 : keys1);
	if (!doc)
		return -EBADMSG;
	r = dirobj_get_uint(doc, "seq", DIROBJ_INT_MAX, &head->seq);
	if (r == 0 && format >= 2)
		r = dirobj_head_v2_from_json(doc, head);
	if (r == 0)
		r = dirobj_entry_from_json(&head->root, json_object_get(doc, "root"), true, format);
	json_decref(doc);
	if (r)
		memset(head, 0, sizeof(*head));
	return r;
}
