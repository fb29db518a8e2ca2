/*
 * icmp_state.h - the ICMP module's state (the error rate limits, the echo
 * sockets), embedded in struct ustack. Its interface is icmp.h; only
 * core/stack.h includes this.
 */
#ifndef USTACK_PROTO_ICMP_STATE_H
#define USTACK_PROTO_ICMP_STATE_H

#include <stdint.h>

#include <ustack/ustack.h>

struct sock;

/* Per-destination buckets: a keyed hash of the destination picks one of
 * these; destinations that collide share it. Fixed size: 4 KiB. */
#define ICMP_DST_SLOTS 256

struct icmp_bucket {
	uint64_t credit_us;          /* saved-up time, see icmp_state */
	ustack_time_t credit_at;     /* when brought up to date; 0 = unused */
};

struct icmp_state {
	/* Token bucket for errors we send (RFC 1812 4.3.2.8, RFC 1122 3.2.2):
	 * the credit is time, one error costs 1 s / cfg.icmp_rate_per_sec,
	 * and at most cfg.icmp_rate_burst errors' worth is saved up. */
	uint64_t credit_us;
	ustack_time_t credit_at;     /* when credit_us was brought up to date */
	/* The same per destination: an error costs cfg.icmp_dst_interval_us,
	 * at most cfg.icmp_dst_burst of them saved up. */
	struct icmp_bucket dst[ICMP_DST_SLOTS];
	uint32_t dst_salt;           /* hashed with the destination */
	struct sock *socks;          /* echo sockets, through sk->hash_next */
};

#endif
