/* contract_cas.h - what every store's compare-and-swap must do (backend.h
 * put_if): create only when absent, replace only the version read, refuse
 * (-ESTALE) and leave the object alone otherwise, stay exact under threads
 * racing on one key (a counter incremented only through put_if ends at the
 * number of successes), answer the probe, and read an object only when its
 * version moved (backend_get_changed). Through the ops table only,
 * plus the lock file for a local store. Part of test_backend_contract.c (one
 * translation unit: check.h's counters are per file), included after
 * test_util.h. */
#ifndef SEALFS_TEST_CONTRACT_CAS_H
#define SEALFS_TEST_CONTRACT_CAS_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "test_util.h"

#define CAS_THREADS 4
#define CAS_ROUNDS 12

static void cas_key(char out[512], const char *run, const char *suffix)
{
	snprintf(out, 512, "%s%s", run, suffix);
}

/* key holds exactly want (and version *ver when given). */
static void cas_expect(struct backend *b, const char *key, const char *want,
		       const struct backend_version *ver)
{
	struct backend_version now;
	unsigned char *got = NULL;
	size_t len = 0;

	CHECK_RC(b->ops->get_version(b, key, 4096, &got, &len, &now), 0);
	CHECKF(got && len == strlen(want) && memcmp(got, want, len) == 0, "%s holds other bytes",
	       key);
	if (ver)
		CHECKF(now.len == ver->len && memcmp(now.v, ver->v, now.len) == 0,
		       "%s: get_version names another version than put_if", key);
	free(got);
}

/* backend_get_changed on key (now "two" at version now, before at old):
 * nothing while it is at now (S3: the server's 304, through the store's own
 * get_changed), the object and its version after old. */
static void cas_changed(struct backend *b, const char *key, const struct backend_version *old,
			const struct backend_version *now)
{
	struct backend_version ver;
	unsigned char *got = NULL;
	size_t len = 0;

	CHECK_RC(backend_get_changed(b, key, 4096, now, &got, &len, &ver), 1);
	CHECK(got == NULL && len == 0 && ver.len == now->len);
	if (b->ops->get_changed) /* the server itself said "not modified" */
		CHECK_RC(b->ops->get_changed(b, key, 4096, now, &got, &len, &ver), 1);
	CHECK_RC(backend_get_changed(b, key, 4096, old, &got, &len, &ver), 0);
	CHECKF(got && len == 3 && memcmp(got, "two", 3) == 0, "get_changed: other bytes");
	CHECK(ver.len == now->len && memcmp(ver.v, now->v, now->len) == 0);
	free(got);
}

static void cas_basic(struct backend *b, const char *run, const char *local_dir)
{
	struct backend_version absent = {.len = 0}, v1, v2, v3, tmp;
	unsigned char *got = NULL;
	size_t len = 0;
	char k[512], path[1024];
	struct stat st;

	cas_key(k, run, "cas/head");
	CHECK_RC(b->ops->get_version(b, k, 4096, &got, &len, &tmp), -ENOENT);
	CHECK_RC(b->ops->put_if(b, k, "one", 3, &absent, &v1), 0);
	CHECK(v1.len > 0);
	cas_expect(b, k, "one", &v1);
	/* Created once only. */
	CHECK_RC(b->ops->put_if(b, k, "two", 3, &absent, &tmp), -ESTALE);
	cas_expect(b, k, "one", &v1);
	CHECK_RC(b->ops->put_if(b, k, "two", 3, &v1, &v2), 0);
	CHECK(v2.len > 0 && !(v2.len == v1.len && memcmp(v2.v, v1.v, v1.len) == 0));
	cas_expect(b, k, "two", &v2);
	cas_changed(b, k, &v1, &v2);
	/* A version replaced is refused, and nothing changes. */
	CHECK_RC(b->ops->put_if(b, k, "three", 5, &v1, &tmp), -ESTALE);
	cas_expect(b, k, "two", &v2);
	/* backend_put_if: refused for other bytes, accepted when the store
	 * holds exactly ours (a retry whose first try took effect). */
	CHECK_RC(backend_put_if(b, k, "three", 5, &v1, &tmp), -ESTALE);
	CHECK_RC(backend_put_if(b, k, "two", 3, &v1, &v3), 0);
	CHECK(v3.len == v2.len && memcmp(v3.v, v2.v, v2.len) == 0);
	/* The version bound of get_version. */
	CHECK_RC(b->ops->get_version(b, k, 2, &got, &len, &tmp), -EFBIG);
	/* A put_if on a missing key with a version expected is refused. */
	cas_key(k, run, "cas/missing");
	CHECK_RC(backend_put_if(b, k, "x", 1, &v2, &tmp), -ESTALE);
	CHECK_RC(b->ops->get_version(b, k, 4096, &got, &len, &tmp), -ENOENT);
	if (local_dir) {
		snprintf(path, sizeof(path), "%s/%scas/head.lock", local_dir, run);
		CHECKF(stat(path, &st) == 0 && S_ISREG(st.st_mode), "no lock file %s", path);
	}
	CHECK_RC(b->ops->sync(b), 0);
}

struct cas_racer {
	struct backend *b;
	const char *key;
	int won, bad;
};

/* Increments the counter at key CAS_ROUNDS times through put_if only. */
static void *cas_race(void *arg)
{
	struct cas_racer *r = arg;
	struct backend_version ver, out;
	unsigned char *got;
	char text[32];
	size_t len;
	int tries = 0;

	while (r->won < CAS_ROUNDS && tries++ < 2000) {
		got = NULL;
		if (r->b->ops->get_version(r->b, r->key, sizeof(text) - 1, &got, &len, &ver) != 0) {
			r->bad++;
			break;
		}
		memcpy(text, got, len);
		text[len] = '\0';
		free(got);
		snprintf(text, sizeof(text), "%ld", strtol(text, NULL, 10) + 1);
		int rc = r->b->ops->put_if(r->b, r->key, text, strlen(text), &ver, &out);
		if (rc == 0)
			r->won++;
		else if (rc != -ESTALE)
			r->bad++;
	}
	return NULL;
}

static void cas_threads(struct backend *b, const char *run)
{
	struct backend_version absent = {.len = 0}, v;
	struct cas_racer r[CAS_THREADS];
	pthread_t t[CAS_THREADS];
	char k[512], want[32];
	int i, total = 0;

	cas_key(k, run, "cas/counter");
	CHECK_RC(b->ops->put_if(b, k, "0", 1, &absent, &v), 0);
	for (i = 0; i < CAS_THREADS; i++) {
		r[i] = (struct cas_racer){.b = b, .key = k};
		CHECK_RC(pthread_create(&t[i], NULL, cas_race, &r[i]), 0);
	}
	for (i = 0; i < CAS_THREADS; i++) {
		pthread_join(t[i], NULL);
		CHECK_RC(r[i].bad, 0);
		CHECK_RC(r[i].won, CAS_ROUNDS);
		total += r[i].won;
	}
	/* Every success was built on the value before it: none was lost. */
	snprintf(want, sizeof(want), "%d", total);
	cas_expect(b, k, want, NULL);
}

/* Checks b under keys starting with run; local_dir is the store directory
 * of a local store (else NULL). With ignored set, the store is a server
 * known to ignore conditional writes: only the probe's answer is checked. */
static void contract_cas(struct backend *b, const char *run, const char *local_dir, int ignored)
{
	char k[512];

	CHECK(b->ops->caps & BACKEND_CAP_PUT_IF);
	CHECK(b->ops->get_version && b->ops->put_if);
	cas_key(k, run, "cas/probe");
	CHECK_RC(backend_probe_put_if(b, k), ignored ? 0 : 1);
	CHECKF(b->ops->head(b, k, &(uint64_t){0}) == -ENOENT, "the probe left %s behind", k);
	if (ignored)
		return;
	CHECK(!!(b->ops->caps & BACKEND_CAP_PUT_IF_PROBE) == !local_dir);
	cas_basic(b, run, local_dir);
	cas_threads(b, run);
}

#endif
