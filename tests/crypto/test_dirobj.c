/* test_dirobj.c - directory objects and the head: round trips of every kind
 * of entry, the exact spelling of names and targets, and the refusal of every
 * malformed or non-canonical object by both the decoder and the encoder. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "check.h"
#include "dirobj.h"

#define ID_A "0123456789abcdef0123456789abcdef"
#define ID_B "fedcba9876543210fedcba9876543210"

static char *dup_bytes(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void set_name(struct dirobj_entry *e, const char *s, size_t n)
{
	free(e->name);
	e->name = dup_bytes(s, n);
	e->name_len = n;
}

static void base_entry(struct dirobj_entry *e, enum dirobj_type t, const char *name, int idbyte)
{
	memset(e, 0, sizeof(*e));
	set_name(e, name, strlen(name));
	e->type = t;
	memset(e->id, idbyte, sizeof(e->id));
	e->mode = (t == DIROBJ_FILE  ? S_IFREG | 0644
		   : t == DIROBJ_DIR ? S_IFDIR | 0755
				     : S_IFLNK | 0777);
	e->uid = 1000;
	e->gid = 4294967295u;
	e->atime = (struct dirobj_time){-5, 999999999};
	e->mtime = (struct dirobj_time){1700000000, 1};
	e->ctime = (struct dirobj_time){INT64_MAX, 0};
}

static void set_file(struct dirobj_entry *e, uint64_t size, const char *holes)
{
	e->size = size;
	e->nsegments = strlen(holes);
	e->segments = calloc(e->nsegments + 1, sizeof(*e->segments));
	for (size_t i = 0; i < e->nsegments; i++) {
		e->segments[i].present = holes[i] == 'p';
		if (e->segments[i].present)
			memset(e->segments[i].store_key, (int)(0x30 + i), 16);
	}
}

static void set_target(struct dirobj_entry *e, const char *t, size_t n)
{
	e->target = dup_bytes(t, n);
	e->target_len = n;
}

static void add_xattr(struct dirobj_entry *e, const char *name, const void *v, size_t n)
{
	struct dirobj_xattr *x;

	e->xattrs = realloc(e->xattrs, (e->nxattrs + 1) * sizeof(*e->xattrs));
	x = &e->xattrs[e->nxattrs++];
	x->name = dup_bytes(name, strlen(name));
	x->value = n ? (unsigned char *)dup_bytes(v, n) : NULL;
	x->len = n;
}

static void sample_dir(struct dirobj *d)
{
	memset(d, 0, sizeof(*d));
	memset(d->dir_id, 0x77, 16);
	d->nentries = 7;
	d->entries = calloc(d->nentries, sizeof(*d->entries));
	base_entry(&d->entries[0], DIROBJ_FILE, "hello.txt", 1);
	set_file(&d->entries[0], 5000, "p");
	add_xattr(&d->entries[0], "user.comment", "h\0i", 3);
	add_xattr(&d->entries[0], "user.empty", "", 0);
	base_entry(&d->entries[1], DIROBJ_FILE, "sparse", 2);
	set_file(&d->entries[1], 3 * SEGMENT_PLAIN_BYTES + 1, "pnnp");
	base_entry(&d->entries[2], DIROBJ_FILE, "x", 3);
	set_name(&d->entries[2], "\xff\xfe latin1 \xe9", 11); /* not UTF-8 */
	set_file(&d->entries[2], 0, "");
	base_entry(&d->entries[3], DIROBJ_DIR, "sub dir \xc3\xa9", 4);
	d->entries[3].ref.version = 3;
	memset(d->entries[3].ref.store_key, 0xee, 16);
	base_entry(&d->entries[4], DIROBJ_SYMLINK, "ln", 5);
	set_target(&d->entries[4], "../hello.txt", 12);
	base_entry(&d->entries[5], DIROBJ_SYMLINK, "ln2", 6);
	set_target(&d->entries[5], "\x80\x81", 2);
	base_entry(&d->entries[6], DIROBJ_FILE, "...", 7);
	set_file(&d->entries[6], SEGMENT_PLAIN_BYTES, "n");
}

static bool time_eq(struct dirobj_time a, struct dirobj_time b)
{
	return a.sec == b.sec && a.nsec == b.nsec;
}

static bool entry_eq(const struct dirobj_entry *a, const struct dirobj_entry *b)
{
	if (a->name_len != b->name_len || memcmp(a->name, b->name, a->name_len) ||
	    a->name[a->name_len] || a->type != b->type || memcmp(a->id, b->id, 16) ||
	    a->mode != b->mode || a->uid != b->uid || a->gid != b->gid ||
	    !time_eq(a->atime, b->atime) || !time_eq(a->mtime, b->mtime) ||
	    !time_eq(a->ctime, b->ctime) || a->nxattrs != b->nxattrs)
		return false;
	if (a->type == DIROBJ_FILE &&
	    (a->size != b->size || a->nsegments != b->nsegments ||
	     (a->nsegments &&
	      memcmp(a->segments, b->segments, a->nsegments * sizeof(*a->segments)))))
		return false;
	if (a->type == DIROBJ_DIR &&
	    (a->ref.version != b->ref.version || memcmp(a->ref.store_key, b->ref.store_key, 16)))
		return false;
	if (a->type == DIROBJ_SYMLINK &&
	    (a->target_len != b->target_len || memcmp(a->target, b->target, a->target_len)))
		return false;
	for (size_t i = 0; i < a->nxattrs; i++) {
		size_t j = 0;
		while (j < b->nxattrs && strcmp(a->xattrs[i].name, b->xattrs[j].name))
			j++;
		if (j == b->nxattrs || a->xattrs[i].len != b->xattrs[j].len ||
		    (a->xattrs[i].len &&
		     memcmp(a->xattrs[i].value, b->xattrs[j].value, a->xattrs[i].len)))
			return false;
	}
	return true;
}

static void test_roundtrip(void)
{
	struct dirobj d, back;
	char *json = NULL, *json2 = NULL;
	size_t len = 0, len2 = 0;

	sample_dir(&d);
	CHECK_RC(dirobj_encode(&json, &len, &d, 1), 0);
	CHECK(json && strlen(json) == len);
	CHECK_RC(dirobj_decode(&back, json, len, 1), 0);
	CHECK(back.nentries == d.nentries && memcmp(back.dir_id, d.dir_id, 16) == 0);
	for (size_t i = 0; i < d.nentries && i < back.nentries; i++)
		CHECK(entry_eq(&d.entries[i], &back.entries[i]));
	CHECK_RC(dirobj_encode(&json2, &len2, &back, 1), 0);
	CHECK(len2 == len && json2 && memcmp(json, json2, len) == 0); /* deterministic */
	/* spelling: UTF-8 names as text, others base64 (ORIGINAL variant) */
	CHECK(strstr(json, "\"n\":\"sub dir \xc3\xa9\"") != NULL);
	CHECK(strstr(json, "\"nb\":\"//4gbGF0aW4xIOk=\"") != NULL);
	CHECK(strstr(json, "\"tgb\":\"gIE=\"") != NULL);
	CHECK(strstr(json, "\"tg\":\"../hello.txt\"") != NULL);
	CHECK(strstr(json, "\"seg\":[\"3030303030303030303030303030303030\"") == NULL);
	CHECK(strstr(json, "\"seg\":[\"30303030303030303030303030303030\",null,null,"
			   "\"33333333333333333333333333333333\"]") != NULL);
	CHECK(strstr(json, "\"x\":{\"user.comment\":\"aABp\",\"user.empty\":\"\"}") != NULL);
	CHECK(strstr(json, "\"a\":[-5,999999999]") != NULL);
	free(json);
	free(json2);
	dirobj_release(&back);
	dirobj_release(&d);
	CHECK(d.entries == NULL && d.nentries == 0);
}

static void test_empty_and_head(void)
{
	struct dirobj d = {.nentries = 0}, back;
	struct dirobj_head h, hb;
	char *json;
	size_t len;

	CHECK_RC(dirobj_encode(&json, &len, &d, 1), 0);
	CHECK(strcmp(json, "{\"e\":[],\"id\":\"00000000000000000000000000000000\"}") == 0);
	CHECK_RC(dirobj_decode(&back, json, len, 1), 0);
	CHECK(back.nentries == 0);
	dirobj_release(&back);
	free(json);
	memset(&h, 0, sizeof(h));
	h.seq = 42;
	base_entry(&h.root, DIROBJ_DIR, "", 9);
	h.root.ref.version = 5;
	memset(h.root.ref.store_key, 0xab, 16);
	CHECK_RC(dirobj_head_encode(&json, &len, &h, 1), 0);
	CHECK_RC(dirobj_head_decode(&hb, json, len, 1), 0);
	CHECK(hb.seq == 42 && entry_eq(&h.root, &hb.root));
	CHECK(strstr(json, "\"n\":\"\"") != NULL && strncmp(json, "{\"root\":{", 9) == 0);
	free(json);
	dirobj_head_release(&hb);
	set_name(&h.root, "root", 4);
	CHECK_RC(dirobj_head_encode(&json, &len, &h, 1), -EINVAL);
	set_name(&h.root, "", 0);
	h.root.type = DIROBJ_FILE;
	h.root.mode = S_IFREG | 0644;
	CHECK_RC(dirobj_head_encode(&json, &len, &h, 1), -EINVAL);
	dirobj_head_release(&h);
}

/* An entry object with the given fields spliced into a valid directory. */
static char *doc_with(const char *entry)
{
	size_t n = strlen(entry) + 128;
	char *s = malloc(n);

	snprintf(s, n, "{\"id\":\"" ID_A "\",\"e\":[%s]}", entry);
	return s;
}

#define TIMES "\"a\":[0,0],\"mt\":[0,0],\"c\":[0,0]"
#define FILE0 "\"n\":\"f\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":0," TIMES
#define DIR0 "\"n\":\"d\",\"t\":\"d\",\"id\":\"" ID_B "\",\"m\":16877,\"u\":0,\"g\":0," TIMES
#define LNK0 "\"n\":\"l\",\"t\":\"l\",\"id\":\"" ID_B "\",\"m\":41471,\"u\":0,\"g\":0," TIMES

static const char *const good_entries[] = {
    "{" FILE0 ",\"s\":0,\"seg\":[]}",
    "{" FILE0 ",\"s\":1048576,\"seg\":[null]}",
    "{" FILE0 ",\"s\":1048577,\"seg\":[null,\"" ID_A "\"]}",
    "{" DIR0 ",\"v\":0,\"k\":\"" ID_A "\"}",
    "{" LNK0 ",\"tg\":\"t\"}",
    "{" FILE0 ",\"s\":0,\"seg\":[],\"x\":{\"user.a\":\"\"}}",
};

static const char *const bad_entries[] = {
    "{" FILE0 "}",							  /* no size */
    "{" FILE0 ",\"s\":1,\"seg\":[]}",					  /* segment count */
    "{" FILE0 ",\"s\":0,\"seg\":[null]}",				  /* segment count */
    "{" FILE0 ",\"s\":1048577,\"seg\":[null]}",				  /* segment count */
    "{" FILE0 ",\"s\":-1,\"seg\":[]}",					  /* negative size */
    "{" FILE0 ",\"s\":0.0,\"seg\":[]}",					  /* real */
    "{" FILE0 ",\"s\":\"0\",\"seg\":[]}",				  /* string */
    "{" FILE0 ",\"s\":1,\"seg\":[\"" ID_A "0\"]}",			  /* key length */
    "{" FILE0 ",\"s\":1,\"seg\":[\"0123456789ABCDEF0123456789abcdef\"]}", /* upper hex */
    "{" FILE0 ",\"s\":1,\"seg\":[1]}",					  /* key type */
    "{" FILE0 ",\"s\":1,\"seg\":null}",					  /* seg type */
    "{" FILE0 ",\"s\":0,\"seg\":[],\"v\":1}",				  /* dir field on a file */
    "{" FILE0 ",\"s\":0,\"seg\":[],\"zz\":1}",				  /* unknown field */
    "{" FILE0 ",\"s\":0,\"seg\":[],\"x\":{}}",				  /* empty xattr object */
    "{" FILE0 ",\"s\":0,\"seg\":[],\"x\":[]}",				  /* xattr type */
    "{" FILE0 ",\"s\":0,\"seg\":[],\"x\":{\"user.a\":\"a\"}}",		  /* bad base64 */
    "{" FILE0 ",\"s\":0,\"seg\":[],\"x\":{\"user.a\":\"YR==\"}}",	  /* non-canonical */
    "{" FILE0 ",\"s\":0,\"seg\":[],\"x\":{\"\":\"\"}}",			  /* empty xattr name */
    "{" FILE0 ",\"s\":0,\"seg\":[],\"x\":{\"a\":\"\",\"a\":\"\"}}",	  /* duplicate key */
    "{" DIR0 ",\"v\":0}",						  /* no store key */
    "{" DIR0 ",\"k\":\"" ID_A "\"}",					  /* no version */
    "{" DIR0 ",\"v\":-1,\"k\":\"" ID_A "\"}",
    "{" DIR0 ",\"v\":0,\"k\":\"" ID_A "\",\"s\":0}", /* file field on a dir */
    "{" LNK0 "}",				     /* no target */
    "{" LNK0 ",\"tg\":\"\"}",			     /* empty target */
    "{" LNK0 ",\"tg\":\"a\",\"tgb\":\"gA==\"}",	     /* both spellings */
    "{" LNK0 ",\"tgb\":\"YQ==\"}",		     /* base64 of valid UTF-8 */
    "{" LNK0 ",\"tgb\":\"AA==\"}",		     /* NUL in target */
    "{" LNK0 ",\"tg\":\"a\",\"seg\":[]}",
    "{\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":0," TIMES ",\"s\":0,\"seg\":[]}",
    "{\"n\":\"a\",\"nb\":\"gA==\",\"t\":\"f\",\"id\":\"" ID_B
    "\",\"m\":33188,\"u\":0,\"g\":0," TIMES ",\"s\":0,\"seg\":[]}",
    "{\"nb\":\"YQ==\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":0," TIMES
    ",\"s\":0,\"seg\":[]}",
    "{\"nb\":\"gC+A\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":0," TIMES
    ",\"s\":0,\"seg\":[]}", /* '/' inside a base64 name */
    "{\"n\":\"\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":0," TIMES
    ",\"s\":0,\"seg\":[]}",
    "{\"n\":\".\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":0," TIMES
    ",\"s\":0,\"seg\":[]}",
    "{\"n\":\"..\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":0," TIMES
    ",\"s\":0,\"seg\":[]}",
    "{\"n\":\"a/b\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":0," TIMES
    ",\"s\":0,\"seg\":[]}",
    "{\"n\":\"a\\u0000\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":0," TIMES
    ",\"s\":0,\"seg\":[]}",
    "{\"n\":\"f\",\"t\":\"x\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":0," TIMES
    ",\"s\":0,\"seg\":[]}",
    "{\"n\":\"f\",\"t\":\"ff\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":0," TIMES
    ",\"s\":0,\"seg\":[]}",
    "{\"n\":\"f\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":16877,\"u\":0,\"g\":0," TIMES
    ",\"s\":0,\"seg\":[]}",
    "{\"n\":\"f\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":420,\"u\":0,\"g\":0," TIMES
    ",\"s\":0,\"seg\":[]}",
    "{\"n\":\"f\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":98724,\"u\":0,\"g\":0," TIMES
    ",\"s\":0,\"seg\":[]}",
    "{\"n\":\"f\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":4294967296,\"g\":0," TIMES
    ",\"s\":0,\"seg\":[]}",
    "{\"n\":\"f\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":-1," TIMES
    ",\"s\":0,\"seg\":[]}",
    "{\"n\":\"f\",\"t\":\"f\",\"id\":\"" ID_A "0\",\"m\":33188,\"u\":0,\"g\":0," TIMES
    ",\"s\":0,\"seg\":[]}",
    "{" FILE0 ",\"s\":0,\"seg\":[],\"a\":[0,0]}", /* duplicate key */
    "{\"n\":\"f\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":0,"
    "\"a\":[0,1000000000],\"mt\":[0,0],\"c\":[0,0],\"s\":0,\"seg\":[]}",
    "{\"n\":\"f\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":0,"
    "\"a\":[0,-1],\"mt\":[0,0],\"c\":[0,0],\"s\":0,\"seg\":[]}",
    "{\"n\":\"f\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":0,"
    "\"a\":[0,0,0],\"mt\":[0,0],\"c\":[0,0],\"s\":0,\"seg\":[]}",
    "{\"n\":\"f\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":0,"
    "\"a\":[0],\"mt\":[0,0],\"c\":[0,0],\"s\":0,\"seg\":[]}",
    "{\"n\":\"f\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":0,"
    "\"a\":{},\"mt\":[0,0],\"c\":[0,0],\"s\":0,\"seg\":[]}",
    "{\"n\":\"f\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":0,"
    "\"mt\":[0,0],\"c\":[0,0],\"s\":0,\"seg\":[]}",
    "{\"n\":\"f\",\"t\":\"f\",\"id\":\"" ID_B "\",\"m\":33188,\"u\":0,\"g\":0,"
    "\"a\":[1e3,0],\"mt\":[0,0],\"c\":[0,0],\"s\":0,\"seg\":[]}",
    "[]",
    "1",
};

static const char *const bad_docs[] = {
    "",
    "null",
    "[]",
    "{}",
    "{\"id\":\"" ID_A "\"}",
    "{\"e\":[]}",
    "{\"id\":\"" ID_A "\",\"e\":{}}",
    "{\"id\":\"" ID_A "\",\"e\":[],\"x\":1}",
    "{\"id\":\"" ID_A "\",\"e\":[],\"id\":\"" ID_A "\"}",
    "{\"id\":\"0123\",\"e\":[]}",
    "{\"id\":\"" ID_A "\",\"e\":[]} ,",
    "{\"id\":\"" ID_A "\",\"e\":[]",
    "{\"id\":\"" ID_A "\",\"e\":[{" FILE0 ",\"s\":0,\"seg\":[]},{" FILE0 ",\"s\":0,\"seg\":[]}]}",
    "{\"id\":\"" ID_A "\",\"e\":[{" FILE0 ",\"s\":99999999999999999999,\"seg\":[]}]}",
};

static void test_decode_rejects(void)
{
	struct dirobj d;
	char *s;

	for (size_t i = 0; i < sizeof(good_entries) / sizeof(good_entries[0]); i++) {
		s = doc_with(good_entries[i]);
		CHECK_RC(dirobj_decode(&d, s, strlen(s), 1), 0);
		dirobj_release(&d);
		free(s);
	}
	for (size_t i = 0; i < sizeof(bad_entries) / sizeof(bad_entries[0]); i++) {
		s = doc_with(bad_entries[i]);
		CHECKF(dirobj_decode(&d, s, strlen(s), 1) == -EBADMSG && !d.entries && !d.nentries,
		       "accepted bad entry %zu: %s", i, bad_entries[i]);
		free(s);
	}
	for (size_t i = 0; i < sizeof(bad_docs) / sizeof(bad_docs[0]); i++) {
		CHECKF(dirobj_decode(&d, bad_docs[i], strlen(bad_docs[i]), 1) == -EBADMSG,
		       "accepted bad doc %zu: %s", i, bad_docs[i]);
	}
	/* Two entries with distinct names but the same id (a hard link). */
	s = doc_with("{" FILE0 ",\"s\":0,\"seg\":[]},{\"n\":\"g\",\"t\":\"f\",\"id\":\"" ID_B
		     "\",\"m\":33188,\"u\":0,\"g\":0," TIMES ",\"s\":0,\"seg\":[]}");
	CHECK_RC(dirobj_decode(&d, s, strlen(s), 1), -EBADMSG);
	free(s);
	/* A NUL byte in the input, and input that stops inside the object. */
	CHECK_RC(dirobj_decode(&d, "{\"id\":\0", 7, 1), -EBADMSG);
	CHECK_RC(dirobj_decode(&d, "{\"id\":\"" ID_A "\",\"e\":[]}", 20, 1), -EBADMSG);
}

static void test_head_rejects(void)
{
	static const char *const bad[] = {
	    "{\"seq\":1}",
	    "{\"seq\":-1,\"root\":{\"n\":\"\",\"t\":\"d\",\"id\":\"" ID_A "\",\"m\":16877,"
	    "\"u\":0,\"g\":0," TIMES ",\"v\":0,\"k\":\"" ID_A "\"}}",
	    "{\"seq\":1,\"root\":{\"n\":\"r\",\"t\":\"d\",\"id\":\"" ID_A "\",\"m\":16877,"
	    "\"u\":0,\"g\":0," TIMES ",\"v\":0,\"k\":\"" ID_A "\"}}",
	    "{\"seq\":1,\"root\":{" FILE0 ",\"s\":0,\"seg\":[]}}",
	    "{\"seq\":1,\"root\":{\"n\":\"\",\"t\":\"d\",\"id\":\"" ID_A "\",\"m\":16877,"
	    "\"u\":0,\"g\":0," TIMES ",\"v\":0,\"k\":\"" ID_A "\"},\"x\":0}",
	    "{\"seq\":1,\"root\":[]}",
	};
	static const char good[] =
	    "{\"seq\":1,\"root\":{\"n\":\"\",\"t\":\"d\",\"id\":\"" ID_A
	    "\",\"m\":16877,\"u\":0,\"g\":0," TIMES ",\"v\":0,\"k\":\"" ID_A "\"}}";
	struct dirobj_head h;

	CHECK_RC(dirobj_head_decode(&h, good, strlen(good), 1), 0);
	CHECK(h.seq == 1 && h.root.type == DIROBJ_DIR && h.root.name_len == 0);
	dirobj_head_release(&h);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECKF(dirobj_head_decode(&h, bad[i], strlen(bad[i]), 1) == -EBADMSG,
		       "accepted bad head %zu", i);
	}
}

/* Mutates entry i of a fresh sample, then expects dirobj_encode to refuse. */
static void expect_encode_rejects(void (*mutate)(struct dirobj *), const char *what)
{
	struct dirobj d;
	char *json = (char *)1;
	size_t len = 1;
	int rc;

	sample_dir(&d);
	mutate(&d);
	rc = dirobj_encode(&json, &len, &d, 1);
	CHECKF(rc == -EINVAL && json == NULL, "encoder accepted: %s (rc %d)", what, rc);
	dirobj_release(&d);
}

static void m_slash(struct dirobj *d) { set_name(&d->entries[0], "a/b", 3); }
static void m_dot(struct dirobj *d) { set_name(&d->entries[0], "..", 2); }
static void m_empty(struct dirobj *d) { set_name(&d->entries[0], "", 0); }
static void m_nul(struct dirobj *d) { set_name(&d->entries[0], "a\0b", 3); }
static void m_long(struct dirobj *d)
{
	char n[256];

	memset(n, 'a', sizeof(n));
	set_name(&d->entries[0], n, sizeof(n));
}
static void m_dup(struct dirobj *d) { set_name(&d->entries[1], "hello.txt", 9); }
static void m_dup_id(struct dirobj *d) { memcpy(d->entries[1].id, d->entries[0].id, 16); }
static void m_type(struct dirobj *d) { d->entries[0].type = (enum dirobj_type)'x'; }
static void m_mode(struct dirobj *d) { d->entries[0].mode = S_IFDIR | 0755; }
static void m_mode_bits(struct dirobj *d) { d->entries[0].mode |= 0x100000; }
static void m_segs(struct dirobj *d) { d->entries[0].size = SEGMENT_PLAIN_BYTES + 1; }
static void m_size(struct dirobj *d) { d->entries[2].size = (uint64_t)INT64_MAX + 1; }
static void m_nsec(struct dirobj *d) { d->entries[0].mtime.nsec = 1000000000; }
static void m_target(struct dirobj *d) { d->entries[4].target_len = 0; }
static void m_xdup(struct dirobj *d) { add_xattr(&d->entries[0], "user.empty", "v", 1); }
static void m_xname(struct dirobj *d) { add_xattr(&d->entries[0], "user.\xff", "v", 1); }
static void m_xbig(struct dirobj *d)
{
	static char v[DIROBJ_XATTR_VALUE_MAX + 1];

	add_xattr(&d->entries[0], "user.big", v, sizeof(v));
}

static void test_encode_rejects(void)
{
	expect_encode_rejects(m_slash, "name with '/'");
	expect_encode_rejects(m_dot, "name ..");
	expect_encode_rejects(m_empty, "empty name");
	expect_encode_rejects(m_nul, "name with NUL");
	expect_encode_rejects(m_long, "256-byte name");
	expect_encode_rejects(m_dup, "duplicate names");
	expect_encode_rejects(m_dup_id, "duplicate ids");
	expect_encode_rejects(m_type, "bad type");
	expect_encode_rejects(m_mode, "mode of another type");
	expect_encode_rejects(m_mode_bits, "mode bits beyond 07777");
	expect_encode_rejects(m_segs, "segment count not matching size");
	expect_encode_rejects(m_size, "size beyond int64");
	expect_encode_rejects(m_nsec, "nanoseconds out of range");
	expect_encode_rejects(m_target, "empty symlink target");
	expect_encode_rejects(m_xdup, "duplicate xattr");
	expect_encode_rejects(m_xname, "xattr name not UTF-8");
	expect_encode_rejects(m_xbig, "xattr value too large");
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_roundtrip();
	test_empty_and_head();
	test_decode_rejects();
	test_head_rejects();
	test_encode_rejects();
	return check_done("test_dirobj");
}
