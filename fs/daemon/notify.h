/* notify.h - telling others what changed: systemd how the mount is
 * (sd_notify: READY=1, STATUS=, STOPPING=1) when it runs as a Type=notify
 * service (systemd/sealfs@.service; without $NOTIFY_SOCKET those calls do
 * nothing), and the kernel which cached names and inodes another device's
 * changes made stale (fuse_lowlevel_notify_inval_entry / _inval_inode).
 * Thread-safe. Never puts a name or a key in a message: counts and errnos
 * only. */
#ifndef SEALFS_NOTIFY_H
#define SEALFS_NOTIFY_H

#include "ops.h"
#include "tree_refresh.h"

/* READY=1 with a STATUS= line: the mount is up. */
void notify_ready(void);
/* STOPPING=1: the mount is going (its last commit and upload follow). */
void notify_stopping(void);
/* STATUS=<printf text>. */
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The kernel forgets v's name (an entry of v->parent) or v->ino's attributes
 * and cached pages (tree_refresh.h). Must be called with no lock held and
 * never from a FUSE request (the kernel may wait on a request in progress).
 * Errors (an id the kernel does not hold: ENOENT) are ignored. */
void notify_kernel(struct fuse_session *se, const struct tree *t, const struct tree_inval *v);

#endif
