/* s3_config.c - resolves an S3 store's endpoint, region, addressing style and
 * the credential source from backend_opts, AWS_* variables and the ~/.aws
 * files (the credentials themselves: s3_config_creds.c). Must
 * never print a credential, keep a file's bytes after parsing (they are wiped)
 * or turn TLS verification off. */
#include "s3_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "s3_config_int.h"
#include "s3_ini.h"

const char *s3_env(const char *name)
{
	const char *v = getenv(name);
	return v && v[0] ? v : NULL;
}

/* A path under $HOME/.aws, or the override variable's value; NULL if neither. */
static char *aws_file(const char *override_var, const char *name)
{
	const char *o = s3_env(override_var), *home = s3_env("HOME");
	char *p = NULL;
	if (o)
		return strdup(o);
	if (home && asprintf(&p, "%s/.aws/%s", home, name) < 0)
		return NULL;
	return p;
}

static void files_init(struct s3_files *f, const char *profile)
{
	f->config = aws_file("AWS_CONFIG_FILE", "config");
	f->credentials = aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	f->profile = profile;
	if (strcmp(profile, "default") == 0)
		snprintf(f->config_section, sizeof f->config_section, "default");
	else
		snprintf(f->config_section, sizeof f->config_section, "profile %s", profile);
}

static void files_release(struct s3_files *f)
{
	free(f->config);
	free(f->credentials);
}

int s3_files_get(char **out, const struct s3_files *f, const char *key, int secret)
{
	int r = s3_ini_get(out, f->config, f->config_section, key, secret);
	if (r == 0 && !*out && strcmp(f->profile, "default") == 0) /* [profile default] */
		r = s3_ini_get(out, f->config, "profile default", key, secret);
	return r;
}

int s3_env_true(const char *name)
{
	const char *v = s3_env(name);
	return v && strcasecmp(v, "true") == 0;
}

/* Splits "scheme://host[:port][/path][/]" into cfg. */
static int parse_endpoint(struct s3_config *cfg, const char *url, char *err, size_t err_size)
{
	const char *sep = strstr(url, "://");
	if (!sep || ((size_t)(sep - url) != 4 && (size_t)(sep - url) != 5)) {
		snprintf(err, err_size, "s3 endpoint '%s' is not an http:// or https:// url", url);
		return -EINVAL;
	}
	cfg->scheme = strndup(url, (size_t)(sep - url));
	if (!cfg->scheme)
		return -ENOMEM;
	for (char *c = cfg->scheme; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
	const char *host = sep + 3;
	size_t n = strcspn(host, "/?#@"), p = strlen(host + n);
	int bad = strcmp(cfg->scheme, "http") && strcmp(cfg->scheme, "https");
	bad |= n == 0 || (host[n] && host[n] != '/') || strcspn(host + n, "?#@%") != p;
	if (bad) {
		snprintf(err, err_size, "s3 endpoint '%s' must be scheme://host[:port][/path]",
			 url);
		return -EINVAL;
	}
	while (p && host[n + p - 1] == '/')
		p--;
	cfg->host = strndup(host, n);
	cfg->base_path = strndup(host + n, p);
	return cfg->host && cfg->base_path ? 0 : -ENOMEM;
}

/* The host name without port or brackets, lower-cased. */
static void host_name(char *out, size_t size, const char *hostport)
{
	snprintf(out, size, "%s", hostport[0] == '[' ? hostport + 1 : hostport);
	out[strcspn(out, hostport[0] == '[' ? "]" : ":")] = '\0';
	for (char *c = out; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
}

static int host_is_ip_or_localhost(const char *hostport)
{
	char h[256];
	unsigned char addr[16];
	if (hostport[0] == '[')
		return 1; /* bracketed IPv6 literal */
	host_name(h, sizeof h, hostport);
	return strcmp(h, "localhost") == 0 || inet_pton(AF_INET, h, addr) == 1;
}

/* localhost, 127.0.0.0/8 or [::1]: traffic that never leaves the machine. */
static int host_is_loopback(const char *hostport)
{
	char h[256];
	unsigned char addr[16];
	host_name(h, sizeof h, hostport);
	if (strcmp(h, "localhost") == 0 || strcmp(h, "::1") == 0)
		return 1;
	return inet_pton(AF_INET, h, addr) == 1 && addr[0] == 127;
}

static int ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), k = strlen(tail);
	return n >= k && strcmp(s + n - k, tail) == 0;
}

static int host_is_aws(const char *hostport)
{
	char h[256];
	host_name(h, sizeof h, hostport);
	return ends_with(h, ".amazonaws.com") || ends_with(h, ".amazonaws.com.cn");
}

/* "s3.REGION.DOMAIN" (or "s3-REGION.DOMAIN" on AWS): REGION into out. */
static int region_label(char *out, size_t size, const char *h, const char *domain)
{
	size_t n = strlen(h), k = strlen(domain);
	if (n <= k + 3 || strcmp(h + n - k, domain) != 0 || h[n - k - 1] != '.')
		return 0;
	const char *r = NULL;
	if (strncmp(h, "s3.", 3) == 0 || strncmp(h, "s3-", 3) == 0)
		r = h + 3;
	else if (strncmp(h, "s3.dualstack.", 13) == 0)
		r = h + 13;
	if (r && strncmp(r, "dualstack.", 10) == 0)
		r += 10;
	if (!r || r >= h + n - k - 1)
		return 0;
	size_t len = (size_t)(h + n - k - 1 - r);
	if (memchr(r, '.', len) || len >= size)
		return 0;
	memcpy(out, r, len);
	out[len] = '\0';
	return 1;
}

int s3_config_region_from_host(char *out, size_t size, const char *hostport)
{
	static const char *const domains[] = {
	    "amazonaws.com", "amazonaws.com.cn", "backblazeb2.com",    "wasabisys.com",
	    "scw.cloud",     "io.cloud.ovh.net", "perf.cloud.ovh.net", "cloud.ovh.net"};
	char h[256];
	host_name(h, sizeof h, hostport);
	if (strcmp(h, "s3.amazonaws.com") == 0 || strcmp(h, "s3.wasabisys.com") == 0)
		return snprintf(out, size, "us-east-1") > 0;
	if (ends_with(h, ".r2.cloudflarestorage.com") || strcmp(h, "storage.googleapis.com") == 0)
		return snprintf(out, size, "auto") > 0;
	for (size_t i = 0; i < sizeof domains / sizeof domains[0]; i++)
		if (region_label(out, size, h, domains[i]))
			return 1;
	return 0;
}

int s3_config_aws_host(char *out, size_t size, const char *region, int dualstack)
{
	int n = snprintf(out, size, "s3.%s%s.amazonaws.com%s", dualstack ? "dualstack." : "",
			 region, strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int s3_config_bucket_dns_safe(const char *b)
{
	size_t n = strlen(b);
	if (n < 3 || n > 63 || b[0] == '-' || b[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-'))
			return 0;
	return 1;
}

static int resolve_region(struct s3_config *cfg, const struct backend_opts *opts,
			  const struct s3_files *f)
{
	const char *v = opts && opts->region && opts->region[0] ? opts->region : NULL;
	if (!v)
		v = s3_env("AWS_REGION");
	if (!v)
		v = s3_env("AWS_DEFAULT_REGION");
	if (v) {
		cfg->region = strdup(v);
		cfg->region_set = 1;
		return cfg->region ? 0 : -ENOMEM;
	}
	int r = s3_files_get(&cfg->region, f, "region", 0);
	cfg->region_set = cfg->region != NULL;
	return r;
}

/* The endpoint from the variables and the config file; NULL if none. */
static int configured_endpoint(char **out, const struct s3_files *f)
{
	char *ignore = NULL, *services = NULL, *section = NULL;
	const char *v = NULL;
	int r = s3_files_get(&ignore, f, "ignore_configured_endpoint_urls", 0);
	int skip = s3_env_true("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") ||
		   (ignore && strcasecmp(ignore, "true") == 0);
	free(ignore);
	*out = NULL;
	if (r < 0 || skip)
		return r;
	if ((v = s3_env("AWS_ENDPOINT_URL_S3")) || (v = s3_env("AWS_ENDPOINT_URL")))
		return (*out = strdup(v)) ? 0 : -ENOMEM;
	r = s3_files_get(&services, f, "services", 0);
	if (r == 0 && services && asprintf(&section, "services %s", services) < 0)
		r = -ENOMEM;
	if (r == 0 && section)
		r = s3_ini_get(out, f->config, section, "s3.endpoint_url", 0);
	if (r == 0 && !*out)
		r = s3_files_get(out, f, "s3.endpoint_url", 0);
	if (r == 0 && !*out)
		r = s3_files_get(out, f, "endpoint_url", 0);
	free(services);
	free(section);
	return r;
}

static int resolve_endpoint(struct s3_config *cfg, const struct backend_opts *opts,
			    const struct s3_files *f, char *err, size_t err_size)
{
	char *url = NULL, *dual = NULL, host[300];
	int r = 0;
	if (opts && opts->endpoint && opts->endpoint[0])
		url = strdup(opts->endpoint);
	else
		r = configured_endpoint(&url, f);
	if (r == 0 && !url) {
		r = s3_files_get(&dual, f, "use_dualstack_endpoint", 0);
		cfg->dualstack = s3_env_true("AWS_USE_DUALSTACK_ENDPOINT") ||
				 (dual && strcasecmp(dual, "true") == 0);
		if (r == 0 && !cfg->region && !(cfg->region = strdup("us-east-1")))
			r = -ENOMEM;
		if (r == 0 &&
		    s3_config_aws_host(host, sizeof host, cfg->region, cfg->dualstack) < 0)
			r = -EINVAL;
		if (r == 0 && asprintf(&url, "https://%s", host) < 0)
			r = -ENOMEM, url = NULL;
		cfg->endpoint_is_default = 1;
	}
	if (r == 0)
		r = parse_endpoint(cfg, url, err, err_size);
	if (r == 0 && strcmp(cfg->scheme, "http") == 0 && !host_is_loopback(cfg->host) &&
	    !(opts && opts->insecure_http)) {
		snprintf(err, err_size,
			 "s3 endpoint '%s' is plain http to another machine: the request "
			 "signatures and object names would travel unencrypted; use https:// "
			 "(or --insecure-http)",
			 url);
		r = -EINVAL;
	}
	free(url);
	free(dual);
	if (r == 0)
		cfg->endpoint_is_aws = cfg->endpoint_is_default || host_is_aws(cfg->host);
	return r;
}

/* A region from the endpoint host, else us-east-1 (what S3-compatible
 * servers accept when they have no regions). */
static int infer_region(struct s3_config *cfg)
{
	char r[64];
	if (cfg->region)
		return 0;
	if (!s3_config_region_from_host(r, sizeof r, cfg->host))
		snprintf(r, sizeof r, "us-east-1");
	return (cfg->region = strdup(r)) ? 0 : -ENOMEM;
}

static int parse_style(enum s3_addressing *out, const char *v, const char *from, char *err,
		       size_t err_size)
{
	if (strcasecmp(v, "path") == 0)
		*out = S3_ADDR_PATH;
	else if (strcasecmp(v, "virtual") == 0)
		*out = S3_ADDR_VIRTUAL;
	else if (strcasecmp(v, "auto") == 0)
		*out = S3_ADDR_AUTO;
	else {
		snprintf(err, err_size, "%s is '%s': use path, virtual or auto", from, v);
		return -EINVAL;
	}
	return 0;
}

static int resolve_addressing(struct s3_config *cfg, const struct backend_opts *opts,
			      const struct s3_files *f, const char *bucket, char *err,
			      size_t err_size)
{
	enum s3_addressing a = S3_ADDR_AUTO;
	const char *v = s3_env("AWS_S3_ADDRESSING_STYLE");
	char *file = NULL;
	int r = 0;
	if (opts && (opts->path_style == 0 || opts->path_style == 1))
		a = opts->path_style ? S3_ADDR_PATH : S3_ADDR_VIRTUAL;
	else if (v)
		r = parse_style(&a, v, "AWS_S3_ADDRESSING_STYLE", err, err_size);
	else if ((r = s3_files_get(&file, f, "s3.addressing_style", 0)) == 0 && file)
		r = parse_style(&a, file, "addressing_style in the config file", err, err_size);
	free(file);
	if (a == S3_ADDR_AUTO)
		cfg->path_style = !cfg->endpoint_is_aws ||
				  (bucket && !s3_config_bucket_dns_safe(bucket)) ||
				  cfg->base_path[0];
	else
		cfg->path_style = a == S3_ADDR_PATH;
	if (host_is_ip_or_localhost(cfg->host))
		cfg->path_style = 1; /* an address has no sub-domains */
	return r;
}

static int resolve_ca(struct s3_config *cfg, const struct s3_files *f)
{
	const char *ca = s3_env("AWS_CA_BUNDLE");
	if (ca)
		return (cfg->ca_bundle = strdup(ca)) ? 0 : -ENOMEM;
	return s3_files_get(&cfg->ca_bundle, f, "ca_bundle", 0);
}

int s3_config_load(struct s3_config *cfg, const char *bucket, const struct backend_opts *opts,
		   char *err, size_t err_size)
{
	struct s3_files f;
	const char *profile = opts && opts->profile && opts->profile[0] ? opts->profile : NULL;
	int r;

	memset(cfg, 0, sizeof *cfg);
	if (err_size)
		err[0] = '\0';
	if (sodium_init() < 0) {
		snprintf(err, err_size, "cannot initialise libsodium");
		return -EIO;
	}
	if (!profile)
		profile = s3_env("AWS_PROFILE");
	cfg->profile = strdup(profile ? profile : "default");
	if (!cfg->profile)
		return -ENOMEM;
	files_init(&f, cfg->profile);
	r = resolve_region(cfg, opts, &f);
	if (r == 0)
		r = resolve_endpoint(cfg, opts, &f, err, err_size);
	if (r == 0)
		r = infer_region(cfg);
	if (r == 0)
		r = resolve_addressing(cfg, opts, &f, bucket, err, err_size);
	if (r == 0)
		r = resolve_ca(cfg, &f);
	if (r == 0)
		r = s3_config_resolve_creds(cfg, &f, err, err_size);
	files_release(&f);
	if (r < 0) {
		if (err_size && !err[0])
			snprintf(err, err_size, "cannot read the s3 configuration: %s",
				 strerror(-r));
		s3_config_release(cfg);
	}
	return r;
}

/* sodium_malloc put s right before a guard page; mlock rounds to pages, so
 * its length suffices to cover it. */
static int relock_one(const char *s)
{
	if (s && sodium_mlock((void *)s, strlen(s) + 1) != 0)
		return errno ? errno : ENOMEM;
	return 0;
}

int s3_config_relock(const struct s3_config *cfg)
{
	int a = relock_one(cfg->secret_key);
	int b = relock_one(cfg->session_token);
	int c = relock_one(cfg->src.auth);
	return a ? a : b ? b : c;
}

void s3_config_release(struct s3_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->scheme);
	free(cfg->host);
	free(cfg->base_path);
	free(cfg->region);
	free(cfg->profile);
	free(cfg->access_key);
	sodium_free(cfg->secret_key);
	sodium_free(cfg->session_token);
	free(cfg->src.process);
	free(cfg->src.role_arn);
	free(cfg->src.token_file);
	free(cfg->src.session_name);
	free(cfg->src.url);
	sodium_free(cfg->src.auth);
	free(cfg->src.auth_file);
	free(cfg->ca_bundle);
	memset(cfg, 0, sizeof *cfg);
}
