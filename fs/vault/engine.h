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
#include "dirobj.h"
#include "head.h"
#include "lease.h"
#include "vault.h"

struct cache;
struct commit;
struct head_pin;
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
	/* The store's head against what this cache knows (docs/CLI.md, "mount";
	 * fs/vault/engine_pin.c). */
	const char *device_name; /* --device-name: this cache's device name, remembered in
				    the pin (head_device_name_ok); NULL: the remembered one,
				    else the host name */
	bool accept_store_head;	 /* a damaged, missing or contradicted pin does not refuse
				    the mount: the store's head is pinned */
	const uint8_t *expect;	 /* HEAD_FP_BYTES: --expect, the store's head must have this
				    fingerprint or name it as its parent; NULL: none */
	int64_t not_before;	 /* --not-before: seconds since the epoch the store's head
				    may not be older than (format 2); 0: none */
	/* --force: take the store's lease (fs/vault/lease.h) even from another
	 * device that holds it (format 2; a format-1 vault refuses it). */
	bool force;
};

/* What the store's head was when the engine opened (for `sealfs mount`'s
 * "last change" line); a format-1 head has no time or device. */
struct engine_head_info {
	int format;
	uint64_t seq;
	uint8_t fp[16]; /* HEAD_FP_BYTES */
	struct dirobj_time time;
	uint8_t device[OBJECT_ID_BYTES];
	char device_name[DIROBJ_DEVICE_NAME_MAX + 1];
};

/* Everything engine_open made; engine_close frees it. tree->commit is set. */
struct engine {
	struct cache *cache;
	struct journal *journal; /* the cache's: the committer writes, the uploader removes */
	struct tree *tree;
	struct commit *commit; /* journals through up */
	struct upload *up;     /* started: drains the backlog of an earlier mount */
	/* Read-ahead threads (any store; NULL if they failed to start): a
	 * directory's next files (tree_ahead.c), and for a remote store a
	 * file's next segments (content_ctx.prefetch). */
	struct prefetch *prefetch;
	struct sweep *sweep;	   /* aborts abandoned uploads once (sweep.h); or NULL */
	struct head_pin *pin;	   /* CACHE/state, advanced by the uploader */
	struct merge_store *merge; /* format 2: the uploader's merge hook (merge_store.h); the
				      daemon switches it off before the keys go */
	struct head_chain *chain;  /* format 2: the uploader's reseal hook (head_chain.h); off
				      with merge */
	struct engine_head_info store_head;
	/* A store that ignores conditional writes (format 2, read-write): this
	 * device's lease, NULL when none is needed (fs/vault/engine_lease.c). */
	struct lease *lease;
	enum head_cas cas; /* the mount's probe; HEAD_CAS_UNKNOWN: not asked */
	/* Another device held the lease: the engine opened read-only although
	 * the caller asked for read-write (the mount must be read-only too), and
	 * what that lease says (its device name: for the terminal only). */
	bool lease_read_only;
	struct lease_holder lease_holder;
};

/* Opens the vault in store (borrowed, with cfg and keys: all must outlive
 * the engine) over the cache o->cache_dir: -EBUSY (another mount holds the
 * cache), -ENOENT (no head), -EBADMSG (a head or the root failed to
 * authenticate), -ESTALE (the store was rolled back or holds another head
 * of the seq pinned, or another device wrote over commits this cache has
 * not uploaded: refused unless o->read_only), -EKEYREJECTED (the pin is
 * damaged or missing, or the head fails --expect or --not-before),
 * -EMEDIUMTYPE (--not-before or --force on a format-1 vault), the store's
 * or cache's errno. On a store that ignores conditional writes a read-write
 * open takes the store's lease (engine_lease.h); another device's opens
 * read-only (e->lease_read_only). On failure
 * nothing is left open and *e is zeroed. Not thread-safe (one opener). */
int engine_open(struct engine *e, struct backend *store, const struct vault_config *cfg,
		const struct vault_keys *keys, const struct engine_opts *o, char *err,
		size_t err_size);
/* Stops read-ahead and the uploader (records not yet stored stay in the
 * journal for the next open), deletes the store's lease if this device
 * holds it, and frees. Does not commit: the caller's last
 * commit_run and upload_drain come first. A zeroed *e is fine. */
void engine_close(struct engine *e);

/* The retention window a format-2 head carries (docs/FORMAT.md, "Head"):
 * "keep" and "gr", in seconds. */
struct engine_window {
	uint64_t keep;
	uint64_t grace;
};

/* Creates the empty root directory and the head (seq 1) of a new vault in
 * store, straight into the store: -EEXIST when it holds a head already. A
 * format-2 head gets window w (NULL: 30 days, a grace of 900 s; format 1
 * has none). */
int engine_init_tree(struct backend *store, const struct vault_config *cfg,
		     const struct vault_keys *keys, const struct engine_window *w, char *err,
		     size_t err_size);

/* Format 2: the head members of a head this device starts (a new vault's
 * first, or the one `sealfs upgrade` writes): a new random device id, the
 * host name as device name, the default retention, the time now; parent
 * is left as it is (zeros: no parent). docs/FORMAT.md, "Head". */
struct dirobj_head;
void engine_head_defaults(struct dirobj_head *head);

#endif
