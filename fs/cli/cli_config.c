/* cli_config.c - `sealfs config STORE [keep-days N] [grace SECONDS]`: shows
 * or changes the retention window a format-2 vault's head carries (its
 * `keep` and `gr`, docs/FORMAT.md "Head"). A change is a new head written
 * straight into the store (fs/vault/rehead.h: the head read archived in
 * the history, tree, inode table and garbage carried) by compare-and-swap
 * on the head read. Refuses while the vault is mounted on this machine or
 * its cache holds commits the store has not got. Never prints or logs a
 * name or a secret. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli_fsck.h"
#include "cli_opts.h"
#include "rehead.h"
#include "seal.h"

static const char cli_config_usage[] =
    "usage: sealfs config STORE [keep-days N] [grace SECONDS]\n"
    "\n"
    "Shows (no setting given) or changes the settings a format-2 vault keeps in\n"
    "its head, for every device:\n"
    "  keep-days N            how long earlier versions and deleted files are kept\n"
    "                         for 'sealfs history' and 'restore': 0 to 3650 days\n"
    "  grace SECONDS          how long an object no kept version needs stays in\n"
    "                         the store (another device may be reading it): 0 to\n"
    "                         2592000\n"
    "A change writes a new head (the one it replaces stays in the history) and\n"
    "takes effect at each device's next commit. Asks for the passphrase like\n"
    "mount. Refuses while the vault is mounted on this machine; run it with the\n"
    "vault unmounted everywhere.\n"
    "\n"
    "options:\n"
    "  --cache DIR            the cache the vault's mounts use (default as mount):\n"
    "                         a change is refused while it is in use or holds\n"
    "                         commits the store has not got yet\n"
    "  --passphrase-file F    read the passphrase from the first line of F\n"
    "  --extpass CMD          run CMD (via /bin/sh) and read the passphrase from\n"
    "                         the first line it prints\n"
    "  --insecure-http        allow plain http:// to an S3 endpoint on another host\n"
    "  -h, --help             show this help\n"
    "\n"
    "exit codes: 0 shown or changed; 22 a format-1 vault (sealfs upgrade);\n"
    "15 the vault is mounted here; 14 the cache holds commits the store has\n"
    "not got; 17 the store failed or its head changed meanwhile; others as for\n"
    "every command.\n";

struct cli_config_args {
	const char *store;
	const char *cache;
	struct cli_opts opts;
	bool set_keep, set_grace;
	uint64_t keep, grace; /* seconds */
};

static int cli_config_option(void *arg, int c, const char *val)
{
	struct cli_config_args *a = arg;

	if (c != 'c')
		return CLI_OPTS_NOT_MINE;
	a->cache = val;
	return 0;
}

/* The settings after STORE: pairs of a name and a value. */
static int cli_config_settings(struct cli_config_args *a, char **args, int n)
{
	int rc = 0;

	if (n % 2)
		return cli_usage("config", "'%s' needs a value", args[n - 1]);
	for (int i = 0; rc == 0 && i < n; i += 2) {
		if (strcmp(args[i], "keep-days") == 0 && !a->set_keep) {
			rc = cli_parse_keep_days(&a->keep, "keep-days", args[i + 1]);
			a->set_keep = true;
		} else if (strcmp(args[i], "grace") == 0 && !a->set_grace) {
			rc = cli_parse_grace(&a->grace, "grace", args[i + 1]);
			a->set_grace = true;
		} else {
			rc = cli_usage("config",
				       "'%s': not a setting (keep-days, grace), or given twice",
				       args[i]);
		}
	}
	return rc;
}

static int cli_config_parse(struct cli_config_args *a, int argc, char **argv)
{
	static const struct option table[] = {
	    {"cache", required_argument, NULL, 'c'}, CLI_OPTS_SECRET, CLI_OPTS_END};
	static const struct cli_opts_spec spec = {
	    .cmd = "config",
	    .usage = cli_config_usage,
	    .takes = CLI_TAKES_SECRET,
	    .table = table,
	    .operands = 1,
	    .operands_max = 5,
	    .operands_what = "STORE and up to two settings (keep-days N, grace SECONDS)",
	    .own = cli_config_option,
	};
	int rc = cli_opts_parse(&a->opts, &spec, a, argc, argv);

	if (rc == 0) {
		a->store = a->opts.args[0];
		rc = cli_config_settings(a, a->opts.args + 1, a->opts.nargs - 1);
	}
	return rc;
}

static int cli_config_read_head(const struct cli_vault *v, struct dirobj_head *head)
{
	int r = seal_read_head(head, v->store, v->cfg->vault_id, v->keys->meta, v->cfg->format);

	if (r == -EBADMSG)
		return cli_fail(EXITCODE_STORE_IO, "the vault head failed to authenticate");
	if (r)
		return cli_fail(r == -ENOENT ? EXITCODE_NOT_VAULT : EXITCODE_STORE_IO,
				"reading the vault head failed: %s", cli_why(-r));
	return 0;
}

/* What `sealfs config STORE` prints: one setting a line, as it is given. */
static void cli_config_show(const struct dirobj_head *h, const char *prefix)
{
	if (h->keep % 86400 == 0)
		printf("%skeep-days %llu\n", prefix, (unsigned long long)(h->keep / 86400));
	else /* a window set in seconds (tests): the days it covers, and the exact value */
		printf("%skeep-days %llu (%llu s)\n", prefix, (unsigned long long)(h->keep / 86400),
		       (unsigned long long)h->keep);
	printf("%sgrace %llu\n", prefix, (unsigned long long)h->grace);
}

/* The new head: the head read with keep and gr changed (rehead.h). */
static int cli_config_write(const struct cli_vault *v, const struct cli_config_args *a,
			    const struct dirobj_head *head)
{
	struct dirobj_head next = *head; /* shallow: only read by seal_head */
	char err[CLI_ERR_BYTES] = "";
	struct rehead rh = {.store = v->store,
			    .cfg = v->cfg,
			    .keys = v->keys,
			    .what = "config",
			    .err = err,
			    .err_size = sizeof(err)};
	int r;

	if (a->set_keep)
		next.keep = a->keep;
	if (a->set_grace)
		next.grace = a->grace;
	if (next.keep == head->keep && next.grace == head->grace) {
		printf("vault '%s' has these settings already: nothing written\n", v->url);
		cli_config_show(head, "  ");
		return 0;
	}
	r = rehead_write(&rh, head, &next, NULL, 0);
	if (r)
		return cli_fail(r == -ENOMEM ? EXITCODE_OTHER : EXITCODE_STORE_IO, "%s", err);
	printf("vault '%s' changed (head seq %llu), from each device's next commit on:\n", v->url,
	       (unsigned long long)rh.new_seq);
	cli_config_show(&next, "  ");
	return 0;
}

int cli_config_main(int argc, char **argv)
{
	struct cli_config_args a = {0};
	struct cli_vault v = {0};
	struct dirobj_head head;
	bool set, have_head = false;
	char cache[PATH_MAX];
	int rc, lock_fd = -1;

	cli_harden();
	rc = cli_config_parse(&a, argc, argv);
	if (rc)
		return rc < 0 ? EXITCODE_OK : rc;
	set = a.set_keep || a.set_grace;
	rc = cli_vault_open(&v, a.store);
	if (rc == 0 && v.cfg->format < 2)
		rc = cli_fail(EXITCODE_NEEDS_FORMAT2,
			      "config needs a format-2 vault (sealfs upgrade)");
	if (rc == 0 && set)
		rc = cli_fsck_claim("changing its settings", v.cfg->vault_id, a.cache, cache,
				    &lock_fd);
	if (rc == 0)
		rc = cli_vault_unlock(&v, &a.opts.unlock, NULL);
	if (rc == 0)
		rc = cli_config_read_head(&v, &head);
	have_head = rc == 0;
	if (rc == 0 && set)
		rc = cli_fsck_refuse_pending(cache, head.seq);
	if (rc == 0 && set)
		rc = cli_config_write(&v, &a, &head);
	else if (rc == 0)
		cli_config_show(&head, "");
	if (have_head)
		dirobj_head_release(&head);
	if (lock_fd >= 0)
		close(lock_fd);
	cli_vault_close(&v);
	return rc;
}
