/* cli_mount.c - `sealfs mount`: checks, unlock, daemonise, serve. Must never
 * start a thread before the fork, leave core dumps on, or print anything
 * secret. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_mount.h"
#include "cli_opts.h"
#include "lock_bus.h"
#include "log.h"
#include "mount.h"
#include "poll_head.h"
#include "runtime.h"
#include "vault_name.h"

#define CLI_MOUNT_OPTS_BYTES 1024
#define CLI_MOUNT_DELAY_MAX_MS 3600000ull /* an hour */
#define CLI_MOUNT_DELAY_DEFAULT_MS 2000u
#define CLI_MOUNT_CACHE_MIN ((uint64_t)64 << 20)
#define CLI_MOUNT_CACHE_WAIT_DEFAULT_S 60u
#define CLI_MOUNT_CACHE_WAIT_MAX_S 86400ull
#define CLI_MOUNT_POLL_MAX_S 86400u	 /* --poll: at most once a day */
#define CLI_MOUNT_OPT_ENTRY_TIMEOUT 1100 /* beyond cli_mount.h's and cli_opts.h's codes */

static const char cli_mount_usage[] =
    "usage: sealfs mount STORE MOUNTPOINT [options]\n"
    "\n"
    "Unlocks the vault in STORE and mounts it on MOUNTPOINT (an existing empty\n"
    "directory). Returns once the mount is up; the daemon keeps running until\n"
    "'sealfs unmount MOUNTPOINT'.\n"
    "\n"
    "  --cache DIR            ciphertext cache (default $XDG_CACHE_HOME/sealfs/VAULT_ID,\n"
    "                         else ~/.cache/sealfs/VAULT_ID)\n"
    "  --passphrase-file F    read the passphrase from the first line of F\n"
    "  --extpass CMD          run CMD with /bin/sh -c and read the first line it prints\n"
    "  -f, --foreground       stay in the foreground, log to stderr\n"
    "  -o OPT[,OPT...]        ro, rw, allow_other, or other FUSE mount options\n"
    "  --commit-delay MS      commit changes after MS ms without a change (default\n"
    "                         2000; 0: at once), at the latest after 30 s; fsync\n"
    "                         commits at once\n"
    "  --idle-lock MINUTES    lock (unmount, wipe the keys) after MINUTES without any\n"
    "                         file activity (decimals allowed, e.g. 0.5)\n"
    "  --poll SECONDS         format 2: show other devices' changes, reading the\n"
    "                         store's head every SECONDS (default 15; 0: never)\n"
    "  --entry-timeout S      the kernel caches names and folders' attributes up to S s\n"
    "                         (default 30, at most 3600; 0: asks every time)\n"
    "  --cache-size SIZE      keep the cache under SIZE (e.g. 500M, 2G, 1T; at least\n"
    "                         64M): evict uploaded data, least recently used first\n"
    "  --cache-full-wait S    with --cache-size: a write waits up to S seconds\n"
    "                         (default 60) for uploads to free room, then fails\n"
    "                         with ENOSPC\n"
    "  --fsync-store          fsync returns once the store holds the data (default:\n"
    "                         once it is durable in the cache; it goes up in the\n"
    "                         background)\n"
    "  --quiet                do not print the store's \"last change\" line\n"
    "  --name NAME            show the mount as sealfs:NAME (findmnt, df, file\n"
    "                         managers); remembered in the cache for later mounts\n"
    "  --keyring              read the passphrase from the desktop keyring (see\n"
    "                         'sealfs keyring add')\n"
    "  --lock-on WHEN         lock on suspend, screen (the session's lock or the\n"
    "                         screen saver), both (suspend,screen), or none\n"
    "                         (default: suspend, when there is a system bus)\n"
    "  --insecure-http        allow plain http:// to an S3 endpoint on another host\n"
    "  --device-name NAME     this device's name in the heads it writes (format 2;\n"
    "                         default the host name); remembered in the cache\n"
    "  --expect FINGERPRINT   refuse unless the store's head has this fingerprint\n"
    "                         ('sealfs info --unlock' on a device you trust) or is\n"
    "                         the commit right after it\n"
    "  --not-before DATE      refuse a store's head written before DATE (format 2):\n"
    "                         YYYY-MM-DD, 'YYYY-MM-DD HH:MM[:SS] [+hhmm|Z]', @SECONDS\n"
    "  --accept-store-head    trust the store's head although this cache's pin is\n"
    "                         damaged, missing or contradicts it, and pin it\n"
    "  --force                on a store that ignores conditional writes, take the\n"
    "                         lease from the device holding it (that device stops\n"
    "                         writing) instead of mounting read-only\n"
    "  -h, --help             show this help\n";

/* The store handle the parent leaves to the daemon after the fork; kept
 * reachable so leak checkers do not count it. */
static struct backend *cli_mount_parent_store;

struct cli_mount_args {
	const char *store;
	const char *mnt;
	const char *cache;
	struct cli_opts opts; /* --passphrase-file, --extpass, --keyring, --help */
	bool foreground;
	bool read_only;
	bool allow_other;
	bool fsync_store;
	bool quiet; /* --quiet: no "last change" line (mount.sealfs) */
	unsigned idle_lock_s;
	unsigned poll_s;	  /* --poll */
	unsigned entry_timeout_s; /* --entry-timeout */
	unsigned commit_delay_ms;
	uint64_t cache_size;		      /* --cache-size in bytes; 0: none */
	unsigned cache_full_wait_s;	      /* --cache-full-wait */
	char fuse_opts[CLI_MOUNT_OPTS_BYTES]; /* what -o had beyond ro/rw/allow_other */
	const char *name;		      /* --name, or NULL: the saved one */
	unsigned lock_on;		      /* --lock-on, LOCK_ON_* */
	struct cli_mount_head head;	      /* --device-name, --expect, ... */
};

/* What the mount needs once the checks have passed. */
struct cli_mount_ctx {
	struct cli_mount_args a;
	char mnt[PATH_MAX];   /* real path */
	char cache[PATH_MAX]; /* real path */
	char store[PATH_MAX]; /* the store's URL, a local one as its real path */
	char name[MOUNT_NAME_MAX + 1];
	char pid_path[RUNTIME_PATH_BYTES];
	struct cli_vault v;
};

static int cli_mount_add_opt(struct cli_mount_args *a, const char *opt)
{
	size_t used = strlen(a->fuse_opts);
	int n;

	if (strcmp(opt, "ro") == 0 || strcmp(opt, "rw") == 0)
		a->read_only = opt[1] == 'o';
	else if (strcmp(opt, "allow_other") == 0)
		a->allow_other = true;
	else if (strncmp(opt, "subtype=", 8) == 0 || strncmp(opt, "fsname=", 7) == 0)
		return cli_usage("mount", "-o %.*s: fixed by sealfs", (int)strcspn(opt, "="), opt);
	else if (opt[0] != '\0') {
		n = snprintf(a->fuse_opts + used, sizeof(a->fuse_opts) - used, "%s%s",
			     used ? "," : "", opt);
		if (n < 0 || (size_t)n >= sizeof(a->fuse_opts) - used)
			return cli_usage("mount", "-o: too many options");
	}
	return 0;
}

static int cli_mount_opts(struct cli_mount_args *a, const char *list)
{
	char buf[CLI_MOUNT_OPTS_BYTES];
	char *rest = buf, *opt;
	int rc = 0;

	if (strlen(list) >= sizeof(buf))
		return cli_usage("mount", "-o: too many options");
	snprintf(buf, sizeof(buf), "%s", list);
	while (rc == 0 && (opt = strsep(&rest, ",")) != NULL)
		rc = cli_mount_add_opt(a, opt);
	return rc;
}

/* --idle-lock MINUTES: a decimal number of minutes, at least one second, at
 * most a year. */
static int cli_mount_idle_lock(struct cli_mount_args *a, const char *arg)
{
	char *end;
	double min;

	errno = 0;
	min = strtod(arg, &end);
	if (errno || end == arg || *end || !(min * 60 >= 1) || min > 366 * 24 * 60)
		return cli_usage("mount", "--idle-lock takes minutes, e.g. 15 or 0.5");
	a->idle_lock_s = (unsigned)(min * 60 + 0.5);
	return 0;
}

/* The numeric options. */
static int cli_mount_number(struct cli_mount_args *a, int c, const char *val)
{
	unsigned long long v = 0;
	int rc;

	if (c == 'd') {
		rc = cli_parse_ull(&v, "--commit-delay", val, 0, CLI_MOUNT_DELAY_MAX_MS);
		a->commit_delay_ms = v ? (unsigned)v : 1; /* 0 means "default" below */
	} else if (c == 'P') {
		rc = cli_parse_ull(&v, "--poll", val, 0, CLI_MOUNT_POLL_MAX_S);
		a->poll_s = (unsigned)v;
	} else if (c == CLI_MOUNT_OPT_ENTRY_TIMEOUT) {
		rc = cli_parse_ull(&v, "--entry-timeout", val, 0, MOUNT_ENTRY_TIMEOUT_MAX_S);
		a->entry_timeout_s = (unsigned)v;
	} else if (c == 'z') {
		rc = cli_parse_size(&v, "--cache-size", val, CLI_MOUNT_CACHE_MIN, "64M");
		a->cache_size = v;
	} else {
		rc = cli_parse_ull(&v, "--cache-full-wait", val, 0, CLI_MOUNT_CACHE_WAIT_MAX_S);
		a->cache_full_wait_s = (unsigned)v;
	}
	return rc;
}

static int cli_mount_option(void *arg, int c, const char *val)
{
	struct cli_mount_args *a = arg;
	int rc;

	switch (c) {
	case 'c':
		a->cache = val;
		return 0;
	case 'f':
		a->foreground = true;
		return 0;
	case 's':
		a->fsync_store = true;
		return 0;
	case 'q':
		a->quiet = true;
		return 0;
	case 'i':
		return cli_mount_idle_lock(a, val);
	case 'o':
		return cli_mount_opts(a, val);
	case 'd':
	case 'P':
	case 'z':
	case 'w':
	case CLI_MOUNT_OPT_ENTRY_TIMEOUT:
		return cli_mount_number(a, c, val);
	case 'N':
		a->name = val;
		if (!mount_name_ok(val))
			return cli_usage("mount",
					 "--name: 1 to %d bytes of UTF-8, without ',', '\\', '=' "
					 "or control characters",
					 MOUNT_NAME_MAX);
		return 0;
	case 'L':
		if (lock_on_parse(&a->lock_on, val))
			return cli_usage("mount",
					 "--lock-on takes suspend, screen, suspend,screen or none");
		return 0;
	default:
		rc = cli_mount_head_option(&a->head, c, val);
		return rc == -1 ? CLI_OPTS_NOT_MINE : rc;
	}
}

static int cli_mount_parse(struct cli_mount_args *a, int argc, char **argv)
{
	static const struct option table[] = {
	    {"cache", required_argument, NULL, 'c'},
	    CLI_OPTS_SECRET,
	    {"foreground", no_argument, NULL, 'f'},
	    {"commit-delay", required_argument, NULL, 'd'},
	    {"fsync-store", no_argument, NULL, 's'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"idle-lock", required_argument, NULL, 'i'},
	    {"poll", required_argument, NULL, 'P'},
	    {"entry-timeout", required_argument, NULL, CLI_MOUNT_OPT_ENTRY_TIMEOUT},
	    {"cache-size", required_argument, NULL, 'z'},
	    {"cache-full-wait", required_argument, NULL, 'w'},
	    {"name", required_argument, NULL, 'N'},
	    {"lock-on", required_argument, NULL, 'L'},
	    {"device-name", required_argument, NULL, CLI_MOUNT_OPT_DEVICE_NAME},
	    {"accept-store-head", no_argument, NULL, CLI_MOUNT_OPT_ACCEPT},
	    {"expect", required_argument, NULL, CLI_MOUNT_OPT_EXPECT},
	    {"not-before", required_argument, NULL, CLI_MOUNT_OPT_NOT_BEFORE},
	    {"force", no_argument, NULL, CLI_MOUNT_OPT_FORCE},
	    CLI_OPTS_KEYRING,
	    CLI_OPTS_END};
	static const struct cli_opts_spec spec = {
	    .cmd = "mount",
	    .usage = cli_mount_usage,
	    .takes = CLI_TAKES_SECRET | CLI_TAKES_KEYRING,
	    .optstring = ":fho:",
	    .table = table,
	    .operands = 2,
	    .operands_what = "STORE and MOUNTPOINT",
	    .own = cli_mount_option,
	};
	int rc;

	a->commit_delay_ms = CLI_MOUNT_DELAY_DEFAULT_MS;
	a->poll_s = POLL_DEFAULT_S;
	a->entry_timeout_s = MOUNT_ENTRY_TIMEOUT_DEFAULT_S;
	a->cache_full_wait_s = CLI_MOUNT_CACHE_WAIT_DEFAULT_S;
	a->lock_on = LOCK_ON_SUSPEND;
	rc = cli_opts_parse(&a->opts, &spec, a, argc, argv);
	if (rc == 0) {
		a->store = a->opts.args[0];
		a->mnt = a->opts.args[1];
	}
	return rc;
}

/* The daemon runs the same checks again right before it mounts. */
static int cli_mount_check_fuse(void)
{
	char err[CLI_ERR_BYTES];

	return mount_check_fuse(err, sizeof(err)) ? cli_fail(EXITCODE_NO_FUSE, "%s", err) : 0;
}

static int cli_mount_check_mnt(char real[PATH_MAX], const char *arg)
{
	char err[CLI_ERR_BYTES];

	return mount_check_point(arg, real, err, sizeof(err))
		   ? cli_fail(EXITCODE_MOUNTPOINT, "%s", err)
		   : 0;
}

static int cli_mount_cache_path(char out[PATH_MAX], const struct cli_mount_ctx *ctx)
{
	int n;

	if (ctx->a.cache) {
		n = snprintf(out, PATH_MAX, "%s", ctx->a.cache);
		return n < PATH_MAX ? 0 : cli_fail(EXITCODE_CACHE, "--cache: path too long");
	}
	if (cli_cache_default(out, ctx->v.cfg->vault_id))
		return cli_fail(EXITCODE_CACHE, "cache path too long");
	return 0;
}

/* Fails early, before the passphrase is asked, on the usual cache problems:
 * a file in the way, a read-only or foreign directory, another mount using it.
 * cache.c checks again for real when the mount opens it. */
static int cli_mount_check_cache(struct cli_mount_ctx *ctx)
{
	char path[PATH_MAX], lock[PATH_MAX + 8];
	struct stat st;
	int rc, fd;

	rc = cli_mount_cache_path(path, ctx);
	if (rc)
		return rc;
	rc = cli_mkdirs(path);
	if (rc == 0 && (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)))
		rc = -ENOTDIR;
	if (rc == 0 && !realpath(path, ctx->cache))
		rc = -errno;
	if (rc == 0 && access(ctx->cache, R_OK | W_OK | X_OK) < 0)
		rc = -errno;
	if (rc)
		return cli_fail(EXITCODE_CACHE, "cache '%s': %s", path, cli_why(-rc));
	snprintf(lock, sizeof(lock), "%s/lock", ctx->cache);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cli_fail(EXITCODE_CACHE, "cache '%s': %s", path, cli_why(errno));
	rc = flock(fd, LOCK_EX | LOCK_NB) < 0 ? -errno : 0;
	close(fd);
	if (rc == -EWOULDBLOCK)
		return cli_fail(EXITCODE_CACHE, "cache '%s' is in use by another mount", path);
	if (rc)
		return cli_fail(EXITCODE_CACHE, "cache '%s': %s", path, cli_why(-rc));
	return 0;
}

/* The exit code for a failure fsmount_run reported before the mount was up. */
static int cli_mount_run_code(int rc)
{
	switch (-rc) {
	case EBUSY:
	case EROFS:
	case EACCES:
	case ENOTDIR:
	case EEXIST:
		return EXITCODE_CACHE;
	case ENODEV:
	case ENXIO:
		return EXITCODE_NO_FUSE;
	case EINVAL:
		return EXITCODE_USAGE; /* FUSE refused a -o option */
	case EKEYREJECTED:
		return EXITCODE_HEAD_REFUSED; /* the pin, --expect, --not-before */
	case EMEDIUMTYPE:
		return EXITCODE_USAGE; /* --not-before on a format-1 vault */
	case EIO:
	case ETIMEDOUT:
	case ECONNREFUSED:
	case ENOSPC:
	case EPROTO:
	case ENOENT:
	case EBADMSG:
	case ESTALE:
		return EXITCODE_STORE_IO;
	default:
		return EXITCODE_OTHER;
	}
}

/* Serves the mount in this process until it is unmounted. report_fd is the
 * startup pipe of a daemon (-1 in the foreground). Takes ownership of keys. */
static int cli_mount_serve(struct cli_mount_ctx *ctx, int report_fd)
{
	struct mount_opts mo = {
	    .mountpoint = ctx->mnt,
	    .cache_dir = ctx->cache,
	    .store_url = ctx->store[0] ? ctx->store : NULL,
	    .read_only = ctx->a.read_only,
	    .allow_other = ctx->a.allow_other,
	    .fsync_store = ctx->a.fsync_store,
	    .idle_lock_s = ctx->a.idle_lock_s,
	    .poll_s = ctx->a.poll_s,
	    .entry_timeout_s = ctx->a.entry_timeout_s,
	    .fuse_opts = ctx->a.fuse_opts[0] ? ctx->a.fuse_opts : NULL,
	    .commit_delay_ms = ctx->a.commit_delay_ms,
	    .cache_size = ctx->a.cache_size,
	    .cache_full_wait_s = ctx->a.cache_full_wait_s,
	    .ready_fd = report_fd >= 0 ? dup(report_fd) : -1,
	    .name = ctx->name[0] ? ctx->name : NULL,
	    .lock_on = ctx->a.lock_on,
	    .device_name = ctx->a.head.device_name,
	    .accept_store_head = ctx->a.head.accept_store_head,
	    .expect = ctx->a.head.has_expect ? ctx->a.head.expect : NULL,
	    .not_before = ctx->a.head.not_before,
	    .force = ctx->a.head.force,
	};
	char err[CLI_ERR_BYTES] = "", msg[CLI_ERR_BYTES + 64], pending[RUNTIME_PATH_BYTES];
	int rc;

	if (runtime_pending_path(pending, sizeof(pending), ctx->pid_path) == 0)
		mo.pending_path = pending;
	rc = runtime_pid_write(ctx->pid_path, getpid());
	if (rc < 0) {
		vault_keys_free(ctx->v.keys);
		ctx->v.keys = NULL;
		if (snprintf(msg, sizeof(msg), "pid file '%s': %s", ctx->pid_path, cli_why(-rc)) <
		    0)
			msg[0] = '\0';
		return cli_mount_report(report_fd, EXITCODE_OTHER, msg);
	}
	rc = fsmount_run(ctx->v.store, ctx->v.cfg, ctx->v.keys, &mo, err, sizeof(err));
	ctx->v.keys = NULL; /* fsmount_run owned and wiped them */
	runtime_pid_remove(ctx->pid_path, getpid());
	if (rc == 0)
		return EXITCODE_OK;
	if (snprintf(msg, sizeof(msg), "mounting '%s': %s", ctx->a.mnt,
		     err[0] ? err : cli_why(-rc)) < 0)
		msg[0] = '\0';
	return cli_mount_report(report_fd, cli_mount_run_code(rc), msg);
}

/* The daemon: its own session, no terminal, logs to syslog. SIGPIPE is
 * ignored here; libfuse's signal handlers (SIGTERM, SIGINT, SIGHUP: unmount
 * and commit) are installed by fsmount_run. */
static int cli_mount_child(struct cli_mount_ctx *ctx, int report_fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int relock_err;

	setsid();
	cli_harden();
	/* Memory locks are not inherited across fork: the keys and the store's
	 * credentials (the S3 secret) are locked again before anything else. */
	sodium_mlock(ctx->v.keys, sizeof(*ctx->v.keys));
	relock_err = backend_relock_secrets(ctx->v.store);
	signal(SIGPIPE, SIG_IGN);
	if (chdir("/") < 0) {
		/* "/" always exists; nothing depends on the cwd anyway */
	}
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		close(null);
	}
	/* libfuse prints mount errors to stderr: send them up with the verdict.
	 * Once the parent has gone, writes there fail with EPIPE (ignored). */
	dup2(report_fd, STDERR_FILENO);
	log_use_syslog();
	if (relock_err)
		log_msg(LOG_WARNING, "the store's credentials could not be locked in memory (%s)",
			strerror(relock_err));
	return cli_mount_serve(ctx, report_fd);
}

/* The rule of this file, checked where it matters: fork copies only the
 * calling thread, so a lock another thread held (in malloc, stdio, a
 * library) would stay locked forever in the daemon. A second thread here is
 * a bug in sealfs: said once, so that tests and users see it. */
static void cli_mount_check_threads(void)
{
	struct dirent *e;
	unsigned n = 0;
	DIR *d = opendir("/proc/self/task");

	if (!d)
		return; /* no /proc: nothing to check with */
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	if (n > 1)
		fprintf(stderr,
			"sealfs: warning: %u threads alive at the fork (a bug: please report it)\n",
			n);
}

static int cli_mount_start(struct cli_mount_ctx *ctx)
{
	int fds[2];
	pid_t pid;

	if (ctx->a.foreground)
		return cli_mount_serve(ctx, -1);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return cli_fail(EXITCODE_OTHER, "pipe: %s", cli_why(errno));
	cli_mount_check_threads();
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return cli_fail(EXITCODE_OTHER, "fork: %s", cli_why(errno));
	}
	if (pid == 0) {
		close(fds[0]);
		return cli_mount_child(ctx, fds[1]);
	}
	close(fds[1]);
	vault_keys_free(ctx->v.keys); /* the daemon has its own copy */
	ctx->v.keys = NULL;
	/* Not destroyed here: the daemon shares the store's open connections,
	 * and closing them (a TLS close_notify) would cut the daemon's too. */
	cli_mount_parent_store = ctx->v.store;
	ctx->v.store = NULL;
	return cli_mount_wait(pid, fds[0], ctx->a.quiet);
}

static void cli_mount_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The store as `sealfs history` and `restore` reopen it (the control
 * socket's where): a local directory by its real path, since the daemon's
 * working directory is not the caller's; "" when it does not fit. */
static void cli_mount_store_url(struct cli_mount_ctx *ctx)
{
	const char *path;

	ctx->store[0] = '\0';
	if (!cli_local_path(ctx->a.store, &path)) {
		if (strlen(ctx->a.store) < sizeof(ctx->store))
			snprintf(ctx->store, sizeof(ctx->store), "%s", ctx->a.store);
	} else if (!realpath(path, ctx->store)) {
		ctx->store[0] = '\0';
	}
}

static int cli_mount_prepare(struct cli_mount_ctx *ctx)
{
	int rc;

	rc = cli_mount_check_fuse();
	if (rc == 0)
		rc = cli_mount_check_mnt(ctx->mnt, ctx->a.mnt);
	if (rc == 0)
		rc = cli_vault_open(&ctx->v, ctx->a.store);
	if (rc == 0)
		cli_mount_store_url(ctx);
	if (rc == 0 && ctx->a.head.not_before && ctx->v.cfg->format < 2)
		rc = cli_usage("mount", "--not-before needs a format-2 vault: a format-1 head "
					"carries no time (see 'sealfs upgrade')");
	if (rc == 0)
		rc = cli_mount_check_cache(ctx);
	if (rc == 0 && (rc = vault_name_resolve(ctx->name, ctx->cache, ctx->a.name)))
		rc = cli_fail(EXITCODE_CACHE, "saving the name in the cache: %s", cli_why(-rc));
	if (rc == 0 && (rc = runtime_pid_path(ctx->pid_path, sizeof(ctx->pid_path), ctx->mnt)))
		rc = cli_fail(EXITCODE_OTHER, "runtime directory for the pid file: %s",
			      cli_why(-rc));
	if (rc == 0)
		rc = cli_vault_unlock(&ctx->v, &ctx->a.opts.unlock, NULL);
	return rc;
}

int cli_mount_main(int argc, char **argv)
{
	struct cli_mount_ctx *ctx = calloc(1, sizeof(*ctx));
	int rc;

	cli_harden();
	if (!ctx)
		return cli_fail(EXITCODE_OTHER, "out of memory");
	rc = cli_mount_parse(&ctx->a, argc, argv);
	if (rc == 0) {
		cli_mount_raise_nofile();
		rc = cli_mount_prepare(ctx);
	}
	if (rc == 0)
		rc = cli_mount_start(ctx);
	cli_vault_close(&ctx->v);
	free(ctx);
	return rc < 0 ? EXITCODE_OK : rc;
}
