/*
 * pkt.h - frame builders and parsers for tests: whole Ethernet frames with
 * correct checksums (or deliberately wrong ones), written into a caller's
 * buffer. Addresses in host byte order. Every builder returns the frame
 * length.
 */
#ifndef USTACK_TESTS_PKT_H
#define USTACK_TESTS_PKT_H

#include <stddef.h>
#include <stdint.h>

extern const uint8_t ETH_BCAST_MAC[6];

/* ARP: op 1 request / 2 reply. tha NULL: zeros. */
size_t pkt_arp(uint8_t *f, const uint8_t dst[6], const uint8_t src[6],
	       uint16_t op, const uint8_t sha[6], uint32_t spa,
	       const uint8_t tha[6], uint32_t tpa);

/* Description of an IPv4 header to build. */
struct pkt_ip {
	uint32_t src, dst;
	uint8_t proto, ttl, tos;
	uint16_t id;
	uint16_t frag;        /* flags | offset/8 as in the header */
	const uint8_t *opts;  /* options (multiple of 4 bytes) */
	uint8_t optlen;
	int bad_csum;         /* store a wrong header checksum */
	int total_len_delta;  /* add to the total length (hostile) */
};

/* Ethernet + IPv4 header + payload (payload copied). */
size_t pkt_ip4(uint8_t *f, const uint8_t dst[6], const uint8_t src[6],
	       const struct pkt_ip *ip, const void *payload, size_t plen);

/* Ethernet + IPv4 + UDP. csum: 1 compute, 0 send zero, -1 wrong. */
size_t pkt_udp(uint8_t *f, const uint8_t dst[6], const uint8_t src[6],
	       uint32_t sip, uint32_t dip, uint16_t sport, uint16_t dport,
	       const void *data, size_t len, int csum);

/* Ethernet + IPv4 + ICMP with type/code/id/seq and data. */
size_t pkt_icmp(uint8_t *f, const uint8_t dst[6], const uint8_t src[6],
		uint32_t sip, uint32_t dip, uint8_t type, uint8_t code,
		uint16_t id, uint16_t seq, const void *data, size_t len);

/* A TCP segment to build. */
struct pkt_tcp {
	uint32_t sip, dip;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;        /* TCP_SYN | TCP_ACK ... from wire/tcp.h */
	uint16_t win;
	const uint8_t *opts;  /* raw options, padded by the builder to 4 */
	uint8_t optlen;
	const void *data;
	size_t len;
	int bad_csum;
};
size_t pkt_tcp(uint8_t *f, const uint8_t dst[6], const uint8_t src[6],
	       const struct pkt_tcp *t);

/* A parsed frame the stack sent (views into the frame). */
struct pkt_view {
	const uint8_t *eth;
	uint16_t ethertype;
	const uint8_t *ip;       /* NULL unless IPv4 */
	uint32_t ip_src, ip_dst;
	uint8_t ip_proto;
	uint16_t ip_len, ip_id, ip_frag;
	int ip_csum_ok;
	const uint8_t *l4;       /* transport header */
	size_t l4_len;
	int l4_csum_ok;          /* UDP/TCP/ICMP checksum verified */
	const uint8_t *payload;  /* after the transport header */
	size_t payload_len;
};
/* Parse and verify checksums. Returns 0, or -1 if malformed. */
int pkt_parse(const uint8_t *f, size_t len, struct pkt_view *v);

/* An ICMP message (header + data, checksum filled) into msg; returns its
 * length. For building fragmented ICMP by hand (slice it with pkt_ip4). */
size_t pkt_icmp_msg(uint8_t *msg, uint8_t type, uint8_t code, uint16_t id,
		    uint16_t seq, const void *data, size_t len);

/*
 * Join IPv4 fragments (whole Ethernet frames, any order) into the
 * datagram's payload. Checks one id/src/dst/proto, 8-byte multiples,
 * exactly one last fragment, no holes and no overlaps, valid header
 * checksums. Returns the payload length, or -1.
 */
long pkt_ip4_join(const uint8_t *const *frames, const size_t *lens, int n,
		  uint8_t *out, size_t cap);

#endif
