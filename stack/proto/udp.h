/*
 * udp.h - UDP (RFC 768, RFC 1122 4.1): demux to sockets, checksums, port
 * unreachable, datagram sockets. May touch: ip4_output, icmp_send_error,
 * the socket layer.
 */
#ifndef USTACK_PROTO_UDP_H
#define USTACK_PROTO_UDP_H

#include <stdint.h>

struct ustack;
struct pkb;
struct sock_ops;

int udp_init(struct ustack *st);
void udp_fini(struct ustack *st);

/* pkb->data at the UDP header (see ip4_input). Consumes. */
void udp_input(struct ustack *st, struct pkb *pkb);

/* An ICMP error quoting a datagram we sent from laddr:lport to
 * raddr:rport. err is a positive errno (ECONNREFUSED, EHOSTUNREACH, ...).
 * IPv4 reaches it through its protocol table (udp_init registers UDP's
 * handlers); the unit tests call it directly. */
void udp_icmp_error(struct ustack *st, uint32_t laddr, uint16_t lport,
		    uint32_t raddr, uint16_t rport, int err);

extern const struct sock_ops udp_sock_ops;

#endif
