/* s3_creds_parse.c - reads temporary credentials out of received bytes: the
 * JSON of credential_process, the container endpoint and IMDS (jansson), and
 * STS's AssumeRoleWithWebIdentityResponse (libxml2, no DTD, no network).
 * Must never put a received value into a message, or accept a secret with a
 * control byte (it would go into an HTTP header). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "s3_creds.h"
#include "s3_dl.h"

#define CREDS_REPLY_MAX (64u << 10)

static int fail(char *err, size_t err_size, const char *what)
{
	snprintf(err, err_size, "%s", what);
	return -EPROTO;
}

int s3_creds_parse_time(time_t *out, const char *s)
{
	struct tm tm = {0};
	int n = 0, oh = 0, om = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    n != 19)
		return -EINVAL;
	const char *p = s + n;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if ((*p == 'Z' || *p == 'z') && !p[1]) {
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' &&
		   sscanf(p + 1, "%2d:%2d", &oh, &om) == 2 && oh < 24 && om < 60) {
		int sign = *p == '+' ? 1 : -1;
		oh *= sign;
		om *= sign;
	} else {
		return -EINVAL;
	}
	if (tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out = t - (time_t)oh * 3600 - (time_t)om * 60;
	return 0;
}

/* A string member; NULL if missing or not a string. */
static const char *member(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int make(struct s3_creds **out, const char *ak, const char *sk, const char *tok,
		const char *exp, char *err, size_t err_size)
{
	time_t t = 0;
	if (!ak || !sk)
		return fail(err, err_size, "no AccessKeyId or SecretAccessKey in the reply");
	if (exp && s3_creds_parse_time(&t, exp) < 0)
		return fail(err, err_size, "Expiration is not an ISO 8601 UTC time");
	int r = s3_creds_new(out, ak, sk, tok, t);
	if (r == -EINVAL)
		return fail(err, err_size, "an empty or malformed key in the reply");
	return r;
}

int s3_creds_parse_json(struct s3_creds **out, const char *json, size_t len,
			enum s3_creds_json format, char *err, size_t err_size)
{
	json_error_t je;
	*out = NULL;
	if (!json || len == 0 || len > CREDS_REPLY_MAX)
		return fail(err, err_size, "an empty or oversized reply");
	json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(o)) {
		json_decref(o);
		return fail(err, err_size, "the reply is not a JSON object");
	}
	int r = 0;
	const char *code = member(o, "Code"), *tok;
	json_t *ver = json_object_get(o, "Version");
	if (format == S3_CREDS_JSON_PROCESS &&
	    !(json_is_integer(ver) && json_integer_value(ver) == 1))
		r = fail(err, err_size, "\"Version\": 1 is missing");
	else if (format == S3_CREDS_JSON_CONTAINER && code && strcmp(code, "Success") != 0)
		r = fail(err, err_size, "the reply's Code is not Success");
	tok = member(o, format == S3_CREDS_JSON_PROCESS ? "SessionToken" : "Token");
	if (r == 0)
		r = make(out, member(o, "AccessKeyId"), member(o, "SecretAccessKey"), tok,
			 member(o, "Expiration"), err, err_size);
	json_decref(o);
	return r;
}

static const xmlNode *elem(const xmlNode *parent, const char *name)
{
	for (const xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0)
			return n;
	return NULL;
}

/* The text of a leaf element (one text node), or NULL. */
static const char *leaf(const xmlNode *parent, const char *name)
{
	const xmlNode *e = elem(parent, name);
	if (!e || !e->children || e->children->next || e->children->type != XML_TEXT_NODE)
		return NULL;
	return (const char *)e->children->content;
}

int s3_creds_parse_sts(struct s3_creds **out, const char *xml, size_t len, char *err,
		       size_t err_size)
{
	*out = NULL;
	if (!xml)
		return fail(err, err_size, "an empty reply");
	while (len && (*xml == ' ' || *xml == '\t' || *xml == '\r' || *xml == '\n'))
		xml++, len--;
	if (len == 0 || len > CREDS_REPLY_MAX)
		return fail(err, err_size, "an empty or oversized reply");
	const struct s3_dl_xml *lib = s3_dl_xml(err, err_size);
	if (!lib)
		return -ENOSYS;
	xmlDoc *doc = lib->read_memory(xml, (int)len, "sts.xml", NULL,
				       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	const xmlNode *root = doc ? lib->doc_get_root_element(doc) : NULL;
	int r;
	if (!root || doc->intSubset || doc->extSubset ||
	    strcmp((const char *)root->name, "AssumeRoleWithWebIdentityResponse") != 0) {
		r = fail(err, err_size, "not an AssumeRoleWithWebIdentityResponse");
	} else {
		const xmlNode *c =
		    elem(elem(root, "AssumeRoleWithWebIdentityResult"), "Credentials");
		r = make(out, leaf(c, "AccessKeyId"), leaf(c, "SecretAccessKey"),
			 leaf(c, "SessionToken"), leaf(c, "Expiration"), err, err_size);
	}
	if (doc)
		lib->free_doc(doc);
	return r;
}
