/* test_dirio.c - paged directories sealed and opened (fs/vault/dirio.h)
 * against a store in memory: a 3,000-entry directory becomes an index and
 * pages that open to the same entries; a change of one entry seals one page
 * and lists the page it replaces as garbage, no change seals none; below the
 * join it is one object again and every page is garbage; a new slot count
 * rewrites every page; format 2 never pages; a damaged, missing or swapped
 * page fails the open. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "check.h"
#include "dirio.h"

#define NOBJ 4096

struct mem {
	uint8_t key[NOBJ][OBJECT_ID_BYTES];
	unsigned char *data[NOBJ];
	size_t len[NOBJ];
	size_t n, added;    /* objects; added by the last seal */
	size_t ngarbage;    /* garbage told by the last seal */
	uint64_t garbage_c; /* the created of the last one */
};

static int mem_object(void *arg, const uint8_t key[OBJECT_ID_BYTES], unsigned char *data,
		      size_t len)
{
	struct mem *m = arg;

	if (m->n == NOBJ) {
		free(data);
		return -ENOSPC;
	}
	memcpy(m->key[m->n], key, OBJECT_ID_BYTES);
	m->data[m->n] = data;
	m->len[m->n++] = len;
	m->added++;
	return 0;
}

static int mem_garbage(void *arg, const uint8_t key[OBJECT_ID_BYTES], uint64_t created)
{
	struct mem *m = arg;

	(void)key;
	m->ngarbage++;
	m->garbage_c = created;
	return 0;
}

static long mem_find(struct mem *m, const uint8_t key[OBJECT_ID_BYTES])
{
	for (size_t i = 0; i < m->n; i++)
		if (memcmp(m->key[i], key, OBJECT_ID_BYTES) == 0)
			return (long)i;
	return -1;
}

static int mem_fetch(void *arg, const uint8_t key[OBJECT_ID_BYTES], unsigned char **sealed,
		     size_t *len)
{
	struct mem *m = arg;
	long i = mem_find(m, key);

	if (i < 0 || !m->data[i])
		return -ENOENT;
	*sealed = malloc(m->len[i]);
	if (!*sealed)
		return -ENOMEM;
	memcpy(*sealed, m->data[i], m->len[i]);
	*len = m->len[i];
	return 0;
}

static uint8_t vault_id[OBJECT_ID_BYTES], meta_key[32];

static void dir_of(struct dirobj *d, size_t n)
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
		randombytes_buf(e->id, OBJECT_ID_BYTES);
		e->mode = S_IFREG | 0644;
	}
}

/* Seals d (old: the state it replaces) as version v under a new key, stores
 * the kind-1 object in m too; *ref names it. */
static int seal(struct mem *m, const struct dirobj *d, const struct dirio_pages *old,
		struct dirio_pages **out, struct dirobj_ref *ref, int format)
{
	const struct dirio_keys k = {vault_id, meta_key, format};
	const struct dirio_sink sink = {m, mem_object, mem_garbage};
	unsigned char *data = NULL;
	size_t len = 0;
	int r;

	m->added = m->ngarbage = 0;
	ref->version++;
	ref->created = ref->version;
	randombytes_buf(ref->store_key, OBJECT_ID_BYTES);
	r = dirio_seal(&data, &len, out, d, old, ref->version, ref->store_key, ref->created, &k,
		       &sink);
	if (r == 0) {
		r = mem_object(m, ref->store_key, data, len);
		m->added--; /* the kind-1 object is not a page */
	}
	return r;
}

static const uint8_t *dir_id(void)
{
	static uint8_t id[OBJECT_ID_BYTES];

	memset(id, 0x42, sizeof(id)); /* dir_of's */
	return id;
}

static int open_dir(struct mem *m, struct dirobj *obj, struct dirio_pages **pages,
		    const struct dirobj_ref *ref, int format)
{
	const struct dirio_keys k = {vault_id, meta_key, format};
	long i = mem_find(m, ref->store_key);

	if (i < 0)
		return -ENOENT;
	return dirio_open(obj, pages, &k, m->data[i], m->len[i], dir_id(), ref, mem_fetch, m);
}

static size_t present(const struct dirio_pages *p)
{
	size_t n = 0;

	for (size_t s = 0; p && s < p->nslots; s++)
		n += p->slots[s].present;
	return n;
}

static void test_cycle(void)
{
	struct mem *m = calloc(1, sizeof(*m));
	struct dirobj d, back;
	struct dirio_pages *p1 = NULL, *p2 = NULL, *p3 = NULL, *loaded = NULL;
	struct dirobj_ref ref = {.version = 0};
	size_t same = 0;

	dir_of(&d, 3000);
	CHECK_RC(seal(m, &d, NULL, &p1, &ref, 3), 0);
	CHECK(p1 && p1->nslots == 8 && m->added == present(p1) && m->ngarbage == 0);
	CHECK_RC(open_dir(m, &back, &loaded, &ref, 3), 0);
	CHECK(back.nentries == 3000 && back.npages == present(p1) && loaded);
	for (size_t s = 0; loaded && p1 && s < 8; s++)
		CHECK(memcmp(loaded->digest[s], p1->digest[s], 32) == 0 &&
		      loaded->slots[s].present == p1->slots[s].present);
	dirobj_release(&back);

	/* One entry changed: one page and its replacement's garbage. */
	d.entries[1234].mtime.sec = 99;
	CHECK_RC(seal(m, &d, loaded, &p2, &ref, 3), 0);
	CHECK(m->added == 1 && m->ngarbage == 1 && m->garbage_c == 1);
	for (size_t s = 0; p2 && s < 8; s++)
		same += memcmp(p2->slots[s].ref.store_key, loaded->slots[s].ref.store_key,
			       OBJECT_ID_BYTES) == 0;
	CHECK_RC(same, 7);
	/* Nothing changed: no page. */
	CHECK_RC(seal(m, &d, p2, &p3, &ref, 3), 0);
	CHECK(m->added == 0 && m->ngarbage == 0);
	CHECK_RC(open_dir(m, &back, NULL, &ref, 3), 0);
	CHECK(back.nentries == 3000);
	for (size_t i = 0; i < back.nentries; i++)
		if (strcmp(back.entries[i].name, "file-1234") == 0)
			CHECK(back.entries[i].mtime.sec == 99);
	dirobj_release(&back);
	dirio_pages_free(loaded);
	dirio_pages_free(p1);
	dirio_pages_free(p2);
	loaded = p3;
	p3 = NULL;

	/* More: 16 slots, every page new, every old one garbage. */
	dirobj_release(&d);
	dir_of(&d, 9000);
	CHECK_RC(seal(m, &d, loaded, &p1, &ref, 3), 0);
	CHECK(p1 && p1->nslots == 32 && m->added == 32 && m->ngarbage == 8);
	/* Below the join: one object, every page garbage. */
	d.nentries = 900; /* the rest stays allocated for the release */
	CHECK_RC(seal(m, &d, p1, &p2, &ref, 3), 0);
	CHECK(p2 == NULL && m->added == 0 && m->ngarbage == 32);
	CHECK_RC(open_dir(m, &back, &p3, &ref, 3), 0);
	CHECK(back.nentries == 900 && back.npages == 0 && p3 == NULL);
	dirobj_release(&back);
	d.nentries = 9000;
	/* Format 2 never pages. */
	CHECK_RC(seal(m, &d, NULL, &p2, &ref, 2), 0);
	CHECK(p2 == NULL && m->added == 0);
	dirio_pages_free(loaded);
	dirio_pages_free(p1);
	dirobj_release(&d);
	for (size_t i = 0; i < m->n; i++)
		free(m->data[i]);
	free(m);
}

static void test_bad_pages(void)
{
	struct mem *m = calloc(1, sizeof(*m));
	struct dirio_pages *p = NULL;
	struct dirobj_ref ref = {.version = 0};
	struct dirobj d, back;
	long a, b;
	unsigned char *t;

	dir_of(&d, 2500);
	CHECK_RC(seal(m, &d, NULL, &p, &ref, 3), 0);
	CHECK(p && p->nslots == 8 && p->slots[1].present && p->slots[2].present);
	if (!p || !p->slots[1].present || !p->slots[2].present)
		return;
	a = mem_find(m, p->slots[1].ref.store_key);
	b = mem_find(m, p->slots[2].ref.store_key);
	m->data[a][40] ^= 1; /* damaged */
	CHECK_RC(open_dir(m, &back, NULL, &ref, 3), -EBADMSG);
	CHECK(back.nentries == 0 && back.entries == NULL);
	m->data[a][40] ^= 1;
	t = m->data[a]; /* missing */
	m->data[a] = NULL;
	CHECK_RC(open_dir(m, &back, NULL, &ref, 3), -ENOENT);
	m->data[a] = t;
	memcpy(m->key[a], p->slots[2].ref.store_key, OBJECT_ID_BYTES); /* swapped */
	memcpy(m->key[b], p->slots[1].ref.store_key, OBJECT_ID_BYTES);
	CHECK_RC(open_dir(m, &back, NULL, &ref, 3), -EBADMSG);
	memcpy(m->key[a], p->slots[1].ref.store_key, OBJECT_ID_BYTES);
	memcpy(m->key[b], p->slots[2].ref.store_key, OBJECT_ID_BYTES);
	CHECK_RC(open_dir(m, &back, NULL, &ref, 3), 0);
	CHECK(back.nentries == 2500);
	dirobj_release(&back);
	CHECK_RC(open_dir(m, &back, NULL, &ref, 2), -EBADMSG); /* not format 2's */
	dirio_pages_free(p);
	dirobj_release(&d);
	for (size_t i = 0; i < m->n; i++)
		free(m->data[i]);
	free(m);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(vault_id, sizeof(vault_id));
	randombytes_buf(meta_key, sizeof(meta_key));
	test_cycle();
	test_bad_pages();
	return check_done("test_dirio");
}
