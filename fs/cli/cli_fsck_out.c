/* cli_fsck_out.c - what `sealfs fsck` prints: one line per finding on stdout
 * ("damaged: PATH (segment 3: failed to authenticate at chunk 770)"), a
 * summary, a progress line on stderr when it is a terminal, or with --json
 * one JSON document. Paths are the user's own names, shown on the user's own
 * terminal: control bytes are escaped so a name cannot forge a line; they
 * must never go to the log. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli_fsck.h"
#include "dirobj.h"

#define CLI_FSCK_PROGRESS_MS 200

struct cli_fsck_out {
	bool json, progress;
	bool shown; /* a progress line is on the terminal */
	uint64_t last_ms;
	json_t *problems, *orphans, *moved; /* --json */
};

static void cli_fsck_clear_progress(struct cli_fsck_out *o)
{
	if (o->shown)
		fputs("\r\033[K", stderr);
	o->shown = false;
}

struct cli_fsck_out *cli_fsck_out_new(bool json, bool progress)
{
	struct cli_fsck_out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->json = json;
	o->progress = progress;
	if (json) {
		o->problems = json_array();
		o->orphans = json_array();
		o->moved = json_array();
		if (!o->problems || !o->orphans || !o->moved) {
			cli_fsck_out_free(o);
			return NULL;
		}
	}
	return o;
}

void cli_fsck_out_free(struct cli_fsck_out *o)
{
	if (!o)
		return;
	cli_fsck_clear_progress(o);
	json_decref(o->problems);
	json_decref(o->orphans);
	json_decref(o->moved);
	free(o);
}

/* ---- text ---- */

/* Prints a path: valid UTF-8 as it is, other bytes and control bytes as \xNN. */
static void cli_fsck_put_path(const char *p, size_t len)
{
	bool utf8 = dirobj_check_utf8(p, len);

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c == 0x7f || c == '\\' || (c >= 0x80 && !utf8))
			printf(c == '\\' ? "\\\\" : "\\x%02x", c);
		else
			putchar(c);
	}
}

static const char *cli_fsck_fate(const struct fsck_problem *p, char *buf, size_t size)
{
	switch (p->fate) {
	case FSCK_ORPHAN_DELETED:
		return " (deleted)";
	case FSCK_ORPHAN_YOUNG:
		snprintf(buf, size, " (kept: stored %" PRId64 " s ago, within --grace)", p->age_s);
		return buf;
	case FSCK_ORPHAN_NO_AGE:
		return " (kept: the store cannot tell its age; --grace 0 deletes it)";
	case FSCK_ORPHAN_FOREIGN:
		return " (kept: not a sealfs object key)";
	case FSCK_ORPHAN_DEL_FAIL:
		snprintf(buf, size, " (deleting it failed: %s)", strerror(p->err));
		return buf;
	default:
		return "";
	}
}

static void cli_fsck_text(const struct fsck_problem *p)
{
	char buf[128];

	switch (p->kind) {
	case FSCK_ORPHAN:
		printf("orphan: %s%s\n", p->key, cli_fsck_fate(p, buf, sizeof(buf)));
		return;
	case FSCK_MOVED:
		fputs("moved aside: ", stdout);
		cli_fsck_put_path(p->path, p->path_len);
		fputs(" -> ", stdout);
		cli_fsck_put_path(p->what, strlen(p->what));
		printf(" (%" PRIu64 " damaged segment%s now holes)\n", p->size,
		       p->size == 1 ? "" : "s");
		return;
	default:
		fputs(p->kind == FSCK_DAMAGED ? "damaged: " : "missing: ", stdout);
		cli_fsck_put_path(p->path, p->path_len);
		printf(" (%s%s%s)", p->what, p->why[0] ? ": " : "", p->why);
		if (p->old_head)
			printf(" in retained head seq %" PRIu64, p->old_head);
		fputc('\n', stdout);
	}
}

/* ---- JSON ---- */

/* Sets key to the string s when it is UTF-8, else key_b64 to its base64. */
static void cli_fsck_json_name(json_t *obj, const char *key, const char *s, size_t len)
{
	char k[32];
	char *b64;
	size_t b64_len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);

	if (dirobj_check_utf8(s, len)) {
		json_object_set_new(obj, key, json_stringn(s, len));
		return;
	}
	b64 = malloc(b64_len);
	if (!b64)
		return;
	sodium_bin2base64(b64, b64_len, (const unsigned char *)s, len,
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(k, sizeof(k), "%s_b64", key);
	json_object_set_new(obj, k, json_string(b64));
	free(b64);
}

static const char *const cli_fsck_fates[] = {
    [FSCK_ORPHAN_LISTED] = "listed",	    [FSCK_ORPHAN_DELETED] = "deleted",
    [FSCK_ORPHAN_YOUNG] = "kept_young",	    [FSCK_ORPHAN_NO_AGE] = "kept_no_age",
    [FSCK_ORPHAN_FOREIGN] = "kept_foreign", [FSCK_ORPHAN_DEL_FAIL] = "delete_failed",
};

static void cli_fsck_json(struct cli_fsck_out *o, const struct fsck_problem *p)
{
	json_t *e = json_object();

	if (!e)
		return;
	if (p->kind == FSCK_ORPHAN) {
		json_object_set_new(e, "key", json_string(p->key));
		json_object_set_new(e, "size", json_integer((json_int_t)p->size));
		json_object_set_new(e, "age_s",
				    p->age_s < 0 ? json_null() : json_integer(p->age_s));
		json_object_set_new(e, "action", json_string(cli_fsck_fates[p->fate]));
		json_array_append_new(o->orphans, e);
		return;
	}
	cli_fsck_json_name(e, "path", p->path, p->path_len);
	if (p->kind == FSCK_MOVED) {
		cli_fsck_json_name(e, "to", p->what, strlen(p->what));
		json_object_set_new(e, "holes", json_integer((json_int_t)p->size));
		json_array_append_new(o->moved, e);
		return;
	}
	json_object_set_new(e, "kind",
			    json_string(p->kind == FSCK_DAMAGED ? "damaged" : "missing"));
	json_object_set_new(e, "object", json_string(p->what));
	json_object_set_new(e, "why", json_string(p->why));
	json_object_set_new(e, "key", json_string(p->key));
	json_object_set_new(e, "head",
			    p->old_head ? json_integer((json_int_t)p->old_head) : json_null());
	json_array_append_new(o->problems, e);
}

void cli_fsck_out_report(void *arg, const struct fsck_problem *p)
{
	struct cli_fsck_out *o = arg;

	cli_fsck_clear_progress(o);
	if (o->json)
		cli_fsck_json(o, p);
	else
		cli_fsck_text(p);
	fflush(stdout);
}

static uint64_t cli_fsck_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

void cli_fsck_out_progress(void *arg, const struct fsck_counts *c)
{
	struct cli_fsck_out *o = arg;
	uint64_t now = cli_fsck_now_ms();

	if (!o->progress || now - o->last_ms < CLI_FSCK_PROGRESS_MS)
		return;
	o->last_ms = now;
	o->shown = true;
	fprintf(stderr,
		"\r\033[Kfsck: %" PRIu64 " directories, %" PRIu64 " files, %" PRIu64
		" segments, %.1f MiB; %" PRIu64 " damaged, %" PRIu64 " missing",
		c->dirs, c->files, c->segments, (double)c->stored_bytes / 1048576.0, c->damaged,
		c->missing);
}

static json_t *cli_fsck_json_counts(const struct fsck_counts *c)
{
	return json_pack(
	    "{sIsIsIsIsIsIsIsIsIsIsIsIsIsIsI}", "heads", (json_int_t)c->heads, "directories",
	    (json_int_t)c->dirs, "files", (json_int_t)c->files, "symlinks", (json_int_t)c->symlinks,
	    "segments", (json_int_t)c->segments, "stored_bytes", (json_int_t)c->stored_bytes,
	    "damaged", (json_int_t)c->damaged, "missing", (json_int_t)c->missing, "orphans",
	    (json_int_t)c->orphans, "orphan_bytes", (json_int_t)c->orphan_bytes, "orphans_deleted",
	    (json_int_t)c->orphans_deleted, "moved", (json_int_t)c->moved, "stale_uploads",
	    (json_int_t)c->stale_uploads, "uploads_aborted", (json_int_t)c->uploads_aborted,
	    "young_uploads", (json_int_t)c->young_uploads);
}

static void cli_fsck_finish_json(struct cli_fsck_out *o, const struct fsck_result *res,
				 const struct fsck_opts *opts, int code)
{
	json_t *doc = json_pack(
	    "{sIsosbsbsIsosOsOsOsoso}", "seq", (json_int_t)res->seq, "new_seq",
	    res->new_seq ? json_integer((json_int_t)res->new_seq) : json_null(), "quick",
	    opts->quick, "repair", opts->repair, "grace_s", (json_int_t)opts->grace_s, "counts",
	    cli_fsck_json_counts(&res->n), "problems", o->problems, "orphans", o->orphans, "moved",
	    o->moved, "not_repaired",
	    res->not_repaired && (res->damage_left || opts->repair) ? json_string(res->not_repaired)
								    : json_null(),
	    "exit", json_integer(code));

	if (!doc) {
		fputs("{\"error\":\"out of memory\"}\n", stdout);
		return;
	}
	json_dumpf(doc, stdout, JSON_SORT_KEYS | JSON_COMPACT);
	fputc('\n', stdout);
	json_decref(doc);
}

void cli_fsck_out_finish(struct cli_fsck_out *o, const struct fsck_result *res,
			 const struct fsck_opts *opts, int code)
{
	const struct fsck_counts *c = &res->n;

	cli_fsck_clear_progress(o);
	if (o->json) {
		cli_fsck_finish_json(o, res, opts, code);
		fflush(stdout);
		return;
	}
	if (c->heads > 1)
		printf("%" PRIu64 " retained heads, ", c->heads);
	printf("head seq %" PRIu64 ": %" PRIu64 " directories, %" PRIu64 " files, %" PRIu64
	       " symlinks, %" PRIu64 " segments (%.1f MiB)%s",
	       res->seq, c->dirs, c->files, c->symlinks, c->segments,
	       (double)c->stored_bytes / 1048576.0, opts->quick ? ", sizes only" : "");
	if (!c->damaged && !c->missing && !c->orphans && !c->stale_uploads)
		printf(": clean\n");
	else
		printf(": %" PRIu64 " damaged, %" PRIu64 " missing, %" PRIu64 " orphans\n",
		       c->damaged, c->missing, c->orphans);
	if (res->new_seq)
		printf("repaired: %" PRIu64 " moved aside under head seq %" PRIu64 "\n", c->moved,
		       res->new_seq);
	if (c->orphans_deleted)
		printf("deleted %" PRIu64 " orphans\n", c->orphans_deleted);
	if (c->stale_uploads || c->young_uploads)
		printf("multipart uploads never finished: %" PRIu64 " begun over %d h ago (%" PRIu64
		       " aborted), %" PRIu64 " younger (kept)\n",
		       c->stale_uploads, BACKEND_STALE_UPLOAD_AGE_S / 3600, c->uploads_aborted,
		       c->young_uploads);
	if (res->damage_left && opts->repair && res->not_repaired)
		printf("not repaired: %s\n", res->not_repaired);
	fflush(stdout);
}
