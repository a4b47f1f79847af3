/* fuzz_s3_creds.c - libFuzzer target over the parsers of received
 * credentials: credential_process JSON, container/IMDS JSON, STS
 * AssumeRoleWithWebIdentityResponse XML and the ISO 8601 expiration. Built
 * with -Dfuzz=true it is a libFuzzer binary; otherwise tests/fuzz/replay.c replays
 * its corpus in the unit suite. The parsers must return 0 with a complete set or a negative
 * errno with none, never crash or leak (ASan/LSan builds tell). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/fuzz.h"
#include "s3_creds.h"

static void check(int r, struct s3_creds *c)
{
	if ((r == 0) != (c != NULL))
		abort();
	if (c &&
	    (!c->access_key[0] || !c->secret_key[0] || (c->session_token && !c->session_token[0])))
		abort(); /* the parser promised non-empty values */
	s3_creds_put(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct s3_creds *c = NULL;
	char err[200], text[64];
	time_t t;
	int r = s3_creds_parse_json(&c, in, size, S3_CREDS_JSON_PROCESS, err, sizeof err);
	check(r, c);
	r = s3_creds_parse_json(&c, in, size, S3_CREDS_JSON_CONTAINER, err, sizeof err);
	check(r, c);
	r = s3_creds_parse_sts(&c, in, size, err, sizeof err);
	check(r, c);
	snprintf(text, sizeof text, "%.*s", (int)(size < 63 ? size : 63), in);
	s3_creds_parse_time(&t, text);
	return 0;
}
