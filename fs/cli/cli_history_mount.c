/* cli_history_mount.c - from MOUNTPOINT/PATH to the vault behind it, for
 * `sealfs history` and `sealfs restore` (cli_history.h): the path made
 * absolute and resolved as far as it exists (what follows may be deleted),
 * the innermost fuse.sealfs mount holding it (/proc/self/mountinfo), and
 * its daemon's answers on the control socket: where the store and cache
 * are, and a sync so the store holds what the mount committed. Never sends
 * a name to the daemon, never prints a key. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli_history.h"
#include "control_proto.h"
#include "runtime.h"

#define CLI_HISTORY_REPLY_MS 30000
#define CLI_HISTORY_POLL_MS 100

/* arg made absolute, "." and ".." taken lexically, into out (PATH_MAX). */
static int cli_history_absolute(char *out, const char *arg)
{
	char buf[PATH_MAX * 2], *save = NULL, *part;
	size_t len = 0;

	if (arg[0] == '/')
		snprintf(buf, sizeof(buf), "%s", arg);
	else if (getcwd(buf, PATH_MAX))
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "/%s", arg);
	else
		return -errno;
	out[0] = '\0';
	for (part = strtok_r(buf, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		if (strcmp(part, ".") == 0)
			continue;
		if (strcmp(part, "..") == 0) {
			while (len > 0 && out[len - 1] != '/')
				len--;
			len = len > 0 ? len - 1 : 0;
			out[len] = '\0';
			continue;
		}
		if (len + 1 + strlen(part) >= PATH_MAX)
			return -ENAMETOOLONG;
		len += (size_t)sprintf(out + len, "/%s", part);
	}
	if (len == 0)
		strcpy(out, "/");
	return 0;
}

/* The real path of the longest existing prefix of abs, with the rest
 * appended: a deleted file's path still names where it was. */
static int cli_history_resolve(char *out, const char *abs)
{
	char prefix[PATH_MAX], real[PATH_MAX];
	size_t cut = strlen(abs);

	for (;;) {
		memcpy(prefix, abs, cut);
		prefix[cut] = '\0';
		if (realpath(cut ? prefix : "/", real)) {
			const char *rest = abs + cut;
			const char *base = strcmp(real, "/") == 0 && *rest ? "" : real;
			size_t lb = strlen(base), lr = strlen(rest);
			if (lb + lr + 1 > PATH_MAX)
				return -ENAMETOOLONG;
			memcpy(out, base, lb);
			memcpy(out + lb, rest, lr + 1);
			return 0;
		}
		if (errno == ENOTCONN)
			return -ENOTCONN;
		while (cut > 0 && abs[cut - 1] != '/')
			cut--;
		if (cut == 0)
			return -ENOENT;
		cut--;
	}
}

struct cli_history_find {
	const char *path;
	char best[PATH_MAX];
	size_t best_len;
	bool found;
};

static int cli_history_mount_of(void *arg, const struct runtime_mount *m)
{
	struct cli_history_find *f = arg;
	size_t n = strlen(m->point);

	if (strcmp(n == 1 ? "" : m->point, "") != 0 &&
	    (strncmp(f->path, m->point, n) != 0 || (f->path[n] != '/' && f->path[n] != '\0')))
		return 0;
	if (f->found && n < f->best_len)
		return 0;
	f->found = strcmp(m->type, "fuse.sealfs") == 0; /* a later mount on top hides it */
	snprintf(f->best, sizeof(f->best), "%s", m->point);
	f->best_len = n;
	return 0;
}

/* ---- the control socket ---- */

static int cli_history_call(const struct cli_history *h, enum control_proto_op op, char *reply,
			    size_t *len)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char pid_path[RUNTIME_PATH_BYTES], sock[RUNTIME_PATH_BYTES];
	const char *req = control_proto_request(op);
	struct pollfd p;
	int fd, r = runtime_pid_path(pid_path, sizeof(pid_path), h->mnt);

	if (r == 0)
		r = runtime_sock_path(sock, sizeof(sock), pid_path);
	if (r == 0 && strlen(sock) >= sizeof(a.sun_path))
		r = -ENAMETOOLONG;
	if (r)
		return r;
	memcpy(a.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
		r = -errno;
	*len = 0;
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	while (r == 0 && *len < CONTROL_PROTO_REPLY_MAX && !memchr(reply, '\n', *len)) {
		ssize_t got;
		if (poll(&p, 1, CLI_HISTORY_REPLY_MS) != 1) {
			r = -ETIMEDOUT;
			break;
		}
		got = read(fd, reply + *len, CONTROL_PROTO_REPLY_MAX - *len);
		if (got <= 0)
			r = got < 0 ? -errno : -ECONNRESET;
		else
			*len += (size_t)got;
	}
	close(fd);
	reply[*len] = '\0';
	return r;
}

static int cli_history_ask_where(struct cli_history *h)
{
	char *reply = malloc(CONTROL_PROTO_REPLY_MAX + 1), why[CONTROL_PROTO_ERROR_MAX] = "";
	size_t len;
	int r = reply ? cli_history_call(h, CONTROL_PROTO_WHERE, reply, &len) : -ENOMEM;

	if (r == 0)
		r = control_proto_parse_where(h->store, h->cache, sizeof(h->store), why, reply,
					      len);
	free(reply);
	if (r == -ENOENT || r == -ECONNREFUSED)
		return cli_fail(EXITCODE_MOUNTPOINT, "'%s' has no sealfs daemon answering", h->mnt);
	if (r == -EREMOTEIO)
		return cli_fail(EXITCODE_OTHER, "the daemon of '%s' answered: %s", h->mnt, why);
	if (r)
		return cli_fail(EXITCODE_OTHER, "asking the daemon of '%s' where its store is: %s",
				h->mnt, cli_why(r == -EPROTO ? EPROTO : -r));
	return 0;
}

/* Commits and waits until the store holds it; a warning when it does not. */
static void cli_history_sync(struct cli_history *h)
{
	char *reply = malloc(CONTROL_PROTO_REPLY_MAX + 1), why[CONTROL_PROTO_ERROR_MAX] = "";
	struct control_status st = {0};
	time_t due = time(NULL) + CLI_HISTORY_SYNC_S;
	uint64_t seq = 0;
	size_t len;
	int r = reply ? cli_history_call(h, CONTROL_PROTO_SYNC, reply, &len) : -ENOMEM;

	if (r == 0)
		r = control_proto_parse_sync(&seq, why, reply, len);
	while (r == 0) {
		r = cli_history_call(h, CONTROL_PROTO_STATUS, reply, &len);
		if (r == 0)
			r = control_proto_parse_status(&st, why, reply, len);
		if (r || (st.store_seq >= seq &&
			  (st.oldest_pending_seq == 0 || st.oldest_pending_seq > seq)))
			break;
		if (st.head_conflict || time(NULL) >= due) {
			r = -ETIMEDOUT;
			break;
		}
		poll(NULL, 0, CLI_HISTORY_POLL_MS);
	}
	free(reply);
	if (r)
		fprintf(stderr,
			"sealfs: warning: the store does not hold the mount's newest commits yet "
			"(%s): they are not shown\n",
			r == -ETIMEDOUT ? "still uploading" : cli_why(r == -EREMOTEIO ? EIO : -r));
}

int cli_history_locate(struct cli_history *h, const char *arg)
{
	struct cli_history_find f = {.found = false};
	char abs[PATH_MAX], real[PATH_MAX];
	const char *rest;
	int r;

	h->arg = arg;
	r = cli_history_absolute(abs, arg);
	if (r == 0)
		r = cli_history_resolve(real, abs);
	if (r)
		return cli_fail(EXITCODE_MOUNTPOINT, "'%s': %s", arg, cli_why(-r));
	f.path = real;
	r = runtime_mounts(cli_history_mount_of, &f);
	if (r < 0)
		return cli_fail(EXITCODE_OTHER, "reading /proc/self/mountinfo: %s", cli_why(-r));
	if (!f.found)
		return cli_fail(EXITCODE_MOUNTPOINT, "'%s' is not inside a sealfs mount", arg);
	snprintf(h->mnt, sizeof(h->mnt), "%s", f.best);
	rest = real + (f.best_len == 1 ? 0 : f.best_len);
	while (*rest == '/')
		rest++;
	snprintf(h->path, sizeof(h->path), "%s", rest);
	r = cli_history_ask_where(h);
	if (r == 0)
		cli_history_sync(h);
	return r;
}
