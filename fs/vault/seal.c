/* seal.c - directory objects and the head to sealed bytes and back
 * (docs/FORMAT.md, "Metadata objects"). Must never return a decoded object
 * that failed to authenticate, nor leave plaintext JSON unwiped. */
#include "seal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fault.h"
#include "head.h"
#include "meta.h"

/* Seals the JSON text json (json_len bytes, owned: wiped and freed) under
 * ad; the step seal_dir and seal_head share. */
static int seal_json(unsigned char **out, size_t *out_len, char *json, size_t json_len,
		     const struct meta_ad *ad, const unsigned char *meta_key)
{
	int r =
	    fault_fire(FAULT_CRYPTO) ? -EIO : meta_seal(out, out_len, json, json_len, ad, meta_key);

	sodium_memzero(json, json_len);
	free(json);
	return r;
}

int seal_dir(unsigned char **out, size_t *out_len, const struct dirobj *dir, uint64_t version,
	     const uint8_t key[OBJECT_ID_BYTES], const uint8_t vault_id[OBJECT_ID_BYTES],
	     const unsigned char *meta_key, int format)
{
	struct meta_ad ad = {.kind = META_KIND_DIR, .version = version};
	size_t json_len;
	char *json;
	int r;

	*out = NULL;
	memcpy(ad.vault_id, vault_id, OBJECT_ID_BYTES);
	memcpy(ad.object_id, dir->dir_id, OBJECT_ID_BYTES);
	memcpy(ad.store_key, key, OBJECT_ID_BYTES);
	r = dirobj_encode(&json, &json_len, dir, format);
	return r ? r : seal_json(out, out_len, json, json_len, &ad, meta_key);
}

int seal_open_dir(struct dirobj *obj, const unsigned char *sealed, size_t sealed_len,
		  const uint8_t id[OBJECT_ID_BYTES], const struct dirobj_ref *ref,
		  const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *meta_key,
		  int format)
{
	struct meta_ad ad = {.kind = META_KIND_DIR, .version = ref->version};
	size_t plain_len;
	char *plain = NULL;
	int r;

	memset(obj, 0, sizeof(*obj));
	memcpy(ad.vault_id, vault_id, OBJECT_ID_BYTES);
	memcpy(ad.object_id, id, OBJECT_ID_BYTES);
	memcpy(ad.store_key, ref->store_key, OBJECT_ID_BYTES);
	r = meta_open(&plain, &plain_len, sealed, sealed_len, &ad, meta_key);
	if (r)
		return r;
	r = dirobj_decode(obj, plain, plain_len, format);
	meta_free_plain(plain, plain_len);
	if (r == 0 && sodium_memcmp(obj->dir_id, id, OBJECT_ID_BYTES) != 0) {
		dirobj_release(obj);
		r = -EBADMSG;
	}
	return r;
}

int seal_head(unsigned char **out, size_t *out_len, const struct dirobj_head *head,
	      const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *meta_key, int format)
{
	struct meta_ad ad = {.kind = META_KIND_HEAD, .version = 0};
	size_t json_len;
	char *json;
	int r;

	*out = NULL;
	memcpy(ad.vault_id, vault_id, OBJECT_ID_BYTES);
	r = dirobj_head_encode(&json, &json_len, head, format);
	return r ? r : seal_json(out, out_len, json, json_len, &ad, meta_key);
}

int seal_open_head(struct dirobj_head *head, const unsigned char *sealed, size_t sealed_len,
		   const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *meta_key,
		   int format)
{
	struct meta_ad ad = {.kind = META_KIND_HEAD, .version = 0};
	size_t plain_len;
	char *plain;
	int r;

	memset(head, 0, sizeof(*head));
	memcpy(ad.vault_id, vault_id, OBJECT_ID_BYTES);
	r = meta_open(&plain, &plain_len, sealed, sealed_len, &ad, meta_key);
	if (r)
		return r;
	r = dirobj_head_decode(head, plain, plain_len, format);
	meta_free_plain(plain, plain_len);
	if (r == 0 && head->root.type != DIROBJ_DIR) {
		dirobj_head_release(head);
		r = -EBADMSG;
	}
	return r == -EINVAL ? -EBADMSG : r;
}

int seal_read_head(struct dirobj_head *head, struct backend *store,
		   const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *meta_key,
		   int format)
{
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	int r;

	memset(head, 0, sizeof(*head));
	/* Bounded (backend.h): a store cannot make the mount read more than
	 * the largest head meta_open would accept. */
	r = backend_get_max(store, HEAD_STORE_KEY, META_MAX_SEALED_BYTES, &sealed, &sealed_len);
	if (r)
		return r;
	r = seal_open_head(head, sealed, sealed_len, vault_id, meta_key, format);
	free(sealed);
	return r;
}

void seal_head_carry(struct dirobj_head *head, const struct dirobj_head *tmpl)
{
	memcpy(head->device, tmpl->device, sizeof(head->device));
	memcpy(head->device_name, tmpl->device_name, sizeof(head->device_name));
	memcpy(head->parent, tmpl->parent, sizeof(head->parent));
	head->keep = tmpl->keep;
	head->grace = tmpl->grace;
	/* forward unchanged until their owners write new ones (#13, #14) */
	head->has_history = tmpl->has_history;
	head->history = tmpl->history;
	head->has_garbage = tmpl->has_garbage;
	head->garbage = tmpl->garbage;
	head->has_inodes = tmpl->has_inodes;
	head->inodes = tmpl->inodes;
}

void seal_head_hash(uint8_t out[32], const unsigned char *sealed, size_t sealed_len)
{
	crypto_generichash(out, 32, sealed, sealed_len, NULL, 0);
}
