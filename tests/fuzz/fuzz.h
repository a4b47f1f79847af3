/* fuzz.h - the libFuzzer entry point every target defines; replay.c calls it
 * for each corpus file when the fuzzer itself is not built. */
#ifndef SEALFS_FUZZ_H
#define SEALFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the process on a broken invariant, so the fuzzer records the input. */
#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

#endif
