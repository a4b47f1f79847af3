/* fsck_repair.c - repair for the vault checker: every damaged file is
 * renamed `NAME.damaged` (`.damaged.2`, ... when taken) with its damaged
 * segments turned into holes, every directory whose object is damaged or
 * missing becomes an empty `NAME.damaged` directory, and a new head (seq + 1)
 * points at the new versions of their parents and ancestors. The commit
 * rules of docs/FORMAT.md hold: new objects first, a sync, the head, a sync,
 * and only then are the objects the new head no longer reaches deleted
 * (format 1; in format 2 the head checked becomes a retained head record
 * and they go into the new head's garbage list, deferred like a commit's).
 * Must never delete a reachable object nor write a head over one it did not
 * check (it reads the head again just before, and replaces exactly that
 * version by compare-and-swap). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cache.h"
#include "dirio.h"
#include "errbuf.h"
#include "fsck_int.h"
#include "rehead.h"
#include "seal.h"

#define FSCK_SUFFIX ".damaged"
#define FSCK_SUFFIX_MAX 24 /* ".damaged." + a number */

struct fsck_rp_moved {
	const struct fsck_damage *d;
	char *name; /* owned: the new name */
	uint64_t holes;
};

struct fsck_rp {
	struct fsck *f;
	uint8_t (*garbage)[OBJECT_ID_BYTES]; /* unreachable once the new head is in */
	size_t ng, gcap;
	uint8_t (*fresh)[OBJECT_ID_BYTES]; /* written by this repair */
	size_t nf, fcap;
	struct fsck_rp_moved *moved; /* reported once the new head is in */
	size_t nm, mcap;
	bool head_tried;  /* the new head may be in: fresh objects are reachable */
	uint64_t created; /* format 2: the new head's seq, each new object's "created" */
};

static int fsck_rp_keep(uint8_t (**v)[OBJECT_ID_BYTES], size_t *n, size_t *cap,
			const uint8_t key[OBJECT_ID_BYTES])
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		void *p = realloc(*v, ncap * OBJECT_ID_BYTES);

		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = ncap;
	}
	memcpy((*v)[(*n)++], key, OBJECT_ID_BYTES);
	return 0;
}

static int fsck_rp_fail(struct fsck_rp *rp, int r, const char *what)
{
	return errbuf_fail(rp->f->err, rp->f->err_size, r, "repair: %s: %s", what, strerror(-r));
}

/* Seals obj as version under a new key (into key), stores it. */
static int fsck_rp_put_dir(struct fsck_rp *rp, const struct dirobj *obj, uint64_t version,
			   uint8_t key[OBJECT_ID_BYTES])
{
	char name[OBJECT_KEY_TEXT_BYTES];
	unsigned char *sealed = NULL;
	size_t len = 0;
	int r;

	randombytes_buf(key, OBJECT_ID_BYTES);
	r = seal_dir(&sealed, &len, obj, version, key, rp->f->cfg->vault_id, rp->f->keys->meta,
		     rp->f->cfg->format);
	if (r)
		return fsck_rp_fail(rp, r, "sealing a directory");
	object_key_text(name, key);
	r = fsck_rp_keep(&rp->fresh, &rp->nf, &rp->fcap, key);
	if (r == 0)
		r = backend_put(rp->f->store, name, sealed, len);
	free(sealed);
	if (r == 0)
		r = fsck_keyset_add(&rp->f->reach, key);
	return r ? fsck_rp_fail(rp, r, "writing a directory object") : 0;
}

static struct dirobj_entry *fsck_rp_find(struct dirobj *obj, const char *name, size_t len)
{
	for (size_t i = 0; i < obj->nentries; i++)
		if (obj->entries[i].name_len == len && memcmp(obj->entries[i].name, name, len) == 0)
			return &obj->entries[i];
	return NULL;
}

/* A name for e in obj: NAME.damaged, else NAME.damaged.N; NAME cut (at a
 * UTF-8 boundary) when the result would pass DIROBJ_NAME_MAX. New. */
static char *fsck_rp_name(struct dirobj *obj, const struct dirobj_entry *e, size_t *out_len)
{
	char suffix[FSCK_SUFFIX_MAX];
	char *out = malloc(DIROBJ_NAME_MAX + 1);

	for (unsigned n = 1; out && n < 1000000; n++) {
		size_t slen = (size_t)snprintf(suffix, sizeof(suffix),
					       n == 1 ? FSCK_SUFFIX : FSCK_SUFFIX ".%u", n);
		size_t base = e->name_len;

		if (base + slen > DIROBJ_NAME_MAX) {
			base = DIROBJ_NAME_MAX - slen;
			while (base > 0 && ((unsigned char)e->name[base] & 0xc0) == 0x80)
				base--;
		}
		memcpy(out, e->name, base);
		memcpy(out + base, suffix, slen + 1);
		*out_len = base + slen;
		if (!fsck_rp_find(obj, out, *out_len))
			return out;
	}
	free(out);
	return NULL;
}

/* Moves the damaged entry d (named name in obj) aside. */
static int fsck_rp_leaf(struct fsck_rp *rp, struct dirobj *obj, const struct fsck_damage *d,
			const char *name, size_t name_len)
{
	struct dirobj_entry *e = fsck_rp_find(obj, name, name_len);
	struct fsck_rp_moved m = {.d = d};
	size_t new_len;
	char *new_name;
	int r = 0;

	if (!e || (e->type == DIROBJ_DIR) != d->is_dir)
		return fsck_rp_fail(rp, -ESTALE, "an entry changed since the check");
	if (d->is_dir) {
		struct dirobj empty = {.nentries = 0};
		uint8_t key[OBJECT_ID_BYTES];

		memcpy(empty.dir_id, e->id, OBJECT_ID_BYTES);
		r = fsck_rp_put_dir(rp, &empty, e->ref.version + 1, key);
		if (r == 0)
			r = fsck_rp_keep(&rp->garbage, &rp->ng, &rp->gcap, e->ref.store_key);
		e->ref.version++;
		e->ref.created = rp->created;
		memcpy(e->ref.store_key, key, OBJECT_ID_BYTES);
	}
	for (size_t i = 0; r == 0 && i < d->nsegs; i++) {
		struct dirobj_segment *s =
		    d->segs[i] < e->nsegments ? &e->segments[d->segs[i]] : NULL;

		if (!s || !s->present)
			continue;
		r = fsck_rp_keep(&rp->garbage, &rp->ng, &rp->gcap, s->store_key);
		s->present = false;
		m.holes++;
	}
	new_name = r ? NULL : fsck_rp_name(obj, e, &new_len);
	if (new_name)
		m.name = strdup(new_name);
	if (!m.name) {
		free(new_name);
		return r ? r : fsck_rp_fail(rp, -ENOMEM, "naming");
	}
	free(e->name);
	e->name = new_name;
	e->name_len = new_len;
	if (rp->nm == rp->mcap) {
		size_t cap = rp->mcap ? rp->mcap * 2 : 16;
		void *np = realloc(rp->moved, cap * sizeof(*rp->moved));

		if (!np) {
			free(m.name);
			return fsck_rp_fail(rp, -ENOMEM, "naming");
		}
		rp->moved = np;
		rp->mcap = cap;
	}
	rp->moved[rp->nm++] = m;
	return 0;
}

/* Tells the caller what moved (after the new head is in). */
static void fsck_rp_report(struct fsck_rp *rp)
{
	for (size_t i = 0; i < rp->nm; i++) {
		struct fsck_problem p = {.kind = FSCK_MOVED,
					 .path = rp->moved[i].d->path,
					 .path_len = rp->moved[i].d->path_len,
					 .what = rp->moved[i].name,
					 .why = "",
					 .size = rp->moved[i].holes,
					 .age_s = -1};

		rp->f->res->n.moved++;
		rp->f->o->report(rp->f->o->arg, &p);
	}
}

/* The end of the run of damage [i..hi) under child directory name of the
 * directory whose path is the first prefix_len bytes. */
static size_t fsck_rp_group(const struct fsck *f, size_t i, size_t hi, size_t child_len)
{
	const struct fsck_damage *a = &f->dmg[i];
	size_t j = i + 1;

	while (j < hi && f->dmg[j].path_len > child_len &&
	       memcmp(f->dmg[j].path, a->path, child_len) == 0)
		j++;
	return j;
}

/* Rewrites directory id (object *ref, path = the first prefix_len bytes of
 * the damage paths, "/" included) for damage [lo..hi); *ref gets the new
 * version. */
static int fsck_rp_dir(struct fsck_rp *rp, const uint8_t id[OBJECT_ID_BYTES],
		       struct dirobj_ref *ref, size_t prefix_len, size_t lo, size_t hi)
{
	struct fsck *f = rp->f;
	const struct dirio_keys k = {f->cfg->vault_id, f->keys->meta, f->cfg->format};
	struct dirobj obj = {.nentries = 0};
	struct dirio_pages *pages = NULL;
	uint8_t key[OBJECT_ID_BYTES];
	int r = dirio_read_store(&obj, &pages, &k, f->store, id, ref);

	if (r)
		return fsck_rp_fail(rp, r, "reading a directory again");
	for (size_t i = lo; r == 0 && i < hi;) {
		const struct fsck_damage *d = &f->dmg[i];
		const char *rel = d->path + prefix_len, *slash;
		size_t rlen = d->path_len - prefix_len, clen, j;
		struct dirobj_entry *child;

		slash = memchr(rel, '/', rlen);
		if (!slash) {
			r = fsck_rp_leaf(rp, &obj, d, rel, rlen);
			i++;
			continue;
		}
		clen = (size_t)(slash - rel);
		child = fsck_rp_find(&obj, rel, clen);
		if (!child || child->type != DIROBJ_DIR) {
			r = fsck_rp_fail(rp, -ESTALE, "a directory changed since the check");
			break;
		}
		j = fsck_rp_group(f, i, hi, prefix_len + clen + 1);
		r = fsck_rp_dir(rp, child->id, &child->ref, prefix_len + clen + 1, i, j);
		i = j;
	}
	if (r == 0)
		r = fsck_rp_put_dir(rp, &obj, ref->version + 1, key);
	if (r == 0)
		r = fsck_rp_keep(&rp->garbage, &rp->ng, &rp->gcap, ref->store_key);
	for (size_t s = 0; r == 0 && pages && s < pages->nslots; s++) /* one object now */
		if (pages->slots[s].present)
			r = fsck_rp_keep(&rp->garbage, &rp->ng, &rp->gcap,
					 pages->slots[s].ref.store_key);
	dirio_pages_free(pages);
	if (r == 0) {
		ref->version++;
		ref->created = rp->created;
		memcpy(ref->store_key, key, OBJECT_ID_BYTES);
	}
	dirobj_release(&obj);
	return r;
}

static int fsck_rp_cmp(const void *a, const void *b)
{
	const struct fsck_damage *x = a, *y = b;
	size_t n = x->path_len < y->path_len ? x->path_len : y->path_len;
	int c = memcmp(x->path, y->path, n);

	return c ? c : (x->path_len > y->path_len) - (x->path_len < y->path_len);
}

/* Deletes the objects in v (best effort: what stays is an orphan the listing
 * reports) and takes them out of the reachable set. */
static void fsck_rp_delete(struct fsck *f, uint8_t (*v)[OBJECT_ID_BYTES], size_t n)
{
	char name[OBJECT_KEY_TEXT_BYTES];

	for (size_t i = 0; i < n; i++) {
		object_key_text(name, v[i]);
		(void)backend_del(f->store, name);
		fsck_keyset_remove(&f->reach, v[i]);
	}
}

static int fsck_rp_stored(void *arg, const uint8_t key[OBJECT_ID_BYTES])
{
	return fsck_keyset_add(&((struct fsck *)arg)->reach, key);
}

/* The new head (rehead.h): written only if the store still holds the head
 * checked. Format 2: a commit like a mount's (docs/FORMAT.md, "Deferred
 * deletion"): the head checked becomes a head record in a new first
 * history page, and what the new head stops referencing goes into its
 * garbage list instead of being deleted now. */
static int fsck_rp_head(struct fsck_rp *rp, const struct dirobj_head *old, struct dirobj_ref *ref)
{
	struct fsck *f = rp->f;
	struct dirobj_head h = *old; /* shallow: only read by seal_head */
	struct rehead rh = {.store = f->store,
			    .cfg = f->cfg,
			    .keys = f->keys,
			    .what = "repair",
			    .stored = fsck_rp_stored,
			    .arg = f,
			    .err = f->err,
			    .err_size = f->err_size};
	int r;

	h.root.ref = *ref;
	r = rehead_write(&rh, old, &h, (const uint8_t(*)[OBJECT_ID_BYTES])rp->garbage, rp->ng);
	rp->head_tried = rh.head_tried;
	if (r == 0)
		f->res->new_seq = rh.new_seq;
	return r;
}

int fsck_repair(struct fsck *f, const struct dirobj_head *head)
{
	struct fsck_rp rp = {.f = f, .created = f->cfg->format >= 2 ? head->seq + 1 : 0};
	struct dirobj_ref ref = head->root.ref;
	int r;

	qsort(f->dmg, f->ndmg, sizeof(*f->dmg), fsck_rp_cmp);
	r = fsck_rp_dir(&rp, head->root.id, &ref, 1, 0, f->ndmg);
	if (r == 0)
		r = fsck_rp_head(&rp, head, &ref);
	if (r == 0) {
		fsck_rp_report(&rp);
		if (f->cfg->format < 2) /* format 2: in the new head's garbage list */
			fsck_rp_delete(f, rp.garbage, rp.ng);
		r = backend_sync(f->store);
		if (r)
			r = fsck_rp_fail(&rp, r, "syncing the deletes");
	} else if (!rp.head_tried) {
		fsck_rp_delete(f, rp.fresh, rp.nf); /* never reachable */
	}
	for (size_t i = 0; i < rp.nm; i++)
		free(rp.moved[i].name);
	free(rp.moved);
	free(rp.garbage);
	free(rp.fresh);
	return r;
}
