/* errbuf.c - one-line reasons into a caller's err buffer, and the escaping
 * of text from outside before it reaches a terminal or a log (errbuf.h).
 * Must never write past the buffer nor leave it unterminated, and never let
 * a control character through errbuf_escape. */
#include "errbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int errbuf_fail(char *err, size_t err_size, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && err_size > 0) {
		va_start(ap, fmt);
		vsnprintf(err, err_size, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Length of the well-formed UTF-8 character at p that is not a C1 control,
 * or 0 (then its first byte is escaped). */
static size_t errbuf_utf8_len(const unsigned char *p)
{
	size_t n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0; /* also stops at the NUL */
	if (p[0] == 0xc2 && p[1] < 0xa0)
		return 0; /* U+0080..U+009F: C1 controls (0x9b is a terminal's CSI) */
	return n;
}

size_t errbuf_escape(char *out, size_t out_size, const char *in)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)in;
	size_t w = 0, n;
	char esc[4];

	if (!out || out_size == 0)
		return 0;
	while (*p) {
		const char *src = (const char *)p;

		n = *p >= 0x20 && *p < 0x7f ? 1 : errbuf_utf8_len(p);
		if (*p == '\\') {
			src = "\\\\";
			n = 2;
		} else if (n == 0) {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[*p >> 4];
			esc[3] = hex[*p & 15];
			src = esc;
			n = 4;
		}
		if (w + n >= out_size)
			break;
		memcpy(out + w, src, n);
		w += n;
		p += src == (const char *)p ? n : 1;
	}
	out[w] = '\0';
	return w;
}
