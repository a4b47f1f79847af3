/* sweep.c - aborting the store's abandoned uploads (sweep.h): once per
 * mount in the background, or for fsck. Must never abort an upload begun
 * less than BACKEND_STALE_UPLOAD_AGE_S ago, delay the mount, or log a key. */
#include "sweep.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Object keys (cache.h object_key_text): the only objects large enough to be
 * stored in parts; the head and the config are single PUTs. */
#define SWEEP_PREFIX "o/"

struct sweep {
	struct backend *store;
	pthread_t thread;
};

int sweep_uploads(struct backend *store, bool do_abort, unsigned budget_ms,
		  struct backend_stale *out)
{
	memset(out, 0, sizeof(*out));
	if (!store->ops->stale_uploads)
		return -EOPNOTSUPP;
	return store->ops->stale_uploads(store, SWEEP_PREFIX, BACKEND_STALE_UPLOAD_AGE_S, do_abort,
					 budget_ms, out);
}

static void *sweep_main(void *arg)
{
	struct sweep *w = arg;
	struct backend_stale st;
	int r = sweep_uploads(w->store, true, SWEEP_BUDGET_MS, &st);

	if (st.stale)
		log_msg(LOG_INFO,
			"store: aborted %u of %u abandoned multipart uploads begun over %d h "
			"ago (%u younger kept)",
			st.aborted, st.stale, BACKEND_STALE_UPLOAD_AGE_S / 3600, st.young);
	if (r)
		log_msg(LOG_WARNING,
			"store: cleaning up abandoned multipart uploads failed (errno %d); the "
			"next mount or 'sealfs fsck --repair' tries again",
			-r);
	return NULL;
}

int sweep_start(struct sweep **out, struct backend *store)
{
	sigset_t all, old;
	struct sweep *w;
	int r;

	*out = NULL;
	if (!store->ops->stale_uploads)
		return 0;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->store = store;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* signals belong to the FUSE loop */
	r = pthread_create(&w->thread, NULL, sweep_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		free(w);
		return -r;
	}
	*out = w;
	return 0;
}

void sweep_stop(struct sweep *w)
{
	if (!w)
		return;
	pthread_join(w->thread, NULL);
	free(w);
}
