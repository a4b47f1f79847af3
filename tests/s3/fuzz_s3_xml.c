/* fuzz_s3_xml.c - libFuzzer target over every S3 XML reply parser (listing,
 * initiate, error, complete). Built with -Dfuzz=true it is a libFuzzer
 * binary; otherwise tests/fuzz/replay.c replays
 * its corpus in the unit suite. The
 * parsers must return 0, a negative errno or the callback's value, never
 * crash, and leave nothing allocated on failure (ASan/LSan builds tell). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/fuzz.h"
#include "s3_xml.h"

static int count_cb(void *arg, const char *key, uint64_t size)
{
	unsigned *n = arg;
	if (!key || !key[0])
		abort();			/* the parser promised a non-empty key */
	return ++*n == 3 && (size & 1) ? 1 : 0; /* sometimes stop early */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *xml = (const char *)data;
	struct s3_xml_list_page page;
	struct s3_xml_error e;
	unsigned n = 0;
	char *id = NULL;
	int r = s3_xml_parse_list(&page, xml, size, count_cb, &n);
	if (r == 0 && page.truncated != !!page.next_token)
		abort();
	if (r != 0 && page.next_token)
		abort();
	free(page.next_token);
	r = s3_xml_parse_upload_id(&id, xml, size);
	if ((r == 0) != (id != NULL))
		abort();
	free(id);
	if (s3_xml_parse_error(&e, xml, size) == 0 && !e.code[0])
		abort();
	s3_xml_check_complete(&e, xml, size);
	return 0;
}
