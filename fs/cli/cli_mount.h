/* cli_mount.h - internal to `sealfs mount` (fs/cli/cli_mount*.c): the
 * startup pipe by which the forked daemon tells the waiting parent whether
 * the mount is up. The pipe carries, in order, any lines libfuse printed to
 * the daemon's stderr, then either the byte '0' at the start of a line
 * (mounted; written by fsmount_run through mount_opts.ready_fd) or one line
 * "E<code> <message>". Never anything secret. */
#ifndef SEALFS_CLI_MOUNT_H
#define SEALFS_CLI_MOUNT_H

#include <sys/types.h>

/* Sends "E<code> <message>\n" up the startup pipe fd; with fd -1 (in the
 * foreground) prints the message instead. Returns code. */
int cli_mount_report(int fd, int code, const char *msg);

/* In the parent: reads the pipe fd (closes it) until the daemon pid says
 * it mounted (EXITCODE_OK) or failed (reaps it, prints its message and
 * returns its exit code). */
int cli_mount_wait(pid_t pid, int fd);

#endif
