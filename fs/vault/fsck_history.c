/* fsck_history.c - what a format-2 vault's history keeps (docs/FORMAT.md,
 * "Deferred deletion") added to the checker's reachable set before the
 * orphans are listed: the history pages, the retained head records, every
 * retained head's garbage list objects and every key they list (an object
 * only an older retained head reaches is listed by the head that dropped
 * it). So an orphan is an object in no garbage list and reached by no
 * retained head, and repair never deletes what the history still keeps.
 * Must never leave out a key it could not read past: a history it cannot
 * read fails the run (no orphan is deleted then). With --all-heads it also
 * walks every retained head's tree (fsck.c's walk, skipping what a newer
 * head's walk checked). */
#include <errno.h>
#include <string.h>

#include "cache.h"
#include "errbuf.h"
#include "fsck_int.h"
#include "history.h"

/* The garbage list of head h: its objects and every key it lists. */
static int fsck_history_garbage(struct fsck *f, const struct history_io *io,
				const struct dirobj_head *h)
{
	struct dirobj_ref ref = h->garbage;
	bool more = h->has_garbage;
	int r = 0;

	while (r == 0 && more) {
		struct histobj_garbage g;
		r = fsck_keyset_add(&f->reach, ref.store_key);
		if (r == 0 && (r = history_read_garbage(&g, &ref, io)) == 0) {
			for (size_t i = 0; r == 0 && i < g.n; i++)
				r = fsck_keyset_add(&f->reach, g.items[i].key);
			more = g.has_next;
			ref = g.next;
			histobj_garbage_release(&g);
		}
	}
	return r;
}

static int fsck_history_page(struct fsck *f, const struct history_io *io,
			     const struct histobj_page *p)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < p->n; i++) {
		struct dirobj_head rec;
		r = fsck_keyset_add(&f->reach, p->entries[i].rec.store_key);
		if (r == 0)
			r = history_read_record(&rec, &p->entries[i].rec, p->entries[i].size, io);
		if (r == 0) {
			r = fsck_history_garbage(f, io, &rec);
			dirobj_head_release(&rec);
		}
	}
	return r;
}

/* The trees of one page's heads. A record that cannot be read is reported
 * (the head's tree is then unchecked); a store error stops the run. */
static int fsck_history_page_heads(struct fsck *f, const struct history_io *io,
				   const struct histobj_page *p)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < p->n; i++) {
		struct dirobj_head rec;
		char key[OBJECT_KEY_TEXT_BYTES];
		r = history_read_record(&rec, &p->entries[i].rec, p->entries[i].size, io);
		if (r == -ENOENT || r == -EBADMSG) {
			object_key_text(key, p->entries[i].rec.store_key);
			f->old_head = p->entries[i].seq;
			fsck_report(f, r == -ENOENT ? FSCK_MISSING : FSCK_DAMAGED, "/", 1,
				    "head record", r == -ENOENT ? "" : "failed to authenticate",
				    key);
			r = 0;
			continue;
		}
		if (r)
			break;
		f->old_head = rec.seq ? rec.seq : 1;
		r = fsck_walk(f, &rec);
		dirobj_head_release(&rec);
	}
	return r;
}

int fsck_history_heads(struct fsck *f, const struct dirobj_head *head)
{
	struct history_io io;
	struct dirobj_ref ref = head->history;
	bool more = head->has_history;
	uint64_t pages = 0;
	int r = 0;

	history_io_store(&io, f->store, f->cfg->vault_id, f->keys->meta);
	while (r == 0 && more) {
		struct histobj_page p;
		r = history_read_page(&p, &ref, &io);
		if (r == 0) {
			r = fsck_history_page_heads(f, &io, &p);
			more = p.has_next;
			ref = p.next;
			histobj_page_release(&p);
		}
		if (r == 0 && ++pages > (1u << 24))
			r = -EBADMSG;
	}
	f->old_head = 0;
	if (r && f->err && f->err[0])
		return r; /* the walk said why */
	if (r)
		return errbuf_fail(f->err, f->err_size, r < 0 ? r : -EIO,
				   "reading the vault's history failed (%s): retained heads not "
				   "checked",
				   r == -EBADMSG ? "it failed to authenticate" : strerror(-r));
	return 0;
}

int fsck_history_reach(struct fsck *f, const struct dirobj_head *head)
{
	struct history_io io;
	struct dirobj_ref ref = head->history;
	bool more = head->has_history;
	uint64_t pages = 0;
	int r;

	if (f->cfg->format < 2)
		return 0;
	history_io_store(&io, f->store, f->cfg->vault_id, f->keys->meta);
	r = fsck_history_garbage(f, &io, head);
	while (r == 0 && more) {
		struct histobj_page p;
		r = fsck_keyset_add(&f->reach, ref.store_key);
		if (r == 0)
			r = history_read_page(&p, &ref, &io);
		if (r == 0) {
			r = fsck_history_page(f, &io, &p);
			more = p.has_next;
			ref = p.next;
			histobj_page_release(&p);
		}
		if (r == 0 && ++pages > (1u << 24))
			r = -EBADMSG; /* longer than any history: a loop */
	}
	if (r)
		return errbuf_fail(f->err, f->err_size, r < 0 ? r : -EIO,
				   "reading the vault's history failed (%s): orphans not listed",
				   r == -EBADMSG ? "it failed to authenticate" : strerror(-r));
	return 0;
}
