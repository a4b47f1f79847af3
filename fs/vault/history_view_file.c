/* history_view_file.c - the plaintext of a file as an old head holds it
 * (history_view.h): each present segment is fetched from the store with the
 * size its file's size implies, every chunk is opened and authenticated
 * under the file's (or the segment version's) key before its bytes are
 * handed on. Must never hand on a byte of a chunk that failed to
 * authenticate, and wipes the one plaintext buffer it uses. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chunk.h"
#include "history_view_int.h"

/* One segment: fetched, its size checked, its chunks opened and handed on. */
static int history_view_segment(struct history_view *v, const struct dirobj_entry *e, size_t s,
				struct chunk_key *key, history_view_out_fn out, void *arg)
{
	size_t chunk_len = chunk_sealed_bytes(v->cfg->suite);
	uint64_t expected = chunk_segment_stored_bytes(v->cfg->suite, e->size, s);
	uint64_t chunks = chunk_file_chunks(e->size);
	unsigned char plain[CHUNK_PLAIN_BYTES];
	struct chunk_ad ad = {.index = 0};
	char name[OBJECT_KEY_TEXT_BYTES];
	unsigned char *data = NULL;
	size_t len = 0;
	int r;

	object_key_text(name, e->segments[s].store_key);
	r = backend_get_max(v->store, name, expected, &data, &len);
	if (r == -EFBIG || (r == 0 && len != expected))
		r = -EBADMSG;
	memcpy(ad.vault_id, v->cfg->vault_id, OBJECT_ID_BYTES);
	memcpy(ad.file_id, e->id, OBJECT_ID_BYTES);
	memcpy(ad.segment_key, e->segments[s].store_key, OBJECT_ID_BYTES);
	for (uint64_t j = 0; r == 0 && j * chunk_len < len; j++) {
		uint64_t at;
		ad.index = (uint64_t)s * SEGMENT_CHUNKS + j;
		ad.last = ad.index + 1 == chunks;
		at = ad.index * CHUNK_PLAIN_BYTES;
		if (chunk_open(plain, data + j * chunk_len, &ad, key) != 0)
			r = -EBADMSG;
		else
			r = out(arg, at, plain,
				e->size - at < CHUNK_PLAIN_BYTES ? (size_t)(e->size - at)
								 : CHUNK_PLAIN_BYTES);
	}
	sodium_memzero(plain, sizeof(plain));
	free(data);
	return r;
}

int history_view_read_file(struct history_view *v, const struct dirobj_entry *e,
			   history_view_out_fn out, void *arg)
{
	int r = 0;

	if (e->type != DIROBJ_FILE)
		return -EINVAL;
	if (!v->pool && !(v->pool = chunk_key_pool_new(NULL, NULL)))
		return -ENOMEM;
	for (size_t s = 0; r == 0 && s < e->nsegments; s++) {
		struct chunk_key *key;
		if (!e->segments[s].present)
			continue;
		/* docs/FORMAT.md, "Keys": created != 0 is sealed under its own key */
		key = e->segments[s].created
			  ? chunk_key_new_segment(v->pool, v->cfg->suite, v->keys->content, e->id,
						  e->segments[s].store_key)
			  : chunk_key_new(v->pool, v->cfg->suite, v->keys->content, e->id);
		if (!key)
			return -ENOMEM;
		r = history_view_segment(v, e, s, key, out, arg);
		chunk_key_free(key);
	}
	return r;
}
