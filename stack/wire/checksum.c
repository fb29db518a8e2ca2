/*
 * checksum.c - the Internet checksum (RFC 1071).
 *
 * Adds 32-bit big-endian loads into a 64-bit accumulator (carries can not
 * overflow for any length we handle), then folds. This is the byte-order
 * independent form of RFC 1071 4.1 with a wider accumulator; the bytes are
 * loaded big-endian so the result needs no swap on any host.
 */
#include "wire/checksum.h"
#include "wire/bytes.h"

static uint32_t fold64(uint64_t s)
{
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

uint32_t csum_partial(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	uint64_t s = sum;

	while (len >= 32) {
		s += be32_load(p) + (uint64_t)be32_load(p + 4) +
		     be32_load(p + 8) + (uint64_t)be32_load(p + 12) +
		     be32_load(p + 16) + (uint64_t)be32_load(p + 20) +
		     be32_load(p + 24) + (uint64_t)be32_load(p + 28);
		p += 32;
		len -= 32;
	}
	while (len >= 4) {
		s += be32_load(p);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		s += be16_load(p);
		p += 2;
		len -= 2;
	}
	if (len)
		s += (uint32_t)p[0] << 8; /* odd byte: pad with zero (RFC 1071) */
	return fold64(s);
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
