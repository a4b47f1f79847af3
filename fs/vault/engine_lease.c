/* engine_lease.c - the store's honesty about conditional writes, asked once
 * at a read-write mount, and the lease of a store that ignores them
 * (engine_lease.h). It must never let a read-write mount go ahead while
 * another device holds a live lease (unless --force), never send a request
 * about a lease to a store that honours conditional writes, and never log a
 * device name (the mount prints it to the terminal). */
#include "engine_lease.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "errbuf.h"
#include "log.h"

/* "YYYY-MM-DD HH:MM:SS UTC" of Unix seconds. */
static void engine_lease_date(char out[40], int64_t sec)
{
	time_t t = (time_t)sec;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(out, 40, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, 40, "@%" PRId64, sec);
}

/* Another device holds the lease: the mount goes read-only. */
static void engine_lease_busy(struct engine *e, struct engine_opts *o)
{
	char until[40] = "?";

	if (e->lease_holder.readable)
		engine_lease_date(until, e->lease_holder.until);
	log_msg(LOG_WARNING,
		"another device holds the store's lease (the store ignores conditional writes; "
		"%s %s): mounted read-only; 'sealfs mount --force' takes the lease over",
		e->lease_holder.readable ? "valid until" : "a lease that does not open,",
		e->lease_holder.readable ? until : "kept");
	o->read_only = true;
	e->lease_read_only = true;
}

/* The probe: 0 with e->cas, or the probe's error with e->cas UNKNOWN. */
static int engine_lease_probe(struct engine *e, struct backend *store)
{
	int r = head_cas_probe(store, &e->cas);

	if (r) {
		e->cas = HEAD_CAS_UNKNOWN;
		log_msg(LOG_WARNING,
			"asking the store whether it honours conditional writes failed (errno %d): "
			"asked again before the first upload",
			-r);
	} else if (e->cas == HEAD_CAS_IGNORED) {
		log_msg(LOG_WARNING,
			"the store ignores conditional writes (If-Match/If-None-Match): this "
			"device takes the store's lease, so that no other device writes while it "
			"does (docs/CLI.md, \"Several devices\")");
	}
	return r;
}

int engine_lease_open(struct engine *e, struct backend *store, const struct vault_config *cfg,
		      const struct vault_keys *keys, struct engine_opts *o,
		      const struct head_state *dev, char *err, size_t size)
{
	int r;

	e->cas = HEAD_CAS_UNKNOWN;
	if (o->force && cfg->format < 2)
		return errbuf_fail(err, size, -EMEDIUMTYPE,
				   "--force takes over another device's lease, which format-1 "
				   "vaults do not have ('sealfs upgrade STORE' first)");
	if (cfg->format < 2 || !(store->ops->caps & BACKEND_CAP_PUT_IF_PROBE))
		return 0;
	if (o->read_only) /* no probe; the uploader's, should it upload a backlog */
		return lease_new(&e->lease, store, cfg->vault_id, keys->lease, dev->device,
				 dev->device_name) == 0
			   ? 0
			   : errbuf_fail(err, size, -ENOMEM, "out of memory");
	r = engine_lease_probe(e, store);
	if (r == 0 && e->cas == HEAD_CAS_HONOURED)
		return 0;
	if (lease_new(&e->lease, store, cfg->vault_id, keys->lease, dev->device,
		      dev->device_name) != 0)
		return errbuf_fail(err, size, -ENOMEM, "out of memory");
	if (r)
		return 0; /* WANTED: the uploader's probe decides */
	r = lease_take(e->lease, o->force, &e->lease_holder);
	if (r == -EBUSY) {
		engine_lease_busy(e, o);
		return 0;
	}
	if (r)
		return errbuf_fail(err, size, r, "taking the store's lease failed: %s",
				   strerror(-r));
	return 0;
}
