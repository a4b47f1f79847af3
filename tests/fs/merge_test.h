/* merge_test.h - the harness of test_merge.c: small trees built in memory
 * the way commits build them (copy on write: a changed directory and its
 * ancestors get new refs, untouched ones keep theirs), a loader over those
 * objects that counts its calls, and a merged tree flattened to sorted
 * "path<TAB>type content" lines that a case queries. Each case is merged both
 * ways round (tc_merge), which must give the same tree; every result is
 * checked for unique names per directory and unique ids. Test code only. */
#ifndef SEALFS_MERGE_TEST_H
#define SEALFS_MERGE_TEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "merge.h"

/* ---- a tiny tree with copy-on-write refs ---- */

#define KIDS_MAX 16

struct tn {
	char name[300];
	char type;
	uint8_t id[16];
	int64_t mtime;
	uint8_t seg[16]; /* files: the one segment's store key (the content) */
	char target[32]; /* symlinks ('l'): the target */
	struct dirobj_ref ref;
	bool dirty;
	struct tn *parent, *kids[KIDS_MAX];
	int nkids;
};

struct obj {
	struct dirobj_ref ref;
	struct dirobj dir;
};

static struct obj store[4096];
static size_t nstore;
static int loads;
static const struct tn *load_fail; /* its directory object cannot be read */

static struct tn *tn_new(struct tn *parent, const char *name, char type, int64_t mtime)
{
	struct tn *n = calloc(1, sizeof(*n));

	snprintf(n->name, sizeof(n->name), "%s", name);
	n->type = type;
	n->mtime = mtime;
	randombytes_buf(n->id, 16);
	randombytes_buf(n->seg, 16);
	n->dirty = true;
	n->parent = parent;
	if (parent) {
		parent->kids[parent->nkids++] = n;
		for (struct tn *p = parent; p; p = p->parent)
			p->dirty = true;
	}
	return n;
}

/* A symlink named name under parent pointing at target. */
__attribute__((unused)) static struct tn *tn_symlink(struct tn *parent, const char *name,
						     const char *target, int64_t mtime)
{
	struct tn *n = tn_new(parent, name, 'l', mtime);

	snprintf(n->target, sizeof(n->target), "%s", target);
	return n;
}

static void touch_up(struct tn *n)
{
	for (; n; n = n->parent)
		n->dirty = true;
}

static struct tn *tn_find(struct tn *d, const char *path)
{
	char buf[600], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = strtok_r(buf, "/", &save); p && d; p = strtok_r(NULL, "/", &save)) {
		struct tn *next = NULL;

		for (int i = 0; i < d->nkids; i++)
			if (strcmp(d->kids[i]->name, p) == 0)
				next = d->kids[i];
		d = next;
	}
	return d;
}

static void tn_detach(struct tn *n)
{
	struct tn *p = n->parent;

	for (int i = 0; i < p->nkids; i++)
		if (p->kids[i] == n)
			p->kids[i] = p->kids[--p->nkids];
	touch_up(p);
}

static void tn_free(struct tn *n)
{
	for (int i = 0; i < n->nkids; i++)
		tn_free(n->kids[i]);
	free(n);
}

static void op_write(struct tn *root, const char *path, int64_t mtime)
{
	struct tn *n = tn_find(root, path);

	randombytes_buf(n->seg, 16);
	n->mtime = mtime;
	touch_up(n);
}

static void op_rm(struct tn *root, const char *path)
{
	struct tn *n = tn_find(root, path);

	tn_detach(n);
	tn_free(n);
}

static void op_mv(struct tn *root, const char *path, const char *dir, const char *name)
{
	struct tn *n = tn_find(root, path), *d = dir[0] ? tn_find(root, dir) : root;

	tn_detach(n);
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->parent = d;
	d->kids[d->nkids++] = n;
	touch_up(n);
}

static struct tn *tn_clone(const struct tn *s, struct tn *parent)
{
	struct tn *n = malloc(sizeof(*n));

	*n = *s;
	n->parent = parent;
	for (int i = 0; i < s->nkids; i++)
		n->kids[i] = tn_clone(s->kids[i], n);
	return n;
}

static void tn_entry(struct dirobj_entry *e, const struct tn *n)
{
	memset(e, 0, sizeof(*e));
	e->name = strdup(n->name);
	e->name_len = strlen(n->name);
	e->type = (enum dirobj_type)n->type;
	memcpy(e->id, n->id, 16);
	if (n->type == 'h')
		return; /* name, type and id: the rest is the record's */
	e->mode = n->type == 'd'   ? 040755
		  : n->type == 'l' ? 0120777
		  : n->type == 'p' ? 010644
				   : 0100644;
	e->mtime.sec = e->ctime.sec = e->atime.sec = n->mtime;
	if (n->type == 'd') {
		e->ref = n->ref;
	} else if (n->type == 'l') {
		e->target = strdup(n->target);
		e->target_len = e->size = strlen(n->target);
	} else if (n->type == 'f') {
		e->size = 10;
		e->nsegments = 1;
		e->segments = calloc(1, sizeof(*e->segments));
		e->segments[0].present = true;
		memcpy(e->segments[0].store_key, n->seg, 16);
	}
}

/* Seals (into the store) every dirty directory, bottom-up, as a commit does. */
static void tn_commit(struct tn *n)
{
	struct obj *o;

	for (int i = 0; i < n->nkids; i++)
		if (n->kids[i]->type == 'd')
			tn_commit(n->kids[i]);
	if (n->type != 'd' || !n->dirty)
		return;
	if (nstore == sizeof(store) / sizeof(store[0])) {
		CHECK(!"store full");
		return;
	}
	o = &store[nstore++];
	randombytes_buf(o->ref.store_key, 16);
	o->ref.version = n->ref.version + 1;
	memcpy(o->dir.dir_id, n->id, 16);
	o->dir.entries = calloc(KIDS_MAX, sizeof(*o->dir.entries));
	for (int i = 0; i < n->nkids; i++)
		tn_entry(&o->dir.entries[o->dir.nentries++], n->kids[i]);
	n->ref = o->ref;
	n->dirty = false;
}

static const struct obj *store_get(const struct dirobj_ref *ref)
{
	for (size_t i = 0; i < nstore; i++)
		if (store[i].ref.version == ref->version &&
		    memcmp(store[i].ref.store_key, ref->store_key, 16) == 0)
			return &store[i];
	return NULL;
}

static void copy_entry(struct dirobj_entry *d, const struct dirobj_entry *s)
{
	*d = *s;
	d->name = strdup(s->name);
	if (s->target)
		d->target = strdup(s->target);
	if (s->nsegments) {
		d->segments = malloc(sizeof(*s->segments));
		d->segments[0] = s->segments[0];
	}
}

static int loader(void *ctx, const struct dirobj_entry *e, struct dirobj *out)
{
	const struct obj *o = store_get(&e->ref);

	(void)ctx;
	loads++;
	if (load_fail && memcmp(e->ref.store_key, load_fail->ref.store_key, 16) == 0)
		return -EIO;
	if (!o)
		return -ENOENT;
	memcpy(out->dir_id, o->dir.dir_id, 16);
	out->entries = calloc(o->dir.nentries + 1, sizeof(*out->entries));
	for (size_t i = 0; i < o->dir.nentries; i++)
		copy_entry(&out->entries[i], &o->dir.entries[i]);
	out->nentries = o->dir.nentries;
	return 0;
}

/* ---- the merged tree, flattened to "path type content id" lines ---- */

struct flat {
	char lines[256][420];
	uint8_t ids[256][16];
	int n;
	uint8_t hids[256][16]; /* the file id of each `h` entry */
	int nh;
	bool bad; /* a duplicate name in a directory or a duplicate id */
};

static const struct dirobj *result_dir(const struct merge_result *r, const struct dirobj_entry *e,
				       bool pending)
{
	if (pending) {
		for (size_t i = 0; i < r->ndirs; i++)
			if (memcmp(r->dirs[i].dir.dir_id, e->id, 16) == 0)
				return &r->dirs[i].dir;
		return NULL;
	}
	const struct obj *o = store_get(&e->ref);
	return o ? &o->dir : NULL;
}

static const struct itable_record *result_rec(const struct merge_result *r, const uint8_t id[16])
{
	for (size_t i = 0; i < r->nrecords; i++)
		if (memcmp(r->records[i].e.id, id, 16) == 0)
			return &r->records[i];
	return NULL;
}

/* What a line shows of e: a file's segment key, a symlink's "l:TARGET", a
 * FIFO's "p:", a directory's id (hex). */
static void special_or_hex(char *out, size_t size, const struct dirobj_entry *e)
{
	if (e->type == 'l' || e->type == 'p')
		snprintf(out, size, "%c:%s", e->type, e->target ? e->target : "");
	else
		sodium_bin2hex(out, size, e->type == 'f' ? e->segments[0].store_key : e->id, 16);
}

static void flatten(struct flat *f, const struct merge_result *r, const struct dirobj *d,
		    const bool *pending, const char *prefix)
{
	for (size_t i = 0; i < d->nentries; i++) {
		const struct dirobj_entry *e = &d->entries[i];
		char hex[33], path[400];

		for (size_t j = 0; j < i; j++)
			if (strcmp(d->entries[j].name, e->name) == 0)
				f->bad = true;
		for (int j = 0; j < f->n && e->type != 'h'; j++)
			if (memcmp(f->ids[j], e->id, 16) == 0)
				f->bad = true;
		if (f->n == 256)
			return;
		if (e->type == 'h') {
			const struct itable_record *rec = result_rec(r, e->id);

			if (!rec) {
				f->bad = true;
				continue;
			}
			special_or_hex(hex, sizeof(hex), &rec->e);
		} else
			special_or_hex(hex, sizeof(hex), e);
		snprintf(path, sizeof(path), "%s/%s", prefix, e->name);
		memcpy(f->ids[f->n], e->id, 16);
		if (e->type == 'h' && f->nh < 256)
			memcpy(f->hids[f->nh++], e->id, 16);
		snprintf(f->lines[f->n++], sizeof(f->lines[0]), "%s\t%c %.*s", path, e->type,
			 strchr(hex, ':') ? 32 : 12, hex);
		if (e->type == 'd') {
			const struct dirobj *c = result_dir(r, e, pending && pending[i]);
			const bool *cp = NULL;

			for (size_t k = 0; c && k < r->ndirs; k++)
				if (&r->dirs[k].dir == c)
					cp = r->dirs[k].pending;
			if (!c)
				f->bad = true;
			else
				flatten(f, r, c, cp, path);
		}
	}
}

static int line_cmp(const void *a, const void *b) { return strcmp(a, b); }

static void flat_of(struct flat *f, const struct merge_result *r)
{
	const struct dirobj *root = result_dir(r, &r->root, r->root_pending);

	memset(f, 0, sizeof(*f));
	if (!root) {
		f->bad = true;
		return;
	}
	flatten(f, r, root, r->root_pending ? r->dirs[r->ndirs - 1].pending : NULL, "");
	qsort(f->lines, (size_t)f->n, sizeof(f->lines[0]), line_cmp);
	/* Every record's nl is its names on the merged tree, and no record is
	 * left without one. */
	for (size_t i = 0; i < r->nrecords; i++) {
		uint32_t names = 0;

		for (int j = 0; j < f->nh; j++)
			names += memcmp(f->hids[j], r->records[i].e.id, 16) == 0;
		CHECKF(names == r->records[i].nlink && names > 0, "nl %u, %u names",
		       r->records[i].nlink, names);
		if (names != r->records[i].nlink || names == 0)
			f->bad = true;
	}
}

/* The line of path, or NULL. */
static const char *flat_get(const struct flat *f, const char *path)
{
	size_t len = strlen(path);

	for (int i = 0; i < f->n; i++)
		if (strncmp(f->lines[i], path, len) == 0 && f->lines[i][len] == '\t')
			return f->lines[i];
	return NULL;
}

/* Whether path holds the content of file node n (its segment). */
static bool has_content(const struct flat *f, const char *path, const struct tn *n)
{
	const char *l = flat_get(f, path);
	char hex[33];

	sodium_bin2hex(hex, sizeof(hex), n->seg, 16);
	if (l && strstr(l, "\th "))
		return strncmp(strstr(l, "\th ") + 3, hex, 12) == 0;
	return l && strstr(l, "\tf ") && strncmp(strstr(l, "\tf ") + 3, hex, 12) == 0;
}

/* Whether path holds the content seg (a file's, or its record's). */
__attribute__((unused)) static bool has_seg(const struct flat *f, const char *path,
					    const uint8_t seg[16])
{
	const char *l = flat_get(f, path);
	char hex[33];

	sodium_bin2hex(hex, sizeof(hex), seg, 16);
	return l && strlen(l) > 15 && strncmp(strchr(l, '\t') + 3, hex, 12) == 0;
}

/* ---- inode tables: one per side, a record per linked file ---- */

#define RECS_MAX 64

struct trec {
	uint8_t id[16], seg[16];
	char type, target[32]; /* type ('l', 'p'; 'f' or 0: a file), a symlink's target */
	int64_t mtime, ctime;
};

struct ttab {
	struct trec r[RECS_MAX];
	int n;
};

static struct trec *tt_find(struct ttab *tb, const uint8_t id[16])
{
	for (int i = 0; i < tb->n; i++)
		if (memcmp(tb->r[i].id, id, 16) == 0)
			return &tb->r[i];
	return NULL;
}

/* The names of file id in the tree under n. */
static uint32_t tt_names(const struct tn *n, const uint8_t id[16])
{
	uint32_t k = n->type == 'h' && memcmp(n->id, id, 16) == 0;

	for (int i = 0; i < n->nkids; i++)
		k += tt_names(n->kids[i], id);
	return k;
}

/* link(2): the file at path gets the name dir/name (its first link makes
 * it a record of this side's table); the record's ctime is now. */
__attribute__((unused)) static struct tn *op_link(struct tn *root, struct ttab *tb,
						  const char *path, const char *dir,
						  const char *name, int64_t now)
{
	struct tn *n = tn_find(root, path), *d = dir[0] ? tn_find(root, dir) : root, *h;
	struct trec *rec = tt_find(tb, n->id);

	if (!rec) {
		rec = &tb->r[tb->n++];
		memcpy(rec->id, n->id, 16);
		memcpy(rec->seg, n->seg, 16);
		rec->type = n->type;
		memcpy(rec->target, n->target, sizeof(rec->target));
		rec->mtime = n->mtime;
		n->type = 'h';
		touch_up(n);
	}
	rec->ctime = now;
	h = tn_new(d, name, 'h', 0);
	memcpy(h->id, n->id, 16);
	return h;
}

/* A write to a linked file: its record changes, no directory does. */
__attribute__((unused)) static struct trec *op_lwrite(struct tn *root, struct ttab *tb,
						      const char *path, int64_t mtime)
{
	struct trec *rec = tt_find(tb, tn_find(root, path)->id);

	randombytes_buf(rec->seg, 16);
	rec->mtime = rec->ctime = mtime;
	return rec;
}

/* A linked symlink's record gets another target (as the merge may meet it:
 * the record changed on that side). */
__attribute__((unused)) static struct trec *
op_lretarget(struct tn *root, struct ttab *tb, const char *path, const char *target, int64_t mtime)
{
	struct trec *rec = tt_find(tb, tn_find(root, path)->id);

	snprintf(rec->target, sizeof(rec->target), "%s", target);
	rec->mtime = rec->ctime = mtime;
	return rec;
}

/* Whether path's line shows exactly `want` after its tab ("h l:t1"). */
__attribute__((unused)) static bool flat_is(const struct flat *f, const char *path,
					    const char *want)
{
	const char *l = flat_get(f, path);

	return l && strcmp(strchr(l, '\t') + 1, want) == 0;
}

/* The side's table as the merge reads it: the records with a name. */
static size_t tt_records(struct itable_record **out, const struct ttab *tb, const struct tn *root)
{
	size_t n = 0;

	*out = calloc(RECS_MAX, sizeof(**out));
	for (int i = 0; i < tb->n; i++) {
		uint32_t nl = tt_names(root, tb->r[i].id);
		struct dirobj_entry *e = &(*out)[n].e;

		if (!nl)
			continue;
		(*out)[n++].nlink = nl;
		e->name = strdup("-");
		e->name_len = 1;
		e->type = tb->r[i].type ? (enum dirobj_type)tb->r[i].type : DIROBJ_FILE;
		memcpy(e->id, tb->r[i].id, 16);
		e->mode = e->type == 'l' ? 0120777 : e->type == 'p' ? 010644 : 0100644;
		e->mtime.sec = e->atime.sec = tb->r[i].mtime;
		e->ctime.sec = tb->r[i].ctime;
		if (e->type == 'l') {
			e->target = strdup(tb->r[i].target);
			e->target_len = e->size = strlen(tb->r[i].target);
		}
		if (e->type != 'f')
			continue;
		e->size = 10;
		e->nsegments = 1;
		e->segments = calloc(1, sizeof(*e->segments));
		e->segments[0].present = true;
		memcpy(e->segments[0].store_key, tb->r[i].seg, 16);
	}
	return n;
}

static void tt_free(struct itable_record *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dirobj_entry_release(&r[i].e);
	free(r);
}

/* ---- running a case ---- */

static struct merge_device dev_a = {.name = "laptop"}, dev_b = {.name = "desk/top"};

struct tcase {
	struct tn *base, *l, *r;
	struct ttab tb, tl, tr; /* the inode tables */
	struct dirobj_entry eb, el, er;
	struct merge_result res;
	struct flat f;
	int rc;
};

static void tc_start(struct tcase *t)
{
	for (size_t i = 0; i < nstore; i++)
		dirobj_release(&store[i].dir);
	nstore = 0;
	memset(t, 0, sizeof(*t));
	t->base = tn_new(NULL, "", 'd', 1);
}

static void tc_fork(struct tcase *t)
{
	tn_commit(t->base);
	t->l = tn_clone(t->base, NULL);
	t->r = tn_clone(t->base, NULL);
	t->tl = t->tr = t->tb;
}

/* Merges local onto remote and remote onto local; both must agree. */
static int tc_merge(struct tcase *t)
{
	struct merge_result other;
	struct flat f2;
	int rc2;

	tn_commit(t->l);
	tn_commit(t->r);
	tn_entry(&t->eb, t->base);
	tn_entry(&t->el, t->l);
	tn_entry(&t->er, t->r);
	struct itable_record *ib, *il, *ir;
	size_t nb = tt_records(&ib, &t->tb, t->base), nl = tt_records(&il, &t->tl, t->l),
	       nr = tt_records(&ir, &t->tr, t->r);
	struct merge_input in = {.base = &t->eb,
				 .local = &t->el,
				 .remote = &t->er,
				 .local_dev = dev_a,
				 .remote_dev = dev_b,
				 .load = loader,
				 .base_it = {ib, nb},
				 .local_it = {il, nl},
				 .remote_it = {ir, nr}};
	struct merge_input sw = {.base = &t->eb,
				 .local = &t->er,
				 .remote = &t->el,
				 .local_dev = dev_b,
				 .remote_dev = dev_a,
				 .load = loader,
				 .base_it = {ib, nb},
				 .local_it = {ir, nr},
				 .remote_it = {il, nl}};
	t->rc = merge_tree(&t->res, &in);
	rc2 = merge_tree(&other, &sw);
	tt_free(ib, nb);
	tt_free(il, nl);
	tt_free(ir, nr);
	CHECK_RC(rc2, t->rc);
	if (t->rc == 0 && rc2 == 0) {
		flat_of(&t->f, &t->res);
		flat_of(&f2, &other);
		CHECK(!t->f.bad);
		CHECK(!f2.bad);
		CHECK_RC(f2.n, t->f.n);
		for (int i = 0; i < t->f.n && i < f2.n; i++)
			CHECKF(strcmp(t->f.lines[i], f2.lines[i]) == 0, "order: %s vs %s",
			       t->f.lines[i], f2.lines[i]);
		CHECK_RC(other.conflicts, t->res.conflicts);
		CHECK_RC(other.ncopies, t->res.ncopies);
		CHECK_RC(other.nrecords, t->res.nrecords);
		merge_result_release(&other);
	}
	return t->rc;
}

static void tc_end(struct tcase *t)
{
	merge_result_release(&t->res);
	dirobj_entry_release(&t->eb);
	dirobj_entry_release(&t->el);
	dirobj_entry_release(&t->er);
	tn_free(t->base);
	tn_free(t->l);
	tn_free(t->r);
}

static void dump(const struct tcase *t)
{
	for (int i = 0; i < t->f.n; i++)
		fprintf(stderr, "  %s\n", t->f.lines[i]);
}

#endif
