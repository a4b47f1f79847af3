/* log.c - the daemon's log sink. Must never receive names, contents or keys. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "hex.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static bool log_syslog; /* protected by log_lock */
static int log_level = LOG_INFO;

void log_use_syslog(void)
{
	pthread_mutex_lock(&log_lock);
	if (!log_syslog)
		openlog("sealfs", LOG_PID, LOG_DAEMON);
	log_syslog = true;
	pthread_mutex_unlock(&log_lock);
}

void log_set_level(int level) { log_level = level; }

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	pthread_mutex_lock(&log_lock);
	if (log_syslog) {
		vsyslog(level, fmt, ap);
	} else {
		fputs("sealfs: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	pthread_mutex_unlock(&log_lock);
	va_end(ap);
}

const char *log_id(char out[33], const uint8_t id[16])
{
	hex_encode(out, 33, id, 16);
	return out;
}
