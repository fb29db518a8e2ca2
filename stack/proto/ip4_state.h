/*
 * ip4_state.h - the IPv4 module's state (identification counters,
 * reassembly, the loopback queue), embedded in struct ustack. Its
 * interface is ipv4.h; only core/stack.h includes this.
 */
#ifndef USTACK_PROTO_IP4_STATE_H
#define USTACK_PROTO_IP4_STATE_H

#include <stdint.h>

#include "core/pkb.h"
#include "core/timer.h"

struct ip4_reasm;
struct ip4_proto;

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
	const struct ip4_proto *protos[256]; /* by IP protocol number, NULL:
						none (ipv4.h) */
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

#endif
