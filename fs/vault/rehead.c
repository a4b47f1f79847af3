/* rehead.c - a new head written straight into the store without a mount
 * (rehead.h): the store's head read again and compared with the one the
 * caller read, the format-2 history sealed on a store reader (the head
 * read archived, the caller's garbage listed), the history's objects
 * stored and synced, then the head by compare-and-swap on the version
 * read. Must never write a head over one the caller did not read, nor
 * delete an object the new head may reach. */
#include "rehead.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "errbuf.h"
#include "head.h"
#include "history.h"
#include "meta.h"
#include "seal.h"

/* The objects stored for the new head: deleted again if it never goes in. */
struct rehead_objs {
	uint8_t (*keys)[OBJECT_ID_BYTES];
	size_t n;
};

static int rehead_fail(struct rehead *rh, int r, const char *what)
{
	return errbuf_fail(rh->err, rh->err_size, r, "%s: %s: %s", rh->what, what, strerror(-r));
}

/* Stores the history's objects of out, each told to rh->stored. */
static int rehead_put_objs(struct rehead *rh, const struct history_out *out,
			   struct rehead_objs *objs)
{
	int r = 0;

	objs->keys = calloc(out->nobjs ? out->nobjs : 1, OBJECT_ID_BYTES);
	if (!objs->keys)
		return -ENOMEM;
	for (size_t i = 0; r == 0 && i < out->nobjs; i++) {
		char name[OBJECT_KEY_TEXT_BYTES];

		object_key_text(name, out->objs[i].key);
		memcpy(objs->keys[objs->n++], out->objs[i].key, OBJECT_ID_BYTES);
		r = backend_put(rh->store, name, out->objs[i].data, out->objs[i].len);
		if (r == 0 && rh->stored)
			r = rh->stored(rh->arg, out->objs[i].key);
	}
	return r;
}

/* Format 2 (docs/FORMAT.md, "Deferred deletion"): old becomes a head record
 * in a new first history page and garbage goes into next's garbage list
 * (created 0: older retained heads may reach it); next's hist and g are
 * set. Nothing is thinned or deleted here (a mount's commit thins). */
static int rehead_history(struct rehead *rh, const struct dirobj_head *old,
			  struct dirobj_head *next, const uint8_t (*garbage)[OBJECT_ID_BYTES],
			  size_t ng, struct rehead_objs *objs)
{
	struct history_garbage *g = calloc(ng ? ng : 1, sizeof(*g));
	struct history *hist = NULL;
	struct history_out out;
	struct history_io io;
	int r = g ? 0 : -ENOMEM;

	history_io_store(&io, rh->store, rh->cfg->vault_id, rh->keys->meta);
	for (size_t i = 0; r == 0 && i < ng; i++)
		memcpy(g[i].key, garbage[i], OBJECT_ID_BYTES);
	if (r == 0)
		r = history_open(&hist, old, &io);
	if (r == 0)
		r = history_seal(hist, next, g, ng, next->time.sec, &out);
	free(g);
	history_free(hist); /* the run ends with this head: nothing adopts it */
	if (r)
		return rehead_fail(rh, r, "archiving the head read in the history");
	r = rehead_put_objs(rh, &out, objs);
	history_out_free(&out); /* its dead entries stay listed: a later thinning deletes them */
	return r ? rehead_fail(rh, r, "writing the history's objects") : 0;
}

/* Reads the store's head (sealed bytes hashed into parent) and checks it is
 * old: *ver is its version for the compare-and-swap. */
static int rehead_check(struct rehead *rh, const struct dirobj_head *old, struct dirobj_head *next,
			struct backend_version *ver)
{
	struct dirobj_head now;
	unsigned char *sealed = NULL;
	size_t len = 0;
	int r = head_get(rh->store, META_MAX_SEALED_BYTES, &sealed, &len, ver);

	memset(&now, 0, sizeof(now));
	if (r == 0)
		r = seal_open_head(&now, sealed, len, rh->cfg->vault_id, rh->keys->meta,
				   rh->cfg->format);
	if (r == 0 && rh->cfg->format >= 2) { /* docs/FORMAT.md, "Head" */
		struct timespec ts;

		seal_head_hash(next->parent, sealed, len);
		clock_gettime(CLOCK_REALTIME, &ts);
		next->time = (struct dirobj_time){ts.tv_sec, (uint32_t)ts.tv_nsec};
	}
	free(sealed);
	if (r)
		return rehead_fail(rh, r, "reading the head again");
	if (now.seq != old->seq || memcmp(&now.root.ref, &old->root.ref, sizeof(now.root.ref)) != 0)
		r = errbuf_fail(rh->err, rh->err_size, -ESTALE,
				"%s: the vault changed since it was read (is it mounted "
				"somewhere?): nothing written",
				rh->what);
	dirobj_head_release(&now);
	return r;
}

/* Seals next and puts it in place of the head of version ver. */
static int rehead_put_head(struct rehead *rh, const struct dirobj_head *next,
			   struct backend_version *ver)
{
	unsigned char *sealed = NULL;
	size_t len = 0;
	int r = backend_sync(rh->store); /* the objects before the head that names them */

	if (r == 0)
		r = seal_head(&sealed, &len, next, rh->cfg->vault_id, rh->keys->meta,
			      rh->cfg->format);
	rh->head_tried = r == 0;
	/* Compare-and-swap on the head just read (a mount that committed
	 * meanwhile wins; the check read before the put also covers a store
	 * that ignores conditional writes). */
	if (r == 0)
		r = head_put(rh->store, sealed, len, HEAD_CAS_IGNORED, ver);
	free(sealed);
	if (r == -ESTALE) {
		rh->head_tried = false; /* refused: nothing written */
		return errbuf_fail(rh->err, rh->err_size, -ESTALE,
				   "%s: the vault changed meanwhile (is it mounted somewhere?): "
				   "its new head was not written",
				   rh->what);
	}
	if (r == 0)
		r = backend_sync(rh->store);
	return r ? rehead_fail(rh, r, "writing the new head") : 0;
}

int rehead_write(struct rehead *rh, const struct dirobj_head *old, struct dirobj_head *next,
		 const uint8_t (*garbage)[OBJECT_ID_BYTES], size_t ng)
{
	struct rehead_objs objs = {.n = 0};
	struct backend_version ver;
	int r;

	rh->head_tried = false;
	r = rehead_check(rh, old, next, &ver);
	if (r)
		return r;
	next->seq = old->seq + 1;
	if (rh->cfg->format >= 2)
		r = rehead_history(rh, old, next, garbage, ng, &objs);
	if (r == 0)
		r = rehead_put_head(rh, next, &ver);
	if (r == 0)
		rh->new_seq = next->seq;
	for (size_t i = 0; r && !rh->head_tried && i < objs.n; i++) {
		char name[OBJECT_KEY_TEXT_BYTES]; /* never reachable: best effort */

		object_key_text(name, objs.keys[i]);
		(void)backend_del(rh->store, name);
	}
	free(objs.keys);
	return r;
}
