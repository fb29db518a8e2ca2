/*
 * tcp.h - the TCP layer's interface to the rest of the stack (RFC 9293).
 * Its internals (the TCB, segment views, helpers shared by the tcp_*.c
 * files) live in tcp_int.h; other modules see only what is here.
 *
 * May touch: ip4_output/ip4_route, ip4_proto_add (its input, error and
 * reject handlers), the socket layer (sock_alloc,
 * sock_wakeup, sock_ephemeral_port), timers, st->rand.
 */
#ifndef USTACK_PROTO_TCP_H
#define USTACK_PROTO_TCP_H

#include <stdint.h>

#include <ustack/ustack.h>

struct ustack;
struct pkb;
struct sock_ops;

int tcp_init(struct ustack *st);
void tcp_fini(struct ustack *st);

/* pkb->data at the TCP header (see ip4_input). Consumes. */
void tcp_input(struct ustack *st, struct pkb *pkb);

/* Errors from below (ICMP, ARP) come through IPv4's protocol table
 * (tcp_ip4_proto, registered by tcp_init), not by name. */

extern const struct sock_ops tcp_sock_ops;

struct ustack_conn_info;
/* TCP's rows of ustack_conn_list(): every connection not CLOSED, with or
 * without a socket; fills up to max, returns the count. */
int tcp_conn_rows(struct ustack *st, struct ustack_conn_info *out, int max);

#endif
