/* control_proto.c - building and parsing the control socket's JSON lines
 * (control_proto.h). Its parsers take bytes from another process: they must
 * never trust a length, a type or a number range they did not check, and no
 * reply built here may hold a name, a store key or a key. */
#include "control_proto.h"

#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The numeric fields of a status reply, by name. */
static const struct {
	const char *name;
	size_t off;
} control_proto_counts[] = {
    {"journal_records", offsetof(struct control_status, journal_records)},
    {"pending_objects", offsetof(struct control_status, pending_objects)},
    {"pending_bytes", offsetof(struct control_status, pending_bytes)},
    {"uploaded_bytes", offsetof(struct control_status, uploaded_bytes)},
    {"upload_rate", offsetof(struct control_status, upload_rate)},
    {"rate_window_s", offsetof(struct control_status, rate_window_s)},
    {"store_seq", offsetof(struct control_status, store_seq)},
    {"committed_seq", offsetof(struct control_status, committed_seq)},
    {"oldest_pending_seq", offsetof(struct control_status, oldest_pending_seq)},
    {"inodes", offsetof(struct control_status, inodes)},
    {"idle_dirs", offsetof(struct control_status, idle_dirs)},
    {"dirs_ahead", offsetof(struct control_status, dirs_ahead)},
    {"conflict_seq", offsetof(struct control_status, conflict_seq)},
    {"merges", offsetof(struct control_status, merges)},
    {"last_merge_time", offsetof(struct control_status, last_merge_time)},
    {"last_merge_entries", offsetof(struct control_status, last_merge_entries)},
    {"last_merge_conflicts", offsetof(struct control_status, last_merge_conflicts)},
    {"conflict_links", offsetof(struct control_status, conflict_links)},
    {"polls", offsetof(struct control_status, polls)},
    {"polls_unchanged", offsetof(struct control_status, polls_unchanged)},
    {"poll_refreshes", offsetof(struct control_status, poll_refreshes)},
};

#define CONTROL_PROTO_NCOUNTS (sizeof(control_proto_counts) / sizeof(control_proto_counts[0]))

/* The reply's "lease" values, by enum control_lease. */
static const char *const control_proto_leases[] = {"none", "wanted", "held", "other", "lost"};
#define CONTROL_PROTO_NLEASES (sizeof(control_proto_leases) / sizeof(control_proto_leases[0]))

/* One JSON object from buf, followed by nothing but white space (the
 * newline). New reference, or NULL. */
static json_t *control_proto_load(const char *buf, size_t len)
{
	json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);

	if (doc && !json_is_object(doc)) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

int control_proto_parse_request(enum control_proto_op *op, const char *buf, size_t len)
{
	json_t *doc = len < CONTROL_PROTO_REQUEST_MAX ? control_proto_load(buf, len) : NULL;
	const char *name = doc ? json_string_value(json_object_get(doc, "op")) : NULL;
	int r = -EOPNOTSUPP;

	if (!name)
		r = -EINVAL;
	else if (strcmp(name, "status") == 0)
		*op = json_is_false(json_object_get(doc, "scan")) ? CONTROL_PROTO_PROGRESS
								  : CONTROL_PROTO_STATUS,
		r = 0;
	else if (strcmp(name, "sync") == 0)
		*op = CONTROL_PROTO_SYNC, r = 0;
	else if (strcmp(name, "where") == 0)
		*op = CONTROL_PROTO_WHERE, r = 0;
	json_decref(doc);
	return r;
}

const char *control_proto_request(enum control_proto_op op)
{
	if (op == CONTROL_PROTO_WHERE)
		return "{\"op\":\"where\"}\n";
	if (op == CONTROL_PROTO_PROGRESS)
		return "{\"op\":\"status\",\"scan\":false}\n";
	return op == CONTROL_PROTO_SYNC ? "{\"op\":\"sync\"}\n" : "{\"op\":\"status\"}\n";
}

/* Serialises doc (stolen) as one line with a newline. New, or NULL. */
static char *control_proto_line(json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	char *line = NULL;
	size_t len;

	json_decref(doc);
	if (!text)
		return NULL;
	len = strlen(text);
	line = malloc(len + 2);
	if (line) {
		memcpy(line, text, len);
		memcpy(line + len, "\n", 2);
	}
	free(text);
	return line;
}

/* {"errno":N,"message":"...","time":T} for a store error, or JSON null. New. */
static json_t *control_proto_error_obj(const struct control_status *st)
{
	const char *desc;
	char msg[CONTROL_PROTO_ERROR_MAX];

	if (st->last_error <= 0)
		return json_null();
	desc = strerrordesc_np(st->last_error);
	snprintf(msg, sizeof(msg), "%s", desc ? desc : "unknown error");
	if (msg[0] >= 'A' && msg[0] <= 'Z' && (msg[1] < 'A' || msg[1] > 'Z'))
		msg[0] = (char)(msg[0] - 'A' + 'a');
	return json_pack("{s:i, s:s, s:I}", "errno", st->last_error, "message", msg, "time",
			 (json_int_t)st->last_error_time);
}

char *control_proto_status_reply(const struct control_status *st)
{
	json_t *doc =
	    json_pack("{s:b, s:b, s:b, s:b, s:b, s:o}", "ok", 1, "uncommitted_changes",
		      (int)st->uncommitted, "store_failing", (int)st->store_failing,
		      "head_conflict", (int)st->head_conflict, "store_ignores_conditional_writes",
		      (int)st->cas_ignored, "last_error", control_proto_error_obj(st));

	if (doc &&
	    ((unsigned)st->lease >= CONTROL_PROTO_NLEASES || st->lease_until < 0 ||
	     json_object_set_new(doc, "lease", json_string(control_proto_leases[st->lease])) != 0 ||
	     json_object_set_new(doc, "lease_until", json_integer(st->lease_until)) != 0)) {
		json_decref(doc);
		doc = NULL;
	}
	for (size_t i = 0; doc && i < CONTROL_PROTO_NCOUNTS; i++) {
		uint64_t v;

		memcpy(&v, (const char *)st + control_proto_counts[i].off, sizeof(v));
		if (v > INT64_MAX || json_object_set_new(doc, control_proto_counts[i].name,
							 json_integer((json_int_t)v)) != 0) {
			json_decref(doc);
			doc = NULL;
		}
	}
	return control_proto_line(doc);
}

char *control_proto_sync_reply(uint64_t seq)
{
	return control_proto_line(
	    seq > INT64_MAX ? NULL : json_pack("{s:b, s:I}", "ok", 1, "seq", (json_int_t)seq));
}

char *control_proto_where_reply(const char *store, const char *cache)
{
	return control_proto_line(
	    json_pack("{s:b, s:s, s:s}", "ok", 1, "store", store, "cache", cache));
}

char *control_proto_error_reply(const char *why)
{
	return control_proto_line(json_pack("{s:b, s:s}", "ok", 0, "error", why));
}

/* Loads a reply: the object (new) when "ok" is true; NULL with -EREMOTEIO
 * and the reason in why, or -EPROTO. */
static json_t *control_proto_reply(int *r, char *why, const char *buf, size_t len)
{
	json_t *doc = len <= CONTROL_PROTO_REPLY_MAX ? control_proto_load(buf, len) : NULL;
	json_t *ok = doc ? json_object_get(doc, "ok") : NULL;
	const char *err = doc ? json_string_value(json_object_get(doc, "error")) : NULL;

	*r = 0;
	if (json_is_true(ok))
		return doc;
	*r = json_is_false(ok) && err ? -EREMOTEIO : -EPROTO;
	if (*r == -EREMOTEIO)
		snprintf(why, CONTROL_PROTO_ERROR_MAX, "%s", err);
	json_decref(doc);
	return NULL;
}

/* A non-negative integer field. 0 or -EPROTO. */
static int control_proto_count(uint64_t *out, const json_t *doc, const char *name)
{
	json_t *v = json_object_get(doc, name);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -EPROTO;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* "lease" and "lease_until", both optional (an older daemon sends neither). */
static int control_proto_lease(struct control_status *out, const json_t *doc)
{
	json_t *l = json_object_get(doc, "lease"), *u = json_object_get(doc, "lease_until");
	size_t i = 0;

	if (u && (!json_is_integer(u) || json_integer_value(u) < 0))
		return -EPROTO;
	out->lease_until = u ? (int64_t)json_integer_value(u) : 0;
	if (!l)
		return 0;
	if (!json_is_string(l))
		return -EPROTO;
	while (i < CONTROL_PROTO_NLEASES && strcmp(json_string_value(l), control_proto_leases[i]))
		i++;
	if (i == CONTROL_PROTO_NLEASES)
		return -EPROTO;
	out->lease = (enum control_lease)i;
	return 0;
}

static int control_proto_last_error(struct control_status *out, const json_t *doc)
{
	json_t *e = json_object_get(doc, "last_error");
	json_t *no = json_object_get(e, "errno"), *t = json_object_get(e, "time");

	if (json_is_null(e))
		return 0;
	if (!json_is_integer(no) || !json_is_integer(t) || json_integer_value(no) <= 0 ||
	    json_integer_value(no) > 4095)
		return -EPROTO;
	out->last_error = (int)json_integer_value(no);
	out->last_error_time = (int64_t)json_integer_value(t);
	return 0;
}

int control_proto_parse_status(struct control_status *out, char *why, const char *buf, size_t len)
{
	struct control_status st = {0};
	int r;
	json_t *doc = control_proto_reply(&r, why, buf, len);
	json_t *unc = doc ? json_object_get(doc, "uncommitted_changes") : NULL;
	json_t *fail = doc ? json_object_get(doc, "store_failing") : NULL;
	json_t *conflict = doc ? json_object_get(doc, "head_conflict") : NULL;
	json_t *ign = doc ? json_object_get(doc, "store_ignores_conditional_writes") : NULL;

	if (!doc)
		return r;
	for (size_t i = 0; r == 0 && i < CONTROL_PROTO_NCOUNTS; i++) {
		uint64_t v = 0;

		r = control_proto_count(&v, doc, control_proto_counts[i].name);
		memcpy((char *)&st + control_proto_counts[i].off, &v, sizeof(v));
	}
	if (r == 0 && (!json_is_boolean(unc) || !json_is_boolean(fail) ||
		       !json_is_boolean(conflict) || !json_is_boolean(ign)))
		r = -EPROTO;
	if (r == 0)
		r = control_proto_last_error(&st, doc);
	if (r == 0)
		r = control_proto_lease(&st, doc);
	st.uncommitted = json_is_true(unc);
	st.store_failing = json_is_true(fail);
	st.head_conflict = json_is_true(conflict);
	st.cas_ignored = json_is_true(ign);
	json_decref(doc);
	if (r == 0)
		*out = st;
	return r;
}

int control_proto_parse_sync(uint64_t *seq, char *why, const char *buf, size_t len)
{
	int r;
	json_t *doc = control_proto_reply(&r, why, buf, len);

	if (!doc)
		return r;
	r = control_proto_count(seq, doc, "seq");
	json_decref(doc);
	return r;
}

/* A non-empty string field that fits size bytes with its NUL. */
static int control_proto_text(char *out, size_t size, const json_t *doc, const char *name)
{
	const char *v = json_string_value(json_object_get(doc, name));
	size_t n = v ? strlen(v) : 0;

	if (n == 0 || n >= size || n != json_string_length(json_object_get(doc, name)))
		return -EPROTO; /* missing, empty, too long, or with a NUL inside */
	memcpy(out, v, n + 1);
	return 0;
}

int control_proto_parse_where(char *store, char *cache, size_t size, char *why, const char *buf,
			      size_t len)
{
	int r;
	json_t *doc = control_proto_reply(&r, why, buf, len);

	if (!doc)
		return r;
	r = control_proto_text(store, size, doc, "store");
	if (r == 0)
		r = control_proto_text(cache, size, doc, "cache");
	json_decref(doc);
	return r;
}
