/* dirio.c - one directory object or a paged one, opened and sealed
 * (dirio.h, docs/FORMAT.md "Paged directories"). Must never return an entry
 * list short of a page (every REF the index holds is read, and the join is
 * checked against its count), never reuse a page whose entries changed
 * (the digest covers every member of every entry, dirpage_digest),
 * never hold more than one page's JSON tree at a time, and never leave
 * plaintext JSON unwiped. */
#include "dirio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cache.h"
#include "fault.h"
#include "meta.h"
#include "seal.h"

void dirio_pages_free(struct dirio_pages *p)
{
	if (!p)
		return;
	free(p->slots);
	free(p->digest);
	free(p);
}

static struct dirio_pages *dirio_pages_new(size_t nslots)
{
	struct dirio_pages *p = calloc(1, sizeof(*p));

	if (p) {
		p->nslots = nslots;
		p->slots = calloc(nslots, sizeof(*p->slots));
		p->digest = calloc(nslots, sizeof(*p->digest));
	}
	if (p && (!p->slots || !p->digest)) {
		dirio_pages_free(p);
		p = NULL;
	}
	return p;
}

static void dirio_ad(struct meta_ad *ad, enum meta_kind kind, const struct dirio_keys *k,
		     const uint8_t id[OBJECT_ID_BYTES], uint64_t version,
		     const uint8_t key[OBJECT_ID_BYTES])
{
	meta_ad_set(ad, kind, k->vault_id, id, version, key);
}

/* ---- opening ---- */

/* Reads, opens and appends page slot of ix to obj; its digest into p. */
static int dirio_open_page(struct dirobj *obj, size_t *cap, struct dirio_pages *p,
			   const struct dirpage_index *ix, size_t slot, const struct dirio_keys *k,
			   dirio_fetch_fn fetch, void *arg)
{
	const struct dirobj_ref *ref = &ix->slots[slot].ref;
	struct dirobj page = {.nentries = 0};
	unsigned char *sealed = NULL;
	struct meta_ad ad;
	size_t len = 0, plen = 0;
	char *plain = NULL;
	int r = fetch(arg, ref->store_key, &sealed, &len);

	dirio_ad(&ad, META_KIND_DIR_PAGE, k, ix->dir_id, ref->version, ref->store_key);
	if (r == 0)
		r = meta_open(&plain, &plen, sealed, len, &ad, k->meta_key);
	free(sealed);
	if (r == 0) {
		r = dirpage_page_decode(&page, plain, plen, ix->dir_id, slot, ix->nslots,
					k->format);
		meta_free_plain(plain, plen);
	}
	if (r == 0) { /* what a writer compares the page by */
		dirpage_digest(p->digest[slot], &page, k->format);
		r = dirpage_join(obj, cap, &page);
	}
	dirobj_release(&page);
	return r == -EINVAL ? -EBADMSG : r;
}

/* The pages of index ix (the plaintext of ref) joined into obj. */
static int dirio_open_index(struct dirobj *obj, struct dirio_pages **pages,
			    const struct dirpage_index *ix, const struct dirobj_ref *ref,
			    const struct dirio_keys *k, dirio_fetch_fn fetch, void *arg)
{
	struct dirio_pages *p = dirio_pages_new(ix->nslots);
	size_t cap = 0;
	int r = p ? 0 : -ENOMEM;

	memcpy(obj->dir_id, ix->dir_id, OBJECT_ID_BYTES);
	for (size_t s = 0; r == 0 && s < ix->nslots; s++)
		if (ix->slots[s].present)
			r = dirio_open_page(obj, &cap, p, ix, s, k, fetch, arg);
	if (r == 0)
		r = dirpage_join_check(obj, ix);
	if (r == 0 && !(obj->pages = malloc(ix->nslots * sizeof(*obj->pages))))
		r = -ENOMEM;
	if (r == 0) {
		p->ref = *ref;
		memcpy(p->slots, ix->slots, ix->nslots * sizeof(*p->slots));
		for (size_t s = 0; s < ix->nslots; s++)
			if (ix->slots[s].present)
				obj->pages[obj->npages++] = ix->slots[s].ref;
	}
	if (r == 0 && pages)
		*pages = p;
	else
		dirio_pages_free(p);
	return r;
}

/* Decodes the kind-1 plaintext of directory id: one object or an index. */
static int dirio_decode(struct dirobj *obj, struct dirio_pages **pages, const char *plain,
			size_t plen, const uint8_t id[OBJECT_ID_BYTES],
			const struct dirobj_ref *ref, const struct dirio_keys *k,
			dirio_fetch_fn fetch, void *arg)
{
	struct dirpage_index ix;
	int r = -ENOMSG;

	if (k->format >= 3 && dirpage_maybe_index(plain, plen))
		r = dirpage_index_decode(&ix, plain, plen);
	if (r == -ENOMSG)
		return dirobj_decode(obj, plain, plen, k->format);
	if (r == 0 && sodium_memcmp(ix.dir_id, id, OBJECT_ID_BYTES) != 0)
		r = -EBADMSG;
	if (r == 0)
		r = dirio_open_index(obj, pages, &ix, ref, k, fetch, arg);
	dirpage_index_release(&ix);
	return r;
}

int dirio_open(struct dirobj *obj, struct dirio_pages **pages, const struct dirio_keys *k,
	       const unsigned char *sealed, size_t len, const uint8_t id[OBJECT_ID_BYTES],
	       const struct dirobj_ref *ref, dirio_fetch_fn fetch, void *arg)
{
	struct meta_ad ad;
	size_t plen = 0;
	char *plain = NULL;
	int r;

	memset(obj, 0, sizeof(*obj));
	if (pages)
		*pages = NULL;
	dirio_ad(&ad, META_KIND_DIR, k, id, ref->version, ref->store_key);
	r = meta_open(&plain, &plen, sealed, len, &ad, k->meta_key);
	if (r)
		return r;
	r = dirio_decode(obj, pages, plain, plen, id, ref, k, fetch, arg);
	meta_free_plain(plain, plen);
	if (r == 0 && sodium_memcmp(obj->dir_id, id, OBJECT_ID_BYTES) != 0)
		r = -EBADMSG;
	if (r) {
		dirobj_release(obj);
		if (pages) {
			dirio_pages_free(*pages);
			*pages = NULL;
		}
	}
	return r == -EINVAL ? -EBADMSG : r;
}

static int dirio_fetch_store(void *arg, const uint8_t key[OBJECT_ID_BYTES], unsigned char **sealed,
			     size_t *len)
{
	char name[OBJECT_KEY_TEXT_BYTES];

	object_key_text(name, key);
	return backend_get_max(arg, name, META_MAX_SEALED_BYTES, sealed, len);
}

int dirio_read_store(struct dirobj *obj, struct dirio_pages **pages, const struct dirio_keys *k,
		     struct backend *store, const uint8_t id[OBJECT_ID_BYTES],
		     const struct dirobj_ref *ref)
{
	unsigned char *sealed = NULL;
	size_t len = 0;
	int r = dirio_fetch_store(store, ref->store_key, &sealed, &len);

	memset(obj, 0, sizeof(*obj));
	if (pages)
		*pages = NULL;
	if (r == 0)
		r = dirio_open(obj, pages, k, sealed, len, id, ref, dirio_fetch_store, store);
	free(sealed);
	return r;
}

/* ---- sealing ---- */

/* Seals JSON text json (owned: wiped and freed) as page slot's new object. */
static int dirio_seal_page(struct dirio_pages *p, size_t slot, char *json, size_t jlen,
			   const uint8_t id[OBJECT_ID_BYTES], uint64_t created,
			   const struct dirio_keys *k, const struct dirio_sink *sink)
{
	struct dirobj_ref *ref = &p->slots[slot].ref;
	unsigned char *sealed = NULL;
	struct meta_ad ad;
	size_t slen = 0;
	int r;

	randombytes_buf(ref->store_key, OBJECT_ID_BYTES);
	ref->version = ref->created = created;
	p->slots[slot].present = true;
	dirio_ad(&ad, META_KIND_DIR_PAGE, k, id, created, ref->store_key);
	r = fault_fire(FAULT_CRYPTO) ? -EIO
				     : meta_seal(&sealed, &slen, json, jlen, &ad, k->meta_key);
	sodium_memzero(json, jlen);
	free(json);
	return r ? r : sink->object(sink->arg, ref->store_key, sealed, slen);
}

/* Page slot of the new state p: the entries order[first[slot]..) of dir,
 * kept from old when its plaintext is the same, else sealed anew. */
static int dirio_page(struct dirio_pages *p, const struct dirio_pages *old, size_t slot,
		      const struct dirobj *dir, const size_t *order, const size_t *first,
		      struct dirobj_entry *buf, uint64_t created, const struct dirio_keys *k,
		      const struct dirio_sink *sink)
{
	struct dirobj page = {.entries = buf, .nentries = first[slot + 1] - first[slot]};
	size_t jlen = 0;
	char *json = NULL;
	int r;

	if (page.nentries == 0)
		return 0; /* a null slot */
	if (old && old->nslots == p->nslots && old->slots[slot].present &&
	    sodium_memcmp(old->digest[slot], p->digest[slot], 32) == 0) {
		p->slots[slot] = old->slots[slot]; /* unchanged: kept, never encoded */
		return 0;
	}
	memcpy(page.dir_id, dir->dir_id, OBJECT_ID_BYTES);
	for (size_t i = 0; i < page.nentries; i++)
		buf[i] = dir->entries[order[first[slot] + i]];
	dirpage_sort(&page); /* the same entries, the same bytes */
	r = dirpage_page_encode(&json, &jlen, &page, slot, p->nslots, k->format);
	if (r)
		return r;
	return dirio_seal_page(p, slot, json, jlen, dir->dir_id, created, k, sink);
}

/* The digest of every page of dir among p's slots (dirpage_digest, one
 * pass, nothing copied or sorted). */
static int dirio_digests(struct dirio_pages *p, const struct dirobj *dir, const size_t *first,
			 const struct dirio_keys *k)
{
	uint8_t(*acc)[32] = calloc(p->nslots, sizeof(*acc)), d[32];

	if (!acc)
		return -ENOMEM;
	for (size_t i = 0; i < dir->nentries; i++) {
		size_t s = dirpage_slot_of(dir->entries[i].id, p->nslots);
		dirpage_entry_digest(d, &dir->entries[i]);
		for (size_t b = 0; b < 32; b++)
			acc[s][b] ^= d[b];
	}
	for (size_t s = 0; s < p->nslots; s++)
		dirpage_digest_fold(p->digest[s], acc[s], first[s + 1] - first[s], dir->dir_id,
				    k->format);
	free(acc);
	return 0;
}

/* Every page of the new state p of dir, then its index sealed into *out. */
static int dirio_seal_paged(unsigned char **out, size_t *out_len, struct dirio_pages *p,
			    const struct dirobj *dir, const struct dirio_pages *old,
			    uint64_t created, const struct dirio_keys *k,
			    const struct dirio_sink *sink, const struct meta_ad *ad)
{
	struct dirpage_index ix = {
	    .nentries = dir->nentries, .slots = p->slots, .nslots = p->nslots};
	struct dirobj_entry *buf = malloc((dir->nentries ? dir->nentries : 1) * sizeof(*buf));
	size_t *order = NULL, *first = NULL, jlen = 0;
	char *json = NULL;
	int r = buf ? dirpage_split(dir, p->nslots, &order, &first) : -ENOMEM;

	if (r == 0)
		r = dirio_digests(p, dir, first, k);
	for (size_t s = 0; r == 0 && s < p->nslots; s++)
		r = dirio_page(p, old, s, dir, order, first, buf, created, k, sink);
	free(buf);
	free(order);
	free(first);
	memcpy(ix.dir_id, dir->dir_id, OBJECT_ID_BYTES);
	if (r == 0)
		r = dirpage_index_encode(&json, &jlen, &ix);
	if (r == 0) {
		r = fault_fire(FAULT_CRYPTO) ? -EIO
					     : meta_seal(out, out_len, json, jlen, ad, k->meta_key);
		sodium_memzero(json, jlen);
		free(json);
	}
	return r;
}

/* The pages of old that p does not keep, to the garbage. */
static int dirio_old_garbage(const struct dirio_pages *old, const struct dirio_pages *p,
			     const struct dirio_sink *sink)
{
	int r = 0;

	for (size_t s = 0; old && r == 0 && s < old->nslots; s++) {
		const struct dirpage_slot *o = &old->slots[s];
		bool kept =
		    p && s < p->nslots && p->slots[s].present &&
		    memcmp(p->slots[s].ref.store_key, o->ref.store_key, OBJECT_ID_BYTES) == 0;
		if (o->present && !kept)
			r = sink->garbage(sink->arg, o->ref.store_key, o->ref.created);
	}
	return r;
}

int dirio_seal(unsigned char **out, size_t *out_len, struct dirio_pages **pages_out,
	       const struct dirobj *dir, const struct dirio_pages *old, uint64_t version,
	       const uint8_t key[OBJECT_ID_BYTES], uint64_t created, const struct dirio_keys *k,
	       const struct dirio_sink *sink)
{
	size_t nslots = k->format >= 3 ? dirpage_nslots(dir->nentries, old ? old->nslots : 0) : 0;
	struct dirio_pages *p = NULL;
	struct meta_ad ad;
	int r;

	*out = NULL;
	*pages_out = NULL;
	if (nslots == 0) {
		r = seal_dir(out, out_len, dir, version, key, k->vault_id, k->meta_key, k->format);
	} else {
		p = dirio_pages_new(nslots);
		dirio_ad(&ad, META_KIND_DIR, k, dir->dir_id, version, key);
		r = p ? dirio_seal_paged(out, out_len, p, dir, old, created, k, sink, &ad)
		      : -ENOMEM;
	}
	if (r == 0)
		r = dirio_old_garbage(old, p, sink);
	if (r == 0 && p) {
		p->ref.version = version;
		p->ref.created = created;
		memcpy(p->ref.store_key, key, OBJECT_ID_BYTES);
		*pages_out = p;
		return 0;
	}
	if (r) {
		free(*out);
		*out = NULL;
	}
	dirio_pages_free(p);
	return r;
}
