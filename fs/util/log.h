/* log.h - the daemon's log: stderr in the foreground, syslog once daemonised.
 * Never pass names, contents or keys: log object ids (hex) and errno values. */
#ifndef SEALFS_LOG_H
#define SEALFS_LOG_H

#include <stdint.h>
#include <syslog.h> /* LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */

/* Switches to syslog (ident "sealfs"). Call after daemonising. */
void log_use_syslog(void);
/* Sets the lowest level printed (default LOG_INFO). */
void log_set_level(int level);
/* printf-style; one line, no trailing newline needed. Thread-safe. */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Formats a 16-byte object id as 32 hex chars + NUL into out (33 bytes) and returns out. */
const char *log_id(char out[33], const uint8_t id[16]);

#endif
