/* cli_util.c - helpers shared by the sealfs commands: one-line errors, option
 * values, store and config access. Must never print secrets, vault contents
 * or names from inside the vault. */
#include "cli_util.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "errbuf.h"
#include "fdio.h"
#include "hex.h"
#include "log.h"
#include "runtime.h"
#include "suite.h"

#define CLI_MIB (1024ull * 1024ull)
#define CLI_KDF_MEMLIMIT_MAX_MIB (1024ull * 1024ull) /* 1 TiB: anything larger is a typo */
#define CLI_CONFIG_MAX_BYTES (64u * 1024u)	     /* a real config is about 1 KiB */

const char *cli_why(int err)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && (buf[1] < 'A' || buf[1] > 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

int cli_fail(int code, const char *fmt, ...)
{
	va_list ap;
	char line[1024], shown[2048];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Parts of a message may come from the store (an S3 server's error
	 * text): one line of data, whatever it holds. */
	errbuf_escape(shown, sizeof(shown), line);
	/* One write: lines from concurrent processes do not interleave. */
	fprintf(stderr, "sealfs: %s\n", shown);
	return code;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	char line[512];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "sealfs: %s (see 'sealfs %s%s--help')\n", line, cmd ? cmd : "",
		cmd ? " " : "");
	return EXITCODE_USAGE;
}

int cli_bad_option(const char *cmd, int c, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";

	if (c == ':')
		return cli_usage(cmd, "option '%s' needs a value", arg);
	if (strncmp(arg, "--", 2) != 0)
		return cli_usage(cmd, "unknown option '-%c'", optopt);
	if (strchr(arg, '=') && optopt)
		return cli_usage(cmd, "option '%.*s' takes no value", (int)strcspn(arg, "="), arg);
	return cli_usage(cmd, "unknown option '%s'", arg);
}

int cli_parse_ull(unsigned long long *out, const char *opt, const char *text,
		  unsigned long long min, unsigned long long max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (text[0] < '0' || text[0] > '9')
		return cli_fail(EXITCODE_USAGE, "%s: '%s' is not a number", opt, text);
	v = strtoull(text, &end, 10);
	if (errno || *end != '\0')
		return cli_fail(EXITCODE_USAGE, "%s: '%s' is not a number", opt, text);
	if (v < min || v > max)
		return cli_fail(EXITCODE_USAGE, "%s: %llu is out of range (%llu to %llu)", opt, v,
				min, max);
	*out = v;
	return 0;
}

int cli_parse_keep_days(uint64_t *keep_s, const char *opt, const char *text)
{
	unsigned long long v;
	int rc = cli_parse_ull(&v, opt, text, 0, CLI_KEEP_DAYS_MAX);

	if (rc == 0)
		*keep_s = (uint64_t)v * 86400;
	return rc;
}

int cli_parse_grace(uint64_t *grace_s, const char *opt, const char *text)
{
	unsigned long long v;
	int rc = cli_parse_ull(&v, opt, text, 0, CLI_GRACE_MAX_S);

	if (rc == 0)
		*grace_s = (uint64_t)v;
	return rc;
}

int cli_parse_kdf_option(struct vault_kdf_cost *cost, int c, const char *text)
{
	unsigned long long v;
	int rc;

	if (c == 'm') {
		rc = cli_parse_ull(&v, "--kdf-memlimit", text, 1, CLI_KDF_MEMLIMIT_MAX_MIB);
		if (rc == 0)
			cost->memlimit = (size_t)(v * CLI_MIB);
		return rc;
	}
	rc = cli_parse_ull(&v, "--kdf-opslimit", text, crypto_pwhash_OPSLIMIT_MIN,
			   crypto_pwhash_OPSLIMIT_MAX);
	if (rc == 0)
		cost->opslimit = v;
	return rc;
}

int cli_kdf_floor(const char *cmd, const struct vault_kdf_cost *cost, bool insecure_test)
{
	if (insecure_test ||
	    (cost->memlimit >= CLI_KDF_FLOOR_MEMLIMIT && cost->opslimit >= CLI_KDF_FLOOR_OPSLIMIT))
		return 0;
	return cli_fail(EXITCODE_USAGE,
			"%s: a KDF cost below %llu MiB and %llu passes makes guessing the "
			"passphrase cheap: refused",
			cmd, (unsigned long long)(CLI_KDF_FLOOR_MEMLIMIT / CLI_MIB),
			CLI_KDF_FLOOR_OPSLIMIT);
}

void cli_show_recovery(const char *recovery)
{
	fflush(stdout);
	(void)fdio_write_str(STDOUT_FILENO, "recovery key:\n\n    ");
	(void)fdio_write_str(STDOUT_FILENO, recovery);
	(void)fdio_write_str(
	    STDOUT_FILENO,
	    "\n\nWrite this down and keep it somewhere safe. It is the only way back in\n"
	    "if you forget your passphrase (sealfs recover). sealfs stores it nowhere\n"
	    "and cannot show it again.\n");
}

int cli_parse_size(unsigned long long *out, const char *opt, const char *text,
		   unsigned long long min, const char *min_text)
{
	static const char units[] = "KMGT";
	const char *u = NULL;
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (*end)
		u = strchr(units, *end & ~0x20); /* ASCII upper case */
	if (errno || text[0] < '0' || text[0] > '9' || (*end && (!u || !*u || end[1])))
		return cli_usage("mount", "%s takes a size, e.g. 500M, 2G or 1T", opt);
	for (long i = u ? u - units + 1 : 0; i > 0; i--) {
		if (v > (ULLONG_MAX >> 10))
			return cli_usage("mount", "%s is too large", opt);
		v <<= 10;
	}
	if (v < min)
		return cli_usage("mount", "%s must be at least %s", opt, min_text);
	*out = v;
	return 0;
}

int cli_store_error(int rc, const char *url, const char *err)
{
	const char *why = err && err[0] ? err : cli_why(-rc);
	int code = EXITCODE_STORE_MISSING;

	if (rc == -EINVAL || rc == -EPROTONOSUPPORT)
		code = EXITCODE_USAGE;
	else if (rc == -ENOMEM || rc == -ENOSYS) /* ENOSYS: libcurl or libxml2 missing */
		code = EXITCODE_OTHER;
	if (strstr(why, url)) /* the reason already names the store */
		return cli_fail(code, "%s", why);
	return cli_fail(code, "store '%s': %s", url, why);
}

void cli_secrets_unlocked(void *arg, int err, size_t bytes)
{
	(void)arg;
	log_msg(LOG_WARNING,
		"the kernel refused to lock %zu bytes of request-signing key memory (%s): "
		"they stay in use but may be swapped out; raise the memlock limit (ulimit -l)",
		bytes, strerror(err));
}

/* --insecure-http of this command (one command per process). */
static bool cli_insecure_http;

void cli_store_allow_insecure_http(void) { cli_insecure_http = true; }

struct backend_opts cli_store_opts(void)
{
	return (struct backend_opts){.path_style = -1,
				     .insecure_http = cli_insecure_http,
				     .secrets_unlocked = cli_secrets_unlocked};
}

int cli_store_open(struct backend **out, const char *url, bool create)
{
	struct backend_opts opts = cli_store_opts();

	opts.create = create ? 1 : 0;
	char err[CLI_ERR_BYTES] = "";
	int rc;

	rc = backend_open(out, url, &opts, err, sizeof(err));
	return rc == 0 ? 0 : cli_store_error(rc, url, err);
}

/* The "format" number of a config that vault_config_parse refused as newer,
 * or 0 when it is not newer (then an unknown cipher was the reason). */
static long long cli_config_format(const unsigned char *text, size_t len)
{
	json_t *doc = json_loadb((const char *)text, len, 0, NULL);
	json_t *f = json_is_object(doc) ? json_object_get(doc, "format") : NULL;
	long long v = json_is_integer(f) ? json_integer_value(f) : 0;

	json_decref(doc);
	return v > VAULT_FORMAT_VERSION ? v : 0;
}

static int cli_config_parse_error(int rc, const char *url, const unsigned char *text, size_t len)
{
	long long newer;

	if (rc == -ENOMEM)
		return cli_fail(EXITCODE_OTHER, "reading the vault config: out of memory");
	if (rc != -EPROTONOSUPPORT)
		return cli_fail(EXITCODE_NOT_VAULT,
				"'%s' is not a sealfs vault (sealfs.json is not a vault config)",
				url);
	newer = cli_config_format(text, len);
	if (newer)
		return cli_fail(EXITCODE_NEWER_FORMAT,
				"vault format %lld is newer than this sealfs (supports %d)", newer,
				VAULT_FORMAT_VERSION);
	return cli_fail(EXITCODE_NEWER_FORMAT, "vault '%s' uses a cipher this sealfs does not know",
			url);
}

int cli_config_load(struct vault_config **out, struct backend *store, const char *url)
{
	unsigned char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = backend_get_max(store, VAULT_CONFIG_NAME, CLI_CONFIG_MAX_BYTES, &text, &len);
	if (rc == -EFBIG)
		return cli_fail(EXITCODE_NOT_VAULT, "'%s' is not a sealfs vault (%s is too large)",
				url, VAULT_CONFIG_NAME);
	if (rc == -ENOENT)
		return cli_fail(EXITCODE_NOT_VAULT, "'%s' is not a sealfs vault (no %s)", url,
				VAULT_CONFIG_NAME);
	if (rc < 0)
		return cli_fail(EXITCODE_STORE_IO, "reading %s from '%s': %s", VAULT_CONFIG_NAME,
				url, cli_why(-rc));
	rc = vault_config_parse(out, (const char *)text, len);
	if (rc < 0)
		rc = cli_config_parse_error(rc, url, text, len);
	else if (!suite_available((*out)->suite))
		rc =
		    cli_fail(EXITCODE_NEWER_FORMAT, "vault '%s' uses %s, which this cpu cannot run",
			     url, suite_name((*out)->suite));
	free(text);
	if (rc) {
		vault_config_free(*out);
		*out = NULL;
	}
	return rc;
}

int cli_config_save(struct backend *store, const struct vault_config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = vault_config_serialize(&text, &len, cfg);
	if (rc < 0)
		return cli_fail(EXITCODE_OTHER, "serialising the vault config: %s", cli_why(-rc));
	rc = backend_put(store, VAULT_CONFIG_NAME, text, len);
	free(text);
	if (rc == 0)
		rc = backend_sync(store);
	if (rc < 0)
		return cli_fail(EXITCODE_STORE_IO, "writing %s: %s", VAULT_CONFIG_NAME,
				cli_why(-rc));
	return 0;
}

int cli_unlock_error(int rc, const char *what)
{
	switch (rc) {
	case -EACCES:
		return cli_fail(EXITCODE_WRONG_KEY, "wrong %s", what);
	case -EINVAL:
		return cli_fail(EXITCODE_WRONG_KEY, "wrong %s (malformed or bad checksum)", what);
	case -EBADMSG:
		return cli_fail(EXITCODE_NOT_VAULT,
				"vault config was altered: %s does not match its mac",
				VAULT_CONFIG_NAME);
	case -ENOMEM:
		return cli_fail(EXITCODE_OTHER, "unlocking: out of memory (key derivation)");
	default:
		return cli_fail(EXITCODE_OTHER, "unlocking: %s", cli_why(-rc));
	}
}

void cli_harden(void)
{
	struct rlimit none = {0, 0};

	/* Neither can fail for these arguments; nothing useful to do if they did. */
	(void)setrlimit(RLIMIT_CORE, &none);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int cli_cache_default(char *out, const uint8_t vault_id[OBJECT_ID_BYTES])
{
	char id[2 * OBJECT_ID_BYTES + 1];
	const char *base = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	struct passwd *pw;
	int n;

	hex_encode(id, sizeof(id), vault_id, OBJECT_ID_BYTES);
	if (!home || home[0] != '/') {
		pw = getpwuid(geteuid());
		home = pw ? pw->pw_dir : "/";
	}
	if (base && base[0] == '/')
		n = snprintf(out, PATH_MAX, "%s/sealfs/%s", base, id);
	else
		n = snprintf(out, PATH_MAX, "%s/.cache/sealfs/%s", home, id);
	return n > 0 && n < PATH_MAX ? 0 : -ENAMETOOLONG;
}

bool cli_is_help(const char *s) { return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0; }

bool cli_local_path(const char *url, const char **path)
{
	const char *sep = strstr(url, "://");

	if (!sep) {
		*path = url;
		return true;
	}
	if (sep - url != 4 || strncasecmp(url, "file", 4) != 0)
		return false;
	*path = sep + 3;
	if (strncmp(*path, "localhost/", strlen("localhost/")) == 0)
		*path += strlen("localhost");
	return true;
}

int cli_check_sealfs_mount(const char *arg, const char *mnt)
{
	char type[64];
	int rc = runtime_mount_type(mnt, type, sizeof(type));

	if (rc < 0)
		return cli_fail(EXITCODE_OTHER, "reading /proc/self/mountinfo: %s", cli_why(-rc));
	if (rc == 0)
		return cli_fail(EXITCODE_MOUNTPOINT, "'%s' is not mounted", arg);
	if (strcmp(type, "fuse.sealfs") != 0)
		return cli_fail(EXITCODE_MOUNTPOINT, "'%s' is not a sealfs mount (it is %s)", arg,
				type);
	return 0;
}

int cli_mkdirs(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = path[i];
	}
	return 0;
}
