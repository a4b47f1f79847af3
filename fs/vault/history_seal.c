/* history_seal.c - sealing and opening the history's objects of a format-2
 * vault: head records (kind 4), history pages (kind 5) and garbage lists
 * (kind 7), docs/FORMAT.md "Metadata objects". Each binds its kind, the
 * vault id, its version and store key in the associated data (object id:
 * zeros), so one cannot stand in for another. Must never return a decoded
 * object that failed to authenticate, nor leave plaintext JSON unwiped. */
#include "history.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fault.h"
#include "meta.h"

static void history_ad(struct meta_ad *ad, enum meta_kind kind, const struct dirobj_ref *ref,
		       const struct history_io *io)
{
	meta_ad_set(ad, kind, io->vault_id, NULL, ref->version, ref->store_key);
}

static int history_seal_json(unsigned char **out, size_t *out_len, const char *json, size_t len,
			     enum meta_kind kind, const struct dirobj_ref *ref,
			     const struct history_io *io)
{
	struct meta_ad ad;

	*out = NULL;
	history_ad(&ad, kind, ref, io);
	if (fault_fire(FAULT_CRYPTO))
		return -EIO;
	return meta_seal(out, out_len, json, len, &ad, io->meta_key);
}

/* Seals an owned JSON text and wipes it. */
static int history_seal_owned(unsigned char **out, size_t *out_len, char *json, size_t len,
			      enum meta_kind kind, const struct dirobj_ref *ref,
			      const struct history_io *io)
{
	int r = history_seal_json(out, out_len, json, len, kind, ref, io);

	sodium_memzero(json, len);
	free(json);
	return r;
}

int history_seal_record(unsigned char **out, size_t *out_len, const char *json, size_t len,
			const struct dirobj_ref *ref, const struct history_io *io)
{
	return history_seal_json(out, out_len, json, len, META_KIND_HEAD_RECORD, ref, io);
}

int history_seal_page(unsigned char **out, size_t *out_len, const struct histobj_page *p,
		      const struct dirobj_ref *ref, const struct history_io *io)
{
	size_t len;
	char *json;
	int r = histobj_page_encode(&json, &len, p);

	*out = NULL;
	return r ? r : history_seal_owned(out, out_len, json, len, META_KIND_HISTORY, ref, io);
}

int history_seal_garbage(unsigned char **out, size_t *out_len, const struct histobj_garbage *g,
			 const struct dirobj_ref *ref, const struct history_io *io)
{
	size_t len;
	char *json;
	int r = histobj_garbage_encode(&json, &len, g);

	*out = NULL;
	return r ? r : history_seal_owned(out, out_len, json, len, META_KIND_GARBAGE, ref, io);
}

int history_seal_garbage_with(unsigned char **out, size_t *out_len, const struct histobj_garbage *g,
			      const struct dirobj_ref *ref, const struct history_io *io,
			      const struct histobj_garbage_text *prev,
			      struct histobj_garbage_text *text, size_t *text_len)
{
	size_t len, *offs;
	char *json;
	int r = histobj_garbage_encode_with(&json, &len, &offs, g, prev);

	*out = NULL;
	if (r)
		return r;
	r = history_seal_json(out, out_len, json, len, META_KIND_GARBAGE, ref, io);
	if (r) {
		sodium_memzero(json, len);
		free(json);
		free(offs);
		return r;
	}
	*text =
	    (struct histobj_garbage_text){.items = g->items, .n = g->n, .json = json, .offs = offs};
	*text_len = len;
	return 0;
}

/* Reads and opens one object into new plaintext (meta_free_plain). */
static int history_open_obj(char **plain, size_t *plain_len, enum meta_kind kind,
			    const struct dirobj_ref *ref, uint64_t max, const struct history_io *io)
{
	struct meta_ad ad;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	int r = io->read(io->arg, ref->store_key, max, &sealed, &sealed_len);

	*plain = NULL;
	if (r)
		return r;
	history_ad(&ad, kind, ref, io);
	r = meta_open(plain, plain_len, sealed, sealed_len, &ad, io->meta_key);
	free(sealed);
	return r;
}

int history_read_record(struct dirobj_head *h, const struct dirobj_ref *ref, uint64_t max,
			const struct history_io *io)
{
	size_t len;
	char *plain;
	int r = history_open_obj(&plain, &len, META_KIND_HEAD_RECORD, ref,
				 max ? max : META_MAX_SEALED_BYTES, io);

	memset(h, 0, sizeof(*h));
	if (r)
		return r;
	r = dirobj_head_decode(h, plain, len, 2);
	meta_free_plain(plain, len);
	return r == -EINVAL ? -EBADMSG : r;
}

int history_read_page(struct histobj_page *p, const struct dirobj_ref *ref,
		      const struct history_io *io)
{
	size_t len;
	char *plain;
	int r = history_open_obj(&plain, &len, META_KIND_HISTORY, ref, META_MAX_SEALED_BYTES, io);

	memset(p, 0, sizeof(*p));
	if (r)
		return r;
	r = histobj_page_decode(p, plain, len);
	meta_free_plain(plain, len);
	return r;
}

int history_read_garbage(struct histobj_garbage *g, const struct dirobj_ref *ref,
			 const struct history_io *io)
{
	size_t len;
	char *plain;
	int r = history_open_obj(&plain, &len, META_KIND_GARBAGE, ref, META_MAX_SEALED_BYTES, io);

	memset(g, 0, sizeof(*g));
	if (r)
		return r;
	r = histobj_garbage_decode(g, plain, len);
	meta_free_plain(plain, len);
	return r;
}
