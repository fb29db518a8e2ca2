/*
 * check_tcp_sock.c - TCP through the socket API (tcp_sock_ops): bind
 * conflicts and SO_REUSEADDR, listen/accept and the two queues, connect
 * errors (EISCONN, EALREADY, EHOSTUNREACH), send/recv errors (ENOTCONN,
 * EPIPE, ECONNRESET), poll readiness in each phase, buffer bounds,
 * MSG_PEEK, SHUT_RD, TCP_MAXSEG, the connection table, and the bounds on
 * control blocks (tcp_max_conns with TIME_WAIT eviction).
 */
#include "lib/check_main.h"
#include "tcp_test.h"

#define IRS 1000u

static int sock_bound(struct tt *t, uint32_t addr, uint16_t port, int reuse,
		      int *err)
{
	struct sockaddr_in a = tt_sin(addr, port);
	int sd = ustack_socket(tt_st(t), AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(sd, 0);
	if (reuse)
		ustack_setsockopt(tt_st(t), sd, SOL_SOCKET, SO_REUSEADDR, &reuse,
				  sizeof(reuse));
	*err = ustack_bind(tt_st(t), sd, (struct sockaddr *)&a, sizeof(a));
	return sd;
}

START_TEST(test_tcp_sock_bind_conflicts_and_reuseaddr)
{
	struct tt *t = tt_new();
	int err, a, b;

	a = sock_bound(t, 0, 7, 0, &err);
	ck_assert_int_eq(err, 0);
	sock_bound(t, 0, 7, 0, &err);
	ck_assert_int_eq(err, -EADDRINUSE);
	sock_bound(t, TB_ADDR, 7, 0, &err);
	ck_assert_int_eq(err, -EADDRINUSE);
	b = sock_bound(t, 0, 7, 1, &err);            /* nobody listens yet */
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(ustack_listen(tt_st(t), a, 4), 0);
	ck_assert_int_eq(ustack_listen(tt_st(t), b, 4), -EADDRINUSE);
	sock_bound(t, 0, 7, 1, &err);                /* a listener: refused */
	ck_assert_int_eq(err, -EADDRINUSE);
	sock_bound(t, 0x0a000063, 8, 0, &err);       /* not our address */
	ck_assert_int_eq(err, -EADDRNOTAVAIL);
	ck_assert_int_eq(ustack_bind(tt_st(t), a, (struct sockaddr *)&(struct sockaddr_in){
		.sin_family = AF_INET, .sin_port = htons(9)}, sizeof(struct sockaddr_in)),
			 -EINVAL);                    /* bound already */
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_sock_listen_autobinds_ephemeral)
{
	struct tt *t = tt_new();
	int sd = ustack_socket(tt_st(t), AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	ck_assert_int_eq(ustack_listen(tt_st(t), sd, 1), 0);
	ck_assert_int_eq(ustack_getsockname(tt_st(t), sd, (struct sockaddr *)&a,
					    &al), 0);
	ck_assert_uint_ge(ntohs(a.sin_port), SOCK_EPHEMERAL_LOW);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_sock_connect_errors)
{
	struct tt *t = tt_new();
	uint32_t iss;
	int sd = tt_active(t, 9000, 4000, &iss);
	struct sockaddr_in a = tt_sin(TB_PEER, 80);
	int s2 = ustack_socket(tt_st(t), AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in mc = tt_sin(0xe0000001, 80);

	ck_assert_int_eq(ustack_connect(tt_st(t), sd, (struct sockaddr *)&a,
					sizeof(a)), -EISCONN);
	ck_assert_int_eq(ustack_connect(tt_st(t), s2, (struct sockaddr *)&a,
					sizeof(a)), -EINPROGRESS);
	ck_assert_int_eq(ustack_connect(tt_st(t), s2, (struct sockaddr *)&a,
					sizeof(a)), -EALREADY);
	ck_assert_int_eq(ustack_connect(tt_st(t), ustack_socket(tt_st(t), AF_INET,
								SOCK_STREAM, 0),
					(struct sockaddr *)&mc, sizeof(mc)),
			 -ENETUNREACH);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_sock_connect_host_unreachable)
{
	struct tt *t = tt_new();
	struct sockaddr_in a = tt_sin(0x0a000009, 80);   /* nobody answers ARP */
	int sd = ustack_socket(tt_st(t), AF_INET, SOCK_STREAM, 0);

	ck_assert_int_eq(ustack_connect(tt_st(t), sd, (struct sockaddr *)&a,
					sizeof(a)), -EINPROGRESS);
	tt_advance(t, USTACK_SEC(10));
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_CLOSED);
	ck_assert_int_eq(tt_so_error(t, sd), EHOSTUNREACH);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_sock_send_recv_errors)
{
	struct tt *t = tt_new();
	uint32_t iss;
	int lsd, sd = tt_passive(t, IRS, 8000, &iss, &lsd);
	int fresh = ustack_socket(tt_st(t), AF_INET, SOCK_STREAM, 0);
	char b[8];

	ck_assert_int_eq(ustack_send(tt_st(t), fresh, "x", 1, 0), -ENOTCONN);
	ck_assert_int_eq(ustack_recv(tt_st(t), fresh, b, 8, 0), -ENOTCONN);
	ck_assert_int_eq(ustack_recv(tt_st(t), lsd, b, 8, 0), -ENOTCONN);
	ck_assert_int_eq(ustack_send(tt_st(t), sd, "x", 0, 0), 0);
	tt_in(t, "R", IRS + 1, 0, 0, NULL, 0);
	ck_assert_int_eq(ustack_send(tt_st(t), sd, "x", 1, 0), -ECONNRESET);
	ck_assert_int_eq(ustack_send(tt_st(t), sd, "x", 1, 0), -EPIPE);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, b, 8, 0), 0);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_sock_poll_phases)
{
	struct tt *t = tt_new();
	int lsd = tt_listen(t, TT_PORT, 4), sd;
	int fresh = ustack_socket(tt_st(t), AF_INET, SOCK_STREAM, 0);
	struct tt_seg s;
	short all = POLLIN | POLLOUT | POLLRDHUP;

	ck_assert_int_eq(tt_poll(t, fresh, POLLOUT), POLLOUT | POLLHUP);
	ck_assert_int_eq(tt_poll(t, lsd, POLLIN), 0);
	tt_in(t, "S", IRS, 0, 8000, NULL, 0);
	tt_expect(t, "S.", &s);
	tt_in(t, ".", IRS + 1, s.seq + 1, 8000, NULL, 0);
	ck_assert_int_eq(tt_poll(t, lsd, POLLIN), POLLIN);
	sd = tt_accept(t, lsd);
	ck_assert_int_eq(tt_poll(t, sd, all), POLLOUT);
	tt_in(t, "P.", IRS + 1, s.seq + 1, 8000, "ab", 2);
	ck_assert_int_eq(tt_poll(t, sd, all), POLLIN | POLLOUT);
	tt_in(t, "F.", IRS + 3, s.seq + 1, 8000, NULL, 0);
	ck_assert_int_eq(tt_poll(t, sd, all), POLLIN | POLLOUT | POLLRDHUP);
	ustack_shutdown(tt_st(t), sd, SHUT_WR);
	ck_assert(tt_poll(t, sd, all) & POLLHUP);
	/* RST in LAST_ACK: closed, no error (RFC 9293: "enter CLOSED"). */
	tt_in(t, "R", IRS + 4, 0, 0, NULL, 0);
	ck_assert_int_eq(tt_poll(t, sd, all), POLLIN | POLLOUT | POLLRDHUP | POLLHUP);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_sock_sndbuf_bounds_send)
{
	struct ustack_config cfg;
	struct tt *t;
	uint32_t iss;
	int sd, sz = 2048;
	static char big[10000];

	tt_config_plain(&cfg);
	t = tt_new_cfg(&cfg);
	sd = tt_passive(t, IRS, 0, &iss, NULL);              /* zero window */
	ck_assert_int_eq(ustack_setsockopt(tt_st(t), sd, SOL_SOCKET, SO_SNDBUF,
					   &sz, sizeof(sz)), 0);
	ck_assert_int_eq(ustack_send(tt_st(t), sd, big, sizeof(big), 0), 2048);
	ck_assert_int_eq(ustack_send(tt_st(t), sd, big, 1, 0), -EAGAIN);
	ck_assert_int_eq(tt_poll(t, sd, POLLOUT), 0);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_sock_peek_and_shut_rd)
{
	struct tt *t = tt_new();
	uint32_t iss;
	int sd = tt_passive(t, IRS, 8000, &iss, NULL);
	char b[8];

	tt_in(t, "P.", IRS + 1, iss + 1, 8000, "abcd", 4);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, b, 2, MSG_PEEK), 2);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, b, 8, 0), 4);
	ck_assert_int_eq(memcmp(b, "abcd", 4), 0);
	ck_assert_int_eq(ustack_shutdown(tt_st(t), sd, SHUT_RD), 0);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, b, 8, 0), 0);
	tt_in(t, "P.", IRS + 5, iss + 1, 8000, "efgh", 4);  /* taken, dropped */
	ck_assert_uint_eq(tt_conn(t, sd)->rcv_nxt, IRS + 9);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, b, 8, 0), 0);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_sock_maxseg_and_peer_name)
{
	struct tt *t = tt_new();
	uint32_t iss;
	int sd, v = 0;
	socklen_t l = sizeof(v);
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	tt_opt_mss(t, 1000);
	sd = tt_passive(t, IRS, 8000, &iss, NULL);
	ck_assert_int_eq(ustack_getsockopt(tt_st(t), sd, IPPROTO_TCP, TCP_MAXSEG,
					   &v, &l), 0);
	ck_assert_int_eq(v, 1000);
	ck_assert_int_eq(ustack_getpeername(tt_st(t), sd, (struct sockaddr *)&a,
					    &al), 0);
	ck_assert_uint_eq(ntohl(a.sin_addr.s_addr), TB_PEER);
	ck_assert_uint_eq(ntohs(a.sin_port), TT_PEER_PORT);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_sock_conn_list)
{
	struct tt *t = tt_new();
	uint32_t iss;
	struct ustack_conn_info ci[8];
	int lsd, sd = tt_passive(t, IRS, 8000, &iss, &lsd), n, seen = 0;
	int u = ustack_socket(tt_st(t), AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = tt_sin(0, 53);

	ustack_bind(tt_st(t), u, (struct sockaddr *)&a, sizeof(a));
	n = ustack_conn_list(tt_st(t), ci, 8);
	ck_assert_int_eq(n, 3);
	for (int i = 0; i < n; i++) {
		if (ci[i].proto == IPPROTO_TCP &&
		    ci[i].state == USTACK_TCP_LISTEN) {
			seen |= 1;
			ck_assert_int_eq(ci[i].sd, lsd);
		}
		if (ci[i].proto == IPPROTO_TCP &&
		    ci[i].state == USTACK_TCP_ESTABLISHED) {
			seen |= 2;
			ck_assert_int_eq(ci[i].sd, sd);
			ck_assert_uint_eq(ci[i].rport, TT_PEER_PORT);
			ck_assert_uint_eq(ci[i].raddr, TB_PEER);
		}
		if (ci[i].proto == IPPROTO_UDP) {
			seen |= 4;
			ck_assert_uint_eq(ci[i].lport, 53);
		}
	}
	ck_assert_int_eq(seen, 7);
	ck_assert_int_eq(ustack_conn_list(tt_st(t), ci, 1), 3);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_sock_accept_queue_bound)
{
	struct tt *t = tt_new();
	int lsd = tt_listen(t, TT_PORT, 1);
	struct tt_seg s;

	tt_in_full(t, TB_PEER, 5001, TT_PORT, TCP_SYN, IRS, 0, 1000, NULL, 0, 0);
	tt_expect(t, "S.", &s);
	tt_in_full(t, TB_PEER, 5001, TT_PORT, TCP_ACK, IRS + 1, s.seq + 1,
		   1000, NULL, 0, 0);
	/* Accept queue full (backlog 1): the next SYN is dropped. */
	tt_in_full(t, TB_PEER, 5002, TT_PORT, TCP_SYN, IRS, 0, 1000, NULL, 0, 0);
	tt_expect_none(t);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_LISTEN_OVERFLOW), 1);
	ck_assert_int_ge(tt_accept(t, lsd), 0);
	tt_in_full(t, TB_PEER, 5002, TT_PORT, TCP_SYN, IRS, 0, 1000, NULL, 0, 0);
	tt_expect(t, "S.", &s);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_sock_syn_queue_full_without_cookies)
{
	struct ustack_config cfg;
	struct tt *t;
	struct tt_seg s;

	tb_config(&cfg);
	cfg.tcp_syn_backlog = 2;
	cfg.tcp_syncookies = 0;
	t = tt_new_cfg(&cfg);
	tt_listen(t, TT_PORT, 8);
	for (uint16_t p = 0; p < 4; p++)
		tt_in_full(t, TB_PEER, (uint16_t)(6000 + p), TT_PORT, TCP_SYN,
			   IRS, 0, 1000, NULL, 0, 0);
	tt_expect(t, "S.", &s);
	tt_expect(t, "S.", &s);
	tt_expect_none(t);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_DROP_SYN_QUEUE_FULL), 2);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_sock_conn_limit_evicts_time_wait)
{
	struct ustack_config cfg;
	struct tt *t;
	struct tt_seg s;
	uint32_t iss;
	int sd;

	tb_config(&cfg);
	cfg.tcp_max_conns = 2;
	cfg.tcp_sack = cfg.tcp_timestamps = cfg.tcp_wscale = 0;
	t = tt_new_cfg(&cfg);
	sd = tt_passive(t, IRS, 8000, &iss, NULL);        /* conn 1 (40000) */
	ustack_close(tt_st(t), sd);
	tt_expect(t, "F.", &s);
	tt_in(t, "F.", IRS + 1, iss + 2, 8000, NULL, 0);  /* -> TIME_WAIT */
	tt_expect(t, ".", &s);
	tt_in_full(t, TB_PEER, 5001, TT_PORT, TCP_SYN, IRS, 0, 1000, NULL, 0, 0);
	tt_expect(t, "S.", &s);                           /* conn 2 */
	ck_assert_uint_eq(tt_st(t)->tcp.nconns, 2);
	tt_in_full(t, TB_PEER, 5002, TT_PORT, TCP_SYN, IRS, 0, 1000, NULL, 0, 0);
	tt_expect(t, "S.", &s);                           /* TIME_WAIT evicted */
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_CLOSED);
	ck_assert_uint_eq(tt_st(t)->tcp.nconns, 2);
	tt_in_full(t, TB_PEER, 5003, TT_PORT, TCP_SYN, IRS, 0, 1000, NULL, 0, 0);
	tt_expect_none(t);                                /* full: dropped */
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_DROP_CONNS_FULL), 1);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_sock_time_wait_reuse_by_timestamp)
{
	struct tt *t = tt_new();
	int l = tt_listen(t, TT_PORT, 8), sd;
	struct tt_seg s;
	uint32_t iss;

	tt_opt_ts(t, 1000, 0);
	tt_in(t, "S", IRS, 0, 8000, NULL, 0);
	tt_expect(t, "S.", &s);
	iss = s.seq;
	tt_opt_ts(t, 1001, s.opt.tsval);
	tt_in(t, ".", IRS + 1, iss + 1, 8000, NULL, 0);
	sd = tt_accept(t, l);
	ustack_close(tt_st(t), sd);
	tt_expect(t, "F.", &s);
	tt_opt_ts(t, 1002, s.opt.tsval);
	tt_in(t, "F.", IRS + 1, iss + 2, 8000, NULL, 0);
	tt_expect(t, ".", &s);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_TIME_WAIT);
	/* A lower sequence number, but a newer timestamp: accepted. */
	tt_opt_ts(t, 2000, 0);
	tt_in(t, "S", IRS - 50000, 0, 8000, NULL, 0);
	tt_expect(t, "S.", &s);
	ck_assert_uint_eq(s.ack, IRS - 50000 + 1);
	/* An old timestamp does not reopen. */
	tt_free(t);
}
END_TEST

/* A TIME_WAIT record (no socket left: tcp_tw.c) still holds its local
 * port as the TCB did: bind() without SO_REUSEADDR fails, with it
 * succeeds; the connection table shows the record; after 2*MSL the port
 * is free. */
START_TEST(test_tcp_sock_time_wait_record_holds_port)
{
	struct tt *t = tt_new();
	struct sockaddr_in a = tt_sin(0, TT_PORT);
	struct ustack_conn_info rows[4];
	struct ustack *st = tt_st(t);
	struct tt_seg s;
	uint32_t iss;
	int l, sd, one = 1, n, tw = -1;

	sd = tt_passive(t, IRS, 8000, &iss, &l);
	ustack_close(st, sd);
	tt_expect(t, "F.", &s);
	tt_in(t, "F.", IRS + 1, iss + 2, 8000, NULL, 0);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(st->tcp.tw.n, 1);            /* a record now */
	ck_assert_int_eq(ustack_close(st, l), 0);
	n = ustack_conn_list(st, rows, 4);
	for (int i = 0; i < n && i < 4; i++)
		if (rows[i].proto == IPPROTO_TCP &&
		    rows[i].state == USTACK_TCP_TIME_WAIT)
			tw = i;
	ck_assert_int_ge(tw, 0);
	ck_assert_int_eq(rows[tw].sd, -1);
	ck_assert_uint_eq(rows[tw].lport, TT_PORT);
	ck_assert_uint_eq(rows[tw].rport, t->pport);

	sd = ustack_socket(st, AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(ustack_bind(st, sd, (struct sockaddr *)&a, sizeof(a)),
			 -EADDRINUSE);
	ustack_close(st, sd);
	sd = ustack_socket(st, AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(ustack_setsockopt(st, sd, SOL_SOCKET, SO_REUSEADDR,
					   &one, sizeof(one)), 0);
	ck_assert_int_eq(ustack_bind(st, sd, (struct sockaddr *)&a, sizeof(a)), 0);
	ustack_close(st, sd);
	tt_advance(t, 2 * USTACK_SEC(30));
	ck_assert_uint_eq(st->tcp.tw.n, 0);
	sd = ustack_socket(st, AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(ustack_bind(st, sd, (struct sockaddr *)&a, sizeof(a)), 0);
	ustack_close(st, sd);
	tt_free(t);
}
END_TEST

static Suite *tcp_sock_suite(void)
{
	Suite *s = suite_create("tcp_sock");
	TCase *tc = tcase_create("sock");

	tcase_add_test(tc, test_tcp_sock_bind_conflicts_and_reuseaddr);
	tcase_add_test(tc, test_tcp_sock_listen_autobinds_ephemeral);
	tcase_add_test(tc, test_tcp_sock_connect_errors);
	tcase_add_test(tc, test_tcp_sock_connect_host_unreachable);
	tcase_add_test(tc, test_tcp_sock_send_recv_errors);
	tcase_add_test(tc, test_tcp_sock_poll_phases);
	tcase_add_test(tc, test_tcp_sock_sndbuf_bounds_send);
	tcase_add_test(tc, test_tcp_sock_peek_and_shut_rd);
	tcase_add_test(tc, test_tcp_sock_maxseg_and_peer_name);
	tcase_add_test(tc, test_tcp_sock_conn_list);
	tcase_add_test(tc, test_tcp_sock_accept_queue_bound);
	tcase_add_test(tc, test_tcp_sock_syn_queue_full_without_cookies);
	tcase_add_test(tc, test_tcp_sock_conn_limit_evicts_time_wait);
	tcase_add_test(tc, test_tcp_sock_time_wait_reuse_by_timestamp);
	tcase_add_test(tc, test_tcp_sock_time_wait_record_holds_port);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tcp_sock_suite)
