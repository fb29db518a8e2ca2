/*
 * arp.h - ARP packet for Ethernet and IPv4 (RFC 826).
 *
 *   offset size  field
 *    0      2    hardware type (1 = Ethernet)
 *    2      2    protocol type (0x0800 = IPv4)
 *    4      1    hardware address length (6)
 *    5      1    protocol address length (4)
 *    6      2    operation (1 request, 2 reply)
 *    8      6    sender hardware address
 *   14      4    sender protocol address
 *   18      6    target hardware address
 *   24      4    target protocol address
 *   28           (end; anything after is Ethernet padding)
 */
#ifndef USTACK_WIRE_ARP_H
#define USTACK_WIRE_ARP_H

#include <stdint.h>
#include <string.h>

#include "wire/bytes.h"

#define ARP_LEN 28
#define ARP_OFF_HTYPE 0
#define ARP_OFF_PTYPE 2
#define ARP_OFF_HLEN 4
#define ARP_OFF_PLEN 5
#define ARP_OFF_OP 6
#define ARP_OFF_SHA 8
#define ARP_OFF_SPA 14
#define ARP_OFF_THA 18
#define ARP_OFF_TPA 24

#define ARP_HTYPE_ETHER 1
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

static inline uint16_t arp_op(const uint8_t *p) { return be16_load(p + ARP_OFF_OP); }
static inline const uint8_t *arp_sha(const uint8_t *p) { return p + ARP_OFF_SHA; }
static inline uint32_t arp_spa(const uint8_t *p) { return be32_load(p + ARP_OFF_SPA); }
static inline const uint8_t *arp_tha(const uint8_t *p) { return p + ARP_OFF_THA; }
static inline uint32_t arp_tpa(const uint8_t *p) { return be32_load(p + ARP_OFF_TPA); }

/* A well-formed Ethernet/IPv4 ARP packet of at least len bytes? */
static inline int arp_check(const uint8_t *p, size_t len)
{
	return len >= ARP_LEN && be16_load(p + ARP_OFF_HTYPE) == ARP_HTYPE_ETHER &&
	       be16_load(p + ARP_OFF_PTYPE) == 0x0800 && p[ARP_OFF_HLEN] == 6 &&
	       p[ARP_OFF_PLEN] == 4;
}

static inline void arp_emit(uint8_t *p, uint16_t op, const uint8_t sha[6],
			    uint32_t spa, const uint8_t tha[6], uint32_t tpa)
{
	be16_store(p + ARP_OFF_HTYPE, ARP_HTYPE_ETHER);
	be16_store(p + ARP_OFF_PTYPE, 0x0800);
	p[ARP_OFF_HLEN] = 6;
	p[ARP_OFF_PLEN] = 4;
	be16_store(p + ARP_OFF_OP, op);
	memcpy(p + ARP_OFF_SHA, sha, 6);
	be32_store(p + ARP_OFF_SPA, spa);
	memcpy(p + ARP_OFF_THA, tha, 6);
	be32_store(p + ARP_OFF_TPA, tpa);
}

#endif
