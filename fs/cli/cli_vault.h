/* cli_vault.h - opening an existing vault from the command line, the one
 * way every command does it (mount, fsck, passwd, recover, recovery-key,
 * keyring add): the store, its config, the secret (terminal, file, command
 * or the desktop keyring) and the unlock, with the same messages and exit
 * codes everywhere. Not thread-safe (the CLI is single-threaded: see
 * cli_mount.c). Never prints a secret. */
#ifndef SEALFS_CLI_VAULT_H
#define SEALFS_CLI_VAULT_H

#include <stdbool.h>

#include "backend.h"
#include "passphrase.h"
#include "vault.h"

/* An open vault. Zero it before cli_vault_open; cli_vault_close frees what
 * is set. */
struct cli_vault {
	const char *url;	  /* borrowed: the STORE argument, as messages name it */
	struct backend *store;	  /* owned */
	struct vault_config *cfg; /* owned */
	struct vault_keys *keys;  /* owned; NULL until cli_vault_unlock */
};

/* Where the secret comes from and what it is. */
struct cli_unlock {
	struct passphrase_src src; /* --passphrase-file, --extpass; neither: the terminal */
	bool keyring;		   /* --keyring: the desktop keyring instead of src */
	bool recovery;		   /* src holds the recovery key, not the passphrase */
	const char *prompt;	   /* NULL: "Passphrase: " or "Recovery key: " */
};

/* Opens the store named by url and loads its config (cli_store_open,
 * cli_config_load). 0 or an exit code, the message printed. */
int cli_vault_open(struct cli_vault *v, const char *url);

/* Gets the secret as how says and unlocks v->keys. With keep, the secret
 * that worked is handed to *keep (free with passphrase_free) instead of
 * wiped. 0 or an exit code: a secret that could not be read is
 * EXITCODE_USAGE (EXITCODE_OTHER when interrupted or from the keyring), a
 * wrong one as cli_unlock_error. */
int cli_vault_unlock(struct cli_vault *v, const struct cli_unlock *how, struct passphrase *keep);

/* cli_vault_open, then cli_vault_unlock. */
int cli_vault_open_unlocked(struct cli_vault *v, const char *url, const struct cli_unlock *how,
			    struct passphrase *keep);

/* Wipes the keys, frees the config, closes the store; v is zeroed. */
void cli_vault_close(struct cli_vault *v);

/* passphrase_get with the CLI's message and exit code on failure:
 * EXITCODE_OTHER when interrupted, else EXITCODE_USAGE. */
int cli_secret_get(struct passphrase *out, const struct passphrase_src *src, const char *prompt,
		   bool confirm);

#endif
