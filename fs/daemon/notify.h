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

/* ---- The notification queue (fs/daemon/notify_queue.c) ----
 * A thread that runs jobs telling the kernel what a request's thread must
 * not (the kernel may be waiting on that request with an inode or a
 * directory locked): page drops (pagedrop.h), names to forget (perm.h).
 * Jobs run one at a time, in order, with no lock of the queue held. */
struct notify_job {
	struct notify_job *next; /* the queue's */
	/* Does the job and frees it. */
	void (*run)(struct notify_job *j);
	/* Frees it undone, for a job still queued at notify_queue_stop; NULL:
	 * such a job is run then instead. */
	void (*drop)(struct notify_job *j);
};
struct notify_queue;

/* Starts a queue and its thread (*out new): 0, -ENOMEM or a pthread error. */
int notify_queue_start(struct notify_queue **out);
/* Queues j (the queue's until run or dropped). Thread-safe; never waits
 * for the kernel; may be called with the caller's own lock held. */
void notify_queue_push(struct notify_queue *q, struct notify_job *j);
/* Stops the thread once its job in progress is done, runs or drops what is
 * still queued (notify_job.drop) and frees q. NULL is fine. Called before
 * the session the jobs tell is destroyed. */
void notify_queue_stop(struct notify_queue *q);

#endif
