/* test_head_state.c - the bytes of the pin, CACHE/state (fs/cache/head_state.c,
 * head_pin.c): an encoded pin decodes to what was written; any byte changed
 * fails its MAC (or its syntax); another vault's pin is -ENOENT; a wrong key
 * is -EBADMSG; the old three-line state still reads (its seq, version 1);
 * device names follow the rule; and head_state_store/load round-trip through
 * a real temporary cache directory, leaving no temporary file behind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "head.h"

static const uint8_t vault[OBJECT_ID_BYTES] = {1, 2,  3,  4,  5,  6,  7,  8,
					       9, 10, 11, 12, 13, 14, 15, 16};
static unsigned char key[HEAD_PIN_KEY_BYTES];

static struct head_state sample(void)
{
	struct head_state st = {.version = 2, .seq = 1234567890123ull};

	randombytes_buf(st.hash, sizeof(st.hash));
	randombytes_buf(st.device, sizeof(st.device));
	snprintf(st.device_name, sizeof(st.device_name), "laptop \xc3\xa9");
	return st;
}

static void test_round_trip_and_every_byte(void)
{
	struct head_state st = sample(), got;
	char text[512];
	size_t len = 0;
	uint8_t other[OBJECT_ID_BYTES];
	unsigned char wrong[HEAD_PIN_KEY_BYTES];

	CHECK_RC(head_state_encode(text, sizeof(text), &len, &st, vault, key), 0);
	CHECK_RC(head_state_decode(&got, text, len, vault, key), 0);
	CHECK(got.version == 2 && got.seq == st.seq);
	CHECK(memcmp(got.hash, st.hash, sizeof(st.hash)) == 0);
	CHECK(memcmp(got.device, st.device, sizeof(st.device)) == 0);
	CHECK(strcmp(got.device_name, st.device_name) == 0);
	for (size_t i = 0; i < len; i++) {
		char copy[512];
		int r;

		memcpy(copy, text, len);
		copy[i] ^= 0x01;
		r = head_state_decode(&got, copy, len, vault, key);
		CHECKF(r == -EBADMSG || r == -EINVAL || r == -ENOENT, "byte %zu changed: %d", i, r);
		CHECKF(r != 0 && got.seq == 0, "byte %zu changed: accepted", i);
	}
	CHECK_RC(head_state_decode(&got, text, len - 1, vault, key), -EINVAL);
	memcpy(wrong, key, sizeof(wrong));
	wrong[0] ^= 1;
	CHECK_RC(head_state_decode(&got, text, len, vault, wrong), -EBADMSG);
	CHECK_RC(head_state_decode(&got, text, len, vault, NULL), 0); /* vault only */
	memset(other, 0xee, sizeof(other));
	CHECK_RC(head_state_decode(&got, text, len, other, key), -ENOENT);
	text[len] = 'x';
	CHECK_RC(head_state_decode(&got, text, len + 1, vault, key), -EINVAL);
}

static void test_old_state_and_names(void)
{
	static const char v1[] = "sealfs-state 1\nvault 0102030405060708090a0b0c0d0e0f10\nseq 42\n";
	struct head_state st = sample();
	char text[512];
	size_t len;
	uint64_t seq = 0;

	CHECK_RC(head_state_decode(&st, v1, sizeof(v1) - 1, vault, key), 0);
	CHECK(st.version == 1 && st.seq == 42);
	CHECK_RC(head_state_parse(v1, sizeof(v1) - 1, vault, &seq), 0);
	CHECK(seq == 42);
	static const char bad_vault[] = "sealfs-state 1\nvault 01\nseq 1\n";
	static const char big_seq[] = "sealfs-state 1\nvault 0102030405060708090a0b0c0d0e0f10\n"
				      "seq 99999999999999999999\n";
	CHECK_RC(head_state_decode(&st, bad_vault, strlen(bad_vault), vault, key), -EINVAL);
	CHECK_RC(head_state_decode(&st, big_seq, strlen(big_seq), vault, key), -EINVAL);
	CHECK(head_device_name_ok("a", 1));
	CHECK(!head_device_name_ok("", 0));
	CHECK(!head_device_name_ok("a\nb", 3));
	CHECK(!head_device_name_ok("\xc3", 1));
	CHECK(!head_device_name_ok(
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 65));
	st = sample();
	snprintf(st.device_name, sizeof(st.device_name), "bad\tname");
	CHECK_RC(head_state_encode(text, sizeof(text), &len, &st, vault, key), -EINVAL);
	char def[HEAD_DEVICE_NAME_MAX + 1];
	head_device_name_default(def);
	CHECK(head_device_name_ok(def, strlen(def)));
}

static void test_store_and_load(void)
{
	char dir[] = "/tmp/sealfs-head-state-XXXXXX", tmp[64];
	struct head_state st = sample(), got;
	struct head_pin *pin = NULL;
	uint8_t hash[HEAD_HASH_BYTES];

	if (!mkdtemp(dir)) {
		CHECK(false);
		return;
	}
	CHECK_RC(head_state_load(&got, dir, vault, key), -ENOENT);
	CHECK_RC(head_state_store(dir, &st, vault, key), 0);
	CHECK_RC(head_state_load(&got, dir, vault, key), 0);
	CHECK(got.seq == st.seq);
	snprintf(tmp, sizeof(tmp), "%s/state.tmp", dir);
	CHECK(access(tmp, F_OK) != 0);
	CHECK_RC(head_pin_new(&pin, dir, vault, key, &got), 0);
	randombytes_buf(hash, sizeof(hash));
	CHECK_RC(head_pin_advance(pin, st.seq - 1, hash, NULL, 0), 0); /* never back */
	CHECK_RC(head_state_load(&got, dir, vault, key), 0);
	CHECK(got.seq == st.seq);
	CHECK_RC(head_pin_advance(pin, st.seq + 1, hash, NULL, 0), 0);
	CHECK_RC(head_state_load(&got, dir, vault, key), 0);
	CHECK(got.seq == st.seq + 1 && memcmp(got.hash, hash, sizeof(hash)) == 0);
	CHECK(strcmp(got.device_name, st.device_name) == 0);
	head_pin_free(pin);
	CHECK_RC(head_state_load(&got, dir, (const uint8_t *)"0123456789abcdef", key), -EXDEV);
	snprintf(tmp, sizeof(tmp), "%s/state", dir);
	unlink(tmp);
	rmdir(dir);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(key, sizeof(key));
	test_round_trip_and_every_byte();
	test_old_state_and_names();
	test_store_and_load();
	return check_done("head_state");
}
