/* test_s3_xml.c - parsing of S3 XML replies (as AWS and s3rver send them),
 * malformed and hostile input (-EPROTO), and the CompleteMultipartUpload body. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "s3_xml.h"

struct seen {
	char keys[8][64];
	uint64_t sizes[8];
	int n;
	int stop_at; /* return 7 at this entry (1-based); 0 never */
};

static int collect(void *arg, const char *key, uint64_t size)
{
	struct seen *s = arg;
	if (s->n < 8) {
		snprintf(s->keys[s->n], sizeof s->keys[0], "%s", key);
		s->sizes[s->n] = size;
	}
	s->n++;
	return s->stop_at && s->n == s->stop_at ? 7 : 0;
}

static int list(struct s3_xml_list_page *p, struct seen *s, const char *xml)
{
	return s3_xml_parse_list(p, xml, strlen(xml), collect, s);
}

static void test_list_truncated_page_from_aws(void)
{
	const char *xml =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Name>bucket</Name><Prefix>v/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
	    "<IsTruncated>true</IsTruncated>"
	    "<Contents><Key>v/a&amp;b</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>"
	    "<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>"
	    "<StorageClass>STANDARD</StorageClass></Contents>"
	    "<Contents><Key>v/b</Key><Size>0</Size></Contents>"
	    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</"
	    "NextContinuationToken>"
	    "</ListBucketResult>";
	struct s3_xml_list_page p;
	struct seen s = {0};
	CHECKF(list(&p, &s, xml) == 0, "aws page rejected");
	CHECKF(p.truncated == 1 && p.n_keys == 2 && s.n == 2, "truncated %d keys %u", p.truncated,
	       p.n_keys);
	CHECKF(strcmp(s.keys[0], "v/a&b") == 0 && s.sizes[0] == 434234, "entry 0 %s %llu",
	       s.keys[0], (unsigned long long)s.sizes[0]);
	CHECKF(strcmp(s.keys[1], "v/b") == 0 && s.sizes[1] == 0, "entry 1");
	CHECKF(p.next_token &&
		   strcmp(p.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=") == 0,
	       "token %s", p.next_token ? p.next_token : "(null)");
	free(p.next_token);
}

static void test_list_last_page_from_s3rver(void)
{
	/* s3rver's namespace differs from AWS's: names are matched locally */
	const char *xml =
	    "<ListBucketResult xmlns=\"http://doc.s3.amazonaws.com/2006-03-01/\"><Name>b</Name>"
	    "<Prefix></Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>"
	    "<IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>18446744073709551615</"
	    "Size>"
	    "</Contents></ListBucketResult>";
	struct s3_xml_list_page p;
	struct seen s = {0};
	CHECKF(list(&p, &s, xml) == 0, "s3rver page rejected");
	CHECKF(!p.truncated && !p.next_token && s.n == 1 && s.sizes[0] == UINT64_MAX, "last page");
}

static void test_list_empty(void)
{
	const char *xml = "<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount>"
			  "<IsTruncated>false</IsTruncated></ListBucketResult>";
	struct s3_xml_list_page p;
	struct seen s = {0};
	CHECKF(list(&p, &s, xml) == 0 && s.n == 0 && p.n_keys == 0, "empty listing");
}

static void test_list_callback_stops_walk(void)
{
	const char *xml = "<ListBucketResult><IsTruncated>true</IsTruncated>"
			  "<Contents><Key>a</Key><Size>1</Size></Contents>"
			  "<Contents><Key>b</Key><Size>2</Size></Contents>"
			  "<Contents><Key>c</Key><Size>3</Size></Contents>"
			  "<NextContinuationToken>t</NextContinuationToken></ListBucketResult>";
	struct s3_xml_list_page p;
	struct seen s = {.stop_at = 2};
	int r = list(&p, &s, xml);
	CHECKF(r == 7 && s.n == 2 && p.next_token == NULL, "stop: r %d n %d", r, s.n);
}

static void expect_list_eproto(const char *what, const char *xml)
{
	struct s3_xml_list_page p;
	struct seen s = {0};
	int r = list(&p, &s, xml);
	CHECKF(r == -EPROTO && p.next_token == NULL, "%s: got %d", what, r);
}

static void test_list_malformed_is_eproto(void)
{
	expect_list_eproto("empty", "");
	expect_list_eproto("not xml", "Service Unavailable");
	expect_list_eproto("html", "<html><body>502 Bad Gateway</body></html>");
	expect_list_eproto("unclosed", "<ListBucketResult><IsTruncated>false</IsTruncated>");
	expect_list_eproto("no IsTruncated", "<ListBucketResult></ListBucketResult>");
	expect_list_eproto("bad IsTruncated",
			   "<ListBucketResult><IsTruncated>yes</IsTruncated></ListBucketResult>");
	expect_list_eproto("truncated without token",
			   "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>");
	expect_list_eproto("empty token",
			   "<ListBucketResult><IsTruncated>true</IsTruncated>"
			   "<NextContinuationToken></NextContinuationToken></ListBucketResult>");
	expect_list_eproto("no size", "<ListBucketResult><IsTruncated>false</IsTruncated>"
				      "<Contents><Key>a</Key></Contents></ListBucketResult>");
	expect_list_eproto("bad size",
			   "<ListBucketResult><IsTruncated>false</IsTruncated>"
			   "<Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>");
	expect_list_eproto(
	    "size overflow",
	    "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a</Key>"
	    "<Size>18446744073709551616</Size></Contents></ListBucketResult>");
	expect_list_eproto("empty key",
			   "<ListBucketResult><IsTruncated>false</IsTruncated>"
			   "<Contents><Key></Key><Size>1</Size></Contents></ListBucketResult>");
	expect_list_eproto("error root", "<Error><Code>NoSuchBucket</Code></Error>");
	expect_list_eproto(
	    "dtd with entities",
	    "<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>"
	    "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>&b;</Key>"
	    "<Size>1</Size></Contents></ListBucketResult>");
	expect_list_eproto(
	    "external entity",
	    "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
	    "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>&x;</Key>"
	    "<Size>1</Size></Contents></ListBucketResult>");
}

static void test_oversized_reply_is_eproto(void)
{
	size_t n = S3_XML_MAX_REPLY + 1;
	char *big = malloc(n);
	CHECKF(big != NULL, "malloc");
	if (!big)
		return;
	memset(big, ' ', n);
	memcpy(big, "<Error><Code>X</Code>", 21);
	memcpy(big + n - 8, "</Error>", 8);
	struct s3_xml_error e;
	CHECKF(s3_xml_parse_error(&e, big, n) == -EPROTO, "oversized reply accepted");
	CHECKF(s3_xml_parse_error(&e, big, n - 1 - 8) == -EPROTO, "cut reply accepted");
	free(big);
}

static void test_upload_id(void)
{
	const char *xml =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	    "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Bucket>example-bucket</Bucket><Key>example-object</Key>"
	    "<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>"
	    "</InitiateMultipartUploadResult>";
	char *id = NULL;
	CHECKF(s3_xml_parse_upload_id(&id, xml, strlen(xml)) == 0 && id &&
		   strcmp(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA") == 0,
	       "upload id %s", id ? id : "(null)");
	free(id);
	const char *bad[] = {"<InitiateMultipartUploadResult><Bucket>b</Bucket>"
			     "</InitiateMultipartUploadResult>",
			     "<InitiateMultipartUploadResult><UploadId></UploadId>"
			     "</InitiateMultipartUploadResult>",
			     "<Other><UploadId>x</UploadId></Other>", "<Init"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECKF(s3_xml_parse_upload_id(&id, bad[i], strlen(bad[i])) == -EPROTO && id == NULL,
		       "bad upload id reply %zu accepted", i);
	}
}

static void test_error_reply(void)
{
	const char *xml =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
	    "<Message>The resource you requested does not exist</Message>"
	    "<Resource>/mybucket/myfoto.jpg</Resource><RequestId>4442587FB7D0A2F9</RequestId>"
	    "</Error>";
	struct s3_xml_error e;
	CHECKF(s3_xml_parse_error(&e, xml, strlen(xml)) == 0, "error reply rejected");
	CHECKF(strcmp(e.code, "NoSuchKey") == 0, "code %s", e.code);
	CHECKF(strcmp(e.message, "The resource you requested does not exist") == 0, "message %s",
	       e.message);
	const char *nomsg = "<Error><Code>SlowDown</Code></Error>";
	CHECKF(s3_xml_parse_error(&e, nomsg, strlen(nomsg)) == 0 && e.message[0] == '\0',
	       "error without message");
	const char *nocode = "<Error><Message>m</Message></Error>";
	CHECKF(s3_xml_parse_error(&e, nocode, strlen(nocode)) == -EPROTO && e.code[0] == '\0',
	       "error without code accepted");
	char longmsg[1024] = "<Error><Code>C</Code><Message>";
	size_t n = strlen(longmsg);
	memset(longmsg + n, 'm', 600);
	memcpy(longmsg + n + 600, "</Message></Error>", 19);
	CHECKF(s3_xml_parse_error(&e, longmsg, strlen(longmsg)) == 0 &&
		   strlen(e.message) == S3_XML_MESSAGE_BYTES - 1,
	       "long message not cut to fit");
}

static void test_complete_reply(void)
{
	struct s3_xml_error e;
	const char *ok = "<CompleteMultipartUploadResult><Location>l</Location><Bucket>b</Bucket>"
			 "<Key>k</Key><ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag>"
			 "</CompleteMultipartUploadResult>";
	const char *err = "<Error><Code>InternalError</Code><Message>We encountered an internal "
			  "error. Please try again.</Message></Error>";
	CHECKF(s3_xml_check_complete(&e, ok, strlen(ok)) == 0, "complete ok");
	CHECKF(s3_xml_check_complete(&e, err, strlen(err)) == -EAGAIN &&
		   strcmp(e.code, "InternalError") == 0,
	       "200 with error body not seen");
	CHECKF(s3_xml_check_complete(&e, "<x/>", 4) == -EPROTO, "other root accepted");
}

/* The body we build must parse back, through libxml2, to the same parts. */
static void test_build_complete_escapes(void)
{
	const char *etags[] = {"\"a54357aff0632cce46d942af68356b38\"", "<&'>"};
	char *body = NULL;
	size_t len = 0;
	CHECKF(s3_xml_build_complete(&body, &len, etags, 2) == 0, "build");
	const char *want =
	    "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Part><PartNumber>1</PartNumber><ETag>&quot;a54357aff0632cce46d942af68356b38"
	    "&quot;</ETag></Part><Part><PartNumber>2</PartNumber><ETag>&lt;&amp;&apos;&gt;"
	    "</ETag></Part></CompleteMultipartUpload>";
	CHECKF(body && strcmp(body, want) == 0 && len == strlen(want), "body %s", body);
	free(body);
	CHECKF(s3_xml_build_complete(&body, &len, etags, 0) == -EINVAL && body == NULL, "n == 0");
}

int main(void)
{
	test_list_truncated_page_from_aws();
	test_list_last_page_from_s3rver();
	test_list_empty();
	test_list_callback_stops_walk();
	test_list_malformed_is_eproto();
	test_oversized_reply_is_eproto();
	test_upload_id();
	test_error_reply();
	test_complete_reply();
	test_build_complete_escapes();
	return check_done("test_s3_xml");
}
