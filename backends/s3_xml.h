/* s3_xml.h - the S3 XML replies sealfs reads (ListBucketResult,
 * ListMultipartUploadsResult, InitiateMultipartUploadResult, CompleteMultipartUploadResult, Error)
 * and the one request body it writes (CompleteMultipartUpload). Parsed with libxml2, never by
 * string search (whitespace before the document is skipped, as S3 sends it while it works on a
 * CompleteMultipartUpload); input is size-capped, entities are not expanded and nothing is fetched
 * from the network. Thread-safe. */
#ifndef SEALFS_S3_XML_H
#define SEALFS_S3_XML_H

#include <stddef.h>
#include <stdint.h>

#define S3_XML_MAX_REPLY (16u << 20) /* bytes; larger replies are -EPROTO */
#define S3_XML_CODE_BYTES 64
#define S3_XML_MESSAGE_BYTES 256

/* An S3 <Error> reply; strings are NUL-terminated, cut to fit. */
struct s3_xml_error {
	char code[S3_XML_CODE_BYTES];
	char message[S3_XML_MESSAGE_BYTES];
	char region[S3_XML_CODE_BYTES]; /* <Region> of a redirect, "" if none */
};

/* Called per <Contents> of a listing with the full key (borrowed for the call)
 * and its size; a non-zero return stops the walk and is returned. */
typedef int (*s3_xml_key_cb)(void *arg, const char *key, uint64_t size);

/* One page of a ListObjectsV2 reply. next_token is a new malloc'ed string
 * (NULL when not truncated) the caller frees. */
struct s3_xml_list_page {
	int truncated;
	char *next_token;
	unsigned n_keys;
};

/* Parses a ListBucketResult: calls cb for each object, fills *page.
 * -EPROTO malformed (not XML, wrong root, Contents without Key or Size, a size
 * that is not a number, truncated without a token, over S3_XML_MAX_REPLY),
 * -ENOMEM, or the callback's non-zero value (page->next_token is then NULL). */
int s3_xml_parse_list(struct s3_xml_list_page *page, const char *xml, size_t len, s3_xml_key_cb cb,
		      void *arg);

/* Called per <Upload> of a ListMultipartUploads reply with its Key and
 * UploadId (both non-empty, borrowed for the call) and its Initiated time as
 * Unix seconds; a non-zero return stops the walk and is returned. */
typedef int (*s3_xml_upload_cb)(void *arg, const char *key, const char *upload_id,
				int64_t initiated);

/* One page of a ListMultipartUploads reply. When truncated, next_key (never
 * empty) and next_upload_id (may be "") are new malloc'ed strings the
 * caller frees; NULL otherwise. */
struct s3_xml_uploads_page {
	int truncated;
	char *next_key;
	char *next_upload_id;
	unsigned n_uploads;
};

/* Parses a ListMultipartUploadsResult: calls cb for each upload, fills
 * *page. -EPROTO malformed (not XML, wrong root, an Upload without Key,
 * UploadId or Initiated, an Initiated that is not an ISO 8601 UTC time
 * "YYYY-MM-DDThh:mm:ss[.fff]Z", truncated without a NextKeyMarker, over
 * S3_XML_MAX_REPLY), -ENOMEM, or the callback's non-zero value; on any
 * failure the page holds no strings. */
int s3_xml_parse_uploads(struct s3_xml_uploads_page *page, const char *xml, size_t len,
			 s3_xml_upload_cb cb, void *arg);

/* "YYYY-MM-DDThh:mm:ss[.fraction]Z" (S3's timestamps) as Unix seconds, the
 * fraction dropped. -EPROTO for anything else (out-of-range fields too). */
int s3_xml_parse_time(int64_t *out, const char *s);

/* Parses an InitiateMultipartUploadResult: *upload_id becomes a new malloc'ed
 * string. -EPROTO malformed or no UploadId, -ENOMEM. */
int s3_xml_parse_upload_id(char **upload_id, const char *xml, size_t len);

/* Parses an <Error> reply into *e. -EPROTO if it is not one (e is then
 * zeroed). */
int s3_xml_parse_error(struct s3_xml_error *e, const char *xml, size_t len);

/* Checks a CompleteMultipartUpload reply: 0 for a CompleteMultipartUploadResult;
 * for an <Error> (S3 may send one with status 200) fills *e and returns -EAGAIN;
 * -EPROTO otherwise. */
int s3_xml_check_complete(struct s3_xml_error *e, const char *xml, size_t len);

/* Builds the CompleteMultipartUpload body for n parts numbered 1..n with the
 * given ETags (XML-escaped here). *out becomes a new malloc'ed string of
 * *out_len bytes. -EINVAL n == 0 or a NULL ETag, -ENOMEM. */
int s3_xml_build_complete(char **out, size_t *out_len, const char *const *etags, unsigned n);

#endif
