/* notify_queue.c - a thread that runs the jobs which tell the kernel
 * something a request's thread must not tell it (notify.h, "The notification
 * queue"): pagedrop.c's page drops, perm_ops.c's forgotten names. It holds
 * no lock while a job runs, and logs nothing. */
#include "notify.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct notify_queue {
	pthread_t th;
	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cv;  /* a job or stop */
	struct notify_job *head, **tail;
	bool stop;
};

/* The first job, taken off the queue (mu held); NULL when none. */
static struct notify_job *notify_queue_take(struct notify_queue *q)
{
	struct notify_job *j = q->head;

	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = &q->head;
	}
	return j;
}

static void *notify_queue_main(void *arg)
{
	struct notify_queue *q = arg;
	struct notify_job *j;

	pthread_mutex_lock(&q->mu);
	while (!q->stop) {
		j = notify_queue_take(q);
		if (!j) {
			pthread_cond_wait(&q->cv, &q->mu);
			continue;
		}
		pthread_mutex_unlock(&q->mu);
		j->run(j);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int notify_queue_start(struct notify_queue **out)
{
	struct notify_queue *q = calloc(1, sizeof(*q));
	int r;

	*out = NULL;
	if (!q)
		return -ENOMEM;
	q->tail = &q->head;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	r = pthread_create(&q->th, NULL, notify_queue_main, q);
	if (r) {
		pthread_cond_destroy(&q->cv);
		pthread_mutex_destroy(&q->mu);
		free(q);
		return -r;
	}
	*out = q;
	return 0;
}

void notify_queue_push(struct notify_queue *q, struct notify_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&q->mu);
	*q->tail = j;
	q->tail = &j->next;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void notify_queue_stop(struct notify_queue *q)
{
	struct notify_job *j;

	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->th, NULL);
	while ((j = notify_queue_take(q)) != NULL) { /* no thread left: no lock needed */
		if (j->drop)
			j->drop(j);
		else
			j->run(j);
	}
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
}
