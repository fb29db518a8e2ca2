/*
 * icmp.c - ICMP for a host (RFC 792, RFC 1122 3.2.2): echo replies, the
 * errors we send (RFC 1122 3.2.2 rules, a token-bucket rate limit), the
 * errors we receive (mapped to an errno and handed to UDP, TCP or an echo
 * socket), and echo ("ping") sockets.
 *
 * May touch: st->icmp, ip4_output, ip4_err_notify (errors go up through
 * IPv4's protocol table, never to UDP or TCP by name), the socket layer (sock_queue_dgram, sock_recv_dgram, sock_wakeup,
 * sock_ephemeral_port) and the ICMP counters.
 *
 * Decisions:
 * - Errors quote as much of the offending datagram as fits in 576 bytes
 *   (RFC 1812 4.3.2.3, as Linux does) rather than RFC 792's header + 8
 *   bytes: more for the receiver to match on, still never fragmented.
 * - Source quench is ignored (RFC 6633 2: hosts MUST silently discard
 *   it), as are redirects (a host with one gateway has nothing to
 *   update), timestamps and the other queries: ICMP_DROP_BAD_TYPE.
 * - Errors are rate-limited twice, with Linux's defaults: per
 *   destination (icmp_dst_interval_us 1 s with a burst of 6, as
 *   icmp_ratelimit and XRLIM_BURST_FACTOR) in a fixed table of
 *   ICMP_DST_SLOTS buckets picked by a keyed hash (colliding
 *   destinations share a bucket: never more errors, and a spoofing
 *   flood cannot grow the table), and over all destinations
 *   (icmp_rate_per_sec 1000, burst 50, as icmp_msgs_per_sec and
 *   icmp_msgs_burst). A flood from one source draws about one error a
 *   second; one from random sources at most 1000 a second. Echo replies
 *   are not limited. icmp_rate_per_sec 0 and icmp_dst_interval_us 0
 *   turn each limit off.
 * - ICMP_ERR_DELIVERED counts errors handed to UDP or TCP (they count
 *   whether a socket matched) or to a matching echo socket;
 *   ICMP_ERR_NO_SOCKET the rest (no echo socket, other protocols).
 * - Echo requests are answered whatever their code and options; the
 *   reply carries no options (RFC 1122 3.2.2.6's record-route/timestamp
 *   SHOULD is not done).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "core/assert.h"
#include "core/stack.h"
#include "proto/icmp.h"
#include "proto/ipv4.h"
#include "sock/sock.h"
#include "wire/checksum.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"

/* RFC 1812 4.3.2.3: an error is at most 576 bytes of IP datagram. */
#define ICMP_ERR_MAX_QUOTE (576u - IP4_HDR_LEN - ICMP_HDR_LEN)

/* ---- the rate limit ------------------------------------------------ */

/* A token bucket whose credit is time (RFC 1812 4.3.2.8): bring credit up
 * to date, capped at max. May one of cost go now? take: and spend it. */
static int icmp_bucket_ok(struct icmp_bucket *b, ustack_time_t now,
			  uint64_t cost, uint64_t max, int take)
{
	if (b->credit_at == 0 || now - b->credit_at >= max)
		b->credit_us = max;
	else if ((b->credit_us += now - b->credit_at) > max)
		b->credit_us = max;
	b->credit_at = now ? now : 1;
	if (b->credit_us < cost)
		return 0;
	if (take)
		b->credit_us -= cost;
	return 1;
}

static uint64_t icmp_cost_us(const struct ustack *st)
{
	uint64_t c = 1000000u / st->cfg.icmp_rate_per_sec;

	return c ? c : 1;
}

static uint64_t icmp_credit_max(const struct ustack *st)
{
	uint32_t burst = st->cfg.icmp_rate_burst ? st->cfg.icmp_rate_burst : 1;

	return icmp_cost_us(st) * burst;
}

/* One error to dst may go now? Both buckets must allow it; each is
 * charged only when the error goes (as Linux: icmp_global_allow and the
 * peer's bucket). */
static int icmp_rate_ok(struct ustack *st, uint32_t dst)
{
	struct icmp_state *ic = &st->icmp;
	struct icmp_bucket g = {ic->credit_us, ic->credit_at}, *d = NULL;
	int global = st->cfg.icmp_rate_per_sec != 0;

	if (global && !icmp_bucket_ok(&g, st->now, icmp_cost_us(st),
				      icmp_credit_max(st), 0))
		goto no;
	if (st->cfg.icmp_dst_interval_us) {
		uint32_t k[2] = {ic->dst_salt, dst};
		uint64_t cost = st->cfg.icmp_dst_interval_us;
		uint32_t burst = st->cfg.icmp_dst_burst ? st->cfg.icmp_dst_burst : 1;

		d = &ic->dst[rand_hash(&st->rand, k, sizeof(k)) &
			     (ICMP_DST_SLOTS - 1)];
		if (!icmp_bucket_ok(d, st->now, cost, cost * burst, 1))
			goto no;
	}
	if (global)
		g.credit_us -= icmp_cost_us(st);
	ic->credit_us = g.credit_us;
	ic->credit_at = g.credit_at;
	return 1;
no:
	ic->credit_us = g.credit_us;
	ic->credit_at = g.credit_at;
	return 0;
}

/* ---- errors we send -------------------------------------------------- */

/* Query (informational) types: RFC 792, RFC 950, RFC 1256. Anything else,
 * unknown types included, counts as an error and never gets one back. */
static int icmp_is_query(uint8_t type)
{
	switch (type) {
	case ICMP_ECHO_REPLY:
	case ICMP_ECHO:
	case 9: case 10:            /* router advertisement, solicitation */
	case 13: case 14:           /* timestamp, reply */
	case 15: case 16:           /* information request, reply */
	case 17: case 18:           /* address mask request, reply */
		return 1;
	}
	return 0;
}

/* RFC 1122 3.2.2: a source that names one host (not 0, broadcast,
 * multicast, loopback, reserved). */
static int icmp_unicast_src(const struct ustack *st, uint32_t src)
{
	return (src >> 24) != 0 && !ip4_is_loopback(src) &&
	       !ip4_is_multicast(src) && (src >> 28) != 0xf &&
	       !ip4_is_broadcast(st, src);
}

/* RFC 1122 3.2.2: may we send an error about this datagram at all? */
static int icmp_error_allowed(const struct ustack *st, const struct pkb *orig,
			      const uint8_t *oh, uint32_t avail)
{
	uint32_t ohl = ip4_hlen(oh);

	if (orig->ip.bcast || orig->l2_mcast || ip4_is_multicast(ip4_dst(oh)))
		return 0;
	if (ip4_frag_off(oh) != 0)
		return 0; /* not the first fragment */
	if (!icmp_unicast_src(st, ip4_src(oh)))
		return 0;
	if (ip4_proto(oh) == IP4_PROTO_ICMP &&
	    (avail <= ohl || !icmp_is_query(oh[ohl])))
		return 0; /* never about an ICMP error */
	return 1;
}

void icmp_send_error(struct ustack *st, const struct pkb *orig, uint8_t type,
		     uint8_t code, uint32_t info)
{
	const uint8_t *oh = pkb_nh(orig);
	const uint8_t *end = orig->data + orig->len;
	uint32_t avail, quote;
	struct ip4_tx tx = {.proto = IP4_PROTO_ICMP};
	struct pkb *p;
	uint8_t *d;

	if (orig->nh_off == 0 || end < oh + IP4_HDR_LEN)
		return; /* not a received datagram */
	avail = (uint32_t)(end - oh);
	if (avail > ip4_total_len(oh))
		avail = ip4_total_len(oh);
	if (ip4_hlen(oh) > avail || !icmp_error_allowed(st, orig, oh, avail))
		return;
	if (!icmp_rate_ok(st, ip4_src(oh))) {
		STAT_INC(st, ICMP_RATE_LIMITED);
		return;
	}
	quote = USTACK_MIN(avail, ICMP_ERR_MAX_QUOTE);
	if ((p = pkb_alloc(st, ICMP_HDR_LEN + quote)) == NULL)
		return;
	d = pkb_put(p, ICMP_HDR_LEN + quote);
	memset(d, 0, ICMP_HDR_LEN);
	d[ICMP_OFF_TYPE] = type;
	d[ICMP_OFF_CODE] = code;
	if (type == ICMP_DEST_UNREACH && code == ICMP_FRAG_NEEDED)
		be16_store(d + ICMP_OFF_MTU, (uint16_t)info); /* RFC 1191 4 */
	else if (type == ICMP_PARAM_PROBLEM)
		d[4] = (uint8_t)info;
	memcpy(d + ICMP_HDR_LEN, oh, quote);
	be16_store(d + ICMP_OFF_CSUM, csum_buf(d, ICMP_HDR_LEN + quote));
	tx.dst = ip4_src(oh);
	STAT_INC(st, ICMP_TX);
	if (type == ICMP_DEST_UNREACH)
		STAT_INC(st, ICMP_TX_DEST_UNREACH);
	else if (type == ICMP_TIME_EXCEEDED)
		STAT_INC(st, ICMP_TX_TIME_EXCEEDED);
	/* unchecked: an error is best effort (RFC 1122 3.2.2); a lost one
	 * is lost as it could be on the wire */
	ip4_output(st, p, &tx);
}

/* ---- echo ------------------------------------------------------------ */

/* RFC 792, RFC 1122 3.2.2.6: the reply carries the request's identifier,
 * sequence number and data unchanged: turn the request around in place. */
static void icmp_echo(struct ustack *st, struct pkb *pkb)
{
	uint8_t *h = pkb->data;
	struct ip4_tx tx = {.proto = IP4_PROTO_ICMP};
	uint16_t old_word = be16_load(h), new_word, hc;

	/* RFC 1122 3.2.2.6: MAY ignore requests to broadcast/multicast */
	if (pkb->ip.bcast || pkb->l2_mcast) {
		STAT_INC(st, ICMP_DROP_BCAST_ECHO);
		pkb_free(st, pkb);
		return;
	}
	STAT_INC(st, ICMP_RX_ECHO);
	h[ICMP_OFF_TYPE] = ICMP_ECHO_REPLY;
	new_word = be16_load(h);
	/* RFC 1624 3, eqn. 3: HC' = ~(~HC + ~m + m'). It gives 0x0000 both
	 * when the message sums to 0xffff (right) and when every word is zero
	 * (wrong: the sum is +0, so the field must be 0xffff). The two differ
	 * only in the data, so recompute in full in that one rare case. */
	hc = be16_load(h + ICMP_OFF_CSUM);
	hc = csum_fold((uint32_t)(uint16_t)~hc + (uint16_t)~old_word + new_word);
	if (hc == 0) {
		be16_store(h + ICMP_OFF_CSUM, 0);
		hc = csum_buf(h, pkb->len);
	}
	be16_store(h + ICMP_OFF_CSUM, hc);
	tx.src = pkb->ip.dst;
	tx.dst = pkb->ip.src;
	tx.tos = pkb->ip.tos;
	STAT_INC(st, ICMP_TX);
	STAT_INC(st, ICMP_TX_ECHO_REPLY);
	/* unchecked: a lost reply is the pinger's to retry */
	ip4_output(st, pkb, &tx);
}

static struct sock *icmp_sock_find(struct ustack *st, uint16_t id,
				   uint32_t raddr)
{
	for (struct sock *sk = st->icmp.socks; sk; sk = sk->hash_next)
		if (sk->bound && sk->lport == id &&
		    (!sk->connected || sk->raddr == raddr))
			return sk;
	return NULL;
}

static void icmp_echo_reply(struct ustack *st, struct pkb *pkb)
{
	struct sock *sk;

	STAT_INC(st, ICMP_RX_ECHO_REPLY);
	sk = icmp_sock_find(st, icmp_id(pkb->data), pkb->ip.src);
	if (!sk) {
		STAT_INC(st, ICMP_DROP_NO_SOCKET);
		pkb_free(st, pkb);
		return;
	}
	pkb->scratch = 0; /* no source port (recvfrom gives sin_port 0) */
	if (sock_queue_dgram(st, sk, pkb) < 0) {
		STAT_INC(st, ICMP_DROP_RCVBUF);
		pkb_free(st, pkb);
	}
}

/* ---- errors we receive ---------------------------------------------- */

/* RFC 1122 3.2.2.1 and 4.2.3.9 (and Linux's choices where they are
 * silent). TCP decides which are hard (proto, port, frag needed) and which
 * soft (net, host, source route failed). 0: unknown code. */
static int icmp_unreach_errno(uint8_t code)
{
	static const int map[16] = {
		[ICMP_NET_UNREACH] = ENETUNREACH,
		[ICMP_HOST_UNREACH] = EHOSTUNREACH,
		[ICMP_PROTO_UNREACH] = ENOPROTOOPT,
		[ICMP_PORT_UNREACH] = ECONNREFUSED,
		[ICMP_FRAG_NEEDED] = EMSGSIZE,
		[ICMP_SR_FAILED] = EHOSTUNREACH,
		[ICMP_NET_UNKNOWN] = ENETUNREACH,
		[ICMP_HOST_UNKNOWN] = EHOSTUNREACH,
		[8] = EHOSTUNREACH,         /* source host isolated */
		[ICMP_NET_PROHIB] = ENETUNREACH,
		[ICMP_HOST_PROHIB] = EHOSTUNREACH,
		[11] = ENETUNREACH,         /* net unreachable for TOS */
		[12] = EHOSTUNREACH,        /* host unreachable for TOS */
		[ICMP_ADMIN_PROHIB] = EHOSTUNREACH, /* RFC 1812 */
		[14] = EHOSTUNREACH,        /* host precedence violation */
		[15] = EHOSTUNREACH,        /* precedence cutoff */
	};
	return code < 16 ? map[code] : 0;
}

/* An error about one of our echo requests, or ARP gave up on a neighbour
 * (no quote: every echo socket connected to it): the socket's so_error. */
static int icmp_err(struct ustack *st, const struct ip4_err *e)
{
	struct sock *sk;

	if (!e->l4) {
		for (sk = st->icmp.socks; sk; sk = sk->hash_next)
			if (sk->connected && sk->raddr == e->raddr) {
				sk->so_error = e->err;
				sock_wakeup(st, sk);
			}
		return 1;
	}
	if (e->l4[0] != ICMP_ECHO ||
	    (sk = icmp_sock_find(st, icmp_id(e->l4), e->raddr)) == NULL)
		return 0;
	sk->so_error = e->err;
	sock_wakeup(st, sk);
	return 1;
}

/* The quoted header: RFC 792, at least IP header + 8 bytes; it must be a
 * first fragment we sent. Then hand the error to its protocol, through
 * IPv4's table (ip4_err_notify). */
static void icmp_error_deliver(struct ustack *st, const struct pkb *pkb,
			       int err, uint16_t mtu)
{
	const uint8_t *q = pkb->data + ICMP_HDR_LEN;
	uint32_t qlen = pkb->len - ICMP_HDR_LEN, qhl;
	struct ip4_err e = {.err = err, .mtu = mtu};

	if (qlen < IP4_HDR_LEN || ip4_version(q) != 4 ||
	    (qhl = ip4_hlen(q)) < IP4_HDR_LEN || qlen < qhl + 8 ||
	    !ip4_is_local(st, ip4_src(q)) || ip4_frag_off(q) != 0) {
		STAT_INC(st, ICMP_DROP_BAD_QUOTE);
		return;
	}
	e.l4 = q + qhl;
	e.laddr = ip4_src(q);
	e.raddr = ip4_dst(q);
	if (ip4_err_notify(st, ip4_proto(q), &e))
		STAT_INC(st, ICMP_ERR_DELIVERED);
	else
		STAT_INC(st, ICMP_ERR_NO_SOCKET);
}

static void icmp_error_input(struct ustack *st, struct pkb *pkb)
{
	const uint8_t *h = pkb->data;
	uint16_t mtu = 0;
	int err = 0;

	switch (icmp_type(h)) {
	case ICMP_DEST_UNREACH:
		STAT_INC(st, ICMP_RX_DEST_UNREACH);
		err = icmp_unreach_errno(icmp_code(h));
		if (icmp_code(h) == ICMP_FRAG_NEEDED)
			mtu = be16_load(h + ICMP_OFF_MTU); /* RFC 1191 4 */
		break;
	case ICMP_TIME_EXCEEDED:
		STAT_INC(st, ICMP_RX_TIME_EXCEEDED);
		err = icmp_code(h) <= 1 ? EHOSTUNREACH : 0;
		break;
	case ICMP_PARAM_PROBLEM:
		STAT_INC(st, ICMP_RX_PARAM_PROBLEM);
		err = EPROTO;
		break;
	}
	if (err)
		icmp_error_deliver(st, pkb, err, mtu);
	else
		STAT_INC(st, ICMP_DROP_BAD_TYPE); /* unknown code */
	pkb_free(st, pkb);
}

void icmp_input(struct ustack *st, struct pkb *pkb)
{
	const uint8_t *h = pkb->data;

	STAT_INC(st, ICMP_RX);
	if (pkb->len < ICMP_HDR_LEN) {
		STAT_INC(st, ICMP_DROP_SHORT);
		goto drop;
	}
	if (csum_buf(h, pkb->len) != 0) {
		STAT_INC(st, ICMP_DROP_BAD_CHECKSUM);
		goto drop;
	}
	switch (icmp_type(h)) {
	case ICMP_ECHO:
		icmp_echo(st, pkb);
		return;
	case ICMP_ECHO_REPLY:
		icmp_echo_reply(st, pkb);
		return;
	case ICMP_DEST_UNREACH:
	case ICMP_TIME_EXCEEDED:
	case ICMP_PARAM_PROBLEM:
		icmp_error_input(st, pkb);
		return;
	default: /* source quench (RFC 6633), redirect, other queries */
		STAT_INC(st, ICMP_DROP_BAD_TYPE);
		break;
	}
drop:
	pkb_free(st, pkb);
}

/* ---- echo sockets ---------------------------------------------------- */

static int icmp_id_in_use(struct ustack *st, uint16_t id, void *ctx)
{
	for (struct sock *sk = st->icmp.socks; sk; sk = sk->hash_next)
		if (sk != ctx && sk->bound && sk->lport == id)
			return 1;
	return 0;
}

/* Give sk an identifier if it has none (bind to port 0, first send). */
static int icmp_autobind(struct ustack *st, struct sock *sk, uint32_t raddr)
{
	uint16_t id;
	int err;

	if (sk->bound)
		return 0;
	err = sock_ephemeral_port(st, IPPROTO_ICMP, sk->laddr, raddr, 0,
				  icmp_id_in_use, sk, &id);
	if (err < 0)
		return err;
	sk->lport = id;
	sk->bound = 1;
	return 0;
}

static int icmp_sock_init(struct ustack *st, struct sock *sk)
{
	pkb_queue_init(&sk->rcvq);
	sk->hash_next = st->icmp.socks;
	st->icmp.socks = sk;
	return 0;
}

static void icmp_sock_release(struct ustack *st, struct sock *sk)
{
	struct sock **pp = &st->icmp.socks;

	while (*pp && *pp != sk)
		pp = &(*pp)->hash_next;
	if (*pp)
		*pp = sk->hash_next;
	sk->hash_next = NULL;
	pkb_queue_purge(st, &sk->rcvq);
}

static int icmp_sock_bind(struct ustack *st, struct sock *sk,
			  const struct sockaddr_in *addr)
{
	uint32_t a = ntohl(addr->sin_addr.s_addr);
	uint16_t id = ntohs(addr->sin_port);

	if (sk->bound)
		return -EINVAL;
	if (a != 0 && !ip4_is_local(st, a))
		return -EADDRNOTAVAIL;
	sk->laddr = a;
	if (id == 0)
		return icmp_autobind(st, sk, 0);
	if (icmp_id_in_use(st, id, sk))
		return -EADDRINUSE;
	sk->lport = id;
	sk->bound = 1;
	return 0;
}

static int icmp_sock_connect(struct ustack *st, struct sock *sk,
			     const struct sockaddr_in *addr)
{
	uint32_t dst, nh;
	int err;

	if (addr->sin_family == AF_UNSPEC) {
		sk->raddr = 0;
		sk->connected = 0;
		return 0;
	}
	dst = ntohl(addr->sin_addr.s_addr);
	if (!ip4_is_local(st, dst) && ip4_route(st, dst, &nh) < 0)
		return -ENETUNREACH;
	if ((err = icmp_autobind(st, sk, dst)) < 0)
		return err;
	sk->raddr = dst;
	sk->connected = 1;
	return 0;
}

static ssize_t icmp_sock_sendto(struct ustack *st, struct sock *sk,
				const void *buf, size_t len, int flags,
				const struct sockaddr_in *dst)
{
	const uint8_t *b = buf;
	struct ip4_tx tx = {.proto = IP4_PROTO_ICMP, .ttl = sk->opt.conn.ttl,
			    .tos = sk->opt.conn.tos};
	struct pkb *p;
	uint8_t *d;
	int err;

	(void)flags;
	if (sk->shut_wr)
		return -EPIPE;
	if (dst)
		tx.dst = ntohl(dst->sin_addr.s_addr);
	else if (sk->connected)
		tx.dst = sk->raddr;
	else
		return -EDESTADDRREQ;
	if (len < ICMP_HDR_LEN || b[ICMP_OFF_TYPE] != ICMP_ECHO ||
	    b[ICMP_OFF_CODE] != 0)
		return -EINVAL; /* echo requests only, as on Linux */
	if (len > IP4_MAX_LEN - IP4_HDR_LEN)
		return -EMSGSIZE;
	if (ip4_is_broadcast(st, tx.dst) && !sk->opt.broadcast)
		return -EACCES;
	if ((err = icmp_autobind(st, sk, tx.dst)) < 0)
		return err;
	if ((p = pkb_alloc(st, (uint32_t)len)) == NULL)
		return -ENOBUFS;
	d = pkb_put(p, (uint32_t)len);
	memcpy(d, buf, len);
	be16_store(d + ICMP_OFF_ID, sk->lport);
	be16_store(d + ICMP_OFF_CSUM, 0);
	be16_store(d + ICMP_OFF_CSUM, csum_buf(d, len));
	tx.src = sk->laddr;
	STAT_INC(st, ICMP_TX);
	STAT_INC(st, ICMP_TX_ECHO);
	err = ip4_output(st, p, &tx);
	return err < 0 ? err : (ssize_t)len;
}

static ssize_t icmp_sock_recvfrom(struct ustack *st, struct sock *sk,
				  void *buf, size_t len, int flags,
				  struct sockaddr_in *src)
{
	if (!sk->rcvq.count && sk->so_error) {
		int err = sk->so_error;

		sk->so_error = 0;
		return -err;
	}
	return sock_recv_dgram(st, sk, buf, len, flags, src);
}

static short icmp_sock_poll(struct ustack *st, struct sock *sk)
{
	short ev = 0;

	(void)st;
	if (sk->rcvq.count || sk->shut_rd)
		ev |= POLLIN;
	if (!sk->shut_wr)
		ev |= POLLOUT;
	if (sk->so_error)
		ev |= POLLERR;
	return ev;
}

static int icmp_sock_shutdown(struct ustack *st, struct sock *sk, int how)
{
	(void)how;
	sock_wakeup(st, sk); /* readers see end of data */
	return 0;
}

const struct sock_ops icmp_sock_ops = {
	.init = icmp_sock_init,
	.release = icmp_sock_release,
	.bind = icmp_sock_bind,
	.connect = icmp_sock_connect,
	.sendto = icmp_sock_sendto,
	.recvfrom = icmp_sock_recvfrom,
	.shutdown = icmp_sock_shutdown,
	.poll = icmp_sock_poll,
};

/* ---- life cycle ------------------------------------------------------ */

static const struct ip4_proto icmp_ip4_proto = {
	.input = icmp_input,
	.err = icmp_err,
};

int icmp_init(struct ustack *st)
{
	ip4_proto_add(st, IP4_PROTO_ICMP, &icmp_ip4_proto);
	st->icmp.credit_at = 0; /* full at the first error */
	st->icmp.credit_us = 0;
	memset(st->icmp.dst, 0, sizeof(st->icmp.dst));
	st->icmp.dst_salt = (uint32_t)rand_hash(&st->rand, "icmp-rl", 7);
	st->icmp.socks = NULL;
	return 0;
}

void icmp_fini(struct ustack *st)
{
	/* echo sockets were released by sock_table_fini; forget any left */
	st->icmp.socks = NULL;
}
