/* passphrase.h - getting a passphrase (or a recovery key) from the person:
 * a no-echo prompt on /dev/tty, the first line of a file, the first line
 * printed by a command, or the first line a helper child sends. The secret
 * is read with read(2) straight into sodium_malloc memory: never through
 * stdio buffers, never from argv, never logged. */
#ifndef SEALFS_PASSPHRASE_H
#define SEALFS_PASSPHRASE_H

#include <stdbool.h>
#include <stddef.h>

#define PASSPHRASE_MAX_BYTES 1024 /* longer input is refused, not cut */

/* Where a secret comes from. Both NULL: prompt on the terminal. */
struct passphrase_src {
	const char *file;    /* borrowed: read its first line */
	const char *extpass; /* borrowed: run with /bin/sh -c, read the first line of its stdout */
};

/* A secret of len bytes followed by a NUL, in sodium_malloc memory. */
struct passphrase {
	char *text;
	size_t len;
};

/* Gets a secret into *out (new: free with passphrase_free). prompt is shown
 * on the terminal ("Passphrase: "); with confirm the terminal asks twice and
 * the answers must match (files and commands are read once). The secret
 * must be non-empty; a trailing "\n" (and "\r") is stripped.
 * Returns 0, or a negative errno with a one-line reason in err:
 * -ENXIO no terminal, -EINVAL empty or too long, -EMSGSIZE, -EINTR
 * interrupted, -ENOENT/-EACCES file, -ECHILD command failed,
 * -EKEYREJECTED the two answers differ. */
int passphrase_get(struct passphrase *out, const struct passphrase_src *src, const char *prompt,
		   bool confirm, char *err, size_t err_size);

/* A short-lived child process that hands over a secret: what --extpass runs,
 * and the desktop keyring's lookup (keyring.c), whose library starts
 * threads that must never live in a process that forks the daemon. */
struct passphrase_child {
	const char *what;	 /* in messages: "extpass", "desktop keyring" */
	const char *what_output; /* in messages about the line: "extpass output" */
	/* Runs in the child: writes the secret as one line to fd and exits 0
	 * (_exit, never returning), or (says_why) a one-line reason and exits
	 * with a positive errno. */
	void (*run)(const void *arg, int fd);
	const void *arg;
	bool says_why; /* a failed child's line is its reason, not a secret */
};

/* Runs c in a child (fork, no exec: the child starts out with this
 * process's single thread) and reads the first line it writes into *out
 * (new: free with passphrase_free), through the same code as --extpass.
 * 0, or a negative errno with a one-line reason in err: a says_why child's
 * own reason and -(its exit status); -ECHILD when it failed otherwise;
 * -EINVAL empty or too long; -ENOMEM. */
int passphrase_from_child(struct passphrase *out, const struct passphrase_child *c, char *err,
			  size_t err_size);

/* Wipes and frees the secret; a zeroed struct is fine. */
void passphrase_free(struct passphrase *p);

#endif
