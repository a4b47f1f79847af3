/* mount_helper.c - mount.sealfs, the helper mount(8) runs for `mount -t
 * sealfs`, /etc/fstab lines and systemd's .mount units:
 *
 *   mount.sealfs STORE MOUNTPOINT [-sfnv] [-N NS] [-o OPT[,OPT...]]
 *
 * It turns the -o list into the arguments of `sealfs mount` (every long
 * option of sealfs mount has an -o spelling, with '_' or '-': cache=DIR,
 * passfile=F, extpass=CMD, commit_delay=MS, ...), drops what is meant for
 * mount(8), systemd or file managers (x-*, _netdev, nofail, noauto, auto,
 * user, users, owner, group, defaults, comment=), passes the rest (ro, rw,
 * allow_other, nosuid, nodev, noatime, ...) on to FUSE, and runs sealfs
 * mount in this process. It must never take a secret as an option value
 * (passphrases come from passfile=, extpass= or keyring) and never print
 * one. Exit codes follow mount(8): 0, 1 (usage), 32 (the mount failed). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "cli_util.h"
#include "exitcodes.h"

#define HELPER_OPTS_BYTES 4096
#define HELPER_MAX_ARGS 64
#define HELPER_EXIT_USAGE 1
#define HELPER_EXIT_FAIL 32

/* What `sealfs mount` gets. */
struct helper_args {
	char *argv[HELPER_MAX_ARGS];
	int argc;
	char fuse[HELPER_OPTS_BYTES]; /* the -o options for FUSE */
	const char *gvfs_name;	      /* x-gvfs-name=, or NULL */
	bool has_name;		      /* name= was given */
	bool fake;		      /* -f: do everything but mount */
	bool verbose;		      /* -v: let sealfs mount print its lines */
};

/* sealfs mount's long options, in their -o spelling, and whether each takes
 * a value. */
static const struct {
	const char *name;
	const char *flag;
	bool value;
} helper_long[] = {
    {"cache", "--cache", true},
    {"passfile", "--passphrase-file", true},
    {"passphrase-file", "--passphrase-file", true},
    {"extpass", "--extpass", true},
    {"foreground", "--foreground", false},
    {"commit-delay", "--commit-delay", true},
    {"fsync-store", "--fsync-store", false},
    {"idle-lock", "--idle-lock", true},
    {"cache-size", "--cache-size", true},
    {"entry-timeout", "--entry-timeout", true},
    {"cache-full-wait", "--cache-full-wait", true},
    {"name", "--name", true},
    {"lock-on", "--lock-on", true},
    {"keyring", "--keyring", false},
    {"insecure-http", "--insecure-http", false},
};

/* Meant for mount(8), systemd or file managers: dropped. */
static bool helper_ignored(const char *opt, size_t keylen)
{
	static const char *const words[] = {"_netdev", "nofail",   "noauto",  "auto",
					    "user",    "nouser",   "users",   "owner",
					    "group",   "defaults", "comment", "loop"};

	if (strncmp(opt, "x-", 2) == 0 || strncmp(opt, "X-", 2) == 0)
		return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == keylen && strncmp(opt, words[i], keylen) == 0)
			return true;
	return false;
}

/* Options by key; '_' and '-' are the same. Returns the index or -1. */
static int helper_find(const char *key, size_t keylen)
{
	char norm[32];

	if (keylen >= sizeof(norm))
		return -1;
	for (size_t i = 0; i < keylen; i++)
		norm[i] = key[i] == '_' ? '-' : key[i];
	norm[keylen] = '\0';
	for (size_t i = 0; i < sizeof(helper_long) / sizeof(helper_long[0]); i++)
		if (strcmp(norm, helper_long[i].name) == 0)
			return (int)i;
	return -1;
}

static int helper_push(struct helper_args *h, const char *arg)
{
	if (h->argc + 2 >= HELPER_MAX_ARGS)
		return cli_usage("mount", "-o: too many options");
	h->argv[h->argc++] = (char *)arg;
	h->argv[h->argc] = NULL;
	return 0;
}

/* One -o option: a sealfs option, one to drop, or one for FUSE. */
static int helper_opt(struct helper_args *h, char *opt, char *fuse, size_t *used)
{
	size_t keylen = strcspn(opt, "=");
	int i = helper_find(opt, keylen), n;

	if (opt[0] == '\0')
		return 0;
	if (strncmp(opt, "x-gvfs-name=", 12) == 0 && !h->gvfs_name)
		h->gvfs_name = opt + 12; /* the name, unless name= says otherwise */
	if (i >= 0) {
		if (helper_long[i].value != (opt[keylen] == '='))
			return cli_usage("mount", "-o %.*s %s", (int)keylen, opt,
					 helper_long[i].value ? "needs a value" : "takes no value");
		if (strcmp(helper_long[i].flag, "--name") == 0)
			h->has_name = true;
		if (helper_push(h, helper_long[i].flag))
			return HELPER_EXIT_USAGE;
		return helper_long[i].value ? helper_push(h, opt + keylen + 1) : 0;
	}
	if (helper_ignored(opt, keylen))
		return 0;
	n = snprintf(fuse + *used, HELPER_OPTS_BYTES - *used, "%s%s", *used ? "," : "", opt);
	if (n < 0 || (size_t)n >= HELPER_OPTS_BYTES - *used)
		return cli_usage("mount", "-o: too many options");
	*used += (size_t)n;
	return 0;
}

static int helper_parse_opts(struct helper_args *h, char *list)
{
	char *rest = list, *opt;
	size_t used = strlen(h->fuse);
	int rc = 0;

	while (rc == 0 && (opt = strsep(&rest, ",")) != NULL)
		rc = helper_opt(h, opt, h->fuse, &used);
	return rc;
}

/* mount(8)'s flags: -s (sloppy), -f (fake), -n (no mtab), -v (verbose),
 * -N NS (namespace: not supported), -t TYPE. */
static int helper_flags(struct helper_args *h, int argc, char **argv, int *i)
{
	const char *a = argv[*i];

	if (strcmp(a, "-o") == 0 || strcmp(a, "-t") == 0 || strcmp(a, "-N") == 0) {
		if (*i + 1 >= argc)
			return cli_usage("mount", "%s needs a value", a);
		(*i)++;
		if (a[1] == 'N')
			return cli_usage("mount", "-N (another mount namespace) is not supported");
		return a[1] == 'o' ? helper_parse_opts(h, argv[*i]) : 0;
	}
	for (const char *c = a + 1; *c; c++) {
		if (*c == 'f')
			h->fake = true;
		else if (*c == 'v')
			h->verbose = true;
		else if (*c != 's' && *c != 'n' && *c != 'v')
			return cli_usage("mount", "unknown flag -%c", *c);
	}
	return 0;
}

static int helper_parse(struct helper_args *h, int argc, char **argv)
{
	const char *pos[2];
	int npos = 0, rc = 0;

	memset(h, 0, sizeof(*h));
	h->argv[h->argc++] = "mount";
	for (int i = 1; i < argc && rc == 0; i++) {
		if (argv[i][0] == '-' && argv[i][1] != '\0')
			rc = helper_flags(h, argc, argv, &i);
		else if (npos < 2)
			pos[npos++] = argv[i];
		else
			rc = cli_usage("mount", "too many arguments: expected STORE MOUNTPOINT");
	}
	if (rc == 0 && npos != 2)
		rc = cli_usage("mount", "expected STORE and MOUNTPOINT");
	if (rc == 0 && h->gvfs_name && !h->has_name)
		rc = helper_push(h, "--name") || helper_push(h, h->gvfs_name);
	if (rc == 0 && !h->verbose)
		rc = helper_push(h, "--quiet"); /* mount(8) helpers print nothing */
	if (rc == 0 && h->fuse[0])
		rc = helper_push(h, "-o") || helper_push(h, h->fuse);
	if (rc == 0)
		rc = helper_push(h, pos[0]) || helper_push(h, pos[1]);
	return rc ? HELPER_EXIT_USAGE : 0;
}

/* sealfs's exit codes in mount(8)'s terms. */
static int helper_exit_code(int rc)
{
	if (rc == EXITCODE_OK)
		return 0;
	return rc == EXITCODE_USAGE ? HELPER_EXIT_USAGE : HELPER_EXIT_FAIL;
}

int main(int argc, char **argv)
{
	static struct helper_args h;
	int rc = helper_parse(&h, argc, argv);

	if (rc)
		return rc;
	if (h.fake)
		return 0;
	/* The daemon shows as sealfs in ps and top. sealfs unmount finds it
	 * by its pid file and start time, not by this name (fs/util/runtime.c). */
	(void)prctl(PR_SET_NAME, "sealfs", 0, 0, 0);
	optind = 1; /* sealfs mount parses with getopt again */
	return helper_exit_code(cli_mount_main(h.argc, h.argv));
}
