/* itable.c - encoding and decoding the inode table's pages (itable.h,
 * docs/FORMAT.md "Inode table"). A record is a file entry without its name
 * (and, for a regular file, its type), so records go through dirobj's own
 * encoder and decoder (every entry rule in one place): a leaf is rewritten
 * as a directory object whose entries are named by their index, and back.
 * Must never accept what the encoder would refuse, nor leave an
 * intermediate JSON text unwiped. */
#include "itable.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "hex.h"

#define ITABLE_NAME_BYTES 24 /* a decimal index and its NUL */

size_t itable_slots_want(size_t nrecs, size_t was)
{
	size_t want = was ? was : 1;

	if (nrecs == 0)
		return 0;
	while (nrecs > ITABLE_PER_SLOT * want && want < ITABLE_SLOTS_MAX)
		want *= 2;
	while (want > 1 && nrecs < ITABLE_PER_SLOT / 4 * want)
		want /= 2;
	return want;
}

size_t itable_slot_of(const uint8_t id[OBJECT_ID_BYTES], size_t nslots)
{
	return ((size_t)id[0] | (size_t)id[1] << 8) & (nslots - 1);
}

static bool itable_nslots_ok(size_t n) { return n >= 1 && n <= ITABLE_SLOTS_MAX && !(n & (n - 1)); }

static bool itable_ref_ok(const struct dirobj_ref *r)
{
	return r->version <= (uint64_t)INT64_MAX && r->created <= (uint64_t)INT64_MAX;
}

static char *itable_dump_wipe(json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(doc);
	return s;
}

static void itable_free_text(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

/* ---- index ---- */

void itable_index_release(struct itable_index *ix)
{
	free(ix->slots);
	memset(ix, 0, sizeof(*ix));
}

static int itable_index_check(const struct itable_index *ix)
{
	size_t present = 0;

	if (!itable_nslots_ok(ix->n) || !ix->slots)
		return -1;
	for (size_t i = 0; i < ix->n; i++) {
		if (!ix->slots[i].present)
			continue;
		if (!itable_ref_ok(&ix->slots[i].ref))
			return -1;
		present++;
		for (size_t j = 0; j < i; j++)
			if (ix->slots[j].present &&
			    !memcmp(ix->slots[j].ref.store_key, ix->slots[i].ref.store_key,
				    OBJECT_ID_BYTES))
				return -1;
	}
	return present > 0 ? 0 : -1;
}

static json_t *itable_ref_json(const struct dirobj_ref *r)
{
	char hex[2 * OBJECT_ID_BYTES + 1];

	hex_encode(hex, sizeof(hex), r->store_key, OBJECT_ID_BYTES);
	return json_pack("{s:I,s:s,s:I}", "c", (json_int_t)r->created, "k", hex, "v",
			 (json_int_t)r->version);
}

int itable_index_encode(char **out, size_t *out_len, const struct itable_index *ix)
{
	json_t *arr, *doc;

	*out = NULL;
	*out_len = 0;
	if (itable_index_check(ix))
		return -EINVAL;
	arr = json_array();
	for (size_t i = 0; arr && i < ix->n; i++)
		if (json_array_append_new(arr, ix->slots[i].present
						   ? itable_ref_json(&ix->slots[i].ref)
						   : json_null())) {
			json_decref(arr);
			arr = NULL;
		}
	doc = arr ? json_pack("{s:o}", "p", arr) : NULL;
	if (!doc)
		return -ENOMEM;
	*out = itable_dump_wipe(doc);
	if (!*out)
		return -ENOMEM;
	*out_len = strlen(*out);
	return 0;
}

static int itable_uint(json_t *j, uint64_t *out)
{
	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(j);
	return 0;
}

static int itable_ref(json_t *j, struct dirobj_ref *r)
{
	json_t *k = json_object_get(j, "k");

	if (!json_is_object(j) || json_object_size(j) != 3 || !json_is_string(k) ||
	    itable_uint(json_object_get(j, "c"), &r->created) ||
	    itable_uint(json_object_get(j, "v"), &r->version) ||
	    hex_decode(r->store_key, OBJECT_ID_BYTES, json_string_value(k), json_string_length(k)))
		return -1;
	return 0;
}

int itable_index_decode(struct itable_index *ix, const char *json, size_t len)
{
	json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *arr = json_object_get(doc, "p");
	int r = -EBADMSG;

	memset(ix, 0, sizeof(*ix));
	if (!json_is_object(doc) || json_object_size(doc) != 1 || !json_is_array(arr) ||
	    !itable_nslots_ok(json_array_size(arr)))
		goto out;
	ix->n = json_array_size(arr);
	ix->slots = calloc(ix->n, sizeof(*ix->slots));
	if (!ix->slots) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ix->n; i++) {
		json_t *s = json_array_get(arr, i);
		if (json_is_null(s))
			continue;
		if (itable_ref(s, &ix->slots[i].ref))
			goto out;
		ix->slots[i].present = true;
	}
	r = itable_index_check(ix) ? -EBADMSG : 0;
out:
	json_decref(doc);
	if (r)
		itable_index_release(ix);
	return r;
}

/* ---- leaves ---- */

/* The types a record may have: a regular file; from format 3 any type but
 * a directory or a name (docs/FORMAT.md "Inode table"). */
static bool itable_type_ok(enum dirobj_type type, int format)
{
	if (type == DIROBJ_FILE)
		return true;
	return format >= 3 && (type == DIROBJ_SYMLINK || type == DIROBJ_FIFO ||
			       type == DIROBJ_SOCK || type == DIROBJ_CHR || type == DIROBJ_BLK);
}

void itable_leaf_release(struct itable_leaf *l)
{
	for (size_t i = 0; l->recs && i < l->n; i++)
		dirobj_entry_release(&l->recs[i].e);
	free(l->recs);
	memset(l, 0, sizeof(*l));
}

/* Records as a directory object's entries named "0", "1", ... (borrowed
 * but for the names, which live in names). */
static int itable_leaf_dirobj(struct dirobj *d, char (*names)[ITABLE_NAME_BYTES],
			      const struct itable_leaf *l, size_t slot, size_t nslots, int format)
{
	memset(d, 0, sizeof(*d));
	d->entries = calloc(l->n ? l->n : 1, sizeof(*d->entries));
	if (!d->entries)
		return -ENOMEM;
	d->nentries = l->n;
	for (size_t i = 0; i < l->n; i++) {
		const struct itable_record *rec = &l->recs[i];
		if (!itable_type_ok(rec->e.type, format) || rec->nlink < 1 ||
		    itable_slot_of(rec->e.id, nslots) != slot)
			return -EINVAL;
		d->entries[i] = rec->e;
		snprintf(names[i], ITABLE_NAME_BYTES, "%zu", i);
		d->entries[i].name = names[i];
		d->entries[i].name_len = strlen(names[i]);
	}
	return 0;
}

/* The dirobj's JSON with n of each entry replaced by the record's nl, and t
 * dropped for a regular file (format 3 keeps the other types' t). */
static int itable_leaf_records(char **out, const char *dj, const struct itable_leaf *l)
{
	json_t *d = json_loads(dj, 0, NULL), *arr = json_object_get(d, "e"), *doc;

	if (!json_is_array(arr) || json_array_size(arr) != l->n) {
		json_decref(d);
		return -ENOMEM; /* our own encoder's output: only memory can fail */
	}
	for (size_t i = 0; i < l->n; i++) {
		json_t *o = json_array_get(arr, i);
		if (json_object_del(o, "n") ||
		    (l->recs[i].e.type == DIROBJ_FILE && json_object_del(o, "t")) ||
		    json_object_set_new(o, "nl", json_integer((json_int_t)l->recs[i].nlink))) {
			json_decref(d);
			return -ENOMEM;
		}
	}
	doc = json_pack("{s:O}", "r", arr);
	json_decref(d);
	*out = doc ? itable_dump_wipe(doc) : NULL;
	return *out ? 0 : -ENOMEM;
}

int itable_leaf_encode_fmt(char **out, size_t *out_len, const struct itable_leaf *l, size_t slot,
			   size_t nslots, int format)
{
	char(*names)[ITABLE_NAME_BYTES] = NULL;
	struct dirobj d = {.nentries = 0};
	char *dj = NULL;
	size_t dlen;
	int r = -EINVAL;

	*out = NULL;
	*out_len = 0;
	if (!itable_nslots_ok(nslots) || slot >= nslots || (l->n > 0 && !l->recs))
		return -EINVAL;
	names = calloc(l->n ? l->n : 1, sizeof(*names));
	r = names ? itable_leaf_dirobj(&d, names, l, slot, nslots, format) : -ENOMEM;
	if (r == 0)
		r = dirobj_encode(&dj, &dlen, &d, format);
	if (r == 0)
		r = itable_leaf_records(out, dj, l);
	if (r == 0)
		*out_len = strlen(*out);
	itable_free_text(dj);
	free(d.entries);
	free(names);
	return r;
}

/* A record's "t": absent (a regular file, given "f" here), or from format 3
 * one of the other non-directory types. 0 or -1. */
static int itable_record_type(json_t *o, int format)
{
	json_t *t = json_object_get(o, "t");
	const char *v;

	if (!t)
		return json_object_set_new(o, "t", json_string("f")) ? -1 : 0;
	v = json_string_value(t);
	if (format < 3 || !v || json_string_length(t) != 1 || !v[0] || !strchr("lpscb", v[0]))
		return -1;
	return 0;
}

/* The leaf's records as a directory object's JSON (entries named by index,
 * "nl" taken out into nlinks). */
static int itable_leaf_as_dir(char **out, uint32_t **nlinks, size_t *n, json_t *doc, int format)
{
	json_t *arr = json_object_get(doc, "r"), *d;

	if (!json_is_object(doc) || json_object_size(doc) != 1 || !json_is_array(arr))
		return -EBADMSG;
	*n = json_array_size(arr);
	*nlinks = calloc(*n ? *n : 1, sizeof(**nlinks));
	if (!*nlinks)
		return -ENOMEM;
	for (size_t i = 0; i < *n; i++) {
		json_t *o = json_array_get(arr, i), *nl = json_object_get(o, "nl");
		char name[ITABLE_NAME_BYTES];
		if (!json_is_object(o) || !json_is_integer(nl) || json_integer_value(nl) < 1 ||
		    (uint64_t)json_integer_value(nl) > ITABLE_NLINK_MAX ||
		    json_object_get(o, "n") || json_object_get(o, "nb") ||
		    itable_record_type(o, format))
			return -EBADMSG;
		(*nlinks)[i] = (uint32_t)json_integer_value(nl);
		snprintf(name, sizeof(name), "%zu", i);
		if (json_object_del(o, "nl") || json_object_set_new(o, "n", json_string(name)))
			return -ENOMEM;
	}
	d = json_pack("{s:O,s:s}", "e", arr, "id", "00000000000000000000000000000000");
	*out = d ? itable_dump_wipe(d) : NULL;
	return *out ? 0 : -ENOMEM;
}

static int itable_leaf_take(struct itable_leaf *l, struct dirobj *d, const uint32_t *nlinks,
			    size_t slot, size_t nslots, int format)
{
	l->recs = calloc(d->nentries ? d->nentries : 1, sizeof(*l->recs));
	if (!l->recs)
		return -ENOMEM;
	for (size_t i = 0; i < d->nentries; i++)
		if (!itable_type_ok(d->entries[i].type, format) ||
		    itable_slot_of(d->entries[i].id, nslots) != slot)
			return -EBADMSG;
	for (size_t i = 0; i < d->nentries; i++) {
		l->recs[i].e = d->entries[i];
		l->recs[i].nlink = nlinks[i];
	}
	l->n = d->nentries;
	free(d->entries);
	memset(d, 0, sizeof(*d));
	return 0;
}

int itable_leaf_decode_fmt(struct itable_leaf *l, const char *json, size_t len, size_t slot,
			   size_t nslots, int format)
{
	json_t *doc;
	struct dirobj d = {.nentries = 0};
	uint32_t *nlinks = NULL;
	char *dj = NULL;
	size_t n = 0;
	int r;

	memset(l, 0, sizeof(*l));
	if (!itable_nslots_ok(nslots) || slot >= nslots || format < 2 || format > DIROBJ_FORMAT_MAX)
		return -EBADMSG;
	doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	r = doc ? itable_leaf_as_dir(&dj, &nlinks, &n, doc, format) : -EBADMSG;
	json_decref(doc);
	if (r == 0)
		r = dirobj_decode(&d, dj, strlen(dj), format);
	if (r == 0 && d.nentries != n)
		r = -EBADMSG;
	if (r == 0)
		r = itable_leaf_take(l, &d, nlinks, slot, nslots, format);
	dirobj_release(&d);
	itable_free_text(dj);
	free(nlinks);
	if (r) {
		itable_leaf_release(l);
		return r == -ENOMEM ? r : -EBADMSG;
	}
	return 0;
}

int itable_leaf_encode(char **out, size_t *out_len, const struct itable_leaf *l, size_t slot,
		       size_t nslots)
{
	return itable_leaf_encode_fmt(out, out_len, l, slot, nslots, 2);
}

int itable_leaf_decode(struct itable_leaf *l, const char *json, size_t len, size_t slot,
		       size_t nslots)
{
	return itable_leaf_decode_fmt(l, json, len, slot, nslots, 2);
}
