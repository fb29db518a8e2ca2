/*
 * ipv4.h - IPv4 header (RFC 791 3.1).
 *
 *   offset size  field
 *    0      1    version (4 bits, = 4) | IHL (4 bits, header length in
 *                32-bit words, >= 5)
 *    1      1    type of service (DSCP | ECN)
 *    2      2    total length (header + data, >= IHL*4)
 *    4      2    identification
 *    6      2    flags (3 bits: reserved, DF, MF) | fragment offset (13
 *                bits, in units of 8 bytes)
 *    8      1    time to live
 *    9      1    protocol (1 ICMP, 6 TCP, 17 UDP)
 *   10      2    header checksum (RFC 1071 over the header)
 *   12      4    source address
 *   16      4    destination address
 *   20    0-40   options (IHL > 5)
 */
#ifndef USTACK_WIRE_IPV4_H
#define USTACK_WIRE_IPV4_H

#include <stdint.h>

#include "wire/bytes.h"

#define IP4_HDR_LEN 20     /* without options */
#define IP4_HDR_MAX 60
#define IP4_OFF_VIHL 0
#define IP4_OFF_TOS 1
#define IP4_OFF_LEN 2
#define IP4_OFF_ID 4
#define IP4_OFF_FRAG 6
#define IP4_OFF_TTL 8
#define IP4_OFF_PROTO 9
#define IP4_OFF_CSUM 10
#define IP4_OFF_SRC 12
#define IP4_OFF_DST 16

#define IP4_FLAG_RF 0x8000
#define IP4_FLAG_DF 0x4000
#define IP4_FLAG_MF 0x2000
#define IP4_FRAG_MASK 0x1fff

#define IP4_PROTO_ICMP 1
#define IP4_PROTO_TCP 6
#define IP4_PROTO_UDP 17

#define IP4_DEFAULT_TTL 64
#define IP4_MAX_LEN 65535

static inline unsigned ip4_version(const uint8_t *h) { return h[0] >> 4; }
static inline unsigned ip4_hlen(const uint8_t *h) { return (h[0] & 0x0fu) * 4; }
static inline uint8_t ip4_tos(const uint8_t *h) { return h[IP4_OFF_TOS]; }
static inline uint16_t ip4_total_len(const uint8_t *h) { return be16_load(h + IP4_OFF_LEN); }
static inline uint16_t ip4_id(const uint8_t *h) { return be16_load(h + IP4_OFF_ID); }
static inline uint16_t ip4_frag_field(const uint8_t *h) { return be16_load(h + IP4_OFF_FRAG); }
/* Fragment offset in bytes. */
static inline uint32_t ip4_frag_off(const uint8_t *h) { return (uint32_t)(ip4_frag_field(h) & IP4_FRAG_MASK) * 8; }
static inline int ip4_mf(const uint8_t *h) { return (ip4_frag_field(h) & IP4_FLAG_MF) != 0; }
static inline int ip4_df(const uint8_t *h) { return (ip4_frag_field(h) & IP4_FLAG_DF) != 0; }
static inline uint8_t ip4_ttl(const uint8_t *h) { return h[IP4_OFF_TTL]; }
static inline uint8_t ip4_proto(const uint8_t *h) { return h[IP4_OFF_PROTO]; }
static inline uint32_t ip4_src(const uint8_t *h) { return be32_load(h + IP4_OFF_SRC); }
static inline uint32_t ip4_dst(const uint8_t *h) { return be32_load(h + IP4_OFF_DST); }

/* Address classes (host order). */
static inline int ip4_is_multicast(uint32_t a) { return (a >> 28) == 0xe; }
static inline int ip4_is_loopback(uint32_t a) { return (a >> 24) == 127; }
static inline int ip4_is_limited_bcast(uint32_t a) { return a == 0xffffffffu; }

static inline uint32_t ip4_prefix_mask(unsigned prefix_len)
{
	return prefix_len ? 0xffffffffu << (32 - prefix_len) : 0;
}

#endif
