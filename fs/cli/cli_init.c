/* cli_init.c - `sealfs init` (create a vault in an empty store; `sealfs
 * info` is cli_info.c). Must never write the
 * recovery key anywhere but the terminal's stdout, nor overwrite a store that
 * holds anything. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "cli_opts.h"
#include "engine.h"
#include "fdio.h"
#include "hex.h"
#include "history.h"
#include "recovery.h"
#include "suite.h"
#include "vault_name.h"

static const char cli_init_usage[] =
    "usage: sealfs init STORE [options]\n"
    "\n"
    "Creates a new vault in STORE (a directory path, file:///path or s3://bucket/prefix).\n"
    "A missing directory is created; a store that already holds anything is refused.\n"
    "Asks for the new passphrase twice, then prints the recovery key once.\n"
    "\n"
    "  --passphrase-file F    read the passphrase from the first line of F\n"
    "  --extpass CMD          run CMD with /bin/sh -c and read the first line it prints\n"
    "  --name NAME            the name the file manager shows for it (sealfs:NAME),\n"
    "                         kept in this machine's cache, never in the store\n"
    "  --keep-days N          keep the history (earlier versions, deleted files)\n"
    "                         N days, 0 to 3650 (default 30; 'sealfs config'\n"
    "                         changes it later)\n"
    "  --grace SECONDS        wait this long before deleting what no kept\n"
    "                         version needs, 0 to 2592000 (default 900)\n"
    "  --cipher NAME          aes256gcm or xchacha20poly1305\n"
    "                         (default: aes256gcm where the cpu has AES-NI)\n"
    "  --kdf-memlimit MIB     Argon2id memory in MiB (default: libsodium MODERATE, 256)\n"
    "  --kdf-opslimit N       Argon2id passes (default: libsodium MODERATE, 3)\n"
    "                         (at least 64 MiB and 2 passes: libsodium INTERACTIVE)\n"
    "  --insecure-test-kdf    allow a lower cost: for test suites only\n"
    "  --insecure-http        allow plain http:// to an S3 endpoint on another host\n"

    "  -h, --help             show this help\n";

struct cli_init_args {
	const char *store;
	const char *name;     /* --name: saved in the default cache (vault_name.h) */
	struct cli_opts opts; /* where the new passphrase comes from, its KDF cost */
	enum suite_id suite;
	struct engine_window window; /* the first head's keep and gr */
};

static int cli_init_cipher(struct cli_init_args *a, const char *name)
{
	if (suite_from_name(name, &a->suite) < 0)
		return cli_usage("init", "--cipher: unknown cipher '%s'", name);
	if (!suite_available(a->suite))
		return cli_fail(EXITCODE_USAGE, "--cipher: %s needs AES-NI, which this cpu lacks",
				name);
	return 0;
}

static int cli_init_option(void *arg, int c, const char *val)
{
	struct cli_init_args *a = arg;

	if (c == 'c')
		return cli_init_cipher(a, val);
	if (c == 'k')
		return cli_parse_keep_days(&a->window.keep, "--keep-days", val);
	if (c == 'g')
		return cli_parse_grace(&a->window.grace, "--grace", val);
	if (c != 'N')
		return CLI_OPTS_NOT_MINE;
	if (!mount_name_ok(val))
		return cli_usage("init",
				 "--name: not a usable name (1-%d bytes of UTF-8, no "
				 "control characters, ',', '=' or backslash)",
				 MOUNT_NAME_MAX);
	a->name = val;
	return 0;
}

static int cli_init_parse(struct cli_init_args *a, int argc, char **argv)
{
	static const struct option table[] = {CLI_OPTS_SECRET,
					      {"cipher", required_argument, NULL, 'c'},
					      {"name", required_argument, NULL, 'N'},
					      {"keep-days", required_argument, NULL, 'k'},
					      {"grace", required_argument, NULL, 'g'},
					      CLI_OPTS_KDF,
					      CLI_OPTS_END};
	static const struct cli_opts_spec spec = {
	    .cmd = "init",
	    .usage = cli_init_usage,
	    .takes = CLI_TAKES_SECRET | CLI_TAKES_KDF,
	    .table = table,
	    .operands = 1,
	    .own = cli_init_option,
	};
	int rc;

	a->suite = suite_default();
	a->window = (struct engine_window){HISTORY_KEEP_DEFAULT, HISTORY_GRACE_DEFAULT};
	rc = cli_opts_parse(&a->opts, &spec, a, argc, argv);
	if (rc == 0)
		a->store = a->opts.args[0];
	return rc;
}

/* Refuses a local directory holding anything, even files no store lists. */
static int cli_init_check_dir(const char *url)
{
	const char *path;
	struct dirent *e;
	DIR *d;
	int found = 0;

	if (!cli_local_path(url, &path))
		return 0;
	d = opendir(path);
	if (!d)
		return 0; /* missing: created later; other errors: backend_open explains */
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, VAULT_CONFIG_NAME) == 0)
			found = 2;
		else if (!found && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			found = 1;
	}
	closedir(d);
	if (found == 2)
		return cli_fail(EXITCODE_STORE_IN_USE, "'%s' is already a sealfs vault", url);
	if (found)
		return cli_fail(EXITCODE_STORE_IN_USE, "store '%s' is not empty", url);
	return 0;
}

static int cli_init_any_key(void *arg, const char *key, uint64_t size)
{
	(void)arg;
	(void)key;
	(void)size;
	return 1;
}

/* Opens an existing store and checks it is empty; a missing local directory
 * is left for later (*store NULL) so a failed init creates nothing. */
static int cli_init_open(struct backend **store, const char *url)
{
	struct backend_opts opts = cli_store_opts();
	char err[CLI_ERR_BYTES] = "";
	const char *path;
	uint64_t size;
	int rc;

	rc = cli_init_check_dir(url);
	if (rc)
		return rc;
	rc = backend_open(store, url, &opts, err, sizeof(err));
	if (rc == -ENOENT && cli_local_path(url, &path))
		return 0;
	if (rc < 0)
		return cli_store_error(rc, url, err);
	rc = (*store)->ops->head(*store, VAULT_CONFIG_NAME, &size);
	if (rc == 0)
		return cli_fail(EXITCODE_STORE_IN_USE, "'%s' is already a sealfs vault", url);
	if (rc != -ENOENT)
		return cli_fail(EXITCODE_STORE_IO, "store '%s': %s", url, cli_why(-rc));
	rc = (*store)->ops->list(*store, "", cli_init_any_key, NULL);
	if (rc == 1)
		return cli_fail(EXITCODE_STORE_IN_USE, "store '%s' is not empty", url);
	if (rc < 0)
		return cli_fail(EXITCODE_STORE_IO, "listing store '%s': %s", url, cli_why(-rc));
	return 0;
}

/* The recovery key goes to stdout with write(2): no stdio buffer keeps a copy. */
static void cli_init_show(const struct vault_config *cfg, const char *url, const char *recovery)
{
	char id[2 * OBJECT_ID_BYTES + 1];

	hex_encode(id, sizeof(id), cfg->vault_id, sizeof(cfg->vault_id));
	fflush(stdout);
	(void)fdio_write_str(STDOUT_FILENO, "created vault ");
	(void)fdio_write_str(STDOUT_FILENO, id);
	(void)fdio_write_str(STDOUT_FILENO, " in ");
	(void)fdio_write_str(STDOUT_FILENO, url);
	(void)fdio_write_str(STDOUT_FILENO, "\n\n");
	cli_show_recovery(recovery);
}

static int cli_init_create(struct vault_config **cfg, struct vault_keys **keys,
			   const struct cli_init_args *a, char *recovery)
{
	struct passphrase pass = {0};
	int rc;

	rc = cli_secret_get(&pass, &a->opts.unlock.src, "New passphrase: ", true);
	if (rc)
		return rc;
	rc = vault_create(cfg, keys, a->suite, pass.text, pass.len, a->opts.cost, recovery,
			  RECOVERY_TEXT_BYTES);
	passphrase_free(&pass);
	if (rc == -EINVAL)
		return cli_fail(EXITCODE_USAGE,
				"creating the vault: kdf cost or cipher not allowed");
	if (rc < 0)
		return cli_fail(EXITCODE_OTHER, "creating the vault: %s", cli_why(-rc));
	return 0;
}

/* The tree first, the config last: a store without sealfs.json is no vault,
 * so a crash in between leaves nothing that looks usable. The objects'
 * directories before the tree, whose sync makes them durable. */
static int cli_init_store(struct backend *store, const struct vault_config *cfg,
			  const struct vault_keys *keys, const struct engine_window *w)
{
	char err[CLI_ERR_BYTES] = "";
	int rc = object_key_dirs_make(store);

	if (rc < 0)
		return cli_fail(EXITCODE_STORE_IO, "making the store's directories: %s",
				cli_why(-rc));
	rc = engine_init_tree(store, cfg, keys, w, err, sizeof(err));
	if (rc < 0)
		return cli_fail(EXITCODE_STORE_IO, "writing the empty vault: %s",
				err[0] ? err : cli_why(-rc));
	return cli_config_save(store, cfg);
}

/* --name: saved in this vault's default cache directory, made if missing
 * (the vault exists by now: a failure says so). */
static int cli_init_name(const struct vault_config *cfg, const char *name)
{
	char dir[PATH_MAX];
	int rc = cli_cache_default(dir, cfg->vault_id);

	if (rc == 0)
		rc = cli_mkdirs(dir);
	if (rc == 0)
		rc = vault_name_save(dir, name);
	if (rc)
		return cli_fail(EXITCODE_CACHE,
				"the vault was created, but saving its name in '%s' failed: %s "
				"(mount with --name to set it)",
				dir, strerror(-rc));
	return 0;
}

int cli_init_main(int argc, char **argv)
{
	struct cli_init_args a = {0};
	struct backend *store = NULL;
	struct vault_config *cfg = NULL;
	struct vault_keys *keys = NULL;
	char *recovery = NULL;
	int rc;

	cli_harden();
	rc = cli_init_parse(&a, argc, argv);
	if (rc)
		return rc < 0 ? EXITCODE_OK : rc;
	rc = cli_init_open(&store, a.store);
	if (rc)
		goto out;
	recovery = sodium_malloc(RECOVERY_TEXT_BYTES);
	if (!recovery) {
		rc = cli_fail(EXITCODE_OTHER, "out of memory");
		goto out;
	}
	rc = cli_init_create(&cfg, &keys, &a, recovery);
	if (rc == 0 && !store)
		rc = cli_store_open(&store, a.store, true);
	if (rc == 0)
		rc = cli_init_store(store, cfg, keys, &a.window);
	if (rc == 0)
		cli_init_show(cfg, a.store, recovery);
	if (rc == 0 && a.name)
		rc = cli_init_name(cfg, a.name);
out:
	if (recovery)
		sodium_free(recovery);
	vault_keys_free(keys);
	vault_config_free(cfg);
	backend_destroy(store);
	return rc;
}
