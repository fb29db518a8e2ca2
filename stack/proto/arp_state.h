/*
 * arp_state.h - the ARP module's state (the neighbour cache), embedded in
 * struct ustack. Its interface is arp.h; only core/stack.h includes this.
 */
#ifndef USTACK_PROTO_ARP_STATE_H
#define USTACK_PROTO_ARP_STATE_H

#include <stdint.h>

#include <ustack/ustack.h>

struct arp_entry;

struct arp_state {
	struct arp_entry *entries;   /* cfg.arp_cache_size slots */
	uint32_t nentries;           /* slots */
	uint32_t nused;              /* slots holding an address */
	struct arp_entry **hash;     /* chains by address */
	uint32_t hash_mask;          /* buckets - 1 (a power of two) */
	struct arp_entry *free;      /* unused slots, through hnext */
	ustack_time_t conflict_log_at;  /* next WARN allowed about a conflict */
	ustack_time_t defend_at;        /* next defence allowed (RFC 5227 2.4) */
};

#endif
