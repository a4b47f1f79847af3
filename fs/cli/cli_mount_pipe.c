/* cli_mount_pipe.c - the startup pipe between `sealfs mount` and the daemon
 * it forks (cli_mount.h): the daemon's verdict goes up it, the parent waits
 * for it and prints it. Must never pass anything secret: the pipe carries
 * one message line, the "last change" line, and whatever libfuse printed. */
#include "cli_mount.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_util.h"

#define CLI_MOUNT_MSG_BYTES 1024 /* one "E<code> <message>\n" line from the daemon */

int cli_mount_report(int fd, int code, const char *msg)
{
	char line[CLI_MOUNT_MSG_BYTES];
	int n;

	if (fd < 0)
		return cli_fail(code, "%s", msg);
	n = snprintf(line, sizeof(line), "E%d %s\n", code, msg);
	if (n >= (int)sizeof(line))
		n = (int)sizeof(line) - 1;
	if (n > 0 && write(fd, line, (size_t)n) < 0) {
		/* the parent is gone: nobody to tell */
	}
	return code;
}

/* Prints the daemon's "I<line>" lines among the first len bytes of buf
 * (the store's last change) to stdout; the other lines were libfuse's. */
static void cli_mount_info(const char *buf, size_t len)
{
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(buf + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (buf + at)) : len - at;

		if (n > 1 && buf[at] == 'I')
			printf("%.*s\n", (int)(n - 1), buf + at + 1);
		at += n + 1;
	}
	fflush(stdout);
}

/* Splits what the daemon sent after it failed: its "E<code> <message>" line
 * and any other lines (libfuse's own messages), joined into other. */
static int cli_mount_verdict(char *buf, const char **msg, char *other, size_t other_size)
{
	char *line, *rest = buf, *end;
	size_t used = 0;
	long code = 0;

	other[0] = '\0';
	*msg = NULL;
	while ((line = strsep(&rest, "\n")) != NULL) {
		if (line[0] == 'I')
			continue; /* what a mount that then failed would have said */
		if (line[0] == 'E' && line[1] >= '0' && line[1] <= '9' && !*msg) {
			code = strtol(line + 1, &end, 10);
			if (code > 0 && code < 256 && *end == ' ') {
				*msg = end + 1;
				continue;
			}
		}
		if (line[0] != '\0' && used + 3 < other_size) {
			int n = snprintf(other + used, other_size - used, "%s%s", used ? "; " : "",
					 line);

			used = n < 0 ? used : used + (size_t)n;
			if (used >= other_size)
				used = other_size - 1;
		}
	}
	return *msg ? (int)code : EXITCODE_OTHER;
}

int cli_mount_wait(pid_t pid, int fd)
{
	char buf[4 * CLI_MOUNT_MSG_BYTES], other[2 * CLI_MOUNT_MSG_BYTES];
	size_t got = 0, line = 0;
	const char *msg;
	ssize_t r;
	char *nl;
	int code;

	while (got < sizeof(buf) - 1) {
		r = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		for (; line < got; line = (size_t)(nl - buf) + 1) {
			if (buf[line] == '0') {
				close(fd);
				cli_mount_info(buf, line);
				return EXITCODE_OK;
			}
			nl = memchr(buf + line, '\n', got - line);
			if (!nl)
				break;
		}
	}
	close(fd);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	buf[got] = '\0';
	code = cli_mount_verdict(buf, &msg, other, sizeof(other));
	if (!msg)
		return cli_fail(code, "the mount daemon exited during startup%s%s%s",
				other[0] ? " (" : "", other, other[0] ? ")" : "");
	if (other[0])
		return cli_fail(code, "%s (%s)", msg, other);
	return cli_fail(code, "%s", msg);
}
