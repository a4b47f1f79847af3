/* cli_restore.c - `sealfs restore MOUNTPOINT/PATH [--at TIME] [--to DEST]`:
 * brings back a file or folder (recursively, with symlinks and special
 * files) as a retained head holds it, written with plain file I/O through
 * the mount, so it is a new change: sealed under new keys and synced like
 * any other. Never overwrites: every file it makes is created exclusively.
 * Keeps modes, times and extended attributes (not owners); a file with
 * several names comes back as plain files, one per name restored (the
 * links are not made again). Prints names to
 * the caller's stdout/stderr only; never logs one. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli_history.h"
#include "cli_mount.h"

static const char cli_restore_usage[] =
    "usage: sealfs restore MOUNTPOINT/PATH [--at TIME] [--to DEST]\n"
    "\n"
    "Brings back a file or folder (with everything in it) as the vault kept it,\n"
    "as a new change in the live tree: written through the mount, so it syncs\n"
    "like any other change. Without --at: the newest kept version that differs\n"
    "from the current one (a deleted PATH: as it was before it was deleted).\n"
    "Where PATH exists and no --to is given, the result is written next to it\n"
    "as 'NAME (restored YYYY-MM-DD HHMMSS).EXT' (the version's time). Keeps\n"
    "modes, modification times and extended attributes; files are owned by the\n"
    "caller. Asks for the passphrase like mount. Needs a format-2 vault.\n"
    "\n"
    "options:\n"
    "  --at TIME              the version current at TIME: YYYY-MM-DD,\n"
    "                         'YYYY-MM-DD HH:MM[:SS] [+hhmm|Z]' or @SECONDS\n"
    "  --to DEST              write it to DEST (must not exist; an existing\n"
    "                         folder: into it under its own name)\n"
    "  --passphrase-file F    read the passphrase from the first line of F\n"
    "  --extpass CMD          run CMD (via /bin/sh) and read the passphrase from\n"
    "                         the first line it prints\n"
    "  --keyring              read the passphrase from the desktop keyring\n"
    "  --insecure-http        allow plain http:// to an S3 endpoint on another host\n"
    "  -h, --help             show this help\n"
    "\n"
    "exit codes: 0 restored, 22 a format-1 vault, 23 no such version kept, 2 a\n"
    "part could not be written (each named on stderr); others as for every\n"
    "command.\n";

struct cli_restore_args {
	struct cli_opts opts;
	const char *to;
	bool has_at;
	int64_t at;
};

struct cli_restore {
	struct cli_history *h;
	size_t head;	 /* the retained head restored from */
	unsigned failed; /* entries that could not be written */
	uint64_t files, dirs, bytes;
};

/* ---- writing ---- */

static int cli_restore_write(void *arg, uint64_t off, const unsigned char *buf, size_t len)
{
	int fd = *(int *)arg;

	while (len > 0) {
		ssize_t w = pwrite(fd, buf, len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		buf += w;
		off += (uint64_t)w;
		len -= (size_t)w;
	}
	return 0;
}

static void cli_restore_fail(struct cli_restore *r, const char *dest, const char *why)
{
	fprintf(stderr, "sealfs: restore: '%s': %s\n", dest, why);
	r->failed++;
}

/* Extended attributes, mode and times of what is at dest (fd, or by path
 * without following a symlink when fd < 0). */
static void cli_restore_attrs(struct cli_restore *r, int fd, const char *dest,
			      const struct dirobj_entry *e)
{
	struct timespec ts[2] = {{.tv_sec = e->atime.sec, .tv_nsec = e->atime.nsec},
				 {.tv_sec = e->mtime.sec, .tv_nsec = e->mtime.nsec}};
	bool link = e->type == DIROBJ_SYMLINK;
	int bad = 0;

	for (size_t i = 0; i < e->nxattrs; i++) {
		const struct dirobj_xattr *x = &e->xattrs[i];
		if (fd >= 0 ? fsetxattr(fd, x->name, x->value, x->len, 0)
			    : lsetxattr(dest, x->name, x->value, x->len, 0))
			bad = bad ? bad : errno;
	}
	if (!link && (fd >= 0 ? fchmod(fd, e->mode & 07777) : chmod(dest, e->mode & 07777)))
		bad = bad ? bad : errno;
	if (fd >= 0 ? futimens(fd, ts) : utimensat(AT_FDCWD, dest, ts, AT_SYMLINK_NOFOLLOW))
		bad = bad ? bad : errno;
	if (bad) {
		char why[128];
		snprintf(why, sizeof(why), "setting its attributes: %s", cli_why(bad));
		cli_restore_fail(r, dest, why);
	}
}

static void cli_restore_file(struct cli_restore *r, const struct dirobj_entry *e, const char *dest)
{
	int fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600), rc = 0;

	if (fd < 0) {
		cli_restore_fail(r, dest, cli_why(errno));
		return;
	}
	rc = history_view_read_file(r->h->view, e, cli_restore_write, &fd);
	if (rc == 0 && ftruncate(fd, (off_t)e->size) != 0)
		rc = -errno;
	if (rc == 0)
		cli_restore_attrs(r, fd, dest, e);
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == -EBADMSG || rc == -ENOENT)
		cli_restore_fail(r, dest,
				 rc == -EBADMSG ? "a stored segment failed to authenticate (left "
						  "incomplete)"
						: "a stored segment is missing (left incomplete)");
	else if (rc)
		cli_restore_fail(r, dest, cli_why(-rc));
	else {
		r->files++;
		r->bytes += e->size;
	}
}

static void cli_restore_entry(struct cli_restore *r, const struct dirobj_entry *e,
			      const char *dest);

static void cli_restore_dir(struct cli_restore *r, const struct dirobj_entry *e, const char *dest)
{
	struct dirobj obj;
	int rc;

	if (mkdir(dest, 0700) != 0) {
		cli_restore_fail(r, dest, cli_why(errno));
		return;
	}
	r->dirs++;
	rc = history_view_open_dir(r->h->view, e, &obj);
	if (rc) {
		cli_restore_fail(r, dest,
				 rc == -EBADMSG	 ? "its folder object failed to authenticate"
				 : rc == -ENOENT ? "its folder object is missing"
						 : cli_why(-rc));
		return;
	}
	for (size_t i = 0; i < obj.nentries; i++) {
		size_t len = strlen(dest) + 1 + obj.entries[i].name_len + 1;
		char *child = malloc(len);
		if (!child) {
			cli_restore_fail(r, dest, "out of memory");
			break;
		}
		snprintf(child, len, "%s/%s", dest, obj.entries[i].name);
		cli_restore_entry(r, &obj.entries[i], child);
		free(child);
	}
	dirobj_release(&obj);
	cli_restore_attrs(r, -1, dest, e); /* after the children: their writes moved its mtime */
}

static void cli_restore_entry(struct cli_restore *r, const struct dirobj_entry *e, const char *dest)
{
	int rc = 0;

	switch (e->type) {
	case DIROBJ_FILE:
		cli_restore_file(r, e, dest);
		return;
	case DIROBJ_DIR:
		cli_restore_dir(r, e, dest);
		return;
	case DIROBJ_SYMLINK:
		rc = symlink(e->target ? e->target : "", dest);
		break;
	case DIROBJ_FIFO:
	case DIROBJ_SOCK:
	case DIROBJ_CHR:
	case DIROBJ_BLK:
		rc = mknod(dest, e->mode, (dev_t)e->rdev);
		break;
	case DIROBJ_HARDLINK: /* its content, as a file of its own */
		rc = history_view_resolve(r->h->view, r->head, e, &e);
		if (rc == 0)
			cli_restore_file(r, e, dest);
		else
			cli_restore_fail(r, dest,
					 rc == -EBADMSG	 ? "its inode table record failed to "
							   "authenticate or is missing"
					 : rc == -ENOENT ? "its inode table page is missing"
							 : cli_why(-rc));
		return;
	default:
		cli_restore_fail(r, dest, "an entry of an unknown type");
		return;
	}
	if (rc != 0) {
		cli_restore_fail(r, dest, cli_why(errno));
		return;
	}
	r->files++;
	cli_restore_attrs(r, -1, dest, e);
}

/* ---- which version, and where ---- */

/* The head whose tree the restore copies: the one current at --at, or the
 * newest head of the newest version that differs from the current one
 * (exists: whether PATH is there now). The newest of the run, not the
 * oldest: a file with several names inside a folder changes in the inode
 * table, not in the folder's object, so the heads of one folder version
 * may hold different contents for it; *when is the version's time. */
static int cli_restore_pick(struct cli_history *h, const struct cli_restore_args *a, bool exists,
			    size_t *head, struct dirobj_time *when)
{
	struct history_version *vs = NULL;
	size_t n = 0, pick = 0, at_head = 0;
	int rc = history_view_versions(h->view, h->path, &vs, &n);

	if (rc)
		return cli_history_error(h, rc, "reading the history of");
	if (a->has_at) {
		size_t at = history_view_count(h->view); /* the newest head of TIME or before */
		for (size_t i = history_view_count(h->view); i-- > 0;)
			if (history_view_head(h->view, i)->time.sec <= a->at)
				at = i;
		rc = EXITCODE_NO_VERSION;
		for (size_t i = 0; i < n && rc; i++)
			if (vs[i].newest <= at && at <= vs[i].head)
				pick = i, rc = 0;
		at_head = at;
		if (rc)
			rc = cli_fail(
			    EXITCODE_NO_VERSION,
			    "'%s' did not exist at that time (or no head of then is kept)", h->arg);
	} else if (n == 0 || (exists && vs[0].newest == 0 && n < 2)) {
		rc = cli_fail(EXITCODE_NO_VERSION, "no %sversion of '%s' is kept",
			      n ? "earlier " : "", h->arg);
	} else {
		pick = exists && vs[0].newest == 0 ? 1 : 0;
	}
	if (rc == 0) {
		*head = a->has_at ? at_head : vs[pick].newest;
		*when = vs[pick].time;
	}
	free(vs);
	return rc;
}

/* Where it goes: --to (into an existing folder), PATH itself when it is
 * gone, else "NAME (restored DATE).EXT" beside it. out holds PATH_MAX. */
static int cli_restore_dest(char *out, const struct cli_history *h,
			    const struct cli_restore_args *a, bool exists,
			    const struct dirobj_entry *e, const struct dirobj_time *when)
{
	const char *slash = strrchr(h->path, '/');
	const char *name = slash ? slash + 1 : h->path;
	char stamp[32];
	struct stat st;
	int n;

	if (!name[0])
		return cli_usage("restore", "the vault's root folder: give a PATH inside it");
	if (a->to && stat(a->to, &st) == 0 && S_ISDIR(st.st_mode))
		n = snprintf(out, PATH_MAX, "%s/%s", a->to, name);
	else if (a->to)
		n = snprintf(out, PATH_MAX, "%s", a->to);
	else if (!exists)
		n = snprintf(out, PATH_MAX, "%s/%s", h->mnt, h->path);
	else {
		const char *dot = e->type == DIROBJ_DIR ? NULL : strrchr(name, '.');
		size_t base = dot && dot != name ? (size_t)(dot - name) : strlen(name);
		cli_history_time(stamp, sizeof(stamp), when, true);
		n = snprintf(out, PATH_MAX, "%s/%.*s%.*s (restored %s)%s", h->mnt,
			     (int)(name - h->path), h->path, (int)base, name, stamp, name + base);
	}
	if (n < 0 || n >= PATH_MAX)
		return cli_fail(EXITCODE_USAGE, "restore: the destination's path is too long");
	if (lstat(out, &st) == 0)
		return cli_fail(EXITCODE_OTHER, "restore: '%s' exists: not overwritten", out);
	return 0;
}

static int cli_restore_run(struct cli_history *h, const struct cli_restore_args *a)
{
	struct cli_restore r = {.h = h};
	const struct dirobj_entry *e;
	struct dirobj_time when;
	char dest[PATH_MAX], stamp[32];
	struct stat st;
	bool exists = lstat(h->arg, &st) == 0;
	size_t head = 0;
	int rc = cli_restore_pick(h, a, exists, &head, &when);

	if (rc)
		return rc;
	r.head = head;
	if ((rc = history_view_lookup(h->view, head, h->path, &e)) != 1)
		return cli_history_error(h, rc < 0 ? rc : -ENOENT, "restoring");
	rc = cli_restore_dest(dest, h, a, exists, e, &when);
	if (rc)
		return rc;
	cli_restore_entry(&r, e, dest);
	cli_history_time(stamp, sizeof(stamp), &when, false);
	if (r.failed)
		return cli_fail(EXITCODE_OTHER, "restore of '%s' incomplete: %u part%s failed",
				h->arg, r.failed, r.failed == 1 ? "" : "s");
	printf("restored '%s' as of %s to '%s' (%llu file%s, %llu folder%s, %llu bytes)\n", h->path,
	       stamp, dest, (unsigned long long)r.files, r.files == 1 ? "" : "s",
	       (unsigned long long)r.dirs, r.dirs == 1 ? "" : "s", (unsigned long long)r.bytes);
	return 0;
}

/* ---- the command ---- */

static int cli_restore_option(void *arg, int c, const char *val)
{
	struct cli_restore_args *a = arg;

	if (c == 't')
		a->to = val;
	else if (c == 'a') {
		if (cli_parse_date(&a->at, val) != 0)
			return cli_usage("restore", "--at: not a date: '%s'", val);
		a->has_at = true;
	} else
		return CLI_OPTS_NOT_MINE;
	return 0;
}

int cli_restore_main(int argc, char **argv)
{
	static const struct option table[] = {{"at", required_argument, NULL, 'a'},
					      {"to", required_argument, NULL, 't'},
					      CLI_OPTS_SECRET,
					      CLI_OPTS_KEYRING,
					      CLI_OPTS_END};
	static const struct cli_opts_spec spec = {.cmd = "restore",
						  .usage = cli_restore_usage,
						  .takes = CLI_TAKES_SECRET | CLI_TAKES_KEYRING,
						  .table = table,
						  .operands = 1,
						  .operands_what = "one MOUNTPOINT/PATH argument",
						  .own = cli_restore_option};
	struct cli_restore_args a = {.to = NULL};
	struct cli_history *h = calloc(1, sizeof(*h));
	int rc;

	if (!h)
		return cli_fail(EXITCODE_OTHER, "out of memory");
	cli_harden();
	rc = cli_opts_parse(&a.opts, &spec, &a, argc, argv);
	if (rc == 0)
		rc = cli_history_locate(h, a.opts.args[0]);
	if (rc == 0)
		rc = cli_history_open(h, "restore", &a.opts.unlock);
	if (rc == 0)
		rc = cli_restore_run(h, &a);
	cli_history_close(h);
	free(h);
	return rc < 0 ? EXITCODE_OK : rc;
}
