/* test_dirpage.c - paged directories (crypto/dirpage.h, docs/FORMAT.md
 * "Paged directories"): the exact bytes of an index, the writer's slot-count
 * rule, a 5,000-entry directory split into pages and joined back, and that a
 * damaged, missing, misplaced or foreign page, or a name twice across pages,
 * is an error and never a shorter listing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "dirpage.h"

#define ID "0123456789abcdef0123456789abcdef"
#define K1 "00112233445566778899aabbccddeeff"
#define K2 "ffeeddccbbaa99887766554433221100"
#define NBIG 5000

static int index_dec(const char *s)
{
	struct dirpage_index ix;
	int r = dirpage_index_decode(&ix, s, strlen(s));

	dirpage_index_release(&ix);
	return r;
}

static void test_rule(void)
{
	const char *plain = "{\"e\":[],\"id\":\"" ID "\"}";
	const char *ix = "{\"id\":\"" ID "\",\"n\":1,\"p\":[]}";
	uint8_t id[OBJECT_ID_BYTES] = {0x05, 0x01};

	CHECK_RC(dirpage_slot_of(id, 2), 1);
	CHECK_RC(dirpage_slot_of(id, 4096), 0x105);
	CHECK_RC(dirpage_nslots(DIRPAGE_SPLIT, 0), 0); /* one object up to the split */
	CHECK_RC(dirpage_nslots(DIRPAGE_SPLIT + 1, 0), 8);
	CHECK_RC(dirpage_nslots(5000, 0), 16);
	CHECK_RC(dirpage_nslots(100000, 0), 256);
	CHECK_RC(dirpage_nslots(1500, 8), 8);		  /* paged: kept above the join */
	CHECK_RC(dirpage_nslots(DIRPAGE_JOIN - 1, 8), 0); /* back to one object */
	CHECK_RC(dirpage_nslots(8 * 1024, 8), 8);
	CHECK_RC(dirpage_nslots(8 * 1024 + 1, 8), 32); /* a page would average over 1,024 */
	CHECK_RC(dirpage_nslots(1100, 16), 4);	       /* under 128 a page */
	CHECK_RC(dirpage_nslots(SIZE_MAX / 2, 0), DIRPAGE_SLOTS_MAX);
	CHECK(!dirpage_maybe_index(plain, strlen(plain)));
	CHECK(dirpage_maybe_index(ix, strlen(ix)));
	CHECK(dirpage_maybe_index("{\"e\"", 4));
}

static void test_index(void)
{
	const char *want = "{\"id\":\"" ID "\",\"n\":7,\"p\":[null,{\"c\":3,\"k\":\"" K1
			   "\",\"v\":3},null,{\"c\":0,\"k\":\"" K2 "\",\"v\":9}]}";
	struct dirpage_index ix;
	char *out = NULL;
	size_t len = 0;

	CHECK_RC(dirpage_index_decode(&ix, want, strlen(want)), 0);
	CHECK(ix.nslots == 4 && ix.nentries == 7 && !ix.slots[0].present && ix.slots[1].present &&
	      ix.slots[1].ref.version == 3 && ix.slots[3].ref.version == 9 &&
	      ix.slots[3].ref.store_key[0] == 0xff && ix.dir_id[0] == 0x01);
	CHECK_RC(dirpage_index_encode(&out, &len, &ix), 0);
	CHECKF(out && strcmp(out, want) == 0, "encoded %s", out ? out : "(null)");
	free(out);
	/* K1 twice */
	memcpy(ix.slots[3].ref.store_key, ix.slots[1].ref.store_key, OBJECT_ID_BYTES);
	CHECK_RC(dirpage_index_encode(&out, &len, &ix), -EINVAL);
	dirpage_index_release(&ix);

	CHECK_RC(index_dec("{\"e\":[],\"id\":\"" ID "\"}"), -ENOMSG); /* a plain directory */
	CHECK_RC(index_dec("{\"id\":\"" ID "\",\"n\":1,\"p\":[null,null]}"), -EBADMSG);
	CHECK_RC(
	    index_dec("{\"id\":\"" ID "\",\"n\":1,\"p\":[{\"c\":0,\"k\":\"" K1 "\",\"v\":1}]}"),
	    -EBADMSG); /* one slot: a one-object directory */
	CHECK_RC(index_dec("{\"id\":\"" ID "\",\"n\":1,\"p\":[null,null,{\"c\":0,\"k\":\"" K1
			   "\",\"v\":1}]}"),
		 -EBADMSG); /* three slots */
	CHECK_RC(index_dec("{\"id\":\"" ID "\",\"n\":1,\"p\":[{\"c\":0,\"k\":\"" K1
			   "\",\"v\":1},{\"c\":0,\"k\":\"" K2 "\",\"v\":1}]}"),
		 -EBADMSG); /* two pages, one entry */
	CHECK_RC(index_dec("{\"id\":\"" ID "\",\"n\":2,\"p\":[{\"c\":0,\"k\":\"" K1
			   "\",\"v\":1},{\"c\":0,\"k\":\"" K1 "\",\"v\":2}]}"),
		 -EBADMSG); /* a store key twice */
	CHECK_RC(index_dec("{\"id\":\"" ID "\",\"n\":0,\"p\":[null,{\"c\":0,\"k\":\"" K1
			   "\",\"v\":1}]}"),
		 -EBADMSG);
	CHECK_RC(index_dec("{\"id\":\"" ID "\",\"n\":2,\"p\":[null,{\"c\":0,\"k\":\"" K1
			   "\",\"v\":1}],\"x\":1}"),
		 -EBADMSG);
	CHECK_RC(index_dec("{\"id\":\"" ID "\",\"p\":[null,{\"c\":0,\"k\":\"" K1 "\",\"v\":1}]}"),
		 -EBADMSG);
	CHECK_RC(index_dec("{\"id\":\"" ID "\",\"n\":2,\"p\":[null,{\"c\":0,\"k\":\"" K1
			   "\",\"v\":-1}]}"),
		 -EBADMSG);
	CHECK_RC(index_dec("{\"id\":\"" ID "\",\"n\":2,\"p\":[null,{\"c\":0,\"k\":\"" K1
			   "\",\"v\":1,\"x\":0}]}"),
		 -EBADMSG);
	CHECK_RC(index_dec("{\"id\":\"" ID "\",\"n\":2,\"n\":2,\"p\":[null,{\"c\":0,\"k\":\"" K1
			   "\",\"v\":1}]}"),
		 -EBADMSG);
	CHECK_RC(index_dec("[]"), -EBADMSG);
	CHECK_RC(index_dec(""), -EBADMSG);
}

/* A directory of n files with random ids, named by their index. */
static void big_dir(struct dirobj *d, size_t n)
{
	memset(d, 0, sizeof(*d));
	memset(d->dir_id, 0x42, OBJECT_ID_BYTES);
	d->entries = calloc(n, sizeof(*d->entries));
	d->nentries = n;
	for (size_t i = 0; i < n; i++) {
		struct dirobj_entry *e = &d->entries[i];
		char name[32];
		snprintf(name, sizeof(name), "file-%zu", i);
		e->name = strdup(name);
		e->name_len = strlen(name);
		e->type = DIROBJ_FILE;
		for (size_t b = 0; b < OBJECT_ID_BYTES; b++)
			e->id[b] = (uint8_t)((i * 2654435761u) >> (b % 4 * 8)) ^ (uint8_t)b;
		e->id[15] = (uint8_t)i;
		e->id[14] = (uint8_t)(i >> 8);
		e->mode = S_IFREG | 0644;
	}
}

/* Page s of dir (borrowed entries, split order). */
static struct dirobj page_of(const struct dirobj *d, const size_t *order, const size_t *first,
			     size_t s, struct dirobj_entry *buf)
{
	struct dirobj p = {.entries = buf, .nentries = first[s + 1] - first[s]};

	memcpy(p.dir_id, d->dir_id, OBJECT_ID_BYTES);
	for (size_t i = first[s]; i < first[s + 1]; i++)
		buf[i - first[s]] = d->entries[order[i]];
	return p;
}

struct paged {
	size_t nslots;
	char *json[64]; /* each page's text, NULL for an empty slot */
	size_t len[64];
	struct dirpage_index ix;
};

static void paged_free(struct paged *pg)
{
	for (size_t s = 0; s < pg->nslots; s++)
		free(pg->json[s]);
	dirpage_index_release(&pg->ix);
}

static void encode_pages(const struct dirobj *d, size_t nslots, struct paged *pg)
{
	struct dirobj_entry *buf = calloc(d->nentries, sizeof(*buf));
	size_t *order = NULL, *first = NULL;

	memset(pg, 0, sizeof(*pg));
	pg->nslots = nslots;
	pg->ix.nslots = nslots;
	pg->ix.nentries = d->nentries;
	pg->ix.slots = calloc(nslots, sizeof(*pg->ix.slots));
	memcpy(pg->ix.dir_id, d->dir_id, OBJECT_ID_BYTES);
	CHECK_RC(dirpage_split(d, nslots, &order, &first), 0);
	for (size_t s = 0; order && s < nslots; s++) {
		struct dirobj p = page_of(d, order, first, s, buf);
		if (p.nentries == 0) {
			CHECK_RC(dirpage_page_encode(&pg->json[s], &pg->len[s], &p, s, nslots, 3),
				 -EINVAL); /* an empty page is a null slot */
			continue;
		}
		dirpage_sort(&p);
		for (size_t i = 1; i < p.nentries; i++) /* sorted by name */
			CHECK(strcmp(p.entries[i - 1].name, p.entries[i].name) < 0);
		CHECK_RC(dirpage_page_encode(&pg->json[s], &pg->len[s], &p, s, nslots, 3), 0);
		CHECK_RC(dirpage_page_encode(&(char *){NULL}, &(size_t){0}, &p, (s + 1) % nslots,
					     nslots, 3),
			 -EINVAL); /* the entries belong to slot s */
		CHECK_RC(dirpage_page_encode(&(char *){NULL}, &(size_t){0}, &p, s, nslots, 2),
			 -EINVAL); /* format 2 has no pages */
		pg->ix.slots[s].present = true;
		pg->ix.slots[s].ref.version = s + 1;
	}
	free(order);
	free(first);
	free(buf);
}

/* Decodes and joins pg's pages in slot order; the result of the check. */
static int join_pages(struct paged *pg, struct dirobj *out)
{
	size_t cap = 0;
	int r = 0;

	memset(out, 0, sizeof(*out));
	memcpy(out->dir_id, pg->ix.dir_id, OBJECT_ID_BYTES);
	for (size_t s = 0; r == 0 && s < pg->nslots; s++) {
		struct dirobj p;
		if (!pg->ix.slots[s].present)
			continue;
		if (!pg->json[s])
			return -ENOENT; /* a missing page: the caller's store error */
		r = dirpage_page_decode(&p, pg->json[s], pg->len[s], pg->ix.dir_id, s, pg->nslots,
					3);
		if (r == 0)
			r = dirpage_join(out, &cap, &p);
		dirobj_release(&p);
	}
	return r ? r : dirpage_join_check(out, &pg->ix);
}

static int cmp_name(const void *a, const void *b)
{
	const struct dirobj_entry *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static void test_split_join(void)
{
	struct dirobj d, back;
	struct paged pg;
	size_t nslots = dirpage_nslots(NBIG, 0), total = 0, nonempty = 0;

	big_dir(&d, NBIG);
	encode_pages(&d, nslots, &pg);
	for (size_t s = 0; s < nslots; s++) {
		total += pg.json[s] ? 1 : 0;
		nonempty += pg.ix.slots[s].present;
	}
	CHECK(total == nslots && nonempty == nslots); /* 5,000 ids fill 16 slots */
	CHECK_RC(join_pages(&pg, &back), 0);
	CHECK_RC(back.nentries, NBIG);
	qsort(back.entries, back.nentries, sizeof(*back.entries), cmp_name);
	qsort(d.entries, d.nentries, sizeof(*d.entries), cmp_name);
	for (size_t i = 0; i < NBIG && back.nentries == NBIG; i++)
		CHECKF(strcmp(back.entries[i].name, d.entries[i].name) == 0 &&
			   memcmp(back.entries[i].id, d.entries[i].id, OBJECT_ID_BYTES) == 0,
		       "entry %zu", i);
	dirobj_release(&back);
	/* The same entries in another order: the same page bytes. */
	{
		struct paged again;
		encode_pages(&d, nslots, &again);
		for (size_t s = 0; s < nslots; s++)
			CHECK(again.len[s] == pg.len[s] &&
			      memcmp(again.json[s], pg.json[s], pg.len[s]) == 0);
		paged_free(&again);
	}
	paged_free(&pg);
	dirobj_release(&d);
}

static void test_bad_pages(void)
{
	struct dirobj d, back, p;
	struct paged pg;
	char *save;
	size_t slen;

	big_dir(&d, 40);
	encode_pages(&d, 4, &pg);
	/* A missing page is an error of the caller's fetch, never skipped. */
	save = pg.json[2];
	pg.json[2] = NULL;
	CHECK_RC(join_pages(&pg, &back), -ENOENT);
	dirobj_release(&back);
	/* The index says a page is there; read as absent, the count is short. */
	pg.json[2] = save;
	pg.ix.slots[2].present = false;
	CHECK_RC(join_pages(&pg, &back), -EBADMSG);
	dirobj_release(&back);
	pg.ix.slots[2].present = true;
	/* Two pages swapped: each one's entries are in another slot. */
	save = pg.json[1];
	slen = pg.len[1];
	pg.json[1] = pg.json[3];
	pg.len[1] = pg.len[3];
	pg.json[3] = save;
	pg.len[3] = slen;
	CHECK_RC(join_pages(&pg, &back), -EBADMSG);
	dirobj_release(&back);
	pg.json[3] = pg.json[1];
	pg.len[3] = pg.len[1];
	pg.json[1] = save;
	pg.len[1] = slen;
	CHECK_RC(join_pages(&pg, &back), 0);
	dirobj_release(&back);
	/* Another directory's page; a damaged page; an empty page. */
	{
		const char *empty = "{\"e\":[],\"id\":\"42424242424242424242424242424242\"}";
		uint8_t other[OBJECT_ID_BYTES];

		memset(other, 0x43, sizeof(other));
		CHECK_RC(dirpage_page_decode(&p, pg.json[0], pg.len[0], other, 0, 4, 3), -EBADMSG);
		CHECK_RC(dirpage_page_decode(&p, pg.json[0], pg.len[0] - 1, d.dir_id, 0, 4, 3),
			 -EBADMSG);
		CHECK_RC(dirpage_page_decode(&p, pg.json[0], pg.len[0], d.dir_id, 0, 4, 2),
			 -EINVAL);
		CHECK_RC(dirpage_page_decode(&p, pg.json[0], pg.len[0], d.dir_id, 0, 3, 3),
			 -EINVAL);
		CHECK_RC(dirpage_page_decode(&p, empty, strlen(empty), d.dir_id, 0, 4, 3),
			 -EBADMSG);
	}
	paged_free(&pg);
	/* The same name in two pages (two ids of other slots). */
	free(d.entries[1].name);
	d.entries[1].name = strdup(d.entries[0].name);
	d.entries[1].name_len = d.entries[0].name_len;
	d.entries[1].id[0] = (uint8_t)(d.entries[0].id[0] + 1);
	encode_pages(&d, 4, &pg);
	CHECK_RC(join_pages(&pg, &back), -EBADMSG);
	dirobj_release(&back);
	paged_free(&pg);
	dirobj_release(&d);
}

/* The digest a writer compares pages by: every member counts. */
static void test_digest(void)
{
	struct dirobj_segment seg = {.present = true, .created = 3};
	struct dirobj_xattr x = {.name = "user.a", .value = (unsigned char *)"v", .len = 1};
	struct dirobj_entry e = {.name = "n",
				 .name_len = 1,
				 .type = DIROBJ_FILE,
				 .mode = S_IFREG | 0644,
				 .size = 1,
				 .segments = &seg,
				 .nsegments = 1,
				 .xattrs = &x,
				 .nxattrs = 1};
	struct dirobj p = {.entries = &e, .nentries = 1};
	uint8_t base[32], d[32];
	int changed = 0;

	dirpage_digest(base, &p, 3);
	dirpage_digest(d, &p, 3);
	CHECK(memcmp(base, d, 32) == 0);
	{ /* any order of the same entries: the same digest */
		struct dirobj_entry two[2] = {e, e}, rev[2];
		struct dirobj p2 = {.entries = two, .nentries = 2},
			      r2 = {.entries = rev, .nentries = 2};
		uint8_t a[32], b[32];
		two[1].name = "o";
		rev[0] = two[1];
		rev[1] = two[0];
		dirpage_digest(a, &p2, 3);
		dirpage_digest(b, &r2, 3);
		CHECK(memcmp(a, b, 32) == 0 && memcmp(a, base, 32) != 0);
		r2.nentries = 1; /* one left out */
		dirpage_digest(b, &r2, 3);
		CHECK(memcmp(a, b, 32) != 0);
	}
#define DIFFERS(stmt, undo)                                                                        \
	do {                                                                                       \
		stmt;                                                                              \
		dirpage_digest(d, &p, 3);                                                          \
		CHECKF(memcmp(base, d, 32) != 0, "digest ignores %s", #stmt);                      \
		changed++;                                                                         \
		undo;                                                                              \
	} while (0)
	DIFFERS(e.mode ^= 1, e.mode ^= 1);
	DIFFERS(e.uid = 7, e.uid = 0);
	DIFFERS(e.size = 2, e.size = 1);
	DIFFERS(e.mtime.nsec = 1, e.mtime.nsec = 0);
	DIFFERS(e.ctime.sec = -1, e.ctime.sec = 0);
	DIFFERS(e.id[15] = 1, e.id[15] = 0);
	DIFFERS(seg.store_key[3] = 1, seg.store_key[3] = 0);
	DIFFERS(seg.created = 4, seg.created = 3);
	DIFFERS(x.value = (unsigned char *)"w", x.value = (unsigned char *)"v");
	DIFFERS(e.ref.version = 1, e.ref.version = 0);
	DIFFERS(e.rdev = 1, e.rdev = 0);
	DIFFERS(e.name = "m", e.name = "n");
	DIFFERS(p.dir_id[0] = 1, p.dir_id[0] = 0);
	dirpage_digest(d, &p, 2);
	CHECK(memcmp(base, d, 32) != 0); /* another format: other bytes */
	CHECK_RC(changed, 13);
#undef DIFFERS
}

int main(void)
{
	test_digest();
	test_rule();
	test_index();
	test_split_join();
	test_bad_pages();
	return check_done("test_dirpage");
}
