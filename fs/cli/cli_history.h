/* cli_history.h - what `sealfs history` and `sealfs restore` share
 * (fs/cli/cli_history*.c, cli_restore.c): finding the vault behind
 * MOUNTPOINT/PATH (the mount's daemon tells its store and cache over the
 * control socket, "where"), making the store hold the mount's commits
 * first ("sync"), unlocking the vault like every command, reading its
 * retained heads (fs/vault/history_view.h), and printing a version's time.
 * Errors as cli_util.h: an exit code after one line. Not thread-safe (the
 * CLI is single-threaded). Never logs a name; names are printed to the
 * caller's own stdout only. */
#ifndef SEALFS_CLI_HISTORY_H
#define SEALFS_CLI_HISTORY_H

#include <limits.h>
#include <stdbool.h>

#include "cli_opts.h"
#include "cli_util.h"
#include "history_view.h"

#define CLI_HISTORY_SYNC_S 60 /* how long the store gets to take the mount's commits */

/* One vault behind a path on a mount. Zero it first; cli_history_close. */
struct cli_history {
	const char *arg;     /* the MOUNTPOINT/PATH argument, for messages */
	char mnt[PATH_MAX];  /* the mount point (real path) */
	char path[PATH_MAX]; /* PATH inside the vault, '/' separated, no leading '/' ("" root) */
	char store[PATH_MAX];
	char cache[PATH_MAX];
	struct cli_vault v;
	struct history_view *view;
};

/* Resolves arg (which need not exist any more) to its sealfs mount and the
 * path inside it, asks the daemon where its store is, and has it commit and
 * upload (a store that does not take the commits within CLI_HISTORY_SYNC_S
 * gets a warning: newer versions are then missing). 0 or an exit code. */
int cli_history_locate(struct cli_history *h, const char *arg);

/* Opens the store and its config; refuses a format-1 vault (exit 22, "NAME
 * needs a format-2 vault (sealfs upgrade)"); unlocks as how says; reads the
 * retained heads. 0 or an exit code. */
int cli_history_open(struct cli_history *h, const char *cmd, const struct cli_unlock *how);

void cli_history_close(struct cli_history *h);

/* t as local "YYYY-MM-DD HH:MM:SS" (sep ' ') or "YYYY-MM-DD HHMMSS" (for a
 * restored name: no ':'). out holds 32 bytes. */
void cli_history_time(char *out, size_t size, const struct dirobj_time *t, bool for_name);

/* The exit code and message of a history_view error r (< 0). */
int cli_history_error(const struct cli_history *h, int r, const char *what);

#endif
