/*
 * check_sock.c - the socket layer without a runtime: descriptors and their
 * bound, argument checks and errors, common options, bind conflicts,
 * ephemeral ports (RFC 6056), poll, host-unreachable fan-out. UDP sockets
 * serve as the protocol underneath; the UDP wire behaviour is in
 * check_udp.c. Every test ends with tb_free(), which asserts that every
 * packet buffer came back.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <ustack/runtime.h>
#include <ustack/socket.h>

#include "core/stack.h"
#include "lib/check_main.h"
#include "lib/testbed.h"
#include "proto/ipv4.h"
#include "sock/rt.h"
#include "sock/sock.h"

static int udp_socket(struct tb *tb)
{
	int sd = ustack_socket(tb->st, AF_INET, SOCK_DGRAM, 0);

	ck_assert_int_ge(sd, 0);
	return sd;
}

static int bind_port(struct tb *tb, int sd, uint32_t addr, uint16_t port)
{
	struct sockaddr_in s = tb_sin(addr, port);

	return ustack_bind(tb->st, sd, (struct sockaddr *)&s, sizeof(s));
}

static uint16_t local_port(struct tb *tb, int sd)
{
	struct sockaddr_in s;
	socklen_t len = sizeof(s);

	ck_assert_int_eq(ustack_getsockname(tb->st, sd, (struct sockaddr *)&s,
					    &len), 0);
	return ntohs(s.sin_port);
}

/* ---- descriptors ---------------------------------------------------- */

START_TEST(test_sock_socket_lowest_free_descriptor)
{
	struct tb *tb = tb_new(NULL);
	int a = udp_socket(tb), b = udp_socket(tb), c = udp_socket(tb);

	ck_assert_int_eq(a, 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(c, 2);
	ck_assert_int_eq(ustack_close(tb->st, b), 0);
	ck_assert_int_eq(ustack_close(tb->st, a), 0);
	ck_assert_int_eq(udp_socket(tb), 0); /* lowest first */
	ck_assert_int_eq(udp_socket(tb), 1);
	ck_assert_int_eq(udp_socket(tb), 3);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_socket_table_full_emfile)
{
	struct ustack_config cfg;
	struct tb *tb;

	tb_config(&cfg);
	cfg.max_sockets = 4;
	tb = tb_new(&cfg);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(udp_socket(tb), i);
	ck_assert_int_eq(ustack_socket(tb->st, AF_INET, SOCK_DGRAM, 0),
			 -EMFILE);
	ck_assert_int_eq(ustack_close(tb->st, 2), 0);
	ck_assert_int_eq(udp_socket(tb), 2);
	ck_assert_int_eq(ustack_socket(tb->st, AF_INET, SOCK_DGRAM, 0),
			 -EMFILE);
	tb_free(tb); /* destroy releases the open sockets */
}
END_TEST

START_TEST(test_sock_socket_bad_arguments)
{
	struct tb *tb = tb_new(NULL);
	struct ustack *st = tb->st;

	ck_assert_int_eq(ustack_socket(st, AF_INET6, SOCK_DGRAM, 0),
			 -EAFNOSUPPORT);
	ck_assert_int_eq(ustack_socket(st, AF_UNIX, SOCK_STREAM, 0),
			 -EAFNOSUPPORT);
	ck_assert_int_eq(ustack_socket(st, AF_INET, SOCK_DGRAM, IPPROTO_TCP),
			 -EPROTONOSUPPORT);
	ck_assert_int_eq(ustack_socket(st, AF_INET, SOCK_STREAM, IPPROTO_UDP),
			 -EPROTONOSUPPORT);
	ck_assert_int_eq(ustack_socket(st, AF_INET, SOCK_RAW, 0),
			 -EPROTONOSUPPORT);
	ck_assert_int_eq(ustack_socket(st, AF_INET, 99, 0), -EINVAL);
	ck_assert_int_eq(ustack_socket(NULL, AF_INET, SOCK_DGRAM, 0), -EINVAL);
	ck_assert_int_eq(ustack_socket(st, AF_INET, SOCK_DGRAM, IPPROTO_UDP),
			 0);
	ck_assert_int_eq(st->socks.count, 1);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_calls_on_bad_descriptor_ebadf)
{
	struct tb *tb = tb_new(NULL);
	struct ustack *st = tb->st;
	struct sockaddr_in s = tb_sin(0, 7);
	socklen_t len = sizeof(s);
	char buf[4];
	int v = 1;
	int bad[] = {-1, 1, 4096, 1 << 30};

	ck_assert_int_eq(udp_socket(tb), 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int sd = bad[i];

		ck_assert_int_eq(ustack_close(st, sd), -EBADF);
		ck_assert_int_eq(ustack_bind(st, sd, (struct sockaddr *)&s,
					     sizeof(s)), -EBADF);
		ck_assert_int_eq(ustack_connect(st, sd, (struct sockaddr *)&s,
						sizeof(s)), -EBADF);
		ck_assert_int_eq(ustack_listen(st, sd, 5), -EBADF);
		ck_assert_int_eq(ustack_accept(st, sd, NULL, NULL), -EBADF);
		ck_assert_int_eq(ustack_send(st, sd, buf, 4, 0), -EBADF);
		ck_assert_int_eq(ustack_recv(st, sd, buf, 4, 0), -EBADF);
		ck_assert_int_eq(ustack_shutdown(st, sd, SHUT_RDWR), -EBADF);
		ck_assert_int_eq(ustack_setsockopt(st, sd, SOL_SOCKET,
						   SO_REUSEADDR, &v, sizeof(v)),
				 -EBADF);
		ck_assert_int_eq(ustack_getsockopt(st, sd, SOL_SOCKET, SO_TYPE,
						   &v, &len), -EBADF);
		ck_assert_int_eq(ustack_getsockname(st, sd,
						    (struct sockaddr *)&s,
						    &len), -EBADF);
		ck_assert_int_eq(ustack_set_nonblock(st, sd, 1), -EBADF);
	}
	/* closed twice */
	ck_assert_int_eq(ustack_close(st, 0), 0);
	ck_assert_int_eq(ustack_close(st, 0), -EBADF);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_reused_slot_gets_new_generation)
{
	struct tb *tb = tb_new(NULL);
	int sd = udp_socket(tb);
	uint32_t gen = sock_get(tb->st, sd)->gen;

	ck_assert_int_eq(ustack_close(tb->st, sd), 0);
	ck_assert_ptr_null(sock_get(tb->st, sd));
	ck_assert_int_eq(udp_socket(tb), sd);
	ck_assert_uint_ne(sock_get(tb->st, sd)->gen, gen);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_no_runtime_never_blocks)
{
	struct tb *tb = tb_new(NULL);
	int sd = udp_socket(tb);
	char buf[16];

	ck_assert_int_eq(bind_port(tb, sd, 0, 5000), 0);
	/* blocking by default, but nothing drives the stack: -EAGAIN */
	ck_assert_int_eq(ustack_recv(tb->st, sd, buf, sizeof(buf), 0),
			 -EAGAIN);
	ck_assert_int_eq(ustack_recv(tb->st, sd, buf, sizeof(buf),
				     MSG_DONTWAIT), -EAGAIN);
	ck_assert_int_eq(ustack_set_nonblock(tb->st, sd, 1), 0);
	ck_assert_int_eq(ustack_recv(tb->st, sd, buf, sizeof(buf), 0),
			 -EAGAIN);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_call_argument_checks)
{
	struct tb *tb = tb_new(NULL);
	struct ustack *st = tb->st;
	int sd = udp_socket(tb);
	struct sockaddr_in s = tb_sin(TB_PEER, 9);
	struct sockaddr_in6 s6;
	char buf[8] = {0};
	socklen_t len;

	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	ck_assert_int_eq(ustack_bind(st, sd, NULL, sizeof(s)), -EFAULT);
	ck_assert_int_eq(ustack_bind(st, sd, (struct sockaddr *)&s, 4),
			 -EINVAL);
	ck_assert_int_eq(ustack_bind(st, sd, (struct sockaddr *)&s6,
				     sizeof(s6)), -EAFNOSUPPORT);
	ck_assert_int_eq(ustack_connect(st, sd, (struct sockaddr *)&s6,
					sizeof(s6)), -EAFNOSUPPORT);
	ck_assert_int_eq(ustack_send(st, sd, NULL, 5, 0), -EFAULT);
	ck_assert_int_eq(ustack_recv(st, sd, NULL, 5, 0), -EFAULT);
	ck_assert_int_eq(ustack_send(st, sd, buf, 5, MSG_OOB), -EOPNOTSUPP);
	ck_assert_int_eq(ustack_recv(st, sd, buf, 5, MSG_OOB), -EOPNOTSUPP);
	ck_assert_int_eq(ustack_sendto(st, sd, buf, 5, 0,
				       (struct sockaddr *)&s, 3), -EINVAL);
	ck_assert_int_eq(ustack_recvfrom(st, sd, buf, 5, 0,
					 (struct sockaddr *)&s, NULL),
			 -EFAULT);
	ck_assert_int_eq(ustack_getsockname(st, sd, NULL, &len), -EFAULT);
	ck_assert_int_eq(ustack_shutdown(st, sd, 7), -EINVAL);
	/* unconnected datagram socket: no default destination */
	ck_assert_int_eq(ustack_send(st, sd, buf, 5, 0), -EDESTADDRREQ);
	/* UDP has no listen/accept */
	ck_assert_int_eq(ustack_listen(st, sd, 1), -EOPNOTSUPP);
	ck_assert_int_eq(ustack_accept(st, sd, NULL, NULL), -EOPNOTSUPP);
	ck_assert_int_eq(ustack_poll(st, NULL, 1, 0), -EFAULT);
	tb_free(tb);
}
END_TEST

/* ---- options ---------------------------------------------------------- */

START_TEST(test_sock_opt_defaults_and_types)
{
	struct tb *tb = tb_new(NULL);
	int sd = udp_socket(tb);

	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_PROTOCOL),
			 IPPROTO_UDP);
	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_DOMAIN), AF_INET);
	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_RCVBUF),
			 (int)tb->st->cfg.udp_rcvbuf);
	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_SNDBUF),
			 (int)tb->st->cfg.udp_sndbuf);
	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_REUSEADDR), 0);
	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_ERROR), 0);
	/* read-only ones can not be set */
	ck_assert_int_eq(tb_set_int(tb, sd, SOL_SOCKET, SO_TYPE, SOCK_STREAM),
			 -ENOPROTOOPT);
	ck_assert_int_eq(tb_set_int(tb, sd, SOL_SOCKET, SO_ERROR, 5),
			 -ENOPROTOOPT);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_opt_flags_stored)
{
	struct tb *tb = tb_new(NULL);
	int sd = udp_socket(tb);
	struct sock *sk = sock_get(tb->st, sd);

	ck_assert_int_eq(tb_set_int(tb, sd, SOL_SOCKET, SO_REUSEADDR, 7), 0);
	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_REUSEADDR), 1);
	ck_assert_int_eq(tb_set_int(tb, sd, SOL_SOCKET, SO_KEEPALIVE, 1), 0);
	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_KEEPALIVE), 1);
	ck_assert_int_eq(tb_set_int(tb, sd, SOL_SOCKET, SO_BROADCAST, 1), 0);
	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_BROADCAST), 1);
	ck_assert(sk->opt.reuseaddr && sk->opt.conn.keepalive && sk->opt.broadcast);
	ck_assert_int_eq(tb_set_int(tb, sd, SOL_SOCKET, SO_REUSEADDR, 0), 0);
	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_REUSEADDR), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_opt_buffers_clamped)
{
	struct tb *tb = tb_new(NULL);
	int sd = udp_socket(tb);

	ck_assert_int_eq(tb_set_int(tb, sd, SOL_SOCKET, SO_RCVBUF, 100000), 0);
	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_RCVBUF), 100000);
	ck_assert_int_eq(tb_set_int(tb, sd, SOL_SOCKET, SO_RCVBUF, 1), 0);
	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_RCVBUF),
			 (int)SOCK_BUF_MIN);
	ck_assert_int_eq(tb_set_int(tb, sd, SOL_SOCKET, SO_RCVBUF, -5), 0);
	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_RCVBUF),
			 (int)SOCK_BUF_MIN);
	ck_assert_int_eq(tb_set_int(tb, sd, SOL_SOCKET, SO_SNDBUF, 1 << 30), 0);
	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_SNDBUF),
			 (int)SOCK_BUF_MAX);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_opt_linger_and_timeouts)
{
	struct tb *tb = tb_new(NULL);
	int sd = udp_socket(tb);
	struct linger l = {.l_onoff = 1, .l_linger = 0}, g;
	struct timeval tv = {.tv_sec = 2, .tv_usec = 500000}, gt;
	socklen_t len;

	ck_assert_int_eq(ustack_setsockopt(tb->st, sd, SOL_SOCKET, SO_LINGER,
					   &l, sizeof(l)), 0);
	len = sizeof(g);
	ck_assert_int_eq(ustack_getsockopt(tb->st, sd, SOL_SOCKET, SO_LINGER,
					   &g, &len), 0);
	ck_assert_int_eq(g.l_onoff, 1);
	ck_assert_int_eq(g.l_linger, 0);
	l.l_linger = -3;
	ck_assert_int_eq(ustack_setsockopt(tb->st, sd, SOL_SOCKET, SO_LINGER,
					   &l, sizeof(l)), 0);
	ck_assert_int_eq(sock_get(tb->st, sd)->opt.linger_s, 0);
	ck_assert_int_eq(ustack_setsockopt(tb->st, sd, SOL_SOCKET, SO_LINGER,
					   &l, sizeof(l) - 1), -EINVAL);

	ck_assert_int_eq(ustack_setsockopt(tb->st, sd, SOL_SOCKET, SO_RCVTIMEO,
					   &tv, sizeof(tv)), 0);
	ck_assert_uint_eq(sock_get(tb->st, sd)->opt.rcvtimeo_us, 2500000);
	len = sizeof(gt);
	ck_assert_int_eq(ustack_getsockopt(tb->st, sd, SOL_SOCKET, SO_RCVTIMEO,
					   &gt, &len), 0);
	ck_assert_int_eq(gt.tv_sec, 2);
	ck_assert_int_eq(gt.tv_usec, 500000);
	tv.tv_usec = 1000000;
	ck_assert_int_eq(ustack_setsockopt(tb->st, sd, SOL_SOCKET, SO_SNDTIMEO,
					   &tv, sizeof(tv)), -EDOM);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_opt_so_error_get_clears)
{
	struct tb *tb = tb_new(NULL);
	int sd = udp_socket(tb);

	sock_get(tb->st, sd)->so_error = ECONNREFUSED;
	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_ERROR), ECONNREFUSED);
	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_ERROR), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_opt_unknown_and_bad_length)
{
	struct tb *tb = tb_new(NULL);
	int sd = udp_socket(tb);
	int v = 1;
	short sh = 1;
	socklen_t len = 2;

	/* TCP options on a datagram socket, unknown names and levels */
	ck_assert_int_eq(tb_set_int(tb, sd, IPPROTO_TCP, TCP_NODELAY, 1),
			 -ENOPROTOOPT);
	ck_assert_int_eq(tb_set_int(tb, sd, SOL_SOCKET, 9999, 1), -ENOPROTOOPT);
	ck_assert_int_eq(tb_set_int(tb, sd, 4242, 1, 1), -ENOPROTOOPT);
	ck_assert_int_eq(tb_set_int(tb, sd, SOL_SOCKET, SO_REUSEPORT, 1),
			 -ENOPROTOOPT);
	ck_assert_int_eq(ustack_getsockopt(tb->st, sd, SOL_SOCKET, 9999, &v,
					   &len), -ENOPROTOOPT);
	/* an int option needs an int */
	ck_assert_int_eq(ustack_setsockopt(tb->st, sd, SOL_SOCKET, SO_RCVBUF,
					   &sh, sizeof(sh)), -EINVAL);
	ck_assert_int_eq(ustack_getsockopt(tb->st, sd, SOL_SOCKET, SO_RCVBUF,
					   &v, &len), -EINVAL);
	ck_assert_int_eq(ustack_setsockopt(tb->st, sd, SOL_SOCKET, SO_RCVBUF,
					   NULL, 4), -EFAULT);
	ck_assert_int_eq(ustack_getsockopt(tb->st, sd, SOL_SOCKET, SO_RCVBUF,
					   &v, NULL), -EFAULT);
	tb_free(tb);
}
END_TEST

/* A protocol that refuses SO_RCVBUF, to see the socket layer undo it. */
static int refuse_set(struct ustack *st, struct sock *sk, int level, int name,
		      const void *val, socklen_t len)
{
	(void)st, (void)sk, (void)val, (void)len;
	if (level == SOL_SOCKET && name == SO_RCVBUF)
		return -EINVAL;
	return -ENOPROTOOPT;
}

static ssize_t nop_send(struct ustack *st, struct sock *sk, const void *b,
			size_t len, int flags, const struct sockaddr_in *d)
{
	(void)st, (void)sk, (void)b, (void)flags, (void)d;
	return (ssize_t)len;
}

static const struct sock_ops refusing_ops = {
	.sendto = nop_send,
	.setsockopt = refuse_set,
};

START_TEST(test_sock_opt_protocol_refusal_undone)
{
	struct tb *tb = tb_new(NULL);
	struct sock *sk = sock_alloc(tb->st, SOCK_DGRAM, IPPROTO_UDP,
				     &refusing_ops);

	ck_assert_ptr_nonnull(sk);
	uint32_t before = sk->opt.rcvbuf;
	ck_assert_int_eq(tb_set_int(tb, sk->sd, SOL_SOCKET, SO_RCVBUF, 5000),
			 -EINVAL);
	ck_assert_uint_eq(sk->opt.rcvbuf, before);
	/* not the protocol's business: stored, 0 */
	ck_assert_int_eq(tb_set_int(tb, sk->sd, SOL_SOCKET, SO_SNDBUF, 5000), 0);
	ck_assert_uint_eq(sk->opt.sndbuf, 5000);
	ck_assert_int_eq(ustack_close(tb->st, sk->sd), 0);
	tb_free(tb);
}
END_TEST

/* ---- bind, names ----------------------------------------------------- */

START_TEST(test_sock_bind_conflict_eaddrinuse)
{
	struct tb *tb = tb_new(NULL);
	int a = udp_socket(tb), b = udp_socket(tb), c = udp_socket(tb);

	ck_assert_int_eq(bind_port(tb, a, 0, 7000), 0);
	ck_assert_int_eq(bind_port(tb, b, 0, 7000), -EADDRINUSE);
	/* a specific address overlaps the wildcard */
	ck_assert_int_eq(bind_port(tb, b, TB_ADDR, 7000), -EADDRINUSE);
	ck_assert_int_eq(bind_port(tb, b, 0, 7001), 0);
	/* a failed bind leaves the socket unbound: bind again works */
	ck_assert_int_eq(bind_port(tb, c, TB_ADDR, 7001), -EADDRINUSE);
	ck_assert_int_eq(bind_port(tb, c, TB_ADDR, 7002), 0);
	/* bound once: a second bind is -EINVAL */
	ck_assert_int_eq(bind_port(tb, c, 0, 7003), -EINVAL);
	/* closing frees the port */
	ck_assert_int_eq(ustack_close(tb->st, a), 0);
	a = udp_socket(tb);
	ck_assert_int_eq(bind_port(tb, a, 0, 7000), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_bind_reuseaddr_needs_both)
{
	struct tb *tb = tb_new(NULL);
	int a = udp_socket(tb), b = udp_socket(tb), c = udp_socket(tb);

	ck_assert_int_eq(tb_set_int(tb, a, SOL_SOCKET, SO_REUSEADDR, 1), 0);
	ck_assert_int_eq(bind_port(tb, a, 0, 7000), 0);
	/* only the new one asks: refused */
	ck_assert_int_eq(tb_set_int(tb, c, SOL_SOCKET, SO_REUSEADDR, 0), 0);
	ck_assert_int_eq(bind_port(tb, c, 0, 7000), -EADDRINUSE);
	ck_assert_int_eq(tb_set_int(tb, b, SOL_SOCKET, SO_REUSEADDR, 1), 0);
	ck_assert_int_eq(bind_port(tb, b, 0, 7000), 0);
	ck_assert_int_eq(local_port(tb, a), 7000);
	ck_assert_int_eq(local_port(tb, b), 7000);
	/* both first without, then one sets it: still refused */
	int d = udp_socket(tb), e = udp_socket(tb);
	ck_assert_int_eq(bind_port(tb, d, 0, 7100), 0);
	ck_assert_int_eq(tb_set_int(tb, e, SOL_SOCKET, SO_REUSEADDR, 1), 0);
	ck_assert_int_eq(bind_port(tb, e, 0, 7100), -EADDRINUSE);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_bind_address_must_be_ours)
{
	struct tb *tb = tb_new(NULL);
	int a = udp_socket(tb);

	ck_assert_int_eq(bind_port(tb, a, TB_PEER, 7000), -EADDRNOTAVAIL);
	ck_assert_int_eq(bind_port(tb, a, 0x0a0000ff, 7000), -EADDRNOTAVAIL);
	ck_assert_int_eq(bind_port(tb, a, TB_ADDR, 7000), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_names_and_address_length)
{
	struct tb *tb = tb_new(NULL);
	int a = udp_socket(tb);
	struct sockaddr_in s;
	socklen_t len = sizeof(s);
	uint8_t small[4];

	/* unbound: 0.0.0.0:0, like Linux */
	ck_assert_int_eq(ustack_getsockname(tb->st, a, (struct sockaddr *)&s,
					    &len), 0);
	ck_assert_uint_eq(len, sizeof(s));
	ck_assert_int_eq(s.sin_family, AF_INET);
	ck_assert_uint_eq(s.sin_addr.s_addr, 0);
	ck_assert_uint_eq(s.sin_port, 0);
	ck_assert_int_eq(ustack_getpeername(tb->st, a, (struct sockaddr *)&s,
					    &len), -ENOTCONN);
	ck_assert_int_eq(bind_port(tb, a, TB_ADDR, 7777), 0);
	/* too small a buffer: truncated copy, full length reported */
	len = sizeof(small);
	memset(small, 0xee, sizeof(small));
	ck_assert_int_eq(ustack_getsockname(tb->st, a,
					    (struct sockaddr *)small, &len), 0);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(small[2], 7777 >> 8);
	ck_assert_uint_eq(small[3], 7777 & 0xff);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_bind_port_zero_ephemeral)
{
	struct tb *tb = tb_new(NULL);
	int a = udp_socket(tb);

	ck_assert_int_eq(bind_port(tb, a, 0, 0), 0);
	ck_assert_int_ge(local_port(tb, a), SOCK_EPHEMERAL_LOW);
	ck_assert_int_le(local_port(tb, a), SOCK_EPHEMERAL_HIGH);
	tb_free(tb);
}
END_TEST

/* ---- ephemeral ports (RFC 6056) --------------------------------------- */

/* Ports of n sockets bound to port 0 on a fresh stack with this seed. */
static void bind_many(uint64_t seed, uint16_t *ports, int n)
{
	struct ustack_config cfg;
	struct tb *tb;

	tb_config(&cfg);
	cfg.seed = seed;
	tb = tb_new(&cfg);
	for (int i = 0; i < n; i++) {
		int sd = udp_socket(tb);

		ck_assert_int_eq(bind_port(tb, sd, 0, 0), 0);
		ports[i] = local_port(tb, sd);
	}
	tb_free(tb);
}

START_TEST(test_sock_ephemeral_deterministic_for_seed)
{
	uint16_t a[50], b[50], c[50];
	int same = 0;

	bind_many(42, a, 50);
	bind_many(42, b, 50);
	bind_many(43, c, 50);
	ck_assert_mem_eq(a, b, sizeof(a));
	for (int i = 0; i < 50; i++)
		same += a[i] == c[i];
	ck_assert_int_lt(same, 5);
}
END_TEST

START_TEST(test_sock_ephemeral_random_looking_never_colliding)
{
	enum { N = 2000 };
	static uint16_t p[N];
	static uint8_t seen[65536];
	int adjacent = 0, below_mid = 0;
	uint16_t lo = 65535, hi = 0;

	memset(seen, 0, sizeof(seen));
	bind_many(7, p, N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_ge(p[i], SOCK_EPHEMERAL_LOW);
		ck_assert_int_le(p[i], SOCK_EPHEMERAL_HIGH);
		ck_assert_int_eq(seen[p[i]], 0); /* never handed out twice */
		seen[p[i]] = 1;
		if (i && (p[i] == p[i - 1] + 1 || p[i] + 1 == p[i - 1]))
			adjacent++;
		below_mid += p[i] < (SOCK_EPHEMERAL_LOW + SOCK_EPHEMERAL_HIGH) / 2;
		lo = p[i] < lo ? p[i] : lo;
		hi = p[i] > hi ? p[i] : hi;
	}
	/* not sequential, spread over the range */
	ck_assert_int_lt(adjacent, N / 20);
	ck_assert_int_gt(below_mid, N / 3);
	ck_assert_int_lt(below_mid, 2 * N / 3);
	ck_assert_int_lt(lo, SOCK_EPHEMERAL_LOW + 500);
	ck_assert_int_gt(hi, SOCK_EPHEMERAL_HIGH - 500);
}
END_TEST

struct port_set {
	uint8_t used[65536];
	int calls;
};

static int set_in_use(struct ustack *st, uint16_t port, void *ctx)
{
	struct port_set *s = ctx;

	(void)st;
	s->calls++;
	return s->used[port];
}

START_TEST(test_sock_ephemeral_double_hash_per_destination)
{
	struct tb *tb = tb_new(NULL);
	static struct port_set s;
	uint16_t p1, p2, p3, q1;

	memset(&s, 0, sizeof(s));
	/* nothing in use: consecutive picks for one destination differ
	 * (table[index] advances), another destination starts elsewhere */
	ck_assert_int_eq(sock_ephemeral_port(tb->st, IPPROTO_TCP, TB_ADDR,
					     TB_PEER, 80, set_in_use, &s, &p1), 0);
	ck_assert_int_eq(sock_ephemeral_port(tb->st, IPPROTO_TCP, TB_ADDR,
					     TB_PEER, 80, set_in_use, &s, &p2), 0);
	ck_assert_int_eq(sock_ephemeral_port(tb->st, IPPROTO_TCP, TB_ADDR,
					     TB_PEER, 80, set_in_use, &s, &p3), 0);
	ck_assert_uint_ne(p1, p2);
	ck_assert_uint_ne(p2, p3);
	ck_assert_int_eq(sock_ephemeral_port(tb->st, IPPROTO_TCP, TB_ADDR,
					     0x0a000005, 80, set_in_use, &s,
					     &q1), 0);
	ck_assert_uint_ne(q1, p3 + 1);
	/* the next candidate for TB_PEER:80 is p3 + 1: taken, so skipped */
	uint16_t n1 = p3 == SOCK_EPHEMERAL_HIGH ? SOCK_EPHEMERAL_LOW : p3 + 1;
	uint16_t n2 = n1 == SOCK_EPHEMERAL_HIGH ? SOCK_EPHEMERAL_LOW : n1 + 1;
	uint16_t p4;
	s.used[n1] = 1;
	ck_assert_int_eq(sock_ephemeral_port(tb->st, IPPROTO_TCP, TB_ADDR,
					     TB_PEER, 80, set_in_use, &s, &p4), 0);
	ck_assert_uint_eq(p4, n2);
	tb_free(tb);

	/* the same seed gives the same sequence */
	tb = tb_new(NULL);
	uint16_t r1;
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(sock_ephemeral_port(tb->st, IPPROTO_TCP, TB_ADDR,
					     TB_PEER, 80, set_in_use, &s, &r1), 0);
	ck_assert_uint_eq(r1, p1);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_ephemeral_exhausted_and_last_free)
{
	struct tb *tb = tb_new(NULL);
	static struct port_set s;
	uint16_t p;

	memset(&s, 0, sizeof(s));
	for (int i = SOCK_EPHEMERAL_LOW; i <= SOCK_EPHEMERAL_HIGH; i++)
		s.used[i] = 1;
	ck_assert_int_eq(sock_ephemeral_port(tb->st, IPPROTO_UDP, 0, 0, 0,
					     set_in_use, &s, &p),
			 -EADDRNOTAVAIL);
	ck_assert_int_eq(s.calls, SOCK_EPHEMERAL_HIGH - SOCK_EPHEMERAL_LOW + 1);
	s.used[60001] = 0;
	ck_assert_int_eq(sock_ephemeral_port(tb->st, IPPROTO_UDP, 0, TB_PEER,
					     53, set_in_use, &s, &p), 0);
	ck_assert_uint_eq(p, 60001);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_udp_port_zero_exhaustion)
{
	/* every ephemeral port taken by a UDP socket: bind(0) fails */
	struct ustack_config cfg;
	struct tb *tb;
	int n = SOCK_EPHEMERAL_HIGH - SOCK_EPHEMERAL_LOW + 1;

	tb_config(&cfg);
	cfg.max_sockets = (uint32_t)n + 2;
	tb = tb_new(&cfg);
	for (int i = 0; i < n; i++) {
		int sd = udp_socket(tb);
		ck_assert_int_eq(bind_port(tb, sd, 0,
					   (uint16_t)(SOCK_EPHEMERAL_LOW + i)),
				 0);
	}
	int sd = udp_socket(tb);
	ck_assert_int_eq(bind_port(tb, sd, 0, 0), -EADDRNOTAVAIL);
	ck_assert_int_eq(bind_port(tb, sd, 0, 1234), 0);
	tb_free(tb);
}
END_TEST

/* ---- poll, errors, shutdown ------------------------------------------ */

START_TEST(test_sock_poll_without_runtime)
{
	struct tb *tb = tb_new(NULL);
	int a = udp_socket(tb);
	int pfd[2];
	struct ustack_pollfd p[4] = {
		{.sd = a, .events = POLLIN | POLLOUT},
		{.sd = 77, .events = POLLIN},
		{.sd = -1, .events = POLLIN},
		{.sd = -1, .os_fd = -1, .events = POLLIN},
	};

	ck_assert_int_eq(pipe(pfd), 0);
	p[2].os_fd = pfd[0];
	ck_assert_int_eq(ustack_poll(tb->st, p, 4, 1000), 2);
	ck_assert_int_eq(p[0].revents, POLLOUT);
	ck_assert_int_eq(p[1].revents, POLLNVAL);
	ck_assert_int_eq(p[2].revents, 0);
	ck_assert_int_eq(p[3].revents, 0);
	ck_assert_int_eq(write(pfd[1], "x", 1), 1);
	ck_assert_int_eq(ustack_poll(tb->st, p, 4, -1), 3);
	ck_assert_int_eq(p[2].revents, POLLIN);
	/* asking for nothing still reports errors */
	p[0].events = 0;
	sock_get(tb->st, a)->so_error = EHOSTUNREACH;
	ck_assert_int_eq(ustack_poll(tb->st, p, 1, 0), 1);
	ck_assert_int_eq(p[0].revents, POLLERR);
	ck_assert_int_eq(ustack_poll(tb->st, p, 0, 0), 0);
	close(pfd[0]);
	close(pfd[1]);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_host_unreachable_connected_dgram_only)
{
	struct tb *tb = tb_new(NULL);
	int a = udp_socket(tb), b = udp_socket(tb), c = udp_socket(tb);
	int e = ustack_socket(tb->st, AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	struct sock *sa = sock_get(tb->st, a), *sb = sock_get(tb->st, b);
	struct sock *sc = sock_get(tb->st, c), *se = sock_get(tb->st, e);
	struct sockaddr_in s9 = tb_sin(0x0a000009, 53);
	struct sockaddr_in s10 = tb_sin(0x0a00000a, 53);
	char buf[4];

	/* ARP gives up on a neighbour: IPv4 tells every protocol, and UDP
	 * and ICMP tell the datagram sockets connected to it (only those) */
	ck_assert_int_eq(ustack_connect(tb->st, a, (struct sockaddr *)&s9,
					sizeof(s9)), 0);
	ck_assert_int_eq(ustack_connect(tb->st, c, (struct sockaddr *)&s10,
					sizeof(s10)), 0);
	ck_assert_int_eq(ustack_connect(tb->st, e, (struct sockaddr *)&s9,
					sizeof(s9)), 0);
	ip4_neigh_unreachable(tb->st, 0x0a000009);
	ck_assert_int_eq(sa->so_error, EHOSTUNREACH);
	ck_assert_int_eq(se->so_error, EHOSTUNREACH);
	ck_assert_int_eq(sb->so_error, 0);
	ck_assert_int_eq(sc->so_error, 0);
	/* the next call reports it, once */
	ck_assert_int_eq(ustack_recv(tb->st, a, buf, sizeof(buf), 0),
			 -EHOSTUNREACH);
	ck_assert_int_eq(ustack_recv(tb->st, a, buf, sizeof(buf), 0),
			 -EAGAIN);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_shutdown_unconnected_dgram_wakes_readers)
{
	struct tb *tb = tb_new(NULL);
	int a = udp_socket(tb);
	struct ustack_pollfd p = {.sd = a, .events = POLLIN};
	char buf[4];

	ck_assert_int_eq(bind_port(tb, a, 0, 5000), 0);
	ck_assert_int_eq(ustack_poll(tb->st, &p, 1, 0), 0);
	/* Linux: -ENOTCONN, but shut down anyway */
	ck_assert_int_eq(ustack_shutdown(tb->st, a, SHUT_RD), -ENOTCONN);
	ck_assert_int_eq(ustack_recv(tb->st, a, buf, sizeof(buf), 0), 0);
	ck_assert_int_eq(ustack_poll(tb->st, &p, 1, 0), 1);
	ck_assert(p.revents & POLLIN);
	ck_assert_int_eq(ustack_shutdown(tb->st, a, SHUT_WR), -ENOTCONN);
	ck_assert_int_eq(ustack_sendto(tb->st, a, buf, 1, 0, NULL, 0), -EPIPE);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_wakeup_counts_and_runtime_absent)
{
	struct tb *tb = tb_new(NULL);
	int a = udp_socket(tb);
	struct sock *sk = sock_get(tb->st, a);
	uint32_t seq = sk->wait_seq;

	sock_wakeup(tb->st, sk);
	sock_wakeup(tb->st, NULL);
	ck_assert_uint_eq(sk->wait_seq, seq + 1);
	/* harmless without a runtime */
	ustack_wakeup(tb->st);
	ustack_lock(tb->st);
	ustack_unlock(tb->st);
	ck_assert_int_eq(ustack_loop_run_once(tb->st, 0), -EINVAL);
	tb_free(tb);
}
END_TEST

static Suite *sock_suite(void)
{
	Suite *s = suite_create("sock");
	TCase *tc = tcase_create("sock");

	tcase_add_test(tc, test_sock_socket_lowest_free_descriptor);
	tcase_add_test(tc, test_sock_socket_table_full_emfile);
	tcase_add_test(tc, test_sock_socket_bad_arguments);
	tcase_add_test(tc, test_sock_calls_on_bad_descriptor_ebadf);
	tcase_add_test(tc, test_sock_reused_slot_gets_new_generation);
	tcase_add_test(tc, test_sock_no_runtime_never_blocks);
	tcase_add_test(tc, test_sock_call_argument_checks);
	tcase_add_test(tc, test_sock_opt_defaults_and_types);
	tcase_add_test(tc, test_sock_opt_flags_stored);
	tcase_add_test(tc, test_sock_opt_buffers_clamped);
	tcase_add_test(tc, test_sock_opt_linger_and_timeouts);
	tcase_add_test(tc, test_sock_opt_so_error_get_clears);
	tcase_add_test(tc, test_sock_opt_unknown_and_bad_length);
	tcase_add_test(tc, test_sock_opt_protocol_refusal_undone);
	tcase_add_test(tc, test_sock_bind_conflict_eaddrinuse);
	tcase_add_test(tc, test_sock_bind_reuseaddr_needs_both);
	tcase_add_test(tc, test_sock_bind_address_must_be_ours);
	tcase_add_test(tc, test_sock_names_and_address_length);
	tcase_add_test(tc, test_sock_bind_port_zero_ephemeral);
	tcase_add_test(tc, test_sock_ephemeral_deterministic_for_seed);
	tcase_add_test(tc, test_sock_ephemeral_random_looking_never_colliding);
	tcase_add_test(tc, test_sock_ephemeral_double_hash_per_destination);
	tcase_add_test(tc, test_sock_ephemeral_exhausted_and_last_free);
	tcase_add_test(tc, test_sock_udp_port_zero_exhaustion);
	tcase_add_test(tc, test_sock_poll_without_runtime);
	tcase_add_test(tc, test_sock_host_unreachable_connected_dgram_only);
	tcase_add_test(tc, test_sock_shutdown_unconnected_dgram_wakes_readers);
	tcase_add_test(tc, test_sock_wakeup_counts_and_runtime_absent);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(sock_suite)
