/* head_state.c - the bytes of CACHE/state (head.h; docs/FORMAT.md, "Cache"):
 * the pin, "sealfs-state 2" (vault, device id, device name, seq and hash of
 * the newest head seen, a crypto_auth MAC under the pin key), and the old
 * three lines "sealfs-state 1" (vault, seq), still read so that caches of
 * earlier versions upgrade in place. Pure: no I/O, no globals, so that
 * tests/fuzz/fuzz_head_state.c can drive it. It must never read past the
 * caller's bytes, accept a state of another vault, nor accept a pin whose
 * MAC does not verify when given the key. */
#include "head.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "dirobj.h"
#include "log.h"

#define HEAD_STATE_LINE_MAX 159 /* bytes of one line before its newline */
#define HEAD_STATE_SEQ_DIGITS 20

bool head_device_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > HEAD_DEVICE_NAME_MAX || !dirobj_check_utf8(name, len))
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

/* The next line "<tag> <value>\n" at p (before end): its value in val
 * and vlen, p moved past it. -EINVAL when it is not there. */
static int head_state_line(const char **p, const char *end, const char *tag, const char **val,
			   size_t *vlen)
{
	size_t tlen = strlen(tag), left = (size_t)(end - *p);
	const char *nl =
	    memchr(*p, '\n', left < HEAD_STATE_LINE_MAX + 1 ? left : HEAD_STATE_LINE_MAX + 1);

	if (!nl || (size_t)(nl - *p) < tlen + 1 || memcmp(*p, tag, tlen) != 0 || (*p)[tlen] != ' ')
		return -EINVAL;
	*val = *p + tlen + 1;
	*vlen = (size_t)(nl - *val);
	*p = nl + 1;
	return 0;
}

static int head_state_hex(uint8_t *out, size_t n, const char *val, size_t vlen)
{
	for (size_t i = 0; i < vlen; i++)
		if (!((val[i] >= '0' && val[i] <= '9') || (val[i] >= 'a' && val[i] <= 'f')))
			return -EINVAL;
	if (vlen != 2 * n)
		return -EINVAL;
	return sodium_hex2bin(out, n, val, vlen, NULL, NULL, NULL) == 0 ? 0 : -EINVAL;
}

static int head_state_seq(uint64_t *seq, const char *val, size_t vlen)
{
	uint64_t v = 0;

	if (vlen == 0 || vlen > HEAD_STATE_SEQ_DIGITS)
		return -EINVAL;
	for (size_t i = 0; i < vlen; i++) {
		unsigned d = (unsigned)(val[i] - '0');
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*seq = v;
	return 0;
}

/* The lines after "sealfs-state 2\nvault ...\n"; p at "device". */
static int head_state_v2(struct head_state *st, const char *text, const char *p, const char *end,
			 const unsigned char *key)
{
	unsigned char mac[crypto_auth_BYTES];
	const char *val;
	size_t vlen, signed_len;
	int r = head_state_line(&p, end, "device", &val, &vlen);

	if (r == 0)
		r = head_state_hex(st->device, sizeof(st->device), val, vlen);
	if (r == 0)
		r = head_state_line(&p, end, "name", &val, &vlen);
	if (r == 0 && !head_device_name_ok(val, vlen))
		r = -EINVAL;
	if (r == 0) {
		memcpy(st->device_name, val, vlen);
		st->device_name[vlen] = '\0';
		r = head_state_line(&p, end, "seq", &val, &vlen);
	}
	if (r == 0)
		r = head_state_seq(&st->seq, val, vlen);
	if (r == 0)
		r = head_state_line(&p, end, "head", &val, &vlen);
	if (r == 0)
		r = head_state_hex(st->hash, sizeof(st->hash), val, vlen);
	signed_len = (size_t)(p - text);
	if (r == 0)
		r = head_state_line(&p, end, "mac", &val, &vlen);
	if (r == 0)
		r = head_state_hex(mac, sizeof(mac), val, vlen);
	if (r == 0 && p != end)
		r = -EINVAL; /* nothing may follow the MAC */
	if (r == 0 && key &&
	    crypto_auth_verify(mac, (const unsigned char *)text, signed_len, key) != 0)
		r = -EBADMSG;
	return r;
}

int head_state_decode(struct head_state *st, const char *text, size_t len,
		      const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *key)
{
	static const char v1[] = "sealfs-state 1\n", v2[] = "sealfs-state 2\n";
	const char *p = text, *end = text + len, *val;
	uint8_t vault[OBJECT_ID_BYTES];
	size_t vlen;
	int r = -EINVAL;

	memset(st, 0, sizeof(*st));
	if (len >= sizeof(v1) - 1 && memcmp(text, v1, sizeof(v1) - 1) == 0)
		st->version = 1;
	else if (len >= sizeof(v2) - 1 && memcmp(text, v2, sizeof(v2) - 1) == 0)
		st->version = 2;
	else
		return -EINVAL;
	p += sizeof(v1) - 1;
	if (head_state_line(&p, end, "vault", &val, &vlen) == 0 &&
	    head_state_hex(vault, sizeof(vault), val, vlen) == 0) {
		if (st->version == 1) /* anything after the seq line was always ignored */
			r = head_state_line(&p, end, "seq", &val, &vlen) == 0
				? head_state_seq(&st->seq, val, vlen)
				: -EINVAL;
		else
			r = head_state_v2(st, text, p, end, key);
	}
	if (r == 0 && memcmp(vault, vault_id, OBJECT_ID_BYTES) != 0)
		r = -ENOENT;
	if (r) {
		int version = st->version;
		memset(st, 0, sizeof(*st));
		st->version = r == -EBADMSG ? version : 0;
	}
	return r;
}

int head_state_encode(char *out, size_t size, size_t *len, const struct head_state *st,
		      const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *key)
{
	unsigned char mac[crypto_auth_BYTES];
	char vault[33], dev[33], hash[2 * HEAD_HASH_BYTES + 1];
	size_t nlen = strlen(st->device_name);
	int n, m;

	if (!head_device_name_ok(st->device_name, nlen))
		return -EINVAL;
	sodium_bin2hex(hash, sizeof(hash), st->hash, sizeof(st->hash));
	n = snprintf(
	    out, size, "sealfs-state 2\nvault %s\ndevice %s\nname %s\nseq %" PRIu64 "\nhead %s\n",
	    log_id(vault, vault_id), log_id(dev, st->device), st->device_name, st->seq, hash);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	crypto_auth(mac, (const unsigned char *)out, (size_t)n, key);
	sodium_bin2hex(hash, sizeof(hash), mac, sizeof(mac));
	m = snprintf(out + n, size - (size_t)n, "mac %s\n", hash);
	if (m < 0 || (size_t)m >= size - (size_t)n)
		return -ENOSPC;
	*len = (size_t)n + (size_t)m;
	return 0;
}

int head_state_parse(const char *text, size_t len, const uint8_t vault_id[OBJECT_ID_BYTES],
		     uint64_t *seq)
{
	struct head_state st;
	int r = head_state_decode(&st, text, len, vault_id, NULL);

	*seq = r == 0 ? st.seq : 0;
	return r;
}
