/* fuzz_s3_xml.c - libFuzzer target over every S3 XML reply parser (listing,
 * initiate, error, complete). Built with -Dfuzz=true it is a libFuzzer
 * binary; otherwise (SEALFS_XML_REPLAY) a main() replays the files of the
 * corpus directories given as arguments, as an ordinary unit test. The
 * parsers must return 0, a negative errno or the callback's value, never
 * crash, and leave nothing allocated on failure (ASan/LSan builds tell). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
