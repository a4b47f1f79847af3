/* test_head_chain.c - the chain of stored heads (fs/vault/head_chain.h,
 * docs/SECURITY.md "Forks") through the engine a mount opens, over local
 * stores:
 * - an upload round that skips a record still stores a head naming the
 *   stored head it replaced as its parent (sealed again for the store), and
 *   the cache keeps that head's bytes beside the pin (CACHE/pin-head);
 * - a newer head that descends from the pinned one mounts; a store rolled
 *   back and written again past the pinned seq (a fork with a higher seq) is
 *   refused until --accept-store-head, and a cache without the pinned
 *   head's copy says "cannot verify" instead of refusing;
 * - a mounted device whose store is replaced by such a fork does not show
 *   it at a poll, nor merge its next commit onto it: its uploader stops as
 *   for a conflict. */
#include <stdlib.h>

#include "fs_test.h"
#include "head_chain.h"
#include "meta.h"
#include "poll_head.h"
#include "seal.h"

static int put(struct fmount *m, const char *name, const char *text)
{
	return fwrite_file(m->tree, m->tree->root, name, text, strlen(text), NULL);
}

/* The store's head: sealed bytes (new) and opened. */
static int store_head(struct fenv *e, unsigned char **sealed, size_t *len, struct dirobj_head *h)
{
	struct backend_version ver;
	int r = head_get(e->store, META_MAX_SEALED_BYTES, sealed, len, &ver);

	memset(h, 0, sizeof(*h));
	if (r == 0)
		r = seal_open_head(h, *sealed, *len, e->cfg->vault_id, e->keys->meta,
				   e->cfg->format);
	return r;
}

static int copy_store(const char *from, const char *to)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", from, to);
	return system(cmd) == 0 ? 0 : -EIO;
}

/* Commits of m, each stored and each a retained head. */
static void commits(struct fmount *m, const char *prefix, int n)
{
	char name[64];

	m->tree->head_slot = 0;
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s-%d", prefix, i);
		CHECK_RC(put(m, name, name), 0);
		CHECK_RC(fcommit(m), 0);
	}
}

/* A round that takes two records stores the newest naming the stored head. */
static void gapless(struct fenv *e, struct fmount *a, uint8_t s1_hash[HEAD_HASH_BYTES])
{
	unsigned char *sealed = NULL, *kept = NULL, *again = NULL;
	struct upload_stats st;
	struct fmount copy;
	struct dirobj_head h;
	size_t len = 0, klen = 0, alen = 0;
	char cmd[1200];
	uint64_t s1;

	CHECK_RC(store_head(e, &sealed, &len, &h), 0);
	s1 = h.seq;
	seal_head_hash(s1_hash, sealed, len);
	dirobj_head_release(&h);
	free(sealed);
	upload_halt(a->up); /* two records wait in the journal */
	CHECK_RC(put(a, "one", "1"), 0);
	CHECK_RC(commit_run(a->commit), 0);
	CHECK_RC(put(a, "two", "2"), 0);
	CHECK_RC(commit_run(a->commit), 0);
	fmount_close(a);
	snprintf(cmd, sizeof(cmd), "cp -a '%s/laptop' '%s/laptop-copy'", e->root, e->root);
	CHECK_RC(system(cmd), 0); /* the cache as a crash after the head would leave it */
	CHECK_RC(fmount_open_device(a, e, "laptop", "laptop"), 0);
	CHECK_RC(upload_flush(a->up, TEST_FLUSH_MS), 0);
	CHECK_RC(store_head(e, &sealed, &len, &h), 0);
	CHECK_RC(h.seq, s1 + 2);
	CHECKF(memcmp(h.parent, s1_hash, HEAD_HASH_BYTES) == 0,
	       "the stored head names the unstored record, not the stored head it replaced");
	seal_head_hash(s1_hash, sealed, len);
	CHECK_RC(head_pin_read_head(a->cache_dir, s1_hash, &kept, &klen), 0);
	CHECK(klen == len && kept && memcmp(kept, sealed, len) == 0);
	free(kept);
	dirobj_head_release(&h);
	/* Its records still pending: the store's head is the newest one sealed
	 * again, so this cache's own (no merge), not another device's. */
	CHECK_RC(fmount_open_device(&copy, e, "laptop-copy", "laptop"), 0);
	CHECK_RC(upload_flush(copy.up, TEST_FLUSH_MS), 0);
	upload_stats(&st, copy.up);
	CHECKF(st.merges == 0 && !st.conflict, "its own head taken for another's (%llu merges)",
	       (unsigned long long)st.merges);
	fmount_close(&copy);
	CHECK_RC(store_head(e, &again, &alen, &h), 0);
	CHECK(alen == len && memcmp(again, sealed, len) == 0);
	dirobj_head_release(&h);
	free(again);
	free(sealed);
}

/* head_chain_check of the store's head against the pin of cache_dir. */
static enum head_chain_verdict verdict(struct fenv *e, const char *cache_dir, bool with_copy)
{
	struct head_state st;
	struct dirobj_head h, pinned;
	struct history_io io;
	unsigned char *sealed = NULL, *kept = NULL;
	size_t len = 0, klen = 0;
	int why = 0;
	enum head_chain_verdict v = HEAD_CHAIN_UNKNOWN;

	CHECK_RC(head_state_load(&st, cache_dir, e->cfg->vault_id, e->keys->pin), 0);
	CHECK_RC(store_head(e, &sealed, &len, &h), 0);
	memset(&pinned, 0, sizeof(pinned));
	if (with_copy) {
		CHECK_RC(head_pin_read_head(cache_dir, st.hash, &kept, &klen), 0);
		CHECK_RC(seal_open_head(&pinned, kept, klen, e->cfg->vault_id, e->keys->meta,
					e->cfg->format),
			 0);
	}
	history_io_store(&io, e->store, e->cfg->vault_id, e->keys->meta);
	if (h.seq > st.seq)
		v = head_chain_check(&h, st.seq, st.hash, with_copy ? &pinned : NULL, &io, &why);
	CHECK_RC(why, 0);
	dirobj_head_release(&pinned);
	dirobj_head_release(&h);
	free(kept);
	free(sealed);
	return v;
}

/* B pinned a head; the store moves on (descends), or is rolled back to an
 * older copy and written past B's seq by another device (a fork). */
static void forks(struct fenv *e, struct fmount *a, const char *old_dir)
{
	struct backend_opts opts = {.create = 0};
	struct engine_opts o = {.device_name = "desktop"};
	struct fenv fork = *e;
	struct fmount b, x;
	char err[256], pin_head[400], bdir[320];

	CHECK_RC(fmount_open_device(&b, e, "desktop", "desktop"), 0); /* pins the head */
	fmount_close(&b);
	commits(a, "later", 3);
	snprintf(bdir, sizeof(bdir), "%s/desktop", e->root);
	CHECK(verdict(e, bdir, true) == HEAD_CHAIN_DESCENDS);
	CHECK_RC(fmount_open_device(&b, e, "desktop", "desktop"), 0);
	fmount_close(&b);

	/* The old copy, written past the pinned seq by a fresh device. */
	CHECK_RC(local_backend_open(&fork.store, old_dir, &opts, err, sizeof(err)), 0);
	CHECK_RC(fmount_open_device(&x, &fork, "forker", "forker"), 0);
	commits(&x, "fork", 6); /* past the pinned seq */
	fmount_close(&x);
	CHECK(verdict(&fork, bdir, true) == HEAD_CHAIN_FORK);
	CHECK(verdict(&fork, bdir, false) == HEAD_CHAIN_UNKNOWN);
	o.cache_dir = bdir;
	CHECK_RC(engine_open(&b.eng, fork.store, e->cfg, e->keys, &o, err, sizeof(err)), -ESTALE);
	CHECKF(strstr(err, "does not descend") && strstr(err, "--accept-store-head"), "err: %s",
	       err);
	/* Without the pinned head's copy: said, not refused. */
	snprintf(pin_head, sizeof(pin_head), "%s/" HEAD_PIN_HEAD_NAME, bdir);
	CHECK_RC(unlink(pin_head), 0);
	CHECK_RC(fmount_open_device(&b, &fork, "desktop", "desktop"), 0);
	fmount_close(&b);
	backend_destroy(fork.store);
}

/* While a is mounted (pinned at the main store's head), the main store is
 * replaced by the fork (higher seq, another chain): a's next commit finds
 * another head and must not merge onto it; its uploader stops as for a
 * conflict and the store keeps the fork's head. */
static void fork_while_mounted(struct fenv *e, struct fmount *a, const char *old_dir)
{
	unsigned char *before = NULL, *after = NULL;
	struct upload_stats st;
	struct dirobj_head h;
	size_t blen = 0, alen = 0;
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'/* && cp -a '%s'/. '%s'/", e->store_dir, old_dir,
		 e->store_dir);
	CHECK_RC(system(cmd), 0);
	CHECK_RC(store_head(e, &before, &blen, &h), 0);
	dirobj_head_release(&h);
	struct poll_deps pd = fmount_poll_deps(e, a);
	struct poll *pl = poll_new(&pd);
	struct inode *ino;
	CHECK(pl != NULL);
	CHECK_RC(pl ? poll_once(pl) : 0, -EXDEV); /* the fork is not shown */
	CHECK_RC(fpath(a->tree, "fork-0", &ino), -ENOENT);
	poll_free(pl);
	CHECK_RC(put(a, "after-fork", "x"), 0);
	CHECK(fcommit(a) != 0);
	upload_stats(&st, a->up);
	CHECKF(st.conflict && st.merges == 0, "merged onto a fork (conflict %d, %llu merges)",
	       (int)st.conflict, (unsigned long long)st.merges);
	CHECK_RC(store_head(e, &after, &alen, &h), 0);
	CHECK(alen == blen && before && after && memcmp(before, after, alen) == 0);
	dirobj_head_release(&h);
	free(before);
	free(after);
}

int main(void)
{
	struct fenv e;
	struct fmount a;
	uint8_t hash[HEAD_HASH_BYTES];
	char old_dir[400];

	if (fenv_init(&e) != 0)
		return 1;
	CHECK(e.cfg->format >= 2); /* what init makes: the chain is format 2 on */
	CHECK_RC(fmount_open_device(&a, &e, "laptop", "laptop"), 0);
	CHECK_RC(put(&a, "zero", "0"), 0);
	CHECK_RC(fcommit(&a), 0);
	snprintf(old_dir, sizeof(old_dir), "%s/old-store", e.root);
	CHECK_RC(copy_store(e.store_dir, old_dir), 0);
	gapless(&e, &a, hash);
	forks(&e, &a, old_dir);
	fork_while_mounted(&e, &a, old_dir);
	fmount_close(&a);
	fenv_free(&e);
	return check_done("head_chain");
}
