/*
 * eth.c - Ethernet II input and output (RFC 894).
 *
 * Accepts frames to our MAC and to broadcast; multicast is accepted only to
 * reach IPv4 (which drops what it does not want). Everything else is a
 * counted drop: IPv6 and VLAN-tagged frames have their own counters so a
 * busy host link does not hide real problems. Never logs per frame.
 *
 * May touch: arp_input, ip4_input, stack_xmit (the device), the ETH
 * counters.
 */
#include <string.h>

#include "core/stack.h"
#include "proto/arp.h"
#include "proto/eth.h"
#include "proto/ipv4.h"
#include "wire/eth.h"

void eth_input(struct ustack *st, struct pkb *pkb)
{
	const uint8_t *h = pkb->data;
	uint16_t type;

	STAT_INC(st, ETH_RX);
	STAT_ADD(st, ETH_RX_BYTES, pkb->len);
	if (pkb->len < ETH_HDR_LEN) {
		STAT_INC(st, ETH_DROP_SHORT);
		goto drop;
	}
	if (eth_is_multicast(eth_dst(h)))
		pkb->l2_mcast = 1;
	else if (memcmp(eth_dst(h), st->cfg.mac, ETH_ALEN) != 0) {
		STAT_INC(st, ETH_DROP_NOT_US);
		goto drop;
	}
	type = eth_type(h);
	pkb_pull(pkb, ETH_HDR_LEN);
	switch (type) {
	case ETH_TYPE_IPV4:
		ip4_input(st, pkb);
		return;
	case ETH_TYPE_ARP:
		arp_input(st, pkb);
		return;
	case ETH_TYPE_IPV6:
		STAT_INC(st, ETH_DROP_IPV6);
		break;
	case ETH_TYPE_VLAN:
	case ETH_TYPE_QINQ:
		STAT_INC(st, ETH_DROP_VLAN);
		break;
	default:
		STAT_INC(st, ETH_DROP_OTHER_TYPE);
		break;
	}
drop:
	pkb_free(st, pkb);
}

int eth_output(struct ustack *st, struct pkb *pkb, const uint8_t dst[6],
	       uint16_t type)
{
	uint8_t *h = pkb_push(pkb, ETH_HDR_LEN);

	eth_emit(h, dst, st->cfg.mac, type);
	return stack_xmit(st, pkb);
}
