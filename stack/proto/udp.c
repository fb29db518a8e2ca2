/*
 * udp.c - UDP (RFC 768, RFC 1122 4.1): datagram input and demux, output
 * with checksums, port unreachable, ICMP errors, and udp_sock_ops.
 *
 * Sockets with a local port sit in a hash by port (chains through
 * sk->hash_next, newest first). Demux of a datagram to (dst, dport) from
 * (src, sport) takes the best of that port's sockets: one connected to
 * exactly (src, sport), else one bound to dst, else a wildcard one; among
 * equals the most recently bound (SO_REUSEADDR is the only way to have
 * equals). Broadcast datagrams go to every unconnected-or-matching socket
 * on the port that is bound to the wildcard address, as Linux does, and
 * never cause an ICMP error (RFC 1122 3.2.2).
 *
 * Receive queues are the socket layer's datagram queues (sock_queue_dgram:
 * bounded by SO_RCVBUF, each datagram charged its length plus
 * SOCK_DGRAM_OVERHEAD). Counters: udp.rx counts every datagram handed to
 * UDP; each drop counts once under its reason; udp.tx counts datagrams
 * ip4_output accepted.
 *
 * May touch: ip4_output/ip4_route/ip4_is_*, ip4_proto_add (its input and
 * error handlers), icmp_send_error, the socket
 * layer (sock_queue_dgram, sock_recv_dgram, sock_wakeup,
 * sock_ephemeral_port), st->udp, the UDP counters.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/socket.h>

#include "core/stack.h"
#include "proto/icmp.h"
#include "proto/ipv4.h"
#include "proto/udp.h"
#include "sock/sock.h"
#include "wire/checksum.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

/* Largest payload: 65535 - 20 (IP) - 8 (UDP). */
#define UDP_MAX_PAYLOAD 65507u

static int udp_err(struct ustack *st, const struct ip4_err *e);

static const struct ip4_proto udp_ip4_proto = {
	.input = udp_input,
	.err = udp_err,
};

int udp_init(struct ustack *st)
{
	struct udp_state *u = &st->udp;
	uint32_t n = 64;

	ip4_proto_add(st, IP4_PROTO_UDP, &udp_ip4_proto);

	/* About one bucket per socket, up to one per port. */
	while (n < st->cfg.max_sockets && n < 65536)
		n <<= 1;
	if ((u->hash = calloc(n, sizeof(*u->hash))) == NULL)
		return -ENOMEM;
	u->hash_size = n;
	return 0;
}

/* Sockets were released by sock_table_fini before this runs. */
void udp_fini(struct ustack *st)
{
	free(st->udp.hash);
	st->udp.hash = NULL;
	st->udp.hash_size = 0;
}

static struct sock **udp_bucket(struct ustack *st, uint16_t port)
{
	return &st->udp.hash[port & (st->udp.hash_size - 1)];
}

static void udp_hash_add(struct ustack *st, struct sock *sk)
{
	struct sock **b = udp_bucket(st, sk->lport);

	sk->hash_next = *b;
	*b = sk;
}

static void udp_hash_del(struct ustack *st, struct sock *sk)
{
	for (struct sock **pp = udp_bucket(st, sk->lport); *pp;
	     pp = &(*pp)->hash_next) {
		if (*pp == sk) {
			*pp = sk->hash_next;
			sk->hash_next = NULL;
			return;
		}
	}
}

static int udp_port_in_use(struct ustack *st, uint16_t port, void *ctx)
{
	(void)ctx;
	for (struct sock *o = *udp_bucket(st, port); o; o = o->hash_next)
		if (o->lport == port)
			return 1;
	return 0;
}

/* Another socket already has laddr:port (addresses overlap when equal or
 * either is the wildcard), unless both set SO_REUSEADDR. */
static int udp_bind_conflict(struct ustack *st, const struct sock *sk,
			     uint32_t laddr, uint16_t port)
{
	for (struct sock *o = *udp_bucket(st, port); o; o = o->hash_next) {
		if (o == sk || o->lport != port)
			continue;
		if (o->laddr && laddr && o->laddr != laddr)
			continue;
		if (!(o->opt.reuseaddr && sk->opt.reuseaddr))
			return 1;
	}
	return 0;
}

static int udp_do_bind(struct ustack *st, struct sock *sk, uint32_t laddr,
		       uint16_t port, uint32_t raddr, uint16_t rport)
{
	int err;

	if (port == 0) {
		err = sock_ephemeral_port(st, IPPROTO_UDP, laddr, raddr, rport,
					  udp_port_in_use, NULL, &port);
		if (err < 0)
			return err;
	} else if (udp_bind_conflict(st, sk, laddr, port)) {
		return -EADDRINUSE;
	}
	sk->laddr = laddr;
	sk->lport = port;
	sk->bound = 1;
	udp_hash_add(st, sk);
	return 0;
}

/* ---- input ----------------------------------------------------------------- */

static int udp_csum_ok(const struct pkb *pkb, uint16_t ulen)
{
	uint32_t s = csum_pseudo(pkb->ip.src, pkb->ip.dst, IP4_PROTO_UDP, ulen);

	return csum_fold(csum_partial(pkb->data, ulen, s)) == 0;
}

/* The best socket for a unicast datagram, or NULL. */
static struct sock *udp_lookup(struct ustack *st, uint32_t dst, uint16_t dport,
			       uint32_t src, uint16_t sport)
{
	struct sock *best = NULL;
	int best_score = 0;

	for (struct sock *sk = *udp_bucket(st, dport); sk; sk = sk->hash_next) {
		int score;

		if (sk->lport != dport || (sk->laddr && sk->laddr != dst))
			continue;
		if (sk->connected) {
			if (sk->raddr != src || sk->rport != sport)
				continue;
			score = 4;
		} else {
			score = sk->laddr ? 2 : 1;
		}
		if (score > best_score) {
			best = sk;
			best_score = score;
		}
	}
	return best;
}

static void udp_queue(struct ustack *st, struct sock *sk, struct pkb *pkb)
{
	if (sock_queue_dgram(st, sk, pkb) < 0) {
		STAT_INC(st, UDP_DROP_RCVBUF);
		pkb_free(st, pkb);
	}
}

static int udp_bcast_match(const struct sock *sk, uint16_t dport,
			   uint32_t src, uint16_t sport)
{
	if (sk->lport != dport || sk->laddr)
		return 0;
	return !sk->connected || (sk->raddr == src && sk->rport == sport);
}

/* pkb->data at the payload. Every matching socket gets a copy. */
static void udp_deliver_bcast(struct ustack *st, struct pkb *pkb,
			      uint16_t dport, uint16_t sport)
{
	struct sock *prev = NULL;

	for (struct sock *sk = *udp_bucket(st, dport); sk; sk = sk->hash_next) {
		if (!udp_bcast_match(sk, dport, pkb->ip.src, sport))
			continue;
		if (prev) {
			struct pkb *c = pkb_copy(st, pkb);

			if (c)
				udp_queue(st, prev, c);
		}
		prev = sk;
	}
	if (prev) {
		udp_queue(st, prev, pkb);
	} else {
		/* RFC 1122 3.2.2: no ICMP error about a broadcast. */
		STAT_INC(st, UDP_DROP_NO_PORT);
		pkb_free(st, pkb);
	}
}

void udp_input(struct ustack *st, struct pkb *pkb)
{
	const uint8_t *h = pkb->data;
	uint16_t ulen, sport, dport;
	struct sock *sk;

	STAT_INC(st, UDP_RX);
	if (pkb->len < UDP_HDR_LEN) {
		STAT_INC(st, UDP_DROP_SHORT);
		goto drop;
	}
	/* RFC 768: length covers header and data; IP may carry padding. */
	ulen = udp_len(h);
	if (ulen < UDP_HDR_LEN || ulen > pkb->len) {
		STAT_INC(st, UDP_DROP_BAD_LENGTH);
		goto drop;
	}
	pkb_trim(pkb, ulen);
	/* RFC 768, RFC 1122 4.1.3.4: a zero checksum means none was sent. */
	if (udp_csum(h) != 0 && !udp_csum_ok(pkb, ulen)) {
		STAT_INC(st, UDP_DROP_BAD_CHECKSUM);
		goto drop;
	}
	sport = udp_sport(h);
	dport = udp_dport(h);
	pkb->scratch = sport;
	if (pkb->ip.bcast || ip4_is_broadcast(st, pkb->ip.dst) ||
	    ip4_is_multicast(pkb->ip.dst)) {
		pkb_pull(pkb, UDP_HDR_LEN);
		udp_deliver_bcast(st, pkb, dport, sport);
		return;
	}
	sk = udp_lookup(st, pkb->ip.dst, dport, pkb->ip.src, sport);
	if (!sk) {
		/* RFC 1122 4.1.3.1: port unreachable (icmp_send_error applies
		 * the rate limit and the never-about rules). */
		icmp_send_error(st, pkb, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
		STAT_INC(st, UDP_DROP_NO_PORT);
		goto drop;
	}
	pkb_pull(pkb, UDP_HDR_LEN);
	udp_queue(st, sk, pkb);
	return;
drop:
	pkb_free(st, pkb);
}

/*
 * RFC 1122 4.1.3.3 says UDP MUST pass every ICMP error up to the
 * application. We pass it to a connected socket (the error names its one
 * peer: so_error, POLLERR, and the next call fails with it, as BSD and
 * Linux do). An unconnected socket talks to many peers; failing its next
 * recvfrom() with an error about some other datagram would break servers,
 * which is why BSD never reported those, and we have no per-datagram error
 * queue (Linux's IP_RECVERR) yet. Those are counted (udp.icmp_err_ignored)
 * rather than delivered: a documented deviation from the MUST.
 */
void udp_icmp_error(struct ustack *st, uint32_t laddr, uint16_t lport,
		    uint32_t raddr, uint16_t rport, int err)
{
	for (struct sock *sk = *udp_bucket(st, lport); sk; sk = sk->hash_next) {
		if (sk->lport != lport || !sk->connected ||
		    sk->raddr != raddr || sk->rport != rport ||
		    (sk->laddr && sk->laddr != laddr))
			continue;
		sk->so_error = err;
		STAT_INC(st, UDP_ICMP_ERR);
		sock_wakeup(st, sk);
		return;
	}
	STAT_INC(st, UDP_ICMP_ERR_IGNORED);
}

/* IPv4's notification (struct ip4_err): an ICMP error quoting a datagram
 * of ours, or ARP gave up on a neighbour (no quote: every socket connected
 * to it). Rare, so the neighbour case scans the port table. */
static int udp_err(struct ustack *st, const struct ip4_err *e)
{
	if (e->l4) {
		udp_icmp_error(st, e->laddr, udp_sport(e->l4), e->raddr,
			       udp_dport(e->l4), e->err);
		return 1;
	}
	for (uint32_t i = 0; i < st->udp.hash_size; i++)
		for (struct sock *sk = st->udp.hash[i]; sk; sk = sk->hash_next)
			if (sk->connected && sk->raddr == e->raddr) {
				sk->so_error = e->err;
				sock_wakeup(st, sk);
			}
	return 1;
}

/* ---- output ---------------------------------------------------------------- */

static int udp_output(struct ustack *st, struct sock *sk, const void *buf,
		      size_t len, uint32_t daddr, uint16_t dport)
{
	uint32_t ulen = UDP_HDR_LEN + (uint32_t)len;
	uint32_t saddr = sk->laddr ? sk->laddr : st->cfg.addr;
	struct ip4_tx tx = {.src = sk->laddr, .dst = daddr,
			    .proto = IP4_PROTO_UDP, .ttl = sk->opt.conn.ttl,
			    .tos = sk->opt.conn.tos};
	struct pkb *pkb;
	uint8_t *h;
	uint16_t c;
	int err;

	if ((pkb = pkb_alloc(st, ulen)) == NULL)
		return -ENOBUFS;
	h = pkb_put(pkb, ulen);
	be16_store(h + UDP_OFF_SPORT, sk->lport);
	be16_store(h + UDP_OFF_DPORT, dport);
	be16_store(h + UDP_OFF_LEN, (uint16_t)ulen);
	be16_store(h + UDP_OFF_CSUM, 0);
	if (len)
		memcpy(h + UDP_HDR_LEN, buf, len);
	/* RFC 768: always computed; a computed zero is sent as all ones. */
	c = csum_fold(csum_partial(h, ulen, csum_pseudo(saddr, daddr,
							IP4_PROTO_UDP, ulen)));
	be16_store(h + UDP_OFF_CSUM, c ? c : 0xffff);
	if ((err = ip4_output(st, pkb, &tx)) < 0)
		return err;
	STAT_INC(st, UDP_TX);
	return 0;
}

static int take_error(struct sock *sk)
{
	int e = sk->so_error;

	sk->so_error = 0;
	return -e;
}

static ssize_t udp_sock_sendto(struct ustack *st, struct sock *sk,
			       const void *buf, size_t len, int flags,
			       const struct sockaddr_in *dst)
{
	uint32_t daddr = sk->raddr;
	uint16_t dport = sk->rport;
	int err;

	(void)flags;
	/* An ICMP error on a connected socket fails the next call, send
	 * included (as Linux). */
	if (sk->so_error)
		return take_error(sk);
	if (dst) {
		daddr = ntohl(dst->sin_addr.s_addr);
		dport = ntohs(dst->sin_port);
		if (daddr == INADDR_ANY || dport == 0)
			return -EINVAL;
	} else if (!sk->connected) {
		return -EDESTADDRREQ;
	}
	if (len > UDP_MAX_PAYLOAD || len > sk->opt.sndbuf)
		return -EMSGSIZE;
	if (ip4_is_broadcast(st, daddr) && !sk->opt.broadcast)
		return -EACCES;
	if (!sk->bound && (err = udp_do_bind(st, sk, 0, 0, 0, 0)) < 0)
		return err;
	if ((err = udp_output(st, sk, buf, len, daddr, dport)) < 0)
		return err;
	return (ssize_t)len;
}

/* ---- the other socket ops ------------------------------------------------- */

static void udp_sock_release(struct ustack *st, struct sock *sk)
{
	if (sk->bound)
		udp_hash_del(st, sk);
	sk->bound = 0;
}

static int udp_sock_bind(struct ustack *st, struct sock *sk,
			 const struct sockaddr_in *addr)
{
	uint32_t laddr = ntohl(addr->sin_addr.s_addr);

	if (sk->bound)
		return -EINVAL;
	if (laddr != INADDR_ANY && !ip4_is_local(st, laddr))
		return -EADDRNOTAVAIL;
	return udp_do_bind(st, sk, laddr, ntohs(addr->sin_port), 0, 0);
}

/* Sets the default peer (and the only one datagrams are accepted from);
 * AF_UNSPEC dissolves it. Port 0 or address 0 is -EINVAL. */
static int udp_sock_connect(struct ustack *st, struct sock *sk,
			    const struct sockaddr_in *addr)
{
	uint32_t daddr, nexthop;
	uint16_t dport;
	int err;

	if (addr->sin_family == AF_UNSPEC) {
		sk->connected = 0;
		sk->raddr = 0;
		sk->rport = 0;
		return 0;
	}
	daddr = ntohl(addr->sin_addr.s_addr);
	dport = ntohs(addr->sin_port);
	if (daddr == INADDR_ANY || dport == 0)
		return -EINVAL;
	if (ip4_is_broadcast(st, daddr)) {
		if (!sk->opt.broadcast)
			return -EACCES;
	} else if (ip4_route(st, daddr, &nexthop) < 0) {
		return -ENETUNREACH;
	}
	/* RFC 6056: with a destination known, the double-hash port. */
	if (!sk->bound &&
	    (err = udp_do_bind(st, sk, 0, 0, daddr, dport)) < 0)
		return err;
	sk->raddr = daddr;
	sk->rport = dport;
	sk->connected = 1;
	return 0;
}

static ssize_t udp_sock_recvfrom(struct ustack *st, struct sock *sk,
				 void *buf, size_t len, int flags,
				 struct sockaddr_in *src)
{
	/* As Linux: a pending error comes before queued data. */
	if (sk->so_error)
		return take_error(sk);
	return sock_recv_dgram(st, sk, buf, len, flags, src);
}

/* As Linux: -ENOTCONN if not connected (the socket layer shuts it down
 * all the same, to wake blocked readers). */
static int udp_sock_shutdown(struct ustack *st, struct sock *sk, int how)
{
	(void)st, (void)how;
	return sk->connected ? 0 : -ENOTCONN;
}

static short udp_sock_poll(struct ustack *st, struct sock *sk)
{
	short m = POLLOUT;

	(void)st;
	if (sk->rcvq.count)
		m |= POLLIN;
	if (sk->so_error)
		m |= POLLERR;
	if (sk->shut_rd)
		m |= POLLIN | POLLRDHUP;
	if (sk->shut_rd && sk->shut_wr)
		m |= POLLHUP;
	return m;
}

const struct sock_ops udp_sock_ops = {
	.release = udp_sock_release,
	.bind = udp_sock_bind,
	.connect = udp_sock_connect,
	.sendto = udp_sock_sendto,
	.recvfrom = udp_sock_recvfrom,
	.shutdown = udp_sock_shutdown,
	.poll = udp_sock_poll,
};
