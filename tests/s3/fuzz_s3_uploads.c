/* fuzz_s3_uploads.c - libFuzzer target over the ListMultipartUploads reply
 * parser and its timestamp parser (s3_xml_parse_uploads, s3_xml_parse_time).
 * Built with -Dfuzz=true it is a libFuzzer binary; otherwise
 * (SEALFS_XML_REPLAY) a main() replays the files of the corpus directories
 * given as arguments, as an ordinary unit test. The parsers must return 0, a
 * negative errno or the callback's value, never crash, keep their promises
 * (non-empty key and upload id, markers exactly when truncated) and leave
 * nothing allocated on failure (ASan/LSan builds tell). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

#ifdef SEALFS_XML_REPLAY
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
