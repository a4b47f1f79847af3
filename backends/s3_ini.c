/* s3_ini.c - one value out of the AWS shared config and credentials files,
 * and small whole-file reads. Must never log a value or keep a file's bytes
 * after parsing (they are wiped). */
#include "s3_ini.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

int s3_ini_read_file(char **out, size_t *out_len, const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	*out = NULL;
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		close(fd);
		return -EINVAL;
	}
	size_t len = (size_t)st.st_size, got = 0;
	char *buf = malloc(len + 1);
	while (buf && got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!buf)
		return -ENOMEM;
	buf[got] = '\0';
	*out = buf;
	*out_len = got;
	return 1;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* State of one INI lookup: the section wanted and the dotted key wanted. */
struct ini_find {
	const char *section; /* exact text between the brackets, trimmed */
	const char *key;     /* "region", or "s3.endpoint_url" for a nested key */
	int in_section;
	char parent[64];   /* key of an open nested block ("s3"), or "" */
	const char *found; /* points into the buffer */
};

static void ini_line(struct ini_find *f, char *line)
{
	int indented = line[0] == ' ' || line[0] == '\t';
	char *s = trim(line);
	if (!*s || *s == '#' || *s == ';')
		return;
	if (*s == '[') {
		char *end = strchr(s, ']');
		if (end) {
			*end = '\0';
			f->in_section = strcmp(trim(s + 1), f->section) == 0;
			f->parent[0] = '\0';
		}
		return;
	}
	char *eq = strchr(s, '=');
	if (!eq || !f->in_section)
		return;
	*eq = '\0';
	char *k = trim(s), *v = trim(eq + 1), full[160];
	if (!indented)
		f->parent[0] = '\0';
	if (!indented && !*v) {
		snprintf(f->parent, sizeof f->parent, "%s", k);
		return;
	}
	if (indented && f->parent[0])
		snprintf(full, sizeof full, "%s.%s", f->parent, k);
	else
		snprintf(full, sizeof full, "%s", k);
	if (strcmp(full, f->key) == 0 && !f->found)
		f->found = v;
}

int s3_ini_find(char **out, char *text, const char *section, const char *key, int secret)
{
	struct ini_find f = {section, key, 0, "", NULL};
	*out = NULL;
	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		ini_line(&f, line);
	}
	if (!f.found || !f.found[0])
		return 0;
	size_t n = strlen(f.found);
	*out = secret ? sodium_malloc(n + 1) : malloc(n + 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, f.found, n + 1);
	return 0;
}

int s3_ini_get(char **out, const char *path, const char *section, const char *key, int secret)
{
	char *buf = NULL;
	size_t len = 0;
	*out = NULL;
	int r = path ? s3_ini_read_file(&buf, &len, path, S3_INI_FILE_MAX_BYTES) : 0;
	if (r <= 0)
		return r;
	r = s3_ini_find(out, buf, section, key, secret);
	sodium_memzero(buf, len);
	free(buf);
	return r;
}

char *s3_ini_secret_dup(const char *s)
{
	size_t n = strlen(s);
	char *p = sodium_malloc(n + 1);
	if (p)
		memcpy(p, s, n + 1);
	return p;
}
