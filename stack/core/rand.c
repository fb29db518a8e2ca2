/*
 * rand.c - SipHash-2-4 (Aumasson and Bernstein, 2012) and the stack's keyed
 * generator built on it (see rand.h).
 *
 * May touch: only a struct rand_state.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "core/rand.h"

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

/* n (<= 8) little-endian bytes: one load, not a byte loop (a SYN flood
 * pays two hashes per segment: 4-tuple lookup and cookie). */
static inline uint64_t load_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	memcpy(&v, p, n);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline uint64_t load64_le(const uint8_t *p)
{
	return load_le(p, 8);
}

#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);      \
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                         \
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                         \
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);      \
	} while (0)

uint64_t siphash24(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = load64_le(key), k1 = load64_le(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56;
	size_t i, full = len & ~(size_t)7;

	for (i = 0; i < full; i += 8) {
		uint64_t m = load64_le(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	b |= load_le(in + full, len & 7);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static void expand(struct rand_state *r, const uint8_t seed[16])
{
	static const uint8_t k_stream[16] = "ustack-rand-key1";
	static const uint8_t k_hash[16] = "ustack-hash-key2";
	uint64_t a = siphash24(seed, k_stream, 16), b = siphash24(seed, k_hash, 16);
	uint64_t c = siphash24(seed, "stream-2", 8), d = siphash24(seed, "hash---2", 8);

	memcpy(r->key, &a, 8);
	memcpy(r->key + 8, &c, 8);
	memcpy(r->hash_key, &b, 8);
	memcpy(r->hash_key + 8, &d, 8);
	r->counter = 0;
}

void rand_seed(struct rand_state *r, uint64_t seed)
{
	uint8_t s[16] = {0};

	for (int i = 0; i < 8; i++)
		s[i] = (uint8_t)(seed >> (8 * i));
	expand(r, s);
}

int rand_seed_os(struct rand_state *r)
{
	uint8_t s[16];
	ssize_t n = getrandom(s, sizeof(s), 0);

	if (n != (ssize_t)sizeof(s))
		return n < 0 ? -errno : -EIO;
	expand(r, s);
	return 0;
}

uint64_t rand_u64(struct rand_state *r)
{
	uint64_t c = r->counter++;
	return siphash24(r->key, &c, sizeof(c));
}

uint64_t rand_hash(const struct rand_state *r, const void *data, size_t len)
{
	return siphash24(r->hash_key, data, len);
}
