/* cli_keys.c - `sealfs passwd` (change the passphrase), `sealfs recover`
 * (set a new passphrase with the recovery key, which is then replaced by a
 * new one) and `sealfs recovery-key` (replace the recovery key, with the
 * passphrase). Only keyslots change; the data is not re-encrypted. Must
 * never print a secret other than a new recovery key (once, to stdout),
 * never store one, and never leave a half-written config (the store's put
 * is atomic). */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli_opts.h"
#include "recovery.h"

/* The options of passwd and recover for the new passphrase. */
/* clang-format off */
#define CLI_KEYS_NEW_HELP \
	"  --new-passphrase-file F  read the new passphrase from the first line of F\n" \
	"  --kdf-memlimit MIB       Argon2id memory for the new passphrase (default 256,\n" \
	"                           at least 64)\n" \
	"  --kdf-opslimit N         Argon2id passes for the new passphrase (default 3,\n" \
	"                           at least 2)\n" \
	"  --insecure-test-kdf      allow a lower cost: for test suites only\n" \
	"  --insecure-http          allow plain http:// to an S3 endpoint on another host\n" \
	"  -h, --help               show this help\n"

static const char cli_passwd_usage[] =
    "usage: sealfs passwd STORE [options]\n"
    "\n"
    "Changes the passphrase of the vault in STORE. Asks for the current\n"
    "passphrase, then the new one twice. The recovery key stays valid.\n"
    "\n"
    "  --passphrase-file F      read the current passphrase from the first line of F\n"
    "  --extpass CMD            read the current passphrase from CMD's first line\n"
    CLI_KEYS_NEW_HELP;

static const char cli_recover_usage[] =
    "usage: sealfs recover STORE [options]\n"
    "\n"
    "Sets a new passphrase for the vault in STORE using the recovery key that\n"
    "'sealfs init' printed, then prints a new recovery key once: the one just\n"
    "used stops working.\n"
    "\n"
    "  --recovery-key-file F    read the recovery key from the first line of F\n"
    CLI_KEYS_NEW_HELP;
/* clang-format on */

static const char cli_recovery_key_usage[] =
    "usage: sealfs recovery-key STORE [options]\n"
    "\n"
    "Makes a new recovery key for the vault in STORE and prints it once; the old\n"
    "one stops working. Asks for the passphrase.\n"
    "\n"
    "  --passphrase-file F      read the passphrase from the first line of F\n"
    "  --extpass CMD            read the passphrase from CMD's first line\n"
    "  --insecure-http          allow plain http:// to an S3 endpoint on another host\n"

    "  -h, --help               show this help\n";

enum cli_keys_cmd { KEYS_PASSWD, KEYS_RECOVER, KEYS_RECOVERY_KEY };
static const char *const cli_keys_names[] = {"passwd", "recover", "recovery-key"};
static const char *const cli_keys_usages[] = {cli_passwd_usage, cli_recover_usage,
					      cli_recovery_key_usage};

struct cli_keys_args {
	enum cli_keys_cmd cmd;
	const char *store;
	struct cli_opts opts; /* unlock: the current passphrase, or the recovery key */
	struct passphrase_src new_src;
};

/* Which options cmd takes: passwd and recover set a passphrase, recover
 * alone reads the recovery key, recovery-key only reads the passphrase. */
static int cli_keys_option_ok(enum cli_keys_cmd cmd, int c)
{
	const char *name = cli_keys_names[cmd];

	if ((c == 'p' || c == 'x') && cmd == KEYS_RECOVER)
		return cli_usage(name, "recover takes --recovery-key-file, not %s",
				 c == 'p' ? "--passphrase-file" : "--extpass");
	if (c == 'r' && cmd != KEYS_RECOVER)
		return cli_usage(name, "--recovery-key-file belongs to 'sealfs recover'");
	if ((c == 'n' || c == 'm' || c == 'o' || c == 'I') && cmd == KEYS_RECOVERY_KEY)
		return cli_usage(name, "recovery-key sets no passphrase: no --new-passphrase-file "
				       "or KDF option");
	return 0;
}

static int cli_keys_option(void *arg, int c, const char *val)
{
	struct cli_keys_args *a = arg;
	int rc = cli_keys_option_ok(a->cmd, c);

	if (rc)
		return rc;
	if (c == 'r')
		a->opts.unlock.src.file = val;
	else if (c == 'n')
		a->new_src.file = val;
	else
		return CLI_OPTS_NOT_MINE;
	return 0;
}

static int cli_keys_parse(struct cli_keys_args *a, int argc, char **argv, enum cli_keys_cmd cmd)
{
	static const struct option table[] = {CLI_OPTS_SECRET,
					      {"recovery-key-file", required_argument, NULL, 'r'},
					      {"new-passphrase-file", required_argument, NULL, 'n'},
					      CLI_OPTS_KDF,
					      CLI_OPTS_END};
	struct cli_opts_spec spec = {
	    .cmd = cli_keys_names[cmd],
	    .usage = cli_keys_usages[cmd],
	    .takes = CLI_TAKES_SECRET | CLI_TAKES_KDF,
	    .table = table,
	    .operands = 1,
	    .own = cli_keys_option,
	};
	int rc;

	a->cmd = cmd;
	rc = cli_opts_parse(&a->opts, &spec, a, argc, argv);
	if (rc == 0)
		a->store = a->opts.args[0];
	return rc;
}

static int cli_keys_rewrap(struct vault_config *cfg, const struct vault_keys *keys,
			   const struct cli_keys_args *a)
{
	struct passphrase pass = {0};
	int rc;

	rc = cli_secret_get(&pass, &a->new_src, "New passphrase: ", true);
	if (rc)
		return rc;
	rc = vault_set_passphrase(cfg, keys, pass.text, pass.len, a->opts.cost);
	passphrase_free(&pass);
	if (rc == -EINVAL)
		return cli_fail(EXITCODE_USAGE, "setting the passphrase: kdf cost not allowed");
	if (rc < 0)
		return cli_fail(EXITCODE_OTHER, "setting the passphrase: %s", cli_why(-rc));
	return 0;
}

/* Replaces the recovery keyslot: the new key's text into recovery. */
static int cli_keys_new_recovery(struct vault_config *cfg, const struct vault_keys *keys,
				 char *recovery)
{
	int rc = vault_set_recovery(cfg, keys, recovery, RECOVERY_TEXT_BYTES);

	return rc < 0 ? cli_fail(EXITCODE_OTHER, "making a new recovery key: %s", cli_why(-rc)) : 0;
}

/* Changes what cmd changes in cfg (unlocked as keys); a new recovery key,
 * if any, goes to recovery. */
static int cli_keys_change(enum cli_keys_cmd cmd, struct vault_config *cfg,
			   const struct vault_keys *keys, const struct cli_keys_args *a,
			   char *recovery)
{
	int rc = 0;

	if (cmd != KEYS_RECOVERY_KEY)
		rc = cli_keys_rewrap(cfg, keys, a);
	/* A recovery key that was used has been typed or read from a file: it
	 * is replaced, as on request. */
	if (rc == 0 && cmd != KEYS_PASSWD)
		rc = cli_keys_new_recovery(cfg, keys, recovery);
	return rc;
}

/* What the user learns once the new config is in the store. */
static void cli_keys_report(enum cli_keys_cmd cmd, const char *recovery)
{
	if (cmd != KEYS_RECOVERY_KEY)
		printf("passphrase changed\n");
	if (cmd == KEYS_PASSWD)
		return;
	printf("the old recovery key no longer works; the new one is below\n\n");
	cli_show_recovery(recovery);
}

static int cli_keys_main(int argc, char **argv, enum cli_keys_cmd cmd)
{
	struct cli_keys_args a = {0};
	struct cli_vault v = {0};
	char *recovery = NULL;
	int rc;

	cli_harden();
	rc = cli_keys_parse(&a, argc, argv, cmd);
	if (rc)
		return rc < 0 ? EXITCODE_OK : rc;
	recovery = sodium_malloc(RECOVERY_TEXT_BYTES);
	if (!recovery)
		return cli_fail(EXITCODE_OTHER, "out of memory");
	a.opts.unlock.recovery = cmd == KEYS_RECOVER;
	a.opts.unlock.prompt = a.opts.unlock.recovery ? NULL : "Current passphrase: ";
	rc = cli_vault_open_unlocked(&v, a.store, &a.opts.unlock, NULL);
	if (rc == 0)
		rc = cli_keys_change(cmd, v.cfg, v.keys, &a, recovery);
	if (rc == 0)
		rc = cli_config_save(v.store, v.cfg);
	if (rc == 0)
		cli_keys_report(cmd, recovery);
	sodium_free(recovery);
	cli_vault_close(&v);
	return rc;
}

int cli_keys_passwd_main(int argc, char **argv) { return cli_keys_main(argc, argv, KEYS_PASSWD); }

int cli_keys_recover_main(int argc, char **argv) { return cli_keys_main(argc, argv, KEYS_RECOVER); }

int cli_keys_recovery_key_main(int argc, char **argv)
{
	return cli_keys_main(argc, argv, KEYS_RECOVERY_KEY);
}
