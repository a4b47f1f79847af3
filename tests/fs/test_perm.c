/* test_perm.c - the daemon's permission rules (fs/daemon/perm.c) over
 * tables of callers, attributes and requests, each against what the kernel's
 * VFS answers with default_permissions (generic_permission, may_delete,
 * vfs_rename, may_linkat, may_open, setattr_prepare). Pure: no mount. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "check.h"
#include "perm.h"
#include "tree.h"

#define ME 1000
#define MYGID 1000
#define OTHER 1001
#define SUPP 2000 /* a supplementary group of ME's */
#define NOTMINE 3000

static struct perm_cred who(uint32_t uid)
{
	static const gid_t groups[] = {SUPP, 2001};
	struct perm_cred c;

	perm_cred_given(&c, uid, uid == 0 ? 0 : MYGID, groups, 2);
	return c;
}

static struct tree_owner file(uint32_t mode, uint32_t uid, uint32_t gid)
{
	return (struct tree_owner){.mode = S_IFREG | mode, .uid = uid, .gid = gid};
}

static struct tree_owner dir(uint32_t mode, uint32_t uid, uint32_t gid)
{
	return (struct tree_owner){.mode = S_IFDIR | mode, .uid = uid, .gid = gid};
}

static void test_may(void)
{
	static const struct {
		uint32_t caller;
		bool is_dir;
		uint32_t mode, uid, gid;
		int mask, want;
	} cases[] = {
	    {ME, false, 0644, ME, MYGID, PERM_R | PERM_W, 0},
	    {ME, false, 0644, ME, MYGID, PERM_X, -EACCES},
	    {ME, false, 0444, ME, MYGID, PERM_W, -EACCES},
	    {ME, false, 0077, ME, MYGID, PERM_R, -EACCES}, /* the owner class only */
	    {ME, false, 0100, ME, MYGID, PERM_X, 0},
	    {ME, false, 0640, OTHER, MYGID, PERM_R, 0}, /* primary group */
	    {ME, false, 0640, OTHER, MYGID, PERM_W, -EACCES},
	    {ME, false, 0640, OTHER, SUPP, PERM_R, 0}, /* supplementary group */
	    {ME, false, 0640, OTHER, NOTMINE, PERM_R, -EACCES},
	    {ME, false, 0604, OTHER, NOTMINE, PERM_R, 0},    /* other */
	    {ME, false, 0607, OTHER, SUPP, PERM_R, -EACCES}, /* a member gets the group class */
	    {ME, true, 0600, ME, MYGID, PERM_X, -EACCES},
	    {ME, true, 0000, ME, MYGID, PERM_R, -EACCES},
	    {ME, true, 0555, ME, MYGID, PERM_W | PERM_X, -EACCES},
	    {ME, true, 0755, ME, MYGID, PERM_W | PERM_X, 0},
	    {0, false, 0000, ME, MYGID, PERM_R | PERM_W, 0}, /* CAP_DAC_OVERRIDE */
	    {0, false, 0644, ME, MYGID, PERM_X, -EACCES},    /* but exec needs an x bit */
	    {0, false, 0001, ME, MYGID, PERM_X, 0},
	    {0, true, 0000, ME, MYGID, PERM_R | PERM_W | PERM_X, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct perm_cred c = who(cases[i].caller);
		struct tree_owner a = cases[i].is_dir
					  ? dir(cases[i].mode, cases[i].uid, cases[i].gid)
					  : file(cases[i].mode, cases[i].uid, cases[i].gid);
		int r = perm_may(&c, &a, cases[i].mask);

		CHECKF(r == cases[i].want, "may case %zu: %d, want %d", i, r, cases[i].want);
		perm_cred_done(&c);
	}
}

static void test_delete_rename(void)
{
	struct perm_cred me = who(ME), other = who(OTHER), root = who(0);
	struct tree_owner sticky = dir(01777, 0, 0), mine = file(0644, ME, MYGID);
	struct tree_owner open_dir = dir(0777, 0, 0), ro_dir = dir(0555, ME, MYGID);
	struct tree_owner my_sticky = dir(01777, OTHER, 0), sub = dir(0555, ME, MYGID);

	CHECK_RC(perm_delete(&me, &sticky, &mine), 0);
	CHECK_RC(perm_delete(&other, &sticky, &mine), -EPERM);
	CHECK_RC(perm_delete(&other, &my_sticky, &mine), 0); /* the directory's owner */
	CHECK_RC(perm_delete(&root, &sticky, &mine), 0);
	CHECK_RC(perm_delete(&other, &open_dir, &mine), 0);
	CHECK_RC(perm_delete(&me, &ro_dir, &mine), -EACCES);
	CHECK_RC(perm_delete(&root, &ro_dir, &mine), 0);

	/* rename: out of a read-only directory, into one, a replaced target
	 * in a sticky directory, a directory moving parents */
	CHECK_RC(perm_rename(&me, &ro_dir, &mine, &open_dir, NULL, false, false), -EACCES);
	CHECK_RC(perm_rename(&me, &open_dir, &mine, &ro_dir, NULL, false, false), -EACCES);
	CHECK_RC(perm_rename(&other, &open_dir, &mine, &sticky, &mine, false, false), -EPERM);
	CHECK_RC(perm_rename(&me, &open_dir, &sub, &open_dir, NULL, true, false), 0);
	CHECK_RC(perm_rename(&me, &open_dir, &sub, &sticky, NULL, false, false), -EACCES);
	CHECK_RC(perm_rename(&me, &open_dir, &mine, &sticky, &sub, false, false), 0);
	CHECK_RC(perm_rename(&me, &open_dir, &mine, &sticky, &sub, false, true), -EACCES);
	CHECK_RC(perm_rename(&root, &open_dir, &sub, &sticky, &sub, false, true), 0);
	perm_cred_done(&me);
	perm_cred_done(&other);
	perm_cred_done(&root);
}

static void test_link_open(void)
{
	struct perm_cred me = who(ME), root = who(0);
	struct tree_owner d = dir(0777, 0, 0), ro = dir(0555, 0, 0);
	struct tree_owner theirs = file(0600, OTHER, NOTMINE), shared = file(0666, OTHER, NOTMINE);
	struct tree_owner suid = file(04666, OTHER, NOTMINE), mine = file(0600, ME, MYGID);

	CHECK_RC(perm_link(&me, &theirs, &d, true), -EPERM);
	CHECK_RC(perm_link(&me, &theirs, &d, false), 0);
	CHECK_RC(perm_link(&me, &shared, &d, true), 0);
	CHECK_RC(perm_link(&me, &suid, &d, true), -EPERM);
	CHECK_RC(perm_link(&me, &mine, &d, true), 0);
	CHECK_RC(perm_link(&me, &mine, &ro, true), -EACCES);
	CHECK_RC(perm_link(&root, &theirs, &d, true), 0);

	struct tree_owner r = file(0444, ME, MYGID), w = file(0200, ME, MYGID);
	struct tree_owner x = file(0100, ME, MYGID), plain = file(0644, ME, MYGID);

	CHECK_RC(perm_open(&me, &r, O_RDONLY), 0);
	CHECK_RC(perm_open(&me, &r, O_WRONLY), -EACCES);
	CHECK_RC(perm_open(&me, &r, O_RDWR), -EACCES);
	CHECK_RC(perm_open(&me, &r, O_RDONLY | O_TRUNC), -EACCES);
	CHECK_RC(perm_open(&me, &w, O_RDONLY), -EACCES);
	CHECK_RC(perm_open(&me, &w, O_WRONLY | O_TRUNC), 0);
	CHECK_RC(perm_open(&me, &plain, O_RDONLY | PERM_FMODE_EXEC), -EACCES);
	CHECK_RC(perm_open(&me, &x, O_RDONLY | PERM_FMODE_EXEC), 0); /* X alone */
	CHECK_RC(perm_open(&root, &plain, O_RDONLY | PERM_FMODE_EXEC), -EACCES);
	CHECK_RC(perm_open(&root, &w, O_RDWR), 0);
	perm_cred_done(&me);
	perm_cred_done(&root);
}

static int setattr(uint32_t caller, struct tree_owner a, unsigned valid, uint32_t mode,
		   uint32_t uid, uint32_t gid, bool fh, uint32_t *mode_out)
{
	struct perm_cred c = who(caller);
	struct perm_setattr sa = {.valid = valid, .mode = mode, .uid = uid, .gid = gid, .fh = fh};
	int r = perm_setattr(&c, &a, &sa);

	perm_cred_done(&c);
	if (mode_out)
		*mode_out = sa.mode;
	return r;
}

/* A time change to mtime sec.nsec. */
static int setattr_t(uint32_t caller, struct tree_owner a, unsigned valid, long sec, long nsec)
{
	struct perm_cred c = who(caller);
	struct perm_setattr sa = {.valid = valid, .mtime = {.tv_sec = sec, .tv_nsec = nsec}};
	int r = perm_setattr(&c, &a, &sa);

	perm_cred_done(&c);
	return r;
}

static void test_setattr(void)
{
	struct tree_owner mine = file(0644, ME, MYGID), theirs = file(0644, OTHER, NOTMINE);
	struct tree_owner open_theirs = file(0666, OTHER, NOTMINE);
	struct tree_owner ro_mine = file(0444, ME, MYGID), in_other = file(0644, ME, NOTMINE);
	struct tree_owner priv = file(06777, OTHER, NOTMINE), priv_ro = file(06755, OTHER, NOTMINE);
	const unsigned times = TREE_SET_ATIME | TREE_SET_MTIME;
	uint32_t m = 0;

	CHECK_RC(setattr(ME, mine, TREE_SET_MODE, 0600, 0, 0, false, NULL), 0);
	CHECK_RC(setattr(ME, theirs, TREE_SET_MODE, 0600, 0, 0, false, NULL), -EPERM);
	CHECK_RC(setattr(0, theirs, TREE_SET_MODE, 02600, 0, 0, false, &m), 0);
	CHECK(m == 02600);
	CHECK_RC(setattr(ME, in_other, TREE_SET_MODE, 02755, 0, 0, false, &m), 0);
	CHECK(m == 0755); /* not in the group: S_ISGID dropped */
	CHECK_RC(setattr(ME, mine, TREE_SET_MODE, 02755, 0, 0, false, &m), 0);
	CHECK(m == 02755);
	CHECK_RC(setattr(ME, mine, TREE_SET_MODE | TREE_SET_GID, 02755, 0, NOTMINE, false, &m),
		 -EPERM);
	/* the kernel's own kill of set-id bits on a non-owner's write */
	CHECK_RC(setattr(ME, priv, TREE_SET_MODE, 0777, 0, 0, false, NULL), 0);
	CHECK_RC(setattr(ME, priv_ro, TREE_SET_MODE, 0755, 0, 0, false, NULL), -EPERM);
	CHECK_RC(setattr(ME, priv_ro, TREE_SET_MODE, 0755, 0, 0, true, NULL), 0);
	CHECK_RC(setattr(ME, priv, TREE_SET_MODE, 06777, 0, 0, false, NULL), -EPERM);
	CHECK_RC(setattr(ME, priv, TREE_SET_MODE, 0677, 0, 0, false, NULL), -EPERM);
	/* owner and group */
	CHECK_RC(setattr(ME, mine, TREE_SET_UID, 0, OTHER, 0, false, NULL), -EPERM);
	CHECK_RC(setattr(ME, mine, TREE_SET_UID, 0, ME, 0, false, NULL), 0);
	CHECK_RC(setattr(0, mine, TREE_SET_UID, 0, OTHER, 0, false, NULL), 0);
	CHECK_RC(setattr(ME, mine, TREE_SET_GID, 0, 0, SUPP, false, NULL), 0);
	CHECK_RC(setattr(ME, mine, TREE_SET_GID, 0, 0, NOTMINE, false, NULL), -EPERM);
	CHECK_RC(setattr(ME, theirs, TREE_SET_GID, 0, 0, MYGID, false, NULL), -EPERM);
	/* size and times */
	CHECK_RC(setattr(ME, ro_mine, TREE_SET_SIZE, 0, 0, 0, false, NULL), -EACCES);
	CHECK_RC(setattr(ME, ro_mine, TREE_SET_SIZE, 0, 0, 0, true, NULL), 0);
	CHECK_RC(setattr(ME, open_theirs, TREE_SET_SIZE, 0, 0, 0, false, NULL), 0);
	CHECK_RC(setattr(ME, ro_mine, times, 0, 0, 0, false, NULL), 0);
	CHECK_RC(setattr(ME, theirs, times, 0, 0, 0, false, NULL), -EACCES);
	CHECK_RC(setattr(ME, theirs, times, 0, 0, 0, true, NULL), 0);
	CHECK_RC(setattr(ME, open_theirs, TREE_SET_MTIME_NOW, 0, 0, 0, false, NULL), 0);
	/* the kernel's flush: ctime, and the mtime it has (unchanged) */
	theirs.mtime = (struct dirobj_time){.sec = 5, .nsec = 6};
	CHECK_RC(setattr(ME, theirs, TREE_SET_CTIME, 0, 0, 0, false, NULL), 0);
	CHECK_RC(setattr_t(ME, theirs, TREE_SET_MTIME | TREE_SET_CTIME, 5, 6), 0);
	CHECK_RC(setattr_t(ME, theirs, TREE_SET_MTIME | TREE_SET_CTIME, 5, 7), -EACCES);
	CHECK_RC(setattr_t(ME, theirs, TREE_SET_ATIME | TREE_SET_MTIME, 5, 6), -EACCES);
}

static void test_revokes(void)
{
	struct tree_owner d = dir(0755, ME, MYGID);
	struct perm_setattr more = {.valid = TREE_SET_MODE, .mode = 0777};
	struct perm_setattr same_x = {.valid = TREE_SET_MODE, .mode = 0711};
	struct perm_setattr less = {.valid = TREE_SET_MODE, .mode = 0754};
	struct perm_setattr none = {.valid = TREE_SET_MODE, .mode = 0};
	struct perm_setattr own = {.valid = TREE_SET_UID | TREE_SET_GID, .uid = ME, .gid = MYGID};
	struct perm_setattr chown = {.valid = TREE_SET_UID, .uid = OTHER};
	struct perm_setattr chgrp = {.valid = TREE_SET_GID, .gid = SUPP};
	struct perm_setattr times = {.valid = TREE_SET_MTIME};

	CHECK(!perm_revokes_search(&d, &more));
	CHECK(!perm_revokes_search(&d, &same_x));
	CHECK(perm_revokes_search(&d, &less));
	CHECK(perm_revokes_search(&d, &none));
	CHECK(!perm_revokes_search(&d, &own));
	CHECK(perm_revokes_search(&d, &chown));
	CHECK(perm_revokes_search(&d, &chgrp));
	CHECK(!perm_revokes_search(&d, &times));
}

static void test_kernel_checks(void)
{
	CHECK(perm_kernel_checks(true, NULL));
	CHECK(!perm_kernel_checks(false, NULL));
	CHECK(!perm_kernel_checks(false, ""));
	CHECK(perm_kernel_checks(false, "default_permissions"));
	CHECK(perm_kernel_checks(false, "noatime,default_permissions"));
	CHECK(perm_kernel_checks(false, "default_permissions,noatime"));
	CHECK(!perm_kernel_checks(false, "default_permissionsx"));
	CHECK(!perm_kernel_checks(false, "xdefault_permissions"));
}

int main(void)
{
	test_may();
	test_delete_rename();
	test_link_open();
	test_setattr();
	test_revokes();
	test_kernel_checks();
	return check_done("perm");
}
