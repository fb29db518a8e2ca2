/*
 * wire.h - header layouts for the programs that decode captures
 * (ustack-replay, ustack-draw): named offsets of Ethernet, ARP, IPv4, ICMP,
 * UDP and TCP headers, big-endian loads, and bounds-checked parsers for an
 * IPv4 header, a TCP header and TCP options.
 *
 * Apps see only the public headers, not the stack's stack/wire/ (which is
 * internal and may change with the stack); this is the apps' own read-only
 * copy of the layouts, with the RFC sections they come from. Nothing here
 * writes a frame.
 *
 * May touch: nothing but the bytes it is given.
 */
#ifndef USTACK_APPS_WIRE_H
#define USTACK_APPS_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* Ethernet II (IEEE 802.3): dst 6, src 6, type 2; an 802.1Q tag is 4. */
#define ETH_OFF_DST 0
#define ETH_OFF_SRC 6
#define ETH_OFF_TYPE 12
#define ETH_HDR_LEN 14
#define ETH_ADDR_LEN 6
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP 0x0806
#define ETH_TYPE_VLAN 0x8100
#define VLAN_HDR_LEN 4

/* ARP for IPv4 over Ethernet (RFC 826). */
#define ARP_OFF_HTYPE 0
#define ARP_OFF_PTYPE 2
#define ARP_OFF_HLEN 4
#define ARP_OFF_PLEN 5
#define ARP_OFF_OP 6
#define ARP_OFF_SHA 8
#define ARP_OFF_SPA 14
#define ARP_OFF_THA 18
#define ARP_OFF_TPA 24
#define ARP_LEN 28
#define ARP_OP_REQUEST 1

/* IPv4 (RFC 791 3.1). */
#define IP4_OFF_VER_IHL 0
#define IP4_OFF_TOS 1
#define IP4_OFF_TOTAL_LEN 2
#define IP4_OFF_ID 4
#define IP4_OFF_FRAG 6
#define IP4_OFF_TTL 8
#define IP4_OFF_PROTO 9
#define IP4_OFF_CSUM 10
#define IP4_OFF_SRC 12
#define IP4_OFF_DST 16
#define IP4_MIN_LEN 20
#define IP4_ADDR_LEN 4
#define IP4_VERSION 4
#define IP4_FLAG_DF 0x4000
#define IP4_FLAG_MF 0x2000
#define IP4_FRAG_OFFSET_MASK 0x1fff
#define IP4_FRAG_UNIT 8              /* the offset counts 8-byte units */
#define IP4_PROTO_ICMP 1
#define IP4_PROTO_TCP 6
#define IP4_PROTO_UDP 17

/* ICMP (RFC 792): type, code, checksum, then 4 bytes that depend on the
 * type (id and sequence for echo), then data (for errors, the original
 * IP header and 8 bytes of it). */
#define ICMP_OFF_TYPE 0
#define ICMP_OFF_CODE 1
#define ICMP_OFF_CSUM 2
#define ICMP_OFF_ID 4
#define ICMP_OFF_SEQ 6
#define ICMP_OFF_REST 4
#define ICMP_HDR_LEN 8
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8

/* UDP (RFC 768). */
#define UDP_OFF_SPORT 0
#define UDP_OFF_DPORT 2
#define UDP_OFF_LEN 4
#define UDP_OFF_CSUM 6
#define UDP_HDR_LEN 8

/* TCP (RFC 9293 3.1). */
#define TCP_OFF_SPORT 0
#define TCP_OFF_DPORT 2
#define TCP_OFF_SEQ 4
#define TCP_OFF_ACK 8
#define TCP_OFF_DOFF 12
#define TCP_OFF_FLAGS 13
#define TCP_OFF_WIN 14
#define TCP_OFF_CSUM 16
#define TCP_OFF_URP 18
#define TCP_MIN_LEN 20
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20
#define TH_ECE 0x40
#define TH_CWR 0x80

/* TCP options: kinds and lengths (RFC 9293 3.2, RFC 7323, RFC 2018). */
#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WS 3
#define TCPOPT_SACK_OK 4
#define TCPOPT_SACK 5
#define TCPOPT_TS 8
#define TCPOLEN_MSS 4
#define TCPOLEN_WS 3
#define TCPOLEN_SACK_OK 2
#define TCPOLEN_TS 10
#define TCPOLEN_SACK_BLOCK 8
#define TCP_WS_MAX 14                 /* RFC 7323 2.3 */

static inline uint16_t wire_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t wire_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* An IPv4 header that wire_ip4_parse() checked. */
struct wire_ip4 {
	uint32_t hlen;               /* header length (IHL * 4), >= 20 */
	uint32_t total;              /* the total-length field */
	uint32_t end;                /* bytes of the datagram captured: total
					when it fits in caplen, else caplen
					(Ethernet padding is not counted) */
	uint16_t frag;               /* flags and fragment offset field */
	uint8_t proto;
};

/* Check an IPv4 header at p (caplen bytes there): version 4, 20 <= IHL*4
 * <= caplen. Returns 0, or -1 if it is not such a header. The total
 * length is reported, not checked (a decoder shows what is wrong). */
int wire_ip4_parse(const uint8_t *p, size_t caplen, struct wire_ip4 *ip);

/* A TCP header that wire_tcp_parse() checked. */
struct wire_tcp {
	uint32_t seq, ack;
	uint32_t doff;               /* header length (data offset * 4) */
	uint16_t sport, dport, win;
	uint8_t flags;
};

/* Read the fixed TCP header at t (len bytes there). Returns 0 when all 20
 * bytes are there, -1 otherwise. doff is as sent: the caller checks
 * 20 <= doff <= len before it reads options or payload. */
int wire_tcp_parse(const uint8_t *t, size_t len, struct wire_tcp *th);

/* One TCP option, as wire_tcpopt_next() found it. */
struct wire_tcpopt {
	uint32_t off;                /* from the start of the options */
	uint8_t kind;
	uint8_t len;                 /* 1 for EOL and NOP */
	const uint8_t *val;          /* len - 2 bytes after kind and length */
};

/* Walk the n bytes of options at o from *pos. Returns 1 with the next
 * option in *opt (EOL and NOP included; the caller stops after EOL), 0 at
 * the end, or -1 for a malformed option (length < 2 or past the end; opt
 * then holds its kind, offset and the length byte or 0). Never reads past
 * o + n. */
int wire_tcpopt_next(const uint8_t *o, size_t n, size_t *pos,
		     struct wire_tcpopt *opt);

#endif
