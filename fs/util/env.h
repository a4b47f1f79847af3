/* env.h - tuning knobs read from the daemon's environment (SEALFS_INODE_CAP,
 * SEALFS_DRAIN_GIVE_UP_S, SEALFS_UPLOAD_GATHER_MS; docs/CLI.md). A knob never holds a secret; a
 * value that is not a count is logged (its name only) and the default used. */
#ifndef SEALFS_ENV_H
#define SEALFS_ENV_H

#include <stdint.h>

/* The decimal count in environment variable name, or dflt when it is unset,
 * empty, not a decimal count, or above max (one warning logged then). */
uint64_t env_count(const char *name, uint64_t dflt, uint64_t max);

#endif
