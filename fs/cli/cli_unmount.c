/* cli_unmount.c - `sealfs unmount` / `sealfs lock`: unmount a sealfs mount,
 * then wait until its daemon has made the last commit and exited (taking the
 * keys with it). Must never unmount anything that is not a sealfs mount. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_util.h"
#include "runtime.h"

#define CLI_UNMOUNT_WAIT_MS (10 * 60 * 1000) /* how long the last commit may take */
#define CLI_UNMOUNT_FUSERMOUNT "fusermount3"

static const char cli_unmount_usage[] =
    "usage: sealfs unmount MOUNTPOINT   (alias: sealfs lock MOUNTPOINT)\n"
    "\n"
    "Unmounts a sealfs mount, waits until the daemon has written every change to\n"
    "the store and exited (the keys leave memory with it). Prints nothing on success.\n";

/* Runs fusermount3 -u; its stderr is read to tell "busy" from other trouble. */
static int cli_unmount_fusermount(const char *arg, const char *mnt)
{
	char buf[512] = "";
	int fds[2], status;
	ssize_t r;
	size_t got = 0;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return cli_fail(EXITCODE_OTHER, "pipe: %s", cli_why(errno));
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		execlp(CLI_UNMOUNT_FUSERMOUNT, CLI_UNMOUNT_FUSERMOUNT, "-u", "--", mnt,
		       (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while (
	    pid > 0 && got < sizeof(buf) - 1 &&
	    ((r = read(fds[0], buf + got, sizeof(buf) - 1 - got)) > 0 || (r < 0 && errno == EINTR)))
		got += r > 0 ? (size_t)r : 0;
	close(fds[0]);
	if (pid < 0)
		return cli_fail(EXITCODE_OTHER, "fork: %s", cli_why(errno));
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	buf[got] = '\0';
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (strstr(buf, "busy"))
		return cli_fail(EXITCODE_MOUNTPOINT, "mountpoint '%s' is busy (files open)", arg);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return cli_fail(EXITCODE_OTHER, "unmounting '%s': %s not found", arg,
				CLI_UNMOUNT_FUSERMOUNT);
	buf[strcspn(buf, "\n")] = '\0';
	return cli_fail(EXITCODE_OTHER, "unmounting '%s': %s", arg, buf[0] ? buf : "failed");
}

static int cli_unmount_umount(const char *arg, const char *mnt)
{
	if (geteuid() != 0)
		return cli_unmount_fusermount(arg, mnt);
	if (umount2(mnt, UMOUNT_NOFOLLOW) == 0)
		return 0;
	if (errno == EBUSY)
		return cli_fail(EXITCODE_MOUNTPOINT, "mountpoint '%s' is busy (files open)", arg);
	return cli_fail(EXITCODE_OTHER, "unmounting '%s': %s", arg, cli_why(errno));
}

/* Waits until the daemon has exited: its last commit is then in the store. */
static int cli_unmount_wait(int pidfd, const char *arg)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	int r;

	do {
		r = poll(&p, 1, CLI_UNMOUNT_WAIT_MS);
	} while (r < 0 && errno == EINTR);
	if (r == 0)
		return cli_fail(EXITCODE_OTHER,
				"'%s' is unmounted but its daemon is still writing to the store "
				"after %d s; leave it running",
				arg, CLI_UNMOUNT_WAIT_MS / 1000);
	return 0;
}

/* After the daemon exited: did it leave commits the store did not take? */
static int cli_unmount_check_pending(const char *arg, const char *pid_path)
{
	char path[RUNTIME_PATH_BYTES], buf[64];
	unsigned long long seq = 0;
	unsigned long n = 0;
	ssize_t got;
	int fd;

	if (runtime_pending_path(path, sizeof(path), pid_path) != 0)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	unlink(path);
	buf[got > 0 ? got : 0] = '\0';
	if (strncmp(buf, "lost", 4) == 0)
		return cli_fail(EXITCODE_OTHER,
				"'%s' is unmounted, but its last commit failed: changes made since "
				"the last successful fsync are lost (the daemon's log says why)",
				arg);
	if (sscanf(buf, "lease %lu %llu", &n, &seq) == 2)
		return cli_fail(EXITCODE_STORE_IO,
				"'%s' is unmounted, but another device holds the store's lease: "
				"this mount's commits (up to seq %llu) stay in the cache's journal "
				"and go up (merged) at its next read-write mount, once the other "
				"device has unmounted (docs/CLI.md, \"Several devices\")",
				arg, seq);
	if (sscanf(buf, "conflict %lu %llu", &n, &seq) == 2)
		return cli_fail(
		    EXITCODE_STORE_IO,
		    "'%s' is unmounted, but the store's head was changed by another device: "
		    "this mount's commits (up to seq %llu) stay in the cache's journal and "
		    "were not uploaded; merging devices is not supported yet: see "
		    "\"Several devices\" in docs/CLI.md",
		    arg, seq);
	n = strtoul(buf, NULL, 10);
	if (n == 0)
		return 0;
	return cli_fail(EXITCODE_STORE_IO,
			"'%s' is unmounted, but %lu commits are not in the store yet (it is "
			"unreachable); they stay in the cache and go up at the next mount with it",
			arg, n);
}

int cli_unmount_main(int argc, char **argv)
{
	char mnt[PATH_MAX], pid_path[RUNTIME_PATH_BYTES];
	int rc, pidfd;

	if (argc == 2 && cli_is_help(argv[1])) {
		fputs(cli_unmount_usage, stdout);
		return EXITCODE_OK;
	}
	if (argc != 2 || argv[1][0] == '-')
		return cli_usage(argv[0], "expected one MOUNTPOINT argument");
	rc = runtime_realpath(mnt, argv[1]);
	if (rc < 0)
		return cli_fail(EXITCODE_MOUNTPOINT, "mountpoint '%s': %s", argv[1], cli_why(-rc));
	rc = cli_check_sealfs_mount(argv[1], mnt);
	if (rc)
		return rc;
	pidfd = runtime_daemon_find(mnt, pid_path, sizeof(pid_path), NULL);
	rc = cli_unmount_umount(argv[1], mnt);
	if (rc == 0 && pidfd >= 0)
		rc = cli_unmount_wait(pidfd, argv[1]);
	if (rc == 0 && pidfd >= 0)
		rc = cli_unmount_check_pending(argv[1], pid_path);
	if (pidfd >= 0)
		close(pidfd);
	if (rc == 0 && pid_path[0])
		unlink(pid_path);
	return rc;
}
