/* meta.h - sealing and opening metadata objects: directory objects and the head
 * (docs/FORMAT.md, "Metadata objects"). Pure: no I/O.
 *
 * Always XChaCha20-Poly1305-IETF under the vault's metadata key, whatever the
 * content suite. Plaintext is padded with sodium_pad to META_PAD_BLOCK bytes.
 * Stored bytes: nonce (24) || ciphertext || tag (16). */
#ifndef SEALFS_META_H
#define SEALFS_META_H

#include <stddef.h>
#include <stdint.h>

#include "chunk.h"

#define META_PAD_BLOCK 1024u
#define META_MAX_PLAIN_BYTES (256u << 20) /* refuse larger objects */
/* The largest sealed object meta_open accepts (nonce, the padded maximum,
 * tag): what a reader may fetch for a directory object or the head. */
#define META_MAX_SEALED_BYTES ((uint64_t)24 + META_MAX_PLAIN_BYTES + META_PAD_BLOCK + 16)

/* The AD's first byte: which kind of object (docs/FORMAT.md, "Metadata
 * objects"). 1 and 2 in every format; 3..8 in format 2 only. */
enum meta_kind {
	META_KIND_DIR = 1,	   /* directory object (in format 2 also a paged one's index) */
	META_KIND_HEAD = 2,	   /* the head */
	META_KIND_DIR_PAGE = 3,	   /* a page of a paged directory */
	META_KIND_HEAD_RECORD = 4, /* an archived head (a retained head of the history) */
	META_KIND_HISTORY = 5,	   /* a history page: retained head records, newest first */
	META_KIND_INODE_PAGE = 6,  /* a page of the inode table (files with several names) */
	META_KIND_GARBAGE = 7,	   /* a garbage list: objects a commit stopped referencing */
	META_KIND_LEASE = 8,	   /* the lease (crypto/leaseobj.h), under the lease key */
};

/* What a metadata object's associated data binds. */
struct meta_ad {
	enum meta_kind kind;
	uint8_t vault_id[OBJECT_ID_BYTES];
	uint8_t object_id[OBJECT_ID_BYTES]; /* the directory's stable id; zeros for the head */
	uint64_t version;		    /* bumped on every rewrite; 0 for the head, whose
					       seq is inside its authenticated plaintext
					       (a reader cannot know it before opening) */
	uint8_t store_key[OBJECT_ID_BYTES]; /* the key it is stored under; zeros for the head */
};

/* Fills *ad for an object of kind stored under store_key at version;
 * object_id NULL: zeros (every kind but a directory's objects). */
void meta_ad_set(struct meta_ad *ad, enum meta_kind kind, const uint8_t vault_id[OBJECT_ID_BYTES],
		 const uint8_t object_id[OBJECT_ID_BYTES], uint64_t version,
		 const uint8_t store_key[OBJECT_ID_BYTES]);

/* Seals plain[0..len). *out is a new malloc'ed buffer of *out_len bytes.
 * Returns 0, -ENOMEM, or -EFBIG over META_MAX_PLAIN_BYTES. */
int meta_seal(unsigned char **out, size_t *out_len, const void *plain, size_t len,
	      const struct meta_ad *ad, const unsigned char meta_key[32]);

/* Opens a sealed object. *out is a new malloc'ed, NUL-terminated buffer of
 * *out_len bytes (padding removed); free it with meta_free_plain (wipes).
 * Returns 0, -EBADMSG on failed authentication or bad padding, -ENOMEM. */
__attribute__((warn_unused_result)) int meta_open(char **out, size_t *out_len,
						  const unsigned char *sealed, size_t sealed_len,
						  const struct meta_ad *ad,
						  const unsigned char meta_key[32]);

/* Wipes and frees a buffer from meta_open. NULL is fine. */
void meta_free_plain(char *plain, size_t len);

#endif
