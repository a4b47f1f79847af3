/* fuzz_vault_config.c - vault_config_parse on any bytes; what parses must
 * serialise, describe and re-parse. Then an unlock with the recovery key of
 * tests/data/crypto/golden-aes256gcm (whose config is a seed), so mutants of
 * that seed run the keyslot and MAC paths cheaply (no Argon2 here). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vault_config *cfg = NULL, *again = NULL;
	struct vault_keys *keys = NULL;
	char desc[2048], *text = NULL;
	size_t len = 0;
	int r;

	r = vault_config_parse(&cfg, (const char *)data, size);
	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -EPROTONOSUPPORT || r == -ENOMEM);
	if (r != 0) {
		FUZZ_ASSERT(cfg == NULL);
		return 0;
	}
	FUZZ_ASSERT(vault_describe(cfg, desc, sizeof(desc)) == 0);
	FUZZ_ASSERT(vault_config_serialize(&text, &len, cfg) == 0);
	FUZZ_ASSERT(vault_config_parse(&again, text, len) == 0);
	FUZZ_ASSERT(memcmp(again->vault_id, cfg->vault_id, sizeof(cfg->vault_id)) == 0);
	r = vault_unlock_recovery(&keys, cfg, "71MT-SPC4-FCPE-EMNR-NM7S-0G76-CW22-W");
	FUZZ_ASSERT((r == 0) == (keys != NULL));
	FUZZ_ASSERT(r == 0 || r == -EACCES || r == -EBADMSG || r == -ENOMEM);
	vault_keys_free(keys);
	vault_config_free(again);
	vault_config_free(cfg);
	free(text);
	return 0;
}
