/*
 * ipv4.c - IPv4 for a host (RFC 791, RFC 1122 3.2 and 3.3): header
 * validation, address checks and demultiplexing on input; routing (the
 * connected subnet and one default gateway), the header and loopback on
 * output. Fragments are handed to ip4_frag.c both ways.
 *
 * May touch: st->ip4, arp_output, the handlers the protocols above
 * registered (struct ip4_proto: input, err), icmp_send_error, the IP4
 * counters.
 *
 * Decisions (the RFC leaves room):
 * - TTL: RFC 1122 3.2.1.7 says a host MUST NOT discard a datagram just
 *   because it arrived with TTL < 2, and a host does not forward, so no
 *   TTL is dropped on input, not even 0 (Linux delivers those too);
 *   IP4_DROP_TTL stays at zero. We never send TTL 0.
 * - Options are checked for well-formed lengths and skipped (RFC 1122
 *   3.2.1.8 lets a host ignore the ones it does not implement); none is
 *   acted on, source routes included.
 * - Packets to our own address are looped back through a bounded queue
 *   (IP4_LOOP_MAX) processed from the timer path; 127/8 is not routed.
 * - Identification (RFC 7739 5.3, as Linux does): a keyed hash of
 *   (source, destination, protocol) picks one of IP4_ID_BUCKETS counters
 *   and gives a per-destination random offset;
 *   the ID is offset + counter and the counter steps by one. So IDs
 *   towards one destination are unique for 65,536 datagrams (RFC 6864 4
 *   asks uniqueness per source, destination and protocol within the
 *   datagram's lifetime), while a host sees only its own bucket: it can
 *   not count our traffic to others (idle scans) nor guess the IDs we use
 *   towards a third party (fragment injection). Atomic datagrams (DF, not
 *   fragmented) take their ID from the same scheme, although RFC 6864 4.1
 *   lets them carry anything: one path for every datagram, IDs stay
 *   useful to tell duplicates apart in captures, TSO segments get the
 *   consecutive IDs the device gives them, and a constant (zero) would
 *   tell an observer which packets are DF-atomic for nothing in return.
 *   The hash results of recent flows are cached (IP4_ID_CACHE), so a bulk
 *   transfer pays a compare, not a SipHash, per datagram.
 * - TSO super-frames (pkb->gso_size, built by TCP only when the device
 *   does TSO) are never fragmented: the device cuts them into segments
 *   that fit the MTU. A device's checksum verdict (pkb->csum) does not
 *   survive fragmentation: reassembled datagrams are checked in full.
 */
#include <errno.h>
#include <string.h>

#include "core/stack.h"
#include "proto/arp.h"
#include "proto/filter.h"
#include "proto/icmp.h"
#include "proto/ip4_int.h"
#include "proto/ipv4.h"
#include "wire/checksum.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"

static void ip4_loop_fire(struct ustack *st, struct timer *t,
			  ustack_time_t now);

/* ---- addresses and routes ------------------------------------------ */

int ip4_is_local(const struct ustack *st, uint32_t addr)
{
	return addr == st->cfg.addr;
}

/* The subnet has a broadcast address only up to /30 (RFC 3021 for /31). */
static int ip4_has_subnet_bcast(const struct ustack *st)
{
	return st->cfg.prefix_len <= 30;
}

int ip4_is_broadcast(const struct ustack *st, uint32_t addr)
{
	if (ip4_is_limited_bcast(addr))
		return 1;
	return ip4_has_subnet_bcast(st) &&
	       addr == (st->cfg.addr | ~st->netmask);
}

/* On input also the old all-zeros host form {net, 0}: RFC 1122 3.3.6
 * says hosts SHOULD accept it. We never send to it as a broadcast. */
static int ip4_is_bcast_rx(const struct ustack *st, uint32_t addr)
{
	return ip4_is_broadcast(st, addr) ||
	       (ip4_has_subnet_bcast(st) &&
		addr == (st->cfg.addr & st->netmask));
}

/* RFC 1122 3.2.1.3: addresses that are never a valid destination of ours
 * to route: {0, x}, 127/8 (loopback is internal only), 240/4 (reserved). */
static int ip4_unroutable(uint32_t dst)
{
	return (dst >> 24) == 0 || ip4_is_loopback(dst) ||
	       ((dst >> 28) == 0xf && !ip4_is_limited_bcast(dst));
}

int ip4_route(const struct ustack *st, uint32_t dst, uint32_t *nexthop)
{
	if (ip4_unroutable(dst))
		return -ENETUNREACH;
	if (ip4_is_limited_bcast(dst) || ip4_is_multicast(dst) ||
	    ((dst ^ st->cfg.addr) & st->netmask) == 0) {
		*nexthop = dst; /* on the link */
		return 0;
	}
	if (st->cfg.gateway) {
		*nexthop = st->cfg.gateway;
		return 0;
	}
	return -ENETUNREACH;
}

uint32_t ip4_max_payload(const struct ustack *st)
{
	return (uint32_t)st->cfg.mtu - IP4_HDR_LEN;
}

/* ---- input ----------------------------------------------------------- */

/* RFC 1122 3.2.1.8: options are type-length-value, except EOL and NOP.
 * Returns 0 when every option fits the header. */
static int ip4_check_options(const uint8_t *h, unsigned hlen)
{
	unsigned i = IP4_HDR_LEN;

	while (i < hlen) {
		uint8_t type = h[i], olen;

		if (type == 0) /* end of list: the rest is padding */
			return 0;
		if (type == 1) { /* no-op */
			i++;
			continue;
		}
		if (i + 1 >= hlen)
			return -1;
		olen = h[i + 1];
		if (olen < 2 || i + olen > hlen)
			return -1;
		i += olen;
	}
	return 0;
}

/* RFC 791 3.1, RFC 1122 3.2.1.1-2: a well-formed header, the frame trimmed
 * to the total length (Ethernet padding). Returns 0 or -1 (counted). */
static int ip4_validate(struct ustack *st, struct pkb *pkb)
{
	const uint8_t *h = pkb->data;
	unsigned hlen;
	uint16_t tot;

	if (pkb->len < IP4_HDR_LEN) {
		STAT_INC(st, IP4_DROP_SHORT);
		return -1;
	}
	if (ip4_version(h) != 4) {
		STAT_INC(st, IP4_DROP_BAD_VERSION);
		return -1;
	}
	hlen = ip4_hlen(h);
	if (hlen < IP4_HDR_LEN) {
		STAT_INC(st, IP4_DROP_BAD_IHL);
		return -1;
	}
	if (hlen > pkb->len) {
		STAT_INC(st, IP4_DROP_SHORT);
		return -1;
	}
	tot = ip4_total_len(h);
	if (tot < hlen || tot > pkb->len) {
		STAT_INC(st, IP4_DROP_BAD_LENGTH);
		return -1;
	}
	if (csum_ip4_hdr(h, hlen) != 0) {
		STAT_INC(st, IP4_DROP_BAD_CHECKSUM);
		return -1;
	}
	if (ip4_check_options(h, hlen) < 0) {
		STAT_INC(st, IP4_DROP_BAD_OPTIONS);
		return -1;
	}
	pkb_trim(pkb, tot);
	return 0;
}

/* RFC 1122 3.2.1.3: "A host MUST silently discard an incoming datagram
 * containing an IP source address that is invalid by the rules of this
 * section": {0, 0} except to the limited broadcast (initialisation, e.g.
 * DHCP), {0, host}, 127/8, broadcast, multicast, 240/4; and our own
 * address from the wire (a loop or a spoof). */
static int ip4_martian_src(const struct ustack *st, uint32_t src, uint32_t dst)
{
	if (src == 0)
		return !ip4_is_limited_bcast(dst);
	return (src >> 24) == 0 || ip4_is_loopback(src) ||
	       ip4_is_multicast(src) || (src >> 28) == 0xf ||
	       ip4_is_bcast_rx(st, src) || ip4_is_local(st, src);
}

static void ip4_deliver(struct ustack *st, struct pkb *pkb)
{
	const struct ip4_proto *p = st->ip4.protos[pkb->ip.proto];

	if (p) {
		STAT_INC(st, IP4_RX_DELIVERED);
		p->input(st, pkb);
		return;
	}
	/* RFC 1122 3.2.2.1: protocol unreachable (never for broadcasts;
	 * icmp_send_error checks) */
	icmp_send_error(st, pkb, ICMP_DEST_UNREACH, ICMP_PROTO_UNREACH, 0);
	STAT_INC(st, IP4_DROP_UNKNOWN_PROTO);
	pkb_free(st, pkb);
}

/* ---- the protocols above: registration, errors ----------------------- */

void ip4_proto_add(struct ustack *st, uint8_t proto, const struct ip4_proto *p)
{
	st->ip4.protos[proto] = p;
}

const struct ip4_proto *ip4_proto_get(const struct ustack *st, uint8_t proto)
{
	return st->ip4.protos[proto];
}

int ip4_err_notify(struct ustack *st, uint8_t proto, const struct ip4_err *e)
{
	const struct ip4_proto *p = st->ip4.protos[proto];

	return p && p->err ? p->err(st, e) : 0;
}

/* Rare (ARP gave up on a neighbour), so every protocol scans its own
 * sockets or connections. */
void ip4_neigh_unreachable(struct ustack *st, uint32_t addr)
{
	struct ip4_err e = {.err = EHOSTUNREACH, .laddr = st->cfg.addr,
			    .raddr = addr};

	for (unsigned i = 0; i < 256; i++)
		if (st->ip4.protos[i] && st->ip4.protos[i]->err)
			st->ip4.protos[i]->err(st, &e);
}

/* Validate, check addresses, reassemble, deliver. loop: from ourselves. */
static void ip4_rcv(struct ustack *st, struct pkb *pkb, int loop)
{
	const uint8_t *h = pkb->data;
	uint32_t src, dst;
	int bcast = 0;

	STAT_INC(st, IP4_RX);
	if (ip4_validate(st, pkb) < 0)
		goto drop;
	src = ip4_src(h);
	dst = ip4_dst(h);
	if (!loop && ip4_martian_src(st, src, dst)) {
		STAT_INC(st, IP4_DROP_BAD_SRC);
		goto drop;
	}
	if (!ip4_is_local(st, dst)) {
		/* multicast is not supported: counted as not for us */
		if (!ip4_is_bcast_rx(st, dst)) {
			STAT_INC(st, IP4_DROP_NOT_US);
			goto drop;
		}
		bcast = 1;
	} else if (pkb->l2_mcast) {
		/* RFC 1122 3.3.6: link broadcast with a unicast IP dst */
		STAT_INC(st, IP4_DROP_NOT_US);
		goto drop;
	}
	pkb->ip.src = src;
	pkb->ip.dst = dst;
	pkb->ip.proto = ip4_proto(h);
	pkb->ip.ttl = ip4_ttl(h);
	pkb->ip.tos = ip4_tos(h);
	pkb->ip.hlen = (uint8_t)ip4_hlen(h);
	pkb->ip.id = ip4_id(h);
	pkb->ip.bcast = (uint8_t)bcast;
	pkb->ip.reasm = 0;
	pkb_set_nh(pkb);
	pkb_pull(pkb, pkb->ip.hlen);
	pkb_set_th(pkb);
	if (ip4_frag_field(h) & (IP4_FLAG_MF | IP4_FRAG_MASK)) {
		/* A device's word on the checksum covers one frame, not the
		 * datagram: the reassembled whole is checked in full. */
		pkb->csum = PKB_CSUM_NONE;
		if ((pkb = ip4_reasm_input(st, pkb)) == NULL)
			return;
	}
	if (filter_input(st, pkb)) /* dropped or rejected (proto/filter.c) */
		return;
	ip4_deliver(st, pkb);
	return;
drop:
	pkb_free(st, pkb);
}

void ip4_input(struct ustack *st, struct pkb *pkb)
{
	ip4_rcv(st, pkb, 0);
}

/* ---- output ---------------------------------------------------------- */

void ip4_build_hdr(uint8_t *h, const struct ip4_tx *tx, uint32_t src,
		   uint16_t total_len, uint16_t id, uint16_t frag)
{
	h[IP4_OFF_VIHL] = 0x45;
	h[IP4_OFF_TOS] = tx->tos;
	be16_store(h + IP4_OFF_LEN, total_len);
	be16_store(h + IP4_OFF_ID, id);
	be16_store(h + IP4_OFF_FRAG, frag);
	/* RFC 1122 3.2.1.7: never TTL 0 */
	h[IP4_OFF_TTL] = tx->ttl ? tx->ttl : IP4_DEFAULT_TTL;
	h[IP4_OFF_PROTO] = tx->proto;
	be16_store(h + IP4_OFF_CSUM, 0);
	be32_store(h + IP4_OFF_SRC, src);
	be32_store(h + IP4_OFF_DST, tx->dst);
	be16_store(h + IP4_OFF_CSUM, csum_ip4_hdr(h, IP4_HDR_LEN));
}

/* RFC 7739 5.3: the ID of the next datagram from src to dst with proto,
 * reserving n consecutive IDs (a TSO super-frame's segments). */
static uint16_t ip4_select_id(struct ustack *st, uint32_t src, uint32_t dst,
			      uint8_t proto, uint16_t n)
{
	/* The salt keeps these hashes apart from the ISN and port ones;
	 * the counters start at zero, the keyed offset makes the start of
	 * each destination's sequence unpredictable. */
	struct ip4_id_cache *c =
		&st->ip4.id_cache[(dst ^ (dst >> 8) ^ proto) & (IP4_ID_CACHE - 1)];
	uint16_t *ctr, id;

	if (!c->valid || c->dst != dst || c->src != src || c->proto != proto) {
		uint32_t k[4] = {st->ip4.id_salt, src, dst, proto};
		uint64_t h = rand_hash(&st->rand, k, sizeof(k));

		*c = (struct ip4_id_cache){.src = src, .dst = dst, .proto = proto,
					   .valid = 1, .off = (uint16_t)(h >> 32),
					   .bucket = (uint16_t)(h & (IP4_ID_BUCKETS - 1))};
	}
	ctr = &st->ip4.ids[c->bucket];
	id = (uint16_t)(c->off + *ctr);
	*ctr = (uint16_t)(*ctr + n);
	return id;
}

/* To ourselves: queue the whole packet for the next timer run. */
static int ip4_loop(struct ustack *st, struct pkb *pkb,
		    const struct ip4_tx *tx, uint32_t src)
{
	struct ip4_state *ip = &st->ip4;
	uint32_t total = IP4_HDR_LEN + pkb->len;

	if (ip->loopq.count >= IP4_LOOP_MAX) {
		STAT_INC(st, IP4_DROP_LOOP_FULL);
		pkb_free(st, pkb);
		return -ENOBUFS;
	}
	ip4_build_hdr(pkb_push(pkb, IP4_HDR_LEN), tx, src, (uint16_t)total,
		      ip4_select_id(st, src, tx->dst, tx->proto, 1),
		      tx->df ? IP4_FLAG_DF : 0);
	STAT_INC(st, IP4_TX);
	pkb_queue_push(&ip->loopq, pkb);
	if (!timer_armed(&ip->loop_timer))
		timer_arm(st, &ip->loop_timer, st->now);
	return 0;
}

static void ip4_loop_fire(struct ustack *st, struct timer *t,
			  ustack_time_t now)
{
	struct ip4_state *ip = &st->ip4;
	/* only what is queued now: replies wait for the next run */
	uint32_t n = ip->loopq.count;

	(void)t;
	while (n-- > 0) {
		struct pkb *p = pkb_queue_pop(&ip->loopq);

		p->l2_mcast = 0;
		STAT_INC(st, IP4_RX_LOOP);
		ip4_rcv(st, p, 1);
	}
	if (ip->loopq.count && !timer_armed(&ip->loop_timer))
		timer_arm(st, &ip->loop_timer, now);
}

int ip4_output(struct ustack *st, struct pkb *pkb, const struct ip4_tx *tx)
{
	uint32_t src = tx->src ? tx->src : st->cfg.addr, nexthop;
	uint32_t total = IP4_HDR_LEN + pkb_total_len(pkb);
	uint16_t id, nseg = 1;

	if (total > IP4_MAX_LEN) {
		STAT_INC(st, IP4_DROP_TOO_BIG);
		pkb_free(st, pkb);
		return -EMSGSIZE;
	}
	if (ip4_is_local(st, tx->dst))
		return ip4_loop(st, pkb, tx, src);
	if (ip4_route(st, tx->dst, &nexthop) < 0) {
		STAT_INC(st, IP4_DROP_NO_ROUTE);
		pkb_free(st, pkb);
		return -ENETUNREACH;
	}
	/* TSO: the device cuts the frame into segments of at most the MTU
	 * and gives them ids id, id + 1, ...: keep those unused (RFC 6864
	 * 4.1 asks no more of atomic datagrams, but it costs nothing). */
	if (pkb->gso_size)
		nseg = (uint16_t)((pkb_total_len(pkb) + pkb->gso_size - 1) /
				  pkb->gso_size);
	id = ip4_select_id(st, src, tx->dst, tx->proto, nseg);
	STAT_INC(st, IP4_TX);
	if (!pkb->gso_size && total > st->cfg.mtu) {
		if (tx->df) {
			STAT_INC(st, IP4_DROP_DF);
			pkb_free(st, pkb);
			return -EMSGSIZE;
		}
		pkb_linearize(pkb);
		return ip4_fragment(st, pkb, tx, src, id, nexthop);
	}
	ip4_build_hdr(pkb_push(pkb, IP4_HDR_LEN), tx, src, (uint16_t)total, id,
		      tx->df ? IP4_FLAG_DF : 0);
	return arp_output(st, pkb, nexthop);
}

/* ---- life cycle ------------------------------------------------------ */

int ip4_init(struct ustack *st)
{
	struct ip4_state *ip = &st->ip4;

	memset(ip->ids, 0, sizeof(ip->ids));
	memset(ip->id_cache, 0, sizeof(ip->id_cache));
	ip->id_salt = rand_u32(&st->rand);
	pkb_queue_init(&ip->loopq);
	timer_init(&ip->loop_timer, ip4_loop_fire);
	return ip4_reasm_init(st);
}

void ip4_fini(struct ustack *st)
{
	struct ip4_state *ip = &st->ip4;

	if (ip->loop_timer.fn)
		timer_cancel(st, &ip->loop_timer);
	pkb_queue_purge(st, &ip->loopq);
	ip4_reasm_fini(st);
}
