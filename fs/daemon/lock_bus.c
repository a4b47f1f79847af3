/* lock_bus.c - the desktop's lock requests (lock_bus.h): one thread owns an
 * sd-bus connection to the system bus (logind) and one to the session bus
 * (the screen saver); sd-bus objects are never touched from another thread.
 * It must never block the mount (a missing bus, logind or screen saver is
 * logged once and the mount goes on), never release the sleep inhibitor
 * before lock_bus_free (the caller wipes the keys first), and never log
 * more than errnos and bus error names. */
#include "lock_bus.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "log.h"
#include "mono.h"

#define LOGIN1 "org.freedesktop.login1"
#define LOGIN1_PATH "/org/freedesktop/login1"
#define LOGIN1_MANAGER LOGIN1 ".Manager"
#define LOGIN1_SESSION LOGIN1 ".Session"

struct lock_bus {
	unsigned lock_on;
	struct lock_bus_hooks h;
	int stop_pipe[2]; /* a byte on [1] ends the thread */
	int inhibit_fd;	  /* logind's delay lock for sleep; -1 when none */
	pthread_t thread;
	bool started;
	bool asked; /* the lock hook ran: ask once */
	sd_bus *sys;
	sd_bus *ses;
};

/* ---- options ---- */

/* Each call made while the mount starts (AddMatch, the inhibitor) waits at
 * most this long for the bus. */
#define LOCK_BUS_CALL_TIMEOUT_US (3u * 1000u * 1000u)

int lock_on_parse(unsigned *mask, const char *text)
{
	size_t n;

	*mask = 0;
	if (strcmp(text, "none") == 0)
		return 0;
	while (*text) {
		n = strcspn(text, ",");
		if (n == 7 && strncmp(text, "suspend", n) == 0)
			*mask |= LOCK_ON_SUSPEND;
		else if (n == 6 && strncmp(text, "screen", n) == 0)
			*mask |= LOCK_ON_SCREEN;
		else
			return -EINVAL;
		text += n + (text[n] == ',');
	}
	return *mask ? 0 : -EINVAL;
}

/* ---- the lock ---- */

static void lock_bus_ask(struct lock_bus *lb, const char *why)
{
	if (lb->asked)
		return;
	lb->asked = true;
	log_msg(LOG_INFO, "locking: %s", why);
	lb->h.lock(lb->h.arg, why);
}

static int lock_bus_on_sleep(sd_bus_message *m, void *arg, sd_bus_error *e)
{
	struct lock_bus *lb = arg;
	int start = 0;

	(void)e;
	if (sd_bus_message_read(m, "b", &start) >= 0 && start)
		lock_bus_ask(lb, "the system is going to sleep");
	return 0;
}

/* A session's Lock: only for our user's sessions (root: any session, as a
 * root mount may serve any user's desktop). */
static int lock_bus_on_session_lock(sd_bus_message *m, void *arg, sd_bus_error *e)
{
	struct lock_bus *lb = arg;
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	const char *path = sd_bus_message_get_path(m);
	uint32_t uid = 0;
	const char *user = NULL;
	int r;

	(void)e;
	r = sd_bus_get_property(lb->sys, LOGIN1, path, LOGIN1_SESSION, "User", &err, &reply,
				"(uo)");
	if (r >= 0)
		r = sd_bus_message_read(reply, "(uo)", &uid, &user);
	if (r < 0)
		log_msg(LOG_WARNING, "a session locked, but its user is unknown (%s): locking",
			err.name ? err.name : "bad reply");
	if (r < 0 || getuid() == 0 || uid == getuid())
		lock_bus_ask(lb, "the screen is locked");
	sd_bus_message_unref(reply);
	sd_bus_error_free(&err);
	return 0;
}

static int lock_bus_on_saver(sd_bus_message *m, void *arg, sd_bus_error *e)
{
	struct lock_bus *lb = arg;
	int active = 0;

	(void)e;
	if (sd_bus_message_read(m, "b", &active) >= 0 && active)
		lock_bus_ask(lb, "the screen saver is on");
	return 0;
}

/* ---- connecting ---- */

/* The delay inhibitor: logind waits (up to its InhibitDelayMaxSec) for its
 * fd to close before it suspends. */
static int lock_bus_inhibit(struct lock_bus *lb)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int fd = -1, r;

	r = sd_bus_call_method(lb->sys, LOGIN1, LOGIN1_PATH, LOGIN1_MANAGER, "Inhibit", &err,
			       &reply, "ssss", "sleep", "sealfs", "Locking the vault before sleep",
			       "delay");
	if (r >= 0)
		r = sd_bus_message_read(reply, "h", &fd);
	if (r >= 0 && (lb->inhibit_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
		r = -errno;
	if (r < 0)
		log_msg(LOG_WARNING, "logind gave no sleep inhibitor (%s): cannot lock on suspend",
			err.name ? err.name : strerror(-r));
	sd_bus_message_unref(reply);
	sd_bus_error_free(&err);
	return r < 0 ? r : 0;
}

static int lock_bus_system(struct lock_bus *lb)
{
	int r = sd_bus_open_system(&lb->sys);

	if (r >= 0) /* a bus that does not answer must not hold up the mount long */
		sd_bus_set_method_call_timeout(lb->sys, LOCK_BUS_CALL_TIMEOUT_US);
	if (r < 0) {
		lb->sys = NULL;
		log_msg(LOG_WARNING, "no system bus (errno %d): cannot lock on %s", -r,
			lb->lock_on & LOCK_ON_SUSPEND ? "suspend" : "screen lock");
		return r;
	}
	if (lb->lock_on & LOCK_ON_SUSPEND) {
		r = sd_bus_match_signal(lb->sys, NULL, LOGIN1, LOGIN1_PATH, LOGIN1_MANAGER,
					"PrepareForSleep", lock_bus_on_sleep, lb);
		if (r >= 0)
			lock_bus_inhibit(lb);
	}
	if (r >= 0 && (lb->lock_on & LOCK_ON_SCREEN))
		r = sd_bus_match_signal(lb->sys, NULL, LOGIN1, NULL, LOGIN1_SESSION, "Lock",
					lock_bus_on_session_lock, lb);
	if (r < 0)
		log_msg(LOG_WARNING, "watching logind failed (errno %d): cannot lock on it", -r);
	return r;
}

/* The screen savers' ActiveChanged(true): the freedesktop one (KDE, others)
 * and GNOME's. */
static void lock_bus_session(struct lock_bus *lb)
{
	static const char *const ifaces[] = {"org.freedesktop.ScreenSaver",
					     "org.gnome.ScreenSaver"};
	int r = sd_bus_open_user(&lb->ses);

	if (r >= 0)
		sd_bus_set_method_call_timeout(lb->ses, LOCK_BUS_CALL_TIMEOUT_US);
	if (r < 0) {
		lb->ses = NULL;
		log_msg(LOG_INFO, "no session bus (errno %d): only logind's Lock locks", -r);
		return;
	}
	for (size_t i = 0; i < 2 && r >= 0; i++)
		r = sd_bus_match_signal(lb->ses, NULL, NULL, NULL, ifaces[i], "ActiveChanged",
					lock_bus_on_saver, lb);
	if (r < 0)
		log_msg(LOG_WARNING, "watching the screen saver failed (errno %d)", -r);
}

/* ---- the thread ---- */

/* Runs whatever the bus has queued; a broken connection is dropped. */
static void lock_bus_process(sd_bus **bus)
{
	int r = 0;

	while (*bus && (r = sd_bus_process(*bus, NULL)) > 0)
		;
	if (*bus && r < 0) {
		log_msg(LOG_WARNING, "lost a D-Bus connection (errno %d): no more locks from it",
			-r);
		*bus = sd_bus_flush_close_unref(*bus);
	}
}

/* The poll timeout: the next tick, or sooner if a bus wants it. */
static int lock_bus_timeout(sd_bus *bus, const struct timespec *tick)
{
	struct timespec now;
	uint64_t usec = 0, now_us;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(tick->tv_sec - now.tv_sec) * 1000 + (tick->tv_nsec - now.tv_nsec) / 1000000;
	if (bus && sd_bus_get_timeout(bus, &usec) > 0 && usec != UINT64_MAX) {
		now_us = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
		int64_t bus_ms = usec > now_us ? (int64_t)((usec - now_us) / 1000u) : 0;
		ms = bus_ms < ms ? bus_ms : ms;
	}
	return ms < 0 ? 0 : (int)ms;
}

static bool lock_bus_wait(struct lock_bus *lb, const struct timespec *tick)
{
	struct pollfd p[3] = {{.fd = lb->stop_pipe[0], .events = POLLIN}};
	sd_bus *buses[2] = {lb->sys, lb->ses};
	int t = lock_bus_timeout(lb->sys, tick), t2 = lock_bus_timeout(lb->ses, tick);

	for (int i = 0; i < 2; i++) {
		p[i + 1].fd = buses[i] ? sd_bus_get_fd(buses[i]) : -1;
		p[i + 1].events = buses[i] ? (short)sd_bus_get_events(buses[i]) : 0;
	}
	if (poll(p, 3, t2 < t ? t2 : t) < 0 && errno != EINTR)
		return false;
	return !(p[0].revents & (POLLIN | POLLHUP));
}

static void *lock_bus_main(void *arg)
{
	struct lock_bus *lb = arg;
	struct timespec now, tick;

	clock_gettime(CLOCK_MONOTONIC, &now);
	mono_after(&tick, &now, LOCK_BUS_TICK_MS);
	for (;;) {
		lock_bus_process(&lb->sys);
		lock_bus_process(&lb->ses);
		if (!lock_bus_wait(lb, &tick))
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!mono_before(&now, &tick)) {
			if (lb->h.tick)
				lb->h.tick(lb->h.arg);
			mono_after(&tick, &now, LOCK_BUS_TICK_MS);
		}
	}
	lb->sys = sd_bus_flush_close_unref(lb->sys);
	lb->ses = sd_bus_flush_close_unref(lb->ses);
	return NULL;
}

int lock_bus_start(struct lock_bus **out, unsigned lock_on, const struct lock_bus_hooks *h)
{
	struct lock_bus *lb = calloc(1, sizeof(*lb));
	sigset_t all, old;
	int r;

	*out = NULL;
	if (!lb)
		return -ENOMEM;
	lb->lock_on = lock_on;
	lb->h = *h;
	lb->inhibit_fd = -1;
	if (pipe2(lb->stop_pipe, O_CLOEXEC) < 0) {
		free(lb);
		return -errno;
	}
	/* Connected and subscribed before the mount says it is ready, so a lock
	 * signal sent right after the mount is not missed; from then on only
	 * the bus thread uses the connections. */
	if (lb->lock_on)
		lock_bus_system(lb);
	if (lb->lock_on & LOCK_ON_SCREEN)
		lock_bus_session(lb);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&lb->thread, NULL, lock_bus_main, lb);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	lb->started = r == 0;
	if (r) {
		lock_bus_free(lb);
		return -r;
	}
	*out = lb;
	return 0;
}

void lock_bus_stop(struct lock_bus *lb)
{
	if (!lb || !lb->started)
		return;
	if (write(lb->stop_pipe[1], "x", 1) != 1)
		log_msg(LOG_WARNING, "stopping the D-Bus thread failed (errno %d)", errno);
	pthread_join(lb->thread, NULL);
	lb->started = false;
}

void lock_bus_free(struct lock_bus *lb)
{
	if (!lb)
		return;
	lock_bus_stop(lb);
	if (lb->inhibit_fd >= 0)
		close(lb->inhibit_fd);
	close(lb->stop_pipe[0]);
	close(lb->stop_pipe[1]);
	free(lb);
}
