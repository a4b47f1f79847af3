/* fuzz_meta_open.c - meta_open under a fixed key on any bytes (only the
 * seeds, sealed under that key, authenticate); and meta_seal of the same
 * bytes as plaintext must open back to them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "meta.h"

/* Key 00 01 .. 1f; AD: kind dir, vault 10.., dir a0.., version 1, key c0..
 * (the seeds in corpus/meta_open were sealed with exactly these). */
static void fuzz_fixed(unsigned char key[32], struct meta_ad *ad)
{
	for (int i = 0; i < 32; i++)
		key[i] = (unsigned char)i;
	ad->kind = META_KIND_DIR;
	ad->version = 1;
	for (int i = 0; i < 16; i++) {
		ad->vault_id[i] = (uint8_t)(0x10 + i);
		ad->object_id[i] = (uint8_t)(0xa0 + i);
		ad->store_key[i] = (uint8_t)(0xc0 + i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char key[32], *sealed = NULL;
	struct meta_ad ad;
	char *plain = NULL;
	size_t plen = 0, slen = 0;
	int r;

	fuzz_fixed(key, &ad);
	r = meta_open(&plain, &plen, data, size, &ad, key);
	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMEM);
	FUZZ_ASSERT(r == 0 || (plain == NULL && plen == 0));
	if (r == 0)
		FUZZ_ASSERT(plain[plen] == '\0' && plen < size);
	meta_free_plain(plain, plen);
	FUZZ_ASSERT(meta_seal(&sealed, &slen, data, size, &ad, key) == 0);
	FUZZ_ASSERT(meta_open(&plain, &plen, sealed, slen, &ad, key) == 0);
	FUZZ_ASSERT(plen == size && (size == 0 || memcmp(plain, data, size) == 0));
	meta_free_plain(plain, plen);
	free(sealed);
	return 0;
}
