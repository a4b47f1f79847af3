/* cli_upgrade.c - `sealfs upgrade STORE`: raises a format-1 or format-2
 * vault to format 3 in place (fs/vault/upgrade.h). Refuses while the vault is mounted on
 * this machine, while the cache is in use, and while the cache holds
 * commits the store has not got (their upload would build on the old
 * tree); asks for the passphrase as mount does. Must never log a name. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "cli_fsck.h"
#include "cli_opts.h"
#include "seal.h"
#include "upgrade.h"

static const char cli_upgrade_usage[] =
    "usage: sealfs upgrade STORE [OPTIONS]\n"
    "\n"
    "Raises a format-1 or format-2 vault to format 3 (docs/FORMAT.md). From\n"
    "format 1 it rewrites every directory object and the head (content is not\n"
    "re-encrypted); from format 2 only the config changes. Then the vault is\n"
    "format 3: an older sealfs can no longer open it. Asks for the passphrase\n"
    "like mount. Crash-safe: interrupted, the vault is still as it was, or\n"
    "refuses to mount until the upgrade is run again. Refuses while the vault\n"
    "is mounted on this machine; run it with the vault unmounted everywhere.\n"
    "\n"
    "options:\n"
    "  --cache DIR            the cache the vault's mounts use (default as mount):\n"
    "                         refused while it is in use or holds commits the\n"
    "                         store has not got yet\n"
    "  --passphrase-file F    read the passphrase from the first line of F\n"
    "  --extpass CMD          run CMD (via /bin/sh) and read the passphrase from\n"
    "                         the first line it prints\n"
    "  --insecure-http        allow plain http:// to an S3 endpoint on another host\n"
    "  -h, --help             show this help\n";

struct cli_upgrade_args {
	const char *store;
	const char *cache;
	struct cli_opts opts;
};

static int cli_upgrade_option(void *arg, int c, const char *val)
{
	struct cli_upgrade_args *a = arg;

	if (c != 'c')
		return CLI_OPTS_NOT_MINE;
	a->cache = val;
	return 0;
}

static int cli_upgrade_parse(struct cli_upgrade_args *a, int argc, char **argv)
{
	static const struct option table[] = {
	    {"cache", required_argument, NULL, 'c'}, CLI_OPTS_SECRET, CLI_OPTS_END};
	static const struct cli_opts_spec spec = {
	    .cmd = "upgrade",
	    .usage = cli_upgrade_usage,
	    .takes = CLI_TAKES_SECRET,
	    .table = table,
	    .operands = 1,
	    .own = cli_upgrade_option,
	};
	int rc = cli_opts_parse(&a->opts, &spec, a, argc, argv);

	if (rc == 0)
		a->store = a->opts.args[0];
	return rc;
}

/* Refuses when the cache holds commits above the store's head. */
static int cli_upgrade_check_pending(const struct cli_vault *v, const char *cache)
{
	struct dirobj_head head;
	int rc = seal_read_head(&head, v->store, v->cfg->vault_id, v->keys->meta, 1);

	if (rc)
		rc = seal_read_head(&head, v->store, v->cfg->vault_id, v->keys->meta,
				    v->cfg->format);
	if (rc)
		return 0; /* upgrade_run names what is wrong with the head */
	rc = cli_fsck_refuse_pending(cache, head.seq);
	dirobj_head_release(&head);
	return rc;
}

static int cli_upgrade_run(struct cli_vault *v)
{
	struct upgrade_result res;
	char err[CLI_ERR_BYTES];
	int rc = upgrade_run(v->store, v->cfg, v->keys, &res, err, sizeof(err));

	if (rc)
		return cli_fail(rc == -ENOMEM ? EXITCODE_OTHER : EXITCODE_STORE_IO, "upgrade: %s",
				err);
	if (res.already)
		printf("vault '%s' is format %d already: nothing to do\n", v->url,
		       VAULT_FORMAT_VERSION);
	else
		printf("vault '%s' is format %d now (from format %d; %s%llu directories "
		       "rewritten, head seq %llu)\n",
		       v->url, VAULT_FORMAT_VERSION, res.from,
		       res.resumed ? "an interrupted upgrade finished, " : "",
		       (unsigned long long)res.dirs, (unsigned long long)res.new_seq);
	return 0;
}

int cli_upgrade_main(int argc, char **argv)
{
	struct cli_upgrade_args a = {0};
	struct cli_vault v = {0};
	char cache[PATH_MAX];
	int rc, lock_fd = -1;

	cli_harden();
	rc = cli_upgrade_parse(&a, argc, argv);
	if (rc)
		return rc < 0 ? EXITCODE_OK : rc;
	rc = cli_vault_open(&v, a.store);
	if (rc == 0)
		rc = cli_fsck_claim("upgrading", v.cfg->vault_id, a.cache, cache, &lock_fd);
	if (rc == 0)
		rc = cli_vault_unlock(&v, &a.opts.unlock, NULL);
	if (rc == 0)
		rc = cli_upgrade_check_pending(&v, cache);
	if (rc == 0)
		rc = cli_upgrade_run(&v);
	if (lock_fd >= 0)
		close(lock_fd);
	cli_vault_close(&v);
	return rc;
}
