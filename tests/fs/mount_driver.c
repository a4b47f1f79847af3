/* mount_driver.c - runs the FUSE driver in the foreground for the mount tests
 * of tests/fs, without the CLI: creates a vault with the cheapest KDF cost in
 * a local store (--init), or unlocks the one there, and calls fsmount_run.
 * Writes '0' on stdout once mounted; exits 0 after a clean unmount.
 *
 * usage: mount_driver [--init] [--delay MS] [--ro] [--fsync-store] [-o FUSEOPTS] STORE CACHE
 * MOUNTPOINT */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "backend.h"
#include "engine.h"
#include "local.h"
#include "log.h"
#include "mount.h"
#include "vault.h"

#define DRIVER_PASS "sealfs-test-pass"

static int driver_create(struct backend *store, struct vault_config **cfg, struct vault_keys **keys,
			 char *err, size_t size)
{
	struct vault_kdf_cost cost = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
	char recovery[128], *text = NULL;
	size_t len = 0;
	int r = vault_create(cfg, keys, suite_default(), DRIVER_PASS, strlen(DRIVER_PASS), cost,
			     recovery, sizeof(recovery));

	if (r == 0)
		r = vault_config_serialize(&text, &len, *cfg);
	if (r == 0)
		r = backend_put(store, VAULT_CONFIG_NAME, text, len);
	free(text);
	if (r == 0)
		r = engine_init_tree(store, *cfg, *keys, NULL, err, size);
	return r;
}

static int driver_unlock(struct backend *store, struct vault_config **cfg, struct vault_keys **keys)
{
	unsigned char *text = NULL;
	size_t len = 0;
	int r = backend_get(store, VAULT_CONFIG_NAME, 0, 0, &text, &len);

	if (r == 0)
		r = vault_config_parse(cfg, (const char *)text, len);
	free(text);
	if (r == 0)
		r = vault_unlock_passphrase(keys, *cfg, DRIVER_PASS, strlen(DRIVER_PASS));
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"init", no_argument, NULL, 'i'},
					     {"delay", required_argument, NULL, 'd'},
					     {"ro", no_argument, NULL, 'r'},
					     {"fsync-store", no_argument, NULL, 's'},
					     {"options", required_argument, NULL, 'o'},
					     {NULL, 0, NULL, 0}};
	struct backend_opts bo = {0};
	struct mount_opts mo = {.ready_fd = STDOUT_FILENO,
				.entry_timeout_s = MOUNT_ENTRY_TIMEOUT_DEFAULT_S};
	struct vault_config *cfg = NULL;
	struct vault_keys *keys = NULL;
	struct backend *store = NULL;
	char err[512] = "";
	bool init = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 'i')
			init = true;
		else if (c == 'd')
			mo.commit_delay_ms = (unsigned)strtoul(optarg, NULL, 10);
		else if (c == 'r')
			mo.read_only = true;
		else if (c == 's')
			mo.fsync_store = true;
		else if (c == 'o')
			mo.fuse_opts = optarg;
		else
			return 2;
	}
	if (optind != argc - 3 || sodium_init() < 0) {
		fprintf(
		    stderr,
		    "usage: mount_driver [--init] [--delay MS] [--ro] [--fsync-store] [-o OPTS] "
		    "STORE CACHE MNT\n");
		return 2;
	}
	bo.create = init;
	mo.cache_dir = argv[optind + 1];
	mo.mountpoint = argv[optind + 2];
	r = local_backend_open(&store, argv[optind], &bo, err, sizeof(err));
	if (r == 0)
		r = init ? driver_create(store, &cfg, &keys, err, sizeof(err))
			 : driver_unlock(store, &cfg, &keys);
	if (r == 0) {
		r = fsmount_run(store, cfg, keys, &mo, err, sizeof(err));
		keys = NULL;
	}
	if (r)
		fprintf(stderr, "mount_driver: %s (errno %d)\n", err[0] ? err : strerror(-r), -r);
	vault_keys_free(keys);
	vault_config_free(cfg);
	backend_destroy(store);
	return r ? 1 : 0;
}
