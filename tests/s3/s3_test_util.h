/* s3_test_util.h - helpers shared by the S3 integration tests: checks, data
 * patterns, timing, and starting/stopping faultproxy.py by pid. Test code
 * only; the tests run under s3rver.sh, which sets AWS_* and S3RVER_PORT. */
#ifndef SEALFS_S3_TEST_UTIL_H
#define SEALFS_S3_TEST_UTIL_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "s3.h"

static inline double t_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Deterministic bytes for (seed, position). */
static inline void t_fill(unsigned char *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

static inline int t_port(void)
{
	const char *p = getenv("S3RVER_PORT");
	int v = p ? (int)strtol(p, NULL, 10) : 0;
	if (v <= 0) {
		printf("SKIP: S3RVER_PORT not set (run under tests/s3/s3rver.sh run)\n");
		exit(77);
	}
	return v;
}

/* A store on the s3rver bucket (or through endpoint, when given). */
static inline struct backend *t_open(const char *prefix, const char *endpoint,
				     const struct s3_tuning *t, char *err, size_t err_size, int *rc)
{
	struct backend *b = NULL;
	struct backend_opts o = {.endpoint = endpoint, .path_style = -1};
	*rc = s3_backend_open_tuned(&b, "sealfs-test", prefix, &o, t, err, err_size);
	return b;
}

struct t_proxy {
	pid_t pid;
	int port;
	char log[256];
};

/* Starts faultproxy.py in front of s3rver with schedule; 0 or -1. */
static inline int t_proxy_start(struct t_proxy *p, const char *script, const char *schedule)
{
	int fds[2];
	char up[16], line[32] = "";
	snprintf(up, sizeof up, "%d", t_port());
	snprintf(p->log, sizeof p->log, "/tmp/sealfs-faultproxy-%ld-%d.log", (long)getpid(),
		 rand() & 0xffff);
	unlink(p->log);
	if (pipe(fds) < 0)
		return -1;
	p->pid = fork();
	if (p->pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execlp("python3", "python3", script, "--upstream", up, "--schedule", schedule,
		       "--log", p->log, "--max-seconds", "240", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	FILE *f = fdopen(fds[0], "r");
	if (p->pid < 0 || !f || !fgets(line, sizeof line, f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	p->port = (int)strtol(line, NULL, 10);
	return p->port > 0 ? 0 : -1;
}

static inline void t_proxy_stop(struct t_proxy *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		waitpid(p->pid, NULL, 0);
	}
	p->pid = 0;
	unlink(p->log);
}

/* Number of requests the proxy handled in mode ("pass", "slowdown", ...; NULL: all). */
static inline int t_proxy_count(const struct t_proxy *p, const char *mode)
{
	char line[512];
	int n = 0;
	FILE *f = fopen(p->log, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (!mode || (strncmp(line, mode, strlen(mode)) == 0 && line[strlen(mode)] == ' '))
			n++;
	fclose(f);
	return n;
}

/* Number of logged requests whose line contains text. */
static inline int t_proxy_grep(const struct t_proxy *p, const char *text)
{
	char line[512];
	int n = 0;
	FILE *f = fopen(p->log, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		n += strstr(line, text) != NULL;
	fclose(f);
	return n;
}

static inline void t_endpoint(char out[64], const struct t_proxy *p)
{
	snprintf(out, 64, "http://127.0.0.1:%d", p->port);
}

#endif
