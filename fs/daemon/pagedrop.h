/* pagedrop.h - dropping the kernel's page cache of a file written once: when
 * the last writable handle of a file that took at least PAGEDROP_MIN_BYTES
 * of writes, each byte of their span about once (a copy, a download, a
 * backup; not a database or a file edited in place), is released, a thread
 * of its own asks the kernel to forget the file's pages
 * (fuse_lowlevel_notify_inval_inode). Why: sealfs keeps pages
 * (keep_cache), so such a file would sit in RAM twice (plaintext pages and
 * the cache file's ciphertext pages), its plaintext would linger in RAM, and
 * unmounting (locking) would wait while the kernel frees it. The cost: a
 * read of it right after goes through the daemon again. Must never notify
 * from a request's thread (the kernel may wait on that request with the
 * inode locked), never hold its lock across a notify, never log a name. */
#ifndef SEALFS_PAGEDROP_H
#define SEALFS_PAGEDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops.h"

struct tree;

/* Bytes written through the writable opens of a file, from its first
 * writable open to its last release, from which its pages are dropped:
 * well above what editors, git, SQLite or a build write per file, and
 * where the pages the kernel frees at unmount start to cost (about 6 ms
 * per 64 MiB, docs/PERFORMANCE.md). */
#define PAGEDROP_MIN_BYTES (64ull << 20)

/* The drops of a mount. */
struct pagedrop;

/* Starts the drops of session se over t (sets t->pagedrop): 0, -ENOMEM or
 * a pthread error. pagedrop_stop (NULL-safe, idempotent) stops them before
 * the session is destroyed; drops still queued then are not made (the
 * unmount frees the pages). */
int pagedrop_start(struct tree *t, struct fuse_session *se);
void pagedrop_stop(struct tree *t);

/* A writable handle of node ino was opened (open or create). Thread-safe;
 * nothing when t has no drops or memory is short (the file keeps its
 * pages). */
void pagedrop_open(struct tree *t, fuse_ino_t ino);
/* n bytes were written to ino at off (a WRITE the daemon took).
 * Thread-safe. */
void pagedrop_write(struct tree *t, fuse_ino_t ino, uint64_t off, size_t n);
/* A writable handle of ino was released; at the last one, queues the drop
 * when the file was written once (above). Thread-safe; never waits for
 * the kernel. */
void pagedrop_release(struct tree *t, fuse_ino_t ino);

/* Whether writes of total bytes over the span [lo, hi) wrote a file once:
 * at least PAGEDROP_MIN_BYTES, within an eighth of the span (the kernel's
 * write-back sends a partial page again when it is filled, and WRITEs
 * handled by several threads reach the span's end a little ahead; a
 * database rewrites the same pages many times, a random writer leaves
 * holes). Pure. */
bool pagedrop_written_once(uint64_t total, uint64_t lo, uint64_t hi);

#endif
