/* par.h - spreading the chunks of one large request over the CPUs: the
 * caller works through indices 0..n-1 and a few pool threads (one fewer than
 * the online CPUs, at most PAR_THREADS_MAX) join in when idle. Used for the
 * sealing and opening of the chunks of a 1 MiB read or write, which is what
 * bounds streaming on one core. Knows nothing of files or crypto. */
#ifndef SEALFS_PAR_H
#define SEALFS_PAR_H

#include <stddef.h>

#define PAR_THREADS_MAX 3u
/* Below this many indices the caller does them alone (a hand-off costs a
 * wake-up, about as much as sealing a few chunks). */
#define PAR_MIN 32u

/* Runs fn(arg, i) for every i in [0, n), on this thread and on idle pool
 * threads, and returns once all are done: 0, or the first non-zero value fn
 * returned (the others still run). fn must be safe to run concurrently for
 * different i. Never fails for lack of threads: without any, the caller does
 * everything. */
int par_run(int (*fn)(void *arg, size_t i), void *arg, size_t n);

#endif
