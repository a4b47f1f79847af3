/* vault_name.h - the vault's local name (docs/SECURITY.md, "The vault's
 * name"): a label for the mount's source ("sealfs:<name>"), kept in the
 * cache directory (CACHE/name, one line, mode 0600), never in the store. */
#ifndef SEALFS_VAULT_NAME_H
#define SEALFS_VAULT_NAME_H

#include <stddef.h>

#include "mount.h"

/* The name for a mount over cache_dir: arg when given (checked, then saved
 * for the next mounts), else the saved one, else "" (no name). out holds
 * MOUNT_NAME_MAX + 1 bytes. 0, -EINVAL (arg is no valid name), or the
 * errno of saving it. A missing or invalid saved name is no error. */
int vault_name_resolve(char out[MOUNT_NAME_MAX + 1], const char *cache_dir, const char *arg);
/* Saves name (checked by mount_name_ok) as cache_dir's name: 0, -EINVAL or
 * a negative errno. */
int vault_name_save(const char *cache_dir, const char *name);

#endif
