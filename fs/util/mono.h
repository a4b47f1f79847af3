/* mono.h - CLOCK_MONOTONIC time points for deadlines and timed waits
 * (condition variables here are created with CLOCK_MONOTONIC). Header only. */
#ifndef SEALFS_MONO_H
#define SEALFS_MONO_H

#include <stdbool.h>
#include <time.h>

/* *out = since + ms. */
static inline void mono_after(struct timespec *out, const struct timespec *since, unsigned ms)
{
	out->tv_sec = since->tv_sec + (time_t)(ms / 1000);
	out->tv_nsec = since->tv_nsec + (long)(ms % 1000) * 1000000L;
	if (out->tv_nsec >= 1000000000L) {
		out->tv_sec++;
		out->tv_nsec -= 1000000000L;
	}
}

/* *due = now + ms. */
static inline void mono_deadline(struct timespec *due, unsigned ms)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	mono_after(due, &now, ms);
}

/* a is earlier than b. */
static inline bool mono_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* The deadline due has passed. */
static inline bool mono_passed(const struct timespec *due)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return !mono_before(&now, due);
}

#endif
