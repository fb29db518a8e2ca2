/*
 * check_sock_opts.c - options the socket layer owns (sockopt.c) that are
 * not TCP behaviour (that is in tests/tcp/user-timeout-*.pkt and
 * maxseg-*.pkt): IP_TTL and IP_TOS on what a socket sends, their limits
 * (Linux ip(7)), TCP_USER_TIMEOUT's and TCP_MAXSEG's argument checks, the
 * one clamp on buffer sizes (configured defaults included), and accept()
 * giving the new socket all of the listener's options but O_NONBLOCK
 * (accept4's SOCK_NONBLOCK sets that). Every test ends
 * with tb_free(), which asserts that every packet buffer came back.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/socket.h>

#include "core/stack.h"
#include "lib/check_main.h"
#include "lib/pkt.h"
#include "lib/testbed.h"
#include "sock/sock.h"
#include "wire/ipv4.h"

#include "tcp_test.h"

/* The next frame the stack sent must be IPv4 with this TTL and TOS. */
static void expect_ttl_tos(struct tb *tb, uint8_t proto, uint8_t ttl,
			   uint8_t tos)
{
	struct tb_frame *fr = tb_pop(tb);
	struct pkt_view v;

	ck_assert_ptr_nonnull(fr);
	ck_assert_int_eq(pkt_parse(fr->data, fr->len, &v), 0);
	ck_assert_ptr_nonnull(v.ip);
	ck_assert_uint_eq(v.ip_proto, proto);
	ck_assert_uint_eq(v.ip[IP4_OFF_TTL], ttl);
	ck_assert_uint_eq(v.ip[IP4_OFF_TOS], tos);
	free(fr);
}

static struct tb *bed(void)
{
	struct tb *tb = tb_new(NULL);

	tb_learn_peer(tb, TB_PEER, TB_PEER_MAC);
	return tb;
}

START_TEST(test_sock_opts_ip_ttl_tos_udp)
{
	struct tb *tb = bed();
	int sd = ustack_socket(tb->st, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = tb_sin(TB_PEER, 9);

	ck_assert_int_ge(sd, 0);
	ck_assert_int_eq(tb_get_int(tb, sd, IPPROTO_IP, IP_TTL), IP4_DEFAULT_TTL);
	ck_assert_int_eq(tb_get_int(tb, sd, IPPROTO_IP, IP_TOS), 0);
	/* ip(7): 1..255, or -1 for the default */
	ck_assert_int_eq(tb_set_int(tb, sd, IPPROTO_IP, IP_TTL, 0), -EINVAL);
	ck_assert_int_eq(tb_set_int(tb, sd, IPPROTO_IP, IP_TTL, 256), -EINVAL);
	ck_assert_int_eq(tb_set_int(tb, sd, IPPROTO_IP, IP_TTL, -2), -EINVAL);
	ck_assert_int_eq(tb_set_int(tb, sd, IPPROTO_IP, IP_TTL, 5), 0);
	ck_assert_int_eq(tb_get_int(tb, sd, IPPROTO_IP, IP_TTL), 5);
	ck_assert_int_eq(tb_set_int(tb, sd, IPPROTO_IP, IP_TOS, 0x2b), 0);
	ck_assert_int_eq(tb_get_int(tb, sd, IPPROTO_IP, IP_TOS), 0x2b);
	ck_assert_int_eq(ustack_sendto(tb->st, sd, "x", 1, 0,
				       (struct sockaddr *)&to, sizeof(to)), 1);
	expect_ttl_tos(tb, IP4_PROTO_UDP, 5, 0x2b);
	ck_assert_int_eq(tb_set_int(tb, sd, IPPROTO_IP, IP_TTL, -1), 0);
	ck_assert_int_eq(tb_get_int(tb, sd, IPPROTO_IP, IP_TTL), IP4_DEFAULT_TTL);
	ck_assert_int_eq(ustack_sendto(tb->st, sd, "x", 1, 0,
				       (struct sockaddr *)&to, sizeof(to)), 1);
	expect_ttl_tos(tb, IP4_PROTO_UDP, IP4_DEFAULT_TTL, 0x2b);
	ck_assert_ptr_null(tb_pop(tb));
	ustack_close(tb->st, sd);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_opts_ip_ttl_tos_tcp_syn)
{
	struct tb *tb = bed();
	int sd = ustack_socket(tb->st, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in to = tb_sin(TB_PEER, 80);

	ck_assert_int_ge(sd, 0);
	ck_assert_int_eq(tb_set_int(tb, sd, IPPROTO_IP, IP_TTL, 9), 0);
	/* A stream keeps the ECN bits (RFC 3168) to itself, as Linux. */
	ck_assert_int_eq(tb_set_int(tb, sd, IPPROTO_IP, IP_TOS, 0x13), 0);
	ck_assert_int_eq(tb_get_int(tb, sd, IPPROTO_IP, IP_TOS), 0x10);
	ck_assert_int_eq(ustack_connect(tb->st, sd, (struct sockaddr *)&to,
					sizeof(to)), -EINPROGRESS);
	expect_ttl_tos(tb, IP4_PROTO_TCP, 9, 0x10);
	/* Changed on a live connection: the next segment uses it. */
	ck_assert_int_eq(tb_set_int(tb, sd, IPPROTO_IP, IP_TTL, 200), 0);
	tb_advance(tb, USTACK_SEC(1) + 1);  /* the SYN is retransmitted */
	expect_ttl_tos(tb, IP4_PROTO_TCP, 200, 0x10);
	ustack_close(tb->st, sd);
	tb_drain(tb);
	tb_free(tb);
}
END_TEST

START_TEST(test_sock_opts_tcp_limits)
{
	struct tb *tb = bed();
	int sd = ustack_socket(tb->st, AF_INET, SOCK_STREAM, 0);
	struct sock *sk = sock_get(tb->st, sd);

	ck_assert_int_eq(tb_get_int(tb, sd, IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
	ck_assert_int_eq(tb_set_int(tb, sd, IPPROTO_TCP, TCP_USER_TIMEOUT, -1),
			 -EINVAL);
	ck_assert_int_eq(tb_set_int(tb, sd, IPPROTO_TCP, TCP_USER_TIMEOUT, 30000),
			 0);
	ck_assert_int_eq(tb_get_int(tb, sd, IPPROTO_TCP, TCP_USER_TIMEOUT), 30000);
	ck_assert_uint_eq(sk->opt.conn.user_timeout_ms, 30000);
	/* Linux: 0 (no clamp) or 88..32767 */
	ck_assert_int_eq(tb_set_int(tb, sd, IPPROTO_TCP, TCP_MAXSEG, 87), -EINVAL);
	ck_assert_int_eq(tb_set_int(tb, sd, IPPROTO_TCP, TCP_MAXSEG, 32768),
			 -EINVAL);
	ck_assert_int_eq(tb_set_int(tb, sd, IPPROTO_TCP, TCP_MAXSEG, 88), 0);
	ck_assert_int_eq(tb_get_int(tb, sd, IPPROTO_TCP, TCP_MAXSEG), 88);
	ck_assert_int_eq(tb_set_int(tb, sd, IPPROTO_TCP, TCP_MAXSEG, 0), 0);
	ck_assert_int_eq(tb_get_int(tb, sd, IPPROTO_TCP, TCP_MAXSEG), 536);
	/* too short a value */
	ck_assert_int_eq(ustack_setsockopt(tb->st, sd, IPPROTO_TCP,
					   TCP_USER_TIMEOUT, "", 1), -EINVAL);
	ustack_close(tb->st, sd);
	tb_free(tb);
}
END_TEST

/* SOCK_BUF_MIN/MAX is the one clamp: it applies to the configured
 * defaults too (TCP takes what the socket holds). */
START_TEST(test_sock_opts_buffer_clamp_applies_to_config)
{
	struct ustack_config cfg;
	struct tb *tb;
	int sd;

	tb_config(&cfg);
	cfg.tcp_rcvbuf = 100;
	cfg.tcp_sndbuf = 64u << 20;
	tb = tb_new(&cfg);
	sd = ustack_socket(tb->st, AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(sd, 0);
	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_RCVBUF),
			 (int)SOCK_BUF_MIN);
	ck_assert_int_eq(tb_get_int(tb, sd, SOL_SOCKET, SO_SNDBUF),
			 (int)SOCK_BUF_MAX);
	ustack_close(tb->st, sd);
	tb_free(tb);
}
END_TEST

/* One connection from the peer's port `pport` completes the handshake with
 * the listener (port TT_PORT). */
static void handshake(struct tt *t, uint16_t pport)
{
	struct tt_seg s;

	t->pport = pport;
	tt_in(t, "S", 1000, 0, 8000, NULL, 0);
	tt_expect(t, "S.", &s);
	tt_in(t, ".", 1001, s.seq + 1, 8000, NULL, 0);
}

/* Linux accept(2): O_NONBLOCK is not inherited; accept4(SOCK_NONBLOCK)
 * sets it; every option is the listener's. */
START_TEST(test_sock_opts_accept_nonblock_and_inheritance)
{
	struct tt *t = tt_new();
	struct ustack *st = tt_st(t);
	int lsd = tt_listen(t, TT_PORT, 4), a, b, v = 1234;

	ck_assert_int_eq(ustack_set_nonblock(st, lsd, 1), 0);
	ck_assert_int_eq(ustack_setsockopt(st, lsd, IPPROTO_TCP,
					   TCP_USER_TIMEOUT, &v, sizeof(v)), 0);
	v = 7;
	ck_assert_int_eq(ustack_setsockopt(st, lsd, IPPROTO_IP, IP_TTL, &v,
					   sizeof(v)), 0);
	handshake(t, 40001);
	handshake(t, 40002);
	ck_assert_int_eq(ustack_accept4(st, lsd, NULL, NULL, 0x40000000),
			 -EINVAL);
	a = ustack_accept(st, lsd, NULL, NULL);
	b = ustack_accept4(st, lsd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	ck_assert_int_eq(sock_get(st, a)->nonblock, 0);
	ck_assert_int_eq(sock_get(st, b)->nonblock, 1);
	ck_assert_uint_eq(sock_get(st, a)->opt.conn.user_timeout_ms, 1234);
	ck_assert_uint_eq(sock_get(st, b)->opt.conn.ttl, 7);
	ck_assert_uint_eq(tt_conn(t, a)->opt.user_timeout_ms, 1234);
	ck_assert_uint_eq(tt_conn(t, b)->opt.ttl, 7);
	ck_assert_int_eq(ustack_accept(st, lsd, NULL, NULL), -EAGAIN);
	tt_free(t);
}
END_TEST

static Suite *sock_opts_suite(void)
{
	Suite *s = suite_create("sock_opts");
	TCase *tc = tcase_create("opts");

	tcase_add_test(tc, test_sock_opts_ip_ttl_tos_udp);
	tcase_add_test(tc, test_sock_opts_ip_ttl_tos_tcp_syn);
	tcase_add_test(tc, test_sock_opts_tcp_limits);
	tcase_add_test(tc, test_sock_opts_buffer_clamp_applies_to_config);
	tcase_add_test(tc, test_sock_opts_accept_nonblock_and_inheritance);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(sock_opts_suite)
