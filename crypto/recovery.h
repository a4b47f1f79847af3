/* recovery.h - the recovery key as text a person can copy by hand: 128 random
 * bits plus a checksum, Crockford base32 in groups (docs/FORMAT.md, "Recovery
 * key"). Pure: no I/O. */
#ifndef SEALFS_RECOVERY_H
#define SEALFS_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#define RECOVERY_KEY_BYTES 16
#define RECOVERY_TEXT_BYTES 64 /* enough for the text and its NUL */

/* Encodes key into text (NUL-terminated). Returns 0, -ENOSPC if size is short. */
int recovery_encode(char *text, size_t size, const unsigned char key[RECOVERY_KEY_BYTES]);
/* Decodes text, ignoring case, spaces and dashes, mapping O->0, I/L->1.
 * Returns 0, or -EINVAL for bad characters, a bad length or a bad checksum
 * (key zeroed then). */
__attribute__((warn_unused_result)) int recovery_decode(unsigned char key[RECOVERY_KEY_BYTES],
							const char *text);

#endif
