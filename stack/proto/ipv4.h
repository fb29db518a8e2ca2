/*
 * ipv4.h - IPv4 (RFC 791, RFC 1122 3.2): input validation and demux,
 * reassembly, routing, output and fragmentation. May touch: arp_output,
 * the registered protocols' handlers (struct ip4_proto), icmp_send_error.
 */
#ifndef USTACK_PROTO_IPV4_H
#define USTACK_PROTO_IPV4_H

#include <stdint.h>

struct ustack;
struct pkb;

int ip4_init(struct ustack *st);
void ip4_fini(struct ustack *st);

/*
 * The protocols above IPv4 (ICMP, UDP, TCP), as Linux's inet_protos[]:
 * each registers its handlers from its init (ip4_proto_add), and IPv4
 * reaches them only through this table, never by name. Received packets
 * go up through input; errors about packets we sent, whether an ICMP
 * error quoting one or ARP giving up on a neighbour, go up through err
 * (struct ip4_err), and the protocol tells its sockets.
 */
struct ip4_err {
	int err;              /* positive errno: EHOSTUNREACH, ECONNREFUSED,
				 EMSGSIZE (mtu set), ... */
	uint32_t laddr;       /* the packet's source (ours) */
	uint32_t raddr;       /* its destination; with l4 NULL, a neighbour
				 ARP could not resolve (the next hop) */
	const uint8_t *l4;    /* the first 8 bytes of its transport header
				 (RFC 792's quote), or NULL: no packet quoted,
				 every socket whose peer is raddr (UDP, ICMP)
				 or is reached through raddr (TCP) is meant */
	uint16_t mtu;         /* next-hop MTU for EMSGSIZE (RFC 1191), else 0 */
};

struct ip4_proto {
	/* pkb->data at the transport header (see ip4_input). Consumes. */
	void (*input)(struct ustack *st, struct pkb *pkb);
	/* An error about a packet we sent. Returns 1 when the protocol took
	 * it (it counts its own misses), 0 when nothing of it was there. */
	int (*err)(struct ustack *st, const struct ip4_err *e);
	/* The packet filter refused pkb (as delivered to input, checked):
	 * answer as a closed port would (TCP: RST). NULL: ICMP's answer. */
	void (*reject)(struct ustack *st, const struct pkb *pkb);
};

/* Register the handlers of IP protocol number proto (at init). */
void ip4_proto_add(struct ustack *st, uint8_t proto,
		   const struct ip4_proto *p);
/* The handlers of proto, NULL when none registered. */
const struct ip4_proto *ip4_proto_get(const struct ustack *st, uint8_t proto);

/* Hand e to the protocol proto (the ICMP errors we receive). Returns what
 * its err handler returns, 0 when there is none. */
int ip4_err_notify(struct ustack *st, uint8_t proto, const struct ip4_err *e);
/* ARP gave up on the neighbour addr: every protocol hears of it
 * (EHOSTUNREACH, l4 NULL). */
void ip4_neigh_unreachable(struct ustack *st, uint32_t addr);

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
