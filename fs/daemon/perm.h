/* perm.h - the POSIX permission checks the daemon makes itself on a mount
 * without default_permissions (a single-user mount: docs/SECURITY.md,
 * "Another local user"), the rules of the kernel's generic_permission and
 * of fs/namei.c, fs/attr.c and fs/xattr.c for the caller of one request.
 * With default_permissions (allow_other, or asked for) the kernel checks and
 * the daemon does not: struct tree's perm is then NULL and no rule runs.
 *
 * The rules (perm.c) are pure functions of a caller and attributes, each
 * 0 or a negative errno, unit-tested over tables (tests/fs/test_perm.c). The
 * per-operation glue (perm_ops.c) reads the caller from the request and the
 * attributes from the tree, and hands the kernel's cached names under a
 * directory whose mode or owner changed to a thread that tells the kernel
 * (never from a request's own thread). Nothing here logs a name. */
#ifndef SEALFS_PERM_H
#define SEALFS_PERM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "ops.h"
#include "tree_perm.h"

/* The access bits of a check (the kernel's MAY_READ, MAY_WRITE, MAY_EXEC). */
#define PERM_R 4
#define PERM_W 2
#define PERM_X 1

/* The open flag of an execve's open (the kernel's __FMODE_EXEC). */
#define PERM_FMODE_EXEC 0x20

/* Supplementary groups kept inline; more are malloc'ed. */
#define PERM_GROUPS_INLINE 32

/* Who asks: the request's fsuid/fsgid, and its supplementary groups,
 * fetched (fuse_req_getgroups) only when an answer depends on them. One
 * request's; not thread-safe; perm_cred_done frees what it fetched. */
struct perm_cred {
	uint32_t uid, gid;
	fuse_req_t req; /* NULL: the groups below are given (tests) */
	int ngroups;	/* -1: not fetched yet */
	gid_t *heap;	/* malloc'ed when they are more than fit inline; else NULL */
	gid_t inline_groups[PERM_GROUPS_INLINE];
};

/* The caller of req (groups not fetched yet). */
void perm_cred_init(struct perm_cred *c, fuse_req_t req);
/* A caller with the given groups (n of them, copied up to the inline size). */
void perm_cred_given(struct perm_cred *c, uint32_t uid, uint32_t gid, const gid_t *groups, int n);
void perm_cred_done(struct perm_cred *c);
/* Whether c is in group gid (primary or supplementary; a failed fetch of the
 * groups counts as none: it denies, never grants). */
bool perm_in_group(struct perm_cred *c, uint32_t gid);

/* ---- the rules (perm.c); a: the inode's attributes ---- */

/* generic_permission: mask of PERM_* on a. uid 0 may read and write
 * anything, search any directory, and execute what has some x bit. 0 or
 * -EACCES. */
int perm_may(struct perm_cred *c, const struct tree_owner *a, int mask);
/* Removing or replacing victim in dir (may_delete): W and X on dir, then
 * the sticky rule (-EPERM unless c owns victim or dir, or is root). */
int perm_delete(struct perm_cred *c, const struct tree_owner *dir, const struct tree_owner *victim);
/* A rename (vfs_rename): src in odir to ndir, replacing dst (NULL: none);
 * exchange: RENAME_EXCHANGE. */
int perm_rename(struct perm_cred *c, const struct tree_owner *odir, const struct tree_owner *src,
		const struct tree_owner *ndir, const struct tree_owner *dst, bool same_dir,
		bool exchange);
/* A new hard link to file (may_linkat with fs.protected_hardlinks =
 * protect, then W and X on dir). */
int perm_link(struct perm_cred *c, const struct tree_owner *file, const struct tree_owner *dir,
	      bool protect);
/* An open of a regular file with open(2) flags (an execve's: X alone):
 * perm_may with perm_open_mask(flags), the access bits the flags ask for. */
int perm_open(struct perm_cred *c, const struct tree_owner *a, int flags);
int perm_open_mask(int flags);

/* What a setattr asks (the TREE_SET_* bits of valid, tree.h). */
struct perm_setattr {
	unsigned valid;
	uint32_t mode, uid, gid; /* mode: perm_setattr may clear S_ISGID in it */
	struct timespec mtime;	 /* with TREE_SET_MTIME */
	bool fh;		 /* carries an open handle (ftruncate, the kernel's own flush) */
	bool revokes;		 /* set by perm_op_setattr: perm_revokes_search */
};
/* setattr_prepare's rules as the kernel would apply them without FUSE's
 * ATTR_FORCE; see perm.c for each. 0, -EPERM or -EACCES. */
int perm_setattr(struct perm_cred *c, const struct tree_owner *a, struct perm_setattr *sa);
/* Whether sa may take away a search (X) permission someone had on a: an x
 * bit cleared, or another owner or group. Only then must the kernel forget
 * the names it cached under a directory (adding bits revokes nothing). */
bool perm_revokes_search(const struct tree_owner *a, const struct perm_setattr *sa);

/* ---- per operation (perm_ops.c): 0 or a negative errno ---- */

struct tree;
struct inode;

/* The daemon's checks of a mount (NULL when the kernel checks). */
struct perm;
/* Starts the checks for session se over t (sets t->perm) unless the kernel
 * checks (perm_kernel_checks: then nothing, t->perm stays NULL); 0 or
 * -ENOMEM / a pthread error. perm_stop stops them (before the session is
 * destroyed). */
int perm_start(struct tree *t, struct fuse_session *se, bool allow_other, const char *fuse_opts);
/* Whether the kernel checks (default_permissions): with allow_other, or
 * when -o asked for it (fuse_opts: a comma-separated list, or NULL). */
bool perm_kernel_checks(bool allow_other, const char *fuse_opts);
void perm_stop(struct tree *t);

int perm_op_lookup(fuse_req_t req, struct inode *dir);
int perm_op_access(fuse_req_t req, struct inode *ino, int mask);
int perm_op_create(fuse_req_t req, struct inode *dir);
int perm_op_remove(fuse_req_t req, struct inode *dir, const char *name);
int perm_op_rename(fuse_req_t req, struct inode *odir, const char *oname, struct inode *ndir,
		   const char *nname, unsigned flags);
int perm_op_link(fuse_req_t req, struct inode *file, struct inode *dir);
int perm_op_open(fuse_req_t req, struct inode *ino, int flags);
int perm_op_opendir(fuse_req_t req, struct inode *dir);
/* Whether readdirplus may hand the kernel entries of dir (X on dir: else
 * the kernel would walk through them without a LOOKUP). */
bool perm_op_plus(fuse_req_t req, struct inode *dir);
int perm_op_setattr(fuse_req_t req, struct inode *ino, struct perm_setattr *sa);
/* After a successful setattr: a directory whose change revokes a search
 * permission (sa->revokes) has the kernel's names under it dropped. */
void perm_op_setattr_done(fuse_req_t req, struct inode *ino, const struct perm_setattr *sa);
/* getxattr (write false) and setxattr/removexattr (write true) of name. */
int perm_op_xattr(fuse_req_t req, struct inode *ino, const char *name, bool write);

#endif
