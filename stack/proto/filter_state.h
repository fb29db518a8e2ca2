/*
 * filter_state.h - the packet filter's rules and reply budget, embedded in
 * struct ustack. Its interface is filter.h; only core/stack.h includes
 * this.
 */
#ifndef USTACK_PROTO_FILTER_STATE_H
#define USTACK_PROTO_FILTER_STATE_H

#include <stdint.h>

#include <ustack/filter.h>
#include <ustack/ustack.h>

enum filter_action { FILTER_ALLOW, FILTER_DROP, FILTER_REJECT };
enum filter_reply {
	FILTER_REPLY_AUTO,        /* RST for TCP, port unreachable for UDP,
				     admin prohibited for the rest */
	FILTER_REPLY_RST,         /* TCP only */
	FILTER_REPLY_PORT_UNREACH,
	FILTER_REPLY_ADMIN,       /* ICMP unreachable code 13 */
};

struct filter_rule {
	uint8_t action;           /* enum filter_action */
	uint8_t reply;            /* enum filter_reply (reject) */
	uint8_t proto;            /* IP protocol, 0 = all */
	uint8_t has_type;         /* match the ICMP type */
	uint8_t icmp_type;
	uint8_t src_len, dst_len; /* prefix lengths; 0 = any */
	uint32_t src, dst;        /* host order, masked */
	uint16_t sport_lo, sport_hi; /* 0..65535 = any */
	uint16_t dport_lo, dport_hi;
	uint64_t hits;            /* packets matched */
	uint64_t bytes;
};

struct filter_state {
	struct filter_rule rules[USTACK_FILTER_MAX];
	uint32_t n;               /* rules in use */
	uint64_t credit_us;       /* RST token bucket, as icmp_state's */
	ustack_time_t credit_at;
};

#endif
