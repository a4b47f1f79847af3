/* s3_dl.h - libcurl and libxml2, loaded (dlopen) when an S3 store is opened
 * or an S3 reply is parsed, never linked: with what they bring (gnutls,
 * krb5, ldap, ssh2, nghttp2, ...) they would add about 6 MiB to the resident
 * memory of every daemon, local stores included (docs/PERFORMANCE.md,
 * "Daemon memory (session 6)"). Each library is one table of the functions
 * sealfs calls, resolved at first use. Every call is thread-safe. */
#ifndef SEALFS_S3_DL_H
#define SEALFS_S3_DL_H

#include <stddef.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

/* The sonames loaded: the ABIs of the headers above, as Debian 12 ships them
 * (packages libcurl4, the OpenSSL flavour that libcurl4-openssl-dev builds
 * against, and libxml2). */
#define S3_DL_CURL_LIB "libcurl.so.4"
#define S3_DL_CURL_PKG "libcurl4"
#define S3_DL_XML_LIB "libxml2.so.2"
#define S3_DL_XML_PKG "libxml2"

/* The libcurl functions sealfs calls, typed by curl.h's own prototypes. The
 * fields are named without "curl_": curl.h makes curl_easy_setopt a macro
 * under gcc. */
struct s3_dl_curl {
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_perform) *easy_perform;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_reset) *easy_reset;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_share_init) *share_init;
	__typeof__(curl_share_setopt) *share_setopt;
	__typeof__(curl_share_cleanup) *share_cleanup;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
	__typeof__(curl_getdate) *getdate;
};

/* The libxml2 functions sealfs calls. */
struct s3_dl_xml {
	__typeof__(xmlReadMemory) *read_memory;
	__typeof__(xmlDocGetRootElement) *doc_get_root_element;
	__typeof__(xmlFreeDoc) *free_doc;
};

/* libcurl's table: loaded, and curl_global_init run, by the first call in
 * the process (pthread_once); the same table (never unloaded) for every later
 * call. NULL when the library cannot be loaded or initialised, with a
 * one-line reason (naming the file and its Debian package) in err (may be
 * NULL). */
const struct s3_dl_curl *s3_dl_curl(char *err, size_t err_size);

/* libxml2's table, the same way (xmlInitParser run once). */
const struct s3_dl_xml *s3_dl_xml(char *err, size_t err_size);

/* Both libraries, for opening an S3 store: 0, or -ENOSYS with the reason of
 * the first that cannot be loaded in err. */
int s3_dl_load(char *err, size_t err_size);

#endif
