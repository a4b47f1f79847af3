/* keyring.c - the passphrase in the desktop keyring through libsecret
 * (keyring.h). The lookup runs in a short-lived child (libsecret starts
 * GLib threads; `sealfs mount` must not have any when it forks the daemon).
 * libsecret is loaded (dlopen) only when the keyring is used, never linked:
 * with its GLib, GIO and GObject it would add about 2 MiB to every daemon's
 * resident memory (docs/PERFORMANCE.md, "Daemon memory").
 * It must never put the passphrase anywhere but libsecret's non-pageable
 * memory, the pipe from that child and our sodium_malloc copy, never in an
 * attribute or a label, and never print it. */
#include "keyring.h"

#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <libsecret/secret.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli_opts.h"
#include "errbuf.h"
#include "exitcodes.h"
#include "fdio.h"
#include "hex.h"

static const SecretSchema keyring_schema = {
    .name = "org.sealfs.Passphrase",
    .flags = SECRET_SCHEMA_NONE,
    .attributes = {{"vault", SECRET_SCHEMA_ATTRIBUTE_STRING}, {NULL, 0}},
};

#define KEYRING_LIB "libsecret-1.so.0" /* its soname: the ABI the header describes */

/* The four functions used, from the loaded library (g_error_free comes
 * with it: dlsym searches the library's dependencies too). */
struct keyring_lib {
	gchar *(*lookup)(const SecretSchema *, GCancellable *, GError **, ...);
	gboolean (*store)(const SecretSchema *, const gchar *, const gchar *, const gchar *,
			  GCancellable *, GError **, ...);
	void (*free_pw)(gchar *);
	void (*error_free)(GError *);
};

/* Loads libsecret (once per process; the handle is kept: GLib cannot be
 * unloaded). 0, or -ENOSYS with the reason in err. */
static int keyring_load(struct keyring_lib *l, char *err, size_t size)
{
	void *h = dlopen(KEYRING_LIB, RTLD_NOW | RTLD_LOCAL);

	if (h) {
		*(void **)&l->lookup = dlsym(h, "secret_password_lookup_nonpageable_sync");
		*(void **)&l->store = dlsym(h, "secret_password_store_sync");
		*(void **)&l->free_pw = dlsym(h, "secret_password_free");
		*(void **)&l->error_free = dlsym(h, "g_error_free");
		if (l->lookup && l->store && l->free_pw && l->error_free)
			return 0;
	}
	return errbuf_fail(err, size, -ENOSYS, "desktop keyring: cannot load %s: %s", KEYRING_LIB,
			   h ? "a function is missing" : dlerror());
}

static void keyring_id(char out[2 * OBJECT_ID_BYTES + 1], const struct vault_config *cfg)
{
	hex_encode(out, 2 * OBJECT_ID_BYTES + 1, cfg->vault_id, sizeof(cfg->vault_id));
}

/* The reason of a failed lookup, as one line, into err. */
static int keyring_error(const struct keyring_lib *l, GError *e, const char *what, char *err,
			 size_t size)
{
	snprintf(err, size, "desktop keyring: %s: %s", what, e ? e->message : "failed");
	if (e)
		l->error_free(e);
	for (char *c = err; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	return -EIO;
}

/* Whether libsecret's copy can go up the pipe as one line and come out the
 * same: not empty, not too long, no newline, no trailing "\r". */
static bool keyring_sendable(const char *pw, size_t len)
{
	return len && len <= PASSPHRASE_MAX_BYTES && !memchr(pw, '\n', len) && pw[len - 1] != '\r';
}

/* The lookup, in the child: libsecret (GLib, GDBus and its threads) runs
 * here only, never in the process that goes on to fork the daemon. Sends
 * the passphrase as one line, or the reason; _exits with 0 or the errno. */
static void keyring_child(const void *arg, int fd)
{
	char id[2 * OBJECT_ID_BYTES + 1], err[CLI_ERR_BYTES];
	struct keyring_lib l;
	GError *e = NULL;
	int rc = keyring_load(&l, err, sizeof(err));
	gchar *pw;

	keyring_id(id, arg);
	pw = rc ? NULL : l.lookup(&keyring_schema, NULL, &e, "vault", id, NULL);
	if (rc == 0 && !pw && e)
		rc = keyring_error(&l, e, "reading the passphrase", err, sizeof(err));
	else if (rc == 0 && !pw)
		rc = errbuf_fail(err, sizeof(err), -ENOENT,
				 "desktop keyring: no passphrase for this vault (add it with "
				 "'sealfs keyring add STORE')");
	else if (pw) {
		size_t len = strlen(pw);
		if (!keyring_sendable(pw, len))
			rc = errbuf_fail(err, sizeof(err), -EINVAL,
					 "desktop keyring: the stored passphrase is unusable");
		else if (fdio_write_all(fd, pw, len) || fdio_write_str(fd, "\n"))
			rc = errbuf_fail(err, sizeof(err), -EIO, "desktop keyring: %s",
					 cli_why(EPIPE));
		l.free_pw(pw); /* wipes */
	}
	if (rc)
		(void)(fdio_write_str(fd, err) || fdio_write_str(fd, "\n"));
	_exit(-rc);
}

int keyring_lookup(struct passphrase *out, const struct vault_config *cfg, char *err, size_t size)
{
	const struct passphrase_child c = {.what = "desktop keyring",
					   .what_output = "desktop keyring",
					   .run = keyring_child,
					   .arg = cfg,
					   .says_why = true};

	return passphrase_from_child(out, &c, err, size);
}

int keyring_store(const struct vault_config *cfg, const struct passphrase *pass, char *err,
		  size_t size)
{
	char id[2 * OBJECT_ID_BYTES + 1], label[64];
	struct keyring_lib l;
	GError *e = NULL;
	int rc = keyring_load(&l, err, size);

	if (rc)
		return rc;
	keyring_id(id, cfg);
	snprintf(label, sizeof(label), "sealfs vault %.8s", id);
	if (!l.store(&keyring_schema, SECRET_COLLECTION_DEFAULT, label, pass->text, NULL, &e,
		     "vault", id, NULL))
		return keyring_error(&l, e, "storing the passphrase", err, size);
	return 0;
}

/* ---- sealfs keyring add STORE ---- */

static const char keyring_usage[] =
    "usage: sealfs keyring add STORE [--passphrase-file F | --extpass CMD] [--insecure-http]\n"
    "\n"
    "Asks for the vault's passphrase, checks that it unlocks the vault, and\n"
    "stores it in the desktop keyring (Secret Service), where 'sealfs mount\n"
    "--keyring' finds it. See docs/SECURITY.md for what that trades away.\n";

static int keyring_add(const char *url, const struct cli_unlock *how)
{
	struct passphrase pass = {0};
	struct cli_vault v = {0};
	char err[CLI_ERR_BYTES];
	int rc = cli_vault_open_unlocked(&v, url, how, &pass);

	vault_keys_free(v.keys); /* only the check was needed: gone before D-Bus starts */
	v.keys = NULL;
	if (rc == 0 && keyring_store(v.cfg, &pass, err, sizeof(err)))
		rc = cli_fail(EXITCODE_OTHER, "%s", err);
	passphrase_free(&pass);
	cli_vault_close(&v);
	return rc;
}

int cli_keyring_main(int argc, char **argv)
{
	static const struct option table[] = {CLI_OPTS_SECRET, CLI_OPTS_END};
	static const struct cli_opts_spec spec = {
	    .cmd = "keyring",
	    .usage = keyring_usage,
	    .takes = CLI_TAKES_SECRET,
	    .table = table,
	    .operands = 2,
	    .operands_what = "'add STORE'",
	};
	struct cli_opts o;
	int rc;

	cli_harden();
	rc = cli_opts_parse(&o, &spec, NULL, argc, argv);
	if (rc == 0 && strcmp(o.args[0], "add") != 0)
		rc = cli_usage("keyring", "expected 'add STORE'");
	if (rc)
		return rc < 0 ? EXITCODE_OK : rc;
	return keyring_add(o.args[1], &o.unlock);
}
