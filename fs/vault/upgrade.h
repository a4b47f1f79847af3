/* upgrade.h - raising a vault to format 3 (VAULT_FORMAT_VERSION) in place,
 * the work behind `sealfs upgrade STORE` (docs/DESIGN-FORMAT-2.md section 9,
 * docs/FORMAT.md "Format 1", "Version history"). From format 1: every
 * directory object rewritten (bottom-up, new keys), the config's format
 * raised, then a new head. From format 2: the config's format raised only
 * (every format-2 object is a format-3 object).
 * Works from the store and the keys only (no tree, no cache): the caller
 * makes sure nothing mounts the vault meanwhile. Never re-encrypts content:
 * segments keep the per-file key, marked by created 0. Never logs a name. */
#ifndef SEALFS_UPGRADE_H
#define SEALFS_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "vault.h"

struct upgrade_result {
	int from;	  /* the vault's format before */
	bool already;	  /* the vault was format 3 already: nothing written */
	bool resumed;	  /* the config said 2 or 3 but the head was format 1: an
			     upgrade cut short, finished now */
	uint64_t dirs;	  /* directory objects rewritten (0 from format 2) */
	uint64_t new_seq; /* the head's seq (unchanged from format 2) */
};

/* Upgrades the vault in store (cfg and keys unlocked from it; cfg->format
 * becomes 3). Crash-safe: until the config is written the vault is format 1
 * (the new objects are orphans, fsck --repair deletes them); after it and
 * before the head, the vault refuses to mount and running this again
 * finishes it; the head goes in by compare-and-swap on the one read at the
 * start. The old directory objects are deleted once the new head is in
 * (a failure leaves orphans). 0, or a negative errno with a one-line reason
 * in err: -EBADMSG an object failed to authenticate (run fsck first),
 * -ENOENT one is missing, -ESTALE the head changed meanwhile, store errors. */
int upgrade_run(struct backend *store, struct vault_config *cfg, const struct vault_keys *keys,
		struct upgrade_result *res, char *err, size_t err_size);

#endif
