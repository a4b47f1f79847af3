/* dirpage.c - encoding and decoding paged directories (dirpage.h,
 * docs/FORMAT.md "Paged directories"). A page is a directory object, so its
 * entries go through dirobj's own encoder and decoder (every entry rule in
 * one place); this file adds the index and the page rules (slot, id, not
 * empty) and the split and join. Must never accept what the encoder would
 * refuse, nor leave an intermediate JSON text unwiped. */
#include "dirpage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "dirobj_check.h"
#include "hex.h"

#define DIRPAGE_INT_MAX ((uint64_t)INT64_MAX)

size_t dirpage_slot_of(const uint8_t id[OBJECT_ID_BYTES], size_t nslots)
{
	return ((size_t)id[0] | (size_t)id[1] << 8) & (nslots - 1);
}

static bool dirpage_nslots_ok(size_t n)
{
	return n >= DIRPAGE_SLOTS_MIN && n <= DIRPAGE_SLOTS_MAX && !(n & (n - 1));
}

/* The smallest slot count that keeps pages at DIRPAGE_AIM on average. */
static size_t dirpage_aim(size_t nentries)
{
	size_t s = DIRPAGE_SLOTS_MIN;

	while (s < DIRPAGE_SLOTS_MAX && nentries > s * DIRPAGE_AIM)
		s *= 2;
	return s;
}

size_t dirpage_nslots(size_t nentries, size_t cur)
{
	if (cur == 0)
		return nentries > DIRPAGE_SPLIT ? dirpage_aim(nentries) : 0;
	if (nentries < DIRPAGE_JOIN)
		return 0;
	if (!dirpage_nslots_ok(cur) || nentries > cur * DIRPAGE_AIM * 2 ||
	    nentries < cur * (DIRPAGE_AIM / 4))
		return dirpage_aim(nentries);
	return cur;
}

bool dirpage_maybe_index(const char *json, size_t len)
{
	static const char plain[] = "{\"e\":";

	return len < sizeof(plain) - 1 || memcmp(json, plain, sizeof(plain) - 1) != 0;
}

/* ---- the index ---- */

void dirpage_index_release(struct dirpage_index *ix)
{
	free(ix->slots);
	memset(ix, 0, sizeof(*ix));
}

static int dirpage_cmp_key(const void *a, const void *b) { return memcmp(a, b, OBJECT_ID_BYTES); }

/* 0 when ix keeps every rule of dirpage.h; -1 otherwise; -ENOMEM. */
static int dirpage_index_check(const struct dirpage_index *ix)
{
	uint8_t(*keys)[OBJECT_ID_BYTES];
	size_t n = 0;
	int r = 0;

	if (!dirpage_nslots_ok(ix->nslots) || !ix->slots || ix->nentries == 0 ||
	    ix->nentries > DIRPAGE_INT_MAX)
		return -1;
	keys = malloc(ix->nslots * OBJECT_ID_BYTES);
	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < ix->nslots && r == 0; i++) {
		const struct dirpage_slot *s = &ix->slots[i];
		if (!s->present)
			continue;
		if (s->ref.version > DIRPAGE_INT_MAX || s->ref.created > DIRPAGE_INT_MAX)
			r = -1;
		memcpy(keys[n++], s->ref.store_key, OBJECT_ID_BYTES);
	}
	if (r == 0 && (n == 0 || n > ix->nentries))
		r = -1; /* every page holds an entry */
	qsort(keys, n, OBJECT_ID_BYTES, dirpage_cmp_key);
	for (size_t i = 1; i < n && r == 0; i++)
		if (memcmp(keys[i - 1], keys[i], OBJECT_ID_BYTES) == 0)
			r = -1;
	free(keys);
	return r;
}

static json_t *dirpage_hex_json(const uint8_t bin[OBJECT_ID_BYTES])
{
	char hex[2 * OBJECT_ID_BYTES + 1];

	hex_encode(hex, sizeof(hex), bin, OBJECT_ID_BYTES);
	return json_string(hex);
}

static json_t *dirpage_ref_json(const struct dirobj_ref *r)
{
	return json_pack("{s:I,s:o,s:I}", "c", (json_int_t)r->created, "k",
			 dirpage_hex_json(r->store_key), "v", (json_int_t)r->version);
}

int dirpage_index_encode(char **out, size_t *out_len, const struct dirpage_index *ix)
{
	json_t *arr, *doc;
	int r = dirpage_index_check(ix);

	*out = NULL;
	*out_len = 0;
	if (r)
		return r == -ENOMEM ? r : -EINVAL;
	arr = json_array();
	for (size_t i = 0; arr && i < ix->nslots; i++)
		if (json_array_append_new(arr, ix->slots[i].present
						   ? dirpage_ref_json(&ix->slots[i].ref)
						   : json_null())) {
			json_decref(arr);
			arr = NULL;
		}
	doc = arr ? json_pack("{s:o,s:I,s:o}", "id", dirpage_hex_json(ix->dir_id), "n",
			      (json_int_t)ix->nentries, "p", arr)
		  : NULL;
	if (!doc)
		return -ENOMEM;
	*out = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (!*out)
		return -ENOMEM;
	*out_len = strlen(*out);
	return 0;
}

static int dirpage_uint(json_t *j, uint64_t *out)
{
	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(j);
	return 0;
}

static int dirpage_hex(json_t *j, uint8_t out[OBJECT_ID_BYTES])
{
	if (!json_is_string(j))
		return -1;
	return hex_decode(out, OBJECT_ID_BYTES, json_string_value(j), json_string_length(j)) ? -1
											     : 0;
}

static int dirpage_ref(json_t *j, struct dirobj_ref *r)
{
	if (!json_is_object(j) || json_object_size(j) != 3 ||
	    dirpage_uint(json_object_get(j, "c"), &r->created) ||
	    dirpage_uint(json_object_get(j, "v"), &r->version) ||
	    dirpage_hex(json_object_get(j, "k"), r->store_key))
		return -1;
	return 0;
}

static int dirpage_index_slots(struct dirpage_index *ix, json_t *arr)
{
	ix->nslots = json_array_size(arr);
	ix->slots = calloc(ix->nslots, sizeof(*ix->slots));
	if (!ix->slots)
		return -ENOMEM;
	for (size_t i = 0; i < ix->nslots; i++) {
		json_t *s = json_array_get(arr, i);
		if (json_is_null(s))
			continue;
		if (dirpage_ref(s, &ix->slots[i].ref))
			return -EBADMSG;
		ix->slots[i].present = true;
	}
	return 0;
}

int dirpage_index_decode(struct dirpage_index *ix, const char *json, size_t len)
{
	json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *arr = json_object_get(doc, "p");
	int r = -EBADMSG;

	memset(ix, 0, sizeof(*ix));
	if (json_is_object(doc) && json_object_get(doc, "e")) {
		r = -ENOMSG; /* a plain directory object */
		goto out;
	}
	if (!json_is_object(doc) || json_object_size(doc) != 3 || !json_is_array(arr) ||
	    !dirpage_nslots_ok(json_array_size(arr)) ||
	    dirpage_hex(json_object_get(doc, "id"), ix->dir_id) ||
	    dirpage_uint(json_object_get(doc, "n"), &ix->nentries))
		goto out;
	r = dirpage_index_slots(ix, arr);
	if (r == 0)
		r = dirpage_index_check(ix);
	if (r == -1)
		r = -EBADMSG;
out:
	json_decref(doc);
	if (r)
		dirpage_index_release(ix);
	return r;
}

/* ---- split and pages ---- */

/* By name (bytes), a shorter name first on a common prefix. */
static int dirpage_cmp_name(const struct dirobj_entry *x, const struct dirobj_entry *y)
{
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);

	if (c)
		return c;
	return (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static int dirpage_cmp_entry(const void *a, const void *b) { return dirpage_cmp_name(a, b); }

void dirpage_sort(struct dirobj *page)
{
	if (page->nentries > 1)
		qsort(page->entries, page->nentries, sizeof(*page->entries), dirpage_cmp_entry);
}

int dirpage_split(const struct dirobj *dir, size_t nslots, size_t **order, size_t **first)
{
	size_t n = dir->nentries ? dir->nentries : 1;
	size_t *o = calloc(n, sizeof(*o)), *f = calloc(nslots + 1, sizeof(*f));
	size_t *at = calloc(nslots, sizeof(*at));
	int r = o && f && at ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < dir->nentries; i++) /* a counting sort by slot */
		f[dirpage_slot_of(dir->entries[i].id, nslots) + 1]++;
	for (size_t s = 0; r == 0 && s < nslots; s++) {
		f[s + 1] += f[s]; /* f[s]: where slot s starts */
		at[s] = f[s];
	}
	for (size_t i = 0; r == 0 && i < dir->nentries; i++)
		o[at[dirpage_slot_of(dir->entries[i].id, nslots)]++] = i;
	free(at);
	*order = r ? NULL : o;
	*first = r ? NULL : f;
	if (r) {
		free(o);
		free(f);
	}
	return r;
}

/* ---- the digest of a page ---- */

static void dirpage_hash_u64(crypto_generichash_state *st, uint64_t v)
{
	uint8_t b[8];

	for (size_t i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	crypto_generichash_update(st, b, sizeof(b));
}

static void dirpage_hash_bytes(crypto_generichash_state *st, const void *p, size_t n)
{
	dirpage_hash_u64(st, n);
	if (n)
		crypto_generichash_update(st, p, n);
}

static void dirpage_hash_ref(crypto_generichash_state *st, const struct dirobj_ref *r)
{
	dirpage_hash_u64(st, r->version);
	dirpage_hash_u64(st, r->created);
	crypto_generichash_update(st, r->store_key, OBJECT_ID_BYTES);
}

static void dirpage_hash_time(crypto_generichash_state *st, const struct dirobj_time *t)
{
	dirpage_hash_u64(st, (uint64_t)t->sec);
	dirpage_hash_u64(st, t->nsec);
}

/* Every member of e, whether its type stores it or not (a member the
 * encoder leaves out can only make two equal pages look different). */
static void dirpage_hash_entry(crypto_generichash_state *st, const struct dirobj_entry *e)
{
	/* A new member of struct dirobj_entry must be hashed here too, or a
	 * change of only that member would keep a stale page. */
	_Static_assert(sizeof(struct dirobj_entry) == 184, "hash every member of dirobj_entry");
	dirpage_hash_bytes(st, e->name, e->name_len);
	dirpage_hash_u64(st, (uint64_t)e->type);
	crypto_generichash_update(st, e->id, OBJECT_ID_BYTES);
	dirpage_hash_u64(st, e->mode);
	dirpage_hash_u64(st, e->uid);
	dirpage_hash_u64(st, e->gid);
	dirpage_hash_u64(st, e->size);
	dirpage_hash_time(st, &e->atime);
	dirpage_hash_time(st, &e->mtime);
	dirpage_hash_time(st, &e->ctime);
	dirpage_hash_bytes(st, e->target, e->target ? e->target_len : 0);
	dirpage_hash_ref(st, &e->ref);
	dirpage_hash_u64(st, e->nsegments);
	for (size_t i = 0; e->segments && i < e->nsegments; i++) {
		const struct dirobj_segment *s = &e->segments[i];
		dirpage_hash_u64(st, s->present);
		if (s->present) {
			crypto_generichash_update(st, s->store_key, OBJECT_ID_BYTES);
			dirpage_hash_u64(st, s->created);
		}
	}
	dirpage_hash_u64(st, e->nxattrs);
	for (size_t i = 0; e->xattrs && i < e->nxattrs; i++) {
		const char *n = e->xattrs[i].name;
		dirpage_hash_bytes(st, n, n ? strlen(n) : 0);
		dirpage_hash_bytes(st, e->xattrs[i].value,
				   e->xattrs[i].value ? e->xattrs[i].len : 0);
	}
	dirpage_hash_u64(st, e->rdev);
}

void dirpage_entry_digest(uint8_t out[32], const struct dirobj_entry *e)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	dirpage_hash_entry(&st, e);
	crypto_generichash_final(&st, out, 32);
	sodium_memzero(&st, sizeof(st));
}

void dirpage_digest_fold(uint8_t out[32], const uint8_t acc[32], size_t n,
			 const uint8_t dir_id[OBJECT_ID_BYTES], int format)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const unsigned char *)"sealfs-dirpage03", 16);
	dirpage_hash_u64(&st, (uint64_t)format);
	crypto_generichash_update(&st, dir_id, OBJECT_ID_BYTES);
	dirpage_hash_u64(&st, n);
	crypto_generichash_update(&st, acc, 32);
	crypto_generichash_final(&st, out, 32);
	sodium_memzero(&st, sizeof(st));
}

void dirpage_digest(uint8_t out[32], const struct dirobj *page, int format)
{
	uint8_t acc[32] = {0}, d[32];

	for (size_t i = 0; i < page->nentries; i++) {
		dirpage_entry_digest(d, &page->entries[i]);
		for (size_t b = 0; b < 32; b++)
			acc[b] ^= d[b];
	}
	dirpage_digest_fold(out, acc, page->nentries, page->dir_id, format);
}

/* 0 when page is a valid page of slot of nslots; -1 otherwise. */
static int dirpage_page_check(const struct dirobj *page, size_t slot, size_t nslots)
{
	if (!dirpage_nslots_ok(nslots) || slot >= nslots || page->nentries == 0)
		return -1;
	for (size_t i = 0; i < page->nentries; i++)
		if (dirpage_slot_of(page->entries[i].id, nslots) != slot)
			return -1;
	return 0;
}

int dirpage_page_encode(char **out, size_t *out_len, const struct dirobj *page, size_t slot,
			size_t nslots, int format)
{
	*out = NULL;
	*out_len = 0;
	if (format < 3 || dirpage_page_check(page, slot, nslots))
		return -EINVAL;
	return dirobj_encode(out, out_len, page, format);
}

int dirpage_page_decode(struct dirobj *page, const char *json, size_t len,
			const uint8_t dir_id[OBJECT_ID_BYTES], size_t slot, size_t nslots,
			int format)
{
	int r;

	memset(page, 0, sizeof(*page));
	if (format < 3 || format > DIROBJ_FORMAT_MAX || !dirpage_nslots_ok(nslots) ||
	    slot >= nslots)
		return -EINVAL;
	r = dirobj_decode(page, json, len, format);
	if (r == 0 && (memcmp(page->dir_id, dir_id, OBJECT_ID_BYTES) != 0 ||
		       dirpage_page_check(page, slot, nslots))) {
		dirobj_release(page);
		r = -EBADMSG;
	}
	return r;
}

int dirpage_join(struct dirobj *dir, size_t *cap, struct dirobj *page)
{
	size_t n = dir->nentries + page->nentries;

	if (page->nentries == 0)
		return 0;
	if (n > *cap) {
		size_t ncap = *cap ? *cap : 64;
		struct dirobj_entry *e;
		while (ncap < n)
			ncap *= 2;
		e = realloc(dir->entries, ncap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		dir->entries = e;
		*cap = ncap;
	}
	memcpy(dir->entries + dir->nentries, page->entries,
	       page->nentries * sizeof(*page->entries));
	dir->nentries = n;
	free(page->entries);
	page->entries = NULL;
	page->nentries = 0;
	return 0;
}

int dirpage_join_check(const struct dirobj *dir, const struct dirpage_index *ix)
{
	int r;

	if (dir->nentries != ix->nentries || memcmp(dir->dir_id, ix->dir_id, OBJECT_ID_BYTES))
		return -EBADMSG;
	r = dirobj_check_unique(dir);
	return r == -EEXIST ? -EBADMSG : r;
}
