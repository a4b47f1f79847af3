/* test_journal.c - the write-back journal (fs/cache/journal.c, fs/cache/journal_slot.c)
 * in a real temporary cache directory: write, read back, list, remove;
 * records live in slot files that are reused in place (same inode, no new
 * file, shorter records cut, a free slot the record covers whole preferred);
 * a record of a newer sealfs (its version above JOURNAL_VERSION) is
 * listed and refused (-EPROTONOSUPPORT), never taken for free or torn;
 * a removed record's slot is free and never
 * lists; a torn record reads as -EBADMSG once reopened (the journal that
 * wrote a small record reads it from memory); journal_open removes leftover .tmp
 * files, reads the slots from disk and drops free slots past 64; records
 * under the older <seq>.rec names are still listed, read and removed. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "journal.h"

static char dir[64];
static struct journal *journal; /* the open journal of dir */

/* Closes and opens the journal again, as the next mount does: leftover .tmp
 * files go, the slots are read back from disk. */
static int reopen(void)
{
	journal_close(journal);
	return journal_open(&journal, dir);
}

static void path_of(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/journal/%s", dir, name);
}

static ino_t inode_of(const char *name)
{
	char p[256];
	struct stat st;

	path_of(p, sizeof(p), name);
	return stat(p, &st) == 0 ? st.st_ino : 0;
}

static size_t count_slots(void)
{
	char p[256];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(p, sizeof(p), "%s/journal", dir);
	d = opendir(p);
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, "slot-", 5) == 0;
	closedir(d);
	return n;
}

static size_t count_listed(void)
{
	uint64_t *seqs;
	size_t n = 0;

	CHECK(journal_list(&seqs, &n, journal) == 0);
	free(seqs);
	return n;
}

/* A record with one carried object of len bytes, one segment, one garbage key. */
static int write_record(uint64_t seq, size_t len)
{
	unsigned char head[100], *data = malloc(len);
	uint8_t seg[1][OBJECT_ID_BYTES], garbage[1][OBJECT_ID_BYTES];
	struct journal_object obj = {.data = data, .len = len};
	struct journal_record rec = {.seq = seq,
				     .head = head,
				     .head_len = sizeof(head),
				     .objs = &obj,
				     .nobjs = 1,
				     .segs = (const uint8_t(*)[OBJECT_ID_BYTES])seg,
				     .nsegs = 1,
				     .garbage = (const uint8_t(*)[OBJECT_ID_BYTES])garbage,
				     .ngarbage = 1};
	int r;

	if (!data)
		return -ENOMEM;
	memset(head, (int)seq, sizeof(head));
	memset(data, 0xa5, len);
	memset(seg, 1, sizeof(seg));
	memset(garbage, 2, sizeof(garbage));
	memset(obj.key, 3, sizeof(obj.key));
	r = journal_write(journal, &rec);
	free(data);
	return r;
}

static void check_record(uint64_t seq, size_t len)
{
	struct journal_record rec;

	CHECK(journal_read(&rec, journal, seq) == 0);
	if (rec.buf == NULL)
		return;
	CHECK(rec.seq == seq && rec.head_len == 100 && rec.head[0] == (unsigned char)seq);
	CHECK(rec.nobjs == 1 && rec.objs[0].len == len);
	CHECK(len == 0 || (rec.objs[0].data[0] == 0xa5 && rec.objs[0].data[len - 1] == 0xa5));
	CHECK(rec.nsegs == 1 && rec.segs[0][0] == 1 && rec.ngarbage == 1 && rec.garbage[0][0] == 2);
	journal_record_release(&rec);
}

static void test_slots(void)
{
	uint64_t *seqs;
	size_t n;
	ino_t ino;

	CHECK(write_record(1, 5000) == 0);
	CHECK(write_record(2, 10) == 0);
	check_record(1, 5000);
	check_record(2, 10);
	CHECK(count_slots() == 2);
	ino = inode_of("slot-0");
	CHECK(ino != 0);
	CHECK(journal_remove(journal, 1) == 0);
	CHECK(inode_of("slot-0") == ino); /* kept, free */
	CHECK(journal_list(&seqs, &n, journal) == 0 && n == 1 && seqs[0] == 2);
	free(seqs);
	struct journal_record rec;
	CHECK(journal_read(&rec, journal, 1) == -ENOENT);
	/* the next record reuses the free slot in place, shorter */
	CHECK(write_record(3, 7) == 0);
	CHECK(inode_of("slot-0") == ino);
	CHECK(count_slots() == 2);
	check_record(3, 7);
	/* what is on disk agrees with memory after a rescan */
	CHECK(reopen() == 0);
	CHECK(journal_list(&seqs, &n, journal) == 0 && n == 2 && seqs[0] == 2 && seqs[1] == 3);
	free(seqs);
	check_record(3, 7);
	/* removing a missing record is fine */
	CHECK(journal_remove(journal, 99) == 0);
	CHECK(journal_remove(journal, 2) == 0 && journal_remove(journal, 3) == 0);
	CHECK(count_listed() == 0);
	CHECK(reopen() == 0);
	CHECK(count_listed() == 0 && count_slots() == 2);
}

static void test_torn_and_init(void)
{
	char p[256], tmp[256];
	struct journal_record rec;
	struct stat st;

	CHECK(write_record(4, 300) == 0); /* slot-0 */
	path_of(p, sizeof(p), "slot-0");
	CHECK(stat(p, &st) == 0 && truncate(p, st.st_size - 1) == 0);
	/* the journal that wrote it still holds its bytes in memory */
	CHECK(journal_read(&rec, journal, 4) == 0 && rec.seq == 4 && rec.head_len == 100);
	journal_record_release(&rec);
	/* the next mount reads the file: torn */
	CHECK(reopen() == 0);
	CHECK(journal_read(&rec, journal, 4) == -EBADMSG);
	CHECK(journal_read(&rec, journal, 5) == -ENOENT);
	CHECK(journal_remove(journal, 4) == 0);
	path_of(tmp, sizeof(tmp), "0000000000000005.tmp");
	FILE *f = fopen(tmp, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	CHECK(reopen() == 0);
	CHECK(access(tmp, F_OK) != 0);
	CHECK(write_record(6, 1) == 0);
	check_record(6, 1);
	CHECK(journal_remove(journal, 6) == 0);
}

/* A record under the name older versions used is still read and removed. */
/* Records kept in memory while pending: at most JSLOT_MEM_MAX bytes each
 * (a larger one is read from its file, checksum and all), and never after
 * their removal. */
static void test_held_in_memory(void)
{
	char p[256];
	struct journal_record rec;
	struct stat st;

	CHECK(write_record(20, 70 * 1024) == 0); /* over 64 KiB: not held */
	CHECK(write_record(21, 100) == 0);
	path_of(p, sizeof(p), "slot-0");
	CHECK(stat(p, &st) == 0 && truncate(p, st.st_size - 1) == 0);
	CHECK(journal_read(&rec, journal, 20) == -EBADMSG);
	path_of(p, sizeof(p), "slot-1");
	CHECK(stat(p, &st) == 0 && truncate(p, st.st_size - 1) == 0);
	check_record(21, 100); /* from memory */
	CHECK(journal_remove(journal, 20) == 0 && journal_remove(journal, 21) == 0);
	CHECK(journal_read(&rec, journal, 21) == -ENOENT);
	/* the slots are reused in place, cut to the new records' size */
	CHECK(write_record(22, 10) == 0 && write_record(23, 20) == 0);
	check_record(22, 10);
	CHECK(reopen() == 0); /* from the files now */
	check_record(22, 10);
	check_record(23, 20);
	CHECK(journal_remove(journal, 22) == 0 && journal_remove(journal, 23) == 0);
}

static void test_legacy_names(void)
{
	char from[256], to[256];

	CHECK(write_record(7, 50) == 0); /* slot-0 */
	path_of(from, sizeof(from), "slot-0");
	path_of(to, sizeof(to), "0000000000000007.rec");
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	CHECK(system(cmd) == 0);
	CHECK(journal_remove(journal, 7) == 0); /* frees the slot; the .rec stays */
	CHECK(count_listed() == 1);
	check_record(7, 50);
	CHECK(journal_remove(journal, 7) == 0);
	CHECK(access(to, F_OK) != 0 && count_listed() == 0);
}

/* A backlog's many slots shrink back to JSLOT_KEEP_FREE at the next scan. */
static void test_trim(void)
{
	for (uint64_t s = 100; s < 180; s++)
		CHECK(write_record(s, 1) == 0);
	CHECK(count_slots() == 80 && count_listed() == 80);
	for (uint64_t s = 100; s < 180; s++)
		CHECK(journal_remove(journal, s) == 0);
	CHECK(reopen() == 0);
	CHECK(count_slots() == 64 && count_listed() == 0);
	CHECK(write_record(200, 3) == 0);
	check_record(200, 3);
}

static off_t size_of(const char *name)
{
	char p[256];
	struct stat st;

	path_of(p, sizeof(p), name);
	return stat(p, &st) == 0 ? st.st_size : -1;
}

/* A record goes to a free slot whose file it covers whole when there is
 * one: no ftruncate of a longer file (ext4 journals a cut inode). Runs after
 * test_trim: slot-0 used, slots 1..63 free, their sizes unknown. */
static void test_slot_fit(void)
{
	off_t long_size, short_size;

	CHECK(write_record(300, 6000) == 0); /* slot-1 */
	CHECK(write_record(301, 20) == 0);   /* slot-2 */
	long_size = size_of("slot-1");
	short_size = size_of("slot-2");
	CHECK(long_size > 6000 && short_size > 20 && short_size < 1000);
	CHECK(journal_remove(journal, 300) == 0 && journal_remove(journal, 301) == 0);
	/* Between the two: slot-2 (shorter), not the first free slot-1. */
	CHECK(write_record(302, 1000) == 0);
	CHECK(size_of("slot-1") == long_size);
	CHECK(size_of("slot-2") > short_size && size_of("slot-2") < long_size);
	check_record(302, 1000);
	CHECK(reopen() == 0);
	check_record(302, 1000);
}

/* Sets the version field (bytes 8-11) of slot file name. */
static void set_version(const char *name, unsigned char v)
{
	char p[256];
	FILE *f;

	path_of(p, sizeof(p), name);
	f = fopen(p, "r+b");
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(fseek(f, 8, SEEK_SET) == 0 && fputc(v, f) == v);
	fclose(f);
}

/* A record whose version is above JOURNAL_VERSION: a newer sealfs wrote it,
 * and a commit it holds must not be dropped as a free slot or a torn one. */
static void test_newer_version(void)
{
	struct journal_record rec;
	uint64_t *seqs;
	size_t n;

	CHECK(journal_remove(journal, 200) == 0 && journal_remove(journal, 302) == 0);
	CHECK(count_listed() == 0 && reopen() == 0);
	CHECK(write_record(500, 300) == 0); /* slot-0: the first free one */
	set_version("slot-0", JOURNAL_VERSION + 1);
	CHECK(reopen() == 0);
	CHECK(journal_list(&seqs, &n, journal) == 0 && n == 1 && seqs[0] == 500);
	free(seqs);
	CHECK(journal_read(&rec, journal, 500) == -EPROTONOSUPPORT);
	CHECK(journal_read_lean(&rec, journal, 500) == -EPROTONOSUPPORT);
	CHECK(write_record(501, 10) == 0);	      /* goes elsewhere: slot-0 is not free */
	set_version("slot-0", JOURNAL_VERSION_PLAIN); /* as written: intact again */
	check_record(500, 300);
	check_record(501, 10);
	/* version 0 with the magic: free (nothing writes it) */
	set_version("slot-0", 0);
	CHECK(reopen() == 0 && count_listed() == 1);
	CHECK(journal_remove(journal, 501) == 0);
}

int main(void)
{
	char cmd[128];

	if (sodium_init() < 0)
		return 1;
	snprintf(dir, sizeof(dir), "/tmp/sealfs-journal-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	CHECK(journal_open(&journal, dir) == 0);
	test_slots();
	test_torn_and_init();
	test_held_in_memory();
	test_legacy_names();
	test_trim();
	test_slot_fit();
	test_newer_version();
	journal_close(journal);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_done("test_journal");
}
