/* dirobj_fast_write.c - the fast path of dirobj_encode and
 * dirobj_head_encode: the bytes json_dumps(JSON_COMPACT | JSON_SORT_KEYS)
 * writes, straight into one buffer, for entries that dirobj.c has checked
 * and that need no escape, base64 or xattrs; everything else it declines to
 * the jansson encoder. Jansson's tree of a node per member was a third of
 * the daemon's instructions per atomic save (docs/PERFORMANCE.md). It must
 * never write other bytes than jansson would (the stored spelling is the
 * format's): test_dirobj_fast.c compares the two on random directories and
 * heads. Pure; thread-safe. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dirobj_check.h"
#include "dirobj_fast.h"
#include "hex.h"

#define FAST_DECLINE DIROBJ_FAST_DECLINE
#define FAST_FORMAT_MAX DIROBJ_FAST_FORMAT_MAX

/* The output, sized once by fast_bound: no write checks its room. */
struct fw {
	char *s;
	size_t k;
};

static void fw_lit(struct fw *w, const char *lit)
{
	size_t n = strlen(lit);

	memcpy(w->s + w->k, lit, n);
	w->k += n;
}

static void fw_u64(struct fw *w, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		w->s[w->k++] = tmp[--n];
}

static void fw_i64(struct fw *w, int64_t v)
{
	if (v < 0) {
		w->s[w->k++] = '-';
		fw_u64(w, (uint64_t)(-(v + 1)) + 1); /* INT64_MIN too */
	} else
		fw_u64(w, (uint64_t)v);
}

static void fw_bytes(struct fw *w, const char *s, size_t n)
{
	w->s[w->k++] = '"';
	memcpy(w->s + w->k, s, n);
	w->k += n;
	w->s[w->k++] = '"';
}

static void fw_hex(struct fw *w, const uint8_t bin[OBJECT_ID_BYTES])
{
	char hex[2 * OBJECT_ID_BYTES + 1];

	hex_encode(hex, sizeof(hex), bin, OBJECT_ID_BYTES);
	fw_bytes(w, hex, 2 * OBJECT_ID_BYTES);
}

static void fw_time(struct fw *w, const struct dirobj_time *t)
{
	w->s[w->k++] = '[';
	fw_i64(w, t->sec);
	w->s[w->k++] = ',';
	fw_u64(w, t->nsec);
	w->s[w->k++] = ']';
}

/* Whether jansson writes s as its bytes between quotes: valid UTF-8 (else
 * it is base64 under "nb"/"tgb") with nothing it escapes. */
static bool fast_plain(const char *s, size_t n)
{
	bool ascii = true;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == '"' || c == '\\')
			return false;
		ascii &= c < 0x80;
	}
	return ascii || dirobj_check_utf8(s, n);
}

static bool fast_entry_plain(const struct dirobj_entry *e)
{
	return e->nxattrs == 0 && fast_plain(e->name, e->name_len) &&
	       (e->type != DIROBJ_SYMLINK || fast_plain(e->target, e->target_len));
}

/* Bytes an entry takes at most (every integer 20 digits and a sign). */
static size_t fast_entry_bound(const struct dirobj_entry *e)
{
	return 512 + e->name_len + e->target_len + e->nsegments * (2 * OBJECT_ID_BYTES + 32);
}

static void fw_segments(struct fw *w, const struct dirobj_entry *e, int format)
{
	w->s[w->k++] = '[';
	for (size_t i = 0; i < e->nsegments; i++) {
		const struct dirobj_segment *g = &e->segments[i];
		if (i > 0)
			w->s[w->k++] = ',';
		if (!g->present)
			fw_lit(w, "null");
		else if (format == 1)
			fw_hex(w, g->store_key);
		else {
			w->s[w->k++] = '[';
			fw_hex(w, g->store_key);
			w->s[w->k++] = ',';
			fw_u64(w, g->created);
			w->s[w->k++] = ']';
		}
	}
	w->s[w->k++] = ']';
}

static void fw_value(struct fw *w, int k, const struct dirobj_entry *e, int format)
{
	switch (k) {
	case DK_A:
		fw_time(w, &e->atime);
		break;
	case DK_C:
		fw_time(w, &e->ctime);
		break;
	case DK_MT:
		fw_time(w, &e->mtime);
		break;
	case DK_G:
		fw_u64(w, e->gid);
		break;
	case DK_U:
		fw_u64(w, e->uid);
		break;
	case DK_M:
		fw_u64(w, e->mode);
		break;
	case DK_ID:
		fw_hex(w, e->id);
		break;
	case DK_K:
		fw_hex(w, e->ref.store_key);
		break;
	case DK_KC:
		fw_u64(w, e->ref.created);
		break;
	case DK_V:
		fw_u64(w, e->ref.version);
		break;
	case DK_S:
		fw_u64(w, e->size);
		break;
	case DK_RD:
		fw_u64(w, e->rdev);
		break;
	case DK_N:
		fw_bytes(w, e->name, e->name_len);
		break;
	case DK_TG:
		fw_bytes(w, e->target, e->target_len);
		break;
	case DK_T: {
		char t = (char)e->type;
		fw_bytes(w, &t, 1);
		break;
	}
	case DK_SEG:
		fw_segments(w, e, format);
		break;
	}
}

/* The members of the type, in fast_keys' (strcmp) order. */
static void fw_entry(struct fw *w, const struct dirobj_entry *e, int format)
{
	unsigned want = dirobj_fast_required(e->type, format);
	bool first = true;

	w->s[w->k++] = '{';
	for (int k = 0; k < DK_COUNT; k++) {
		if (!(want & DIROBJ_KBIT(k)))
			continue;
		if (!first)
			w->s[w->k++] = ',';
		first = false;
		w->s[w->k++] = '"';
		fw_lit(w, dirobj_fast_keys[k]);
		fw_lit(w, "\":");
		fw_value(w, k, e, format);
	}
	w->s[w->k++] = '}';
}

int dirobj_fast_encode(char **out, size_t *out_len, const struct dirobj *dir, int format)
{
	size_t cap = 256;
	struct fw w;

	*out = NULL;
	*out_len = 0;
	if (format > FAST_FORMAT_MAX)
		return FAST_DECLINE;
	for (size_t i = 0; i < dir->nentries; i++) {
		if (!fast_entry_plain(&dir->entries[i]))
			return FAST_DECLINE;
		cap += fast_entry_bound(&dir->entries[i]);
	}
	w.s = malloc(cap);
	w.k = 0;
	if (!w.s)
		return -ENOMEM;
	fw_lit(&w, "{\"e\":[");
	for (size_t i = 0; i < dir->nentries; i++) {
		if (i > 0)
			w.s[w.k++] = ',';
		fw_entry(&w, &dir->entries[i], format);
	}
	fw_lit(&w, "],\"id\":");
	fw_hex(&w, dir->dir_id);
	w.s[w.k++] = '}';
	w.s[w.k] = '\0';
	*out = w.s;
	*out_len = w.k;
	return 0;
}

static void fw_ref(struct fw *w, const char *key, const struct dirobj_ref *r)
{
	fw_lit(w, key);
	fw_lit(w, "{\"c\":");
	fw_u64(w, r->created);
	fw_lit(w, ",\"k\":");
	fw_hex(w, r->store_key);
	fw_lit(w, ",\"v\":");
	fw_u64(w, r->version);
	w->s[w->k++] = '}';
}

/* Format 2's members before "root" (dev, dn, g, gr, hist, it, keep, parent). */
static void fw_head_v2(struct fw *w, const struct dirobj_head *h)
{
	char parent[2 * sizeof(h->parent) + 1];

	fw_lit(w, "\"dev\":");
	fw_hex(w, h->device);
	fw_lit(w, ",\"dn\":");
	fw_bytes(w, h->device_name, strlen(h->device_name));
	if (h->has_garbage)
		fw_ref(w, ",\"g\":", &h->garbage);
	fw_lit(w, ",\"gr\":");
	fw_u64(w, h->grace);
	if (h->has_history)
		fw_ref(w, ",\"hist\":", &h->history);
	if (h->has_inodes)
		fw_ref(w, ",\"it\":", &h->inodes);
	fw_lit(w, ",\"keep\":");
	fw_u64(w, h->keep);
	hex_encode(parent, sizeof(parent), h->parent, sizeof(h->parent));
	fw_lit(w, ",\"parent\":");
	fw_bytes(w, parent, 2 * sizeof(h->parent));
	w->s[w->k++] = ',';
}

int dirobj_fast_head_encode(char **out, size_t *out_len, const struct dirobj_head *head, int format)
{
	struct fw w;

	*out = NULL;
	*out_len = 0;
	if (format > FAST_FORMAT_MAX || !fast_entry_plain(&head->root) ||
	    (format >= 2 && !fast_plain(head->device_name, strlen(head->device_name))))
		return FAST_DECLINE;
	w.s = malloc(1024 + fast_entry_bound(&head->root));
	w.k = 0;
	if (!w.s)
		return -ENOMEM;
	w.s[w.k++] = '{';
	if (format >= 2)
		fw_head_v2(&w, head);
	fw_lit(&w, "\"root\":");
	fw_entry(&w, &head->root, format);
	fw_lit(&w, ",\"seq\":");
	fw_u64(&w, head->seq);
	if (format >= 2) {
		fw_lit(&w, ",\"t\":");
		fw_time(&w, &head->time);
	}
	w.s[w.k++] = '}';
	w.s[w.k] = '\0';
	*out = w.s;
	*out_len = w.k;
	return 0;
}
