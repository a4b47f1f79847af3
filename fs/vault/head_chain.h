/* head_chain.h - the chain of stored heads of a format-2 vault
 * (docs/FORMAT.md, "Head": a head the store takes names the stored head it
 * replaced as its `parent`; docs/SECURITY.md, "Forks"): the uploader's hook
 * that seals a record's head again with that parent, and the check that the
 * head a cache saw last (its pin) is an ancestor of the store's head, read
 * through the history the vault retains. Never logs a name; never says
 * "fork" without proof (what cannot be followed is HEAD_CHAIN_UNKNOWN). */
#ifndef SEALFS_HEAD_CHAIN_H
#define SEALFS_HEAD_CHAIN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dirobj.h"
#include "head.h"
#include "history.h"

/* The reseal hook's context: the meta key is borrowed and used only while
 * `off` is not set (head_chain_off, before the keys are wiped). */
struct backend;
struct head_chain {
	pthread_mutex_t lock; /* off, and every use of meta_key */
	bool off;
	uint8_t vault_id[OBJECT_ID_BYTES];
	const unsigned char *meta_key;
	int format;
	struct backend *store; /* borrowed: the history's reads */
};

/* A new context for a format-2 vault (vault_id copied, meta_key and store
 * borrowed). NULL: out of memory. */
struct head_chain *head_chain_new(const uint8_t vault_id[OBJECT_ID_BYTES],
				  const unsigned char *meta_key, int format, struct backend *store);
/* The keys go: from now on heads are put as their records hold them. */
void head_chain_off(struct head_chain *c);
void head_chain_free(struct head_chain *c);
/* upload_reseal_fn over a struct head_chain (thread-safe). After
 * head_chain_off: 0 with *out NULL. */
int head_chain_reseal(void *ctx, const unsigned char *head, size_t len,
		      const uint8_t parent[HEAD_HASH_BYTES], unsigned char **out, size_t *out_len);

/* upload_descends_fn over a struct head_chain (thread-safe): the store's
 * head against the one the uploader stored or showed last, its bytes from
 * CACHE/pin-head when kept. After head_chain_off: -1. */
int head_chain_descends(void *ctx, const unsigned char *remote, size_t len, uint64_t seq,
			const uint8_t hash[HEAD_HASH_BYTES], const char *cache_dir);

/* Whether sealed heads a and b are one commit: the same bytes, or (format
 * 2, both opening under c's key, which is used without c's lock: c need not
 * be a shared context) the same seq, time, device and root object, as a
 * record's head and the same head sealed again for the store. */
bool head_chain_same(const struct head_chain *c, const unsigned char *a, size_t alen,
		     const unsigned char *b, size_t blen);

enum head_chain_verdict {
	HEAD_CHAIN_DESCENDS, /* the pinned head is an ancestor of the store's */
	HEAD_CHAIN_FORK,     /* it is not: the store forked, or was rolled back and rewritten */
	HEAD_CHAIN_UNKNOWN,  /* the heads between are not retained (or not readable) */
};

/* Whether the pinned head (pin_seq, pin_hash; pinned: its plaintext when
 * this cache kept its bytes, else NULL) is an ancestor of head (format 2,
 * head->seq > pin_seq), reading head's history pages and at most one head
 * record through io. Sound because a head's history lists only heads of
 * its own chain, and seqs grow strictly along a chain: the chain's head
 * at pin_seq, if any, must be the pinned one. With pinned, its own seq
 * is the pinned seq (a caller's pin_seq may be older) and a head not above
 * it is a fork; without, nothing is called a fork. Store errors give
 * HEAD_CHAIN_UNKNOWN (*why: the errno, else 0). Pure but for io. */
enum head_chain_verdict head_chain_check(const struct dirobj_head *head, uint64_t pin_seq,
					 const uint8_t pin_hash[HEAD_HASH_BYTES],
					 const struct dirobj_head *pinned,
					 const struct history_io *io, int *why);

#endif
