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
};

/* One cache directory's table; tables live until the process exits. */
struct jslot_table {
	struct jslot_table *next;
	char dir[CACHE_PATH_MAX];
	struct jslot *slots;
	size_t n, cap; /* slots[0..n) known */
	bool scanned;
};

static pthread_mutex_t jslot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct jslot_table *jslot_tables;

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

	if (strncmp(name, JSLOT_PREFIX, strlen(JSLOT_PREFIX)) != 0 || !*p ||
	    (*p == '0' && p[1]))
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
	if (version != JOURNAL_VERSION)
		return JSLOT_FREE;
	*seq = 0;
	for (int i = 0; i < 8; i++)
		*seq |= (uint64_t)h[JOURNAL_MAGIC_BYTES + 4 + i] << (8 * i);
	return JSLOT_USED;
}

/* Scans the directory into t (lock held). */
static int jslot_scan_locked(struct jslot_table *t)
{
	char dir[CACHE_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = 0;

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
			t->slots[k] = (struct jslot){.state = st, .seq = seq};
	}
	closedir(d);
	t->scanned = r == 0;
	return r;
}

/* The table of cache_dir, created and scanned on first use, or scanned again
 * when rescan (lock held). */
static struct jslot_table *jslot_table_scan(const char *cache_dir, bool rescan, int *r)
{
	struct jslot_table *t;

	*r = 0;
	for (t = jslot_tables; t; t = t->next)
		if (strcmp(t->dir, cache_dir) == 0)
			break;
	if (!t) {
		if (strlen(cache_dir) >= sizeof(t->dir)) {
			*r = -ENAMETOOLONG;
			return NULL;
		}
		t = calloc(1, sizeof(*t));
		if (!t) {
			*r = -ENOMEM;
			return NULL;
		}
		memcpy(t->dir, cache_dir, strlen(cache_dir) + 1);
		t->next = jslot_tables;
		jslot_tables = t;
	}
	if (rescan || !t->scanned)
		*r = jslot_scan_locked(t);
	return *r ? NULL : t;
}

static struct jslot_table *jslot_table(const char *cache_dir, int *r)
{
	return jslot_table_scan(cache_dir, false, r);
}

int jslot_scan(const char *cache_dir)
{
	int r;

	pthread_mutex_lock(&jslot_lock);
	(void)jslot_table_scan(cache_dir, true, &r); /* the directory may have changed */
	pthread_mutex_unlock(&jslot_lock);
	return r;
}

int jslot_take(const char *cache_dir, uint64_t seq, unsigned *k, bool *fresh)
{
	struct jslot_table *t;
	size_t i, absent = SIZE_MAX;
	int r;

	pthread_mutex_lock(&jslot_lock);
	t = jslot_table(cache_dir, &r);
	for (i = 0; t && i < t->n; i++) {
		if (t->slots[i].state == JSLOT_FREE)
			break;
		if (t->slots[i].state == JSLOT_ABSENT && absent == SIZE_MAX)
			absent = i;
	}
	if (t && i == t->n) { /* no free slot: a new file */
		i = absent != SIZE_MAX ? absent : t->n;
		r = i >= JSLOT_MAX ? -ENOSPC : jslot_grow(t, i);
	}
	if (t && r == 0) {
		*fresh = t->slots[i].state == JSLOT_ABSENT;
		t->slots[i] = (struct jslot){.state = JSLOT_USED, .seq = seq};
		*k = (unsigned)i;
	}
	pthread_mutex_unlock(&jslot_lock);
	return r;
}

void jslot_release(const char *cache_dir, unsigned k)
{
	struct jslot_table *t;
	int r;

	pthread_mutex_lock(&jslot_lock);
	t = jslot_table(cache_dir, &r);
	if (t && k < t->n)
		t->slots[k] = (struct jslot){.state = JSLOT_FREE};
	pthread_mutex_unlock(&jslot_lock);
}

int jslot_find(const char *cache_dir, uint64_t seq, unsigned *k)
{
	struct jslot_table *t;
	int r;

	pthread_mutex_lock(&jslot_lock);
	t = jslot_table(cache_dir, &r);
	r = -ENOENT;
	for (size_t i = 0; t && i < t->n; i++) {
		if (t->slots[i].state == JSLOT_USED && t->slots[i].seq == seq) {
			*k = (unsigned)i;
			r = 0;
			break;
		}
	}
	pthread_mutex_unlock(&jslot_lock);
	return r;
}

int jslot_seqs(const char *cache_dir, uint64_t **seqs, size_t *n, size_t *cap)
{
	struct jslot_table *t;
	int r;

	pthread_mutex_lock(&jslot_lock);
	t = jslot_table(cache_dir, &r);
	for (size_t i = 0; t && r == 0 && i < t->n; i++) {
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
	pthread_mutex_unlock(&jslot_lock);
	return r;
}
