/* journal_slot.c - the in-memory table of the journal's slot files
 * (journal_slot.h). It reads only record headers (magic, version, seq: no
 * secret, no name) and must never write a slot's contents: fs/cache/journal.c
 * does that. */
#include "journal_slot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"

enum jslot_state { JSLOT_ABSENT = 0, JSLOT_FREE, JSLOT_USED };

struct jslot {
	enum jslot_state state;
	uint64_t seq; /* JSLOT_USED */
	/* Slots below JSLOT_KEEP_FREE keep their file open from their first
	 * write to jslot_destroy (a commit then opens and closes nothing):
	 * fd + 1, 0 for none. len: the file's size as last written (any
	 * slot: no fstat before a write, and jslot_take picks by it), or
	 * JSLOT_LEN_UNKNOWN. */
	int fd1;
	size_t len;
	/* JSLOT_USED: the record's bytes as written, while it is pending and
	 * small (JSLOT_MEM_MAX, JSLOT_MEM_BUDGET in all): the uploader reads
	 * them from here, not back from the file. Owned; NULL when not held. */
	unsigned char *mem;
	size_t memlen;
};

/* Frees slot i's held bytes (lock held). */
static void jslot_mem_drop(struct jslot_table *t, size_t i)
{
	if (!t->slots[i].mem)
		return;
	t->mem_total -= t->slots[i].memlen;
	free(t->slots[i].mem);
	t->slots[i].mem = NULL;
	t->slots[i].memlen = 0;
}

int jslot_path(char out[CACHE_PATH_MAX], const char *cache_dir, unsigned k)
{
	int n = snprintf(out, CACHE_PATH_MAX, "%s/%s/%s%u", cache_dir, JOURNAL_DIR_NAME,
			 JSLOT_PREFIX, k);

	return n < 0 || n >= CACHE_PATH_MAX ? -ENAMETOOLONG : 0;
}

/* "slot-<k>" -> k; false for anything else. */
static bool jslot_parse_name(const char *name, unsigned *k)
{
	const char *p = name + strlen(JSLOT_PREFIX);
	unsigned long v = 0;

	if (strncmp(name, JSLOT_PREFIX, strlen(JSLOT_PREFIX)) != 0 || !*p || (*p == '0' && p[1]))
		return false;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v >= JSLOT_MAX)
			return false;
	}
	*k = (unsigned)v;
	return true;
}

/* Grows t to hold index k (lock held). */
static int jslot_grow(struct jslot_table *t, size_t k)
{
	if (k >= t->cap) {
		size_t cap = t->cap ? t->cap : 64;
		struct jslot *s;

		while (cap <= k)
			cap *= 2;
		s = realloc(t->slots, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		memset(s + t->cap, 0, (cap - t->cap) * sizeof(*s));
		t->slots = s;
		t->cap = cap;
	}
	if (k >= t->n)
		t->n = k + 1;
	return 0;
}

/* Reads slot file path's header: used (with *seq) or free. */
static enum jslot_state jslot_read_header(int dirfd, const char *name, uint64_t *seq)
{
	unsigned char h[JOURNAL_MAGIC_BYTES + 4 + 8];
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t got;
	uint32_t version = 0;

	if (fd < 0)
		return JSLOT_FREE;
	got = pread(fd, h, sizeof(h), 0);
	close(fd);
	if (got != (ssize_t)sizeof(h) || memcmp(h, JOURNAL_MAGIC, JOURNAL_MAGIC_BYTES) != 0)
		return JSLOT_FREE;
	for (int i = 0; i < 4; i++)
		version |= (uint32_t)h[JOURNAL_MAGIC_BYTES + i] << (8 * i);
	if (version < 1) /* above JOURNAL_VERSION: a newer sealfs's record, refused when read */
		return JSLOT_FREE;
	*seq = 0;
	for (int i = 0; i < 8; i++)
		*seq |= (uint64_t)h[JOURNAL_MAGIC_BYTES + 4 + i] << (8 * i);
	return JSLOT_USED;
}

/* Closes the slot files t keeps open (lock held, or t no longer shared). */
static void jslot_close_all(struct jslot_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->slots[i].fd1 > 0)
			close(t->slots[i].fd1 - 1);
		t->slots[i].fd1 = 0;
		jslot_mem_drop(t, i);
	}
}

/* Scans the directory into t (lock held). */
static int jslot_scan_locked(struct jslot_table *t)
{
	char dir[CACHE_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = 0;

	jslot_close_all(t);
	t->n = 0;
	if (t->cap)
		memset(t->slots, 0, t->cap * sizeof(*t->slots));
	if (snprintf(dir, sizeof(dir), "%s/%s", t->dir, JOURNAL_DIR_NAME) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (r == 0 && (de = readdir(d)) != NULL) {
		unsigned k;
		uint64_t seq = 0;

		if (!jslot_parse_name(de->d_name, &k))
			continue;
		enum jslot_state st = jslot_read_header(dirfd(d), de->d_name, &seq);
		if (st == JSLOT_FREE && k >= JSLOT_KEEP_FREE) {
			unlinkat(dirfd(d), de->d_name, 0); /* a backlog's slots, not needed now */
			continue;
		}
		r = jslot_grow(t, k);
		if (r == 0)
			t->slots[k] =
			    (struct jslot){.state = st, .seq = seq, .len = JSLOT_LEN_UNKNOWN};
	}
	closedir(d);
	return r;
}

int jslot_init(struct jslot_table *t, const char *cache_dir)
{
	memset(t, 0, sizeof(*t));
	if (strlen(cache_dir) >= sizeof(t->dir))
		return -ENAMETOOLONG;
	memcpy(t->dir, cache_dir, strlen(cache_dir) + 1);
	pthread_mutex_init(&t->lock, NULL);
	return 0;
}

void jslot_destroy(struct jslot_table *t)
{
	jslot_close_all(t);
	free(t->slots);
	pthread_mutex_destroy(&t->lock);
}

int jslot_scan(struct jslot_table *t)
{
	int r;

	pthread_mutex_lock(&t->lock);
	r = jslot_scan_locked(t); /* the directory may have changed */
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* Of two free slots a record covers whole: a kept-open one first (no open
 * and close), then the longer file. */
static bool jslot_fits_better(const struct jslot *a, const struct jslot *b)
{
	if ((a->fd1 > 0) != (b->fd1 > 0))
		return a->fd1 > 0;
	return a->len > b->len;
}

/* The free slot for a record of len bytes (lock held), t->n when none is
 * free: one whose known file the record covers whole (jslot_fits_better), so
 * that the write needs no ftruncate (ext4 journals a cut inode and its
 * orphan entry: the dearest call of a commit when records shrink), else the
 * first free one. *absent: the first index without a file. */
static size_t jslot_pick_free(const struct jslot_table *t, size_t len, size_t *absent)
{
	size_t i, first = t->n, best = t->n;

	*absent = SIZE_MAX;
	for (i = 0; i < t->n; i++) {
		const struct jslot *s = &t->slots[i];

		if (s->state == JSLOT_ABSENT && *absent == SIZE_MAX)
			*absent = i;
		if (s->state != JSLOT_FREE)
			continue;
		if (first == t->n)
			first = i;
		if (s->len <= len && (best == t->n || jslot_fits_better(s, &t->slots[best])))
			best = i;
	}
	return best != t->n ? best : first;
}

int jslot_take(struct jslot_table *t, uint64_t seq, size_t len, unsigned *k, bool *fresh)
{
	size_t i, absent;
	int r = 0;

	pthread_mutex_lock(&t->lock);
	i = jslot_pick_free(t, len, &absent);
	if (i == t->n) { /* no free slot: a new file */
		i = absent != SIZE_MAX ? absent : t->n;
		r = i >= JSLOT_MAX ? -ENOSPC : jslot_grow(t, i);
	}
	if (r == 0) {
		*fresh = t->slots[i].state == JSLOT_ABSENT;
		jslot_mem_drop(t, i);
		if (*fresh)
			t->slots[i] = (struct jslot){.len = JSLOT_LEN_UNKNOWN};
		t->slots[i].state = JSLOT_USED;
		t->slots[i].seq = seq;
		*k = (unsigned)i;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

void jslot_release(struct jslot_table *t, unsigned k)
{
	pthread_mutex_lock(&t->lock);
	if (k < t->n) {
		t->slots[k].state = JSLOT_FREE;
		t->slots[k].seq = 0;
		jslot_mem_drop(t, k);
	}
	pthread_mutex_unlock(&t->lock);
}

/* The open file of slot k (lock held): the kept one, or opened now (and
 * kept when k < JSLOT_KEEP_FREE). */
static int jslot_open_locked(struct jslot_table *t, unsigned k, bool create, bool *kept)
{
	char path[CACHE_PATH_MAX];
	int fd, r = jslot_path(path, t->dir, k);

	*kept = false;
	if (k < t->n && t->slots[k].fd1 > 0) {
		*kept = true;
		return t->slots[k].fd1 - 1;
	}
	if (r)
		return r;
	fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (fd < 0)
		return -errno;
	if (k < t->n && k < JSLOT_KEEP_FREE) {
		t->slots[k].fd1 = fd + 1;
		t->slots[k].len = JSLOT_LEN_UNKNOWN;
		*kept = true;
	}
	return fd;
}

int jslot_open(struct jslot_table *t, unsigned k, bool create, bool *kept, size_t *len)
{
	int fd;

	pthread_mutex_lock(&t->lock);
	fd = jslot_open_locked(t, k, create, kept);
	*len = fd >= 0 && k < t->n ? t->slots[k].len : JSLOT_LEN_UNKNOWN;
	pthread_mutex_unlock(&t->lock);
	return fd;
}

void jslot_set_len(struct jslot_table *t, unsigned k, size_t len)
{
	pthread_mutex_lock(&t->lock);
	if (k < t->n)
		t->slots[k].len = len;
	pthread_mutex_unlock(&t->lock);
}

int jslot_find(struct jslot_table *t, uint64_t seq, unsigned *k)
{
	int r = -ENOENT;

	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->n; i++) {
		if (t->slots[i].state == JSLOT_USED && t->slots[i].seq == seq) {
			*k = (unsigned)i;
			r = 0;
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

int jslot_seqs(struct jslot_table *t, uint64_t **seqs, size_t *n, size_t *cap)
{
	int r = 0;

	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; r == 0 && i < t->n; i++) {
		if (t->slots[i].state != JSLOT_USED)
			continue;
		if (*n == *cap) {
			size_t ncap = *cap ? 2 * *cap : 16;
			uint64_t *p = realloc(*seqs, ncap * sizeof(*p));
			if (!p) {
				r = -ENOMEM;
				break;
			}
			*seqs = p;
			*cap = ncap;
		}
		(*seqs)[(*n)++] = t->slots[i].seq;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

bool jslot_hold(struct jslot_table *t, unsigned k, unsigned char *buf, size_t len)
{
	bool held = false;

	pthread_mutex_lock(&t->lock);
	if (k < t->n && t->slots[k].state == JSLOT_USED && len <= JSLOT_MEM_MAX &&
	    t->mem_total + len <= JSLOT_MEM_BUDGET) {
		jslot_mem_drop(t, k);
		t->slots[k].mem = buf;
		t->slots[k].memlen = len;
		t->mem_total += len;
		held = true;
	}
	pthread_mutex_unlock(&t->lock);
	return held;
}

int jslot_held_copy(struct jslot_table *t, uint64_t seq, unsigned char **out, size_t *len)
{
	int r = -ENOENT;

	*out = NULL;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->n; i++) {
		const struct jslot *s = &t->slots[i];
		if (s->state != JSLOT_USED || s->seq != seq || !s->mem)
			continue;
		*out = malloc(s->memlen);
		r = *out ? 0 : -ENOMEM;
		if (*out) {
			memcpy(*out, s->mem, s->memlen);
			*len = s->memlen;
		}
		break;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}
