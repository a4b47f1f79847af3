/* keyring.h - a vault's passphrase in the desktop keyring (the Secret
 * Service: GNOME Keyring, KWallet, KeePassXC, ...) through libsecret:
 * `sealfs mount --keyring` reads it, `sealfs keyring add STORE` stores it.
 * Items carry the attribute "vault" = the vault id in hex and the label
 * "sealfs vault <first 8 hex>"; never the store's URL or a name. See
 * docs/SECURITY.md, "The desktop keyring", for what it trades away. */
#ifndef SEALFS_KEYRING_H
#define SEALFS_KEYRING_H

#include <stddef.h>

#include "passphrase.h"
#include "vault.h"

/* The passphrase of cfg's vault into *out (sodium_malloc memory; free with
 * passphrase_free), looked up in a child process that hands it over a pipe
 * (passphrase_from_child): this process starts no thread. 0, or with the
 * reason in err: -ENOENT (no item), -EIO (no Secret Service, or it failed),
 * -EINVAL (the stored passphrase cannot be used), another negative errno
 * (the child could not run). */
int keyring_lookup(struct passphrase *out, const struct vault_config *cfg, char *err,
		   size_t err_size);
/* Stores pass as cfg's vault's passphrase (replacing an older item), in the
 * default collection: 0 or -EIO with the reason in err. Runs libsecret in
 * this process (its threads stay): for `sealfs keyring add`, which forks
 * nothing after it. */
int keyring_store(const struct vault_config *cfg, const struct passphrase *pass, char *err,
		  size_t err_size);

/* `sealfs keyring add STORE [--passphrase-file F | --extpass CMD]`: asks
 * for the passphrase, checks that it unlocks the vault, stores it. */
int cli_keyring_main(int argc, char **argv);

#endif
