/* fsck.c - the vault checker's walk: the head, then every directory object
 * breadth first (only the queue of directories still to visit is held, never
 * the decoded objects of the whole tree), handing the files' segments to
 * fsck_seg.c; then repair and orphans. Must never take a store error for
 * damage (only a missing object or one that fails to authenticate is
 * damage), never log a name, and never write to the store unless repair was
 * asked. */
#include "fsck.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "dirio.h"
#include "errbuf.h"
#include "fsck_int.h"
#include "head.h"
#include "seal.h"
#include "sweep.h"

#define FSCK_TICK_EVERY 64u
/* fsck waits longer than a mount's sweep: thousands of aborts may be due. */
#define FSCK_UPLOADS_BUDGET_MS 120000u

/* A directory still to visit. */
struct fsck_qdir {
	char *path; /* owned */
	size_t path_len;
	uint8_t id[OBJECT_ID_BYTES];
	struct dirobj_ref ref;
};

/* A FIFO of directories: q[head..n) are waiting. */
struct fsck_queue {
	struct fsck_qdir *q;
	size_t head, n, cap;
};

void fsck_report(struct fsck *f, enum fsck_kind kind, const char *path, size_t path_len,
		 const char *what, const char *why, const char *key)
{
	struct fsck_problem p = {.kind = kind,
				 .path = path,
				 .path_len = path_len,
				 .what = what,
				 .why = why ? why : "",
				 .key = key,
				 .age_s = -1,
				 .old_head = f->old_head};

	if (kind == FSCK_DAMAGED)
		f->res->n.damaged++;
	else if (kind == FSCK_MISSING)
		f->res->n.missing++;
	f->o->report(f->o->arg, &p);
}

void fsck_tick(struct fsck *f, bool force)
{
	if (!f->o->progress)
		return;
	if (force || ++f->ticks >= FSCK_TICK_EVERY) {
		f->ticks = 0;
		f->o->progress(f->o->arg, &f->res->n);
	}
}

static int fsck_grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 16;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * size);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

int fsck_damage_note(struct fsck *f, const char *path, size_t path_len, bool is_dir,
		     uint64_t serial, uint64_t seg)
{
	struct fsck_damage *d = f->ndmg ? &f->dmg[f->ndmg - 1] : NULL;

	if (!d || is_dir || d->is_dir || d->serial != serial) {
		if (fsck_grow((void **)&f->dmg, &f->dmg_cap, f->ndmg + 1, sizeof(*f->dmg)))
			return -ENOMEM;
		d = &f->dmg[f->ndmg];
		memset(d, 0, sizeof(*d));
		d->path = malloc(path_len + 1);
		if (!d->path)
			return -ENOMEM;
		memcpy(d->path, path, path_len);
		d->path[path_len] = '\0';
		d->path_len = path_len;
		d->is_dir = is_dir;
		d->serial = serial;
		f->ndmg++;
	}
	if (is_dir)
		return 0;
	if (fsck_grow((void **)&d->segs, &d->cap, d->nsegs + 1, sizeof(*d->segs)))
		return -ENOMEM;
	d->segs[d->nsegs++] = seg;
	return 0;
}

static void fsck_damage_free(struct fsck *f)
{
	for (size_t i = 0; i < f->ndmg; i++) {
		free(f->dmg[i].path);
		free(f->dmg[i].segs);
	}
	free(f->dmg);
	f->dmg = NULL;
	f->ndmg = f->dmg_cap = 0;
}

/* ---- the queue ---- */

/* The path of child name in directory path: "/" + name at the root. New. */
static char *fsck_child_path(const char *path, size_t path_len, const char *name, size_t name_len,
			     size_t *out_len)
{
	size_t base = path_len == 1 ? 0 : path_len;
	char *p = malloc(base + 1 + name_len + 1);

	if (!p)
		return NULL;
	memcpy(p, path, base);
	p[base] = '/';
	memcpy(p + base + 1, name, name_len);
	p[base + 1 + name_len] = '\0';
	*out_len = base + 1 + name_len;
	return p;
}

static int fsck_queue_push(struct fsck_queue *q, char *path, size_t path_len,
			   const uint8_t id[OBJECT_ID_BYTES], const struct dirobj_ref *ref)
{
	if (q->head > 0 && q->head * 2 >= q->n) { /* reuse the visited front */
		memmove(q->q, q->q + q->head, (q->n - q->head) * sizeof(*q->q));
		q->n -= q->head;
		q->head = 0;
	}
	if (fsck_grow((void **)&q->q, &q->cap, q->n + 1, sizeof(*q->q))) {
		free(path);
		return -ENOMEM;
	}
	q->q[q->n].path = path;
	q->q[q->n].path_len = path_len;
	memcpy(q->q[q->n].id, id, OBJECT_ID_BYTES);
	q->q[q->n].ref = *ref;
	q->n++;
	return 0;
}

static void fsck_queue_free(struct fsck_queue *q)
{
	for (size_t i = q->head; i < q->n; i++)
		free(q->q[i].path);
	free(q->q);
}

/* ---- one directory ---- */

/* dirio_fetch_fn: a page of a paged directory (format 3), reachable from
 * the moment its index names it (so never an orphan, even when damaged). */
static int fsck_fetch_page(void *arg, const uint8_t k[OBJECT_ID_BYTES], unsigned char **sealed,
			   size_t *len)
{
	struct fsck *f = arg;
	char key[OBJECT_KEY_TEXT_BYTES];
	int r = fsck_keyset_add(&f->reach, k) ? -ENOMEM : 0;

	object_key_text(key, k);
	if (r == 0)
		r = backend_get(f->store, key, 0, 0, sealed, len);
	if (r == 0)
		f->res->n.stored_bytes += *len;
	return r;
}

/* Reads and opens directory object d (and its pages) into *obj: 1 when
 * done, 0 when it is missing or damaged (reported and noted), or a
 * negative errno. */
static int fsck_open_dir(struct fsck *f, const struct fsck_qdir *d, struct dirobj *obj)
{
	const struct dirio_keys k = {f->cfg->vault_id, f->keys->meta, f->cfg->format};
	char key[OBJECT_KEY_TEXT_BYTES];
	unsigned char *sealed = NULL;
	size_t len = 0;
	int r;

	object_key_text(key, d->ref.store_key);
	r = backend_get(f->store, key, 0, 0, &sealed, &len);
	if (r == 0) {
		f->res->n.stored_bytes += len;
		r = dirio_open(obj, NULL, &k, sealed, len, d->id, &d->ref, fsck_fetch_page, f);
		free(sealed);
	}
	if (r == 0)
		return 1;
	if (r != -ENOENT && r != -EBADMSG)
		return errbuf_fail(f->err, f->err_size, r, "reading %s: %s", key, strerror(-r));
	fsck_report(f, r == -ENOENT ? FSCK_MISSING : FSCK_DAMAGED, d->path, d->path_len,
		    "directory object", r == -ENOENT ? "" : "failed to authenticate", key);
	return f->old_head ? 0 : fsck_damage_note(f, d->path, d->path_len, true, 0, 0);
}

static int fsck_entry(struct fsck *f, struct fsck_queue *q, struct fsck_batch *b,
		      const struct fsck_qdir *d, const struct dirobj_entry *e)
{
	size_t len;
	char *path = fsck_child_path(d->path, d->path_len, e->name, e->name_len, &len);
	int r = 0;

	if (!path)
		return -ENOMEM;
	switch (e->type) {
	case DIROBJ_DIR:
		if (f->old_head && fsck_keyset_has(&f->reach, e->ref.store_key))
			break; /* an object checked already: its whole subtree too */
		if (fsck_keyset_add(&f->reach, e->ref.store_key))
			r = -ENOMEM;
		if (r == 0)
			return fsck_queue_push(q, path, len, e->id, &e->ref);
		break;
	case DIROBJ_FILE:
		f->res->n.files++;
		r = fsck_batch_add_file(f, b, path, len, e);
		break;
	case DIROBJ_HARDLINK: /* its file is checked from the inode table */
		if (f->old_head)
			break; /* a retained head's: its table's segments are kept, not checked */
		return fsck_itable_name(f, e->id, path, len);
	default:
		f->res->n.symlinks++;
		break;
	}
	free(path);
	return r;
}

int fsck_walk(struct fsck *f, const struct dirobj_head *head)
{
	uint64_t lo;
	struct fsck_queue q = {0};
	struct fsck_batch *b = fsck_batch_new();
	char *root = strdup("/");
	bool seen = f->old_head && fsck_keyset_has(&f->reach, head->root.ref.store_key);
	int r =
	    b && root && fsck_keyset_add(&f->reach, head->root.ref.store_key) == 0 ? 0 : -ENOMEM;

	f->res->n.heads++;
	if (r == 0 && seen)
		free(root); /* the same tree as a head walked already */
	else if (r == 0)
		r = fsck_queue_push(&q, root, 1, head->root.id, &head->root.ref);
	else
		free(root);
	while (r == 0 && q.head < q.n) {
		struct fsck_qdir d = q.q[q.head++];
		struct dirobj obj = {.nentries = 0};

		f->res->n.dirs++;
		fsck_tick(f, false);
		r = fsck_open_dir(f, &d, &obj);
		if (r == 1) {
			r = 0;
			for (size_t i = 0; r == 0 && i < obj.nentries; i++)
				r = fsck_entry(f, &q, b, &d, &obj.entries[i]);
			dirobj_release(&obj);
		}
		free(d.path);
	}
	lo = f->serial; /* the table's files come after the tree's */
	if (r == 0)
		r = fsck_itable_walk(f, b, head);
	if (r == 0)
		r = fsck_batch_flush(f, b);
	if (r == 0)
		fsck_itable_damage(f, lo);
	fsck_batch_free(b);
	fsck_queue_free(&q);
	if (r == -ENOMEM)
		errbuf_fail(f->err, f->err_size, r, "out of memory");
	return r;
}

/* ---- the run ---- */

/* Reads the head: 1 opened, 0 missing or damaged (reported), or an error. */
static int fsck_head(struct fsck *f, struct dirobj_head *head)
{
	int r = seal_read_head(head, f->store, f->cfg->vault_id, f->keys->meta, f->cfg->format);

	if (r == 0) {
		f->res->seq = head->seq;
		return 1;
	}
	if (r != -ENOENT && r != -EBADMSG)
		return errbuf_fail(f->err, f->err_size, r, "reading the head: %s", strerror(-r));
	fsck_report(f, r == -ENOENT ? FSCK_MISSING : FSCK_DAMAGED, "/", 1, "head",
		    r == -ENOENT ? "" : "failed to authenticate", HEAD_STORE_KEY);
	f->res->not_repaired = "the head is missing or damaged: nothing to start from";
	return 0;
}

/* Whether the noted damage includes the root directory (not repairable). */
static bool fsck_root_damaged(const struct fsck *f)
{
	for (size_t i = 0; i < f->ndmg; i++)
		if (f->dmg[i].path_len == 1)
			return true;
	return false;
}

static int fsck_after_walk(struct fsck *f, const struct dirobj_head *head)
{
	int r = 0;

	if (f->o->all_heads && f->cfg->format >= 2)
		r = fsck_history_heads(f, head);
	if (r)
		return r;
	if (f->ndmg && fsck_root_damaged(f))
		f->res->not_repaired =
		    "the root directory object is damaged: nothing to repair from";
	else if (f->ndmg && !f->o->repair)
		f->res->not_repaired = "repair not asked";
	else if (f->ndmg)
		r = fsck_repair(f, head);
	if (f->itable_bad && f->o->repair)
		f->res->not_repaired = "a file with several names is damaged: repair does not "
				       "change the inode table";
	if (r == 0)
		r = fsck_history_reach(f, head);
	if (r == 0)
		r = fsck_orphans(f);
	return r;
}

/* The store's abandoned uploads: counted, and aborted with repair. */
static int fsck_uploads(struct fsck *f)
{
	struct backend_stale st;
	int r = sweep_uploads(f->store, f->o->repair, FSCK_UPLOADS_BUDGET_MS, &st);

	f->res->n.stale_uploads = st.stale;
	f->res->n.uploads_aborted = st.aborted;
	f->res->n.young_uploads = st.young;
	if (r == -EOPNOTSUPP)
		return 0;
	if (r)
		return errbuf_fail(f->err, f->err_size, r,
				   "listing or aborting abandoned multipart uploads failed: %s",
				   strerror(-r));
	return 0;
}

int fsck_run(struct backend *store, const struct vault_config *cfg, const struct vault_keys *keys,
	     const struct fsck_opts *o, struct fsck_result *res, char *err, size_t err_size)
{
	struct fsck f = {.store = store,
			 .cfg = cfg,
			 .keys = keys,
			 .o = o,
			 .res = res,
			 .chunk_len = chunk_sealed_bytes(cfg->suite),
			 .err = err,
			 .err_size = err_size};
	struct dirobj_head head;
	int r;

	memset(res, 0, sizeof(*res));
	if (err && err_size)
		err[0] = '\0';
	f.pool = chunk_key_pool_new(NULL, NULL);
	if (!f.pool)
		return errbuf_fail(err, err_size, -ENOMEM, "out of memory");
	r = fsck_head(&f, &head);
	if (r == 1) {
		r = fsck_walk(&f, &head);
		if (r == 0)
			r = fsck_after_walk(&f, &head);
		dirobj_head_release(&head);
	}
	if (r >= 0)
		r = fsck_uploads(&f);
	fsck_tick(&f, true);
	res->damage_left =
	    ((res->n.damaged || res->n.missing) && !(res->new_seq && res->n.moved == f.ndmg)) ||
	    f.itable_bad;
	res->orphans_left = res->n.orphans > res->n.orphans_deleted ||
			    res->n.stale_uploads > res->n.uploads_aborted;
	fsck_damage_free(&f);
	fsck_itable_free(&f);
	fsck_keyset_free(&f.reach);
	secmem_pool_free(f.pool);
	return r < 0 ? r : 0;
}
