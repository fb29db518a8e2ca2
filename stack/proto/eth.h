/*
 * eth.h - the Ethernet II layer: demultiplex received frames to ARP and
 * IPv4, prepend headers on send. May touch: ARP and IPv4 input, stack_xmit.
 */
#ifndef USTACK_PROTO_ETH_H
#define USTACK_PROTO_ETH_H

#include <stdint.h>

struct ustack;
struct pkb;

/* A received frame, pkb->data at the Ethernet header. Consumes pkb. */
void eth_input(struct ustack *st, struct pkb *pkb);
/* Prepend an Ethernet header from us to dst and transmit. Consumes pkb. */
int eth_output(struct ustack *st, struct pkb *pkb, const uint8_t dst[6],
	       uint16_t type);

#endif
