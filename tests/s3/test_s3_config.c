/* test_s3_config.c - endpoint, region, profile, credentials and addressing
 * style resolution from backend_opts, AWS_* variables and ~/.aws files
 * written into a temporary HOME. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "s3_config.h"
#include "s3_creds.h"

static char home[256];

static const char *vars[] = {"AWS_ENDPOINT_URL_S3",
			     "AWS_ENDPOINT_URL",
			     "AWS_REGION",
			     "AWS_DEFAULT_REGION",
			     "AWS_PROFILE",
			     "AWS_ACCESS_KEY_ID",
			     "AWS_SECRET_ACCESS_KEY",
			     "AWS_SESSION_TOKEN",
			     "AWS_CONFIG_FILE",
			     "AWS_SHARED_CREDENTIALS_FILE",
			     "AWS_CA_BUNDLE",
			     "AWS_S3_ADDRESSING_STYLE",
			     "AWS_WEB_IDENTITY_TOKEN_FILE",
			     "AWS_ROLE_ARN",
			     "AWS_ROLE_SESSION_NAME",
			     "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
			     "AWS_CONTAINER_CREDENTIALS_FULL_URI",
			     "AWS_CONTAINER_AUTHORIZATION_TOKEN",
			     "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
			     "AWS_ENDPOINT_URL_STS",
			     "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
			     "AWS_USE_DUALSTACK_ENDPOINT",
			     "AWS_EC2_METADATA_SERVICE_ENDPOINT"};

static void write_file(const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/.aws/%s", home, name);
	FILE *f = fopen(path, "w");
	bool ok = f && fputs(text, f) >= 0;
	if (f && fclose(f) != 0)
		ok = false;
	CHECKF(ok, "cannot write %s", path);
}

static void reset(void)
{
	char path[512];
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
	setenv("HOME", home, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1); /* tests opt in */
	snprintf(path, sizeof path, "%s/.aws/config", home);
	unlink(path);
	snprintf(path, sizeof path, "%s/.aws/credentials", home);
	unlink(path);
}

static int load(struct s3_config *c, const char *bucket, const struct backend_opts *o, char *err)
{
	return s3_config_load(c, bucket, o, err, 256);
}

static void test_env_credentials_and_default_endpoint(void)
{
	struct s3_config c;
	char err[256];
	reset();
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "skenv", 1);
	setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
	CHECKF(load(&c, "bucket", NULL, err) == 0, "load: %s", err);
	CHECKF(strcmp(c.scheme, "https") == 0 && strcmp(c.host, "s3.eu-west-3.amazonaws.com") == 0,
	       "default endpoint %s://%s", c.scheme, c.host);
	CHECKF(c.endpoint_is_default && !c.path_style, "virtual-hosted by default");
	CHECKF(strcmp(c.region, "eu-west-3") == 0, "region %s", c.region);
	CHECKF(strcmp(c.access_key, "AKENV") == 0 && strcmp(c.secret_key, "skenv") == 0,
	       "env creds");
	CHECKF(c.session_token == NULL, "no token");
	s3_config_release(&c);

	setenv("AWS_REGION", "ap-south-1", 1); /* beats AWS_DEFAULT_REGION */
	setenv("AWS_SESSION_TOKEN", "tok", 1);
	CHECKF(load(&c, "bucket", NULL, err) == 0, "load: %s", err);
	CHECKF(strcmp(c.region, "ap-south-1") == 0, "AWS_REGION first: %s", c.region);
	CHECKF(c.session_token && strcmp(c.session_token, "tok") == 0, "token");
	s3_config_release(&c);
}

static void test_endpoint_precedence_and_path_style(void)
{
	struct s3_config c;
	char err[256];
	reset();
	setenv("AWS_ACCESS_KEY_ID", "a", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
	setenv("AWS_ENDPOINT_URL", "http://localhost:9000", 1);
	CHECKF(load(&c, "b", NULL, err) == 0, "load: %s", err);
	CHECKF(strcmp(c.host, "localhost:9000") == 0 && c.path_style, "localhost: path style");
	CHECKF(strcmp(c.scheme, "http") == 0, "scheme %s", c.scheme);
	s3_config_release(&c);

	setenv("AWS_ENDPOINT_URL_S3", "HTTP://127.0.0.1:4568/", 1); /* _S3 wins */
	CHECKF(load(&c, "b", NULL, err) == 0, "load: %s", err);
	CHECKF(strcmp(c.host, "127.0.0.1:4568") == 0 && c.path_style &&
		   strcmp(c.scheme, "http") == 0,
	       "ip: %s %d", c.host, c.path_style);
	s3_config_release(&c);

	struct backend_opts o = {.endpoint = "https://[::1]:9000", .path_style = 0};
	CHECKF(load(&c, "b", &o, err) == 0, "load: %s", err);
	CHECKF(strcmp(c.host, "[::1]:9000") == 0 && c.path_style, "opts endpoint, ipv6 path style");
	s3_config_release(&c);

	o.endpoint = "https://minio.example.net";
	o.path_style = -1;
	CHECKF(load(&c, "bucket", &o, err) == 0 && c.path_style, "custom endpoint: path style");
	s3_config_release(&c);
	o.path_style = 0;
	CHECKF(load(&c, "bucket", &o, err) == 0 && !c.path_style, "opts forces virtual-hosted");
	s3_config_release(&c);
	o.path_style = 1;
	CHECKF(load(&c, "b", &o, err) == 0 && c.path_style, "opts forces path style");
	s3_config_release(&c);
	o.path_style = -1;
	CHECKF(load(&c, "my.dotted.bucket", &o, err) == 0 && c.path_style, "dotted bucket");
	s3_config_release(&c);

	/* Plain http leaves the machine only when asked (SECURITY.md). */
	o.endpoint = "http://minio.example.net:9000";
	err[0] = '\0';
	CHECKF(load(&c, "b", &o, err) == -EINVAL && strstr(err, "--insecure-http"),
	       "http:// to another host accepted (%s)", err);
	o.endpoint = "http://10.0.0.5";
	CHECKF(load(&c, "b", &o, err) == -EINVAL, "http:// to a LAN address accepted");
	o.insecure_http = 1;
	CHECKF(load(&c, "b", &o, err) == 0 && strcmp(c.scheme, "http") == 0,
	       "--insecure-http refused: %s", err);
	s3_config_release(&c);
	o.insecure_http = 0;
	o.endpoint = "http://127.0.0.2:4568";
	CHECKF(load(&c, "b", &o, err) == 0, "loopback http refused: %s", err);
	s3_config_release(&c);
	o.endpoint = "http://[::1]:4568";
	CHECKF(load(&c, "b", &o, err) == 0, "[::1] http refused: %s", err);
	s3_config_release(&c);

	const char *bad[] = {"ftp://host", "https://",		"https://host/p?x=1",
			     "host:9000",  "https://user@host", "https://host/a%20b"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		o.endpoint = bad[i];
		err[0] = '\0';
		CHECKF(load(&c, "b", &o, err) == -EINVAL && strstr(err, "endpoint"),
		       "bad endpoint %s accepted (%s)", bad[i], err);
	}
}

static void test_files_default_profile(void)
{
	struct s3_config c;
	char err[256];
	reset();
	write_file("config", "# comment\n[default]\nregion = us-west-2\n"
			     "endpoint_url = http://127.0.0.1:1234\n"
			     "[profile other]\nregion=eu-central-1\n");
	write_file("credentials", "[other]\naws_access_key_id=AKO\naws_secret_access_key=sko\n"
				  "[default]\r\naws_access_key_id = AKD\r\n"
				  "aws_secret_access_key = skd/+x\r\naws_session_token = tokd\r\n");
	CHECKF(load(&c, "b", NULL, err) == 0, "load: %s", err);
	CHECKF(strcmp(c.region, "us-west-2") == 0, "file region %s", c.region);
	CHECKF(strcmp(c.host, "127.0.0.1:1234") == 0 && c.path_style, "file endpoint %s", c.host);
	CHECKF(strcmp(c.access_key, "AKD") == 0 && strcmp(c.secret_key, "skd/+x") == 0 &&
		   c.session_token && strcmp(c.session_token, "tokd") == 0,
	       "default creds (CRLF file)");
	s3_config_release(&c);

	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1); /* env beats the file */
	setenv("AWS_SECRET_ACCESS_KEY", "skenv", 1);
	CHECKF(load(&c, "b", NULL, err) == 0 && strcmp(c.access_key, "AKENV") == 0 &&
		   c.session_token == NULL,
	       "env creds over file");
	s3_config_release(&c);
}

static void test_files_named_profile(void)
{
	struct s3_config c;
	char err[256];
	reset();
	write_file("config",
		   "[default]\nregion = us-west-2\n"
		   "[profile other]\nregion=eu-central-1\n"
		   "s3 =\n  endpoint_url = http://127.0.0.1:7777\n  addressing_style = path\n"
		   "endpoint_url = http://shadowed.example:1\n");
	write_file("credentials", "[default]\naws_access_key_id=AKD\naws_secret_access_key=skd\n"
				  "[other]\naws_access_key_id=AKO\naws_secret_access_key=sko\n");
	setenv("AWS_PROFILE", "other", 1);
	CHECKF(load(&c, "b", NULL, err) == 0, "load: %s", err);
	CHECKF(strcmp(c.profile, "other") == 0 && strcmp(c.region, "eu-central-1") == 0,
	       "profile region %s", c.region);
	CHECKF(strcmp(c.host, "127.0.0.1:7777") == 0, "nested s3 endpoint_url first: %s", c.host);
	CHECKF(strcmp(c.access_key, "AKO") == 0 && strcmp(c.secret_key, "sko") == 0,
	       "profile creds");
	s3_config_release(&c);

	struct backend_opts o = {.profile = "default", .region = "sa-east-1"};
	CHECKF(load(&c, "b", &o, err) == 0, "load: %s", err);
	CHECKF(strcmp(c.access_key, "AKD") == 0 && strcmp(c.region, "sa-east-1") == 0,
	       "opts profile and region override");
	s3_config_release(&c);
}

static void test_override_file_paths_and_config_creds(void)
{
	struct s3_config c;
	char err[256], cfg[512], creds[512];
	reset();
	snprintf(cfg, sizeof cfg, "%s/alt-config", home);
	snprintf(creds, sizeof creds, "%s/alt-creds", home);
	FILE *f = fopen(cfg, "w");
	if (f) {
		fputs("[profile p]\nregion = ca-central-1\naws_access_key_id = AKC\n"
		      "aws_secret_access_key = skc\n",
		      f);
		fclose(f);
	}
	setenv("AWS_CONFIG_FILE", cfg, 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", creds, 1); /* does not exist */
	setenv("AWS_PROFILE", "p", 1);
	CHECKF(load(&c, "b", NULL, err) == 0, "load: %s", err);
	CHECKF(strcmp(c.region, "ca-central-1") == 0 && strcmp(c.access_key, "AKC") == 0,
	       "AWS_CONFIG_FILE profile with credentials");
	s3_config_release(&c);
	unlink(cfg);
}

static void test_missing_credentials_is_eacces(void)
{
	struct s3_config c;
	char err[256];
	reset();
	CHECKF(load(&c, "b", NULL, err) == -EACCES && strstr(err, "no s3 credentials"),
	       "no creds: %s", err);
	CHECKF(c.host == NULL && c.secret_key == NULL, "released after failure");
	setenv("AWS_ACCESS_KEY_ID", "a", 1);
	CHECKF(load(&c, "b", NULL, err) == -EACCES && strstr(err, "AWS_SECRET_ACCESS_KEY"),
	       "half env creds: %s", err);
	reset();
	write_file("credentials", "[default]\naws_access_key_id=AKD\n");
	CHECKF(load(&c, "b", NULL, err) == -EACCES, "key id without secret accepted");
}

static void test_addressing_style(void)
{
	struct s3_config c;
	char err[256];
	reset();
	setenv("AWS_ACCESS_KEY_ID", "a", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
	CHECKF(load(&c, "my_bucket", NULL, err) == 0 && c.path_style && c.endpoint_is_aws,
	       "aws, bucket not DNS-safe: path style");
	s3_config_release(&c);
	setenv("AWS_S3_ADDRESSING_STYLE", "virtual", 1);
	setenv("AWS_ENDPOINT_URL", "https://garage.example.net:3900", 1);
	CHECKF(load(&c, "bucket", NULL, err) == 0 && !c.path_style, "env virtual: %s", err);
	s3_config_release(&c);
	setenv("AWS_S3_ADDRESSING_STYLE", "sideways", 1);
	CHECKF(load(&c, "bucket", NULL, err) == -EINVAL && strstr(err, "AWS_S3_ADDRESSING_STYLE"),
	       "bad style named: %s", err);
	unsetenv("AWS_S3_ADDRESSING_STYLE");
	write_file("config", "[default]\ns3 =\n  addressing_style = virtual\n");
	CHECKF(load(&c, "bucket", NULL, err) == 0 && !c.path_style, "config file virtual");
	s3_config_release(&c);
	struct backend_opts o = {.path_style = 1};
	CHECKF(load(&c, "bucket", &o, err) == 0 && c.path_style, "opts beat the file");
	s3_config_release(&c);
}

static void test_region_inference_and_aws_hosts(void)
{
	static const char *const cases[][2] = {
	    {"https://s3.us-west-004.backblazeb2.com", "us-west-004"},
	    {"https://s3.eu-central-2.wasabisys.com", "eu-central-2"},
	    {"https://s3.wasabisys.com", "us-east-1"},
	    {"https://s3.fr-par.scw.cloud", "fr-par"},
	    {"https://s3.gra.io.cloud.ovh.net", "gra"},
	    {"https://abc123.r2.cloudflarestorage.com", "auto"},
	    {"https://storage.googleapis.com", "auto"},
	    {"https://s3.dualstack.eu-west-1.amazonaws.com", "eu-west-1"},
	    {"https://minio.example.net:9000", "us-east-1"},
	};
	struct s3_config c;
	char err[256], out[64];
	reset();
	setenv("AWS_ACCESS_KEY_ID", "a", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		setenv("AWS_ENDPOINT_URL_S3", cases[i][0], 1);
		CHECKF(load(&c, "bucket", NULL, err) == 0 && strcmp(c.region, cases[i][1]) == 0 &&
			   !c.region_set,
		       "%s: region %s", cases[i][0], c.region ? c.region : "(none)");
		s3_config_release(&c);
	}
	setenv("AWS_REGION", "eu-west-3", 1); /* a set region wins */
	CHECKF(load(&c, "bucket", NULL, err) == 0 && strcmp(c.region, "eu-west-3") == 0,
	       "set region kept");
	s3_config_release(&c);
	CHECKF(s3_config_region_from_host(out, sizeof out, "example.com") == 0, "no region");
	unsetenv("AWS_ENDPOINT_URL_S3");
	setenv("AWS_REGION", "cn-north-1", 1);
	setenv("AWS_USE_DUALSTACK_ENDPOINT", "true", 1);
	CHECKF(load(&c, "bucket", NULL, err) == 0 &&
		   strcmp(c.host, "s3.dualstack.cn-north-1.amazonaws.com.cn") == 0 &&
		   c.endpoint_is_default && !c.path_style,
	       "china dual-stack host %s", c.host);
	s3_config_release(&c);
}

static void test_services_section_and_profile_default(void)
{
	struct s3_config c;
	char err[256];
	reset();
	write_file("config",
		   "[profile default]\nregion = eu-north-1\nservices = mine\n"
		   "aws_access_key_id = AKP\naws_secret_access_key = skp\n"
		   "endpoint_url = https://global.example.net\n"
		   "[services mine]\ns3 =\n  endpoint_url = https://objects.example.net/base/\n");
	CHECKF(load(&c, "bucket", NULL, err) == 0, "load: %s", err);
	CHECKF(strcmp(c.region, "eu-north-1") == 0 && strcmp(c.access_key, "AKP") == 0,
	       "[profile default] read");
	CHECKF(strcmp(c.host, "objects.example.net") == 0 && strcmp(c.base_path, "/base") == 0 &&
		   c.path_style,
	       "services endpoint with a path: %s %s", c.host, c.base_path);
	s3_config_release(&c);
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	CHECKF(load(&c, "bucket", NULL, err) == 0 && c.endpoint_is_default,
	       "configured endpoints ignored");
	s3_config_release(&c);
}

static void test_credential_sources(void)
{
	struct s3_config c;
	char err[256];
	reset();
	write_file("config", "[default]\ncredential_process = /bin/echo hi\n"
			     "[profile web]\nweb_identity_token_file = /t\nrole_arn = arn:r\n"
			     "[profile sso]\nsso_session = corp\n");
	CHECKF(load(&c, "b", NULL, err) == 0 && c.src.kind == S3_CREDS_PROCESS &&
		   strcmp(c.src.process, "/bin/echo hi") == 0,
	       "credential_process: %s", err);
	s3_config_release(&c);
	setenv("AWS_PROFILE", "web", 1);
	CHECKF(load(&c, "b", NULL, err) == 0 && c.src.kind == S3_CREDS_WEB_IDENTITY &&
		   strcmp(c.src.url, "https://sts.amazonaws.com") == 0,
	       "profile web identity: %s", err);
	s3_config_release(&c);
	setenv("AWS_PROFILE", "sso", 1);
	CHECKF(load(&c, "b", NULL, err) == -EACCES && strstr(err, "sso_session") &&
		   strstr(err, "credential_process"),
	       "unsupported key named: %s", err);
	setenv("AWS_PROFILE", "none", 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/tok", 1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/r", 1);
	setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9", 1);
	CHECKF(load(&c, "b", NULL, err) == 0 && c.src.kind == S3_CREDS_WEB_IDENTITY &&
		   strcmp(c.src.url, "http://127.0.0.1:9") == 0 &&
		   strcmp(c.src.session_name, "sealfs") == 0,
	       "env web identity: %s", err);
	s3_config_release(&c);
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.1.2.3/creds", 1);
	CHECKF(load(&c, "b", NULL, err) == -EACCES && strstr(err, "FULL_URI"),
	       "container url refused: %s", err);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:8/creds", 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer x", 1);
	CHECKF(load(&c, "b", NULL, err) == 0 && c.src.kind == S3_CREDS_ECS &&
		   strcmp(c.src.auth, "Bearer x") == 0,
	       "container: %s", err);
	s3_config_release(&c);
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:7", 1);
	CHECKF(load(&c, "b", NULL, err) == 0 && c.src.kind == S3_CREDS_IMDS &&
		   strcmp(c.src.url, "http://127.0.0.1:7") == 0,
	       "imds last: %s", err);
	s3_config_release(&c);
}

static void test_credential_parsers(void)
{
	struct s3_creds *c = NULL;
	char err[200];
	time_t t = 0;
	const char *p = "{\"Version\": 1, \"AccessKeyId\": \"AK\", \"SecretAccessKey\": \"SK\", "
			"\"SessionToken\": \"TOK\", \"Expiration\": \"2030-01-01T00:00:00Z\"}";
	CHECKF(s3_creds_parse_json(&c, p, strlen(p), S3_CREDS_JSON_PROCESS, err, sizeof err) == 0 &&
		   strcmp(c->access_key, "AK") == 0 && strcmp(c->secret_key, "SK") == 0 &&
		   strcmp(c->session_token, "TOK") == 0 && c->expires == 1893456000,
	       "process json: %s", err);
	s3_creds_put(c);
	CHECKF(s3_creds_parse_json(&c, p, strlen(p), S3_CREDS_JSON_CONTAINER, err, sizeof err) ==
		       0 &&
		   c->session_token == NULL,
	       "container json reads Token, not SessionToken");
	s3_creds_put(c);
	const char *v2 = "{\"AccessKeyId\": \"AK\", \"SecretAccessKey\": \"SK\"}";
	CHECKF(s3_creds_parse_json(&c, v2, strlen(v2), S3_CREDS_JSON_PROCESS, err, sizeof err) ==
		       -EPROTO &&
		   !c && strstr(err, "Version"),
	       "Version required: %s", err);
	CHECKF(s3_creds_parse_time(&t, "2030-01-01T02:00:00.123+02:00") == 0 && t == 1893456000,
	       "offset time");
	CHECKF(s3_creds_parse_time(&t, "2030-01-01 00:00:00") == -EINVAL, "bad time");
}

int main(void)
{
	char tmpl[] = "/tmp/sealfs-s3cfg-XXXXXX";
	if (sodium_init() < 0 || !mkdtemp(tmpl))
		return 1;
	snprintf(home, sizeof home, "%s", tmpl);
	char aws[300];
	snprintf(aws, sizeof aws, "%s/.aws", home);
	if (mkdir(aws, 0700) < 0)
		return 1;
	test_env_credentials_and_default_endpoint();
	test_endpoint_precedence_and_path_style();
	test_addressing_style();
	test_region_inference_and_aws_hosts();
	test_services_section_and_profile_default();
	test_credential_sources();
	test_credential_parsers();
	test_files_default_profile();
	test_files_named_profile();
	test_override_file_paths_and_config_creds();
	test_missing_credentials_is_eacces();
	reset();
	rmdir(aws);
	rmdir(home);
	return check_done("test_s3_config");
}
