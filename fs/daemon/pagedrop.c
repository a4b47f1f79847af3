/* pagedrop.c - dropping the kernel's page cache of a file written once
 * (pagedrop.h says when and why): a table of the files open for writing
 * with what was written through them, and a notification queue
 * (notify.h) whose thread tells the kernel. It must never notify from a
 * request's thread, never hold its lock across a notify, and never log a
 * name (it logs nothing). */
#include "pagedrop.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "notify.h"
#include "tree.h"

#define PAGEDROP_BUCKETS 256u

/* While such a file is still being written, the pages this far behind the
 * write-back's latest WRITE are dropped in steps of PAGEDROP_STEP: the
 * kernel has written them back (its write-back goes up the file), so the
 * drop frees them now, beside the write, instead of all at the last
 * release or at unmount. The distance leaves alone the pages the kernel is
 * still writing back. */
#define PAGEDROP_BEHIND (8ull << 20)
#define PAGEDROP_STEP (32ull << 20)

/* A file with writable handles open. */
struct pagedrop_file {
	struct pagedrop_file *next;
	fuse_ino_t ino;
	unsigned writers; /* writable handles open */
	uint64_t total;	  /* bytes written */
	uint64_t lo, hi;  /* span written: [lo, hi), lo > hi before the first */
	uint64_t dropped; /* pages below it were queued for dropping */
};

/* A node whose pages in [off, off + len) to drop; len 0: from off to the
 * end, at the last release. */
struct pagedrop_job {
	struct notify_job nj; /* first: the queue's */
	struct pagedrop *p;
	fuse_ino_t ino;
	uint64_t off, len;
};

struct pagedrop {
	struct fuse_session *se;
	struct notify_queue *q;
	pthread_mutex_t mu; /* guards the table */
	struct pagedrop_file *files[PAGEDROP_BUCKETS];
};

bool pagedrop_written_once(uint64_t total, uint64_t lo, uint64_t hi)
{
	uint64_t span = hi > lo ? hi - lo : 0;
	uint64_t off_by = total > span ? total - span : span - total;

	return total >= PAGEDROP_MIN_BYTES && off_by <= total / 8;
}

/* ---- the table (under mu) ---- */

static struct pagedrop_file **pagedrop_slot(struct pagedrop *p, fuse_ino_t ino)
{
	/* Node ids are addresses (aligned): mix the bits above the alignment. */
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull;
	struct pagedrop_file **s = &p->files[(h >> 56) % PAGEDROP_BUCKETS];

	while (*s && (*s)->ino != ino)
		s = &(*s)->next;
	return s;
}

/* ---- the drops, on the queue's thread ---- */

static void pagedrop_run(struct notify_job *nj)
{
	struct pagedrop_job *j = (struct pagedrop_job *)nj;
	struct pagedrop *p = j->p;
	bool in_use;

	/* A last release's, and opened for writing again meanwhile: its pages
	 * are in use. */
	pthread_mutex_lock(&p->mu);
	in_use = j->len == 0 && *pagedrop_slot(p, j->ino);
	pthread_mutex_unlock(&p->mu);
	/* Length 0: to the end. Clean by now (written back before the WRITE
	 * behind them; at the last release, before the kernel sent RELEASE);
	 * one dirtied meanwhile the kernel writes back first (a WRITE another
	 * thread serves). A node the kernel forgot: ENOENT, ignored; its
	 * address reused by another file's inode meanwhile: that file's pages
	 * go, a cost only (nothing here dereferences the node). */
	if (!in_use)
		(void)fuse_lowlevel_notify_inval_inode(p->se, j->ino, (off_t)j->off, (off_t)j->len);
	free(j);
}

/* Queued at the unmount: not made (the unmount frees the pages). */
static void pagedrop_drop(struct notify_job *nj) { free(nj); }

/* Queues a drop; none when memory is short (the pages stay until the
 * kernel needs them or the unmount). Under mu (the queue's lock comes
 * after it). */
static void pagedrop_queue(struct pagedrop *p, fuse_ino_t ino, uint64_t off, uint64_t len)
{
	struct pagedrop_job *j = malloc(sizeof(*j));

	if (!j)
		return;
	j->nj.run = pagedrop_run;
	j->nj.drop = pagedrop_drop;
	j->p = p;
	j->ino = ino;
	j->off = off;
	j->len = len;
	notify_queue_push(p->q, &j->nj);
}

int pagedrop_start(struct tree *t, struct fuse_session *se)
{
	struct pagedrop *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->se = se;
	r = notify_queue_start(&p->q);
	if (r) {
		free(p);
		return r;
	}
	pthread_mutex_init(&p->mu, NULL);
	t->pagedrop = p;
	return 0;
}

void pagedrop_stop(struct tree *t)
{
	struct pagedrop *p = t ? t->pagedrop : NULL;
	struct pagedrop_file *f;

	if (!p)
		return;
	notify_queue_stop(p->q);
	for (unsigned i = 0; i < PAGEDROP_BUCKETS; i++)
		while ((f = p->files[i])) {
			p->files[i] = f->next;
			free(f);
		}
	pthread_mutex_destroy(&p->mu);
	free(p);
	t->pagedrop = NULL;
}

/* ---- per request ---- */

void pagedrop_open(struct tree *t, fuse_ino_t ino)
{
	struct pagedrop *p = t->pagedrop;
	struct pagedrop_file **s, *f;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	s = pagedrop_slot(p, ino);
	if (!*s && (f = calloc(1, sizeof(*f))) != NULL) {
		f->ino = ino;
		f->lo = UINT64_MAX;
		*s = f;
	}
	if (*s)
		(*s)->writers++;
	pthread_mutex_unlock(&p->mu);
}

/* Queues the drop of f's pages far enough behind a WRITE at off, while f
 * is written once so far. Under mu. */
static void pagedrop_behind(struct pagedrop *p, struct pagedrop_file *f, uint64_t off)
{
	uint64_t to;

	if (off < PAGEDROP_BEHIND || !pagedrop_written_once(f->total, f->lo, f->hi))
		return;
	to = (off - PAGEDROP_BEHIND) & ~((1ull << 20) - 1); /* whole MiBs */
	if (to < f->dropped + PAGEDROP_STEP)
		return;
	pagedrop_queue(p, f->ino, f->dropped, to - f->dropped);
	f->dropped = to;
}

void pagedrop_write(struct tree *t, fuse_ino_t ino, uint64_t off, size_t n)
{
	struct pagedrop *p = t->pagedrop;
	struct pagedrop_file *f;

	if (!p || n == 0)
		return;
	pthread_mutex_lock(&p->mu);
	f = *pagedrop_slot(p, ino);
	/* Not there: a write-back after every writer's release (mmap), or a
	 * file whose entry could not be made; it keeps its pages. */
	if (f) {
		f->total += n;
		if (off < f->lo)
			f->lo = off;
		if (off + n > f->hi)
			f->hi = off + n;
		pagedrop_behind(p, f, off);
	}
	pthread_mutex_unlock(&p->mu);
}

void pagedrop_release(struct tree *t, fuse_ino_t ino)
{
	struct pagedrop *p = t->pagedrop;
	struct pagedrop_file **s, *f;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	s = pagedrop_slot(p, ino);
	f = *s;
	if (f && --f->writers == 0) {
		*s = f->next;
		/* Every page: those behind were dropped already (a cheap walk
		 * now), and any read back meanwhile go too. */
		if (pagedrop_written_once(f->total, f->lo, f->hi))
			pagedrop_queue(p, ino, 0, 0);
		free(f);
	}
	pthread_mutex_unlock(&p->mu);
}
