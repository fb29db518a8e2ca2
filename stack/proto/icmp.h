/*
 * icmp.h - ICMP (RFC 792, RFC 1122 3.2.2): echo replies, errors we send
 * (rate-limited), errors we receive (handed up through IPv4's protocol
 * table, ip4_err_notify), and echo ("ping") sockets. May touch:
 * ip4_output, ip4_err_notify, the socket layer.
 */
#ifndef USTACK_PROTO_ICMP_H
#define USTACK_PROTO_ICMP_H

#include <stdint.h>

#include <ustack/ustack.h>

struct ustack;
struct pkb;
struct sock_ops;

int icmp_init(struct ustack *st);
void icmp_fini(struct ustack *st);

/* pkb->data at the ICMP header (see ip4_input). Consumes. */
void icmp_input(struct ustack *st, struct pkb *pkb);

/*
 * Send an ICMP error about the received packet `orig` (its IP header at
 * pkb_nh(orig)). Does not consume orig. Follows RFC 1122 3.2.2: never about
 * an ICMP error, a broadcast/multicast, a non-first fragment or a martian
 * source; rate-limited. `info` is the next-hop MTU for FRAG_NEEDED, the
 * pointer for PARAM_PROBLEM, else 0.
 */
void icmp_send_error(struct ustack *st, const struct pkb *orig, uint8_t type,
		     uint8_t code, uint32_t info);

/*
 * Echo sockets: socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP), as on Linux.
 * sendto() takes an ICMP echo request (type 8, code 0, at least 8 bytes);
 * the stack sets the identifier to the socket's port (bound, or picked at
 * the first send or connect) and the checksum. recvfrom() returns echo
 * replies with that identifier (ICMP header + data) and their source.
 * Errors quoting our requests (unreachable, time exceeded) set so_error.
 */
extern const struct sock_ops icmp_sock_ops;

#endif
