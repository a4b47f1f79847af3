/* fuzz_s3_uploads.c - libFuzzer target over the ListMultipartUploads reply
 * parser and its timestamp parser (s3_xml_parse_uploads, s3_xml_parse_time).
 * Built with -Dfuzz=true it is a libFuzzer binary; otherwise tests/fuzz/replay.c replays
 * its corpus in the unit suite. The parsers must return 0, a
 * negative errno or the callback's value, never crash, keep their promises
 * (non-empty key and upload id, markers exactly when truncated) and leave
 * nothing allocated on failure (ASan/LSan builds tell). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/fuzz.h"
#include "s3_xml.h"

static int upload_cb(void *arg, const char *key, const char *upload_id, int64_t initiated)
{
	unsigned *n = arg;
	if (!key || !key[0] || !upload_id || !upload_id[0])
		abort(); /* the parser promised both */
	/* year 0000 .. 9999: what four digits can say */
	if (initiated < -62167219200LL || initiated > 253402300800LL)
		abort();
	return ++*n == 3 && (initiated & 1) ? 1 : 0; /* sometimes stop early */
}

/* The timestamp parser on the input's first bytes as a string. */
static void fuzz_time(const uint8_t *data, size_t size)
{
	char s[48];
	size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
	int64_t t = 0;
	memcpy(s, data, n);
	s[n] = '\0';
	int r = s3_xml_parse_time(&t, s);
	if (r != 0 && r != -EPROTO)
		abort();
	if (r == 0 && (t < -62167219200LL || t > 253402300800LL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s3_xml_uploads_page page;
	unsigned n = 0;
	int r = s3_xml_parse_uploads(&page, (const char *)data, size, upload_cb, &n);
	if (r == 0 && page.truncated != !!page.next_key)
		abort();
	if (r == 0 && page.truncated && (!page.next_key[0] || !page.next_upload_id))
		abort();
	if (r != 0 && (page.next_key || page.next_upload_id))
		abort();
	if (r == 0 && page.n_uploads != n)
		abort();
	free(page.next_key);
	free(page.next_upload_id);
	fuzz_time(data, size);
	return 0;
}
