/*
 * checksum.h - the Internet checksum (RFC 1071) and the TCP/UDP pseudo
 * header (RFC 768, RFC 9293 3.1).
 *
 * csum_partial() accumulates a 32-bit one's-complement sum over any number of
 * bytes; sums of pieces combine with csum_add() as long as every piece but
 * the last has even length (or use csum_partial_at() with the piece's offset
 * in the whole). csum_fold() folds and complements to the 16-bit field value.
 * A received header or segment is valid when the fold of its sum (checksum
 * field included) is 0.
 */
#ifndef USTACK_WIRE_CHECKSUM_H
#define USTACK_WIRE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* Sum of buf as 16-bit big-endian words, added to `sum`. */
uint32_t csum_partial(const void *buf, size_t len, uint32_t sum);

/* As csum_partial, for a piece that starts at byte `offset` of the whole
 * (an odd offset swaps the bytes of the piece's sum, RFC 1071 2(B)). */
uint32_t csum_partial_at(const void *buf, size_t len, size_t offset,
			 uint32_t sum);

static inline uint32_t csum_add(uint32_t a, uint32_t b)
{
	uint32_t s = a + b;
	return s + (s < a); /* end-around carry */
}

/* Fold to 16 bits and complement: the value to store in a header. */
static inline uint16_t csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Pseudo header sum: addresses in host order, length of the L4 segment. */
static inline uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto,
				   uint32_t len)
{
	uint32_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) +
		     (dst & 0xffff) + proto + (len >> 16) + (len & 0xffff);
	return s;
}

/* Checksum over buf (e.g. an IPv4 header): store or verify (== 0). */
static inline uint16_t csum_buf(const void *buf, size_t len)
{
	return csum_fold(csum_partial(buf, len, 0));
}

/*
 * The same for an IPv4 header (len a multiple of 4, 20..60), inline: five
 * to fifteen 32-bit words summed in host order and swapped once (RFC 1071
 * 2(B)), a fraction of a call to csum_partial for every packet.
 */
static inline uint16_t csum_ip4_hdr(const void *h, unsigned len)
{
	const uint8_t *p = (const uint8_t *)h;
	uint64_t s = 0;
	uint32_t w, r;

	for (unsigned i = 0; i < len; i += 4) {
		__builtin_memcpy(&w, p + i, 4);
		s += w;
	}
	s = (s & 0xffffffffu) + (s >> 32);
	r = (uint32_t)((s & 0xffff) + (s >> 16));
	r = (r & 0xffff) + (r >> 16);
	r = (r & 0xffff) + (r >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	r = ((r & 0xff) << 8) | ((r >> 8) & 0xff);
#endif
	return (uint16_t)~r;
}

#endif
