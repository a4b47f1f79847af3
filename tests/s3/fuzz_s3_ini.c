/* fuzz_s3_ini.c - s3_ini_find (the ~/.aws config and credentials files) on
 * any bytes, for the lookups sealfs makes: a secret in [default], a nested
 * "s3 = endpoint_url" in [profile x], a plain value. A value found is
 * non-empty, has no newline and was in the input. Built with -Dfuzz=true it is
 * a libFuzzer binary; otherwise tests/fuzz/replay.c replays the corpus. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../fuzz/fuzz.h"
#include "s3_ini.h"

static void lookup(const uint8_t *data, size_t size, const char *section, const char *key,
		   int secret)
{
	char *text = malloc(size + 1), *v = NULL;
	int r;

	if (!text)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	r = s3_ini_find(&v, text, section, key, secret);
	FUZZ_ASSERT(r == 0 || (r < 0 && !v));
	if (v) {
		FUZZ_ASSERT(v[0] && !strchr(v, '\n'));
		FUZZ_ASSERT(memmem(data, size, v, strlen(v)) != NULL);
	}
	if (secret)
		sodium_free(v);
	else
		free(v);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (sodium_init() < 0 || size > S3_INI_FILE_MAX_BYTES)
		return 0;
	lookup(data, size, "default", "aws_secret_access_key", 1);
	lookup(data, size, "profile x", "s3.endpoint_url", 0);
	lookup(data, size, "default", "region", 0);
	return 0;
}
