/*
 * sock.c - the socket layer: the descriptor table, the generic half of
 * every call of <ustack/socket.h> (argument checks, blocking, poll;
 * options are in sockopt.c), and the helpers protocols share (datagram queues,
 * wakeups, host-unreachable fan-out).
 *
 * Every public call is enter -> validate -> protocol op -> (wait, retry)
 * -> leave. Protocol ops never block: -EAGAIN (or -EINPROGRESS for connect)
 * on a blocking socket makes this layer wait through st->rt->wait() for
 * the right poll events and try again. A wait may let other threads run
 * (threaded runtime), so after every wait the socket is looked up again by
 * (sd, gen): a socket closed meanwhile gives -EBADF, never a dangling
 * pointer.
 *
 * May touch: st->socks, struct sock, the protocols' sock_ops, the runtime
 * (rt.h). Never reads a clock: st->now is set by the runtime's enter().
 */
#include <errno.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/time.h>

#include "core/assert.h"
#include "core/stack.h"
#include "proto/icmp.h"
#include "proto/ipv4.h"
#include "proto/tcp.h"
#include "proto/udp.h"
#include "sock/rt.h"
#include "sock/sock.h"

#define SOCK_POLL_MAX (1u << 20)   /* entries in one ustack_poll() */

#define SEND_FLAGS (MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE | MSG_EOR | MSG_CONFIRM)
#define RECV_FLAGS (MSG_DONTWAIT | MSG_PEEK | MSG_WAITALL | MSG_TRUNC)

/* ---- the descriptor table --------------------------------------------- */

int sock_table_init(struct ustack *st)
{
	struct sock_table *t = &st->socks;

	t->tab = calloc(st->cfg.max_sockets, sizeof(*t->tab));
	if (!t->tab)
		return -ENOMEM;
	t->size = st->cfg.max_sockets;
	t->count = 0;
	t->gen = 0;
	t->low_free = 0;
	sock_ports_init(st);
	return 0;
}

void sock_table_fini(struct ustack *st)
{
	struct sock_table *t = &st->socks;

	if (!t->tab)
		return;
	for (uint32_t i = 0; i < t->size; i++) {
		struct sock *sk = t->tab[i];

		if (!sk)
			continue;
		if (sk->ops->release)
			sk->ops->release(st, sk);
		sock_free(st, sk);
	}
	free(t->tab);
	t->tab = NULL;
	t->size = t->count = 0;
}

/* sock_alloc() with the reason for a failure. */
static struct sock *sock_new(struct ustack *st, int type, int protocol,
			     const struct sock_ops *ops, int *errp)
{
	struct sock_table *t = &st->socks;
	struct sock *sk;
	uint32_t i;
	int err;

	if (!t->tab || t->count >= t->size) {
		*errp = -EMFILE;
		return NULL;
	}
	/* POSIX: the lowest free descriptor. low_free skips the full
	 * prefix, so a busy table costs O(holes), not O(size). */
	for (i = t->low_free; i < t->size && t->tab[i]; i++)
		;
	USTACK_ASSERT(i < t->size);
	if ((sk = calloc(1, sizeof(*sk))) == NULL) {
		*errp = -ENOMEM;
		return NULL;
	}
	sk->sd = (int)i;
	sk->type = type;
	sk->protocol = protocol;
	sk->ops = ops;
	sk->gen = ++t->gen;
	sock_opts_init(st, sk);
	pkb_queue_init(&sk->rcvq);
	t->tab[i] = sk;
	t->count++;
	t->low_free = i + 1;
	if (ops->init && (err = ops->init(st, sk)) < 0) {
		sock_free(st, sk);
		*errp = err;
		return NULL;
	}
	return sk;
}

struct sock *sock_alloc(struct ustack *st, int type, int protocol,
			const struct sock_ops *ops)
{
	int err;

	return sock_new(st, type, protocol, ops, &err);
}

void sock_free(struct ustack *st, struct sock *sk)
{
	struct sock_table *t = &st->socks;

	if (!sk)
		return;
	if (sk->sd >= 0 && (uint32_t)sk->sd < t->size && t->tab[sk->sd] == sk) {
		t->tab[sk->sd] = NULL;
		t->count--;
		if ((uint32_t)sk->sd < t->low_free)
			t->low_free = (uint32_t)sk->sd;
	}
	/* Calls blocked on it wake, look it up again and find it gone. */
	if (st->rt && st->rt->notify)
		st->rt->notify(st, sk);
	pkb_queue_purge(st, &sk->rcvq);
	free(sk);
}

struct sock *sock_get(struct ustack *st, int sd)
{
	if (sd < 0 || (uint32_t)sd >= st->socks.size)
		return NULL;
	return st->socks.tab[sd];
}

void sock_wakeup(struct ustack *st, struct sock *sk)
{
	if (sk)
		sk->wait_seq++;
	if (st->rt && st->rt->notify)
		st->rt->notify(st, sk);
}

/* ---- datagram queues (UDP, ICMP echo) --------------------------------- */

int sock_queue_dgram(struct ustack *st, struct sock *sk, struct pkb *pkb)
{
	struct pkb_queue *q = &sk->rcvq;
	uint64_t charge = (uint64_t)q->bytes + pkb->len +
			  (uint64_t)(q->count + 1) * SOCK_DGRAM_OVERHEAD;

	/* One datagram always fits in an empty queue (as Linux does), so a
	 * small SO_RCVBUF does not make large datagrams undeliverable. */
	if (q->count > 0 && charge > sk->opt.rcvbuf)
		return -ENOBUFS;
	pkb_queue_push(q, pkb);
	sock_wakeup(st, sk);
	return 0;
}

ssize_t sock_recv_dgram(struct ustack *st, struct sock *sk, void *buf,
			size_t len, int flags, struct sockaddr_in *src)
{
	struct pkb *p = sk->rcvq.head;
	size_t n;
	ssize_t ret;

	if (!p)
		return sk->shut_rd ? 0 : -EAGAIN;
	n = USTACK_MIN(len, (size_t)p->len);
	if (n)
		memcpy(buf, p->data, n);
	if (src) {
		memset(src, 0, sizeof(*src));
		src->sin_family = AF_INET;
		src->sin_addr.s_addr = htonl(p->ip.src);
		src->sin_port = htons((uint16_t)p->scratch);
	}
	sk->rx_ttl = p->ip.ttl;
	ret = (flags & MSG_TRUNC) ? (ssize_t)p->len : (ssize_t)n;
	if (!(flags & MSG_PEEK))
		pkb_free(st, pkb_queue_pop(&sk->rcvq));
	return ret;
}

/* ---- calls: entering, blocking ----------------------------------------- */

static void api_enter(struct ustack *st)
{
	if (st->rt)
		st->rt->enter(st);
}

static void api_leave(struct ustack *st)
{
	if (st->rt)
		st->rt->leave(st);
}

/* One blocking-capable call on one socket. */
struct call {
	struct ustack *st;
	struct sock *sk;
	int sd;
	uint32_t gen;
	int blocking;
	ustack_time_t deadline;   /* SO_RCVTIMEO/SO_SNDTIMEO, or NEVER */
};

static int call_begin(struct call *c, struct ustack *st, int sd, int flags,
		      int for_send)
{
	ustack_time_t timeo;

	c->st = st;
	c->sd = sd;
	if ((c->sk = sock_get(st, sd)) == NULL)
		return -EBADF;
	c->gen = c->sk->gen;
	c->blocking = st->rt && !c->sk->nonblock && !(flags & MSG_DONTWAIT);
	timeo = for_send ? c->sk->opt.sndtimeo_us : c->sk->opt.rcvtimeo_us;
	c->deadline = timeo ? st->now + timeo : USTACK_TIME_NEVER;
	return 0;
}

/* Wait for events on the call's socket, then find the socket again.
 * A timeout (SO_RCVTIMEO/SO_SNDTIMEO) is -EAGAIN, as on Linux. */
static int call_wait(struct call *c, short events)
{
	int err = c->st->rt->wait(c->st, c->sk, events, c->deadline);

	c->sk = sock_get(c->st, c->sd);
	if (!c->sk || c->sk->gen != c->gen) {
		c->sk = NULL;
		return -EBADF;
	}
	return err == -ETIMEDOUT ? -EAGAIN : err;
}

/* ---- addresses ---------------------------------------------------------- */

static int addr_from_user(const struct sockaddr *a, socklen_t len,
			  struct sockaddr_in *out, int allow_unspec)
{
	sa_family_t fam;

	if (!a)
		return -EFAULT;
	if (len < sizeof(sa_family_t))
		return -EINVAL;
	memcpy(&fam, (const char *)a + offsetof(struct sockaddr, sa_family),
	       sizeof(fam));
	memset(out, 0, sizeof(*out));
	if (fam == AF_UNSPEC && allow_unspec) {
		out->sin_family = AF_UNSPEC;
		return 0;
	}
	if (len < sizeof(struct sockaddr_in))
		return -EINVAL;
	memcpy(out, a, sizeof(*out));
	return out->sin_family == AF_INET ? 0 : -EAFNOSUPPORT;
}

static int addr_out_check(const struct sockaddr *a, const socklen_t *len)
{
	if (a && !len)
		return -EFAULT;
	if (a && (int)*len < 0)
		return -EINVAL;
	return 0;
}

/* POSIX: copy what fits, report the full length. */
static void addr_to_user(struct sockaddr *a, socklen_t *len, uint32_t addr,
			 uint16_t port)
{
	struct sockaddr_in sin;

	if (!a)
		return;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(addr);
	memcpy(a, &sin, USTACK_MIN((size_t)*len, sizeof(sin)));
	*len = sizeof(sin);
}

/* ---- socket, bind, listen, accept, connect ----------------------------- */

/* A protocol whose ops table is empty is not linked in (yet). */
static int ops_available(const struct sock_ops *ops)
{
	return ops->sendto || ops->recvfrom || ops->accept;
}

static int pick_ops(int type, int *protocol, const struct sock_ops **ops)
{
	switch (type) {
	case SOCK_STREAM:
		if (*protocol != 0 && *protocol != IPPROTO_TCP)
			return -EPROTONOSUPPORT;
		*protocol = IPPROTO_TCP;
		*ops = &tcp_sock_ops;
		break;
	case SOCK_DGRAM:
		if (*protocol == 0 || *protocol == IPPROTO_UDP) {
			*protocol = IPPROTO_UDP;
			*ops = &udp_sock_ops;
		} else if (*protocol == IPPROTO_ICMP) {
			*ops = &icmp_sock_ops;
		} else {
			return -EPROTONOSUPPORT;
		}
		break;
	case SOCK_RAW:
	case SOCK_SEQPACKET:
	case SOCK_RDM:
		return -EPROTONOSUPPORT;
	default:
		return -EINVAL;
	}
	return ops_available(*ops) ? 0 : -EPROTONOSUPPORT;
}

int ustack_socket(struct ustack *st, int domain, int type, int protocol)
{
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	const struct sock_ops *ops;
	struct sock *sk;
	int err;

	if (!st)
		return -EINVAL;
	if (domain != AF_INET)
		return -EAFNOSUPPORT;
	if ((err = pick_ops(base, &protocol, &ops)) < 0)
		return err;
	api_enter(st);
	sk = sock_new(st, base, protocol, ops, &err);
	if (sk) {
		sk->nonblock = (type & SOCK_NONBLOCK) != 0;
		err = sk->sd;
	}
	api_leave(st);
	return err;
}

static int do_bind(struct ustack *st, int sd, const struct sockaddr *addr,
		   socklen_t len)
{
	struct sock *sk = sock_get(st, sd);
	struct sockaddr_in sin;
	uint32_t a;
	int err;

	if (!sk)
		return -EBADF;
	if ((err = addr_from_user(addr, len, &sin, 0)) < 0)
		return err;
	if (sk->bound)
		return -EINVAL;
	a = ntohl(sin.sin_addr.s_addr);
	if (a != INADDR_ANY && !ip4_is_local(st, a))
		return -EADDRNOTAVAIL;
	if (!sk->ops->bind)
		return -EOPNOTSUPP;
	return sk->ops->bind(st, sk, &sin);
}

int ustack_bind(struct ustack *st, int sd, const struct sockaddr *addr,
		socklen_t addrlen)
{
	int err;

	if (!st)
		return -EINVAL;
	api_enter(st);
	err = do_bind(st, sd, addr, addrlen);
	api_leave(st);
	return err;
}

int ustack_listen(struct ustack *st, int sd, int backlog)
{
	struct sock *sk;
	int err;

	if (!st)
		return -EINVAL;
	api_enter(st);
	if ((sk = sock_get(st, sd)) == NULL)
		err = -EBADF;
	else if (sk->type != SOCK_STREAM || !sk->ops->listen)
		err = -EOPNOTSUPP;
	else {
		/* As Linux: negative or huge means "the maximum". */
		if ((unsigned)backlog > SOCK_MAX_BACKLOG)
			backlog = SOCK_MAX_BACKLOG;
		err = sk->ops->listen(st, sk, backlog);
	}
	api_leave(st);
	return err;
}

static int do_accept(struct ustack *st, int sd, struct sockaddr *addr,
		     socklen_t *alen, int flags)
{
	struct sock *child = NULL;
	struct call c;
	int err;

	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return -EINVAL;
	if ((err = addr_out_check(addr, alen)) < 0 ||
	    (err = call_begin(&c, st, sd, 0, 0)) < 0)
		return err;
	if (c.sk->type != SOCK_STREAM || !c.sk->ops->accept)
		return -EOPNOTSUPP;
	for (;;) {
		err = c.sk->ops->accept(st, c.sk, &child);
		if (err != -EAGAIN || !c.blocking)
			break;
		if ((err = call_wait(&c, POLLIN)) < 0)
			return err;
	}
	if (err < 0)
		return err;
	USTACK_ASSERT(child != NULL);
	/* As Linux accept(2): O_NONBLOCK is not inherited from the
	 * listener; accept4's SOCK_NONBLOCK sets it. */
	child->nonblock = !!(flags & SOCK_NONBLOCK);
	addr_to_user(addr, alen, child->raddr, child->rport);
	return child->sd;
}

int ustack_accept4(struct ustack *st, int sd, struct sockaddr *addr,
		   socklen_t *addrlen, int flags)
{
	int err;

	if (!st)
		return -EINVAL;
	api_enter(st);
	err = do_accept(st, sd, addr, addrlen, flags);
	api_leave(st);
	return err;
}

int ustack_accept(struct ustack *st, int sd, struct sockaddr *addr,
		  socklen_t *addrlen)
{
	return ustack_accept4(st, sd, addr, addrlen, 0);
}

/* A blocking connect: wait for POLLOUT (or an error), then the result is
 * SO_ERROR's, as a BSD program would read it after a non-blocking one. */
static int connect_wait(struct call *c)
{
	short ev;
	int err;

	for (;;) {
		ev = sock_poll_one(c->st, c->sk);
		if (ev & (POLLOUT | POLLERR | POLLHUP))
			break;
		err = call_wait(c, POLLOUT);
		if (err == -EAGAIN)
			return -EINPROGRESS; /* SO_SNDTIMEO: Linux says so */
		if (err < 0)
			return err;
	}
	if ((err = sock_take_error(c->sk)) != 0)
		return -err;
	return (ev & POLLOUT) ? 0 : -ECONNREFUSED;
}

static int do_connect(struct ustack *st, int sd, const struct sockaddr *addr,
		      socklen_t len)
{
	struct sockaddr_in sin;
	struct call c;
	int err;

	if ((err = call_begin(&c, st, sd, 0, 1)) < 0)
		return err;
	if ((err = addr_from_user(addr, len, &sin, 1)) < 0)
		return err;
	if (!c.sk->ops->connect)
		return -EOPNOTSUPP;
	err = c.sk->ops->connect(st, c.sk, &sin);
	if (err != -EINPROGRESS || !c.blocking)
		return err;
	return connect_wait(&c);
}

int ustack_connect(struct ustack *st, int sd, const struct sockaddr *addr,
		   socklen_t addrlen)
{
	int err;

	if (!st)
		return -EINVAL;
	api_enter(st);
	err = do_connect(st, sd, addr, addrlen);
	api_leave(st);
	return err;
}

/* ---- send, recv ----------------------------------------------------------- */

/* What one send call sends: a buffer (sendto op) or, for a stream whose
 * protocol gathers, iovecs (sendmsg op). */
struct send_src {
	const uint8_t *buf;
	const struct iovec *iov;
	int iovcnt;
	size_t len;                     /* in all */
	const struct sockaddr_in *dst;
};

static ssize_t send_some(struct call *c, const struct send_src *src,
			 size_t done, int flags)
{
	if (src->iov)
		return c->sk->ops->sendmsg(c->st, c->sk, src->iov, src->iovcnt,
					   done, flags);
	return c->sk->ops->sendto(c->st, c->sk, src->buf + done,
				  src->len - done, flags, src->dst);
}

/*
 * Datagrams: one op call, retried only on -EAGAIN. Streams: as BSD blocking
 * send, loop until everything is queued; a non-blocking stream send
 * returns what was queued (or -EAGAIN). An error after a partial send
 * returns the partial count; the error shows on the next call.
 */
static ssize_t send_loop(struct call *c, const struct send_src *src, int flags)
{
	int stream = c->sk->type == SOCK_STREAM;
	size_t done = 0;
	ssize_t n;
	int err;

	for (;;) {
		if (c->sk->shut_wr)
			return done ? (ssize_t)done : -EPIPE;
		n = send_some(c, src, done, flags);
		if (n >= 0 && !stream)
			return n;
		if (n > 0)
			done += (size_t)n;
		if (n >= 0 && done == src->len)
			return (ssize_t)done;
		if (n < 0 && n != -EAGAIN)
			return done ? (ssize_t)done : n;
		/* -EAGAIN, or a stream took part of it. */
		if (!c->blocking)
			return done ? (ssize_t)done : -EAGAIN;
		if ((err = call_wait(c, POLLOUT)) < 0)
			return done ? (ssize_t)done : err;
	}
}

static ssize_t do_sendto(struct ustack *st, int sd, const void *buf,
			 size_t len, int flags, const struct sockaddr *addr,
			 socklen_t alen)
{
	struct sockaddr_in sin;
	struct call c;
	int err;

	if ((err = call_begin(&c, st, sd, flags, 1)) < 0)
		return err;
	if (!buf && len)
		return -EFAULT;
	if (flags & ~SEND_FLAGS)
		return -EOPNOTSUPP;
	if (addr && (err = addr_from_user(addr, alen, &sin, 0)) < 0)
		return err;
	if (!c.sk->ops->sendto)
		return -EOPNOTSUPP;
	return send_loop(&c, &(struct send_src){.buf = buf, .len = len,
						 .dst = addr ? &sin : NULL},
			 flags & ~MSG_DONTWAIT);
}

ssize_t ustack_sendto(struct ustack *st, int sd, const void *buf, size_t len,
		      int flags, const struct sockaddr *addr, socklen_t addrlen)
{
	ssize_t n;

	if (!st)
		return -EINVAL;
	api_enter(st);
	n = do_sendto(st, sd, buf, len, flags, addr, addrlen);
	api_leave(st);
	return n;
}

ssize_t ustack_send(struct ustack *st, int sd, const void *buf, size_t len,
		    int flags)
{
	return ustack_sendto(st, sd, buf, len, flags, NULL, 0);
}

#define SOCK_DGRAM_MAX 65535u     /* no datagram is larger: -EMSGSIZE */

static ssize_t do_sendmsg(struct ustack *st, int sd, const struct iovec *iov,
			  int iovcnt, int flags)
{
	size_t total = 0, off = 0;
	uint8_t *bounce;
	struct call c;
	ssize_t n;
	int err;

	if ((err = call_begin(&c, st, sd, flags, 1)) < 0)
		return err;
	if (iovcnt < 0 || iovcnt > USTACK_IOV_MAX)
		return -EINVAL;
	if (iovcnt && !iov)
		return -EFAULT;
	for (int i = 0; i < iovcnt; i++) {
		if (!iov[i].iov_base && iov[i].iov_len)
			return -EFAULT;
		if (iov[i].iov_len > (size_t)SSIZE_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	if (flags & ~SEND_FLAGS)
		return -EOPNOTSUPP;
	if (!c.sk->ops->sendto)
		return -EOPNOTSUPP;
	flags &= ~MSG_DONTWAIT;
	if (c.sk->type == SOCK_STREAM && c.sk->ops->sendmsg)
		return send_loop(&c, &(struct send_src){.iov = iov, .iovcnt = iovcnt,
							 .len = total}, flags);
	/* One buffer (a datagram is one datagram of all the pieces). */
	if (c.sk->type != SOCK_STREAM && total > SOCK_DGRAM_MAX)
		return -EMSGSIZE;
	if ((bounce = malloc(total ? total : 1)) == NULL)
		return -ENOMEM;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len)
			memcpy(bounce + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	n = send_loop(&c, &(struct send_src){.buf = bounce, .len = total}, flags);
	free(bounce);
	return n;
}

ssize_t ustack_sendmsg(struct ustack *st, int fd, const struct iovec *iov,
		       int iovcnt, int flags)
{
	ssize_t n;

	if (!st)
		return -EINVAL;
	api_enter(st);
	n = do_sendmsg(st, fd, iov, iovcnt, flags);
	api_leave(st);
	return n;
}

ssize_t ustack_writev(struct ustack *st, int fd, const struct iovec *iov,
		      int iovcnt)
{
	return ustack_sendmsg(st, fd, iov, iovcnt, 0);
}

/*
 * One datagram, or what a stream has; a blocking socket waits for
 * something. MSG_WAITALL on a stream loops until len bytes, EOF or an
 * error (then the partial count); it is ignored with MSG_PEEK.
 */
static ssize_t recv_loop(struct call *c, uint8_t *buf, size_t len, int flags,
			 struct sockaddr_in *src)
{
	int waitall = (flags & MSG_WAITALL) && !(flags & MSG_PEEK) &&
		      c->sk->type == SOCK_STREAM;
	int opflags = flags & ~(MSG_WAITALL | MSG_DONTWAIT);
	size_t done = 0;
	ssize_t n;
	int err;

	for (;;) {
		n = c->sk->ops->recvfrom(c->st, c->sk, buf + done, len - done,
					 opflags, src);
		if (n >= 0 && c->sk->type != SOCK_STREAM)
			return n;
		if (n > 0) {
			done += (size_t)n;
			if (!waitall || done >= len)
				return (ssize_t)done;
			continue;
		}
		if (n == 0)
			return (ssize_t)done; /* end of stream */
		if (n != -EAGAIN)
			return done ? (ssize_t)done : n;
		if (!c->blocking)
			return done ? (ssize_t)done : -EAGAIN;
		if ((err = call_wait(c, POLLIN)) < 0)
			return done ? (ssize_t)done : err;
	}
}

static ssize_t do_recvfrom(struct ustack *st, int sd, void *buf, size_t len,
			   int flags, struct sockaddr *addr, socklen_t *alen)
{
	struct sockaddr_in src;
	struct call c;
	ssize_t n;
	int err;

	if ((err = call_begin(&c, st, sd, flags, 0)) < 0)
		return err;
	if (!buf && len)
		return -EFAULT;
	if (flags & ~RECV_FLAGS)
		return -EOPNOTSUPP;
	if ((err = addr_out_check(addr, alen)) < 0)
		return err;
	if (!c.sk->ops->recvfrom)
		return -EOPNOTSUPP;
	memset(&src, 0, sizeof(src));
	n = recv_loop(&c, buf, len, flags, &src);
	if (n >= 0 && addr) {
		if (src.sin_family == AF_INET)
			addr_to_user(addr, alen, ntohl(src.sin_addr.s_addr),
				     ntohs(src.sin_port));
		else
			*alen = 0; /* streams: no address, as Linux */
	}
	return n;
}

ssize_t ustack_recvfrom(struct ustack *st, int sd, void *buf, size_t len,
			int flags, struct sockaddr *addr, socklen_t *addrlen)
{
	ssize_t n;

	if (!st)
		return -EINVAL;
	api_enter(st);
	n = do_recvfrom(st, sd, buf, len, flags, addr, addrlen);
	api_leave(st);
	return n;
}

/* recvfrom into the first iovec (or a bounce buffer for several), then
 * the control messages: IP_TTL when IP_RECVTTL is on. */
static ssize_t do_recvmsg(struct ustack *st, int sd, struct msghdr *msg,
			  int flags)
{
	struct sock *sk = sock_get(st, sd);
	size_t total = 0, off = 0;
	uint8_t *bounce = NULL, *buf;
	ssize_t n;

	if (!sk)
		return -EBADF;
	if (!msg || (msg->msg_iovlen && !msg->msg_iov))
		return -EFAULT;
	for (size_t i = 0; i < msg->msg_iovlen; i++)
		total += msg->msg_iov[i].iov_len;
	buf = msg->msg_iovlen ? msg->msg_iov[0].iov_base : NULL;
	if (msg->msg_iovlen > 1) {
		total = USTACK_MIN(total, (size_t)PKB_MAX_LEN);
		if ((bounce = malloc(total ? total : 1)) == NULL)
			return -ENOMEM;
		buf = bounce;
	}
	n = do_recvfrom(st, sd, buf, total, flags, msg->msg_name,
			msg->msg_name ? &msg->msg_namelen : NULL);
	for (size_t i = 0; bounce && n > 0 && i < msg->msg_iovlen; i++) {
		size_t c = USTACK_MIN(msg->msg_iov[i].iov_len, (size_t)n - off);
		memcpy(msg->msg_iov[i].iov_base, bounce + off, c);
		off += c;
	}
	free(bounce);
	msg->msg_flags = 0;
	if (n >= 0 && sk->recvttl && sk->type == SOCK_DGRAM &&
	    msg->msg_control && msg->msg_controllen >= CMSG_SPACE(sizeof(int))) {
		struct cmsghdr *c = CMSG_FIRSTHDR(msg);
		int ttl = sk->rx_ttl;

		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_TTL;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &ttl, sizeof(ttl));
		msg->msg_controllen = CMSG_SPACE(sizeof(int));
	} else if (n >= 0) {
		if (sk->recvttl && msg->msg_control)
			msg->msg_flags |= MSG_CTRUNC;
		msg->msg_controllen = 0;
	}
	return n;
}

ssize_t ustack_recvmsg(struct ustack *st, int sd, struct msghdr *msg,
		       int flags)
{
	ssize_t n;

	if (!st)
		return -EINVAL;
	api_enter(st);
	n = do_recvmsg(st, sd, msg, flags);
	api_leave(st);
	return n;
}

ssize_t ustack_recv(struct ustack *st, int sd, void *buf, size_t len,
		    int flags)
{
	return ustack_recvfrom(st, sd, buf, len, flags, NULL, NULL);
}

/* ---- shutdown, close ---------------------------------------------------- */

static int do_shutdown(struct ustack *st, int sd, int how)
{
	struct sock *sk = sock_get(st, sd);
	int err;

	if (!sk)
		return -EBADF;
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return -EINVAL;
	err = sk->ops->shutdown ? sk->ops->shutdown(st, sk, how) : 0;
	/* As Linux, an unconnected datagram socket answers -ENOTCONN but is
	 * shut down all the same: the way to wake a thread blocked in its
	 * recvfrom(). */
	if (err == 0 || (err == -ENOTCONN && sk->type == SOCK_DGRAM)) {
		if (how != SHUT_WR)
			sk->shut_rd = 1;
		if (how != SHUT_RD)
			sk->shut_wr = 1;
		sock_wakeup(st, sk);
	}
	return err;
}

int ustack_shutdown(struct ustack *st, int sd, int how)
{
	int err;

	if (!st)
		return -EINVAL;
	api_enter(st);
	err = do_shutdown(st, sd, how);
	api_leave(st);
	return err;
}

/*
 * SO_LINGER with a timeout on a blocking stream socket (POSIX close(), as
 * BSD and Linux do it): send the FIN after the queued data and wait up to
 * l_linger seconds for the peer to acknowledge all of it. Then the socket
 * is released whatever happened; an unfinished close carries on in the
 * background. No wait when the close will be an abort (unread data, RFC
 * 1122 4.2.2.13) or once both directions are closed (POLLHUP: the peer's
 * FIN came first, ours is about to be acknowledged).
 */
static void close_linger(struct ustack *st, int sd)
{
	struct sock *sk = sock_get(st, sd);
	struct call c;
	char b;

	if (!sk || sk->type != SOCK_STREAM || !sk->opt.linger_on ||
	    sk->opt.linger_s <= 0 || !st->rt || sk->nonblock || !sk->ops->shutdown)
		return;
	if (sk->ops->recvfrom(st, sk, &b, 1, MSG_PEEK | MSG_DONTWAIT, NULL) > 0)
		return;
	if (!sk->shut_wr && sk->ops->shutdown(st, sk, SHUT_WR) < 0)
		return;
	sk->shut_wr = 1;
	if (call_begin(&c, st, sd, 0, 1) < 0)
		return;
	c.deadline = st->now + USTACK_SEC(sk->opt.linger_s);
	while (!(sock_poll_one(st, c.sk) & (SOCK_POLL_SENT | POLLERR | POLLHUP)) &&
	       st->now < c.deadline)
		if (call_wait(&c, SOCK_POLL_SENT) < 0)
			return;
}

int ustack_close(struct ustack *st, int sd)
{
	struct sock *sk;
	int err = 0;

	if (!st)
		return -EINVAL;
	api_enter(st);
	close_linger(st, sd);
	if ((sk = sock_get(st, sd)) == NULL) {
		err = -EBADF;
	} else {
		if (sk->ops->release)
			sk->ops->release(st, sk);
		sock_free(st, sk);
	}
	api_leave(st);
	return err;
}

/* ---- names, non-blocking, poll ------------------------------------------- */

static int do_name(struct ustack *st, int sd, struct sockaddr *addr,
		   socklen_t *alen, int peer)
{
	struct sock *sk = sock_get(st, sd);
	int err;

	if (!sk)
		return -EBADF;
	if (!addr)
		return -EFAULT;
	if ((err = addr_out_check(addr, alen)) < 0)
		return err;
	if (peer) {
		if (!sk->connected)
			return -ENOTCONN;
		addr_to_user(addr, alen, sk->raddr, sk->rport);
	} else {
		/* Connected through a wildcard bind: the source address
		 * it uses, which is our one address. */
		uint32_t a = sk->laddr;

		if (!a && sk->connected)
			a = st->cfg.addr;
		addr_to_user(addr, alen, a, sk->lport);
	}
	return 0;
}

int ustack_getsockname(struct ustack *st, int sd, struct sockaddr *addr,
		       socklen_t *addrlen)
{
	int err;

	if (!st)
		return -EINVAL;
	api_enter(st);
	err = do_name(st, sd, addr, addrlen, 0);
	api_leave(st);
	return err;
}

int ustack_getpeername(struct ustack *st, int sd, struct sockaddr *addr,
		       socklen_t *addrlen)
{
	int err;

	if (!st)
		return -EINVAL;
	api_enter(st);
	err = do_name(st, sd, addr, addrlen, 1);
	api_leave(st);
	return err;
}

int ustack_set_nonblock(struct ustack *st, int sd, int on)
{
	struct sock *sk;
	int err = 0;

	if (!st)
		return -EINVAL;
	api_enter(st);
	if ((sk = sock_get(st, sd)) == NULL)
		err = -EBADF;
	else
		sk->nonblock = on != 0;
	api_leave(st);
	return err;
}

short sock_poll_one(struct ustack *st, struct sock *sk)
{
	short m;

	if (sk->ops->poll) {
		m = sk->ops->poll(st, sk);
	} else {
		m = POLLOUT;
		if (sk->rcvq.count)
			m |= POLLIN;
		if (sk->so_error)
			m |= POLLERR;
	}
	if (m & POLLIN)
		m |= POLLRDNORM;
	if (m & POLLOUT)
		m |= POLLWRNORM;
	return m;
}

unsigned sock_poll_eval(struct ustack *st, struct ustack_pollfd *fds,
			unsigned n)
{
	unsigned ready = 0;

	for (unsigned i = 0; i < n; i++) {
		struct sock *sk;
		short rev;

		if (fds[i].sd < 0)
			continue;
		if ((sk = sock_get(st, fds[i].sd)) == NULL)
			rev = POLLNVAL;
		else
			rev = sock_poll_one(st, sk) &
			      (fds[i].events | POLLERR | POLLHUP);
		fds[i].revents = rev;
		ready += rev != 0;
	}
	return ready;
}

int ustack_poll(struct ustack *st, struct ustack_pollfd *fds, unsigned nfds,
		int timeout_ms)
{
	int r;

	if (!st)
		return -EINVAL;
	if (nfds && !fds)
		return -EFAULT;
	if (nfds > SOCK_POLL_MAX)
		return -EINVAL;
	api_enter(st);
	if (st->rt && st->rt->poll) {
		r = st->rt->poll(st, fds, nfds, timeout_ms);
	} else {
		/* Driven by hand: evaluate, never wait. */
		int os;

		r = (int)sock_poll_eval(st, fds, nfds);
		os = rt_poll_os_now(fds, nfds);
		r = os < 0 ? os : r + os;
	}
	api_leave(st);
	return r;
}

/* ---- runtime-independent entry points of runtime.h ---------------------- */

void ustack_lock(struct ustack *st)
{
	if (st && st->rt)
		st->rt->enter(st);
}

void ustack_unlock(struct ustack *st)
{
	if (st && st->rt)
		st->rt->leave(st);
}

void ustack_wakeup(struct ustack *st)
{
	if (st && st->rt && st->rt->wakeup)
		st->rt->wakeup(st);
}

/* ---- the connection table ----------------------------------------------- */

/* A datagram socket's row (UDP, ICMP echo): addresses and queued bytes. */
static void dgram_row(const struct sock *sk, struct ustack_conn_info *o)
{
	memset(o, 0, sizeof(*o));
	o->proto = sk->protocol;
	o->sd = sk->sd;
	o->laddr = sk->laddr;
	o->lport = sk->lport;
	o->raddr = sk->raddr;
	o->rport = sk->rport;
	o->rcv_queued = sk->rcvq.bytes;
}

/* TCP gives the rows of its connections (sockets or not: orphans and
 * TIME_WAIT too), then one row per other socket. O(connections +
 * sockets): for the control socket and tools. */
int ustack_conn_list(struct ustack *st, struct ustack_conn_info *out, int max)
{
	int n = tcp_conn_rows(st, out, max);

	for (uint32_t i = 0; st->socks.tab && i < st->socks.size; i++) {
		struct sock *sk = st->socks.tab[i];

		if (!sk || sk->protocol == IPPROTO_TCP)
			continue;
		if (n < max)
			dgram_row(sk, &out[n]);
		n++;
	}
	return n;
}
