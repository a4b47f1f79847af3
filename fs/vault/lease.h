/* lease.h - the lease of a store that ignores conditional writes
 * (docs/FORMAT.md "Lease", docs/INTERNALS.md "Commit"): on such a store the
 * head's compare-and-swap is a read then a write, so two devices writing at
 * once could overwrite each other's head. A read-write mount there takes the
 * sealed object `lease` (crypto/leaseobj.h) naming its device, rewrites it
 * every LEASE_RENEW_S seconds, valid LEASE_VALID_S seconds, checks it before
 * every head it puts, and deletes it at unmount. A device finding another
 * device's live lease mounts read-only (unless --force); a device whose
 * lease another device took stops writing to the store for good
 * (upload_halt) and says so once in the log. Stores that honour conditional
 * writes never get a lease (no request at all).
 *
 * Logs device ids and times, never a device name (the user's label goes to
 * the terminal only). Every function is thread-safe. */
#ifndef SEALFS_LEASE_H
#define SEALFS_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "dirobj.h"

#define LEASE_STORE_KEY "lease"
#define LEASE_RENEW_S 30 /* the holder rewrites it this often */
#define LEASE_VALID_S 90 /* "until" - "t": three renewals may fail before it lapses */
#define LEASE_RETRY_S 5	 /* a failed renewal is tried again this soon */

enum lease_state {
	LEASE_NOT_NEEDED, /* no lease object: conditional writes honoured, a local
			     store or format 1 */
	LEASE_WANTED,	  /* not asked (-o ro) or the mount's probe failed: taken when
			     the uploader's own probe finds the store ignores
			     conditional writes, before it puts a head */
	LEASE_HELD,	  /* this device holds it */
	LEASE_OTHER,	  /* another device held a live one: this mount writes nothing */
	LEASE_LOST,	  /* another device took it: this mount writes nothing more */
};

/* What a lease found in the store says. */
struct lease_holder {
	bool readable; /* false: the object did not open (damaged, or not this vault's) */
	uint8_t device[OBJECT_ID_BYTES];
	char name[DIROBJ_DEVICE_NAME_MAX + 1];
	int64_t until; /* Unix seconds, by the holder's clock */
};

struct lease;
struct upload;

/* A lease of this device (device id and name, copied) on store (borrowed)
 * for vault_id, sealed under key (vault_keys.lease, copied into locked
 * memory), starting in state (LEASE_WANTED or LEASE_HELD-to-be: pass
 * LEASE_WANTED and call lease_take). 0, -ENOMEM. */
int lease_new(struct lease **out, struct backend *store, const uint8_t vault_id[OBJECT_ID_BYTES],
	      const unsigned char *key, const uint8_t device[OBJECT_ID_BYTES],
	      const char *device_name);
/* Takes the lease at mount: writes this device's unless another device's
 * live one is there (or one that does not open), then reads it back. 0:
 * held. -EBUSY: another device holds it (*holder says what the store
 * holds), state LEASE_OTHER; with force another device's is replaced (and
 * -EBUSY only if a third write came between this one and its read-back).
 * Else the store's errno (state unchanged). */
int lease_take(struct lease *l, bool force, struct lease_holder *holder);
/* The uploader's hook (upload_base.lease; ctx is the lease), called before
 * every head put on a store that ignores conditional writes: 0 when this
 * device holds the lease (taken now if WANTED and free; rewritten when a
 * renewal is due); -ENOLCK when another device holds it (the uploader was
 * halted, logged once); else the store's errno. */
int lease_check(void *ctx);
/* Tells l the uploader to halt should the lease be lost (borrowed, must
 * outlive lease_stop), and starts the renewal thread when the lease is
 * HELD or WANTED. 0 or pthread_create's -errno. */
int lease_start(struct lease *l, struct upload *up);
/* Stops the renewal thread (before the uploader goes). NULL is fine. */
void lease_stop(struct lease *l);
/* Deletes the lease from the store if it is still this device's (after the
 * last upload; a failure is logged: the lease then lapses by itself). NULL
 * is fine. */
void lease_release(struct lease *l);
/* The state, and the lease's "until" (Unix seconds; 0 when none): this
 * device's when HELD, the other device's when OTHER or LOST. NULL: not needed. */
enum lease_state lease_state(struct lease *l, int64_t *until);
/* Wipes the key and frees (lease_stop first). NULL is fine. */
void lease_free(struct lease *l);

#endif
