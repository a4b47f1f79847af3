/* main.c - the sealfs command: picks the command and hands over. Dispatch
 * only: it must never parse a command's options or touch a secret. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "fault.h"
#include "keyring.h"

#ifndef SEALFS_VERSION
#define SEALFS_VERSION "unknown"
#endif

struct main_command {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct main_command main_commands[] = {
    {"init", cli_init_main},
    {"mount", cli_mount_main},
    {"unmount", cli_unmount_main},
    {"lock", cli_unmount_main},
    {"info", cli_init_info_main},
    {"passwd", cli_keys_passwd_main},
    {"recover", cli_keys_recover_main},
    {"recovery-key", cli_keys_recovery_key_main},
    {"keyring", cli_keyring_main},
    {"status", cli_status_main},
    {"sync", cli_status_sync_main},
    {"fsck", cli_fsck_main},
    {"upgrade", cli_upgrade_main},
    {"history", cli_history_main},
    {"restore", cli_restore_main},
    {"config", cli_config_main},
};

static const char main_usage[] =
    "usage: sealfs COMMAND [ARGS]\n"
    "\n"
    "sealfs keeps a folder end-to-end encrypted in a store (a local directory or\n"
    "an S3 bucket); the keys never leave this machine.\n"
    "\n"
    "commands:\n"
    "  init    STORE              create a vault (prints the recovery key once)\n"
    "  mount   STORE MOUNTPOINT   unlock the vault and mount it\n"
    "  unmount MOUNTPOINT         commit, unmount and forget the keys (alias: lock)\n"
    "  info    STORE [--unlock]   describe a vault; --unlock: also its head (time, device,\n"
    "                             seq, fingerprint)\n"
    "  passwd  STORE              change the passphrase\n"
    "  recover STORE              set a new passphrase using the recovery key\n"
    "                             (prints a new recovery key once)\n"
    "  recovery-key STORE         replace the recovery key (prints the new one once)\n"
    "  status  MOUNTPOINT         what waits for the store, upload rate, last error\n"
    "  sync    MOUNTPOINT         commit now and wait until the store holds everything\n"
    "  fsck    STORE              check every object of a vault; --repair moves damage aside\n"
    "  upgrade STORE              raise a format-1 or 2 vault to format 3, in place\n"
    "  history MOUNTPOINT/PATH    the kept versions of a file or folder (format 2)\n"
    "  restore MOUNTPOINT/PATH    bring back a deleted or earlier version (--at, --to)\n"
    "  config  STORE [keep-days N] [grace SECONDS]\n"
    "                             show or change how long the history is kept\n"
    "\n"
    "Run 'sealfs COMMAND --help' for a command's options; --version for the version.\n"
    "\n"
    "exit codes:\n"
    "   0 success                       13 store missing or unreachable\n"
    "   1 usage error                   14 cache unusable or in use\n"
    "   2 interrupted or other error    15 mountpoint problem\n"
    "  10 wrong passphrase/recovery key 16 no FUSE (/dev/fuse)\n"
    "  11 not a sealfs vault            17 store read/write error (sync: timed out)\n"
    "  12 vault format newer than this  18 init: store not empty or already a vault\n"
    "  19 mount: store's head refused (--expect, --not-before, the cache's pin)\n"
    "  20 fsck: damaged/missing objects 21 fsck: orphans only\n"
    "  22 needs a format-2 vault        23 history/restore: no such version kept\n";

int main(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage(NULL, "no command given");
	if (cli_is_help(argv[1])) {
		fputs(main_usage, stdout);
		return EXITCODE_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		/* A second line lists compiled-in test features (tests look for it). */
		printf("sealfs %s\n%s", SEALFS_VERSION,
		       FAULT_INJECTION ? "features: fault-injection (test build)\n" : "");
		return EXITCODE_OK;
	}
	if (sodium_init() < 0)
		return cli_fail(EXITCODE_OTHER, "libsodium failed to initialise");
	for (size_t i = 0; i < sizeof(main_commands) / sizeof(main_commands[0]); i++)
		if (strcmp(argv[1], main_commands[i].name) == 0)
			return main_commands[i].run(argc - 1, argv + 1);
	return cli_usage(NULL, "unknown command '%s'", argv[1]);
}
