/* backend.h - the object store interface: flat keys to opaque ciphertext
 * objects. A backend knows nothing of keys, names or the format; fs/ talks to
 * every store through this table and branches on capabilities only.
 *
 * Keys are ASCII: [a-z0-9._/-], no leading '/', no "..", at most 255 bytes.
 * Errors are negative errnos: -ENOENT no such object, -EACCES bad credentials,
 * -EIO/-ETIMEDOUT/-ECONNREFUSED network trouble, -ENOSPC store full,
 * -EPROTO a malformed server reply, -EFBIG an object larger than the caller
 * said it can be, -ESTALE (put_if only) the object is not at the version the
 * caller expected. Every call is thread-safe.
 *
 * Bounded reads: the store is not trusted, so nothing it returns may be
 * larger than the caller expects. get is bounded by its len (backend_get_max
 * asks for one byte more than the bound and refuses what fills it);
 * get_to_fd takes the bound itself (max). A store must never write or
 * allocate much more than that for one object, whatever the object's size
 * or a server's reply claims. */
#ifndef SEALFS_BACKEND_H
#define SEALFS_BACKEND_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "secmem.h"

struct backend;

/* Capabilities. */
enum {
	BACKEND_CAP_LOCAL_FS = 1u << 0, /* objects are files: put_file may hard-link */
	BACKEND_CAP_RANGE = 1u << 1,	/* get with a byte range is cheap */
	BACKEND_CAP_PUT_IF = 1u << 2,	/* get_version and put_if are there */
	/* put_if's condition is evaluated by a server, which may ignore it (an
	 * S3 implementation from before conditional writes): ask
	 * backend_probe_put_if before trusting it. Without this bit the store
	 * itself makes put_if atomic (the local store: a lock file). */
	BACKEND_CAP_PUT_IF_PROBE = 1u << 3,
};

/* Which version of an object a store holds, as the store names it: opaque
 * bytes, equal exactly when the object was not replaced in between. The S3
 * store: the ETag, quotes included; the local store: BLAKE2b-256 of the
 * object's bytes (a sealed head has a random nonce, so two heads never hash
 * alike). len 0 means "absent": put_if then creates the object only if there
 * is none. */
#define BACKEND_VERSION_MAX 128
struct backend_version {
	size_t len;
	unsigned char v[BACKEND_VERSION_MAX];
};

/* Uploads begun this long ago or earlier and never finished are abandoned:
 * a running upload (another device's too) finishes within minutes. */
#define BACKEND_STALE_UPLOAD_AGE_S (24 * 3600)

/* What backend_ops.stale_uploads found. */
struct backend_stale {
	unsigned stale;	  /* begun at least min_age_s ago */
	unsigned aborted; /* of those, aborted (do_abort) */
	unsigned young;	  /* begun since: left alone, another device may be writing */
};

/* Called once per listed object; return non-zero to stop (that value is returned). */
typedef int (*backend_list_cb)(void *arg, const char *key, uint64_t size);

struct backend_ops {
	const char *name; /* "local", "s3": for messages only */
	unsigned caps;
	/* Reads len bytes at off (len 0: to the end) into a new malloc'ed *out of
	 * *out_len bytes. -ENOENT if missing. */
	int (*get)(struct backend *b, const char *key, uint64_t off, size_t len,
		   unsigned char **out, size_t *out_len);
	/* Writes the whole object into fd from its current offset; returns bytes
	 * via *size. An object of more than max bytes (BACKEND_NO_MAX: no bound)
	 * is refused with -EFBIG, having written at most max + 1 bytes (the
	 * caller discards what was written). */
	int (*get_to_fd)(struct backend *b, const char *key, int fd, uint64_t max, uint64_t *size);
	/* Stores data atomically (readers see the old or the new object, never a
	 * torn one). Durable once backend_ops.sync returns. */
	int (*put)(struct backend *b, const char *key, const void *data, size_t len);
	/* Stores the content of the file at path (a ciphertext cache file that will
	 * not change again) atomically; BACKEND_CAP_LOCAL_FS stores may link it. */
	int (*put_file)(struct backend *b, const char *key, const char *path);
	/* Deletes; a missing object is not an error. */
	int (*del)(struct backend *b, const char *key);
	/* Size of an object; -ENOENT if missing. */
	int (*head)(struct backend *b, const char *key, uint64_t *size);
	/* Lists every object whose key starts with prefix. */
	int (*list)(struct backend *b, const char *prefix, backend_list_cb cb, void *arg);
	/* Barrier: every put and del that returned before is durable when this returns. */
	int (*sync)(struct backend *b);
	/* Closes and frees. */
	void (*destroy)(struct backend *b);
	/* When object key was stored, as Unix seconds (for a local store the
	 * later of the file's mtime and ctime: a linked cache file counts from
	 * its link); -ENOENT if missing. NULL: this store cannot tell (sealfs
	 * fsck then deletes orphans only with --grace 0). */
	int (*stored_time)(struct backend *b, const char *key, int64_t *sec);
	/* BACKEND_CAP_PUT_IF (NULL otherwise; for small objects such as the
	 * head): the whole object, at most max bytes (-EFBIG beyond), into a
	 * new malloc'ed *out of *out_len bytes, with the version of exactly
	 * those bytes in *ver. -ENOENT if missing. */
	int (*get_version)(struct backend *b, const char *key, size_t max, unsigned char **out,
			   size_t *out_len, struct backend_version *ver);
	/* BACKEND_CAP_PUT_IF: compare-and-swap. Stores data as put does, but
	 * only if key still holds version *expect (expect->len 0: only if key
	 * does not exist); *out gets the new version. -ESTALE when key holds
	 * another version (or none, or one when absence was expected): nothing
	 * is written. Durable once sync returns, like put. The local store
	 * holds an exclusive flock on STORE/<key>.lock around read, compare
	 * and write; S3 sends If-Match / If-None-Match: * (412 -> -ESTALE).
	 * Callers use backend_put_if, which also takes care of a retry whose
	 * first try took effect. Objects up to 8 MiB (S3: no multipart). */
	int (*put_if)(struct backend *b, const char *key, const void *data, size_t len,
		      const struct backend_version *expect, struct backend_version *out);
	/* Locks again (mlock) the memory of the secrets the store holds (the S3
	 * secret key, session token, container authorization): memory locks are
	 * not inherited across fork(), so a process that forked after opening
	 * the store calls this in the child. 0, or the positive errno of the
	 * first refusal (the secrets stay usable). NULL: the store holds none. */
	int (*relock_secrets)(struct backend *b);
	/* Uploads of objects this store began and never finished (S3:
	 * multipart uploads; a crash or a cut connection leaves them behind,
	 * billed yet in no listing) of keys starting with prefix. Counts
	 * into *out (zeroed first) those begun at least min_age_s seconds ago
	 * by the server's clock and, when do_abort, aborts them, going on
	 * past a failed abort; returns 0, the first error, or -ETIMEDOUT once
	 * budget_ms have passed (checked between requests, each of which
	 * gives up within seconds); *out holds what was done so far. NULL:
	 * the store leaves none behind. */
	int (*stale_uploads)(struct backend *b, const char *prefix, int64_t min_age_s, int do_abort,
			     unsigned budget_ms, struct backend_stale *out);
	/* BACKEND_CAP_PUT_IF, optional: get_version, unless key still holds
	 * version *known (known->len > 0): then 1 with *out NULL and *ver =
	 * *known, the object not sent (S3: GET with If-None-Match: <ETag>,
	 * answered 304 Not Modified). Callers use backend_get_changed, which
	 * reads and compares where this is NULL (the local store: a local
	 * read). */
	int (*get_changed)(struct backend *b, const char *key, size_t max,
			   const struct backend_version *known, unsigned char **out,
			   size_t *out_len, struct backend_version *ver);
	/* Optional: makes ready the directory dir (a key prefix without its
	 * last '/', e.g. "o/ab") that objects will be put under, so that the
	 * first put there costs what the others do; durable once sync
	 * returns. NULL: the store has no directories (S3). */
	int (*make_dir)(struct backend *b, const char *dir);
};

struct backend {
	const struct backend_ops *ops;
};

/* Options for opening a store; every field may be zero/NULL. */
struct backend_opts {
	const char *endpoint; /* S3: overrides AWS_ENDPOINT_URL(_S3) and ~/.aws/config */
	const char *region;   /* S3: overrides AWS_REGION / AWS_DEFAULT_REGION */
	const char *profile;  /* S3: overrides AWS_PROFILE */
	int path_style;	      /* S3: 1 path-style, 0 virtual-hosted, -1 automatic */
	int create;	      /* local: create the directory if missing (init only) */
	/* S3: allow an http:// endpoint on a host that is not this machine
	 * (--insecure-http); without it only loopback may be plain http. */
	int insecure_http;
	/* S3: told once when the kernel refuses to lock the memory of the
	 * request signing keys (secmem_refused_fn); NULL: not told. */
	secmem_refused_fn secrets_unlocked;
	void *secrets_unlocked_arg;
};

/* Opens the store named by url: a path, file:///path, or s3://bucket/prefix.
 * On error returns a negative errno and writes a one-line reason into err.
 * -ENOENT missing store, -ENOTDIR, -EACCES, -EPROTONOSUPPORT unknown scheme. */
int backend_open(struct backend **out, const char *url, const struct backend_opts *opts, char *err,
		 size_t err_size);

/* get_to_fd's max for a caller that takes any size (tests, tools). */
#define BACKEND_NO_MAX UINT64_MAX

/* Convenience wrappers over the table. */
static inline int backend_get(struct backend *b, const char *key, uint64_t off, size_t len,
			      unsigned char **out, size_t *out_len)
{
	return b->ops->get(b, key, off, len, out, out_len);
}
/* The whole object key, refused with -EFBIG when it is larger than max bytes
 * (max < SIZE_MAX): a get of max + 1 bytes, so the store reads and allocates
 * no more than that. */
static inline int backend_get_max(struct backend *b, const char *key, size_t max,
				  unsigned char **out, size_t *out_len)
{
	int r = b->ops->get(b, key, 0, max + 1, out, out_len);

	if (r == 0 && *out_len > max) {
		free(*out);
		*out = NULL;
		*out_len = 0;
		r = -EFBIG;
	}
	return r;
}
static inline int backend_put(struct backend *b, const char *key, const void *d, size_t len)
{
	return b->ops->put(b, key, d, len);
}
/* put_if (backend.h above), and a put_if that failed with -ESTALE while
 * key already holds exactly data (a retried request whose first try took
 * effect, its reply lost) succeeds with that version. -EOPNOTSUPP without
 * BACKEND_CAP_PUT_IF. backends/backend_cas.c. */
int backend_put_if(struct backend *b, const char *key, const void *data, size_t len,
		   const struct backend_version *expect, struct backend_version *out);
/* get_changed (backend.h above): 1 when key is still at *known (nothing
 * returned), 0 with the object and its version, or get_version's errors.
 * -EOPNOTSUPP without BACKEND_CAP_PUT_IF. backends/backend_cas.c. */
int backend_get_changed(struct backend *b, const char *key, size_t max,
			const struct backend_version *known, unsigned char **out, size_t *out_len,
			struct backend_version *ver);
/* Whether the store honours put_if's conditions (for
 * BACKEND_CAP_PUT_IF_PROBE stores): creates key (a fresh random key the
 * caller chooses, e.g. an unused object key) with "absent" expected, tries
 * to create it again and to replace it under a version it never had, then
 * deletes it. 1: both were refused (-ESTALE), the store honours them; 0: one
 * of them succeeded, or the server refused the conditional header itself
 * (-EOPNOTSUPP): the store does not; a negative errno: the store failed (the
 * object may be left behind: the caller's key must be one a later cleanup
 * removes). */
int backend_probe_put_if(struct backend *b, const char *key);
/* The store's relock_secrets (backend_ops above); 0 for a store without
 * secrets. Call in a forked child before it starts any thread. */
static inline int backend_relock_secrets(struct backend *b)
{
	return b->ops->relock_secrets ? b->ops->relock_secrets(b) : 0;
}
static inline int backend_del(struct backend *b, const char *key) { return b->ops->del(b, key); }
static inline int backend_sync(struct backend *b) { return b->ops->sync(b); }
static inline int backend_make_dir(struct backend *b, const char *dir)
{
	return b->ops->make_dir ? b->ops->make_dir(b, dir) : 0;
}
static inline void backend_destroy(struct backend *b)
{
	if (b)
		b->ops->destroy(b);
}

#endif
