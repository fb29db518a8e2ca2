/*
 * check_tcp_cubic.c - CUBIC (RFC 9438) against its formulas: the
 * reduction (4.6) and fast convergence (4.7), the Reno-friendly region
 * (4.3, alpha 9/17 then 1), the concave and convex regions around K
 * (4.4, 4.5), K = 0 after a timeout (4.8), undo (4.9). A connection's
 * congestion state is driven directly (tcp_cubic_*), with ACKs of one
 * segment arriving a window per RTT, and compared with the RFC's
 * equations computed in floating point, in segments and seconds.
 */
#include "lib/check_main.h"
#include "tcp_test.h"

#define SMSS 1000u

static struct tt *conn(struct tcp_conn **c)
{
	struct ustack_config cfg;
	struct tt *t;
	struct tt_seg s;
	int l, sd;

	tt_config_plain(&cfg);
	cfg.tcp_congestion = USTACK_TCP_CC_CUBIC;
	t = tt_new_cfg(&cfg);
	tt_opt_mss(t, SMSS);
	l = tt_listen(t, TT_PORT, 8);
	tt_in(t, "S", 1000, 0, 65535, NULL, 0);
	tt_expect(t, "S.", &s);
	tt_in(t, ".", 1001, s.seq + 1, 65535, NULL, 0);
	sd = tt_accept(t, l);
	ck_assert_int_ge(sd, 0);
	*c = tt_conn(t, sd);
	ck_assert_uint_eq((*c)->smss, SMSS);
	return t;
}

/* A loss at cwnd (bytes, all in flight): what tcp_cc.c does. */
static void loss(struct tcp_conn *c, uint32_t cwnd)
{
	uint32_t ss;

	c->cwnd = cwnd;
	ck_assert_int_eq(tcp_cubic_loss(c, cwnd, &ss), 0);
	c->ssthresh = c->cwnd = ss;
}

static double cube_root(double x)
{
	double lo = 0, hi = 1e4;

	for (int i = 0; i < 200; i++) {
		double m = (lo + hi) / 2;

		if (m * m * m <= x)
			lo = m;
		else
			hi = m;
	}
	return lo;
}

/* The RFC's model, in segments and seconds. */
struct model {
	double cwnd, w_max, w_est, k, prior;
	ustack_time_t t0;                 /* the stage began (0: not yet) */
};

static double w_cubic(const struct model *m, double t)
{
	return 0.4 * (t - m->k) * (t - m->k) * (t - m->k) + m->w_max;
}

/* One ACK of one segment at time t (since the stage began). */
static void model_ack(struct model *m, double t, double rtt)
{
	double alpha = m->w_est >= m->prior ? 1.0 : 3 * 0.3 / 1.7;
	double target;

	m->w_est += alpha / m->cwnd;                            /* 4.3 */
	if (w_cubic(m, t) < m->w_est) {
		if (m->w_est > m->cwnd)
			m->cwnd = m->w_est;
		return;
	}
	target = w_cubic(m, t + rtt);                           /* 4.4, 4.5 */
	if (target < m->cwnd)
		target = m->cwnd;
	if (target > 1.5 * m->cwnd)
		target = 1.5 * m->cwnd;
	m->cwnd += (target - m->cwnd) / m->cwnd;
}

/*
 * Rounds of ACKs from a loss at w_max_seg segments: each round, one RTT,
 * brings an ACK for every segment of the window. Returns the stack's and
 * the model's cwnd after `rounds`, in segments.
 */
static void run(struct tt *t, struct tcp_conn *c, struct model *m,
		uint32_t rtt_us, int rounds, double *got, double *want)
{
	struct ustack *st = tt_st(t);

	if (!m->t0)
		m->t0 = st->now;
	c->srtt_us = rtt_us;
	for (int r = 0; r < rounds; r++) {
		uint32_t n = c->cwnd / SMSS;
		double tm = (double)(st->now - m->t0) / 1e6;
		int mn = (int)m->cwnd;

		for (uint32_t i = 0; i < n; i++)
			ck_assert_int_eq(tcp_cubic_ca(st, c, SMSS), 0);
		for (int i = 0; i < mn; i++)
			model_ack(m, tm, rtt_us / 1e6);
		st->now += rtt_us;
	}
	*got = (double)c->cwnd / SMSS;
	*want = m->cwnd;
}

START_TEST(test_cubic_reduction_fast_convergence)
{
	struct tcp_conn *c;
	struct tt *t = conn(&c);

	/* 4.6: ssthresh = cwnd = FlightSize * 0.7; the first W_max is the
	 * cwnd at the loss (4.7) */
	loss(c, 100000);
	ck_assert_uint_eq(c->ssthresh, 70000);
	ck_assert_uint_eq(c->cub->now.w_max, 100000);
	ck_assert_uint_eq(c->cub->now.cwnd_prior, 100000);
	/* 4.7: a loss below the last W_max: W_max = cwnd * (1 + 0.7) / 2 */
	loss(c, 80000);
	ck_assert_uint_eq(c->ssthresh, 56000);
	ck_assert_uint_eq(c->cub->now.w_max, 68000);
	/* at least 2 segments */
	loss(c, 2000);
	ck_assert_uint_eq(c->ssthresh, 2000);
	tt_free(t);
}
END_TEST

/* 4.3: at a short RTT the cubic curve stays under W_est: cwnd = W_est,
 * growing 9/17 segment per RTT up to cwnd_prior and one per RTT above. */
START_TEST(test_cubic_reno_friendly)
{
	struct tcp_conn *c;
	struct tt *t = conn(&c);
	struct model m = {70, 100, 70, cube_root(30 / 0.4), 100, 0};
	double got, want;

	loss(c, 100000);
	run(t, c, &m, 10000, 20, &got, &want);
	ck_assert_uint_eq(c->cub->now.k_ms, (uint32_t)(m.k * 1000));
	ck_assert(w_cubic(&m, 0.2) < m.w_est);          /* the region */
	ck_assert_double_eq_tol(got, want, 0.01 * want);
	ck_assert_double_eq_tol(got, 70 + 20 * 9.0 / 17, 0.5);
	run(t, c, &m, 10000, 80, &got, &want);          /* past cwnd_prior */
	ck_assert_double_eq_tol(got, want, 0.01 * want);
	ck_assert(got > 100 + 20 * 0.9 && got < 100 + 50);
	tt_free(t);
}
END_TEST

/* 4.4, 4.5: at a long RTT the curve leads: concave up to W_max by K
 * (4.2 s for 30 segments), then convex, W_max + 0.4 (t - K)^3. */
START_TEST(test_cubic_concave_then_convex)
{
	struct tcp_conn *c;
	struct tt *t = conn(&c);
	struct model m = {70, 100, 70, cube_root(30 / 0.4), 100, 0};
	double got, want;

	loss(c, 100000);
	run(t, c, &m, 500000, 8, &got, &want);          /* 4 s: t < K */
	ck_assert(w_cubic(&m, 3.5) > m.w_est);
	ck_assert_double_eq_tol(got, want, 0.01 * want);
	ck_assert(got > 97 && got <= 100);              /* concave: flat */
	run(t, c, &m, 500000, 6, &got, &want);          /* 7 s */
	ck_assert_double_eq_tol(got, want, 0.02 * want);
	ck_assert(got > 100 + 0.4 * 2 * 2 * 2);         /* convex: away */
	tt_free(t);
}
END_TEST

/* 4.8: after a timeout the next stage has K = 0 and W_max = its cwnd at
 * the start; 4.9: undo puts W_max, K and the stage back. */
START_TEST(test_cubic_rto_and_undo)
{
	struct tcp_conn *c;
	struct tt *t = conn(&c);
	struct ustack *st = tt_st(t);

	loss(c, 100000);
	c->srtt_us = 10000;
	ck_assert_int_eq(tcp_cubic_ca(st, c, SMSS), 0);
	ck_assert_uint_eq(c->cub->now.w_max, 100000);
	tcp_cubic_undo_start(c);
	loss(c, c->cwnd);
	tcp_cubic_rto(c);
	c->cwnd = 20000;                  /* slow start ended at 20 segments */
	ck_assert_int_eq(tcp_cubic_ca(st, c, SMSS), 0);
	ck_assert_uint_eq(c->cub->now.k_ms, 0);
	ck_assert_uint_eq(c->cub->now.w_max, 20000);
	tcp_cubic_undo(c);
	ck_assert_uint_eq(c->cub->now.w_max, 100000);
	ck_assert_uint_eq(c->cub->now.k_ms, (uint32_t)(cube_root(30 / 0.4) * 1000));
	tt_free(t);
}
END_TEST

static Suite *tcp_cubic_suite(void)
{
	Suite *s = suite_create("tcp_cubic");
	TCase *tc = tcase_create("cubic");

	tcase_add_test(tc, test_cubic_reduction_fast_convergence);
	tcase_add_test(tc, test_cubic_reno_friendly);
	tcase_add_test(tc, test_cubic_concave_then_convex);
	tcase_add_test(tc, test_cubic_rto_and_undo);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tcp_cubic_suite)
