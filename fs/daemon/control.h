/* control.h - the daemon's control socket (docs/INTERNALS.md, "Control
 * socket"): one thread answers `sealfs status` and `sealfs sync` over a unix
 * stream socket in the runtime directory (fs/util/runtime.h), one JSON line each
 * way (fs/daemon/control_proto.h). Knows nothing of FUSE.
 *
 * The socket is mode 0600 inside the 0700 runtime directory, and a peer whose
 * uid (SO_PEERCRED) is neither the daemon's nor root gets an error reply. A
 * request is at most CONTROL_PROTO_REQUEST_MAX bytes and must arrive within
 * CONTROL_READ_MS; connections are served one at a time. Replies hold counts
 * and sizes only, never a name. */
#ifndef SEALFS_CONTROL_H
#define SEALFS_CONTROL_H

#include "cache.h"
#include "commit.h"
#include "journal.h"
#include "lease.h"
#include "tree.h"
#include "upload.h"

#define CONTROL_READ_MS 3000u /* a client that has not sent its line by then is dropped */

/* What the control thread reads and drives; all borrowed, and must outlive
 * control_stop. */
struct poll;
struct control_deps {
	struct tree *tree;
	struct commit *commit;
	struct upload *up;
	struct cache *cache;
	struct journal *journal; /* the cache's open journal: scanned for status */
	struct lease *lease;	 /* the store's lease (lease.h); NULL: none needed */
	struct poll *poll;	 /* the poll of the store's head (poll_head.h); NULL: none */
	const char *store_url;	 /* where: the store (a local one absolute), or NULL */
	const char *cache_dir;	 /* where: the cache directory (absolute), or NULL */
};

struct control;

/* Binds the control socket of the mount at mountpoint (its real path; the
 * socket goes where runtime_sock_path says; a stale socket there is
 * replaced), makes it 0600, and starts the thread with every signal blocked.
 * *out is new. 0, -ENAMETOOLONG (the path does not fit a sockaddr_un), or
 * -errno. */
int control_start(struct control **out, const char *mountpoint, const struct control_deps *deps);
/* Stops the thread (a request in progress finishes first), removes the
 * socket and frees. NULL is fine. */
void control_stop(struct control *c);

#endif
