/* upgrade.c - format 1 or 2 to format 3 in place (upgrade.h). From format
 * 1 the order of the writes is what makes it crash-safe: new directory
 * objects, sync; the config, sync; the head by compare-and-swap, sync; then
 * the old objects are deleted. From format 2 only the config changes:
 * format 3 reads every format-2 object as it is (it only adds paged
 * directories). Must never replace the head before the config says the new
 * format (a format-1 sealfs would read a head it cannot parse as its own),
 * never change a stored object, and never log a name (ids and seqs only). */
#include "upgrade.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cache.h"
#include "engine.h"
#include "errbuf.h"
#include "head.h"
#include "meta.h"
#include "seal.h"

/* What one run keeps: the old objects to delete at the end. */
struct upgrade {
	struct backend *store;
	const struct vault_config *cfg;
	const struct vault_keys *keys;
	uint64_t seq; /* the new head's: every rewritten object's "created" */
	uint8_t (*garbage)[OBJECT_ID_BYTES];
	size_t ngarbage, cap;
	uint64_t dirs;
	char *err;
	size_t err_size;
};

static int upgrade_keep(struct upgrade *u, const uint8_t key[OBJECT_ID_BYTES])
{
	if (u->ngarbage == u->cap) {
		size_t cap = u->cap ? 2 * u->cap : 64;
		void *p = realloc(u->garbage, cap * OBJECT_ID_BYTES);

		if (!p)
			return -ENOMEM;
		u->garbage = p;
		u->cap = cap;
	}
	memcpy(u->garbage[u->ngarbage++], key, OBJECT_ID_BYTES);
	return 0;
}

/* Reads and opens directory id's format-1 object ref. */
static int upgrade_read_dir(struct upgrade *u, const uint8_t id[OBJECT_ID_BYTES],
			    const struct dirobj_ref *ref, struct dirobj *obj)
{
	char name[OBJECT_KEY_TEXT_BYTES], hex[2 * OBJECT_ID_BYTES + 1];
	unsigned char *sealed = NULL;
	size_t len = 0;
	int r;

	object_key_text(name, ref->store_key);
	r = backend_get_max(u->store, name, META_MAX_SEALED_BYTES, &sealed, &len);
	if (r == 0)
		r = seal_open_dir(obj, sealed, len, id, ref, u->cfg->vault_id, u->keys->meta, 1);
	free(sealed);
	sodium_bin2hex(hex, sizeof(hex), id, OBJECT_ID_BYTES);
	if (r == -ENOENT || r == -EBADMSG)
		return errbuf_fail(u->err, u->err_size, r,
				   "directory %s (object %s) %s: run 'sealfs fsck --repair' first",
				   hex, name,
				   r == -ENOENT ? "is missing" : "fails to authenticate");
	if (r)
		return errbuf_fail(u->err, u->err_size, r, "reading directory %s: %s", hex,
				   strerror(-r));
	return 0;
}

/* Rewrites directory id (its object ref) and every directory below it in
 * the new format, children first; *ref then names the new object. A
 * format-1 object is one object, whatever its size: written back as one
 * (format 3 pages a directory when a commit next rewrites it). */
static int upgrade_dir(struct upgrade *u, const uint8_t id[OBJECT_ID_BYTES], struct dirobj_ref *ref)
{
	char name[OBJECT_KEY_TEXT_BYTES];
	unsigned char *sealed = NULL;
	uint8_t key[OBJECT_ID_BYTES];
	struct dirobj obj = {.nentries = 0};
	size_t len = 0;
	int r = upgrade_read_dir(u, id, ref, &obj);

	for (size_t i = 0; r == 0 && i < obj.nentries; i++)
		if (obj.entries[i].type == DIROBJ_DIR)
			r = upgrade_dir(u, obj.entries[i].id, &obj.entries[i].ref);
	randombytes_buf(key, sizeof(key));
	if (r == 0)
		r = seal_dir(&sealed, &len, &obj, ref->version + 1, key, u->cfg->vault_id,
			     u->keys->meta, VAULT_FORMAT_VERSION);
	if (r == 0) {
		object_key_text(name, key);
		r = backend_put(u->store, name, sealed, len);
		if (r)
			errbuf_fail(u->err, u->err_size, r, "writing a directory object: %s",
				    strerror(-r));
	}
	free(sealed);
	if (r == 0)
		r = upgrade_keep(u, ref->store_key);
	if (r == 0) {
		ref->version++;
		ref->created = u->seq;
		memcpy(ref->store_key, key, OBJECT_ID_BYTES);
		u->dirs++;
	}
	dirobj_release(&obj);
	return r;
}

/* The head as stored, opened in format 1; *done when it is format 2 or
 * newer already (only possible when the config says 2 or more: then only
 * the config may still need raising). */
static int upgrade_read_head(struct upgrade *u, struct dirobj_head *h, unsigned char **sealed,
			     size_t *len, struct backend_version *ver, bool *done)
{
	int r = head_get(u->store, META_MAX_SEALED_BYTES, sealed, len, ver);

	*done = false;
	if (r)
		return errbuf_fail(u->err, u->err_size, r, "reading the head: %s", strerror(-r));
	if (u->cfg->format >= 2 && seal_open_head(h, *sealed, *len, u->cfg->vault_id, u->keys->meta,
						  u->cfg->format) == 0) {
		*done = true;
		return 0;
	}
	r = seal_open_head(h, *sealed, *len, u->cfg->vault_id, u->keys->meta, 1);
	if (r)
		return errbuf_fail(u->err, u->err_size, r, "the head fails to authenticate");
	return 0;
}

/* Config first (the new format, MAC'ed), then the head: see upgrade.h. */
static int upgrade_write_config(struct upgrade *u, struct vault_config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	int r = vault_set_format(cfg, u->keys, VAULT_FORMAT_VERSION);

	if (r == 0)
		r = vault_config_serialize(&text, &len, cfg);
	if (r == 0)
		r = backend_put(u->store, VAULT_CONFIG_NAME, text, len);
	free(text);
	if (r == 0)
		r = backend_sync(u->store);
	return r ? errbuf_fail(u->err, u->err_size, r, "writing the config: %s", strerror(-r)) : 0;
}

static int upgrade_write_head(struct upgrade *u, struct dirobj_head *h, const unsigned char *old,
			      size_t old_len, struct backend_version *ver)
{
	unsigned char *sealed = NULL;
	size_t len = 0;
	int r;

	engine_head_defaults(h); /* this device, now, the default retention */
	seal_head_hash(h->parent, old, old_len);
	h->seq = u->seq;
	r = seal_head(&sealed, &len, h, u->cfg->vault_id, u->keys->meta, VAULT_FORMAT_VERSION);
	if (r == 0)
		r = head_put(u->store, sealed, len, HEAD_CAS_IGNORED, ver);
	free(sealed);
	if (r == 0)
		r = backend_sync(u->store);
	if (r == -ESTALE)
		return errbuf_fail(u->err, u->err_size, r,
				   "the vault's head changed during the upgrade (is it mounted "
				   "somewhere?): run the upgrade again once nothing writes it");
	return r ? errbuf_fail(u->err, u->err_size, r, "writing the head: %s", strerror(-r)) : 0;
}

/* The old objects: nothing reaches them now (a failure leaves orphans). */
static void upgrade_delete_old(struct upgrade *u)
{
	char name[OBJECT_KEY_TEXT_BYTES];

	for (size_t i = 0; i < u->ngarbage; i++) {
		object_key_text(name, u->garbage[i]);
		(void)backend_del(u->store, name);
	}
	(void)backend_sync(u->store);
}

int upgrade_run(struct backend *store, struct vault_config *cfg, const struct vault_keys *keys,
		struct upgrade_result *res, char *err, size_t err_size)
{
	struct upgrade u = {
	    .store = store, .cfg = cfg, .keys = keys, .err = err, .err_size = err_size};
	struct backend_version ver;
	struct dirobj_head h;
	unsigned char *old = NULL;
	size_t old_len = 0;
	bool done;
	int r;

	memset(res, 0, sizeof(*res));
	memset(&h, 0, sizeof(h));
	r = upgrade_read_head(&u, &h, &old, &old_len, &ver, &done);
	res->from = cfg->format;
	res->already = r == 0 && done && cfg->format == VAULT_FORMAT_VERSION;
	res->resumed = r == 0 && !done && cfg->format >= 2;
	u.seq = h.seq + 1;
	if (r == 0 && done && !res->already)
		r = upgrade_write_config(&u, cfg); /* format 2: its objects are format 3's */
	if (r == 0 && !done)
		r = upgrade_dir(&u, h.root.id, &h.root.ref);
	if (r == 0 && !done && (r = backend_sync(store)) != 0)
		errbuf_fail(err, err_size, r, "syncing the store: %s", strerror(-r));
	if (r == 0 && !done && cfg->format < VAULT_FORMAT_VERSION)
		r = upgrade_write_config(&u, cfg);
	if (r == 0 && !done)
		r = upgrade_write_head(&u, &h, old, old_len, &ver);
	if (r == 0 && done)
		res->new_seq = h.seq; /* the head stays */
	if (r == 0 && !done) {
		upgrade_delete_old(&u);
		res->dirs = u.dirs;
		res->new_seq = u.seq;
	}
	dirobj_head_release(&h);
	free(old);
	free(u.garbage);
	return r;
}
