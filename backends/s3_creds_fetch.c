/* s3_creds_fetch.c - fetches temporary credentials: runs credential_process,
 * asks STS (AssumeRoleWithWebIdentity), the container endpoint or the EC2
 * instance metadata service (IMDSv2). Must never log or print what it
 * receives (a credential_process's stdout holds secrets; it is wiped), wait
 * without a bound, or send a token file's content anywhere but to STS. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "http.h"
#include "s3_creds.h"
#include "s3_ini.h"
#include "s3_sigv4.h"

#define FETCH_REPLY_MAX (64u << 10)
#define PROCESS_TIMEOUT_MS 60000
#define TOKEN_FILE_MAX (64u << 10)

/* --- credential_process --- */

static void child_exec(const char *cmd, int out_fd)
{
	if (dup2(out_fd, STDOUT_FILENO) < 0)
		_exit(126);
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

/* Reads the child's stdout into buf (sodium memory) until EOF or deadline. */
static int read_child(int fd, char *buf, size_t cap, size_t *len)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	*len = 0;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		long left = PROCESS_TIMEOUT_MS -
			    ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd pfd = {fd, POLLIN, 0};
		if (left <= 0)
			return -ETIMEDOUT;
		int n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -ETIMEDOUT : -errno;
		if (*len >= cap)
			return -EFBIG;
		ssize_t k = read(fd, buf + *len, cap - *len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return 0;
		*len += (size_t)k;
	}
}

static int fetch_process(struct s3_creds **out, const struct s3_config *cfg, char *err,
			 size_t err_size)
{
	int fds[2], status = 0;
	size_t len = 0;
	char *buf = sodium_malloc(FETCH_REPLY_MAX + 1);
	if (!buf)
		return -ENOMEM;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		sodium_free(buf);
		return -errno;
	}
	pid_t pid = fork();
	if (pid == 0)
		child_exec(cfg->src.process, fds[1]);
	close(fds[1]);
	int r = pid < 0 ? -errno : read_child(fds[0], buf, FETCH_REPLY_MAX, &len);
	close(fds[0]);
	if (pid > 0 && r < 0)
		kill(pid, SIGKILL); /* our own child, by its pid */
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r < 0)
		snprintf(err, err_size, "credential_process %s",
			 r == -ETIMEDOUT ? "did not finish within 60 s"
			 : r == -EFBIG	 ? "printed more than 64 KiB"
					 : strerror(-r));
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, err_size, "credential_process failed (exit status %d)",
			 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		r = -EACCES;
	} else {
		char why[160] = "";
		r = s3_creds_parse_json(out, buf, len, S3_CREDS_JSON_PROCESS, why, sizeof why);
		if (r < 0)
			snprintf(err, err_size,
				 "credential_process printed no usable credentials: %s", why);
	}
	sodium_free(buf); /* wipes what the command printed */
	return r < 0 ? (r == -EPROTO ? -EACCES : r) : 0;
}

/* --- HTTP sources --- */

struct fetch_req {
	struct http_request req;
	const char *headers[3];
};

static int fetch_prepare(void *arg, struct http_request *req, unsigned attempt,
			 const struct http_reply *rep)
{
	(void)attempt;
	(void)rep;
	*req = ((struct fetch_req *)arg)->req;
	return 0;
}

static void fetch_policy(struct http_policy *p, unsigned connect_ms)
{
	http_policy_default(p);
	p->max_tries = 3;
	p->base_delay_ms = 100;
	p->max_delay_ms = 1000;
	p->total_ms = 5000;
	p->connect_timeout_ms = connect_ms;
	p->low_speed_bytes = 1;
	p->low_speed_secs = 5;
}

/* One exchange; rep->body (malloc'ed, the caller wipes and frees) on success. */
static int fetch_http(const struct s3_config *cfg, struct fetch_req *f, unsigned connect_ms,
		      struct http_reply *rep, char *err, size_t err_size)
{
	struct http_policy pol;
	struct http_client *c = NULL;
	fetch_policy(&pol, connect_ms);
	*rep = (struct http_reply){.sink = HTTP_SINK_MEM, .mem_limit = FETCH_REPLY_MAX};
	int r = http_client_new(&c, &pol, cfg->ca_bundle);
	if (r == 0)
		r = http_exchange(c, fetch_prepare, f, rep, err, err_size);
	http_client_free(c);
	if (r == 0 && !rep->body)
		r = -EPROTO, snprintf(err, err_size, "empty reply");
	return r;
}

static void reply_wipe(struct http_reply *rep)
{
	if (rep->body)
		sodium_memzero(rep->body, rep->len);
	http_reply_release(rep);
}

static int fetch_ecs(struct s3_creds **out, const struct s3_config *cfg, char *err, size_t err_size)
{
	struct fetch_req f = {{"GET", cfg->src.url, f.headers, 0, NULL, 0, 0}, {0}};
	struct http_reply rep;
	char *auth = NULL, *hdr = NULL, why[300] = "";
	size_t len = 0;
	int r = 0;
	if (cfg->src.auth_file &&
	    (r = s3_ini_read_file(&auth, &len, cfg->src.auth_file, TOKEN_FILE_MAX)) <= 0) {
		snprintf(err, err_size, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
		return r < 0 ? r : -ENOENT;
	}
	const char *a = auth ? auth : cfg->src.auth;
	if (a) {
		size_t n = strcspn(a, "\r\n");
		hdr = sodium_malloc(n + 32);
		if (!hdr)
			r = -ENOMEM;
		else
			snprintf(hdr, n + 32, "Authorization: %.*s", (int)n, a);
		f.headers[f.req.n_headers++] = hdr;
	}
	if (r >= 0)
		r = fetch_http(cfg, &f, 2000, &rep, why, sizeof why);
	if (r == 0) {
		r = s3_creds_parse_json(out, (char *)rep.body, rep.len, S3_CREDS_JSON_CONTAINER,
					why, sizeof why);
		reply_wipe(&rep);
	}
	if (r < 0)
		snprintf(err, err_size, "cannot get credentials from the container endpoint %s: %s",
			 cfg->src.url, why);
	if (auth)
		sodium_memzero(auth, len);
	free(auth);
	sodium_free(hdr);
	return r;
}

/* IMDSv2: a session token, the role name, then the role's credentials. */
static int fetch_imds(struct s3_creds **out, const struct s3_config *cfg, char *err,
		      size_t err_size)
{
	struct fetch_req f = {{"PUT", NULL, f.headers, 1, NULL, 0, 0},
			      {"X-aws-ec2-metadata-token-ttl-seconds: 21600"}};
	struct http_reply rep;
	char url[1024], tok[256 + 32], role[160], why[300] = "";
	const char *base = "latest/meta-data/iam/security-credentials/";
	const char *slash = cfg->src.url[strlen(cfg->src.url) - 1] == '/' ? "" : "/";
	snprintf(url, sizeof url, "%s%slatest/api/token", cfg->src.url, slash);
	f.req.url = url;
	int r = fetch_http(cfg, &f, 1000, &rep, why, sizeof why);
	if (r == 0 && (rep.len > 256 || strcspn((char *)rep.body, "\r\n") != rep.len))
		r = -EPROTO, snprintf(why, sizeof why, "malformed session token");
	if (r == 0)
		snprintf(tok, sizeof tok, "X-aws-ec2-metadata-token: %s", (char *)rep.body);
	if (rep.body)
		reply_wipe(&rep);
	f.req.method = "GET";
	f.headers[0] = tok;
	snprintf(url, sizeof url, "%s%s%s", cfg->src.url, slash, base);
	if (r == 0 && (r = fetch_http(cfg, &f, 1000, &rep, why, sizeof why)) == 0) {
		size_t n = strcspn((char *)rep.body, "\r\n");
		const char *ok =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+=,.@_-";
		if (n == 0 || n >= sizeof role || strspn((char *)rep.body, ok) != n)
			r = -EPROTO, snprintf(why, sizeof why, "no valid instance role name");
		else
			snprintf(role, sizeof role, "%.*s", (int)n, (char *)rep.body);
		http_reply_release(&rep);
	}
	snprintf(url, sizeof url, "%s%s%s%s", cfg->src.url, slash, base, r == 0 ? role : "");
	if (r == 0 && (r = fetch_http(cfg, &f, 1000, &rep, why, sizeof why)) == 0) {
		r = s3_creds_parse_json(out, (char *)rep.body, rep.len, S3_CREDS_JSON_CONTAINER,
					why, sizeof why);
		reply_wipe(&rep);
	}
	sodium_memzero(tok, sizeof tok);
	if (r < 0)
		snprintf(err, err_size,
			 "no s3 credentials in the environment or profile '%s', and the EC2 "
			 "instance metadata service at %s gave none (%s); set "
			 "AWS_EC2_METADATA_DISABLED=true off EC2",
			 cfg->profile, cfg->src.url, why);
	return r;
}

/* Appends "&name=" + the encoded value to *body (sodium memory, grown). */
static int form_add(char **body, size_t *len, const char *name, const char *value)
{
	size_t enc = s3_sigv4_uri_encode(NULL, 0, value, 0);
	size_t need = *len + strlen(name) + enc + 3;
	char *b = sodium_malloc(need);
	if (!b)
		return -ENOMEM;
	memcpy(b, *body ? *body : "", *len);
	int n = snprintf(b + *len, need - *len, "%s%s=", *len ? "&" : "", name);
	s3_sigv4_uri_encode(b + *len + n, need - *len - (size_t)n, value, 0);
	sodium_free(*body);
	*body = b;
	*len = strlen(b);
	return 0;
}

static int fetch_sts(struct s3_creds **out, const struct s3_config *cfg, char *err, size_t err_size)
{
	struct fetch_req f = {{"POST", cfg->src.url, f.headers, 1, NULL, 0, 0},
			      {"Content-Type: application/x-www-form-urlencoded"}};
	struct http_reply rep;
	char *tok = NULL, *body = NULL, why[300] = "";
	size_t tok_len = 0, len = 0;
	int r = s3_ini_read_file(&tok, &tok_len, cfg->src.token_file, TOKEN_FILE_MAX);
	if (r <= 0) {
		snprintf(err, err_size, "cannot read the web identity token file %s: %s",
			 cfg->src.token_file, r == 0 ? "no such file" : strerror(-r));
		return r < 0 ? r : -ENOENT;
	}
	tok[strcspn(tok, "\r\n")] = '\0';
	r = form_add(&body, &len, "Action", "AssumeRoleWithWebIdentity");
	if (r == 0)
		r = form_add(&body, &len, "Version", "2011-06-15");
	if (r == 0)
		r = form_add(&body, &len, "RoleArn", cfg->src.role_arn);
	if (r == 0)
		r = form_add(&body, &len, "RoleSessionName", cfg->src.session_name);
	if (r == 0)
		r = form_add(&body, &len, "WebIdentityToken", tok);
	f.req.body = (const unsigned char *)body;
	f.req.body_len = len;
	if (r == 0)
		r = fetch_http(cfg, &f, 2000, &rep, why, sizeof why);
	if (r == 0) {
		r = s3_creds_parse_sts(out, (char *)rep.body, rep.len, why, sizeof why);
		reply_wipe(&rep);
	}
	if (r < 0)
		snprintf(err, err_size, "AssumeRoleWithWebIdentity for %s at %s failed: %s",
			 cfg->src.role_arn, cfg->src.url, why);
	sodium_memzero(tok, tok_len);
	free(tok);
	sodium_free(body);
	return r;
}

int s3_creds_fetch(struct s3_creds **out, const struct s3_config *cfg, char *err, size_t err_size)
{
	*out = NULL;
	switch (cfg->src.kind) {
	case S3_CREDS_PROCESS:
		return fetch_process(out, cfg, err, err_size);
	case S3_CREDS_WEB_IDENTITY:
		return fetch_sts(out, cfg, err, err_size);
	case S3_CREDS_ECS:
		return fetch_ecs(out, cfg, err, err_size);
	case S3_CREDS_IMDS:
		return fetch_imds(out, cfg, err, err_size);
	default:
		snprintf(err, err_size, "static credentials are not fetched");
		return -EINVAL;
	}
}
