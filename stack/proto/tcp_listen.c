/*
 * tcp_listen.c - passive opens (RFC 9293 3.10.7.2).
 *
 * A listener is a TCB in LISTEN, found by local port. Each acceptable SYN
 * makes a child TCB (LISTEN -> SYN_RCVD) on the listener's SYN queue,
 * bounded by cfg.tcp_syn_backlog; when the handshake completes the child
 * moves to the accept queue, bounded by the listen() backlog, where
 * accept() finds it. A full accept queue drops SYNs and handshake ACKs
 * (counted), so clients retry.
 *
 * When the SYN queue is full, SYN cookies (RFC 4987 3.6) answer instead:
 * the SYN-ACK's ISN encodes, under a keyed hash, a 64-second time counter
 * (5 bits), an MSS index (3 bits) and a 24-bit MAC of the 4-tuple, the
 * client's ISN and the counter; with timestamps, the low 5 bits of our
 * TSval carry the window scale and SACK-permitted, which the client echoes
 * in TSecr. No state is kept until a valid ACK returns. Without timestamps
 * the cookie connection has no window scaling or SACK.
 *
 * Also: a SYN that reuses the 4-tuple of a TIME_WAIT connection (RFC 6191).
 *
 * May touch: listeners and their children, the tables, output, counters.
 */
#include <errno.h>
#include <string.h>

#include "core/assert.h"
#include "proto/ipv4.h"
#include "proto/tcp_int.h"

/* MSS values a cookie can carry (RFC 4987: a few common ones). */
static const uint16_t cookie_mss[8] = {
	216, 536, 1024, 1220, 1360, 1440, 1452, 1460,
};

/* The cookie ISN (RFC 4987 3.6): counter (5 bits) | MSS index (3) | MAC (24). */
#define COOKIE_T_SHIFT 27
#define COOKIE_T_MASK 31u
#define COOKIE_MSS_SHIFT 24
#define COOKIE_MSS_MASK 7u
#define COOKIE_MAC_MASK 0xffffffu

#define COOKIE_TS_BITS 5u
#define COOKIE_TS_MASK ((1u << COOKIE_TS_BITS) - 1)
#define COOKIE_NO_WS 0xfu
#define COOKIE_SACK 0x10u

/* ---- queues ------------------------------------------------------------- */

static void q_unlink(struct tcp_conn **head, struct tcp_conn *c)
{
	if (c->qprev)
		c->qprev->qnext = c->qnext;
	else
		*head = c->qnext;
	if (c->qnext)
		c->qnext->qprev = c->qprev;
	c->qnext = c->qprev = NULL;
}

void tcp_child_unlink(struct ustack *st, struct tcp_conn *c)
{
	struct tcp_conn *lc = c->parent;

	(void)st;
	if (!lc)
		return;
	if (c->queue == TCP_Q_SYN) {
		q_unlink(&lc->lq->synq, c);
		lc->lq->nsyn--;
	} else if (c->queue == TCP_Q_ACCEPT) {
		if (lc->lq->accq_tail == c)
			lc->lq->accq_tail = c->qprev;
		q_unlink(&lc->lq->accq, c);
		lc->lq->nacc--;
	}
	c->queue = TCP_Q_NONE;
	c->parent = NULL;
}

int tcp_child_established(struct ustack *st, struct tcp_conn *c)
{
	struct tcp_conn *lc = c->parent;

	if (!lc)
		return 0;
	if (lc->lq->nacc >= lc->lq->backlog) {
		STAT_INC(st, TCP_LISTEN_OVERFLOW);
		return -1;
	}
	q_unlink(&lc->lq->synq, c);
	lc->lq->nsyn--;
	c->qnext = NULL;
	c->qprev = lc->lq->accq_tail;
	if (lc->lq->accq_tail)
		lc->lq->accq_tail->qnext = c;
	else
		lc->lq->accq = c;
	lc->lq->accq_tail = c;
	lc->lq->nacc++;
	c->queue = TCP_Q_ACCEPT;
	if (lc->sk)
		sock_wakeup(st, lc->sk);
	return 0;
}

void tcp_listen_close(struct ustack *st, struct tcp_conn *lc)
{
	/* Children nobody accepted are reset (as Linux does on close()). */
	while (lc->lq->synq)
		tcp_abort(st, lc->lq->synq, 0, TCP_CAUSE_ABORT);
	while (lc->lq->accq)
		tcp_abort(st, lc->lq->accq, 0, TCP_CAUSE_ABORT);
	tcp_lhash_remove(st, lc);
}

/* ---- children ------------------------------------------------------------ */

/*
 * A child for the SYN in seg: 4-tuple, options from the listener and the
 * SYN, hashed, on the SYN queue, in SYN_RCVD. NULL when a bound is hit
 * (counted). iss: 0 to pick one by RFC 6528, else that ISS.
 */
static struct tcp_conn *new_child(struct ustack *st, struct tcp_conn *lc,
				  const struct tcp_seg *seg, uint32_t iss,
				  int use_iss, enum tcp_cause cause)
{
	struct tcp_conn *c = tcp_conn_alloc(st);

	if (!c)
		return NULL;
	c->laddr = seg->daddr;
	c->lport = seg->dport;
	c->raddr = seg->saddr;
	c->rport = seg->sport;
	if (tcp_hash_insert(st, c) < 0) {
		tcp_conn_free(st, c);
		return NULL;
	}
	tcp_bhash_insert(st, c);
	c->state = USTACK_TCP_LISTEN;
	c->passive = 1;
	c->reuseaddr = lc->reuseaddr;
	c->opt = lc->opt;                /* the listener's options */
	c->rcv_cap = lc->rcv_cap;
	c->snd_cap = lc->snd_cap;
	tcp_conn_start(st, c);
	if (use_iss) {
		c->iss = iss;
		c->snd_una = c->snd_nxt = c->snd_max = iss;
		c->snd_buf_seq = iss + 1;
	}
	/* What we offer is what the SYN offered and we allow. */
	c->ws_ok = !!st->cfg.tcp_wscale;
	c->sack_ok = !!st->cfg.tcp_sack;
	c->ts_ok = !!st->cfg.tcp_timestamps;
	c->irs = seg->seq;
	c->rcv_nxt = seg->seq + 1;
	c->parent = lc;
	c->queue = TCP_Q_SYN;
	c->qprev = NULL;
	c->qnext = lc->lq->synq;
	if (lc->lq->synq)
		lc->lq->synq->qprev = c;
	lc->lq->synq = c;
	lc->lq->nsyn++;
	tcp_set_state(st, c, USTACK_TCP_SYN_RCVD, cause);
	return c;
}

/* Options of the SYN applied to a child, which starts its congestion
 * state here. */
static void child_options(struct ustack *st, struct tcp_conn *c,
			  const struct tcp_opts *o, uint16_t wnd)
{
	tcp_opt_apply_syn(st, c, o, wnd);
	c->last_ack_sent = c->rcv_nxt;
	tcp_cc_init(st, c);
}

/* ---- SYN cookies (RFC 4987 3.6) ----------------------------------------- */

struct cookie_key {
	uint32_t laddr, raddr;
	uint16_t lport, rport;
	uint32_t client_isn;
	uint32_t counter;
	uint32_t tag;
};

static uint32_t cookie_mac(const struct ustack *st, const struct tcp_seg *s,
			   uint32_t client_isn, uint32_t counter)
{
	struct cookie_key k;

	memset(&k, 0, sizeof(k));
	k.laddr = s->daddr;
	k.raddr = s->saddr;
	k.lport = s->dport;
	k.rport = s->sport;
	k.client_isn = client_isn;
	k.counter = counter;
	k.tag = 0x636f6f6b; /* "cook" */
	return (uint32_t)rand_hash(&st->rand, &k, sizeof(k)) & COOKIE_MAC_MASK;
}

static uint32_t cookie_counter(const struct ustack *st)
{
	return (uint32_t)(st->now / TCP_SYNCOOKIE_PERIOD_US);
}

static void cookie_send(struct ustack *st, struct tcp_conn *lc,
			const struct tcp_seg *seg)
{
	uint32_t t = cookie_counter(st) & COOKIE_T_MASK, peer, isn, tsval = 0;
	uint16_t rcv_mss = (uint16_t)USTACK_MIN(ip4_max_payload(st) - TCP_HDR_LEN,
						TCP_MAX_MSS_OPT);
	uint8_t opts[40], idx = 0, ws = 0;
	int use_ws = st->cfg.tcp_wscale && seg->opt.has_ws;
	int ts = st->cfg.tcp_timestamps && seg->opt.has_ts;
	int sack = st->cfg.tcp_sack && seg->opt.sack_ok && ts;
	unsigned ol;

	peer = seg->opt.has_mss ? seg->opt.mss : TCP_DEFAULT_MSS;
	for (uint8_t i = 0; i < 8; i++)
		if (cookie_mss[i] <= peer)
			idx = i;
	isn = t << COOKIE_T_SHIFT | (uint32_t)idx << COOKIE_MSS_SHIFT | cookie_mac(st, seg, seg->seq, t);
	if (ts) {
		uint32_t now = tcp_ts_clock(st,
					    tcp_ts_offset(st, seg->daddr, seg->dport,
							  seg->saddr, seg->sport));

		ws = tcp_wscale_for(lc->rcv_cap);
		/* The peer's shift rides in our TSval (ours is recomputed). */
		tsval = (now & ~COOKIE_TS_MASK) |
			(use_ws ? seg->opt.wscale : COOKIE_NO_WS) |
			(sack ? COOKIE_SACK : 0);
		/* Never ahead of the clock the connection will then use:
		 * a later, smaller TSval would fail the peer's PAWS test
		 * (RFC 7323 5.3, 5.4 "monotone non-decreasing"). Linux
		 * steps back one period the same way. */
		if (seq_gt(tsval, now))
			tsval -= COOKIE_TS_MASK + 1;
	}
	ol = tcp_opt_build_syn_raw(opts, rcv_mss, ts && use_ws ? ws : -1, sack,
				   ts, tsval, seg->opt.tsval);
	STAT_INC(st, TCP_SYNCOOKIES_SENT);
	/* unchecked: a lost SYN-ACK is sent again for the peer's
	 * retransmitted SYN (no state is kept to resend it) */
	tcp_send_raw(st, seg->daddr, seg->dport, seg->saddr, seg->sport, isn,
		     seg->seq + 1, TCP_SYN | TCP_ACK,
		     (uint16_t)USTACK_MIN(lc->rcv_cap, TCP_MAX_WIN), opts, ol);
}

/* An ACK for a listener: a returning cookie? Returns 1 if it was (and a
 * child now exists or the ACK was dropped), 0 if not a valid cookie. */
static int cookie_check(struct ustack *st, struct tcp_conn *lc,
			struct tcp_seg *seg)
{
	uint32_t cookie = seg->ack - 1, client_isn = seg->seq - 1;
	uint32_t t = cookie >> COOKIE_T_SHIFT;
	uint32_t now = cookie_counter(st) & COOKIE_T_MASK;
	struct tcp_seg syn = *seg;
	struct tcp_conn *c;

	if (((now - t) & COOKIE_T_MASK) > TCP_SYNCOOKIE_MAX_AGE - 1 ||
	    cookie_mac(st, seg, client_isn, t) != (cookie & COOKIE_MAC_MASK) ||
	    (seg->flags & (TCP_SYN | TCP_RST))) {
		STAT_INC(st, TCP_SYNCOOKIES_FAILED);
		return 0;
	}
	if (lc->lq->nacc >= lc->lq->backlog) {
		STAT_INC(st, TCP_LISTEN_OVERFLOW);
		return 1;
	}
	/* Rebuild the SYN the cookie stands for. */
	memset(&syn.opt, 0, sizeof(syn.opt));
	syn.seq = client_isn;
	syn.opt.has_mss = 1;
	syn.opt.mss = cookie_mss[(cookie >> COOKIE_MSS_SHIFT) & COOKIE_MSS_MASK];
	if (seg->opt.has_ts && st->cfg.tcp_timestamps) {
		uint32_t bits = seg->opt.tsecr & COOKIE_TS_MASK;

		syn.opt.has_ts = 1;
		syn.opt.tsval = seg->opt.tsval;
		syn.opt.sack_ok = !!(bits & COOKIE_SACK);
		if ((bits & 0xf) != COOKIE_NO_WS) {
			syn.opt.has_ws = 1;
			syn.opt.wscale = (uint8_t)USTACK_MIN(bits & 0xf,
							     (uint32_t)TCP_MAX_WSCALE);
		}
	}
	if ((c = new_child(st, lc, &syn, cookie, 1, TCP_CAUSE_COOKIE)) == NULL)
		return 1;
	child_options(st, c, &syn.opt, seg->wnd);
	c->snd_nxt = c->snd_max = c->iss + 1;  /* our SYN-ACK was "sent" */
	c->rcv_adv = c->rcv_nxt + USTACK_MIN(tcp_rcv_space(c), TCP_MAX_WIN);
	/* Should this ACK not complete the handshake after all, the child
	 * retries and times out like any other SYN_RCVD. */
	tcp_rtx_start(st, c);
	STAT_INC(st, TCP_SYNCOOKIES_OK);
	tcp_rcv_established(st, c, seg);
	return 1;
}

/* ---- LISTEN input -------------------------------------------------------- */

static void listen_syn(struct ustack *st, struct tcp_conn *lc,
		       const struct tcp_seg *seg, uint32_t iss, int use_iss)
{
	struct tcp_conn *c;

	if (lc->lq->nacc >= lc->lq->backlog) {
		STAT_INC(st, TCP_LISTEN_OVERFLOW);
		return;
	}
	if (lc->lq->nsyn >= st->cfg.tcp_syn_backlog) {
		if (st->cfg.tcp_syncookies)
			cookie_send(st, lc, seg);
		else
			STAT_INC(st, TCP_DROP_SYN_QUEUE_FULL);
		return;
	}
	if ((c = new_child(st, lc, seg, iss, use_iss, TCP_CAUSE_SYN)) == NULL)
		return;
	child_options(st, c, &seg->opt, seg->wnd);
	/* Data on the SYN is not taken: the client sends it again. */
	tcp_send_syn(st, c);
	tcp_rtx_start(st, c);
}

void tcp_listen_input(struct ustack *st, struct tcp_conn *lc,
		      struct tcp_seg *seg)
{
	/* first, an RST is ignored */
	if (seg->flags & TCP_RST)
		return;
	/* second, any ACK is bad here (unless it returns a cookie) */
	if (seg->flags & TCP_ACK) {
		if (!(seg->flags & TCP_SYN) && st->cfg.tcp_syncookies &&
		    cookie_check(st, lc, seg))
			return;
		STAT_INC(st, TCP_DROP_NO_CONN);
		tcp_reply_rst(st, seg);
		return;
	}
	/* third, a SYN opens a child */
	if (!(seg->flags & TCP_SYN)) {
		STAT_INC(st, TCP_DROP_STATE);
		return;
	}
	listen_syn(st, lc, seg, 0, 0);
}

/*
 * RFC 6191 2: may a SYN reopen a TIME_WAIT 4-tuple? With timestamps on the
 * new incarnation (the SYN has TSopt and we use them): if the old one used
 * timestamps too, when the SYN's TSval is newer than TS.Recent, or equal
 * to it with a higher sequence number; if the old one did not, always
 * (old duplicates lack TSopt and the new connection drops those, RFC 7323
 * 3.2). Without timestamps on the new one: when the sequence number is
 * above the old one's (RFC 1122 4.2.2.13).
 */
struct tcp_conn *tcp_timewait_syn_ok(struct ustack *st, int ts_ok,
				     uint32_t ts_recent, uint32_t rcv_nxt,
				     uint32_t snd_nxt, const struct tcp_seg *seg,
				     uint32_t *iss)
{
	struct tcp_conn *lc = tcp_listener_lookup(st, seg->daddr, seg->dport);
	int seq_newer = seq_gt(seg->seq, rcv_nxt), ok;

	if (!lc)
		return NULL;
	if (!seg->opt.has_ts || !st->cfg.tcp_timestamps)
		ok = seq_newer;
	else if (!ts_ok)
		ok = 1;
	else
		ok = seq_gt(seg->opt.tsval, ts_recent) ||
		     (seg->opt.tsval == ts_recent && seq_newer);
	if (!ok)
		return NULL;
	/* The new ISS is above anything the old connection used. */
	*iss = tcp_isn(st, seg->daddr, seg->dport, seg->saddr, seg->sport);
	if (seq_lt(*iss, snd_nxt + TCP_MAX_WIN + 2))
		*iss = snd_nxt + TCP_MAX_WIN + 2;
	return lc;
}

void tcp_timewait_reopen(struct ustack *st, struct tcp_conn *lc,
			 struct tcp_seg *seg, uint32_t iss)
{
	STAT_INC(st, TCP_TIME_WAIT_REUSED);
	listen_syn(st, lc, seg, iss, 1);
}

/*
 * RFC 6191 (and RFC 1122 4.2.2.13): a SYN for a TIME_WAIT 4-tuple starts
 * a new connection when tcp_timewait_syn_ok(). A TIME_WAIT whose socket
 * is still open is a TCB; the others are records (tcp_tw.c).
 */
int tcp_timewait_syn(struct ustack *st, struct tcp_conn *tw,
		     struct tcp_seg *seg)
{
	uint32_t iss;
	struct tcp_conn *lc = tcp_timewait_syn_ok(st, tw->ts_ok, tw->ts_recent,
						  tw->rcv_nxt, tw->snd_nxt, seg,
						  &iss);

	if (!lc)
		return 0;
	tcp_done(st, tw, 0, TCP_CAUSE_REUSE);
	tcp_timewait_reopen(st, lc, seg, iss);
	return 1;
}
