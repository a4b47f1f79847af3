/* cli_status.c - `sealfs status MOUNTPOINT` and `sealfs sync MOUNTPOINT`:
 * ask a running daemon over its control socket (fs/daemon/control.h) what waits
 * for the store, or make it commit now and wait until the store holds it.
 * Must never print a name from inside the vault (the daemon sends none),
 * and Ctrl-C on sync only stops the waiting: the uploads go on. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli_util.h"
#include "control_proto.h"
#include "runtime.h"

#define CLI_STATUS_REPLY_MS 30000 /* a status reply takes a journal scan */
#define CLI_STATUS_POLL_MS 200	  /* sync: how often it asks for the status */
#define CLI_STATUS_BAR_WIDTH 30

static const char cli_status_usage[] =
    "usage: sealfs status MOUNTPOINT [--json]\n"
    "\n"
    "Shows what the mount's daemon has not put into the store yet (commits,\n"
    "objects, bytes), the upload rate, the head seq in the store and the last\n"
    "store error. --json prints the daemon's reply as it is (one JSON object).\n";

static const char cli_status_sync_usage[] =
    "usage: sealfs sync MOUNTPOINT [--timeout SECONDS]\n"
    "\n"
    "Commits every change made so far and waits until the store holds it, with\n"
    "a progress bar when stderr is a terminal. --timeout: give up after SECONDS\n"
    "(exit 17, with the last store error); the uploads go on in the background.\n"
    "Ctrl-C stops waiting (exit 2), not the uploads.\n";

static volatile sig_atomic_t cli_status_interrupted;

/* ---- the socket ---- */

struct cli_status_conn {
	const char *arg;	       /* the MOUNTPOINT argument, for messages */
	char mnt[PATH_MAX];	       /* its real path */
	char sock[RUNTIME_PATH_BYTES]; /* the daemon's control socket */
	char reply[CONTROL_PROTO_REPLY_MAX + 1];
	size_t len; /* of reply, newline included */
};

/* Resolves MOUNTPOINT, checks it is a sealfs mount, finds its socket. */
static int cli_status_find(struct cli_status_conn *c, const char *arg)
{
	char pid_path[RUNTIME_PATH_BYTES];
	int rc = runtime_realpath(c->mnt, arg);

	c->arg = arg;
	if (rc < 0)
		return cli_fail(EXITCODE_MOUNTPOINT, "mountpoint '%s': %s", arg, cli_why(-rc));
	rc = cli_check_sealfs_mount(arg, c->mnt);
	if (rc)
		return rc;
	rc = runtime_pid_path(pid_path, sizeof(pid_path), c->mnt);
	if (rc == 0)
		rc = runtime_sock_path(c->sock, sizeof(c->sock), pid_path);
	if (rc)
		return cli_fail(EXITCODE_OTHER, "runtime directory for the control socket: %s",
				cli_why(-rc));
	return 0;
}

static int cli_status_connect(const struct cli_status_conn *c)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(c->sock) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, c->sock, strlen(c->sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* Reads the reply line into c->reply; ms < 0 waits for ever. */
static int cli_status_read(struct cli_status_conn *c, int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t got;
	int r;

	c->len = 0;
	while (c->len < CONTROL_PROTO_REPLY_MAX) {
		r = poll(&p, 1, ms);
		if (r < 0)
			return -errno; /* EINTR too: Ctrl-C */
		if (r == 0)
			return -ETIMEDOUT;
		got = read(fd, c->reply + c->len, CONTROL_PROTO_REPLY_MAX - c->len);
		if (got < 0)
			return -errno;
		if (got == 0)
			return -ECONNRESET; /* closed without a whole line */
		c->len += (size_t)got;
		if (memchr(c->reply + c->len - (size_t)got, '\n', (size_t)got))
			break;
	}
	c->reply[c->len] = '\0';
	return memchr(c->reply, '\n', c->len) ? 0 : -EMSGSIZE;
}

/* One request, its reply in c->reply. 0 or -errno. */
static int cli_status_call(struct cli_status_conn *c, enum control_proto_op op, int ms)
{
	const char *req = control_proto_request(op);
	int fd = cli_status_connect(c), r = 0;

	if (fd < 0)
		return fd;
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
		r = -errno;
	if (r == 0)
		r = cli_status_read(c, fd, ms);
	close(fd);
	return r;
}

/* The message for a failed call (rc < 0) or a daemon's error reply. */
static int cli_status_call_error(const struct cli_status_conn *c, int rc, const char *why)
{
	if (rc == -ENOENT || rc == -ECONNREFUSED)
		return cli_fail(EXITCODE_MOUNTPOINT, "'%s' has no sealfs daemon answering", c->arg);
	if (rc == -EINTR)
		return cli_fail(EXITCODE_OTHER,
				"'%s': interrupted (uploads go on in the background)", c->arg);
	if (rc == -EREMOTEIO)
		return cli_fail(EXITCODE_OTHER, "the daemon of '%s' answered: %s", c->arg, why);
	if (rc == -EPROTO || rc == -EMSGSIZE)
		return cli_fail(EXITCODE_OTHER, "the daemon of '%s' sent a malformed reply",
				c->arg);
	return cli_fail(EXITCODE_OTHER, "asking the daemon of '%s': %s", c->arg, cli_why(-rc));
}

/* Asks for the status (op STATUS; PROGRESS, what sync polls with: no scan of
 * the pending records, pending_objects and pending_bytes 0) and parses it,
 * waiting at most ms (< 0: the default). 0, or -errno (-EREMOTEIO: why). */
static int cli_status_get(struct cli_status_conn *c, enum control_proto_op op,
			  struct control_status *st, char *why, int ms)
{
	int rc =
	    cli_status_call(c, op, ms < 0 || ms > CLI_STATUS_REPLY_MS ? CLI_STATUS_REPLY_MS : ms);

	return rc ? rc : control_proto_parse_status(st, why, c->reply, c->len);
}

/* ---- printing ---- */

/* bytes as "512 B", "1.5 KiB", "12.0 MiB", "3.2 GiB". */
static void cli_status_size(char *out, size_t size, uint64_t bytes)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes / 1024;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(out, size, "%llu B", (unsigned long long)bytes);
		return;
	}
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(out, size, "%.1f %s", v, units[u]);
}

static void cli_status_print_error(const struct control_status *st)
{
	char when[64] = "?";
	time_t t = (time_t)st->last_error_time;
	struct tm tm;

	if (!st->last_error) {
		printf("last error:   none\n");
		return;
	}
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	printf("last error:   %s, at %s (%lld s ago)\n", cli_why(st->last_error), when,
	       (long long)(time(NULL) - t));
}

/* The last merge of another device's head (format 2). */
static void cli_status_print_merge(const struct control_status *st)
{
	char when[64] = "?";
	time_t t = (time_t)st->last_merge_time;
	struct tm tm;

	if (!st->merges) {
		printf("last merge:   none since the mount\n");
		return;
	}
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	printf("last merge:   %s: %llu entries merged, %llu conflict copies (%llu merges since "
	       "the mount)\n",
	       when, (unsigned long long)st->last_merge_entries,
	       (unsigned long long)st->last_merge_conflicts, (unsigned long long)st->merges);
}

/* The poll of the store's head, when it runs (format 2, --poll). */
static void cli_status_print_polls(const struct control_status *st)
{
	if (!st->polls)
		return;
	printf("polls:        %llu since the mount, %llu found the head unchanged, %llu showed "
	       "another device's head\n",
	       (unsigned long long)st->polls, (unsigned long long)st->polls_unchanged,
	       (unsigned long long)st->poll_refreshes);
}

/* "HH:MM:SS UTC" of Unix seconds, or "?". */
static void cli_status_clock(char out[32], int64_t sec)
{
	time_t t = (time_t)sec;
	struct tm tm;

	if (sec <= 0 || !gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, 32, "?");
}

/* The store's lease (docs/CLI.md, "Several devices"). */
static void cli_status_print_lease(const struct control_status *st)
{
	char until[32];

	cli_status_clock(until, st->lease_until);
	switch (st->lease) {
	case CONTROL_LEASE_WANTED:
		printf("lease:        not taken: taken before this mount's first upload if the "
		       "store ignores conditional writes (not asked yet)\n");
		break;
	case CONTROL_LEASE_HELD:
		printf("lease:        held by this device (until %s, renewed every 30 s): the "
		       "store ignores conditional writes, so other devices mount read-only\n",
		       until);
		break;
	case CONTROL_LEASE_OTHER:
		printf("lease:        another device holds it (until %s): this mount is "
		       "read-only; 'sealfs mount --force' takes it over\n",
		       until);
		break;
	case CONTROL_LEASE_LOST:
		printf("lease:        lost: another device took it over (until %s): nothing more "
		       "is written to the store\n",
		       until);
		break;
	default:
		printf("lease:        not needed\n");
	}
}

/* The head_conflict line; the lease's when that is why. */
static void cli_status_print_conflict(const struct control_status *st)
{
	if (st->lease == CONTROL_LEASE_OTHER || st->lease == CONTROL_LEASE_LOST)
		printf("store:        another device holds the store's lease: nothing is "
		       "uploaded any more; commits up to seq %llu stay in the cache's journal "
		       "(docs/CLI.md, \"Several devices\")\n",
		       (unsigned long long)st->conflict_seq);
	else
		printf("store:        head changed by another device%s: nothing is uploaded any "
		       "more; commits up to seq %llu stay in the cache's journal (docs/CLI.md, "
		       "\"Several devices\")\n",
		       st->conflict_links
			   ? " and files with several names (hard links) cannot be merged"
			   : "",
		       (unsigned long long)st->conflict_seq);
}

static void cli_status_print(const struct control_status *st)
{
	char pend[32], sent[32], rate[32];

	cli_status_size(pend, sizeof(pend), st->pending_bytes);
	cli_status_size(sent, sizeof(sent), st->uploaded_bytes);
	cli_status_size(rate, sizeof(rate), st->upload_rate);
	if (st->head_conflict)
		cli_status_print_conflict(st);
	else
		printf("store:        %s\n",
		       st->store_failing ? "failing (retrying in the background)" : "ok");
	if (st->cas_ignored && st->lease == CONTROL_LEASE_NONE)
		printf("conditional:  ignored by the store: a second device writing at the same "
		       "moment could replace a commit unseen\n");
	cli_status_print_lease(st);
	cli_status_print_error(st);
	cli_status_print_merge(st);
	cli_status_print_polls(st);
	printf("pending:      %llu commits, %llu objects, %s to upload\n",
	       (unsigned long long)st->journal_records, (unsigned long long)st->pending_objects,
	       pend);
	printf("uploaded:     %s since mount, %s/s over the last %llu s\n", sent, rate,
	       (unsigned long long)st->rate_window_s);
	printf("head seq:     %llu in the store, %llu committed\n",
	       (unsigned long long)st->store_seq, (unsigned long long)st->committed_seq);
	printf("uncommitted:  %s\n", st->uncommitted ? "yes (the next commit takes them)" : "no");
}

/* ---- status ---- */

/* MOUNTPOINT and the flags; 0 or an exit code (-1: --help printed). */
static int cli_status_parse(const char **mnt, int *json, unsigned long long *timeout, int argc,
			    char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"timeout", required_argument, NULL, 't'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *cmd = argv[0];
	int c, rc = 0;

	opterr = 0;
	optind = 1;
	while (rc == 0 && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h')
			return -1;
		if (c == 'j' && json)
			*json = 1;
		else if (c == 't' && timeout)
			rc = cli_parse_ull(timeout, "--timeout", optarg, 0, 365ull * 24 * 3600);
		else
			rc = cli_bad_option(cmd, c == 'j' || c == 't' ? '?' : c, argv);
	}
	if (rc == 0 && optind != argc - 1)
		rc = cli_usage(cmd, "expected one MOUNTPOINT argument");
	if (rc == 0)
		*mnt = argv[optind];
	return rc;
}

int cli_status_main(int argc, char **argv)
{
	struct cli_status_conn *c = calloc(1, sizeof(*c));
	char why[CONTROL_PROTO_ERROR_MAX] = "";
	struct control_status st;
	const char *mnt = NULL;
	int json = 0, rc;

	if (!c)
		return cli_fail(EXITCODE_OTHER, "out of memory");
	rc = cli_status_parse(&mnt, &json, NULL, argc, argv);
	if (rc < 0)
		fputs(cli_status_usage, stdout);
	if (rc == 0)
		rc = cli_status_find(c, mnt);
	if (rc == 0 && (rc = cli_status_get(c, CONTROL_PROTO_STATUS, &st, why, -1)) != 0)
		rc = cli_status_call_error(c, rc, why);
	if (rc == 0 && json)
		fwrite(c->reply, 1, c->len, stdout);
	else if (rc == 0)
		cli_status_print(&st);
	free(c);
	return rc < 0 ? EXITCODE_OK : rc;
}

/* ---- sync ---- */

struct cli_status_sync {
	uint64_t seq;	     /* the commit that must reach the store */
	uint64_t base;	     /* uploaded_bytes when the wait began */
	uint64_t total;	     /* pending_bytes then */
	struct timespec due; /* --timeout; tv_sec 0: none */
	int bar;	     /* stderr is a terminal */
};

static void cli_status_on_sigint(int sig)
{
	(void)sig;
	cli_status_interrupted = 1;
}

/* SIGINT and SIGTERM stop the waiting (no SA_RESTART: poll returns EINTR). */
static void cli_status_catch(void)
{
	struct sigaction sa = {.sa_handler = cli_status_on_sigint};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static bool cli_status_done(const struct cli_status_sync *s, const struct control_status *st)
{
	return st->store_seq >= s->seq &&
	       (st->oldest_pending_seq == 0 || st->oldest_pending_seq > s->seq);
}

static void cli_status_bar(const struct cli_status_sync *s, const struct control_status *st,
			   bool done)
{
	uint64_t sent = st->uploaded_bytes - s->base, total = s->total;
	char a[32], b[32], r[32], bar[CLI_STATUS_BAR_WIDTH + 1];
	unsigned pct;

	if (!s->bar)
		return;
	if (done || sent > total)
		sent = total;
	pct = done ? 100 : (total ? (unsigned)(sent * 100 / total) : 0);
	if (pct > 99 && !done)
		pct = 99;
	for (unsigned i = 0; i < CLI_STATUS_BAR_WIDTH; i++)
		bar[i] = i < pct * CLI_STATUS_BAR_WIDTH / 100 ? '#' : '-';
	bar[CLI_STATUS_BAR_WIDTH] = '\0';
	cli_status_size(a, sizeof(a), sent);
	cli_status_size(b, sizeof(b), total);
	cli_status_size(r, sizeof(r), st->upload_rate);
	fprintf(stderr, "\r[%s] %3u%%  %s of %s  %s/s%s   ", bar, pct, a, b, r,
		st->store_failing ? "  (store failing, retrying)" : "");
	if (done)
		fputc('\n', stderr);
}

static bool cli_status_passed(const struct timespec *due)
{
	struct timespec now;

	if (due->tv_sec == 0)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > due->tv_sec ||
	       (now.tv_sec == due->tv_sec && now.tv_nsec >= due->tv_nsec);
}

static int cli_status_left_ms(const struct timespec *due)
{
	struct timespec now;
	long long ms;

	if (due->tv_sec == 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(due->tv_sec - now.tv_sec) * 1000 + (due->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (ms > INT_MAX ? INT_MAX : (int)ms);
}

static int cli_status_gave_up(const struct cli_status_conn *c, const struct control_status *st,
			      unsigned long long timeout)
{
	char why[160];

	if (st->last_error)
		snprintf(why, sizeof(why), "last store error: %s", cli_why(st->last_error));
	else
		snprintf(why, sizeof(why),
			 "no store error so far: the upload is slow or its "
			 "retries are not over yet");
	return cli_fail(EXITCODE_STORE_IO,
			"sync '%s': the store does not hold everything after %llu s (%s); the "
			"commits stay in the cache's journal and go up in the background",
			c->arg, timeout, why);
}

/* Another device changed the store's head: this mount uploads nothing more. */
static int cli_status_conflict(const struct cli_status_conn *c, const struct cli_status_sync *s,
			       const struct control_status *st)
{
	if (s->bar)
		fputc('\n', stderr);
	if (st->lease == CONTROL_LEASE_OTHER || st->lease == CONTROL_LEASE_LOST)
		return cli_fail(EXITCODE_STORE_IO,
				"sync '%s': another device holds the store's lease (the store "
				"ignores conditional writes): this mount's commits up to seq %llu "
				"stay in the cache's journal and go up at its next read-write "
				"mount (docs/CLI.md, \"Several devices\")",
				c->arg, (unsigned long long)st->conflict_seq);
	return cli_fail(EXITCODE_STORE_IO,
			"sync '%s': the store's head was changed by another device (this mount's "
			"commits up to seq %llu stay in the cache's journal): %s: unmount, then "
			"see \"Several devices\" in docs/CLI.md",
			c->arg, (unsigned long long)st->conflict_seq,
			st->conflict_links
			    ? "files with several names (hard links) cannot be merged yet"
			    : "merging devices is not supported yet");
}

/* Flushes the kernel's cached writes into the daemon, so the commit has them. */
static void cli_status_syncfs(const char *mnt)
{
	int fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		syncfs(fd);
		close(fd);
	}
}

/* Polls until done, the deadline, Ctrl-C or a lost daemon. */
static int cli_status_wait(struct cli_status_conn *c, struct cli_status_sync *s,
			   struct control_status *st, unsigned long long timeout)
{
	char why[CONTROL_PROTO_ERROR_MAX] = "";
	int rc = 0;

	while (!cli_status_done(s, st)) {
		cli_status_bar(s, st, false);
		if (st->head_conflict)
			return cli_status_conflict(c, s, st);
		if (cli_status_passed(&s->due))
			return cli_status_gave_up(c, st, timeout);
		poll(NULL, 0, CLI_STATUS_POLL_MS);
		if (cli_status_interrupted)
			break;
		rc =
		    cli_status_get(c, CONTROL_PROTO_PROGRESS, st, why, cli_status_left_ms(&s->due));
		if (rc == -ETIMEDOUT && cli_status_passed(&s->due))
			return cli_status_gave_up(c, st, timeout);
		if (rc == -EINTR && cli_status_interrupted)
			break;
		if (rc)
			return cli_status_call_error(c, rc, why);
	}
	if (cli_status_interrupted) {
		if (s->bar)
			fputc('\n', stderr);
		return cli_fail(EXITCODE_OTHER,
				"sync '%s' interrupted: the uploads go on in the "
				"background",
				c->arg);
	}
	cli_status_bar(s, st, true);
	return 0;
}

/* Asks the daemon to commit now; s->seq gets the seq to wait for. */
static int cli_status_start_sync(struct cli_status_conn *c, struct cli_status_sync *s)
{
	char why[CONTROL_PROTO_ERROR_MAX] = "";
	int rc = cli_status_call(c, CONTROL_PROTO_SYNC, cli_status_left_ms(&s->due));

	if (rc == 0)
		rc = control_proto_parse_sync(&s->seq, why, c->reply, c->len);
	if (rc == -EINTR && cli_status_interrupted)
		return cli_fail(EXITCODE_OTHER, "sync '%s' interrupted", c->arg);
	if (rc == -ETIMEDOUT)
		return cli_fail(EXITCODE_STORE_IO, "sync '%s': the commit did not finish in time",
				c->arg);
	return rc ? cli_status_call_error(c, rc, why) : 0;
}

int cli_status_sync_main(int argc, char **argv)
{
	struct cli_status_conn *c = calloc(1, sizeof(*c));
	struct cli_status_sync s = {.bar = isatty(STDERR_FILENO)};
	char why[CONTROL_PROTO_ERROR_MAX] = "";
	unsigned long long timeout = 0;
	struct control_status st;
	const char *mnt = NULL;
	int rc, has_timeout;

	if (!c)
		return cli_fail(EXITCODE_OTHER, "out of memory");
	timeout = ULLONG_MAX;
	rc = cli_status_parse(&mnt, NULL, &timeout, argc, argv);
	has_timeout = timeout != ULLONG_MAX;
	if (rc < 0)
		fputs(cli_status_sync_usage, stdout);
	if (rc == 0)
		rc = cli_status_find(c, mnt);
	if (rc == 0 && has_timeout) {
		clock_gettime(CLOCK_MONOTONIC, &s.due);
		s.due.tv_sec += (time_t)timeout;
	}
	cli_status_catch();
	if (rc == 0)
		cli_status_syncfs(c->mnt);
	if (rc == 0)
		rc = cli_status_start_sync(c, &s);
	if (rc == 0 && (rc = cli_status_get(c, CONTROL_PROTO_STATUS, &st, why, -1)) != 0)
		rc = cli_status_call_error(c, rc, why);
	if (rc == 0) {
		s.base = st.uploaded_bytes;
		s.total = st.pending_bytes;
		rc = cli_status_wait(c, &s, &st, timeout);
	}
	free(c);
	return rc < 0 ? EXITCODE_OK : rc;
}
