/* test_journal_stream.c - large journal records written and read in pieces
 * (fs/cache/journal_stream.c) in a real temporary cache directory: a record
 * over JSLOT_MEM_MAX is streamed into its slot byte for byte as the whole
 * encoding; journal_read gives it back whole, journal_read_lean and
 * journal_batch_load without its objects' bytes (data NULL, each read back
 * exactly by journal_read_object); a damaged byte anywhere (an object's
 * bytes that the lean read never keeps included) or a cut file reads as
 * -EBADMSG both ways; a small record is read whole by either. Every record
 * here is version 3: its patched list read both ways, its patch entries
 * only by the whole read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "journal.h"
#include "journal_stream.h"

static char dir[64];
static struct journal *journal;

/* Object sizes: empty, small, past the stream's buffer, past 64 KiB. */
static const size_t lens[] = {10, 0, 200000, 70000, 5000};
#define NOBJS (sizeof(lens) / sizeof(lens[0]))

static unsigned char head[300], *datas[NOBJS];
static struct journal_object objs[NOBJS];
static uint8_t segs[3][OBJECT_ID_BYTES], garbage[2][OBJECT_ID_BYTES];
static unsigned char dead[4 * JOURNAL_DEAD_BYTES];
/* Version 3: two patches, of two chunks (100 bytes each) and of none. */
#define PATCHES_LEN (2 * JOURNAL_PATCH_HEAD_BYTES + 2 * (4 + 100))
static unsigned char patched[2 * JOURNAL_PATCHED_BYTES], patches[PATCHES_LEN];

static void make_patches(void)
{
	struct journal_patch p = {
	    .seg = 3, .n0 = 1000, .n1 = 1001, .base_created = 4, .chunk_bytes = 100, .nchunks = 2};
	unsigned char *w = patches;

	randombytes_buf(patched, sizeof(patched));
	for (int i = 0; i < 2; i++, p.nchunks = 0) {
		memcpy(p.key, patched + i * JOURNAL_PATCHED_BYTES, OBJECT_ID_BYTES);
		memcpy(p.base, patched + i * JOURNAL_PATCHED_BYTES + OBJECT_ID_BYTES,
		       OBJECT_ID_BYTES);
		journal_patch_put_head(w, &p);
		w += JOURNAL_PATCH_HEAD_BYTES;
		for (uint32_t c = 0; c < p.nchunks; c++, w += 104) {
			memset(w, 0, 4);
			w[0] = (unsigned char)(7 + c);
			randombytes_buf(w + 4, 100);
		}
	}
}

static struct journal_record make_record(uint64_t seq, size_t nobjs)
{
	randombytes_buf(head, sizeof(head));
	randombytes_buf(segs, sizeof(segs));
	randombytes_buf(garbage, sizeof(garbage));
	for (size_t i = 0; i < 4; i++)
		journal_dead_put(dead + i * JOURNAL_DEAD_BYTES, segs[i % 3], 100 + i);
	make_patches();
	for (size_t i = 0; i < nobjs; i++) {
		free(datas[i]);
		datas[i] = malloc(lens[i] + 1);
		randombytes_buf(datas[i], lens[i]);
		randombytes_buf(objs[i].key, OBJECT_ID_BYTES);
		objs[i].data = datas[i];
		objs[i].len = lens[i];
	}
	return (struct journal_record){.seq = seq,
				       .head = head,
				       .head_len = sizeof(head),
				       .objs = objs,
				       .nobjs = nobjs,
				       .segs = (const uint8_t(*)[OBJECT_ID_BYTES])segs,
				       .nsegs = 3,
				       .garbage = (const uint8_t(*)[OBJECT_ID_BYTES])garbage,
				       .ngarbage = 2,
				       .dead = dead,
				       .ndead = 4,
				       .patched = patched,
				       .npatched = 2,
				       .patches = patches,
				       .patches_len = sizeof(patches)};
}

/* got has want's fields; its objects' bytes are in memory unless lean. */
static void check_same(const struct journal_record *got, const struct journal_record *want,
		       bool lean)
{
	unsigned char *b;

	CHECK(got->seq == want->seq && got->head_len == want->head_len &&
	      memcmp(got->head, want->head, want->head_len) == 0);
	CHECK(got->nsegs == 3 && memcmp(got->segs, segs, sizeof(segs)) == 0);
	CHECK(got->ngarbage == 2 && memcmp(got->garbage, garbage, sizeof(garbage)) == 0);
	CHECK(got->ndead == 4 && memcmp(got->dead, dead, sizeof(dead)) == 0);
	CHECK(got->npatched == 2 && memcmp(got->patched, patched, sizeof(patched)) == 0);
	CHECK(lean ? !got->patches
		   : got->patches_len == sizeof(patches) &&
			 memcmp(got->patches, patches, sizeof(patches)) == 0);
	CHECK(got->nobjs == want->nobjs);
	for (size_t i = 0; i < got->nobjs && i < want->nobjs; i++) {
		CHECK(memcmp(got->objs[i].key, objs[i].key, OBJECT_ID_BYTES) == 0);
		CHECK(got->objs[i].len == lens[i]);
		if (!lean) {
			CHECK(got->objs[i].data &&
			      memcmp(got->objs[i].data, datas[i], lens[i]) == 0);
			continue;
		}
		CHECK(got->objs[i].data == NULL);
		CHECK(journal_read_object(journal, got->seq, got->objs[i].off, got->objs[i].len,
					  &b) == 0);
		CHECK(b && memcmp(b, datas[i], lens[i]) == 0);
		free(b);
	}
}

static int slot_bytes(unsigned char **out, size_t *len)
{
	char p[256];
	struct stat st;
	FILE *f;

	snprintf(p, sizeof(p), "%s/journal/slot-0", dir);
	if (stat(p, &st) != 0 || !(f = fopen(p, "rb")))
		return -1;
	*len = (size_t)st.st_size;
	*out = malloc(*len);
	if (!*out || fread(*out, 1, *len, f) != *len) {
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* Flips byte off of slot-0 (twice: as it was). */
static void flip(size_t off)
{
	char p[256];
	FILE *f;
	int c;

	snprintf(p, sizeof(p), "%s/journal/slot-0", dir);
	f = fopen(p, "r+b");
	CHECK(f != NULL);
	if (!f)
		return;
	fseek(f, (long)off, SEEK_SET);
	c = fgetc(f);
	fseek(f, (long)off, SEEK_SET);
	fputc(c ^ 0x40, f);
	fclose(f);
}

static void test_large(void)
{
	struct journal_record rec = make_record(9, NOBJS), got;
	struct journal_batch b;
	unsigned char *file = NULL, *whole;
	bool too_big;
	size_t len = jstream_size(&rec, &too_big), flen = 0;
	uint64_t seq = 9, bad = 0;

	CHECK(!too_big && len > JOURNAL_LEAN_MIN);
	CHECK(journal_write(journal, &rec) == 0);
	/* streamed: the bytes of the whole encoding */
	whole = malloc(len);
	jstream_encode(whole, len, &rec);
	CHECK(slot_bytes(&file, &flen) == 0 && flen == len && memcmp(file, whole, len) == 0);
	CHECK(journal_read(&got, journal, 9) == 0);
	check_same(&got, &rec, false);
	journal_record_release(&got);
	CHECK(journal_read_lean(&got, journal, 9) == 0);
	check_same(&got, &rec, true);
	journal_record_release(&got);
	CHECK(journal_batch_load(&b, journal, &seq, 1, false, &bad) == 0 && b.n == 1);
	if (b.n == 1)
		check_same(&b.recs[0], &rec, true);
	journal_batch_release(&b);
	/* damaged in an object's bytes, in the head, in the checksum: refused */
	for (size_t k = 0; k < 3; k++) {
		size_t off = k == 0 ? len / 2 : k == 1 ? 40 : len - 1;
		flip(off);
		CHECK(journal_read_lean(&got, journal, 9) == -EBADMSG);
		CHECK(journal_read(&got, journal, 9) == -EBADMSG);
		flip(off);
	}
	CHECK(journal_read_lean(&got, journal, 9) == 0);
	journal_record_release(&got);
	/* cut short */
	char p[256];
	snprintf(p, sizeof(p), "%s/journal/slot-0", dir);
	CHECK(truncate(p, (off_t)len - 1) == 0);
	CHECK(journal_read_lean(&got, journal, 9) == -EBADMSG);
	CHECK(journal_read(&got, journal, 9) == -EBADMSG);
	CHECK(journal_remove(journal, 9) == 0);
	free(file);
	free(whole);
}

/* A small record: whole either way (held in memory, then from its file). */
static void test_small(void)
{
	struct journal_record rec = make_record(10, 2), got;

	CHECK(journal_write(journal, &rec) == 0);
	CHECK(journal_read_lean(&got, journal, 10) == 0);
	check_same(&got, &rec, false);
	journal_record_release(&got);
	journal_close(journal);
	CHECK(journal_open(&journal, dir) == 0);
	CHECK(journal_read_lean(&got, journal, 10) == 0);
	check_same(&got, &rec, false);
	journal_record_release(&got);
	CHECK(journal_remove(journal, 10) == 0);
}

int main(void)
{
	char cmd[128];

	if (sodium_init() < 0)
		return 1;
	snprintf(dir, sizeof(dir), "/tmp/sealfs-jstream-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	CHECK(journal_open(&journal, dir) == 0);
	test_large();
	test_small();
	journal_close(journal);
	for (size_t i = 0; i < NOBJS; i++)
		free(datas[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_done("test_journal_stream");
}
