/*
 * check_tcp_matrix.c - the transition table exercised: every state (and no
 * connection at all) meets each kind of segment, and the test asserts the
 * state that follows and what the stack sends within 50 ms. The table
 * below doubles as a summary of RFC 9293 3.10.7 with RFC 5961, 1337 and
 * 6191 as implemented (docs/tcp.md points here).
 *
 * The peer's segments use P = the stack's RCV.NXT and A = the stack's
 * SND.NXT (so an ACK acknowledges everything, our FIN included). "FIN" in
 * states that already have the peer's FIN is its retransmission (P - 1).
 */
#include "lib/check_main.h"
#include "tcp_test.h"

#define IRS 1000u
#define GONE -1            /* no TCB left for the 4-tuple */

enum kind { K_SYN, K_SYNACK, K_ACK, K_FIN, K_RST, K_DATA, K_OOW, K__N };
static const char *const kind_names[K__N] = {
	"SYN", "SYN-ACK", "ACK", "FIN", "RST", "data", "out-of-window",
};

/* State set-up: the test bed in that state; sets P and A. */
struct bed {
	struct tt *t;
	uint32_t p, a;
	int sd;
};

static void bed_established(struct bed *b)
{
	uint32_t iss;

	b->sd = tt_passive(b->t, IRS, 8000, &iss, NULL);
	b->p = IRS + 1;
	b->a = iss + 1;
}

static void setup_state(struct bed *b, int state)
{
	struct ustack_config cfg;
	struct tt_seg s;

	tt_config_plain(&cfg);
	b->t = tt_new_cfg(&cfg);
	b->sd = -1;
	switch (state) {
	case GONE:
		b->p = IRS + 1;
		b->a = 5;
		return;
	case USTACK_TCP_LISTEN:
		tt_listen(b->t, TT_PORT, 4);
		b->p = IRS;
		b->a = 5;
		return;
	case USTACK_TCP_SYN_SENT: {
		struct sockaddr_in a = tt_sin(TB_PEER, TT_PEER_PORT);

		b->sd = ustack_socket(tt_st(b->t), AF_INET, SOCK_STREAM, 0);
		ustack_connect(tt_st(b->t), b->sd, (struct sockaddr *)&a, sizeof(a));
		tt_expect(b->t, "S", &s);
		b->t->port = s.sport;
		b->p = 5000;
		b->a = s.seq + 1;
		return;
	}
	case USTACK_TCP_SYN_RCVD:
		tt_listen(b->t, TT_PORT, 4);
		tt_in(b->t, "S", IRS, 0, 8000, NULL, 0);
		tt_expect(b->t, "S.", &s);
		b->p = IRS + 1;
		b->a = s.seq + 1;
		return;
	default:
		break;
	}
	bed_established(b);
	switch (state) {
	case USTACK_TCP_FIN_WAIT_1:
	case USTACK_TCP_FIN_WAIT_2:
	case USTACK_TCP_CLOSING:
	case USTACK_TCP_TIME_WAIT:
		ustack_shutdown(tt_st(b->t), b->sd, SHUT_WR);
		tt_expect(b->t, "F.", &s);
		b->a++;
		break;
	case USTACK_TCP_CLOSE_WAIT:
	case USTACK_TCP_LAST_ACK:
		tt_in(b->t, "F.", b->p, b->a, 8000, NULL, 0);
		tt_expect(b->t, ".", &s);
		b->p++;
		if (state == USTACK_TCP_LAST_ACK) {
			ustack_shutdown(tt_st(b->t), b->sd, SHUT_WR);
			tt_expect(b->t, "F.", &s);
			b->a++;
		}
		break;
	}
	if (state == USTACK_TCP_FIN_WAIT_2 || state == USTACK_TCP_TIME_WAIT)
		tt_in(b->t, ".", b->p, b->a, 8000, NULL, 0);
	if (state == USTACK_TCP_CLOSING)
		tt_in(b->t, "F.", b->p, b->a - 1, 8000, NULL, 0); /* ours unacked */
	if (state == USTACK_TCP_TIME_WAIT)
		tt_in(b->t, "F.", b->p, b->a, 8000, NULL, 0);
	if (state == USTACK_TCP_CLOSING || state == USTACK_TCP_TIME_WAIT) {
		tt_expect(b->t, ".", &s);
		b->p++;
	}
	tt_expect_none(b->t);
	ck_assert_ptr_nonnull(tt_find(b->t));
	ck_assert_int_eq(tt_find(b->t)->state, state);
}

static void send_kind(struct bed *b, enum kind k, int have_fin)
{
	static const uint8_t ten[10] = "0123456789";
	struct tt *t = b->t;

	switch (k) {
	case K_SYN:
		tt_in(t, "S", b->p + 100, 0, 8000, NULL, 0);
		break;
	case K_SYNACK:
		tt_in(t, "S.", b->p + 100, b->a, 8000, NULL, 0);
		break;
	case K_ACK:
		tt_in(t, ".", b->p, b->a, 8000, NULL, 0);
		break;
	case K_FIN:
		tt_in(t, "F.", have_fin ? b->p - 1 : b->p, b->a, 8000, NULL, 0);
		break;
	case K_RST:
		tt_in(t, "R", b->p, 0, 0, NULL, 0);
		break;
	case K_DATA:
		tt_in(t, "P.", b->p, b->a, 8000, ten, sizeof(ten));
		break;
	default:
		tt_in(t, "P.", b->p + 1000000, b->a, 8000, ten, sizeof(ten));
		break;
	}
}

struct row {
	int state;                 /* before (GONE: no connection) */
	const char *reply[K__N];   /* flags sent within 50 ms, "" none */
	int after[K__N];           /* state after (GONE: no TCB) */
};

#define S(x) USTACK_TCP_##x

/*            SYN     SYN-ACK  ACK   FIN    RST   data   out-of-window */
static const struct row rows[] = {
	{GONE, {"R.", "R", "R", "R", "", "R", "R"},
	 {GONE, GONE, GONE, GONE, GONE, GONE, GONE}},
	{S(LISTEN), {"S.", "R", "R", "R", "", "R", "R"},
	 {S(SYN_RCVD), GONE, GONE, GONE, GONE, GONE, GONE}},
	{S(SYN_SENT), {"S.", ".", "", "", "", "", ""},
	 {S(SYN_RCVD), S(ESTABLISHED), S(SYN_SENT), S(SYN_SENT), S(SYN_SENT),
	  S(SYN_SENT), S(SYN_SENT)}},
	{S(SYN_RCVD), {"", "", "", ".", "", ".", "."},
	 {GONE, GONE, S(ESTABLISHED), S(CLOSE_WAIT), GONE, S(ESTABLISHED),
	  S(SYN_RCVD)}},
	{S(ESTABLISHED), {".", ".", "", ".", "", ".", "."},
	 {S(ESTABLISHED), S(ESTABLISHED), S(ESTABLISHED), S(CLOSE_WAIT), GONE,
	  S(ESTABLISHED), S(ESTABLISHED)}},
	{S(FIN_WAIT_1), {".", ".", "", ".", "", ".", "."},
	 {S(FIN_WAIT_1), S(FIN_WAIT_1), S(FIN_WAIT_2), S(TIME_WAIT), GONE,
	  S(FIN_WAIT_2), S(FIN_WAIT_1)}},
	{S(FIN_WAIT_2), {".", ".", "", ".", "", ".", "."},
	 {S(FIN_WAIT_2), S(FIN_WAIT_2), S(FIN_WAIT_2), S(TIME_WAIT), GONE,
	  S(FIN_WAIT_2), S(FIN_WAIT_2)}},
	{S(CLOSE_WAIT), {".", ".", "", ".", "", "", "."},
	 {S(CLOSE_WAIT), S(CLOSE_WAIT), S(CLOSE_WAIT), S(CLOSE_WAIT), GONE,
	  S(CLOSE_WAIT), S(CLOSE_WAIT)}},
	{S(CLOSING), {".", ".", "", ".", "", "", "."},
	 {S(CLOSING), S(CLOSING), S(TIME_WAIT), S(CLOSING), GONE,
	  S(TIME_WAIT), S(CLOSING)}},
	{S(LAST_ACK), {".", ".", "", ".", "", "", "."},
	 {S(LAST_ACK), S(LAST_ACK), GONE, S(LAST_ACK), GONE, GONE,
	  S(LAST_ACK)}},
	/* TIME_WAIT: a SYN above rcv_nxt opens a new connection (RFC 6191);
	 * RST ignored (RFC 1337). */
	{S(TIME_WAIT), {"S.", ".", "", ".", "", ".", "."},
	 {S(SYN_RCVD), S(TIME_WAIT), S(TIME_WAIT), S(TIME_WAIT), S(TIME_WAIT),
	  S(TIME_WAIT), S(TIME_WAIT)}},
};

static int has_peer_fin(int state)
{
	return state == S(CLOSE_WAIT) || state == S(CLOSING) ||
	       state == S(LAST_ACK) || state == S(TIME_WAIT);
}

START_TEST(test_tcp_matrix_state_by_segment)
{
	const struct row *r = &rows[_i / K__N];
	enum kind k = (enum kind)(_i % K__N);
	struct bed b;
	struct tt_seg s;
	struct tcp_conn *c;
	int after;
	char got[8] = "", fl[8];

	setup_state(&b, r->state);
	send_kind(&b, k, has_peer_fin(r->state));
	tt_advance(b.t, USTACK_MS(50));
	if (tt_out(b.t, &s))
		tt_flagstr(s.flags & (uint8_t)~TCP_PSH, got);
	c = tt_find(b.t);
	after = c ? c->state : GONE;
	ck_assert_msg(!strcmp(got, r->reply[k]),
		      "%s + %s: sent [%s], expected [%s]",
		      r->state == GONE ? "no connection"
				       : ustack_tcp_state_name(r->state),
		      kind_names[k], got, r->reply[k]);
	ck_assert_msg(after == r->after[k], "%s + %s: now %s, expected %s",
		      r->state == GONE ? "no connection"
				       : ustack_tcp_state_name(r->state),
		      kind_names[k],
		      after == GONE ? "no TCB" : ustack_tcp_state_name(after),
		      r->after[k] == GONE ? "no TCB"
					  : ustack_tcp_state_name(r->after[k]));
	/* Nothing more than one segment in answer. */
	if (tt_out(b.t, &s))
		ck_abort_msg("%s + %s: a second segment [%s]",
			     ustack_tcp_state_name(r->state), kind_names[k],
			     tt_flagstr(s.flags, fl));
	tt_free(b.t);
}
END_TEST

static Suite *tcp_matrix_suite(void)
{
	Suite *s = suite_create("tcp_matrix");
	TCase *tc = tcase_create("matrix");

	tcase_add_loop_test(tc, test_tcp_matrix_state_by_segment, 0,
			    (int)(USTACK_ARRAY_SIZE(rows) * K__N));
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tcp_matrix_suite)
