/* suite.h - the AEAD cipher suites a vault's file content can use.
 * Pure: no I/O, no globals beyond libsodium's own initialisation. */
#ifndef SEALFS_SUITE_H
#define SEALFS_SUITE_H

#include <stdbool.h>
#include <stddef.h>

enum suite_id {
	SUITE_XCHACHA20POLY1305 = 1, /* "xchacha20poly1305": 24-byte random nonce */
	SUITE_AES256GCM = 2,	     /* "aes256gcm": 12-byte random nonce, needs AES-NI */
};

#define SUITE_MAX_NONCE_BYTES 24
#define SUITE_TAG_BYTES 16
#define SUITE_KEY_BYTES 32

/* Nonce length of a suite in bytes. */
size_t suite_nonce_bytes(enum suite_id suite);
/* Canonical name stored in the vault config; NULL for an unknown id. Borrowed. */
const char *suite_name(enum suite_id suite);
/* Parses a canonical name; 0, or -EINVAL for an unknown name. */
int suite_from_name(const char *name, enum suite_id *out);
/* Whether this CPU can run the suite (AES-GCM needs AES-NI and PCLMUL). */
bool suite_available(enum suite_id suite);
/* What `sealfs init` picks: AES-256-GCM where available, else XChaCha20-Poly1305. */
enum suite_id suite_default(void);

#endif
