/* cli_fsck.c - `sealfs fsck STORE`: refuses while the vault is mounted
 * read-write on this machine (and --repair while it is mounted at all, its
 * cache is in use or holds commits the store has not got), asks for the
 * passphrase as mount does, runs the checker (fs/vault/fsck.h) and prints
 * what it found (cli_fsck_out.c). Exit codes: 0 clean, 20 damage, 21
 * orphans only (docs/CLI.md). Must never log a name from the vault. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_fsck.h"
#include "cli_opts.h"
#include "seal.h"

#define CLI_FSCK_GRACE_DEFAULT_S (24 * 3600) /* there is no deferred deletion yet */
#define CLI_FSCK_GRACE_MAX_S (100ull * 365 * 24 * 3600)

static const char cli_fsck_usage[] =
    "usage: sealfs fsck STORE [OPTIONS]\n"
    "\n"
    "Opens and authenticates every directory object and every content segment\n"
    "the vault's head reaches, reports each missing or damaged object by the\n"
    "path that uses it, and lists orphans (objects nothing references). Asks\n"
    "for the passphrase like mount. Refuses while the vault is mounted\n"
    "read-write on this machine.\n"
    "\n"
    "options:\n"
    "  --quick                presence and size of each segment only (one HEAD\n"
    "                         request each, no download): for large S3 vaults\n"
    "  --repair               move each damaged file aside (NAME.damaged, its\n"
    "                         damaged segments become holes, the rest stays\n"
    "                         readable) and each damaged directory (an empty\n"
    "                         NAME.damaged) under a new head, and delete orphans\n"
    "                         older than --grace. Never deletes a reachable object.\n"
    "                         Run it only with the vault unmounted everywhere.\n"
    "  --grace SECONDS        --repair keeps orphans younger than this (default\n"
    "                         86400; 0 deletes every orphan; a store that cannot\n"
    "                         tell an object's age, such as S3, needs 0)\n"
    "  --all-heads            also every retained head's tree (format 2: what\n"
    "                         'sealfs history' and 'restore' read); damage found\n"
    "                         only there is reported, never repaired\n"
    "  --json                 print one JSON document instead of lines\n"
    "  --cache DIR            the cache the vault's mounts use (default as mount):\n"
    "                         --repair refuses while it is in use or holds commits\n"
    "                         the store has not got yet\n"
    "  --threads N            segments checked at once (default 4, at most 64)\n"
    "  --passphrase-file F    read the passphrase from the first line of F\n"
    "  --extpass CMD          run CMD (via /bin/sh) and read the passphrase from\n"
    "                         the first line it prints\n"
    "  --insecure-http        allow plain http:// to an S3 endpoint on another host\n"

    "  -h, --help             show this help\n"
    "\n"
    "exit codes: 0 clean, 20 damaged or missing objects, 21 orphans only (with\n"
    "--repair: what is left after it); others as for every command.\n";

struct cli_fsck_args {
	const char *store;
	const char *cache;
	struct cli_opts opts; /* --passphrase-file, --extpass, --help */
	bool json;
	struct fsck_opts o;
};

static int cli_fsck_option(void *arg, int c, const char *val)
{
	struct cli_fsck_args *a = arg;
	unsigned long long v = 0;
	int rc = 0;

	switch (c) {
	case 'q':
		a->o.quick = true;
		break;
	case 'r':
		a->o.repair = true;
		break;
	case 'g':
		rc = cli_parse_ull(&v, "--grace", val, 0, CLI_FSCK_GRACE_MAX_S);
		a->o.grace_s = (int64_t)v;
		break;
	case 'j':
		a->json = true;
		break;
	case 'A':
		a->o.all_heads = true;
		break;
	case 'c':
		a->cache = val;
		break;
	case 't':
		rc = cli_parse_ull(&v, "--threads", val, 1, FSCK_THREADS_MAX);
		a->o.threads = (unsigned)v;
		break;
	default:
		return CLI_OPTS_NOT_MINE;
	}
	return rc;
}

static int cli_fsck_parse(struct cli_fsck_args *a, int argc, char **argv)
{
	static const struct option table[] = {{"quick", no_argument, NULL, 'q'},
					      {"repair", no_argument, NULL, 'r'},
					      {"grace", required_argument, NULL, 'g'},
					      {"json", no_argument, NULL, 'j'},
					      {"all-heads", no_argument, NULL, 'A'},
					      {"cache", required_argument, NULL, 'c'},
					      {"threads", required_argument, NULL, 't'},
					      CLI_OPTS_SECRET,
					      CLI_OPTS_END};
	static const struct cli_opts_spec spec = {
	    .cmd = "fsck",
	    .usage = cli_fsck_usage,
	    .takes = CLI_TAKES_SECRET,
	    .table = table,
	    .operands = 1,
	    .own = cli_fsck_option,
	};
	int rc;

	a->o.grace_s = CLI_FSCK_GRACE_DEFAULT_S;
	rc = cli_opts_parse(&a->opts, &spec, a, argc, argv);
	if (rc == 0)
		a->store = a->opts.args[0];
	return rc;
}

/* Refuses while a mount of the vault on this machine could write it. */
static int cli_fsck_check_mounts(const struct cli_fsck_args *a, const struct vault_config *cfg)
{
	struct cli_fsck_mount m;
	int rc = cli_fsck_find_mount(cfg->vault_id, &m);

	if (rc < 0)
		return cli_fail(EXITCODE_OTHER, "reading /proc/self/mountinfo: %s", cli_why(-rc));
	if (rc == 1 && m.rw)
		return cli_fail(EXITCODE_MOUNTPOINT,
				"the vault is mounted read-write at '%s': unmount it first", m.mnt);
	if (rc == 1 && a->o.repair)
		return cli_fail(EXITCODE_MOUNTPOINT,
				"the vault is mounted at '%s': unmount it before --repair", m.mnt);
	return 0;
}

/* --repair: takes the cache's lock (no mount can start from it meanwhile). */
static int cli_fsck_lock_cache(const struct cli_fsck_args *a, const struct vault_config *cfg,
			       char cache[PATH_MAX], int *fd)
{
	int rc = 0;

	*fd = -1;
	if (a->cache)
		snprintf(cache, PATH_MAX, "%s", a->cache);
	else
		rc = cli_cache_default(cache, cfg->vault_id);
	if (rc == 0)
		rc = cli_fsck_cache_lock(cache, fd);
	if (rc == -EWOULDBLOCK)
		return cli_fail(EXITCODE_MOUNTPOINT,
				"cache '%s' is in use: the vault is mounted; unmount it before "
				"--repair",
				cache);
	if (rc)
		return cli_fail(EXITCODE_CACHE, "cache '%s': %s", cache, cli_why(-rc));
	return 0;
}

/* --repair: refuses when the cache holds commits above the store's head:
 * their later upload would build on the tree this repair replaces. */
static int cli_fsck_check_pending(struct backend *store, const struct vault_config *cfg,
				  const struct vault_keys *keys, const char *cache)
{
	struct dirobj_head head;
	uint64_t n;
	int rc = seal_read_head(&head, store, cfg->vault_id, keys->meta, cfg->format);

	if (rc)
		return 0; /* fsck reports a missing or damaged head */
	n = cli_fsck_cache_pending(cache, head.seq);
	dirobj_head_release(&head);
	if (n)
		return cli_fail(EXITCODE_CACHE,
				"cache '%s' holds %llu commit%s the store has not got yet: mount "
				"the vault and run 'sealfs sync' (or unmount it) first",
				cache, (unsigned long long)n, n == 1 ? "" : "s");
	return 0;
}

static int cli_fsck_code(const struct fsck_result *res)
{
	if (res->damage_left)
		return EXITCODE_FSCK_DAMAGED;
	return res->orphans_left ? EXITCODE_FSCK_ORPHANS : EXITCODE_OK;
}

static int cli_fsck_check(struct cli_fsck_args *a, struct backend *store,
			  const struct vault_config *cfg, const struct vault_keys *keys)
{
	struct cli_fsck_out *out = cli_fsck_out_new(a->json, isatty(STDERR_FILENO));
	struct fsck_result res;
	char err[CLI_ERR_BYTES];
	int rc;

	if (!out)
		return cli_fail(EXITCODE_OTHER, "out of memory");
	a->o.report = cli_fsck_out_report;
	a->o.progress = cli_fsck_out_progress;
	a->o.arg = out;
	rc = fsck_run(store, cfg, keys, &a->o, &res, err, sizeof(err));
	if (rc == 0) {
		rc = cli_fsck_code(&res);
		cli_fsck_out_finish(out, &res, &a->o, rc);
		cli_fsck_out_free(out);
		return rc;
	}
	cli_fsck_out_free(out); /* clears the progress line first */
	return cli_fail(rc == -ENOMEM ? EXITCODE_OTHER : EXITCODE_STORE_IO, "fsck: %s", err);
}

int cli_fsck_main(int argc, char **argv)
{
	struct cli_fsck_args a = {0};
	struct cli_vault v = {0};
	char cache[PATH_MAX];
	int rc, lock_fd = -1;

	cli_harden();
	rc = cli_fsck_parse(&a, argc, argv);
	if (rc)
		return rc < 0 ? EXITCODE_OK : rc;
	rc = cli_vault_open(&v, a.store);
	if (rc == 0 && a.o.all_heads && v.cfg->format < 2)
		rc = cli_fail(EXITCODE_NEEDS_FORMAT2,
			      "fsck --all-heads needs a format-2 vault (sealfs upgrade)");
	if (rc == 0)
		rc = cli_fsck_check_mounts(&a, v.cfg);
	if (rc == 0 && a.o.repair)
		rc = cli_fsck_lock_cache(&a, v.cfg, cache, &lock_fd);
	if (rc == 0)
		rc = cli_vault_unlock(&v, &a.opts.unlock, NULL);
	if (rc == 0 && a.o.repair)
		rc = cli_fsck_check_pending(v.store, v.cfg, v.keys, cache);
	if (rc == 0)
		rc = cli_fsck_check(&a, v.store, v.cfg, v.keys);
	if (lock_fd >= 0)
		close(lock_fd);
	cli_vault_close(&v);
	return rc;
}
