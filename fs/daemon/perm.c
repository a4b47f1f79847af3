/* perm.c - the POSIX permission rules the daemon applies itself on a mount
 * without default_permissions (perm.h), each as the kernel's VFS would apply
 * it with default_permissions: generic_permission, may_delete, vfs_rename,
 * may_linkat, may_open and setattr_prepare. Pure functions of the caller and
 * the attributes; the caller's supplementary groups are fetched only when an
 * answer depends on them. It must never grant what the kernel's rule would
 * refuse, and never log a name. */
#include "perm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tree.h"

void perm_cred_init(struct perm_cred *c, fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	c->uid = ctx->uid;
	c->gid = ctx->gid;
	c->req = req;
	c->ngroups = -1;
	c->heap = NULL;
}

void perm_cred_given(struct perm_cred *c, uint32_t uid, uint32_t gid, const gid_t *groups, int n)
{
	c->uid = uid;
	c->gid = gid;
	c->req = NULL;
	c->heap = NULL;
	c->ngroups = n < PERM_GROUPS_INLINE ? n : PERM_GROUPS_INLINE;
	if (c->ngroups > 0)
		memcpy(c->inline_groups, groups, (size_t)c->ngroups * sizeof(gid_t));
}

void perm_cred_done(struct perm_cred *c)
{
	free(c->heap);
	c->heap = NULL;
}

/* Fetches the request's groups (from /proc, by libfuse); none on failure. */
static void perm_fetch_groups(struct perm_cred *c)
{
	int n = fuse_req_getgroups(c->req, PERM_GROUPS_INLINE, c->inline_groups);
	gid_t *big;

	c->ngroups = n < 0 ? 0 : n;
	if (n <= PERM_GROUPS_INLINE)
		return;
	big = malloc((size_t)n * sizeof(gid_t));
	if (big && fuse_req_getgroups(c->req, n, big) == n) {
		c->heap = big;
		return;
	}
	free(big);
	c->ngroups = PERM_GROUPS_INLINE; /* the first ones: fewer grants, never more */
}

bool perm_in_group(struct perm_cred *c, uint32_t gid)
{
	if (gid == c->gid)
		return true;
	if (c->ngroups < 0)
		perm_fetch_groups(c);
	const gid_t *g = c->heap ? c->heap : c->inline_groups;

	for (int i = 0; i < c->ngroups; i++)
		if (g[i] == gid)
			return true;
	return false;
}

static bool perm_owner_or_root(const struct perm_cred *c, const struct tree_owner *a)
{
	return c->uid == 0 || c->uid == a->uid;
}

int perm_may(struct perm_cred *c, const struct tree_owner *a, int mask)
{
	unsigned bits, grp, oth;

	mask &= PERM_R | PERM_W | PERM_X;
	if (c->uid == 0) /* CAP_DAC_OVERRIDE: execute needs some x bit, but not on a dir */
		return !(mask & PERM_X) || S_ISDIR(a->mode) || (a->mode & 0111) ? 0 : -EACCES;
	if (c->uid == a->uid) {
		bits = (a->mode >> 6) & 7;
	} else {
		grp = (a->mode >> 3) & 7;
		oth = a->mode & 7;
		/* The group class applies only to a member; ask for the groups
		 * only when it would give another answer. */
		if (((grp & (unsigned)mask) == (unsigned)mask) ==
		    ((oth & (unsigned)mask) == (unsigned)mask))
			bits = oth;
		else
			bits = perm_in_group(c, a->gid) ? grp : oth;
	}
	return (bits & (unsigned)mask) == (unsigned)mask ? 0 : -EACCES;
}

int perm_delete(struct perm_cred *c, const struct tree_owner *dir, const struct tree_owner *victim)
{
	int r = perm_may(c, dir, PERM_W | PERM_X);

	if (r)
		return r;
	/* check_sticky: CAP_FOWNER, the victim's or the directory's owner */
	if ((dir->mode & S_ISVTX) && !perm_owner_or_root(c, victim) && c->uid != dir->uid)
		return -EPERM;
	return 0;
}

int perm_rename(struct perm_cred *c, const struct tree_owner *odir, const struct tree_owner *src,
		const struct tree_owner *ndir, const struct tree_owner *dst, bool same_dir,
		bool exchange)
{
	int r = perm_delete(c, odir, src);

	if (r == 0)
		r = dst ? perm_delete(c, ndir, dst) : perm_may(c, ndir, PERM_W | PERM_X);
	if (r || same_dir)
		return r;
	/* A directory moving to another parent gets a new "..": W on it
	 * (and on the other one of an exchange). */
	if (S_ISDIR(src->mode) && (r = perm_may(c, src, PERM_W)) != 0)
		return r;
	if (exchange && dst && S_ISDIR(dst->mode))
		r = perm_may(c, dst, PERM_W);
	return r;
}

/* safe_hardlink_source: a regular file, not set-user-ID, not executable
 * set-group-ID, that c may read and write. */
static bool perm_safe_link(struct perm_cred *c, const struct tree_owner *file)
{
	if (!S_ISREG(file->mode) || (file->mode & S_ISUID))
		return false;
	if ((file->mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		return false;
	return perm_may(c, file, PERM_R | PERM_W) == 0;
}

int perm_link(struct perm_cred *c, const struct tree_owner *file, const struct tree_owner *dir,
	      bool protect)
{
	/* may_linkat comes before vfs_link's may_create (do_linkat) */
	if (protect && !perm_owner_or_root(c, file) && !perm_safe_link(c, file))
		return -EPERM;
	return perm_may(c, dir, PERM_W | PERM_X);
}

int perm_open_mask(int flags)
{
	static const int acc[4] = {PERM_R, PERM_W, PERM_R | PERM_W, PERM_R | PERM_W};
	/* execve's open asks for X alone (do_open_execat: MAY_EXEC) */
	int mask = (flags & PERM_FMODE_EXEC) ? PERM_X : acc[flags & O_ACCMODE];

	return (flags & O_TRUNC) ? mask | PERM_W : mask;
}

int perm_open(struct perm_cred *c, const struct tree_owner *a, int flags)
{
	return perm_may(c, a, perm_open_mask(flags));
}

/* chown_ok: root, or the owner "changing" it to itself. */
static int perm_chown(const struct perm_cred *c, const struct tree_owner *a, uint32_t uid)
{
	return c->uid == 0 || (c->uid == a->uid && uid == a->uid) ? 0 : -EPERM;
}

/* chgrp_ok: root, or the owner giving it to a group he is in (or the one
 * it has). */
static int perm_chgrp(struct perm_cred *c, const struct tree_owner *a, uint32_t gid)
{
	if (c->uid == 0)
		return 0;
	return c->uid == a->uid && (gid == a->gid || perm_in_group(c, gid)) ? 0 : -EPERM;
}

/* Whether a mode change only clears set-user-ID/set-group-ID bits: what the
 * kernel sends itself (fuse_setattr's ATTR_KILL_SUID/SGID, without a
 * handle) when a non-owner writes or truncates such a file. */
static bool perm_kill_only(const struct tree_owner *a, uint32_t mode)
{
	uint32_t old = a->mode & 07777, new = mode & 07777;

	return new != old && (new & ~old) == 0 &&
	       ((old ^ new) & ~(uint32_t)(S_ISUID | S_ISGID)) == 0;
}

static int perm_chmod(struct perm_cred *c, const struct tree_owner *a, struct perm_setattr *sa)
{
	uint32_t gid = (sa->valid & TREE_SET_GID) ? sa->gid : a->gid;

	if (!perm_owner_or_root(c, a)) {
		/* Clearing privilege bits may be the kernel's kill on a write:
		 * allowed to whoever may write (W, or an open handle). */
		if (perm_kill_only(a, sa->mode) && (sa->fh || perm_may(c, a, PERM_W) == 0))
			return 0;
		return -EPERM;
	}
	if (c->uid != 0 && !perm_in_group(c, gid)) /* CAP_FSETID */
		sa->mode &= ~(uint32_t)S_ISGID;
	return 0;
}

/* Times: the owner or root set any. Anyone else needs W (but for ctime
 * alone, below): under the
 * write-back cache the kernel sends utimensat's UTIME_NOW, and its own
 * mtime flush, as explicit times, so "now needs W, explicit times need the
 * owner" cannot be told apart (docs/POSIX.md). With a handle: the kernel's
 * flush for a writer. */
static int perm_times(struct perm_cred *c, const struct tree_owner *a,
		      const struct perm_setattr *sa)
{
	const unsigned other = TREE_SET_ATIME | TREE_SET_ATIME_NOW | TREE_SET_MTIME_NOW;
	bool same_mtime =
	    !(sa->valid & TREE_SET_MTIME) ||
	    (sa->mtime.tv_sec == a->mtime.sec && sa->mtime.tv_nsec == (long)a->mtime.nsec);

	/* Changing no time but ctime is the kernel's own flush of a change it
	 * allowed (a rename or unlink of the file: fuse_flush_time_update
	 * sends the mtime it has, unchanged; a refusal would stick to the
	 * file's mapping as a later fsync's error). */
	if (perm_owner_or_root(c, a) || sa->fh || (!(sa->valid & other) && same_mtime))
		return 0;
	return perm_may(c, a, PERM_W);
}

bool perm_revokes_search(const struct tree_owner *a, const struct perm_setattr *sa)
{
	if ((sa->valid & TREE_SET_UID) && sa->uid != a->uid)
		return true;
	if ((sa->valid & TREE_SET_GID) && sa->gid != a->gid)
		return true;
	return (sa->valid & TREE_SET_MODE) && (a->mode & 0111 & ~sa->mode) != 0;
}

int perm_setattr(struct perm_cred *c, const struct tree_owner *a, struct perm_setattr *sa)
{
	const unsigned times = TREE_SET_ATIME | TREE_SET_MTIME | TREE_SET_CTIME |
			       TREE_SET_ATIME_NOW | TREE_SET_MTIME_NOW;
	int r = 0;

	/* truncate(2) checks W before it asks (vfs_truncate); ftruncate's
	 * handle was checked at open */
	if ((sa->valid & TREE_SET_SIZE) && !sa->fh)
		r = perm_may(c, a, PERM_W);
	if (r == 0 && (sa->valid & TREE_SET_UID))
		r = perm_chown(c, a, sa->uid);
	if (r == 0 && (sa->valid & TREE_SET_GID))
		r = perm_chgrp(c, a, sa->gid);
	if (r == 0 && (sa->valid & TREE_SET_MODE))
		r = perm_chmod(c, a, sa);
	if (r == 0 && (sa->valid & times))
		r = perm_times(c, a, sa);
	return r;
}
