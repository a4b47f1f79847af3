/* vault.h - the vault config (sealfs.json) and the key hierarchy: keyslots
 * wrapping the master key, subkeys derived from it, the config MAC
 * (docs/FORMAT.md, "Vault config", "Keys"). Pure: no I/O; callers read and
 * write the config bytes. Secrets live in sodium_malloc memory. */
#ifndef SEALFS_VAULT_H
#define SEALFS_VAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chunk.h"
#include "suite.h"

/* The format init writes and the newest this sealfs reads; every format
 * from VAULT_FORMAT_MIN up opens (docs/FORMAT.md, "Version history"). */
#define VAULT_FORMAT_VERSION 3
#define VAULT_FORMAT_MIN 1

/* What a format adds, each named by the format that brought it: a feature
 * applies to vaults of that format and newer (vault_fmt_has), and an older
 * vault refuses it (EPERM and a log line naming `sealfs upgrade`). */
enum vault_feature {
	VAULT_FEAT_HISTORY = 2,	   /* format 2: kc/created, history, garbage, itable, lease */
	VAULT_FEAT_PAGED_DIRS = 3, /* format 3: directory pages (kind 3) */
	VAULT_FEAT_ITABLE_ANY = 3, /* format 3: inode-table records of any non-directory type */
};

/* Whether a vault of format fmt has feature f. Pure; thread-safe. */
static inline bool vault_fmt_has(int fmt, enum vault_feature f) { return fmt >= (int)f; }
#define VAULT_CONFIG_NAME "sealfs.json" /* store key of the config */
#define VAULT_KEY_BYTES 32

/* Keys of an unlocked vault. Allocated with sodium_malloc; free with
 * vault_keys_free. A mount needs content and meta only: it wipes master and
 * config (vault_keys_keep_data_keys) before serving. */
struct vault_keys {
	unsigned char master[VAULT_KEY_BYTES];
	unsigned char content[VAULT_KEY_BYTES]; /* crypto_kdf id 1: per-file keys */
	unsigned char meta[VAULT_KEY_BYTES];	/* crypto_kdf id 2: directory objects, head */
	unsigned char config[VAULT_KEY_BYTES];	/* crypto_kdf id 3: config MAC */
	/* crypto_kdf id 5, context "sealfsv2": the MAC of this device's pin,
	 * CACHE/state (docs/FORMAT.md, "Cache"); kept by a mount. */
	unsigned char pin[VAULT_KEY_BYTES];
	/* crypto_kdf id 6, context "sealfsv2": seals the lease (crypto/leaseobj.h)
	 * of a store that ignores conditional writes; kept by a mount until its
	 * last upload, after the other keys are wiped (it opens nothing else). */
	unsigned char lease[VAULT_KEY_BYTES];
};

/* Largest KDF cost a keyslot may ask for (init refuses more, unlock refuses a
 * config that asks for more): 8x libsodium's SENSITIVE passes, 4 GiB. */
#define VAULT_KDF_OPSLIMIT_MAX 32ull
#define VAULT_KDF_MEMLIMIT_MAX ((size_t)4 << 30)

/* KDF cost of a passphrase keyslot (crypto_pwhash, Argon2id v1.3). */
struct vault_kdf_cost {
	unsigned long long opslimit;
	size_t memlimit;
};

/* A parsed config. Opaque except for what every layer needs. */
struct vault_config {
	int format; /* 1 .. 3: every dirobj/seal call of this vault takes it */
	uint8_t vault_id[OBJECT_ID_BYTES];
	enum suite_id suite;
	void *priv; /* the JSON document (jansson), owned */
};

/* The default passphrase cost: crypto_pwhash_*_MODERATE. */
struct vault_kdf_cost vault_kdf_default(void);

/* Creates a new vault: random vault id and master key, a passphrase keyslot and
 * a recovery keyslot. recovery_text receives the one-time recovery key as text
 * (recovery.h), NUL-terminated. Returns 0, -ENOMEM, -EINVAL (unavailable suite,
 * cost below libsodium's minimum). *cfg_out and *keys_out are new. */
int vault_create(struct vault_config **cfg_out, struct vault_keys **keys_out, enum suite_id suite,
		 const char *pass, size_t pass_len, struct vault_kdf_cost cost, char *recovery_text,
		 size_t recovery_text_size);

/* Parses config bytes. Returns 0; -EBADMSG not a sealfs config (bad JSON,
 * missing fields); -EPROTONOSUPPORT a newer format version (or an unknown
 * suite); -ENOMEM. Nothing is authenticated yet: call an unlock function.
 * A known suite this CPU cannot run still parses: check suite_available(). */
int vault_config_parse(struct vault_config **out, const char *text, size_t len);

/* Serialises (canonical JSON: sorted keys, with its MAC). *out is new. */
int vault_config_serialize(char **out, size_t *out_len, const struct vault_config *cfg);

/* Unlocks with the passphrase: runs the KDF, unwraps the master key, derives
 * subkeys, then verifies the config MAC. Returns 0 with *keys_out new;
 * -EACCES wrong passphrase; -EBADMSG the config was altered (MAC mismatch);
 * -ENOMEM (KDF memory). */
__attribute__((warn_unused_result)) int vault_unlock_passphrase(struct vault_keys **keys_out,
								const struct vault_config *cfg,
								const char *pass, size_t pass_len);

/* Unlocks with the recovery key text (recovery.h). -EINVAL malformed text or
 * bad checksum; -EACCES wrong key; -EBADMSG altered config. */
__attribute__((warn_unused_result)) int vault_unlock_recovery(struct vault_keys **keys_out,
							      const struct vault_config *cfg,
							      const char *text);

/* Replaces the passphrase keyslot (new salt, new wrap of the same master key)
 * and recomputes the MAC. Data is not re-encrypted. Returns 0, -ENOMEM,
 * -EINVAL (cost out of range, or keys that do not verify this config's MAC). */
int vault_set_passphrase(struct vault_config *cfg, const struct vault_keys *keys, const char *pass,
			 size_t pass_len, struct vault_kdf_cost cost);

/* Replaces the recovery keyslot with a new random recovery key; writes its text
 * (recovery_text_size >= RECOVERY_TEXT_BYTES). Returns 0, -ENOMEM, -EINVAL. */
int vault_set_recovery(struct vault_config *cfg, const struct vault_keys *keys, char *recovery_text,
		       size_t recovery_text_size);

/* Raises the config's format to format (cfg->format .. VAULT_FORMAT_VERSION)
 * and recomputes the MAC: the last step of `sealfs upgrade`, which first
 * rewrites what the new format stores differently. Returns 0, -ENOMEM,
 * -EINVAL (a lower or unknown format, or keys that do not verify this
 * config's MAC). */
int vault_set_format(struct vault_config *cfg, const struct vault_keys *keys, int format);

/* Human-readable, non-secret description (format, vault id, suite, chunk
 * size, KDF cost, keyslot types) into buf, NUL-terminated, one "name: value"
 * line each; for `sealfs info`. Returns 0, or -ENOSPC if buf is too small. */
int vault_describe(const struct vault_config *cfg, char *buf, size_t size);

void vault_config_free(struct vault_config *cfg);
/* Wipes and frees. NULL is fine. */
/* Wipes the master and config keys, keeping content, meta and pin: what a
 * mount holds while it serves (it never re-wraps or re-MACs the config), so
 * a dump of its memory does not give the master key. keys stays usable for
 * the data; never for vault_set_* afterwards. */
void vault_keys_keep_data_keys(struct vault_keys *keys);
void vault_keys_free(struct vault_keys *keys);

#endif
