/*
 * sockopt.c - setsockopt/getsockopt for every socket: the options the
 * socket owns (struct sock_opts in sock.h) and every limit on them, then
 * the protocol's hook (ops->setsockopt) to apply or refuse a new value.
 *
 * Linux semantics throughout (socket(7), ip(7), tcp(7)); where ustack
 * differs it says so (SO_RCVBUF/SO_SNDBUF are not doubled). An option no
 * layer knows is -ENOPROTOOPT.
 *
 * May touch: struct sock (sk->opt, recvttl, so_error), the protocols'
 * sock_ops, the runtime's enter/leave.
 */
#include <errno.h>
#include <string.h>
#include <sys/time.h>

#include "core/assert.h"
#include "core/stack.h"
#include "sock/rt.h"
#include "sock/sock.h"
#include "wire/ipv4.h"

#define SOCK_KEEP_MAX_S 32767      /* TCP_KEEPIDLE/INTVL, as Linux */
#define SOCK_KEEPCNT_MAX 127
#define SOCK_LINGER_MAX_S 65535
#define SOCK_MAXSEG_MIN 88         /* TCP_MAXSEG range (Linux TCP_MIN_MSS */
#define SOCK_MAXSEG_MAX 32767      /*  and MAX_TCP_WINDOW) */
#define SOCK_ECN_MASK 3            /* IP_TOS bits a stream keeps (RFC 3168) */

/* The runtime's lock around a call, as sock.c takes it. */
static void opt_enter(struct ustack *st)
{
	if (st->rt)
		st->rt->enter(st);
}

static void opt_leave(struct ustack *st)
{
	if (st->rt)
		st->rt->leave(st);
}

/* SO_RCVBUF/SO_SNDBUF: clamped to [SOCK_BUF_MIN, SOCK_BUF_MAX], stored as
 * given (no doubling as Linux does); getsockopt reads back the clamp. The
 * configured defaults go through the same clamp: this is the one place
 * the limits apply (TCP takes sk->opt as it is). */
static uint32_t buf_clamp(int64_t v)
{
	if (v < (int64_t)SOCK_BUF_MIN)
		return SOCK_BUF_MIN;
	if (v > (int64_t)SOCK_BUF_MAX)
		return SOCK_BUF_MAX;
	return (uint32_t)v;
}

/* A new socket's options: the configured defaults. */
void sock_opts_init(const struct ustack *st, struct sock *sk)
{
	const struct ustack_config *c = &st->cfg;

	if (sk->protocol == IPPROTO_TCP) {
		sk->opt.rcvbuf = buf_clamp(c->tcp_rcvbuf);
		sk->opt.sndbuf = buf_clamp(c->tcp_sndbuf);
	} else {
		sk->opt.rcvbuf = c->udp_rcvbuf;
		sk->opt.sndbuf = c->udp_sndbuf;
	}
	sk->opt.conn.keepidle_s = (uint32_t)(c->tcp_keepidle_us / 1000000u);
	sk->opt.conn.keepintvl_s = (uint32_t)(c->tcp_keepintvl_us / 1000000u);
	sk->opt.conn.keepcnt = c->tcp_keepcnt;
}

/* ---- options -------------------------------------------------------------- */

static int opt_int(const void *val, socklen_t len, int *v)
{
	if (len < sizeof(int))
		return -EINVAL;
	memcpy(v, val, sizeof(int));
	return 0;
}

static int set_linger(struct sock *sk, const void *val, socklen_t len)
{
	struct linger l;

	if (len < sizeof(l))
		return -EINVAL;
	memcpy(&l, val, sizeof(l));
	sk->opt.linger_on = l.l_onoff != 0;
	sk->opt.linger_s = l.l_linger < 0 ? 0 :
		       USTACK_MIN(l.l_linger, SOCK_LINGER_MAX_S);
	return 0;
}

static int set_timeo(struct sock *sk, int name, const void *val,
		     socklen_t len)
{
	struct timeval tv;
	ustack_time_t us;

	if (len < sizeof(tv))
		return -EINVAL;
	memcpy(&tv, val, sizeof(tv));
	if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
		return -EDOM;
	if (tv.tv_sec < 0) /* Linux: a negative time means "don't wait" */
		us = 1;
	else if ((uint64_t)tv.tv_sec > UINT32_MAX)
		us = 0;
	else
		us = (ustack_time_t)tv.tv_sec * 1000000u +
		     (ustack_time_t)tv.tv_usec;
	if (name == SO_RCVTIMEO)
		sk->opt.rcvtimeo_us = us;
	else
		sk->opt.sndtimeo_us = us;
	return 0;
}

#define OPT_NOT_COMMON 1

/* Store a common option: 0, OPT_NOT_COMMON (ask the protocol), -errno. */
static int set_sol_socket(struct sock *sk, int name, const void *val,
			  socklen_t len)
{
	int v, err;

	switch (name) {
	case SO_LINGER:
		return set_linger(sk, val, len);
	case SO_RCVTIMEO:
	case SO_SNDTIMEO:
		return set_timeo(sk, name, val, len);
	case SO_ERROR:
	case SO_TYPE:
	case SO_PROTOCOL:
	case SO_DOMAIN:
		return -ENOPROTOOPT; /* read-only */
	case SO_REUSEADDR:
	case SO_KEEPALIVE:
	case SO_BROADCAST:
	case SO_RCVBUF:
	case SO_SNDBUF:
		break;
	default:
		return OPT_NOT_COMMON;
	}
	if ((err = opt_int(val, len, &v)) < 0)
		return err;
	switch (name) {
	case SO_REUSEADDR: sk->opt.reuseaddr = v != 0; break;
	case SO_KEEPALIVE: sk->opt.conn.keepalive = v != 0; break;
	case SO_BROADCAST: sk->opt.broadcast = v != 0; break;
	case SO_RCVBUF: sk->opt.rcvbuf = buf_clamp(v); break;
	case SO_SNDBUF: sk->opt.sndbuf = buf_clamp(v); break;
	}
	return 0;
}

static int set_ipproto_tcp(struct sock *sk, int name, const void *val,
			   socklen_t len)
{
	int v, err;

	if (name != TCP_NODELAY && name != TCP_KEEPIDLE &&
	    name != TCP_KEEPINTVL && name != TCP_KEEPCNT &&
	    name != TCP_USER_TIMEOUT && name != TCP_MAXSEG)
		return OPT_NOT_COMMON;
	if ((err = opt_int(val, len, &v)) < 0)
		return err;
	switch (name) {
	case TCP_NODELAY:
		sk->opt.conn.nodelay = v != 0;
		break;
	case TCP_KEEPIDLE:
	case TCP_KEEPINTVL:
		if (v < 1 || v > SOCK_KEEP_MAX_S)
			return -EINVAL;
		if (name == TCP_KEEPIDLE)
			sk->opt.conn.keepidle_s = (uint32_t)v;
		else
			sk->opt.conn.keepintvl_s = (uint32_t)v;
		break;
	case TCP_KEEPCNT:
		if (v < 1 || v > SOCK_KEEPCNT_MAX)
			return -EINVAL;
		sk->opt.conn.keepcnt = (uint32_t)v;
		break;
	case TCP_USER_TIMEOUT:
		/* RFC 5482, Linux tcp(7): ms, 0 = the system's rule. */
		if (v < 0)
			return -EINVAL;
		sk->opt.conn.user_timeout_ms = (uint32_t)v;
		break;
	case TCP_MAXSEG:
		/* Linux: 0 = no clamp, else 88..32767; applies to the
		 * SYN we send next (set it before connect/listen). */
		if (v && (v < SOCK_MAXSEG_MIN || v > SOCK_MAXSEG_MAX))
			return -EINVAL;
		sk->opt.conn.maxseg = (uint16_t)v;
		break;
	}
	return 0;
}

/* IP_RECVTTL (datagram sockets): recvmsg() reports each datagram's TTL in
 * an IP_TTL control message, as on Linux. IP_TTL: the TTL of what this
 * socket sends, 1..255, -1 = the default (IP4_DEFAULT_TTL). IP_TOS: the
 * TOS byte; a stream keeps the ECN bits to itself, as Linux does. */
static int set_ipproto_ip(struct sock *sk, int name, const void *val,
			  socklen_t len)
{
	int v, err;

	if (name != IP_RECVTTL && name != IP_TTL && name != IP_TOS)
		return OPT_NOT_COMMON;
	if (name == IP_RECVTTL && sk->type != SOCK_DGRAM)
		return -ENOPROTOOPT;
	if ((err = opt_int(val, len, &v)) < 0)
		return err;
	switch (name) {
	case IP_RECVTTL:
		sk->recvttl = v != 0;
		break;
	case IP_TTL:
		if (v != -1 && (v < 1 || v > 255))
			return -EINVAL;
		sk->opt.conn.ttl = v == -1 ? 0 : (uint8_t)v;
		break;
	case IP_TOS:
		v &= 0xff;
		if (sk->type == SOCK_STREAM)
			v = (v & ~SOCK_ECN_MASK) | (sk->opt.conn.tos & SOCK_ECN_MASK);
		sk->opt.conn.tos = (uint8_t)v;
		break;
	}
	return 0;
}

static int do_setsockopt(struct ustack *st, int sd, int level, int name,
			 const void *val, socklen_t len)
{
	struct sock *sk = sock_get(st, sd);
	struct sock_opts saved;
	unsigned recvttl;
	int err = OPT_NOT_COMMON, r;

	if (!sk)
		return -EBADF;
	if (!val)
		return -EFAULT;
	saved = sk->opt;
	recvttl = sk->recvttl;
	if (level == SOL_SOCKET)
		err = set_sol_socket(sk, name, val, len);
	else if (level == IPPROTO_TCP && sk->type == SOCK_STREAM)
		err = set_ipproto_tcp(sk, name, val, len);
	else if (level == IPPROTO_IP)
		err = set_ipproto_ip(sk, name, val, len);
	if (err < 0)
		return err;
	if (err == OPT_NOT_COMMON)
		return sk->ops->setsockopt ?
		       sk->ops->setsockopt(st, sk, level, name, val, len) :
		       -ENOPROTOOPT;
	/* Stored; now the protocol may react (or refuse: undo). */
	if (sk->ops->setsockopt) {
		r = sk->ops->setsockopt(st, sk, level, name, val, len);
		if (r < 0 && r != -ENOPROTOOPT) {
			sk->opt = saved;
			sk->recvttl = recvttl & 1;
			return r;
		}
	}
	return 0;
}

int ustack_setsockopt(struct ustack *st, int sd, int level, int optname,
		      const void *optval, socklen_t optlen)
{
	int err;

	if (!st)
		return -EINVAL;
	opt_enter(st);
	err = do_setsockopt(st, sd, level, optname, optval, optlen);
	opt_leave(st);
	return err;
}

static int put_opt(void *val, socklen_t *len, const void *v, size_t n)
{
	if (*len < n)
		return -EINVAL;
	memcpy(val, v, n);
	*len = (socklen_t)n;
	return 0;
}

static int put_int(void *val, socklen_t *len, int v)
{
	return put_opt(val, len, &v, sizeof(v));
}

static int get_sol_socket(struct sock *sk, int name, void *val,
			  socklen_t *len)
{
	struct linger l;
	struct timeval tv;
	ustack_time_t us;

	switch (name) {
	case SO_REUSEADDR: return put_int(val, len, sk->opt.reuseaddr);
	case SO_KEEPALIVE: return put_int(val, len, sk->opt.conn.keepalive);
	case SO_BROADCAST: return put_int(val, len, sk->opt.broadcast);
	case SO_RCVBUF: return put_int(val, len, (int)sk->opt.rcvbuf);
	case SO_SNDBUF: return put_int(val, len, (int)sk->opt.sndbuf);
	case SO_TYPE: return put_int(val, len, sk->type);
	case SO_PROTOCOL: return put_int(val, len, sk->protocol);
	case SO_DOMAIN: return put_int(val, len, AF_INET);
	case SO_ERROR: {
		int err;

		if (*len < sizeof(int))
			return -EINVAL;
		err = sock_take_error(sk); /* get and clear */
		return put_int(val, len, err);
	}
	case SO_LINGER:
		memset(&l, 0, sizeof(l));
		l.l_onoff = sk->opt.linger_on;
		l.l_linger = sk->opt.linger_s;
		return put_opt(val, len, &l, sizeof(l));
	case SO_RCVTIMEO:
	case SO_SNDTIMEO:
		us = name == SO_RCVTIMEO ? sk->opt.rcvtimeo_us : sk->opt.sndtimeo_us;
		memset(&tv, 0, sizeof(tv));
		tv.tv_sec = (time_t)(us / 1000000u);
		tv.tv_usec = (suseconds_t)(us % 1000000u);
		return put_opt(val, len, &tv, sizeof(tv));
	}
	return OPT_NOT_COMMON;
}

static int get_ipproto_tcp(struct sock *sk, int name, void *val,
			   socklen_t *len)
{
	switch (name) {
	case TCP_NODELAY: return put_int(val, len, sk->opt.conn.nodelay);
	case TCP_KEEPIDLE: return put_int(val, len, (int)sk->opt.conn.keepidle_s);
	case TCP_KEEPINTVL: return put_int(val, len, (int)sk->opt.conn.keepintvl_s);
	case TCP_KEEPCNT: return put_int(val, len, (int)sk->opt.conn.keepcnt);
	case TCP_USER_TIMEOUT:
		return put_int(val, len, (int)sk->opt.conn.user_timeout_ms);
	}
	return OPT_NOT_COMMON;
}

static int do_getsockopt(struct ustack *st, int sd, int level, int name,
			 void *val, socklen_t *len)
{
	struct sock *sk = sock_get(st, sd);
	int err = OPT_NOT_COMMON;

	if (!sk)
		return -EBADF;
	if (!val || !len)
		return -EFAULT;
	if (level == SOL_SOCKET)
		err = get_sol_socket(sk, name, val, len);
	else if (level == IPPROTO_TCP && sk->type == SOCK_STREAM)
		err = get_ipproto_tcp(sk, name, val, len);
	else if (level == IPPROTO_IP && name == IP_RECVTTL)
		err = put_int(val, len, sk->recvttl);
	else if (level == IPPROTO_IP && name == IP_TTL)
		err = put_int(val, len, sk->opt.conn.ttl ? sk->opt.conn.ttl :
					IP4_DEFAULT_TTL);
	else if (level == IPPROTO_IP && name == IP_TOS)
		err = put_int(val, len, sk->opt.conn.tos);
	if (err != OPT_NOT_COMMON)
		return err;
	return sk->ops->getsockopt ?
	       sk->ops->getsockopt(st, sk, level, name, val, len) :
	       -ENOPROTOOPT;
}

int ustack_getsockopt(struct ustack *st, int sd, int level, int optname,
		      void *optval, socklen_t *optlen)
{
	int err;

	if (!st)
		return -EINVAL;
	opt_enter(st);
	err = do_getsockopt(st, sd, level, optname, optval, optlen);
	opt_leave(st);
	return err;
}
