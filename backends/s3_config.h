/* s3_config.h - where an S3 store is and who we are to it: endpoint, region,
 * addressing style and credentials, resolved from backend_opts, the AWS_*
 * environment and the ~/.aws files the way the AWS CLI does. Reads files and
 * the environment only; never logs or prints a credential. */
#ifndef SEALFS_S3_CONFIG_H
#define SEALFS_S3_CONFIG_H

#include <stddef.h>

#include "backend.h"

/* A resolved configuration. Every string is owned by the struct; secret_key
 * and session_token live in sodium_malloc'ed memory. Release with
 * s3_config_release. */
struct s3_config {
	char *scheme; /* "https" or "http" */
	char *host;   /* endpoint host[:port], as in the URL ("[::1]:9000" too) */
	char *region;
	char *profile;
	char *access_key;
	char *secret_key;    /* sodium_malloc */
	char *session_token; /* sodium_malloc; NULL if none */
	char *ca_bundle;     /* AWS_CA_BUNDLE or ca_bundle; NULL: system store */
	int path_style;	     /* 1: https://host/bucket/key, 0: https://bucket.host/key */
	int endpoint_is_default;
};

/* Resolves the configuration for bucket (used only to choose the addressing
 * style) in this order, first found wins:
 *   endpoint: opts->endpoint, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the
 *     profile's "s3 = / endpoint_url" then "endpoint_url" in the config file,
 *     else https://s3.<region>.amazonaws.com
 *   region: opts->region, AWS_REGION, AWS_DEFAULT_REGION, the profile's
 *     "region", else us-east-1
 *   profile: opts->profile, AWS_PROFILE, else "default"
 *   credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN),
 *     else the profile in the credentials file, else in the config file
 * The config file is AWS_CONFIG_FILE or ~/.aws/config (sections [default] and
 * [profile NAME]); the credentials file AWS_SHARED_CREDENTIALS_FILE or
 * ~/.aws/credentials (sections [NAME]). Path-style addressing is used when
 * opts->path_style == 1, when the endpoint host is an IP address or
 * "localhost", or when the bucket name has a dot; virtual-hosted otherwise.
 * Returns 0, or -EINVAL (bad endpoint URL), -EACCES (no credentials), -ENOMEM,
 * with a one-line reason in err. opts may be NULL. */
int s3_config_load(struct s3_config *cfg, const char *bucket, const struct backend_opts *opts,
		   char *err, size_t err_size);

/* Frees and wipes everything in cfg; safe on a zeroed struct. */
void s3_config_release(struct s3_config *cfg);

#endif
