/* s3_creds.h - the credentials an S3 store signs with, and their refresh:
 * static keys, or temporary ones from credential_process, STS
 * AssumeRoleWithWebIdentity, the container endpoint or the EC2 instance
 * metadata service (IMDSv2), fetched again before they expire and when the
 * server says ExpiredToken. Secrets live in sodium_malloc'ed (locked) memory;
 * nothing here logs or prints a credential or a credential_process's output. */
#ifndef SEALFS_S3_CREDS_H
#define SEALFS_S3_CREDS_H

#include <stddef.h>
#include <time.h>

#include "s3_config.h"

/* One set of credentials; immutable once made, shared by reference. */
struct s3_creds {
	char *access_key;    /* malloc */
	char *secret_key;    /* sodium_malloc */
	char *session_token; /* sodium_malloc; NULL: none */
	time_t expires;	     /* 0: never */
	int refs;	     /* atomic */
};

/* A new set (refs 1) from the given bytes (copied; token may be NULL).
 * -EINVAL empty key or secret, or a control byte in any, -ENOMEM. */
int s3_creds_new(struct s3_creds **out, const char *access_key, const char *secret_key,
		 const char *token, time_t expires);

/* Drops a reference; the last one wipes and frees. NULL is fine. */
void s3_creds_put(struct s3_creds *c);

/* Which JSON document s3_creds_parse_json reads. */
enum s3_creds_json {
	S3_CREDS_JSON_PROCESS,	 /* credential_process: Version 1, SessionToken */
	S3_CREDS_JSON_CONTAINER, /* ECS and IMDS: Token, Code "Success" if present */
};

/* Parses credentials out of received bytes (at most 64 KiB). -EPROTO
 * malformed or missing fields, with the reason (never a value) in err;
 * -ENOMEM. Thread-safe. */
int s3_creds_parse_json(struct s3_creds **out, const char *json, size_t len,
			enum s3_creds_json format, char *err, size_t err_size);

/* Parses an AssumeRoleWithWebIdentityResponse; errors as above. */
int s3_creds_parse_sts(struct s3_creds **out, const char *xml, size_t len, char *err,
		       size_t err_size);

/* ISO 8601 UTC ("2024-05-01T12:34:56Z", fraction and +hh:mm allowed) to
 * time_t; -EINVAL if it is not one. */
int s3_creds_parse_time(time_t *out, const char *s);

/* Fetches a new set from cfg->src (not S3_CREDS_STATIC). 0, or a negative
 * errno with a one-line reason naming the source in err. Blocks (network, a
 * child process; bounded by timeouts). Thread-safe. */
int s3_creds_fetch(struct s3_creds **out, const struct s3_config *cfg, char *err, size_t err_size);

struct s3_creds_provider;

/* A provider over cfg (borrowed: must outlive the provider). Temporary
 * credentials are fetched again margin_s seconds before they expire (the
 * SDKs use 300). Fetches nothing yet. -ENOMEM. */
int s3_creds_provider_new(struct s3_creds_provider **out, const struct s3_config *cfg,
			  unsigned margin_s);

/* The credentials to sign with now (a new reference: s3_creds_put it).
 * Fetches when there are none, when they expire within the margin, or after
 * s3_creds_invalidate; a failed refresh keeps credentials that have not
 * expired yet. Errors as s3_creds_fetch. Thread-safe; one fetch at a time. */
int s3_creds_acquire(struct s3_creds_provider *p, struct s3_creds **out, char *err,
		     size_t err_size);

/* The server refused c (ExpiredToken): the next acquire fetches afresh.
 * Returns 1 when a fetch can help (temporary credentials), 0 for static keys. */
int s3_creds_invalidate(struct s3_creds_provider *p, const struct s3_creds *c);

/* Locks again (sodium_mlock) the secrets of the provider's current set, e.g.
 * in a child after fork() (sets fetched later are locked when made). 0, or
 * the positive errno of the first refusal. Thread-safe. */
int s3_creds_provider_relock(struct s3_creds_provider *p);

/* Frees the provider and its current set; no acquire may be running. */
void s3_creds_provider_free(struct s3_creds_provider *p);

#endif
