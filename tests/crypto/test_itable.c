/* test_itable.c - the inode table's pages (crypto/itable.h, docs/FORMAT.md
 * "Inode table"): the exact bytes of an index and a leaf, round trips, and
 * every rule the decoders and encoders enforce (slots, nl, no name or type
 * in a record, no id or store key twice, the slot count); format 3's
 * records of other types. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hex.h"
#include "itable.h"

#define K "0123456789abcdef0123456789abcdef"
#define K2 "fedcba9876543210fedcba9876543210"
#define REC(id, nl) "{" RECB(id, nl)
#define RECB(id, nl)                                                                               \
	"\"a\":[1,2],\"c\":[3,4],\"g\":0,\"id\":\"" id "\",\"m\":33188,\"mt\":[5,6],\"nl\":" #nl   \
	",\"s\":0,\"seg\":[],\"u\":0}"

static int leaf(const char *s, size_t slot, size_t nslots)
{
	struct itable_leaf l;
	int r = itable_leaf_decode(&l, s, strlen(s), slot, nslots);

	itable_leaf_release(&l);
	return r;
}

static int index_dec(const char *s)
{
	struct itable_index ix;
	int r = itable_index_decode(&ix, s, strlen(s));

	itable_index_release(&ix);
	return r;
}

static void test_leaf_bytes(void)
{
	const char *want = "{\"r\":[" REC(K, 2) "," REC(K2, 3) "]}";
	struct itable_leaf l;
	char *out = NULL;
	size_t len = 0;

	/* K's first bytes 01 23: slot 1 of 2; K2's fe dc: slot 0 of 2, so one
	 * slot for both. */
	CHECK_RC(itable_leaf_decode(&l, want, strlen(want), 0, 1), 0);
	CHECK_RC(l.n, 2);
	CHECK(l.n == 2 && l.recs[0].nlink == 2 && l.recs[1].nlink == 3 &&
	      l.recs[0].e.type == DIROBJ_FILE && l.recs[0].e.mode == 0100644 &&
	      l.recs[0].e.atime.sec == 1 && l.recs[0].e.ctime.nsec == 4);
	CHECK_RC(itable_leaf_encode(&out, &len, &l, 0, 1), 0);
	CHECKF(out && strcmp(out, want) == 0, "encoded %s", out ? out : "(null)");
	free(out);
	CHECK_RC(itable_leaf_encode(&out, &len, &l, 1, 2), -EINVAL); /* K2 is in slot 0 */
	l.recs[0].nlink = 0;
	CHECK_RC(itable_leaf_encode(&out, &len, &l, 0, 1), -EINVAL);
	itable_leaf_release(&l);
	CHECK_RC(leaf("{\"r\":[]}", 0, 1), 0);
}

static void test_leaf_refusals(void)
{
	CHECK_RC(leaf("{\"r\":[" REC(K, 2) "]}", 1, 2), 0);
	CHECK_RC(leaf("{\"r\":[" REC(K, 2) "]}", 0, 2), -EBADMSG); /* another slot */
	CHECK_RC(leaf("{\"r\":[" REC(K, 2) "]}", 0, 3), -EBADMSG); /* not a power of two */
	CHECK_RC(leaf("{\"r\":[" REC(K, 0) "]}", 0, 1), -EBADMSG);
	CHECK_RC(leaf("{\"r\":[" REC(K, 4294967296) "]}", 0, 1), -EBADMSG);
	CHECK_RC(leaf("{\"r\":[" REC(K, 2) "," REC(K, 3) "]}", 0, 1), -EBADMSG); /* id twice */
	CHECK_RC(leaf("{\"r\":[{\"n\":\"x\"," RECB(K, 2) "]}", 0, 1), -EBADMSG);
	CHECK_RC(leaf("{\"r\":[{\"t\":\"f\"," RECB(K, 2) "]}", 0, 1), -EBADMSG);
	CHECK_RC(leaf("{\"r\":[{\"zz\":1," RECB(K, 2) "]}", 0, 1), -EBADMSG);
	CHECK_RC(leaf("{\"r\":[{\"nl\":2," RECB(K, 2) "]}", 0, 1), -EBADMSG); /* nl twice */
	CHECK_RC(leaf("{\"r\":[],\"x\":1}", 0, 1), -EBADMSG);
	CHECK_RC(leaf("{\"r\":{}}", 0, 1), -EBADMSG);
	CHECK_RC(leaf("[]", 0, 1), -EBADMSG);
}

static int leaf3(const char *s, int format)
{
	struct itable_leaf l;
	int r = itable_leaf_decode_fmt(&l, s, strlen(s), 0, 1, format);

	itable_leaf_release(&l);
	return r;
}

/* Format 3: records of any non-directory type, which say so with "t". */
static void test_leaf_format3(void)
{
	const char *want =
	    "{\"r\":[{\"a\":[1,2],\"c\":[3,4],\"g\":0,\"id\":\"" K "\",\"m\":41471,\"mt\":[5,6],"
	    "\"nl\":2,\"t\":\"l\",\"tg\":\"x/y\",\"u\":0},{\"a\":[1,2],\"c\":[3,4],\"g\":0,"
	    "\"id\":\"" K2
	    "\",\"m\":8612,\"mt\":[5,6],\"nl\":3,\"rd\":1794,\"t\":\"c\",\"u\":0}," REC(
		"00112233445566778899aabbccddeeff", 2) "]}";
	struct itable_leaf l;
	char *out = NULL;
	size_t len = 0;

	CHECK_RC(itable_leaf_decode_fmt(&l, want, strlen(want), 0, 1, 3), 0);
	CHECK(l.n == 3 && l.recs[0].e.type == DIROBJ_SYMLINK && l.recs[0].nlink == 2 &&
	      l.recs[1].e.type == DIROBJ_CHR && l.recs[1].e.rdev == 1794 &&
	      l.recs[2].e.type == DIROBJ_FILE);
	CHECK_RC(itable_leaf_encode_fmt(&out, &len, &l, 0, 1, 3), 0);
	CHECKF(out && strcmp(out, want) == 0, "encoded %s", out ? out : "(null)");
	free(out);
	CHECK_RC(itable_leaf_encode_fmt(&out, &len, &l, 0, 1, 2), -EINVAL); /* format 2: f only */
	CHECK_RC(itable_leaf_encode(&out, &len, &l, 0, 1), -EINVAL);
	itable_leaf_release(&l);
	CHECK_RC(leaf3(want, 2), -EBADMSG);
	CHECK_RC(leaf(want, 0, 1), -EBADMSG);
	CHECK_RC(leaf3("{\"r\":[" REC(K, 2) "]}", 3), 0); /* a regular file: no t */
	CHECK_RC(leaf3("{\"r\":[{\"t\":\"f\"," RECB(K, 2) "]}", 3), -EBADMSG);
	CHECK_RC(leaf3("{\"r\":[{\"t\":\"d\"," RECB(K, 2) "]}", 3), -EBADMSG);
	CHECK_RC(leaf3("{\"r\":[{\"t\":\"h\"," RECB(K, 2) "]}", 3), -EBADMSG);
	CHECK_RC(leaf3("{\"r\":[{\"t\":\"\\u0000\"," RECB(K, 2) "]}", 3), -EBADMSG);
	CHECK_RC(leaf3("{\"r\":[{\"t\":\"l\"," RECB(K, 2) "]}", 3), -EBADMSG); /* s, seg */
	CHECK_RC(leaf3("{\"r\":[{\"a\":[1,2],\"c\":[3,4],\"g\":0,\"id\":\"" K
		       "\",\"m\":4516,\"mt\":[5,6],\"nl\":2,\"t\":\"p\",\"u\":0}]}",
		       3),
		 0);
}

static void test_index(void)
{
	const char *one = "{\"p\":[null,{\"c\":3,\"k\":\"" K "\",\"v\":3}]}";
	struct itable_index ix;
	char *out = NULL;
	size_t len = 0;

	CHECK_RC(itable_index_decode(&ix, one, strlen(one)), 0);
	CHECK(ix.n == 2 && !ix.slots[0].present && ix.slots[1].present &&
	      ix.slots[1].ref.version == 3 && ix.slots[1].ref.created == 3);
	CHECK_RC(itable_index_encode(&out, &len, &ix), 0);
	CHECKF(out && strcmp(out, one) == 0, "encoded %s", out ? out : "(null)");
	free(out);
	ix.slots[1].present = false;
	CHECK_RC(itable_index_encode(&out, &len, &ix), -EINVAL); /* none present */
	itable_index_release(&ix);
	CHECK_RC(index_dec("{\"p\":[null,null]}"), -EBADMSG);
	CHECK_RC(index_dec("{\"p\":[]}"), -EBADMSG);
	CHECK_RC(index_dec("{\"p\":[null,null,{\"c\":3,\"k\":\"" K "\",\"v\":3}]}"), -EBADMSG);
	CHECK_RC(index_dec("{\"p\":[{\"c\":3,\"k\":\"" K "\",\"v\":3},{\"c\":3,\"k\":\"" K
			   "\",\"v\":4}]}"),
		 -EBADMSG);
	CHECK_RC(index_dec("{\"p\":[{\"c\":3,\"k\":\"" K "\",\"v\":-1}]}"), -EBADMSG);
	CHECK_RC(index_dec("{\"p\":[{\"c\":3,\"k\":\"" K "\",\"v\":1,\"x\":0}]}"), -EBADMSG);
	CHECK_RC(
	    index_dec("{\"p\":[{\"c\":3,\"k\":\"0123456789ABCDEF0123456789abcdef\",\"v\":1}]}"),
	    -EBADMSG);
	CHECK_RC(index_dec("{\"p\":[{\"c\":3,\"k\":\"" K "\",\"v\":1}],\"q\":1}"), -EBADMSG);
}

int main(void)
{
	test_leaf_bytes();
	test_leaf_refusals();
	test_leaf_format3();
	test_index();
	return check_done("crypto_itable");
}
