/*
 * check_sock_sendmsg.c - the gather send (ustack_sendmsg, ustack_writev):
 * argument checks, TCP segments cut across iovec boundaries with the
 * bytes in order, partial sends on a full send buffer with the right
 * counts (and the rest taken by the next call), and one UDP datagram from
 * several pieces. Virtual time on the test bed; every test ends with the
 * packet pool full again (tb_free checks).
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/uio.h>

#include <ustack/socket.h>

#include "lib/check_main.h"
#include "tcp_test.h"

static uint8_t pattern[1 << 16];

static void fill(void)
{
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + (i >> 9));
}

/* A plain connection (peer MSS 1000, no options, RFC 5681 IW: 4000). */
static struct tt *conn(uint32_t sndbuf, int *sd, uint32_t *iss)
{
	struct ustack_config cfg;
	struct tt *t;

	tt_config_plain(&cfg);
	cfg.tcp_initial_window_segments = 0;
	if (sndbuf)
		cfg.tcp_sndbuf = sndbuf;
	t = tt_new_cfg(&cfg);
	tt_opt_mss(t, 1000);
	*sd = tt_passive(t, 5000, 65535, iss, NULL);
	tt_opt_clear(t);
	return t;
}

START_TEST(test_sock_sendmsg_bad_arguments)
{
	struct iovec iov[2] = {{pattern, 10}, {NULL, 0}};
	struct tb *tb = tb_new(NULL);
	int sd = ustack_socket(tb->st, AF_INET, SOCK_DGRAM, 0);

	ck_assert_int_ge(sd, 0);
	ck_assert_int_eq(ustack_sendmsg(NULL, sd, iov, 1, 0), -EINVAL);
	ck_assert_int_eq(ustack_sendmsg(tb->st, 99, iov, 1, 0), -EBADF);
	ck_assert_int_eq(ustack_sendmsg(tb->st, sd, iov, -1, 0), -EINVAL);
	ck_assert_int_eq(ustack_sendmsg(tb->st, sd, iov, USTACK_IOV_MAX + 1, 0),
			 -EINVAL);
	ck_assert_int_eq(ustack_sendmsg(tb->st, sd, NULL, 1, 0), -EFAULT);
	iov[1].iov_len = 5;                 /* NULL base with a length */
	ck_assert_int_eq(ustack_sendmsg(tb->st, sd, iov, 2, 0), -EFAULT);
	iov[1].iov_base = pattern;
	iov[0].iov_len = SSIZE_MAX;         /* the total overflows */
	iov[1].iov_len = 2;
	ck_assert_int_eq(ustack_sendmsg(tb->st, sd, iov, 2, 0), -EINVAL);
	iov[0].iov_len = 10;
	ck_assert_int_eq(ustack_sendmsg(tb->st, sd, iov, 1, MSG_OOB),
			 -EOPNOTSUPP);
	/* unconnected datagram socket: as sendto without an address */
	ck_assert_int_eq(ustack_writev(tb->st, sd, iov, 1), -EDESTADDRREQ);
	ck_assert_int_eq(ustack_close(tb->st, sd), 0);
	tb_free(tb);
}
END_TEST

/* Pieces of 1, 999, 1500, 7 and 493 bytes: segments of 1000 cut across
 * the boundaries, the bytes in order, all at once (IW 4000). */
START_TEST(test_sock_sendmsg_tcp_segments_across_boundaries)
{
	uint32_t iss;
	int sd;
	struct tt *t = conn(0, &sd, &iss);
	struct iovec iov[5];
	size_t sizes[5] = {1, 999, 1500, 7, 493}, off = 0;
	struct tt_seg s;

	for (int i = 0; i < 5; i++) {
		iov[i].iov_base = pattern + off;
		iov[i].iov_len = sizes[i];
		off += sizes[i];
	}
	ck_assert_int_eq(ustack_sendmsg(tt_st(t), sd, iov, 5, 0), 3000);
	for (uint32_t i = 0; i < 3; i++) {
		tt_expect(t, i == 2 ? "P." : ".", &s);
		ck_assert_uint_eq(s.seq, iss + 1 + 1000 * i);
		ck_assert_uint_eq(s.len, 1000);
		ck_assert_int_eq(memcmp(s.data, pattern + 1000 * i, 1000), 0);
	}
	tt_expect_none(t);
	/* zero pieces and empty pieces: nothing sent, 0 */
	ck_assert_int_eq(ustack_writev(tt_st(t), sd, iov, 0), 0);
	iov[0].iov_len = 0;
	ck_assert_int_eq(ustack_writev(tt_st(t), sd, iov, 1), 0);
	tt_expect_none(t);
	tt_free(t);
}
END_TEST

/* A header and a body written together leave together: the short tail
 * does not wait for an ACK (no short segment was in flight). */
START_TEST(test_sock_sendmsg_tcp_header_body_one_round)
{
	uint32_t iss;
	int sd;
	struct tt *t = conn(0, &sd, &iss);
	struct iovec iov[2] = {{pattern, 120}, {pattern + 120, 1000}};
	struct tt_seg s;

	ck_assert_int_eq(ustack_writev(tt_st(t), sd, iov, 2), 1120);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.len, 1000);
	tt_expect(t, "P.", &s);
	ck_assert_uint_eq(s.seq, iss + 1001);
	ck_assert_uint_eq(s.len, 120);
	ck_assert_int_eq(memcmp(s.data, pattern + 1000, 120), 0);
	tt_expect_none(t);
	tt_free(t);
}
END_TEST

/* A 4 KiB send buffer: a non-blocking gather of 6000 takes 4096 (the
 * count stops inside the second piece), -EAGAIN while full, and after the
 * ACKs free space the rest goes with the right bytes. */
START_TEST(test_sock_sendmsg_tcp_partial_on_full_buffer)
{
	uint32_t iss;
	int sd;
	struct tt *t = conn(4096, &sd, &iss);
	struct iovec iov[3] = {{pattern, 3000}, {pattern + 3000, 2000},
			       {pattern + 5000, 1000}};
	struct iovec rest[2];
	struct tt_seg s;
	uint32_t got = 0;

	ck_assert_int_eq(ustack_sendmsg(tt_st(t), sd, iov, 3, MSG_DONTWAIT),
			 4096);
	ck_assert_int_eq(ustack_sendmsg(tt_st(t), sd, iov, 3, MSG_DONTWAIT),
			 -EAGAIN);
	while (tt_out(t, &s)) {
		ck_assert_int_eq(memcmp(s.data, pattern + got, s.len), 0);
		got += s.len;
	}
	ck_assert_uint_eq(got, 4000);     /* IW 4000; 96 bytes wait */
	tt_in(t, ".", 5001, iss + 1 + 4000, 65535, NULL, 0);
	/* what is left of the second piece, then the third */
	rest[0].iov_base = pattern + 4096;
	rest[0].iov_len = 5000 - 4096;
	rest[1] = iov[2];
	ck_assert_int_eq(ustack_sendmsg(tt_st(t), sd, rest, 2, MSG_DONTWAIT),
			 1904);
	/* The 96-byte tail went at the ACK; with it in flight, a full
	 * segment and a short tail that waits (Nagle, Minshall). */
	for (int round = 0; round < 2; round++) {
		while (tt_out(t, &s)) {
			ck_assert_uint_eq(s.seq, iss + 1 + got);
			ck_assert_int_eq(memcmp(s.data, pattern + got, s.len), 0);
			got += s.len;
		}
		ck_assert_uint_eq(got, round ? 6000 : 5096);
		tt_in(t, ".", 5001, iss + 1 + got, 65535, NULL, 0);
	}
	tt_free(t);
}
END_TEST

/* MSG_MORE on the gather: full segments go, the short tail waits. */
START_TEST(test_sock_sendmsg_tcp_msg_more)
{
	uint32_t iss;
	int sd;
	struct tt *t = conn(0, &sd, &iss);
	struct iovec iov[2] = {{pattern, 600}, {pattern + 600, 700}};
	struct tt_seg s;

	ck_assert_int_eq(ustack_sendmsg(tt_st(t), sd, iov, 2, USTACK_MSG_MORE),
			 1300);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.len, 1000);
	tt_expect_none(t);
	iov[0].iov_base = pattern + 1300;
	iov[0].iov_len = 50;
	ck_assert_int_eq(ustack_sendmsg(tt_st(t), sd, iov, 1, 0), 50);
	tt_expect(t, "P.", &s);
	ck_assert_uint_eq(s.seq, iss + 1001);
	ck_assert_uint_eq(s.len, 350);
	ck_assert_int_eq(memcmp(s.data, pattern + 1000, 350), 0);
	tt_free(t);
}
END_TEST

/* UDP: one datagram made of all the pieces; too big is -EMSGSIZE. */
START_TEST(test_sock_sendmsg_udp_one_datagram)
{
	struct tb *tb = tb_new(NULL);
	struct sockaddr_in a = tt_sin(TB_PEER, 9999);
	struct iovec iov[3] = {{pattern, 5}, {pattern + 5, 0},
			       {pattern + 5, 300}};
	struct tb_frame *f;
	struct pkt_view v;
	int sd;

	tb_learn_peer(tb, TB_PEER, TB_PEER_MAC);
	sd = ustack_socket(tb->st, AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(sd, 0);
	ck_assert_int_eq(ustack_connect(tb->st, sd, (struct sockaddr *)&a,
					sizeof(a)), 0);
	ck_assert_int_eq(ustack_sendmsg(tb->st, sd, iov, 3, 0), 305);
	f = tb_pop(tb);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(pkt_parse(f->data, f->len, &v), 0);
	ck_assert_uint_eq(v.ip_proto, IPPROTO_UDP);
	ck_assert(v.l4_csum_ok);
	ck_assert_uint_eq(v.payload_len, 305);
	ck_assert_int_eq(memcmp(v.payload, pattern, 305), 0);
	free(f);
	ck_assert_ptr_null(tb_pop(tb));
	iov[0].iov_len = 65000;
	iov[2].iov_len = 1000;
	ck_assert_int_eq(ustack_sendmsg(tb->st, sd, iov, 3, 0), -EMSGSIZE);
	ck_assert_int_eq(ustack_close(tb->st, sd), 0);
	tb_free(tb);
}
END_TEST

static Suite *sock_sendmsg_suite(void)
{
	Suite *s = suite_create("sock_sendmsg");
	TCase *tc = tcase_create("sendmsg");

	fill();
	tcase_add_test(tc, test_sock_sendmsg_bad_arguments);
	tcase_add_test(tc, test_sock_sendmsg_tcp_segments_across_boundaries);
	tcase_add_test(tc, test_sock_sendmsg_tcp_header_body_one_round);
	tcase_add_test(tc, test_sock_sendmsg_tcp_partial_on_full_buffer);
	tcase_add_test(tc, test_sock_sendmsg_tcp_msg_more);
	tcase_add_test(tc, test_sock_sendmsg_udp_one_datagram);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(sock_sendmsg_suite)
