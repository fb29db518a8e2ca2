/*
 * ipv4.h - IPv4 (RFC 791, RFC 1122 3.2): input validation and demux,
 * reassembly, routing, output and fragmentation. May touch: arp_output,
 * icmp/udp/tcp input, icmp_send_error.
 */
#ifndef USTACK_PROTO_IPV4_H
#define USTACK_PROTO_IPV4_H

#include <stdint.h>

struct ustack;
struct pkb;

int ip4_init(struct ustack *st);
void ip4_fini(struct ustack *st);

/* A received packet, pkb->data at the IP header. Consumes pkb. On delivery
 * to ICMP/UDP/TCP: pkb->data at the transport header, pkb->len the
 * transport length, pkb->ip filled in, pkb->nh_off the IP header. */
void ip4_input(struct ustack *st, struct pkb *pkb);

/* What to put in the header of a packet we send. */
struct ip4_tx {
	uint32_t src;        /* 0: our address */
	uint32_t dst;
	uint8_t proto;
	uint8_t tos;
	uint8_t ttl;         /* 0: IP4_DEFAULT_TTL */
	uint8_t df;          /* set Don't Fragment (refuse to fragment) */
};

/*
 * Send pkb (pkb->data at the transport header, PKB_HEADROOM in front):
 * route, prepend the IP header, fragment if larger than the MTU, resolve the
 * next hop. Consumes pkb. Returns 0, or -ENETUNREACH (no route; also 0/8,
 * 127/8 and 240/4 destinations), -EMSGSIZE (DF and too big, or more than
 * 65535 bytes), -EHOSTUNREACH, -ENOBUFS. A packet to our own address is
 * looped back: queued (at most IP4_LOOP_MAX) and delivered by
 * ustack_run_timers() at the current time, never from inside this call.
 */
int ip4_output(struct ustack *st, struct pkb *pkb, const struct ip4_tx *tx);

/* Next hop for dst: dst itself on the connected subnet, else the gateway.
 * Returns 0 or -ENETUNREACH. */
int ip4_route(const struct ustack *st, uint32_t dst, uint32_t *nexthop);

/* Our address? A broadcast address of ours (limited or subnet-directed)? */
int ip4_is_local(const struct ustack *st, uint32_t addr);
int ip4_is_broadcast(const struct ustack *st, uint32_t addr);

/* Largest transport payload in one unfragmented packet (MTU - 20). */
uint32_t ip4_max_payload(const struct ustack *st);

#endif
