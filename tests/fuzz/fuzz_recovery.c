/* fuzz_recovery.c - recovery_decode on any text; an accepted text must give a
 * key that encodes to a text decoding to the same key; a refused one must
 * leave the key zeroed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "recovery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char key[RECOVERY_KEY_BYTES], back[RECOVERY_KEY_BYTES];
	char text[RECOVERY_TEXT_BYTES];
	char *s = malloc(size + 1);
	int r;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(key, 0xaa, sizeof(key));
	r = recovery_decode(key, s);
	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	if (r != 0) {
		for (size_t i = 0; i < sizeof(key); i++)
			FUZZ_ASSERT(key[i] == 0);
	} else {
		FUZZ_ASSERT(recovery_encode(text, sizeof(text), key) == 0);
		FUZZ_ASSERT(recovery_decode(back, text) == 0);
		FUZZ_ASSERT(memcmp(key, back, sizeof(key)) == 0);
	}
	free(s);
	return 0;
}
