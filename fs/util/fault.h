/* fault.h - the test-only failure hook: fault_fire(site) says "fail here",
 * at random with a fixed seed, so the mount tests can prove that every
 * internal failure on a write path reaches the writing program and the log
 * (docs/INTERNALS.md, "Errors"). Compiled in only with meson's
 * -Dfault_injection=true (SEALFS_FAULT_INJECTION); otherwise fault_fire is a
 * constant false and costs nothing. It must never be enabled in a release
 * build, never fire before fault_arm, and never fire without logging it.
 *
 * Runtime: the environment variable SEALFS_FAULT, read once by fault_setup
 * when the daemon starts, e.g.
 *   SEALFS_FAULT="seed=123,ppm=2000,sites=alloc,cache,journal,crypto,after=50,max=20"
 * seed: the PRNG seed (default 1); ppm: chance of firing per call, in
 * millionths (default 0: never); sites: which of alloc, cache, journal,
 * crypto (or all) may fire, separated by ',' or '+'; after: calls to let
 * pass first; max: stop after this many faults (default unlimited); slot:
 * the history's first-tier slot in seconds (fault_slot; no fault fires for
 * it); die: a named point where the process ends (fault_die).
 * Thread-safe: one atomic call counter; the decision for call n is a hash of
 * (seed, n). */
#ifndef SEALFS_FAULT_H
#define SEALFS_FAULT_H

#include <stdbool.h>
#include <stdint.h>

enum fault_site {
	FAULT_ALLOC,   /* malloc/calloc/realloc of a write path, a file key's derivation */
	FAULT_CACHE,   /* writing, flushing, creating or renaming a cache file */
	FAULT_JOURNAL, /* writing a journal record */
	FAULT_CRYPTO,  /* sealing a chunk or a directory object */
	FAULT_NSITES
};

#ifdef SEALFS_FAULT_INJECTION
#define FAULT_INJECTION 1
/* Reads SEALFS_FAULT. 0, or -EINVAL for a malformed value (logged). */
int fault_setup(void);
/* From now on faults may fire (the mount is up). */
void fault_arm(void);
/* From now on no fault fires (e.g. around a step that must not fail). */
void fault_disarm(void);
/* True when the caller must fail now; logs one line naming the site, the
 * fault's number and the calling function (never a name or a key). */
bool fault_fire_at(enum fault_site site, const char *func);
#define fault_fire(site) fault_fire_at((site), __func__)
/* Test-only: SEALFS_FAULT "slot=N" sets the history's first-tier slot to N
 * seconds (0: every commit is a retained head), so the mount tests get one
 * retained head per commit. True (and *slot set) when given. */
bool fault_slot(uint32_t *slot);
/* Test-only: SEALFS_FAULT "die=POINT" makes fault_die(POINT) true (logged),
 * once: the caller then ends the process at that point, as a crash would
 * (a kill between two steps no signal can time). Not armed by fault_arm. */
bool fault_die(const char *point);
#else
#define FAULT_INJECTION 0
static inline int fault_setup(void) { return 0; }
static inline void fault_arm(void) {}
static inline void fault_disarm(void) {}
static inline bool fault_fire(enum fault_site site)
{
	(void)site;
	return false;
}
static inline bool fault_slot(uint32_t *slot)
{
	(void)slot;
	return false;
}
static inline bool fault_die(const char *point)
{
	(void)point;
	return false;
}
#endif

#endif
