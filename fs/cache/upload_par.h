/* upload_par.h - the uploader's parallel runner for store calls (internal to
 * fs/cache/upload.c). Knows nothing of stores or records. */
#ifndef SEALFS_UPLOAD_PAR_H
#define SEALFS_UPLOAD_PAR_H

#include <stddef.h>

#include "upload.h"

/* Runs fn(arg, i) for i in 0..n-1 on up to UPLOAD_THREADS + 1 threads (this
 * one included; fewer when a thread cannot start). Returns a new array of
 * the n results (NULL: -ENOMEM). Thread-safe if fn is. */
int *upload_parallel(int (*fn)(void *arg, size_t i), void *arg, size_t n);

#endif
