/* fs_test.h - a real vault for the tree and commit tests: a local store and
 * ciphertext caches in a temporary directory, a vault created with the
 * cheapest KDF cost, and helpers to open it with the engine a mount opens
 * (fs/vault/engine.h: cache, head, journal replay, tree, uploader,
 * committer). A commit goes into the journal and the real uploader stores it:
 * fcommit drains it with upload_flush. No mocks: every part is the real one.
 * Included by one .c per test program. */
#ifndef SEALFS_FS_TEST_H
#define SEALFS_FS_TEST_H

#include <errno.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "backend.h"
#include "cache.h"
#include "check.h"
#include "commit.h"
#include "content.h"
#include "engine.h"
#include "journal.h"
#include "local.h"
#include "mount.h"
#include "poll_head.h"
#include "seal.h"
#include "testdir.h"
#include "tree.h"
#include "upload.h"
#include "vault.h"

/* How long fcommit waits for the uploader (a round on a local store takes
 * milliseconds; this only bounds a hang). */
#define TEST_FLUSH_MS 60000u

#define TEST_PASS "correct horse"

struct fenv {
	char root[256];
	char store_dir[300];
	struct backend *store;
	struct vault_config *cfg;
	struct vault_keys *keys;
	bool store_is_tmpfs;
};

/* The vault opened as a mount opens it; cache, tree, commit and up are
 * eng's (copied for brevity). */
struct fmount {
	char cache_dir[320];
	struct engine eng;
	struct cache *cache;
	struct tree *tree;
	struct commit *commit;
	struct upload *up;
};

/* Creates the store and an empty vault in a new temporary directory; with
 * tmpfs_opts the store directory is a tmpfs mounted with those options (needs
 * root; -EPERM otherwise). */
static inline int fenv_init_store_format(struct fenv *e, const char *tmpfs_opts, int format)
{
	struct vault_kdf_cost cost = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
	struct backend_opts opts = {.create = 1};
	char err[256], recovery[128];
	int r;

	memset(e, 0, sizeof(*e));
	if (sodium_init() < 0)
		return -1;
	snprintf(e->root, sizeof(e->root), "%s/sealfs-fstest-XXXXXX", test_tmpdir_pick(false));
	if (!mkdtemp(e->root))
		return -errno;
	snprintf(e->store_dir, sizeof(e->store_dir), "%s/store", e->root);
	if (tmpfs_opts) {
		e->store_is_tmpfs = true;
		if (mkdir(e->store_dir, 0700) != 0 ||
		    mount("tmpfs", e->store_dir, "tmpfs", 0, tmpfs_opts) != 0) {
			e->store_is_tmpfs = false;
			return -errno;
		}
	}
	r = local_backend_open(&e->store, e->store_dir, &opts, err, sizeof(err));
	if (r == 0)
		r = vault_create(&e->cfg, &e->keys, suite_default(), TEST_PASS, strlen(TEST_PASS),
				 cost, recovery, sizeof(recovery));
	if (r == 0 && format)
		e->cfg->format = format; /* the fs layer reads only this field */
	if (r == 0 && getenv("SEALFS_TEST_FORMAT1"))
		e->cfg->format = 1; /* the engine follows cfg->format: a format-1 vault */
	if (r == 0)
		r = engine_init_tree(e->store, e->cfg, e->keys, NULL, err, sizeof(err));
	if (r)
		fprintf(stderr, "fenv_init: %d %s\n", r, err);
	return r;
}

static inline int fenv_init_store(struct fenv *e, const char *tmpfs_opts)
{
	return fenv_init_store_format(e, tmpfs_opts, 0);
}

static inline int fenv_init(struct fenv *e) { return fenv_init_store(e, NULL); }

/* A vault of the given format (1 or 2) for the engine; 0: the default. */
static inline int fenv_init_format(struct fenv *e, int format)
{
	return fenv_init_store_format(e, NULL, format);
}

static inline void fenv_free(struct fenv *e)
{
	backend_destroy(e->store);
	if (e->store_is_tmpfs)
		umount2(e->store_dir, MNT_DETACH);
	vault_keys_free(e->keys);
	vault_config_free(e->cfg);
	if (e->root[0])
		test_rm_rf(e->root);
}

/* fenv_init_store with the store on a tmpfs mounted with tmpfs_opts; exits
 * the test program with 77 (meson's "skipped") when mounting it needs root
 * the test does not have. Returns fenv_init_store's other results. */
static inline int fenv_init_tmpfs_or_skip(struct fenv *e, const char *tmpfs_opts)
{
	int r = fenv_init_store(e, tmpfs_opts);

	if (r == -EPERM || r == -EACCES) {
		fprintf(stderr, "skipped: mounting a tmpfs needs root\n");
		fenv_free(e);
		exit(77);
	}
	return r;
}

/* Opens the vault over a cache named name (created when new) with
 * engine_open, as a mount does; device: the device name of its heads
 * (NULL: the default). */
static inline int fmount_open_device(struct fmount *m, struct fenv *e, const char *name,
				     const char *device)
{
	struct engine_opts o = {.device_name = device};
	char err[256];
	int r;

	memset(m, 0, sizeof(*m));
	snprintf(m->cache_dir, sizeof(m->cache_dir), "%s/%s", e->root, name);
	o.cache_dir = m->cache_dir;
	r = engine_open(&m->eng, e->store, e->cfg, e->keys, &o, err, sizeof(err));
	if (r) {
		fprintf(stderr, "engine_open: %d %s\n", r, err);
		return r;
	}
	m->cache = m->eng.cache;
	m->tree = m->eng.tree;
	m->commit = m->eng.commit;
	m->up = m->eng.up;
	return 0;
}

static inline int fmount_open(struct fmount *m, struct fenv *e, const char *name)
{
	return fmount_open_device(m, e, name, NULL);
}

/* Closes without a commit: records not yet stored stay in the journal. */
static inline void fmount_close(struct fmount *m)
{
	engine_close(&m->eng);
	memset(m, 0, sizeof(*m));
}

/* A commit the way fsync makes one (into the journal), then the uploader
 * drained (upload_flush): 0 once the store holds it, else the commit's or
 * the store's error. */
static inline int fcommit(struct fmount *m)
{
	int r = commit_run(m->commit);

	return r ? r : upload_flush(m->up, TEST_FLUSH_MS);
}

/* Looks up a '/'-separated path from the root; *out has one more kernel
 * reference per component (never forgotten: the tests do not care). */
static inline int fpath(struct tree *t, const char *path, struct inode **out)
{
	char buf[1024], *rest = buf, *name;
	struct inode *cur = t->root;
	int r = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	while (r == 0 && (name = strsep(&rest, "/")) != NULL)
		if (*name)
			r = tree_lookup(t, cur, name, &cur);
	*out = r ? NULL : cur;
	return r;
}

/* Creates (or truncates) a file at dir/name holding data. */
static inline int fwrite_file(struct tree *t, struct inode *dir, const char *name, const void *data,
			      size_t len, struct inode **out)
{
	struct inode *ino;
	int r = tree_create(t, dir, name, DIROBJ_FILE, 0644, 1000, 1000, NULL, &ino);

	if (r == -EEXIST)
		r = tree_lookup(t, dir, name, &ino);
	if (r == 0)
		r = tree_open_file(t, ino, true);
	if (r)
		return r;
	if (len > 0 && tree_write(t, ino, data, len, 0) != (ssize_t)len)
		r = -EIO;
	tree_release_file(t, ino);
	if (out)
		*out = ino;
	return r;
}

/* Number of objects under the store's o/ (counted through the backend). */
static int fcount_cb(void *arg, const char *key, uint64_t size)
{
	(void)key;
	(void)size;
	(*(size_t *)arg)++;
	return 0;
}

static inline size_t fstore_objects(struct fenv *e)
{
	size_t n = 0;

	e->store->ops->list(e->store, "o/", fcount_cb, &n);
	return n;
}

/* Number of records in m's journal (commits not yet stored), or
 * (size_t)-1 when it cannot be listed. */
static inline size_t fjournal_records(struct fmount *m)
{
	uint64_t *seqs;
	size_t n = 0;

	if (journal_list(&seqs, &n, m->eng.journal) != 0)
		return (size_t)-1;
	free(seqs);
	return n;
}

/* The newest record of m's journal, read into *rec (journal_record_release). */
static inline int fjournal_newest(struct fmount *m, struct journal_record *rec)
{
	uint64_t *seqs;
	size_t n;
	int r = journal_list(&seqs, &n, m->eng.journal);

	if (r == 0)
		r = n ? journal_read(rec, m->eng.journal, seqs[n - 1]) : -ENOENT;
	free(seqs);
	return r;
}

/* The poll deps of m's mount over e's store, as the daemon builds them
 * (no kernel invalidation callback). */
static inline struct poll_deps fmount_poll_deps(const struct fenv *e, const struct fmount *m)
{
	return (struct poll_deps){.store = e->store,
				  .tree = m->tree,
				  .commit = m->commit,
				  .up = m->up,
				  .cfg = e->cfg,
				  .meta_key = e->keys->meta,
				  .wait_ms = TEST_FLUSH_MS};
}

#endif
