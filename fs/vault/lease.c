/* lease.c - the lease of a store that ignores conditional writes (lease.h):
 * reading it, taking it, checking it before a head goes in, renewing it on a
 * thread of its own, and deleting it at unmount. It must never write a lease
 * over another device's live one unless told to (--force), never let a mount
 * that saw another device's lease write a head again, and never log a device
 * name (the user's label). Lock order: op (one store exchange at a time, held
 * across store calls: only this file's callers wait on it) before lock (the
 * state, never held across I/O), then the uploader's lock (upload_halt). */
#include "lease.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "leaseobj.h"
#include "log.h"
#include "mono.h"
#include "upload.h"

struct lease {
	struct backend *store; /* borrowed */
	uint8_t vault_id[OBJECT_ID_BYTES];
	uint8_t device[OBJECT_ID_BYTES];
	char name[DIROBJ_DEVICE_NAME_MAX + 1];
	unsigned char *key;  /* sodium_malloc'ed copy of vault_keys.lease */
	struct upload *up;   /* borrowed: halted when the lease is lost; NULL before start */
	pthread_mutex_t op;  /* one store exchange at a time; the fields up to lock */
	unsigned char *mine; /* the sealed bytes this device last wrote (owned) */
	size_t mine_len;
	struct timespec written; /* CLOCK_MONOTONIC of that write */
	pthread_mutex_t lock;	 /* the fields below */
	pthread_cond_t cond;	 /* the renewal thread waits: stop, a lease taken */
	enum lease_state state;
	int64_t until; /* lease_state's */
	bool stop;
	bool started;
	pthread_t thread;
};

/* What a lease read from the store is to this device. */
enum lease_found {
	LEASE_FOUND_NONE,     /* no lease object */
	LEASE_FOUND_MINE,     /* exactly the bytes this device last wrote */
	LEASE_FOUND_OURS,     /* another lease of this device (an earlier mount's) */
	LEASE_FOUND_EXPIRED,  /* another device's, past its until */
	LEASE_FOUND_LIVE,     /* another device's, live */
	LEASE_FOUND_UNOPENED, /* does not open under this vault's lease key */
};

static void lease_set(struct lease *l, enum lease_state s, int64_t until)
{
	pthread_mutex_lock(&l->lock);
	l->state = s;
	l->until = until;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

static enum lease_state lease_get(struct lease *l)
{
	enum lease_state s;

	pthread_mutex_lock(&l->lock);
	s = l->state;
	pthread_mutex_unlock(&l->lock);
	return s;
}

/* ---- the store's lease (op held) ---- */

/* Writes a new lease of this device, valid LEASE_VALID_S from now. */
static int lease_write(struct lease *l)
{
	struct leaseobj o = {.until = {0}};
	struct timespec now;
	unsigned char *sealed;
	size_t len;
	int r;

	clock_gettime(CLOCK_REALTIME, &now);
	memcpy(o.device, l->device, OBJECT_ID_BYTES);
	memcpy(o.device_name, l->name, sizeof(o.device_name));
	o.time.sec = now.tv_sec;
	o.time.nsec = (uint32_t)now.tv_nsec;
	o.until = o.time;
	o.until.sec += LEASE_VALID_S;
	r = leaseobj_seal(&sealed, &len, &o, l->vault_id, l->key);
	if (r)
		return r;
	r = backend_put(l->store, LEASE_STORE_KEY, sealed, len);
	if (r == 0)
		r = backend_sync(l->store);
	if (r) {
		free(sealed);
		return r;
	}
	free(l->mine);
	l->mine = sealed;
	l->mine_len = len;
	clock_gettime(CLOCK_MONOTONIC, &l->written);
	lease_set(l, LEASE_HELD, o.until.sec);
	return 0;
}

/* Reads the store's lease and says what it is (*h: what it holds). */
static int lease_read(struct lease *l, enum lease_found *found, struct lease_holder *h)
{
	struct leaseobj o;
	unsigned char *data = NULL;
	size_t len = 0;
	int r = backend_get_max(l->store, LEASE_STORE_KEY, LEASEOBJ_SEALED_MAX, &data, &len);

	memset(h, 0, sizeof(*h));
	if (r == -ENOENT) {
		*found = LEASE_FOUND_NONE;
		return 0;
	}
	if (r == -EFBIG)
		r = -EBADMSG; /* nothing this sealfs writes: like a lease that does not open */
	if (r == 0 && l->mine && len == l->mine_len && memcmp(data, l->mine, len) == 0) {
		free(data);
		*found = LEASE_FOUND_MINE;
		h->readable = true;
		memcpy(h->device, l->device, OBJECT_ID_BYTES);
		return 0;
	}
	if (r == 0)
		r = leaseobj_open(&o, data, len, l->vault_id, l->key);
	free(data);
	if (r == -EBADMSG) {
		*found = LEASE_FOUND_UNOPENED;
		return 0;
	}
	if (r)
		return r;
	h->readable = true;
	memcpy(h->device, o.device, OBJECT_ID_BYTES);
	memcpy(h->name, o.device_name, sizeof(h->name));
	h->until = o.until.sec;
	if (memcmp(o.device, l->device, OBJECT_ID_BYTES) == 0)
		*found = LEASE_FOUND_OURS;
	else
		*found =
		    o.until.sec <= (int64_t)time(NULL) ? LEASE_FOUND_EXPIRED : LEASE_FOUND_LIVE;
	return 0;
}

static void lease_dev_hex(char out[2 * OBJECT_ID_BYTES + 1], const uint8_t *dev)
{
	sodium_bin2hex(out, 2 * OBJECT_ID_BYTES + 1, dev, OBJECT_ID_BYTES);
}

/* Writes this device's lease over what was found, then reads it back: a
 * device that wrote between the two holds it. */
static int lease_write_checked(struct lease *l, struct lease_holder *h)
{
	enum lease_found found;
	int r = lease_write(l);

	if (r == 0)
		r = lease_read(l, &found, h);
	if (r == 0 && found != LEASE_FOUND_MINE) {
		lease_set(l, LEASE_OTHER, h->until);
		return -EBUSY;
	}
	return r;
}

static int lease_take_locked(struct lease *l, bool force, struct lease_holder *h)
{
	char dev[2 * OBJECT_ID_BYTES + 1];
	enum lease_found found;
	int r = lease_read(l, &found, h);

	if (r)
		return r;
	if (found == LEASE_FOUND_LIVE || found == LEASE_FOUND_UNOPENED) {
		if (!force) {
			lease_set(l, LEASE_OTHER, h->until);
			return -EBUSY;
		}
		lease_dev_hex(dev, h->device);
		log_msg(LOG_WARNING,
			"taking over the store's lease from %s (--force): that mount stops "
			"writing to the store at its next upload",
			found == LEASE_FOUND_LIVE ? dev : "a lease that does not open");
	} else if (found == LEASE_FOUND_EXPIRED) {
		lease_dev_hex(dev, h->device);
		log_msg(LOG_NOTICE, "device %s's lease on the store lapsed at %" PRId64 ": taken",
			dev, h->until);
	}
	return lease_write_checked(l, h);
}

/* ---- losing it ---- */

/* Another device holds the lease now: this mount writes nothing more. */
static int lease_lost(struct lease *l, enum lease_state was, const struct lease_holder *h)
{
	char dev[64] = "its lease does not open";

	lease_set(l, was == LEASE_HELD ? LEASE_LOST : LEASE_OTHER, h->until);
	if (h->readable)
		lease_dev_hex(dev, h->device);
	if (was == LEASE_HELD)
		log_msg(LOG_ERR,
			"another device (%s) took over this mount's lease on the store (sealfs "
			"mount --force): nothing more is written to the store; this mount's "
			"commits stay in the cache's journal and are merged at its next "
			"read-write mount (docs/CLI.md, \"Several devices\")",
			dev);
	else
		log_msg(LOG_ERR,
			"the store ignores conditional writes and another device (%s) holds its "
			"lease: nothing is written to the store; this mount's commits stay in the "
			"cache's journal (docs/CLI.md, \"Several devices\")",
			dev);
	if (l->up)
		upload_halt(l->up);
	return -ENOLCK;
}

/* HELD: the store still holds this device's lease; renewed when renew or
 * when due. -ENOLCK: lost. */
static int lease_verify(struct lease *l, bool renew)
{
	struct lease_holder h;
	enum lease_found found;
	struct timespec due;
	int r = lease_read(l, &found, &h);

	if (r)
		return r;
	switch (found) {
	case LEASE_FOUND_NONE:
		log_msg(LOG_NOTICE, "this mount's lease was gone from the store: written again");
		return lease_write(l);
	case LEASE_FOUND_MINE:
		mono_after(&due, &l->written, LEASE_RENEW_S * 1000u);
		return renew || mono_passed(&due) ? lease_write(l) : 0;
	case LEASE_FOUND_OURS:
		return lease_write(l);
	default:
		return lease_lost(l, LEASE_HELD, &h);
	}
}

int lease_check(void *ctx)
{
	struct lease *l = ctx;
	struct lease_holder h;
	int r = 0;

	pthread_mutex_lock(&l->op);
	switch (lease_get(l)) {
	case LEASE_NOT_NEEDED:
		break;
	case LEASE_WANTED:
		r = lease_take_locked(l, false, &h);
		if (r == -EBUSY)
			r = lease_lost(l, LEASE_WANTED, &h);
		break;
	case LEASE_HELD:
		r = lease_verify(l, false);
		break;
	default:
		r = -ENOLCK;
		if (l->up)
			upload_halt(l->up);
	}
	pthread_mutex_unlock(&l->op);
	return r;
}

int lease_take(struct lease *l, bool force, struct lease_holder *holder)
{
	int r;

	pthread_mutex_lock(&l->op);
	r = lease_take_locked(l, force, holder);
	pthread_mutex_unlock(&l->op);
	return r;
}

/* ---- the renewal thread ---- */

static void *lease_main(void *arg)
{
	struct lease *l = arg;
	struct timespec due;
	int r, last = 0;

	pthread_mutex_lock(&l->lock);
	mono_deadline(&due, LEASE_RENEW_S * 1000u);
	while (!l->stop && (l->state == LEASE_HELD || l->state == LEASE_WANTED)) {
		if (l->state == LEASE_WANTED || !mono_passed(&due)) {
			pthread_cond_timedwait(&l->cond, &l->lock, &due);
			if (l->state == LEASE_WANTED)
				mono_deadline(&due, LEASE_RENEW_S * 1000u);
			continue;
		}
		pthread_mutex_unlock(&l->lock);
		pthread_mutex_lock(&l->op);
		r = lease_get(l) == LEASE_HELD ? lease_verify(l, true) : 0;
		pthread_mutex_unlock(&l->op);
		if (r && r != -ENOLCK && r != last)
			log_msg(
			    LOG_WARNING,
			    "renewing the store's lease failed (errno %d): tried again every %d s; "
			    "it lapses %d s after the last renewal",
			    -r, LEASE_RETRY_S, LEASE_VALID_S);
		else if (r == 0 && last)
			log_msg(LOG_INFO, "the store's lease is renewed again");
		last = r;
		mono_deadline(&due, (r ? LEASE_RETRY_S : LEASE_RENEW_S) * 1000u);
		pthread_mutex_lock(&l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

int lease_start(struct lease *l, struct upload *up)
{
	sigset_t all, old;
	int r;

	pthread_mutex_lock(&l->op);
	l->up = up;
	pthread_mutex_unlock(&l->op);
	if (lease_get(l) != LEASE_HELD && lease_get(l) != LEASE_WANTED)
		return 0;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* signals belong to the FUSE loop */
	r = pthread_create(&l->thread, NULL, lease_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	l->started = r == 0;
	return -r;
}

void lease_stop(struct lease *l)
{
	if (!l || !l->started)
		return;
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->thread, NULL);
	l->started = false;
}

/* ---- the rest ---- */

void lease_release(struct lease *l)
{
	struct lease_holder h;
	enum lease_found found;
	int r;

	if (!l || lease_get(l) != LEASE_HELD)
		return;
	pthread_mutex_lock(&l->op);
	r = lease_read(l, &found, &h);
	if (r == 0 && (found == LEASE_FOUND_MINE || found == LEASE_FOUND_OURS)) {
		r = backend_del(l->store, LEASE_STORE_KEY);
		if (r == 0)
			r = backend_sync(l->store);
	}
	if (r == 0)
		lease_set(l, LEASE_NOT_NEEDED, 0);
	pthread_mutex_unlock(&l->op);
	if (r)
		log_msg(LOG_WARNING,
			"deleting the store's lease failed (errno %d): another device can write "
			"once it lapses, %d s after its last renewal",
			-r, LEASE_VALID_S);
}

enum lease_state lease_state(struct lease *l, int64_t *until)
{
	enum lease_state s;

	*until = 0;
	if (!l)
		return LEASE_NOT_NEEDED;
	pthread_mutex_lock(&l->lock);
	s = l->state;
	*until = l->until;
	pthread_mutex_unlock(&l->lock);
	return s;
}

int lease_new(struct lease **out, struct backend *store, const uint8_t vault_id[OBJECT_ID_BYTES],
	      const unsigned char *key, const uint8_t device[OBJECT_ID_BYTES],
	      const char *device_name)
{
	struct lease *l = calloc(1, sizeof(*l));
	pthread_condattr_t ca;

	*out = NULL;
	if (!l)
		return -ENOMEM;
	l->key = sodium_malloc(32);
	if (!l->key) {
		free(l);
		return -ENOMEM;
	}
	memcpy(l->key, key, 32);
	l->store = store;
	memcpy(l->vault_id, vault_id, OBJECT_ID_BYTES);
	memcpy(l->device, device, OBJECT_ID_BYTES);
	snprintf(l->name, sizeof(l->name), "%s", device_name);
	l->state = LEASE_WANTED;
	pthread_mutex_init(&l->op, NULL);
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	*out = l;
	return 0;
}

void lease_free(struct lease *l)
{
	if (!l)
		return;
	lease_stop(l);
	sodium_free(l->key); /* wipes */
	free(l->mine);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
	pthread_mutex_destroy(&l->op);
	free(l);
}
