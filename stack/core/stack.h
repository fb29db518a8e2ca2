/*
 * stack.h - struct ustack, the one context that holds all of a stack's
 * state, and the helpers every module uses on it (counters, transmit).
 *
 * Internal header: modules include it; applications see only the opaque
 * struct through <ustack/ustack.h>. Each module's own state is a struct
 * declared in that module's state header (proto/tcp_state.h, ...) and
 * embedded here; this header includes those and no module's interface, so
 * a file sees another module's functions only by including its header.
 */
#ifndef USTACK_CORE_STACK_H
#define USTACK_CORE_STACK_H

#include <stdint.h>

#include <ustack/dev.h>
#include <ustack/ustack.h>

#include "core/log.h"
#include "core/pkb.h"
#include "core/rand.h"
#include "core/timer.h"
#include "proto/arp_state.h"
#include "proto/filter_state.h"
#include "proto/icmp_state.h"
#include "proto/ip4_state.h"
#include "proto/tcp_state.h"
#include "proto/udp_state.h"
#include "sock/sock_state.h"

struct rt_ops;

struct ustack {
	struct ustack_config cfg;     /* as given, defaults filled in */
	struct ustack_dev *dev;       /* not owned */
	ustack_time_t now;            /* latest time we were told */
	uint32_t netmask;             /* from cfg.prefix_len */
	uint64_t stats[USTACK_STAT__COUNT];
	struct pkb_pool pool;
	struct timer_heap timers;
	struct rand_state rand;

	struct arp_state arp;
	struct ip4_state ip4;
	struct icmp_state icmp;
	struct udp_state udp;
	struct tcp_state tcp;
	struct sock_table socks;
	struct filter_state filter;  /* packet filter rules (proto/filter.c) */

	/* Told when a device read batch (ustack_poll_dev) begins (end 0)
	 * and ends (end 1), by a module that holds replies back to the end
	 * of a batch (TCP's ACKs); NULL: nobody. */
	void (*rx_batch_hook)(struct ustack *st, int end);

	/* The runtime driving this stack (NULL: driven by hand). */
	const struct rt_ops *rt;
	void *rt_priv;
};

#define STAT_INC(st, id) ((st)->stats[USTACK_STAT_##id]++)
#define STAT_ADD(st, id, n) ((st)->stats[USTACK_STAT_##id] += (n))
#define STAT_DEC(st, id) ((st)->stats[USTACK_STAT_##id]--)

/* Move the clock forward (never back). */
static inline void stack_set_now(struct ustack *st, ustack_time_t now)
{
	if (now > st->now)
		st->now = now;
}

/* Hand a finished frame (pkb->data at the Ethernet header) to the device.
 * Consumes pkb. Returns 0 or the device's -errno (counted). */
int stack_xmit(struct ustack *st, struct pkb *pkb);

/* Allocate a pkb for a frame the device is about to deliver. */
uint32_t stack_rx_frame_max(const struct ustack *st);

/* ---- offloads (core/offload.c) ----------------------------------------- */

/* The device completes partial checksums on send. */
static inline int stack_tx_csum_on(const struct ustack *st)
{
	return (st->dev->offloads & USTACK_DEV_TX_CSUM) &&
	       st->dev->ops->transmit_meta;
}
/* Largest TSO super-frame the device takes, as bytes of IP datagram
 * (header included); 0 when it does no TSO. */
uint32_t stack_tso_max(const struct ustack *st);
/* Received frames come with metadata. */
static inline int stack_rx_meta_on(const struct ustack *st)
{
	return (st->dev->offloads & (USTACK_DEV_RX_CSUM | USTACK_DEV_RX_GRO)) &&
	       st->dev->ops->receive_meta;
}
/* Send a PKB_CSUM_PARTIAL pkb (maybe a TSO super-frame): through
 * transmit_meta, or completed/segmented in software when the device can
 * not (it changed its offloads meanwhile). Does not consume pkb. */
int stack_xmit_offload(struct ustack *st, struct pkb *pkb);
/* Apply a received frame's metadata (pkb->data at the Ethernet header):
 * pkb->csum, or a partial checksum completed in software. -1: drop it
 * (counted). */
int stack_rx_offload(struct ustack *st, struct pkb *pkb,
		     struct ustack_frame_meta *m);

#endif
