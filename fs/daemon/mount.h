/* mount.h - running a mounted vault: the entry point from the CLI into the
 * FUSE driver. */
#ifndef SEALFS_MOUNT_H
#define SEALFS_MOUNT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "vault.h"

/* How long the kernel may cache entries, negative entries and attributes
 * (--entry-timeout; a regular file's attributes at most 1 s, fs/daemon/ops.c):
 * every change reaches it through a request of its own or
 * as an invalidation (another device's, tree_refresh.h; the inode cap's), so
 * a longer time costs no correctness, and saves the LOOKUPs after it. */
#define MOUNT_ENTRY_TIMEOUT_DEFAULT_S 30u
#define MOUNT_ENTRY_TIMEOUT_MAX_S 3600u

struct mount_opts {
	const char *mountpoint; /* absolute, existing, empty directory */
	const char *cache_dir;	/* absolute */
	const char *store_url;	/* the store as opened (a local one absolute), for the control
				   socket's where (sealfs history, restore); NULL: unknown */
	bool read_only;
	bool allow_other;
	bool fsync_store;	    /* fsync waits until the commit is in the store */
	const char *fuse_opts;	    /* extra -o options for libfuse, or NULL */
	unsigned commit_delay_ms;   /* write-back delay before a background commit */
	unsigned idle_lock_s;	    /* unmount (lock) after this long without requests; 0: never */
	unsigned poll_s;	    /* format 2: read the store's head this often; 0: never */
	unsigned entry_timeout_s;   /* the kernel caches entries and attributes this long */
	uint64_t cache_size;	    /* --cache-size in bytes; 0: no limit */
	unsigned cache_full_wait_s; /* how long a writer waits for room before ENOSPC */
	int ready_fd;		  /* one byte '0' written once mounted, then closed; -1 for none */
	const char *pending_path; /* at exit: commits left for the next mount ("N\n"), or
				     removed when none; NULL for none */
	const char *name;	  /* the mount's source is "sealfs:<name>" (findmnt, df, file
				     managers); checked by mount_name_ok; NULL: "sealfs" */
	unsigned lock_on;	  /* LOCK_ON_* (lock_bus.h): lock on suspend / screen lock */
	/* The store's head against the pin (engine.h, engine_opts). */
	const char *device_name; /* --device-name, or NULL */
	bool accept_store_head;	 /* --accept-store-head */
	const uint8_t *expect;	 /* --expect: 16 bytes, or NULL */
	int64_t not_before;	 /* --not-before: seconds since the epoch; 0: none */
	bool force;		 /* --force: take the store's lease from another device */
};

/* The checks before a mount (fs/daemon/mount_check.c), run by `sealfs mount`
 * before it asks for the passphrase and by fsmount_run before it mounts.
 * Each returns 0, or a negative errno with a one-line reason in err.
 * mount_check_fuse: /dev/fuse opens read-write and is a character device
 * (-ENODEV, "no FUSE: ..."). mount_check_point: arg is an existing directory
 * (-ENOENT, -ENOTDIR), not a dead mount (-ENOTCONN), not already a mount
 * point (-EBUSY), and empty (-ENOTEMPTY); real gets its real path. */
int mount_check_fuse(char *err, size_t err_size);
int mount_check_point(const char *arg, char real[PATH_MAX], char *err, size_t err_size);

/* Whether name may be a mount's name: 1 to MOUNT_NAME_MAX bytes of UTF-8
 * without control characters, ',', '\\' or '='. */
#define MOUNT_NAME_MAX 64
bool mount_name_ok(const char *name);

/* The FUSE arguments of a mount with opts (mount_name.c): the name, subtype,
 * default_permissions only with allow_other (the daemon checks otherwise:
 * perm.h), ro, then -o's own. 0 or -ENOMEM. */
struct fuse_args;
int mount_fuse_args(struct fuse_args *args, const struct mount_opts *o);

/* Mounts and serves until unmounted, then commits everything and uploads it
 * to the store (commits the store does not take within a bound stay in the
 * cache's journal and are uploaded at the next mount) and returns 0. Takes
 * ownership of keys (wiped before return). On a failure before the mount is
 * up returns a negative errno with a one-line reason in err. Once mounted,
 * a format-2 vault's "last change DATE by NAME" line goes up ready_fd as
 * "I<line>" before the '0' (printed to stdout in the foreground), and so
 * does the line saying the mount is read-only because another device holds
 * the store's lease (fs/vault/lease.h). */
/* The daemon's malloc policy (mount_malloc.c): large buffers mmapped, few
 * arenas, bounded trim; a refusal is logged. Call once, before threads. */
void mount_malloc_policy(void);

int fsmount_run(struct backend *store, const struct vault_config *cfg, struct vault_keys *keys,
		const struct mount_opts *opts, char *err, size_t err_size);

#endif
