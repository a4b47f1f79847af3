/* fuse_io.c - the session's reads and writes of /dev/fuse (libfuse's custom
 * I/O), to offer FUSE_HANDLE_KILLPRIV_V2, which libfuse 3.14 does not know.
 *
 * Why: without it the kernel asks the daemon for the security.capability
 * xattr before every write(2) to a file (a GETXATTR round trip per write:
 * three in four requests of a SQLite run, one per write of `tar x`). With
 * it the kernel marks an inode S_NOSEC after one such check and asks again
 * only after the inode's attributes were refreshed; in exchange this file
 * system clears set-user-ID and set-group-ID itself where the kernel would
 * have: the kernel says so with a flag in the request (WRITE, SETATTR with
 * a size or an owner, OPEN and CREATE with O_TRUNC; a SETATTR left empty). The
 * read hook notes the flag of the request this thread is about to handle
 * (libfuse handles a request on the thread that read it);
 * fuse_io_kill_suidgid applies it.
 * security.capability itself never exists here (only user.* xattrs).
 *
 * It must never change a request, only read its header and flags, and never
 * offer the flag when the kernel did not. */
#include "fuse_io.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* One session per daemon process: the INIT exchange happens once. */
static struct {
	_Atomic uint64_t init_unique; /* unique of the INIT request, 0 before it */
	atomic_bool offered;	      /* the kernel offered KILLPRIV_V2 */
	atomic_bool active;	      /* we accepted it in the INIT reply */
	struct fuse_session *se;      /* set once by fuse_io_install */
} fuse_io_state;

/* The kill flag of the request the calling thread read last. */
static _Thread_local bool fuse_io_kill;

/* The 32-bit field at off of the request's argument of size need; 0 when
 * the request is too short (the kernel's to refuse: libfuse replies). */
static uint32_t fuse_io_u32(const void *buf, size_t n, size_t need, size_t off)
{
	uint32_t v = 0;

	if (n >= sizeof(struct fuse_in_header) + need)
		memcpy(&v, (const char *)buf + sizeof(struct fuse_in_header) + off, sizeof(v));
	return v;
}

/* Whether a SETATTR with these valid bits asks us to clear suid/sgid. Under
 * KILLPRIV_V2 the kernel strips its ATTR_KILL_* bits before it sends a
 * SETATTR and flags only a truncate and a chown with new ids; what is left
 * of its other kills is a SETATTR with nothing else in it: empty (its own
 * file_remove_privs, e.g. before a fallocate) or the ctime alone (a
 * chown(f, -1, -1), which clears set-user-ID on Linux; the kernel's write
 * back of file times always carries the mtime too). */
static bool fuse_io_setattr_kills(uint32_t valid)
{
	valid &= ~(uint32_t)(FATTR_FH | FATTR_LOCKOWNER);
	return (valid & FATTR_KILL_SUIDGID) || valid == 0 || valid == FATTR_CTIME;
}

/* Notes what this request asks of us. */
static void fuse_io_note(const void *buf, size_t n)
{
	struct fuse_in_header h;
	uint32_t v = 0;

	fuse_io_kill = false;
	if (n < sizeof(h))
		return;
	memcpy(&h, buf, sizeof(h));
	switch (h.opcode) {
	case FUSE_INIT:
		v = fuse_io_u32(buf, n, offsetof(struct fuse_init_in, flags) + 4,
				offsetof(struct fuse_init_in, flags));
		atomic_store(&fuse_io_state.offered, (v & FUSE_HANDLE_KILLPRIV_V2) != 0);
		atomic_store(&fuse_io_state.init_unique, h.unique);
		return;
	case FUSE_WRITE:
		v = fuse_io_u32(buf, n, sizeof(struct fuse_write_in),
				offsetof(struct fuse_write_in, write_flags)) &
		    FUSE_WRITE_KILL_SUIDGID;
		break;
	case FUSE_SETATTR:
		v = fuse_io_u32(buf, n, sizeof(struct fuse_setattr_in),
				offsetof(struct fuse_setattr_in, valid));
		v = n >= sizeof(h) + sizeof(struct fuse_setattr_in) && fuse_io_setattr_kills(v);
		break;
	case FUSE_OPEN:
		v = fuse_io_u32(buf, n, sizeof(struct fuse_open_in),
				offsetof(struct fuse_open_in, open_flags)) &
		    FUSE_OPEN_KILL_SUIDGID;
		break;
	case FUSE_CREATE:
		v = fuse_io_u32(buf, n, sizeof(struct fuse_create_in),
				offsetof(struct fuse_create_in, open_flags)) &
		    FUSE_OPEN_KILL_SUIDGID;
		break;
	default:
		return;
	}
	fuse_io_kill = v != 0 && atomic_load(&fuse_io_state.active);
}

static ssize_t fuse_io_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t r = read(fd, buf, len);

	(void)userdata;
	if (r > 0)
		fuse_io_note(buf, (size_t)r);
	return r;
}

/* Accepts KILLPRIV_V2 in the reply to INIT when the kernel offered it. */
static void fuse_io_patch_init(struct iovec *iov, int count)
{
	struct fuse_out_header h;
	uint64_t init = atomic_load(&fuse_io_state.init_unique);
	uint32_t flags;
	char *out;

	if (init == 0 || count < 2 || iov[0].iov_len < sizeof(h) ||
	    iov[1].iov_len < offsetof(struct fuse_init_out, flags) + 4)
		return;
	memcpy(&h, iov[0].iov_base, sizeof(h));
	if (h.unique != init || h.error != 0 || !atomic_load(&fuse_io_state.offered))
		return;
	out = (char *)iov[1].iov_base + offsetof(struct fuse_init_out, flags);
	memcpy(&flags, out, 4);
	flags |= FUSE_HANDLE_KILLPRIV_V2;
	memcpy(out, &flags, 4);
	atomic_store(&fuse_io_state.active, true);
	atomic_store(&fuse_io_state.init_unique, 0);
}

static ssize_t fuse_io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	(void)userdata;
	if (atomic_load(&fuse_io_state.init_unique) != 0)
		fuse_io_patch_init(iov, count);
	return writev(fd, iov, count);
}

int fuse_io_install(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {.read = fuse_io_read, .writev = fuse_io_writev};

	fuse_io_state.se = se;
	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}

int fuse_io_kill_suidgid(struct tree *t, struct inode *ino)
{
	struct tree_setattr sa = {.valid = TREE_SET_MODE};
	struct stat st;
	int r;

	if (!fuse_io_kill)
		return 0;
	fuse_io_kill = false;
	tree_getattr(t, ino, &st);
	sa.mode = fuse_io_killed_mode(st.st_mode);
	/* Any non-directory: a chown of a FIFO or a device clears them too, as on
	 * ext4 (the kernel never sends the flag for a directory). */
	if (S_ISDIR(st.st_mode) || sa.mode == st.st_mode)
		return 0;
	r = tree_setattr(t, ino, &sa);
	/* The kernel keeps the mode it cached (a WRITE or OPEN reply carries no
	 * attributes): make it ask again. Attributes only (offset -1), which
	 * takes no lock the kernel may hold while it waits for this request. A
	 * file is never the root, so its node id is its address. */
	if (r == 0 && fuse_io_state.se)
		fuse_lowlevel_notify_inval_inode(fuse_io_state.se, (fuse_ino_t)(uintptr_t)ino, -1,
						 0);
	return r;
}

mode_t fuse_io_killed_mode(mode_t mode)
{
	mode &= ~(mode_t)S_ISUID;
	if (mode & S_IXGRP)
		mode &= ~(mode_t)S_ISGID;
	return mode;
}
