/* upload_lease.c - halting the uploader from outside its thread when this
 * device may no longer write the store (upload_halt, upload.h): the lease of
 * a store that ignores conditional writes went to another device
 * (fs/vault/lease.c). The same stop as another device's head without a merge
 * hook (upload_head.c): every record stays in the journal, nothing more is
 * put or deleted. It must never remove a record nor log (the caller says
 * why, once). */
#include <errno.h>
#include <stdlib.h>

#include "journal.h"
#include "upload_int.h"

void upload_halt(struct upload *u)
{
	uint64_t *seqs, newest = 0;
	size_t n;

	if (journal_list(&seqs, &n, u->journal) == 0) {
		newest = n ? seqs[n - 1] : 0;
		free(seqs);
	}
	pthread_mutex_lock(&u->lock);
	if (!u->conflict) {
		u->conflict = true;
		u->conflict_seq = newest > u->stored_seq ? newest : u->stored_seq;
		u->failing = true;
		u->last_err = -ESTALE;
		u->last_err_time = upload_now_s(CLOCK_REALTIME);
	}
	pthread_cond_broadcast(&u->done);
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
}
