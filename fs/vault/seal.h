/* seal.h - sealing and opening the vault's metadata objects: directory objects
 * and the head (docs/FORMAT.md, "Metadata objects"). The one place that turns
 * a struct dirobj or dirobj_head into stored bytes and back. No locks, no
 * cache; reads the store only in seal_read_head. */
#ifndef SEALFS_SEAL_H
#define SEALFS_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "dirobj.h"

/* Every call takes the vault's format (vault_config.format: 1 to 3), which
 * decides the JSON members (dirobj.h); -EINVAL for another value. */

/* Seals directory object dir, stored under key at version, as one object
 * whatever its size (dirio_seal pages a big one in format 3). *out is new
 * (free). 0, -ENOMEM, -EINVAL for a directory that does not encode. */
int seal_dir(unsigned char **out, size_t *out_len, const struct dirobj *dir, uint64_t version,
	     const uint8_t key[OBJECT_ID_BYTES], const uint8_t vault_id[OBJECT_ID_BYTES],
	     const unsigned char *meta_key, int format);
/* Opens sealed directory object ref (version, store key) of directory id into
 * *obj (new: dirobj_release): one object only (a paged directory of format
 * 3 is -EBADMSG here: dirio.h opens both). -EBADMSG when it fails to authenticate, does
 * not decode, or names another directory; -ENOMEM. */
int seal_open_dir(struct dirobj *obj, const unsigned char *sealed, size_t sealed_len,
		  const uint8_t id[OBJECT_ID_BYTES], const struct dirobj_ref *ref,
		  const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *meta_key,
		  int format);
/* Seals the head. The head's associated data carries version 0 (its seq is
 * inside the authenticated plaintext: a reader cannot know it beforehand). */
int seal_head(unsigned char **out, size_t *out_len, const struct dirobj_head *head,
	      const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *meta_key, int format);
/* Opens a sealed head (from the store or a journal record). *head is new
 * (dirobj_head_release). -EBADMSG failed to authenticate or malformed. */
int seal_open_head(struct dirobj_head *head, const unsigned char *sealed, size_t sealed_len,
		   const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *meta_key,
		   int format);
/* Reads the head from the store (never from a cache) and opens it. *head is
 * new (dirobj_head_release). -ENOENT no head, -EBADMSG failed to
 * authenticate or malformed, store errors. */
int seal_read_head(struct dirobj_head *head, struct backend *store,
		   const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *meta_key,
		   int format);

/* Format 2: copies into *head the members a commit carries over from tmpl
 * (device, device name, parent, keep, grace, and the hist/g/it REFs
 * unchanged); not seq, root or time. Pure. */
void seal_head_carry(struct dirobj_head *head, const struct dirobj_head *tmpl);
/* out = BLAKE2b-256 (crypto_generichash, no key) of a sealed head's bytes:
 * the next head's "parent" (docs/FORMAT.md, "Head"). Pure. */
void seal_head_hash(uint8_t out[32], const unsigned char *sealed, size_t sealed_len);

#endif
