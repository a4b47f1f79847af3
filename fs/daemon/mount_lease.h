/* mount_lease.h - internal to fs/daemon/mount*.c: what a mount tells
 * `sealfs mount` about the store: the lease (fs/vault/lease.h) and the last
 * change of its head. */
#ifndef SEALFS_MOUNT_LEASE_H
#define SEALFS_MOUNT_LEASE_H

#include <stdbool.h>

#include "engine.h"

/* When another device's lease made the mount read-only: one line naming
 * that device up the startup pipe fd as "I<line>\n" (printed by `sealfs
 * mount`), or to stdout in the foreground (fd -1). Never logged: the name
 * is the user's label (the engine logged the line without it). */
void mount_lease_line(int fd, const struct engine *e);
/* Sends line (n bytes, "I" first when fd >= 0) up the startup pipe fd, or
 * prints it on stdout in the foreground (fd -1); logs one warning naming
 * what when the pipe refuses it. For the lines `sealfs mount` prints. */
void mount_tell(int fd, const char *line, int n, const char *what);
/* "last change DATE by NAME" of the store's head (format 2; never logged:
 * the name is the user's label), through mount_tell. */
void mount_last_change(int fd, const struct engine_head_info *h);
/* Whether the uploader's stop (upload_stats.conflict) is the lease's:
 * another device holds it. */
bool mount_lease_stopped(const struct engine *e);

#endif
