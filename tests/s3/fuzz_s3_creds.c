/* fuzz_s3_creds.c - libFuzzer target over the parsers of received
 * credentials: credential_process JSON, container/IMDS JSON, STS
 * AssumeRoleWithWebIdentityResponse XML and the ISO 8601 expiration. Built
 * with -Dfuzz=true it is a libFuzzer binary; otherwise (SEALFS_CREDS_REPLAY)
 * a main() replays the corpus directories given as arguments, as an ordinary
 * unit test. The parsers must return 0 with a complete set or a negative
 * errno with none, never crash or leak (ASan/LSan builds tell). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_creds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

#ifdef SEALFS_CREDS_REPLAY
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	size_t cap = 1 << 20, len = 0;
	unsigned char *buf = malloc(cap);
	if (buf)
		len = fread(buf, 1, cap, f);
	fclose(f);
	if (!buf)
		return -1;
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int files = 0;
	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		if (!d) {
			printf("FAIL cannot open corpus %s\n", argv[i]);
			return 1;
		}
		for (struct dirent *de; (de = readdir(d));) {
			char path[4096];
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", argv[i], de->d_name);
			if (replay_file(path) < 0) {
				printf("FAIL cannot read %s\n", path);
				closedir(d);
				return 1;
			}
			files++;
		}
		closedir(d);
	}
	printf("replayed %d corpus files\n", files);
	return files ? 0 : 1;
}
#endif
