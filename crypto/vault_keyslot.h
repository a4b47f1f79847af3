/* vault_keyslot.h - internal to crypto/: keyslots of the vault config, each
 * wrapping the master key under a key-encryption key from a passphrase
 * (Argon2id) or from the recovery key (BLAKE2b) (docs/FORMAT.md, "Keyslots").
 * Pure: no I/O. */
#ifndef SEALFS_VAULT_KEYSLOT_H
#define SEALFS_VAULT_KEYSLOT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "recovery.h"
#include "vault.h"

enum vault_keyslot_type {
	VAULT_KEYSLOT_PASSPHRASE,
	VAULT_KEYSLOT_RECOVERY,
};

/* Checks one keyslot object: exact fields, types, lengths, KDF bounds.
 * Returns 0 with *type set, or -EBADMSG. slot is borrowed. */
int vault_keyslot_check(json_t *slot, enum vault_keyslot_type *type);

/* Whether cost is within libsodium's Argon2id bounds. */
int vault_keyslot_cost_ok(struct vault_kdf_cost cost);

/* New passphrase keyslot (fresh salt and nonce) wrapping master.
 * *out is a new reference. Returns 0, -EINVAL (cost), -ENOMEM. */
int vault_keyslot_new_passphrase(json_t **out, const uint8_t vault_id[OBJECT_ID_BYTES],
				 const unsigned char master[VAULT_KEY_BYTES], const char *pass,
				 size_t pass_len, struct vault_kdf_cost cost);
/* New recovery keyslot wrapping master under rkey. *out is a new reference. */
int vault_keyslot_new_recovery(json_t **out, const uint8_t vault_id[OBJECT_ID_BYTES],
			       const unsigned char master[VAULT_KEY_BYTES],
			       const unsigned char rkey[RECOVERY_KEY_BYTES]);

/* Unwraps master from a checked keyslot of the matching type. Returns 0,
 * -EACCES when the wrap does not open (wrong secret or altered slot; master
 * zeroed), -ENOMEM when the KDF cannot get its memory. */
int vault_keyslot_open_passphrase(unsigned char master[VAULT_KEY_BYTES], json_t *slot,
				  const uint8_t vault_id[OBJECT_ID_BYTES], const char *pass,
				  size_t pass_len);
int vault_keyslot_open_recovery(unsigned char master[VAULT_KEY_BYTES], json_t *slot,
				const uint8_t vault_id[OBJECT_ID_BYTES],
				const unsigned char rkey[RECOVERY_KEY_BYTES]);

#endif
