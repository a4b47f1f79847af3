/* notify.c - sd_notify for a Type=notify service (notify.h). It must never
 * fail the mount: a message systemd does not take is dropped. */
#include "notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#define NOTIFY_STATUS_BYTES 256

void notify_ready(void) { (void)sd_notify(0, "READY=1\nSTATUS=mounted"); }

void notify_stopping(void)
{
	(void)sd_notify(0, "STOPPING=1\nSTATUS=unmounted: the last commit is being written");
}

void notify_status(const char *fmt, ...)
{
	char text[NOTIFY_STATUS_BYTES];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)sd_notifyf(0, "STATUS=%s", text);
}
