/* control.c - the control socket thread (control.h): accepts one connection
 * at a time, reads one bounded request line, answers status or sync. It
 * receives bytes from other processes: it must never read past
 * CONTROL_PROTO_REQUEST_MAX, never wait on a silent client longer than
 * CONTROL_READ_MS, never answer a peer of another uid (root aside), and
 * never put a name, a store key or a key into a reply or the log. */
#include "control.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control_proto.h"
#include "journal.h"
#include "log.h"
#include "mono.h"
#include "poll_head.h"
#include "runtime.h"

#define CONTROL_BACKLOG 8
#define CONTROL_WRITE_MS 3000u /* a client that does not take its reply by then is dropped */

struct control {
	/* Read-only after control_start. */
	struct control_deps deps;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	ino_t ino; /* of the socket file, to remove only ours */
	int listen_fd;
	int wake_fd; /* eventfd: readable once control_stop wants the thread out */
	pthread_t thread;
};

/* ---- status ---- */

static uint64_t control_segment_bytes(const struct control *c, const uint8_t *key)
{
	char text[OBJECT_KEY_TEXT_BYTES], path[CACHE_PATH_MAX];
	struct stat st;

	object_key_text(text, key);
	cache_path(c->deps.cache, text, path);
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Counts what the uploader still has to put: the objects of the records
 * above the stored head that no record lists as garbage (its own rule). */
static void control_scan_count(const struct control *c, const struct journal_batch *s,
			       uint64_t stored_seq, struct control_status *st)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct journal_record *rec = &s->recs[i];
		if (rec->seq <= stored_seq)
			continue;
		for (size_t k = 0; k < rec->nsegs; k++) {
			if (journal_batch_is_garbage(s, rec->segs[k]))
				continue;
			st->pending_objects++;
			st->pending_bytes += control_segment_bytes(c, rec->segs[k]);
		}
		for (size_t k = 0; k < rec->nobjs; k++) {
			if (journal_batch_is_garbage(s, rec->objs[k].key))
				continue;
			st->pending_objects++;
			st->pending_bytes += rec->objs[k].len;
		}
	}
}

/* The records and what they still have to put; with !scan the listing only
 * (pending_objects and pending_bytes stay 0): reading every record and
 * sizing every segment at each of `sealfs sync`'s polls took 40 % of the
 * daemon's CPU while it drained 7,000 small files to S3. */
static int control_pending_once(const struct control *c, uint64_t stored_seq, bool scan,
				struct control_status *st)
{
	struct journal_batch s;
	uint64_t *seqs, bad;
	size_t n;
	int r = journal_list(&seqs, &n, c->deps.journal);

	if (r)
		return r;
	if (!scan) {
		st->journal_records = n;
		st->oldest_pending_seq = n ? seqs[0] : 0;
		free(seqs);
		return 0;
	}
	/* a record the uploader removed meanwhile is skipped */
	r = journal_batch_load(&s, c->deps.journal, seqs, n, true, &bad);
	if (r == 0) {
		st->journal_records = s.n;
		st->oldest_pending_seq = s.n ? s.recs[0].seq : 0;
		control_scan_count(c, &s, stored_seq, st);
	}
	journal_batch_release(&s);
	free(seqs);
	return r;
}

/* A slot the uploader freed after the listing may be rewritten in place by
 * a new commit while it is read (a torn record: -EBADMSG; the longer the
 * record, the likelier): list and read again. A record damaged for good
 * fails every try. */
static int control_pending(const struct control *c, uint64_t stored_seq, bool scan,
			   struct control_status *st)
{
	int r = -EBADMSG;

	for (int tries = 0; tries < 3 && r == -EBADMSG; tries++)
		r = control_pending_once(c, stored_seq, scan, st);
	return r;
}

static int control_status(const struct control *c, bool scan, struct control_status *st)
{
	struct upload_stats us;
	struct tree *t = c->deps.tree;

	upload_stats(&us, c->deps.up);
	*st = (struct control_status){.uploaded_bytes = us.sent_bytes,
				      .upload_rate = us.rate,
				      .rate_window_s = UPLOAD_RATE_WINDOW_S,
				      .store_seq = us.stored_seq,
				      .committed_seq = commit_seq(c->deps.commit),
				      .store_failing = us.failing,
				      .last_error = -us.last_err,
				      .last_error_time = us.last_err_time,
				      .head_conflict = us.conflict,
				      .conflict_seq = us.conflict_seq,
				      .conflict_links = us.conflict_links,
				      .merges = us.merges,
				      .last_merge_time = (uint64_t)us.last_merge_time,
				      .last_merge_entries = us.last_merged,
				      .last_merge_conflicts = us.last_conflicts,
				      .cas_ignored = us.cas_ignored};
	if (c->deps.poll) {
		struct poll_stats ps;

		poll_stats(c->deps.poll, &ps);
		st->polls = ps.polls;
		st->polls_unchanged = ps.unchanged;
		st->poll_refreshes = ps.refreshes;
	}
	switch (lease_state(c->deps.lease, &st->lease_until)) {
	case LEASE_WANTED:
		st->lease = CONTROL_LEASE_WANTED;
		break;
	case LEASE_HELD:
		st->lease = CONTROL_LEASE_HELD;
		break;
	case LEASE_OTHER:
		st->lease = CONTROL_LEASE_OTHER;
		break;
	case LEASE_LOST:
		st->lease = CONTROL_LEASE_LOST;
		break;
	default:
		st->lease = CONTROL_LEASE_NONE;
	}
	pthread_mutex_lock(&t->lock);
	st->uncommitted = t->dirty;
	st->inodes = t->ninodes;
	st->idle_dirs = t->lru_dirs;
	pthread_mutex_unlock(&t->lock);
	st->dirs_ahead = tree_early_used(t);
	return control_pending(c, us.stored_seq, scan, st);
}

/* ---- one connection ---- */

/* Milliseconds left until due (CLOCK_MONOTONIC), at least 0. */
static int control_left_ms(const struct timespec *due)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(due->tv_sec - now.tv_sec) * 1000 + (due->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)ms;
}

/* Waits until fd has events or due passes; false on timeout or stop. */
static bool control_wait(const struct control *c, int fd, short events, const struct timespec *due)
{
	struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = c->wake_fd, .events = POLLIN}};
	int r;

	do {
		r = poll(p, 2, control_left_ms(due));
	} while (r < 0 && errno == EINTR);
	return r > 0 && p[1].revents == 0 && p[0].revents != 0;
}

/* Reads one request line (without its newline; EOF ends it too) into buf.
 * *len gets its length. 0, -ETIMEDOUT, -EMSGSIZE, -ENODATA (nothing sent),
 * -errno. */
static int control_read(const struct control *c, int fd, char *buf, size_t *len)
{
	struct timespec due;
	ssize_t got;

	*len = 0;
	mono_deadline(&due, CONTROL_READ_MS);
	for (;;) {
		if (!control_wait(c, fd, POLLIN, &due))
			return -ETIMEDOUT;
		got = recv(fd, buf + *len, CONTROL_PROTO_REQUEST_MAX - *len, MSG_DONTWAIT);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return *len ? 0 : -ENODATA;
		char *nl = memchr(buf + *len, '\n', (size_t)got);
		*len += (size_t)got;
		if (nl) {
			*len = (size_t)(nl - buf);
			return 0;
		}
		if (*len >= CONTROL_PROTO_REQUEST_MAX)
			return -EMSGSIZE;
	}
}

static void control_write(const struct control *c, int fd, const char *line)
{
	size_t len = strlen(line), off = 0;
	struct timespec due;
	ssize_t w;

	mono_deadline(&due, CONTROL_WRITE_MS);
	while (off < len && control_wait(c, fd, POLLOUT, &due)) {
		w = send(fd, line + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0)
			return;
		off += (size_t)w;
	}
}

/* Reason text for an errno in a reply: lower-case, never a name. */
static void control_why(char *out, size_t size, const char *what, int err)
{
	const char *desc = strerrordesc_np(err);
	char low[CONTROL_PROTO_ERROR_MAX];

	snprintf(low, sizeof(low), "%s", desc ? desc : "unknown error");
	if (low[0] >= 'A' && low[0] <= 'Z' && (low[1] < 'A' || low[1] > 'Z'))
		low[0] = (char)(low[0] - 'A' + 'a');
	snprintf(out, size, "%s: %s", what, low);
}

/* sync: the committer's immediate commit (what fsync runs), then the
 * uploader is kicked to start at once; the reply names the seq that must
 * reach the store. */
static char *control_sync(const struct control *c, char *why, size_t why_size)
{
	int r = commit_run(c->deps.commit);

	if (r) {
		control_why(why, why_size, "committing failed", -r);
		return NULL;
	}
	upload_kick_now(c->deps.up); /* the client waits: no gathering */
	return control_proto_sync_reply(commit_seq(c->deps.commit));
}

static char *control_answer(const struct control *c, enum control_proto_op op, char *why,
			    size_t why_size)
{
	struct control_status st;
	int r;

	if (op == CONTROL_PROTO_SYNC)
		return control_sync(c, why, why_size);
	if (op == CONTROL_PROTO_WHERE && (!c->deps.store_url || !c->deps.cache_dir)) {
		snprintf(why, why_size, "this mount does not know its store's address");
		return NULL;
	}
	if (op == CONTROL_PROTO_WHERE)
		return control_proto_where_reply(c->deps.store_url, c->deps.cache_dir);
	r = control_status(c, op != CONTROL_PROTO_PROGRESS, &st);
	if (r) {
		control_why(why, why_size, "reading the journal failed", -r);
		return NULL;
	}
	return control_proto_status_reply(&st);
}

static bool control_peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred))
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

/* The reply line to one request (new), or NULL with the reason in why. */
static char *control_handle(const struct control *c, int fd, char *why, size_t why_size)
{
	char buf[CONTROL_PROTO_REQUEST_MAX];
	enum control_proto_op op;
	size_t len;
	int r;

	if (!control_peer_allowed(fd)) {
		snprintf(why, why_size, "permission denied");
		return NULL;
	}
	r = control_read(c, fd, buf, &len);
	if (r == -EMSGSIZE) {
		snprintf(why, why_size, "request too long");
		return NULL;
	}
	if (r) {
		why[0] = '\0'; /* silent, slow or gone: just close */
		return NULL;
	}
	r = control_proto_parse_request(&op, buf, len);
	if (r) {
		snprintf(why, why_size, "%s",
			 r == -EOPNOTSUPP ? "unknown op" : "malformed request");
		return NULL;
	}
	return control_answer(c, op, why, why_size);
}

static void control_serve(const struct control *c, int fd)
{
	char why[CONTROL_PROTO_ERROR_MAX] = "out of memory";
	char *line = control_handle(c, fd, why, sizeof(why));

	if (!line && why[0])
		line = control_proto_error_reply(why);
	if (line)
		control_write(c, fd, line);
	free(line);
}

/* ---- the thread ---- */

static void *control_main(void *arg)
{
	struct control *c = arg;
	struct pollfd p[2] = {{.fd = c->listen_fd, .events = POLLIN},
			      {.fd = c->wake_fd, .events = POLLIN}};

	for (;;) {
		int r = poll(p, 2, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || p[1].revents)
			break;
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue; /* the client went away, or out of fds: try the next */
		control_serve(c, fd);
		close(fd);
	}
	return NULL;
}

static int control_bind(struct control *c, const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct stat st;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, path, strlen(path) + 1);
	memcpy(c->path, path, strlen(path) + 1);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0)
		return -errno;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path); /* left by a daemon that was killed */
	if (bind(c->listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		return -errno;
	if (chmod(path, 0600) != 0 || lstat(path, &st) != 0 ||
	    listen(c->listen_fd, CONTROL_BACKLOG))
		return -errno;
	c->ino = st.st_ino;
	return 0;
}

static void control_free(struct control *c)
{
	struct stat st;

	if (c->ino && lstat(c->path, &st) == 0 && st.st_ino == c->ino)
		unlink(c->path);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	free(c);
}

static int control_path(char *out, size_t size, const char *mountpoint)
{
	char pid_path[RUNTIME_PATH_BYTES];
	int r = runtime_pid_path(pid_path, sizeof(pid_path), mountpoint);

	return r ? r : runtime_sock_path(out, size, pid_path);
}

int control_start(struct control **out, const char *mountpoint, const struct control_deps *deps)
{
	struct control *c = calloc(1, sizeof(*c));
	char path[RUNTIME_PATH_BYTES];
	sigset_t all, old;
	int r;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->listen_fd = c->wake_fd = -1;
	c->deps = *deps;
	c->wake_fd = eventfd(0, EFD_CLOEXEC);
	r = c->wake_fd < 0 ? -errno : control_path(path, sizeof(path), mountpoint);
	if (r == 0)
		r = control_bind(c, path);
	if (r == 0) {
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old); /* signals belong to the FUSE loop */
		r = -pthread_create(&c->thread, NULL, control_main, c);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (r) {
		control_free(c);
		return r;
	}
	*out = c;
	return 0;
}

void control_stop(struct control *c)
{
	uint64_t one = 1;

	if (!c)
		return;
	if (write(c->wake_fd, &one, sizeof(one)) != sizeof(one))
		log_msg(LOG_WARNING, "control: waking the control thread failed");
	pthread_join(c->thread, NULL);
	control_free(c);
}
