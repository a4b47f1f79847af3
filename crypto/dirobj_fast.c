/* dirobj_fast.c - dirobj_decode, and its fast path: a single-pass parser of
 * exactly the bytes dirobj_encode writes (compact JSON, keys in strcmp
 * order, strings without escapes, no "nb", "tgb" or "x" member). Loading a
 * directory through jansson's tree of per-member allocations was 88 % of
 * the daemon's instructions in a cold `find` (docs/PERFORMANCE.md). Every
 * input it does not take, malformed or merely unusual, goes to the jansson
 * decoder (dirobj_decode.c), so the fast path must never accept what that
 * decoder refuses, nor decode anything differently: it applies the same
 * checks (dirobj_check.h) and declines on any doubt; test_dirobj_fast.c
 * compares the two on encoded and mutated objects. A parser of stored
 * bytes: it must never read past len, crash or leak on any input.
 * The encoders (dirobj_fast_write.c) write those bytes. */
#include "dirobj_fast.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dirobj_check.h"
#include "hex.h"

#define FAST_DECLINE DIROBJ_FAST_DECLINE
#define FAST_FORMAT_MAX DIROBJ_FAST_FORMAT_MAX
#define FAST_INT_DIGITS 18 /* below INT64_MAX whatever the digits */

/* The cursor; every helper returns false (decline) without consuming more
 * than it checked, and never reads at or past end. */
struct fp {
	const char *p, *end;
};

static bool fp_lit(struct fp *f, char c)
{
	if (f->p < f->end && *f->p == c) {
		f->p++;
		return true;
	}
	return false;
}

static bool fp_word(struct fp *f, const char *w, size_t n)
{
	if ((size_t)(f->end - f->p) < n || memcmp(f->p, w, n) != 0)
		return false;
	f->p += n;
	return true;
}

/* A string without escapes or control characters (jansson refuses raw
 * control characters; escapes are left to it). */
static bool fp_str(struct fp *f, const char **s, size_t *len)
{
	const char *b;

	if (!fp_lit(f, '"'))
		return false;
	for (b = f->p; f->p < f->end; f->p++) {
		unsigned char c = (unsigned char)*f->p;
		if (c == '"') {
			*s = b;
			*len = (size_t)(f->p - b);
			f->p++;
			return true;
		}
		if (c < 0x20 || c == '\\')
			return false;
	}
	return false;
}

/* An integer in jansson's spelling, at most FAST_INT_DIGITS digits, no "-0". */
static bool fp_int(struct fp *f, bool neg_ok, int64_t *out)
{
	bool neg = neg_ok && fp_lit(f, '-');
	const char *b = f->p;
	uint64_t v = 0;
	size_t n;

	while (f->p < f->end && *f->p >= '0' && *f->p <= '9')
		v = v * 10 + (uint64_t)(*f->p++ - '0');
	n = (size_t)(f->p - b);
	if (n == 0 || n > FAST_INT_DIGITS || (b[0] == '0' && (n > 1 || neg)))
		return false;
	/* A fraction or exponent makes it a real, which no member takes. */
	if (f->p < f->end && (*f->p == '.' || *f->p == 'e' || *f->p == 'E'))
		return false;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

static bool fp_uint(struct fp *f, uint64_t max, uint64_t *out)
{
	int64_t v;

	if (!fp_int(f, false, &v) || (uint64_t)v > max)
		return false;
	*out = (uint64_t)v;
	return true;
}

static bool fp_hex(struct fp *f, uint8_t out[OBJECT_ID_BYTES])
{
	enum { DIGITS = 2 * OBJECT_ID_BYTES };
	const char *s;
	size_t n;

	/* The usual spelling, exactly DIGITS digits between quotes: decoded in
	 * place without fp_str's scan (a hex digit is never a quote, backslash
	 * or control character, so fp_str would have taken the same string). */
	if (f->end - f->p >= DIGITS + 2 && f->p[0] == '"' && f->p[DIGITS + 1] == '"' &&
	    hex_decode(out, OBJECT_ID_BYTES, f->p + 1, DIGITS) == 0) {
		f->p += DIGITS + 2;
		return true;
	}
	return fp_str(f, &s, &n) && hex_decode(out, OBJECT_ID_BYTES, s, n) == 0;
}

/* [sec,nsec] */
static bool fp_time(struct fp *f, struct dirobj_time *t)
{
	int64_t s, ns;

	if (!fp_lit(f, '[') || !fp_int(f, true, &s) || !fp_lit(f, ',') || !fp_int(f, false, &ns) ||
	    !fp_lit(f, ']') || ns > DIROBJ_NSEC_MAX)
		return false;
	t->sec = s;
	t->nsec = (uint32_t)ns;
	return true;
}

/* UTF-8 as jansson would have checked it: ASCII needs no look. */
static bool fast_utf8(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return dirobj_check_utf8(s, n);
	return true;
}

/* A string member copied with a NUL after it (the jansson decoder's shape). */
static int fp_copy(struct fp *f, size_t max, char **out, size_t *len)
{
	const char *s;
	size_t n;

	if (!fp_str(f, &s, &n) || n > max || !fast_utf8(s, n))
		return FAST_DECLINE;
	*out = malloc(n + 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, s, n);
	(*out)[n] = '\0';
	*len = n;
	return 0;
}

/* One element of "seg": null, or the format's spelling of a segment. */
static bool fp_seg(struct fp *f, struct dirobj_segment *seg, int format)
{
	int64_t c = 0;

	if (fp_word(f, "null", 4))
		return true;
	if (format >= 2 && !fp_lit(f, '['))
		return false;
	if (!fp_hex(f, seg->store_key))
		return false;
	if (format >= 2 && (!fp_lit(f, ',') || !fp_int(f, false, &c) || !fp_lit(f, ']')))
		return false;
	seg->created = (uint64_t)c;
	seg->present = true;
	return true;
}

static int fp_segments(struct fp *f, struct dirobj_entry *e, int format)
{
	size_t cap = 0;

	if (!fp_lit(f, '['))
		return FAST_DECLINE;
	if (fp_lit(f, ']'))
		return 0;
	do {
		if (e->nsegments == cap) {
			size_t ncap = cap ? 2 * cap : 4;
			struct dirobj_segment *s = realloc(e->segments, ncap * sizeof(*s));
			if (!s)
				return -ENOMEM;
			e->segments = s;
			cap = ncap;
		}
		memset(&e->segments[e->nsegments], 0, sizeof(*e->segments));
		if (!fp_seg(f, &e->segments[e->nsegments], format))
			return FAST_DECLINE;
		e->nsegments++;
	} while (fp_lit(f, ','));
	return fp_lit(f, ']') ? 0 : FAST_DECLINE;
}

/* ---- entries ---- */

const char *const dirobj_fast_keys[DK_COUNT] = {"a", "c",  "g", "id",  "k", "kc", "m", "mt",
						"n", "rd", "s", "seg", "t", "tg", "u", "v"};

#define COMMON                                                                                     \
	(DIROBJ_KBIT(DK_A) | DIROBJ_KBIT(DK_C) | DIROBJ_KBIT(DK_G) | DIROBJ_KBIT(DK_ID) |          \
	 DIROBJ_KBIT(DK_M) | DIROBJ_KBIT(DK_MT) | DIROBJ_KBIT(DK_N) | DIROBJ_KBIT(DK_T) |          \
	 DIROBJ_KBIT(DK_U))

unsigned dirobj_fast_required(enum dirobj_type type, int format)
{
	switch (type) {
	case DIROBJ_FILE:
		return COMMON | DIROBJ_KBIT(DK_S) | DIROBJ_KBIT(DK_SEG);
	case DIROBJ_DIR:
		return COMMON | DIROBJ_KBIT(DK_K) | DIROBJ_KBIT(DK_V) |
		       (format >= 2 ? DIROBJ_KBIT(DK_KC) : 0);
	case DIROBJ_SYMLINK:
		return COMMON | DIROBJ_KBIT(DK_TG);
	case DIROBJ_CHR:
	case DIROBJ_BLK:
		return COMMON | DIROBJ_KBIT(DK_RD);
	case DIROBJ_FIFO:
	case DIROBJ_SOCK:
		return COMMON;
	case DIROBJ_HARDLINK:
		return DIROBJ_KBIT(DK_ID) | DIROBJ_KBIT(DK_N) | DIROBJ_KBIT(DK_T);
	}
	return 0;
}

/* The keys by their first letter: the first of dirobj_fast_keys with it,
 * and how many follow with it (at most 2); 0: none. */
static int fast_key_of(const char *s, size_t n)
{
	static const signed char first[26] = {
	    ['a' - 'a'] = DK_A + 1,  ['c' - 'a'] = DK_C + 1,  ['g' - 'a'] = DK_G + 1,
	    ['i' - 'a'] = DK_ID + 1, ['k' - 'a'] = DK_K + 1,  ['m' - 'a'] = DK_M + 1,
	    ['n' - 'a'] = DK_N + 1,  ['r' - 'a'] = DK_RD + 1, ['s' - 'a'] = DK_S + 1,
	    ['t' - 'a'] = DK_T + 1,  ['u' - 'a'] = DK_U + 1,  ['v' - 'a'] = DK_V + 1};
	unsigned char c = n ? (unsigned char)s[0] : 0;
	int k;

	if (n == 0 || n > 3 || c < 'a' || c > 'z' || first[c - 'a'] == 0)
		return -1;
	/* At most two keys share a first letter, one after the other. */
	for (k = first[c - 'a'] - 1; k < DK_COUNT && dirobj_fast_keys[k][0] == (char)c; k++)
		if (strlen(dirobj_fast_keys[k]) == n && memcmp(dirobj_fast_keys[k], s, n) == 0)
			return k;
	return -1;
}

/* Parses one member's value into e; *type_c gets "t". */
static int fp_member(struct fp *f, int k, struct dirobj_entry *e, int *type_c, int format)
{
	uint64_t v;
	const char *s;
	size_t n;

	switch (k) {
	case DK_A:
		return fp_time(f, &e->atime) ? 0 : FAST_DECLINE;
	case DK_C:
		return fp_time(f, &e->ctime) ? 0 : FAST_DECLINE;
	case DK_MT:
		return fp_time(f, &e->mtime) ? 0 : FAST_DECLINE;
	case DK_G:
	case DK_U:
	case DK_M:
		if (!fp_uint(f, UINT32_MAX, &v))
			return FAST_DECLINE;
		*(k == DK_G ? &e->gid : k == DK_U ? &e->uid : &e->mode) = (uint32_t)v;
		return 0;
	case DK_ID:
		return fp_hex(f, e->id) ? 0 : FAST_DECLINE;
	case DK_K:
		return fp_hex(f, e->ref.store_key) ? 0 : FAST_DECLINE;
	case DK_KC:
		return fp_uint(f, DIROBJ_INT_MAX, &e->ref.created) ? 0 : FAST_DECLINE;
	case DK_V:
		return fp_uint(f, DIROBJ_INT_MAX, &e->ref.version) ? 0 : FAST_DECLINE;
	case DK_S:
		return fp_uint(f, DIROBJ_INT_MAX, &e->size) ? 0 : FAST_DECLINE;
	case DK_RD:
		return fp_uint(f, DIROBJ_INT_MAX, &e->rdev) ? 0 : FAST_DECLINE;
	case DK_N:
		return fp_copy(f, DIROBJ_NAME_MAX, &e->name, &e->name_len);
	case DK_TG:
		return fp_copy(f, DIROBJ_TARGET_MAX, &e->target, &e->target_len);
	case DK_T:
		if (!fp_str(f, &s, &n) || n != 1)
			return FAST_DECLINE;
		*type_c = (unsigned char)s[0];
		return 0;
	case DK_SEG:
		return fp_segments(f, e, format);
	}
	return FAST_DECLINE;
}

/* The jansson decoder's checks of a complete entry. */
static bool fast_entry_ok(const struct dirobj_entry *e, unsigned seen, int format)
{
	if (seen != dirobj_fast_required(e->type, format) ||
	    !dirobj_check_name(e->name, e->name_len, false))
		return false;
	if (e->type == DIROBJ_HARDLINK)
		return true;
	if (!dirobj_check_mode(e->type, e->mode))
		return false;
	if (e->type == DIROBJ_FILE)
		return e->nsegments == chunk_file_segments(e->size);
	if (e->type == DIROBJ_SYMLINK)
		return dirobj_check_target(e->target, e->target_len);
	return true;
}

/* {"key":value,...} with keys in strictly increasing order. */
static int fp_entry(struct fp *f, struct dirobj_entry *e, int format)
{
	const char *key;
	size_t key_n;
	unsigned seen = 0;
	int type_c = 0, k, prev = -1, r;

	if (!fp_lit(f, '{'))
		return FAST_DECLINE;
	do {
		/* dirobj_fast_keys is in strcmp order, so keys in strictly
		 * increasing order are strictly increasing indices; any other key
		 * declines. */
		if (!fp_str(f, &key, &key_n) || !fp_lit(f, ':'))
			return FAST_DECLINE;
		k = fast_key_of(key, key_n);
		if (k <= prev)
			return FAST_DECLINE;
		r = fp_member(f, k, e, &type_c, format);
		if (r)
			return r;
		seen |= DIROBJ_KBIT(k);
		prev = k;
	} while (fp_lit(f, ','));
	if (!fp_lit(f, '}') || !dirobj_check_type(type_c, format))
		return FAST_DECLINE;
	e->type = (enum dirobj_type)type_c;
	return fast_entry_ok(e, seen, format) ? 0 : FAST_DECLINE;
}

static int fp_entries(struct fp *f, struct dirobj *dir, int format)
{
	size_t cap = 0;
	int r;

	if (!fp_lit(f, '['))
		return FAST_DECLINE;
	if (fp_lit(f, ']'))
		return 0;
	do {
		if (dir->nentries == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct dirobj_entry *n = realloc(dir->entries, ncap * sizeof(*n));
			if (!n)
				return -ENOMEM;
			dir->entries = n;
			cap = ncap;
		}
		memset(&dir->entries[dir->nentries], 0, sizeof(*dir->entries));
		r = fp_entry(f, &dir->entries[dir->nentries], format);
		if (r) {
			dirobj_entry_release(&dir->entries[dir->nentries]);
			return r;
		}
		dir->nentries++;
	} while (fp_lit(f, ','));
	return fp_lit(f, ']') ? 0 : FAST_DECLINE;
}

int dirobj_fast_decode(struct dirobj *dir, const char *json, size_t len, int format)
{
	struct fp f = {json, json + len};
	int r;

	memset(dir, 0, sizeof(*dir));
	if (format > FAST_FORMAT_MAX)
		return FAST_DECLINE;
	r = fp_word(&f, "{\"e\":", 5) ? fp_entries(&f, dir, format) : FAST_DECLINE;
	if (r == 0 && (!fp_word(&f, ",\"id\":", 6) || !fp_hex(&f, dir->dir_id) ||
		       !fp_lit(&f, '}') || f.p != f.end))
		r = FAST_DECLINE;
	if (r == 0) {
		r = dirobj_check_unique(dir);
		if (r == -EEXIST)
			r = FAST_DECLINE;
	}
	if (r)
		dirobj_release(dir);
	return r;
}

int dirobj_decode(struct dirobj *dir, const char *json, size_t len, int format)
{
	int r;

	memset(dir, 0, sizeof(*dir));
	if (format < DIROBJ_FORMAT_MIN || format > DIROBJ_FORMAT_MAX)
		return -EINVAL;
	r = dirobj_fast_decode(dir, json, len, format);
	return r == FAST_DECLINE ? dirobj_decode_jansson(dir, json, len, format) : r;
}
