/*
 * tcp_state.h - the TCP module's state (the connection tables), embedded
 * in struct ustack. Its interface is tcp.h, its internals tcp_int.h; only
 * core/stack.h includes this.
 */
#ifndef USTACK_PROTO_TCP_STATE_H
#define USTACK_PROTO_TCP_STATE_H

#include <stdint.h>

#include "core/timer.h"

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

#define TCP_ACK_DEFER_MAX 16

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
	/* ACKs held back to the end of the device read batch in progress
	 * (st->rx_batch_hook, tcp_in.c): one ACK for the in-order data of
	 * all the frames a connection got in one batch. */
	int rx_batch;                /* a batch is in progress */
	uint8_t nack_defer;
	struct tcp_conn *ack_defer[TCP_ACK_DEFER_MAX];
};

#endif
