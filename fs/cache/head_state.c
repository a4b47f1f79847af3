/* head_state.c - the parser of CACHE/state (head.h, head_state_parse):
 * "sealfs-state 1", "vault <32 hex>", "seq <n>", one per line. Pure: no
 * I/O but a memory stream over the caller's bytes. It must never read past
 * them nor accept a state of another vault. */
#include "head.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

int head_state_parse(const char *text, size_t len, const uint8_t vault_id[OBJECT_ID_BYTES],
		     uint64_t *seq)
{
	char buf[160], want[33], vault[33];
	unsigned long long v;
	FILE *f;
	int r = -EINVAL;

	*seq = 0;
	if (len == 0)
		return -EINVAL;
	/* fgets and sscanf, as the file was always read: lines up to 159 bytes */
	f = fmemopen((void *)text, len, "r");
	if (!f)
		return errno == ENOMEM ? -ENOMEM : -EINVAL;
	if (fgets(buf, sizeof(buf), f) && strcmp(buf, "sealfs-state 1\n") == 0 &&
	    fgets(buf, sizeof(buf), f) && sscanf(buf, "vault %32[0-9a-f]\n", vault) == 1 &&
	    fgets(buf, sizeof(buf), f) && sscanf(buf, "seq %llu\n", &v) == 1) {
		log_id(want, vault_id);
		r = strcmp(want, vault) == 0 ? 0 : -ENOENT;
		*seq = r == 0 ? v : 0;
	}
	fclose(f);
	return r;
}
