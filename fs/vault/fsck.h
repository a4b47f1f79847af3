/* fsck.h - checking a vault in its store (`sealfs fsck`, docs/CLI.md): opens
 * and authenticates every directory object and every content segment that
 * the store's head reaches, lists the objects nothing reaches (orphans) and
 * the abandoned multipart uploads (sweep.h), and on request repairs: moves
 * damaged files and directories aside under a new head, deletes old orphans
 * and aborts the abandoned uploads. Works from the store and the keys only,
 * never from a mount or a cache; the caller makes sure no mount writes the
 * vault meanwhile.
 *
 * Names are user data: they reach the caller's report callback and nothing
 * else (never the log). Thread safety: one fsck_run per store at a time; the
 * callbacks are called from the calling thread only. */
#ifndef SEALFS_FSCK_H
#define SEALFS_FSCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "vault.h"

#define FSCK_THREADS_DEFAULT 4u /* segment checks in flight at once */
#define FSCK_THREADS_MAX 64u

enum fsck_kind {
	FSCK_DAMAGED, /* an object that is there but does not authenticate or has a wrong size */
	FSCK_MISSING, /* an object the tree references that the store does not have */
	FSCK_ORPHAN,  /* an o/ object nothing reachable from the head references */
	FSCK_MOVED,   /* repair: a damaged file or directory renamed aside */
};

/* What an orphan became with repair. */
enum fsck_orphan_fate {
	FSCK_ORPHAN_LISTED,   /* no repair asked */
	FSCK_ORPHAN_DELETED,  /* deleted (older than the grace period) */
	FSCK_ORPHAN_YOUNG,    /* kept: younger than the grace period */
	FSCK_ORPHAN_NO_AGE,   /* kept: the store cannot tell its age, and grace > 0 */
	FSCK_ORPHAN_FOREIGN,  /* kept: under o/ but not a sealfs object key */
	FSCK_ORPHAN_DEL_FAIL, /* deleting it failed (err holds the errno) */
};

/* One finding. Everything is borrowed for the duration of the callback. */
struct fsck_problem {
	enum fsck_kind kind;
	const char *path; /* vault path, "/" separated, starting with "/"; any bytes but NUL */
	size_t path_len;  /* (orphans: NULL, 0) */
	const char *what; /* "directory object", "segment 3", "head"; moved: the new name */
	const char *why;  /* "failed to authenticate", "1000 bytes, expected 4124"; may be "" */
	const char *key;  /* the store key ("o/ab/ab..", "head"); NULL for moved */
	uint64_t size;	  /* orphans: bytes; moved: segments that became holes */
	int64_t age_s;	  /* orphans: seconds since stored, -1 unknown */
	enum fsck_orphan_fate fate;
	int err;	   /* FSCK_ORPHAN_DEL_FAIL: positive errno */
	uint64_t old_head; /* --all-heads: the seq of the retained head whose tree holds it
			      (not the current one); 0: the current head */
};

struct fsck_counts {
	uint64_t dirs, files, symlinks, segments, stored_bytes; /* what was checked */
	uint64_t damaged, missing;				/* objects found so */
	uint64_t orphans, orphan_bytes, orphans_deleted;
	uint64_t moved; /* repair: entries renamed aside */
	/* multipart uploads of object keys begun more than
	 * BACKEND_STALE_UPLOAD_AGE_S ago and never finished (sweep.h), those
	 * repair aborted, and younger ones (left alone: maybe running) */
	uint64_t stale_uploads, uploads_aborted, young_uploads;
	uint64_t heads; /* heads whose trees were walked (1, or the retained ones) */
};

typedef void (*fsck_report_fn)(void *arg, const struct fsck_problem *p);
/* Called now and then during the walk (about every 64 objects). */
typedef void (*fsck_progress_fn)(void *arg, const struct fsck_counts *c);

struct fsck_opts {
	bool quick;	  /* segments: presence and size only (a head per object) */
	bool repair;	  /* move damaged entries aside, delete old orphans */
	bool all_heads;	  /* format 2: also every retained head's tree (what the current
			     head's walk checked is not checked again); damage found only
			     there is reported, never repaired (retained heads are immutable) */
	int64_t grace_s;  /* repair: orphans younger than this are kept; 0: delete all */
	unsigned threads; /* 0: FSCK_THREADS_DEFAULT */
	fsck_report_fn report;
	fsck_progress_fn progress; /* may be NULL */
	void *arg;
};

struct fsck_result {
	struct fsck_counts n;
	uint64_t seq;		  /* head seq checked */
	uint64_t new_seq;	  /* repair: the head seq written; 0 none */
	bool damage_left;	  /* damage repair could not (or was not asked to) fix */
	bool orphans_left;	  /* orphans or stale uploads still in the store */
	const char *not_repaired; /* why repair left damage (a constant), or NULL */
};

/* Checks the vault whose config is cfg in store with keys (all borrowed).
 * Every problem goes to o->report as it is found. Returns 0 when the check
 * ran to its end (the findings are in *res and the callbacks), or a
 * negative errno with a one-line reason in err when it could not: -ENOENT
 * or -EBADMSG for the head is a finding, not a failure, but a store error
 * (-EIO, -ETIMEDOUT, -EACCES...) or -ENOMEM stops the check: a transient
 * error is never taken for damage, so repair never acts on one. */
int fsck_run(struct backend *store, const struct vault_config *cfg, const struct vault_keys *keys,
	     const struct fsck_opts *o, struct fsck_result *res, char *err, size_t err_size);

#endif
