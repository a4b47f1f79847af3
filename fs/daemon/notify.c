/* notify.c - sd_notify for a Type=notify service, and the kernel's caches
 * after another device's changes (notify.h). It must never fail the mount: a
 * message systemd or the kernel does not take is dropped. */
#include "notify.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#define NOTIFY_STATUS_BYTES 256

void notify_ready(void) { (void)sd_notify(0, "READY=1\nSTATUS=mounted"); }

void notify_stopping(void)
{
	(void)sd_notify(0, "STOPPING=1\nSTATUS=unmounted: the last commit is being written");
}

void notify_status(const char *fmt, ...)
{
	char text[NOTIFY_STATUS_BYTES];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)sd_notifyf(0, "STATUS=%s", text);
}

static fuse_ino_t notify_node(const struct tree *t, const struct inode *ino)
{
	return ino == t->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)ino;
}

void notify_kernel(struct fuse_session *se, const struct tree *t, const struct tree_inval *v)
{
	if (v->name)
		(void)fuse_lowlevel_notify_inval_entry(se, notify_node(t, v->parent), v->name,
						       v->name_len);
	else
		(void)fuse_lowlevel_notify_inval_inode(se, notify_node(t, v->ino), 0, 0);
}
