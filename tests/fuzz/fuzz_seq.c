/*
 * fuzz_seq.c - libFuzzer entry point of the frame-sequence target
 * (targets.c). Built by `make fuzz` with clang -fsanitize=fuzzer.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_seq_one(data, size);
}
