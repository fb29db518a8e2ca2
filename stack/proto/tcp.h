/*
 * tcp.h - the TCP layer's interface to the rest of the stack (RFC 9293).
 * Its internals live in tcp_int.h.
 */
#ifndef USTACK_PROTO_TCP_H
#define USTACK_PROTO_TCP_H

#include <stdint.h>

struct ustack;
struct pkb;
struct sock_ops;

struct tcp_conn;

struct tcp_state {
	struct tcp_conn **hash;      /* connections by 4-tuple */
	uint32_t hash_size;
	uint32_t nconns;
};

int tcp_init(struct ustack *st);
void tcp_fini(struct ustack *st);

/* pkb->data at the TCP header (see ip4_input). Consumes. */
void tcp_input(struct ustack *st, struct pkb *pkb);

/* An ICMP error quoting a segment we sent (first 8 bytes give ports and
 * seq). err is a positive errno; mtu is the next-hop MTU for FRAG_NEEDED. */
void tcp_icmp_error(struct ustack *st, uint32_t laddr, uint16_t lport,
		    uint32_t raddr, uint16_t rport, uint32_t seq, int err,
		    uint16_t mtu);

/* ARP could not resolve raddr (soft error for connections to it, hard
 * for connections still opening: RFC 1122 4.2.3.9). */
void tcp_host_unreachable(struct ustack *st, uint32_t raddr);

extern const struct sock_ops tcp_sock_ops;

#endif
