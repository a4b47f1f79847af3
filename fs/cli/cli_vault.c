/* cli_vault.c - opening and unlocking an existing vault for the commands
 * (cli_vault.h). The secret lives in sodium_malloc memory only and is wiped
 * as soon as the unlock is done (unless the caller keeps it); it must never
 * be printed or copied anywhere else. */
#include "cli_vault.h"

#include <errno.h>

#include "cli_util.h"
#include "keyring.h"

int cli_secret_get(struct passphrase *out, const struct passphrase_src *src, const char *prompt,
		   bool confirm)
{
	char err[CLI_ERR_BYTES];
	int rc = passphrase_get(out, src, prompt, confirm, err, sizeof(err));

	if (rc)
		return cli_fail(rc == -EINTR ? EXITCODE_OTHER : EXITCODE_USAGE, "%s", err);
	return 0;
}

int cli_vault_open(struct cli_vault *v, const char *url)
{
	int rc;

	v->url = url;
	rc = cli_store_open(&v->store, url, false);
	if (rc == 0)
		rc = cli_config_load(&v->cfg, v->store, url);
	return rc;
}

/* The secret from the desktop keyring (any failure: EXITCODE_OTHER). */
static int cli_vault_from_keyring(struct passphrase *pass, const struct vault_config *cfg)
{
	char err[CLI_ERR_BYTES];

	return keyring_lookup(pass, cfg, err, sizeof(err)) ? cli_fail(EXITCODE_OTHER, "%s", err)
							   : 0;
}

int cli_vault_unlock(struct cli_vault *v, const struct cli_unlock *how, struct passphrase *keep)
{
	const char *prompt = how->prompt     ? how->prompt
			     : how->recovery ? "Recovery key: "
					     : "Passphrase: ";
	struct passphrase pass = {0};
	int rc;

	if (how->keyring)
		rc = cli_vault_from_keyring(&pass, v->cfg);
	else
		rc = cli_secret_get(&pass, &how->src, prompt, false);
	if (rc)
		return rc;
	if (how->recovery)
		rc = vault_unlock_recovery(&v->keys, v->cfg, pass.text);
	else
		rc = vault_unlock_passphrase(&v->keys, v->cfg, pass.text, pass.len);
	if (rc == 0 && keep)
		*keep = pass;
	else
		passphrase_free(&pass);
	return rc < 0 ? cli_unlock_error(rc, how->recovery ? "recovery key" : "passphrase") : 0;
}

int cli_vault_open_unlocked(struct cli_vault *v, const char *url, const struct cli_unlock *how,
			    struct passphrase *keep)
{
	int rc = cli_vault_open(v, url);

	return rc ? rc : cli_vault_unlock(v, how, keep);
}

void cli_vault_close(struct cli_vault *v)
{
	vault_keys_free(v->keys);
	vault_config_free(v->cfg);
	backend_destroy(v->store);
	*v = (struct cli_vault){0};
}
