/* leaseobj.h - the lease (docs/FORMAT.md, "Lease"): the one sealed object a
 * device keeps in a store that ignores conditional writes while it writes
 * there, so that a second device knows to stay read-only. Its plaintext is
 * {"dev":"<32 hex>","dn":"NAME","t":[s,ns],"until":[s,ns]}, sealed as a
 * metadata object of kind 8 (META_KIND_LEASE) under the lease key
 * (vault_keys.lease), AD object id, version and store key all zeros. Pure:
 * no I/O, no globals. A parser of stored bytes: it must reject, never crash
 * on, any input, and the encoder never writes what the decoder refuses.
 * Thread-safe. */
#ifndef SEALFS_LEASEOBJ_H
#define SEALFS_LEASEOBJ_H

#include <stddef.h>
#include <stdint.h>

#include "dirobj.h"

/* "until" is after "t" by at most this many seconds: a lease is renewed
 * every 30 s and lives 90 s (fs/vault/lease.h); an hour leaves room for a
 * later sealfs to choose longer without letting a lease last for good. */
#define LEASEOBJ_SPAN_MAX_S 3600
/* The largest sealed lease a reader fetches: its JSON is under 300 bytes,
 * one padding block. */
#define LEASEOBJ_SEALED_MAX 4096

struct leaseobj {
	uint8_t device[OBJECT_ID_BYTES];	      /* "dev": the holder's device id */
	char device_name[DIROBJ_DEVICE_NAME_MAX + 1]; /* "dn": its name, NUL-terminated */
	struct dirobj_time time;		      /* "t": when it was written */
	struct dirobj_time until;		      /* "until": valid until (writer's clock) */
};

/* Compact JSON, sorted keys; *out is new (free), NUL-ended. 0, -EINVAL (a
 * lease the decoder would refuse), -ENOMEM. */
int leaseobj_encode(char **out, size_t *out_len, const struct leaseobj *l);
/* Parses json (len bytes, no NUL needed): exactly the four members; "dev"
 * 32 lowercase hex digits; "dn" a device name (dirobj_check_device_name);
 * "t" and "until" [s, ns] with 0 <= s, 0 <= ns <= 999999999, until after t
 * by at most LEASEOBJ_SPAN_MAX_S. 0, -EBADMSG (anything else), -ENOMEM. On
 * failure *l is zeroed. */
int leaseobj_decode(struct leaseobj *l, const char *json, size_t len);
/* Seals l for vault_id under key (32 bytes: vault_keys.lease) into a new
 * malloc'ed *out. 0, -EINVAL, -ENOMEM. */
int leaseobj_seal(unsigned char **out, size_t *out_len, const struct leaseobj *l,
		  const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *key);
/* Opens and decodes a sealed lease. 0, -EBADMSG (fails to authenticate
 * under this vault and key, or malformed), -ENOMEM. */
int leaseobj_open(struct leaseobj *l, const unsigned char *sealed, size_t len,
		  const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *key);

#endif
