/* mount_malloc.c - the daemon's malloc policy (mount.h), set once before
 * its threads start. It must never allocate or fail the mount: a refused
 * setting is one log line. */
#include "log.h"
#include "mount.h"

#include <malloc.h>

#define MOUNT_MMAP_THRESHOLD (1024 * 1024) /* = max_write: receive buffers are above it */
#define MOUNT_TRIM_THRESHOLD (1024 * 1024)
#define MOUNT_ARENA_MAX 4

/* glibc raises its mmap threshold each time a large block is freed, so after
 * the first FUSE worker exits (freeing its 1 MiB receive buffer) every later
 * worker's buffer comes from a per-thread arena, and each arena then keeps up
 * to twice that threshold resident after the free: ~2 MiB per arena, up to
 * 8 arenas per core. A fixed threshold keeps large buffers mmapped (given back
 * at free); read replies (128 KiB, at most 1 MiB) stay below it, in the
 * arenas, so a read does not mmap and fault its buffer in every time (that
 * cost 20 % of cold read throughput at 128 KiB). At most MOUNT_TRIM_THRESHOLD
 * stays free at the top of an arena, and fewer arenas bound the small-block
 * fragmentation across threads (the hot paths allocate little).
 * A sanitizer's malloc ignores mallopt: only a debug line then. */
void mount_malloc_policy(void)
{
	if (mallopt(M_MMAP_THRESHOLD, MOUNT_MMAP_THRESHOLD) != 1 ||
	    mallopt(M_TRIM_THRESHOLD, MOUNT_TRIM_THRESHOLD) != 1 ||
	    mallopt(M_ARENA_MAX, MOUNT_ARENA_MAX) != 1)
		log_msg(LOG_WARNING,
			"mallopt failed: the daemon may hold more memory than it needs");
}
