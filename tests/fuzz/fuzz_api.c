/*
 * fuzz_api.c - libFuzzer entry point of the socket-API target (api.c).
 * Built by `make fuzz` with clang -fsanitize=fuzzer.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_api_one(data, size);
}
