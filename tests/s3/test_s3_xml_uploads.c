/* test_s3_xml_uploads.c - parsing of ListMultipartUploads replies (as AWS
 * documents them and the patched s3rver sends them) and of S3's timestamps;
 * malformed input is -EPROTO and leaves no markers behind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "s3_xml.h"

struct seen {
	char keys[4][64], ids[4][64];
	int64_t when[4];
	int n;
};

static int collect(void *arg, const char *key, const char *upload_id, int64_t initiated)
{
	struct seen *s = arg;
	if (s->n < 4) {
		snprintf(s->keys[s->n], sizeof s->keys[0], "%s", key);
		snprintf(s->ids[s->n], sizeof s->ids[0], "%s", upload_id);
		s->when[s->n] = initiated;
	}
	s->n++;
	return 0;
}

static int parse(struct s3_xml_uploads_page *p, struct seen *s, const char *xml)
{
	memset(s, 0, sizeof *s);
	return s3_xml_parse_uploads(p, xml, strlen(xml), collect, s);
}

static void test_aws_truncated_page(void)
{
	const char *xml =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Bucket>bucket</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>"
	    "<NextKeyMarker>v/o/ab/x</NextKeyMarker><NextUploadIdMarker>VXBsb2FkIElE</"
	    "NextUploadIdMarker><MaxUploads>2</MaxUploads><IsTruncated>true</IsTruncated>"
	    "<Upload><Key>v/o/aa/y&amp;z</Key><UploadId>abc</UploadId><Initiator><ID>i</ID>"
	    "</Initiator><StorageClass>STANDARD</StorageClass>"
	    "<Initiated>2010-11-10T20:48:33.000Z</Initiated></Upload>"
	    "<Upload><Key>v/o/ab/x</Key><UploadId>VXBsb2FkIElE</UploadId>"
	    "<Initiated>2024-02-29T00:00:01Z</Initiated></Upload>"
	    "</ListMultipartUploadsResult>";
	struct s3_xml_uploads_page p;
	struct seen s;
	CHECKF(parse(&p, &s, xml) == 0, "aws page rejected");
	CHECKF(p.truncated && p.n_uploads == 2 && s.n == 2, "truncated %d n %u", p.truncated,
	       p.n_uploads);
	CHECKF(strcmp(s.keys[0], "v/o/aa/y&z") == 0 && strcmp(s.ids[0], "abc") == 0, "entry 0");
	CHECKF(s.when[0] == 1289422113, "initiated %lld", (long long)s.when[0]);
	CHECKF(s.when[1] == 1709164801, "leap day %lld", (long long)s.when[1]);
	CHECKF(p.next_key && strcmp(p.next_key, "v/o/ab/x") == 0, "next key");
	CHECKF(p.next_upload_id && strcmp(p.next_upload_id, "VXBsb2FkIElE") == 0, "next id");
	free(p.next_key);
	free(p.next_upload_id);
}

static void test_last_and_empty_pages(void)
{
	struct s3_xml_uploads_page p;
	struct seen s;
	CHECKF(parse(&p, &s,
		     "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
		     "<NextKeyMarker>ignored</NextKeyMarker></ListMultipartUploadsResult>") == 0,
	       "empty page");
	CHECKF(!p.truncated && !p.next_key && !p.next_upload_id && s.n == 0, "empty: no markers");
	/* truncated with a key marker but no upload id marker: "" */
	CHECKF(parse(&p, &s,
		     "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>"
		     "<NextKeyMarker>k</NextKeyMarker></ListMultipartUploadsResult>") == 0,
	       "no id marker");
	CHECKF(p.next_upload_id && p.next_upload_id[0] == '\0', "id marker \"\"");
	free(p.next_key);
	free(p.next_upload_id);
}

static void test_malformed_is_eproto(void)
{
	static const char *bad[] = {
	    "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>",
	    "<ListMultipartUploadsResult></ListMultipartUploadsResult>",
	    "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated></"
	    "ListMultipartUploadsResult>",
	    "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated><NextKeyMarker></"
	    "NextKeyMarker></ListMultipartUploadsResult>",
	    "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload><Key>k</Key>"
	    "<Initiated>2020-01-01T00:00:00Z</Initiated></Upload></ListMultipartUploadsResult>",
	    "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload><Key></Key>"
	    "<UploadId>u</UploadId><Initiated>2020-01-01T00:00:00Z</Initiated></Upload>"
	    "</ListMultipartUploadsResult>",
	    "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload><Key>k</Key>"
	    "<UploadId>u</UploadId></Upload></ListMultipartUploadsResult>",
	    "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload><Key>k</Key>"
	    "<UploadId>u</UploadId><Initiated>yesterday</Initiated></Upload>"
	    "</ListMultipartUploadsResult>",
	    "<ListMultipartUploadsResult><IsTruncated>yes</IsTruncated></"
	    "ListMultipartUploadsResult>",
	    "<ListMultipartUploadsResult><IsTruncated>false",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct s3_xml_uploads_page p;
		struct seen s;
		int r = parse(&p, &s, bad[i]);
		CHECKF(r == -EPROTO && !p.next_key && !p.next_upload_id, "bad[%zu]: %d", i, r);
	}
}

static void test_times(void)
{
	static const struct {
		const char *s;
		int64_t want; /* -1: refused */
	} cases[] = {
	    {"1970-01-01T00:00:00Z", 0},
	    {"2000-03-01T00:00:00.123456Z", 951868800},
	    {"2100-02-28T23:59:59Z", 4107542399},
	    {"1969-12-31T23:59:59Z", -1 - 0}, /* one second before the epoch: -1 */
	    {"2023-02-29T00:00:00Z", -1},
	    {"2024-13-01T00:00:00Z", -1},
	    {"2024-01-01T24:00:00Z", -1},
	    {"2024-01-01T00:00:00", -1},
	    {"2024-01-01T00:00:00+01:00", -1},
	    {"2024-01-01T00:00:00.Z", -1},
	    {"2024-01-01 00:00:00Z", -1},
	    {"2024-1-01T00:00:00Z", -1},
	    {"", -1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t t = 12345;
		int r = s3_xml_parse_time(&t, cases[i].s);
		if (i == 3) { /* a valid time whose value is -1 */
			CHECKF(r == 0 && t == -1, "before epoch: %d %lld", r, (long long)t);
			continue;
		}
		if (cases[i].want < 0)
			CHECKF(r == -EPROTO, "'%s' accepted", cases[i].s);
		else
			CHECKF(r == 0 && t == cases[i].want, "'%s': %d %lld", cases[i].s, r,
			       (long long)t);
	}
}

int main(void)
{
	test_aws_truncated_page();
	test_last_and_empty_pages();
	test_malformed_is_eproto();
	test_times();
	return check_done("test_s3_xml_uploads");
}
