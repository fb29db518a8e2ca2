/*
 * stack.c - the context: configuration, creation and teardown, frame input,
 * the device read loop, timers, counters. May touch every module's init and
 * fini, eth_input, and the device's transmit/receive.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/stack.h"
#include "proto/arp.h"
#include "proto/eth.h"
#include "proto/icmp.h"
#include "proto/ipv4.h"
#include "proto/tcp.h"
#include "proto/udp.h"
#include "sock/rt.h"
#include "sock/sock.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

void ustack_config_default(struct ustack_config *c)
{
	static const uint8_t mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};

	memset(c, 0, sizeof(*c));
	memcpy(c->mac, mac, 6);
	c->addr = 0x0a000002;            /* 10.0.0.2 */
	c->prefix_len = 24;
	c->mtu = 1500;
	c->seed_from_os = 1;
	c->log_level = USTACK_LOG_WARN;
	c->log_fn = ulog_stderr;

	c->max_sockets = 4096;
	c->pkb_max_bytes = 64u << 20;
	c->arp_cache_size = 256;
	c->arp_pending_max = 128;
	c->arp_pending_bytes = 128u << 10;
	c->reasm_max_bytes = 1u << 20;
	c->reasm_max_datagrams = 64;
	c->reasm_max_size = 65535;
	c->udp_rcvbuf = 212992;
	c->udp_sndbuf = 65507;

	c->arp_reachable_us = USTACK_SEC(30);
	c->arp_stale_us = USTACK_SEC(600);
	c->arp_retry_us = USTACK_SEC(1);
	c->arp_retries = 3;
	c->arp_failed_us = USTACK_SEC(3);
	c->reasm_timeout_us = USTACK_SEC(30);
	c->icmp_rate_per_sec = 1000;     /* Linux icmp_msgs_per_sec */
	c->icmp_rate_burst = 50;         /* Linux icmp_msgs_burst */
	c->icmp_dst_interval_us = USTACK_SEC(1); /* Linux icmp_ratelimit */
	c->icmp_dst_burst = 6;           /* Linux XRLIM_BURST_FACTOR */

	c->tcp_max_conns = 16384;
	c->tcp_syn_backlog = 256;
	c->tcp_sndbuf = 256u << 10;
	c->tcp_rcvbuf = 256u << 10;
	c->tcp_ooo_max_bytes = 0;        /* 0: the receive buffer size */
	c->tcp_msl_us = USTACK_SEC(30);
	c->tcp_rto_initial_us = USTACK_SEC(1);
	c->tcp_rto_min_us = USTACK_MS(200);
	c->tcp_rto_max_us = USTACK_SEC(60);
	c->tcp_syn_retries = 7;       /* 183 s: RFC 9293 MUST-23, >= 3 min */
	c->tcp_synack_retries = 5;
	c->tcp_retries2 = 15;
	c->tcp_delack_us = USTACK_MS(40);
	c->tcp_fin_wait2_us = USTACK_SEC(60);
	c->tcp_keepidle_us = USTACK_SEC(7200);
	c->tcp_keepintvl_us = USTACK_SEC(75);
	c->tcp_keepcnt = 9;
	c->tcp_challenge_ack_limit = 1000;
	c->tcp_sack = 1;
	c->tcp_timestamps = 1;
	c->tcp_wscale = 1;
	c->tcp_syncookies = 1;
	c->tcp_initial_window_segments = 10; /* RFC 6928 */
	c->tcp_congestion = USTACK_TCP_CC_CUBIC;
}

static int config_check(const struct ustack_config *c)
{
	if (c->prefix_len > 32 || c->mtu < 68 || c->addr == 0 ||
	    eth_is_multicast(c->mac) || eth_is_zero(c->mac))
		return -EINVAL;
	if (ip4_is_multicast(c->addr) || ip4_is_limited_bcast(c->addr))
		return -EINVAL;
	if (c->max_sockets == 0 || c->arp_cache_size == 0 ||
	    c->tcp_max_conns == 0 || c->pkb_max_bytes < (1u << 20))
		return -EINVAL;
	if (c->tcp_congestion != USTACK_TCP_CC_RENO &&
	    c->tcp_congestion != USTACK_TCP_CC_CUBIC)
		return -EINVAL;
	if (c->gateway) {
		uint32_t m = ip4_prefix_mask(c->prefix_len);
		if ((c->gateway & m) != (c->addr & m))
			return -EINVAL; /* gateway must be on the link */
	}
	return 0;
}

int ustack_create(struct ustack **out, const struct ustack_config *cfg,
		  struct ustack_dev *dev, ustack_time_t now)
{
	struct ustack *st;
	int err;

	*out = NULL;
	if (!cfg || !dev || (err = config_check(cfg)) < 0)
		return -EINVAL;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return -ENOMEM;
	st->cfg = *cfg;
	if (!st->cfg.tcp_ooo_max_bytes)
		st->cfg.tcp_ooo_max_bytes = st->cfg.tcp_rcvbuf;
	st->dev = dev;
	st->now = now;
	st->netmask = ip4_prefix_mask(cfg->prefix_len);
	pkb_pool_init(&st->pool, cfg->pkb_max_bytes);
	if (cfg->seed_from_os) {
		if ((err = rand_seed_os(&st->rand)) < 0)
			goto fail;
	} else {
		rand_seed(&st->rand, cfg->seed);
	}
	if ((err = arp_init(st)) < 0 || (err = ip4_init(st)) < 0 ||
	    (err = icmp_init(st)) < 0 || (err = udp_init(st)) < 0 ||
	    (err = tcp_init(st)) < 0 || (err = sock_table_init(st)) < 0)
		goto fail;
	arp_announce(st);
	*out = st;
	return 0;
fail:
	ustack_destroy(st);
	return err;
}

/* Every fini tolerates a module whose init never ran (zeroed state). */
void ustack_destroy(struct ustack *st)
{
	if (!st)
		return;
	if (st->rt)
		st->rt->detach(st);
	sock_table_fini(st);
	tcp_fini(st);
	udp_fini(st);
	icmp_fini(st);
	ip4_fini(st);
	arp_fini(st);
	USTACK_ASSERT(st->pool.in_use == 0);
	pkb_pool_fini(&st->pool);
	free(st);
}

void ustack_set_now(struct ustack *st, ustack_time_t now)
{
	stack_set_now(st, now);
}

ustack_time_t ustack_now(const struct ustack *st)
{
	return st->now;
}

int stack_xmit(struct ustack *st, struct pkb *pkb)
{
	int err;

	/* Only a PKB_CSUM_PARTIAL pkb may have its payload in pieces (TCP's
	 * send ring): stack_xmit_offload sends it as it lies to a device
	 * that gathers, or makes it whole. */
	if (pkb->csum == PKB_CSUM_PARTIAL)
		err = stack_xmit_offload(st, pkb);
	else
		err = st->dev->ops->transmit(st->dev, pkb->data, pkb->len,
					     st->now);

	if (err < 0) {
		STAT_INC(st, ETH_TX_ERRORS);
	} else {
		STAT_INC(st, ETH_TX);
		STAT_ADD(st, ETH_TX_BYTES, pkb_total_len(pkb));
	}
	pkb_free(st, pkb);
	return err < 0 ? err : 0;
}

uint32_t stack_rx_frame_max(const struct ustack *st)
{
	uint32_t mtu = st->cfg.mtu > st->dev->mtu ? st->cfg.mtu : st->dev->mtu;

	if (stack_rx_meta_on(st) && (st->dev->offloads & USTACK_DEV_RX_GRO))
		mtu = IP4_MAX_LEN;    /* coalesced TCP: a whole IP datagram */
	return mtu + ETH_HDR_LEN + 4; /* room for one VLAN tag */
}

/* Read one frame into pkb, with its metadata when the device has any.
 * Returns what the driver did (length, 0, -errno). */
static long rx_one(struct ustack *st, struct pkb *pkb, int meta,
		   struct ustack_frame_meta *m)
{
	struct ustack_dev *d = st->dev;

	if (meta)
		return d->ops->receive_meta(d, pkb->data, pkb_tailroom(pkb), m,
					    st->now);
	return ustack_dev_receive(d, pkb->data, pkb_tailroom(pkb), st->now);
}

/* A small frame read into a big (GRO-sized) buffer moves to a small one,
 * so that queues bounded in bytes (UDP) do not pin 68 KiB per datagram
 * (Linux's copybreak). Returns the buffer to use. */
static struct pkb *rx_copybreak_move(struct ustack *st, struct pkb *pkb)
{
	struct pkb *small;

	if ((small = pkb_alloc(st, pkb->len)) == NULL)
		return pkb;
	memcpy(pkb_put(small, pkb->len), pkb->data, pkb->len);
	small->csum = pkb->csum;
	pkb_free(st, pkb);
	return small;
}

static inline struct pkb *rx_copybreak(struct ustack *st, struct pkb *pkb)
{
	if (pkb->size <= PKB_SMALL_SIZE || pkb->len > PKB_SMALL_SIZE - PKB_HEADROOM)
		return pkb;
	return rx_copybreak_move(st, pkb);
}

/* ---- software GRO --------------------------------------------------------
 *
 * Consecutive in-order segments of one TCP flow read in one device batch
 * become one segment before any layer above sees them, as Linux's GRO
 * does (net/ipv4/tcp_offload.c tcp_gro_receive): TCP then parses, looks
 * up and processes one segment per batch and flow, not one per frame.
 * Merged only when nothing but the payload differs: the same Ethernet
 * header, an option-less IPv4 header equal but for length, id and
 * checksum (not a fragment), the same ports, ACK number, window, header
 * length and option bytes (timestamps included), flags ACK or ACK|PSH,
 * sequence numbers that follow on, checksums known good (the device's
 * word, or summed here, which TCP then skips). Unlike Linux, a PSH does
 * not end a merge: a sender writing 8 KiB at a time sets it on every
 * frame, and the merged data reaches the socket before the application
 * runs again anyway (RFC 1122 4.2.2.2: PSH is no record boundary; the
 * merged segment carries it if any part did).
 * The payload is copied onto the held frame (a frame from a plain device
 * is moved to a 64 KiB buffer first), up to 65535 bytes of IP datagram.
 */
struct gro {
	struct pkb *held;   /* frame being merged into, not yet passed up */
	uint32_t next_seq;  /* its sequence number + payload */
	uint16_t hl;        /* its Ethernet + IP + TCP header bytes */
	uint8_t checked;    /* its checksums are known good */
};

#define GRO_IP_HL (ETH_HDR_LEN + IP4_HDR_LEN)

/* A candidate (by its headers only): returns its header length
 * (Ethernet to the end of TCP's options, payload after it), or 0. */
static uint32_t gro_candidate(const struct pkb *pkb)
{
	const uint8_t *f = pkb->data, *ip = f + ETH_HDR_LEN, *th = f + GRO_IP_HL;
	uint32_t thl, len = pkb->len;

	if (len < GRO_IP_HL + TCP_HDR_LEN || be16_load(f + 12) != ETH_TYPE_IPV4 ||
	    ip[IP4_OFF_VIHL] != 0x45 || ip[IP4_OFF_PROTO] != IP4_PROTO_TCP ||
	    (tcp_flags(th) & (uint8_t)~TCP_PSH) != TCP_ACK)
		return 0;
	thl = tcp_hlen(th);
	if (thl < TCP_HDR_LEN || GRO_IP_HL + thl >= len)
		return 0;
	return GRO_IP_HL + thl;
}

/* Before a frame is merged: its IP length (no Ethernet padding), not a
 * fragment, its IP header checksum, and its TCP checksum unless the
 * device vouched for it (then marked good: TCP skips it). -1: not
 * merged (the layers above judge it as they always do). */
static int gro_check(struct pkb *pkb)
{
	const uint8_t *ip = pkb->data + ETH_HDR_LEN, *th = ip + IP4_HDR_LEN;
	uint32_t tl = pkb->len - GRO_IP_HL;

	if (ip4_total_len(ip) != pkb->len - ETH_HDR_LEN ||
	    (ip4_frag_field(ip) & (IP4_FLAG_MF | IP4_FRAG_MASK)) ||
	    csum_fold(csum_partial(ip, IP4_HDR_LEN, 0)) != 0)
		return -1;
	if (pkb->csum != PKB_CSUM_VALID) {
		if (csum_fold(csum_partial(th, tl, csum_pseudo(ip4_src(ip),
				ip4_dst(ip), IP4_PROTO_TCP, tl))) != 0)
			return -1;
		pkb->csum = PKB_CSUM_VALID;
	}
	return 0;
}

/* Whether f (header length hl) continues g->held. */
static int gro_follows(const struct gro *g, const uint8_t *f, uint32_t hl,
		       uint32_t plen)
{
	const uint8_t *h = g->held->data;
	const uint8_t *hi = h + ETH_HDR_LEN, *fi = f + ETH_HDR_LEN;
	const uint8_t *ht = h + GRO_IP_HL, *ft = f + GRO_IP_HL;

	return hl == g->hl && tcp_seq(ft) == g->next_seq &&
	       g->held->len + plen <= ETH_HDR_LEN + IP4_MAX_LEN &&
	       !memcmp(h, f, ETH_HDR_LEN) &&
	       hi[IP4_OFF_TOS] == fi[IP4_OFF_TOS] &&
	       !memcmp(hi + IP4_OFF_FRAG, fi + IP4_OFF_FRAG, 4) &&
	       !memcmp(hi + IP4_OFF_SRC, fi + IP4_OFF_SRC, 8) &&
	       !memcmp(ht, ft, TCP_OFF_SEQ) &&
	       !memcmp(ht + TCP_OFF_ACK, ft + TCP_OFF_ACK, 4) &&
	       !memcmp(ht + TCP_OFF_WIN, ft + TCP_OFF_WIN, 2) &&
	       !memcmp(ht + TCP_HDR_LEN, ft + TCP_HDR_LEN,
		       hl - GRO_IP_HL - TCP_HDR_LEN);
}

static void gro_flush(struct ustack *st, struct gro *g)
{
	if (g->held)
		eth_input(st, rx_copybreak(st, g->held));
	g->held = NULL;
}

/* Append f's payload to the held frame (moved to a big buffer first if
 * it has no room). 0, or -1 when no buffer could be had. */
static int gro_append(struct ustack *st, struct gro *g, const struct pkb *f,
		      uint32_t plen)
{
	struct pkb *h = g->held;
	uint8_t *ip, *th;

	if (pkb_tailroom(h) < plen) {
		struct pkb *big = pkb_alloc(st, ETH_HDR_LEN + IP4_MAX_LEN);

		if (!big)
			return -1;
		memcpy(pkb_put(big, h->len), h->data, h->len);
		big->csum = h->csum;
		pkb_free(st, h);
		g->held = h = big;
	}
	memcpy(pkb_put(h, plen), f->data + g->hl, plen);
	ip = h->data + ETH_HDR_LEN;
	th = h->data + GRO_IP_HL;
	be16_store(ip + IP4_OFF_LEN, (uint16_t)(h->len - ETH_HDR_LEN));
	be16_store(ip + IP4_OFF_CSUM, 0);
	be16_store(ip + IP4_OFF_CSUM, csum_fold(csum_partial(ip, IP4_HDR_LEN, 0)));
	th[TCP_OFF_FLAGS] |= tcp_flags(f->data + GRO_IP_HL) & TCP_PSH;
	g->next_seq += plen;
	STAT_INC(st, ETH_RX_GRO_MERGED);
	return 0;
}

/* One frame of the batch: merged into the held one, held, or passed up
 * (after the held one, so the order stays). */
static void gro_input(struct ustack *st, struct gro *g, struct pkb *pkb)
{
	uint32_t hl = gro_candidate(pkb), plen = pkb->len - hl;

	if (!hl) {
		gro_flush(st, g);
		eth_input(st, rx_copybreak(st, pkb));
		return;
	}
	if (g->held && gro_follows(g, pkb->data, hl, plen) &&
	    (g->checked || gro_check(g->held) == 0) &&
	    (g->checked = 1, gro_check(pkb) == 0) &&
	    gro_append(st, g, pkb, plen) == 0) {
		pkb_free(st, pkb);
		return;
	}
	gro_flush(st, g);
	g->held = pkb;
	g->hl = (uint16_t)hl;
	g->checked = 0;
	g->next_seq = tcp_seq(pkb->data + GRO_IP_HL) + plen;
}

int ustack_input(struct ustack *st, const void *frame, size_t len,
		 ustack_time_t now)
{
	struct pkb *pkb;

	stack_set_now(st, now);
	if (len > PKB_MAX_LEN) {
		STAT_INC(st, ETH_DROP_TOO_BIG);
		return 0;
	}
	if ((pkb = pkb_alloc(st, (uint32_t)len)) == NULL)
		return -ENOBUFS;
	memcpy(pkb_put(pkb, (uint32_t)len), frame, len);
	eth_input(st, pkb);
	return 0;
}

int ustack_poll_dev(struct ustack *st, ustack_time_t now, int budget)
{
	uint32_t cap = stack_rx_frame_max(st);
	void (*hook)(struct ustack *, int) = st->rx_batch_hook;
	int meta = stack_rx_meta_on(st), done = 0;
	struct gro g = {0};

	stack_set_now(st, now);
	if (hook)
		hook(st, 0);    /* a batch begins */
	while (done < budget) {
		struct pkb *pkb = pkb_alloc(st, cap);
		struct ustack_frame_meta m;
		long n;

		if (!pkb)
			break;
		n = rx_one(st, pkb, meta, &m);
		if (n <= 0) {
			pkb_free(st, pkb);
			if (n == -EMSGSIZE) {
				STAT_INC(st, ETH_DROP_TOO_BIG);
				done++;
				continue;
			}
			break;
		}
		pkb_put(pkb, (uint32_t)n);
		done++;
		if (meta && stack_rx_offload(st, pkb, &m) < 0) {
			pkb_free(st, pkb);
			continue;
		}
		gro_input(st, &g, pkb);
	}
	gro_flush(st, &g);
	if (hook)
		hook(st, 1);    /* ... and ends */
	return done;
}

ustack_time_t ustack_next_deadline(const struct ustack *st)
{
	ustack_time_t t = timer_next_at(st);
	ustack_time_t d = ustack_dev_next_at(st->dev, st->now);

	return d < t ? d : t;
}

ustack_time_t ustack_run_timers(struct ustack *st, ustack_time_t now)
{
	stack_set_now(st, now);
	timers_run(st, st->now);
	return ustack_next_deadline(st);
}

uint64_t ustack_stat(const struct ustack *st, enum ustack_stat_id id)
{
	return (unsigned)id < USTACK_STAT__COUNT ? st->stats[id] : 0;
}

void ustack_stats_snapshot(const struct ustack *st,
			   uint64_t out[USTACK_STAT__COUNT])
{
	memcpy(out, st->stats, sizeof(st->stats));
}

const char *ustack_stat_name(enum ustack_stat_id id)
{
	static const char *const names[] = {
#define STAT_NAME_(id, name) name,
		USTACK_STATS(STAT_NAME_)
#undef STAT_NAME_
	};
	return (unsigned)id < USTACK_STAT__COUNT ? names[id] : "?";
}

uint32_t ustack_pkb_in_use(const struct ustack *st)
{
	return st->pool.in_use;
}

const struct ustack_config *ustack_get_config(const struct ustack *st)
{
	return &st->cfg;
}

struct ustack_dev *ustack_get_dev(const struct ustack *st)
{
	return st->dev;
}

void ustack_assert_fail(const char *expr, const char *file, int line)
{
	fprintf(stderr, "ustack: assertion failed: %s (%s:%d)\n", expr, file,
		line);
	abort();
}
