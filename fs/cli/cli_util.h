/* cli_util.h - what every sealfs command shares: one-line error messages,
 * number parsing, opening the store, loading and saving the vault config,
 * turning unlock errors into messages, and switching core dumps off.
 *
 * Convention: functions returning int here return 0 on success or an exit
 * code (exitcodes.h) after printing exactly one line "sealfs: <what failed>:
 * <why>" to stderr. They never print names of files inside the vault,
 * contents or keys. */
#ifndef SEALFS_CLI_UTIL_H
#define SEALFS_CLI_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "backend.h"
#include "exitcodes.h"
#include "vault.h"

#define CLI_ERR_BYTES 512 /* room for a one-line reason from a lower layer */

/* strerror(err) (err positive) with a lower-case first letter, as every
 * message here is. Borrowed; valid until the next call; not thread-safe
 * (the CLI runs single-threaded). */
const char *cli_why(int err);

/* Prints "sealfs: <formatted>\n" to stderr and returns code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A usage error for command cmd (NULL: the top level): prints the line and a
 * hint to run --help; returns EXITCODE_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The usage error for what getopt_long (opterr 0, optstring starting with
 * ':') returned as c: ':' a missing value, else an unknown option. */
int cli_bad_option(const char *cmd, int c, char **argv);

/* Parses a decimal number in [min, max] given to option opt into *out. */
int cli_parse_ull(unsigned long long *out, const char *opt, const char *text,
		  unsigned long long min, unsigned long long max);

/* The retention window of a format-2 vault (docs/CLI.md: init and config):
 * history kept 0..CLI_KEEP_DAYS_MAX days, a deletion grace of
 * 0..CLI_GRACE_MAX_S seconds. Each parses text given to opt into seconds:
 * 0, or a usage error as cli_parse_ull. */
#define CLI_KEEP_DAYS_MAX 3650ull
#define CLI_GRACE_MAX_S (30ull * 86400)
int cli_parse_keep_days(uint64_t *keep_s, const char *opt, const char *text);
int cli_parse_grace(uint64_t *grace_s, const char *opt, const char *text);

/* The Argon2id cost options of init, passwd and recover: c is 'm'
 * (--kdf-memlimit MIB, 1 MiB to 1 TiB: more is a typo) or 'o'
 * (--kdf-opslimit N, libsodium's range); sets that half of *cost. 0, or a
 * usage error as cli_usage. */
int cli_parse_kdf_option(struct vault_kdf_cost *cost, int c, const char *text);

/* The floor of a passphrase keyslot's Argon2id cost: libsodium's
 * INTERACTIVE (64 MiB, 2 passes). Below it, guessing passphrases offline
 * from a copy of sealfs.json gets cheap. */
#define CLI_KDF_FLOOR_MEMLIMIT ((size_t)crypto_pwhash_MEMLIMIT_INTERACTIVE)
#define CLI_KDF_FLOOR_OPSLIMIT ((unsigned long long)crypto_pwhash_OPSLIMIT_INTERACTIVE)
/* The option that lets init, passwd and recover go below the floor: for the
 * test suites only (docs/CLI.md). */
#define CLI_INSECURE_TEST_KDF "insecure-test-kdf"

/* Refuses a cost below the floor (usage error, exit 1) unless
 * insecure_test (--insecure-test-kdf) was given; cmd names the command. */
int cli_kdf_floor(const char *cmd, const struct vault_kdf_cost *cost, bool insecure_test);

/* Prints a new recovery key to stdout, once, with write(2) (no stdio buffer
 * keeps a copy), with the advice to write it down. */
void cli_show_recovery(const char *recovery);

/* Parses a size given to option opt: a whole number of bytes with an
 * optional K, M, G or T (binary multiples, either case), at least min
 * (min_text says it in the message). Usage errors as cli_usage. */
int cli_parse_size(unsigned long long *out, const char *opt, const char *text,
		   unsigned long long min, const char *min_text);

/* backend_opts.secrets_unlocked of every store the CLI opens: logs the
 * refusal (once per store: the pool calls it once). */
void cli_secrets_unlocked(void *arg, int err, size_t bytes);

/* Prints why backend_open (result rc, reason err or NULL) failed for url. */
int cli_store_error(int rc, const char *url, const char *err);

/* --insecure-http: the stores this process opens may use plain http:// to
 * an S3 endpoint on another host (backend_opts.insecure_http). */
void cli_store_allow_insecure_http(void);
/* The backend options every command opens a store with. */
struct backend_opts cli_store_opts(void);
/* Opens the store named by url (create: mkdir -p a missing local directory).
 * *out is new (backend_destroy). */
int cli_store_open(struct backend **out, const char *url, bool create);

/* Reads and parses STORE/sealfs.json. Missing or not a config: "'url' is not
 * a sealfs vault" (EXITCODE_NOT_VAULT); newer format: EXITCODE_NEWER_FORMAT;
 * a cipher this CPU cannot run: EXITCODE_NEWER_FORMAT too. *out is new. */
int cli_config_load(struct vault_config **out, struct backend *store, const char *url);

/* Serialises cfg and writes it to STORE/sealfs.json (the store's put is
 * atomic), then syncs the store. */
int cli_config_save(struct backend *store, const struct vault_config *cfg);

/* Turns the result of vault_unlock_* (negative errno) into a message and exit
 * code; what names the secret ("passphrase", "recovery key"). rc must be < 0. */
int cli_unlock_error(int rc, const char *what);

/* Core dumps off for this process and its children: RLIMIT_CORE 0 and not
 * dumpable (which also keeps other users' ptrace and /proc/PID/mem out).
 * Call before any secret is read. */
void cli_harden(void);

/* The cache `sealfs mount` uses for vault_id without --cache:
 * $XDG_CACHE_HOME/sealfs/ID, else ~/.cache/sealfs/ID (ID in hex). out holds
 * PATH_MAX bytes. 0, or -ENAMETOOLONG. */
int cli_cache_default(char *out, const uint8_t vault_id[OBJECT_ID_BYTES]);
/* mkdir -p with mode 0700 for the missing parts. 0 or -errno. */
int cli_mkdirs(const char *path);

/* Whether s is "-h" or "--help". */
bool cli_is_help(const char *s);

/* Whether url names a local directory (a path or file://); *path gets the
 * directory part (borrowed from url). */
bool cli_local_path(const char *url, const char **path);

/* Fails unless the real path mnt is a fuse.sealfs mount point: "'arg' is
 * not mounted" or "'arg' is not a sealfs mount (it is TYPE)" with
 * EXITCODE_MOUNTPOINT. */
int cli_check_sealfs_mount(const char *arg, const char *mnt);

/* The commands. argv[0] is the command name; each returns an exit code. */
int cli_init_main(int argc, char **argv);	 /* cli_init.c */
int cli_init_info_main(int argc, char **argv);	 /* cli_info.c */
int cli_mount_main(int argc, char **argv);	 /* cli_mount.c */
int cli_unmount_main(int argc, char **argv);	 /* cli_unmount.c */
int cli_keys_passwd_main(int argc, char **argv); /* cli_keys.c */
int cli_keys_recover_main(int argc, char **argv);
int cli_keys_recovery_key_main(int argc, char **argv);
int cli_status_main(int argc, char **argv); /* cli_status.c */
int cli_status_sync_main(int argc, char **argv);
int cli_fsck_main(int argc, char **argv);    /* cli_fsck.c */
int cli_upgrade_main(int argc, char **argv); /* cli_upgrade.c */
int cli_history_main(int argc, char **argv); /* cli_history.c */
int cli_restore_main(int argc, char **argv); /* cli_restore.c */
int cli_config_main(int argc, char **argv);  /* cli_config.c */

#endif
