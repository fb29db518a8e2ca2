/*
 * ipv4.h - IPv4 (RFC 791, RFC 1122 3.2): input validation and demux,
 * reassembly, routing, output and fragmentation. May touch: arp_output,
 * icmp/udp/tcp input, icmp_send_error.
 */
#ifndef USTACK_PROTO_IPV4_H
#define USTACK_PROTO_IPV4_H

#include <stdint.h>

#include "core/pkb.h"
#include "core/timer.h"

struct ustack;
struct pkb;

struct ip4_reasm;

/* Packets sent to our own address wait here for the next timer run
 * (never delivered from inside ip4_output: no re-entry into the caller). */
#define IP4_LOOP_MAX 256

/* RFC 7739 5.3: identification counters, chosen by a keyed hash of
 * (source, destination, protocol); a power of two. 4 KiB of state. */
#define IP4_ID_BUCKETS 2048
/* Recent (src, dst, proto) -> bucket and offset, so a flow does not pay a
 * SipHash per datagram: direct-mapped, a power of two. */
#define IP4_ID_CACHE 16

struct ip4_id_cache {
	uint32_t src, dst;
	uint8_t proto;
	uint8_t valid;
	uint16_t off;                 /* the keyed offset */
	uint16_t bucket;              /* index into ids[] */
};

struct ip4_state {
	uint16_t ids[IP4_ID_BUCKETS]; /* identification counters */
	uint32_t id_salt;             /* hashed with each (src, dst, proto) */
	struct ip4_id_cache id_cache[IP4_ID_CACHE]; /* hash results */
	struct ip4_reasm *reasm;      /* datagrams being reassembled, oldest
					 first */
	uint32_t reasm_count;
	uint32_t reasm_bytes;         /* buffer memory the fragments hold */
	struct ip4_reasm *reasm_slots;/* cfg.reasm_max_datagrams descriptors */
	struct ip4_reasm *reasm_free; /* unused descriptors */
	struct pkb_queue loopq;       /* to ourselves, IP header at data */
	struct timer loop_timer;      /* armed while loopq is not empty */
};

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
