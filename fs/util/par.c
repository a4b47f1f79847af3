/* par.c - a small pool of threads that join a caller's loop over indices
 * (par.h). One job is offered at a time; a caller that finds the offer slot
 * taken runs its loop alone. The job lives on the caller's stack: the caller
 * withdraws its offer and waits for every thread that joined before it
 * returns. It must never touch a job after its caller returned, and never
 * block a caller on a pool thread that has not joined. */
#include "par.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

struct par_job {
	int (*fn)(void *arg, size_t i);
	void *arg;
	size_t n;
	atomic_size_t next; /* the next index to take */
	atomic_int rc;	    /* the first non-zero result */
	unsigned helpers;   /* pool threads inside par_work (par_lock) */
};

static pthread_once_t par_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t par_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t par_wake = PTHREAD_COND_INITIALIZER; /* a job was offered */
static pthread_cond_t par_left = PTHREAD_COND_INITIALIZER; /* a helper left a job */
static struct par_job *par_offer;			   /* par_lock */
static unsigned par_threads;				   /* started; read-only after par_once */

static void par_work(struct par_job *j)
{
	size_t i;

	while ((i = atomic_fetch_add(&j->next, 1)) < j->n) {
		int r = j->fn(j->arg, i), zero = 0;

		if (r)
			atomic_compare_exchange_strong(&j->rc, &zero, r);
	}
}

static void *par_main(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&par_lock);
	for (;;) {
		struct par_job *j = par_offer;

		if (!j || atomic_load(&j->next) >= j->n) {
			if (j)
				par_offer = NULL; /* nothing left to share */
			pthread_cond_wait(&par_wake, &par_lock);
			continue;
		}
		if (++j->helpers >= par_threads)
			par_offer = NULL; /* every pool thread is in */
		pthread_mutex_unlock(&par_lock);
		par_work(j);
		pthread_mutex_lock(&par_lock);
		if (--j->helpers == 0)
			pthread_cond_broadcast(&par_left);
	}
	return NULL;
}

static void par_start(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = cpus > 1 ? (unsigned)(cpus - 1) : 0;
	sigset_t all, old;
	pthread_attr_t attr;

	if (want > PAR_THREADS_MAX)
		want = PAR_THREADS_MAX;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* signals belong to the FUSE loop */
	for (unsigned k = 0; k < want; k++) {
		pthread_t t;

		if (pthread_create(&t, &attr, par_main, NULL) != 0)
			break;
		par_threads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
}

int par_run(int (*fn)(void *arg, size_t i), void *arg, size_t n)
{
	struct par_job j = {.fn = fn, .arg = arg, .n = n};
	bool offered = false;

	atomic_init(&j.next, 0);
	atomic_init(&j.rc, 0);
	if (n >= PAR_MIN) {
		pthread_once(&par_once, par_start);
		pthread_mutex_lock(&par_lock);
		if (par_threads > 0 && !par_offer) {
			par_offer = &j;
			offered = true;
			pthread_cond_broadcast(&par_wake);
		}
		pthread_mutex_unlock(&par_lock);
	}
	par_work(&j);
	if (offered) {
		pthread_mutex_lock(&par_lock);
		if (par_offer == &j)
			par_offer = NULL;
		while (j.helpers > 0)
			pthread_cond_wait(&par_left, &par_lock);
		pthread_mutex_unlock(&par_lock);
	}
	return atomic_load(&j.rc);
}
