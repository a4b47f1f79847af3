/* cli_mount.h - internal to `sealfs mount` (fs/cli/cli_mount*.c): the
 * startup pipe by which the forked daemon tells the waiting parent whether
 * the mount is up. The pipe carries, in order, any lines libfuse printed to
 * the daemon's stderr and lines "I<text>" (the store's last change, printed
 * by the parent once mounted), then either the byte '0' at the start of a
 * line (mounted; written by fsmount_run through mount_opts.ready_fd) or one
 * line "E<code> <message>". Never anything secret. */
#ifndef SEALFS_CLI_MOUNT_H
#define SEALFS_CLI_MOUNT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Sends "E<code> <message>\n" up the startup pipe fd; with fd -1 (in the
 * foreground) prints the message instead. Returns code. */
int cli_mount_report(int fd, int code, const char *msg);

/* In the parent: reads the pipe fd (closes it) until the daemon pid says
 * it mounted (EXITCODE_OK) or failed (reaps it, prints its message and
 * returns its exit code). */
int cli_mount_wait(pid_t pid, int fd, bool quiet);

/* The options about the store's head (fs/cli/cli_mount_head.c). */
enum {
	CLI_MOUNT_OPT_DEVICE_NAME = 1000,
	CLI_MOUNT_OPT_ACCEPT,
	CLI_MOUNT_OPT_EXPECT,
	CLI_MOUNT_OPT_NOT_BEFORE,
	CLI_MOUNT_OPT_FORCE,
};
struct cli_mount_head {
	const char *device_name; /* --device-name, or NULL */
	bool accept_store_head;
	bool has_expect;
	uint8_t expect[16]; /* HEAD_FP_BYTES */
	int64_t not_before; /* 0: none */
	bool force;	    /* --force: take the store's lease from another device */
};
/* One of those options (c: CLI_MOUNT_OPT_*): 0, a usage error's exit code
 * (printed), or -1 for another option. */
int cli_mount_head_option(struct cli_mount_head *h, int c, const char *val);
/* A date for --not-before: "@SECONDS", "YYYY-MM-DD" or "YYYY-MM-DD
 * HH:MM[:SS]" ('T' also between), in local time unless followed by "Z",
 * "UTC" or "+hh[:mm]"/"-hh[:mm]" (one space allowed before it: what `sealfs
 * mount` prints). *out seconds since the epoch. 0 or -1. Pure but for the
 * local time zone. */
int cli_parse_date(int64_t *out, const char *s);

#endif
