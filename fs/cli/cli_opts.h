/* cli_opts.h - the options several commands share, parsed by one piece of
 * code: where the secret comes from (--passphrase-file, --extpass,
 * --keyring), a new passphrase's Argon2id cost (--kdf-memlimit,
 * --kdf-opslimit, --insecure-test-kdf), --help, and the checks once getopt
 * is done (sources that exclude each other, the KDF floor, the number of
 * operands). A command describes its arguments in a cli_opts_spec and
 * parses its own options in a callback. Errors as cli_util.h: an exit code
 * after one line. Not thread-safe (getopt). */
#ifndef SEALFS_CLI_OPTS_H
#define SEALFS_CLI_OPTS_H

#include <getopt.h>
#include <stdbool.h>

#include "cli_util.h"
#include "cli_vault.h"

/* Entries for a command's getopt_long table. */
/* clang-format off */
#define CLI_OPTS_SECRET \
	{"passphrase-file", required_argument, NULL, 'p'}, \
	{"extpass", required_argument, NULL, 'x'}
#define CLI_OPTS_KDF \
	{"kdf-memlimit", required_argument, NULL, 'm'}, \
	{"kdf-opslimit", required_argument, NULL, 'o'}, \
	{CLI_INSECURE_TEST_KDF, no_argument, NULL, 'I'}
#define CLI_OPTS_KEYRING {"keyring", no_argument, NULL, 'K'}
/* Every command that opens a store takes --insecure-http (cli_util.h). */
#define CLI_OPTS_END \
	{"insecure-http", no_argument, NULL, 'H'}, \
	{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}
/* clang-format on */

/* What a command takes of the shared options. */
enum {
	CLI_TAKES_SECRET = 1,  /* CLI_OPTS_SECRET */
	CLI_TAKES_KEYRING = 2, /* CLI_OPTS_KEYRING */
	CLI_TAKES_KDF = 4,     /* CLI_OPTS_KDF */
};

/* What an own() returns for an option it leaves to the shared ones. */
#define CLI_OPTS_NOT_MINE (-2)

/* How one command parses its arguments. */
struct cli_opts_spec {
	const char *cmd;	    /* "mount", "passwd", ...: in messages */
	const char *usage;	    /* what --help prints */
	unsigned takes;		    /* CLI_TAKES_* */
	const char *optstring;	    /* getopt_long's, starting with ':' (NULL: ":h") */
	const struct option *table; /* getopt_long's */
	int operands;		    /* how many arguments are left after the options */
	int operands_max;	    /* up to this many (0: exactly operands) */
	const char *operands_what;  /* "expected <this>" when another number is (NULL:
				     * "one STORE argument") */
	/* The command's own options (NULL: none): 0, an exit code after a
	 * message, or CLI_OPTS_NOT_MINE. arg is cli_opts_parse's. */
	int (*own)(void *arg, int c, const char *val);
};

/* What the shared options gathered. */
struct cli_opts {
	struct cli_unlock unlock;   /* the secret's source */
	struct vault_kdf_cost cost; /* CLI_TAKES_KDF: vault_kdf_default() unless given */
	bool insecure_kdf;	    /* --insecure-test-kdf */
	char **args;		    /* the operands (spec->operands of them) */
	int nargs;		    /* how many (more than operands up to operands_max) */
};

/* Parses argv (argv[0] the command) by spec into *o (zeroed first), the
 * command's own options through spec->own(arg, ...). Then checks the KDF
 * floor, that one source of the secret at most was given, and the number
 * of operands. 0; -1 after printing the usage (--help); or a usage error
 * (an exit code, the line printed). */
int cli_opts_parse(struct cli_opts *o, const struct cli_opts_spec *spec, void *arg, int argc,
		   char **argv);

#endif
