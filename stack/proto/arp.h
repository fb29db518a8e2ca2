/*
 * arp.h - address resolution for IPv4 over Ethernet (RFC 826, RFC 1122
 * 2.3.2). May touch: its cache, eth_output, the socket layer's error
 * notification.
 */
#ifndef USTACK_PROTO_ARP_H
#define USTACK_PROTO_ARP_H

#include <stdint.h>

struct ustack;
struct pkb;

struct arp_entry;

struct arp_state {
	struct arp_entry *entries;   /* cfg.arp_cache_size slots */
	uint32_t nentries;
};

int arp_init(struct ustack *st);
void arp_fini(struct ustack *st);

/* A received ARP packet, pkb->data after the Ethernet header. Consumes. */
void arp_input(struct ustack *st, struct pkb *pkb);

/*
 * Send an IPv4 packet (pkb->data at the IP header) to the neighbour
 * `nexthop` on the link (or to broadcast for 255.255.255.255 and the subnet
 * broadcast). Resolves first if needed, queueing the packet (bounded).
 * Consumes pkb. Returns 0 when sent or queued, -EHOSTUNREACH when the entry
 * has recently failed, -ENOBUFS when the queue or cache is full.
 */
int arp_output(struct ustack *st, struct pkb *pkb, uint32_t nexthop);

/* Broadcast a gratuitous ARP for our address (at start). */
void arp_announce(struct ustack *st);

#endif
