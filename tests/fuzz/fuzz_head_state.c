/* fuzz_head_state.c - head_state_parse (CACHE/state) on any bytes, for the
 * vault id the corpus files name and another one: 0 only for the first,
 * with the seq it read; -ENOENT or -EINVAL otherwise, seq 0; and the pin's
 * decoder with a key. */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "head.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the vault id of every corpus file: 00 01 .. 0f */
	static const uint8_t ours[OBJECT_ID_BYTES] = {0, 1, 2,	3,  4,	5,  6,	7,
						      8, 9, 10, 11, 12, 13, 14, 15};
	uint8_t other[OBJECT_ID_BYTES];
	uint64_t seq = 1;
	int r = head_state_parse((const char *)data, size, ours, &seq);

	FUZZ_ASSERT(r == 0 || r == -ENOENT || r == -EINVAL || r == -ENOMEM);
	FUZZ_ASSERT(r == 0 || seq == 0);
	memset(other, 0xee, sizeof(other));
	seq = 1;
	int r2 = head_state_parse((const char *)data, size, other, &seq);
	FUZZ_ASSERT(r2 == 0 || seq == 0);
	FUZZ_ASSERT(!(r == 0 && r2 == 0)); /* one file is never both vaults' */
	/* the pin's decoder with a key (all zeros: the corpus's pins are MAC'ed
	 * under it): 0 only for a well-formed state whose MAC verifies */
	static const unsigned char key[HEAD_PIN_KEY_BYTES];
	struct head_state st;
	int r3 = head_state_decode(&st, (const char *)data, size, ours, key);
	FUZZ_ASSERT(r3 == 0 || r3 == -ENOENT || r3 == -EINVAL || r3 == -EBADMSG);
	FUZZ_ASSERT(r3 != 0 || st.version == 1 || st.version == 2);
	FUZZ_ASSERT(r3 == 0 || st.seq == 0);
	return 0;
}
