/*
 * arp.h - address resolution for IPv4 over Ethernet (RFC 826, RFC 1122
 * 2.3.2). May touch: its cache, eth_output, IPv4's neighbour-error
 * notification (ip4_neigh_unreachable).
 *
 * The cache is a fixed array of cfg.arp_cache_size entries with a hash on
 * the IPv4 address; each entry carries its own timer (deadlines, not
 * scans) and its own bounded queue of packets waiting for resolution.
 * States, after RFC 4861's neighbour unreachability detection:
 *   INCOMPLETE  request sent, packets queued; retried every arp_retry_us,
 *               given up after arp_retries requests -> FAILED
 *   REACHABLE   confirmed by a reply (or a request to us) within
 *               arp_reachable_us -> STALE
 *   STALE       still used as is; evicted after arp_stale_us unused;
 *               used to send -> DELAY
 *   DELAY       waits ARP_DELAY_US for arp_confirm() from an upper layer,
 *               then -> PROBE
 *   PROBE       unicast requests to the cached MAC (arp_retries, every
 *               arp_retry_us); no answer -> entry deleted
 *   FAILED      arp_output() answers -EHOSTUNREACH for arp_failed_us
 */
#ifndef USTACK_PROTO_ARP_H
#define USTACK_PROTO_ARP_H

#include <stdint.h>

#include <ustack/ustack.h>

struct ustack;
struct pkb;

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

/*
 * Upper-layer reachability confirmation (RFC 4861 7.3.1, RFC 1122 2.3.2.1
 * "higher-layer advice"): TCP calls this when an ACK for new data arrives
 * from a neighbour, which keeps the entry REACHABLE without ARP probes.
 * Does nothing for addresses not in the cache.
 */
void arp_confirm(struct ustack *st, uint32_t addr);

#endif
