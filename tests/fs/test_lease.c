/* test_lease.c - the lease of a store that ignores conditional writes
 * (fs/vault/lease.h), driven over a real local store (the lease uses plain
 * get, put and delete, which every store has): two devices take turns; the
 * second finds the first's live lease (-EBUSY, its name and until), takes it
 * with force, and the first then finds it lost (-ENOLCK) and does not delete
 * it at release; the holder's release deletes it; a lapsed lease, this
 * device's own from an earlier mount and a gone one are taken; a lease that
 * does not open (garbage, another key) is another device's unless forced; a
 * check that is not due rewrites nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "lease.h"
#include "leaseobj.h"
#include "local.h"
#include "testdir.h"

static uint8_t vault[OBJECT_ID_BYTES], dev_a[OBJECT_ID_BYTES], dev_b[OBJECT_ID_BYTES];
static unsigned char key[32];

/* The store's lease bytes (new), or NULL when there is none. */
static unsigned char *stored(struct backend *s, size_t *len)
{
	unsigned char *data = NULL;

	*len = 0;
	return backend_get(s, LEASE_STORE_KEY, 0, 0, &data, len) == 0 ? data : NULL;
}

static void put_lease(struct backend *s, const uint8_t *dev, int64_t t, int64_t until,
		      const unsigned char *k)
{
	struct leaseobj o = {.time = {t, 0}, .until = {until, 0}};
	unsigned char *sealed;
	size_t len;

	memcpy(o.device, dev, OBJECT_ID_BYTES);
	snprintf(o.device_name, sizeof(o.device_name), "other");
	CHECK_RC(leaseobj_seal(&sealed, &len, &o, vault, k), 0);
	CHECK_RC(backend_put(s, LEASE_STORE_KEY, sealed, len), 0);
	free(sealed);
}

static struct lease *device(struct backend *s, const uint8_t *dev, const char *name)
{
	struct lease *l = NULL;

	CHECK_RC(lease_new(&l, s, vault, key, dev, name), 0);
	return l;
}

static void test_turns(struct backend *s)
{
	struct lease *a = device(s, dev_a, "device-a"), *b = device(s, dev_b, "device-b");
	struct lease_holder h;
	int64_t until = 0, now = (int64_t)time(NULL);
	unsigned char *before, *after;
	size_t blen, alen;

	CHECK_RC(lease_take(a, false, &h), 0);
	CHECK(lease_state(a, &until) == LEASE_HELD);
	CHECKF(until >= now + LEASE_VALID_S - 2 && until <= now + LEASE_VALID_S + 2, "%lld",
	       (long long)until);
	CHECK_RC(lease_take(b, false, &h), -EBUSY);
	CHECK(h.readable && strcmp(h.name, "device-a") == 0 && h.until == until);
	CHECK(memcmp(h.device, dev_a, OBJECT_ID_BYTES) == 0);
	CHECK(lease_state(b, &until) == LEASE_OTHER);
	CHECK_RC(lease_check(b), -ENOLCK); /* a read-only mount never writes a head */
	/* a check that is not due reads and rewrites nothing */
	before = stored(s, &blen);
	CHECK_RC(lease_check(a), 0);
	after = stored(s, &alen);
	CHECK(before && after && blen == alen && memcmp(before, after, blen) == 0);
	free(before);
	free(after);
	/* B forces: A's next check finds it lost, and A's release leaves B's */
	CHECK_RC(lease_take(b, true, &h), 0);
	CHECK(lease_state(b, &until) == LEASE_HELD);
	CHECK_RC(lease_check(a), -ENOLCK);
	CHECK(lease_state(a, &until) == LEASE_LOST);
	CHECK_RC(lease_check(a), -ENOLCK); /* for good, with no store call needed */
	lease_release(a);
	before = stored(s, &blen);
	CHECK(before != NULL);
	free(before);
	CHECK_RC(lease_check(b), 0);
	lease_release(b);
	CHECK(stored(s, &blen) == NULL);
	CHECK(lease_state(b, &until) == LEASE_NOT_NEEDED);
	lease_free(a);
	lease_free(b);
}

static void test_found(struct backend *s)
{
	struct lease *a = device(s, dev_a, "device-a");
	struct lease_holder h;
	unsigned char other_key[32];
	int64_t now = (int64_t)time(NULL), until;
	size_t len;

	put_lease(s, dev_b, now - 200, now - 110, key); /* lapsed */
	CHECK_RC(lease_take(a, false, &h), 0);
	lease_free(a);
	a = device(s, dev_a, "device-a"); /* a later mount of the same device */
	CHECK_RC(lease_take(a, false, &h), 0);
	CHECK_RC(backend_del(s, LEASE_STORE_KEY), 0); /* gone under a holder: written again */
	CHECK_RC(lease_check(a), 0);
	CHECK(lease_state(a, &until) == LEASE_HELD);
	free(stored(s, &len));
	CHECK(len > 0);
	lease_release(a);
	lease_free(a);

	randombytes_buf(other_key, sizeof(other_key));
	put_lease(s, dev_b, now, now + 60, other_key); /* does not open */
	a = device(s, dev_a, "device-a");
	CHECK_RC(lease_take(a, false, &h), -EBUSY);
	CHECK(!h.readable);
	CHECK_RC(lease_take(a, true, &h), 0);
	lease_release(a);
	lease_free(a);
	CHECK_RC(backend_put(s, LEASE_STORE_KEY, "garbage", 7), 0);
	a = device(s, dev_a, "device-a");
	CHECK_RC(lease_take(a, false, &h), -EBUSY);
	lease_free(a);
	/* WANTED (the mount's probe failed): the uploader's check takes it if free */
	CHECK_RC(backend_del(s, LEASE_STORE_KEY), 0);
	a = device(s, dev_a, "device-a");
	CHECK(lease_state(a, &until) == LEASE_WANTED);
	CHECK_RC(lease_check(a), 0);
	CHECK(lease_state(a, &until) == LEASE_HELD);
	lease_release(a);
	lease_free(a);
	put_lease(s, dev_b, now, now + 60, key);
	a = device(s, dev_a, "device-a");
	CHECK_RC(lease_check(a), -ENOLCK);
	CHECK(lease_state(a, &until) == LEASE_OTHER);
	lease_free(a);
}

int main(void)
{
	struct backend_opts opts = {.create = 1};
	struct backend *s = NULL;
	char root[256], dir[300], err[256];

	if (sodium_init() < 0)
		return 1;
	randombytes_buf(vault, sizeof(vault));
	randombytes_buf(dev_a, sizeof(dev_a));
	randombytes_buf(dev_b, sizeof(dev_b));
	randombytes_buf(key, sizeof(key));
	snprintf(root, sizeof(root), "%s/sealfs-lease-XXXXXX", test_tmpdir_pick(false));
	if (!mkdtemp(root))
		return 1;
	snprintf(dir, sizeof(dir), "%s/store", root);
	CHECK_RC(local_backend_open(&s, dir, &opts, err, sizeof(err)), 0);
	if (s) {
		test_turns(s);
		test_found(s);
		backend_destroy(s);
	}
	test_rm_rf(root);
	return check_done("lease");
}
