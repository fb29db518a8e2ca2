/*
 * ip4_int.h - what ipv4.c and ip4_frag.c share; nothing else includes it.
 */
#ifndef USTACK_PROTO_IP4_INT_H
#define USTACK_PROTO_IP4_INT_H

#include <stdint.h>

#include "proto/ipv4.h"

struct ustack;
struct pkb;

/* Write a 20-byte header (no options) with its checksum at h. */
void ip4_build_hdr(uint8_t *h, const struct ip4_tx *tx, uint32_t src,
		   uint16_t total_len, uint16_t id, uint16_t frag);

/* Reassembly (ip4_frag.c). pkb is a validated fragment with pkb->ip
 * filled, its header at nh_off and data at its payload. Consumes it;
 * returns the whole datagram (same layout, pkb->ip.reasm = 1) when this
 * fragment completed one, else NULL. */
struct pkb *ip4_reasm_input(struct ustack *st, struct pkb *pkb);
int ip4_reasm_init(struct ustack *st);
void ip4_reasm_fini(struct ustack *st);

/* Send pkb (data at the transport header) as fragments of at most
 * cfg.mtu bytes to nexthop. Consumes pkb. Returns 0 or -errno. */
int ip4_fragment(struct ustack *st, struct pkb *pkb, const struct ip4_tx *tx,
		 uint32_t src, uint16_t id, uint32_t nexthop);

#endif
