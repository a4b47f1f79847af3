/* s3_config_creds.c - picks where an S3 store's credentials come from, in the
 * AWS SDKs' order: variables, web identity, the profile (static keys,
 * credential_process, web identity), the container endpoint, the EC2
 * instance metadata service. Static keys are read here; the rest is fetched
 * by s3_creds.c. Must never print a credential, and must name the setting to
 * change when it finds none. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "s3_config_int.h"
#include "s3_ini.h"

#define ECS_DEFAULT_HOST "http://169.254.170.2"
#define IMDS_DEFAULT_URL "http://169.254.169.254"

static int creds_from_env(struct s3_config *cfg, char *err, size_t err_size)
{
	const char *ak = s3_env("AWS_ACCESS_KEY_ID"), *sk = s3_env("AWS_SECRET_ACCESS_KEY");
	const char *tok = s3_env("AWS_SESSION_TOKEN");
	if (!ak && !sk)
		return 0;
	if (!ak || !sk) {
		snprintf(err, err_size, "%s is set but %s is not",
			 ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			 ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		return -EACCES;
	}
	cfg->access_key = strdup(ak);
	cfg->secret_key = s3_ini_secret_dup(sk);
	cfg->session_token = tok ? s3_ini_secret_dup(tok) : NULL;
	if (!cfg->access_key || !cfg->secret_key || (tok && !cfg->session_token))
		return -ENOMEM;
	return 1;
}

static void drop_static(struct s3_config *cfg)
{
	free(cfg->access_key);
	sodium_free(cfg->secret_key);
	sodium_free(cfg->session_token);
	cfg->access_key = cfg->secret_key = cfg->session_token = NULL;
}

/* Static keys from the credentials file, then the config file; 1 found. */
static int creds_from_files(struct s3_config *cfg, const struct s3_files *f)
{
	for (int i = 0; i < 2; i++) {
		int r = i == 0 ? s3_ini_get(&cfg->access_key, f->credentials, f->profile,
					    "aws_access_key_id", 0)
			       : s3_files_get(&cfg->access_key, f, "aws_access_key_id", 0);
		if (r == 0)
			r = i == 0 ? s3_ini_get(&cfg->secret_key, f->credentials, f->profile,
						"aws_secret_access_key", 1)
				   : s3_files_get(&cfg->secret_key, f, "aws_secret_access_key", 1);
		if (r == 0 && cfg->access_key && cfg->secret_key)
			r = i == 0 ? s3_ini_get(&cfg->session_token, f->credentials, f->profile,
						"aws_session_token", 1)
				   : s3_files_get(&cfg->session_token, f, "aws_session_token", 1);
		if (r == 0 && cfg->access_key && cfg->secret_key)
			return 1;
		drop_static(cfg);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A profile key from the config file, else the credentials file. */
static int profile_get(char **out, const struct s3_files *f, const char *key)
{
	int r = s3_files_get(out, f, key, 0);
	if (r == 0 && !*out)
		r = s3_ini_get(out, f->credentials, f->profile, key, 0);
	return r;
}

static int dup_env(char **out, const char *name, const char *dflt)
{
	const char *v = s3_env(name);
	if (!v)
		v = dflt;
	*out = v ? strdup(v) : NULL;
	return v && !*out ? -ENOMEM : 0;
}

/* The STS endpoint for web identity. */
static int sts_url(struct s3_config *cfg)
{
	const char *v = s3_env("AWS_ENDPOINT_URL_STS");
	if (!v)
		v = s3_env("AWS_ENDPOINT_URL");
	if (v)
		return (cfg->src.url = strdup(v)) ? 0 : -ENOMEM;
	if (!cfg->region_set)
		return (cfg->src.url = strdup("https://sts.amazonaws.com")) ? 0 : -ENOMEM;
	int cn = strncmp(cfg->region, "cn-", 3) == 0;
	if (asprintf(&cfg->src.url, "https://sts.%s.amazonaws.com%s", cfg->region,
		     cn ? ".cn" : "") < 0)
		return cfg->src.url = NULL, -ENOMEM;
	return 0;
}

static int web_identity(struct s3_config *cfg, char *role, char *file, char *session)
{
	cfg->src.kind = S3_CREDS_WEB_IDENTITY;
	cfg->src.role_arn = role;
	cfg->src.token_file = file;
	cfg->src.session_name = session;
	if (!cfg->src.session_name && !(cfg->src.session_name = strdup("sealfs")))
		return -ENOMEM;
	return sts_url(cfg);
}

static int web_identity_from_env(struct s3_config *cfg)
{
	char *role = NULL, *file = NULL, *session = NULL;
	if (!s3_env("AWS_WEB_IDENTITY_TOKEN_FILE") || !s3_env("AWS_ROLE_ARN"))
		return 0;
	int r = dup_env(&role, "AWS_ROLE_ARN", NULL);
	if (r == 0)
		r = dup_env(&file, "AWS_WEB_IDENTITY_TOKEN_FILE", NULL);
	if (r == 0)
		r = dup_env(&session, "AWS_ROLE_SESSION_NAME", NULL);
	if (r < 0) {
		free(role);
		free(file);
		free(session);
		return r;
	}
	r = web_identity(cfg, role, file, session);
	return r < 0 ? r : 1;
}

/* credential_process or web identity from the profile; 1 found. */
static int dynamic_from_profile(struct s3_config *cfg, const struct s3_files *f)
{
	char *role = NULL, *file = NULL, *session = NULL;
	int r = profile_get(&cfg->src.process, f, "credential_process");
	if (r < 0 || cfg->src.process) {
		cfg->src.kind = S3_CREDS_PROCESS;
		return r < 0 ? r : 1;
	}
	r = profile_get(&file, f, "web_identity_token_file");
	if (r == 0 && file)
		r = profile_get(&role, f, "role_arn");
	if (r == 0 && role)
		r = profile_get(&session, f, "role_session_name");
	if (r == 0 && file && role)
		return (r = web_identity(cfg, role, file, session)) < 0 ? r : 1;
	free(role);
	free(file);
	free(session);
	return r;
}

/* Names a profile key for a method sealfs does not implement; -EACCES. */
static int unsupported_in_profile(const struct s3_config *cfg, const struct s3_files *f, char *err,
				  size_t err_size)
{
	static const char *const keys[] = {"sso_session", "sso_start_url", "source_profile",
					   "credential_source", "role_arn"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		char *v = NULL;
		int r = profile_get(&v, f, keys[i]);
		free(v);
		if (r < 0)
			return r;
		if (v) {
			snprintf(err, err_size,
				 "profile '%s' sets %s, which sealfs does not support: add "
				 "'credential_process = aws configure export-credentials --profile "
				 "%s --format process' to it (AWS CLI v2)",
				 cfg->profile, keys[i], cfg->profile);
			return -EACCES;
		}
	}
	return 0;
}

/* Only loopback, the ECS/EKS agent addresses, or https (as the SDKs allow). */
static int container_url_allowed(const char *url)
{
	static const char *const ok[] = {"http://127.",
					 "http://localhost:",
					 "http://localhost/",
					 "http://[::1]",
					 "http://169.254.170.2/",
					 "http://169.254.170.2:",
					 "http://169.254.170.23/",
					 "http://[fd00:ec2::23]",
					 "https://"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (strncasecmp(url, ok[i], strlen(ok[i])) == 0)
			return 1;
	return 0;
}

static int container(struct s3_config *cfg, char *err, size_t err_size)
{
	const char *rel = s3_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = s3_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *tok = s3_env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	if (!rel && !full)
		return 0;
	if (rel ? asprintf(&cfg->src.url, "%s%s", ECS_DEFAULT_HOST, rel) < 0
		: !(cfg->src.url = strdup(full)))
		return cfg->src.url = NULL, -ENOMEM;
	if (!rel && !container_url_allowed(full)) {
		snprintf(err, err_size,
			 "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or a loopback or "
			 "container-agent address");
		return -EACCES;
	}
	cfg->src.kind = S3_CREDS_ECS;
	int r = dup_env(&cfg->src.auth_file, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", NULL);
	if (r == 0 && !cfg->src.auth_file && tok && !(cfg->src.auth = s3_ini_secret_dup(tok)))
		r = -ENOMEM;
	return r < 0 ? r : 1;
}

static int imds(struct s3_config *cfg, const struct s3_files *f)
{
	if (s3_env_true("AWS_EC2_METADATA_DISABLED"))
		return 0;
	cfg->src.kind = S3_CREDS_IMDS;
	int r = dup_env(&cfg->src.url, "AWS_EC2_METADATA_SERVICE_ENDPOINT", NULL);
	if (r == 0 && !cfg->src.url)
		r = s3_files_get(&cfg->src.url, f, "ec2_metadata_service_endpoint", 0);
	if (r == 0 && !cfg->src.url && !(cfg->src.url = strdup(IMDS_DEFAULT_URL)))
		r = -ENOMEM;
	return r < 0 ? r : 1;
}

int s3_config_resolve_creds(struct s3_config *cfg, const struct s3_files *f, char *err,
			    size_t err_size)
{
	int r = creds_from_env(cfg, err, err_size);
	if (r == 0)
		r = web_identity_from_env(cfg);
	if (r == 0)
		r = creds_from_files(cfg, f);
	if (r == 0)
		r = dynamic_from_profile(cfg, f);
	if (r == 0)
		r = unsupported_in_profile(cfg, f, err, err_size);
	if (r == 0)
		r = container(cfg, err, err_size);
	if (r == 0)
		r = imds(cfg, f);
	if (r == 0) {
		snprintf(err, err_size,
			 "no s3 credentials for profile '%s': set AWS_ACCESS_KEY_ID and "
			 "AWS_SECRET_ACCESS_KEY, or put aws_access_key_id and "
			 "aws_secret_access_key (or credential_process) in its section of "
			 "~/.aws/credentials",
			 cfg->profile);
		return -EACCES;
	}
	return r < 0 ? r : 0;
}
