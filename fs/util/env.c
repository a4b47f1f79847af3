/* env.c - tuning knobs from the environment (env.h). Never logs a value. */
#include "env.h"

#include <errno.h>
#include <stdlib.h>

#include "log.h"

uint64_t env_count(const char *name, uint64_t dflt, uint64_t max)
{
	const char *env = getenv(name);
	char *end;
	unsigned long long v;

	if (!env || !*env)
		return dflt;
	errno = 0;
	v = strtoull(env, &end, 10);
	if (errno || *end || *env < '0' || *env > '9' || v > max) {
		log_msg(LOG_WARNING, "%s is not a count up to %llu: the default, %llu", name,
			(unsigned long long)max, (unsigned long long)dflt);
		return dflt;
	}
	return (uint64_t)v;
}
