/* engine_pin.h - internal to the engine (fs/vault/engine*.c): the checks
 * of the store's head at open against --expect, --not-before and this
 * cache's pin (CACHE/state), and writing the pin once the journal agreed
 * (docs/SECURITY.md, "Rollback and the pin"). Errors as engine.h. */
#ifndef SEALFS_ENGINE_PIN_H
#define SEALFS_ENGINE_PIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dirobj.h"
#include "engine.h"
#include "head.h"

struct engine_pin {
	struct head_state st; /* what the pin holds and will hold: device id and name */
	uint64_t seen;	      /* the seq the journal's checks take as this cache's last in
				 the store (0: none known) */
	bool rewrite;	      /* write it even if the store's seq equals the pinned one */
};

/* Checks head (the store's, opened; hash: of its sealed bytes) against
 * o->expect, o->not_before and the pin in o->cache_dir (MAC under
 * keys->pin; a newer head must descend from the pinned one, its history
 * read through cache), and fills *p. 0, or an errno with the reason in err. */
struct cache;
int engine_pin_check(struct engine_pin *p, const struct dirobj_head *head,
		     const uint8_t hash[HEAD_HASH_BYTES], struct cache *cache,
		     const struct vault_config *cfg, const struct vault_keys *keys,
		     const struct engine_opts *o, char *err, size_t size);
/* Pins the store's head (seq, hash; sealed[0..len) its bytes, kept in
 * CACHE/pin-head first) when it moved or p->rewrite (write
 * unless skip_write: a failure is logged, not fatal, as the uploader writes
 * it again), then makes e->pin. 0 or -ENOMEM with err. */
int engine_pin_save(struct engine *e, struct engine_pin *p, uint64_t seq,
		    const uint8_t hash[HEAD_HASH_BYTES], const unsigned char *sealed, size_t len,
		    bool skip_write, const struct vault_config *cfg, const struct vault_keys *keys,
		    const struct engine_opts *o, char *err, size_t size);
/* The heads this mount writes name this device: tmpl's device id and name
 * from the pin (format 2). */
void engine_pin_device(struct dirobj_head *tmpl, const struct head_pin *pin);
/* The store's head as `sealfs mount` reports it. */
void engine_pin_info(struct engine_head_info *info, const struct dirobj_head *head,
		     const uint8_t hash[HEAD_HASH_BYTES], int format);

#endif
