/*
 * check_tcp_data.c - reliable transfer: receive path (in order, out of
 * order with immediate duplicate ACKs, overlaps trimmed, out-of-window
 * segments answered and dropped, delayed ACK), the receive window (zero
 * window, window update, receiver SWS), the send path (MSS, Nagle and
 * TCP_NODELAY, the peer's window, persist probes with backoff),
 * retransmission (RFC 6298 timing, Karn, backoff, restart on new ACKs,
 * stop when all is acknowledged, give-up), fast retransmit of exactly the
 * lost segment and NewReno recovery, restart after idle.
 */
#include "lib/check_main.h"
#include "tcp_test.h"

#define IRS 1000u

static uint8_t pattern[1 << 20];

static void fill_pattern(void)
{
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 131 + (i >> 8) * 7);
}

/* A plain connection (no options but MSS); the peer's MSS is `mss`. */
static struct tt *plain(uint16_t mss, uint16_t win, uint32_t *iss, int *sd)
{
	struct ustack_config cfg;
	struct tt *t;

	tt_config_plain(&cfg);
	cfg.tcp_initial_window_segments = 0;  /* RFC 5681's IW, as written */
	cfg.tcp_congestion = USTACK_TCP_CC_RENO;  /* RFC 5681's halving */
	t = tt_new_cfg(&cfg);
	if (mss)
		tt_opt_mss(t, mss);
	{
		struct tt_seg s;
		int l = tt_listen(t, TT_PORT, 8);

		tt_in(t, "S", IRS, 0, win, NULL, 0);
		tt_expect(t, "S.", &s);
		tt_in(t, ".", IRS + 1, s.seq + 1, win, NULL, 0);
		*sd = tt_accept(t, l);
		ck_assert_int_ge(*sd, 0);
		*iss = s.seq;
	}
	return t;
}

/* ---- receiving ------------------------------------------------------------ */

START_TEST(test_tcp_data_delayed_ack_timer_and_every_second_segment)
{
	uint32_t iss;
	int sd;
	struct tt *t = plain(1000, 65535, &iss, &sd);
	struct tt_seg s;
	int zero = 0;

	/* No quick ACKs at the start (they have their own test). */
	ck_assert_int_eq(ustack_setsockopt(tt_st(t), sd, IPPROTO_TCP,
					   TCP_QUICKACK, &zero, sizeof(zero)), 0);
	tt_in(t, ".", IRS + 1, iss + 1, 65535, pattern, 100);
	tt_expect_none(t);                        /* delayed */
	tt_advance(t, USTACK_MS(40) - 1);
	tt_expect_none(t);
	tt_advance(t, 1);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, IRS + 101);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_DELAYED_ACKS), 1);
	/* The timer ended interactive mode (as Linux): set it again. */
	ck_assert_int_eq(ustack_setsockopt(tt_st(t), sd, IPPROTO_TCP,
					   TCP_QUICKACK, &zero, sizeof(zero)), 0);
	/* Two full-sized segments: ACK at once (RFC 5681 4.2). */
	tt_in(t, ".", IRS + 101, iss + 1, 65535, pattern, 1460);
	tt_expect_none(t);
	tt_in(t, ".", IRS + 1561, iss + 1, 65535, pattern, 1460);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, IRS + 3021);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_data_out_of_order_dup_ack_then_fill)
{
	uint32_t iss;
	int sd;
	struct tt *t = plain(1000, 65535, &iss, &sd);
	struct tt_seg s;
	uint8_t buf[4000];

	tt_in(t, ".", IRS + 1001, iss + 1, 65535, pattern + 1000, 1000);
	tt_expect(t, ".", &s);                    /* immediate duplicate ACK */
	ck_assert_uint_eq(s.ack, IRS + 1);
	tt_in(t, ".", IRS + 3001, iss + 1, 65535, pattern + 3000, 500);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, IRS + 1);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, buf, sizeof(buf), 0), -EAGAIN);
	tt_in(t, ".", IRS + 1, iss + 1, 65535, pattern, 1000);  /* fills a gap */
	tt_expect(t, ".", &s);                    /* immediate (gap filled) */
	ck_assert_uint_eq(s.ack, IRS + 2001);
	tt_in(t, ".", IRS + 2001, iss + 1, 65535, pattern + 2000, 1000);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, IRS + 3501);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, buf, sizeof(buf), 0), 3500);
	ck_assert_int_eq(memcmp(buf, pattern, 3500), 0);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_OOO_SEGS), 2);
	tt_free(t);
}
END_TEST

/* An idle connection holds no out-of-order islands, no SACK scoreboard
 * and no ring buffers: each is made on first use and given back when it
 * empties (tcp_buf.c; docs/performance.md, memory per connection). */
START_TEST(test_tcp_idle_conn_holds_no_ooo_sack_or_rings)
{
	struct ustack_config cfg;
	struct tt *t;
	struct tcp_conn *c;
	struct tt_seg s;
	uint8_t buf[4000];
	uint32_t iss, sack[2];
	int sd, l;

	tt_config_plain(&cfg);
	cfg.tcp_sack = 1;
	cfg.tcp_initial_window_segments = 0;
	t = tt_new_cfg(&cfg);
	l = tt_listen(t, TT_PORT, 8);
	tt_opt_mss(t, 1000);
	tt_opt_sackok(t);
	tt_in(t, "S", IRS, 0, 65535, NULL, 0);
	tt_expect(t, "S.", &s);
	iss = s.seq;
	tt_in(t, ".", IRS + 1, iss + 1, 65535, NULL, 0);
	sd = tt_accept(t, l);
	ck_assert_int_ge(sd, 0);
	c = tt_conn(t, sd);
	ck_assert(c->sack_ok);
	ck_assert_ptr_null(c->ooo);
	ck_assert_ptr_null(c->score);
	ck_assert_uint_eq(c->rbuf.size, 0);
	ck_assert_uint_eq(c->sbuf.size, 0);

	/* Out of order: the islands appear, and go when the hole fills and
	 * the data is read. */
	tt_in(t, ".", IRS + 1001, iss + 1, 65535, pattern + 1000, 1000);
	tt_expect(t, ".", &s);
	ck_assert_ptr_nonnull(c->ooo);
	ck_assert_uint_eq(c->nooo, 1);
	tt_in(t, ".", IRS + 1, iss + 1, 65535, pattern, 1000);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, IRS + 2001);
	ck_assert_ptr_null(c->ooo);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, buf, sizeof(buf), 0), 2000);
	ck_assert_int_eq(memcmp(buf, pattern, 2000), 0);
	tt_advance(t, 1000000);                /* the delayed ACK, if any */
	while (tt_out(t, &s))
		;
	ck_assert_uint_eq(c->rbuf.size, 0);

	/* A SACK block makes the scoreboard; the ACK of everything frees it
	 * and the send ring. */
	ck_assert_int_eq(ustack_send(tt_st(t), sd, pattern, 3000, 0), 3000);
	for (int i = 0; i < 3; i++)
		tt_expect(t, i == 2 ? "P." : ".", &s);
	ck_assert_uint_gt(c->sbuf.size, 0);
	sack[0] = iss + 2001;
	sack[1] = iss + 3001;
	tt_opt_sack(t, sack, 1);
	tt_in(t, ".", IRS + 2001, iss + 1001, 65535, NULL, 0);
	ck_assert_ptr_nonnull(c->score);
	ck_assert_uint_eq(c->nscore, 1);
	tt_in(t, ".", IRS + 2001, iss + 3001, 65535, NULL, 0);
	ck_assert_ptr_null(c->score);
	ck_assert_uint_eq(c->sbuf.size, 0);
	ck_assert_ptr_null(c->ooo);
	ck_assert_uint_eq(c->rbuf.size, 0);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_data_duplicates_and_overlaps_trimmed)
{
	uint32_t iss;
	int sd;
	struct tt *t = plain(1000, 65535, &iss, &sd);
	struct tt_seg s;
	uint8_t buf[4000];

	tt_in(t, ".", IRS + 1, iss + 1, 65535, pattern, 600);
	tt_in(t, ".", IRS + 1, iss + 1, 65535, pattern, 600);   /* duplicate */
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, IRS + 601);
	tt_in(t, ".", IRS + 301, iss + 1, 65535, pattern + 300, 700); /* overlap */
	tt_in(t, ".", IRS + 1201, iss + 1, 65535, pattern + 1200, 300); /* OOO */
	tt_in(t, ".", IRS + 1001, iss + 1, 65535, pattern + 1000, 300); /* bridges */
	while (tt_out(t, &s))
		;
	ck_assert_uint_eq(s.ack, IRS + 1501);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, buf, sizeof(buf), 0), 1500);
	ck_assert_int_eq(memcmp(buf, pattern, 1500), 0);
	tt_free(t);
}
END_TEST

/* Bare ACKs that are unacceptable are answered at most every 500 ms (ACK
 * wars); probes (SEG.SEQ = RCV.NXT - 1) and anything arriving while our
 * window is zero are always answered. */
START_TEST(test_tcp_data_oow_ack_rate_limit_spares_probes)
{
	uint32_t iss;
	int sd;
	struct tt *t = plain(1000, 65535, &iss, &sd);
	struct tt_seg s;

	tt_in(t, ".", IRS + 1 + 200000, iss + 1, 65535, NULL, 0);
	tt_expect(t, ".", &s);
	tt_in(t, ".", IRS + 1 + 200000, iss + 1, 65535, NULL, 0);
	tt_expect_none(t);                            /* limited */
	for (int i = 0; i < 3; i++) {
		tt_in(t, ".", IRS, iss + 1, 65535, NULL, 0);  /* probe form */
		tt_expect(t, ".", &s);
		ck_assert_uint_eq(s.ack, IRS + 1);
	}
	tt_advance(t, USTACK_MS(500));
	tt_in(t, ".", IRS + 1 + 200000, iss + 1, 65535, NULL, 0);
	tt_expect(t, ".", &s);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_data_out_of_window_acked_and_dropped)
{
	uint32_t iss;
	int sd;
	struct tt *t = plain(1000, 65535, &iss, &sd);
	struct tt_seg s;
	uint8_t buf[16];

	tt_in(t, ".", IRS + 1 + 300000, iss + 1, 65535, pattern, 10);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, IRS + 1);
	tt_in(t, ".", IRS - 5000, iss + 1, 65535, pattern, 10);   /* old */
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_DROP_OUT_OF_WINDOW), 2);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, buf, sizeof(buf), 0), -EAGAIN);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_data_receive_window_closes_and_reopens)
{
	struct ustack_config cfg;
	struct tt *t;
	struct tt_seg s;
	uint32_t iss, seq = IRS + 1;
	int l, sd, rcvbuf = 4096;
	uint8_t buf[8192];

	tt_config_plain(&cfg);
	t = tt_new_cfg(&cfg);
	l = ustack_socket(tt_st(t), AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(ustack_setsockopt(tt_st(t), l, SOL_SOCKET, SO_RCVBUF,
					   &rcvbuf, sizeof(rcvbuf)), 0);
	{
		struct sockaddr_in a = tt_sin(0, TT_PORT);

		ustack_bind(tt_st(t), l, (struct sockaddr *)&a, sizeof(a));
		ustack_listen(tt_st(t), l, 4);
	}
	tt_opt_mss(t, 1000);
	tt_in(t, "S", IRS, 0, 65535, NULL, 0);
	tt_expect(t, "S.", &s);
	ck_assert_uint_eq(s.win, 4096);
	iss = s.seq;
	tt_in(t, ".", seq, iss + 1, 65535, NULL, 0);
	sd = tt_accept(t, l);
	for (int i = 0; i < 4; i++, seq += 1000)
		tt_in(t, ".", seq, iss + 1, 65535, pattern, 1000);
	while (tt_out(t, &s))
		;
	ck_assert_uint_eq(s.ack, IRS + 4001);
	ck_assert_uint_eq(s.win, 96);
	tt_in(t, ".", seq, iss + 1, 65535, pattern, 96);
	tt_advance(t, USTACK_MS(50));
	while (tt_out(t, &s))
		;
	ck_assert_uint_eq(s.win, 0);                      /* window closed */
	seq += 96;
	/* A zero-window probe is acknowledged, its byte not taken. */
	tt_in(t, ".", seq, iss + 1, 65535, pattern, 1);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, seq);
	ck_assert_uint_eq(s.win, 0);
	/* Reading 100 bytes does not reopen (receiver SWS avoidance). */
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, buf, 100, 0), 100);
	tt_expect_none(t);
	/* Reading half the buffer does: a window update goes out. */
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, buf, 2000, 0), 2000);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.win, 2100);
	tt_free(t);
}
END_TEST

/* ---- sending ---------------------------------------------------------------- */

START_TEST(test_tcp_send_respects_peer_mss_and_window)
{
	uint32_t iss;
	int sd;
	struct tt *t = plain(100, 250, &iss, &sd);
	struct tt_seg s;

	ck_assert_int_eq(ustack_send(tt_st(t), sd, pattern, 1000, 0), 1000);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.len, 100);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.len, 100);
	/* 50 bytes fit but that is below half the largest window (SWS). */
	tt_expect_none(t);
	tt_in(t, ".", IRS + 1, iss + 201, 250, NULL, 0);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.seq, iss + 201);
	ck_assert_uint_eq(s.len, 100);
	ck_assert_int_eq(memcmp(s.data, pattern + 200, 100), 0);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_send_nagle_and_nodelay)
{
	uint32_t iss;
	int sd, one = 1;
	struct tt *t = plain(1000, 65535, &iss, &sd);
	struct tt_seg s;

	ustack_send(tt_st(t), sd, "a", 1, 0);
	tt_expect(t, "P.", &s);                 /* nothing in flight: goes */
	ustack_send(tt_st(t), sd, "b", 1, 0);
	ustack_send(tt_st(t), sd, "c", 1, 0);
	tt_expect_none(t);                      /* Nagle holds them */
	tt_in(t, ".", IRS + 1, iss + 2, 65535, NULL, 0);
	tt_expect(t, "P.", &s);
	ck_assert_uint_eq(s.len, 2);
	ck_assert_int_eq(memcmp(s.data, "bc", 2), 0);
	ck_assert_int_eq(ustack_setsockopt(tt_st(t), sd, IPPROTO_TCP,
					   TCP_NODELAY, &one, sizeof(one)), 0);
	ustack_send(tt_st(t), sd, "d", 1, 0);
	tt_expect(t, "P.", &s);                 /* in flight, but NODELAY */
	ck_assert_uint_eq(s.seq, iss + 4);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_send_zero_window_persist_probes_backoff)
{
	uint32_t iss;
	int sd;
	struct tt *t = plain(1000, 0, &iss, &sd);
	struct tt_seg s;
	ustack_time_t gap = USTACK_MS(200), last;

	ck_assert_int_eq(ustack_send(tt_st(t), sd, pattern, 3000, 0), 3000);
	tt_expect_none(t);
	ck_assert_int_eq(tt_conn(t, sd)->rtx_kind, TCP_RTX_PERSIST);
	last = t->tb->now;
	for (int i = 0; i < 4; i++) {
		tt_advance(t, gap - 1);
		tt_expect_none(t);
		tt_advance(t, 1);
		tt_expect(t, ".", &s);
		ck_assert_uint_eq(s.seq, iss + 1);
		ck_assert_uint_eq(s.len, 1);      /* one byte of new data */
		ck_assert_uint_eq(s.at - last, gap);
		last = s.at;
		tt_in(t, ".", IRS + 1, iss + 1, 0, NULL, 0); /* still closed */
		gap *= 2;
	}
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_ZERO_WINDOW_PROBES), 4);
	/* The window opens: data flows, the persist timer is gone. */
	tt_in(t, ".", IRS + 1, iss + 1, 5000, NULL, 0);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.seq, iss + 1);
	ck_assert_uint_eq(s.len, 1000);
	ck_assert_int_eq(tt_conn(t, sd)->rtx_kind, TCP_RTX_RETRANSMIT);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_send_probe_byte_accepted_advances)
{
	uint32_t iss;
	int sd;
	struct tt *t = plain(1000, 0, &iss, &sd);
	struct tt_seg s;

	ustack_send(tt_st(t), sd, pattern, 10, 0);
	tt_advance(t, USTACK_MS(200));
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.len, 1);
	/* The peer took the byte and opens a little. */
	tt_in(t, ".", IRS + 1, iss + 2, 100, NULL, 0);
	tt_expect(t, "P.", &s);
	ck_assert_uint_eq(s.seq, iss + 2);
	ck_assert_uint_eq(s.len, 9);
	ck_assert_int_eq(memcmp(s.data, pattern + 1, 9), 0);
	tt_free(t);
}
END_TEST

/* Trap: close() with data queued behind a zero window must still end. */
START_TEST(test_tcp_close_behind_zero_window_ends)
{
	struct ustack_config cfg;
	struct tt *t;
	struct tt_seg s;
	uint32_t iss;
	int l, sd;

	tt_config_plain(&cfg);
	cfg.tcp_retries2 = 5;
	cfg.tcp_rto_max_us = USTACK_SEC(10);
	t = tt_new_cfg(&cfg);
	l = tt_listen(t, TT_PORT, 4);
	tt_in(t, "S", IRS, 0, 0, NULL, 0);
	tt_expect(t, "S.", &s);
	iss = s.seq;
	tt_in(t, ".", IRS + 1, iss + 1, 0, NULL, 0);
	sd = tt_accept(t, l);
	ustack_send(tt_st(t), sd, pattern, 5000, 0);
	ustack_close(tt_st(t), sd);
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_FIN_WAIT_1);
	for (int i = 0; i < 40 && tt_find(t); i++) {
		tt_advance(t, USTACK_SEC(10));
		while (tt_out(t, &s))
			if (!(s.flags & TCP_RST))    /* the peer answers, closed */
				tt_in(t, ".", IRS + 1, iss + 1, 0, NULL, 0);
	}
	ck_assert_int_eq(tt_find_state(t), USTACK_TCP_CLOSED);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_ABORT_ON_TIMEOUT), 1);
	ck_assert_uint_eq(tt_st(t)->tcp.ntcb, 1);
	tt_free(t);
}
END_TEST

/* ---- retransmission ------------------------------------------------------------ */

START_TEST(test_tcp_rto_backoff_and_give_up)
{
	struct ustack_config cfg;
	struct tt *t;
	struct tt_seg s;
	uint32_t iss;
	int l, sd;
	ustack_time_t gap, last;

	tt_config_plain(&cfg);
	cfg.tcp_retries2 = 4;
	t = tt_new_cfg(&cfg);
	l = tt_listen(t, TT_PORT, 4);
	tt_in(t, "S", IRS, 0, 65535, NULL, 0);
	tt_expect(t, "S.", &s);
	iss = s.seq;
	tt_advance(t, USTACK_MS(100));               /* RTT 100 ms */
	tt_in(t, ".", IRS + 1, iss + 1, 65535, NULL, 0);
	sd = tt_accept(t, l);
	/* RFC 6298 2.2: SRTT 100 ms, RTTVAR 50 ms, RTO = 100 + 4*50 = 300 */
	ck_assert_uint_eq(tt_conn(t, sd)->rto_us, USTACK_MS(300));
	ustack_send(tt_st(t), sd, "xyz", 3, 0);
	tt_expect(t, "P.", &s);
	last = s.at;
	gap = USTACK_MS(300);
	for (int i = 0; i < 4; i++) {
		tt_advance(t, gap - 1);
		tt_expect_none(t);
		tt_advance(t, 1);
		tt_expect(t, "P.", &s);
		ck_assert_uint_eq(s.seq, iss + 1);
		ck_assert_uint_eq(s.len, 3);
		ck_assert_uint_eq(s.at - last, gap);
		last = s.at;
		gap *= 2;
	}
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_TIMEOUTS), 4);
	tt_advance(t, gap);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_CLOSED);
	ck_assert_int_eq(tt_so_error(t, sd), ETIMEDOUT);
	tt_expect_none(t);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_rto_restarts_on_new_ack_stops_when_all_acked)
{
	uint32_t iss;
	int sd;
	struct tt *t = plain(1000, 65535, &iss, &sd);
	struct tt_seg s;

	ustack_send(tt_st(t), sd, pattern, 3000, 0);
	for (int i = 0; i < 3; i++)
		tt_expect(t, ".", &s);
	tt_advance(t, USTACK_MS(150));
	tt_in(t, ".", IRS + 1, iss + 1001, 65535, NULL, 0);   /* RFC 6298 5.3 */
	ck_assert_uint_eq(tt_conn(t, sd)->t_rtx.at, t->tb->now + USTACK_MS(200));
	tt_advance(t, USTACK_MS(199));
	tt_expect_none(t);                        /* not at the old deadline */
	tt_advance(t, USTACK_MS(1));
	tt_expect(t, ".", &s);                    /* retransmits the oldest */
	ck_assert_uint_eq(s.seq, iss + 1001);
	ck_assert_uint_eq(s.len, 1000);
	tt_expect_none(t);
	tt_in(t, ".", IRS + 1, iss + 3001, 65535, NULL, 0);
	ck_assert(!timer_armed(&tt_conn(t, sd)->t_rtx));         /* 5.2 */
	tt_advance(t, USTACK_SEC(5));
	tt_expect_none(t);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_karn_no_sample_from_retransmission)
{
	uint32_t iss;
	int sd;
	struct tt *t = plain(1000, 65535, &iss, &sd);
	struct tt_seg s;
	uint32_t srtt;

	srtt = tt_conn(t, sd)->srtt_us;
	ustack_send(tt_st(t), sd, "q", 1, 0);
	tt_expect(t, "P.", &s);
	tt_advance(t, USTACK_MS(200));
	tt_expect(t, "P.", &s);                   /* retransmission */
	tt_advance(t, USTACK_MS(10));
	tt_in(t, ".", IRS + 1, iss + 2, 65535, NULL, 0);
	ck_assert_uint_eq(tt_conn(t, sd)->srtt_us, srtt);      /* no sample */
	ck_assert_uint_eq(tt_conn(t, sd)->rto_us, USTACK_MS(400)); /* kept */
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_fast_retransmit_only_lost_segment)
{
	uint32_t iss;
	int sd;
	struct tt *t = plain(1000, 65535, &iss, &sd);
	struct tt_seg s;
	uint32_t una;

	ck_assert_uint_eq(tt_conn(t, sd)->cwnd, 4000);      /* RFC 5681 IW */
	ustack_send(tt_st(t), sd, pattern, 8000, 0);
	for (int i = 0; i < 4; i++) {
		tt_expect(t, ".", &s);
		ck_assert_uint_eq(s.seq, iss + 1 + 1000 * (uint32_t)i);
	}
	tt_expect_none(t);
	tt_in(t, ".", IRS + 1, iss + 1001, 65535, NULL, 0);  /* cwnd 5000 */
	tt_expect(t, ".", &s);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.seq, iss + 5001);
	tt_expect_none(t);
	una = iss + 1001;                          /* segment 2 is lost */
	/* RFC 3042 limited transmit: each of the first two duplicates lets
	 * one new segment out. */
	tt_in(t, ".", IRS + 1, una, 65535, NULL, 0);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.seq, iss + 6001);
	tt_in(t, ".", IRS + 1, una, 65535, NULL, 0);
	tt_expect(t, "P.", &s);
	ck_assert_uint_eq(s.seq, iss + 7001);
	tt_expect_none(t);
	tt_in(t, ".", IRS + 1, una, 65535, NULL, 0);   /* third duplicate */
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.seq, una);
	ck_assert_uint_eq(s.len, 1000);
	ck_assert_int_eq(memcmp(s.data, pattern + 1000, 1000), 0);
	tt_expect_none(t);                         /* only that segment */
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_FAST_RETRANS), 1);
	/* RFC 5681 3.2 step 2: FlightSize 7000 less the 2000 sent by
	 * limited transmit ("MUST NOT be included"), halved. */
	ck_assert_uint_eq(tt_conn(t, sd)->ssthresh, 2500);
	ck_assert_uint_eq(tt_conn(t, sd)->cwnd, 5500);
	/* Partial ACK (up to the 4th segment): retransmit the next hole. */
	tt_in(t, ".", IRS + 1, iss + 4001, 65535, NULL, 0);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.seq, iss + 4001);
	ck_assert(tt_conn(t, sd)->in_recovery);
	/* Full ACK: recovery ends. */
	tt_in(t, ".", IRS + 1, iss + 8001, 65535, NULL, 0);
	ck_assert(!tt_conn(t, sd)->in_recovery);
	ck_assert_uint_le(tt_conn(t, sd)->cwnd, 2500);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_restart_after_idle)
{
	uint32_t iss;
	int sd;
	struct tt *t = plain(1000, 65535, &iss, &sd);
	struct tt_seg s;
	uint32_t acked = iss + 1;

	/* Grow cwnd. */
	for (int r = 0; r < 4; r++) {
		ustack_send(tt_st(t), sd, pattern, 4000, 0);
		while (tt_out(t, &s))
			acked = s.seq + s.len;
		tt_in(t, ".", IRS + 1, acked, 65535, NULL, 0);
		while (tt_out(t, &s))
			acked = s.seq + s.len;
		tt_in(t, ".", IRS + 1, acked, 65535, NULL, 0);
	}
	ck_assert_uint_gt(tt_conn(t, sd)->cwnd, 4000);
	tt_advance(t, USTACK_SEC(10));
	ustack_send(tt_st(t), sd, pattern, 10000, 0);
	ck_assert_uint_eq(tt_conn(t, sd)->cwnd, 4000);    /* RFC 5681 4.1 */
	tt_free(t);
}
END_TEST

/* Sequence numbers wrap (RFC 9293 3.4): in order, out of order and the
 * window all across 2^32. */
START_TEST(test_tcp_data_sequence_wraparound)
{
	struct ustack_config cfg;
	struct tt *t;
	struct tt_seg s;
	uint32_t irs = 0xfffffc00u, iss;
	int l, sd;
	uint8_t buf[4096];

	tt_config_plain(&cfg);
	t = tt_new_cfg(&cfg);
	l = tt_listen(t, TT_PORT, 4);
	tt_opt_mss(t, 1000);
	tt_in(t, "S", irs, 0, 65535, NULL, 0);
	tt_expect(t, "S.", &s);
	iss = s.seq;
	tt_in(t, ".", irs + 1, iss + 1, 65535, NULL, 0);
	sd = tt_accept(t, l);
	/* 0xfffffc01..: the second segment crosses zero, the third (sent
	 * first) lies entirely past it. */
	tt_in(t, ".", irs + 2001, iss + 1, 65535, pattern + 2000, 1000);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, irs + 1);
	tt_in(t, ".", irs + 1, iss + 1, 65535, pattern, 1000);
	tt_in(t, ".", irs + 1001, iss + 1, 65535, pattern + 1000, 1000);
	while (tt_out(t, &s))
		;
	ck_assert_uint_eq(s.ack, irs + 3001);
	ck_assert_uint_lt(s.ack, 0x1000u);          /* wrapped */
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, buf, sizeof(buf), 0), 3000);
	ck_assert_int_eq(memcmp(buf, pattern, 3000), 0);
	tt_expect(t, ".", &s);                        /* window update */
	tt_in(t, "F.", irs + 3001, iss + 1, 65535, NULL, 0);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, irs + 3002);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_CLOSE_WAIT);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_data_on_syn_not_taken)
{
	struct ustack_config cfg;
	struct tt *t;
	struct tt_seg s;
	int l, sd;
	uint8_t buf[16];

	tt_config_plain(&cfg);
	t = tt_new_cfg(&cfg);
	l = tt_listen(t, TT_PORT, 4);
	tt_in(t, "S", IRS, 0, 65535, "early", 5);
	tt_expect(t, "S.", &s);
	ck_assert_uint_eq(s.ack, IRS + 1);             /* only the SYN */
	tt_in(t, "P.", IRS + 1, s.seq + 1, 65535, "early", 5);
	sd = tt_accept(t, l);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, buf, sizeof(buf), 0), 5);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_bulk_transfer_byte_exact)
{
	uint32_t iss;
	int sd;
	struct tt *t = plain(1460, 65535, &iss, &sd);
	struct tt_seg s;
	static uint8_t got[200000];
	size_t sent = 0, rcvd = 0, total = 200000;
	uint32_t peer_ack = iss + 1;

	for (int round = 0; round < 10000 && rcvd < total; round++) {
		if (sent < total) {
			ssize_t n = ustack_send(tt_st(t), sd, pattern + sent,
						total - sent, 0);
			if (n > 0)
				sent += (size_t)n;
		}
		while (tt_out(t, &s)) {
			if (s.seq == peer_ack) {
				memcpy(got + rcvd, s.data, s.len);
				rcvd += s.len;
				peer_ack += s.len;
			}
		}
		tt_in(t, ".", IRS + 1, peer_ack, 65535, NULL, 0);
		tt_advance(t, USTACK_MS(1));
	}
	ck_assert_uint_eq(rcvd, total);
	ck_assert_int_eq(memcmp(got, pattern, total), 0);
	tt_free(t);
}
END_TEST

static Suite *tcp_data_suite(void)
{
	Suite *s = suite_create("tcp_data");
	TCase *tc = tcase_create("data");

	fill_pattern();
	tcase_add_test(tc, test_tcp_data_delayed_ack_timer_and_every_second_segment);
	tcase_add_test(tc, test_tcp_data_out_of_order_dup_ack_then_fill);
	tcase_add_test(tc, test_tcp_data_duplicates_and_overlaps_trimmed);
	tcase_add_test(tc, test_tcp_data_out_of_window_acked_and_dropped);
	tcase_add_test(tc, test_tcp_data_oow_ack_rate_limit_spares_probes);
	tcase_add_test(tc, test_tcp_data_receive_window_closes_and_reopens);
	tcase_add_test(tc, test_tcp_send_respects_peer_mss_and_window);
	tcase_add_test(tc, test_tcp_send_nagle_and_nodelay);
	tcase_add_test(tc, test_tcp_send_zero_window_persist_probes_backoff);
	tcase_add_test(tc, test_tcp_send_probe_byte_accepted_advances);
	tcase_add_test(tc, test_tcp_close_behind_zero_window_ends);
	tcase_add_test(tc, test_tcp_rto_backoff_and_give_up);
	tcase_add_test(tc, test_tcp_rto_restarts_on_new_ack_stops_when_all_acked);
	tcase_add_test(tc, test_tcp_karn_no_sample_from_retransmission);
	tcase_add_test(tc, test_tcp_fast_retransmit_only_lost_segment);
	tcase_add_test(tc, test_tcp_restart_after_idle);
	tcase_add_test(tc, test_tcp_data_sequence_wraparound);
	tcase_add_test(tc, test_tcp_data_on_syn_not_taken);
	tcase_add_test(tc, test_tcp_bulk_transfer_byte_exact);
	tcase_add_test(tc, test_tcp_idle_conn_holds_no_ooo_sack_or_rings);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tcp_data_suite)
