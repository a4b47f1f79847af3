/* cli_history.c - `sealfs history MOUNTPOINT/PATH [--json]`: the versions of
 * a file or folder that the vault's retained heads hold (docs/CLI.md), and
 * what `sealfs restore` shares with it (cli_history.h): opening and
 * unlocking the vault behind a mount and reading its history from the
 * store. Prints names to stdout only (the caller's own terminal); never
 * logs one, never prints a key. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli_history.h"

static const char cli_history_usage[] =
    "usage: sealfs history MOUNTPOINT/PATH [--json]\n"
    "\n"
    "Lists the versions of a file or folder that the vault keeps (the retention\n"
    "window, 'sealfs config STORE keep-days N'), newest first: when each was\n"
    "committed, its size and the device that wrote it. A version is listed\n"
    "where the entry differs from the newer one (content, size, mode or\n"
    "modification time; a folder: anything inside it). PATH may be deleted.\n"
    "Asks the mount to upload its commits first, then reads the store: asks\n"
    "for the passphrase like mount. Needs a format-2 vault.\n"
    "\n"
    "options:\n"
    "  --json                 one JSON document\n"
    "  --passphrase-file F    read the passphrase from the first line of F\n"
    "  --extpass CMD          run CMD (via /bin/sh) and read the passphrase from\n"
    "                         the first line it prints\n"
    "  --keyring              read the passphrase from the desktop keyring\n"
    "  --insecure-http        allow plain http:// to an S3 endpoint on another host\n"
    "  -h, --help             show this help\n"
    "\n"
    "exit codes: 0 listed, 22 a format-1 vault, 23 no version of PATH is kept;\n"
    "others as for every command.\n";

void cli_history_time(char *out, size_t size, const struct dirobj_time *t, bool for_name)
{
	time_t s = (time_t)t->sec;
	struct tm tm;

	if (!localtime_r(&s, &tm) ||
	    !strftime(out, size, for_name ? "%Y-%m-%d %H%M%S" : "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(out, size, "@%lld", (long long)t->sec);
}

int cli_history_error(const struct cli_history *h, int r, const char *what)
{
	if (r == -EBADMSG)
		return cli_fail(EXITCODE_FSCK_DAMAGED,
				"%s '%s': an object failed to authenticate (run 'sealfs fsck "
				"--all-heads')",
				what, h->arg);
	if (r == -ENOENT)
		return cli_fail(EXITCODE_FSCK_DAMAGED,
				"%s '%s': an object is missing from the store (run 'sealfs fsck "
				"--all-heads')",
				what, h->arg);
	if (r == -ENOMEM)
		return cli_fail(EXITCODE_OTHER, "%s '%s': out of memory", what, h->arg);
	return cli_fail(EXITCODE_STORE_IO, "%s '%s': reading the store: %s", what, h->arg,
			cli_why(-r));
}

int cli_history_open(struct cli_history *h, const char *cmd, const struct cli_unlock *how)
{
	int rc = cli_vault_open(&h->v, h->store);

	if (rc == 0 && h->v.cfg->format < 2)
		return cli_fail(EXITCODE_NEEDS_FORMAT2,
				"%s needs a format-2 vault (sealfs upgrade)", cmd);
	if (rc == 0)
		rc = cli_vault_unlock(&h->v, how, NULL);
	if (rc)
		return rc;
	rc = history_view_open(&h->view, h->v.store, h->v.cfg, h->v.keys);
	return rc ? cli_history_error(h, rc, "reading the history of") : 0;
}

void cli_history_close(struct cli_history *h)
{
	history_view_free(h->view);
	cli_vault_close(&h->v);
	h->view = NULL;
}

/* ---- printing ---- */

static const char *cli_history_kind(enum dirobj_type t)
{
	switch (t) {
	case DIROBJ_FILE:
		return "file";
	case DIROBJ_DIR:
		return "folder";
	case DIROBJ_SYMLINK:
		return "symlink";
	case DIROBJ_FIFO:
		return "fifo";
	case DIROBJ_SOCK:
		return "socket";
	case DIROBJ_CHR:
	case DIROBJ_BLK:
		return "device";
	default:
		return "other";
	}
}

static void cli_history_print(const struct cli_history *h, const struct history_version *vs,
			      size_t n, bool current)
{
	printf("%s: %zu version%s, newest first%s\n", h->path[0] ? h->path : "/", n,
	       n == 1 ? "" : "s", current ? "" : " (not in the current tree: deleted or moved)");
	for (size_t i = 0; i < n; i++) {
		char when[32], size[32];
		cli_history_time(when, sizeof(when), &vs[i].time, false);
		if (vs[i].type == DIROBJ_FILE)
			snprintf(size, sizeof(size), "%llu B", (unsigned long long)vs[i].size);
		else
			snprintf(size, sizeof(size), "%s", cli_history_kind(vs[i].type));
		printf("  %s  %12s  %s%s\n", when, size, vs[i].device_name,
		       vs[i].newest == 0 ? "  (current)" : "");
	}
}

static int cli_history_json(const struct cli_history *h, const struct history_version *vs, size_t n)
{
	json_t *arr = json_array(), *doc;
	char *text;

	for (size_t i = 0; arr && i < n; i++) {
		json_t *o =
		    json_pack("{s:I, s:I, s:i, s:s, s:s, s:I, s:i, s:I, s:i, s:b}", "seq",
			      (json_int_t)vs[i].seq, "time", (json_int_t)vs[i].time.sec, "time_ns",
			      (int)vs[i].time.nsec, "device", vs[i].device_name, "type",
			      cli_history_kind(vs[i].type), "size", (json_int_t)vs[i].size, "mode",
			      (int)(vs[i].mode & 07777), "mtime", (json_int_t)vs[i].mtime.sec,
			      "mtime_ns", (int)vs[i].mtime.nsec, "current", vs[i].newest == 0);
		if (!o || json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	doc = arr ? json_pack("{s:s, s:o}", "path", h->path, "versions", arr) : NULL;
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text)
		return cli_fail(EXITCODE_OTHER, "out of memory");
	puts(text);
	free(text);
	return 0;
}

/* ---- the command ---- */

struct cli_history_args {
	struct cli_opts opts;
	bool json;
};

static int cli_history_option(void *arg, int c, const char *val)
{
	(void)val;
	if (c != 'j')
		return CLI_OPTS_NOT_MINE;
	((struct cli_history_args *)arg)->json = true;
	return 0;
}

int cli_history_main(int argc, char **argv)
{
	static const struct option table[] = {
	    {"json", no_argument, NULL, 'j'}, CLI_OPTS_SECRET, CLI_OPTS_KEYRING, CLI_OPTS_END};
	static const struct cli_opts_spec spec = {.cmd = "history",
						  .usage = cli_history_usage,
						  .takes = CLI_TAKES_SECRET | CLI_TAKES_KEYRING,
						  .table = table,
						  .operands = 1,
						  .operands_what = "one MOUNTPOINT/PATH argument",
						  .own = cli_history_option};
	struct cli_history_args a = {.json = false};
	struct cli_history *h = calloc(1, sizeof(*h));
	struct history_version *vs = NULL;
	size_t n = 0;
	int rc;

	if (!h)
		return cli_fail(EXITCODE_OTHER, "out of memory");
	cli_harden();
	rc = cli_opts_parse(&a.opts, &spec, &a, argc, argv);
	if (rc == 0)
		rc = cli_history_locate(h, a.opts.args[0]);
	if (rc == 0)
		rc = cli_history_open(h, "history", &a.opts.unlock);
	if (rc == 0 && (rc = history_view_versions(h->view, h->path, &vs, &n)) != 0)
		rc = cli_history_error(h, rc, "reading the history of");
	if (rc == 0 && n == 0)
		rc = cli_fail(EXITCODE_NO_VERSION, "no version of '%s' is kept", h->arg);
	if (rc == 0 && a.json)
		rc = cli_history_json(h, vs, n);
	else if (rc == 0) {
		const struct dirobj_entry *e;
		cli_history_print(h, vs, n, history_view_lookup(h->view, 0, h->path, &e) == 1);
	}
	free(vs);
	cli_history_close(h);
	free(h);
	return rc < 0 ? EXITCODE_OK : rc;
}
