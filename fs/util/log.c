/* log.c - the daemon's log sink. Must never receive names, contents or keys,
 * and never pass a control character on: every message is escaped
 * (errbuf_escape), as parts of it may come from the store. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "errbuf.h"
#include "hex.h"

#define LOG_LINE_BYTES 1024 /* longer messages are cut */

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
	char line[LOG_LINE_BYTES], shown[2 * LOG_LINE_BYTES];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	errbuf_escape(shown, sizeof(shown), line);
	pthread_mutex_lock(&log_lock);
	if (log_syslog)
		syslog(level, "%s", shown);
	else
		fprintf(stderr, "sealfs: %s\n", shown);
	pthread_mutex_unlock(&log_lock);
}

const char *log_id(char out[33], const uint8_t id[16])
{
	hex_encode(out, 33, id, 16);
	return out;
}
