/*
 * check_tcp_opt.c - TCP options and what hangs off them: negotiation of
 * MSS, window scale, SACK-permitted and timestamps; window scaling applied
 * both ways; timestamps on every segment, RTT from TSecr, PAWS and its
 * 24-day rule, segments missing TSopt; SACK blocks we send and SACK-based
 * recovery (RFC 6675); malformed options; SYN cookies under a SYN flood;
 * keepalive; ICMP errors (port unreachable, fragmentation needed).
 */
#include "lib/check_main.h"
#include "tcp_test.h"
#include "wire/icmp.h"

#define IRS 1000u
#define PTS 500000u        /* the peer's timestamp clock */

static uint8_t pattern[1 << 16];

/* Passive open with every option offered; returns the accepted sd. */
static int full_passive(struct tt *t, uint32_t *iss, struct tt_seg *synack)
{
	int l = tt_listen(t, TT_PORT, 8), sd;

	tt_opt_mss(t, 1460);
	tt_opt_ws(t, 7);
	tt_opt_sackok(t);
	tt_opt_ts(t, PTS, 0);
	tt_in(t, "S", IRS, 0, 512, NULL, 0);
	tt_expect(t, "S.", synack);
	*iss = synack->seq;
	tt_opt_ts(t, PTS + 1, synack->opt.tsval);
	tt_in(t, ".", IRS + 1, *iss + 1, 512, NULL, 0);
	sd = tt_accept(t, l);
	ck_assert_int_ge(sd, 0);
	return sd;
}

START_TEST(test_tcp_opt_synack_answers_offered_options)
{
	struct tt *t = tt_new();
	struct tt_seg s;
	uint32_t iss;
	int sd = full_passive(t, &iss, &s);
	struct tcp_conn *c = tt_conn(t, sd);

	ck_assert(s.opt.has_mss && s.opt.has_ws && s.opt.sack_ok && s.opt.has_ts);
	ck_assert_uint_eq(s.opt.mss, 1460);
	ck_assert_uint_eq(s.opt.wscale, 3);        /* 256 KiB >> 3 < 64 KiB */
	ck_assert_uint_eq(s.opt.tsecr, PTS);
	ck_assert(c->ws_ok && c->sack_ok && c->ts_ok);
	ck_assert_uint_eq(c->snd_wscale, 7);
	ck_assert_uint_eq(c->snd_wnd, 512u << 7);  /* the ACK's window, scaled */
	ck_assert_uint_eq(c->smss, 1460 - 12);     /* timestamps take 12 */
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_opt_only_what_both_offer)
{
	struct ustack_config cfg;
	struct tt *t;
	struct tt_seg s;

	tb_config(&cfg);
	cfg.tcp_sack = 0;
	t = tt_new_cfg(&cfg);
	tt_listen(t, TT_PORT, 8);
	tt_opt_ws(t, 2);
	tt_opt_sackok(t);
	tt_in(t, "S", IRS, 0, 512, NULL, 0);
	tt_expect(t, "S.", &s);
	ck_assert(s.opt.has_ws && !s.opt.sack_ok && !s.opt.has_ts);
	ck_assert_uint_eq(s.opt.mss, 1460);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_opt_window_scale_both_ways)
{
	struct tt *t = tt_new();
	struct tt_seg s;
	uint32_t iss;
	int sd = full_passive(t, &iss, &s);

	tt_opt_ts(t, PTS + 2, 0);
	tt_in(t, ".", IRS + 1, iss + 1, 3, NULL, 0);
	ck_assert_uint_eq(tt_conn(t, sd)->snd_wnd, 3u << 7);
	ustack_send(tt_st(t), sd, pattern, 500, 0);
	tt_expect_none(t);            /* 384 fit: below max window/2 (SWS) */
	tt_opt_ts(t, PTS + 2, 0);
	tt_in(t, ".", IRS + 1, iss + 1, 4, NULL, 0);   /* 512: all of it */
	tt_expect(t, "P.", &s);
	ck_assert_uint_eq(s.len, 500);
	/* Our window field is scaled by our shift (3). */
	ck_assert_uint_eq(s.win, (256u << 10) >> 3);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_opt_timestamps_on_every_segment)
{
	struct tt *t = tt_new();
	struct tt_seg s;
	uint32_t iss;
	int sd = full_passive(t, &iss, &s);
	uint32_t v0;

	ustack_send(tt_st(t), sd, "ab", 2, 0);
	tt_expect(t, "P.", &s);
	ck_assert(s.opt.has_ts);
	ck_assert_uint_eq(s.opt.tsecr, PTS + 1);
	v0 = s.opt.tsval;
	tt_advance(t, USTACK_MS(200));
	tt_expect(t, "P.", &s);                        /* retransmission */
	ck_assert(s.opt.has_ts);                       /* never blocked by TS */
	ck_assert_uint_eq(s.opt.tsval, v0 + 200);      /* 1 ms clock, fresh */
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_opt_rtt_from_tsecr)
{
	struct tt *t = tt_new();
	struct tt_seg s;
	uint32_t iss;
	int sd = full_passive(t, &iss, &s);

	ustack_send(tt_st(t), sd, "ab", 2, 0);
	tt_expect(t, "P.", &s);
	tt_advance(t, USTACK_MS(80));
	tt_opt_ts(t, PTS + 5, s.opt.tsval);
	tt_in(t, ".", IRS + 1, iss + 3, 512, NULL, 0);
	/* first sample at the handshake was 0; now 80 ms */
	ck_assert_uint_eq(tt_conn(t, sd)->srtt_us, 10000);   /* 7/8*0+80/8 */
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_opt_paws_drops_old_timestamp)
{
	struct tt *t = tt_new();
	struct tt_seg s;
	uint32_t iss;
	int sd = full_passive(t, &iss, &s);
	uint8_t b[8];

	tt_opt_ts(t, PTS + 10, 0);
	tt_in(t, ".", IRS + 1, iss + 1, 512, "new", 3);
	tt_opt_ts(t, PTS + 3, 0);                      /* older than TS.Recent */
	tt_in(t, ".", IRS + 4, iss + 1, 512, "old", 3);
	tt_advance(t, USTACK_MS(100));
	while (tt_out(t, &s))
		;
	ck_assert_uint_eq(s.ack, IRS + 4);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_DROP_PAWS), 1);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, b, 8, 0), 3);
	ck_assert_int_eq(memcmp(b, "new", 3), 0);
	ck_assert_uint_eq(tt_conn(t, sd)->ts_recent, PTS + 10);
	/* A RST is acceptable regardless of its timestamp. */
	tt_opt_ts(t, PTS, 0);
	tt_in(t, "R", IRS + 4, 0, 0, NULL, 0);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_CLOSED);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_opt_paws_24_day_rule)
{
	struct tt *t = tt_new();
	struct tt_seg s;
	uint32_t iss;
	int sd = full_passive(t, &iss, &s);
	uint8_t b[8];

	tt_advance(t, USTACK_SEC(25ull * 24 * 3600));
	tt_opt_ts(t, PTS - 100, 0);       /* "older", but TS.Recent expired */
	tt_in(t, ".", IRS + 1, iss + 1, 512, "zz", 2);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, b, 8, 0), 2);
	ck_assert_uint_eq(tt_conn(t, sd)->ts_recent, PTS - 100);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_opt_missing_ts_dropped_when_negotiated)
{
	struct tt *t = tt_new();
	struct tt_seg s;
	uint32_t iss;
	int sd = full_passive(t, &iss, &s);
	uint8_t b[8];

	tt_in(t, ".", IRS + 1, iss + 1, 512, "nots", 4);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_DROP_NO_TS), 1);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, b, 8, 0), -EAGAIN);
	tt_free(t);
}
END_TEST

/* Trap: SYN_RCVD, timestamps negotiated, the final ACK without TSopt. */
START_TEST(test_tcp_opt_synrcvd_final_ack_without_ts_accepted)
{
	struct tt *t = tt_new();
	int l = tt_listen(t, TT_PORT, 8);
	struct tt_seg s;

	tt_opt_ts(t, PTS, 0);
	tt_in(t, "S", IRS, 0, 512, NULL, 0);
	tt_expect(t, "S.", &s);
	ck_assert(s.opt.has_ts);
	tt_in(t, ".", IRS + 1, s.seq + 1, 512, NULL, 0);     /* no TSopt */
	ck_assert_int_ge(tt_accept(t, l), 0);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_opt_sack_blocks_most_recent_first)
{
	struct tt *t = tt_new();
	struct tt_seg s;
	uint32_t iss, base = IRS + 1;
	int sd = full_passive(t, &iss, &s);

	(void)sd;
	for (int i = 0; i < 4; i++) {
		uint32_t seq = base + 1000 + 2000 * (uint32_t)i;

		tt_opt_ts(t, PTS + 10, 0);
		tt_in(t, ".", seq, iss + 1, 512, pattern, 1000);
		tt_expect(t, ".", &s);
		ck_assert_uint_eq(s.ack, base);
		ck_assert_uint_eq(s.opt.nsack, i < 3 ? i + 1 : 3); /* 3 with TS */
		ck_assert_uint_eq(s.opt.sack[0].l, seq);             /* newest */
		ck_assert_uint_eq(s.opt.sack[0].r, seq + 1000);
	}
	ck_assert_uint_eq(s.opt.sack[1].l, base + 5000);
	ck_assert_uint_eq(s.opt.sack[2].l, base + 3000);
	/* Fill the first hole: the first island joins, three remain. */
	tt_opt_ts(t, PTS + 10, 0);
	tt_in(t, ".", base, iss + 1, 512, pattern, 1000);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, base + 2000);
	ck_assert_uint_eq(s.opt.nsack, 3);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_opt_sack_recovery_resends_only_holes)
{
	struct tt *t = tt_new();
	struct tt_seg s;
	uint32_t iss, d;
	int sd = full_passive(t, &iss, &s);
	uint32_t m = 1448, edges[2];
	int n = 0;

	/* One round trip first so that cwnd holds four segments. */
	ustack_send(tt_st(t), sd, pattern, m, 0);
	tt_expect(t, "P.", &s);
	d = iss + 1 + m;
	tt_opt_ts(t, PTS + 2, 0);
	tt_in(t, ".", IRS + 1, d, 512, NULL, 0);
	ustack_send(tt_st(t), sd, pattern, 4 * m, 0);
	while (tt_out(t, &s))
		n++;
	ck_assert_int_eq(n, 4);
	/* Segment 1 lost: 2, 3 and 4 arrive, each ACK SACKing one more (a
	 * duplicate ACK brings new SACK information, RFC 6675 2). */
	for (uint32_t i = 2; i <= 4; i++) {
		edges[0] = d + m;
		edges[1] = d + i * m;
		tt_opt_ts(t, PTS + 3, 0);
		tt_opt_sack(t, edges, 1);
		tt_in(t, ".", IRS + 1, d, 512, NULL, 0);
	}
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.seq, d);                     /* the hole */
	ck_assert_uint_eq(s.len, m);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_SACK_RECOVERY), 1);
	tt_expect_none(t);            /* never a SACKed segment */
	/* The same SACK again (duplicated by the network) is no news. */
	tt_opt_ts(t, PTS + 3, 0);
	tt_opt_sack(t, edges, 1);
	tt_in(t, ".", IRS + 1, d, 512, NULL, 0);
	tt_expect_none(t);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_opt_malformed_never_crash)
{
	static const uint8_t cases[][6] = {
		{TCP_OPT_MSS, 0, 0, 0},             /* zero length */
		{TCP_OPT_MSS, 1, 0, 0},             /* length 1 */
		{TCP_OPT_TIMESTAMP, 40, 0, 0},      /* beyond the header */
		{TCP_OPT_SACK, 3, 1, 0},            /* SACK of nonsense length */
		{0x99, 4, 1, 2},                    /* unknown: skipped */
		{TCP_OPT_NOP, TCP_OPT_NOP, TCP_OPT_NOP, TCP_OPT_MSS},
	};
	struct tt *t = tt_new();
	struct tt_seg s;
	uint32_t iss;
	int sd = tt_passive(t, IRS, 8000, &iss, NULL);

	for (unsigned i = 0; i < USTACK_ARRAY_SIZE(cases); i++) {
		tt_opt_raw(t, cases[i], 4);
		tt_in(t, ".", IRS + 1, iss + 1, 8000, "x", 1);
		tt_opt_raw(t, cases[i], 4);
		tt_in_full(t, TB_PEER, 1234, 9, TCP_SYN, 5, 0, 100, NULL, 0, 0);
	}
	ck_assert_uint_ge(tt_stat(t, USTACK_STAT_TCP_DROP_BAD_OPTIONS), 6);
	while (tt_out(t, &s))
		;
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_ESTABLISHED);
	tt_free(t);
}
END_TEST

/* ---- SYN cookies ----------------------------------------------------------- */

START_TEST(test_tcp_syncookies_flood_legit_client_gets_in)
{
	struct ustack_config cfg;
	struct tt *t;
	struct tt_seg s;
	int l, sd;
	uint8_t b[8];

	tb_config(&cfg);
	cfg.tcp_syn_backlog = 4;
	t = tt_new_cfg(&cfg);
	l = tt_listen(t, TT_PORT, 16);
	/* The flood: SYNs from many ports that never complete. */
	for (uint16_t p = 0; p < 50; p++) {
		tt_in_full(t, TB_PEER, (uint16_t)(2000 + p), TT_PORT, TCP_SYN,
			   7777, 0, 1000, NULL, 0, 0);
		tt_expect(t, "S.", &s);
	}
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_SYNCOOKIES_SENT), 46);
	ck_assert_uint_eq(tt_st(t)->tcp.nconns, 4);   /* no state for cookies */
	/* A legitimate client, with timestamps, window scale and SACK. */
	tt_opt_mss(t, 1400);
	tt_opt_ws(t, 5);
	tt_opt_sackok(t);
	tt_opt_ts(t, PTS, 0);
	tt_in(t, "S", IRS, 0, 1000, NULL, 0);
	tt_expect(t, "S.", &s);
	ck_assert(s.opt.has_ts && s.opt.has_ws && s.opt.sack_ok);
	tt_opt_ts(t, PTS + 1, s.opt.tsval);
	tt_in(t, ".", IRS + 1, s.seq + 1, 1000, "hi", 2);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_SYNCOOKIES_OK), 1);
	sd = tt_accept(t, l);
	ck_assert_int_ge(sd, 0);
	ck_assert_int_eq(ustack_recv(tt_st(t), sd, b, 8, 0), 2);
	ck_assert_uint_eq(tt_conn(t, sd)->snd_wscale, 5);
	ck_assert(tt_conn(t, sd)->sack_ok && tt_conn(t, sd)->ts_ok);
	ck_assert_uint_eq(tt_conn(t, sd)->mss_clamp, 1360);  /* table entry */
	/* A forged cookie gets a RST. */
	tt_in_full(t, TB_PEER, 3333, TT_PORT, TCP_ACK, 1, 12345, 1000, NULL, 0, 0);
	tt_expect(t, ".", &s);                 /* (the ACK for "hi") */
	tt_expect(t, "R", &s);
	ck_assert_uint_eq(s.seq, 12345);
	ck_assert_uint_ge(tt_stat(t, USTACK_STAT_TCP_SYNCOOKIES_FAILED), 1);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_syncookie_expires)
{
	struct ustack_config cfg;
	struct tt *t;
	struct tt_seg s;
	int l;

	tb_config(&cfg);
	cfg.tcp_syn_backlog = 0;
	t = tt_new_cfg(&cfg);
	l = tt_listen(t, TT_PORT, 16);
	tt_in(t, "S", IRS, 0, 1000, NULL, 0);
	tt_expect(t, "S.", &s);
	tt_advance(t, USTACK_SEC(200));
	tt_in(t, ".", IRS + 1, s.seq + 1, 1000, NULL, 0);
	tt_expect(t, "R", &s);
	ck_assert_int_eq(tt_accept(t, l), -EAGAIN);
	tt_free(t);
}
END_TEST

/* ---- keepalive ------------------------------------------------------------- */

START_TEST(test_tcp_keepalive_probes_and_timeout)
{
	struct tt *t = tt_new();
	uint32_t iss;
	int sd = tt_passive(t, IRS, 8000, &iss, NULL), one = 1, idle = 10,
	    intvl = 2, cnt = 3;
	struct tt_seg s;

	ustack_setsockopt(tt_st(t), sd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(int));
	ustack_setsockopt(tt_st(t), sd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(int));
	ustack_setsockopt(tt_st(t), sd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(int));
	ck_assert_int_eq(ustack_setsockopt(tt_st(t), sd, SOL_SOCKET, SO_KEEPALIVE,
					   &one, sizeof(one)), 0);
	tt_advance(t, USTACK_SEC(10) - 1);
	tt_expect_none(t);
	tt_advance(t, 1);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.seq, iss);          /* SND.NXT - 1 */
	ck_assert_uint_eq(s.len, 0);
	/* Answered: idle again for 10 s. */
	tt_in(t, ".", IRS + 1, iss + 1, 8000, NULL, 0);
	tt_advance(t, USTACK_SEC(10) - 1);
	tt_expect_none(t);
	tt_advance(t, 1);
	tt_expect(t, ".", &s);
	for (int i = 0; i < 2; i++) {
		tt_advance(t, USTACK_SEC(2));
		tt_expect(t, ".", &s);
	}
	tt_advance(t, USTACK_SEC(2));
	tt_expect(t, "R.", &s);
	ck_assert_int_eq(tt_so_error(t, sd), ETIMEDOUT);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_KEEPALIVE_PROBES), 4);
	tt_free(t);
}
END_TEST

/* ---- ICMP errors --------------------------------------------------------- */

/* Inject an ICMP destination unreachable quoting the frame fr. */
static void icmp_about(struct tt *t, const struct tb_frame *fr, uint8_t code,
		       uint16_t mtu)
{
	static uint8_t f[2000];
	const uint8_t *ip = fr->data + ETH_HDR_LEN;
	size_t n = pkt_icmp(f, TB_MAC, TB_PEER_MAC, TB_PEER, TB_ADDR,
			    ICMP_DEST_UNREACH, code, 0, mtu, ip,
			    ip4_hlen(ip) + 8);

	tb_inject(t->tb, f, n);
}

static struct tb_frame *pop_tcp_frame(struct tt *t)
{
	struct tb_frame *fr;
	struct pkt_view v;

	while ((fr = tb_pop(t->tb)) != NULL) {
		if (pkt_parse(fr->data, fr->len, &v) == 0 && v.ip &&
		    v.ip_proto == IP4_PROTO_TCP)
			return fr;
		free(fr);
	}
	ck_abort_msg("no TCP frame");
	return NULL;
}

START_TEST(test_tcp_icmp_port_unreachable_refuses_connect)
{
	struct tt *t = tt_new();
	struct sockaddr_in a = tt_sin(TB_PEER, 99);
	int sd = ustack_socket(tt_st(t), AF_INET, SOCK_STREAM, 0);
	struct tb_frame *fr;

	ustack_connect(tt_st(t), sd, (struct sockaddr *)&a, sizeof(a));
	fr = pop_tcp_frame(t);
	icmp_about(t, fr, ICMP_HOST_UNREACH, 0);     /* soft: keeps trying */
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_SYN_SENT);
	icmp_about(t, fr, ICMP_PORT_UNREACH, 0);
	free(fr);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_CLOSED);
	ck_assert_int_eq(tt_so_error(t, sd), ECONNREFUSED);
	tt_free(t);
}
END_TEST

START_TEST(test_tcp_icmp_frag_needed_lowers_mss)
{
	struct tt *t = tt_new();
	uint32_t iss;
	int sd;
	struct tb_frame *fr;
	struct tt_seg s;

	tt_opt_mss(t, 1460);
	sd = tt_passive(t, IRS, 65535, &iss, NULL);
	ustack_send(tt_st(t), sd, pattern, 1460, 0);
	fr = pop_tcp_frame(t);
	icmp_about(t, fr, ICMP_FRAG_NEEDED, 1000);
	free(fr);
	ck_assert_uint_eq(tt_conn(t, sd)->mss_clamp, 960);
	tt_expect(t, ".", &s);                       /* resent, smaller */
	ck_assert_uint_eq(s.len, 960);
	ck_assert_uint_eq(s.seq, iss + 1);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_PMTU_UPDATES), 1);
	tt_free(t);
}
END_TEST

static Suite *tcp_opt_suite(void)
{
	Suite *s = suite_create("tcp_opt");
	TCase *tc = tcase_create("opt");

	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 3);
	tcase_add_test(tc, test_tcp_opt_synack_answers_offered_options);
	tcase_add_test(tc, test_tcp_opt_only_what_both_offer);
	tcase_add_test(tc, test_tcp_opt_window_scale_both_ways);
	tcase_add_test(tc, test_tcp_opt_timestamps_on_every_segment);
	tcase_add_test(tc, test_tcp_opt_rtt_from_tsecr);
	tcase_add_test(tc, test_tcp_opt_paws_drops_old_timestamp);
	tcase_add_test(tc, test_tcp_opt_paws_24_day_rule);
	tcase_add_test(tc, test_tcp_opt_missing_ts_dropped_when_negotiated);
	tcase_add_test(tc, test_tcp_opt_synrcvd_final_ack_without_ts_accepted);
	tcase_add_test(tc, test_tcp_opt_sack_blocks_most_recent_first);
	tcase_add_test(tc, test_tcp_opt_sack_recovery_resends_only_holes);
	tcase_add_test(tc, test_tcp_opt_malformed_never_crash);
	tcase_add_test(tc, test_tcp_syncookies_flood_legit_client_gets_in);
	tcase_add_test(tc, test_tcp_syncookie_expires);
	tcase_add_test(tc, test_tcp_keepalive_probes_and_timeout);
	tcase_add_test(tc, test_tcp_icmp_port_unreachable_refuses_connect);
	tcase_add_test(tc, test_tcp_icmp_frag_needed_lowers_mss);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tcp_opt_suite)
