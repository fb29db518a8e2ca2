/*
 * rand.h - the stack's keyed generator (SipHash-2-4).
 *
 * All randomness (ISNs, ephemeral ports, IP ids, SYN cookie secrets, ARP
 * jitter) comes from here: a 128-bit key in the context, seeded from the OS
 * in production and from cfg.seed in tests, so runs are reproducible.
 * rand_u64() is SipHash of a counter; rand_hash() hashes caller data under a
 * second key (e.g. a 4-tuple for RFC 6528 ISNs or RFC 6056 ports), so the
 * same input gives the same value for the life of the stack.
 */
#ifndef USTACK_CORE_RAND_H
#define USTACK_CORE_RAND_H

#include <stddef.h>
#include <stdint.h>

struct rand_state {
	uint8_t key[16];       /* for the counter stream */
	uint8_t hash_key[16];  /* for rand_hash() */
	uint64_t counter;
};

uint64_t siphash24(const uint8_t key[16], const void *data, size_t len);

void rand_seed(struct rand_state *r, uint64_t seed);
/* Seed from getrandom(2). Returns 0 or -errno. */
int rand_seed_os(struct rand_state *r);

uint64_t rand_u64(struct rand_state *r);
static inline uint32_t rand_u32(struct rand_state *r) { return (uint32_t)rand_u64(r); }
/* Uniform in [0, n) (n > 0), without modulo bias worth speaking of for
 * n < 2^32. */
static inline uint32_t rand_below(struct rand_state *r, uint32_t n)
{
	return (uint32_t)(((rand_u64(r) >> 32) * (uint64_t)n) >> 32);
}
uint64_t rand_hash(const struct rand_state *r, const void *data, size_t len);

#endif
