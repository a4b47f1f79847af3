/* test_runtime.c - the pid file of a mount (fs/util/runtime.c) in a temporary
 * runtime directory, with real processes: runtime_daemon_find knows a daemon
 * by the pid and start time its pid file holds, whatever the process is
 * called (a renamed copy of sealfs), never a process that got the pid later
 * (another start time) or a dead one; an older daemon's file (the pid alone)
 * still counts only while its process is named sealfs. Never touches the
 * user's own runtime directory. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "runtime.h"

#define TEST_MNT "/sealfs-test/runtime/mnt"

/* Replaces the pid file at path with text. */
static void put_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	CHECKF(fd >= 0, "open %s: %s", path, strerror(errno));
	if (fd < 0)
		return;
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

/* runtime_daemon_find's answer for TEST_MNT: 1 when it found pid, 0 when it
 * found nothing, -1 when it found another pid. Closes the pidfd. */
static int found(pid_t want)
{
	char pid_path[RUNTIME_PATH_BYTES];
	pid_t pid = 0;
	int fd = runtime_daemon_find(TEST_MNT, pid_path, sizeof(pid_path), &pid);

	if (fd < 0)
		return 0;
	close(fd);
	return pid == want ? 1 : -1;
}

/* A child that waits until its pipe closes; its name is the parent's. */
static pid_t start_child(int *keep)
{
	int p[2];
	pid_t c;
	char b;

	if (pipe(p) < 0)
		return -1;
	c = fork();
	if (c == 0) {
		close(p[1]);
		(void)!read(p[0], &b, 1);
		_exit(0);
	}
	close(p[0]);
	*keep = p[1];
	return c;
}

static void test_pid_file(const char *path)
{
	unsigned long long start = 0;
	char text[128];
	int keep = -1, n;
	pid_t c, pid = 0;
	FILE *f;

	/* a renamed copy of the binary: its name does not start with sealfs */
	CHECK(prctl(PR_SET_NAME, "mysfs", 0, 0, 0) == 0);
	c = start_child(&keep);
	CHECK(c > 0);
	if (c <= 0)
		return;
	CHECK_RC(runtime_pid_write(path, c), 0);
	f = fopen(path, "re");
	CHECK(f != NULL);
	n = f ? fscanf(f, "%d %llu", &pid, &start) : 0;
	if (f)
		fclose(f);
	CHECKF(n == 2 && pid == c && start > 0, "pid file: %d fields, pid %d, start %llu", n,
	       (int)pid, start);
	CHECK_RC(runtime_pid_read(path, &pid), 0);
	CHECK_RC(pid, c);
	CHECK_RC(found(c), 1); /* named mysfs, found by its start time */

	/* the same pid with another start time: a process that got the pid later */
	snprintf(text, sizeof(text), "%d %llu\n", (int)c, start + 1);
	put_text(path, text);
	CHECK_RC(found(c), 0);
	/* an older daemon's file, the pid alone: only a process named sealfs */
	snprintf(text, sizeof(text), "%d\n", (int)c);
	put_text(path, text);
	CHECK_RC(runtime_pid_read(path, &pid), 0);
	CHECK_RC(found(c), 0);
	snprintf(text, sizeof(text), "%d\n", (int)getpid());
	put_text(path, text);
	CHECK(prctl(PR_SET_NAME, "sealfs", 0, 0, 0) == 0);
	CHECK_RC(found(getpid()), 1);
	/* not a pid file */
	snprintf(text, sizeof(text), "%d x\n", (int)c);
	put_text(path, text);
	CHECK_RC(runtime_pid_read(path, &pid), -EINVAL);
	CHECK_RC(found(c), 0);
	snprintf(text, sizeof(text), "%d -%llu\n", (int)c, start);
	put_text(path, text);
	CHECK_RC(runtime_pid_read(path, &pid), -EINVAL);
	put_text(path, "");
	CHECK_RC(runtime_pid_read(path, &pid), -EINVAL);

	/* the daemon removes its own file, not another's */
	CHECK_RC(runtime_pid_write(path, c), 0);
	runtime_pid_remove(path, getpid());
	CHECK(access(path, F_OK) == 0);
	runtime_pid_remove(path, c);
	CHECK(access(path, F_OK) < 0 && errno == ENOENT);

	/* a dead daemon: nothing to wait for, and no pid file for it */
	snprintf(text, sizeof(text), "%d %llu\n", (int)c, start);
	close(keep);
	CHECK(waitpid(c, NULL, 0) == c);
	put_text(path, text);
	CHECK_RC(found(c), 0);
	CHECK_RC(runtime_pid_write(path, c), -ESRCH);
	unlink(path);
}

int main(void)
{
	char dir[] = "/tmp/sealfs-test-runtime-XXXXXX", path[RUNTIME_PATH_BYTES];
	char sub[PATH_MAX];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	setenv("XDG_RUNTIME_DIR", dir, 1);
	CHECK_RC(runtime_pid_path(path, sizeof(path), TEST_MNT), 0);
	CHECKF(strncmp(path, dir, strlen(dir)) == 0, "pid file %s outside %s", path, dir);
	test_pid_file(path);
	snprintf(sub, sizeof(sub), "%s/sealfs", dir);
	CHECK(rmdir(sub) == 0);
	CHECK(rmdir(dir) == 0);
	return check_done("test_runtime");
}
