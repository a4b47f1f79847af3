/* fuzz_control.c - the control socket's parsers (fs/daemon/control_proto.c) on any
 * bytes: the daemon's request parser (bytes from any local process of the
 * same user) and the CLI's reply parsers. What parses must rebuild and parse
 * back to the same values; every failure is one of the documented codes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control_proto.h"
#include "fuzz.h"

static void fuzz_request(const char *buf, size_t len)
{
	enum control_proto_op op = CONTROL_PROTO_STATUS, again = CONTROL_PROTO_SYNC;
	const char *line;
	int r = control_proto_parse_request(&op, buf, len);

	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -EOPNOTSUPP);
	if (r)
		return;
	line = control_proto_request(op);
	FUZZ_ASSERT(control_proto_parse_request(&again, line, strlen(line)) == 0 && again == op);
}

static void fuzz_same_status(const struct control_status *a, const struct control_status *b)
{
	FUZZ_ASSERT(
	    a->journal_records == b->journal_records && a->pending_objects == b->pending_objects &&
	    a->pending_bytes == b->pending_bytes && a->uploaded_bytes == b->uploaded_bytes &&
	    a->upload_rate == b->upload_rate && a->rate_window_s == b->rate_window_s &&
	    a->store_seq == b->store_seq && a->committed_seq == b->committed_seq &&
	    a->oldest_pending_seq == b->oldest_pending_seq && a->inodes == b->inodes &&
	    a->idle_dirs == b->idle_dirs && a->dirs_ahead == b->dirs_ahead &&
	    a->uncommitted == b->uncommitted && a->store_failing == b->store_failing &&
	    a->last_error == b->last_error &&
	    (a->last_error == 0 || a->last_error_time == b->last_error_time));
}

static void fuzz_status(const char *buf, size_t len)
{
	struct control_status st, again;
	char why[CONTROL_PROTO_ERROR_MAX];
	char *line;
	int r = control_proto_parse_status(&st, why, buf, len);

	FUZZ_ASSERT(r == 0 || r == -EREMOTEIO || r == -EPROTO);
	if (r == -EREMOTEIO)
		FUZZ_ASSERT(memchr(why, '\0', sizeof(why)) != NULL);
	if (r)
		return;
	line = control_proto_status_reply(&st);
	if (!line)
		return; /* out of memory */
	FUZZ_ASSERT(strchr(line, '\n') == line + strlen(line) - 1);
	FUZZ_ASSERT(control_proto_parse_status(&again, why, line, strlen(line)) == 0);
	fuzz_same_status(&st, &again);
	free(line);
}

static void fuzz_sync(const char *buf, size_t len)
{
	char why[CONTROL_PROTO_ERROR_MAX];
	uint64_t seq = 0, again = 0;
	char *line;
	int r = control_proto_parse_sync(&seq, why, buf, len);

	FUZZ_ASSERT(r == 0 || r == -EREMOTEIO || r == -EPROTO);
	if (r)
		return;
	line = control_proto_sync_reply(seq);
	if (!line)
		return;
	FUZZ_ASSERT(control_proto_parse_sync(&again, why, line, strlen(line)) == 0 && again == seq);
	free(line);
}

static void fuzz_where(const char *buf, size_t len)
{
	char why[CONTROL_PROTO_ERROR_MAX], store[256], cache[256], s2[256], c2[256];
	char *line;
	int r = control_proto_parse_where(store, cache, sizeof(store), why, buf, len);

	FUZZ_ASSERT(r == 0 || r == -EREMOTEIO || r == -EPROTO);
	if (r)
		return;
	FUZZ_ASSERT(store[0] && cache[0] && strlen(store) < sizeof(store));
	line = control_proto_where_reply(store, cache);
	if (!line)
		return;
	FUZZ_ASSERT(control_proto_parse_where(s2, c2, sizeof(s2), why, line, strlen(line)) == 0 &&
		    strcmp(s2, store) == 0 && strcmp(c2, cache) == 0);
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;

	fuzz_request(buf, size);
	fuzz_status(buf, size);
	fuzz_sync(buf, size);
	fuzz_where(buf, size);
	return 0;
}
