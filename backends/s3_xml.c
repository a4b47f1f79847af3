/* s3_xml.c - reads S3's XML replies with libxml2 and writes the
 * CompleteMultipartUpload body (listings of objects and of multipart uploads,
 * initiate, complete, errors). Must never parse XML by string search, expand
 * entities from a DTD, touch the network, or accept more than
 * S3_XML_MAX_REPLY bytes. */
#include "s3_xml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_dl.h"

/* The root element and the freeing of a document xml_read returned (so
 * libxml2 is loaded). */
static xmlNode *xml_root(xmlDoc *doc) { return s3_dl_xml(NULL, 0)->doc_get_root_element(doc); }

static void xml_free(xmlDoc *doc) { s3_dl_xml(NULL, 0)->free_doc(doc); }

/* Parses len bytes into a new document; NULL if malformed, too large or if it
 * carries a DTD (S3 never sends one; refusing it rules out entity tricks), or
 * if libxml2 cannot be loaded (opening an S3 store says why). */
static xmlDoc *xml_read(const char *xml, size_t len)
{
	/* S3 (and some MinIO versions) send whitespace before the XML
	 * declaration of a CompleteMultipartUpload reply while they work. */
	while (xml && len && (*xml == ' ' || *xml == '\t' || *xml == '\r' || *xml == '\n')) {
		xml++;
		len--;
	}
	if (!xml || len == 0 || len > S3_XML_MAX_REPLY)
		return NULL;
	const struct s3_dl_xml *lib = s3_dl_xml(NULL, 0);
	if (!lib)
		return NULL;
	xmlDoc *doc = lib->read_memory(xml, (int)len, "reply.xml", NULL,
				       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc && (doc->intSubset || doc->extSubset || !xml_root(doc))) {
		xml_free(doc);
		doc = NULL;
	}
	return doc;
}

static int is_elem(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static xmlNode *child(const xmlNode *parent, const char *name)
{
	for (xmlNode *n = parent->children; n; n = n->next)
		if (is_elem(n, name))
			return n;
	return NULL;
}

/* New malloc'ed text content of an element (text and CDATA children only). */
static char *text_dup(const xmlNode *e)
{
	size_t len = 0;
	for (const xmlNode *n = e->children; n; n = n->next)
		if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content)
			len += strlen((const char *)n->content);
	char *s = malloc(len + 1);
	if (!s)
		return NULL;
	s[0] = '\0';
	len = 0;
	for (const xmlNode *n = e->children; n; n = n->next) {
		if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content) {
			size_t k = strlen((const char *)n->content);
			memcpy(s + len, n->content, k + 1);
			len += k;
		}
	}
	return s;
}

/* Copies an element's text into buf (cut to fit); "" when e is NULL. */
static int text_copy(char *buf, size_t size, const xmlNode *e)
{
	buf[0] = '\0';
	if (!e)
		return 0;
	char *s = text_dup(e);
	if (!s)
		return -ENOMEM;
	snprintf(buf, size, "%s", s);
	free(s);
	return 0;
}

static int parse_u64(uint64_t *out, const char *s)
{
	uint64_t v = 0;
	if (!*s)
		return -EPROTO;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EPROTO;
		uint64_t d = (uint64_t)(*s - '0');
		if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && d > UINT64_MAX % 10))
			return -EPROTO;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* One <Contents>: reports Key and Size to cb. */
static int list_entry(const xmlNode *c, s3_xml_key_cb cb, void *arg)
{
	xmlNode *k = child(c, "Key"), *sz = child(c, "Size");
	uint64_t size = 0;
	if (!k || !sz)
		return -EPROTO;
	char *key = text_dup(k), *num = text_dup(sz);
	int r = (!key || !num) ? -ENOMEM : 0;
	if (r == 0 && (!key[0] || parse_u64(&size, num) < 0))
		r = -EPROTO;
	if (r == 0)
		r = cb(arg, key, size);
	free(key);
	free(num);
	return r;
}

static int parse_truncated(int *out, const xmlNode *n)
{
	char v[8];
	if (text_copy(v, sizeof v, n) < 0)
		return -ENOMEM;
	if (strcmp(v, "true") == 0)
		*out = 1;
	else if (strcmp(v, "false") == 0)
		*out = 0;
	else
		return -EPROTO;
	return 0;
}

static int list_walk(struct s3_xml_list_page *page, const xmlNode *root, s3_xml_key_cb cb,
		     void *arg)
{
	xmlNode *t = child(root, "IsTruncated");
	int r = t ? parse_truncated(&page->truncated, t) : -EPROTO;
	if (r < 0)
		return r;
	for (xmlNode *n = root->children; n; n = n->next) {
		if (!is_elem(n, "Contents"))
			continue;
		r = list_entry(n, cb, arg);
		if (r != 0)
			return r;
		page->n_keys++;
	}
	if (!page->truncated)
		return 0;
	xmlNode *tok = child(root, "NextContinuationToken");
	page->next_token = tok ? text_dup(tok) : NULL;
	if (!page->next_token)
		return tok ? -ENOMEM : -EPROTO;
	if (!page->next_token[0]) {
		free(page->next_token);
		page->next_token = NULL;
		return -EPROTO;
	}
	return 0;
}

int s3_xml_parse_list(struct s3_xml_list_page *page, const char *xml, size_t len, s3_xml_key_cb cb,
		      void *arg)
{
	memset(page, 0, sizeof *page);
	xmlDoc *doc = xml_read(xml, len);
	if (!doc)
		return -EPROTO;
	xmlNode *root = xml_root(doc);
	int r = is_elem(root, "ListBucketResult") ? list_walk(page, root, cb, arg) : -EPROTO;
	xml_free(doc);
	if (r != 0) {
		free(page->next_token);
		page->next_token = NULL;
	}
	return r;
}

/* --- ListMultipartUploads --- */

/* The decimal number of s[off..off+n), all digits (checked by the caller). */
static int num_at(const char *s, int off, int n)
{
	int v = 0;
	for (int i = off; i < off + n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's method). */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int s3_xml_parse_time(int64_t *out, const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	size_t i = 0;
	for (; shape[i]; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return -EPROTO;
	const char *tail = s + i;
	if (*tail == '.') {
		const char *f = ++tail;
		while (*tail >= '0' && *tail <= '9')
			tail++;
		if (tail == f)
			return -EPROTO;
	}
	if (strcmp(tail, "Z") != 0)
		return -EPROTO;
	int y = num_at(s, 0, 4), mo = num_at(s, 5, 2), d = num_at(s, 8, 2);
	int h = num_at(s, 11, 2), mi = num_at(s, 14, 2), se = num_at(s, 17, 2);
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
	    h > 23 || mi > 59 || se > 60)
		return -EPROTO;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	return 0;
}

/* One <Upload>: reports Key, UploadId and Initiated to cb. */
static int upload_entry(const xmlNode *u, s3_xml_upload_cb cb, void *arg)
{
	xmlNode *k = child(u, "Key"), *id = child(u, "UploadId"), *t = child(u, "Initiated");
	int64_t when = 0;
	if (!k || !id || !t)
		return -EPROTO;
	char *key = text_dup(k), *uid = text_dup(id), *ts = text_dup(t);
	int r = (!key || !uid || !ts) ? -ENOMEM : 0;
	if (r == 0 && (!key[0] || !uid[0] || s3_xml_parse_time(&when, ts) < 0))
		r = -EPROTO;
	if (r == 0)
		r = cb(arg, key, uid, when);
	free(key);
	free(uid);
	free(ts);
	return r;
}

static int uploads_markers(struct s3_xml_uploads_page *page, const xmlNode *root)
{
	xmlNode *k = child(root, "NextKeyMarker"), *id = child(root, "NextUploadIdMarker");
	if (!k)
		return -EPROTO;
	page->next_key = text_dup(k);
	page->next_upload_id = id ? text_dup(id) : strdup("");
	if (!page->next_key || !page->next_upload_id)
		return -ENOMEM;
	return page->next_key[0] ? 0 : -EPROTO;
}

static int uploads_walk(struct s3_xml_uploads_page *page, const xmlNode *root, s3_xml_upload_cb cb,
			void *arg)
{
	xmlNode *t = child(root, "IsTruncated");
	int r = t ? parse_truncated(&page->truncated, t) : -EPROTO;
	if (r < 0)
		return r;
	for (xmlNode *n = root->children; n; n = n->next) {
		if (!is_elem(n, "Upload"))
			continue;
		r = upload_entry(n, cb, arg);
		if (r != 0)
			return r;
		page->n_uploads++;
	}
	return page->truncated ? uploads_markers(page, root) : 0;
}

int s3_xml_parse_uploads(struct s3_xml_uploads_page *page, const char *xml, size_t len,
			 s3_xml_upload_cb cb, void *arg)
{
	memset(page, 0, sizeof *page);
	xmlDoc *doc = xml_read(xml, len);
	if (!doc)
		return -EPROTO;
	xmlNode *root = xml_root(doc);
	int r = is_elem(root, "ListMultipartUploadsResult") ? uploads_walk(page, root, cb, arg)
							    : -EPROTO;
	xml_free(doc);
	if (r != 0) {
		free(page->next_key);
		free(page->next_upload_id);
		page->next_key = page->next_upload_id = NULL;
	}
	return r;
}

int s3_xml_parse_upload_id(char **upload_id, const char *xml, size_t len)
{
	*upload_id = NULL;
	xmlDoc *doc = xml_read(xml, len);
	if (!doc)
		return -EPROTO;
	xmlNode *root = xml_root(doc);
	xmlNode *id =
	    is_elem(root, "InitiateMultipartUploadResult") ? child(root, "UploadId") : NULL;
	int r = id ? 0 : -EPROTO;
	if (id) {
		*upload_id = text_dup(id);
		r = *upload_id ? 0 : -ENOMEM;
		if (r == 0 && !(*upload_id)[0]) {
			free(*upload_id);
			*upload_id = NULL;
			r = -EPROTO;
		}
	}
	xml_free(doc);
	return r;
}

static int fill_error(struct s3_xml_error *e, const xmlNode *root)
{
	xmlNode *code = child(root, "Code");
	if (!code)
		return -EPROTO;
	int r = text_copy(e->code, sizeof e->code, code);
	if (r == 0)
		r = text_copy(e->message, sizeof e->message, child(root, "Message"));
	if (r == 0) /* PermanentRedirect, AuthorizationHeaderMalformed */
		r = text_copy(e->region, sizeof e->region, child(root, "Region"));
	if (r == 0 && !e->code[0])
		r = -EPROTO;
	return r;
}

int s3_xml_parse_error(struct s3_xml_error *e, const char *xml, size_t len)
{
	memset(e, 0, sizeof *e);
	xmlDoc *doc = xml_read(xml, len);
	if (!doc)
		return -EPROTO;
	xmlNode *root = xml_root(doc);
	int r = is_elem(root, "Error") ? fill_error(e, root) : -EPROTO;
	xml_free(doc);
	if (r < 0)
		memset(e, 0, sizeof *e);
	return r;
}

int s3_xml_check_complete(struct s3_xml_error *e, const char *xml, size_t len)
{
	memset(e, 0, sizeof *e);
	xmlDoc *doc = xml_read(xml, len);
	if (!doc)
		return -EPROTO;
	xmlNode *root = xml_root(doc);
	int r = -EPROTO;
	if (is_elem(root, "CompleteMultipartUploadResult"))
		r = 0;
	else if (is_elem(root, "Error") && fill_error(e, root) == 0)
		r = -EAGAIN;
	xml_free(doc);
	return r;
}

/* Appends s to buf at *pos, XML-escaped; buf has room (sized by the caller). */
static void put_escaped(char *buf, size_t *pos, const char *s)
{
	for (; *s; s++) {
		const char *rep = NULL;
		switch (*s) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&apos;";
			break;
		}
		if (rep) {
			memcpy(buf + *pos, rep, strlen(rep));
			*pos += strlen(rep);
		} else {
			buf[(*pos)++] = *s;
		}
	}
}

static void put_raw(char *buf, size_t *pos, const char *s)
{
	size_t k = strlen(s);
	memcpy(buf + *pos, s, k);
	*pos += k;
}

int s3_xml_build_complete(char **out, size_t *out_len, const char *const *etags, unsigned n)
{
	static const char head[] =
	    "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
	static const char tail[] = "</CompleteMultipartUpload>";
	size_t need = sizeof head + sizeof tail;

	*out = NULL;
	*out_len = 0;
	if (n == 0 || !etags)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (!etags[i] || strlen(etags[i]) > 1024)
			return -EINVAL;
		need += 80 + 6 * strlen(etags[i]); /* tags + number + worst-case escaping */
	}
	char *buf = malloc(need);
	if (!buf)
		return -ENOMEM;
	size_t pos = 0;
	put_raw(buf, &pos, head);
	for (unsigned i = 0; i < n; i++) {
		char num[64];
		snprintf(num, sizeof num, "<Part><PartNumber>%u</PartNumber><ETag>", i + 1);
		put_raw(buf, &pos, num);
		put_escaped(buf, &pos, etags[i]);
		put_raw(buf, &pos, "</ETag></Part>");
	}
	put_raw(buf, &pos, tail);
	buf[pos] = '\0';
	*out = buf;
	*out_len = pos;
	return 0;
}
