/* upload_head.c - the uploader's last step before its final sync: the
 * newest record's head goes into the store only by compare-and-swap on the
 * version of the head this mount built on (fs/cache/head.h), after asking a
 * server once whether it honours conditional writes. When another device
 * changed the head, the uploader stops for good. It must never put a head
 * over one it did not build on, never let a round delete garbage or remove a
 * record after that (the other device's head may reach those objects), and
 * logs the conflict once, with seqs only. */
#include <errno.h>
#include <inttypes.h>

#include "journal.h"
#include "log.h"
#include "upload_int.h"

/* The store's answer to the probe, asked before the first head (lock not
 * held); a failure fails the round, which is retried. */
static int upload_probe(struct upload *u, enum head_cas *cas)
{
	int r;

	pthread_mutex_lock(&u->lock);
	*cas = u->cas;
	pthread_mutex_unlock(&u->lock);
	if (*cas != HEAD_CAS_UNKNOWN)
		return 0;
	r = head_cas_probe(u->store, cas);
	if (r)
		return r;
	if (*cas == HEAD_CAS_IGNORED)
		log_msg(LOG_WARNING,
			"the store ignores conditional writes (If-Match/If-None-Match): a second "
			"device writing this vault at the same moment could replace this mount's "
			"newest commit unseen; each head is checked just before it is written, "
			"which narrows that window but cannot close it (docs/CLI.md, \"Several "
			"devices\")");
	pthread_mutex_lock(&u->lock);
	u->cas = *cas;
	pthread_mutex_unlock(&u->lock);
	return 0;
}

static void upload_conflict(struct upload *u, uint64_t seq)
{
	pthread_mutex_lock(&u->lock);
	u->conflict = true;
	u->conflict_seq = seq;
	u->failing = true;
	u->last_err = -ESTALE;
	u->last_err_time = upload_now_s(CLOCK_REALTIME);
	pthread_cond_broadcast(&u->done);
	pthread_mutex_unlock(&u->lock);
	log_msg(LOG_ERR,
		"the store's head was changed by another device: this mount's commits (up to "
		"seq %" PRIu64
		") stay in the cache's journal and are not uploaded; merging devices is not "
		"supported yet: unmount, then see \"Several devices\" in docs/CLI.md",
		seq);
}

int upload_put_head(struct upload *u, const struct journal_record *last)
{
	enum head_cas cas;
	int r = upload_probe(u, &cas);

	if (r == 0)
		r = head_put(u->store, last->head, last->head_len, cas, &u->head_ver);
	if (r == -ESTALE)
		upload_conflict(u, last->seq);
	return r;
}
