/* test_histobj.c - history pages and garbage lists (crypto/histobj.h): round
 * trips, the exact stored spelling, and the refusal of every malformed object
 * (missing, unknown or duplicate members, out-of-range integers, wrong order,
 * duplicate keys, too many entries) by the decoder and the encoder; the
 * garbage list's direct encoder against jansson's spelling of it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "check.h"
#include "histobj.h"

#define K1 "00112233445566778899aabbccddeeff"
#define K2 "ffeeddccbbaa99887766554433221100"
#define DEV "0123456789abcdef0123456789abcdef"

static const char page_json[] =
    "{\"h\":[{\"dev\":\"" DEV "\",\"r\":{\"c\":9,\"k\":\"" K1 "\",\"v\":1},\"s\":8,"
    "\"sz\":1064,\"t\":[1700000000,5]},"
    "{\"dev\":\"" DEV "\",\"r\":{\"c\":8,\"k\":\"" K2 "\",\"v\":1},\"s\":7,"
    "\"sz\":1064,\"t\":[1699999999,999999999]}],"
    "\"next\":{\"c\":7,\"k\":\"" K2 "\",\"v\":3}}";

static const char garbage_json[] = "{\"g\":[[\"" K1 "\",0,5],[\"" K2 "\",5,5]]}";

static void test_page_round_trip(void)
{
	struct histobj_page p;
	char *out = NULL;
	size_t len = 0;

	CHECK_RC(histobj_page_decode(&p, page_json, strlen(page_json)), 0);
	CHECK(p.n == 2 && p.has_next && p.next.version == 3 && p.next.created == 7);
	CHECK(p.entries[0].seq == 8 && p.entries[0].rec.created == 9 &&
	      p.entries[0].time.sec == 1700000000 && p.entries[0].time.nsec == 5 &&
	      p.entries[0].size == 1064 && p.entries[0].device[0] == 0x01);
	CHECK(p.entries[1].rec.store_key[0] == 0xff && p.entries[1].time.nsec == 999999999);
	CHECK_RC(histobj_page_encode(&out, &len, &p), 0);
	CHECKF(out && len == strlen(page_json) && memcmp(out, page_json, len) == 0, "got %s",
	       out ? out : "(null)");
	free(out);
	p.has_next = false; /* the oldest page has no "next" */
	CHECK_RC(histobj_page_encode(&out, &len, &p), 0);
	CHECK(out && !strstr(out, "next"));
	histobj_page_release(&p);
	CHECK_RC(histobj_page_decode(&p, out, len), 0);
	CHECK(!p.has_next && p.n == 2);
	histobj_page_release(&p);
	free(out);
}

static void test_garbage_round_trip(void)
{
	struct histobj_garbage g;
	char *out = NULL;
	size_t len = 0;

	CHECK_RC(histobj_garbage_decode(&g, garbage_json, strlen(garbage_json)), 0);
	CHECK(g.n == 2 && !g.has_next && g.items[0].created == 0 && g.items[0].dropped == 5 &&
	      g.items[1].created == 5 && g.items[1].key[0] == 0xff);
	CHECK_RC(histobj_garbage_encode(&out, &len, &g), 0);
	CHECK(out && len == strlen(garbage_json) && memcmp(out, garbage_json, len) == 0);
	free(out);
	histobj_garbage_release(&g);
	CHECK_RC(histobj_garbage_decode(&g, "{\"g\":[]}", 8), 0); /* empty: allowed */
	CHECK(g.n == 0);
	histobj_garbage_release(&g);
}

/* Each must be refused by the page decoder. */
static const char *const bad_pages[] = {
    "",
    "[]",
    "{\"h\":[]}", /* no entry */
    "{\"h\":[{\"dev\":\"" DEV "\",\"r\":{\"c\":1,\"k\":\"" K1 "\",\"v\":1},\"s\":1,\"sz\":1,"
    "\"t\":[1,1]}],\"x\":1}", /* unknown member */
    "{\"h\":[{\"dev\":\"" DEV "\",\"r\":{\"c\":1,\"k\":\"" K1 "\",\"v\":1},\"s\":1,\"sz\":1,"
    "\"t\":[1,1],\"q\":0}]}", /* unknown entry member */
    "{\"h\":[{\"dev\":\"" DEV "\",\"r\":{\"c\":1,\"k\":\"" K1 "\",\"v\":1},\"s\":1,"
    "\"t\":[1,1]}]}", /* no sz */
    "{\"h\":[{\"dev\":\"" DEV "\",\"r\":{\"c\":1,\"k\":\"" K1 "\",\"v\":1},\"s\":-1,\"sz\":1,"
    "\"t\":[1,1]}]}", /* negative seq */
    "{\"h\":[{\"dev\":\"" DEV "\",\"r\":{\"c\":1,\"k\":\"" K1 "\",\"v\":1},\"s\":1,\"sz\":1,"
    "\"t\":[1,1000000000]}]}", /* nsec out of range */
    "{\"h\":[{\"dev\":\"" DEV "\",\"r\":{\"c\":1,\"k\":\"" K1 "\"},\"s\":1,\"sz\":1,"
    "\"t\":[1,1]}]}", /* ref without v */
    "{\"h\":[{\"dev\":\"" DEV "\",\"r\":{\"c\":1,\"k\":\"" K1 "00\",\"v\":1},\"s\":1,\"sz\":1,"
    "\"t\":[1,1]}]}", /* long key */
    "{\"h\":[{\"dev\":\"0123456789ABCDEF0123456789ABCDEF\",\"r\":{\"c\":1,\"k\":\"" K1
    "\",\"v\":1},\"s\":1,\"sz\":1,\"t\":[1,1]}]}", /* uppercase hex */
    "{\"h\":[{\"dev\":\"" DEV "\",\"r\":{\"c\":1,\"k\":\"" K1 "\",\"v\":1},\"s\":1,\"sz\":1,"
    "\"t\":[1,1]},{\"dev\":\"" DEV "\",\"r\":{\"c\":1,\"k\":\"" K2 "\",\"v\":1},\"s\":2,"
    "\"sz\":1,\"t\":[1,1]}]}", /* oldest first */
    "{\"h\":[{\"dev\":\"" DEV "\",\"r\":{\"c\":1,\"k\":\"" K1 "\",\"v\":1},\"s\":2,\"sz\":1,"
    "\"t\":[1,1]},{\"dev\":\"" DEV "\",\"r\":{\"c\":1,\"k\":\"" K1 "\",\"v\":1},\"s\":1,"
    "\"sz\":1,\"t\":[1,1]}]}", /* one record twice */
    "{\"h\":[{\"dev\":\"" DEV "\",\"r\":{\"c\":1,\"k\":\"" K1 "\",\"v\":1},\"s\":1,\"sz\":1,"
    "\"t\":[1,1]}],\"next\":{\"k\":\"" K2 "\",\"v\":1}}", /* next without c */
    "{\"h\":[{\"dev\":\"" DEV "\",\"r\":{\"c\":1,\"k\":\"" K1 "\",\"v\":1},\"s\":1,\"sz\":1,"
    "\"t\":[1,1]}],\"h\":[]}", /* duplicate member */
};

static const char *const bad_garbage[] = {
    "{}",
    "{\"g\":{}}",
    "{\"g\":[[\"" K1 "\",6,5]]}",		   /* c > d */
    "{\"g\":[[\"" K1 "\",1,5],[\"" K1 "\",2,6]]}", /* a key twice */
    "{\"g\":[[\"" K1 "\",1]]}",			   /* a pair */
    "{\"g\":[[\"" K1 "\",1,5,7]]}",
    "{\"g\":[[\"" K1 "\",1.0,5]]}",
    "{\"g\":[[\"" K1 "\",-1,5]]}",
    "{\"g\":[],\"next\":1}",
    "{\"g\":[],\"n\":{\"c\":1,\"k\":\"" K1 "\",\"v\":1}}",
};

static void test_refusals(void)
{
	for (size_t i = 0; i < sizeof(bad_pages) / sizeof(bad_pages[0]); i++) {
		struct histobj_page p;
		CHECKF(histobj_page_decode(&p, bad_pages[i], strlen(bad_pages[i])) == -EBADMSG,
		       "bad page %zu accepted", i);
		CHECK(p.entries == NULL && p.n == 0);
	}
	for (size_t i = 0; i < sizeof(bad_garbage) / sizeof(bad_garbage[0]); i++) {
		struct histobj_garbage g;
		CHECKF(histobj_garbage_decode(&g, bad_garbage[i], strlen(bad_garbage[i])) ==
			   -EBADMSG,
		       "bad garbage list %zu accepted", i);
	}
}

/* The limits: 512 entries a page and 4,096 triples a list, not one more;
 * and the encoder refuses what the decoder would. */
static void test_limits(void)
{
	struct histobj_page p = {.n = HISTOBJ_PAGE_MAX + 1};
	struct histobj_garbage g = {.n = HISTOBJ_GARBAGE_MAX + 1};
	char *out = NULL;
	size_t len = 0;

	p.entries = calloc(p.n, sizeof(*p.entries));
	g.items = calloc(g.n, sizeof(*g.items));
	for (size_t i = 0; i < p.n; i++) {
		p.entries[i].seq = p.n - i;
		memcpy(p.entries[i].rec.store_key, &i, sizeof(i));
	}
	for (size_t i = 0; i < g.n; i++) {
		memcpy(g.items[i].key, &i, sizeof(i));
		g.items[i].dropped = 1;
	}
	CHECK_RC(histobj_page_encode(&out, &len, &p), -EINVAL);
	CHECK_RC(histobj_garbage_encode(&out, &len, &g), -EINVAL);
	p.n--;
	g.n--;
	CHECK_RC(histobj_page_encode(&out, &len, &p), 0);
	p.n++;
	{
		struct histobj_page d;
		CHECK_RC(histobj_page_decode(&d, out, len), 0);
		CHECK(d.n == HISTOBJ_PAGE_MAX && d.entries[HISTOBJ_PAGE_MAX - 1].seq == 2);
		histobj_page_release(&d);
	}
	free(out);
	CHECK_RC(histobj_garbage_encode(&out, &len, &g), 0);
	{
		struct histobj_garbage d;
		CHECK_RC(histobj_garbage_decode(&d, out, len), 0);
		CHECK(d.n == HISTOBJ_GARBAGE_MAX);
		histobj_garbage_release(&d);
	}
	free(out);
	g.items[1].created = 2; /* c > d */
	CHECK_RC(histobj_garbage_encode(&out, &len, &g), -EINVAL);
	g.items[1].created = 0;
	memcpy(g.items[1].key, g.items[0].key, OBJECT_ID_BYTES);
	CHECK_RC(histobj_garbage_encode(&out, &len, &g), -EINVAL);
	p.entries[1].seq = p.entries[0].seq; /* not strictly decreasing */
	CHECK_RC(histobj_page_encode(&out, &len, &p), -EINVAL);
	histobj_page_release(&p);
	histobj_garbage_release(&g);
}

/* What jansson writes for g (compact, sorted keys): the spelling the
 * direct encoder of histobj.c must reproduce byte for byte. */
static char *garbage_by_jansson(const struct histobj_garbage *g)
{
	json_t *arr = json_array(), *doc;
	char hex[2 * OBJECT_ID_BYTES + 1], *s;

	for (size_t i = 0; i < g->n; i++) {
		sodium_bin2hex(hex, sizeof(hex), g->items[i].key, OBJECT_ID_BYTES);
		json_array_append_new(arr,
				      json_pack("[s,I,I]", hex, (json_int_t)g->items[i].created,
						(json_int_t)g->items[i].dropped));
	}
	doc = json_pack("{s:o}", "g", arr);
	if (g->has_next) {
		sodium_bin2hex(hex, sizeof(hex), g->next.store_key, OBJECT_ID_BYTES);
		json_object_set_new(doc, "next",
				    json_pack("{s:I,s:s,s:I}", "c", (json_int_t)g->next.created,
					      "k", hex, "v", (json_int_t)g->next.version));
	}
	s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	return s;
}

static uint64_t rand_int(void)
{
	uint64_t v;

	randombytes_buf(&v, sizeof(v));
	switch (randombytes_uniform(4)) {
	case 0:
		return 0;
	case 1:
		return v % 100;
	case 2:
		return v >> 1; /* up to INT64_MAX: 19 digits */
	}
	return v % 10000000;
}

/* Random lists, up to the 4,096 limit, with and without "next". */
static void test_garbage_spelling(void)
{
	for (int round = 0; round < 200; round++) {
		struct histobj_garbage g = {0};
		char *want, *out = NULL;
		size_t len = 0;

		g.n = round == 0 ? 0 : round == 1 ? HISTOBJ_GARBAGE_MAX : randombytes_uniform(600);
		g.items = calloc(g.n ? g.n : 1, sizeof(*g.items));
		for (size_t i = 0; i < g.n; i++) {
			randombytes_buf(g.items[i].key, OBJECT_ID_BYTES);
			g.items[i].dropped = rand_int();
			g.items[i].created =
			    g.items[i].dropped ? rand_int() % g.items[i].dropped : 0;
		}
		g.has_next = randombytes_uniform(2);
		if (g.has_next) {
			g.next.created = round == 2 ? (uint64_t)INT64_MAX : rand_int();
			g.next.version = round == 2 ? (uint64_t)INT64_MAX : rand_int();
			randombytes_buf(g.next.store_key, OBJECT_ID_BYTES);
		}
		want = garbage_by_jansson(&g);
		CHECK_RC(histobj_garbage_encode(&out, &len, &g), 0);
		CHECKF(out && want && len == strlen(want) && memcmp(out, want, len) == 0 &&
			   out[len] == '\0',
		       "round %d (%zu triples): the encoder's bytes differ from jansson's", round,
		       g.n);
		free(out);
		free(want);
		histobj_garbage_release(&g);
	}
}

static int item_cmp(const void *a, const void *b) { return memcmp(a, b, OBJECT_ID_BYTES); }

/* A list encoded with the previous list's text to copy from
 * (histobj_garbage_encode_with, what a commit merging into the superseded
 * list does) is byte for byte the plain encoding, and its offsets point at
 * each triple: over random lists, the next one keeping most triples, some
 * with a new interval, some dropped, some new, sorted or not. */
static void test_garbage_reuse(void)
{
	for (int round = 0; round < 100; round++) {
		struct histobj_garbage a = {0}, b = {0};
		char *ja = NULL, *jb = NULL, *want = NULL;
		size_t la = 0, lb = 0, lw = 0, *oa = NULL, *ob = NULL, k = 0;

		a.n = randombytes_uniform(600);
		a.items = calloc(a.n + 1, sizeof(*a.items));
		b.items = calloc(a.n + 64, sizeof(*b.items));
		for (size_t i = 0; i < a.n; i++) {
			randombytes_buf(a.items[i].key, OBJECT_ID_BYTES);
			a.items[i].dropped = rand_int();
			a.items[i].created =
			    a.items[i].dropped ? rand_int() % a.items[i].dropped : 0;
		}
		qsort(a.items, a.n, sizeof(*a.items), item_cmp);
		CHECK_RC(histobj_garbage_encode_with(&ja, &la, &oa, &a, NULL), 0);
		for (size_t i = 0; ja && i < a.n; i++) /* the offsets point at the triples */
			CHECK(ja[oa[i]] == '[' &&
			      ja[(i + 1 < a.n ? oa[i + 1] - 1 : oa[a.n]) - 1] == ']');
		for (size_t i = 0; i < a.n; i++) {
			if (randombytes_uniform(10) == 0)
				continue; /* dropped */
			b.items[k] = a.items[i];
			if (randombytes_uniform(8) == 0)
				b.items[k].dropped++; /* a new interval */
			k++;
		}
		for (size_t i = randombytes_uniform(64); i > 0; i--) {
			randombytes_buf(b.items[k].key, OBJECT_ID_BYTES);
			b.items[k++].dropped = rand_int();
		}
		b.n = k;
		if (round % 4 != 0) /* sorted, as the committer's are */
			qsort(b.items, b.n, sizeof(*b.items), item_cmp);
		b.has_next = round % 2;
		struct histobj_garbage_text prev = {a.items, a.n, ja, oa};
		CHECK_RC(histobj_garbage_encode(&want, &lw, &b), 0);
		CHECK_RC(histobj_garbage_encode_with(&jb, &lb, &ob, &b, &prev), 0);
		CHECKF(want && jb && lb == lw && memcmp(jb, want, lw) == 0,
		       "round %d: copying the previous text changed the bytes", round);
		for (size_t i = 0; jb && i < b.n; i++)
			CHECK(jb[ob[i]] == '[' && ob[i] < ob[b.n]);
		free(ja);
		free(jb);
		free(want);
		free(oa);
		free(ob);
		histobj_garbage_release(&a);
		histobj_garbage_release(&b);
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_garbage_spelling();
	test_garbage_reuse();
	test_page_round_trip();
	test_garbage_round_trip();
	test_refusals();
	test_limits();
	return check_done("histobj");
}
