/* history_io.c - where the history's objects are read from: the cache (a
 * mount's committer: fetched from the store on a miss, and the journal's
 * pending objects are in it after a replay) or the store itself (the CLI,
 * fsck). Reads only; bounded by the caller's max. */
#include "history.h"

#include <errno.h>
#include <stdlib.h>

#include "backend.h"
#include "cache.h"

static int history_read_cache(void *arg, const uint8_t key[OBJECT_ID_BYTES], uint64_t max,
			      unsigned char **out, size_t *out_len)
{
	char text[OBJECT_KEY_TEXT_BYTES];

	object_key_text(text, key);
	return cache_read_object(arg, text, max, out, out_len);
}

static int history_read_store(void *arg, const uint8_t key[OBJECT_ID_BYTES], uint64_t max,
			      unsigned char **out, size_t *out_len)
{
	char text[OBJECT_KEY_TEXT_BYTES];

	object_key_text(text, key);
	return backend_get_max(arg, text, max, out, out_len);
}

void history_io_cache(struct history_io *io, struct cache *cache, const uint8_t *vault_id,
		      const unsigned char *meta_key)
{
	io->read = history_read_cache;
	io->arg = cache;
	io->vault_id = vault_id;
	io->meta_key = meta_key;
}

void history_io_store(struct history_io *io, struct backend *store, const uint8_t *vault_id,
		      const unsigned char *meta_key)
{
	io->read = history_read_store;
	io->arg = store;
	io->vault_id = vault_id;
	io->meta_key = meta_key;
}
