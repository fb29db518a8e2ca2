/*
 * eth.h - Ethernet II header (RFC 894).
 *
 *   offset size  field
 *    0      6    destination address
 *    6      6    source address
 *   12      2    ethertype (>= 0x0600; smaller values are 802.3 lengths)
 *   14           payload (46..1500 bytes on the wire; TAP frames may be
 *                shorter, the stack does not pad what it sends)
 */
#ifndef USTACK_WIRE_ETH_H
#define USTACK_WIRE_ETH_H

#include <stdint.h>
#include <string.h>

#include "wire/bytes.h"

#define ETH_ALEN 6
#define ETH_HDR_LEN 14
#define ETH_OFF_DST 0
#define ETH_OFF_SRC 6
#define ETH_OFF_TYPE 12

#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP 0x0806
#define ETH_TYPE_VLAN 0x8100
#define ETH_TYPE_QINQ 0x88a8
#define ETH_TYPE_IPV6 0x86dd

static inline const uint8_t *eth_dst(const uint8_t *h) { return h + ETH_OFF_DST; }
static inline const uint8_t *eth_src(const uint8_t *h) { return h + ETH_OFF_SRC; }
static inline uint16_t eth_type(const uint8_t *h) { return be16_load(h + ETH_OFF_TYPE); }

static inline void eth_emit(uint8_t *h, const uint8_t dst[6],
			    const uint8_t src[6], uint16_t type)
{
	memcpy(h + ETH_OFF_DST, dst, ETH_ALEN);
	memcpy(h + ETH_OFF_SRC, src, ETH_ALEN);
	be16_store(h + ETH_OFF_TYPE, type);
}

static inline int eth_is_broadcast(const uint8_t *a)
{
	return (a[0] & a[1] & a[2] & a[3] & a[4] & a[5]) == 0xff;
}

static inline int eth_is_multicast(const uint8_t *a)
{
	return a[0] & 1; /* I/G bit; includes broadcast */
}

static inline int eth_is_zero(const uint8_t *a)
{
	return (a[0] | a[1] | a[2] | a[3] | a[4] | a[5]) == 0;
}

static const uint8_t ETH_BROADCAST[ETH_ALEN] = {0xff, 0xff, 0xff,
						0xff, 0xff, 0xff};

#endif
