/*
 * tcp_timer.c - every TCP timer, each a deadline on its own struct timer
 * in the TCB (no periodic scans): retransmission (RFC 6298, with SYN and
 * SYN-ACK retries) sharing its slot with the persist timer (RFC 9293
 * 3.8.6.1, RFC 1122 4.2.2.17), delayed ACK (RFC 5681 4.2), keepalive
 * (RFC 1122 4.2.3.6), and the wait timer for TIME_WAIT (2*MSL) and orphaned
 * FIN_WAIT_2. Also RTT estimation (RFC 6298 2).
 *
 * May touch: the TCB, timers, output, tcp_done/tcp_abort, counters.
 */
#include <errno.h>

#include "core/assert.h"
#include "proto/tcp_int.h"

#define RTO_GRANULARITY_US 1000u   /* G of RFC 6298 2: our 1 ms TS clock */

ustack_time_t tcp_rto_clamp(const struct ustack *st, ustack_time_t rto)
{
	if (rto < st->cfg.tcp_rto_min_us)
		rto = st->cfg.tcp_rto_min_us;
	if (rto > st->cfg.tcp_rto_max_us)
		rto = st->cfg.tcp_rto_max_us;
	return rto;
}

/* RFC 6298 2.2 and 2.3, alpha = 1/8, beta = 1/4, K = 4. */
void tcp_rtt_sample(struct ustack *st, struct tcp_conn *c, ustack_time_t rtt)
{
	uint32_t r = rtt > INT32_MAX ? INT32_MAX : (uint32_t)rtt;

	if (r == 0)
		r = 1;
	if (c->srtt_us == 0) {
		c->srtt_us = r;
		c->rttvar_us = r / 2;
	} else {
		uint32_t delta = c->srtt_us > r ? c->srtt_us - r : r - c->srtt_us;

		c->rttvar_us = (uint32_t)(((uint64_t)3 * c->rttvar_us + delta) / 4);
		c->srtt_us = (uint32_t)(((uint64_t)7 * c->srtt_us + r) / 8);
		if (c->srtt_us == 0)
			c->srtt_us = 1;
	}
	tcp_rto_reset(st, c);
}

/* RFC 6298 2.3 (and 5.7: the backoff ends): RTO from SRTT and RTTVAR. */
void tcp_rto_reset(struct ustack *st, struct tcp_conn *c)
{
	if (!c->srtt_us)
		return;                  /* no sample yet: keep what we have */
	c->rto_us = tcp_rto_clamp(st, (ustack_time_t)c->srtt_us +
				      USTACK_MAX(RTO_GRANULARITY_US,
						 4ull * c->rttvar_us));
}

/* ---- retransmission and persist -------------------------------------------- */

void tcp_rtx_start(struct ustack *st, struct tcp_conn *c)
{
	c->rtx_kind = TCP_RTX_RETRANSMIT;
	timer_arm(st, &c->t_rtx, tcp_time_add(st->now, c->rto_us));
}

void tcp_rtx_stop(struct ustack *st, struct tcp_conn *c)
{
	if (c->rtx_kind != TCP_RTX_RETRANSMIT && c->rtx_kind != TCP_RTX_TLP &&
	    c->rtx_kind != TCP_RTX_REO)
		return;
	timer_cancel(st, &c->t_rtx);
	c->rtx_kind = TCP_RTX_NONE;
}

void tcp_persist_start(struct ustack *st, struct tcp_conn *c)
{
	if (timer_armed(&c->t_rtx))
		return;        /* retransmission (or persist) already running */
	if (!c->persist_us)
		c->persist_us = c->rto_us;
	c->rtx_kind = TCP_RTX_PERSIST;
	timer_arm(st, &c->t_rtx, tcp_time_add(st->now, c->persist_us));
}

/* SYN or SYN-ACK not acknowledged in time (RFC 6298 5.5, RFC 9293 3.8.1). */
static void syn_timeout(struct ustack *st, struct tcp_conn *c)
{
	uint32_t limit = c->state == USTACK_TCP_SYN_SENT
				 ? st->cfg.tcp_syn_retries
				 : st->cfg.tcp_synack_retries;

	if (c->nrexmit >= limit) {
		tcp_done(st, c, c->soft_err ? c->soft_err : ETIMEDOUT,
			 TCP_CAUSE_TIMEOUT);
		return;
	}
	c->nrexmit++;
	c->rto_us = tcp_rto_clamp(st, c->rto_us * 2);
	tcp_send_syn(st, c);
	tcp_rtx_start(st, c);
}

static void persist_timeout(struct ustack *st, struct tcp_conn *c);

static ustack_time_t now_minus(ustack_time_t now, ustack_time_t d)
{
	return now > d ? now - d : 0;
}

/* RFC 1122 4.2.3.5 R2 (cfg.tcp_retries2 timeouts in a row), or with
 * TCP_USER_TIMEOUT (RFC 5482, Linux) instead: data unacknowledged for
 * that long since its timer started. */
static int rtx_gave_up(const struct ustack *st, const struct tcp_conn *c)
{
	if (!c->opt.user_timeout_ms)
		return c->nrexmit >= st->cfg.tcp_retries2;
	return st->now - c->rtx_base_at >= USTACK_MS(c->opt.user_timeout_ms);
}

/* Linux tcp_clamp_rto_to_user_timeout: the next timeout comes no later
 * than the user timeout, so the abort is on time. */
static void user_timeout_clamp(struct ustack *st, struct tcp_conn *c)
{
	ustack_time_t end;

	if (!c->opt.user_timeout_ms)
		return;
	end = tcp_time_add(c->rtx_base_at, USTACK_MS(c->opt.user_timeout_ms));
	if (end < c->t_rtx.at)
		timer_arm(st, &c->t_rtx, USTACK_MAX(end, st->now));
}

/* RFC 6298 5.4-5.6: retransmit the earliest unacknowledged segment, back
 * off, restart; RFC 1122 4.2.3.5: give up after R2 (cfg.tcp_retries2). */
static void rtx_timeout(struct ustack *st, struct tcp_conn *c)
{
	uint32_t sent;

	STAT_INC(st, TCP_TIMEOUTS);
	if (!c->syn_acked) {
		syn_timeout(st, c);
		return;
	}
	if (c->snd_wnd == 0 && seq_lt(c->snd_una, tcp_data_end(c))) {
		/* RFC 9293 3.8.6: the window shrank to zero under data in
		 * flight. "SHOULD NOT time out the connection if data beyond
		 * the right window edge is not acknowledged" (SHLD-16); "MUST
		 * probe it in the standard way" (MUST-35): the retransmission
		 * becomes the first zero-window probe, then the persist timer
		 * backs off from here. */
		c->snd_nxt = c->snd_una;
		c->persist_us = c->rto_us;
		persist_timeout(st, c);
		return;
	}
	if (c->nrexmit == 0)         /* when this timer was started */
		c->rtx_base_at = now_minus(st->now, c->rto_us);
	if (rtx_gave_up(st, c)) {
		STAT_INC(st, TCP_ABORT_ON_TIMEOUT);
		tcp_done(st, c, c->soft_err ? c->soft_err : ETIMEDOUT,
			 TCP_CAUSE_TIMEOUT);
		return;
	}
	ULOG_DEBUG(st, "tcp rto: una %u max %u flight %u cwnd %u recovery %d "
		   "sacked ranges %u dupacks %u rto %llu us try %u tlp %d "
		   "lost unsent %d pipe %lld",
		   c->snd_una, c->snd_max, tcp_flight(c), c->cwnd,
		   c->in_recovery, c->nscore, c->dupacks,
		   (unsigned long long)c->rto_us, c->nrexmit + 1, c->tlp_on,
		   tcp_rack_has_lost(c), (long long)tcp_rack_pipe(c));
	c->nrexmit++;
	c->rto_us = tcp_rto_clamp(st, c->rto_us * 2);
	tcp_cc_timeout(st, c);
	c->rtt_timing = 0;
	c->snd_nxt = c->snd_una;
	sent = tcp_send_at(st, c, c->snd_una, c->smss);
	c->snd_nxt = c->snd_una + sent;
	tcp_rtx_start(st, c);
	user_timeout_clamp(st, c);
}

static void persist_timeout(struct ustack *st, struct tcp_conn *c)
{
	int has_data = seq_lt(c->snd_nxt, tcp_data_end(c)) ||
		       (c->fin_queued && !tcp_fin_sent(c));

	if (!has_data || !TCP_SYNCHRONIZED(c->state) ||
	    c->state == USTACK_TCP_TIME_WAIT)
		return;
	/* RFC 9293 3.8.6.1 (MUST-36): probe on for as long as the peer
	 * answers. Give up when tcp_retries2 probes in a row got no answer
	 * at all (as Linux: a vanished peer), or -- RFC 6429 -- for an orphan
	 * after that many probes that found the window still shut (a
	 * connection stuck behind a zero window after close() must end). */
	if (c->snd_wnd == 0 &&
	    (c->probes_unanswered >= st->cfg.tcp_retries2 ||
	     (c->orphan && c->persist_probes >= st->cfg.tcp_retries2))) {
		STAT_INC(st, TCP_ABORT_ON_TIMEOUT);
		tcp_abort(st, c, ETIMEDOUT, TCP_CAUSE_TIMEOUT);
		return;
	}
	if (c->snd_wnd == 0) {
		c->persist_probes++;
		c->probes_unanswered++;
	}
	tcp_send_probe(st, c);
	if (timer_armed(&c->t_rtx))
		return;        /* the probe turned into a retransmission */
	c->persist_us = tcp_rto_clamp(st, c->persist_us * 2);
	tcp_persist_start(st, c);
}

static void rtx_fire(struct ustack *st, struct timer *t, ustack_time_t now)
{
	struct tcp_conn *c = container_of(t, struct tcp_conn, t_rtx);
	int kind = c->rtx_kind;

	(void)now;
	c->rtx_kind = TCP_RTX_NONE;
	if (kind == TCP_RTX_PERSIST) {
		persist_timeout(st, c);
	} else if (kind == TCP_RTX_RETRANSMIT) {
		rtx_timeout(st, c);
	} else if (kind == TCP_RTX_TLP) {
		tcp_tlp_fire(st, c);
	} else if (kind == TCP_RTX_REO) {
		tcp_rack_reo_fire(st, c);
	} else if (kind == TCP_RTX_CORK) {
		/* TCP_CORK/MSG_MORE held a short tail this long: send it. */
		c->push_once = 1;
		tcp_output(st, c);
		c->push_once = 0;
	}
}

/* ---- delayed ACK ------------------------------------------------------------ */

void tcp_delack_schedule(struct ustack *st, struct tcp_conn *c)
{
	if (!timer_armed(&c->t_delack))
		timer_arm(st, &c->t_delack,
			  tcp_time_add(st->now, st->cfg.tcp_delack_us));
}

void tcp_delack_cancel(struct ustack *st, struct tcp_conn *c)
{
	timer_cancel(st, &c->t_delack);
}

static void delack_fire(struct ustack *st, struct timer *t, ustack_time_t now)
{
	struct tcp_conn *c = container_of(t, struct tcp_conn, t_delack);

	(void)now;
	if (!TCP_SYNCHRONIZED(c->state) || c->state == USTACK_TCP_TIME_WAIT)
		return;
	/* No answer carried the ACK: not an exchange after all (Linux
	 * leaves pingpong mode here too). */
	c->pingpong = 0;
	STAT_INC(st, TCP_DELAYED_ACKS);
	tcp_send_ack(st, c);
}

/* ---- keepalive -------------------------------------------------------------- */

static ustack_time_t keep_idle(const struct ustack *st, const struct tcp_conn *c)
{
	return c->opt.keepidle_s ? USTACK_SEC(c->opt.keepidle_s) : st->cfg.tcp_keepidle_us;
}

static ustack_time_t keep_intvl(const struct ustack *st,
				const struct tcp_conn *c)
{
	return c->opt.keepintvl_s ? USTACK_SEC(c->opt.keepintvl_s)
			      : st->cfg.tcp_keepintvl_us;
}

static int keep_active(const struct tcp_conn *c)
{
	if (!c->opt.keepalive || c->orphan)
		return 0;
	return c->state == USTACK_TCP_ESTABLISHED ||
	       c->state == USTACK_TCP_CLOSE_WAIT ||
	       c->state == USTACK_TCP_FIN_WAIT_2;
}

void tcp_keepalive_update(struct ustack *st, struct tcp_conn *c)
{
	if (!keep_active(c)) {
		timer_cancel(st, &c->t_keep);
		c->keep_probes = 0;
		return;
	}
	if (!timer_armed(&c->t_keep))
		timer_arm(st, &c->t_keep,
			  tcp_time_add(c->last_rcv_at, keep_idle(st, c)));
}

/* RFC 1122 4.2.3.6: after keepidle without anything received, probe every
 * keepintvl; after keepcnt unanswered probes the connection is dead. */
static void keep_fire(struct ustack *st, struct timer *t, ustack_time_t now)
{
	struct tcp_conn *c = container_of(t, struct tcp_conn, t_keep);
	uint32_t cnt = c->opt.keepcnt ? c->opt.keepcnt : st->cfg.tcp_keepcnt;

	if (!keep_active(c))
		return;
	if (c->snd_max != c->snd_una || seq_lt(c->snd_nxt, tcp_data_end(c))) {
		/* Data outstanding: the retransmission timer watches. */
		timer_arm(st, t, tcp_time_add(now, keep_idle(st, c)));
		return;
	}
	if (c->keep_probes == 0 && now < c->last_rcv_at + keep_idle(st, c)) {
		timer_arm(st, t, tcp_time_add(c->last_rcv_at, keep_idle(st, c)));
		return;
	}
	/* With TCP_USER_TIMEOUT the probes go on until nothing was heard
	 * for that long (Linux tcp_keepalive_timer), not keepcnt probes. */
	if (c->opt.user_timeout_ms ?
	    c->keep_probes > 0 &&
	    now - c->last_rcv_at >= USTACK_MS(c->opt.user_timeout_ms) :
	    c->keep_probes >= cnt) {
		STAT_INC(st, TCP_ABORT_ON_TIMEOUT);
		tcp_abort(st, c, ETIMEDOUT, TCP_CAUSE_TIMEOUT);
		return;
	}
	tcp_send_keepalive(st, c);
	c->keep_probes++;
	timer_arm(st, t, tcp_time_add(now, keep_intvl(st, c)));
}

/* ---- TIME_WAIT and FIN_WAIT_2 ----------------------------------------------- */

void tcp_wait_arm(struct ustack *st, struct tcp_conn *c, int kind,
		  ustack_time_t at)
{
	c->wait_kind = (uint8_t)kind;
	timer_arm(st, &c->t_wait, at);
}

static void wait_fire(struct ustack *st, struct timer *t, ustack_time_t now)
{
	struct tcp_conn *c = container_of(t, struct tcp_conn, t_wait);
	int kind = c->wait_kind;

	(void)now;
	c->wait_kind = TCP_WAIT_NONE;
	if (kind == TCP_WAIT_2MSL && c->state == USTACK_TCP_TIME_WAIT)
		tcp_done(st, c, 0, TCP_CAUSE_2MSL);
	else if (kind == TCP_WAIT_FIN2 && c->state == USTACK_TCP_FIN_WAIT_2 &&
		 c->orphan)
		tcp_abort(st, c, 0, TCP_CAUSE_TIMEOUT);
}

void tcp_timers_init(struct tcp_conn *c)
{
	timer_init(&c->t_rtx, rtx_fire);
	timer_init(&c->t_delack, delack_fire);
	timer_init(&c->t_keep, keep_fire);
	timer_init(&c->t_wait, wait_fire);
}

void tcp_timers_stop(struct ustack *st, struct tcp_conn *c)
{
	timer_cancel(st, &c->t_rtx);
	timer_cancel(st, &c->t_delack);
	timer_cancel(st, &c->t_keep);
	timer_cancel(st, &c->t_wait);
	c->rtx_kind = TCP_RTX_NONE;
	c->wait_kind = TCP_WAIT_NONE;
}
