/*
 * tcp.h - the TCP layer's interface to the rest of the stack (RFC 9293).
 * Its internals (the TCB, segment views, helpers shared by the tcp_*.c
 * files) live in tcp_int.h; other modules see only what is here.
 *
 * May touch: ip4_output/ip4_route, the socket layer (sock_alloc,
 * sock_wakeup, sock_ephemeral_port), timers, st->rand.
 */
#ifndef USTACK_PROTO_TCP_H
#define USTACK_PROTO_TCP_H

#include <stdint.h>

#include <ustack/ustack.h>

#include "core/timer.h"

struct ustack;
struct pkb;
struct sock_ops;

struct tcp_conn;
struct tcp_tw;

/* Compact TIME_WAIT records (tcp_tw.c): the table, the expiry order and
 * the local ports they hold. Records live in slabs and name each other by
 * reference (index + 1; 0 is none). Made with the first record. */
struct tcp_tw_table {
	uint32_t *hash;              /* by 4-tuple, same buckets as tcp.hash */
	struct tcp_tw **slabs;       /* TCP_TW_SLAB records each */
	uint32_t nslabs;
	uint32_t head, tail;         /* by expiry, soonest first */
	uint32_t free;               /* free records (through lnext) */
	uint32_t *ports;             /* records per local port (65536) */
	uint32_t n;                  /* records held */
	struct timer t_expire;       /* armed for head's expiry */
};

struct tcp_state {
	struct tcp_conn **hash;      /* connections by 4-tuple (SipHash) */
	uint32_t hash_mask;          /* buckets - 1 (a power of two) */
	struct tcp_conn **lhash;     /* listeners by local port */
	uint32_t lhash_mask;
	struct tcp_conn **bhash;     /* every TCB with a local port, by port */
	uint32_t bhash_mask;
	struct tcp_conn *all;        /* every TCB: conn_list, fini */
	struct tcp_conn *tw_head;    /* TIME_WAIT, oldest first (evicted */
	struct tcp_conn *tw_tail;    /*  first when the table is full) */
	struct tcp_conn *orph_head;  /* orphans still closing, oldest first */
	struct tcp_conn *orph_tail;  /*  (reset when too many or the table
					is full: tcp_conn.c) */
	uint32_t norphans;
	uint32_t nconns;             /* in the 4-tuple hash, <= tcp_max_conns */
	struct tcp_conn *lookup_hint;/* last tcp_lookup() hit, or NULL */
	uint32_t ntcb;               /* control blocks and TIME_WAIT records */
	uint32_t isn_force;          /* tests only (isn_forced): every ISN is
					this, to start connections just below
					the 2^32 wrap (tests/sim) */
	int isn_forced;
	struct tcp_tw_table tw;      /* TIME_WAIT records (tcp_tw.c) */
	uint16_t fsm_ok[16];         /* bit `to` set in [from]: a legal
					transition (tcp_fsm.c) */
	struct tcp_memo {            /* the last 4-tuple hashed and its */
		uint32_t laddr, raddr;   /*  bucket: a SYN's lookup, then its */
		uint16_t lport, rport;   /*  child's insert, then its TIME_WAIT */
		uint64_t h;              /*  record hash the same tuple */
		int valid;
	} memo;
};

int tcp_init(struct ustack *st);
void tcp_fini(struct ustack *st);

/* pkb->data at the TCP header (see ip4_input). Consumes. */
void tcp_input(struct ustack *st, struct pkb *pkb);
/* The device read batch is over: send the ACKs held back for it. */
void tcp_ack_deferred(struct ustack *st);

/* An ICMP error quoting a segment we sent (first 8 bytes give ports and
 * seq). err is a positive errno; mtu is the next-hop MTU for FRAG_NEEDED. */
void tcp_icmp_error(struct ustack *st, uint32_t laddr, uint16_t lport,
		    uint32_t raddr, uint16_t rport, uint32_t seq, int err,
		    uint16_t mtu);

/* ARP could not resolve raddr (soft error for connections to it, hard
 * for connections still opening: RFC 1122 4.2.3.9). */
void tcp_host_unreachable(struct ustack *st, uint32_t raddr);

extern const struct sock_ops tcp_sock_ops;

struct ustack_conn_info;
/* TCP's rows of ustack_conn_list(): every connection not CLOSED, with or
 * without a socket; fills up to max, returns the count. */
int tcp_conn_rows(struct ustack *st, struct ustack_conn_info *out, int max);

#endif
