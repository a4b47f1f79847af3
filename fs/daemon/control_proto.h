/* control_proto.h - the bytes of the control socket (docs/INTERNALS.md,
 * "Control socket"): one request line from `sealfs status|sync` to the
 * daemon, one reply line back, both JSON objects. Parsing and building only:
 * no I/O, no FUSE, no store. Links jansson alone, so the fuzz target
 * (tests/fuzz/fuzz_control.c) can take it as it is.
 *
 * Requests: {"op":"status"}, {"op":"status","scan":false} (the same reply
 * without reading the pending records: pending_objects and pending_bytes
 * 0; `sealfs sync` polls with it, and a daemon that predates it answers the
 * full status), {"op":"sync"} or {"op":"where"}. Replies:
 * {"ok":true,...} with the fields of struct control_status (status),
 * {"ok":true,"seq":N} (sync), {"ok":true,"store":URL,"cache":DIR} (where: the
 * store as the mount opened it, a local one as an absolute path, and the
 * cache directory: the user's own arguments, never anything from inside the
 * vault); {"ok":false,"error":"<lower-case reason>"} for any failure. Counts
 * and sizes only otherwise: a reply never holds a file name, a store key or
 * a key. */
#ifndef SEALFS_CONTROL_PROTO_H
#define SEALFS_CONTROL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONTROL_PROTO_REQUEST_MAX 4096 /* bytes of a request line, newline included */
#define CONTROL_PROTO_REPLY_MAX 65536  /* bytes of a reply line, newline included */
#define CONTROL_PROTO_ERROR_MAX 256    /* bytes of an error reason, NUL included */

enum control_proto_op {
	CONTROL_PROTO_STATUS,
	CONTROL_PROTO_SYNC,
	CONTROL_PROTO_WHERE,	/* the store and cache of the mount (sealfs history, restore) */
	CONTROL_PROTO_PROGRESS, /* status without the scan of the pending records */
};

/* The store's lease (fs/vault/lease.h), as the reply's "lease" says it:
 * "none" (not needed), "wanted", "held", "other", "lost". */
enum control_lease {
	CONTROL_LEASE_NONE,
	CONTROL_LEASE_WANTED, /* taken before the first upload (the mount's probe failed) */
	CONTROL_LEASE_HELD,   /* this mount holds it */
	CONTROL_LEASE_OTHER,  /* another device held it at mount: read-only */
	CONTROL_LEASE_LOST,   /* another device took it over: nothing more is uploaded */
};

/* What `sealfs status` shows. */
struct control_status {
	uint64_t journal_records; /* records in CACHE/journal (not yet done) */
	uint64_t pending_objects; /* segments and directory objects not yet in the store */
	uint64_t pending_bytes;	  /* their sizes (cache files / sealed lengths) */
	uint64_t uploaded_bytes;  /* bytes the store took since the mount */
	uint64_t upload_rate;	  /* bytes/s over the last rate_window_s seconds */
	uint64_t rate_window_s;
	uint64_t store_seq;	       /* head seq in the store */
	uint64_t committed_seq;	       /* newest commit (journaled or stored) */
	uint64_t oldest_pending_seq;   /* oldest record in the journal; 0: none */
	uint64_t inodes;	       /* inodes in the daemon's memory (tree.h) */
	uint64_t idle_dirs;	       /* loaded directories it may unload (tree_cache.h) */
	uint64_t dirs_ahead;	       /* loads that took a decode done ahead (tree_early.c) */
	uint64_t conflict_seq;	       /* head_conflict: the newest commit not stored */
	uint64_t merges;	       /* heads merged with another device's since the mount */
	uint64_t last_merge_time;      /* Unix seconds of the last merge; 0: none */
	uint64_t last_merge_entries;   /* entries it merged */
	uint64_t last_merge_conflicts; /* conflict names and copies it made */
	uint64_t conflict_links;       /* 1: head_conflict because the merge refused hard links */
	uint64_t polls;		       /* reads of the store's head by the poll since the mount */
	uint64_t polls_unchanged;      /* of those, answered "not modified" (S3: a 304, no head
					  sent; a local store reads the file and compares) */
	uint64_t poll_refreshes;       /* other devices' heads the poll showed */
	bool uncommitted;	       /* in-memory changes the committer has not sealed yet */
	bool store_failing;	       /* the uploader's last round failed */
	bool head_conflict;	       /* another device changed the store's head: nothing
					  is uploaded any more (upload.h) */
	bool cas_ignored;	       /* the store ignores conditional writes */
	int last_error;		       /* positive errno of the last store failure; 0: none */
	int64_t last_error_time;       /* its Unix time in seconds */
	enum control_lease lease;      /* absent from a reply: NONE */
	int64_t lease_until;	       /* Unix seconds the lease (HELD: this mount's; OTHER,
					  LOST: the other device's) is valid until; 0: none */
};

/* Parses one request (len bytes, without the newline; need not be
 * NUL-terminated). 0 with *op set; -EINVAL not a JSON object with a string
 * "op"; -EOPNOTSUPP an unknown op. */
int control_proto_parse_request(enum control_proto_op *op, const char *buf, size_t len);

/* The request line for op, newline included. Borrowed (a constant). */
const char *control_proto_request(enum control_proto_op op);

/* Reply lines, newline included. New (free()), NULL when out of memory. */
char *control_proto_status_reply(const struct control_status *st);
char *control_proto_sync_reply(uint64_t seq);
char *control_proto_where_reply(const char *store, const char *cache);
/* why is a lower-case reason; never a name. */
char *control_proto_error_reply(const char *why);

/* Parses a reply line (len bytes, the newline optional). 0 with the result
 * filled; -EREMOTEIO the daemon answered an error (its reason, truncated, in
 * why, which holds CONTROL_PROTO_ERROR_MAX bytes); -EPROTO anything else that
 * is not a well-formed reply. */
int control_proto_parse_status(struct control_status *out, char *why, const char *buf, size_t len);
int control_proto_parse_sync(uint64_t *seq, char *why, const char *buf, size_t len);
/* where: store and cache (each size bytes, NUL-terminated; -EPROTO when one
 * is missing, empty, not a string or does not fit). */
int control_proto_parse_where(char *store, char *cache, size_t size, char *why, const char *buf,
			      size_t len);

#endif
