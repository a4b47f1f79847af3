/* cli_info.c - `sealfs info STORE [--unlock]`: describes a vault without
 * unlocking it (format, cipher, key derivation cost, keyslots), and with
 * --unlock also its head: seq, fingerprint (docs/CLI.md, "info"), and for a
 * format-2 vault the time of the last change and the device that made it.
 * Must never print a secret nor write anything. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cli_opts.h"
#include "errbuf.h"
#include "head.h"
#include "meta.h"
#include "seal.h"

#define CLI_INFO_DESCRIBE_BYTES 4096

static const char cli_info_usage[] =
    "usage: sealfs info STORE [--unlock] [options]\n"
    "\n"
    "Describes the vault in STORE (format, cipher, key derivation cost, keyslots)\n"
    "without asking for the passphrase. Prints nothing secret.\n"
    "\n"
    "  --unlock               ask for the passphrase and also show the store's head:\n"
    "                         seq, fingerprint (for 'sealfs mount --expect') and, in a\n"
    "                         format-2 vault, when and by which device it was written\n"
    "  --passphrase-file F    with --unlock: read the passphrase from the first line of F\n"
    "  --extpass CMD          with --unlock: read it from CMD's first line\n"
    "  --keyring              with --unlock: read it from the desktop keyring\n"
    "  --insecure-http        allow plain http:// to an S3 endpoint on another host\n"
    "  -h, --help             show this help\n";

#define CLI_INFO_OPT_UNLOCK 1000

static int cli_info_option(void *arg, int c, const char *val)
{
	(void)val;
	if (c != CLI_INFO_OPT_UNLOCK)
		return CLI_OPTS_NOT_MINE;
	*(bool *)arg = true;
	return 0;
}

/* The store's head, opened, with its lines printed. */
static int cli_info_head(const struct cli_vault *v)
{
	char fp[2 * HEAD_FP_BYTES + 1], dev[33], date[40], name[4 * HEAD_DEVICE_NAME_MAX + 1];
	struct dirobj_head head;
	struct backend_version ver;
	uint8_t hash[HEAD_HASH_BYTES];
	unsigned char *sealed = NULL;
	size_t len = 0;
	int r = head_get(v->store, META_MAX_SEALED_BYTES, &sealed, &len, &ver);

	if (r == 0)
		r = seal_open_head(&head, sealed, len, v->cfg->vault_id, v->keys->meta,
				   v->cfg->format);
	if (r == 0)
		head_hash(hash, sealed, len);
	free(sealed);
	if (r == -EBADMSG)
		return cli_fail(EXITCODE_STORE_IO, "the vault head failed to authenticate");
	if (r)
		return cli_fail(r == -ENOENT ? EXITCODE_NOT_VAULT : EXITCODE_STORE_IO,
				"reading the vault head failed: %s", cli_why(-r));
	sodium_bin2hex(fp, sizeof(fp), hash, HEAD_FP_BYTES);
	printf("head seq: %llu\nhead fingerprint: %s\n", (unsigned long long)head.seq, fp);
	if (v->cfg->format >= 2) {
		time_t t = (time_t)head.time.sec;
		struct tm tm;

		if (!localtime_r(&t, &tm) ||
		    strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
			snprintf(date, sizeof(date), "@%lld", (long long)head.time.sec);
		errbuf_escape(name, sizeof(name), head.device_name); /* another device's text */
		sodium_bin2hex(dev, sizeof(dev), head.device, sizeof(head.device));
		printf("last change: %s\nlast device: %s (id %s)\n", date, name, dev);
		printf("keeps history: %llu days (%llu s); deletes after a grace of %llu s\n",
		       (unsigned long long)(head.keep / 86400), (unsigned long long)head.keep,
		       (unsigned long long)head.grace);
	} else {
		printf("last change: not recorded (a format-1 head carries no time or device)\n");
	}
	dirobj_head_release(&head);
	return 0;
}

int cli_init_info_main(int argc, char **argv)
{
	static const struct option table[] = {{"unlock", no_argument, NULL, CLI_INFO_OPT_UNLOCK},
					      CLI_OPTS_SECRET,
					      CLI_OPTS_KEYRING,
					      CLI_OPTS_END};
	static const struct cli_opts_spec spec = {
	    .cmd = "info",
	    .usage = cli_info_usage,
	    .takes = CLI_TAKES_SECRET | CLI_TAKES_KEYRING,
	    .table = table,
	    .operands = 1,
	    .own = cli_info_option,
	};
	struct cli_opts opts;
	struct cli_vault v = {0};
	char desc[CLI_INFO_DESCRIBE_BYTES];
	bool unlock = false;
	int rc = cli_opts_parse(&opts, &spec, &unlock, argc, argv);

	if (rc)
		return rc < 0 ? EXITCODE_OK : rc;
	if (!unlock && (opts.unlock.src.file || opts.unlock.src.extpass || opts.unlock.keyring))
		return cli_usage("info", "a passphrase option needs --unlock");
	rc = cli_vault_open(&v, opts.args[0]);
	if (rc == 0 && vault_describe(v.cfg, desc, sizeof(desc)) < 0)
		rc = cli_fail(EXITCODE_OTHER, "describing the vault failed");
	if (rc == 0)
		fputs(desc, stdout);
	if (rc == 0 && unlock)
		rc = cli_vault_unlock(&v, &opts.unlock, NULL);
	if (rc == 0 && unlock)
		rc = cli_info_head(&v);
	cli_vault_close(&v);
	return rc;
}
