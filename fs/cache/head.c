/* head.c - the head's store calls: the head is read with its version and
 * replaced only by compare-and-swap, so a device never overwrites a head it
 * did not build on; and its hash. The pin (CACHE/state) is head_pin.c's.
 * It must never write the head unconditionally. */
#include "head.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cache.h"
#include "log.h"
#include "meta.h"

/* What head_check reads at most: the largest sealed head. */
#define HEAD_CHECK_MAX META_MAX_SEALED_BYTES

void head_hash(uint8_t out[HEAD_HASH_BYTES], const void *sealed, size_t len)
{
	crypto_generichash(out, HEAD_HASH_BYTES, sealed, len, NULL, 0);
}

int head_get(struct backend *store, size_t max, unsigned char **out, size_t *len,
	     struct backend_version *ver)
{
	*out = NULL;
	*len = 0;
	ver->len = 0;
	if (!(store->ops->caps & BACKEND_CAP_PUT_IF))
		return -EOPNOTSUPP;
	return store->ops->get_version(store, HEAD_STORE_KEY, max, out, len, ver);
}

int head_get_changed(struct backend *store, size_t max, const struct backend_version *known,
		     unsigned char **out, size_t *len, struct backend_version *ver)
{
	ver->len = 0;
	return backend_get_changed(store, HEAD_STORE_KEY, max, known, out, len, ver);
}

int head_cas_probe(struct backend *store, enum head_cas *cas)
{
	char key[OBJECT_KEY_TEXT_BYTES];
	uint8_t id[OBJECT_ID_BYTES];
	int r;

	if (!(store->ops->caps & BACKEND_CAP_PUT_IF_PROBE)) {
		*cas = HEAD_CAS_HONOURED;
		return 0;
	}
	randombytes_buf(id, sizeof(id));
	object_key_text(key, id);
	r = backend_probe_put_if(store, key);
	if (r < 0)
		return r;
	*cas = r ? HEAD_CAS_HONOURED : HEAD_CAS_IGNORED;
	return 0;
}

/* -ESTALE unless the store's head is at version *ver (IGNORED stores). */
static int head_check(struct backend *store, const struct backend_version *ver)
{
	struct backend_version now;
	unsigned char *data;
	size_t len;
	int r = head_get(store, HEAD_CHECK_MAX, &data, &len, &now);

	free(data);
	if (r == -ENOENT)
		return ver->len == 0 ? 0 : -ESTALE;
	if (r)
		return r;
	return now.len == ver->len && memcmp(now.v, ver->v, now.len) == 0 ? 0 : -ESTALE;
}

int head_put(struct backend *store, const void *data, size_t len, enum head_cas cas,
	     struct backend_version *ver)
{
	struct backend_version out;
	int r = cas == HEAD_CAS_IGNORED ? head_check(store, ver) : 0;

	if (r == 0)
		r = backend_put_if(store, HEAD_STORE_KEY, data, len, ver, &out);
	if (r == 0)
		*ver = out;
	return r;
}
