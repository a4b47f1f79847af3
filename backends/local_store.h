/* local_store.h - internal to the local-directory store (backends/local*.c):
 * the store's state and the calls its files share. local.c holds the vtable
 * and open/destroy; local_path.c keys, errno mapping and temporary files;
 * local_io.c the object calls; local_list.c listing; local_sync.c what sync
 * must flush and sync itself; local_cas.c versions and put_if. Nothing outside backends/local*.c
 * includes it. */
#ifndef SEALFS_LOCAL_STORE_H
#define SEALFS_LOCAL_STORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "backend.h"

#define LOCAL_KEY_MAX_BYTES 255
#define LOCAL_TMP_DIR ".tmp"
#define LOCAL_TMP_SUFFIX ".tmp"
#define LOCAL_TMP_RANDOM_BYTES 16
/* ".tmp/" + 32 hex + ".tmp" + NUL */
#define LOCAL_TMP_NAME_BYTES (5 + 2 * LOCAL_TMP_RANDOM_BYTES + 4 + 1)
#define LOCAL_STALE_TMP_SECONDS 3600
#define LOCAL_DIR_MODE 0700
#define LOCAL_FILE_MODE 0600
#define LOCAL_COPY_BUF_BYTES (128 * 1024) /* read/write fallback buffer */
#define LOCAL_COPY_RANGE_BYTES (1u << 30) /* one copy_file_range call */
#define LOCAL_SYNCFS_MIN 64u /* from this many files and directories to flush, one syncfs */

/* A set of strings: directories relative to the store root ("o/ab"), or keys;
 * linear search is enough: sealfs uses about 260 directories. */
struct local_dirset {
	char **dirs; /* owned strings */
	size_t n, cap;
};

struct local_store {
	struct backend base;	    /* first: the table gets a struct backend */
	int root_fd;		    /* the store directory; constant after open */
	pthread_mutex_t dirty_lock; /* protects dirty and linked */
	struct local_dirset dirty;  /* directories whose entries changed since the last sync */
	struct local_dirset linked; /* keys put_file linked, data not flushed since */
	pthread_mutex_t sync_lock;  /* held through a whole sync, so each one is a full barrier */
};

static inline struct local_store *local_of(struct backend *b) { return (struct local_store *)b; }

/* ---- local_path.c: keys, errors, temporary files ---- */

/* Maps an errno (positive) from a write path to the store's error codes
 * (negative): ENOSPC/EDQUOT -> -ENOSPC, EROFS/EACCES/EPERM -> -EACCES. */
int local_errno(int e);
/* The same for a lookup: a path through a file or a missing path is a
 * missing object (-ENOENT). */
int local_lookup_errno(int e);
/* backend.h key rules, plus what a directory tree needs: no empty or "."
 * component, and nothing under the store's own LOCAL_TMP_DIR. 0 or -EINVAL. */
int local_key_check(const char *key);
/* Opens the directory holding path (relative to the root) one component at a
 * time, never following a symbolic link nor opening a FIFO or device; with
 * create, makes missing directories (0700). *dir_fd: a new fd; *leaf points
 * into path at its last component. -ENOENT a component is missing (or a
 * regular file), -EIO a component is a link, FIFO, device or socket (planted:
 * the store never makes those). */
int local_parent_open(struct local_store *s, const char *path, int create, int *dir_fd,
		      const char **leaf);
/* What leaf under dir_fd is, without following it (st filled): 0 a regular
 * file, 1 a directory, -ENOENT missing, -EIO anything else. */
int local_leaf_kind(int dir_fd, const char *leaf, struct stat *st);
/* Creates a new temporary file: its name into tmp, a write fd into *fd. */
int local_tmp_create(struct local_store *s, char tmp[LOCAL_TMP_NAME_BYTES], int *fd);
/* Hard-links path under a fresh temporary name. Returns 0, 1 when linking is
 * impossible here (another filesystem, link limits: the caller copies), or a
 * negative errno. */
int local_tmp_link(struct local_store *s, const char *path, char tmp[LOCAL_TMP_NAME_BYTES]);
/* Removes temporary file tmp (best effort). */
void local_tmp_unlink(struct local_store *s, const char *tmp);
/* Renames temporary file tmp over key, creating the parent directories when
 * missing, and remembers the parent for sync. */
int local_publish(struct local_store *s, const char *tmp, const char *key);
/* Makes temporary file fd durable (r: the result of writing it so far),
 * closes it and publishes it as key; on any failure the temporary file is
 * removed. */
int local_finish(struct local_store *s, const char *tmp, int fd, int r, const char *key);
/* Opens object key for reading: a regular file; -ENOENT missing or a
 * directory, -EIO a link, FIFO or device (never followed or opened). */
int local_open_object(struct local_store *s, const char *key, int *fd, struct stat *st);
/* Removes LOCAL_TMP_DIR files a crash left behind (older than an hour). */
void local_tmp_clean(struct local_store *s);

/* ---- local_sync.c: what the next sync flushes ---- */

/* Remembers the directory holding path and its ancestors for the next sync;
 * without memory for that, fsyncs them now. */
int local_dirty_note(struct local_store *s, const char *path);
/* Remembers key (linked from the file at path) for the next sync's flush;
 * without memory for that, flushes that file now. */
int local_linked_note(struct local_store *s, const char *key, const char *path);
void local_dirset_free(struct local_dirset *set);

/* ---- the vtable's calls (backend.h), each in the file of its concern ---- */

int local_put(struct backend *b, const char *key, const void *data, size_t len);
int local_put_file(struct backend *b, const char *key, const char *path);
int local_get(struct backend *b, const char *key, uint64_t off, size_t len, unsigned char **out,
	      size_t *out_len);
int local_get_to_fd(struct backend *b, const char *key, int fd, uint64_t max, uint64_t *size);
int local_head(struct backend *b, const char *key, uint64_t *size);
int local_del(struct backend *b, const char *key);
int local_list(struct backend *b, const char *prefix, backend_list_cb cb, void *arg);
int local_sync(struct backend *b);
int local_make_dir(struct backend *b, const char *dir);			 /* local_path.c */
int local_stored_time(struct backend *b, const char *key, int64_t *sec); /* local_time.c */
/* local_cas.c: versions are BLAKE2b-256 of the bytes; put_if under a flock
 * on STORE/<key>.lock. */
int local_get_version(struct backend *b, const char *key, size_t max, unsigned char **out,
		      size_t *out_len, struct backend_version *ver);
int local_put_if(struct backend *b, const char *key, const void *data, size_t len,
		 const struct backend_version *expect, struct backend_version *out);

#endif
