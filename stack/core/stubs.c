/*
 * stubs.c - TEMPORARY weak definitions so the library links while modules
 * are being written in parallel. Each real definition overrides its stub.
 * This file is deleted once every module exists.
 */
#include <errno.h>

#include "core/stack.h"
#include "proto/eth.h"

#define W __attribute__((weak))

W int arp_init(struct ustack *st) { (void)st; return 0; }
W void arp_fini(struct ustack *st) { (void)st; }
W void arp_input(struct ustack *st, struct pkb *p) { pkb_free(st, p); }
W int arp_output(struct ustack *st, struct pkb *p, uint32_t nh) { (void)nh; pkb_free(st, p); return -EHOSTUNREACH; }
W void arp_announce(struct ustack *st) { (void)st; }
W int ustack_arp_list(struct ustack *st, struct ustack_arp_info *o, int m) { (void)st; (void)o; (void)m; return 0; }
W int ip4_init(struct ustack *st) { (void)st; return 0; }
W void ip4_fini(struct ustack *st) { (void)st; }
W void ip4_input(struct ustack *st, struct pkb *p) { pkb_free(st, p); }
W int ip4_output(struct ustack *st, struct pkb *p, const struct ip4_tx *tx) { (void)tx; pkb_free(st, p); return -ENETUNREACH; }
W int ip4_route(const struct ustack *st, uint32_t d, uint32_t *nh) { (void)st; (void)d; (void)nh; return -ENETUNREACH; }
W int ip4_is_local(const struct ustack *st, uint32_t a) { return a == st->cfg.addr; }
W int ip4_is_broadcast(const struct ustack *st, uint32_t a) { (void)st; return a == 0xffffffffu; }
W uint32_t ip4_max_payload(const struct ustack *st) { return st->cfg.mtu - 20u; }
W int icmp_init(struct ustack *st) { (void)st; return 0; }
W void icmp_fini(struct ustack *st) { (void)st; }
W void icmp_input(struct ustack *st, struct pkb *p) { pkb_free(st, p); }
W void icmp_send_error(struct ustack *st, const struct pkb *o, uint8_t t, uint8_t c, uint32_t i) { (void)st; (void)o; (void)t; (void)c; (void)i; }
W int udp_init(struct ustack *st) { (void)st; return 0; }
W void udp_fini(struct ustack *st) { (void)st; }
W void udp_input(struct ustack *st, struct pkb *p) { pkb_free(st, p); }
W void udp_icmp_error(struct ustack *st, uint32_t a, uint16_t b, uint32_t c, uint16_t d, int e) { (void)st; (void)a; (void)b; (void)c; (void)d; (void)e; }
W int tcp_init(struct ustack *st) { (void)st; return 0; }
W void tcp_fini(struct ustack *st) { (void)st; }
W void tcp_input(struct ustack *st, struct pkb *p) { pkb_free(st, p); }
W void tcp_icmp_error(struct ustack *st, uint32_t a, uint16_t b, uint32_t c, uint16_t d, uint32_t s, int e, uint16_t m) { (void)st; (void)a; (void)b; (void)c; (void)d; (void)s; (void)e; (void)m; }
W int sock_table_init(struct ustack *st) { (void)st; return 0; }
W void sock_table_fini(struct ustack *st) { (void)st; }
W void sock_wakeup(struct ustack *st, struct sock *sk) { (void)st; (void)sk; }
W struct sock *sock_alloc(struct ustack *st, int type, int protocol, const struct sock_ops *ops) { (void)st; (void)type; (void)protocol; (void)ops; return NULL; }
W void sock_free(struct ustack *st, struct sock *sk) { (void)st; (void)sk; }
W struct sock *sock_get(struct ustack *st, int sd) { (void)st; (void)sd; return NULL; }
W int sock_ephemeral_port(struct ustack *st, int protocol, uint32_t laddr, uint32_t raddr, uint16_t rport, int (*in_use)(struct ustack *, uint16_t, void *), void *ctx, uint16_t *port) { (void)st; (void)protocol; (void)laddr; (void)raddr; (void)rport; (void)in_use; (void)ctx; (void)port; return -EADDRNOTAVAIL; }
W void sock_host_unreachable(struct ustack *st, uint32_t raddr) { (void)st; (void)raddr; }
W void tcp_host_unreachable(struct ustack *st, uint32_t raddr) { (void)st; (void)raddr; }
W const struct sock_ops udp_sock_ops;
W const struct sock_ops tcp_sock_ops;
W const struct sock_ops icmp_sock_ops;
