/* s3_config_int.h - what s3_config.c shares with s3_config_creds.c: the two
 * AWS files of one profile and the variable helpers. Internal to the S3
 * configuration; reads files and the environment only. */
#ifndef SEALFS_S3_CONFIG_INT_H
#define SEALFS_S3_CONFIG_INT_H

#include <stddef.h>

#include "s3_config.h"

/* The shared config and credentials files (NULL: none) of one profile. */
struct s3_files {
	char *config, *credentials;
	const char *profile;	  /* borrowed */
	char config_section[160]; /* "default" or "profile NAME" */
};

/* getenv, with an empty value taken as unset. */
const char *s3_env(const char *name);

/* Whether the variable is "true" (any case). */
int s3_env_true(const char *name);

/* s3_ini_get on the profile's config section ([profile default] too for
 * the default profile). */
int s3_files_get(char **out, const struct s3_files *f, const char *key, int secret);

/* Fills cfg's static keys or cfg->src (s3_config.h order); 0, -EACCES with
 * err naming what to set, -EINVAL, -ENOMEM. */
int s3_config_resolve_creds(struct s3_config *cfg, const struct s3_files *f, char *err,
			    size_t err_size);

#endif
