/* histobj.h - the plaintext schema of the history's objects (format 2 only;
 * docs/FORMAT.md, "History pages", "Garbage lists"): history pages (kind 5),
 * the newest-first list of retained head records, and garbage lists (kind 7),
 * the objects a commit stopped referencing with the interval of heads that
 * reach them. Head records (kind 4) are the head's own JSON
 * (dirobj_head_encode, format 2). Pure: no I/O, no globals. These are parsers
 * of stored bytes: they must reject, never crash on, any input. Thread-safe. */
#ifndef SEALFS_HISTOBJ_H
#define SEALFS_HISTOBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dirobj.h"

#define HISTOBJ_PAGE_MAX 512	 /* entries of one history page */
#define HISTOBJ_GARBAGE_MAX 4096 /* triples of one garbage list object */

/* One retained head: "r" the head record, "s" its seq, "t" its commit time,
 * "dev" the device that wrote it, "sz" the sealed bytes of the record (what
 * a reader may fetch for it). */
struct histobj_entry {
	struct dirobj_ref rec; /* {"c","k","v"}: c = the seq that archived it */
	uint64_t seq;
	struct dirobj_time time;
	uint8_t device[OBJECT_ID_BYTES];
	uint64_t size;
};

/* {"h":[ENTRY, ...],"next":REF}: 1..HISTOBJ_PAGE_MAX entries, seqs strictly
 * decreasing (newest first; so no two entries share a seq), no two entries
 * share a record key; "next" (the older page) absent on the oldest. */
struct histobj_page {
	struct histobj_entry *entries; /* malloc'ed, n long */
	size_t n;
	bool has_next;
	struct dirobj_ref next;
};

/* One garbage triple: the object's store key, the seq c of the commit that
 * created it and the seq d of the commit that stopped referencing it: the
 * heads that reach it are [c, d). c == d marks an object of the history
 * itself (a replaced history page, a dropped head record or garbage list),
 * which no head's tree reaches: deleted once the grace has passed. */
struct histobj_garbage_item {
	uint8_t key[OBJECT_ID_BYTES];
	uint64_t created, dropped; /* c <= d */
};

/* {"g":[["<key hex>",c,d], ...],"next":REF}: 0..HISTOBJ_GARBAGE_MAX triples,
 * no key twice; "next" chains the rest of one commit's list. */
struct histobj_garbage {
	struct histobj_garbage_item *items; /* malloc'ed, n long */
	size_t n;
	bool has_next;
	struct dirobj_ref next;
};

/* Serialise to compact JSON with sorted keys; *out is new (free), NUL-ended.
 * The decoder's rules are applied first: 0, -EINVAL (a page or list the
 * decoder would refuse), -ENOMEM. */
int histobj_page_encode(char **out, size_t *out_len, const struct histobj_page *p);
int histobj_garbage_encode(char **out, size_t *out_len, const struct histobj_garbage *g);
/* A list's encoding kept for the next one (histobj_garbage_encode_with):
 * its triples (sorted by key), its JSON text, and where each triple's text
 * starts (offs[i], at its '['; offs[n]: one past the last one's ']'). */
struct histobj_garbage_text {
	const struct histobj_garbage_item *items;
	size_t n;
	const char *json;
	const size_t *offs;
};
/* histobj_garbage_encode, byte for byte, copying the text of every triple
 * that prev (NULL: none) holds unchanged (same key, c and d) instead of
 * writing it again: a commit's list is the superseded one's plus a few.
 * g's items must be sorted by key for the copy to find them (else nothing
 * is copied). *offs (when offs is not NULL) gets a new array of g->n + 1
 * offsets, as in struct histobj_garbage_text. */
int histobj_garbage_encode_with(char **out, size_t *out_len, size_t **offs,
				const struct histobj_garbage *g,
				const struct histobj_garbage_text *prev);
/* Parse; on success *p / *g holds new allocations (release below). 0,
 * -EBADMSG for anything malformed (bad JSON, a missing, unknown or wrongly
 * typed member, an integer out of range, the order or uniqueness rules
 * above), -ENOMEM. On failure the struct is zeroed. */
int histobj_page_decode(struct histobj_page *p, const char *json, size_t len);
int histobj_garbage_decode(struct histobj_garbage *g, const char *json, size_t len);
/* Free what decode (or a caller building one) allocated; zero the struct. */
void histobj_page_release(struct histobj_page *p);
void histobj_garbage_release(struct histobj_garbage *g);

#endif
