/*
 * tcp_cubic.c - CUBIC congestion control (RFC 9438), the default
 * (cfg.tcp_congestion; Reno stays in tcp_cc.c). tcp_cc.c keeps slow
 * start, recovery and undo; it calls here for the window growth in
 * congestion avoidance (4.2-4.5), the reduction on a loss (4.6, 4.7) and
 * after a timeout (4.8). Undo (4.9) restores struct tcp_cubic as saved
 * when the episode began (tcp_cc.c).
 *
 * Units: windows in bytes (a segment is SMSS bytes: "cwnd in segments"
 * in the RFC's formulas is cwnd / SMSS here), time in microseconds from
 * st->now, K in milliseconds. Integer arithmetic only. The state is
 * allocated at the first congestion event; without memory the
 * connection goes on with Reno's rules (the callers fall back).
 *
 * May touch: the TCB's congestion state (cwnd, ssthresh, cub), the heap.
 */
#include <stdlib.h>

#include "proto/tcp_int.h"

#define CWND_MAX (1u << 30)

/* RFC 9438 4.6: beta_cubic = 0.7; 4.2: C = 0.4 (segments / s^3);
 * 4.3: alpha_cubic = 3 * (1 - beta) / (1 + beta) = 9/17; 4.7: fast
 * convergence W_max = cwnd * (1 + beta) / 2 = cwnd * 17/20. */
#define BETA_NUM 7
#define BETA_DEN 10
#define ALPHA_NUM 9
#define ALPHA_DEN 17

/* floor(cbrt(x)) */
static uint64_t cbrt_u64(uint64_t x)
{
	uint64_t lo = 0, hi = 2097151;      /* (2^21 - 1)^3 < 2^63 */

	while (lo < hi) {
		uint64_t m = (lo + hi + 1) / 2;

		if (m * m * m <= x)
			lo = m;
		else
			hi = m - 1;
	}
	return lo;
}

/*
 * RFC 9438 4.2 Figure 1: W_cubic(t) = C * (t - K)^3 + W_max, in bytes:
 * W_max + 0.4 * d^3 * SMSS with d = t - K in seconds. d is taken in
 * microseconds, clamped to 100 s, and cubed in steps that keep within 64
 * bits (what is lost to the steps is below a byte for |d| < 1 ms).
 */
static uint32_t w_cubic(const struct tcp_conn *c, ustack_time_t t_us)
{
	int64_t d = (int64_t)t_us - (int64_t)c->cub->now.k_ms * 1000;
	int64_t a = d < 0 ? -d : d, w;

	if (a > 100000000)
		a = 100000000;
	a = a * a / 1000000 * a / 1000000;        /* s^3, times 1e6 */
	a = a * c->smss * 2 / 5 / 1000000;        /* times C, in bytes */
	w = (int64_t)c->cub->now.w_max + (d < 0 ? -a : a);
	if (w < 0)
		w = 0;
	return (uint32_t)USTACK_MIN(w, (int64_t)CWND_MAX);
}

/* RFC 9438 4.2: a congestion avoidance stage begins. */
static void epoch_start(struct ustack *st, struct tcp_conn *c)
{
	struct tcp_cubic_st *k = &c->cub->now;

	k->on = 1;
	k->epoch = st->now;
	k->acc = 0;
	k->est_acc = 0;
	k->w_est = c->cwnd;                       /* 4.3: W_est = cwnd_epoch */
	if (k->after_rto || k->w_max <= c->cwnd) {
		/* 4.8: after a timeout K = 0 and W_max = cwnd_epoch; and
		 * above W_max (no loss seen yet) the curve starts here too */
		k->after_rto = 0;
		k->w_max = c->cwnd;
		k->k_ms = 0;
	} else {
		/* K = cbrt((W_max - cwnd_epoch) / C), in segments and
		 * seconds; here cbrt(diff / SMSS * 2.5e9) ms */
		uint64_t diff = k->w_max - c->cwnd;

		k->k_ms = (uint32_t)cbrt_u64(diff * 2500000000u / c->smss);
	}
}

/* RFC 9438 4.2-4.5: growth in congestion avoidance, per new ACK of
 * `acked` bytes. */
static int cubic_get(struct tcp_conn *c)
{
	if (!c->cub)
		c->cub = calloc(1, sizeof(*c->cub));
	return c->cub ? 0 : -1;
}

int tcp_cubic_ca(struct ustack *st, struct tcp_conn *c, uint32_t acked)
{
	struct tcp_cubic_st *k;
	ustack_time_t t;
	uint32_t wt, target, alpha;
	uint64_t inc;

	if (cubic_get(c) < 0)
		return -1;
	k = &c->cub->now;
	if (!k->on)
		epoch_start(st, c);
	t = st->now - k->epoch;

	/* 4.3: the Reno-friendly estimate, W_est += alpha * acked / cwnd
	 * (segments); alpha becomes 1 once W_est reaches cwnd_prior */
	alpha = k->w_est >= k->cwnd_prior ? ALPHA_DEN : ALPHA_NUM;
	k->est_acc += (uint64_t)alpha * acked * c->smss;
	inc = k->est_acc / ((uint64_t)ALPHA_DEN * c->cwnd);
	k->est_acc -= inc * ALPHA_DEN * c->cwnd;
	k->w_est = (uint32_t)USTACK_MIN((uint64_t)k->w_est + inc,
					(uint64_t)CWND_MAX);

	wt = w_cubic(c, t);
	if (wt < k->w_est) {
		/* 4.3: the Reno-friendly region, cwnd = W_est */
		c->cwnd = USTACK_MAX(c->cwnd, k->w_est);
		k->acc = 0;
		return 0;
	}
	/* 4.4, 4.5: the concave and convex regions alike: target =
	 * W_cubic(t + RTT) within [cwnd, 1.5 cwnd], and cwnd grows by
	 * (target - cwnd) / cwnd per segment acknowledged */
	target = w_cubic(c, t + c->srtt_us);
	target = USTACK_MAX(target, c->cwnd);
	target = (uint32_t)USTACK_MIN((uint64_t)target,
				      (uint64_t)c->cwnd * 3 / 2);
	inc = (uint64_t)k->acc + (uint64_t)(target - c->cwnd) * acked;
	k->acc = (uint32_t)(inc % c->cwnd);
	c->cwnd = (uint32_t)USTACK_MIN((uint64_t)c->cwnd + inc / c->cwnd,
				       (uint64_t)CWND_MAX);
	return 0;
}

/*
 * RFC 9438 4.6 and 4.7: a congestion event. The new ssthresh is
 * flight_size * beta_cubic (at least 2 segments); W_max is the cwnd now,
 * or less (fast convergence) when it did not reach the last W_max.
 */
int tcp_cubic_loss(struct tcp_conn *c, uint32_t flight, uint32_t *ssthresh)
{
	struct tcp_cubic_st *k;

	if (cubic_get(c) < 0)
		return -1;
	k = &c->cub->now;

	if (c->cwnd < k->w_max)
		k->w_max = (uint32_t)((uint64_t)c->cwnd * 17 / 20);
	else
		k->w_max = c->cwnd;
	k->cwnd_prior = c->cwnd;
	k->on = 0;
	*ssthresh = USTACK_MAX((uint32_t)((uint64_t)flight * BETA_NUM / BETA_DEN),
			       2u * c->smss);
	return 0;
}

/* RFC 9438 4.8: after a timeout the next stage starts with K = 0 and
 * W_max = cwnd at its beginning. */
void tcp_cubic_rto(struct tcp_conn *c)
{
	if (c->cub) {
		c->cub->now.after_rto = 1;
		c->cub->now.on = 0;
	}
}

/* A fresh connection, or cwnd cut to the restart window after idle: no
 * stage runs (the next begins when congestion avoidance does). */
void tcp_cubic_reset(struct tcp_conn *c)
{
	if (c->cub)
		c->cub->now.on = 0;
}

/* A reduction episode begins: what undo goes back to. */
void tcp_cubic_undo_start(struct tcp_conn *c)
{
	if (c->cub)
		c->cub->prior = c->cub->now;
}

/* RFC 9438 4.9: a spurious congestion event; W_max, cwnd_prior, K and
 * the stage as they were before it (cwnd and ssthresh: tcp_cc_undo). */
void tcp_cubic_undo(struct tcp_conn *c)
{
	if (c->cub)
		c->cub->now = c->cub->prior;
}

void tcp_cubic_free(struct tcp_conn *c)
{
	free(c->cub);
	c->cub = NULL;
}

size_t tcp_cubic_mem(const struct tcp_conn *c)
{
	return c->cub ? sizeof(*c->cub) : 0;
}
