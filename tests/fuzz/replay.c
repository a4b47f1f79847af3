/* replay.c - runs a fuzz target's LLVMFuzzerTestOneInput over every file of
 * the corpus directories given as arguments, without libFuzzer: the corpus is
 * replayed by every build, gcc included. Fails if a directory holds no file. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return -1;
	do {
		if (len == cap) {
			unsigned char *g = realloc(buf, cap ? 2 * cap : 4096);
			if (!g)
				break;
			buf = g;
			cap = cap ? 2 * cap : 4096;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	LLVMFuzzerTestOneInput(buf ? buf : (const unsigned char *)"", len);
	free(buf);
	return 0;
}

static int replay_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];
	int files = 0;

	if (!d) {
		fprintf(stderr, "cannot open corpus %s\n", dir);
		return -1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (replay_file(path) != 0) {
			fprintf(stderr, "cannot read %s\n", path);
			closedir(d);
			return -1;
		}
		files++;
	}
	closedir(d);
	printf("%s: %d inputs replayed\n", dir, files);
	return files > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	LLVMFuzzerTestOneInput((const unsigned char *)"", 0);
	for (int i = 1; i < argc; i++)
		if (replay_dir(argv[i]) != 0)
			return 1;
	return argc > 1 ? 0 : 1;
}
