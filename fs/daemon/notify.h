/* notify.h - telling systemd how the mount is (sd_notify: READY=1, STATUS=,
 * STOPPING=1) when it runs as a Type=notify service (systemd/sealfs@.service).
 * Without $NOTIFY_SOCKET every call does nothing. Thread-safe. Never puts a
 * name or a key in a message: counts and errnos only. */
#ifndef SEALFS_NOTIFY_H
#define SEALFS_NOTIFY_H

/* READY=1 with a STATUS= line: the mount is up. */
void notify_ready(void);
/* STOPPING=1: the mount is going (its last commit and upload follow). */
void notify_stopping(void);
/* STATUS=<printf text>. */
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
