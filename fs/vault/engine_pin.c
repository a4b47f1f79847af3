/* engine_pin.c - what the engine checks of the store's head before it
 * mounts it (engine_pin.h): --expect (its fingerprint, or its parent's),
 * --not-before (its time, format 2), and the pin (CACHE/state): a head
 * older than the pinned seq is a rollback, the pinned seq with other bytes
 * a fork, and so is a newer head that provably does not descend from the
 * pinned one (head_chain.h; "cannot verify" is said, not refused); a damaged pin, or a missing one
 * in a cache that was used, refuses unless --accept-store-head. It must never accept a pin whose
 * MAC does not verify, never refuse silently (one line in err naming the way out), and never log
 * the device name (the user's label; it goes to the terminal). */
#include "engine_pin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "cache.h"
#include "errbuf.h"
#include "head_chain.h"
#include "history.h"
#include "journal.h"
#include "log.h"
#include "seal.h"

/* What the checks read with: all borrowed. */
struct engine_pin_ctx {
	struct cache *cache;
	const struct vault_config *cfg;
	const struct vault_keys *keys;
	const struct engine_opts *o;
};

#define ENGINE_PIN_ACCEPT "mount with --accept-store-head to trust the store's head"

static void engine_pin_date(char out[32], int64_t sec)
{
	time_t t = (time_t)sec;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, 32, "@%" PRId64, sec);
}

static void engine_pin_fp_hex(char out[2 * HEAD_FP_BYTES + 1], const uint8_t *fp)
{
	sodium_bin2hex(out, 2 * HEAD_FP_BYTES + 1, fp, HEAD_FP_BYTES);
}

/* --expect and --not-before. */
static int engine_pin_wanted(const struct dirobj_head *head, const uint8_t hash[HEAD_HASH_BYTES],
			     int format, const struct engine_opts *o, char *err, size_t size)
{
	char have[2 * HEAD_FP_BYTES + 1], want[2 * HEAD_FP_BYTES + 1], d1[32], d2[32];
	static const uint8_t zero[HEAD_FP_BYTES];

	if (o->expect && memcmp(hash, o->expect, HEAD_FP_BYTES) != 0 &&
	    !(format >= 2 && memcmp(head->parent, zero, HEAD_FP_BYTES) != 0 &&
	      memcmp(head->parent, o->expect, HEAD_FP_BYTES) == 0)) {
		engine_pin_fp_hex(have, hash);
		engine_pin_fp_hex(want, o->expect);
		return errbuf_fail(err, size, -EKEYREJECTED,
				   "the store's head (seq %" PRIu64 ", fingerprint %s) is not the "
				   "expected %s nor the commit right after it: refused (--expect)",
				   head->seq, have, want);
	}
	if (o->not_before && format < 2)
		return errbuf_fail(err, size, -EMEDIUMTYPE,
				   "--not-before needs a format-2 vault: a format-1 head carries "
				   "no time");
	if (o->not_before && head->time.sec < o->not_before) {
		engine_pin_date(d1, head->time.sec);
		engine_pin_date(d2, o->not_before);
		return errbuf_fail(err, size, -EKEYREJECTED,
				   "the store's head (seq %" PRIu64 ") is from %s, older than "
				   "--not-before %s: refused",
				   head->seq, d1, d2);
	}
	return 0;
}

/* Whether this cache was mounted before: its journal directory exists
 * (made by the first mount, before the pin is first written). */
static bool engine_pin_expected(const char *cache_dir)
{
	char path[CACHE_PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", cache_dir, JOURNAL_DIR_NAME);
	return lstat(path, &st) == 0;
}

/* A pin that cannot be trusted (r: head_state_load's errno). */
static int engine_pin_bad(int r, const char *cache_dir, const struct engine_opts *o, char *err,
			  size_t size)
{
	const char *why = r == -EBADMSG	 ? "is damaged (its MAC does not verify)"
			  : r == -EXDEV	 ? "belongs to another vault"
			  : r == -ENOENT ? "is missing, though the cache was used before"
					 : "is unreadable";

	if (r != -EBADMSG && r != -EXDEV && r != -ENOENT && r != -EINVAL)
		return errbuf_fail(err, size, r, "reading the cache's pin failed: %s",
				   strerror(-r));
	if (!o->accept_store_head)
		return errbuf_fail(err, size, -EKEYREJECTED,
				   "the cache's pin (%s/state) %s: the store's head cannot be "
				   "checked against the last one seen; " ENGINE_PIN_ACCEPT,
				   cache_dir, why);
	log_msg(LOG_WARNING, "the cache's pin %s: accepting the store's head (--accept-store-head)",
		why);
	return 0;
}

/* The pinned head's plaintext from CACHE/pin-head, when kept and its hash
 * is the pin's: 0, else the chain is checked without it. */
static int engine_pin_pinned(struct dirobj_head *pinned, const struct head_state *st,
			     const struct engine_pin_ctx *x)
{
	unsigned char *sealed = NULL;
	size_t len = 0;
	int r = head_pin_read_head(x->o->cache_dir, st->hash, &sealed, &len);

	memset(pinned, 0, sizeof(*pinned));
	if (r == 0)
		r = seal_open_head(pinned, sealed, len, x->cfg->vault_id, x->keys->meta,
				   x->cfg->format);
	free(sealed);
	return r;
}

/* A pin of a head below the store's (format 2): whether the store's head
 * descends from it (docs/SECURITY.md, "Forks"). */
static enum head_chain_verdict engine_pin_chain(const struct head_state *st,
						const struct dirobj_head *head,
						const struct engine_pin_ctx *x)
{
	struct dirobj_head pinned;
	struct history_io io;
	enum head_chain_verdict v;
	bool have = engine_pin_pinned(&pinned, st, x) == 0;
	int why = 0;

	history_io_cache(&io, x->cache, x->cfg->vault_id, x->keys->meta);
	v = head_chain_check(head, st->seq, st->hash, have ? &pinned : NULL, &io, &why);
	if (have)
		dirobj_head_release(&pinned);
	if (v == HEAD_CHAIN_UNKNOWN)
		log_msg(LOG_WARNING,
			"cannot verify that the store's head (seq %" PRIu64 ") descends from the "
			"one this cache saw last (seq %" PRIu64 "): the heads between are not "
			"retained%s (errno %d); mounting it",
			head->seq, st->seq, why ? " or not readable" : "", -why);
	return v;
}

/* A valid pin (version 1 or 2) against the store's head. */
static int engine_pin_compare(const struct head_state *st, const struct dirobj_head *head,
			      const uint8_t hash[HEAD_HASH_BYTES], const struct engine_pin_ctx *x,
			      char *err, size_t size)
{
	char have[2 * HEAD_FP_BYTES + 1], had[2 * HEAD_FP_BYTES + 1];
	const struct engine_opts *o = x->o;
	bool fork = st->version == 2 && head->seq == st->seq &&
		    memcmp(hash, st->hash, HEAD_HASH_BYTES) != 0;
	bool chained = st->version == 2 && x->cfg->format >= 2 && head->seq > st->seq &&
		       memcmp(hash, st->hash, HEAD_HASH_BYTES) != 0;

	if (chained && !o->accept_store_head && engine_pin_chain(st, head, x) == HEAD_CHAIN_FORK) {
		engine_pin_fp_hex(have, hash);
		return errbuf_fail(err, size, -ESTALE,
				   "the store's head (seq %" PRIu64 ", fingerprint %s) does not "
				   "descend from seq %" PRIu64 " this cache saw: the store forked "
				   "(rolled back and written again); " ENGINE_PIN_ACCEPT,
				   head->seq, have, st->seq);
	}
	if (head->seq >= st->seq && !fork)
		return 0;
	if (o->accept_store_head) {
		log_msg(LOG_WARNING,
			"the store's head (seq %" PRIu64 ") contradicts the pin (seq %" PRIu64
			"): accepted (--accept-store-head)",
			head->seq, st->seq);
		return 0;
	}
	if (!fork)
		return errbuf_fail(err, size, -ESTALE,
				   "store was rolled back (head seq %" PRIu64 " < %" PRIu64
				   " seen before); " ENGINE_PIN_ACCEPT,
				   head->seq, st->seq);
	engine_pin_fp_hex(have, hash);
	engine_pin_fp_hex(had, st->hash);
	return errbuf_fail(err, size, -ESTALE,
			   "the store's head seq %" PRIu64
			   " has fingerprint %s, but this cache saw "
			   "%s with that seq: the store forked or was replaced; " ENGINE_PIN_ACCEPT,
			   head->seq, have, had);
}

/* The device name to pin: --device-name, the pinned one, or the host's. */
static void engine_pin_name(struct engine_pin *p, const struct engine_opts *o)
{
	if (o->device_name && strcmp(o->device_name, p->st.device_name) != 0) {
		snprintf(p->st.device_name, sizeof(p->st.device_name), "%s", o->device_name);
		p->rewrite = true;
	} else if (p->st.device_name[0] == '\0') {
		head_device_name_default(p->st.device_name);
		p->rewrite = true;
	}
}

int engine_pin_check(struct engine_pin *p, const struct dirobj_head *head,
		     const uint8_t hash[HEAD_HASH_BYTES], struct cache *cache,
		     const struct vault_config *cfg, const struct vault_keys *keys,
		     const struct engine_opts *o, char *err, size_t size)
{
	const struct engine_pin_ctx x = {.cache = cache, .cfg = cfg, .keys = keys, .o = o};
	int r = engine_pin_wanted(head, hash, cfg->format, o, err, size);

	memset(p, 0, sizeof(*p));
	if (r)
		return r;
	r = head_state_load(&p->st, o->cache_dir, cfg->vault_id, keys->pin);
	if (r == 0) {
		r = engine_pin_compare(&p->st, head, hash, &x, err, size);
		p->seen = head->seq >= p->st.seq ? p->st.seq : 0;
		if (r)
			return r;
	} else if (r != -ENOENT || engine_pin_expected(o->cache_dir)) {
		r = engine_pin_bad(r, o->cache_dir, o, err, size);
		if (r)
			return r;
		memset(&p->st, 0, sizeof(p->st)); /* accepted: nothing of it is kept */
	}					  /* else a new cache: this device's first mount */
	if (p->st.version != 2) { /* new, damaged and accepted, or the old three lines */
		if (p->st.version == 1)
			log_msg(LOG_INFO, "the cache's state file becomes a pin (format of "
					  "docs/FORMAT.md, \"Cache\")");
		p->st.version = 2;
		randombytes_buf(p->st.device, sizeof(p->st.device));
		p->st.device_name[0] = '\0';
		p->rewrite = true;
	}
	if (o->accept_store_head)
		p->rewrite = true;
	engine_pin_name(p, o);
	return 0;
}

int engine_pin_save(struct engine *e, struct engine_pin *p, uint64_t seq,
		    const uint8_t hash[HEAD_HASH_BYTES], const unsigned char *sealed, size_t len,
		    bool skip_write, const struct vault_config *cfg, const struct vault_keys *keys,
		    const struct engine_opts *o, char *err, size_t size)
{
	int r;

	if (!skip_write && (p->rewrite || seq != p->st.seq)) {
		struct head_state st = p->st;

		if (cfg->format >= 2 && head_pin_keep_head(o->cache_dir, sealed, len) != 0)
			log_msg(LOG_WARNING, "keeping the pinned head's copy failed: the fork "
					     "check may not verify the next head");

		st.seq = seq;
		memcpy(st.hash, hash, HEAD_HASH_BYTES);
		r = head_state_store(o->cache_dir, &st, cfg->vault_id, keys->pin);
		if (r)
			log_msg(LOG_WARNING, "writing the cache's pin failed (errno %d)", -r);
		else
			p->st = st;
	}
	r = head_pin_new(&e->pin, o->cache_dir, cfg->vault_id, keys->pin, &p->st);
	return r ? errbuf_fail(err, size, r, "out of memory") : 0;
}

void engine_pin_info(struct engine_head_info *info, const struct dirobj_head *head,
		     const uint8_t hash[HEAD_HASH_BYTES], int format)
{
	memset(info, 0, sizeof(*info));
	info->format = format;
	info->seq = head->seq;
	memcpy(info->fp, hash, HEAD_FP_BYTES);
	if (format < 2)
		return;
	info->time = head->time;
	memcpy(info->device, head->device, OBJECT_ID_BYTES);
	memcpy(info->device_name, head->device_name, sizeof(info->device_name));
	info->device_name[sizeof(info->device_name) - 1] = '\0';
}

void engine_pin_device(struct dirobj_head *tmpl, const struct head_pin *pin)
{
	const struct head_state *st = head_pin_state(pin);

	memcpy(tmpl->device, st->device, OBJECT_ID_BYTES);
	snprintf(tmpl->device_name, sizeof(tmpl->device_name), "%s", st->device_name);
}
