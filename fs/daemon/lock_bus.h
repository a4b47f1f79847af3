/* lock_bus.h - locking the vault when the desktop asks (docs/INTERNALS.md,
 * "Desktop"): a thread that listens to logind on the system bus
 * (PrepareForSleep, a session's Lock) and to the screen saver on the session
 * bus (ActiveChanged), holds a logind "delay" inhibitor for sleep until the
 * keys are gone, and calls a tick hook every few seconds (the systemd
 * STATUS= line). Uses sd-bus (libsystemd). Knows nothing of FUSE or trees;
 * logs errnos and bus error names only. */
#ifndef SEALFS_LOCK_BUS_H
#define SEALFS_LOCK_BUS_H

#define LOCK_ON_SUSPEND 1u /* lock on logind's PrepareForSleep(true) */
#define LOCK_ON_SCREEN 2u  /* lock on the session's Lock / the screen saver turning on */

#define LOCK_BUS_TICK_MS 5000u

struct lock_bus;

struct lock_bus_hooks {
	/* Asks the mount to lock (called on the bus thread; must not block
	 * long). why is a constant string such as "suspend". */
	void (*lock)(void *arg, const char *why);
	/* Called about every LOCK_BUS_TICK_MS on the bus thread; NULL for none. */
	void (*tick)(void *arg);
	void *arg;
};

/* Starts the thread (every signal blocked in it). lock_on is a mask of
 * LOCK_ON_*; with 0 no bus is opened and only ticks run. A missing bus or
 * logind is logged once ("cannot lock on suspend") and is not an error: the
 * mount works without. *out is new. 0, -ENOMEM or pthread_create's error. */
int lock_bus_start(struct lock_bus **out, unsigned lock_on, const struct lock_bus_hooks *h);
/* Stops the thread and closes the buses; the sleep inhibitor stays held
 * (lock_bus_free lets it go). No hook runs after it returns. NULL is fine. */
void lock_bus_stop(struct lock_bus *lb);
/* Releases the sleep inhibitor (call once the keys are wiped: logind
 * suspends as soon as it is gone) and frees. Stops first if needed. NULL is
 * fine. */
void lock_bus_free(struct lock_bus *lb);

/* Parses "suspend,screen", "screen", "none", ... into *mask: 0 or -EINVAL. */
int lock_on_parse(unsigned *mask, const char *text);

#endif
