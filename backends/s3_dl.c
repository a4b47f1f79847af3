/* s3_dl.c - loads libcurl and libxml2 at first use (s3_dl.h): dlopen of
 * their sonames, every function sealfs calls looked up once into a table,
 * the library's global init run once. Must never unload a library (libcurl's
 * TLS stack and libxml2 keep global state and threads' keys), load one
 * before an S3 store or an S3 reply needs it, or hand out a table with a
 * missing function. */
#include "s3_dl.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define S3_DL_ERR_BYTES 400

/* One library: its table, filled once; reason says why it is unusable. */
struct dl_lib {
	pthread_once_t once;
	int ok;
	char reason[S3_DL_ERR_BYTES];
};

static struct dl_lib curl_lib = {.once = PTHREAD_ONCE_INIT};
static struct dl_lib xml_lib = {.once = PTHREAD_ONCE_INIT};
static struct s3_dl_curl curl_fns;
static struct s3_dl_xml xml_fns;

/* Opens lib (RTLD_LOCAL: its symbols stay out of the global namespace); NULL
 * with the reason in l. The handle is never closed. */
static void *dl_open(struct dl_lib *l, const char *lib, const char *pkg)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();
		snprintf(l->reason, sizeof l->reason,
			 "cannot load %s (Debian package %s), needed for s3:// stores: %s", lib,
			 pkg, why ? why : "unknown error");
	}
	return h;
}

/* dlsym of name into *slot; remembers the first name not found. */
static void dl_sym(void *h, void *slot, const char *name, const char **missing)
{
	void *f = dlsym(h, name);
	memcpy(slot, &f, sizeof f); /* a function pointer from dlsym, as POSIX allows */
	if (!f && !*missing)
		*missing = name;
}

static int dl_check(struct dl_lib *l, const char *lib, const char *missing)
{
	if (missing)
		snprintf(l->reason, sizeof l->reason,
			 "cannot use %s, needed for s3:// stores: it has no %s", lib, missing);
	return !missing;
}

static void curl_load(void)
{
	struct s3_dl_curl *t = &curl_fns;
	const char *missing = NULL;
	__typeof__(curl_global_init) *global_init = NULL;
	void *h = dl_open(&curl_lib, S3_DL_CURL_LIB, S3_DL_CURL_PKG);

	if (!h)
		return;
	dl_sym(h, &global_init, "curl_global_init", &missing);
	dl_sym(h, &t->easy_init, "curl_easy_init", &missing);
	dl_sym(h, &t->easy_setopt, "curl_easy_setopt", &missing);
	dl_sym(h, &t->easy_perform, "curl_easy_perform", &missing);
	dl_sym(h, &t->easy_getinfo, "curl_easy_getinfo", &missing);
	dl_sym(h, &t->easy_reset, "curl_easy_reset", &missing);
	dl_sym(h, &t->easy_cleanup, "curl_easy_cleanup", &missing);
	dl_sym(h, &t->easy_strerror, "curl_easy_strerror", &missing);
	dl_sym(h, &t->share_init, "curl_share_init", &missing);
	dl_sym(h, &t->share_setopt, "curl_share_setopt", &missing);
	dl_sym(h, &t->share_cleanup, "curl_share_cleanup", &missing);
	dl_sym(h, &t->slist_append, "curl_slist_append", &missing);
	dl_sym(h, &t->slist_free_all, "curl_slist_free_all", &missing);
	dl_sym(h, &t->getdate, "curl_getdate", &missing);
	if (!dl_check(&curl_lib, S3_DL_CURL_LIB, missing))
		return;
	if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(curl_lib.reason, sizeof curl_lib.reason,
			 "%s: curl_global_init failed (out of memory or no TLS library)",
			 S3_DL_CURL_LIB);
		return;
	}
	curl_lib.ok = 1;
}

static void xml_load(void)
{
	struct s3_dl_xml *t = &xml_fns;
	const char *missing = NULL;
	__typeof__(xmlInitParser) *init_parser = NULL;
	void *h = dl_open(&xml_lib, S3_DL_XML_LIB, S3_DL_XML_PKG);

	if (!h)
		return;
	dl_sym(h, &init_parser, "xmlInitParser", &missing);
	dl_sym(h, &t->read_memory, "xmlReadMemory", &missing);
	dl_sym(h, &t->doc_get_root_element, "xmlDocGetRootElement", &missing);
	dl_sym(h, &t->free_doc, "xmlFreeDoc", &missing);
	if (!dl_check(&xml_lib, S3_DL_XML_LIB, missing))
		return;
	init_parser(); /* libxml2's global state, before any thread parses */
	xml_lib.ok = 1;
}

/* The reason of an unusable library into err (when given). */
static void dl_reason(const struct dl_lib *l, char *err, size_t err_size)
{
	if (err && err_size)
		snprintf(err, err_size, "%s", l->reason);
}

const struct s3_dl_curl *s3_dl_curl(char *err, size_t err_size)
{
	pthread_once(&curl_lib.once, curl_load);
	if (curl_lib.ok)
		return &curl_fns;
	dl_reason(&curl_lib, err, err_size);
	return NULL;
}

const struct s3_dl_xml *s3_dl_xml(char *err, size_t err_size)
{
	pthread_once(&xml_lib.once, xml_load);
	if (xml_lib.ok)
		return &xml_fns;
	dl_reason(&xml_lib, err, err_size);
	return NULL;
}

int s3_dl_load(char *err, size_t err_size)
{
	if (!s3_dl_curl(err, err_size) || !s3_dl_xml(err, err_size))
		return -ENOSYS;
	return 0;
}
