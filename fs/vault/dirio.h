/* dirio.h - a directory's sealed objects, one object or paged (format 3,
 * docs/FORMAT.md "Paged directories"): opening them into one entry list
 * (the pages fetched through the caller), and sealing an entry list into one
 * object, or into an index and the pages that changed. The one place that
 * knows pages, so the rest of the engine sees entry lists. No locks, no
 * cache of its own (dirio_read_store reads a store), never logs.
 * Thread-safe (no globals). */
#ifndef SEALFS_DIRIO_H
#define SEALFS_DIRIO_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "dirobj.h"
#include "dirpage.h"

/* What a paged directory's object holds: the REF of each page and a digest
 * of its entries (in memory only), so that the next commit keeps the pages that did not
 * change and every walker knows every object the directory references. */
struct dirio_pages {
	struct dirobj_ref ref; /* the index's own (version, store key) */
	size_t nslots;
	struct dirpage_slot *slots; /* nslots long */
	uint8_t (*digest)[32];	    /* nslots long: dirpage_digest of a present page */
};
/* NULL is fine. */
void dirio_pages_free(struct dirio_pages *p);

/* Who reads and seals: the vault's id, metadata key and format. */
struct dirio_keys {
	const uint8_t *vault_id;
	const unsigned char *meta_key;
	int format;
};

/* Reads the sealed bytes of the object under store key: *sealed new (free).
 * 0 or a negative errno (-ENOENT: missing); called once per page. */
typedef int (*dirio_fetch_fn)(void *arg, const uint8_t key[OBJECT_ID_BYTES], unsigned char **sealed,
			      size_t *len);

/* Opens the sealed kind-1 object ref of directory id into *obj (new:
 * dirobj_release): a directory object, or in format 3 an index whose pages
 * it reads with fetch and joins (obj->pages then lists the pages' REFs).
 * With pages non-NULL, *pages is the paged
 * state (new: dirio_pages_free) or NULL for one object. 0; -EBADMSG an
 * object fails to authenticate or to decode, a page is missing from the
 * join or misplaced (never a shorter listing); fetch's errors; -ENOMEM.
 * On failure *obj is zeroed and *pages NULL. */
int dirio_open(struct dirobj *obj, struct dirio_pages **pages, const struct dirio_keys *k,
	       const unsigned char *sealed, size_t len, const uint8_t id[OBJECT_ID_BYTES],
	       const struct dirobj_ref *ref, dirio_fetch_fn fetch, void *arg);

/* dirio_open of ref's object read from store (its pages too), each object
 * bounded by META_MAX_SEALED_BYTES. The same results; -ENOENT an object is
 * missing. */
int dirio_read_store(struct dirobj *obj, struct dirio_pages **pages, const struct dirio_keys *k,
		     struct backend *store, const uint8_t id[OBJECT_ID_BYTES],
		     const struct dirobj_ref *ref);

/* Where a seal's pages go: object takes a new page (data is the callee's
 * from the call on, also when it fails); garbage is told each page of the
 * old object that the new one no longer references. Both 0 or an errno. */
struct dirio_sink {
	void *arg;
	int (*object)(void *arg, const uint8_t key[OBJECT_ID_BYTES], unsigned char *data,
		      size_t len);
	int (*garbage)(void *arg, const uint8_t key[OBJECT_ID_BYTES], uint64_t created);
};

/* Seals dir as the object stored under key at version: *out (new) is the
 * kind-1 object: one directory object, or in format 3 above the writer's
 * rule (dirpage_nslots) an index, whose changed pages go to sink->object
 * sealed with c = v = created, under new random keys. old: the paged state
 * of the object being replaced (NULL: one object, or not known); its pages
 * whose plaintext is unchanged are kept, the others go to sink->garbage
 * (only once everything is sealed). The old kind-1 object is the caller's
 * garbage. *pages_out: the new paged state, or NULL for one object. Holds
 * at most one page's JSON tree at a time. 0, -EINVAL (dir does not encode),
 * -ENOMEM, the sink's errors. */
int dirio_seal(unsigned char **out, size_t *out_len, struct dirio_pages **pages_out,
	       const struct dirobj *dir, const struct dirio_pages *old, uint64_t version,
	       const uint8_t key[OBJECT_ID_BYTES], uint64_t created, const struct dirio_keys *k,
	       const struct dirio_sink *sink);

#endif
