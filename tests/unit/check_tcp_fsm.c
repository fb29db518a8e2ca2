/*
 * check_tcp_fsm.c - the TCP state machine's internals (RFC 9293 3.3.2,
 * 3.10.7), one segment at a time, where a test needs the TCB, a counter or
 * a socket call the conformance scripts do not have: input validation,
 * passive and active and simultaneous opens, SYN/SYN-ACK retransmission
 * and give-up, every close order (active, passive, simultaneous,
 * half-close), TIME_WAIT (2*MSL, re-ACK, RFC 6191 reuse), resets and RFC
 * 5961 challenge ACKs, aborts, the transition table against all state
 * pairs. Behaviour a script can state lives in the tests/tcp scripts (segments
 * for no connection, RFC 1337, RST on close are there, not here).
 * Segments in are written by field name: tt_send(t, .flags = "S", ...).
 */
#include "lib/check_main.h"
#include "tcp_test.h"

#define IRS 1000u

/* ---- no connection (3.10.7.1) ------------------------------------------- */

START_TEST(test_tcp_input_validation_drops)
{
	struct tt *t = tt_new();
	uint8_t bad[3] = {TCP_OPT_MSS, 9, 0};  /* length runs past the header */

	tt_in_full(t, TB_PEER, TT_PEER_PORT, TT_PORT, TCP_SYN, IRS, 0, 100,
		   NULL, 0, 1);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_DROP_BAD_CHECKSUM), 1);
	tt_send(t, .flags = "SR", .seq = IRS, .win = 100);
	tt_send(t, .flags = "SF", .seq = IRS, .win = 100);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_DROP_BAD_FLAGS), 2);
	tt_opt_raw(t, bad, 3);
	tt_send(t, .flags = "S", .seq = IRS, .win = 100);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_DROP_BAD_OPTIONS), 1);
	tt_expect_none(t);
	tt_free(t);
}
END_TEST

/* ---- passive open (3.10.7.2) --------------------------------------------- */

START_TEST(test_tcp_listen_syn_synack_ack_established)
{
	struct tt *t = tt_new();
	int lsd = tt_listen(t, TT_PORT, 4), sd;
	struct tt_seg s;

	ck_assert_int_eq(tt_accept(t, lsd), -EAGAIN);
	tt_opt_mss(t, 1200);
	tt_send(t, .flags = "S", .seq = IRS, .win = 5000);
	tt_expect(t, "S.", &s);
	ck_assert_uint_eq(s.ack, IRS + 1);
	ck_assert(s.opt.has_mss);
	ck_assert_uint_eq(s.opt.mss, 1460);          /* MTU 1500 - 40 */
	ck_assert(!s.opt.has_ws && !s.opt.sack_ok && !s.opt.has_ts);
	ck_assert_int_ne(tt_find_state(t), USTACK_TCP_CLOSED);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_SYN_RCVD);
	ck_assert_int_eq(tt_accept(t, lsd), -EAGAIN);
	ck_assert_int_eq(tt_poll(t, lsd, POLLIN), 0);
	tt_send(t, .flags = ".", .seq = IRS + 1, .ack = s.seq + 1, .win = 5000);
	tt_expect_none(t);
	ck_assert_int_eq(tt_poll(t, lsd, POLLIN), POLLIN);
	sd = tt_accept(t, lsd);
	ck_assert_int_ge(sd, 0);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_ESTABLISHED);
	ck_assert_uint_eq(tt_conn(t, sd)->smss, 1200);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_PASSIVE_OPENS), 1);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_CURR_ESTAB), 1);
	ck_assert(tt_poll(t, sd, POLLOUT) & POLLOUT);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_synrcvd_bad_ack_gets_rst)
{
	struct tt *t = tt_new();
	struct tt_seg s;

	tt_listen(t, TT_PORT, 4);
	tt_send(t, .flags = "S", .seq = IRS, .win = 100);
	tt_expect(t, "S.", &s);
	tt_send(t, .flags = ".", .seq = IRS + 1, .ack = s.seq + 7, .win = 100);
	tt_expect(t, "R", &s);
	ck_assert_uint_eq(s.seq, s.seq);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_SYN_RCVD);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_synrcvd_dup_syn_resends_synack)
{
	struct tt *t = tt_new();
	struct tt_seg s, s2;

	tt_listen(t, TT_PORT, 4);
	tt_send(t, .flags = "S", .seq = IRS, .win = 100);
	tt_expect(t, "S.", &s);
	tt_send(t, .flags = "S", .seq = IRS, .win = 100);
	tt_expect(t, "S.", &s2);
	ck_assert_uint_eq(s2.seq, s.seq);
	ck_assert_uint_eq(s2.ack, IRS + 1);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_synrcvd_rst_frees_child)
{
	struct tt *t = tt_new();
	int lsd = tt_listen(t, TT_PORT, 4);
	struct tt_seg s;

	tt_send(t, .flags = "S", .seq = IRS, .win = 100);
	tt_expect(t, "S.", &s);
	/* not exact: challenge */
	tt_send(t, .flags = "R", .seq = IRS + 5, .win = 100);
	tt_expect(t, ".", &s);
	ck_assert_int_ne(tt_find_state(t), USTACK_TCP_CLOSED);
	tt_send(t, .flags = "R", .seq = IRS + 1, .win = 100);
	tt_expect_none(t);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_CLOSED);
	ck_assert_int_eq(tt_state(t, lsd), USTACK_TCP_LISTEN);
	ck_assert_int_eq(tt_accept(t, lsd), -EAGAIN);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_synack_retransmit_then_give_up)
{
	struct ustack_config cfg;
	struct tt *t;
	struct tt_seg s;
	ustack_time_t t0, gap = USTACK_SEC(1);

	tb_config(&cfg);
	cfg.tcp_synack_retries = 3;
	t = tt_new_cfg(&cfg);
	tt_listen(t, TT_PORT, 4);
	tt_send(t, .flags = "S", .seq = IRS, .win = 100);
	tt_expect(t, "S.", &s);
	t0 = s.at;
	for (int i = 0; i < 3; i++) {
		tt_advance(t, gap - 1);
		tt_expect_none(t);
		tt_advance(t, 1);
		tt_expect(t, "S.", &s);
		ck_assert_uint_eq(s.at - t0, gap);
		t0 = s.at;
		gap *= 2;                 /* RFC 6298 5.5 backoff */
	}
	tt_advance(t, gap);
	tt_expect_none(t);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_CLOSED);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_ATTEMPT_FAILS), 1);
	tt_free(t);
}
END_TEST

/* ---- active open (3.10.7.3) ----------------------------------------------- */

START_TEST(test_tcp_connect_synack_established)
{
	struct tt *t = tt_new();
	struct sockaddr_in a = tt_sin(TB_PEER, 80);
	struct tt_seg s;
	int sd = ustack_socket(tt_st(t), AF_INET, SOCK_STREAM, 0);

	t->pport = 80;
	ck_assert_int_eq(ustack_connect(tt_st(t), sd, (struct sockaddr *)&a,
					sizeof(a)), -EINPROGRESS);
	tt_expect(t, "S", &s);
	ck_assert_uint_ge(s.sport, 49152);
	ck_assert(s.opt.has_mss && s.opt.has_ws && s.opt.sack_ok && s.opt.has_ts);
	ck_assert_uint_eq(s.opt.tsecr, 0);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_SYN_SENT);
	ck_assert_int_eq(tt_poll(t, sd, POLLOUT), 0);
	t->port = s.sport;
	tt_send(t, .flags = "S.", .seq = 5000, .ack = s.seq + 1, .win = 3000);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, 5001);
	ck_assert_uint_eq(s.hlen, TCP_HDR_LEN);   /* nothing negotiated */
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_ESTABLISHED);
	ck_assert_int_eq(tt_poll(t, sd, POLLOUT), POLLOUT);
	ck_assert_int_eq(tt_so_error(t, sd), 0);
	ck_assert_uint_eq(tt_conn(t, sd)->smss, 536);  /* no MSS option */
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_ACTIVE_OPENS), 1);
	tt_free(t);
}
END_TEST

/* connect() to the peer's port pport: the SYN goes out (*syn) and the bed
 * talks on that connection from now on. Returns the socket. */
static int syn_sent(struct tt *t, uint16_t pport, struct tt_seg *syn)
{
	struct sockaddr_in a = tt_sin(TB_PEER, pport);
	int sd = ustack_socket(tt_st(t), AF_INET, SOCK_STREAM, 0);

	t->pport = pport;
	ck_assert_int_eq(ustack_connect(tt_st(t), sd, (struct sockaddr *)&a,
					sizeof(a)), -EINPROGRESS);
	tt_expect(t, "S", syn);
	t->port = syn->sport;
	return sd;
}

START_TEST(test_tcp_connect_refused)
{
	struct tt *t = tt_new();
	struct tt_seg s;
	int sd = syn_sent(t, 81, &s);
	char b[4];

	/* bad ACK: ignored */
	tt_send(t, .flags = "R.", .seq = 0, .ack = s.seq + 2, .win = 0);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_SYN_SENT);
	/* no ACK: ignored */
	tt_send(t, .flags = "R", .seq = 0, .win = 0);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_SYN_SENT);
	tt_send(t, .flags = "R.", .seq = 0, .ack = s.seq + 1, .win = 0);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_CLOSED);
	ck_assert(tt_poll(t, sd, POLLOUT) & (POLLOUT | POLLERR));
	ck_assert_int_eq(tt_so_error(t, sd), ECONNREFUSED);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, b, 4, 0), -ENOTCONN);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_CLOSED);
	tt_expect_none(t);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_synsent_bad_ack_gets_rst)
{
	struct tt *t = tt_new();
	struct tt_seg s, r;
	int sd = syn_sent(t, 82, &s);

	tt_send(t, .flags = "S.", .seq = 9000, .ack = s.seq + 100, .win = 1000);
	tt_expect(t, "R", &r);
	ck_assert_uint_eq(r.seq, s.seq + 100);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_SYN_SENT);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_syn_retransmit_backoff_etimedout)
{
	struct ustack_config cfg;
	struct tt *t;
	struct sockaddr_in a = tt_sin(TB_PEER, 83);
	struct tt_seg s;
	ustack_time_t t0, gap = USTACK_SEC(1);
	int sd;

	tb_config(&cfg);
	cfg.tcp_syn_retries = 4;
	t = tt_new_cfg(&cfg);
	sd = ustack_socket(tt_st(t), AF_INET, SOCK_STREAM, 0);
	ustack_connect(tt_st(t), sd, (struct sockaddr *)&a, sizeof(a));
	tt_expect(t, "S", &s);
	t0 = s.at;
	for (int i = 0; i < 4; i++) {
		tt_advance(t, gap);
		tt_expect(t, "S", &s);
		ck_assert_uint_eq(s.at - t0, gap);
		t0 = s.at;
		gap *= 2;
	}
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_SYN_SENT);
	tt_advance(t, gap);
	tt_expect_none(t);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_CLOSED);
	ck_assert_int_eq(tt_so_error(t, sd), ETIMEDOUT);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_ATTEMPT_FAILS), 1);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_simultaneous_open)
{
	struct tt *t = tt_new();
	struct tt_seg s, s2;
	int sd = syn_sent(t, 84, &s);

	/* crossing SYN */
	tt_send(t, .flags = "S", .seq = 7000, .win = 2000);
	tt_expect(t, "S.", &s2);
	ck_assert_uint_eq(s2.seq, s.seq);
	ck_assert_uint_eq(s2.ack, 7001);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_SYN_RCVD);
	/* peer's SYN-ACK */
	tt_send(t, .flags = "S.", .seq = 7000, .ack = s.seq + 1, .win = 2000);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_ESTABLISHED);
	tt_expect(t, ".", &s2);
	ck_assert_uint_eq(s2.ack, 7001);
	ck_assert_int_eq(tt_so_error(t, sd), 0);
	tt_free(t);
}
END_TEST

/* ---- data both ways ----------------------------------------------------- */

START_TEST(test_tcp_established_data_both_ways)
{
	struct tt *t = tt_new();
	uint32_t iss;
	int sd = tt_passive(t, IRS, 8000, &iss, NULL);
	struct tt_seg s;
	char buf[64];
	int zero = 0;

	/* Interactive (pingpong): the ACK waits to ride on the answer. */
	ck_assert_int_eq(ustack_setsockopt(tt_st(t), sd, IPPROTO_TCP,
					   TCP_QUICKACK, &zero, sizeof(zero)), 0);
	tt_send(t, .flags = "P.", .seq = IRS + 1, .ack = iss + 1, .win = 8000,
		.data = "hello", .len = 5);
	ck_assert_int_eq(tt_poll(t, sd, POLLIN), POLLIN);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, buf, sizeof(buf), 0), 5);
	ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, buf, sizeof(buf), 0), -EAGAIN);
	ck_assert_int_eq(ustack_send(tt_st(t), sd, "world!", 6, 0), 6);
	tt_expect(t, "P.", &s);                       /* ACK piggybacked */
	ck_assert_uint_eq(s.seq, iss + 1);
	ck_assert_uint_eq(s.ack, IRS + 6);
	ck_assert_uint_eq(s.len, 6);
	ck_assert_int_eq(memcmp(s.data, "world!", 6), 0);
	tt_send(t, .flags = ".", .seq = IRS + 6, .ack = iss + 7, .win = 8000);
	ck_assert_uint_eq(tt_conn(t, sd)->snd_una, iss + 7);
	ck_assert(!timer_armed(&tt_conn(t, sd)->t_rtx)); /* 5.2: all acked */
	tt_expect_none(t);
	tt_free(t);
}
END_TEST

/* ---- closing --------------------------------------------------------------- */

START_TEST(test_tcp_active_close_to_time_wait_and_closed)
{
	struct ustack_config cfg;
	struct tt *t;
	uint32_t iss;
	int sd;
	struct tt_seg s;

	tb_config(&cfg);
	cfg.tcp_msl_us = USTACK_SEC(10);
	t = tt_new_cfg(&cfg);
	sd = tt_passive(t, IRS, 8000, &iss, NULL);
	ck_assert_int_eq(ustack_shutdown(tt_st(t), sd, SHUT_WR), 0);
	tt_expect(t, "F.", &s);
	ck_assert_uint_eq(s.seq, iss + 1);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_FIN_WAIT_1);
	ck_assert_int_eq(ustack_send(tt_st(t), sd, "x", 1, 0), -EPIPE);
	tt_send(t, .flags = ".", .seq = IRS + 1, .ack = iss + 2, .win = 8000);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_FIN_WAIT_2);
	/* half-close: the peer keeps sending while we sit in FIN_WAIT_2 */
	tt_send(t, .flags = "P.", .seq = IRS + 1, .ack = iss + 2, .win = 8000,
		.data = "more", .len = 4);
	tt_expect(t, ".", &s);             /* quick ACK: the first data */
	ck_assert_uint_eq(s.ack, IRS + 5);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_FIN_WAIT_2);
	tt_send(t, .flags = "F.", .seq = IRS + 5, .ack = iss + 2, .win = 8000);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, IRS + 6);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_TIME_WAIT);
	{
		char b[8];

		ck_assert_int_eq(ustack_recv(tt_st(t), sd, b, 8, 0), 4);
		ck_assert_int_eq(ustack_recv(tt_st(t), sd, b, 8, 0), 0);
	}
	ck_assert_int_eq(ustack_close(tt_st(t), sd), 0);
	ck_assert_int_ne(tt_find_state(t), USTACK_TCP_CLOSED);            /* orphan TIME_WAIT */
	tt_advance(t, USTACK_SEC(20) - 1);
	ck_assert_int_ne(tt_find_state(t), USTACK_TCP_CLOSED);
	tt_advance(t, 1);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_CLOSED);               /* 2*MSL */
	ck_assert_uint_eq(tt_st(t)->tcp.ntcb, 1);     /* the listener */
	tt_expect_none(t);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_passive_close_close_wait_last_ack)
{
	struct tt *t = tt_new();
	uint32_t iss;
	int sd = tt_passive(t, IRS, 8000, &iss, NULL);
	struct tt_seg s;
	char b[8];

	tt_send(t, .flags = "F.", .seq = IRS + 1, .ack = iss + 1, .win = 8000);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, IRS + 2);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_CLOSE_WAIT);
	ck_assert(tt_poll(t, sd, POLLIN | POLLRDHUP) & POLLRDHUP);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, b, 8, 0), 0);
	/* We can keep sending in CLOSE_WAIT. */
	ck_assert_int_eq(ustack_send(tt_st(t), sd, "late", 4, 0), 4);
	tt_expect(t, "P.", &s);
	ck_assert_uint_eq(s.len, 4);
	tt_send(t, .flags = ".", .seq = IRS + 2, .ack = iss + 5, .win = 8000);
	ck_assert_int_eq(ustack_close(tt_st(t), sd), 0);
	tt_expect(t, "F.", &s);
	ck_assert_uint_eq(s.seq, iss + 5);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_LAST_ACK);
	tt_send(t, .flags = ".", .seq = IRS + 2, .ack = iss + 6, .win = 8000);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_CLOSED);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_CURR_ESTAB), 0);
	tt_expect_none(t);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_simultaneous_close_closing)
{
	struct ustack_config cfg;
	struct tt *t;
	uint32_t iss;
	int sd;
	struct tt_seg s;

	tb_config(&cfg);
	cfg.tcp_msl_us = USTACK_SEC(1);
	t = tt_new_cfg(&cfg);
	sd = tt_passive(t, IRS, 8000, &iss, NULL);
	ck_assert_int_eq(ustack_close(tt_st(t), sd), 0);
	tt_expect(t, "F.", &s);
	/* The peer's FIN crosses ours: it has not seen our FIN. */
	tt_send(t, .flags = "F.", .seq = IRS + 1, .ack = iss + 1, .win = 8000);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, IRS + 2);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_CLOSING);
	tt_send(t, .flags = ".", .seq = IRS + 2, .ack = iss + 2, .win = 8000);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_TIME_WAIT);
	tt_advance(t, USTACK_SEC(2));
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_CLOSED);               /* no leaked TCB */
	ck_assert_uint_eq(tt_st(t)->tcp.ntcb, 1);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_fin_wait_1_fin_ack_to_time_wait)
{
	struct tt *t = tt_new();
	uint32_t iss;
	int sd = tt_passive(t, IRS, 8000, &iss, NULL);
	struct tt_seg s;

	ustack_close(tt_st(t), sd);
	tt_expect(t, "F.", &s);
	/* acks our FIN too */
	tt_send(t, .flags = "F.", .seq = IRS + 1, .ack = iss + 2, .win = 8000);
	tt_expect(t, ".", &s);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_TIME_WAIT);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_fin_retransmitted_until_acked)
{
	struct tt *t = tt_new();
	uint32_t iss;
	int sd = tt_passive(t, IRS, 8000, &iss, NULL);
	struct tt_seg s;

	ustack_close(tt_st(t), sd);
	tt_expect(t, "F.", &s);
	/* The handshake measured an RTT of 0: RTO = rto_min (200 ms). */
	tt_advance(t, USTACK_MS(200));
	tt_expect(t, "F.", &s);
	ck_assert_uint_eq(s.seq, iss + 1);
	tt_advance(t, USTACK_MS(399));
	tt_expect_none(t);
	tt_advance(t, USTACK_MS(1));
	tt_expect(t, "F.", &s);                       /* backed off: 400 ms */
	tt_send(t, .flags = ".", .seq = IRS + 1, .ack = iss + 2, .win = 8000);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_FIN_WAIT_2);
	tt_advance(t, USTACK_SEC(5));
	tt_expect_none(t);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_orphan_fin_wait_2_times_out)
{
	struct ustack_config cfg;
	struct tt *t;
	uint32_t iss;
	int sd;
	struct tt_seg s;

	tb_config(&cfg);
	cfg.tcp_fin_wait2_us = USTACK_SEC(30);
	t = tt_new_cfg(&cfg);
	sd = tt_passive(t, IRS, 8000, &iss, NULL);
	ustack_close(tt_st(t), sd);
	tt_expect(t, "F.", &s);
	tt_send(t, .flags = ".", .seq = IRS + 1, .ack = iss + 2, .win = 8000);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_FIN_WAIT_2);
	tt_advance(t, USTACK_SEC(30) - 1);
	ck_assert_int_ne(tt_find_state(t), USTACK_TCP_CLOSED);
	tt_advance(t, 1);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_CLOSED);
	tt_expect(t, "R.", &s);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_shutdown_wr_not_orphan_stays_fin_wait_2)
{
	struct tt *t = tt_new();
	uint32_t iss;
	int sd = tt_passive(t, IRS, 8000, &iss, NULL);
	struct tt_seg s;

	ustack_shutdown(tt_st(t), sd, SHUT_WR);
	tt_expect(t, "F.", &s);
	tt_send(t, .flags = ".", .seq = IRS + 1, .ack = iss + 2, .win = 8000);
	tt_advance(t, USTACK_SEC(600));
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_FIN_WAIT_2);
	tt_free(t);
}
END_TEST

/* ---- TIME_WAIT ------------------------------------------------------------- */

static struct tt *time_wait_bed(uint32_t *iss)
{
	struct tt *t = tt_new();
	int sd = tt_passive(t, IRS, 8000, iss, NULL);
	struct tt_seg s;

	ustack_close(tt_st(t), sd);
	tt_expect(t, "F.", &s);
	tt_send(t, .flags = "F.", .seq = IRS + 1, .ack = *iss + 2, .win = 8000);
	tt_expect(t, ".", &s);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_TIME_WAIT);
	return t;
}

START_TEST(test_tcp_time_wait_reacks_fin_and_restarts)
{
	uint32_t iss;
	struct tt *t = time_wait_bed(&iss);
	struct tt_seg s;

	tt_advance(t, USTACK_SEC(50));
	/* retransmitted */
	tt_send(t, .flags = "F.", .seq = IRS + 1, .ack = iss + 2, .win = 8000);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, IRS + 2);
	ck_assert_uint_eq(s.seq, iss + 2);
	tt_advance(t, USTACK_SEC(59));
	ck_assert_int_ne(tt_find_state(t), USTACK_TCP_CLOSED);                 /* restarted */
	tt_advance(t, USTACK_SEC(1));
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_CLOSED);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_time_wait_new_syn_higher_seq_reopens)
{
	uint32_t iss;
	struct tt *t = time_wait_bed(&iss);
	struct tt_seg s;

	/* not above rcv_nxt */
	tt_send(t, .flags = "S", .seq = IRS + 1, .win = 8000);
	tt_expect(t, ".", &s);                         /* challenge ACK */
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_TIME_WAIT);
	tt_send(t, .flags = "S", .seq = IRS + 100000, .win = 8000);
	tt_expect(t, "S.", &s);
	ck_assert_uint_eq(s.ack, IRS + 100001);
	ck_assert(seq_gt(s.seq, iss + 2 + 65535));    /* above the old space */
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_SYN_RCVD);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_TIME_WAIT_REUSED), 1);
	tt_free(t);
}
END_TEST

/* ---- resets and RFC 5961 ---------------------------------------------------- */

START_TEST(test_tcp_established_rst_exact_econnreset)
{
	struct tt *t = tt_new();
	uint32_t iss;
	int sd = tt_passive(t, IRS, 8000, &iss, NULL);
	char b[4];

	tt_send(t, .flags = "R", .seq = IRS + 1, .win = 0);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_CLOSED);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_CLOSED);
	ck_assert(tt_poll(t, sd, POLLIN) & POLLERR);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, b, 4, 0), -ECONNRESET);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, b, 4, 0), 0);
	ck_assert_int_eq(ustack_send(tt_st(t), sd, b, 4, 0), -EPIPE);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_ESTAB_RESETS), 1);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_CURR_ESTAB), 0);
	tt_expect_none(t);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_established_rst_in_window_challenge_ack)
{
	struct tt *t = tt_new();
	uint32_t iss;
	int sd = tt_passive(t, IRS, 8000, &iss, NULL);
	struct tt_seg s;

	tt_send(t, .flags = "R", .seq = IRS + 100, .win = 0);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.seq, iss + 1);
	ck_assert_uint_eq(s.ack, IRS + 1);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_ESTABLISHED);
	/* out of window */
	tt_send(t, .flags = "R", .seq = IRS + 1000000, .win = 0);
	tt_expect_none(t);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_ESTABLISHED);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_CHALLENGE_ACKS), 1);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_established_syn_challenge_ack)
{
	struct tt *t = tt_new();
	uint32_t iss;
	int sd = tt_passive(t, IRS, 8000, &iss, NULL);
	struct tt_seg s;

	tt_send(t, .flags = "S", .seq = IRS + 50, .win = 8000);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, IRS + 1);
	/* any seq */
	tt_send(t, .flags = "S", .seq = 123, .win = 8000);
	tt_expect(t, ".", &s);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_ESTABLISHED);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_challenge_ack_rate_limit)
{
	struct ustack_config cfg;
	struct tt *t;
	uint32_t iss;
	struct tt_seg s;
	int n = 0;

	tb_config(&cfg);
	cfg.tcp_challenge_ack_limit = 5;
	t = tt_new_cfg(&cfg);
	tt_passive(t, IRS, 8000, &iss, NULL);
	for (int i = 0; i < 20; i++)
		tt_send(t, .flags = "R", .seq = IRS + 10 + (uint32_t)i,
			.win = 0);
	while (tt_out(t, &s))
		n++;
	ck_assert_int_eq(n, 5);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_CHALLENGE_ACK_LIMITED), 15);
	tt_advance(t, USTACK_SEC(1));
	tt_send(t, .flags = "R", .seq = IRS + 10, .win = 0);
	tt_expect(t, ".", &s);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_ack_beyond_snd_nxt_acked_and_dropped)
{
	struct tt *t = tt_new();
	uint32_t iss;
	int sd = tt_passive(t, IRS, 8000, &iss, NULL);
	struct tt_seg s;
	char b[8];

	tt_send(t, .flags = "P.", .seq = IRS + 1, .ack = iss + 1000,
		.win = 8000, .data = "data", .len = 4);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, IRS + 1);               /* data not taken */
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, b, 8, 0), -EAGAIN);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_DROP_BAD_ACK), 1);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_no_ack_bit_dropped)
{
	struct tt *t = tt_new();
	uint32_t iss;
	int sd = tt_passive(t, IRS, 8000, &iss, NULL);
	char b[8];

	tt_send(t, .flags = "P", .seq = IRS + 1, .win = 8000, .data = "data",
		.len = 4);
	tt_expect_none(t);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, b, 8, 0), -EAGAIN);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_data_after_close_resets)
{
	struct tt *t = tt_new();
	uint32_t iss;
	int sd = tt_passive(t, IRS, 8000, &iss, NULL);
	struct tt_seg s;

	ustack_close(tt_st(t), sd);
	tt_expect(t, "F.", &s);
	tt_send(t, .flags = "P.", .seq = IRS + 1, .ack = iss + 2, .win = 8000,
		.data = "late", .len = 4);
	tt_expect(t, "R.", &s);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_CLOSED);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_ABORT_ON_DATA), 1);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_listener_close_resets_children)
{
	struct tt *t = tt_new();
	int lsd = tt_listen(t, TT_PORT, 4);
	struct tt_seg s;

	tt_send(t, .flags = "S", .seq = IRS, .win = 100);
	tt_expect(t, "S.", &s);
	tt_send(t, .flags = ".", .seq = IRS + 1, .ack = s.seq + 1, .win = 100);
	ustack_close(tt_st(t), lsd);
	tt_expect(t, "R.", &s);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_CLOSED);
	ck_assert_uint_eq(tt_st(t)->tcp.ntcb, 0);
	tt_send(t, .flags = "S", .seq = IRS + 9, .win = 100);
	tt_expect(t, "R.", &s);                          /* port closed now */
	tt_free(t);
}
END_TEST

/* ---- the table --------------------------------------------------------------- */

START_TEST(test_tcp_fsm_table_matches_rfc_figure)
{
	static const int legal[][2] = {
		{USTACK_TCP_CLOSED, USTACK_TCP_LISTEN},
		{USTACK_TCP_CLOSED, USTACK_TCP_SYN_SENT},
		{USTACK_TCP_LISTEN, USTACK_TCP_SYN_RCVD},
		{USTACK_TCP_SYN_SENT, USTACK_TCP_SYN_RCVD},
		{USTACK_TCP_SYN_SENT, USTACK_TCP_ESTABLISHED},
		{USTACK_TCP_SYN_RCVD, USTACK_TCP_ESTABLISHED},
		{USTACK_TCP_SYN_RCVD, USTACK_TCP_FIN_WAIT_1},
		{USTACK_TCP_ESTABLISHED, USTACK_TCP_FIN_WAIT_1},
		{USTACK_TCP_ESTABLISHED, USTACK_TCP_CLOSE_WAIT},
		{USTACK_TCP_FIN_WAIT_1, USTACK_TCP_FIN_WAIT_2},
		{USTACK_TCP_FIN_WAIT_1, USTACK_TCP_CLOSING},
		{USTACK_TCP_FIN_WAIT_2, USTACK_TCP_TIME_WAIT},
		{USTACK_TCP_CLOSE_WAIT, USTACK_TCP_LAST_ACK},
		{USTACK_TCP_CLOSING, USTACK_TCP_TIME_WAIT},
		{USTACK_TCP_LAST_ACK, USTACK_TCP_CLOSED},
		{USTACK_TCP_TIME_WAIT, USTACK_TCP_CLOSED},
	};

	for (unsigned i = 0; i < USTACK_ARRAY_SIZE(legal); i++)
		ck_assert(tcp_transition_ok(legal[i][0], legal[i][1]));
	ck_assert(!tcp_transition_ok(USTACK_TCP_LISTEN, USTACK_TCP_ESTABLISHED));
	ck_assert(!tcp_transition_ok(USTACK_TCP_TIME_WAIT, USTACK_TCP_ESTABLISHED));
	ck_assert(!tcp_transition_ok(USTACK_TCP_CLOSE_WAIT, USTACK_TCP_FIN_WAIT_1));
	ck_assert(!tcp_transition_ok(USTACK_TCP_CLOSED, USTACK_TCP_ESTABLISHED));
	for (int s = 0; s < USTACK_TCP__NSTATES; s++)
		ck_assert_str_ne(ustack_tcp_state_name(s), "?");
	ck_assert_str_eq(ustack_tcp_state_name(USTACK_TCP_CLOSE_WAIT), "CLOSE_WAIT");
}
END_TEST

/* RFC 9293 3.3.2 figure 5's arrows (the test above), as a predicate. */
static int in_rfc_figure(int from, int to)
{
	static const int fig[][2] = {
		{USTACK_TCP_CLOSED, USTACK_TCP_LISTEN},
		{USTACK_TCP_CLOSED, USTACK_TCP_SYN_SENT},
		{USTACK_TCP_LISTEN, USTACK_TCP_SYN_RCVD},
		{USTACK_TCP_LISTEN, USTACK_TCP_CLOSED},
		{USTACK_TCP_SYN_SENT, USTACK_TCP_SYN_RCVD},
		{USTACK_TCP_SYN_SENT, USTACK_TCP_ESTABLISHED},
		{USTACK_TCP_SYN_SENT, USTACK_TCP_CLOSED},
		{USTACK_TCP_SYN_RCVD, USTACK_TCP_ESTABLISHED},
		{USTACK_TCP_SYN_RCVD, USTACK_TCP_FIN_WAIT_1},
		{USTACK_TCP_ESTABLISHED, USTACK_TCP_FIN_WAIT_1},
		{USTACK_TCP_ESTABLISHED, USTACK_TCP_CLOSE_WAIT},
		{USTACK_TCP_FIN_WAIT_1, USTACK_TCP_FIN_WAIT_2},
		{USTACK_TCP_FIN_WAIT_1, USTACK_TCP_CLOSING},
		{USTACK_TCP_FIN_WAIT_1, USTACK_TCP_TIME_WAIT},
		{USTACK_TCP_FIN_WAIT_2, USTACK_TCP_TIME_WAIT},
		{USTACK_TCP_CLOSE_WAIT, USTACK_TCP_LAST_ACK},
		{USTACK_TCP_CLOSING, USTACK_TCP_TIME_WAIT},
		{USTACK_TCP_LAST_ACK, USTACK_TCP_CLOSED},
		{USTACK_TCP_TIME_WAIT, USTACK_TCP_CLOSED},
	};

	for (unsigned i = 0; i < USTACK_ARRAY_SIZE(fig); i++)
		if (fig[i][0] == from && fig[i][1] == to)
			return 1;
	return 0;
}

/*
 * All 11 x 11 state pairs: the check tcp_set_state() makes
 * (tcp_transition_ok) allows a pair iff the published table
 * (ustack_tcp_transition, what ustack-draw and httpd show) lists it. The
 * table holds every arrow of the RFC's figure and, beyond it, only
 * aborts to CLOSED (RST, timeout, close, ICMP); no pair twice, no state
 * to itself, nothing out of range.
 */
START_TEST(test_tcp_fsm_all_pairs_match_table)
{
	int in_table[USTACK_TCP__NSTATES][USTACK_TCP__NSTATES];
	int from, to, n = 0;
	const char *why;

	memset(in_table, 0, sizeof(in_table));
	for (unsigned i = 0; ustack_tcp_transition(i, &from, &to, &why) == 0; i++) {
		ck_assert_int_ge(from, 0);
		ck_assert_int_lt(from, USTACK_TCP__NSTATES);
		ck_assert_int_ge(to, 0);
		ck_assert_int_lt(to, USTACK_TCP__NSTATES);
		ck_assert_int_ne(from, to);
		ck_assert_msg(!in_table[from][to], "%s -> %s listed twice",
			      ustack_tcp_state_name(from),
			      ustack_tcp_state_name(to));
		ck_assert_msg(in_rfc_figure(from, to) || to == USTACK_TCP_CLOSED,
			      "%s -> %s is neither in RFC 9293 figure 5 nor an "
			      "abort", ustack_tcp_state_name(from),
			      ustack_tcp_state_name(to));
		ck_assert_ptr_nonnull(why);
		ck_assert_uint_gt(strlen(why), 0);
		in_table[from][to] = 1;
		n++;
	}
	ck_assert_int_gt(n, 0);
	for (from = 0; from < USTACK_TCP__NSTATES; from++)
		for (to = 0; to < USTACK_TCP__NSTATES; to++) {
			ck_assert_msg(tcp_transition_ok(from, to) == in_table[from][to],
				      "%s -> %s: check says %d, table %d",
				      ustack_tcp_state_name(from),
				      ustack_tcp_state_name(to),
				      tcp_transition_ok(from, to),
				      in_table[from][to]);
			if (in_rfc_figure(from, to))
				ck_assert(in_table[from][to]);
		}
	ck_assert(!tcp_transition_ok(-1, USTACK_TCP_CLOSED));
	ck_assert(!tcp_transition_ok(USTACK_TCP_CLOSED, USTACK_TCP__NSTATES));
	ck_assert_int_eq(ustack_tcp_transition((unsigned)n, &from, &to, &why),
			 -ENOENT);
}
END_TEST

/* The trace line of every transition. */
static char trace_buf[4096];

static void trace_hook(void *ctx, int level, ustack_time_t now, const char *msg)
{
	(void)ctx;
	(void)now;
	if (level == USTACK_LOG_INFO && strlen(trace_buf) + strlen(msg) + 2 <
					    sizeof(trace_buf)) {
		strcat(trace_buf, msg);
		strcat(trace_buf, "\n");
	}
}

START_TEST(test_tcp_trace_lines)
{
	struct ustack_config cfg;
	struct tt *t;
	uint32_t iss;
	int sd;

	tb_config(&cfg);
	cfg.trace_tcp = 1;
	cfg.log_fn = trace_hook;
	trace_buf[0] = 0;
	t = tt_new_cfg(&cfg);
	sd = tt_passive(t, IRS, 8000, &iss, NULL);
	tt_send(t, .flags = "F.", .seq = IRS + 1, .ack = iss + 1, .win = 8000);
	(void)sd;
	ck_assert_ptr_nonnull(strstr(trace_buf,
		"10.0.0.2:7 10.0.0.1:40000 ESTABLISHED -> CLOSE_WAIT (FIN)"));
	ck_assert_ptr_nonnull(strstr(trace_buf,
		"10.0.0.2:7 10.0.0.1:40000 LISTEN -> SYN_RCVD (SYN)"));
	ck_assert_ptr_nonnull(strstr(trace_buf,
		"0.0.0.0:7 0.0.0.0:0 CLOSED -> LISTEN (listen)"));
	tt_free(t);
}
END_TEST

static Suite *tcp_fsm_suite(void)
{
	Suite *s = suite_create("tcp_fsm");
	TCase *tc = tcase_create("fsm");

	tcase_add_test(tc, test_tcp_input_validation_drops);
	tcase_add_test(tc, test_tcp_listen_syn_synack_ack_established);
	tcase_add_test(tc, test_tcp_synrcvd_bad_ack_gets_rst);
	tcase_add_test(tc, test_tcp_synrcvd_dup_syn_resends_synack);
	tcase_add_test(tc, test_tcp_synrcvd_rst_frees_child);
	tcase_add_test(tc, test_tcp_synack_retransmit_then_give_up);
	tcase_add_test(tc, test_tcp_connect_synack_established);
	tcase_add_test(tc, test_tcp_connect_refused);
	tcase_add_test(tc, test_tcp_synsent_bad_ack_gets_rst);
	tcase_add_test(tc, test_tcp_syn_retransmit_backoff_etimedout);
	tcase_add_test(tc, test_tcp_simultaneous_open);
	tcase_add_test(tc, test_tcp_established_data_both_ways);
	tcase_add_test(tc, test_tcp_active_close_to_time_wait_and_closed);
	tcase_add_test(tc, test_tcp_passive_close_close_wait_last_ack);
	tcase_add_test(tc, test_tcp_simultaneous_close_closing);
	tcase_add_test(tc, test_tcp_fin_wait_1_fin_ack_to_time_wait);
	tcase_add_test(tc, test_tcp_fin_retransmitted_until_acked);
	tcase_add_test(tc, test_tcp_orphan_fin_wait_2_times_out);
	tcase_add_test(tc, test_tcp_shutdown_wr_not_orphan_stays_fin_wait_2);
	tcase_add_test(tc, test_tcp_time_wait_reacks_fin_and_restarts);
	tcase_add_test(tc, test_tcp_time_wait_new_syn_higher_seq_reopens);
	tcase_add_test(tc, test_tcp_established_rst_exact_econnreset);
	tcase_add_test(tc, test_tcp_established_rst_in_window_challenge_ack);
	tcase_add_test(tc, test_tcp_established_syn_challenge_ack);
	tcase_add_test(tc, test_tcp_challenge_ack_rate_limit);
	tcase_add_test(tc, test_tcp_ack_beyond_snd_nxt_acked_and_dropped);
	tcase_add_test(tc, test_tcp_no_ack_bit_dropped);
	tcase_add_test(tc, test_tcp_data_after_close_resets);
	tcase_add_test(tc, test_tcp_listener_close_resets_children);
	tcase_add_test(tc, test_tcp_fsm_table_matches_rfc_figure);
	tcase_add_test(tc, test_tcp_fsm_all_pairs_match_table);
	tcase_add_test(tc, test_tcp_trace_lines);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tcp_fsm_suite)
