/* leaseobj.c - the lease's plaintext to compact JSON and back, and its seal
 * (leaseobj.h, docs/FORMAT.md "Lease"). A parser of stored bytes: it must
 * never crash on, nor accept, a malformed lease (an unknown or missing
 * member, a duplicate, a time out of range, an "until" not after "t"), and
 * never return a lease that failed to authenticate. */
#include "leaseobj.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "dirobj_check.h"
#include "hex.h"
#include "meta.h"

/* Whether a [s, ns] time is in range. */
static bool leaseobj_time_ok(const struct dirobj_time *t)
{
	return t->sec >= 0 && t->nsec <= DIROBJ_NSEC_MAX;
}

/* until - t in nanoseconds is in (0, LEASEOBJ_SPAN_MAX_S s]. */
static bool leaseobj_span_ok(const struct leaseobj *l)
{
	int64_t ds = l->until.sec - l->time.sec;
	int64_t dn = (int64_t)l->until.nsec - (int64_t)l->time.nsec;

	if (ds < 0 || ds > LEASEOBJ_SPAN_MAX_S)
		return false;
	if (ds == 0)
		return dn > 0;
	return ds < LEASEOBJ_SPAN_MAX_S || dn <= 0;
}

static bool leaseobj_ok(const struct leaseobj *l)
{
	size_t n = strnlen(l->device_name, sizeof(l->device_name));

	return n < sizeof(l->device_name) && dirobj_check_device_name(l->device_name, n) &&
	       leaseobj_time_ok(&l->time) && leaseobj_time_ok(&l->until) && leaseobj_span_ok(l);
}

int leaseobj_encode(char **out, size_t *out_len, const struct leaseobj *l)
{
	char dev[2 * OBJECT_ID_BYTES + 1];
	json_t *doc;

	*out = NULL;
	*out_len = 0;
	if (!leaseobj_ok(l))
		return -EINVAL;
	hex_encode(dev, sizeof(dev), l->device, OBJECT_ID_BYTES);
	doc = json_pack("{s:s,s:s,s:[I,I],s:[I,I]}", "dev", dev, "dn", l->device_name, "t",
			(json_int_t)l->time.sec, (json_int_t)l->time.nsec, "until",
			(json_int_t)l->until.sec, (json_int_t)l->until.nsec);
	if (!doc)
		return -ENOMEM;
	*out = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (!*out)
		return -ENOMEM;
	*out_len = strlen(*out);
	return 0;
}

/* ---- decode: every helper returns 0 or -EBADMSG ---- */

static int leaseobj_time(json_t *a, struct dirobj_time *t)
{
	json_t *s = json_array_get(a, 0), *ns = json_array_get(a, 1);

	if (!json_is_array(a) || json_array_size(a) != 2 || !json_is_integer(s) ||
	    !json_is_integer(ns) || json_integer_value(s) < 0 || json_integer_value(ns) < 0 ||
	    json_integer_value(ns) > DIROBJ_NSEC_MAX)
		return -EBADMSG;
	t->sec = json_integer_value(s);
	t->nsec = (uint32_t)json_integer_value(ns);
	return 0;
}

static int leaseobj_dev(json_t *j, uint8_t out[OBJECT_ID_BYTES])
{
	if (!json_is_string(j) ||
	    hex_decode(out, OBJECT_ID_BYTES, json_string_value(j), json_string_length(j)) != 0)
		return -EBADMSG;
	return 0;
}

static int leaseobj_name(json_t *j, char out[DIROBJ_DEVICE_NAME_MAX + 1])
{
	size_t n = json_string_length(j);

	if (!json_is_string(j) || !dirobj_check_device_name(json_string_value(j), n))
		return -EBADMSG;
	memcpy(out, json_string_value(j), n);
	out[n] = '\0';
	return 0;
}

int leaseobj_decode(struct leaseobj *l, const char *json, size_t len)
{
	json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	int r = -EBADMSG;

	memset(l, 0, sizeof(*l));
	if (!doc)
		return -EBADMSG;
	/* four members, and these four: nothing unknown */
	if (json_is_object(doc) && json_object_size(doc) == 4 &&
	    leaseobj_dev(json_object_get(doc, "dev"), l->device) == 0 &&
	    leaseobj_name(json_object_get(doc, "dn"), l->device_name) == 0 &&
	    leaseobj_time(json_object_get(doc, "t"), &l->time) == 0 &&
	    leaseobj_time(json_object_get(doc, "until"), &l->until) == 0 && leaseobj_span_ok(l))
		r = 0;
	json_decref(doc);
	if (r)
		memset(l, 0, sizeof(*l));
	return r;
}

/* ---- sealed ---- */

static void leaseobj_ad(struct meta_ad *ad, const uint8_t vault_id[OBJECT_ID_BYTES])
{
	memset(ad, 0, sizeof(*ad));
	ad->kind = META_KIND_LEASE;
	memcpy(ad->vault_id, vault_id, OBJECT_ID_BYTES);
}

int leaseobj_seal(unsigned char **out, size_t *out_len, const struct leaseobj *l,
		  const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *key)
{
	struct meta_ad ad;
	size_t len;
	char *json;
	int r = leaseobj_encode(&json, &len, l);

	*out = NULL;
	*out_len = 0;
	if (r)
		return r;
	leaseobj_ad(&ad, vault_id);
	r = meta_seal(out, out_len, json, len, &ad, key);
	sodium_memzero(json, len);
	free(json);
	return r;
}

int leaseobj_open(struct leaseobj *l, const unsigned char *sealed, size_t len,
		  const uint8_t vault_id[OBJECT_ID_BYTES], const unsigned char *key)
{
	struct meta_ad ad;
	size_t plain_len;
	char *plain;
	int r;

	memset(l, 0, sizeof(*l));
	leaseobj_ad(&ad, vault_id);
	r = meta_open(&plain, &plain_len, sealed, len, &ad, key);
	if (r)
		return r;
	r = leaseobj_decode(l, plain, plain_len);
	meta_free_plain(plain, plain_len);
	return r;
}
