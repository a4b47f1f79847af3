/* test_dirobj2.c - the format-2 schema of directory objects and the head
 * (docs/FORMAT.md, "Directory object", "Head", "Format 1"): every new member
 * and type accepted in format 2 with its exact spelling, refused in format 1
 * (decoder and encoder), and every malformed format-2 member refused. The
 * format-1 rules themselves are test_dirobj.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "check.h"
#include "dirobj.h"
#include "dirobj_check.h"

#define ID_A "0123456789abcdef0123456789abcdef"
#define ID_B "fedcba9876543210fedcba9876543210"
#define ID_C "00112233445566778899aabbccddeeff"
#define P64 ID_A ID_B
#define TIMES "\"a\":[0,0],\"mt\":[0,0],\"c\":[0,0]"
#define ATTR(m) "\"m\":" #m ",\"u\":0,\"g\":0," TIMES
#define FILE0 "\"n\":\"f\",\"t\":\"f\",\"id\":\"" ID_B "\"," ATTR(33188)
#define DIR0 "\"n\":\"d\",\"t\":\"d\",\"id\":\"" ID_B "\"," ATTR(16877)
#define FIFO0 "\"n\":\"p\",\"t\":\"p\",\"id\":\"" ID_B "\"," ATTR(4516)
#define SOCK0 "\"n\":\"s\",\"t\":\"s\",\"id\":\"" ID_B "\"," ATTR(49645)
#define CHR0 "\"n\":\"c\",\"t\":\"c\",\"id\":\"" ID_B "\"," ATTR(8612)
#define BLK0 "\"n\":\"b\",\"t\":\"b\",\"id\":\"" ID_B "\"," ATTR(24996)
#define HL(n, id) "{\"n\":\"" n "\",\"t\":\"h\",\"id\":\"" id "\"}"
#define ROOT2                                                                                      \
	"\"root\":{\"n\":\"\",\"t\":\"d\",\"id\":\"" ID_A                                          \
	"\"," ATTR(16877) ",\"v\":1,\"k\":\"" ID_A "\",\"kc\":1}"
#define HEAD2_REST                                                                                 \
	"\"t\":[1,2],\"dev\":\"" ID_C "\",\"dn\":\"laptop\",\"parent\":\"" P64                     \
	"\",\"keep\":2592000,\"gr\":86400"

static char *doc_with(const char *entries)
{
	size_t n = strlen(entries) + 128;
	char *s = malloc(n);

	snprintf(s, n, "{\"id\":\"" ID_A "\",\"e\":[%s]}", entries);
	return s;
}

/* Decodes under format, expects rc; a success must re-encode to the same
 * bytes when the input was canonical (want_same). */
static void expect_dir(const char *entries, int format, int rc, const char *what)
{
	char *s = doc_with(entries), *json = NULL;
	struct dirobj d;
	size_t len;
	int r = dirobj_decode(&d, s, strlen(s), format);

	CHECKF(r == rc, "format %d, %s: decode returned %d, want %d", format, what, r, rc);
	if (r == 0) {
		CHECKF(dirobj_encode(&json, &len, &d, format) == 0, "format %d, %s: re-encode",
		       format, what);
		free(json);
		dirobj_release(&d);
	}
	free(s);
}

/* Format 2 accepts, format 1 refuses. */
static const char *const v2_only[] = {
    "{" DIR0 ",\"v\":0,\"k\":\"" ID_A "\",\"kc\":0}",
    "{" DIR0 ",\"v\":3,\"k\":\"" ID_A "\",\"kc\":9223372036854775807}",
    "{" FILE0 ",\"s\":1048577,\"seg\":[null,[\"" ID_A "\",7]]}",
    "{" FILE0 ",\"s\":1,\"seg\":[[\"" ID_A "\",0]]}",
    "{" FIFO0 "}",
    "{" SOCK0 "}",
    "{" CHR0 ",\"rd\":259}",
    "{" BLK0 ",\"rd\":0}",
    "{" BLK0 ",\"rd\":9223372036854775807}",
    HL("h", ID_B),
    HL("h1", ID_B) "," HL("h2", ID_B), /* two names of one file in one directory */
    "{\"nb\":\"/w==\",\"t\":\"h\",\"id\":\"" ID_B "\"}",
    "{" FIFO0 ",\"x\":{\"user.a\":\"\"}}",
};

/* Format 1 accepts, format 2 refuses: the format-1 spellings of a reference. */
static const char *const v1_only[] = {
    "{" DIR0 ",\"v\":0,\"k\":\"" ID_A "\"}",
    "{" FILE0 ",\"s\":1,\"seg\":[\"" ID_A "\"]}",
};

/* Refused by both. */
static const char *const bad2[] = {
    "{" DIR0 ",\"v\":0,\"k\":\"" ID_A "\",\"kc\":-1}",
    "{" DIR0 ",\"v\":0,\"k\":\"" ID_A "\",\"kc\":1.0}",
    "{" DIR0 ",\"v\":0,\"k\":\"" ID_A "\",\"kc\":\"1\"}",
    "{" FILE0 ",\"s\":1,\"seg\":[[\"" ID_A "\"]]}",
    "{" FILE0 ",\"s\":1,\"seg\":[[\"" ID_A "\",1,2]]}",
    "{" FILE0 ",\"s\":1,\"seg\":[[\"" ID_A "\",-1]]}",
    "{" FILE0 ",\"s\":1,\"seg\":[[1,\"" ID_A "\"]]}",
    "{" FILE0 ",\"s\":1,\"seg\":[[null,0]]}",
    "{" FILE0 ",\"s\":1,\"seg\":[{\"k\":\"" ID_A "\",\"c\":1}]}",
    "{" FIFO0 ",\"rd\":0}",						      /* p has no rd */
    "{" SOCK0 ",\"rd\":1}",						      /* s has no rd */
    "{" CHR0 "}",							      /* c needs rd */
    "{" BLK0 ",\"rd\":-1}",						      /* rd range */
    "{" CHR0 ",\"rd\":\"1\"}",						      /* rd type */
    "{\"n\":\"p\",\"t\":\"p\",\"id\":\"" ID_B "\"," ATTR(33188) "}",	      /* p with S_IFREG */
    "{\"n\":\"c\",\"t\":\"c\",\"id\":\"" ID_B "\"," ATTR(24996) ",\"rd\":1}", /* c, S_IFBLK */
    "{\"n\":\"b\",\"t\":\"b\",\"id\":\"" ID_B "\"," ATTR(8612) ",\"rd\":1}",  /* b, S_IFCHR */
    "{\"n\":\"s\",\"t\":\"s\",\"id\":\"" ID_B "\"," ATTR(4516) "}",	      /* s, S_IFIFO */
    "{\"n\":\"h\",\"t\":\"h\",\"id\":\"" ID_B "\",\"m\":33188}",	      /* h: only n, t, id */
    "{\"n\":\"h\",\"t\":\"h\",\"id\":\"" ID_B "\",\"s\":0}",
    "{\"n\":\"h\",\"t\":\"h\",\"id\":\"" ID_B "\",\"x\":{\"user.a\":\"\"}}",
    "{\"n\":\"h\",\"t\":\"h\"}",
    "{\"t\":\"h\",\"id\":\"" ID_B "\"}",
    "{\"n\":\"..\",\"t\":\"h\",\"id\":\"" ID_B "\"}",
    "{\"n\":\"h\",\"nb\":\"/w==\",\"t\":\"h\",\"id\":\"" ID_B "\"}",
    "{\"nb\":\"aA==\",\"t\":\"h\",\"id\":\"" ID_B "\"}", /* nb of UTF-8 */
    HL("h", ID_B) ",{" FIFO0 "}",			 /* h shares an id with a non-h */
    HL("x", ID_B) "," HL("x", ID_A),			 /* duplicate names */
    "{\"n\":\"q\",\"t\":\"q\",\"id\":\"" ID_B "\"," ATTR(4516) "}", /* unknown type */
};

static void test_entries(void)
{
	for (size_t i = 0; i < sizeof(v2_only) / sizeof(v2_only[0]); i++) {
		expect_dir(v2_only[i], 2, 0, v2_only[i]);
		expect_dir(v2_only[i], 1, -EBADMSG, v2_only[i]);
	}
	for (size_t i = 0; i < sizeof(v1_only) / sizeof(v1_only[0]); i++) {
		expect_dir(v1_only[i], 1, 0, v1_only[i]);
		expect_dir(v1_only[i], 2, -EBADMSG, v1_only[i]);
	}
	for (size_t i = 0; i < sizeof(bad2) / sizeof(bad2[0]); i++) {
		expect_dir(bad2[i], 2, -EBADMSG, bad2[i]);
		expect_dir(bad2[i], 1, -EBADMSG, bad2[i]);
	}
	expect_dir("", 0, -EINVAL, "format 0");
	expect_dir("", DIROBJ_FORMAT_MAX + 1, -EINVAL, "a newer format");
}

static void entry(struct dirobj_entry *e, enum dirobj_type t, const char *name, int idbyte,
		  uint32_t mode)
{
	memset(e, 0, sizeof(*e));
	e->name = strdup(name);
	e->name_len = strlen(name);
	e->type = t;
	memset(e->id, idbyte, sizeof(e->id));
	e->mode = mode;
}

/* A format-2 directory of every type, encoded, decoded, compared. */
static void test_roundtrip(void)
{
	struct dirobj d = {.nentries = 7}, back;
	char *json = NULL;
	size_t len;

	memset(d.dir_id, 0x77, 16);
	d.entries = calloc(d.nentries, sizeof(*d.entries));
	entry(&d.entries[0], DIROBJ_DIR, "sub", 1, S_IFDIR | 0755);
	d.entries[0].ref = (struct dirobj_ref){.version = 4, .created = 12};
	memset(d.entries[0].ref.store_key, 0xee, 16);
	entry(&d.entries[1], DIROBJ_FILE, "f", 2, S_IFREG | 0600);
	d.entries[1].size = 2 * SEGMENT_PLAIN_BYTES + 1;
	d.entries[1].nsegments = 3;
	d.entries[1].segments = calloc(3, sizeof(*d.entries[1].segments));
	d.entries[1].segments[0] = (struct dirobj_segment){.present = true, .created = 0};
	d.entries[1].segments[2] = (struct dirobj_segment){.present = true, .created = 99};
	memset(d.entries[1].segments[2].store_key, 0x33, 16);
	entry(&d.entries[2], DIROBJ_FIFO, "fifo", 3, S_IFIFO | 0644);
	entry(&d.entries[3], DIROBJ_SOCK, "sock", 4, S_IFSOCK | 0755);
	entry(&d.entries[4], DIROBJ_CHR, "null", 5, S_IFCHR | 0666);
	d.entries[4].rdev = 0x103;
	entry(&d.entries[5], DIROBJ_HARDLINK, "a", 6, 0);
	entry(&d.entries[6], DIROBJ_HARDLINK, "b", 6, 0);
	CHECK_RC(dirobj_encode(&json, &len, &d, 2), 0);
	CHECK(json &&
	      strstr(json, "\"k\":\"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\",\"kc\":12,") != NULL);
	CHECK(json && strstr(json, "\"seg\":[[\"00000000000000000000000000000000\",0],null,"
				   "[\"33333333333333333333333333333333\",99]]") != NULL);
	CHECK(json && strstr(json, "{\"id\":\"06060606060606060606060606060606\",\"n\":\"a\","
				   "\"t\":\"h\"}") != NULL);
	CHECK(json && strstr(json, "\"rd\":259") != NULL);
	CHECK_RC(dirobj_decode(&back, json, len, 2), 0);
	CHECK(back.nentries == 7);
	if (back.nentries == 7) {
		CHECK(back.entries[0].ref.created == 12 && back.entries[0].ref.version == 4);
		CHECK(back.entries[1].segments[2].created == 99 &&
		      back.entries[1].segments[0].present && !back.entries[1].segments[1].present);
		CHECK(back.entries[4].rdev == 0x103 && back.entries[4].mode == (S_IFCHR | 0666));
		CHECK(back.entries[5].type == DIROBJ_HARDLINK && back.entries[5].mode == 0);
	}
	/* Format 1 refuses the same directory: new types, c members. */
	free(json);
	CHECK_RC(dirobj_encode(&json, &len, &d, 1), -EINVAL);
	dirobj_release(&back);
	dirobj_release(&d);
}

/* Encoder refusals of format-2 members (each on a fresh one-entry dir). */
static void expect_encode(struct dirobj_entry *e, int format, int rc, const char *what)
{
	struct dirobj d = {.nentries = 1, .entries = e};
	char *json = NULL;
	size_t len;
	int r = dirobj_encode(&json, &len, &d, format);

	CHECKF(r == rc, "format %d: encoding %s returned %d, want %d", format, what, r, rc);
	free(json);
	dirobj_entry_release(e);
}

static void test_encode_rejects(void)
{
	struct dirobj_entry e;

	entry(&e, DIROBJ_DIR, "d", 1, S_IFDIR | 0755);
	e.ref.created = 1;
	expect_encode(&e, 1, -EINVAL, "a dir reference with created in format 1");
	entry(&e, DIROBJ_DIR, "d", 1, S_IFDIR | 0755);
	e.ref.created = (uint64_t)INT64_MAX + 1;
	expect_encode(&e, 2, -EINVAL, "created beyond int64");
	entry(&e, DIROBJ_FILE, "f", 1, S_IFREG | 0644);
	e.size = 1;
	e.nsegments = 1;
	e.segments = calloc(1, sizeof(*e.segments));
	e.segments[0] = (struct dirobj_segment){.present = true, .created = 5};
	expect_encode(&e, 1, -EINVAL, "a segment with created in format 1");
	entry(&e, DIROBJ_FILE, "f", 1, S_IFREG | 0644);
	e.size = 1;
	e.nsegments = 1;
	e.segments = calloc(1, sizeof(*e.segments));
	e.segments[0] = (struct dirobj_segment){.present = false, .created = 5};
	expect_encode(&e, 1, 0, "a hole's created (not stored: ignored)");
	entry(&e, DIROBJ_FILE, "f", 1, S_IFREG | 0644);
	e.size = 1;
	e.nsegments = 1;
	e.segments = calloc(1, sizeof(*e.segments));
	e.segments[0] =
	    (struct dirobj_segment){.present = true, .created = (uint64_t)INT64_MAX + 1};
	expect_encode(&e, 2, -EINVAL, "a segment's created beyond int64");
	entry(&e, DIROBJ_FIFO, "p", 1, S_IFIFO | 0644);
	e.rdev = 1;
	expect_encode(&e, 2, -EINVAL, "a FIFO with rdev");
	entry(&e, DIROBJ_BLK, "b", 1, S_IFCHR | 0644);
	expect_encode(&e, 2, -EINVAL, "a block device with S_IFCHR");
	entry(&e, DIROBJ_CHR, "c", 1, S_IFCHR | 0644);
	e.rdev = (uint64_t)INT64_MAX + 1;
	expect_encode(&e, 2, -EINVAL, "rdev beyond int64");
	entry(&e, DIROBJ_SOCK, "s", 1, S_IFSOCK | 0644);
	expect_encode(&e, 1, -EINVAL, "a socket in format 1");
	entry(&e, DIROBJ_HARDLINK, "h", 1, 0);
	expect_encode(&e, 1, -EINVAL, "a hard link name in format 1");
	entry(&e, DIROBJ_HARDLINK, "h", 1, 0);
	e.nsegments = 1;
	e.segments = calloc(1, sizeof(*e.segments));
	expect_encode(&e, 2, -EINVAL, "a hard link name with segments");
	entry(&e, DIROBJ_HARDLINK, "..", 1, 0);
	expect_encode(&e, 2, -EINVAL, "a hard link named ..");
	entry(&e, DIROBJ_FILE, "f", 1, S_IFREG | 0644);
	expect_encode(&e, DIROBJ_FORMAT_MAX + 1, -EINVAL, "a newer format");
}

/* ---- the head ---- */

static void expect_head(const char *json, int format, int rc, const char *what)
{
	struct dirobj_head h;
	int r = dirobj_head_decode(&h, json, strlen(json), format);

	CHECKF(r == rc, "format %d, head %s: decode returned %d, want %d", format, what, r, rc);
	if (r == 0)
		dirobj_head_release(&h);
}

static const char *const heads_bad2[] = {
    "{\"seq\":1," ROOT2 "}", /* the format-2 members are required */
    "{\"seq\":1," ROOT2 ",\"dev\":\"" ID_C "\",\"dn\":\"x\",\"parent\":\"" P64
    "\",\"keep\":1,\"gr\":1}", /* no t */
    "{\"seq\":1," ROOT2 ",\"t\":[1,2],\"dn\":\"x\",\"parent\":\"" P64
    "\",\"keep\":1,\"gr\":1}", /* no dev */
    "{\"seq\":1," ROOT2 ",\"t\":[1,2],\"dev\":\"" ID_C "\",\"parent\":\"" P64
    "\",\"keep\":1,\"gr\":1}", /* no dn */
    "{\"seq\":1," ROOT2 ",\"t\":[1,2],\"dev\":\"" ID_C "\",\"dn\":\"x\",\"keep\":1,\"gr\":1}",
    "{\"seq\":1," ROOT2 ",\"t\":[1,2],\"dev\":\"" ID_C "\",\"dn\":\"x\",\"parent\":\"" P64
    "\",\"gr\":1}", /* no keep */
    "{\"seq\":1," ROOT2 ",\"t\":[1,2],\"dev\":\"" ID_C "\",\"dn\":\"x\",\"parent\":\"" P64
    "\",\"keep\":1}", /* no gr */
    "{\"seq\":1," ROOT2 ",\"t\":[1,1000000000],\"dev\":\"" ID_C "\",\"dn\":\"x\",\"parent\":\"" P64
    "\",\"keep\":1,\"gr\":1}",
    "{\"seq\":1," ROOT2 ",\"t\":[1,2],\"dev\":\"" ID_C "0\",\"dn\":\"x\",\"parent\":\"" P64
    "\",\"keep\":1,\"gr\":1}",
    "{\"seq\":1," ROOT2 ",\"t\":[1,2],\"dev\":\"" ID_C "\",\"dn\":\"\",\"parent\":\"" P64
    "\",\"keep\":1,\"gr\":1}", /* empty name */
    "{\"seq\":1," ROOT2 ",\"t\":[1,2],\"dev\":\"" ID_C "\",\"dn\":\"a\\nb\",\"parent\":\"" P64
    "\",\"keep\":1,\"gr\":1}", /* control character */
    "{\"seq\":1," ROOT2 ",\"t\":[1,2],\"dev\":\"" ID_C "\",\"dn\":\"a\\u0085\",\"parent\":\"" P64
    "\",\"keep\":1,\"gr\":1}", /* C1 control */
    "{\"seq\":1," ROOT2 ",\"t\":[1,2],\"dev\":\"" ID_C "\",\"dn\":\"a\\u007f\",\"parent\":\"" P64
    "\",\"keep\":1,\"gr\":1}", /* DEL */
    "{\"seq\":1," ROOT2 ",\"t\":[1,2],\"dev\":\"" ID_C
    "\",\"dn\":\"0123456789012345678901234567890123456789012345678901234567890123x\","
    "\"parent\":\"" P64 "\",\"keep\":1,\"gr\":1}", /* 65 bytes */
    "{\"seq\":1," ROOT2 ",\"t\":[1,2],\"dev\":\"" ID_C "\",\"dn\":\"x\",\"parent\":\"" ID_A
    "\",\"keep\":1,\"gr\":1}", /* parent of 16 bytes */
    "{\"seq\":1," ROOT2 ",\"t\":[1,2],\"dev\":\"" ID_C "\",\"dn\":\"x\",\"parent\":\"" P64
    "\",\"keep\":-1,\"gr\":1}",
    "{\"seq\":1," ROOT2 "," HEAD2_REST ",\"hist\":{\"k\":\"" ID_A "\",\"v\":1}}", /* no c */
    "{\"seq\":1," ROOT2 "," HEAD2_REST ",\"g\":{\"k\":\"" ID_A "\",\"v\":1,\"c\":1,\"x\":1}}",
    "{\"seq\":1," ROOT2 "," HEAD2_REST ",\"it\":{\"k\":\"" ID_A "\",\"v\":-1,\"c\":1}}",
    "{\"seq\":1," ROOT2 "," HEAD2_REST ",\"it\":[\"" ID_A "\",1]}",
    "{\"seq\":1," ROOT2 "," HEAD2_REST ",\"x\":1}", /* unknown member */
    "{\"seq\":1,\"root\":{\"n\":\"\",\"t\":\"d\",\"id\":\"" ID_A
    "\"," ATTR(16877) ",\"v\":1,\"k\":\"" ID_A "\"}," HEAD2_REST "}", /* a root without kc */
};

static void test_head(void)
{
	static const char v2[] = "{\"seq\":7," ROOT2 "," HEAD2_REST "}";
	static const char v2_refs[] =
	    "{\"seq\":7," ROOT2 "," HEAD2_REST ",\"hist\":{\"c\":5,\"k\":\"" ID_A "\",\"v\":2},"
	    "\"g\":{\"c\":7,\"k\":\"" ID_B "\",\"v\":0},"
	    "\"it\":{\"c\":0,\"k\":\"" ID_C "\",\"v\":9}}";
	struct dirobj_head h, back;
	char *json = NULL, *json2 = NULL;
	size_t len, len2;

	expect_head(v2, 1, -EBADMSG, "format 2 read as format 1");
	expect_head(v2_refs, 1, -EBADMSG, "with REFs read as format 1");
	for (size_t i = 0; i < sizeof(heads_bad2) / sizeof(heads_bad2[0]); i++)
		expect_head(heads_bad2[i], 2, -EBADMSG, heads_bad2[i]);
	expect_head(v2, 0, -EINVAL, "format 0");
	CHECK_RC(dirobj_head_decode(&h, v2_refs, strlen(v2_refs), 2), 0);
	CHECK(h.seq == 7 && h.time.sec == 1 && h.time.nsec == 2 && h.keep == 2592000 &&
	      h.grace == 86400 && strcmp(h.device_name, "laptop") == 0 && h.device[0] == 0x00 &&
	      h.device[15] == 0xff && h.parent[0] == 0x01 && h.parent[31] == 0x10);
	CHECK(h.has_history && h.history.created == 5 && h.history.version == 2);
	CHECK(h.has_garbage && h.garbage.created == 7 && h.has_inodes && h.inodes.version == 9);
	CHECK(h.root.ref.created == 1);
	CHECK_RC(dirobj_head_encode(&json, &len, &h, 2), 0);
	CHECK(json && strstr(json, "\"g\":{\"c\":7,\"k\":\"" ID_B "\",\"v\":0}") != NULL);
	CHECK(json && strstr(json, "\"dn\":\"laptop\",\"g\":") != NULL); /* sorted keys */
	CHECK_RC(dirobj_head_decode(&back, json, len, 2), 0);
	CHECK_RC(dirobj_head_encode(&json2, &len2, &back, 2), 0);
	CHECK(json && json2 && len == len2 && memcmp(json, json2, len) == 0);
	free(json2);
	free(json);
	dirobj_head_release(&back);
	/* Format 1 refuses to encode any format-2 member. */
	CHECK_RC(dirobj_head_encode(&json, &len, &h, 1), -EINVAL);
	h.has_history = h.has_garbage = h.has_inodes = false;
	h.root.ref.created = 0;
	CHECK_RC(dirobj_head_encode(&json, &len, &h, 1), -EINVAL); /* t, dev, dn, ... */
	memset(&h.time, 0, sizeof(h.time));
	memset(h.device, 0, sizeof(h.device));
	memset(h.parent, 0, sizeof(h.parent));
	h.device_name[0] = '\0';
	h.keep = h.grace = 0;
	CHECK_RC(dirobj_head_encode(&json, &len, &h, 1), 0);
	CHECK(json && strncmp(json, "{\"root\":", 8) == 0 && strstr(json, "\"kc\"") == NULL &&
	      strstr(json, "\"dn\"") == NULL);
	free(json);
	/* ... and format 2 requires a device name. */
	CHECK_RC(dirobj_head_encode(&json, &len, &h, 2), -EINVAL);
	snprintf(h.device_name, sizeof(h.device_name), "a\tb");
	CHECK_RC(dirobj_head_encode(&json, &len, &h, 2), -EINVAL);
	dirobj_head_release(&h);
}

/* dirobj_check_unique against the rule spelled pair by pair: no two
 * entries share a name, and two share an id only when both are hard links.
 * Random small directories over few names and ids (so clashes are common),
 * ids that agree in the first 8 bytes (the hash: every id probes one chain),
 * and sizes that wrap the table. */
static void test_check_unique(void)
{
	static const char *names[] = {"a", "ab", "b", "ba", "c", "cc", "d", "dd", "e", "ee"};
	unsigned seed = 12345;
	int wrong = 0;

	for (int round = 0; round < 4000; round++) {
		struct dirobj d = {0};
		int want = 0;

		d.nentries = 1 + (size_t)(round % 9);
		d.entries = calloc(d.nentries, sizeof(*d.entries));
		for (size_t i = 0; i < d.nentries; i++) {
			seed = seed * 1103515245u + 12345u;
			entry(&d.entries[i], (seed >> 16) % 3 ? DIROBJ_HARDLINK : DIROBJ_FILE,
			      names[(seed >> 8) % 10], 0x40, S_IFREG | 0644);
			d.entries[i].id[15] = (uint8_t)((seed >> 20) % 4);
		}
		for (size_t i = 0; i < d.nentries; i++)
			for (size_t j = i + 1; j < d.nentries; j++) {
				const struct dirobj_entry *x = &d.entries[i], *y = &d.entries[j];
				if (strcmp(x->name, y->name) == 0 ||
				    (memcmp(x->id, y->id, 16) == 0 &&
				     (x->type != DIROBJ_HARDLINK || y->type != DIROBJ_HARDLINK)))
					want = -EEXIST;
			}
		wrong += dirobj_check_unique(&d) != want;
		dirobj_release(&d);
	}
	CHECKF(wrong == 0, "%d random directories judged unlike the pair rule", wrong);

	for (size_t n = 2; n <= 2100; n += 349) { /* many entries, one probe chain of ids */
		struct dirobj d = {.nentries = n};
		char nm[16];

		d.entries = calloc(n, sizeof(*d.entries));
		for (size_t i = 0; i < n; i++) {
			snprintf(nm, sizeof(nm), "n%zu", i);
			entry(&d.entries[i], DIROBJ_FILE, nm, 0x40, S_IFREG | 0644);
			memcpy(d.entries[i].id + 8, &i, sizeof(i));
		}
		CHECK_RC(dirobj_check_unique(&d), 0);
		memcpy(d.entries[n - 1].id, d.entries[0].id, 16); /* last repeats first's id */
		CHECK_RC(dirobj_check_unique(&d), -EEXIST);
		memcpy(d.entries[n - 1].id + 8, &n, sizeof(n));
		free(d.entries[n - 1].name); /* and now its name */
		d.entries[n - 1].name = strdup(d.entries[(n - 1) / 2].name);
		d.entries[n - 1].name_len = strlen(d.entries[n - 1].name);
		CHECK_RC(dirobj_check_unique(&d), -EEXIST);
		dirobj_release(&d);
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_entries();
	test_roundtrip();
	test_encode_rejects();
	test_head();
	test_check_unique();
	return check_done("test_dirobj2");
}
