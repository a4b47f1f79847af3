/* engine.h - opening a vault the one way there is (docs/INTERNALS.md,
 * "Mount"): the cache, the store's head checked against the rollback guard,
 * the journal replayed (a pending commit newer than the store's head is the
 * root), the tree, the uploader and the committer. fs/daemon/mount.c opens
 * the engine before it starts FUSE; the unit tests open the same engine
 * instead of a mount, so they run the code a mount runs. Also creates a new
 * vault's first tree (sealfs init needs no FUSE). Knows nothing of FUSE.
 *
 * Errors are negative errnos with a one-line reason in err (never a name,
 * content or key). */
#ifndef SEALFS_ENGINE_H
#define SEALFS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "backend.h"
#include "vault.h"

struct cache;
struct commit;
struct journal;
struct prefetch;
struct tree;
struct upload;

struct engine_opts {
	const char *cache_dir;	/* absolute; borrowed for the engine's life (the tree keeps it) */
	bool track_cache;	/* index the cache (cache_track) for --cache-size; the caller
				   sets the limit after engine_open, once the replay pinned
				   what the store lacks */
	unsigned store_wait_ms; /* commit_set_store_wait: fsync waits for the store; 0: never */
	/* A read-only mount: when another device wrote over this cache's commits
	 * not yet uploaded, mount them anyway (uploading nothing) instead of
	 * refusing, so their files can be copied out. */
	bool read_only;
};

/* Everything engine_open made; engine_close frees it. tree->commit is set. */
struct engine {
	struct cache *cache;
	struct journal *journal; /* the cache's: the committer writes, the uploader removes */
	struct tree *tree;
	struct commit *commit;	   /* journals through up */
	struct upload *up;	   /* started: drains the backlog of an earlier mount */
	struct prefetch *prefetch; /* read-ahead for a remote store; NULL for a local one */
	struct sweep *sweep;	   /* aborts abandoned uploads once (sweep.h); or NULL */
};

/* Opens the vault in store (borrowed, with cfg and keys: all must outlive
 * the engine) over the cache o->cache_dir: -EBUSY (another mount holds the
 * cache), -ENOENT (no head), -EBADMSG (a head or the root failed to
 * authenticate), -ESTALE (the store was rolled back, or another device
 * wrote over commits this cache has not uploaded: refused unless
 * o->read_only), the store's or cache's errno. On failure
 * nothing is left open and *e is zeroed. Not thread-safe (one opener). */
int engine_open(struct engine *e, struct backend *store, const struct vault_config *cfg,
		const struct vault_keys *keys, const struct engine_opts *o, char *err,
		size_t err_size);
/* Stops read-ahead and the uploader (records not yet stored stay in the
 * journal for the next open) and frees. Does not commit: the caller's last
 * commit_run and upload_drain come first. A zeroed *e is fine. */
void engine_close(struct engine *e);

/* Creates the empty root directory and the head (seq 1) of a new vault in
 * store, straight into the store: -EEXIST when it holds a head already. */
int engine_init_tree(struct backend *store, const struct vault_config *cfg,
		     const struct vault_keys *keys, char *err, size_t err_size);

/* Format 2: the head members of a head this device starts (a new vault's
 * first, or the one `sealfs upgrade` writes): a new random device id, the
 * host name as device name, the default retention, the time now; parent
 * is left as it is (zeros: no parent). docs/FORMAT.md, "Head". */
struct dirobj_head;
void engine_head_defaults(struct dirobj_head *head);

#endif
