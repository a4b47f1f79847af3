/* perm_ops.c - the daemon's permission checks per FUSE operation (perm.h):
 * the caller from the request, the attributes from the tree (tree_perm.h),
 * the rule from perm.c; and the jobs (on a notification queue, notify.h)
 * that make the kernel forget the names it cached under a directory whose
 * mode or owner changed, so that its next walk through them LOOKUPs and
 * meets the X check. It must never call a notify from a request's thread
 * (the kernel may be waiting for that request with the directory locked),
 * never hold tree_lock across a notify, and never log a name. */
#include "perm.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "mono.h"
#include "notify.h"
#include "tree.h"

/* How long a chmod/chown of a directory waits for the kernel to drop the
 * directory's own entry (which takes its cached names with it) before it
 * replies anyway. The drop takes the parent's lock: if every FUSE thread
 * waited here while a request holding that lock waited for a thread, only
 * this bound would end it. Normally it takes microseconds. */
#define PERM_INVAL_WAIT_MS 1000u

/* One directory's names to drop (tree_names_under). */
struct perm_job {
	struct notify_job nj; /* first: the queue's */
	struct perm *p;
	struct tree_inval *v;
	size_t n;
	uint64_t seq;
};

struct perm {
	struct fuse_session *se;
	struct tree *t;
	bool protect_links; /* fs.protected_hardlinks */
	struct notify_queue *q;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* with mu: stop, or a job's first name done */
	uint64_t queued,
	    first_done; /* seq of the last queued job, of the last whose first name went */
	bool stop;
};

static struct perm *perm_of(fuse_req_t req)
{
	return ((struct tree *)fuse_req_userdata(req))->perm;
}

/* ---- the jobs, on the queue's thread ---- */

/* A job still queued at the unmount is run all the same (notify_job.drop
 * NULL): the session is still there. */
static void perm_job_run(struct notify_job *nj)
{
	struct perm_job *j = (struct perm_job *)nj;
	struct perm *p = j->p;

	for (size_t i = 0; i < j->n; i++) {
		notify_kernel(p->se, p->t, &j->v[i]);
		if (i == 0) {
			pthread_mutex_lock(&p->mu);
			p->first_done = j->seq;
			pthread_cond_broadcast(&p->cv);
			pthread_mutex_unlock(&p->mu);
		}
	}
	tree_inval_free(j->v, j->n);
	free(j);
}

static bool perm_read_protect(void)
{
	FILE *f = fopen("/proc/sys/fs/protected_hardlinks", "re");
	int v = 1; /* unknown: the stricter rule */

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 1;
		fclose(f);
	}
	return v != 0;
}

int perm_start(struct tree *t, struct fuse_session *se, bool allow_other, const char *fuse_opts)
{
	struct perm *p;
	int r;

	if (perm_kernel_checks(allow_other, fuse_opts))
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->se = se;
	p->t = t;
	p->protect_links = perm_read_protect();
	r = notify_queue_start(&p->q);
	if (r) {
		free(p);
		return r;
	}
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* mono.h */
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	t->perm = p;
	return 0;
}

void perm_stop(struct tree *t)
{
	struct perm *p = t ? t->perm : NULL;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	notify_queue_stop(p->q); /* runs what is queued first */
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	t->perm = NULL;
	free(p);
}

/* Queues dir's names; waits (bounded) until its own entry is dropped. */
static void perm_forget_under(struct perm *p, struct inode *dir)
{
	struct perm_job *j = calloc(1, sizeof(*j));
	struct timespec due;
	uint64_t seq;
	bool own;

	if (!j || tree_names_under(p->t, dir, &j->v, &j->n) != 0) {
		free(j);
		log_msg(LOG_WARNING, "out of memory: names under a directory whose mode "
				     "changed stay cached until they time out");
		return;
	}
	if (j->n == 0) { /* the root, with nothing under it */
		tree_inval_free(j->v, 0);
		free(j);
		return;
	}
	own = j->v[0].parent != dir; /* the first is its entry in its parent */
	j->nj.run = perm_job_run;
	j->p = p;
	mono_deadline(&due, PERM_INVAL_WAIT_MS);
	pthread_mutex_lock(&p->mu);
	seq = j->seq = ++p->queued;
	notify_queue_push(p->q, &j->nj); /* its lock after mu */
	/* j is the thread's from here: it may be freed while we wait */
	while (own && p->first_done < seq && !p->stop &&
	       pthread_cond_timedwait(&p->cv, &p->mu, &due) == 0)
		;
	pthread_mutex_unlock(&p->mu);
}

/* ---- per operation: each returns 0 at once when the kernel checks ---- */

/* One rule on one inode: mask on ino for the caller of req. */
static int perm_on(fuse_req_t req, struct inode *ino, int mask)
{
	struct perm_cred c;
	struct tree_owner a;
	int r;

	if (!perm_of(req))
		return 0;
	tree_owner_of(ino, &a);
	perm_cred_init(&c, req);
	r = perm_may(&c, &a, mask);
	perm_cred_done(&c);
	return r;
}

int perm_op_lookup(fuse_req_t req, struct inode *dir) { return perm_on(req, dir, PERM_X); }

int perm_op_access(fuse_req_t req, struct inode *ino, int mask)
{
	int m =
	    (mask & R_OK ? PERM_R : 0) | (mask & W_OK ? PERM_W : 0) | (mask & X_OK ? PERM_X : 0);

	return m ? perm_on(req, ino, m) : 0; /* F_OK: the walk found it */
}

int perm_op_create(fuse_req_t req, struct inode *dir) { return perm_on(req, dir, PERM_W | PERM_X); }

int perm_op_opendir(fuse_req_t req, struct inode *dir) { return perm_on(req, dir, PERM_R); }

bool perm_op_plus(fuse_req_t req, struct inode *dir) { return perm_on(req, dir, PERM_X) == 0; }

int perm_op_remove(fuse_req_t req, struct inode *dir, const char *name)
{
	struct tree *t = fuse_req_userdata(req);
	struct perm_cred c;
	struct tree_owner d, v;
	int r;

	if (!t->perm)
		return 0;
	r = tree_owner_at(t, dir, name, &v);
	if (r)
		return r == -ENOENT ? 0 : r; /* the removal says ENOENT */
	tree_owner_of(dir, &d);
	perm_cred_init(&c, req);
	r = perm_delete(&c, &d, &v);
	perm_cred_done(&c);
	return r;
}

int perm_op_rename(fuse_req_t req, struct inode *odir, const char *oname, struct inode *ndir,
		   const char *nname, unsigned flags)
{
	struct tree *t = fuse_req_userdata(req);
	struct perm_cred c;
	struct tree_owner od, nd, src, dst;
	bool has_dst;
	int r;

	if (!t->perm)
		return 0;
	r = tree_owner_at(t, odir, oname, &src);
	if (r)
		return r == -ENOENT ? 0 : r; /* the rename says ENOENT */
	r = tree_owner_at(t, ndir, nname, &dst);
	if (r && r != -ENOENT)
		return r;
	has_dst = r == 0;
	/* EEXIST, and an exchange's ENOENT, come first (do_renameat2) */
	if ((has_dst && (flags & RENAME_NOREPLACE)) || (!has_dst && (flags & RENAME_EXCHANGE)))
		return 0;
	tree_owner_of(odir, &od);
	tree_owner_of(ndir, &nd);
	perm_cred_init(&c, req);
	r = perm_rename(&c, &od, &src, &nd, has_dst ? &dst : NULL, odir == ndir,
			(flags & RENAME_EXCHANGE) != 0);
	perm_cred_done(&c);
	return r;
}

int perm_op_link(fuse_req_t req, struct inode *file, struct inode *dir)
{
	struct perm *p = perm_of(req);
	struct perm_cred c;
	struct tree_owner f, d;
	int r;

	if (!p)
		return 0;
	tree_owner_of(file, &f);
	tree_owner_of(dir, &d);
	perm_cred_init(&c, req);
	r = perm_link(&c, &f, &d, p->protect_links);
	perm_cred_done(&c);
	return r;
}

int perm_op_open(fuse_req_t req, struct inode *ino, int flags)
{
	return perm_on(req, ino, perm_open_mask(flags));
}

int perm_op_setattr(fuse_req_t req, struct inode *ino, struct perm_setattr *sa)
{
	struct perm_cred c;
	struct tree_owner a;
	int r;

	if (!perm_of(req))
		return 0;
	tree_owner_of(ino, &a);
	perm_cred_init(&c, req);
	r = perm_setattr(&c, &a, sa);
	perm_cred_done(&c);
	sa->revokes = S_ISDIR(a.mode) && perm_revokes_search(&a, sa);
	return r;
}

void perm_op_setattr_done(fuse_req_t req, struct inode *ino, const struct perm_setattr *sa)
{
	struct perm *p = perm_of(req);

	if (p && sa->revokes && ino->type == DIROBJ_DIR)
		perm_forget_under(p, ino);
}

int perm_op_xattr(fuse_req_t req, struct inode *ino, const char *name, bool write)
{
	/* Only user.* asks the inode's permission (xattr_permission); the
	 * kernel itself refuses it on other types and in others' sticky
	 * directories. */
	if (strncmp(name, TREE_XATTR_PREFIX, strlen(TREE_XATTR_PREFIX)) != 0)
		return 0;
	return perm_on(req, ino, write ? PERM_W : PERM_R);
}

bool perm_kernel_checks(bool allow_other, const char *fuse_opts)
{
	const char *s = fuse_opts, *want = "default_permissions";
	size_t n = strlen(want);

	if (allow_other)
		return true;
	while (s && *s) {
		if (strncmp(s, want, n) == 0 && (s[n] == ',' || s[n] == '\0'))
			return true;
		s = strchr(s, ',');
		s = s ? s + 1 : NULL;
	}
	return false;
}
