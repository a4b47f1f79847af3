/* passphrase.c - reads a secret from the terminal (no echo), a file, a
 * command's stdout or a helper child (the keyring's) into sodium_malloc
 * memory with read(2). Must never use stdio for the secret, copy it to the
 * stack, or log it. */
#include "passphrase.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cli_util.h"
#include "errbuf.h"
#include "fdio.h"

#define PASSPHRASE_CAP (PASSPHRASE_MAX_BYTES + 2) /* the line, one byte to spot "too long", NUL */

static const int passphrase_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define PASSPHRASE_NSIGNALS (sizeof(passphrase_signals) / sizeof(passphrase_signals[0]))

static volatile sig_atomic_t passphrase_caught; /* signal number seen during a prompt */

static void passphrase_on_signal(int sig) { passphrase_caught = sig; }

/* Reads one line from fd into buf (PASSPHRASE_CAP bytes) one byte at a time,
 * so nothing past the line is consumed. Returns the length (newline and a
 * trailing "\r" stripped, NUL-terminated) or a negative errno. */
static ssize_t passphrase_read_line(int fd, char *buf)
{
	size_t n = 0;
	ssize_t r;

	for (;;) {
		if (n > PASSPHRASE_MAX_BYTES)
			return -EMSGSIZE;
		r = read(fd, buf + n, 1);
		if (r < 0 && errno == EINTR && !passphrase_caught)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0 || buf[n] == '\n')
			break;
		n++;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return (ssize_t)n;
}

/* Reads whatever fd still has and throws it away, in the secret's own memory. */
static void passphrase_drain(int fd, char *scratch, size_t size)
{
	ssize_t r;

	do {
		r = read(fd, scratch, size);
	} while (r > 0 || (r < 0 && errno == EINTR));
	sodium_memzero(scratch, size);
}

static int passphrase_line_error(ssize_t r, const char *from, char *err, size_t err_size)
{
	if (r == -EMSGSIZE)
		return errbuf_fail(err, err_size, -EINVAL, "%s: longer than %d bytes", from,
				   PASSPHRASE_MAX_BYTES);
	if (r == 0)
		return errbuf_fail(err, err_size, -EINVAL, "%s: empty", from);
	if (r == -EINTR)
		return errbuf_fail(err, err_size, -EINTR, "%s: interrupted", from);
	return errbuf_fail(err, err_size, (int)r, "%s: %s", from, cli_why((int)-r));
}

static int passphrase_from_file(struct passphrase *p, const char *path, char *err, size_t err_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	ssize_t r;

	if (fd < 0)
		return errbuf_fail(err, err_size, -errno, "passphrase file '%s': %s", path,
				   cli_why(errno));
	r = passphrase_read_line(fd, p->text);
	close(fd);
	if (r <= 0)
		return passphrase_line_error(r, "passphrase file", err, err_size);
	p->len = (size_t)r;
	return 0;
}

/* Reaps the helper. 0 when it exited 0. With says_why, a failure's reason is
 * the line it sent (in line: r bytes, or the read error) and its exit status
 * the errno; else the status is reported. */
static int passphrase_wait_child(pid_t pid, const struct passphrase_child *c, const char *line,
				 ssize_t r, char *err, size_t err_size)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return errbuf_fail(err, err_size, -ECHILD, "%s: %s", c->what,
					   cli_why(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && c->says_why && r > 0)
		return errbuf_fail(err, err_size, -WEXITSTATUS(status), "%s", line);
	if (WIFEXITED(status))
		return errbuf_fail(err, err_size, -ECHILD, "%s command failed (exit %d)", c->what,
				   WEXITSTATUS(status));
	return errbuf_fail(err, err_size, -ECHILD, "%s command killed by signal %d", c->what,
			   WTERMSIG(status));
}

/* Runs c->run in a child process and reads the first line it writes into
 * p->text (PASSPHRASE_CAP bytes, already allocated). */
static int passphrase_run_child(struct passphrase *p, const struct passphrase_child *c, char *err,
				size_t err_size)
{
	int fds[2], rc;
	ssize_t r;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return errbuf_fail(err, err_size, -errno, "%s: %s", c->what, cli_why(errno));
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(fds[0]);
		close(fds[1]);
		return errbuf_fail(err, err_size, rc, "%s: %s", c->what, cli_why(-rc));
	}
	if (pid == 0) {
		close(fds[0]);
		c->run(c->arg, fds[1]);
		_exit(127); /* run never returns; this is for a run that did */
	}
	close(fds[1]);
	r = passphrase_read_line(fds[0], p->text);
	passphrase_drain(fds[0], p->text + PASSPHRASE_MAX_BYTES + 1, 1);
	close(fds[0]);
	rc = passphrase_wait_child(pid, c, p->text, r, err, err_size);
	if (rc)
		return rc;
	if (r <= 0)
		return passphrase_line_error(r, c->what_output, err, err_size);
	p->len = (size_t)r;
	return 0;
}

/* The --extpass child: the command's stdout is the pipe. */
static void passphrase_exec(const void *arg, int fd)
{
	if (dup2(fd, STDOUT_FILENO) < 0)
		_exit(127);
	execl("/bin/sh", "sh", "-c", (const char *)arg, (char *)NULL);
	_exit(127);
}

static void passphrase_catch(struct sigaction old[PASSPHRASE_NSIGNALS])
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = passphrase_on_signal; /* no SA_RESTART: read() returns EINTR */
	sigemptyset(&sa.sa_mask);
	passphrase_caught = 0;
	for (size_t i = 0; i < PASSPHRASE_NSIGNALS; i++)
		sigaction(passphrase_signals[i], &sa, &old[i]);
}

static void passphrase_uncatch(const struct sigaction old[PASSPHRASE_NSIGNALS])
{
	for (size_t i = 0; i < PASSPHRASE_NSIGNALS; i++)
		sigaction(passphrase_signals[i], &old[i], NULL);
}

/* Shows prompt on the terminal tty and reads one line with echo off. */
static ssize_t passphrase_tty_line(int tty, const char *prompt, char *buf)
{
	struct sigaction old[PASSPHRASE_NSIGNALS];
	struct termios saved, quiet;
	ssize_t r;
	int echo_off;

	passphrase_catch(old);
	echo_off = tcgetattr(tty, &saved) == 0;
	if (echo_off) {
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		/* Before the prompt: TCSAFLUSH drops typed-ahead input, and nothing
		 * typed after the prompt appears may be lost or echoed. */
		echo_off = tcsetattr(tty, TCSAFLUSH, &quiet) == 0;
	}
	(void)fdio_write_str(tty, prompt);
	r = passphrase_read_line(tty, buf);
	if (echo_off)
		tcsetattr(tty, TCSANOW, &saved);
	(void)fdio_write_str(tty, "\n");
	passphrase_uncatch(old);
	if (passphrase_caught)
		raise(passphrase_caught); /* the terminal is sane again: act on it now */
	return r;
}

static int passphrase_from_tty(struct passphrase *p, const char *prompt, bool confirm, char *err,
			       size_t err_size)
{
	int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	char *again = NULL;
	ssize_t r, r2;
	int rc = 0;

	if (tty < 0)
		return errbuf_fail(err, err_size, -ENXIO,
				   "no terminal to ask for the passphrase "
				   "(use --passphrase-file or --extpass)");
	r = passphrase_tty_line(tty, prompt, p->text);
	if (r <= 0) {
		rc = passphrase_line_error(r, "passphrase", err, err_size);
		goto out;
	}
	p->len = (size_t)r;
	if (!confirm)
		goto out;
	again = sodium_malloc(PASSPHRASE_CAP);
	if (!again) {
		rc = errbuf_fail(err, err_size, -ENOMEM, "out of memory");
		goto out;
	}
	r2 = passphrase_tty_line(tty, "Repeat to confirm: ", again);
	if (r2 != r || sodium_memcmp(p->text, again, (size_t)r) != 0)
		rc = errbuf_fail(err, err_size, -EKEYREJECTED, "passphrases do not match");
	sodium_free(again);
out:
	close(tty);
	return rc;
}

/* A new secret buffer in out, then get(): freed again on failure. */
static int passphrase_alloc(struct passphrase *out, char *err, size_t err_size)
{
	out->len = 0;
	out->text = sodium_malloc(PASSPHRASE_CAP);
	return out->text ? 0 : errbuf_fail(err, err_size, -ENOMEM, "out of memory");
}

int passphrase_get(struct passphrase *out, const struct passphrase_src *src, const char *prompt,
		   bool confirm, char *err, size_t err_size)
{
	struct passphrase_child cmd = {.what = "extpass",
				       .what_output = "extpass output",
				       .run = passphrase_exec,
				       .arg = src ? src->extpass : NULL};
	int rc = passphrase_alloc(out, err, err_size);

	if (rc)
		return rc;
	if (src && src->file)
		rc = passphrase_from_file(out, src->file, err, err_size);
	else if (src && src->extpass)
		rc = passphrase_run_child(out, &cmd, err, err_size);
	else
		rc = passphrase_from_tty(out, prompt, confirm, err, err_size);
	if (rc)
		passphrase_free(out);
	return rc;
}

int passphrase_from_child(struct passphrase *out, const struct passphrase_child *c, char *err,
			  size_t err_size)
{
	int rc = passphrase_alloc(out, err, err_size);

	if (rc == 0)
		rc = passphrase_run_child(out, c, err, err_size);
	if (rc)
		passphrase_free(out);
	return rc;
}

void passphrase_free(struct passphrase *p)
{
	if (p->text)
		sodium_free(p->text); /* sodium_free wipes before unmapping */
	p->text = NULL;
	p->len = 0;
}
