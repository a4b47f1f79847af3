/* local.h - the local-directory store: one file per object, STORE/<key>.
 * Writes go through STORE/.tmp and a rename, so no reader and no crash ever
 * sees a torn object; sync() makes every earlier put and del durable. */
#ifndef SEALFS_LOCAL_H
#define SEALFS_LOCAL_H

#include <stddef.h>

#include "backend.h"

/* Opens the store in directory dir (a path; relative paths are resolved now).
 * opts may be NULL; with opts->create the directory is created (mkdir -p,
 * mode 0700) when missing. The store must be readable; when it is not
 * writable the open still succeeds, err says so and writes fail with -EACCES.
 * Returns 0 and a new *out (free with backend_destroy), or -ENOENT (missing),
 * -ENOTDIR, -EACCES, -ENOMEM with a one-line reason in err. Removes temporary
 * files older than an hour left in STORE/.tmp by a crash. */
int local_backend_open(struct backend **out, const char *dir, const struct backend_opts *opts,
		       char *err, size_t err_size);

#endif
