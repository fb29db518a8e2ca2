/*
 * tcp_fsm.c - the TCP state machine in one place: the table of every
 * transition RFC 9293 3.3.2 (figure 5) allows, tcp_set_state() which makes
 * and traces each one, and the ways a connection ends (tcp_done, tcp_abort,
 * TIME_WAIT, the application's close/shutdown turning into a FIN).
 *
 * May touch: the TCB, the socket it belongs to (so_error, wakeup), the TCP
 * counters, timers, and output (RST, FIN).
 *
 * A listener never leaves LISTEN: each SYN makes a child TCB that starts in
 * LISTEN and moves to SYN_RCVD. Where RFC 9293 sends a passively opened
 * SYN_RCVD connection "back to LISTEN" (RST received, SYN in window), the
 * child goes to CLOSED and is deleted, which leaves the listener as it was:
 * the same observable behaviour.
 */
#include <errno.h>

#include "core/assert.h"
#include "proto/tcp_int.h"

#define S(x) USTACK_TCP_##x

/*
 * Every legal transition, and what causes it. tcp_set_state() refuses
 * anything else (an assertion: it would be a bug in ustack, never input).
 * docs/tcp.md and tests/unit/check_tcp_fsm.c follow this table;
 * ustack-draw states draws it (read through ustack_tcp_transition()).
 */
static const struct {
	uint8_t from, to;
	const char *why;
} transitions[] = {
	{S(CLOSED), S(LISTEN), "listen()"},
	{S(CLOSED), S(SYN_SENT), "connect(): send SYN"},
	{S(LISTEN), S(SYN_RCVD), "SYN received (child TCB): send SYN-ACK"},
	{S(LISTEN), S(CLOSED), "close() of the listener"},
	{S(SYN_SENT), S(ESTABLISHED), "SYN-ACK acking our SYN: send ACK"},
	{S(SYN_SENT), S(SYN_RCVD), "SYN without ACK (simultaneous open)"},
	{S(SYN_SENT), S(CLOSED), "RST (ECONNREFUSED), timeout, close, ICMP"},
	{S(SYN_RCVD), S(ESTABLISHED), "ACK of our SYN"},
	{S(SYN_RCVD), S(FIN_WAIT_1), "close() before the handshake ended"},
	{S(SYN_RCVD), S(CLOSED), "RST, timeout, SYN in window (passive)"},
	{S(ESTABLISHED), S(FIN_WAIT_1), "close()/shutdown(SHUT_WR): send FIN"},
	{S(ESTABLISHED), S(CLOSE_WAIT), "FIN received"},
	{S(ESTABLISHED), S(CLOSED), "RST, timeout, abort"},
	{S(FIN_WAIT_1), S(FIN_WAIT_2), "ACK of our FIN"},
	{S(FIN_WAIT_1), S(CLOSING), "FIN received (simultaneous close)"},
	{S(FIN_WAIT_1), S(TIME_WAIT), "FIN received acking our FIN"},
	{S(FIN_WAIT_1), S(CLOSED), "RST, timeout, abort"},
	{S(FIN_WAIT_2), S(TIME_WAIT), "FIN received"},
	{S(FIN_WAIT_2), S(CLOSED), "RST, orphan timeout, abort"},
	{S(CLOSE_WAIT), S(LAST_ACK), "close()/shutdown(SHUT_WR): send FIN"},
	{S(CLOSE_WAIT), S(CLOSED), "RST, timeout, abort"},
	{S(CLOSING), S(TIME_WAIT), "ACK of our FIN"},
	{S(CLOSING), S(CLOSED), "RST, timeout, abort"},
	{S(LAST_ACK), S(CLOSED), "ACK of our FIN, RST, timeout"},
	{S(TIME_WAIT), S(CLOSED), "2*MSL expired, reuse by a new SYN, eviction"},
};

static const char *const state_names[USTACK_TCP__NSTATES] = {
	[S(CLOSED)] = "CLOSED",
	[S(LISTEN)] = "LISTEN",
	[S(SYN_SENT)] = "SYN_SENT",
	[S(SYN_RCVD)] = "SYN_RCVD",
	[S(ESTABLISHED)] = "ESTABLISHED",
	[S(CLOSE_WAIT)] = "CLOSE_WAIT",
	[S(FIN_WAIT_1)] = "FIN_WAIT_1",
	[S(CLOSING)] = "CLOSING",
	[S(LAST_ACK)] = "LAST_ACK",
	[S(FIN_WAIT_2)] = "FIN_WAIT_2",
	[S(TIME_WAIT)] = "TIME_WAIT",
};

static const char *const cause_names[TCP_CAUSE__COUNT] = {
	[TCP_CAUSE_LISTEN] = "listen",
	[TCP_CAUSE_CONNECT] = "connect",
	[TCP_CAUSE_SYN] = "SYN",
	[TCP_CAUSE_SYNACK] = "SYN-ACK",
	[TCP_CAUSE_ACK] = "ACK",
	[TCP_CAUSE_FIN] = "FIN",
	[TCP_CAUSE_FINACK] = "FIN+ACK",
	[TCP_CAUSE_CLOSE] = "close",
	[TCP_CAUSE_SHUTDOWN] = "shutdown",
	[TCP_CAUSE_RST] = "RST",
	[TCP_CAUSE_TIMEOUT] = "timeout",
	[TCP_CAUSE_ABORT] = "abort",
	[TCP_CAUSE_2MSL] = "2MSL",
	[TCP_CAUSE_ICMP] = "ICMP",
	[TCP_CAUSE_REUSE] = "reuse",
	[TCP_CAUSE_COOKIE] = "SYN cookie",
	[TCP_CAUSE_UNREACH] = "unreachable",
};

const char *ustack_tcp_state_name(int state)
{
	if (state < 0 || state >= USTACK_TCP__NSTATES)
		return "?";
	return state_names[state];
}

const char *tcp_cause_name(enum tcp_cause cause)
{
	return (unsigned)cause < TCP_CAUSE__COUNT ? cause_names[cause] : "?";
}

int ustack_tcp_transition(unsigned i, int *from, int *to, const char **why)
{
	if (i >= USTACK_ARRAY_SIZE(transitions))
		return -ENOENT;
	*from = transitions[i].from;
	*to = transitions[i].to;
	*why = transitions[i].why;
	return 0;
}

int tcp_transition_ok(int from, int to)
{
	for (unsigned i = 0; i < USTACK_ARRAY_SIZE(transitions); i++)
		if (transitions[i].from == from && transitions[i].to == to)
			return 1;
	return 0;
}

_Static_assert(USTACK_TCP__NSTATES <= 16, "fsm_ok holds 16 states");

void tcp_fsm_init(struct ustack *st)
{
	for (unsigned i = 0; i < USTACK_ARRAY_SIZE(transitions); i++)
		st->tcp.fsm_ok[transitions[i].from] |=
			(uint16_t)(1u << transitions[i].to);
}

static int counts_as_established(int s)
{
	/* RFC 1213 tcpCurrEstab: ESTABLISHED or CLOSE_WAIT. */
	return s == S(ESTABLISHED) || s == S(CLOSE_WAIT);
}

static void count_transition(struct ustack *st, int from, int to)
{
	if (counts_as_established(from) && !counts_as_established(to))
		STAT_DEC(st, TCP_CURR_ESTAB);
	if (!counts_as_established(from) && counts_as_established(to))
		STAT_INC(st, TCP_CURR_ESTAB);
	if (from == S(CLOSED) && to == S(SYN_SENT))
		STAT_INC(st, TCP_ACTIVE_OPENS);
	if (from == S(LISTEN) && to == S(SYN_RCVD))
		STAT_INC(st, TCP_PASSIVE_OPENS);
	/* RFC 1213 tcpAttemptFails / tcpEstabResets */
	if ((from == S(SYN_SENT) || from == S(SYN_RCVD)) && to == S(CLOSED))
		STAT_INC(st, TCP_ATTEMPT_FAILS);
	if (counts_as_established(from) && to == S(CLOSED))
		STAT_INC(st, TCP_ESTAB_RESETS);
}

void tcp_set_state(struct ustack *st, struct tcp_conn *c, int state,
		   enum tcp_cause cause)
{
	int old = c->state;

	/* tcp_transition_ok() as a bit per state (a search of the table
	 * cost a tenth of a connection's set-up and teardown). */
	USTACK_ASSERT((st->tcp.fsm_ok[old] >> state) & 1u);
	if (st->cfg.trace_tcp || st->cfg.log_level >= USTACK_LOG_DEBUG) {
		char t[48];

		/* "10.0.0.2:7 10.0.0.1:40000 ESTABLISHED -> CLOSE_WAIT (FIN)" */
		ulog_emit(st, st->cfg.trace_tcp ? USTACK_LOG_INFO : USTACK_LOG_DEBUG,
			  "%s %s -> %s (%s)", tcp_fmt_tuple(c, t),
			  state_names[old], state_names[state],
			  tcp_cause_name(cause));
	}
	count_transition(st, old, state);
	c->state = (uint8_t)state;
	if (c->in_orph && !TCP_ORPHAN_STATE(state))
		tcp_orphan_unlink(st, c);     /* TIME_WAIT, CLOSED */
	if (state == S(ESTABLISHED))
		c->was_synchronized = 1;
	tcp_wakeup(st, c); /* every state change is news to a waiter */
}

void tcp_wakeup(struct ustack *st, struct tcp_conn *c)
{
	if (c->sk)
		sock_wakeup(st, c->sk);
}

void tcp_done(struct ustack *st, struct tcp_conn *c, int err,
	      enum tcp_cause cause)
{
	if (c->state == S(LISTEN))
		tcp_listen_close(st, c);
	if (c->state != S(CLOSED))
		tcp_set_state(st, c, S(CLOSED), cause);
	tcp_timers_stop(st, c);
	tcp_hash_remove(st, c);
	tcp_lhash_remove(st, c);
	tcp_tw_unlink(st, c);
	if (c->parent)
		tcp_child_unlink(st, c);
	tcp_ring_free(&c->sbuf);
	tcp_ooo_purge(c);
	c->nscore = 0;
	if (err) {
		c->reset = 1;
		tcp_ring_free(&c->rbuf); /* RFC 9293: queues are flushed */
		if (c->sk)
			c->sk->so_error = err;
	}
	if (!c->sk) {
		tcp_conn_free(st, c);
		return;
	}
	tcp_wakeup(st, c);
}

void tcp_abort(struct ustack *st, struct tcp_conn *c, int err,
	       enum tcp_cause cause)
{
	/* RFC 9293 3.10.5 ABORT: a reset in the states where the peer holds
	 * a connection worth resetting. */
	switch (c->state) {
	case S(SYN_RCVD):
	case S(ESTABLISHED):
	case S(FIN_WAIT_1):
	case S(FIN_WAIT_2):
	case S(CLOSE_WAIT):
		tcp_send_rst(st, c);
		break;
	default:
		break;
	}
	tcp_done(st, c, err, cause);
}

void tcp_enter_time_wait(struct ustack *st, struct tcp_conn *c,
			 enum tcp_cause cause)
{
	tcp_set_state(st, c, S(TIME_WAIT), cause);
	/* No socket reads it: a compact record takes its place (tcp_tw.c),
	 * c is freed. */
	if (!c->sk && tcp_tw_convert(st, c) == 0)
		return;
	tcp_rtx_stop(st, c);
	tcp_delack_cancel(st, c);
	tcp_keepalive_update(st, c);
	tcp_ring_free(&c->sbuf);
	tcp_ooo_purge(c);
	c->nscore = 0;
	if (!c->sk)
		tcp_ring_free(&c->rbuf);
	/* RFC 9293 3.10.7.4 eighth step: TIME_WAIT lasts 2*MSL. */
	tcp_wait_arm(st, c, TCP_WAIT_2MSL,
		     tcp_time_add(st->now, 2 * st->cfg.tcp_msl_us));
	tcp_tw_link(st, c);
	tcp_wakeup(st, c);
}

void tcp_close_send(struct ustack *st, struct tcp_conn *c,
		    enum tcp_cause cause)
{
	switch (c->state) {
	case S(SYN_RCVD):
	case S(ESTABLISHED):
		c->fin_queued = 1;
		tcp_set_state(st, c, S(FIN_WAIT_1), cause);
		break;
	case S(CLOSE_WAIT):
		c->fin_queued = 1;
		tcp_set_state(st, c, S(LAST_ACK), cause);
		break;
	default:
		return;
	}
	tcp_keepalive_update(st, c);
	tcp_output(st, c);
}
