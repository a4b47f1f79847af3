/* cli_opts.c - the options several commands share (cli_opts.h). Only
 * parses: it never reads a secret, and never prints an option's value
 * except in a usage error about that value. */
#include "cli_opts.h"

#include <stdio.h>

/* An option that is none of the command's own. */
static int cli_opts_one(struct cli_opts *o, const struct cli_opts_spec *spec, int c, char **argv)
{
	bool secret = spec->takes & CLI_TAKES_SECRET, kdf = spec->takes & CLI_TAKES_KDF;

	if (c == 'p' && secret)
		o->unlock.src.file = optarg;
	else if (c == 'x' && secret)
		o->unlock.src.extpass = optarg;
	else if (c == 'K' && (spec->takes & CLI_TAKES_KEYRING))
		o->unlock.keyring = true;
	else if ((c == 'm' || c == 'o') && kdf)
		return cli_parse_kdf_option(&o->cost, c, optarg);
	else if (c == 'I' && kdf)
		o->insecure_kdf = true;
	else if (c == 'H')
		cli_store_allow_insecure_http();
	else if (c == 'h') {
		fputs(spec->usage, stdout);
		return -1;
	} else
		return cli_bad_option(spec->cmd, c, argv);
	return 0;
}

/* Once getopt is done: the KDF floor, one source of the secret at most,
 * the number of operands. */
static int cli_opts_check(const struct cli_opts *o, const struct cli_opts_spec *spec, int argc)
{
	const struct passphrase_src *src = &o->unlock.src;
	int rc;

	if (spec->takes & CLI_TAKES_KDF) {
		rc = cli_kdf_floor(spec->cmd, &o->cost, o->insecure_kdf);
		if (rc)
			return rc;
	}
	if (spec->takes & CLI_TAKES_KEYRING) {
		if ((src->file != NULL) + (src->extpass != NULL) + o->unlock.keyring > 1)
			return cli_usage(spec->cmd, "--passphrase-file, --extpass and --keyring "
						    "exclude each other");
	} else if (src->file && src->extpass)
		return cli_usage(spec->cmd, "--passphrase-file and --extpass exclude each other");
	if (argc - optind < spec->operands ||
	    argc - optind > (spec->operands_max ? spec->operands_max : spec->operands))
		return cli_usage(spec->cmd, "expected %s",
				 spec->operands_what ? spec->operands_what : "one STORE argument");
	return 0;
}

int cli_opts_parse(struct cli_opts *o, const struct cli_opts_spec *spec, void *arg, int argc,
		   char **argv)
{
	int c, rc = 0;

	*o = (struct cli_opts){.cost = vault_kdf_default()};
	opterr = 0; /* cli_bad_option says it in our words */
	while (rc == 0 && (c = getopt_long(argc, argv, spec->optstring ? spec->optstring : ":h",
					   spec->table, NULL)) != -1) {
		rc = spec->own ? spec->own(arg, c, optarg) : CLI_OPTS_NOT_MINE;
		if (rc == CLI_OPTS_NOT_MINE)
			rc = cli_opts_one(o, spec, c, argv);
	}
	if (rc == 0)
		rc = cli_opts_check(o, spec, argc);
	if (rc == 0) {
		o->args = argv + optind;
		o->nargs = argc - optind;
	}
	return rc;
}
