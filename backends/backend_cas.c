/* backend_cas.c - the compare-and-swap helpers over the ops table
 * (backend.h): backend_put_if, which makes a put_if retried after a lost
 * reply succeed, backend_get_changed (a read only when the version moved),
 * and backend_probe_put_if, which asks a server whether it
 * honours conditional writes. Over the table only: it knows no store. It must
 * never report a replaced object as written by the caller unless the store
 * holds exactly the caller's bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

/* The most a put_if'ed object may be for the lost-reply check to read it. */
#define BACKEND_CAS_MAX_BYTES (8u << 20)

int backend_put_if(struct backend *b, const char *key, const void *data, size_t len,
		   const struct backend_version *expect, struct backend_version *out)
{
	unsigned char *now = NULL;
	size_t now_len = 0;
	int r;

	if (!(b->ops->caps & BACKEND_CAP_PUT_IF))
		return -EOPNOTSUPP;
	r = b->ops->put_if(b, key, data, len, expect, out);
	if (r != -ESTALE || len > BACKEND_CAS_MAX_BYTES)
		return r;
	/* A first try that took effect makes its retry fail the condition:
	 * the object then holds exactly our bytes (a sealed head is unique). */
	if (b->ops->get_version(b, key, len, &now, &now_len, out) == 0 && now_len == len &&
	    memcmp(now, data, len) == 0)
		r = 0;
	free(now);
	return r;
}

int backend_get_changed(struct backend *b, const char *key, size_t max,
			const struct backend_version *known, unsigned char **out, size_t *out_len,
			struct backend_version *ver)
{
	int r;

	*out = NULL;
	*out_len = 0;
	if (!(b->ops->caps & BACKEND_CAP_PUT_IF))
		return -EOPNOTSUPP;
	if (known->len > 0 && b->ops->get_changed)
		return b->ops->get_changed(b, key, max, known, out, out_len, ver);
	r = b->ops->get_version(b, key, max, out, out_len, ver);
	if (r == 0 && known->len > 0 && ver->len == known->len &&
	    memcmp(ver->v, known->v, known->len) == 0) {
		free(*out);
		*out = NULL;
		*out_len = 0;
		return 1;
	}
	return r;
}

/* Ignored: 0; honoured: 1; the header refused: 0; else the error. */
static int backend_probe_refused(int r)
{
	if (r == -ESTALE)
		return 1;
	if (r == 0 || r == -EOPNOTSUPP)
		return 0;
	return r;
}

int backend_probe_put_if(struct backend *b, const char *key)
{
	static const char first[] = "sealfs conditional write probe 1";
	static const char second[] = "sealfs conditional write probe 2";
	struct backend_version absent = {.len = 0}, bogus = {.len = 0}, got;
	int r, del;

	if (!(b->ops->caps & BACKEND_CAP_PUT_IF))
		return 0;
	memcpy(bogus.v, "\"0\"", 3);
	bogus.len = 3;
	r = b->ops->put_if(b, key, first, sizeof(first) - 1, &absent, &got);
	if (r == -EOPNOTSUPP)
		return 0;
	if (r)
		return r == -ESTALE ? -EEXIST : r; /* the caller's key was not fresh */
	/* Raw put_if: backend_put_if's lost-reply check must not turn a
	 * refusal into a success (the bytes differ anyway). */
	r = backend_probe_refused(
	    b->ops->put_if(b, key, second, sizeof(second) - 1, &absent, &got));
	if (r == 1)
		r = backend_probe_refused(
		    b->ops->put_if(b, key, second, sizeof(second) - 1, &bogus, &got));
	del = backend_del(b, key);
	return r < 0 ? r : (del ? del : r);
}
