/* histobj.c - history pages and garbage lists to compact JSON and back
 * (docs/FORMAT.md, "History pages", "Garbage lists"). A parser of stored
 * bytes: it must never crash on, nor accept, a malformed object (unknown or
 * missing members, duplicates, out-of-range integers, a wrong order), and
 * the encoder must never write what the decoder would refuse. */
#include "histobj.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dirobj_check.h"
#include "hex.h"

#define HISTOBJ_HEX_BYTES (2 * OBJECT_ID_BYTES + 1)

void histobj_page_release(struct histobj_page *p)
{
	free(p->entries);
	memset(p, 0, sizeof(*p));
}

void histobj_garbage_release(struct histobj_garbage *g)
{
	free(g->items);
	memset(g, 0, sizeof(*g));
}

/* ---- the rules both directions apply ---- */

static bool histobj_ref_ok(const struct dirobj_ref *r)
{
	return r->version <= DIROBJ_INT_MAX && r->created <= DIROBJ_INT_MAX;
}

static bool histobj_entry_ok(const struct histobj_entry *e)
{
	return histobj_ref_ok(&e->rec) && e->seq <= DIROBJ_INT_MAX && e->size <= DIROBJ_INT_MAX &&
	       e->time.nsec <= DIROBJ_NSEC_MAX;
}

static int histobj_key_cmp(const void *a, const void *b) { return memcmp(a, b, OBJECT_ID_BYTES); }

/* Whether n keys (stride bytes apart from base) are in strictly ascending
 * order: then they are distinct without a sort (a garbage list the committer
 * encodes is sorted by key). */
static bool histobj_keys_ascending(const void *base, size_t n, size_t stride)
{
	for (size_t i = 1; i < n; i++)
		if (memcmp((const uint8_t *)base + (i - 1) * stride,
			   (const uint8_t *)base + i * stride, OBJECT_ID_BYTES) >= 0)
			return false;
	return true;
}

/* Whether n keys (stride bytes apart from base) are pairwise distinct.
 * -ENOMEM, 0 distinct, -EEXIST not. */
static int histobj_keys_unique(const void *base, size_t n, size_t stride)
{
	uint8_t(*keys)[OBJECT_ID_BYTES];
	int r = 0;

	if (histobj_keys_ascending(base, n, stride))
		return 0;
	keys = malloc((n ? n : 1) * OBJECT_ID_BYTES);
	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		memcpy(keys[i], (const uint8_t *)base + i * stride, OBJECT_ID_BYTES);
	qsort(keys, n, OBJECT_ID_BYTES, histobj_key_cmp);
	for (size_t i = 1; r == 0 && i < n; i++)
		if (memcmp(keys[i - 1], keys[i], OBJECT_ID_BYTES) == 0)
			r = -EEXIST;
	free(keys);
	return r;
}

/* 0 valid, -EINVAL not, -ENOMEM. */
static int histobj_page_check(const struct histobj_page *p)
{
	int r;

	if (p->n < 1 || p->n > HISTOBJ_PAGE_MAX || !p->entries ||
	    (p->has_next && !histobj_ref_ok(&p->next)))
		return -EINVAL;
	for (size_t i = 0; i < p->n; i++)
		if (!histobj_entry_ok(&p->entries[i]) ||
		    (i > 0 && p->entries[i].seq >= p->entries[i - 1].seq))
			return -EINVAL;
	r = histobj_keys_unique(&p->entries[0].rec.store_key, p->n, sizeof(*p->entries));
	return r == -EEXIST ? -EINVAL : r;
}

static int histobj_garbage_check(const struct histobj_garbage *g)
{
	int r;

	if (g->n > HISTOBJ_GARBAGE_MAX || (g->n > 0 && !g->items) ||
	    (g->has_next && !histobj_ref_ok(&g->next)))
		return -EINVAL;
	for (size_t i = 0; i < g->n; i++)
		if (g->items[i].dropped > DIROBJ_INT_MAX ||
		    g->items[i].created > g->items[i].dropped)
			return -EINVAL;
	if (g->n == 0)
		return 0;
	r = histobj_keys_unique(g->items[0].key, g->n, sizeof(*g->items));
	return r == -EEXIST ? -EINVAL : r;
}

/* ---- encode ---- */

static json_t *histobj_hex_json(const uint8_t *bin)
{
	char hex[HISTOBJ_HEX_BYTES];

	hex_encode(hex, sizeof(hex), bin, OBJECT_ID_BYTES);
	return json_string(hex);
}

static json_t *histobj_ref_json(const struct dirobj_ref *r)
{
	return json_pack("{s:I,s:o,s:I}", "c", (json_int_t)r->created, "k",
			 histobj_hex_json(r->store_key), "v", (json_int_t)r->version);
}

static json_t *histobj_entry_json(const struct histobj_entry *e)
{
	return json_pack("{s:o,s:I,s:[I,I],s:o,s:I}", "r", histobj_ref_json(&e->rec), "s",
			 (json_int_t)e->seq, "t", (json_int_t)e->time.sec, (json_int_t)e->time.nsec,
			 "dev", histobj_hex_json(e->device), "sz", (json_int_t)e->size);
}

/* Adds "next" when there is one, dumps and frees doc (sorted, compact). */
static int histobj_dump(char **out, size_t *out_len, json_t *doc, bool has_next,
			const struct dirobj_ref *next)
{
	if (has_next && json_object_set_new(doc, "next", histobj_ref_json(next)) != 0) {
		json_decref(doc);
		return -ENOMEM;
	}
	*out = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (!*out)
		return -ENOMEM;
	*out_len = strlen(*out);
	return 0;
}

int histobj_page_encode(char **out, size_t *out_len, const struct histobj_page *p)
{
	json_t *arr, *doc;
	int r = histobj_page_check(p);

	*out = NULL;
	*out_len = 0;
	if (r)
		return r;
	arr = json_array();
	for (size_t i = 0; arr && i < p->n; i++)
		if (json_array_append_new(arr, histobj_entry_json(&p->entries[i])) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	doc = arr ? json_pack("{s:o}", "h", arr) : NULL;
	if (!doc)
		return -ENOMEM;
	return histobj_dump(out, out_len, doc, p->has_next, &p->next);
}

/* Decimal digits of v at s; returns how many (at most 20). Written from
 * the end of a scratch buffer, then copied once. */
static size_t histobj_put_u64(char *s, uint64_t v)
{
	char tmp[20];
	size_t n = sizeof(tmp);

	do
		tmp[--n] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	memcpy(s, tmp + n, sizeof(tmp) - n);
	return sizeof(tmp) - n;
}

static size_t histobj_put(char *s, const char *lit)
{
	size_t n = strlen(lit);

	memcpy(s, lit, n);
	return n;
}

/* A store key's lowercase hex at s (no NUL), by table: the keys of a garbage
 * list are the store's object names, public to the store, so the
 * constant-time hex_encode (sodium_bin2hex; half of the encoder's work) buys
 * nothing here. Byte for byte what hex_encode writes. */
static size_t histobj_put_hex(char *s, const uint8_t *bin)
{
	static const char digits[16] = "0123456789abcdef";

	for (size_t i = 0; i < OBJECT_ID_BYTES; i++) {
		unsigned char b = bin[i];
		s[2 * i] = digits[b >> 4];
		s[2 * i + 1] = digits[b & 15];
	}
	return 2 * OBJECT_ID_BYTES;
}

/* The list written straight into one buffer, byte for byte what
 * json_dumps(JSON_COMPACT | JSON_SORT_KEYS) writes for it ("g" before
 * "next", a REF's members c, k, v; tests/history/test_histobj.c compares
 * the two): a commit rewrites up to HISTORY_GARBAGE_FILL triples, and a
 * jansson tree of them was two thirds of the daemon's instructions per
 * atomic save. Every integer is at most DIROBJ_INT_MAX (checked before). */
/* One triple's text ["<hex>",c,d] at s; returns its length. */
static size_t histobj_put_item(char *s, const struct histobj_garbage_item *it)
{
	size_t k = 0;

	s[k++] = '[';
	s[k++] = '"';
	k += histobj_put_hex(s + k, it->key);
	s[k++] = '"';
	s[k++] = ',';
	k += histobj_put_u64(s + k, it->created);
	s[k++] = ',';
	k += histobj_put_u64(s + k, it->dropped);
	s[k++] = ']';
	return k;
}

/* The index in prev of a triple equal to it (key, c and d), moving *j
 * forward through prev's sorted keys; SIZE_MAX when prev has none. */
static size_t histobj_prev_same(const struct histobj_garbage_text *prev, size_t *j,
				const struct histobj_garbage_item *it)
{
	int c = 1;

	while (*j < prev->n && (c = memcmp(prev->items[*j].key, it->key, OBJECT_ID_BYTES)) < 0)
		(*j)++;
	if (*j < prev->n && c == 0 && prev->items[*j].created == it->created &&
	    prev->items[*j].dropped == it->dropped)
		return *j;
	return SIZE_MAX;
}

/* The list written straight into one buffer, byte for byte what
 * json_dumps(JSON_COMPACT | JSON_SORT_KEYS) writes for it ("g" before
 * "next", a REF's members c, k, v; tests/history/test_histobj.c compares
 * the two): a commit rewrites up to HISTORY_GARBAGE_FILL triples, and a
 * jansson tree of them was two thirds of the daemon's instructions per
 * atomic save. Every integer is at most DIROBJ_INT_MAX (checked before). */
int histobj_garbage_encode_with(char **out, size_t *out_len, size_t **offs,
				const struct histobj_garbage *g,
				const struct histobj_garbage_text *prev)
{
	/* ",[\"<hex>\",c,d]" per triple; the frame and "next" fit in 256. */
	size_t per = 2 * OBJECT_ID_BYTES + 2 * 20 + 8, k = 0, j = 0, *o = NULL;
	char *s;
	int r = histobj_garbage_check(g);

	*out = NULL;
	*out_len = 0;
	if (offs)
		*offs = NULL;
	if (r)
		return r;
	s = malloc(256 + g->n * per);
	if (offs)
		o = malloc((g->n + 1) * sizeof(*o));
	if (!s || (offs && !o)) {
		free(s);
		free(o);
		return -ENOMEM;
	}
	k += histobj_put(s + k, "{\"g\":[");
	for (size_t i = 0; i < g->n; i++) {
		size_t p = prev ? histobj_prev_same(prev, &j, &g->items[i]) : SIZE_MAX;
		if (i)
			s[k++] = ',';
		if (o)
			o[i] = k;
		if (p == SIZE_MAX) {
			k += histobj_put_item(s + k, &g->items[i]);
			continue;
		}
		size_t from = prev->offs[p],
		       to = p + 1 < prev->n ? prev->offs[p + 1] - 1 : prev->offs[p + 1];
		memcpy(s + k, prev->json + from, to - from);
		k += to - from;
	}
	if (o)
		o[g->n] = k;
	s[k++] = ']';
	if (g->has_next) {
		k += histobj_put(s + k, ",\"next\":{\"c\":");
		k += histobj_put_u64(s + k, g->next.created);
		k += histobj_put(s + k, ",\"k\":\"");
		k += histobj_put_hex(s + k, g->next.store_key);
		k += histobj_put(s + k, "\",\"v\":");
		k += histobj_put_u64(s + k, g->next.version);
		s[k++] = '}';
	}
	s[k++] = '}';
	s[k] = '\0';
	*out = s;
	*out_len = k;
	if (offs)
		*offs = o;
	return 0;
}

int histobj_garbage_encode(char **out, size_t *out_len, const struct histobj_garbage *g)
{
	return histobj_garbage_encode_with(out, out_len, NULL, g, NULL);
}

/* ---- decode: every helper returns 0 or -EBADMSG ---- */

static bool histobj_only(json_t *o, const char *const *keys, size_t nkeys)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	json_object_foreach(o, k, v)
	{
		bool known = false;
		for (size_t i = 0; i < nkeys && !known; i++)
			known = strcmp(k, keys[i]) == 0;
		if (!known)
			return false;
		n++;
	}
	return n <= nkeys;
}

static int histobj_uint(json_t *j, uint64_t *out)
{
	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return -EBADMSG;
	*out = (uint64_t)json_integer_value(j);
	return 0;
}

static int histobj_hex(json_t *j, uint8_t out[OBJECT_ID_BYTES])
{
	if (!json_is_string(j) ||
	    hex_decode(out, OBJECT_ID_BYTES, json_string_value(j), json_string_length(j)) != 0)
		return -EBADMSG;
	return 0;
}

static int histobj_ref(json_t *j, struct dirobj_ref *r)
{
	static const char *const keys[] = {"c", "k", "v"};

	if (!json_is_object(j) || json_object_size(j) != 3 || !histobj_only(j, keys, 3) ||
	    histobj_uint(json_object_get(j, "c"), &r->created) ||
	    histobj_hex(json_object_get(j, "k"), r->store_key) ||
	    histobj_uint(json_object_get(j, "v"), &r->version))
		return -EBADMSG;
	return 0;
}

static int histobj_time(json_t *a, struct dirobj_time *t)
{
	json_t *s = json_array_get(a, 0), *ns = json_array_get(a, 1);

	if (!json_is_array(a) || json_array_size(a) != 2 || !json_is_integer(s) ||
	    !json_is_integer(ns) || json_integer_value(ns) < 0 ||
	    json_integer_value(ns) > DIROBJ_NSEC_MAX)
		return -EBADMSG;
	t->sec = json_integer_value(s);
	t->nsec = (uint32_t)json_integer_value(ns);
	return 0;
}

static int histobj_entry(json_t *j, struct histobj_entry *e)
{
	static const char *const keys[] = {"r", "s", "t", "dev", "sz"};

	if (!json_is_object(j) || json_object_size(j) != 5 || !histobj_only(j, keys, 5) ||
	    histobj_ref(json_object_get(j, "r"), &e->rec) ||
	    histobj_uint(json_object_get(j, "s"), &e->seq) ||
	    histobj_time(json_object_get(j, "t"), &e->time) ||
	    histobj_hex(json_object_get(j, "dev"), e->device) ||
	    histobj_uint(json_object_get(j, "sz"), &e->size))
		return -EBADMSG;
	return 0;
}

static int histobj_triple(json_t *j, struct histobj_garbage_item *it)
{
	if (!json_is_array(j) || json_array_size(j) != 3 ||
	    histobj_hex(json_array_get(j, 0), it->key) ||
	    histobj_uint(json_array_get(j, 1), &it->created) ||
	    histobj_uint(json_array_get(j, 2), &it->dropped))
		return -EBADMSG;
	return 0;
}

/* Loads an object whose members are exactly list (required) and "next"
 * (optional), with list an array of at most max elements; decodes "next". */
static json_t *histobj_load(const char *json, size_t len, const char *list, size_t max,
			    bool *has_next, struct dirobj_ref *next)
{
	const char *keys[] = {list, "next"};
	json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *arr = json_object_get(doc, list), *n = json_object_get(doc, "next");

	if (!doc || !json_is_object(doc) || !histobj_only(doc, keys, 2) || !json_is_array(arr) ||
	    json_array_size(arr) > max || (n && histobj_ref(n, next))) {
		json_decref(doc);
		return NULL;
	}
	*has_next = n != NULL;
	return doc;
}

int histobj_page_decode(struct histobj_page *p, const char *json, size_t len)
{
	json_t *doc, *arr;
	int r = 0;

	memset(p, 0, sizeof(*p));
	doc = histobj_load(json, len, "h", HISTOBJ_PAGE_MAX, &p->has_next, &p->next);
	if (!doc)
		return -EBADMSG;
	arr = json_object_get(doc, "h");
	p->n = json_array_size(arr);
	p->entries = calloc(p->n ? p->n : 1, sizeof(*p->entries));
	if (!p->entries)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < p->n; i++)
		r = histobj_entry(json_array_get(arr, i), &p->entries[i]);
	json_decref(doc);
	if (r == 0)
		r = histobj_page_check(p);
	if (r)
		histobj_page_release(p);
	return r == -EINVAL ? -EBADMSG : r;
}

int histobj_garbage_decode(struct histobj_garbage *g, const char *json, size_t len)
{
	json_t *doc, *arr;
	int r = 0;

	memset(g, 0, sizeof(*g));
	doc = histobj_load(json, len, "g", HISTOBJ_GARBAGE_MAX, &g->has_next, &g->next);
	if (!doc)
		return -EBADMSG;
	arr = json_object_get(doc, "g");
	g->n = json_array_size(arr);
	g->items = calloc(g->n ? g->n : 1, sizeof(*g->items));
	if (!g->items)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < g->n; i++)
		r = histobj_triple(json_array_get(arr, i), &g->items[i]);
	json_decref(doc);
	if (r == 0)
		r = histobj_garbage_check(g);
	if (r)
		histobj_garbage_release(g);
	return r == -EINVAL ? -EBADMSG : r;
}
