/* journal.c - write-back journal records in CACHE/journal (journal.h; the
 * bytes are specified in docs/FORMAT.md, "Cache"). It must never write
 * plaintext (records carry only sealed objects and random keys), never log
 * names or contents, and never leave a record file that is not complete and
 * durable under its final name. */
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "fault.h"
#include "fdio.h"
#include "journal_slot.h"
#include "journal_stream.h"

#define JOURNAL_SEQ_HEX 16u

struct journal {
	struct jslot_table slots; /* slots.dir: the cache directory */
};

/* ---- paths ---- */

static int journal_path(char out[CACHE_PATH_MAX], const char *cache_dir, uint64_t seq,
			const char *suffix)
{
	int n;

	if (suffix)
		n = snprintf(out, CACHE_PATH_MAX, "%s/%s/%016" PRIx64 "%s", cache_dir,
			     JOURNAL_DIR_NAME, seq, suffix);
	else
		n = snprintf(out, CACHE_PATH_MAX, "%s/%s", cache_dir, JOURNAL_DIR_NAME);
	return n < 0 || n >= CACHE_PATH_MAX ? -ENAMETOOLONG : 0;
}

/* "<16 hex>.rec" -> seq; false for anything else. */
static bool journal_parse_name(const char *name, uint64_t *seq)
{
	uint64_t v = 0;

	if (strlen(name) != JOURNAL_SEQ_HEX + 4 || strcmp(name + JOURNAL_SEQ_HEX, ".rec") != 0)
		return false;
	for (size_t i = 0; i < JOURNAL_SEQ_HEX; i++) {
		char ch = name[i];
		int d = ch >= '0' && ch <= '9'	 ? ch - '0'
			: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
						 : -1;
		if (d < 0)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*seq = v;
	return true;
}

/* fsyncs CACHE/journal (a new slot's name). 0 or -errno. */
static int journal_sync_dir(const char *cache_dir)
{
	char dir[CACHE_PATH_MAX];
	int r = journal_path(dir, cache_dir, 0, NULL);

	return r ? r : fdio_fsync_dir(dir);
}

/* Creates CACHE/journal if missing and removes leftover .tmp files. */
static int journal_prepare(const char *cache_dir)
{
	char dir[CACHE_PATH_MAX], path[CACHE_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = journal_path(dir, cache_dir, 0, NULL);

	if (r)
		return r;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0 &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < sizeof(path))
			unlink(path);
	}
	closedir(d);
	return 0;
}

int journal_open(struct journal **out, const char *cache_dir)
{
	struct journal *j = calloc(1, sizeof(*j));
	int r;

	*out = NULL;
	if (!j)
		return -ENOMEM;
	r = jslot_init(&j->slots, cache_dir);
	if (r) {
		free(j);
		return r;
	}
	r = journal_prepare(cache_dir);
	if (r == 0)
		r = jslot_scan(&j->slots);
	if (r) {
		journal_close(j);
		return r;
	}
	*out = j;
	return 0;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	jslot_destroy(&j->slots);
	free(j);
}

/* Writes the record into slot k's file from offset 0 (buf: its len bytes
 * encoded; NULL: rec streamed in pieces), cuts what an older record left
 * beyond it, and flushes: one pwrite and one fdatasync when the file is
 * kept open, its size known and the record small (a fresh file also needs
 * its name made durable: the caller fsyncs the directory). */
static int journal_write_slot(struct jslot_table *t, unsigned k, const unsigned char *buf,
			      const struct journal_record *rec, size_t len)
{
	bool kept;
	size_t old;
	struct stat st;
	int fd = jslot_open(t, k, true, &kept, &old), r;

	if (fd < 0)
		return fd;
	r = buf ? cache_pwrite_full(fd, buf, len, 0) : jstream_write(fd, rec);
	if (r == 0 && old == JSLOT_LEN_UNKNOWN) {
		if (fstat(fd, &st) != 0)
			r = -errno;
		else
			old = (size_t)st.st_size;
	}
	if (r == 0 && old > len && ftruncate(fd, (off_t)len) != 0)
		r = -errno;
	if (r == 0 && fault_fire(FAULT_JOURNAL))
		r = -EIO;
	else if (r == 0 && fdatasync(fd) != 0)
		r = -errno;
	jslot_set_len(t, k, r == 0 ? len : JSLOT_LEN_UNKNOWN);
	if (!kept && close(fd) != 0 && r == 0)
		r = -errno;
	return r;
}

/* Makes slot k free: its magic zeroed (no flush: a record that comes back
 * after a crash is one the store holds already, see journal_remove). */
static void journal_clear_slot(struct jslot_table *t, unsigned k)
{
	static const unsigned char zero[JOURNAL_MAGIC_BYTES];
	bool kept;
	size_t len;
	int fd = jslot_open(t, k, false, &kept, &len);

	if (fd < 0)
		return;
	(void)fdio_pwrite_all(fd, zero, sizeof(zero), 0);
	if (!kept)
		close(fd);
}

int journal_write(struct journal *j, const struct journal_record *rec)
{
	const char *cache_dir = j->slots.dir;
	bool too_big, fresh = false;
	size_t len = jstream_size(rec, &too_big);
	unsigned char *buf = NULL;
	unsigned k;
	int r;

	if (too_big)
		return -EFBIG;
	if (fault_fire(FAULT_ALLOC))
		return -ENOMEM;
	/* A record small enough for the slot to keep is encoded whole (one
	 * pwrite, and the uploader reads it from memory); a larger one is
	 * streamed: no record-sized buffer beside the objects it copies. */
	if (len <= JSLOT_MEM_MAX) {
		buf = malloc(len);
		if (!buf)
			return -ENOMEM;
		jstream_encode(buf, len, rec);
	}
	r = jslot_take(&j->slots, rec->seq, len, &k, &fresh);
	if (r) {
		free(buf);
		return r;
	}
	r = journal_write_slot(&j->slots, k, buf, rec, len);
	if (r == 0 && fresh)
		r = journal_sync_dir(cache_dir);
	if (r != 0 || !buf || !jslot_hold(&j->slots, k, buf, len))
		free(buf);
	if (r) {
		journal_clear_slot(&j->slots, k); /* not known durable: the commit did not happen */
		jslot_release(&j->slots, k);
	}
	return r;
}

/* Reads the whole file fd into a new buffer. */
static int journal_slurp_fd(unsigned char **out, size_t *len, int fd)
{
	struct stat st;
	int r = 0;

	*out = NULL;
	if (fstat(fd, &st) != 0)
		r = -errno;
	else if ((uint64_t)st.st_size > JOURNAL_RECORD_MAX ||
		 (size_t)st.st_size < JOURNAL_MAGIC_BYTES + JOURNAL_SUM_BYTES)
		r = -EBADMSG;
	else if (!(*out = malloc((size_t)st.st_size)))
		r = -ENOMEM;
	else
		r = fdio_pread_all(fd, *out, (size_t)st.st_size, 0, NULL);
	if (r == -ENODATA)
		r = -EBADMSG; /* shrank while reading */
	if (r == 0)
		*len = (size_t)st.st_size;
	if (r) {
		free(*out);
		*out = NULL;
	}
	return r;
}

/* An fd of record seq's file: its slot's (*kept: open until the journal
 * closes, not the caller's to close) or a <seq>.rec file. -errno. */
static int journal_open_record(struct journal *j, uint64_t seq, bool *kept)
{
	char path[CACHE_PATH_MAX];
	size_t known;
	unsigned k;
	int fd, r;

	*kept = false;
	if (jslot_find(&j->slots, seq, &k) == 0)
		return jslot_open(&j->slots, k, false, kept, &known);
	r = journal_path(path, j->slots.dir, seq, ".rec");
	if (r)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd >= 0 ? fd : -errno;
}

/* Reads record seq's file whole. */
static int journal_slurp(unsigned char **out, size_t *len, struct journal *j, uint64_t seq)
{
	bool kept;
	int fd = journal_open_record(j, seq, &kept), r;

	*out = NULL;
	if (fd < 0)
		return fd;
	r = journal_slurp_fd(out, len, fd);
	if (!kept)
		close(fd);
	return r;
}

int journal_read(struct journal_record *out, struct journal *j, uint64_t seq)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int r = jslot_held_copy(&j->slots, seq, &buf, &len);

	memset(out, 0, sizeof(*out));
	if (r == 0) /* the bytes this journal wrote, still in memory */
		return journal_record_parse_own(out, buf, len);
	if (r == -ENOENT)
		r = journal_slurp(&buf, &len, j, seq);
	if (r == 0)
		r = journal_record_parse(out, buf, len); /* takes buf */
	if (r == 0 && out->seq != seq) {
		journal_record_release(out);
		r = -EBADMSG;
	}
	return r;
}

/* A record file read whole when small, else in pieces without its
 * objects' bytes (journal_stream.c). */
static int journal_read_fd(struct journal_record *out, int fd)
{
	unsigned char *buf;
	struct stat st;
	size_t len;
	int r;

	memset(out, 0, sizeof(*out));
	if (fstat(fd, &st) != 0)
		return -errno;
	if ((uint64_t)st.st_size > JOURNAL_LEAN_MIN)
		return jstream_read(out, fd, (uint64_t)st.st_size);
	r = journal_slurp_fd(&buf, &len, fd);
	return r ? r : journal_record_parse(out, buf, len); /* takes buf */
}

int journal_read_lean(struct journal_record *out, struct journal *j, uint64_t seq)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	bool kept;
	int fd, r = jslot_held_copy(&j->slots, seq, &buf, &len);

	memset(out, 0, sizeof(*out));
	if (r == 0)
		return journal_record_parse_own(out, buf, len);
	if (r != -ENOENT)
		return r;
	fd = journal_open_record(j, seq, &kept);
	if (fd < 0)
		return fd;
	r = journal_read_fd(out, fd);
	if (!kept)
		close(fd);
	if (r == 0 && out->seq != seq) {
		journal_record_release(out);
		r = -EBADMSG;
	}
	return r;
}

int journal_read_object(struct journal *j, uint64_t seq, uint64_t off, size_t len,
			unsigned char **out)
{
	bool kept;
	int fd = journal_open_record(j, seq, &kept), r;

	*out = NULL;
	if (fd < 0)
		return fd;
	*out = malloc(len ? len : 1);
	r = !*out ? -ENOMEM : fdio_pread_all(fd, *out, len, off, NULL);
	if (!kept)
		close(fd);
	if (r) {
		free(*out);
		*out = NULL;
	}
	return r == -ENODATA ? -EBADMSG : r;
}

/* ---- listing ---- */

static int journal_seq_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int journal_list(uint64_t **seqs, size_t *n, struct journal *j)
{
	char dir[CACHE_PATH_MAX];
	struct dirent *de;
	size_t cap = 0;
	uint64_t seq, *p;
	DIR *d;
	int r = journal_path(dir, j->slots.dir, 0, NULL);

	*seqs = NULL;
	*n = 0;
	if (r)
		return r;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (!journal_parse_name(de->d_name, &seq))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			p = realloc(*seqs, cap * sizeof(*p));
			if (!p) {
				r = -ENOMEM;
				break;
			}
			*seqs = p;
		}
		(*seqs)[(*n)++] = seq;
	}
	closedir(d);
	if (r == 0)
		r = jslot_seqs(&j->slots, seqs, n, &cap);
	if (r) {
		free(*seqs);
		*seqs = NULL;
		*n = 0;
		return r;
	}
	if (*n > 1)
		qsort(*seqs, *n, sizeof(**seqs), journal_seq_cmp);
	return 0;
}

int journal_remove(struct journal *j, uint64_t seq)
{
	char path[CACHE_PATH_MAX];
	unsigned k;
	int r = journal_path(path, j->slots.dir, seq, ".rec");

	if (r == 0 && jslot_find(&j->slots, seq, &k) == 0) {
		journal_clear_slot(&j->slots, k);
		jslot_release(&j->slots, k);
		return 0;
	}
	if (r)
		return r;
	return unlink(path) == 0 || errno == ENOENT ? 0 : -errno; /* a record of format 1's names */
}

/* ---- batches ---- */

static int journal_key_cmp(const void *a, const void *b) { return memcmp(a, b, OBJECT_ID_BYTES); }

int journal_batch_load(struct journal_batch *b, struct journal *j, const uint64_t *seqs, size_t n,
		       bool skip_missing, uint64_t *bad)
{
	size_t ng = 0;

	memset(b, 0, sizeof(*b));
	b->recs = calloc(n ? n : 1, sizeof(*b->recs));
	if (!b->recs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int r = journal_read_lean(&b->recs[b->n], j, seqs[i]);
		if (r == -ENOENT && skip_missing)
			continue;
		if (r) {
			*bad = seqs[i];
			return r;
		}
		ng += b->recs[b->n++].ngarbage;
	}
	b->garbage = malloc((ng ? ng : 1) * OBJECT_ID_BYTES);
	if (!b->garbage)
		return -ENOMEM;
	for (size_t i = 0; i < b->n; i++) {
		if (b->recs[i].ngarbage > 0) /* garbage may be NULL when empty */
			memcpy(b->garbage[b->ngarbage], b->recs[i].garbage,
			       b->recs[i].ngarbage * OBJECT_ID_BYTES);
		b->ngarbage += b->recs[i].ngarbage;
	}
	if (b->ngarbage > 0)
		qsort(b->garbage, b->ngarbage, OBJECT_ID_BYTES, journal_key_cmp);
	return 0;
}

bool journal_batch_is_garbage(const struct journal_batch *b, const uint8_t key[OBJECT_ID_BYTES])
{
	return b->ngarbage > 0 &&
	       bsearch(key, b->garbage, b->ngarbage, OBJECT_ID_BYTES, journal_key_cmp) != NULL;
}

void journal_batch_release(struct journal_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		journal_record_release(&b->recs[i]);
	free(b->recs);
	free(b->garbage);
	memset(b, 0, sizeof(*b));
}
