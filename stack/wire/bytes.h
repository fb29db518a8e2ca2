/*
 * bytes.h - big-endian loads and stores on unaligned bytes.
 *
 * Wire headers are read and written only through these: never by casting
 * a packed struct over a buffer (alignment, and it hides length bugs).
 */
#ifndef USTACK_WIRE_BYTES_H
#define USTACK_WIRE_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint16_t be16_load(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t be32_load(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void be16_store(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void be32_store(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#endif
