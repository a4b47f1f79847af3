/* test_errbuf.c - errbuf_escape (backends/errbuf.h): text from outside comes
 * out as one line of data: controls, C1 controls and malformed UTF-8
 * escaped, backslashes doubled, well-formed UTF-8 kept, and a cut never
 * splits an escape or a character. */
#include <string.h>

#include "check.h"
#include "errbuf.h"

static void expect(const char *in, size_t size, const char *want)
{
	char out[256];
	size_t n = errbuf_escape(out, size, in);

	CHECKF(strcmp(out, want) == 0 && n == strlen(want), "escape(%zu): got \"%s\", want \"%s\"",
	       size, out, want);
}

int main(void)
{
	char one[1] = {'x'};

	expect("plain text: 42", 256, "plain text: 42");
	expect("a\nb\rc\td\x1b[31me\x7f", 256, "a\\x0ab\\x0dc\\x09d\\x1b[31me\\x7f");
	expect("back\\slash", 256, "back\\\\slash");
	expect("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92", 256,
	       "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92");
	expect("csi \xc2\x9b"
	       "31m",
	       256, "csi \\xc2\\x9b31m");		 /* U+009B */
	expect("nbsp \xc2\xa0.", 256, "nbsp \xc2\xa0."); /* U+00A0 is text */
	expect("bad \xff \xc3( \xe2\x82", 256, "bad \\xff \\xc3( \\xe2\\x82");
	expect("overlong \xc0\xaf", 256, "overlong \\xc0\\xaf");
	/* Cuts: never half an escape or half a character. */
	expect("ab\ncd", 6, "ab");
	expect("ab\ncd", 7, "ab\\x0a");
	expect("\xc3\xa9\xc3\xa9", 4, "\xc3\xa9");
	expect("\\\\", 2, "");
	CHECK(errbuf_escape(one, 1, "text") == 0 && one[0] == '\0');
	CHECK(errbuf_escape(NULL, 0, "text") == 0);
	return check_done("test_errbuf");
}
