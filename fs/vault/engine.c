/* engine.c - opening a vault: cache, head, rollback guard, journal replay,
 * tree, uploader, committer, the sweep of abandoned uploads (engine.h); and
 * a new vault's first tree. It must never mount a head older than one this
 * cache has seen, never mount a store that moved past commits this cache
 * still holds, and never log names, contents or keys (store keys and seqs may be logged). */
#include "engine.h"
#include "errbuf.h"
#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cache.h"
#include "commit.h"
#include "content_patch.h"
#include "engine_lease.h"
#include "engine_pin.h"
#include "fault.h"
#include "head.h"
#include "head_chain.h"
#include "history.h"
#include "journal.h"
#include "log.h"
#include "lost_merge.h"
#include "merge_store.h"
#include "meta.h"
#include "prefetch.h"
#include "seal.h"
#include "sweep.h"
#include "tree.h"
#include "upload.h"

/* ---- a new vault ---- */
static int engine_put_sealed(struct backend *store, const char *key, unsigned char *data,
			     size_t len)
{
	int r = backend_put(store, key, data, len);

	free(data);
	return r ? r : backend_sync(store);
}

/* A device name from the host name: printable ASCII only (so always a
 * valid "dn"), at most DIROBJ_DEVICE_NAME_MAX bytes, "sealfs" if none. */
static void engine_device_name(char out[DIROBJ_DEVICE_NAME_MAX + 1])
{
	char host[256] = "";
	size_t n = 0;

	if (gethostname(host, sizeof(host) - 1) != 0)
		host[0] = '\0';
	for (size_t i = 0; host[i] && n < DIROBJ_DEVICE_NAME_MAX; i++)
		if (host[i] >= 0x20 && host[i] < 0x7f)
			out[n++] = host[i];
	if (n == 0)
		n = (size_t)snprintf(out, DIROBJ_DEVICE_NAME_MAX + 1, "sealfs");
	out[n] = '\0';
}

void engine_head_defaults(struct dirobj_head *head)
{
	randombytes_buf(head->device, sizeof(head->device));
	engine_device_name(head->device_name);
	head->keep = HISTORY_KEEP_DEFAULT;   /* 30 days of history */
	head->grace = HISTORY_GRACE_DEFAULT; /* 15 minutes (docs/FORMAT.md "Deferred deletion") */
	tree_now(&head->time);
}

int engine_init_tree(struct backend *store, const struct vault_config *cfg,
		     const struct vault_keys *keys, const struct engine_window *w, char *err,
		     size_t err_size)
{
	struct dirobj_head head = {.seq = 1};
	struct dirobj root = {.nentries = 0};
	char key[OBJECT_KEY_TEXT_BYTES];
	unsigned char *sealed;
	size_t len;
	uint64_t size;
	int r = store->ops->head(store, HEAD_STORE_KEY, &size);

	if (r == 0)
		return errbuf_fail(err, err_size, -EEXIST, "the store already holds a vault head");
	if (r != -ENOENT)
		return errbuf_fail(err, err_size, r, "checking the store for a head failed: %s",
				   strerror(-r));
	head.root.name = "";
	head.root.type = DIROBJ_DIR;
	head.root.mode = S_IFDIR | 0755;
	head.root.uid = (uint32_t)getuid();
	head.root.gid = (uint32_t)getgid();
	tree_now(&head.root.mtime);
	head.root.atime = head.root.ctime = head.root.mtime;
	head.root.ref.version = 1;
	randombytes_buf(head.root.id, OBJECT_ID_BYTES);
	randombytes_buf(head.root.ref.store_key, OBJECT_ID_BYTES);
	memcpy(root.dir_id, head.root.id, OBJECT_ID_BYTES);
	if (cfg->format >= 2)
		engine_head_defaults(&head);
	if (cfg->format >= 2 && w) {
		head.keep = w->keep;
		head.grace = w->grace;
	}
	r = seal_dir(&sealed, &len, &root, 1, head.root.ref.store_key, cfg->vault_id, keys->meta,
		     cfg->format);
	if (r == 0) {
		object_key_text(key, head.root.ref.store_key);
		r = engine_put_sealed(store, key, sealed, len);
	}
	if (r == 0)
		r = seal_head(&sealed, &len, &head, cfg->vault_id, keys->meta, cfg->format);
	if (r == 0) {
		/* Created only where there is none: two inits never both win. */
		struct backend_version absent = {.len = 0}, ver;

		r = backend_put_if(store, HEAD_STORE_KEY, sealed, len, &absent, &ver);
		free(sealed);
		if (r == -ESTALE)
			return errbuf_fail(err, err_size, -EEXIST,
					   "the store already holds a vault head");
		if (r == 0)
			r = backend_sync(store);
	}
	if (r)
		return errbuf_fail(err, err_size, r, "writing the empty root failed: %s",
				   strerror(-r));
	return 0;
}

/* ---- the head ---- */

/* The store's head as the mount found it. */
struct engine_base {
	struct upload_base up; /* seq and version, for the uploader */
	unsigned char *sealed; /* its sealed bytes (owned) */
	size_t len;
	bool ours;	  /* a journal record holds exactly these bytes */
	uint8_t hash[32]; /* seal_head_hash of the head mounted (the store's or the journal's) */
};

/* A format-2 config over a head that opens as format 1: `sealfs upgrade`
 * stopped between its config and its head (fs/vault/upgrade.h). */
static bool engine_upgrade_cut(const struct engine_base *base, const struct vault_config *cfg,
			       const struct vault_keys *keys)
{
	struct dirobj_head h;

	if (cfg->format < 2 || !base->sealed ||
	    seal_open_head(&h, base->sealed, base->len, cfg->vault_id, keys->meta, 1) != 0)
		return false;
	dirobj_head_release(&h);
	return true;
}

/* The store's head, opened, with its sealed bytes and version in *base. */
static int engine_read_head(struct dirobj_head *head, struct engine_base *base,
			    struct backend *store, const struct vault_config *cfg,
			    const struct vault_keys *keys, char *err, size_t size)
{
	int r = head_get(store, META_MAX_SEALED_BYTES, &base->sealed, &base->len, &base->up.ver);

	memset(head, 0, sizeof(*head));
	if (r == 0)
		r = seal_open_head(head, base->sealed, base->len, cfg->vault_id, keys->meta,
				   cfg->format);
	if (r == 0)
		seal_head_hash(base->hash, base->sealed, base->len);

	if (r == -ENOENT)
		return errbuf_fail(
		    err, size, r, "the store has no head: not a sealfs vault or never initialised");
	if (r == -EBADMSG && engine_upgrade_cut(base, cfg, keys))
		return errbuf_fail(
		    err, size, r,
		    "an upgrade was cut short (the config says format %d, the "
		    "head is format 1): run 'sealfs upgrade STORE' again to finish it",
		    cfg->format);
	if (r == -EBADMSG)
		return errbuf_fail(err, size, r, "the vault head failed to authenticate");
	if (r)
		return errbuf_fail(err, size, r, "reading the vault head failed: %s", strerror(-r));
	return 0;
}

/* ---- the journal ---- */

/* Reads every pending record, oldest first, putting its objects back into
 * the cache (a crash may have lost those unsynced copies). A damaged record
 * is ignored (and removed) when it is the newest (a commit cut short) or
 * when its seq is at most the store's head seq stored (a removed record
 * whose slot was being reused); any other damaged record fails the open.
 * *newest gets the newest intact seq and head (0 / untouched when none);
 * base->ours whether a record holds the store's head (head_chain_same). */
static int engine_replay(struct content_patch_ctx *pc, struct journal *j, struct engine_base *base,
			 const struct head_chain *hc, uint64_t stored, uint64_t *newest,
			 unsigned char **head, size_t *head_len, char *err, size_t size)
{
	char text[OBJECT_KEY_TEXT_BYTES];
	struct journal_record rec;
	uint64_t *seqs;
	size_t n;
	int r = journal_list(&seqs, &n, j);

	for (size_t i = 0; r == 0 && i < n; i++) {
		r = journal_read(&rec, j, seqs[i]);
		if (r == -EBADMSG && (i + 1 == n || seqs[i] <= stored)) {
			log_msg(LOG_WARNING,
				"journal record %016" PRIx64 " is damaged (%s); ignoring it",
				seqs[i],
				seqs[i] <= stored ? "the store holds its commit"
						  : "a commit cut short");
			r = journal_remove(j, seqs[i]);
			continue;
		}
		if (r) {
			errbuf_fail(err, size, r,
				    "journal record %016" PRIx64 " in the cache is unreadable: %s",
				    seqs[i],
				    r == -EBADMSG	    ? "damaged"
				    : r == -EPROTONOSUPPORT ? "written by a newer sealfs"
							    : strerror(-r));
			break;
		}
		for (size_t k = 0; k < rec.nsegs; k++)
			cache_pin(pc->cache, rec.segs[k]); /* not in the store yet (--cache-size) */
		for (size_t k = 0; k < rec.nobjs; k++) {
			object_key_text(text, rec.objs[k].key);
			if (r == 0)
				r = cache_write_object(pc->cache, text, rec.objs[k].data,
						       rec.objs[k].len);
		}
		if (r == 0 && (r = content_patch_replay(pc, &rec)) == -ENOENT)
			r = 0;	       /* a base gone: logged; that segment reads as damaged */
		if (rec.seq == stored) /* the store's head is this record's (maybe sealed
					  again for the store, docs/FORMAT.md "Head"): ours */
			base->ours =
			    head_chain_same(hc, rec.head, rec.head_len, base->sealed, base->len);
		free(*head);
		*head = malloc(rec.head_len ? rec.head_len : 1);
		if (r == 0 && !*head)
			r = -ENOMEM;
		if (r == 0) {
			memcpy(*head, rec.head, rec.head_len);
			*head_len = rec.head_len;
			*newest = rec.seq;
		} else {
			errbuf_fail(err, size, r, "replaying the journal into the cache failed: %s",
				    strerror(-r));
		}
		journal_record_release(&rec);
	}
	free(seqs);
	return r;
}

/* Another device's head is in the store over this cache's commits not yet
 * uploaded: refused, or (read-only) this cache's newest commit is mounted
 * with the uploader stopped for good, so its files can be copied out. */
static int engine_conflict(struct engine_base *base, uint64_t stored, uint64_t pending,
			   bool read_only, char *err, size_t size)
{
	if (!read_only)
		return errbuf_fail(
		    err, size, -ESTALE,
		    "another device wrote to the store (its head is seq %" PRIu64
		    ") over this cache's commits not yet uploaded (up to seq %" PRIu64
		    "); they stay in this cache, but merging devices is not supported yet: mount "
		    "with this cache and -o ro to copy them out, see \"Several devices\" in "
		    "docs/CLI.md",
		    stored, pending);
	log_msg(LOG_WARNING,
		"another device wrote to the store (head seq %" PRIu64
		"): showing this cache's own commit %" PRIu64 " read-only; nothing is uploaded",
		stored, pending);
	base->up.conflict = true;
	base->up.conflict_seq = pending;
	return 0;
}

/* Format 2, read-write: another device's head is over this cache's records
 * (the store was out, or the mount was killed, before they went up). The
 * mount shows its own newest record and the uploader's first round merges
 * them onto the store's head; until then every record above remembered
 * waits (stored_seq is this cache's own last head, not the store's). */
static void engine_merge_later(struct engine_base *base, uint64_t stored, uint64_t pending,
			       uint64_t remembered)
{
	log_msg(LOG_NOTICE,
		"another device wrote to the store (head seq %" PRIu64
		") over this cache's commits not yet uploaded (up to seq %" PRIu64
		"): they are merged onto it",
		stored, pending);
	base->up.diverged = true;
	base->up.stored_seq = remembered;
}

/* Chooses the head to mount: the store's (in *head already, seq stored), or
 * the newest journal record's when it is newer. A store that moved past
 * remembered (this cache's last own head in the store) while records above
 * that wait is another device's unless a record holds exactly its head. */
static int engine_choose_head(struct engine *e, struct dirobj_head *head,
			      const struct vault_config *cfg, const struct vault_keys *keys,
			      const struct engine_opts *o, uint64_t remembered,
			      struct engine_base *base, char *err, size_t size)
{
	unsigned char *sealed = NULL;
	size_t len = 0;
	uint64_t pending = 0, stored = head->seq;
	int r = journal_open(&e->journal, o->cache_dir);

	if (r)
		return errbuf_fail(err, size, r, "creating the cache's journal failed: %s",
				   strerror(-r));
	struct head_chain hc = {.meta_key = keys->meta, .format = cfg->format};

	memcpy(hc.vault_id, cfg->vault_id, OBJECT_ID_BYTES);
	struct content_patch_ctx pc = {e->cache, cfg->suite, keys->content, {0}, remembered, NULL};
	memcpy(pc.vault_id, cfg->vault_id, OBJECT_ID_BYTES);
	r = engine_replay(&pc, e->journal, base, &hc, stored, &pending, &sealed, &len, err, size);
	content_patch_done(&pc);
	if (r == 0 && pending > remembered && stored > remembered && !base->ours) {
		if (cfg->format >= 2 && !o->read_only)
			engine_merge_later(base, stored, pending, remembered);
		else
			r = engine_conflict(base, stored, pending, o->read_only, err, size);
	}
	if (r == 0 && (pending > stored || base->up.conflict || base->up.diverged)) {
		dirobj_head_release(head);
		r = seal_open_head(head, sealed, len, cfg->vault_id, keys->meta, cfg->format);
		if (r)
			errbuf_fail(err, size, r, "the journal's head failed to authenticate");
		else
			seal_head_hash(base->hash, sealed, len);
		if (r == 0)
			log_msg(LOG_INFO,
				"mounting commit %" PRIu64 " from the local journal "
				"(the store holds %" PRIu64 ")",
				pending, stored);
	}
	free(sealed);
	return r;
}

/* ---- opening ---- */

/* CACHE/o/00..ff, created and made durable once, so that a segment file's
 * name is durable after an fsync of its own directory (what commit.c's
 * flush of a new segment relies on). */
static int engine_prepare_cache(const char *cache_dir)
{
	char path[CACHE_PATH_MAX];
	int r = 0;

	for (unsigned i = 0; i < 256 && r == 0; i++) {
		snprintf(path, sizeof(path), "%s/o/%02x", cache_dir, i);
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			r = -errno;
	}
	snprintf(path, sizeof(path), "%s/o", cache_dir);
	return r ? r : fdio_fsync_dir(path);
}

/* The cache, then the head to mount (*head; base: the store's). */
static int engine_open_head(struct engine *e, struct dirobj_head *head, struct engine_base *base,
			    struct backend *store, const struct vault_config *cfg,
			    const struct vault_keys *keys, struct engine_opts *o, char *err,
			    size_t size)
{
	struct engine_pin pin;
	int r = cache_open(&e->cache, o->cache_dir, store, err, size);

	if (r == 0 && o->track_cache && (r = cache_track(e->cache)) != 0)
		errbuf_fail(err, size, r, "reading the cache failed: %s", strerror(-r));
	if (r == 0)
		r = engine_read_head(head, base, store, cfg, keys, err, size);
	if (r)
		return r;
	base->up.stored_seq = head->seq;
	memcpy(base->up.hash, base->hash, HEAD_HASH_BYTES);
	engine_pin_info(&e->store_head, head, base->up.hash, cfg->format);
	r = engine_pin_check(&pin, head, base->up.hash, e->cache, cfg, keys, o, err, size);
	if (r == 0) /* before the head is chosen: another device's lease means read-only */
		r = engine_lease_open(e, store, cfg, keys, o, &pin.st, err, size);
	if (r == 0)
		r = engine_choose_head(e, head, cfg, keys, o, pin.seen, base, err, size);
	/* Pinned only once the journal agreed with the store: written before, a
	 * refused mount would have moved the pin past its own commits, and the
	 * next try would have dropped them. */
	if (r == 0)
		r = engine_pin_save(e, &pin, base->up.stored_seq, base->up.hash, base->sealed,
				    base->len, base->up.conflict, cfg, keys, o, err, size);
	base->up.pin = e->pin;
	if (r)
		dirobj_head_release(head);
	return r;
}

/* Format 2: the committer's history (history.h), read through the cache
 * (the journal's pending pages are in it after the replay). */
static int engine_open_history(struct engine *e, const struct dirobj_head *head,
			       const struct vault_config *cfg, const struct vault_keys *keys,
			       char *err, size_t size)
{
	struct history_io io;
	struct history *h;
	int r;

	history_io_cache(&io, e->cache, cfg->vault_id, keys->meta);
	r = history_open(&h, head, &io);
	if (r)
		return errbuf_fail(err, size, r, "reading the vault's history failed: %s",
				   r == -EBADMSG ? "it failed to authenticate" : strerror(-r));
	commit_set_history(e->commit, h);
	return 0;
}

/* The head this cache's pending records were built on (CACHE/base-head),
 * when the oldest record names it as its parent: the base of the merge at
 * the first upload. -ENOENT: not known (a two-way merge). */
static int engine_merge_base(struct engine *e, const struct vault_config *cfg,
			     const struct vault_keys *keys, const struct engine_opts *o,
			     unsigned char **out, size_t *len)
{
	struct journal_record rec;
	struct dirobj_head oldest = {0};
	uint8_t hash[32];
	uint64_t *seqs = NULL;
	size_t n = 0;
	int r = upload_read_base(o->cache_dir, out, len);

	if (r == 0)
		r = journal_list(&seqs, &n, e->journal);
	if (r == 0 && n == 0)
		r = -ENOENT;
	if (r == 0 && (r = journal_read(&rec, e->journal, seqs[0])) == 0) {
		r = seal_open_head(&oldest, rec.head, rec.head_len, cfg->vault_id, keys->meta,
				   cfg->format);
		journal_record_release(&rec);
	}
	if (r == 0) {
		seal_head_hash(hash, *out, *len);
		r = memcmp(hash, oldest.parent, sizeof(hash)) == 0 ? 0 : -ENOENT;
	}
	dirobj_head_release(&oldest);
	free(seqs);
	if (r) {
		free(*out);
		*out = NULL;
		log_msg(LOG_WARNING, "the head this cache's commits were built on is not known: "
				     "they are merged two-way (entries both sides hold "
				     "differently are kept twice)");
	}
	return r;
}

/* The tree over the head's root, the uploader and the committer. */
static int engine_open_tree(struct engine *e, const struct dirobj_head *head,
			    const struct engine_base *base, struct backend *store,
			    const struct vault_config *cfg, const struct vault_keys *keys,
			    const struct engine_opts *o, char *err, size_t size)
{
	struct content_ctx cctx = {.suite = cfg->suite,
				   .content_key = keys->content,
				   .format = cfg->format,
				   .fds_max = content_fds_bound(o->track_cache)};
	int r;

	/* Warming (files, cached segments) for every store; fetching for a remote one. */
	if (prefetch_start(&e->prefetch, e->cache) != 0)
		log_msg(LOG_WARNING, "read-ahead is off: starting its threads failed");
	cctx.cache = e->cache;
	cctx.prefetch = (store->ops->caps & BACKEND_CAP_LOCAL_FS) ? NULL : e->prefetch;
	cctx.warm = e->prefetch;
	memcpy(cctx.vault_id, cfg->vault_id, OBJECT_ID_BYTES);
	r = tree_open(&e->tree, &cctx, keys->meta, cfg->vault_id, &head->root,
		      head->has_inodes ? &head->inodes : NULL, o->cache_dir);
	if (r)
		return errbuf_fail(err, size, r, "loading the root directory failed: %s",
				   r == -EBADMSG ? "it failed to authenticate" : strerror(-r));
	e->tree->warm = e->prefetch;
	if (tree_early_start(e->tree) != 0)
		log_msg(LOG_WARNING, "decoding directories ahead is off: no thread");
	if (cfg->format >= 2) {
		seal_head_carry(&e->tree->head_tmpl, head);
		memcpy(e->tree->head_tmpl.parent, base->hash, sizeof(base->hash));
		engine_pin_device(&e->tree->head_tmpl, e->pin); /* this device writes */
		e->tree->head_slot = HISTORY_SLOT;
		(void)fault_slot(&e->tree->head_slot); /* a test's, in a fault-injection build */
	}
	struct upload_base up = base->up;
	unsigned char *merge_base = NULL;
	up.cas = e->cas;
	if (e->lease) {
		up.lease = lease_check;
		up.lease_ctx = e->lease;
	}
	if (cfg->format >= 2 && !o->read_only && !up.conflict) {
		struct merge_store tmpl = {.cache = e->cache,
					   .meta_key = keys->meta,
					   .content_key = keys->content,
					   .suite = cfg->suite,
					   .format = cfg->format,
					   .keys = e->tree->cctx.keys};

		memcpy(tmpl.vault_id, cfg->vault_id, OBJECT_ID_BYTES);
		e->merge = merge_store_new(&tmpl);
		if (!e->merge)
			return errbuf_fail(err, size, -ENOMEM, "out of memory");
		up.head = base->sealed;
		up.head_len = base->len;
		up.merge = merge_store_run;
		up.merge_ctx = e->merge;
		e->chain = head_chain_new(cfg->vault_id, keys->meta, cfg->format, store);
		if (!e->chain)
			return errbuf_fail(err, size, -ENOMEM, "out of memory");
		up.reseal = head_chain_reseal;
		up.descends = head_chain_descends;
		up.reseal_ctx = e->chain;
		lost_merge_clean(store, e->cache, o->cache_dir, base->sealed, base->len, cfg, keys);
		if (up.diverged &&
		    engine_merge_base(e, cfg, keys, o, &merge_base, &up.head_len) == 0)
			up.head = merge_base;
		else if (up.diverged)
			up.head = NULL; /* a two-way merge */
	}
	r = upload_start(&e->up, store, e->cache, e->journal, o->cache_dir, cfg->vault_id, &up);
	free(merge_base);
	if (r == 0 && e->lease && lease_start(e->lease, e->up) != 0)
		log_msg(LOG_WARNING,
			"the store's lease is not renewed: starting its thread failed");
	if (r)
		return errbuf_fail(err, size, r, "starting the uploader failed");
	if (cfg->format >= 2)
		upload_set_grace(e->up, head->grace);
	if (!o->read_only && sweep_start(&e->sweep, store) != 0)
		log_msg(LOG_WARNING, "abandoned uploads are kept: starting their sweep failed");
	r = engine_prepare_cache(o->cache_dir);
	if (r == 0)
		r = commit_new(&e->commit, e->tree, e->journal, e->up, head->seq, o->cache_dir);
	if (r == -ENOMEM)
		return errbuf_fail(err, size, r, "out of memory");
	if (r)
		return errbuf_fail(err, size, r, "preparing the cache failed: %s", strerror(-r));
	commit_set_store_wait(e->commit, o->store_wait_ms);
	e->tree->commit = e->commit;
	if (e->merge)
		merge_store_set(e->merge, e->commit);
	return cfg->format >= 2 ? engine_open_history(e, head, cfg, keys, err, size) : 0;
}

int engine_open(struct engine *e, struct backend *store, const struct vault_config *cfg,
		const struct vault_keys *keys, const struct engine_opts *o, char *err,
		size_t err_size)
{
	struct engine_base base = {.ours = false};
	struct engine_opts eo = *o; /* read_only set when another device holds the lease */
	struct dirobj_head head;
	int r;

	memset(e, 0, sizeof(*e));
	r = engine_open_head(e, &head, &base, store, cfg, keys, &eo, err, err_size);
	if (r == 0) {
		r = engine_open_tree(e, &head, &base, store, cfg, keys, &eo, err, err_size);
		dirobj_head_release(&head);
	}
	free(base.sealed);
	if (r)
		engine_close(e);
	return r;
}

void engine_close(struct engine *e)
{
	sweep_stop(e->sweep);
	if (e->tree)
		e->tree->warm = NULL; /* nothing queues to the threads stopped next */
	prefetch_stop(e->prefetch);
	merge_store_off(e->merge);
	head_chain_off(e->chain);
	lease_stop(e->lease); /* no renewal halts a freed uploader */
	upload_stop(e->up);
	lease_release(e->lease); /* after the last head put */
	lease_free(e->lease);
	merge_store_free(e->merge);
	head_chain_free(e->chain);
	commit_free(e->commit);
	tree_free(e->tree); /* stops tree_early's worker first */
	journal_close(e->journal);
	head_pin_free(e->pin);
	cache_close(e->cache);
	memset(e, 0, sizeof(*e));
}
