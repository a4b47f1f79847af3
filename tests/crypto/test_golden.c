/* test_golden.c - committed example vaults (tests/data/crypto/golden-*), one
 * per content cipher and format (golden-SUITE: format 1; golden-v2-SUITE:
 * format 2; golden-v3-SUITE: format 3, its "docs" a paged directory of two
 * pages), written once by `test_crypto_golden --generate DIR SUITE` (which
 * writes the current format) and never again: reading them proves that
 * today's code still opens yesterday's bytes (format stability), through the
 * same steps as the "Reading a vault by hand" section of docs/FORMAT.md. */
#include <errno.h>
#include <sys/stat.h>

#include "dirobj.h"
#include "dirpage.h"
#include "hex.h"
#include "meta.h"
#include "recovery.h"
#include "vault.h"
#include "vectors.h"

#define GOLDEN_PASS "sealfs golden vault"
#define HELLO "Hello, sealfs!\n"
#define BIG_BYTES 5000
#define GOLDEN_RDEV 1024u /* "tty0": makedev(4, 0) */

static char *read_file(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	FILE *f;
	char *buf = NULL;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = '\0';
			*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

/* Where the per-file keys live, as in a mount (made in main). */
static struct secmem_pool *keys;

static void object_name(char out[40], const uint8_t key[16])
{
	char hex[33];

	hex_encode(hex, sizeof(hex), key, 16);
	snprintf(out, 40, "o/%.2s/%s", hex, hex);
}

static void big_content(unsigned char *buf)
{
	for (int i = 0; i < BIG_BYTES; i++)
		buf[i] = (unsigned char)(i % 251);
}

/* ---- reading (the test) ---- */

struct golden {
	const char *dir;
	struct vault_config *cfg;
	struct vault_keys *keys;
	int paged; /* paged directories read */
};

/* Opens the metadata object of kind under ref (of object id) into *plain. */
static int open_meta(char **plain, size_t *plen, struct golden *g, enum meta_kind kind,
		     const uint8_t id[16], const struct dirobj_ref *ref)
{
	struct meta_ad ad = {.kind = kind, .version = ref->version};
	unsigned char *sealed;
	size_t len = 0;
	char name[40];
	int r;

	memcpy(ad.vault_id, g->cfg->vault_id, 16);
	memcpy(ad.object_id, id, 16);
	memcpy(ad.store_key, ref->store_key, 16);
	object_name(name, ref->store_key);
	sealed = (unsigned char *)read_file(g->dir, name, &len);
	if (!sealed)
		return -ENOENT;
	r = meta_open(plain, plen, sealed, len, &ad, g->keys->meta);
	free(sealed);
	return r;
}

/* Format 3: the pages of index ix (FORMAT.md "Paged directories") joined. */
static int open_pages(struct dirobj *d, struct golden *g, const struct dirpage_index *ix)
{
	size_t cap = 0, plen = 0;
	int r = 0;

	memcpy(d->dir_id, ix->dir_id, 16);
	for (size_t s = 0; r == 0 && s < ix->nslots; s++) {
		struct dirobj page;
		char *plain = NULL;
		if (!ix->slots[s].present)
			continue;
		r = open_meta(&plain, &plen, g, META_KIND_DIR_PAGE, ix->dir_id, &ix->slots[s].ref);
		if (r == 0)
			r = dirpage_page_decode(&page, plain, plen, ix->dir_id, s, ix->nslots,
						g->cfg->format);
		meta_free_plain(plain, plen);
		if (r == 0)
			r = dirpage_join(d, &cap, &page);
		dirobj_release(&page);
	}
	return r ? r : dirpage_join_check(d, ix);
}

static int open_dir(struct dirobj *d, struct golden *g, const struct dirobj_entry *e)
{
	struct dirpage_index ix;
	size_t plen = 0;
	char *plain = NULL;
	int r = open_meta(&plain, &plen, g, META_KIND_DIR, e->id, &e->ref);

	memset(d, 0, sizeof(*d));
	if (r == 0 && g->cfg->format >= 3 &&
	    (r = dirpage_index_decode(&ix, plain, plen)) != -ENOMSG) {
		if (r == 0)
			r = open_pages(d, g, &ix);
		g->paged += r == 0;
		dirpage_index_release(&ix);
	} else if (r == 0 || r == -ENOMSG) {
		r = dirobj_decode(d, plain, plen, g->cfg->format);
	}
	meta_free_plain(plain, plen);
	return r;
}

/* Reads a whole file's content through its segments and chunks. */
static unsigned char *read_content(struct golden *g, const struct dirobj_entry *e)
{
	size_t cs = chunk_sealed_bytes(g->cfg->suite), len = 0;
	unsigned char *out = calloc(1, chunk_file_chunks(e->size) * CHUNK_PLAIN_BYTES + 1);
	struct chunk_key *k = NULL;
	struct chunk_ad ad;
	char name[40];

	memcpy(ad.vault_id, g->cfg->vault_id, 16);
	memcpy(ad.file_id, e->id, 16);
	for (uint64_t s = 0; out && s < e->nsegments; s++) {
		unsigned char *seg;
		uint64_t n = chunk_segment_stored_bytes(g->cfg->suite, e->size, s) / cs;
		/* docs/FORMAT.md "Keys": created 0, the file's key; else its own. */
		chunk_key_free(k);
		k = e->segments[s].created == 0
			? chunk_key_new(keys, g->cfg->suite, g->keys->content, e->id)
			: chunk_key_new_segment(keys, g->cfg->suite, g->keys->content, e->id,
						e->segments[s].store_key);
		CHECK(k != NULL);
		object_name(name, e->segments[s].store_key);
		seg = (unsigned char *)read_file(g->dir, name, &len);
		CHECK(seg && len == n * cs);
		memcpy(ad.segment_key, e->segments[s].store_key, 16);
		for (uint64_t c = 0; seg && c < n; c++) {
			ad.index = s * SEGMENT_CHUNKS + c;
			ad.last = ad.index + 1 == chunk_file_chunks(e->size);
			CHECK_RC(
			    chunk_open(out + ad.index * CHUNK_PLAIN_BYTES, seg + c * cs, &ad, k),
			    0);
		}
		free(seg);
	}
	chunk_key_free(k);
	return out;
}

static const struct dirobj_entry *find(const struct dirobj *d, const char *name)
{
	for (size_t i = 0; i < d->nentries; i++)
		if (strcmp(d->entries[i].name, name) == 0)
			return &d->entries[i];
	return NULL;
}

/* Format 2: the special files, and the created seqs (hello.txt's segment
 * 0 as an upgrade leaves it, big.bin's 1: both key derivations). */
static void check_tree_v2(const struct dirobj *d, const struct dirobj_entry *root)
{
	const struct dirobj_entry *e;

	CHECK(root->ref.created == 1);
	e = find(d, "fifo");
	CHECK(e && e->type == DIROBJ_FIFO && e->mode == (S_IFIFO | 0644) && e->rdev == 0);
	e = find(d, "tty0");
	CHECK(e && e->type == DIROBJ_CHR && e->mode == (S_IFCHR | 0620) && e->rdev == GOLDEN_RDEV);
	e = find(d, "hello.txt");
	CHECK(e && e->nsegments == 1 && e->segments[0].created == 0);
	e = find(d, "big.bin");
	CHECK(e && e->nsegments == 1 && e->segments[0].created == 1);
	e = find(d, "docs");
	CHECK(e && e->ref.created == 1);
}

static void check_tree(struct golden *g, const struct dirobj_entry *root)
{
	struct dirobj d, sub;
	const struct dirobj_entry *e;
	unsigned char big[BIG_BYTES], *c;

	CHECK_RC(open_dir(&d, g, root), 0);
	CHECK(d.nentries == (g->cfg->format == 1 ? 4u : 6u) && memcmp(d.dir_id, root->id, 16) == 0);
	if (g->cfg->format >= 2)
		check_tree_v2(&d, root);
	e = find(&d, "hello.txt");
	CHECK(e && e->size == strlen(HELLO) && e->nsegments == 1);
	if (e && (c = read_content(g, e))) {
		CHECK(memcmp(c, HELLO, strlen(HELLO)) == 0);
		CHECK(check_all_zero(c + strlen(HELLO), CHUNK_PLAIN_BYTES - strlen(HELLO)));
		free(c);
	}
	e = find(&d, "big.bin");
	big_content(big);
	CHECK(e && e->size == BIG_BYTES && e->nsegments == 1);
	if (e && (c = read_content(g, e))) {
		CHECK(memcmp(c, big, BIG_BYTES) == 0);
		free(c);
	}
	e = find(&d, "link");
	CHECK(e && e->type == DIROBJ_SYMLINK && strcmp(e->target, "hello.txt") == 0);
	e = find(&d, "docs");
	CHECK(e && e->type == DIROBJ_DIR);
	if (e && open_dir(&sub, g, e) == 0) {
		const struct dirobj_entry *empty = find(&sub, "empty"), *note = find(&sub, "note");
		CHECK(sub.nentries == (g->cfg->format >= 3 ? 2u : 1u) && empty &&
		      empty->size == 0 && empty->nsegments == 0);
		CHECK(g->cfg->format >= 3 ? note && note->size == 0 : !note);
		dirobj_release(&sub);
	} else {
		CHECK(!"docs opens");
	}
	dirobj_release(&d);
}

static void check_golden(const char *dir, enum suite_id suite, int format)
{
	struct golden g = {.dir = dir};
	struct meta_ad had = {.kind = META_KIND_HEAD, .version = 0};
	struct vault_keys *k2 = NULL;
	struct dirobj_head head;
	char *text, *rtext, *plain = NULL;
	size_t len, rlen, plen = 0;

	text = read_file(dir, "sealfs.json", &len);
	rtext = read_file(dir, "recovery.txt", &rlen);
	CHECK(text && rtext);
	if (!text || !rtext)
		return;
	CHECK_RC(vault_config_parse(&g.cfg, text, len), 0);
	CHECK(g.cfg && g.cfg->suite == suite && g.cfg->format == format);
	CHECK_RC(vault_unlock_passphrase(&g.keys, g.cfg, GOLDEN_PASS, strlen(GOLDEN_PASS)), 0);
	CHECK_RC(vault_unlock_recovery(&k2, g.cfg, rtext), 0);
	CHECK(g.keys && k2 && sodium_memcmp(g.keys, k2, sizeof(*k2)) == 0);
	vault_keys_free(k2);
	free(text);
	text = read_file(dir, "head", &len);
	CHECK(text != NULL);
	if (g.keys && text) {
		memcpy(had.vault_id, g.cfg->vault_id, 16);
		CHECK_RC(meta_open(&plain, &plen, (unsigned char *)text, len, &had, g.keys->meta),
			 0);
		CHECK_RC(dirobj_head_decode(&head, plain, plen, g.cfg->format), 0);
		CHECK(head.seq == 1);
		CHECK(format == 1 || (strcmp(head.device_name, "golden") == 0 &&
				      head.keep == 30 * 86400 && head.grace == 86400 &&
				      head.time.sec == 1735689600 && head.device[0] == 0x5e));
		check_tree(&g, &head.root);
		CHECK(g.paged == (format >= 3 ? 1 : 0)); /* docs */
		dirobj_head_release(&head);
		meta_free_plain(plain, plen);
	}
	free(text);
	free(rtext);
	vault_config_free(g.cfg);
	vault_keys_free(g.keys);
}

/* ---- writing (--generate, run once per format version) ---- */

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
}

static void gen_meta(struct golden *g, const char *name, const char *json, const struct meta_ad *ad)
{
	unsigned char *sealed;
	size_t n;

	if (meta_seal(&sealed, &n, json, strlen(json), ad, g->keys->meta) != 0)
		exit(1);
	write_file(g->dir, name, sealed, n);
	free(sealed);
}

static void gen_entry(struct dirobj_entry *e, enum dirobj_type t, const char *name)
{
	memset(e, 0, sizeof(*e));
	e->name = strdup(name);
	e->name_len = strlen(name);
	e->type = t;
	randombytes_buf(e->id, 16);
	e->mode = t == DIROBJ_FILE   ? S_IFREG | 0644
		  : t == DIROBJ_DIR  ? S_IFDIR | 0755
		  : t == DIROBJ_FIFO ? S_IFIFO | 0644
		  : t == DIROBJ_CHR  ? S_IFCHR | 0620
				     : S_IFLNK | 0777;
	e->rdev = t == DIROBJ_CHR ? GOLDEN_RDEV : 0;
	e->uid = e->gid = 1000;
	e->atime = e->mtime = e->ctime = (struct dirobj_time){1735689600, 123456789};
}

/* created: the segment's (format 2; 0 seals under the file's key). */
static void gen_file(struct golden *g, struct dirobj_entry *e, const unsigned char *data,
		     size_t size, uint64_t created)
{
	size_t cs = chunk_sealed_bytes(g->cfg->suite), n = chunk_file_chunks(size);
	unsigned char *seg = malloc(n * cs + 1);
	struct chunk_key *k;
	struct chunk_ad ad;
	char name[40];

	e->size = size;
	e->nsegments = chunk_file_segments(size); /* one segment at most here */
	e->segments = calloc(1, sizeof(*e->segments));
	e->segments[0].present = true;
	e->segments[0].created = created;
	randombytes_buf(e->segments[0].store_key, 16);
	k = created == 0 ? chunk_key_new(keys, g->cfg->suite, g->keys->content, e->id)
			 : chunk_key_new_segment(keys, g->cfg->suite, g->keys->content, e->id,
						 e->segments[0].store_key);
	memcpy(ad.vault_id, g->cfg->vault_id, 16);
	memcpy(ad.file_id, e->id, 16);
	memcpy(ad.segment_key, e->segments[0].store_key, 16);
	for (size_t c = 0; c < n; c++) {
		size_t off = c * CHUNK_PLAIN_BYTES;
		ad.index = c;
		ad.last = c + 1 == n;
		if (chunk_seal(seg + c * cs, data + off,
			       size - off < CHUNK_PLAIN_BYTES ? size - off : CHUNK_PLAIN_BYTES, &ad,
			       k) != 0)
			exit(1);
	}
	object_name(name, e->segments[0].store_key);
	write_file(g->dir, name, seg, n * cs);
	chunk_key_free(k);
	free(seg);
}

/* Seals dir as the object of entry de (version 1, a fresh store key). */
static void gen_dir(struct golden *g, struct dirobj_entry *de, struct dirobj *dir)
{
	struct meta_ad ad = {.kind = META_KIND_DIR, .version = 1};
	char name[40], *json;
	size_t len;

	memcpy(dir->dir_id, de->id, 16);
	de->ref.version = 1;
	de->ref.created = g->cfg->format >= 2 ? 1 : 0;
	randombytes_buf(de->ref.store_key, 16);
	memcpy(ad.vault_id, g->cfg->vault_id, 16);
	memcpy(ad.object_id, de->id, 16);
	memcpy(ad.store_key, de->ref.store_key, 16);
	if (dirobj_encode(&json, &len, dir, g->cfg->format) != 0)
		exit(1);
	object_name(name, de->ref.store_key);
	gen_meta(g, name, json, &ad);
	free(json);
}

/* Format 3: dir (entry de) as an index of two pages, each sealed under a
 * fresh key with c = v = 1 (FORMAT.md "Paged directories"). */
static void gen_paged(struct golden *g, struct dirobj_entry *de, struct dirobj *dir)
{
	struct dirpage_slot slots[2] = {{.present = false}};
	struct dirpage_index ix = {.nentries = dir->nentries, .slots = slots, .nslots = 2};
	struct meta_ad ad = {.kind = META_KIND_DIR_PAGE, .version = 1};
	size_t *order = NULL, *first = NULL, len;
	char name[40], *json;

	memcpy(dir->dir_id, de->id, 16);
	memcpy(ix.dir_id, de->id, 16);
	memcpy(ad.vault_id, g->cfg->vault_id, 16);
	memcpy(ad.object_id, de->id, 16);
	if (dirpage_split(dir, 2, &order, &first) != 0)
		exit(1);
	for (size_t s = 0; s < 2; s++) {
		struct dirobj page = {.nentries = first[s + 1] - first[s]};
		page.entries = &dir->entries[order[first[s]]]; /* one entry a page here */
		memcpy(page.dir_id, de->id, 16);
		if (page.nentries != 1 || dirpage_page_encode(&json, &len, &page, s, 2, 3) != 0)
			exit(1);
		slots[s] =
		    (struct dirpage_slot){.present = true, .ref = {.version = 1, .created = 1}};
		randombytes_buf(slots[s].ref.store_key, 16);
		memcpy(ad.store_key, slots[s].ref.store_key, 16);
		object_name(name, slots[s].ref.store_key);
		gen_meta(g, name, json, &ad);
		free(json);
	}
	free(order);
	free(first);
	de->ref = (struct dirobj_ref){.version = 1, .created = 1};
	randombytes_buf(de->ref.store_key, 16);
	ad.kind = META_KIND_DIR;
	memcpy(ad.store_key, de->ref.store_key, 16);
	if (dirpage_index_encode(&json, &len, &ix) != 0)
		exit(1);
	object_name(name, de->ref.store_key);
	gen_meta(g, name, json, &ad);
	free(json);
}

/* The format-2 head members, fixed values (docs/FORMAT.md, "Head"). */
static void gen_head_v2(struct dirobj_head *head)
{
	head->time = (struct dirobj_time){1735689600, 5};
	memset(head->device, 0x5e, sizeof(head->device));
	strcpy(head->device_name, "golden");
	head->keep = 30 * 86400;
	head->grace = 86400;
}

static int generate(const char *dir, enum suite_id suite)
{
	struct vault_kdf_cost cost = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
	struct golden g = {.dir = dir};
	struct dirobj root = {0}, docs = {0};
	struct dirobj_head head = {.seq = 1};
	struct meta_ad had = {.kind = META_KIND_HEAD, .version = 0};
	unsigned char big[BIG_BYTES];
	char rtext[RECOVERY_TEXT_BYTES], *text;
	size_t len;

	if (vault_create(&g.cfg, &g.keys, suite, GOLDEN_PASS, strlen(GOLDEN_PASS), cost, rtext,
			 sizeof(rtext)) != 0 ||
	    vault_config_serialize(&text, &len, g.cfg) != 0)
		return 1;
	write_file(dir, "sealfs.json", text, len);
	write_file(dir, "recovery.txt", rtext, strlen(rtext));
	free(text);
	docs.nentries = g.cfg->format >= 3 ? 2 : 1;
	docs.entries = calloc(2, sizeof(*docs.entries));
	gen_entry(&docs.entries[0], DIROBJ_FILE, "empty");
	docs.entries[0].id[0] &= 0xfe; /* format 3: slot 0 of 2 */
	gen_entry(&docs.entries[1], DIROBJ_FILE, "note");
	docs.entries[1].id[0] |= 1; /* slot 1 */
	root.nentries = g.cfg->format >= 2 ? 6 : 4;
	root.entries = calloc(6, sizeof(*root.entries));
	gen_entry(&root.entries[0], DIROBJ_FILE, "hello.txt");
	/* Format 2: hello.txt's segment as an upgrade leaves it (created 0,
	 * the file's key), big.bin's written since (its own key). */
	gen_file(&g, &root.entries[0], (const unsigned char *)HELLO, strlen(HELLO), 0);
	gen_entry(&root.entries[1], DIROBJ_FILE, "big.bin");
	big_content(big);
	gen_file(&g, &root.entries[1], big, sizeof(big), g.cfg->format >= 2 ? 1 : 0);
	if (g.cfg->format >= 2) {
		gen_entry(&root.entries[4], DIROBJ_FIFO, "fifo");
		gen_entry(&root.entries[5], DIROBJ_CHR, "tty0");
	}
	gen_entry(&root.entries[2], DIROBJ_SYMLINK, "link");
	root.entries[2].target = strdup("hello.txt");
	root.entries[2].target_len = 9;
	gen_entry(&root.entries[3], DIROBJ_DIR, "docs");
	if (g.cfg->format >= 3)
		gen_paged(&g, &root.entries[3], &docs);
	else
		gen_dir(&g, &root.entries[3], &docs);
	gen_entry(&head.root, DIROBJ_DIR, "");
	gen_dir(&g, &head.root, &root);
	if (g.cfg->format >= 2)
		gen_head_v2(&head);
	memcpy(had.vault_id, g.cfg->vault_id, 16);
	if (dirobj_head_encode(&text, &len, &head, g.cfg->format) != 0)
		return 1;
	gen_meta(&g, "head", text, &had);
	free(text);
	dirobj_release(&root);
	dirobj_release(&docs);
	dirobj_head_release(&head);
	vault_config_free(g.cfg);
	vault_keys_free(g.keys);
	return 0;
}

int main(int argc, char **argv)
{
	const char *data = getenv("SEALFS_TEST_DATA");
	char dir[4096];
	enum suite_id suites[] = {SUITE_AES256GCM, SUITE_XCHACHA20POLY1305};

	int rc;

	if (sodium_init() < 0 || !(keys = chunk_key_pool_new(NULL, NULL)))
		return 1;
	if (argc == 4 && strcmp(argv[1], "--generate") == 0 &&
	    suite_from_name(argv[3], &suites[0]) == 0) {
		rc = generate(argv[2], suites[0]);
		secmem_pool_free(keys);
		return rc;
	}
	if (!data) {
		fprintf(stderr, "SEALFS_TEST_DATA is not set\n");
		secmem_pool_free(keys);
		return 1;
	}
	for (size_t i = 0; i < 6; i++) {
		enum suite_id suite = suites[i % 2];
		int format = 1 + (int)(i / 2);
		const char *prefix[] = {"", "v2-", "v3-"};

		if (!suite_available(suite)) {
			printf("suite %s unavailable on this cpu: skipped\n", suite_name(suite));
			continue;
		}
		snprintf(dir, sizeof(dir), "%s/golden-%s%s", data, prefix[format - 1],
			 suite_name(suite));
		check_golden(dir, suite, format);
	}
	secmem_pool_free(keys);
	return check_done("test_golden");
}
