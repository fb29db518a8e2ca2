/*
 * tcp_sock.c - tcp_sock_ops: what the socket layer (stack/sock/sock.c)
 * calls for SOCK_STREAM sockets, and TCP's rows of the connection table
 * (tcp_conn_rows for ustack_conn_list).
 *
 * A socket gets its TCB lazily (first bind/listen/connect/option), so an
 * accepted connection can be attached to a fresh socket. Ops never block:
 * they return -EAGAIN/-EINPROGRESS and the socket layer waits through the
 * runtime. Errors: ECONNREFUSED/ECONNRESET/ETIMEDOUT/EHOSTUNREACH are
 * left in so_error (and returned once by the next recv/send), then send
 * fails with EPIPE and recv reports end of stream.
 *
 * May touch: the socket (sk fields, sock_alloc for accepted connections),
 * the TCP tables and TCBs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "proto/ipv4.h"
#include "proto/tcp_int.h"
#include "wire/ipv4.h"

/*
 * The one place a TCB takes the socket's options: sk->opt.conn as a
 * whole (the TCB keeps its copy when the socket goes: orphans, children
 * not yet accepted), and the buffer sizes as the capacities TCP applies.
 * The socket layer checked every value and limit already (sockopt.c).
 */
static void sync_opts(struct ustack *st, struct sock *sk, struct tcp_conn *c)
{
	if (!c)
		return;
	c->opt = sk->opt.conn;
	if (!c->bound)
		c->reuseaddr = sk->opt.reuseaddr;
	if (sk->opt.sndbuf)
		c->snd_cap = sk->opt.sndbuf;
	if (sk->opt.rcvbuf) {
		uint32_t cap = sk->opt.rcvbuf;

		/* After the SYN the window scale is fixed: the buffer can
		 * not usefully grow past what it can advertise. */
		if (c->state != USTACK_TCP_CLOSED && c->state != USTACK_TCP_LISTEN)
			cap = USTACK_MIN(cap, TCP_MAX_WIN << c->rcv_wscale);
		c->rcv_cap = cap;
	}
	tcp_keepalive_update(st, c);
}

static struct tcp_conn *get_conn(struct ustack *st, struct sock *sk)
{
	struct tcp_conn *c = sk->pcb;

	if (c)
		return c;
	if ((c = tcp_conn_alloc(st)) == NULL)
		return NULL;
	c->sk = sk;
	sk->pcb = c;
	sync_opts(st, sk, c);
	return c;
}

static int tcp_sock_init(struct ustack *st, struct sock *sk)
{
	(void)st;
	sk->pcb = NULL;
	return 0;
}

static void tcp_sock_release(struct ustack *st, struct sock *sk)
{
	struct tcp_conn *c = sk->pcb;

	sk->pcb = NULL;
	if (!c)
		return;
	c->sk = NULL;
	c->orphan = 1;
	switch (c->state) {
	case USTACK_TCP_CLOSED:
		tcp_conn_free(st, c);
		return;
	case USTACK_TCP_LISTEN:
	case USTACK_TCP_SYN_SENT:
		tcp_done(st, c, 0, TCP_CAUSE_CLOSE);
		return;
	default:
		break;
	}
	/* RFC 1122 4.2.2.13, RFC 9293 3.10.4: closing with unread data (or
	 * SO_LINGER with a zero timeout) aborts with RST. */
	if (c->rbuf.len || (sk->opt.linger_on && sk->opt.linger_s == 0)) {
		STAT_INC(st, TCP_ABORT_ON_CLOSE);
		tcp_abort(st, c, 0, TCP_CAUSE_CLOSE);
		return;
	}
	tcp_ring_free(&c->rbuf);
	/* Nothing reads it any more: what TIME_WAIT needs fits a compact
	 * record (tcp_tw.c). */
	if (c->state == USTACK_TCP_TIME_WAIT && tcp_tw_convert(st, c) == 0)
		return;
	tcp_keepalive_update(st, c);
	if (c->state == USTACK_TCP_FIN_WAIT_2)
		tcp_wait_arm(st, c, TCP_WAIT_FIN2,
			     tcp_time_add(st->now, st->cfg.tcp_fin_wait2_us));
	tcp_close_send(st, c, TCP_CAUSE_CLOSE);
	tcp_orphan_add(st, c);
}

/* ---- ports ------------------------------------------------------------- */

struct port_ctx {
	uint32_t laddr, raddr;
	uint16_t rport;
};

/* A compact TIME_WAIT record on laddr:lport to raddr:rport (records are
 * found by 4-tuple and counted per local port, tcp_tw.c). */
static int tw_tuple_in_use(struct ustack *st, uint32_t laddr, uint16_t lport,
			   uint32_t raddr, uint16_t rport)
{
	struct tcp_tw *tw;

	if (!tcp_tw_port_count(st, lport))
		return 0;
	tcp_lookup_tw(st, laddr, lport, raddr, rport, &tw);
	return tw != NULL;
}

/* For bind(port 0): any TCB or TIME_WAIT record on the port takes it. */
static int bind_port_in_use(struct ustack *st, uint16_t port, void *ctx)
{
	(void)ctx;
	if (tcp_tw_port_count(st, port))
		return 1;
	for (struct tcp_conn *o = tcp_bhash_first(st, port); o; o = o->b.next)
		if (o->lport == port)
			return 1;
	return 0;
}

/* For connect(): a port is free for this peer unless bound explicitly,
 * listening, or already used towards the same peer (RFC 6056 allows the
 * same port towards different peers). TIME_WAIT records never come from
 * explicit binds: only their 4-tuple is taken. */
static int connect_port_in_use(struct ustack *st, uint16_t port, void *ctx)
{
	const struct port_ctx *p = ctx;

	if (tw_tuple_in_use(st, p->laddr, port, p->raddr, p->rport))
		return 1;
	for (struct tcp_conn *o = tcp_bhash_first(st, port); o; o = o->b.next) {
		if (o->lport != port)
			continue;
		if (o->bound || o->state == USTACK_TCP_LISTEN ||
		    (o->raddr == p->raddr && o->rport == p->rport))
			return 1;
	}
	return 0;
}

/* Another TCB on laddr:port that forbids binding it (SO_REUSEADDR allows
 * it unless that TCB listens). A TIME_WAIT record on the port forbids it
 * without SO_REUSEADDR, whatever its local address (records are counted
 * per port only). */
static int bind_conflict(struct ustack *st, const struct tcp_conn *self,
			 uint32_t laddr, uint16_t port, int reuse)
{
	if (!reuse && tcp_tw_port_count(st, port))
		return 1;
	for (struct tcp_conn *o = tcp_bhash_first(st, port); o; o = o->b.next) {
		if (o == self || o->lport != port)
			continue;
		if (laddr && o->laddr && laddr != o->laddr)
			continue;
		if (reuse && o->state != USTACK_TCP_LISTEN)
			continue;
		return 1;
	}
	return 0;
}

static int do_bind(struct ustack *st, struct sock *sk, struct tcp_conn *c,
		   uint32_t laddr, uint16_t port)
{
	int err;

	if (port == 0) {
		err = sock_ephemeral_port(st, IPPROTO_TCP, laddr, 0, 0,
					  bind_port_in_use, NULL, &port);
		if (err < 0)
			return err;
	} else if (bind_conflict(st, c, laddr, port, sk->opt.reuseaddr)) {
		return -EADDRINUSE;
	}
	c->laddr = laddr;
	c->lport = port;
	c->reuseaddr = sk->opt.reuseaddr;
	tcp_bhash_insert(st, c);
	sk->laddr = laddr;
	sk->lport = port;
	sk->bound = 1;
	return 0;
}

static int tcp_sock_bind(struct ustack *st, struct sock *sk,
			 const struct sockaddr_in *addr)
{
	struct tcp_conn *c = get_conn(st, sk);
	uint32_t laddr = ntohl(addr->sin_addr.s_addr);
	int err;

	if (!c)
		return -ENOBUFS;
	if (c->lport || c->state != USTACK_TCP_CLOSED)
		return -EINVAL;
	if (laddr && !ip4_is_local(st, laddr))
		return -EADDRNOTAVAIL;
	if ((err = do_bind(st, sk, c, laddr, ntohs(addr->sin_port))) < 0)
		return err;
	c->bound = 1;
	return 0;
}

/* ---- listen / accept ---------------------------------------------------- */

static int tcp_sock_listen(struct ustack *st, struct sock *sk, int backlog)
{
	struct tcp_conn *c = get_conn(st, sk);
	uint32_t bl = backlog < 1 ? 1u : (uint32_t)backlog; /* sock.c capped */
	int err;

	if (!c)
		return -ENOBUFS;
	if (c->state == USTACK_TCP_LISTEN) {
		c->lq->backlog = bl;
		return 0;
	}
	if (c->state != USTACK_TCP_CLOSED || c->hashed || c->was_synchronized)
		return -EINVAL;
	if (!c->lport && (err = do_bind(st, sk, c, 0, 0)) < 0)
		return err;
	for (struct tcp_conn *o = tcp_bhash_first(st, c->lport); o; o = o->b.next)
		if (o != c && o->lport == c->lport &&
		    o->state == USTACK_TCP_LISTEN &&
		    (!o->laddr || !c->laddr || o->laddr == c->laddr))
			return -EADDRINUSE;
	if (!c->lq && (c->lq = calloc(1, sizeof(*c->lq))) == NULL)
		return -ENOBUFS;
	c->lq->backlog = bl;
	sync_opts(st, sk, c);
	tcp_lhash_insert(st, c);
	tcp_set_state(st, c, USTACK_TCP_LISTEN, TCP_CAUSE_LISTEN);
	return 0;
}

static int tcp_sock_accept(struct ustack *st, struct sock *sk,
			   struct sock **child)
{
	struct tcp_conn *lc = sk->pcb, *c;
	struct sock *nsk;

	if (!lc || lc->state != USTACK_TCP_LISTEN)
		return -EINVAL;
	if ((c = lc->lq->accq) == NULL)
		return -EAGAIN;
	if ((nsk = sock_alloc(st, SOCK_STREAM, IPPROTO_TCP, &tcp_sock_ops)) == NULL)
		return -EMFILE;
	tcp_child_unlink(st, c);
	c->sk = nsk;
	nsk->pcb = c;
	nsk->laddr = c->laddr;
	nsk->lport = c->lport;
	nsk->raddr = c->raddr;
	nsk->rport = c->rport;
	nsk->bound = 1;
	nsk->connected = 1;
	/* Options are inherited from the listening socket, all of them, as
	 * on Linux. */
	nsk->opt = sk->opt;
	sync_opts(st, nsk, c);
	*child = nsk;
	return 0;
}

/* ---- connect ------------------------------------------------------------ */

/* A socket whose previous attempt ended may connect again: a fresh TCB
 * that keeps the local address and port. */
static struct tcp_conn *renew(struct ustack *st, struct sock *sk,
			      struct tcp_conn *old)
{
	struct tcp_conn *c = tcp_conn_alloc(st);

	if (!c)
		return NULL;
	c->laddr = old->laddr;
	c->lport = old->lport;
	c->bound = old->bound;
	c->reuseaddr = old->reuseaddr;
	old->sk = NULL;
	tcp_conn_free(st, old);
	c->sk = sk;
	sk->pcb = c;
	if (c->lport)
		tcp_bhash_insert(st, c);
	sync_opts(st, sk, c);
	return c;
}

/* Local address and port for a connection to raddr:rport, and the TCB
 * in the 4-tuple hash. */
static int connect_bind(struct ustack *st, struct tcp_conn *c, uint32_t raddr,
			uint16_t rport)
{
	uint32_t laddr = c->laddr ? c->laddr : st->cfg.addr;
	struct port_ctx pc = {.laddr = laddr, .raddr = raddr, .rport = rport};
	uint16_t lport = c->lport;
	int err;

	if (!lport) {
		err = sock_ephemeral_port(st, IPPROTO_TCP, laddr, raddr, rport,
					  connect_port_in_use, &pc, &lport);
		if (err < 0)
			return err;
	} else if (tcp_lookup(st, laddr, lport, raddr, rport) ||
		   tw_tuple_in_use(st, laddr, lport, raddr, rport)) {
		return -EADDRNOTAVAIL;
	}
	if (c->bhashed)
		tcp_bhash_remove(st, c);
	c->laddr = laddr;
	c->lport = lport;
	c->raddr = raddr;
	c->rport = rport;
	if ((err = tcp_hash_insert(st, c)) < 0) {
		c->raddr = 0;
		c->rport = 0;
		if (!c->bound)
			c->lport = 0;
	}
	if (c->lport)
		tcp_bhash_insert(st, c);
	return err;
}

static int tcp_sock_connect(struct ustack *st, struct sock *sk,
			    const struct sockaddr_in *addr)
{
	struct tcp_conn *c = get_conn(st, sk);
	uint32_t raddr = ntohl(addr->sin_addr.s_addr), nh;
	uint16_t rport = ntohs(addr->sin_port);
	int err;

	if (!c)
		return -ENOBUFS;
	if (addr->sin_family == AF_UNSPEC) {
		/* "Disconnect": abort whatever the socket has going. */
		if (c->state != USTACK_TCP_CLOSED && c->state != USTACK_TCP_LISTEN)
			tcp_abort(st, c, 0, TCP_CAUSE_ABORT);
		return 0;
	}
	switch (c->state) {
	case USTACK_TCP_CLOSED:
		break;
	case USTACK_TCP_SYN_SENT:
	case USTACK_TCP_SYN_RCVD:
		return -EALREADY;
	case USTACK_TCP_LISTEN:
		return -EINVAL;
	default:
		return -EISCONN;
	}
	if (!raddr || !rport)
		return -EINVAL;
	if (ip4_is_multicast(raddr) || ip4_is_broadcast(st, raddr) ||
	    ip4_route(st, raddr, &nh) < 0)
		return -ENETUNREACH;
	if ((c->reset || c->was_synchronized || c->snd_max) &&
	    (c = renew(st, sk, c)) == NULL)
		return -ENOBUFS;
	if ((err = connect_bind(st, c, raddr, rport)) < 0)
		return err;
	tcp_conn_start(st, c);
	c->ws_ok = !!st->cfg.tcp_wscale;
	c->sack_ok = !!st->cfg.tcp_sack;
	c->ts_ok = !!st->cfg.tcp_timestamps;
	sk->laddr = c->laddr;
	sk->lport = c->lport;
	sk->raddr = raddr;
	sk->rport = rport;
	sk->bound = 1;
	tcp_set_state(st, c, USTACK_TCP_SYN_SENT, TCP_CAUSE_CONNECT);
	tcp_send_syn(st, c);
	tcp_rtx_start(st, c);
	return -EINPROGRESS;
}

/* ---- data --------------------------------------------------------------- */

static int take_error(struct sock *sk)
{
	int err = sk->so_error;

	sk->so_error = 0;
	return -err;
}

/* Can c take data now? 0, or the error send reports. */
static int send_check(struct sock *sk, struct tcp_conn *c)
{
	if (!c)
		return -ENOTCONN;
	if (sk->so_error)
		return take_error(sk);
	if (c->reset || sk->shut_wr || c->fin_queued)
		return -EPIPE;
	switch (c->state) {
	case USTACK_TCP_ESTABLISHED:
	case USTACK_TCP_CLOSE_WAIT:
		return 0;
	case USTACK_TCP_SYN_SENT:
	case USTACK_TCP_SYN_RCVD:
		return -EAGAIN;          /* completes with POLLOUT */
	case USTACK_TCP_CLOSED:
	case USTACK_TCP_LISTEN:
		return -ENOTCONN;
	default:
		return -EPIPE;
	}
}

/* Output after queueing: MSG_MORE corks this one decision (Linux
 * tcp_push: TCP_NAGLE_CORK for the call). */
static void send_push(struct ustack *st, struct tcp_conn *c, int flags)
{
	c->more = !!(flags & MSG_MORE);
	tcp_output(st, c);
	c->more = 0;
}

static ssize_t tcp_sock_sendto(struct ustack *st, struct sock *sk,
			       const void *buf, size_t len, int flags,
			       const struct sockaddr_in *dst)
{
	struct tcp_conn *c = sk->pcb;
	uint32_t n, want = len > INT32_MAX ? INT32_MAX : (uint32_t)len;
	int err;

	(void)dst;        /* a stream goes to its peer (as Linux ignores it) */
	if ((err = send_check(sk, c)) < 0)
		return err;
	if (!want)
		return 0;
	n = tcp_sbuf_append(st, c, buf, want);
	if (!n)
		return c->sbuf.len < c->snd_cap ? -ENOBUFS : -EAGAIN;
	send_push(st, c, flags);
	return n;
}

/*
 * Gather send: every piece is queued before output runs, so segments are
 * cut across the pieces' boundaries, full-sized (a header and a body
 * leave together). `skip` bytes of the iovecs were taken by an earlier
 * call. Returns the bytes queued (may be short: the send buffer is full).
 */
static ssize_t tcp_sock_sendmsg(struct ustack *st, struct sock *sk,
				const struct iovec *iov, int iovcnt,
				size_t skip, int flags)
{
	struct tcp_conn *c = sk->pcb;
	uint32_t done = 0, max = INT32_MAX;
	size_t want = 0;
	int err;

	if ((err = send_check(sk, c)) < 0)
		return err;
	for (int i = 0; i < iovcnt && done < max; i++) {
		const uint8_t *base = iov[i].iov_base;
		size_t len = iov[i].iov_len;
		uint32_t n, take;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		base += skip;
		len -= skip;
		skip = 0;
		want += len;
		take = (uint32_t)USTACK_MIN(len, (size_t)(max - done));
		n = tcp_sbuf_append(st, c, base, take);
		done += n;
		if (n < take)
			break;
	}
	if (!want)
		return 0;
	if (!done)
		return c->sbuf.len < c->snd_cap ? -ENOBUFS : -EAGAIN;
	send_push(st, c, flags);
	return done;
}

static void fill_addr(struct sockaddr_in *a, uint32_t addr, uint16_t port)
{
	if (!a)
		return;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(addr);
	a->sin_port = htons(port);
}

static ssize_t tcp_sock_recvfrom(struct ustack *st, struct sock *sk,
				 void *buf, size_t len, int flags,
				 struct sockaddr_in *src)
{
	struct tcp_conn *c = sk->pcb;
	uint32_t n;

	if (!c || c->state == USTACK_TCP_LISTEN)
		return -ENOTCONN;
	if (c->rbuf.len && len) {
		n = (uint32_t)USTACK_MIN(len, (size_t)c->rbuf.len);
		tcp_ring_read(&c->rbuf, 0, buf, n);
		if (!(flags & MSG_PEEK)) {
			tcp_ring_consume(&c->rbuf, n);
			tcp_rcv_space_update(st, c);
		}
		fill_addr(src, c->raddr, c->rport);
		return n;
	}
	if (sk->so_error)
		return take_error(sk);
	if (!len || c->fin_rcvd || c->shut_rd || sk->shut_rd)
		return 0;
	switch (c->state) {
	case USTACK_TCP_CLOSED:
		return c->was_synchronized ? 0 : -ENOTCONN;
	default:
		return -EAGAIN;
	}
}

static int tcp_sock_shutdown(struct ustack *st, struct sock *sk, int how)
{
	struct tcp_conn *c = sk->pcb;

	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return -EINVAL;
	if (!c || c->state == USTACK_TCP_CLOSED || c->state == USTACK_TCP_LISTEN)
		return -ENOTCONN;
	if (how != SHUT_WR) {
		c->shut_rd = 1;
		sk->shut_rd = 1;
	}
	if (how != SHUT_RD) {
		sk->shut_wr = 1;
		if (c->state == USTACK_TCP_SYN_SENT)
			tcp_done(st, c, 0, TCP_CAUSE_SHUTDOWN);
		else
			tcp_close_send(st, c, TCP_CAUSE_SHUTDOWN);
	}
	tcp_wakeup(st, c);
	return 0;
}

/* ---- poll and options --------------------------------------------------- */

static short tcp_sock_poll(struct ustack *st, struct sock *sk)
{
	struct tcp_conn *c = sk->pcb;
	short ev = sk->so_error ? POLLERR : 0;

	(void)st;
	if (!c)
		return (short)(ev | POLLOUT | POLLHUP | SOCK_POLL_SENT);
	switch (c->state) {
	case USTACK_TCP_LISTEN:
		return (short)(ev | (c->lq->accq ? POLLIN : 0));
	case USTACK_TCP_SYN_SENT:
	case USTACK_TCP_SYN_RCVD:
		return ev;
	case USTACK_TCP_CLOSED:
		/* Over (or never begun): as Linux, readable (EOF or error),
		 * writable (connect completion, EPIPE), hung up. */
		return (short)(ev | POLLIN | POLLRDHUP | POLLOUT | POLLHUP |
			       SOCK_POLL_SENT);
	default:
		break;
	}
	if (c->rbuf.len || c->fin_rcvd || c->shut_rd)
		ev |= POLLIN;
	if (c->fin_rcvd)
		ev |= POLLRDHUP;
	if (c->fin_queued || sk->shut_wr) {
		ev |= POLLOUT;               /* send fails at once (EPIPE) */
	} else if (c->state == USTACK_TCP_ESTABLISHED ||
		   c->state == USTACK_TCP_CLOSE_WAIT) {
		uint32_t free = c->snd_cap > c->sbuf.len ? c->snd_cap - c->sbuf.len : 0;

		if (free && free >= c->snd_cap / 3)
			ev |= POLLOUT;
	}
	if (c->fin_rcvd && c->fin_queued)
		ev |= POLLHUP;
	/* our FIN acknowledged: FIN_WAIT_2 or TIME_WAIT */
	if (c->state == USTACK_TCP_FIN_WAIT_2 || c->state == USTACK_TCP_TIME_WAIT)
		ev |= SOCK_POLL_SENT;
	return ev;
}

/*
 * TCP_CORK (Linux): while set, only full segments leave; clearing it
 * sends the short tail at once; a tail held TCP_CORK_US goes anyway.
 * TCP_QUICKACK (Linux): 0 makes the connection interactive (ACKs wait
 * for an answer to ride on); 1 leaves that mode, ACKs what waits now, and
 * gives quick-ACK credits for the next segments. Neither is permanent:
 * the delayed-ACK engine goes on deciding (tcp(7)).
 */
static int set_cork_quickack(struct ustack *st, struct sock *sk, int name,
			     const void *val, socklen_t len)
{
	struct tcp_conn *c;
	int v;

	if (len < (socklen_t)sizeof(int))
		return -EINVAL;
	memcpy(&v, val, sizeof(v));
	if ((c = get_conn(st, sk)) == NULL)
		return -ENOBUFS;
	if (name == TCP_CORK) {
		c->cork = v != 0;
		if (v)
			return 0;
		if (c->rtx_kind == TCP_RTX_CORK) {
			timer_cancel(st, &c->t_rtx);
			c->rtx_kind = TCP_RTX_NONE;
		}
		c->push_once = 1;
		tcp_output(st, c);
		c->push_once = 0;
		return 0;
	}
	if (!v) {
		c->pingpong = 1;
		return 0;
	}
	c->pingpong = 0;
	tcp_quickack_enter(c);
	if ((c->state == USTACK_TCP_ESTABLISHED ||
	     c->state == USTACK_TCP_CLOSE_WAIT) &&
	    (c->delack_bytes || timer_armed(&c->t_delack)))
		tcp_send_ack(st, c);
	return 0;
}

/* The socket layer stored the value already; apply it to the TCB. */
static int tcp_sock_setsockopt(struct ustack *st, struct sock *sk, int level,
			       int name, const void *val, socklen_t len)
{
	struct tcp_conn *c = sk->pcb;

	(void)val;
	(void)len;
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_KEEPALIVE:
		case SO_RCVBUF:
		case SO_SNDBUF:
		case SO_REUSEADDR:
		case SO_LINGER:
			sync_opts(st, sk, c);
			return 0;
		default:
			return -ENOPROTOOPT;
		}
	}
	if (level == IPPROTO_IP && (name == IP_TTL || name == IP_TOS)) {
		sync_opts(st, sk, c);
		return 0;
	}
	if (level != IPPROTO_TCP)
		return -ENOPROTOOPT;
	switch (name) {
	case TCP_NODELAY:
		sync_opts(st, sk, c);
		if (c && c->opt.nodelay)
			tcp_output(st, c);       /* push what Nagle held */
		return 0;
	case TCP_KEEPIDLE:
	case TCP_KEEPINTVL:
	case TCP_KEEPCNT:
		if (c)
			timer_cancel(st, &c->t_keep);  /* re-armed by sync */
		sync_opts(st, sk, c);
		return 0;
	case TCP_USER_TIMEOUT:
	case TCP_MAXSEG:                /* used by the next SYN (Linux) */
		sync_opts(st, sk, c);
		return 0;
	case TCP_CORK:
	case TCP_QUICKACK:
		return set_cork_quickack(st, sk, name, val, len);
	default:
		return -ENOPROTOOPT;
	}
}

static int tcp_sock_getsockopt(struct ustack *st, struct sock *sk, int level,
			       int name, void *val, socklen_t *len)
{
	struct tcp_conn *c = sk->pcb;
	int v;

	(void)st;
	if (level != IPPROTO_TCP ||
	    (name != TCP_MAXSEG && name != TCP_CORK && name != TCP_QUICKACK))
		return -ENOPROTOOPT;
	if (!val || !len || *len < (socklen_t)sizeof(int))
		return -EINVAL;
	if (name == TCP_CORK)
		v = c && c->cork;
	else if (name == TCP_QUICKACK)
		v = !(c && c->pingpong);
	else if (c && TCP_SYNCHRONIZED(c->state))
		v = c->smss;
	else    /* Linux: the user's clamp before a connection, else 536 */
		v = sk->opt.conn.maxseg ? sk->opt.conn.maxseg : TCP_DEFAULT_MSS;
	memcpy(val, &v, sizeof(int));
	*len = sizeof(int);
	return 0;
}

const struct sock_ops tcp_sock_ops = {
	.init = tcp_sock_init,
	.release = tcp_sock_release,
	.bind = tcp_sock_bind,
	.listen = tcp_sock_listen,
	.accept = tcp_sock_accept,
	.connect = tcp_sock_connect,
	.sendto = tcp_sock_sendto,
	.sendmsg = tcp_sock_sendmsg,
	.recvfrom = tcp_sock_recvfrom,
	.shutdown = tcp_sock_shutdown,
	.poll = tcp_sock_poll,
	.setsockopt = tcp_sock_setsockopt,
	.getsockopt = tcp_sock_getsockopt,
};

/* ---- the connection table ------------------------------------------------- */

static void tcp_info(const struct tcp_conn *c, struct ustack_conn_info *o)
{
	memset(o, 0, sizeof(*o));
	o->proto = IPPROTO_TCP;
	o->state = c->state;
	o->sd = c->sk ? c->sk->sd : -1;
	o->laddr = c->laddr;
	o->raddr = c->raddr;
	o->lport = c->lport;
	o->rport = c->rport;
	o->rcv_queued = c->rbuf.len;
	o->snd_queued = c->sbuf.len;
	o->srtt_us = c->srtt_us;
	o->rto_us = (uint32_t)USTACK_MIN(c->rto_us, (ustack_time_t)UINT32_MAX);
	o->cwnd = c->cwnd;
	o->ssthresh = c->ssthresh;
	o->snd_wnd = c->snd_wnd;
	o->rcv_wnd = tcp_rcv_wnd(c);
	o->mss = c->smss;
	o->retransmits = c->total_retrans;
}

/* TCP's rows of ustack_conn_list() (stack/sock/sock.c owns the call):
 * every TCB not CLOSED, with or without a socket, then the TIME_WAIT
 * records. Fills out[0..max) and
 * returns how many rows there are. O(connections). */
int tcp_conn_rows(struct ustack *st, struct ustack_conn_info *out, int max)
{
	int n = 0;

	for (struct tcp_conn *c = st->tcp.all; c; c = c->anext) {
		if (c->state == USTACK_TCP_CLOSED)
			continue;
		if (n < max)
			tcp_info(c, &out[n]);
		n++;
	}
	return tcp_tw_rows(st, out, max, n);
}
