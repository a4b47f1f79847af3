/* s3_config.c - resolves an S3 store's endpoint, region, addressing style and
 * credentials from backend_opts, AWS_* variables and the ~/.aws files. Must
 * never print a credential, keep a file's bytes after parsing (they are wiped)
 * or turn TLS verification off. */
#include "s3_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define CONFIG_FILE_MAX_BYTES (1u << 20)

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && v[0] ? v : NULL;
}

/* Reads a whole small file into a new malloc'ed NUL-terminated buffer.
 * 1 read, 0 no such file, negative errno otherwise. */
static int read_small_file(char **out, size_t *out_len, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	*out = NULL;
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_FILE_MAX_BYTES) {
		close(fd);
		return -EINVAL;
	}
	size_t len = (size_t)st.st_size, got = 0;
	char *buf = malloc(len + 1);
	while (buf && got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!buf)
		return -ENOMEM;
	buf[got] = '\0';
	*out = buf;
	*out_len = got;
	return 1;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* State of one INI lookup: the section wanted and the dotted key wanted. */
struct ini_find {
	const char *section; /* exact text between the brackets, trimmed */
	const char *key;     /* "region", or "s3.endpoint_url" for a nested key */
	int in_section;
	char parent[64];   /* key of an open nested block ("s3"), or "" */
	const char *found; /* points into the buffer */
};

static void ini_line(struct ini_find *f, char *line)
{
	int indented = line[0] == ' ' || line[0] == '\t';
	char *s = trim(line);
	if (!*s || *s == '#' || *s == ';')
		return;
	if (*s == '[') {
		char *end = strchr(s, ']');
		if (end) {
			*end = '\0';
			f->in_section = strcmp(trim(s + 1), f->section) == 0;
			f->parent[0] = '\0';
		}
		return;
	}
	char *eq = strchr(s, '=');
	if (!eq || !f->in_section)
		return;
	*eq = '\0';
	char *k = trim(s), *v = trim(eq + 1), full[160];
	if (!indented)
		f->parent[0] = '\0';
	if (!indented && !*v) {
		snprintf(f->parent, sizeof f->parent, "%s", k);
		return;
	}
	if (indented && f->parent[0])
		snprintf(full, sizeof full, "%s.%s", f->parent, k);
	else
		snprintf(full, sizeof full, "%s", k);
	if (strcmp(full, f->key) == 0 && !f->found)
		f->found = v;
}

/* Looks key up in [section] of the file at path. *out becomes a new string
 * (sodium_malloc'ed when secret) or stays NULL. 0, or negative errno. */
static int ini_get(char **out, const char *path, const char *section, const char *key, int secret)
{
	char *buf = NULL;
	size_t len = 0;
	struct ini_find f = {section, key, 0, "", NULL};
	*out = NULL;
	int r = path ? read_small_file(&buf, &len, path) : 0;
	if (r <= 0)
		return r;
	for (char *line = buf, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		ini_line(&f, line);
	}
	if (f.found && f.found[0]) {
		size_t n = strlen(f.found);
		*out = secret ? sodium_malloc(n + 1) : malloc(n + 1);
		if (*out)
			memcpy(*out, f.found, n + 1);
		else
			r = -ENOMEM;
	}
	sodium_memzero(buf, len);
	free(buf);
	return r < 0 ? r : 0;
}

static char *secret_dup(const char *s)
{
	size_t n = strlen(s);
	char *p = sodium_malloc(n + 1);
	if (p)
		memcpy(p, s, n + 1);
	return p;
}

/* A path under $HOME/.aws, or the override variable's value; NULL if neither. */
static char *aws_file(const char *override_var, const char *name)
{
	const char *o = env(override_var), *home = env("HOME");
	char *p = NULL;
	if (o)
		return strdup(o);
	if (home && asprintf(&p, "%s/.aws/%s", home, name) < 0)
		return NULL;
	return p;
}

struct files {
	char *config, *credentials;
	char config_section[160];
};

static void files_init(struct files *f, const char *profile)
{
	f->config = aws_file("AWS_CONFIG_FILE", "config");
	f->credentials = aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	if (strcmp(profile, "default") == 0)
		snprintf(f->config_section, sizeof f->config_section, "default");
	else
		snprintf(f->config_section, sizeof f->config_section, "profile %s", profile);
}

static void files_release(struct files *f)
{
	free(f->config);
	free(f->credentials);
}

/* Checks "scheme://host[:port][/]" and splits it. */
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
	size_t n = strcspn(host, "/?#@");
	int bad = strcmp(cfg->scheme, "http") && strcmp(cfg->scheme, "https");
	bad |= n == 0 || (host[n] && !(host[n] == '/' && host[n + 1] == '\0'));
	if (bad) {
		snprintf(err, err_size,
			 "s3 endpoint '%s' must be scheme://host[:port] without a path", url);
		return -EINVAL;
	}
	cfg->host = strndup(host, n);
	return cfg->host ? 0 : -ENOMEM;
}

/* The host without port or brackets, for the IP test. */
static int host_is_ip_or_localhost(const char *hostport)
{
	char h[256];
	unsigned char addr[16];
	if (hostport[0] == '[')
		return 1; /* bracketed IPv6 literal */
	snprintf(h, sizeof h, "%s", hostport);
	h[strcspn(h, ":")] = '\0';
	if (strcasecmp(h, "localhost") == 0)
		return 1;
	return inet_pton(AF_INET, h, addr) == 1;
}

static int resolve_region(struct s3_config *cfg, const struct backend_opts *opts,
			  const struct files *f)
{
	const char *v = opts && opts->region && opts->region[0] ? opts->region : NULL;
	if (!v)
		v = env("AWS_REGION");
	if (!v)
		v = env("AWS_DEFAULT_REGION");
	if (v) {
		cfg->region = strdup(v);
		return cfg->region ? 0 : -ENOMEM;
	}
	int r = ini_get(&cfg->region, f->config, f->config_section, "region", 0);
	if (r == 0 && !cfg->region)
		cfg->region = strdup("us-east-1");
	return r < 0 ? r : (cfg->region ? 0 : -ENOMEM);
}

static int resolve_endpoint(struct s3_config *cfg, const struct backend_opts *opts,
			    const struct files *f, char *err, size_t err_size)
{
	const char *v = opts && opts->endpoint && opts->endpoint[0] ? opts->endpoint : NULL;
	char *from_file = NULL, *dflt = NULL;
	int r = 0;
	if (!v)
		v = env("AWS_ENDPOINT_URL_S3");
	if (!v)
		v = env("AWS_ENDPOINT_URL");
	if (!v) {
		r = ini_get(&from_file, f->config, f->config_section, "s3.endpoint_url", 0);
		if (r == 0 && !from_file)
			r = ini_get(&from_file, f->config, f->config_section, "endpoint_url", 0);
		v = from_file;
	}
	if (r == 0 && !v) {
		if (asprintf(&dflt, "https://s3.%s.amazonaws.com", cfg->region) < 0)
			r = -ENOMEM;
		v = dflt;
		cfg->endpoint_is_default = 1;
	}
	if (r == 0)
		r = parse_endpoint(cfg, v, err, err_size);
	free(from_file);
	free(dflt);
	return r;
}

static int creds_from_env(struct s3_config *cfg, char *err, size_t err_size)
{
	const char *ak = env("AWS_ACCESS_KEY_ID"), *sk = env("AWS_SECRET_ACCESS_KEY");
	const char *tok = env("AWS_SESSION_TOKEN");
	if (!ak && !sk)
		return 0;
	if (!ak || !sk) {
		snprintf(err, err_size, "%s is set but %s is not",
			 ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			 ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		return -EACCES;
	}
	cfg->access_key = strdup(ak);
	cfg->secret_key = secret_dup(sk);
	cfg->session_token = tok ? secret_dup(tok) : NULL;
	if (!cfg->access_key || !cfg->secret_key || (tok && !cfg->session_token))
		return -ENOMEM;
	return 1;
}

/* Credentials from one file section; 1 found, 0 not there, negative errno. */
static int creds_from_file(struct s3_config *cfg, const char *path, const char *section)
{
	int r = ini_get(&cfg->access_key, path, section, "aws_access_key_id", 0);
	if (r == 0)
		r = ini_get(&cfg->secret_key, path, section, "aws_secret_access_key", 1);
	if (r == 0 && cfg->access_key && cfg->secret_key)
		r = ini_get(&cfg->session_token, path, section, "aws_session_token", 1);
	if (r == 0 && cfg->access_key && cfg->secret_key)
		return 1;
	free(cfg->access_key);
	sodium_free(cfg->secret_key);
	cfg->access_key = cfg->secret_key = NULL;
	return r;
}

static int resolve_creds(struct s3_config *cfg, const struct files *f, char *err, size_t err_size)
{
	int r = creds_from_env(cfg, err, err_size);
	if (r == 0)
		r = creds_from_file(cfg, f->credentials, cfg->profile);
	if (r == 0)
		r = creds_from_file(cfg, f->config, f->config_section);
	if (r == 0) {
		snprintf(err, err_size,
			 "no s3 credentials for profile '%s': set AWS_ACCESS_KEY_ID and "
			 "AWS_SECRET_ACCESS_KEY or add them to ~/.aws/credentials",
			 cfg->profile);
		return -EACCES;
	}
	return r < 0 ? r : 0;
}

static int resolve_misc(struct s3_config *cfg, const struct backend_opts *opts,
			const struct files *f, const char *bucket)
{
	const char *ca = env("AWS_CA_BUNDLE");
	int r = 0;
	if (ca)
		cfg->ca_bundle = strdup(ca);
	else
		r = ini_get(&cfg->ca_bundle, f->config, f->config_section, "ca_bundle", 0);
	if (ca && !cfg->ca_bundle)
		r = -ENOMEM;
	cfg->path_style = (opts && opts->path_style == 1) || host_is_ip_or_localhost(cfg->host) ||
			  (bucket && strchr(bucket, '.'));
	return r;
}

int s3_config_load(struct s3_config *cfg, const char *bucket, const struct backend_opts *opts,
		   char *err, size_t err_size)
{
	struct files f;
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
		profile = env("AWS_PROFILE");
	cfg->profile = strdup(profile ? profile : "default");
	if (!cfg->profile)
		return -ENOMEM;
	files_init(&f, cfg->profile);
	r = resolve_region(cfg, opts, &f);
	if (r == 0)
		r = resolve_endpoint(cfg, opts, &f, err, err_size);
	if (r == 0)
		r = resolve_creds(cfg, &f, err, err_size);
	if (r == 0)
		r = resolve_misc(cfg, opts, &f, bucket);
	files_release(&f);
	if (r < 0) {
		if (err_size && !err[0])
			snprintf(err, err_size, "cannot read the s3 configuration: %s",
				 strerror(-r));
		s3_config_release(cfg);
	}
	return r;
}

void s3_config_release(struct s3_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->scheme);
	free(cfg->host);
	free(cfg->region);
	free(cfg->profile);
	free(cfg->access_key);
	sodium_free(cfg->secret_key);
	sodium_free(cfg->session_token);
	free(cfg->ca_bundle);
	memset(cfg, 0, sizeof *cfg);
}
