/* test_leaseobj.c - the lease (crypto/leaseobj.h, docs/FORMAT.md "Lease"):
 * the exact bytes of one, a round trip through its seal, and every rule the
 * decoder and the encoder enforce (members, hex, the device name, times,
 * "until" after "t" by at most an hour); a seal opens only as a lease of its
 * vault under its key. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "leaseobj.h"
#include "meta.h"

#define DEV "\"dev\":\"00112233445566778899aabbccddeeff\""

static int dec(const char *s)
{
	struct leaseobj l;

	return leaseobj_decode(&l, s, strlen(s));
}

static struct leaseobj sample(void)
{
	struct leaseobj l = {.time = {1700000000, 5}, .until = {1700000090, 5}};

	for (int i = 0; i < OBJECT_ID_BYTES; i++)
		l.device[i] = (uint8_t)(i * 0x11);
	snprintf(l.device_name, sizeof(l.device_name), "laptop");
	return l;
}

static void test_bytes_and_round_trip(void)
{
	static const char want[] = "{" DEV ",\"dn\":\"laptop\",\"t\":[1700000000,5],"
				   "\"until\":[1700000090,5]}";
	struct leaseobj l = sample(), got;
	char *json = NULL;
	size_t len = 0;

	CHECK_RC(leaseobj_encode(&json, &len, &l), 0);
	CHECKF(json && strcmp(json, want) == 0, "%s", json ? json : "(null)");
	CHECK_RC(leaseobj_decode(&got, json, len), 0);
	CHECK(memcmp(&got, &l, sizeof(l)) == 0);
	free(json);
}

static void test_rules(void)
{
	struct leaseobj l = sample();
	char *json = NULL;
	size_t len = 0;

	CHECK_RC(dec("{" DEV ",\"dn\":\"x\",\"t\":[0,999999999],\"until\":[3600,999999999]}"), 0);
	CHECK_RC(dec("{" DEV ",\"dn\":\"x\",\"t\":[0,0],\"until\":[3600,1]}"), -EBADMSG);
	CHECK_RC(dec("{" DEV ",\"dn\":\"x\",\"t\":[5,7],\"until\":[5,7]}"), -EBADMSG);
	CHECK_RC(dec("{" DEV ",\"dn\":\"x\",\"t\":[5,7],\"until\":[4,9]}"), -EBADMSG);
	CHECK_RC(dec("{" DEV ",\"dn\":\"x\",\"t\":[-1,0],\"until\":[2,0]}"), -EBADMSG);
	CHECK_RC(dec("{" DEV ",\"dn\":\"x\",\"t\":[1,1000000000],\"until\":[2,0]}"), -EBADMSG);
	CHECK_RC(dec("{" DEV ",\"dn\":\"x\",\"t\":[1],\"until\":[2,0]}"), -EBADMSG);
	CHECK_RC(dec("{" DEV ",\"dn\":\"x\",\"t\":[1,0],\"until\":[2,0],\"x\":1}"), -EBADMSG);
	CHECK_RC(dec("{" DEV ",\"dn\":\"x\",\"until\":[2,0]}"), -EBADMSG);
	CHECK_RC(dec("{" DEV ",\"dn\":\"x\",\"t\":[1,0],\"t\":[1,0],\"until\":[2,0]}"), -EBADMSG);
	CHECK_RC(dec("{\"dev\":\"00112233445566778899AABBCCDDEEFF\",\"dn\":\"x\",\"t\":[1,0],"
		     "\"until\":[2,0]}"),
		 -EBADMSG);
	CHECK_RC(dec("{\"dev\":\"0011\",\"dn\":\"x\",\"t\":[1,0],\"until\":[2,0]}"), -EBADMSG);
	CHECK_RC(dec("{" DEV ",\"dn\":\"\",\"t\":[1,0],\"until\":[2,0]}"), -EBADMSG);
	CHECK_RC(dec("{" DEV ",\"dn\":\"a\\tb\",\"t\":[1,0],\"until\":[2,0]}"), -EBADMSG);
	CHECK_RC(dec("{" DEV ",\"dn\":7,\"t\":[1,0],\"until\":[2,0]}"), -EBADMSG);
	CHECK_RC(dec("[1]"), -EBADMSG);
	CHECK_RC(dec("{" DEV ",\"dn\":\"x\",\"t\":[1,0],\"until\":[2,0]"), -EBADMSG);
	/* 65 bytes of name: one too many */
	CHECK_RC(
	    dec("{" DEV
		",\"dn\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
		"\"t\":[1,0],\"until\":[2,0]}"),
	    -EBADMSG);
	/* the encoder refuses what the decoder would */
	l.until = l.time;
	CHECK_RC(leaseobj_encode(&json, &len, &l), -EINVAL);
	l = sample();
	l.until.sec = l.time.sec + LEASEOBJ_SPAN_MAX_S + 1;
	CHECK_RC(leaseobj_encode(&json, &len, &l), -EINVAL);
	l = sample();
	l.device_name[0] = '\0';
	CHECK_RC(leaseobj_encode(&json, &len, &l), -EINVAL);
	CHECK(json == NULL);
}

static void test_seal(void)
{
	struct leaseobj l = sample(), got;
	struct meta_ad ad = {.kind = META_KIND_HEAD};
	uint8_t vault[OBJECT_ID_BYTES], other[OBJECT_ID_BYTES];
	unsigned char key[32], key2[32], *sealed = NULL, *head = NULL;
	size_t len = 0, hlen = 0;
	char *json = NULL;
	size_t jlen = 0;

	randombytes_buf(vault, sizeof(vault));
	randombytes_buf(other, sizeof(other));
	randombytes_buf(key, sizeof(key));
	memcpy(key2, key, sizeof(key));
	key2[0] ^= 1;
	CHECK_RC(leaseobj_seal(&sealed, &len, &l, vault, key), 0);
	CHECK(len == 24 + META_PAD_BLOCK + 16);
	CHECK_RC(leaseobj_open(&got, sealed, len, vault, key), 0);
	CHECK(memcmp(&got, &l, sizeof(l)) == 0);
	CHECK_RC(leaseobj_open(&got, sealed, len, other, key), -EBADMSG);
	CHECK_RC(leaseobj_open(&got, sealed, len, vault, key2), -EBADMSG);
	sealed[len / 2] ^= 1;
	CHECK_RC(leaseobj_open(&got, sealed, len, vault, key), -EBADMSG);
	/* the same JSON sealed as another kind does not open as a lease */
	memcpy(ad.vault_id, vault, sizeof(vault));
	CHECK_RC(leaseobj_encode(&json, &jlen, &l), 0);
	CHECK_RC(meta_seal(&head, &hlen, json, jlen, &ad, key), 0);
	CHECK_RC(leaseobj_open(&got, head, hlen, vault, key), -EBADMSG);
	free(json);
	free(head);
	free(sealed);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_bytes_and_round_trip();
	test_rules();
	test_seal();
	return check_done("crypto_leaseobj");
}
