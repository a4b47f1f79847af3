/* cli_keys.c - `sealfs passwd` (change the passphrase) and `sealfs recover`
 * (set a new passphrase with the recovery key). Only the passphrase keyslot
 * changes; the data is not re-encrypted. Must never print or store a secret,
 * and must never leave a half-written config (the store's put is atomic). */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "passphrase.h"

static const char cli_passwd_usage[] =
    "usage: sealfs passwd STORE [options]\n"
    "\n"
    "Changes the passphrase of the vault in STORE. Asks for the current\n"
    "passphrase, then the new one twice. The recovery key stays valid.\n"
    "\n"
    "  --passphrase-file F      read the current passphrase from the first line of F\n"
    "  --extpass CMD            read the current passphrase from CMD's first line\n"
    "  --new-passphrase-file F  read the new passphrase from the first line of F\n"
    "  --kdf-memlimit MIB       Argon2id memory for the new passphrase (default 256)\n"
    "  --kdf-opslimit N         Argon2id passes for the new passphrase (default 3)\n"
    "  -h, --help               show this help\n";

static const char cli_recover_usage[] =
    "usage: sealfs recover STORE [options]\n"
    "\n"
    "Sets a new passphrase for the vault in STORE using the recovery key that\n"
    "'sealfs init' printed. The recovery key stays valid.\n"
    "\n"
    "  --recovery-key-file F    read the recovery key from the first line of F\n"
    "  --new-passphrase-file F  read the new passphrase from the first line of F\n"
    "  --kdf-memlimit MIB       Argon2id memory for the new passphrase (default 256)\n"
    "  --kdf-opslimit N         Argon2id passes for the new passphrase (default 3)\n"
    "  -h, --help               show this help\n";

struct cli_keys_args {
	const char *store;
	struct passphrase_src old_src; /* current passphrase, or the recovery key */
	struct passphrase_src new_src;
	struct vault_kdf_cost cost;
};

static int cli_keys_parse(struct cli_keys_args *a, int argc, char **argv, bool recover)
{
	static const struct option opts[] = {{"passphrase-file", required_argument, NULL, 'p'},
					     {"extpass", required_argument, NULL, 'x'},
					     {"recovery-key-file", required_argument, NULL, 'r'},
					     {"new-passphrase-file", required_argument, NULL, 'n'},
					     {"kdf-memlimit", required_argument, NULL, 'm'},
					     {"kdf-opslimit", required_argument, NULL, 'o'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *cmd = recover ? "recover" : "passwd";
	int c, rc = 0;

	a->cost = vault_kdf_default();
	opterr = 0; /* cli_bad_option says it in our words */
	while (rc == 0 && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if ((c == 'p' || c == 'x') && recover)
			return cli_usage(cmd, "recover takes --recovery-key-file, not %s",
					 c == 'p' ? "--passphrase-file" : "--extpass");
		if (c == 'r' && !recover)
			return cli_usage(cmd, "--recovery-key-file belongs to 'sealfs recover'");
		switch (c) {
		case 'p':
		case 'r':
			a->old_src.file = optarg;
			break;
		case 'x':
			a->old_src.extpass = optarg;
			break;
		case 'n':
			a->new_src.file = optarg;
			break;
		case 'm':
		case 'o':
			rc = cli_parse_kdf_option(&a->cost, c, optarg);
			break;
		case 'h':
			fputs(recover ? cli_recover_usage : cli_passwd_usage, stdout);
			return -1;
		default:
			return cli_bad_option(cmd, c, argv);
		}
	}
	if (rc)
		return rc;
	if (a->old_src.file && a->old_src.extpass)
		return cli_usage(cmd, "--passphrase-file and --extpass exclude each other");
	if (optind != argc - 1)
		return cli_usage(cmd, "expected one STORE argument");
	a->store = argv[optind];
	return 0;
}

/* Unlocks cfg with the current passphrase or the recovery key. */
static int cli_keys_unlock(struct vault_keys **keys, const struct vault_config *cfg,
			   const struct cli_keys_args *a, bool recover)
{
	const char *what = recover ? "recovery key" : "passphrase";
	struct passphrase old = {0};
	char err[CLI_ERR_BYTES];
	int rc;

	rc = passphrase_get(&old, &a->old_src,
			    recover ? "Recovery key: " : "Current passphrase: ", false, err,
			    sizeof(err));
	if (rc)
		return cli_fail(rc == -EINTR ? EXITCODE_OTHER : EXITCODE_USAGE, "%s", err);
	if (recover)
		rc = vault_unlock_recovery(keys, cfg, old.text);
	else
		rc = vault_unlock_passphrase(keys, cfg, old.text, old.len);
	passphrase_free(&old);
	return rc < 0 ? cli_unlock_error(rc, what) : 0;
}

static int cli_keys_rewrap(struct vault_config *cfg, const struct vault_keys *keys,
			   const struct cli_keys_args *a)
{
	struct passphrase pass = {0};
	char err[CLI_ERR_BYTES];
	int rc;

	rc = passphrase_get(&pass, &a->new_src, "New passphrase: ", true, err, sizeof(err));
	if (rc)
		return cli_fail(rc == -EINTR ? EXITCODE_OTHER : EXITCODE_USAGE, "%s", err);
	rc = vault_set_passphrase(cfg, keys, pass.text, pass.len, a->cost);
	passphrase_free(&pass);
	if (rc == -EINVAL)
		return cli_fail(EXITCODE_USAGE, "setting the passphrase: kdf cost not allowed");
	if (rc < 0)
		return cli_fail(EXITCODE_OTHER, "setting the passphrase: %s", cli_why(-rc));
	return 0;
}

static int cli_keys_main(int argc, char **argv, bool recover)
{
	struct cli_keys_args a = {0};
	struct backend *store = NULL;
	struct vault_config *cfg = NULL;
	struct vault_keys *keys = NULL;
	int rc;

	cli_harden();
	rc = cli_keys_parse(&a, argc, argv, recover);
	if (rc)
		return rc < 0 ? EXITCODE_OK : rc;
	rc = cli_store_open(&store, a.store, false);
	if (rc == 0)
		rc = cli_config_load(&cfg, store, a.store);
	if (rc == 0)
		rc = cli_keys_unlock(&keys, cfg, &a, recover);
	if (rc == 0)
		rc = cli_keys_rewrap(cfg, keys, &a);
	if (rc == 0)
		rc = cli_config_save(store, cfg);
	if (rc == 0)
		printf("passphrase changed\n");
	vault_keys_free(keys);
	vault_config_free(cfg);
	backend_destroy(store);
	return rc;
}

int cli_keys_passwd_main(int argc, char **argv) { return cli_keys_main(argc, argv, false); }

int cli_keys_recover_main(int argc, char **argv) { return cli_keys_main(argc, argv, true); }
