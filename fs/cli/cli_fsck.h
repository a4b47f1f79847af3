/* cli_fsck.h - internal to `sealfs fsck` (fs/cli/cli_fsck*.c): finding
 * whether the vault is in use on this machine (a mount of it, its cache
 * locked or holding commits the store does not have), and printing the
 * checker's findings. Names from the vault go to stdout only, never to the
 * log. */
#ifndef SEALFS_CLI_FSCK_H
#define SEALFS_CLI_FSCK_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "chunk.h"
#include "fsck.h"

/* ---- cli_fsck_busy.c ---- */

/* A mount of the vault on this machine. */
struct cli_fsck_mount {
	char mnt[PATH_MAX];
	bool rw;
};

/* Looks through this machine's sealfs mounts (/proc/self/mountinfo) for one
 * of vault_id: its daemon's pid file (fs/util/runtime.h), then the cache
 * whose lock the daemon holds open and whose state file names the vault.
 * 1 found (a read-write one first), 0 none, or a negative errno. Mounts
 * whose daemon cannot be inspected (another user's) are not found. */
int cli_fsck_find_mount(const uint8_t vault_id[OBJECT_ID_BYTES], struct cli_fsck_mount *m);

/* Takes the lock of the cache at dir as a mount does (so no mount can open
 * it meanwhile): 0 with *fd to close later, 0 with *fd = -1 when dir has no
 * cache, -EWOULDBLOCK when a mount holds it, or another negative errno. */
int cli_fsck_cache_lock(const char *dir, int *fd);

/* How many journal records of the cache at dir have a head seq above seq:
 * commits no store has yet (docs/FORMAT.md, "Cache"). Never writes. */
uint64_t cli_fsck_cache_pending(const char *dir, uint64_t seq);

/* For a command that writes a new head without a mount (upgrade, config):
 * refuses while the vault is mounted on this machine (exit 15, "unmount it
 * before <doing>") or its cache (cache_arg, NULL: the default one, path
 * into cache) is locked by a mount (exit 15); else takes that lock (*fd to
 * close later, -1 when there is no cache) so no mount starts from it
 * meanwhile. 0 or an exit code after one line. */
int cli_fsck_claim(const char *doing, const uint8_t vault_id[OBJECT_ID_BYTES],
		   const char *cache_arg, char cache[PATH_MAX], int *fd);

/* Refuses (exit 14, one line) when the cache at dir holds commits above
 * seq: their upload would build on the head the command replaces. */
int cli_fsck_refuse_pending(const char *dir, uint64_t seq);

/* ---- cli_fsck_out.c ---- */

struct cli_fsck_out;

/* A new printer: one line per finding on stdout, or (json) one document at
 * the end; a progress line on stderr when it is a terminal (progress).
 * NULL when out of memory. */
struct cli_fsck_out *cli_fsck_out_new(bool json, bool progress);
/* The fsck_opts callbacks; arg is the printer. */
void cli_fsck_out_report(void *arg, const struct fsck_problem *p);
void cli_fsck_out_progress(void *arg, const struct fsck_counts *c);
/* Prints the summary (or the JSON document) for res with exit code code. */
void cli_fsck_out_finish(struct cli_fsck_out *o, const struct fsck_result *res,
			 const struct fsck_opts *opts, int code);
void cli_fsck_out_free(struct cli_fsck_out *o);

#endif
