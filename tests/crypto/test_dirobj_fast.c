/* test_dirobj_fast.c - the fast directory-object decoder (crypto/dirobj_fast.c)
 * against the jansson one: on random directories of every entry type,
 * encoded by dirobj_encode in both formats, the fast path must take the
 * plain ones and give the very same struct; on every mutation of those bytes
 * (flipped, deleted, duplicated, truncated) it must either decline or agree
 * with the jansson decoder, which must then accept too. The cases the fast
 * path must leave to jansson (escapes, base64 names, xattrs, other key order,
 * "-0") still decode through dirobj_decode. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "check.h"
#include "dirobj.h"
#include "dirobj_fast.h"

/* The formats both decoders take. */
#define FORMATS                                                                                    \
	(DIROBJ_FAST_FORMAT_MAX < DIROBJ_FORMAT_MAX ? DIROBJ_FAST_FORMAT_MAX : DIROBJ_FORMAT_MAX)

static uint32_t rnd(uint32_t n) { return randombytes_uniform(n); }

static void rand_name(struct dirobj_entry *e, size_t i, bool plain)
{
	static const char *const odd[] = {
	    "q\"uote", "back\\slash", "ctl\x01x",	"\xc3\xa9t\xc3\xa9",	"bad\xff",
	    "tab\tx",  "del\x7f",     "ls\xe2\x80\xa8", "emoji\xf0\x9f\x98\x80"};
	char buf[64];

	if (plain || rnd(4))
		snprintf(buf, sizeof(buf), "n%zu-%u", i, rnd(100000));
	else
		snprintf(buf, sizeof(buf), "%s%zu", odd[rnd(9)], i);
	e->name = strdup(buf);
	e->name_len = strlen(buf);
}

static void rand_time(struct dirobj_time *t)
{
	t->sec = (int64_t)rnd(2000000000) - (rnd(8) == 0 ? 3000000000LL : 0);
	t->nsec = rnd(1000000000);
}

static void rand_file(struct dirobj_entry *e, int format)
{
	e->size = rnd(3) ? rnd(5000) : (uint64_t)rnd(4) << 20 | rnd(1 << 20);
	e->nsegments = chunk_file_segments(e->size);
	e->segments = calloc(e->nsegments ? e->nsegments : 1, sizeof(*e->segments));
	for (size_t s = 0; s < e->nsegments; s++) {
		e->segments[s].present = rnd(4) != 0;
		if (!e->segments[s].present)
			continue;
		randombytes_buf(e->segments[s].store_key, OBJECT_ID_BYTES);
		e->segments[s].created = format >= 2 ? rnd(1000) : 0;
	}
}

static void rand_entry(struct dirobj_entry *e, size_t i, int format, bool plain)
{
	static const enum dirobj_type t1[] = {DIROBJ_FILE, DIROBJ_DIR, DIROBJ_SYMLINK};
	static const enum dirobj_type t2[] = {DIROBJ_FILE, DIROBJ_DIR,	   DIROBJ_SYMLINK,
					      DIROBJ_FIFO, DIROBJ_SOCK,	   DIROBJ_CHR,
					      DIROBJ_BLK,  DIROBJ_HARDLINK};

	memset(e, 0, sizeof(*e));
	e->type = format >= 2 ? t2[rnd(8)] : t1[rnd(3)];
	rand_name(e, i, plain);
	randombytes_buf(e->id, OBJECT_ID_BYTES);
	if (e->type == DIROBJ_HARDLINK)
		return;
	e->mode = dirobj_type_mode(e->type) | rnd(07777 + 1);
	e->uid = rnd(3) ? rnd(70000) : UINT32_MAX;
	e->gid = rnd(70000);
	rand_time(&e->atime);
	rand_time(&e->mtime);
	rand_time(&e->ctime);
	if (e->type == DIROBJ_FILE)
		rand_file(e, format);
	else if (e->type == DIROBJ_DIR) {
		e->ref.version = rnd(1000);
		randombytes_buf(e->ref.store_key, OBJECT_ID_BYTES);
		e->ref.created = format >= 2 ? rnd(1000) : 0;
	} else if (e->type == DIROBJ_SYMLINK) {
		e->target = strdup(rnd(2) ? "../some/where" : "t\xc3\xa9");
		e->target_len = strlen(e->target);
	} else if (e->type == DIROBJ_CHR || e->type == DIROBJ_BLK)
		e->rdev = rnd(1 << 20);
	if (!plain && rnd(8) == 0) {
		e->xattrs = calloc(1, sizeof(*e->xattrs));
		e->xattrs[0].name = strdup("user.k");
		e->xattrs[0].value = (unsigned char *)strdup("v");
		e->xattrs[0].len = 1;
		e->nxattrs = 1;
	}
}

static bool same_entry(const struct dirobj_entry *a, const struct dirobj_entry *b)
{
	if (a->name_len != b->name_len || memcmp(a->name, b->name, a->name_len + 1) ||
	    a->type != b->type || memcmp(a->id, b->id, OBJECT_ID_BYTES) || a->mode != b->mode ||
	    a->uid != b->uid || a->gid != b->gid || a->size != b->size || a->rdev != b->rdev ||
	    memcmp(&a->atime, &b->atime, sizeof(a->atime)) ||
	    memcmp(&a->mtime, &b->mtime, sizeof(a->mtime)) ||
	    memcmp(&a->ctime, &b->ctime, sizeof(a->ctime)) ||
	    memcmp(&a->ref, &b->ref, sizeof(a->ref)) || a->target_len != b->target_len ||
	    (a->target_len && memcmp(a->target, b->target, a->target_len + 1)) ||
	    (a->target == NULL) != (b->target == NULL) || a->nsegments != b->nsegments ||
	    a->nxattrs != b->nxattrs)
		return false;
	for (size_t s = 0; s < a->nsegments; s++)
		if (a->segments[s].present != b->segments[s].present ||
		    a->segments[s].created != b->segments[s].created ||
		    memcmp(a->segments[s].store_key, b->segments[s].store_key, OBJECT_ID_BYTES))
			return false;
	return true;
}

static bool same_dir(const struct dirobj *a, const struct dirobj *b)
{
	if (memcmp(a->dir_id, b->dir_id, OBJECT_ID_BYTES) || a->nentries != b->nentries)
		return false;
	for (size_t i = 0; i < a->nentries; i++)
		if (!same_entry(&a->entries[i], &b->entries[i]))
			return false;
	return true;
}

/* The one rule: fast declines, or both accept the same thing. */
static int compare(const char *json, size_t len, int format, const char *what)
{
	struct dirobj f, s;
	int rf = dirobj_fast_decode(&f, json, len, format);
	int rs = dirobj_decode_jansson(&s, json, len, format);

	if (rf == 0) {
		CHECKF(rs == 0, "%s: fast accepted, jansson says %d: %.*s", what, rs, (int)len,
		       json);
		CHECKF(rs != 0 || same_dir(&f, &s), "%s: fast and jansson differ: %.*s", what,
		       (int)len, json);
	} else
		CHECKF(rf == DIROBJ_FAST_DECLINE, "%s: fast returned %d", what, rf);
	if (rf == 0)
		dirobj_release(&f);
	if (rs == 0)
		dirobj_release(&s);
	return rf;
}

/* dirobj_encode's bytes (the direct writer's when it takes d) are jansson's. */
static void same_encoding(const struct dirobj *d, const char *json, size_t len, int format,
			  bool plain)
{
	char *j = NULL, *f = NULL;
	size_t jl = 0, fl = 0;
	int rf = dirobj_fast_encode(&f, &fl, d, format);

	CHECK_RC(dirobj_encode_jansson(&j, &jl, d, format), 0);
	CHECKF(j && jl == len && memcmp(j, json, len) == 0, "encoders differ: %s / %s", json,
	       j ? j : "-");
	CHECKF(rf == DIROBJ_FAST_DECLINE || (rf == 0 && fl == len && !memcmp(f, json, len)),
	       "direct writer: %d", rf);
	CHECKF(!plain || rf == 0, "a plain directory was declined by the writer: %s", json);
	free(j);
	free(f);
}

/* Random heads: the direct writer's bytes are jansson's. */
static void heads(void)
{
	static const char *const names[] = {"laptop", "caf\xc3\xa9", "q\"uote", "b\\s"};

	for (int i = 0; i < 200; i++) {
		struct dirobj_head h = {0};
		int format = DIROBJ_FORMAT_MIN + i % (FORMATS - DIROBJ_FORMAT_MIN + 1);
		char *a = NULL, *b = NULL;
		size_t al = 0, bl = 0;

		h.seq = rnd(3) ? rnd(100000) : (uint64_t)INT64_MAX;
		h.root.name = strdup("");
		h.root.type = DIROBJ_DIR;
		h.root.mode = dirobj_type_mode(DIROBJ_DIR) | 0755;
		randombytes_buf(h.root.id, OBJECT_ID_BYTES);
		randombytes_buf(h.root.ref.store_key, OBJECT_ID_BYTES);
		h.root.ref.version = rnd(1000);
		rand_time(&h.root.mtime);
		if (format >= 2) {
			h.root.ref.created = rnd(1000);
			rand_time(&h.time);
			randombytes_buf(h.device, OBJECT_ID_BYTES);
			snprintf(h.device_name, sizeof(h.device_name), "%s", names[rnd(4)]);
			randombytes_buf(h.parent, sizeof(h.parent));
			h.keep = rnd(2) ? 2592000 : (uint64_t)INT64_MAX;
			h.grace = rnd(100000);
			h.has_history = rnd(2);
			h.has_garbage = rnd(2);
			h.has_inodes = rnd(2);
			randombytes_buf(h.history.store_key, OBJECT_ID_BYTES);
			randombytes_buf(h.garbage.store_key, OBJECT_ID_BYTES);
			randombytes_buf(h.inodes.store_key, OBJECT_ID_BYTES);
			h.history.version = rnd(50);
			h.garbage.created = rnd(50);
			h.inodes.version = (uint64_t)INT64_MAX;
		}
		CHECK_RC(dirobj_head_encode(&a, &al, &h, format), 0);
		CHECK_RC(dirobj_head_encode_jansson(&b, &bl, &h, format), 0);
		CHECKF(a && b && al == bl && memcmp(a, b, al) == 0, "heads differ: %s / %s",
		       a ? a : "-", b ? b : "-");
		free(a);
		free(b);
		dirobj_head_release(&h);
	}
}

static void mutate(char *m, size_t *len)
{
	static const char set[] = "{}[]\",:0123456789-.eanulltf\\ \x01\xc3\xff";
	size_t at = rnd((uint32_t)*len);

	switch (rnd(4)) {
	case 0:
		m[at] = set[rnd(sizeof(set) - 1)];
		break;
	case 1:
		memmove(m + at, m + at + 1, *len - at - 1);
		(*len)--;
		break;
	case 2:
		memmove(m + at + 1, m + at, *len - at);
		(*len)++;
		break;
	default:
		*len = at;
	}
}

static void one_dir(int format, bool plain, int *taken)
{
	struct dirobj d = {0};
	size_t n = rnd(12), len;
	char *json = NULL, *m;

	randombytes_buf(d.dir_id, OBJECT_ID_BYTES);
	d.entries = calloc(n ? n : 1, sizeof(*d.entries));
	for (d.nentries = 0; d.nentries < n; d.nentries++)
		rand_entry(&d.entries[d.nentries], d.nentries, format, plain);
	if (!CHECKF(dirobj_encode(&json, &len, &d, format) == 0, "encode format %d", format)) {
		dirobj_release(&d);
		return;
	}
	same_encoding(&d, json, len, format, plain);
	if (compare(json, len, format, "as encoded") == 0)
		(*taken)++;
	else
		CHECKF(!plain, "a plain object was declined: %s", json);
	m = malloc(len + 8); /* room for three inserted bytes */
	for (int k = 0; k < 60; k++) {
		size_t ml = len;
		memcpy(m, json, len);
		for (int j = 0, nm = 1 + (int)rnd(3); j < nm && ml > 0; j++)
			mutate(m, &ml);
		compare(m, ml, format, "mutated");
	}
	free(m);
	free(json);
	dirobj_release(&d);
}

/* Objects the fast path leaves to jansson, which decodes them. */
static void declined_but_valid(void)
{
	static const char *const docs[] = {
	    "{\"id\":\"0123456789abcdef0123456789abcdef\",\"e\":[]}",
	    "{\"e\": [],\"id\":\"0123456789abcdef0123456789abcdef\"}",
	    "{\"e\":[{\"a\":[-0,0],\"c\":[0,0],\"g\":0,\"id\":\"fedcba9876543210fedcba9876543210\","
	    "\"m\":33188,\"mt\":[0,0],\"n\":\"f\",\"s\":0,\"seg\":[],\"t\":\"f\",\"u\":0}],"
	    "\"id\":\"0123456789abcdef0123456789abcdef\"}",
	    "{\"e\":[{\"a\":[0,0],\"c\":[0,0],\"g\":0,\"id\":\"fedcba9876543210fedcba9876543210\","
	    "\"m\":33188,\"mt\":[0,0],\"n\":\"\\u00e9\",\"s\":0,\"seg\":[],\"t\":\"f\",\"u\":0}],"
	    "\"id\":\"0123456789abcdef0123456789abcdef\"}",
	    "{\"e\":[],\"id\":\"0123456789abcdef0123456789abcdef\"} ",
	};
	struct dirobj d;

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		CHECKF(compare(docs[i], strlen(docs[i]), 1, "declined") == DIROBJ_FAST_DECLINE,
		       "doc %zu taken by the fast path", i);
		CHECKF(dirobj_decode(&d, docs[i], strlen(docs[i]), 1) == 0, "doc %zu refused", i);
		dirobj_release(&d);
	}
}

/* Malformed in ways only the checks (not the syntax) catch: both refuse. */
static void refused(void)
{
#define F(n, id)                                                                                   \
	"{\"a\":[0,0],\"c\":[0,0],\"g\":0,\"id\":\"" id "\",\"m\":33188,\"mt\":[0,0],\"n\":\"" n   \
	"\",\"s\":0,\"seg\":[],\"t\":\"f\",\"u\":0}"
#define DOC(e) "{\"e\":[" e "],\"id\":\"0123456789abcdef0123456789abcdef\"}"
	static const char *const docs[] = {
	    DOC(F("x", "fedcba9876543210fedcba9876543210") "," F(
		"x", "00112233445566778899aabbccddeeff")), /* duplicate name */
	    DOC(F("..", "fedcba9876543210fedcba9876543210")),
	    DOC(F("a", "FEDCBA9876543210FEDCBA9876543210")), /* upper-case hex */
	    DOC("{\"a\":[0,0],\"c\":[0,0],\"g\":0,\"id\":\"fedcba9876543210fedcba9876543210\","
		"\"m\":33188,\"mt\":[0,0],\"n\":\"f\",\"s\":1,\"seg\":[],\"t\":\"f\",\"u\":0}"),
	    DOC("{\"a\":[0,0],\"c\":[0,0],\"g\":0,\"id\":\"fedcba9876543210fedcba9876543210\","
		"\"m\":16877,\"mt\":[0,0],\"n\":\"f\",\"s\":0,\"seg\":[],\"t\":\"f\",\"u\":0}"),
	};
	struct dirobj d;

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		CHECKF(compare(docs[i], strlen(docs[i]), 1, "refused") == DIROBJ_FAST_DECLINE,
		       "doc %zu taken by the fast path", i);
		if (!CHECKF(dirobj_decode(&d, docs[i], strlen(docs[i]), 1) == -EBADMSG,
			    "doc %zu accepted", i))
			dirobj_release(&d);
	}
#undef F
#undef DOC
}

/* The fast path orders keys by their index in dirobj_fast_keys, so that table
 * must be in strcmp order; keys out of order, repeated or unknown (one
 * letter short of or past a known one) are declined. */
static void key_order(void)
{
#define E(k1, k2)                                                                                  \
	"{\"e\":[{" k1 ":[0,0]," k2 ":[0,0],\"g\":0,\"id\":\"fedcba9876543210fedcba9876543210\","  \
	"\"m\":33188,\"mt\":[0,0],\"n\":\"f\",\"s\":0,\"seg\":[],\"t\":\"f\",\"u\":0}],"           \
	"\"id\":\"0123456789abcdef0123456789abcdef\"}"
	static const char *const docs[] = {
	    E("\"c\"", "\"a\""),  E("\"a\"", "\"a\""), E("\"a\"", "\"b\""),
	    E("\"a\"", "\"cc\""), E("\"\"", "\"c\""),  E("\"a\"", "\"i\""),
	};
	struct dirobj d;

	for (int k = 1; k < DK_COUNT; k++)
		CHECKF(strcmp(dirobj_fast_keys[k - 1], dirobj_fast_keys[k]) < 0, "key %d", k);
	CHECK_RC(compare(E("\"a\"", "\"c\""), strlen(E("\"a\"", "\"c\"")), 1, "in order"), 0);
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		CHECKF(dirobj_fast_decode(&d, docs[i], strlen(docs[i]), 1) == DIROBJ_FAST_DECLINE,
		       "doc %zu taken by the fast path", i);
		compare(docs[i], strlen(docs[i]), 1, "keys");
	}
#undef E
}

int main(void)
{
	int taken = 0, plain_runs = 0;

	if (sodium_init() < 0)
		return 1;
	{ /* a format past what the fast path knows is declined whole */
		static const char doc[] = "{\"e\":[],\"id\":\"0123456789abcdef0123456789abcdef\"}";
		struct dirobj d;
		CHECK_RC(dirobj_fast_decode(&d, doc, strlen(doc), DIROBJ_FAST_FORMAT_MAX + 1),
			 DIROBJ_FAST_DECLINE);
	}
	for (int i = 0; i < 300; i++) {
		int format = DIROBJ_FORMAT_MIN + i % (FORMATS - DIROBJ_FORMAT_MIN + 1);
		bool plain = i % 3 != 0;
		one_dir(format, plain, &taken);
		plain_runs += plain;
	}
	CHECKF(taken >= plain_runs, "fast path took %d of %d plain objects", taken, plain_runs);
	heads();
	key_order();
	declined_but_valid();
	refused();
	return check_done("test_dirobj_fast");
}
