/* fsck_orphans.c - the reachable set of the vault checker and the orphans:
 * every o/ object of the store that the head does not reach. With repair,
 * an orphan is deleted once it is older than the grace period (an object a
 * mount stored just before its head may look like an orphan for a moment).
 * Must never delete a reachable object, a key that is not a sealfs object
 * key, or an object whose age it cannot tell unless the grace is 0. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "errbuf.h"
#include "fsck_int.h"
#include "hex.h"

#define FSCK_SET_MIN 1024u
#define FSCK_PREFIX "o/"

/* ---- the key set ---- */

static size_t fsck_slot(const struct fsck_keyset *s, const uint8_t key[OBJECT_ID_BYTES])
{
	uint64_t h;

	memcpy(&h, key, sizeof(h)); /* store keys are random: their bytes are a hash */
	return (size_t)(h & (s->cap - 1));
}

static void fsck_put(struct fsck_keyset *s, const uint8_t key[OBJECT_ID_BYTES])
{
	size_t i = fsck_slot(s, key);

	while (s->state[i] == 1)
		i = (i + 1) & (s->cap - 1);
	memcpy(s->keys[i], key, OBJECT_ID_BYTES);
	s->state[i] = 1;
	s->used++;
	s->filled++;
}

static int fsck_rehash(struct fsck_keyset *s, size_t cap)
{
	struct fsck_keyset n = {.cap = cap};

	n.keys = malloc(cap * sizeof(*n.keys));
	n.state = calloc(cap, 1);
	if (!n.keys || !n.state) {
		free(n.keys);
		free(n.state);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->cap; i++)
		if (s->state[i] == 1)
			fsck_put(&n, s->keys[i]);
	fsck_keyset_free(s);
	*s = n;
	return 0;
}

bool fsck_keyset_has(const struct fsck_keyset *s, const uint8_t key[OBJECT_ID_BYTES])
{
	if (!s->cap)
		return false;
	for (size_t i = fsck_slot(s, key); s->state[i] != 0; i = (i + 1) & (s->cap - 1))
		if (s->state[i] == 1 && memcmp(s->keys[i], key, OBJECT_ID_BYTES) == 0)
			return true;
	return false;
}

int fsck_keyset_add(struct fsck_keyset *s, const uint8_t key[OBJECT_ID_BYTES])
{
	if (fsck_keyset_has(s, key))
		return 0;
	/* At most half full, removed slots included, so probes stay short. */
	if ((s->filled + 1) * 2 > s->cap) {
		/* Mostly removed slots: rehash at the same size to clear them. */
		size_t cap = !s->cap ? FSCK_SET_MIN : s->used * 4 < s->cap ? s->cap : s->cap * 2;

		if (fsck_rehash(s, cap))
			return -ENOMEM;
	}
	fsck_put(s, key);
	return 0;
}

void fsck_keyset_remove(struct fsck_keyset *s, const uint8_t key[OBJECT_ID_BYTES])
{
	if (!s->cap)
		return;
	for (size_t i = fsck_slot(s, key); s->state[i] != 0; i = (i + 1) & (s->cap - 1))
		if (s->state[i] == 1 && memcmp(s->keys[i], key, OBJECT_ID_BYTES) == 0) {
			s->state[i] = 2;
			s->used--;
			return;
		}
}

void fsck_keyset_free(struct fsck_keyset *s)
{
	free(s->keys);
	free(s->state);
	memset(s, 0, sizeof(*s));
}

/* ---- orphans ---- */

/* What the listing found outside the reachable set, held until the listing
 * ends (deleting while a store lists is not safe for every store). */
struct fsck_orphan {
	uint8_t id[OBJECT_ID_BYTES];
	char *foreign; /* owned: a key under o/ that is not a sealfs object key */
	uint64_t size;
};

struct fsck_orphan_list {
	struct fsck *f;
	struct fsck_orphan *v;
	size_t n, cap;
};

/* Whether key is "o/<hh>/<32 hex>" with hh its first two digits; *id gets it. */
static bool fsck_parse_key(uint8_t id[OBJECT_ID_BYTES], const char *key)
{
	size_t len = strlen(key);

	return len == 2 + 3 + 2 * OBJECT_ID_BYTES && key[4] == '/' &&
	       memcmp(key + 2, key + 5, 2) == 0 &&
	       hex_decode(id, OBJECT_ID_BYTES, key + 5, 2 * OBJECT_ID_BYTES) == 0;
}

static int fsck_orphan_seen(void *arg, const char *key, uint64_t size)
{
	struct fsck_orphan_list *l = arg;
	uint8_t id[OBJECT_ID_BYTES] = {0};
	bool ours = fsck_parse_key(id, key);
	struct fsck_orphan *o;

	if (ours && fsck_keyset_has(&l->f->reach, id))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *p = realloc(l->v, cap * sizeof(*l->v));

		if (!p)
			return -ENOMEM;
		l->v = p;
		l->cap = cap;
	}
	o = &l->v[l->n];
	memset(o, 0, sizeof(*o));
	memcpy(o->id, id, OBJECT_ID_BYTES);
	o->size = size;
	if (!ours && !(o->foreign = strdup(key)))
		return -ENOMEM;
	l->n++;
	return 0;
}

/* Decides, and with repair acts on, one orphan; fills p's fate. */
static void fsck_orphan_fate(struct fsck *f, const struct fsck_orphan *o, struct fsck_problem *p,
			     int64_t now)
{
	int64_t t;
	int r;

	p->fate = FSCK_ORPHAN_LISTED;
	if (!o->foreign && f->store->ops->stored_time &&
	    f->store->ops->stored_time(f->store, p->key, &t) == 0)
		p->age_s = now > t ? now - t : 0;
	if (!f->o->repair)
		return;
	if (o->foreign) {
		p->fate = FSCK_ORPHAN_FOREIGN;
		return;
	}
	if (f->o->grace_s > 0 && p->age_s < 0) {
		p->fate = FSCK_ORPHAN_NO_AGE;
		return;
	}
	if (f->o->grace_s > 0 && p->age_s < f->o->grace_s) {
		p->fate = FSCK_ORPHAN_YOUNG;
		return;
	}
	r = backend_del(f->store, p->key);
	p->fate = r ? FSCK_ORPHAN_DEL_FAIL : FSCK_ORPHAN_DELETED;
	p->err = -r;
	if (r == 0)
		f->res->n.orphans_deleted++;
}

int fsck_orphans(struct fsck *f)
{
	struct fsck_orphan_list l = {.f = f};
	int64_t now = (int64_t)time(NULL);
	int r = f->store->ops->list(f->store, FSCK_PREFIX, fsck_orphan_seen, &l);

	for (size_t i = 0; r == 0 && i < l.n; i++) {
		char key[OBJECT_KEY_TEXT_BYTES];
		struct fsck_problem p = {.kind = FSCK_ORPHAN,
					 .what = "",
					 .why = l.v[i].foreign ? "not a sealfs object key" : "",
					 .key = l.v[i].foreign ? l.v[i].foreign : key,
					 .size = l.v[i].size,
					 .age_s = -1};

		object_key_text(key, l.v[i].id);

		fsck_orphan_fate(f, &l.v[i], &p, now);
		f->res->n.orphans++;
		f->res->n.orphan_bytes += l.v[i].size;
		f->o->report(f->o->arg, &p);
		fsck_tick(f, false);
	}
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i].foreign);
	free(l.v);
	if (r < 0)
		return errbuf_fail(f->err, f->err_size, r, "listing the store: %s", strerror(-r));
	if (f->o->repair && f->res->n.orphans_deleted)
		r = backend_sync(f->store);
	if (r < 0)
		return errbuf_fail(f->err, f->err_size, r, "syncing the store: %s", strerror(-r));
	return 0;
}
