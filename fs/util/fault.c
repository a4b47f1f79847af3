/* fault.c - the test-only failure hook (fault.h). Built only with
 * -Dfault_injection=true. It must never fire unless SEALFS_FAULT asked for
 * it and fault_arm was called, and must log every fault it fires. */
#include "fault.h"

#ifdef SEALFS_FAULT_INJECTION

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *const fault_names[FAULT_NSITES] = {"alloc", "cache", "journal", "crypto"};

/* Set by fault_setup before any other thread runs; read-only after. */
static struct {
	uint64_t seed, ppm, after, max, slot;
	bool has_slot;
	char die[32];	/* fault_die's point; "" none */
	unsigned sites; /* 1 << enum fault_site */
} fault_cfg = {.seed = 1, .max = UINT64_MAX};

static atomic_bool fault_armed;
static atomic_uint_fast64_t fault_calls, fault_fired;

/* splitmix64: a good 64-bit mix of (seed, n). */
static uint64_t fault_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static int fault_site_bits(const char *name, unsigned *bits)
{
	if (strcmp(name, "all") == 0) {
		*bits |= (1u << FAULT_NSITES) - 1;
		return 0;
	}
	for (unsigned i = 0; i < FAULT_NSITES; i++) {
		if (strcmp(name, fault_names[i]) == 0) {
			*bits |= 1u << i;
			return 0;
		}
	}
	return -EINVAL;
}

static int fault_number(const char *text, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(text, &end, 10);
	return errno || end == text || *end ? -EINVAL : 0;
}

/* One "key=value" or, after sites=, a further site name. */
static int fault_token(char *tok, bool *in_sites)
{
	char *eq = strchr(tok, '=');

	if (!eq)
		return *in_sites ? fault_site_bits(tok, &fault_cfg.sites) : -EINVAL;
	*eq = '\0';
	*in_sites = strcmp(tok, "sites") == 0;
	if (*in_sites) {
		for (char *s = strtok(eq + 1, "+"); s; s = strtok(NULL, "+"))
			if (fault_site_bits(s, &fault_cfg.sites) != 0)
				return -EINVAL;
		return 0;
	}
	if (strcmp(tok, "seed") == 0)
		return fault_number(eq + 1, &fault_cfg.seed);
	if (strcmp(tok, "ppm") == 0)
		return fault_number(eq + 1, &fault_cfg.ppm);
	if (strcmp(tok, "after") == 0)
		return fault_number(eq + 1, &fault_cfg.after);
	if (strcmp(tok, "max") == 0)
		return fault_number(eq + 1, &fault_cfg.max);
	if (strcmp(tok, "die") == 0) {
		if (strlen(eq + 1) >= sizeof(fault_cfg.die))
			return -EINVAL;
		strcpy(fault_cfg.die, eq + 1);
		return 0;
	}
	if (strcmp(tok, "slot") == 0) {
		fault_cfg.has_slot = true;
		return fault_number(eq + 1, &fault_cfg.slot);
	}
	return -EINVAL;
}

int fault_setup(void)
{
	const char *env = getenv("SEALFS_FAULT");
	char *copy, *save = NULL;
	bool in_sites = false;
	int r = 0;

	if (!env || !*env)
		return 0;
	copy = strdup(env);
	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok && r == 0;
	     tok = strtok_r(NULL, ",", &save))
		r = fault_token(tok, &in_sites);
	free(copy);
	if (r) {
		log_msg(LOG_ERR, "fault injection: SEALFS_FAULT is malformed; no faults");
		fault_cfg.ppm = 0;
		return r;
	}
	log_msg(LOG_WARNING,
		"fault injection: seed %" PRIu64 ", %" PRIu64 " ppm, sites mask %#x, after %" PRIu64
		" calls, at most %" PRIu64 " faults",
		fault_cfg.seed, fault_cfg.ppm, fault_cfg.sites, fault_cfg.after, fault_cfg.max);
	return 0;
}

bool fault_slot(uint32_t *slot)
{
	if (!fault_cfg.has_slot || fault_cfg.slot > UINT32_MAX)
		return false;
	*slot = (uint32_t)fault_cfg.slot;
	log_msg(LOG_WARNING, "fault injection: history slot %" PRIu32 " s (a test's)", *slot);
	return true;
}

bool fault_die(const char *point)
{
	static atomic_bool died;

	if (!fault_cfg.die[0] || strcmp(point, fault_cfg.die) != 0 || atomic_exchange(&died, true))
		return false;
	log_msg(LOG_WARNING, "fault injection: the process ends at %s", point);
	return true;
}

void fault_arm(void) { atomic_store(&fault_armed, fault_cfg.ppm > 0 && fault_cfg.sites != 0); }

void fault_disarm(void) { atomic_store(&fault_armed, false); }

bool fault_fire_at(enum fault_site site, const char *func)
{
	uint64_t n, k;

	if (!atomic_load_explicit(&fault_armed, memory_order_relaxed) ||
	    !(fault_cfg.sites & (1u << site)))
		return false;
	n = atomic_fetch_add(&fault_calls, 1);
	if (n < fault_cfg.after ||
	    fault_mix(fault_cfg.seed ^ fault_mix(n)) % 1000000u >= fault_cfg.ppm)
		return false;
	k = atomic_fetch_add(&fault_fired, 1);
	if (k >= fault_cfg.max)
		return false;
	log_msg(LOG_WARNING, "fault injection: %s fault %" PRIu64 " fired in %s", fault_names[site],
		k + 1, func);
	return true;
}

#endif
