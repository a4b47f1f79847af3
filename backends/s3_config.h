/* s3_config.h - where an S3 store is and who we are to it: endpoint, region,
 * addressing style and credentials, resolved from backend_opts, the AWS_*
 * environment and the ~/.aws files the way the AWS CLI does. Reads files and
 * the environment only; never logs or prints a credential. */
#ifndef SEALFS_S3_CONFIG_H
#define SEALFS_S3_CONFIG_H

#include <stddef.h>

#include "backend.h"

/* Where credentials come from when they are not static keys. */
enum s3_cred_kind {
	S3_CREDS_STATIC,       /* access_key + secret_key (+ session_token) below */
	S3_CREDS_PROCESS,      /* credential_process: a command printing JSON */
	S3_CREDS_WEB_IDENTITY, /* AssumeRoleWithWebIdentity at STS with a token file */
	S3_CREDS_ECS,	       /* the container credentials endpoint (ECS, EKS pod identity) */
	S3_CREDS_IMDS,	       /* the EC2 instance metadata service, IMDSv2 */
};

/* A dynamic credential source; every string owned by the struct. */
struct s3_cred_source {
	enum s3_cred_kind kind;
	char *process;	    /* PROCESS: the command (run with /bin/sh -c) */
	char *role_arn;	    /* WEB_IDENTITY */
	char *token_file;   /* WEB_IDENTITY: the OIDC token, read at each refresh */
	char *session_name; /* WEB_IDENTITY: RoleSessionName */
	char *url;	    /* WEB_IDENTITY: STS endpoint; ECS: full URI; IMDS: base URL */
	char *auth;	    /* ECS: Authorization value (sodium_malloc), or NULL */
	char *auth_file;    /* ECS: file holding the Authorization value, or NULL */
};

/* Addressing styles (AWS_S3_ADDRESSING_STYLE, "s3 = addressing_style"). */
enum s3_addressing { S3_ADDR_AUTO, S3_ADDR_PATH, S3_ADDR_VIRTUAL };

/* A resolved configuration. Every string is owned by the struct; secret_key
 * and session_token live in sodium_malloc'ed memory. Release with
 * s3_config_release. */
struct s3_config {
	char *scheme;	 /* "https" or "http" */
	char *host;	 /* endpoint host[:port], as in the URL ("[::1]:9000" too) */
	char *base_path; /* "" or the endpoint URL's path without a trailing '/' */
	char *region;
	char *profile;
	char *access_key;    /* S3_CREDS_STATIC only */
	char *secret_key;    /* sodium_malloc */
	char *session_token; /* sodium_malloc; NULL if none */
	struct s3_cred_source src;
	char *ca_bundle;	 /* AWS_CA_BUNDLE or ca_bundle; NULL: system store */
	int path_style;		 /* 1: https://host/bucket/key, 0: https://bucket.host/key */
	int endpoint_is_default; /* the AWS endpoint made from the region */
	int endpoint_is_aws;	 /* default, or a host under amazonaws.com(.cn) */
	int region_set;		 /* the region was given, not inferred or defaulted */
	int dualstack;		 /* AWS_USE_DUALSTACK_ENDPOINT / use_dualstack_endpoint */
};

/* Resolves the configuration for bucket (used only to choose the addressing
 * style) in this order, first found wins (docs/CLI.md "S3 settings"):
 *   endpoint: opts->endpoint, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the
 *     profile's services section "s3 = endpoint_url", the profile's
 *     "s3 = endpoint_url", its "endpoint_url" (none of these but opts when
 *     AWS_IGNORE_CONFIGURED_ENDPOINT_URLS / ignore_configured_endpoint_urls is
 *     true), else https://s3[.dualstack].<region>.amazonaws.com[.cn]; the URL
 *     may carry a path (https://host/base)
 *   region: opts->region, AWS_REGION, AWS_DEFAULT_REGION, the profile's
 *     "region", the one in a well-known endpoint host name (AWS, B2, Wasabi,
 *     Scaleway, OVH; "auto" for R2 and GCS), else us-east-1
 *   profile: opts->profile, AWS_PROFILE, else "default"
 *   credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
 *     AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN; the profile's static keys
 *     (credentials file, then config file), credential_process, or
 *     web_identity_token_file + role_arn; the container endpoint
 *     (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI); the EC2 instance
 *     metadata service unless AWS_EC2_METADATA_DISABLED=true. A profile that
 *     only uses a method sealfs lacks (sso_*, source_profile) is named in err.
 *   addressing: opts->path_style (0/1; s3.c sets it from ?addressing=),
 *     AWS_S3_ADDRESSING_STYLE,
 *     the profile's "s3 = addressing_style"; auto (as boto3): path style for
 *     an endpoint that is not AWS's, an IP address or localhost, or a bucket
 *     name that is not DNS-safe; virtual-hosted on AWS otherwise.
 * The config file is AWS_CONFIG_FILE or ~/.aws/config (sections [default] or
 * [profile default], and [profile NAME]); the credentials file
 * AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials (sections [NAME]).
 * Returns 0, or -EINVAL (bad endpoint URL or setting), -EACCES (no
 * credentials), -ENOMEM, with a one-line reason in err. opts may be NULL. */
int s3_config_load(struct s3_config *cfg, const char *bucket, const struct backend_opts *opts,
		   char *err, size_t err_size);

/* Locks again (sodium_mlock) the pages of cfg's secrets (secret_key,
 * session_token, src.auth), e.g. in a child after fork(). 0, or the positive
 * errno of the first refusal. Not thread-safe against s3_config_release. */
int s3_config_relock(const struct s3_config *cfg);

/* Frees and wipes everything in cfg; safe on a zeroed struct. */
void s3_config_release(struct s3_config *cfg);

/* The region named by a well-known endpoint host (host[:port]) into out, or
 * 0 when the host says nothing: 1 found. */
int s3_config_region_from_host(char *out, size_t size, const char *host);

/* The AWS S3 endpoint host for region into out (s3[.dualstack].REGION.
 * amazonaws.com, .com.cn for cn-* regions). -ENAMETOOLONG if cut. */
int s3_config_aws_host(char *out, size_t size, const char *region, int dualstack);

/* Whether a bucket name can be the first label of a host name (lower-case
 * letters, digits, '-', no dots, 3..63 bytes). */
int s3_config_bucket_dns_safe(const char *bucket);

#endif
