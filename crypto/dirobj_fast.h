/* dirobj_fast.h - internal to crypto/ (and its tests): the two decoders of a
 * directory object behind dirobj_decode. The fast one parses only the exact
 * bytes dirobj_encode writes and declines everything else; the jansson one
 * takes every input the fast one declines. Pure. */
#ifndef SEALFS_DIROBJ_FAST_H
#define SEALFS_DIROBJ_FAST_H

#include <stddef.h>

#include "dirobj.h"

/* dirobj_fast_decode's answer for an input it does not take (not canonical,
 * malformed, escapes, base64 or xattr members...): the jansson decoder must
 * decide. Never an error in itself. */
#define DIROBJ_FAST_DECLINE 1

/* The newest format whose entry schema the fast path knows (every member
 * of fast_required in dirobj_fast.c): format 3 keeps format 2's entries
 * (its paged directories' pages are directory objects too). A newer format
 * is declined whole until it is checked against the jansson decoder's rules
 * and raised here; test_dirobj_fast.c runs every format up to this one that
 * DIROBJ_FORMAT_MAX admits. */
#define DIROBJ_FAST_FORMAT_MAX 3

/* The members of an entry the fast paths know, in strcmp order (the order
 * JSON_SORT_KEYS writes them in): dirobj_fast_keys[k] is member k's name. */
enum dirobj_fast_key {
	DK_A,
	DK_C,
	DK_G,
	DK_ID,
	DK_K,
	DK_KC,
	DK_M,
	DK_MT,
	DK_N,
	DK_RD,
	DK_S,
	DK_SEG,
	DK_T,
	DK_TG,
	DK_U,
	DK_V,
	DK_COUNT
};
#define DIROBJ_KBIT(k) (1u << (k))
extern const char *const dirobj_fast_keys[DK_COUNT];
/* The members an entry of this type has in this format, exactly, as a set
 * of DIROBJ_KBIT (the optional "x" and the base64 spellings "nb" and "tgb"
 * are the jansson codec's). Pure. */
unsigned dirobj_fast_required(enum dirobj_type type, int format);

/* Decodes json[0..len) when it is byte for byte what dirobj_encode writes
 * for format (compact, sorted keys, no escaped characters, no "nb", "tgb"
 * or "x" member) and the jansson decoder would accept it, into the same
 * *dir the jansson decoder would give. Returns 0, -ENOMEM (*dir zeroed) or
 * DIROBJ_FAST_DECLINE (*dir zeroed). format must be valid (not checked).
 * Thread-safe. */
int dirobj_fast_decode(struct dirobj *dir, const char *json, size_t len, int format);

/* Encoders of entries dirobj.c has already checked (dirobj_entry_check,
 * dirobj_check_unique, dirobj_head_check): the bytes jansson would write
 * (json_dumps, JSON_COMPACT | JSON_SORT_KEYS) when no string needs an escape
 * or base64 and no entry has xattrs; else DIROBJ_FAST_DECLINE. 0 with *out
 * new (free) and NUL-ended, -ENOMEM, or DIROBJ_FAST_DECLINE (*out NULL).
 * Thread-safe. */
int dirobj_fast_encode(char **out, size_t *out_len, const struct dirobj *dir, int format);
int dirobj_fast_head_encode(char **out, size_t *out_len, const struct dirobj_head *head,
			    int format);
/* The jansson encoders (dirobj.c): dirobj_encode's and dirobj_head_encode's
 * contract for any input. Thread-safe. */
int dirobj_encode_jansson(char **out, size_t *out_len, const struct dirobj *dir, int format);
int dirobj_head_encode_jansson(char **out, size_t *out_len, const struct dirobj_head *head,
			       int format);

/* The jansson decoder (dirobj_decode.c): dirobj_decode's contract for any
 * input. Thread-safe. */
int dirobj_decode_jansson(struct dirobj *dir, const char *json, size_t len, int format);

#endif
