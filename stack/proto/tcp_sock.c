/*
 * tcp_sock.c - tcp_sock_ops: what the socket layer (stack/sock/sock.c)
 * calls for SOCK_STREAM sockets, and the netstat-like ustack_conn_list().
 *
 * A socket gets its TCB lazily (first bind/listen/connect/option), so an
 * accepted connection can be attached to a fresh socket. Ops never block:
 * they return -EAGAIN/-EINPROGRESS and the socket layer waits through the
 * runtime. Errors: ECONNREFUSED/ECONNRESET/ETIMEDOUT/EHOSTUNREACH are
 * left in so_error (and returned once by the next recv/send), then send
 * fails with EPIPE and recv reports end of stream.
 *
 * May touch: the socket (sk fields, sock_alloc for accepted connections,
 * the socket table read-only for conn_list), the TCP tables and TCBs.
 */
#include <errno.h>
#include <string.h>

#include "core/assert.h"
#include "proto/ipv4.h"
#include "proto/tcp_int.h"
#include "wire/ipv4.h"

static uint32_t clamp_buf(uint32_t v)
{
	return USTACK_MAX(USTACK_MIN(v, TCP_MAX_BUF), TCP_MIN_BUF);
}

/* Copy the options the socket layer stored into the TCB. */
static void sync_opts(struct ustack *st, struct sock *sk, struct tcp_conn *c)
{
	if (!c)
		return;
	c->nodelay = sk->nodelay;
	c->keepalive = sk->keepalive;
	c->keepidle_s = sk->keepidle_s;
	c->keepintvl_s = sk->keepintvl_s;
	c->keepcnt = sk->keepcnt;
	c->linger0 = sk->linger_on && sk->linger_s == 0;
	if (!c->bound)
		c->reuseaddr = sk->reuseaddr;
	if (sk->sndbuf)
		c->snd_cap = clamp_buf(sk->sndbuf);
	if (sk->rcvbuf) {
		uint32_t cap = clamp_buf(sk->rcvbuf);

		/* After the SYN the window scale is fixed: the buffer can
		 * not usefully grow past what it can advertise. */
		if (c->state != USTACK_TCP_CLOSED && c->state != USTACK_TCP_LISTEN)
			cap = USTACK_MIN(cap, 65535u << c->rcv_wscale);
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
	if (c->rbuf.len || (sk->linger_on && sk->linger_s == 0)) {
		STAT_INC(st, TCP_ABORT_ON_CLOSE);
		tcp_abort(st, c, 0, TCP_CAUSE_CLOSE);
		return;
	}
	tcp_ring_free(&c->rbuf);
	tcp_keepalive_update(st, c);
	if (c->state == USTACK_TCP_FIN_WAIT_2)
		tcp_wait_arm(st, c, TCP_WAIT_FIN2,
			     tcp_time_add(st->now, st->cfg.tcp_fin_wait2_us));
	tcp_close_send(st, c, TCP_CAUSE_CLOSE);
	tcp_orphan_add(st, c);
}

/* ---- ports ------------------------------------------------------------- */

struct port_ctx {
	uint32_t raddr;
	uint16_t rport;
};

/* For bind(port 0): any TCB on the port takes it. */
static int bind_port_in_use(struct ustack *st, uint16_t port, void *ctx)
{
	(void)ctx;
	for (struct tcp_conn *o = tcp_bhash_first(st, port); o; o = o->b.next)
		if (o->lport == port)
			return 1;
	return 0;
}

/* For connect(): a port is free for this peer unless bound explicitly,
 * listening, or already used towards the same peer (RFC 6056 allows the
 * same port towards different peers). */
static int connect_port_in_use(struct ustack *st, uint16_t port, void *ctx)
{
	const struct port_ctx *p = ctx;

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
 * it unless that TCB listens). */
static int bind_conflict(struct ustack *st, const struct tcp_conn *self,
			 uint32_t laddr, uint16_t port, int reuse)
{
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
	} else if (bind_conflict(st, c, laddr, port, sk->reuseaddr)) {
		return -EADDRINUSE;
	}
	c->laddr = laddr;
	c->lport = port;
	c->reuseaddr = sk->reuseaddr;
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
	uint32_t bl = backlog < 1 ? 1u : (uint32_t)backlog;
	int err;

	if (!c)
		return -ENOBUFS;
	bl = USTACK_MIN(bl, (uint32_t)TCP_MAX_BACKLOG);
	if (c->state == USTACK_TCP_LISTEN) {
		c->backlog = bl;
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
	c->backlog = bl;
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
	if ((c = lc->accq) == NULL)
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
	/* Options are inherited from the listening socket. */
	nsk->nodelay = sk->nodelay;
	nsk->keepalive = sk->keepalive;
	nsk->keepidle_s = sk->keepidle_s;
	nsk->keepintvl_s = sk->keepintvl_s;
	nsk->keepcnt = sk->keepcnt;
	nsk->linger_on = sk->linger_on;
	nsk->linger_s = sk->linger_s;
	nsk->reuseaddr = sk->reuseaddr;
	nsk->rcvbuf = sk->rcvbuf;
	nsk->sndbuf = sk->sndbuf;
	nsk->nonblock = sk->nonblock;
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
	struct port_ctx pc = {.raddr = raddr, .rport = rport};
	uint32_t laddr = c->laddr ? c->laddr : st->cfg.addr;
	uint16_t lport = c->lport;
	int err;

	if (!lport) {
		err = sock_ephemeral_port(st, IPPROTO_TCP, laddr, raddr, rport,
					  connect_port_in_use, &pc, &lport);
		if (err < 0)
			return err;
	} else if (tcp_lookup(st, laddr, lport, raddr, rport)) {
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

static ssize_t tcp_sock_sendto(struct ustack *st, struct sock *sk,
			       const void *buf, size_t len, int flags,
			       const struct sockaddr_in *dst)
{
	struct tcp_conn *c = sk->pcb;
	uint32_t n, want = len > 0x7fffffff ? 0x7fffffff : (uint32_t)len;

	(void)flags;
	(void)dst;        /* a stream goes to its peer (as Linux ignores it) */
	if (!c)
		return -ENOTCONN;
	if (sk->so_error)
		return take_error(sk);
	if (c->reset || sk->shut_wr || c->fin_queued)
		return -EPIPE;
	switch (c->state) {
	case USTACK_TCP_ESTABLISHED:
	case USTACK_TCP_CLOSE_WAIT:
		break;
	case USTACK_TCP_SYN_SENT:
	case USTACK_TCP_SYN_RCVD:
		return -EAGAIN;          /* completes with POLLOUT */
	case USTACK_TCP_CLOSED:
	case USTACK_TCP_LISTEN:
		return -ENOTCONN;
	default:
		return -EPIPE;
	}
	if (!want)
		return 0;
	n = tcp_sbuf_append(st, c, buf, want);
	if (!n)
		return c->sbuf.len < c->snd_cap ? -ENOBUFS : -EAGAIN;
	tcp_output(st, c);
	return n;
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
		return (short)(ev | (c->accq ? POLLIN : 0));
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
	if (level != IPPROTO_TCP)
		return -ENOPROTOOPT;
	switch (name) {
	case TCP_NODELAY:
		sync_opts(st, sk, c);
		if (c && c->nodelay)
			tcp_output(st, c);       /* push what Nagle held */
		return 0;
	case TCP_KEEPIDLE:
	case TCP_KEEPINTVL:
	case TCP_KEEPCNT:
		if (c)
			timer_cancel(st, &c->t_keep);  /* re-armed by sync */
		sync_opts(st, sk, c);
		return 0;
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
	if (level != IPPROTO_TCP || name != TCP_MAXSEG)
		return -ENOPROTOOPT;
	if (!val || !len || *len < (socklen_t)sizeof(int))
		return -EINVAL;
	v = c && TCP_SYNCHRONIZED(c->state) ? c->smss : TCP_DEFAULT_MSS;
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

/* O(connections + sockets): for the control socket and tools. */
int ustack_conn_list(struct ustack *st, struct ustack_conn_info *out, int max)
{
	int n = 0;

	for (struct tcp_conn *c = st->tcp.all; c; c = c->anext) {
		if (c->state == USTACK_TCP_CLOSED)
			continue;
		if (n < max)
			tcp_info(c, &out[n]);
		n++;
	}
	for (uint32_t i = 0; st->socks.tab && i < st->socks.size; i++) {
		struct sock *sk = st->socks.tab[i];

		if (!sk || sk->protocol == IPPROTO_TCP)
			continue;
		if (n < max) {
			memset(&out[n], 0, sizeof(out[n]));
			out[n].proto = sk->protocol;
			out[n].sd = sk->sd;
			out[n].laddr = sk->laddr;
			out[n].lport = sk->lport;
			out[n].raddr = sk->raddr;
			out[n].rport = sk->rport;
			out[n].rcv_queued = sk->rcvq.bytes;
		}
		n++;
	}
	return n;
}
