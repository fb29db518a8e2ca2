/*
 * checksum.c - the Internet checksum (RFC 1071).
 *
 * The sum is taken in the host's byte order over 64-bit words and swapped
 * once at the end: RFC 1071 2(B), byte-order independence, lets any word
 * size and either byte order be used as long as the final 16 bits are put
 * in network order. On x86-64 the words go through one add-with-carry
 * chain, 64 bytes per loop (about 0.2 instructions a byte, where 32-bit
 * big-endian loads took 1.25); elsewhere a 128-bit accumulator keeps the
 * carries, which the compiler turns into add/adc pairs. The odd tail (up
 * to 7 bytes) is loaded into a zeroed word in memory order, which is the
 * zero padding of RFC 1071 in either byte order. (USTACK_CSUM_PORTABLE
 * forces the portable loop, for testing it on x86-64.)
 *
 * May touch: nothing but the bytes they are given (pure functions).
 */
#include <string.h>

#include "wire/checksum.h"

static uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* One's-complement sum (end-around carry) of the 64-bit words in p,
 * len a multiple of 64, added to s. */
static uint64_t sum_blocks(const uint8_t *p, size_t len, uint64_t s)
{
#if defined(__x86_64__) && defined(__GNUC__) && !defined(USTACK_CSUM_PORTABLE)
	for (; len >= 64; p += 64, len -= 64)
		__asm__("addq 0(%[p]), %[s]\n\t"
			"adcq 8(%[p]), %[s]\n\t"
			"adcq 16(%[p]), %[s]\n\t"
			"adcq 24(%[p]), %[s]\n\t"
			"adcq 32(%[p]), %[s]\n\t"
			"adcq 40(%[p]), %[s]\n\t"
			"adcq 48(%[p]), %[s]\n\t"
			"adcq 56(%[p]), %[s]\n\t"
			"adcq $0, %[s]"
			: [s] "+r"(s)
			: [p] "r"(p), "m"(*(const uint8_t(*)[64])p)
			: "cc");
	return s;
#else
	unsigned __int128 acc = s;

	for (; len >= 64; p += 64, len -= 64)
		acc += (unsigned __int128)load64(p) + load64(p + 8) +
		       load64(p + 16) + load64(p + 24) + load64(p + 32) +
		       load64(p + 40) + load64(p + 48) + load64(p + 56);
	s = (uint64_t)acc;
	acc = (unsigned __int128)s + (uint64_t)(acc >> 64);
	return (uint64_t)acc + (uint64_t)(acc >> 64);
#endif
}

static uint64_t add64(uint64_t a, uint64_t b)
{
	uint64_t s = a + b;

	return s + (s < a); /* end-around carry */
}

/* Fold a native-order 64-bit sum to 16 bits, in network order. */
static uint32_t fold_to_be16(uint64_t s)
{
	uint32_t r;

	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	r = (uint32_t)s;
	r = (r & 0xffff) + (r >> 16);
	r = (r & 0xffff) + (r >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	r = ((r & 0xff) << 8) | (r >> 8);
#endif
	return r;
}

uint32_t csum_partial(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	size_t blocks = len & ~(size_t)63;
	uint64_t s = sum_blocks(p, blocks, 0);

	p += blocks;
	len -= blocks;
	for (; len >= 8; p += 8, len -= 8)
		s = add64(s, load64(p));
	if (len) {
		uint64_t t = 0;

		memcpy(&t, p, len);
		s = add64(s, t);
	}
	return csum_add(fold_to_be16(s), sum);
}

uint32_t csum_partial_at(const void *buf, size_t len, size_t offset,
			 uint32_t sum)
{
	uint32_t s = csum_partial(buf, len, 0);

	if (offset & 1) {
		s = (s & 0xffff) + (s >> 16);
		s = (s & 0xffff) + (s >> 16);
		s = ((s & 0xff) << 8) | (s >> 8);
	}
	return csum_add(sum, s);
}
