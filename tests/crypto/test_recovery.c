/* test_recovery.c - recovery key text: the exact encoding of a fixed key,
 * tolerant decoding, and typo detection by the checksum. */
#include <ctype.h>
#include <errno.h>

#include "recovery.h"
#include "vectors.h"

static const char digits[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static void test_known_answer(void)
{
	unsigned char key[16], back[16];
	char text[RECOVERY_TEXT_BYTES];

	for (int i = 0; i < 16; i++)
		key[i] = (unsigned char)i;
	CHECK_RC(recovery_encode(text, sizeof(text), key), 0);
	CHECK(strcmp(text, "000G-40R4-0M30-E209-185G-R38E-1WFM-0") == 0);
	if (strcmp(text, "000G-40R4-0M30-E209-185G-R38E-1WFM-0") != 0)
		fprintf(stderr, "  got %s\n", text);
	CHECK(strlen(text) == 36);
	for (size_t i = 4; i < 36; i += 5)
		CHECK(text[i] == '-');
	CHECK_RC(recovery_decode(back, text), 0);
	CHECK(memcmp(back, key, 16) == 0);
	CHECK_RC(recovery_encode(text, 36, key), -ENOSPC);
	CHECK_RC(recovery_encode(text, 37, key), 0);
}

/* Lower case, spaces, no separators, O for 0, I and L for 1 all decode. */
static void test_tolerant(const unsigned char key[16])
{
	char text[RECOVERY_TEXT_BYTES], v[3 * RECOVERY_TEXT_BYTES];
	unsigned char back[16];
	size_t j = 0;

	CHECK_RC(recovery_encode(text, sizeof(text), key), 0);
	for (size_t i = 0; text[i]; i++) {
		char c = text[i];
		if (c == '-') {
			v[j++] = ' ';
			continue;
		}
		v[j++] = c == '0' ? 'o' : c == '1' ? (i % 2 ? 'I' : 'l') : (char)tolower(c);
	}
	v[j] = '\0';
	CHECK_RC(recovery_decode(back, v), 0);
	CHECK(memcmp(back, key, 16) == 0);
	j = 0;
	for (size_t i = 0; text[i]; i++)
		if (text[i] != '-')
			v[j++] = text[i];
	memcpy(v + j, " \n", 3);
	CHECK_RC(recovery_decode(back, v), 0);
	CHECK(memcmp(back, key, 16) == 0);
}

/* Every single-digit substitution and adjacent swap is refused, key zeroed. */
static void test_typos(const unsigned char key[16])
{
	char text[RECOVERY_TEXT_BYTES], t[RECOVERY_TEXT_BYTES];
	unsigned char back[16];
	int accepted = 0, tried = 0;

	CHECK_RC(recovery_encode(text, sizeof(text), key), 0);
	for (size_t i = 0; text[i]; i++) {
		if (text[i] == '-')
			continue;
		for (int d = 0; d < 32; d++) {
			if (digits[d] == text[i])
				continue;
			memcpy(t, text, sizeof(t));
			t[i] = digits[d];
			memset(back, 0xaa, sizeof(back));
			tried++;
			if (recovery_decode(back, t) != -EINVAL || !check_all_zero(back, 16))
				accepted++;
		}
		if (text[i + 1] && text[i + 1] != '-' && text[i + 1] != text[i]) {
			memcpy(t, text, sizeof(t));
			t[i] = text[i + 1];
			t[i + 1] = text[i];
			tried++;
			if (recovery_decode(back, t) != -EINVAL)
				accepted++;
		}
	}
	CHECK(tried > 29 * 31 && accepted == 0);
}

static void test_malformed(void)
{
	unsigned char key[16] = {0}, back[16];
	char text[RECOVERY_TEXT_BYTES], t[2 * RECOVERY_TEXT_BYTES];

	CHECK_RC(recovery_encode(text, sizeof(text), key), 0);
	CHECK_RC(recovery_decode(back, ""), -EINVAL);
	CHECK_RC(recovery_decode(back, NULL), -EINVAL);
	memcpy(t, text, sizeof(text));
	t[0] = 'U'; /* not in the alphabet */
	CHECK_RC(recovery_decode(back, t), -EINVAL);
	t[0] = '*';
	CHECK_RC(recovery_decode(back, t), -EINVAL);
	memcpy(t, text, sizeof(text));
	t[strlen(t) - 1] = '\0'; /* one digit short */
	CHECK_RC(recovery_decode(back, t), -EINVAL);
	snprintf(t, sizeof(t), "%s0", text); /* one digit long */
	CHECK_RC(recovery_decode(back, t), -EINVAL);
}

int main(void)
{
	unsigned char key[16], back[16];
	char text[RECOVERY_TEXT_BYTES];
	int bad = 0;

	if (sodium_init() < 0)
		return 1;
	test_known_answer();
	test_malformed();
	for (int k = 0; k < 3; k++) {
		/* fixed keys: a 16-bit checksum misses 1 typo in 65536, so random
		 * keys would make this test flaky */
		for (int i = 0; i < 16; i++)
			key[i] = (unsigned char)(37 * k + 11 * i + 5);
		test_tolerant(key);
		test_typos(key);
	}
	for (int i = 0; i < 1000; i++) {
		randombytes_buf(key, sizeof(key));
		if (recovery_encode(text, sizeof(text), key) || recovery_decode(back, text) ||
		    memcmp(key, back, 16))
			bad++;
	}
	CHECK(bad == 0);
	return check_done("test_recovery");
}
