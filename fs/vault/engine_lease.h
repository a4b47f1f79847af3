/* engine_lease.h - internal to the engine (fs/vault/engine*.c): asking a
 * store at mount whether it honours conditional writes, and taking the lease
 * (fs/vault/lease.h) of one that does not. Errors as engine.h. */
#ifndef SEALFS_ENGINE_LEASE_H
#define SEALFS_ENGINE_LEASE_H

#include <stddef.h>

#include "engine.h"
#include "head.h"

/* A read-write format-2 mount of a store that may ignore conditional
 * writes (BACKEND_CAP_PUT_IF_PROBE): the probe (e->cas), and when the store
 * ignores them the lease, this device's (dev: its id and name) unless
 * another device holds a live one and not o->force: then o->read_only is
 * set, with e->lease_read_only and e->lease_holder, and one line is logged.
 * A probe that fails, or a read-only mount (which does not probe), leaves
 * the lease WANTED: the uploader probes before a head put (a read-only
 * mount's backlog) and takes it then.
 * 0; -EMEDIUMTYPE --force on a format-1 vault; the store's errno reading or
 * writing the lease. */
int engine_lease_open(struct engine *e, struct backend *store, const struct vault_config *cfg,
		      const struct vault_keys *keys, struct engine_opts *o,
		      const struct head_state *dev, char *err, size_t size);

#endif
