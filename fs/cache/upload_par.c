/* upload_par.c - running the uploader's store calls on a few threads at
 * once (upload_par.h): a store's latency, not the CPU, bounds a round. It
 * must never return before every call it started has returned. */
#include "upload_par.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct upload_batch {
	int (*fn)(void *arg, size_t i);
	void *arg;
	atomic_size_t next;
	size_t n;
	int *rc;
};

static void *upload_worker(void *arg)
{
	struct upload_batch *b = arg;
	size_t i;

	while ((i = atomic_fetch_add(&b->next, 1)) < b->n)
		b->rc[i] = b->fn(b->arg, i);
	return NULL;
}

int *upload_parallel(int (*fn)(void *arg, size_t i), void *arg, size_t n)
{
	struct upload_batch b = {
	    .fn = fn, .arg = arg, .n = n, .rc = calloc(n ? n : 1, sizeof(int))};
	pthread_t th[UPLOAD_THREADS];
	size_t started = 0;

	if (!b.rc)
		return NULL;
	atomic_init(&b.next, 0);
	for (size_t k = 0; k < UPLOAD_THREADS && k + 1 < n; k++) {
		if (pthread_create(&th[started], NULL, upload_worker, &b) != 0)
			break;
		started++;
	}
	upload_worker(&b); /* this thread works too */
	for (size_t k = 0; k < started; k++)
		pthread_join(th[k], NULL);
	return b.rc;
}
