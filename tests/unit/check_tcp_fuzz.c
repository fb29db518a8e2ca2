/*
 * check_tcp_fuzz.c - hostile input, seeded: from each state, hundreds of
 * random segments (flags, sequence and acknowledgment numbers near and far
 * from the window, windows, option bytes, lengths) and random steps of
 * virtual time, with the application reading, writing and closing at
 * random. The stack must never crash, assert, leak a packet buffer or a
 * control block, or read out of bounds (run it under SANITIZE=1), and what
 * it sends must always carry a valid checksum.
 */
#include "lib/check_main.h"
#include "tcp_test.h"

#define IRS 1000u

static uint64_t rng(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* A sequence number: near the expected one most of the time. */
static uint32_t near(uint64_t *r, uint32_t base)
{
	switch (rng(r) % 4) {
	case 0:
		return base;
	case 1:
		return base + (uint32_t)(rng(r) % 70000) - 35000;
	case 2:
		return base + (uint32_t)(rng(r) % 4);
	default:
		return (uint32_t)rng(r);
	}
}

static void random_options(struct tt *t, uint64_t *r)
{
	uint8_t o[40];
	unsigned n = (unsigned)(rng(r) % 41);

	switch (rng(r) % 3) {
	case 0:
		return;
	case 1:            /* well-formed */
		if (rng(r) & 1)
			tt_opt_ts(t, (uint32_t)rng(r), (uint32_t)rng(r));
		if (rng(r) & 1) {
			uint32_t e[4] = {(uint32_t)rng(r), (uint32_t)rng(r),
					 (uint32_t)rng(r), (uint32_t)rng(r)};

			tt_opt_sack(t, e, 2);
		}
		return;
	default:           /* garbage */
		for (unsigned i = 0; i < n; i++)
			o[i] = (uint8_t)rng(r);
		tt_opt_raw(t, o, n);
	}
}

static void app_step(struct tt *t, int sd, uint64_t *r)
{
	static char buf[70000];

	switch (rng(r) % 8) {
	case 0:
		ustack_send(tt_st(t), sd, buf, (size_t)(rng(r) % 5000), 0);
		break;
	case 1:
		ustack_recv(tt_st(t), sd, buf, sizeof(buf), 0);
		break;
	case 2:
		if (rng(r) % 16 == 0)
			ustack_shutdown(tt_st(t), sd, SHUT_WR);
		break;
	default:
		break;
	}
}

START_TEST(test_tcp_fuzz_random_segments)
{
	uint64_t r = 0x9e3779b97f4a7c15ull * (uint64_t)(_i + 1);
	struct ustack_config cfg;
	struct tt *t;
	struct tt_seg s;
	uint32_t iss, p, a;
	int sd, lsd = -1;
	static uint8_t data[3000];

	tb_config(&cfg);
	cfg.tcp_syn_backlog = (uint32_t)(rng(&r) % 3);  /* cookies sometimes */
	cfg.tcp_sack = (int)(rng(&r) & 1);
	cfg.tcp_timestamps = (int)(rng(&r) & 1);
	cfg.tcp_max_conns = 4;
	t = tt_new_cfg(&cfg);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rng(&r);
	if (rng(&r) & 1) {
		sd = tt_passive(t, IRS, 8000, &iss, &lsd);
	} else {
		t->pport = 9999;
		sd = tt_active(t, IRS - 1, 8000, &iss);
	}
	p = IRS + 1;
	a = iss + 1;
	for (int i = 0; i < 400; i++) {
		uint8_t flags = (uint8_t)(rng(&r) & 0x3f);
		size_t len = rng(&r) % 3 == 0 ? (size_t)(rng(&r) % sizeof(data)) : 0;

		if (rng(&r) % 4)
			flags |= TCP_ACK;
		random_options(t, &r);
		tt_in_full(t, TB_PEER,
			   rng(&r) % 8 ? t->pport : (uint16_t)rng(&r),
			   rng(&r) % 8 ? t->port : (uint16_t)rng(&r), flags,
			   near(&r, p), near(&r, a), (uint16_t)rng(&r), data, len,
			   rng(&r) % 32 == 0);
		while (tt_out(t, &s)) {
			if (s.flags & TCP_ACK)
				p = s.ack;      /* follow the stack's view */
			a = s.seq + s.len;
		}
		if (rng(&r) % 4 == 0)
			tt_advance(t, rng(&r) % USTACK_SEC(3));
		app_step(t, sd, &r);
	}
	if (rng(&r) & 1)
		ustack_close(tt_st(t), sd);
	if (lsd >= 0 && (rng(&r) & 1))
		ustack_close(tt_st(t), lsd);
	tt_advance(t, USTACK_SEC(4000));
	tb_drain(t->tb);
	/* Everything closed by the application is gone by now. */
	for (struct tcp_conn *c = tt_st(t)->tcp.all; c; c = c->anext)
		ck_assert_msg(c->sk || c->state == USTACK_TCP_TIME_WAIT ||
			      c->state == USTACK_TCP_SYN_RCVD ||
			      c->state == USTACK_TCP_ESTABLISHED ||
			      c->state == USTACK_TCP_CLOSE_WAIT,
			      "orphan left in %s", ustack_tcp_state_name(c->state));
	tt_free(t);                 /* asserts every packet buffer came back */
}
END_TEST

static Suite *tcp_fuzz_suite(void)
{
	Suite *s = suite_create("tcp_fuzz");
	TCase *tc = tcase_create("fuzz");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_tcp_fuzz_random_segments, 0, 300);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tcp_fuzz_suite)
