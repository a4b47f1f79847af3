/* test_s3_providers.c - what users of other providers and of temporary
 * credentials meet, against s3rver (through faultproxy.py and credserver.py,
 * all on 127.0.0.1): a server whose host name resolves only for path style,
 * a 4 KiB session token, credential_process (refreshed before expiry and
 * after ExpiredToken), web identity at STS, the container endpoint, IMDSv2,
 * a region redirect cured on AWS host names and explained elsewhere,
 * RequestTimeTooSkewed, Retry-After, and whitespace before a
 * CompleteMultipartUpload reply. argv[1] faultproxy.py, argv[2]
 * credserver.py; run under s3rver.sh run. */
#include <fcntl.h>
#include <sys/stat.h>

#include "s3_test_util.h"

#define MIB ((size_t)1 << 20)

static const char *proxy_script, *cred_script;
static char dir[64] = "/tmp/sealfs-s3prov-XXXXXX";

static void fast(struct s3_tuning *t)
{
	s3_tuning_default(t);
	t->policy.base_delay_ms = t->read_policy.base_delay_ms = 20;
	t->policy.max_delay_ms = t->read_policy.max_delay_ms = 200;
}

/* A put then a get of the same bytes. */
static int roundtrip(struct backend *b, const char *key, size_t len)
{
	unsigned char *data = malloc(len), *out = NULL;
	size_t got = 0;
	int rc = data ? 0 : -ENOMEM;
	if (rc == 0) {
		t_fill(data, len, (uint32_t)len);
		rc = b->ops->put(b, key, data, len);
	}
	if (rc == 0)
		rc = b->ops->get(b, key, 0, 0, &out, &got);
	if (rc == 0 && (got != len || memcmp(out, data, len) != 0))
		rc = -EIO;
	free(data);
	free(out);
	return rc;
}

static struct backend *open_at(const char *endpoint, const char *prefix, const struct s3_tuning *t,
			       char *err, int *rc)
{
	struct backend *b = NULL;
	/* The names below resolve to 127.0.0.1 through CURLOPT_RESOLVE: plain
	 * http stays on this machine, which the name does not show. */
	struct backend_opts o = {.endpoint = endpoint, .path_style = -1, .insecure_http = 1};
	*rc = s3_backend_open_tuned(&b, "sealfs-test", prefix, &o, t, err, 512);
	return b;
}

static void test_path_style_host_name(void)
{
	struct s3_tuning t;
	char ep[96], resolve[128], err[512];
	int rc;
	fast(&t);
	snprintf(resolve, sizeof resolve, "objects.test:%d:127.0.0.1", t_port());
	snprintf(ep, sizeof ep, "http://objects.test:%d", t_port());
	t.resolve = resolve; /* sealfs-test.objects.test does not resolve */
	struct backend *b = open_at(ep, "hostname", &t, err, &rc);
	CHECKF(rc == 0 && b && roundtrip(b, "obj", 1000) == 0, "auto on a host name: %d %s", rc,
	       err);
	backend_destroy(b);
	b = open_at(ep, "hostname?addressing=virtual", &t, err, &rc);
	CHECKF(rc == -EHOSTUNREACH && !b, "virtual-hosted cannot resolve: %d %s", rc, err);
	backend_destroy(b);
	b = open_at(ep, "hostname?addressing=path", &t, err, &rc);
	CHECKF(rc == 0 && b, "?addressing=path: %d %s", rc, err);
	backend_destroy(b);
}

static void test_long_session_token(void)
{
	char tok[4097], err[512];
	int rc;
	for (size_t i = 0; i < 4096; i++)
		tok[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i % 64];
	tok[4096] = '\0';
	setenv("AWS_SESSION_TOKEN", tok, 1);
	struct backend *b = open_at(NULL, "token", NULL, err, &rc);
	CHECKF(rc == 0 && b && roundtrip(b, "obj", 100) == 0, "4 KiB session token: %d %s", rc,
	       err);
	backend_destroy(b);
	unsetenv("AWS_SESSION_TOKEN");
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	CHECKF(f && fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
	chmod(path, mode);
}

static int count_lines(const char *path, const char *text)
{
	char line[512];
	int n = 0;
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f))
		n += strstr(line, text) != NULL;
	if (f)
		fclose(f);
	return n;
}

/* Static keys out of the way: only the source under test can sign. */
static void no_static_keys(void)
{
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
}

static void static_keys(void)
{
	setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
	unsetenv("AWS_PROFILE");
}

/* A credential_process script: counts its runs in DIR/runs and hands out
 * token tok-N valid for LIFE seconds. */
static void process_profile(const char *life)
{
	char script[128], cfg[128], text[1024];
	snprintf(script, sizeof script, "%s/creds.sh", dir);
	snprintf(text, sizeof text,
		 "#!/bin/sh\necho run >> %s/runs\nn=$(wc -l < %s/runs)\n"
		 "exp=$(date -u -d \"@$(( $(date +%%s) + %s ))\" +%%Y-%%m-%%dT%%H:%%M:%%SZ)\n"
		 "printf '{\"Version\": 1, \"AccessKeyId\": \"S3RVER\", \"SecretAccessKey\": "
		 "\"S3RVER\", \"SessionToken\": \"tok-%%s\", \"Expiration\": \"%%s\"}' \"$n\" "
		 "\"$exp\"\n",
		 dir, dir, life);
	write_text(script, text, 0700);
	snprintf(cfg, sizeof cfg, "%s/config", dir);
	snprintf(text, sizeof text, "[profile proc]\ncredential_process = %s\n", script);
	write_text(cfg, text, 0600);
	setenv("AWS_CONFIG_FILE", cfg, 1);
	setenv("AWS_PROFILE", "proc", 1);
	snprintf(text, sizeof text, "%s/runs", dir);
	unlink(text);
}

static void test_credential_process_refresh(void)
{
	struct s3_tuning t;
	char err[512], runs[128];
	int rc;
	fast(&t);
	t.creds_margin_s = 0;
	no_static_keys();
	process_profile("2");
	snprintf(runs, sizeof runs, "%s/runs", dir);
	struct backend *b = open_at(NULL, "process", &t, err, &rc);
	CHECKF(rc == 0 && b, "open with credential_process: %d %s", rc, err);
	if (b) {
		CHECKF(roundtrip(b, "a", 10) == 0 && count_lines(runs, "run") == 1,
		       "one run while valid: %d", count_lines(runs, "run"));
		sleep(3);
		CHECKF(roundtrip(b, "b", 10) == 0 && count_lines(runs, "run") == 2,
		       "run again after expiry: %d", count_lines(runs, "run"));
	}
	backend_destroy(b);
	static_keys();
}

static void test_expired_token_refetches(void)
{
	struct t_proxy p;
	struct s3_tuning t;
	char err[512], ep[64], runs[128];
	int rc;
	fast(&t);
	no_static_keys();
	process_profile("3600");
	snprintf(runs, sizeof runs, "%s/runs", dir);
	if (t_proxy_start(&p, proxy_script, "expiredtoken:tok-1") < 0) {
		CHECKF(0, "cannot start faultproxy");
		return;
	}
	t_endpoint(ep, &p);
	struct backend *b = open_at(ep, "expired", &t, err, &rc);
	CHECKF(rc == 0 && b && roundtrip(b, "a", 10) == 0, "ExpiredToken cured: %d %s", rc, err);
	CHECKF(count_lines(runs, "run") == 2 && t_proxy_count(&p, "expiredtoken") == 1,
	       "runs %d, refused %d", count_lines(runs, "run"), t_proxy_count(&p, "expiredtoken"));
	backend_destroy(b);
	t_proxy_stop(&p);
	static_keys();
}

/* Starts credserver.py; its port, or -1. */
static int cred_start(pid_t *pid, const char *log)
{
	int fds[2];
	char line[32] = "";
	if (pipe(fds) < 0)
		return -1;
	*pid = fork();
	if (*pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execlp("python3", "python3", cred_script, "--key", "S3RVER", "--secret", "S3RVER",
		       "--log", log, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	FILE *f = fdopen(fds[0], "r");
	int ok = *pid > 0 && f && fgets(line, sizeof line, f);
	if (f)
		fclose(f);
	return ok ? (int)strtol(line, NULL, 10) : -1;
}

static void test_fetched_sources(void)
{
	char log[128], url[128], tokfile[128], err[512];
	pid_t pid = 0;
	int rc;
	snprintf(log, sizeof log, "%s/cred.log", dir);
	int port = cred_start(&pid, log);
	CHECKF(port > 0, "credserver started");
	no_static_keys();
	setenv("AWS_CONFIG_FILE", "/nonexistent", 1);

	snprintf(url, sizeof url, "http://127.0.0.1:%d", port); /* IMDSv2 */
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	struct backend *b = open_at(NULL, "imds", NULL, err, &rc);
	CHECKF(rc == 0 && b && roundtrip(b, "a", 10) == 0, "imds: %d %s", rc, err);
	CHECKF(count_lines(log, "PUT /latest/api/token 200") == 1, "imds token asked once");
	backend_destroy(b);

	snprintf(url, sizeof url, "http://127.0.0.1:%d/ecs/creds", port); /* container */
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer ecs-secret", 1);
	b = open_at(NULL, "ecs", NULL, err, &rc);
	CHECKF(rc == 0 && b && roundtrip(b, "a", 10) == 0, "ecs: %d %s", rc, err);
	backend_destroy(b);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer wrong", 1);
	b = open_at(NULL, "ecs", NULL, err, &rc);
	CHECKF(rc == -EACCES && strstr(err, "container endpoint"), "ecs refused: %d %s", rc, err);
	backend_destroy(b);
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");

	snprintf(url, sizeof url, "http://127.0.0.1:%d/sts", port); /* web identity */
	snprintf(tokfile, sizeof tokfile, "%s/oidc", dir);
	write_text(tokfile, "oidc-token-abc\n", 0600);
	setenv("AWS_ENDPOINT_URL_STS", url, 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tokfile, 1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/sealfs", 1);
	b = open_at(NULL, "sts", NULL, err, &rc);
	CHECKF(rc == 0 && b && roundtrip(b, "a", 10) == 0, "web identity: %d %s", rc, err);
	backend_destroy(b);
	write_text(tokfile, "not-the-token\n", 0600);
	b = open_at(NULL, "sts", NULL, err, &rc);
	CHECKF(rc < 0 && strstr(err, "AssumeRoleWithWebIdentity"), "bad oidc token: %d %s", rc,
	       err);
	backend_destroy(b);
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	unsetenv("AWS_ENDPOINT_URL_STS");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	static_keys();
}

/* 301 with a region: followed on AWS host names, explained elsewhere. */
static void test_region_redirect(void)
{
	struct t_proxy p;
	struct s3_tuning t;
	char err[512], ep[96], resolve[256];
	int rc;
	fast(&t);
	if (t_proxy_start(&p, proxy_script, "redirect:eu-west-3*1") < 0) {
		CHECKF(0, "cannot start faultproxy");
		return;
	}
	snprintf(resolve, sizeof resolve,
		 "sealfs-test.s3.us-east-1.amazonaws.com:%d:127.0.0.1,"
		 "sealfs-test.s3.eu-west-3.amazonaws.com:%d:127.0.0.1",
		 p.port, p.port);
	snprintf(ep, sizeof ep, "http://s3.us-east-1.amazonaws.com:%d", p.port);
	t.resolve = resolve;
	struct backend *b = open_at(ep, "moved", &t, err, &rc);
	CHECKF(rc == 0 && b && roundtrip(b, "a", 10) == 0, "redirect followed: %d %s", rc, err);
	CHECKF(t_proxy_count(&p, "redirect") == 1, "one redirect");
	backend_destroy(b);
	t_proxy_stop(&p);

	if (t_proxy_start(&p, proxy_script, "badregion:eu-west-3") < 0)
		return;
	t_endpoint(ep, &p);
	b = open_at(ep, "moved", &t, err, &rc);
	CHECKF(rc < 0 && strstr(err, "set AWS_REGION=eu-west-3"), "region named: %d %s", rc, err);
	backend_destroy(b);
	t_proxy_stop(&p);
}

static void test_skew_retry_after_and_whitespace(void)
{
	struct t_proxy p;
	struct s3_tuning t;
	char err[512], ep[64];
	int rc;
	fast(&t);
	t.multipart_threshold = t.part_size = MIB;
	if (t_proxy_start(
		&p, proxy_script,
		"skewed:600,retryafter:1*1@PUT /sealfs-test/misc/a ,wscomplete@big?uploadId=") <
	    0) {
		CHECKF(0, "cannot start faultproxy");
		return;
	}
	t_endpoint(ep, &p);
	struct backend *b = open_at(ep, "misc", &t, err, &rc);
	CHECKF(rc == 0 && b, "open with a skewed server clock: %d %s", rc, err);
	if (b) {
		double t0 = t_now();
		CHECKF(roundtrip(b, "a", 10) == 0 && t_now() - t0 >= 0.9,
		       "Retry-After: %s (%.2f s)", s3_last_error(), t_now() - t0);
		CHECKF(roundtrip(b, "big", 2 * MIB + 7) == 0,
		       "whitespace before CompleteMultipartUploadResult: %s", s3_last_error());
	}
	CHECKF(t_proxy_count(&p, "skewed") == 1 && t_proxy_count(&p, "wscomplete") == 1,
	       "skewed %d (once), wscomplete %d", t_proxy_count(&p, "skewed"),
	       t_proxy_count(&p, "wscomplete"));
	backend_destroy(b);
	t_proxy_stop(&p);
}

int main(int argc, char **argv)
{
	char cmd[128];
	if (argc < 3) {
		fprintf(stderr, "usage: %s faultproxy.py credserver.py\n", argv[0]);
		return 2;
	}
	proxy_script = argv[1];
	cred_script = argv[2];
	t_port();
	if (!mkdtemp(dir))
		return 1;
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	test_path_style_host_name();
	test_long_session_token();
	test_credential_process_refresh();
	test_expired_token_refetches();
	test_fetched_sources();
	test_region_redirect();
	test_skew_retry_after_and_whitespace();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_done("test_s3_providers");
}
