/* dirpage.h - the plaintext schema of paged directories (format 3,
 * docs/FORMAT.md "Paged directories"): a large directory's kind-1 object is
 * an index of page REFs, and each page (kind 3) is a directory object of the
 * entries whose id falls in its slot. Pure: no I/O, no globals. These are
 * parsers of stored bytes: they must reject, never crash on, any input, and
 * never let a missing, damaged or misplaced page pass as a shorter listing.
 * Thread-safe. */
#ifndef SEALFS_DIRPAGE_H
#define SEALFS_DIRPAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dirobj.h"

#define DIRPAGE_SLOTS_MIN 2u
#define DIRPAGE_SLOTS_MAX 4096u /* pages of one directory (a power of two) */
/* The writer's rule (dirpage_nslots; a reader accepts any slot count): a
 * directory of one object is paged above DIRPAGE_SPLIT entries, a paged one
 * goes back to one object below DIRPAGE_JOIN; the slot count aims at
 * DIRPAGE_AIM entries a page and changes when a page would average more
 * than DIRPAGE_AIM * 2 or fewer than DIRPAGE_AIM / 4. */
#define DIRPAGE_SPLIT 2048u
#define DIRPAGE_JOIN 1024u
#define DIRPAGE_AIM 512u

/* The index: {"id":"<dir id hex>","n":N,"p":[REF or null, ...]}. Slot i is
 * the REF of the page holding the entries of slot i, or null when no entry
 * falls there; at least one REF, no store key twice; n the directory's
 * number of entries (the sum of its pages'). */
struct dirpage_slot {
	bool present;
	struct dirobj_ref ref;
};
struct dirpage_index {
	uint8_t dir_id[OBJECT_ID_BYTES];
	uint64_t nentries;	    /* "n", 1 .. 2^63 - 1 */
	struct dirpage_slot *slots; /* malloc'ed, nslots long */
	size_t nslots;		    /* DIRPAGE_SLOTS_MIN .. DIRPAGE_SLOTS_MAX, a power of two */
};

/* The slot of an entry with id among nslots (a power of two): the id's first
 * two bytes as a little-endian u16, mod nslots. Pure. */
size_t dirpage_slot_of(const uint8_t id[OBJECT_ID_BYTES], size_t nslots);

/* The writer's slot count for a directory of nentries whose object now has
 * cur slots (0: one object): 0 for one object. Pure. */
size_t dirpage_nslots(size_t nentries, size_t cur);

/* Whether json may be an index: false when it is certainly a plain directory
 * object (it opens with the "e" member, as every sealfs encoder writes one),
 * so that one never goes through two parsers. Pure. */
bool dirpage_maybe_index(const char *json, size_t len);

/* Compact JSON with sorted keys; *out new (free), NUL-ended. 0, -EINVAL (a
 * rule above broken), -ENOMEM. */
int dirpage_index_encode(char **out, size_t *out_len, const struct dirpage_index *ix);
/* 0 (*ix new: dirpage_index_release); -ENOMSG the text is an object with an
 * "e" member (a plain directory object: decode it with dirobj_decode);
 * -EBADMSG anything else that is not an index; -ENOMEM (*ix zeroed). */
int dirpage_index_decode(struct dirpage_index *ix, const char *json, size_t len);
void dirpage_index_release(struct dirpage_index *ix);

/* Groups the entries of dir by slot (one counting pass): order (new,
 * nentries long) lists entry indexes slot by slot, in dir's order within a
 * slot; first (new, nslots + 1 long) where each slot's run starts. 0,
 * -ENOMEM. */
int dirpage_split(const struct dirobj *dir, size_t nslots, size_t **order, size_t **first);

/* Sorts page's entries by name (bytes): the order a writer encodes a page
 * in, so that the same entries make the same bytes. */
void dirpage_sort(struct dirobj *page);

/* A digest of page whatever the order of its entries: the XOR of each
 * entry's BLAKE2b-256 over every member of the entry
 * (dirpage_entry_digest), folded with the count, the page's id and the
 * format (dirpage_digest_fold). Equal digests mean the same entries, so a
 * writer compares a page with the one it replaces without sorting or
 * encoding it. A keyless hash of names and attributes: it must stay in
 * memory, never be stored or logged. Pure. */
void dirpage_digest(uint8_t out[32], const struct dirobj *page, int format);
void dirpage_entry_digest(uint8_t out[32], const struct dirobj_entry *e);
void dirpage_digest_fold(uint8_t out[32], const uint8_t acc[32], size_t n,
			 const uint8_t dir_id[OBJECT_ID_BYTES], int format);

/* Page slot of nslots of directory dir_id: a directory object (dirobj.h, the
 * vault format) with that id, at least one entry, every entry in that slot.
 * The encoder keeps the caller's entry order (dirpage_split sorts). encode:
 * 0, -EINVAL, -ENOMEM; decode: 0 (*page new: dirobj_release), -EBADMSG,
 * -EINVAL (bad format or slot), -ENOMEM (*page zeroed). */
int dirpage_page_encode(char **out, size_t *out_len, const struct dirobj *page, size_t slot,
			size_t nslots, int format);
int dirpage_page_decode(struct dirobj *page, const char *json, size_t len,
			const uint8_t dir_id[OBJECT_ID_BYTES], size_t slot, size_t nslots,
			int format);

/* Appends page's entries to dir (moved: page is left empty), growing
 * dir->entries geometrically; *cap is its allocated length (0 at first). 0,
 * -ENOMEM (nothing moved). */
int dirpage_join(struct dirobj *dir, size_t *cap, struct dirobj *page);
/* The joined directory against its index: every present page read, the
 * count equal to "n", no name twice and no id twice (but among h entries)
 * across pages. 0 or -EBADMSG; -ENOMEM. */
int dirpage_join_check(const struct dirobj *dir, const struct dirpage_index *ix);

#endif
