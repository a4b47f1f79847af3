/* test_history.c - deferred deletion and retained heads of a format-2 vault
 * (fs/vault/history*.c) through the real engine, uploader and local store:
 * a commit deletes nothing, archives the previous head in the history and
 * lists its garbage; every object a retained head reaches stays in the
 * store; every object in the store is reached or listed as garbage; with a
 * window of one second and no grace, thinning deletes the garbage of the
 * heads it drops, and the history survives a remount. */
#include "fs_test.h"

#include "fsck.h"
#include "hex.h"
#include "history.h"

/* A set of store keys (linear: the tests hold a few hundred). */
struct keyset {
	uint8_t (*k)[OBJECT_ID_BYTES];
	size_t n;
};

static bool ks_has(const struct keyset *s, const uint8_t *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (memcmp(s->k[i], key, OBJECT_ID_BYTES) == 0)
			return true;
	return false;
}

static void ks_add(struct keyset *s, const uint8_t *key)
{
	if (ks_has(s, key))
		return;
	s->k = realloc(s->k, (s->n + 1) * OBJECT_ID_BYTES);
	memcpy(s->k[s->n++], key, OBJECT_ID_BYTES);
}

/* Walks directory id at ref: its object and every segment and child. */
static void walk_dir(struct fenv *e, const uint8_t *id, const struct dirobj_ref *ref,
		     struct keyset *reach)
{
	char text[OBJECT_KEY_TEXT_BYTES];
	unsigned char *sealed = NULL;
	size_t len = 0;
	struct dirobj obj;

	ks_add(reach, ref->store_key);
	object_key_text(text, ref->store_key);
	CHECKF(backend_get_max(e->store, text, 1 << 24, &sealed, &len) == 0,
	       "reachable directory object %s missing", text);
	if (!sealed)
		return;
	CHECK_RC(seal_open_dir(&obj, sealed, len, id, ref, e->cfg->vault_id, e->keys->meta, 2), 0);
	free(sealed);
	for (size_t i = 0; i < obj.nentries; i++) {
		struct dirobj_entry *en = &obj.entries[i];
		if (en->type == DIROBJ_DIR)
			walk_dir(e, en->id, &en->ref, reach);
		for (size_t s = 0; en->type == DIROBJ_FILE && s < en->nsegments; s++)
			if (en->segments[s].present)
				ks_add(reach, en->segments[s].store_key);
	}
	dirobj_release(&obj);
}

static void walk_garbage(const struct history_io *io, const struct dirobj_head *h,
			 struct keyset *reach, struct keyset *listed)
{
	struct dirobj_ref ref = h->garbage;
	bool more = h->has_garbage;

	while (more) {
		struct histobj_garbage g;
		ks_add(reach, ref.store_key);
		if (history_read_garbage(&g, &ref, io) != 0) {
			CHECKF(0, "a garbage list of seq %llu is unreadable",
			       (unsigned long long)h->seq);
			return;
		}
		for (size_t i = 0; i < g.n; i++)
			ks_add(listed, g.items[i].key);
		more = g.has_next;
		ref = g.next;
		histobj_garbage_release(&g);
	}
}

/* Every retained head's tree and history objects into reach, every
 * garbage-listed key into listed; returns the number of retained heads. */
static size_t walk_all(struct fenv *e, struct keyset *reach, struct keyset *listed, uint64_t *seqs)
{
	struct history_io io;
	struct dirobj_head head;
	struct dirobj_ref ref;
	bool more;
	size_t n = 1;

	history_io_store(&io, e->store, e->cfg->vault_id, e->keys->meta);
	CHECK_RC(seal_read_head(&head, e->store, e->cfg->vault_id, e->keys->meta, 2), 0);
	seqs[0] = head.seq;
	walk_dir(e, head.root.id, &head.root.ref, reach);
	walk_garbage(&io, &head, reach, listed);
	more = head.has_history;
	ref = head.history;
	while (more) {
		struct histobj_page p;
		ks_add(reach, ref.store_key);
		if (history_read_page(&p, &ref, &io) != 0) {
			CHECK(0);
			break;
		}
		for (size_t i = 0; i < p.n; i++) {
			struct dirobj_head rec;
			ks_add(reach, p.entries[i].rec.store_key);
			CHECK_RC(
			    history_read_record(&rec, &p.entries[i].rec, p.entries[i].size, &io),
			    0);
			CHECK(rec.seq == p.entries[i].seq);
			walk_dir(e, rec.root.id, &rec.root.ref, reach);
			walk_garbage(&io, &rec, reach, listed);
			dirobj_head_release(&rec);
			seqs[n++] = p.entries[i].seq;
		}
		more = p.has_next;
		ref = p.next;
		histobj_page_release(&p);
	}
	dirobj_head_release(&head);
	return n;
}

struct list_arg {
	struct fenv *e;
	struct keyset *reach, *listed;
	size_t n, stray;
};

static int list_cb(void *arg, const char *key, uint64_t size)
{
	struct list_arg *a = arg;
	uint8_t bin[OBJECT_ID_BYTES];
	size_t len = strlen(key);

	(void)size;
	a->n++;
	if (len < 32 || hex_decode(bin, sizeof(bin), key + len - 32, 32) != 0)
		return 0;
	if (!ks_has(a->reach, bin) && !ks_has(a->listed, bin)) {
		a->stray++;
		fprintf(stderr, "stray object %s\n", key);
	}
	return 0;
}

/* The invariant: everything reached is in the store (walk_dir checks),
 * everything in the store is reached or listed. Returns the heads. */
static size_t check_store(struct fenv *e, struct keyset *reach, struct keyset *listed,
			  uint64_t *seqs)
{
	struct list_arg a = {.e = e, .reach = reach, .listed = listed};
	size_t n = walk_all(e, reach, listed, seqs);

	e->store->ops->list(e->store, "o/", list_cb, &a);
	CHECKF(a.stray == 0, "%zu objects neither reached nor listed", a.stray);
	return n;
}

static bool store_has(struct fenv *e, const uint8_t *key)
{
	char text[OBJECT_KEY_TEXT_BYTES];
	uint64_t size;

	object_key_text(text, key);
	return e->store->ops->head(e->store, text, &size) == 0;
}

/* fsck --repair with no grace after the churn: the objects the history
 * keeps (retained heads' trees, pages, records, garbage lists and what they
 * list) are not orphans, so nothing is deleted and the store is clean. */
static void fsck_report_cb(void *arg, const struct fsck_problem *p)
{
	(*(size_t *)arg)++;
	fprintf(stderr, "fsck: kind %d key %s\n", (int)p->kind, p->key ? p->key : "");
}

static void check_fsck_clean(struct fenv *e)
{
	size_t problems = 0;
	struct fsck_opts o = {
	    .repair = true, .grace_s = 0, .report = fsck_report_cb, .arg = &problems};
	struct fsck_result res;
	size_t before = fstore_objects(e);
	char err[256];

	CHECK_RC(fsck_run(e->store, e->cfg, e->keys, &o, &res, err, sizeof(err)), 0);
	CHECKF(res.n.orphans == 0, "%llu orphans", (unsigned long long)res.n.orphans);
	CHECK(res.n.damaged == 0 && res.n.missing == 0 && res.n.orphans_deleted == 0);
	CHECKF(problems == 0, "fsck reported %zu problems", problems);
	CHECK_RC(fstore_objects(e), before);
}

static void test_deferred_and_thinned(void)
{
	struct keyset reach = {0}, listed = {0};
	uint64_t seqs[64];
	uint8_t v1_seg[OBJECT_ID_BYTES];
	struct inode *f;
	struct fenv e;
	struct fmount m;
	size_t heads;

	CHECK_RC(fenv_init(&e), 0);
	CHECK(e.cfg->format == VAULT_FORMAT_VERSION);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	m.tree->head_slot = 0; /* every commit a retained head (test_retain.c: slots) */
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "f", "version one", 11, &f), 0);
	CHECK_RC(fcommit(&m), 0);
	memcpy(v1_seg, content_cold_key(&f->cold, 0), OBJECT_ID_BYTES);
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "f", "version two!", 12, &f), 0);
	CHECK_RC(fcommit(&m), 0);
	CHECK_RC(tree_remove(m.tree, m.tree->root, "f", false), 0);
	tree_forget(m.tree, f, 2); /* the create's and the second lookup's: now garbage */
	CHECK_RC(fcommit(&m), 0);

	/* Nothing deleted: the first version's segment is still stored, a
	 * retained head reaches it, and the history holds every head. */
	heads = check_store(&e, &reach, &listed, seqs);
	CHECKF(heads == 4, "retained heads %zu, want 4", heads);
	for (size_t i = 1; i < heads; i++)
		CHECK(seqs[i] < seqs[i - 1]);
	CHECK(store_has(&e, v1_seg));
	CHECK(ks_has(&reach, v1_seg) && ks_has(&listed, v1_seg));
	check_fsck_clean(&e);

	/* A remount reads the history back and goes on from it. */
	fmount_close(&m);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	m.tree->head_slot = 0;
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "g", "x", 1, NULL), 0);
	CHECK_RC(fcommit(&m), 0);
	free(reach.k);
	free(listed.k);
	memset(&reach, 0, sizeof(reach));
	memset(&listed, 0, sizeof(listed));
	CHECK_RC(check_store(&e, &reach, &listed, seqs), 5);

	/* A window of one second and no grace (what `sealfs config` writes
	 * into the head; the tree's head template here): two commits two
	 * seconds apart drop every older head, and their garbage goes. */
	m.tree->head_tmpl.keep = 1;
	m.tree->head_tmpl.grace = 0;
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "g", "y", 1, NULL), 0);
	CHECK_RC(fcommit(&m), 0);
	sleep(2);
	for (int i = 0; i < 3; i++) {
		CHECK_RC(fwrite_file(m.tree, m.tree->root, "g", "z", 1, NULL), 0);
		CHECK_RC(fcommit(&m), 0);
	}
	free(reach.k);
	free(listed.k);
	memset(&reach, 0, sizeof(reach));
	memset(&listed, 0, sizeof(listed));
	heads = check_store(&e, &reach, &listed, seqs);
	CHECKF(heads <= 4, "retained heads %zu after thinning", heads);
	CHECKF(!store_has(&e, v1_seg), "the first version outlived its window");
	fmount_close(&m);
	check_fsck_clean(&e);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	fmount_close(&m);
	free(reach.k);
	free(listed.k);
	fenv_free(&e);
}

/* fsck --repair of a format-2 vault is a commit like a mount's: the head it
 * checked becomes a retained head record (with its own garbage list), the
 * new head gets a new history page and its own garbage list (never the
 * previous head's: two heads naming one list would have thinning process
 * it twice), keep and grace are carried, and the directory objects it
 * replaced stay for the retained heads that reach them (before, repair
 * deleted them at once and dropped the head checked from the history).
 * Then --all-heads reports the damage still in the retained heads as theirs,
 * and a mount goes on from the repaired head. */
static void missing_cb(void *arg, const struct fsck_problem *p)
{
	size_t *n = arg;

	if (p->kind == FSCK_MISSING || p->kind == FSCK_DAMAGED)
		n[p->old_head ? 1 : 0]++;
}

static void test_repair_keeps_history(void)
{
	struct keyset reach = {0}, listed = {0};
	struct dirobj_head h0, h1;
	uint64_t seqs[64];
	uint8_t seg[OBJECT_ID_BYTES];
	char text[OBJECT_KEY_TEXT_BYTES], err[256];
	size_t found[2] = {0, 0};
	struct fsck_result res;
	struct inode *f;
	struct fenv e;
	struct fmount m;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	m.tree->head_slot = 0;
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "a", "file a", 6, &f), 0);
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "b", "file b", 6, NULL), 0);
	CHECK_RC(fcommit(&m), 0);
	memcpy(seg, content_cold_key(&f->cold, 0), OBJECT_ID_BYTES);
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "b", "file b, again", 13, NULL), 0);
	CHECK_RC(fcommit(&m), 0);
	fmount_close(&m);
	CHECK_RC(seal_read_head(&h0, e.store, e.cfg->vault_id, e.keys->meta, 2), 0);
	CHECK_RC(check_store(&e, &reach, &listed, seqs), 3);
	object_key_text(text, seg);
	CHECK_RC(backend_del(e.store, text), 0);

	struct fsck_opts o = {.repair = true, .grace_s = 0, .report = missing_cb, .arg = found};
	CHECK_RC(fsck_run(e.store, e.cfg, e.keys, &o, &res, err, sizeof(err)), 0);
	CHECK(res.new_seq == h0.seq + 1 && res.n.moved == 1 && found[0] == 1);
	CHECK_RC(seal_read_head(&h1, e.store, e.cfg->vault_id, e.keys->meta, 2), 0);
	CHECK(h1.has_history && h1.has_garbage && h0.has_garbage);
	CHECK(memcmp(h1.garbage.store_key, h0.garbage.store_key, OBJECT_ID_BYTES) != 0);
	CHECK(h1.keep == h0.keep && h1.grace == h0.grace);
	free(reach.k);
	free(listed.k);
	memset(&reach, 0, sizeof(reach));
	memset(&listed, 0, sizeof(listed));
	CHECKF(check_store(&e, &reach, &listed, seqs) == 4, "the head checked is retained");
	CHECK(seqs[1] == h0.seq);
	CHECK(ks_has(&listed, h0.root.ref.store_key)); /* the replaced root: garbage, kept */

	/* --all-heads: the missing segment is still in the older heads' trees;
	 * the current one is clean; nothing is an orphan. */
	found[0] = found[1] = 0;
	o = (struct fsck_opts){.all_heads = true, .report = missing_cb, .arg = found};
	CHECK_RC(fsck_run(e.store, e.cfg, e.keys, &o, &res, err, sizeof(err)), 0);
	CHECKF(res.n.heads == 4, "%llu heads walked", (unsigned long long)res.n.heads);
	CHECK(found[0] == 0 && found[1] >= 1 && res.n.orphans == 0);

	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	m.tree->head_slot = 0;
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "c", "after", 5, NULL), 0);
	CHECK_RC(fcommit(&m), 0);
	fmount_close(&m);
	free(reach.k);
	free(listed.k);
	memset(&reach, 0, sizeof(reach));
	memset(&listed, 0, sizeof(listed));
	CHECK_RC(check_store(&e, &reach, &listed, seqs), 5);
	free(reach.k);
	free(listed.k);
	dirobj_head_release(&h0);
	dirobj_head_release(&h1);
	fenv_free(&e);
}

/* The cost of a commit per fsync (the number is in docs/INTERNALS.md
 * "History"): a one-byte rewrite of a file in the root, each commit stored
 * before the next, in one minute: its segment and the root's object as in
 * format 1, plus the garbage list (the superseded head's, merged): three
 * objects; no head record or page (the previous head is superseded, not
 * archived). Before the slots: five. */
static void test_objects_per_commit(void)
{
	struct fenv e;
	struct fmount m;
	size_t before, after;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "db", "a", 1, NULL), 0);
	CHECK_RC(fcommit(&m), 0);
	before = fstore_objects(&e);
	for (int i = 0; i < 10; i++) {
		CHECK_RC(fwrite_file(m.tree, m.tree->root, "db", i % 2 ? "b" : "c", 1, NULL), 0);
		CHECK_RC(fcommit(&m), 0);
	}
	after = fstore_objects(&e);
	printf("objects stored per commit (one-byte rewrite, format 2): %.1f\n",
	       (double)(after - before) / 10);
	CHECKF(after - before <= 30 + 2, "%zu objects for 10 commits", after - before);
	fmount_close(&m);
	fenv_free(&e);
}

/* The thinning rule (history_thin): every head of the last hour, the newest
 * of each hour for a day, the newest of each day up to the window. */
static void test_thin_rule(void)
{
	const int64_t now = 1000 * 86400 + 12 * 3600; /* noon of day 1000 */
	const int64_t ages[] = {60,	      1800,	     2 * 3600 + 60,  2 * 3600 + 600,
				3 * 3600 + 5, 2 * 86400 + 5, 2 * 86400 + 60, 40 * 86400};
	const bool want[] = {true, true, true, false, true, true, false, false};
	struct histobj_entry e[8];
	bool kept[8];

	memset(e, 0, sizeof(e));
	for (size_t i = 0; i < 8; i++) {
		e[i].seq = 100 - i;
		e[i].time.sec = now - ages[i];
	}
	history_thin(e, 8, now, 30 * 86400, HISTORY_SLOT, kept);
	for (size_t i = 0; i < 8; i++)
		CHECKF(kept[i] == want[i], "entry %zu (age %lld s): kept %d", i, (long long)ages[i],
		       kept[i]);
	history_thin(e, 8, now, 0, HISTORY_SLOT, kept); /* keep 0: nothing old stays */
	for (size_t i = 0; i < 8; i++)
		CHECK(!kept[i]);
	{
		const uint64_t seqs[] = {3, 7, 9};
		CHECK(history_meets(seqs, 3, 4, 8) && !history_meets(seqs, 3, 4, 7) &&
		      !history_meets(seqs, 3, 9, 9) && history_meets(seqs, 3, 0, 4) &&
		      !history_meets(seqs, 3, 10, 20));
	}
}

int main(void)
{
	test_thin_rule();
	test_deferred_and_thinned();
	test_objects_per_commit();
	test_repair_keeps_history();
	return check_done("history");
}
