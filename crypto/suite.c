/* suite.c - the content cipher suites: names, nonce sizes, availability.
 * Must never report AES-256-GCM available on a CPU libsodium cannot run it on. */
#include "suite.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

size_t suite_nonce_bytes(enum suite_id suite)
{
	switch (suite) {
	case SUITE_XCHACHA20POLY1305:
		return crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
	case SUITE_AES256GCM:
		return crypto_aead_aes256gcm_NPUBBYTES;
	}
	return 0;
}

const char *suite_name(enum suite_id suite)
{
	switch (suite) {
	case SUITE_XCHACHA20POLY1305:
		return "xchacha20poly1305";
	case SUITE_AES256GCM:
		return "aes256gcm";
	}
	return NULL;
}

int suite_from_name(const char *name, enum suite_id *out)
{
	static const enum suite_id all[] = {SUITE_XCHACHA20POLY1305, SUITE_AES256GCM};

	for (size_t i = 0; name && i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(name, suite_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

bool suite_available(enum suite_id suite)
{
	/* sodium_init() detects the CPU features aes256gcm_is_available() reads. */
	if (sodium_init() < 0)
		return false;
	switch (suite) {
	case SUITE_XCHACHA20POLY1305:
		return true;
	case SUITE_AES256GCM:
		return crypto_aead_aes256gcm_is_available() != 0;
	}
	return false;
}

enum suite_id suite_default(void)
{
	return suite_available(SUITE_AES256GCM) ? SUITE_AES256GCM : SUITE_XCHACHA20POLY1305;
}
