/* fuzz_leaseobj.c - the lease's plaintext (crypto/leaseobj.h) on any bytes:
 * a decode either fails with -EBADMSG (or -ENOMEM) or gives a lease that
 * follows every rule and encodes, decodes again and encodes to the same
 * bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "leaseobj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct leaseobj l, l2;
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int r = leaseobj_decode(&l, (const char *)data, size);

	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r != 0)
		return 0;
	FUZZ_ASSERT(l.time.sec >= 0 && l.until.sec >= l.time.sec &&
		    l.until.sec - l.time.sec <= LEASEOBJ_SPAN_MAX_S);
	FUZZ_ASSERT(l.device_name[0] != '\0');
	FUZZ_ASSERT(leaseobj_encode(&a, &alen, &l) == 0);
	FUZZ_ASSERT(leaseobj_decode(&l2, a, alen) == 0);
	FUZZ_ASSERT(memcmp(&l, &l2, sizeof(l)) == 0);
	FUZZ_ASSERT(leaseobj_encode(&b, &blen, &l2) == 0);
	FUZZ_ASSERT(alen == blen && memcmp(a, b, alen) == 0);
	free(a);
	free(b);
	return 0;
}
