/*
 * tcp_in.c - segment arrival (RFC 9293 3.10.7).
 *
 * tcp_input() validates the segment (length, data offset, checksum,
 * addresses, flags, options), finds its connection and dispatches:
 *   no connection  -> 3.10.7.1, RST (tcp_reply_rst)
 *   LISTEN         -> 3.10.7.2, tcp_listen.c
 *   SYN_SENT       -> 3.10.7.3, rcv_syn_sent()
 *   TIME_WAIT      -> rcv_time_wait() (RFC 1337, RFC 6191), or
 *                     tcp_tw_input() for a compact record (tcp_tw.c)
 *   other states   -> 3.10.7.4, tcp_rcv_established(): the steps in the
 *                     RFC's order, one function each: PAWS (RFC 7323 5.3),
 *                     first sequence number, second RST, (third security:
 *                     none), fourth SYN, fifth ACK, (sixth URG: urgent
 *                     data is delivered inline as ordinary data), seventh
 *                     text, eighth FIN. RFC 5961 challenge ACKs in steps 2,
 *                     4 and 5.
 * Steps return STEP_CONT to go on, STEP_STOP when the segment is done
 * with, STEP_GONE when the TCB ended (it may be freed: hands off).
 *
 * May touch: the TCB, the tables (lookup), output, timers, the socket's
 * wakeup, counters. Consumes the pkb; never holds on to it (data is
 * copied into the receive ring).
 */
#include <errno.h>
#include <string.h>

#include "proto/ipv4.h"
#include "proto/tcp_int.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"

enum { STEP_CONT, STEP_STOP, STEP_GONE };

static void trace_in(struct ustack *st, const struct tcp_seg *s,
		     const char *state)
{
	char a[IP4_STRLEN], b[IP4_STRLEN], f[8];
	int n = 0;

	if (s->flags & TCP_SYN)
		f[n++] = 'S';
	if (s->flags & TCP_FIN)
		f[n++] = 'F';
	if (s->flags & TCP_RST)
		f[n++] = 'R';
	if (s->flags & TCP_PSH)
		f[n++] = 'P';
	if (s->flags & TCP_ACK)
		f[n++] = '.';
	f[n] = 0;
	ULOG_TRACE(st, "tcp in  %s:%u > %s:%u [%s] seq %u ack %u win %u len %u %s",
		   ustack_fmt_ip4(s->saddr, a), s->sport,
		   ustack_fmt_ip4(s->daddr, b), s->dport, f, s->seq, s->ack,
		   s->wnd, s->len, state);
}

/* Validate once at the boundary; afterwards the view is trusted. */
static int parse(struct ustack *st, struct pkb *pkb, struct tcp_seg *s)
{
	const uint8_t *h = pkb->data;
	uint32_t src = pkb->ip.src, len = pkb->len;
	unsigned hl;

	if (len < TCP_HDR_LEN) {
		STAT_INC(st, TCP_DROP_SHORT);
		return -1;
	}
	hl = tcp_hlen(h);
	if (hl < TCP_HDR_LEN || hl > len) {
		STAT_INC(st, TCP_DROP_BAD_OFFSET);
		return -1;
	}
	/* RFC 1122 4.2.3.10: nothing to or from broadcast/multicast. */
	if (pkb->ip.bcast || pkb->l2_mcast || src == 0 ||
	    ip4_is_multicast(src) || ip4_is_limited_bcast(src) ||
	    ip4_is_broadcast(st, src) || tcp_sport(h) == 0 || tcp_dport(h) == 0) {
		STAT_INC(st, TCP_DROP_BAD_ADDR);
		return -1;
	}
	/* The device verified it, or the data never crossed a wire
	 * (pkb->csum: checksum offload, docs/performance.md). */
	if (pkb->csum == PKB_CSUM_NONE &&
	    csum_fold(csum_partial(h, len, csum_pseudo(src, pkb->ip.dst,
						       IP4_PROTO_TCP, len))) != 0) {
		STAT_INC(st, TCP_DROP_BAD_CHECKSUM);
		return -1;
	}
	memset(s, 0, sizeof(*s));
	s->flags = tcp_flags(h);
	if ((s->flags & TCP_SYN) && (s->flags & (TCP_RST | TCP_FIN))) {
		STAT_INC(st, TCP_DROP_BAD_FLAGS);
		return -1;
	}
	if (hl > TCP_HDR_LEN &&
	    tcp_opt_parse(h + TCP_HDR_LEN, hl - TCP_HDR_LEN,
			  !!(s->flags & TCP_SYN), &s->opt) < 0) {
		STAT_INC(st, TCP_DROP_BAD_OPTIONS);
		return -1;
	}
	s->saddr = src;
	s->daddr = pkb->ip.dst;
	s->sport = tcp_sport(h);
	s->dport = tcp_dport(h);
	s->seq = s->seq0 = tcp_seq(h);
	s->ack = tcp_ack(h);
	s->wnd = tcp_win(h);
	s->data = h + hl;
	s->len = len - hl;
	s->pkb = pkb;
	return 0;
}

/* RFC 9293 3.10.7.1: a reset that the sender will find acceptable. */
void tcp_reply_rst(struct ustack *st, const struct tcp_seg *seg)
{
	if (seg->flags & TCP_RST)
		return;
	/* unchecked: a lost RST is answered again at the peer's next
	 * segment (tcp_send_raw) */
	if (seg->flags & TCP_ACK)
		tcp_send_raw(st, seg->daddr, seg->dport, seg->saddr, seg->sport,
			     seg->ack, 0, TCP_RST, 0, NULL, 0);
	else
		tcp_send_raw(st, seg->daddr, seg->dport, seg->saddr, seg->sport,
			     0, seg->seq + tcp_seg_len(seg), TCP_RST | TCP_ACK,
			     0, NULL, 0);
}

/*
 * RFC 5961 7: at most cfg.tcp_challenge_ack_limit per second. Counted per
 * connection, not stack-wide as RFC 5961 suggests: a budget shared by all
 * connections is a side channel (CVE-2016-5696, Cao et al., "Off-Path TCP
 * Exploits: Global Rate Limit Considered Dangerous", USENIX Security 2016:
 * an off-path attacker counts the challenge ACKs left for its own
 * connection to learn whether its spoofed segments hit another one's
 * window). Linux moved the same way (per-socket limits, the global one off
 * by default since 2022). No amplification is lost: each challenge ACK
 * answers one received segment.
 */
void tcp_challenge_ack(struct ustack *st, struct tcp_conn *c)
{
	if (st->now - c->chal_slot_at >= USTACK_SEC(1) || c->chal_count == 0) {
		c->chal_slot_at = st->now;
		c->chal_count = 0;
	}
	if (c->chal_count >= st->cfg.tcp_challenge_ack_limit) {
		STAT_INC(st, TCP_CHALLENGE_ACK_LIMITED);
		return;
	}
	c->chal_count++;
	STAT_INC(st, TCP_CHALLENGE_ACKS);
	tcp_send_ack(st, c);
}

/* Handshake done (active, passive or simultaneous). */
static void established(struct ustack *st, struct tcp_conn *c,
			enum tcp_cause cause)
{
	int syn_lost = c->nrexmit > 0;

	tcp_set_state(st, c, USTACK_TCP_ESTABLISHED, cause);
	/* RFC 6298 5.7: the SYN timer expired and no sample: RTO = 3 s. */
	if (syn_lost && !c->srtt_us)
		c->rto_us = tcp_rto_clamp(st, USTACK_SEC(3));
	tcp_cc_init(st, c);
	if (syn_lost)
		c->cwnd = c->smss;    /* RFC 5681 3.1: lost SYN -> IW of one */
	c->nrexmit = 0;
	tcp_keepalive_update(st, c);
	if (c->sk)
		c->sk->connected = 1;
	tcp_wakeup(st, c);
}

/* ---- SYN_SENT (3.10.7.3) ------------------------------------------------- */

static int step_text(struct ustack *st, struct tcp_conn *c,
		     struct tcp_seg *seg);
static int step_fin(struct ustack *st, struct tcp_conn *c,
		    struct tcp_seg *seg);

static void rcv_syn_sent(struct ustack *st, struct tcp_conn *c,
			 struct tcp_seg *seg)
{
	int ack = !!(seg->flags & TCP_ACK);

	/* first, the ACK: it must acknowledge our SYN and nothing more */
	if (ack && (seq_leq(seg->ack, c->iss) || seq_gt(seg->ack, c->snd_max))) {
		STAT_INC(st, TCP_DROP_BAD_ACK);
		if (!(seg->flags & TCP_RST)) /* lost: sent again at the next */
			tcp_send_raw(st, c->laddr, c->lport, c->raddr, c->rport,
				     seg->ack, 0, TCP_RST, 0, NULL, 0);
		return;
	}
	/* second, RST: only with an acceptable ACK (RFC 5961 3.2 note) */
	if (seg->flags & TCP_RST) {
		if (ack) {
			STAT_INC(st, TCP_RST_RX);
			tcp_done(st, c, ECONNREFUSED, TCP_CAUSE_RST);
		}
		return;
	}
	/* fourth, SYN */
	if (!(seg->flags & TCP_SYN)) {
		STAT_INC(st, TCP_DROP_STATE);
		return;
	}
	tcp_opt_apply_syn(st, c, &seg->opt, seg->wnd);
	c->irs = seg->seq;
	c->rcv_nxt = seg->seq + 1;
	if (!ack) {
		/* Simultaneous open: SYN_RCVD, SYN-ACK at our ISS. */
		tcp_set_state(st, c, USTACK_TCP_SYN_RCVD, TCP_CAUSE_SYN);
		tcp_send_syn(st, c);
		tcp_rtx_start(st, c);
		return;
	}
	if (c->rtt_timing && !c->syn_rxmit)
		tcp_rtt_sample(st, c, st->now - c->rtt_at);
	c->rtt_timing = 0;
	c->snd_una = seg->ack;
	c->syn_acked = 1;
	tcp_rtx_stop(st, c);
	c->rcv_adv = c->rcv_nxt + USTACK_MIN(tcp_rcv_space(c), TCP_MAX_WIN);
	established(st, c, TCP_CAUSE_SYNACK);
	c->ack_now = 1;
	/* Data or FIN on the SYN-ACK: continue at the sixth step. */
	seg->seq++;
	seg->flags &= (uint8_t)~TCP_SYN;
	if (seq_gt(seg->seq + seg->len, c->rcv_adv)) {
		seg->len = c->rcv_adv - seg->seq;
		seg->flags &= (uint8_t)~TCP_FIN;
	}
	if (step_text(st, c, seg) != STEP_CONT || step_fin(st, c, seg) != STEP_CONT)
		return;
	tcp_output(st, c);
}

/* ---- TIME_WAIT --------------------------------------------------------- */

static void rcv_time_wait(struct ustack *st, struct tcp_conn *c,
			  struct tcp_seg *seg)
{
	if (seg->flags & TCP_RST) {
		/* RFC 1337: a RST must not assassinate TIME_WAIT. */
		STAT_INC(st, TCP_RST_IGNORED_TW);
		return;
	}
	if (seg->flags & TCP_SYN) {
		/* RFC 6191: a new incarnation may reuse the 4-tuple. */
		if (!(seg->flags & TCP_ACK) && tcp_timewait_syn(st, c, seg))
			return;
		tcp_challenge_ack(st, c);      /* RFC 5961 4.2, RFC 9293 */
		return;
	}
	/* RFC 9293 3.10.7.4: the peer retransmitted its FIN (our last ACK
	 * was lost): acknowledge it and restart the 2 MSL timeout. */
	if ((seg->flags & TCP_FIN) && seg->seq + seg->len + 1 == c->rcv_nxt) {
		tcp_send_ack(st, c);
		tcp_wait_arm(st, c, TCP_WAIT_2MSL,
			     tcp_time_add(st->now, 2 * st->cfg.tcp_msl_us));
		return;
	}
	/* Anything else that is not a bare in-sequence ACK is unacceptable:
	 * answer with an ACK (first step). */
	if (seg->len || (seg->flags & TCP_FIN) || seg->seq != c->rcv_nxt)
		tcp_send_ack(st, c);
	else
		STAT_INC(st, TCP_DROP_STATE);
}

/* ---- synchronized states and SYN_RCVD (3.10.7.4) ------------------------- */

/*
 * The ACK that answers an unacceptable segment (RFC 9293 first step, RFC
 * 7323 R1). When that segment is itself a bare ACK, at most one answer per
 * TCP_OOW_ACK_US: two ends that each find the other's ACKs unacceptable
 * must not ping-pong forever (Linux's tcp_invalid_ratelimit). Except the
 * probes that live on these answers (RFC 9293 3.8.6.1, RFC 1122 4.2.3.6):
 * SEG.SEQ = RCV.NXT - 1 (zero-window probes as Linux sends them,
 * keepalives), and anything while our window is zero. A SYN is answered
 * by a challenge ACK (rate-limited per connection).
 */
static void oow_ack(struct ustack *st, struct tcp_conn *c,
		    const struct tcp_seg *seg)
{
	if (seg->flags & TCP_SYN) {
		/* RFC 5961 4.2: a SYN, "irrespective of the sequence number",
		 * gets a challenge ACK, under the limit of section 7 (else
		 * blind SYNs make us a 1:1 reflector). */
		tcp_challenge_ack(st, c);
		return;
	}
	if (!seg->len && !(seg->flags & (TCP_SYN | TCP_FIN)) &&
	    seg->seq0 != c->rcv_nxt - 1 && tcp_rcv_wnd(c)) {
		if (c->oow_ack_at && st->now - c->oow_ack_at < TCP_OOW_ACK_US)
			return;
		c->oow_ack_at = st->now;
	}
	tcp_send_ack(st, c);
}

/* RFC 7323 5.3 R1 (PAWS) and 3.2 (segments missing TSopt). */
static int step_paws(struct ustack *st, struct tcp_conn *c,
		     struct tcp_seg *seg)
{
	if (!c->ts_ok)
		return STEP_CONT;
	if (!seg->opt.has_ts) {
		/* RFC 7323 3.2: SHOULD silently drop non-RST segments without
		 * TSopt. Exception: in SYN_RCVD, the ACK that completes the
		 * handshake is accepted without it (peers and middleboxes
		 * that strip options from the third segment would otherwise
		 * hang; docs/tcp.md). */
		if ((seg->flags & TCP_RST) || c->state == USTACK_TCP_SYN_RCVD)
			return STEP_CONT;
		STAT_INC(st, TCP_DROP_NO_TS);
		return STEP_STOP;
	}
	if (!seq_lt(seg->opt.tsval, c->ts_recent) || (seg->flags & TCP_RST))
		return STEP_CONT;        /* RST is acceptable regardless */
	if (st->now - c->ts_recent_at > TCP_PAWS_IDLE_US)
		return STEP_CONT;        /* RFC 7323 5.5: TS.Recent is invalid
					    after 24 days idle (seg_accepted) */
	STAT_INC(st, TCP_DROP_PAWS);
	oow_ack(st, c, seg);
	return STEP_STOP;
}

/* first, check the sequence number (acceptability test and trimming) */
static int step_seq(struct ustack *st, struct tcp_conn *c, struct tcp_seg *seg)
{
	uint32_t nxt = c->rcv_nxt, wnd, slen;
	int ok;

	/* A SYN-ACK whose SYN we already hold (sequence irs): retransmitted
	 * because our ACK was lost, or the SYN-ACK of a simultaneous open.
	 * Trim the SYN as duplicate data (BSD does this too): its ACK still
	 * counts, and an ACK goes back. A bare SYN is left to step four
	 * (RFC 5961 4.2: a challenge ACK whatever its sequence number). Only
	 * while nothing but that SYN (and a FIN) came: after 2^32 bytes irs
	 * is a sequence number like any other (RFC 9293 3.4). */
	if ((seg->flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK) &&
	    seg->seq == c->irs && c->rcv_nxt - c->irs <= 2) {
		seg->flags &= (uint8_t)~TCP_SYN;
		seg->seq++;
		c->ack_now = 1;
	}
	wnd = tcp_rcv_wnd(c);
	slen = tcp_seg_len(seg);
	if (slen == 0)
		ok = wnd ? seq_in(seg->seq, nxt, nxt + wnd) : seg->seq == nxt;
	else
		ok = wnd && (seq_in(seg->seq, nxt, nxt + wnd) ||
			     seq_in(seg->seq + slen - 1, nxt, nxt + wnd));
	if (!ok && !wnd && seg->seq == nxt && !(seg->flags & TCP_SYN)) {
		/* Zero window: still take the ACK (and RST) of a probe; its
		 * data is dropped and acknowledged. */
		seg->len = 0;
		seg->flags &= (uint8_t)~TCP_FIN;
		c->ack_now = 1;
		ok = 1;
	}
	if (!ok && seg->len && !(seg->flags & (TCP_SYN | TCP_RST | TCP_FIN)) &&
	    seq_lt(seg->seq, nxt) && seq_geq(seg->seq + slen, c->last_ack_sent) &&
	    (c->state == USTACK_TCP_ESTABLISHED ||
	     c->state == USTACK_TCP_FIN_WAIT_1 ||
	     c->state == USTACK_TCP_FIN_WAIT_2)) {
		/* Data retransmitted up to what we last acknowledged (our ACK
		 * was lost): old, but taken as an empty segment whose ACK and
		 * timestamp count, as Linux does (its rcv_wup); acknowledged
		 * at once. Otherwise TS.Recent keeps the first copy's TSval
		 * and the sender's RTT sample from our next ACK spans all its
		 * backed-off timeouts: under heavy loss its RTO climbed to the
		 * maximum and stayed there (RFC 7323 4.3, 5.3 R3). */
		ok = 1;
	}
	if (!ok && seg->len && seq_leq(seg->seq + seg->len, nxt))
		tcp_dsack_note(st, c, seg->seq, seg->seq + seg->len);
	if (!ok) {
		STAT_INC(st, TCP_DROP_OUT_OF_WINDOW);
		if (!(seg->flags & TCP_RST))
			oow_ack(st, c, seg);
		return STEP_STOP;
	}
	if (seq_lt(seg->seq, nxt) && !(seg->flags & TCP_SYN)) {
		uint32_t d = USTACK_MIN(nxt - seg->seq, seg->len);

		if (d)
			tcp_dsack_note(st, c, seg->seq, seg->seq + d);
		seg->data += d;
		seg->len -= d;
		seg->seq += d;
		c->ack_now = 1;          /* duplicate data: ACK at once */
	}
	if (seq_gt(seg->seq + seg->len, nxt + wnd)) {
		seg->len = nxt + wnd - seg->seq;
		seg->flags &= (uint8_t)~TCP_FIN;
	}
	return STEP_CONT;
}

/*
 * The segment passed every check (sequence, RST, SYN, ACK): only now may it
 * change what we remember of the peer. A segment dropped on the way (a
 * spoofed one with an unacceptable ACK, say) changes no state: RFC 9293
 * 3.10.7.4, RFC 5961 5.2; Linux stores TS.Recent after its ACK check too.
 */
static void seg_accepted(struct ustack *st, struct tcp_conn *c,
			 const struct tcp_seg *seg)
{
	/* RFC 7323 4.3: TS.Recent from segments covering Last.ACK.sent (and
	 * 5.5: after 24 days idle, whatever it says). */
	if (c->ts_ok && seg->opt.has_ts && !(seg->flags & TCP_RST) &&
	    seq_leq(seg->seq0, c->last_ack_sent) &&
	    (seq_geq(seg->opt.tsval, c->ts_recent) ||
	     st->now - c->ts_recent_at > TCP_PAWS_IDLE_US)) {
		c->ts_recent = seg->opt.tsval;
		c->ts_recent_at = st->now;
	}
	c->last_rcv_at = st->now;
	c->keep_probes = 0;
}

/* second, check the RST bit (RFC 5961 3.2) */
static int step_rst(struct ustack *st, struct tcp_conn *c, struct tcp_seg *seg)
{
	int err = 0;

	if (!(seg->flags & TCP_RST))
		return STEP_CONT;
	if (seg->seq0 != c->rcv_nxt) {
		/* In the window but not exact: a challenge ACK. */
		tcp_challenge_ack(st, c);
		return STEP_STOP;
	}
	STAT_INC(st, TCP_RST_RX);
	switch (c->state) {
	case USTACK_TCP_SYN_RCVD:
		err = c->passive ? 0 : ECONNREFUSED; /* passive: "to LISTEN" */
		break;
	case USTACK_TCP_ESTABLISHED:
	case USTACK_TCP_FIN_WAIT_1:
	case USTACK_TCP_FIN_WAIT_2:
	case USTACK_TCP_CLOSE_WAIT:
		err = ECONNRESET;
		break;
	default:                         /* CLOSING, LAST_ACK */
		break;
	}
	tcp_done(st, c, err, TCP_CAUSE_RST);
	return STEP_GONE;
}

/* fourth, check the SYN bit (RFC 5961 4.2) */
static int step_syn(struct ustack *st, struct tcp_conn *c, struct tcp_seg *seg)
{
	if (!(seg->flags & TCP_SYN))
		return STEP_CONT;
	if (c->state == USTACK_TCP_SYN_RCVD && c->passive) {
		/* RFC 9293: a passive SYN_RCVD "returns to LISTEN". */
		tcp_done(st, c, 0, TCP_CAUSE_SYN);
		return STEP_GONE;
	}
	tcp_challenge_ack(st, c);
	return STEP_STOP;
}

/* fifth, SYN_RCVD: is our SYN acknowledged? */
static int ack_syn_rcvd(struct ustack *st, struct tcp_conn *c,
			struct tcp_seg *seg)
{
	if (!seq_lt(c->snd_una, seg->ack) || seq_gt(seg->ack, c->snd_max)) {
		STAT_INC(st, TCP_DROP_BAD_ACK);
		/* unchecked: lost, it is sent again at the next bad ACK */
		tcp_send_raw(st, c->laddr, c->lport, c->raddr, c->rport,
			     seg->ack, 0, TCP_RST, 0, NULL, 0);
		return STEP_STOP;
	}
	if (c->passive && tcp_child_established(st, c) < 0)
		return STEP_STOP;          /* accept queue full: try again */
	c->snd_wnd = (uint32_t)seg->wnd << c->snd_wscale;
	c->max_snd_wnd = USTACK_MAX(c->max_snd_wnd, c->snd_wnd);
	c->snd_wl1 = seg->seq0;
	c->snd_wl2 = seg->ack;
	established(st, c, TCP_CAUSE_ACK);
	return STEP_CONT;
}

/* SND.UNA < SEG.ACK <= SND.NXT: new data acknowledged. */
static void ack_new(struct ustack *st, struct tcp_conn *c,
		    const struct tcp_seg *seg)
{
	uint32_t acked = seg->ack - c->snd_una;
	int syn_acked = !c->syn_acked;

	if (syn_acked)
		acked--;                 /* our SYN is not data */
	c->syn_acked = 1;

	/* RTT: RFC 7323 4 (TSecr of an ACK for new data) or one timed
	 * segment at a time, never a retransmitted one (RFC 6298 3). The
	 * ACK of a retransmitted SYN gives none either way (RFC 6298 5.7
	 * covers that case). */
	if (syn_acked && c->syn_rxmit) {
		c->rtt_timing = 0;
	} else if (c->ts_ok && seg->opt.has_ts && seg->opt.tsecr) {
		uint32_t ms = tcp_ts_now(st, c) - seg->opt.tsecr;

		/* An echo from before the first retransmission of an RTO
		 * series answers an original transmission (its ACKs were
		 * lost, or the peer echoes an old TS.Recent for a duplicate):
		 * it measures the backoff, not the path. No sample; but the
		 * ACK of new data ends the backoff all the same (RFC 7323 4:
		 * TSecr makes ACKs of retransmissions unambiguous, so Karn's
		 * wait for a fresh sample is not needed; RFC 6298 5.7). */
		if (c->nrexmit && seq_lt(seg->opt.tsecr, c->rxt_tsval))
			tcp_rto_reset(st, c);
		else if (ms < TCP_TS_RTT_MAX_MS)
			tcp_rtt_sample(st, c, (ustack_time_t)ms * 1000);
		else
			tcp_rto_reset(st, c);
	} else if (c->rtt_timing && seq_gt(seg->ack, c->rtt_seq)) {
		tcp_rtt_sample(st, c, st->now - c->rtt_at);
	}
	if (c->rtt_timing && seq_gt(seg->ack, c->rtt_seq))
		c->rtt_timing = 0;
	/* RFC 3522 (Eifel): the first ACK past where the episode began
	 * echoes a TSval from before its first retransmission: the original
	 * arrived, the retransmission was spurious. */
	if (c->undo_on && c->snd_una == c->undo_marker && c->ts_ok &&
	    seg->opt.has_ts && seg->opt.tsecr &&
	    seq_lt(seg->opt.tsecr, c->rxt_tsval))
		tcp_cc_undo(st, c, c->nrexmit > 0);
	c->snd_una = seg->ack;
	if (seq_lt(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	if (seq_geq(c->snd_una, c->snd_max))
		c->probe_out = 0;
	tcp_sbuf_ack(c);
	tcp_sack_trim(c);
	c->nrexmit = 0;
	tcp_cc_ack(st, c, acked);
	/* RFC 6298 5.2 and 5.3 */
	if (c->snd_una == c->snd_max) {
		tcp_rtx_stop(st, c);
	} else if (c->rtx_kind != TCP_RTX_PERSIST) {
		tcp_rtx_start(st, c);
		tcp_tlp_arm(st, c);      /* RFC 8985 7.2 (2) */
	}
	tcp_wakeup(st, c);              /* send space freed */
}

/* RFC 9293 3.10.7.4 fifth: "If SND.UNA =< SEG.ACK =< SND.NXT, the send
 * window should be updated", from newer segments only (SND.WL1/WL2). An
 * old ACK (below SND.UNA) never moves the window, even on newer data. */
static void ack_window(struct ustack *st, struct tcp_conn *c,
		       const struct tcp_seg *seg)
{
	uint32_t wnd = (uint32_t)seg->wnd << c->snd_wscale;

	if (seq_lt(seg->ack, c->snd_una))
		return;
	if (!(seq_lt(c->snd_wl1, seg->seq0) ||
	      (c->snd_wl1 == seg->seq0 && seq_leq(c->snd_wl2, seg->ack))))
		return;
	c->snd_wnd = wnd;
	c->snd_wl1 = seg->seq0;
	c->snd_wl2 = seg->ack;
	c->max_snd_wnd = USTACK_MAX(c->max_snd_wnd, wnd);
	if (wnd) {
		c->persist_probes = 0;
		c->persist_us = 0;
		if (c->rtx_kind == TCP_RTX_PERSIST) {
			timer_cancel(st, &c->t_rtx);
			c->rtx_kind = TCP_RTX_NONE;
		}
	}
}

/* What an acknowledgment of our FIN does in each closing state. */
static int ack_closing_states(struct ustack *st, struct tcp_conn *c)
{
	switch (c->state) {
	case USTACK_TCP_FIN_WAIT_1:
		if (!tcp_fin_acked(c))
			break;
		tcp_set_state(st, c, USTACK_TCP_FIN_WAIT_2, TCP_CAUSE_ACK);
		tcp_rtx_stop(st, c);
		if (c->orphan)
			tcp_wait_arm(st, c, TCP_WAIT_FIN2,
				     tcp_time_add(st->now,
						  st->cfg.tcp_fin_wait2_us));
		tcp_keepalive_update(st, c);
		tcp_wakeup(st, c);
		break;
	case USTACK_TCP_CLOSING:
		if (tcp_fin_acked(c)) {
			tcp_enter_time_wait(st, c, TCP_CAUSE_ACK);
			return STEP_GONE;      /* c may be a record now */
		}
		/* Not yet: data (or the FIN itself) may still wait to be
		 * sent behind the window; carry on to tcp_output(). */
		break;
	case USTACK_TCP_LAST_ACK:
		if (!tcp_fin_acked(c))
			break;
		tcp_done(st, c, 0, TCP_CAUSE_ACK);
		return STEP_GONE;
	default:
		break;
	}
	return STEP_CONT;
}

/*
 * A duplicate ACK: without SACK, RFC 5681 3.2's (the same ACK, no data, no
 * SYN or FIN, the window unchanged, data outstanding); with SACK, RFC 6675
 * 2's: one "carrying a SACK block that identifies previously unacknowledged
 * and un-SACKed octets" -- an ACK the network duplicated is not one.
 * Answers to window probes never are: nothing is in flight but the probe.
 */
static int is_dupack(const struct tcp_conn *c, const struct tcp_seg *seg,
		     uint32_t wnd, int sack_new)
{
	if (seg->ack != c->snd_una || c->snd_nxt == c->snd_una || !wnd ||
	    c->rtx_kind == TCP_RTX_PERSIST)
		return 0;
	if (c->sack_ok)
		return sack_new;
	return !seg->len && !(seg->flags & (TCP_SYN | TCP_FIN)) &&
	       wnd == c->snd_wnd;
}

/* fifth, check the ACK field (RFC 5961 5.2 acceptability) */
static int step_ack(struct ustack *st, struct tcp_conn *c, struct tcp_seg *seg)
{
	uint32_t wnd = (uint32_t)seg->wnd << c->snd_wscale;
	int r, sack_new, lost;
	uint32_t before;

	if (!(seg->flags & TCP_ACK)) {
		STAT_INC(st, TCP_DROP_NO_ACK);
		return STEP_STOP;
	}
	if (c->state == USTACK_TCP_SYN_RCVD &&
	    (r = ack_syn_rcvd(st, c, seg)) != STEP_CONT)
		return r;
	if (seq_gt(seg->ack, c->snd_max) ||
	    seq_lt(seg->ack, c->snd_una - c->max_snd_wnd)) {
		STAT_INC(st, TCP_DROP_BAD_ACK);
		tcp_challenge_ack(st, c);
		return STEP_STOP;
	}
	seg_accepted(st, c, seg);
	c->probes_unanswered = 0;       /* the peer is there */
	tcp_dsack_rcv(st, c, &seg->opt, seg->ack);
	before = c->snd_una;
	sack_new = tcp_sack_update(c, &seg->opt);
	if (c->sack_ok)
		tcp_rack_ack(st, c, seg);       /* RFC 8985 6.2 steps 2-3 */
	lost = tcp_tlp_ack(st, c, seg);
	if (seq_gt(seg->ack, c->snd_una)) {
		ack_new(st, c, seg);
		/* RFC 8985 6.2: the probe's delivery showed data below it
		 * lost; recovery starts on this ACK (RFC 6675 5 IsLost). */
		if (lost && !c->in_recovery && tcp_sack_is_lost_head(c))
			tcp_cc_dupack(st, c);
	} else if (is_dupack(c, seg, wnd, sack_new) || lost) {
		tcp_cc_dupack(st, c);
	}
	/* RFC 8985 6.2 step 5: RACK (and DupThresh) mark losses; the
	 * first starts recovery. Only while something is SACKed or a
	 * recovery (fast or after an RTO) is on: else nothing can be. */
	if (c->sack_ok && c->rack &&
	    (c->nscore || c->in_recovery || c->after_rto) &&
	    (sack_new || seq_gt(c->snd_una, before) || c->in_recovery) &&
	    tcp_rack_detect(st, c, tcp_sack_lost_edge(c)))
		tcp_cc_rack_lost(st, c);
	if (c->in_recovery)
		tcp_tlp_arm(st, c);             /* see tlp_allowed() */
	ack_window(st, c, seg);
	return ack_closing_states(st, c);
}

/*
 * ACK frequency: the ACK that in-order data asks for (every second
 * full-sized segment, RFC 5681 4.2) waits to the end of the device read
 * batch it came in (ustack_poll_dev), so a connection that got several
 * frames in one batch - a burst the device had queued, or a receive
 * offload's coalesced frames - answers them with one ACK, as Linux does
 * for a GRO'd super-frame. Nothing else waits: duplicate ACKs for
 * out-of-order data, a filled gap, a FIN, window updates go at once, and a
 * segment we send before the batch ends carries the ACK anyway. Outside a
 * batch (ustack_input, replay) the ACK goes at once.
 */
static void ack_defer(struct ustack *st, struct tcp_conn *c)
{
	unsigned i;

	struct tcp_state *t = &st->tcp;

	if (!t->rx_batch) {
		c->ack_now = 1;
		return;
	}
	for (i = 0; i < t->nack_defer; i++)
		if (t->ack_defer[i] == c)
			return;
	if (t->nack_defer == TCP_ACK_DEFER_MAX) {
		c->ack_now = 1;
		return;
	}
	t->ack_defer[t->nack_defer++] = c;
}

void tcp_ack_undefer(struct ustack *st, struct tcp_conn *c)
{
	struct tcp_state *t = &st->tcp;

	for (unsigned i = 0; i < t->nack_defer; i++)
		if (t->ack_defer[i] == c)
			t->ack_defer[i] = NULL;
}

/* st->rx_batch_hook: a device read batch begins, or ends (send the ACKs
 * held back for it). */
void tcp_rx_batch(struct ustack *st, int end)
{
	struct tcp_state *t = &st->tcp;

	t->rx_batch = !end;
	if (!end)
		return;
	for (unsigned i = 0; i < t->nack_defer; i++) {
		struct tcp_conn *c = t->ack_defer[i];

		/* Unless an ACK (or data with it) went out meanwhile. */
		if (c && c->delack_bytes && TCP_SYNCHRONIZED(c->state)) {
			tcp_send_ack(st, c);
			c->batch_acked = 1;
		}
	}
	t->nack_defer = 0;
}

/* seventh, process the segment text */
static int step_text(struct ustack *st, struct tcp_conn *c,
		     struct tcp_seg *seg)
{
	int had_ooo = c->nooo > 0, r;

	if (!seg->len)
		return STEP_CONT;
	if (c->state != USTACK_TCP_ESTABLISHED &&
	    c->state != USTACK_TCP_FIN_WAIT_1 &&
	    c->state != USTACK_TCP_FIN_WAIT_2) {
		STAT_INC(st, TCP_DROP_STATE);  /* after the peer's FIN */
		return STEP_CONT;
	}
	if (c->orphan) {
		/* Nobody will read it: RFC 9293 3.10.4 / RFC 1122 4.2.2.13,
		 * the connection is reset (as Linux does). */
		STAT_INC(st, TCP_ABORT_ON_DATA);
		tcp_abort(st, c, 0, TCP_CAUSE_ABORT);
		return STEP_GONE;
	}
	r = tcp_rcv_data(st, c, seg);
	if (r == 1) {
		c->rcv_mss_est = USTACK_MAX(c->rcv_mss_est,
					    USTACK_MIN(seg->len, (uint32_t)c->rcv_mss));
		c->delack_bytes += seg->len;
		/* RFC 1122 4.2.3.2 lets an ACK go at once; as Linux, the first
		 * data of a connection and data after an idle gap longer than
		 * the RTO get quick ACKs, so the first exchanges never wait
		 * for a delayed ACK (the peer's Nagle or slow start would). */
		if (!c->rcv_data_seen) {
			tcp_quickack_enter(c);
		} else if (st->now - c->lrcv_at > c->rto_us) {
			/* After idle the old exchange pattern says nothing
			 * (Linux keeps pingpong here; we leave it). */
			tcp_quickack_enter(c);
			c->pingpong = 0;
		}
		c->rcv_data_seen = 1;
		c->lrcv_at = st->now;
		/* RFC 5681 4.2: ACK at least every second full-sized segment,
		 * and at once when a gap is (partly) filled. In a device read
		 * batch, at the end of it (ack_defer). */
		if (had_ooo)
			c->ack_now = 1;
		else if (c->delack_bytes >= 2 * c->rcv_mss_est ||
			 (c->quick && !c->pingpong))
			ack_defer(st, c);
		else
			tcp_delack_schedule(st, c);
		tcp_wakeup(st, c);
	} else {
		c->ack_now = 1;          /* out of order: duplicate ACK now */
	}
	return STEP_CONT;
}

/* Quick-ACK mode (Linux tcp_incr_quickack): ACK the next
 * rcv_wnd / (2 * MSS) segments at once, at least 2, at most
 * TCP_MAX_QUICKACKS, unless the connection is interactive (pingpong). */
void tcp_quickack_enter(struct tcp_conn *c)
{
	uint32_t mss = c->rcv_mss ? c->rcv_mss : TCP_DEFAULT_MSS;
	uint32_t q = tcp_rcv_wnd(c) / (2 * mss);

	q = USTACK_MIN(USTACK_MAX(q, 2u), (uint32_t)TCP_MAX_QUICKACKS);
	if (q > c->quick)
		c->quick = (uint8_t)q;
}

/* eighth, check the FIN bit */
static int step_fin(struct ustack *st, struct tcp_conn *c, struct tcp_seg *seg)
{
	if (seg->flags & TCP_FIN) {
		uint32_t fs = seg->seq + seg->len;

		if (seq_gt(fs, c->rcv_nxt)) {   /* beyond a hole: remember */
			c->fin_ooo = 1;
			c->fin_seq = fs;
			c->ack_now = 1;
			return STEP_CONT;
		}
		if (fs != c->rcv_nxt)
			return STEP_CONT;
	} else if (!(c->fin_ooo && c->fin_seq == c->rcv_nxt)) {
		return STEP_CONT;
	}
	if (c->state != USTACK_TCP_ESTABLISHED &&
	    c->state != USTACK_TCP_FIN_WAIT_1 &&
	    c->state != USTACK_TCP_FIN_WAIT_2)
		return STEP_CONT;
	c->rcv_nxt++;
	c->fin_rcvd = 1;
	c->fin_ooo = 0;
	c->ack_now = 1;
	tcp_wakeup(st, c);                /* EOF for the reader */
	switch (c->state) {
	case USTACK_TCP_ESTABLISHED:
		tcp_set_state(st, c, USTACK_TCP_CLOSE_WAIT, TCP_CAUSE_FIN);
		tcp_keepalive_update(st, c);
		break;
	case USTACK_TCP_FIN_WAIT_1:
		if (!tcp_fin_acked(c)) {
			tcp_set_state(st, c, USTACK_TCP_CLOSING, TCP_CAUSE_FIN);
			break;
		}
		tcp_send_ack(st, c);
		tcp_enter_time_wait(st, c, TCP_CAUSE_FINACK);
		return STEP_GONE;              /* c may be a record now */
	case USTACK_TCP_FIN_WAIT_2:
		tcp_send_ack(st, c);
		tcp_enter_time_wait(st, c, TCP_CAUSE_FIN);
		return STEP_GONE;              /* c may be a record now */
	}
	return STEP_CONT;
}

void tcp_rcv_established(struct ustack *st, struct tcp_conn *c,
			 struct tcp_seg *seg)
{
	/* The peer retransmitted its SYN: our SYN-ACK was lost; resend it. */
	if (c->state == USTACK_TCP_SYN_RCVD &&
	    (seg->flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN &&
	    seg->seq == c->irs) {
		tcp_send_syn(st, c);
		return;
	}
	if (step_paws(st, c, seg) != STEP_CONT ||
	    step_seq(st, c, seg) != STEP_CONT ||
	    step_rst(st, c, seg) != STEP_CONT ||
	    /* third, security: nothing to check */
	    step_syn(st, c, seg) != STEP_CONT ||
	    step_ack(st, c, seg) != STEP_CONT ||
	    /* sixth, URG: delivered inline, the pointer is not tracked */
	    step_text(st, c, seg) != STEP_CONT ||
	    step_fin(st, c, seg) != STEP_CONT)
		return;
	tcp_output(st, c);
}

void tcp_input(struct ustack *st, struct pkb *pkb)
{
	struct tcp_seg seg;
	struct tcp_conn *c;
	struct tcp_tw *tw;

	STAT_INC(st, TCP_RX);
	if (parse(st, pkb, &seg) < 0)
		goto out;
	c = tcp_lookup_tw(st, seg.daddr, seg.dport, seg.saddr, seg.sport, &tw);
	trace_in(st, &seg, c ? ustack_tcp_state_name(c->state) :
			   tw ? "TIME_WAIT" : "-");
	if (tw) {
		tcp_tw_input(st, tw, &seg);     /* a TIME_WAIT record */
		goto out;
	}
	if (!c) {
		struct tcp_conn *lc = tcp_listener_lookup(st, seg.daddr, seg.dport);

		if (lc) {
			tcp_listen_input(st, lc, &seg);
		} else {
			STAT_INC(st, TCP_DROP_NO_CONN);
			tcp_reply_rst(st, &seg);
		}
		goto out;
	}
	switch (c->state) {
	case USTACK_TCP_SYN_SENT:
		rcv_syn_sent(st, c, &seg);
		break;
	case USTACK_TCP_TIME_WAIT:
		rcv_time_wait(st, c, &seg);
		break;
	default:
		tcp_rcv_established(st, c, &seg);
		break;
	}
out:
	pkb_free(st, pkb);
}

/* ---- errors from below ------------------------------------------------- */

static void tcp_icmp_error(struct ustack *st, uint32_t laddr, uint16_t lport,
			   uint32_t raddr, uint16_t rport, uint32_t seq,
			   int err, uint16_t mtu)
{
	struct tcp_conn *c = tcp_lookup(st, laddr, lport, raddr, rport);

	/* RFC 5927 4.1: only for a sequence number we have in flight. */
	if (!c || !seq_geq(seq, c->snd_una) || !seq_lt(seq, c->snd_max))
		return;
	if (err == EMSGSIZE) {
		/* RFC 1191: lower the MSS to the path MTU (never below the
		 * 576-byte datagram every host accepts), resend. */
		uint32_t mss = mtu > IP4_HDR_LEN + TCP_HDR_LEN ?
			       mtu - (IP4_HDR_LEN + TCP_HDR_LEN) : 0;

		mss = USTACK_MAX(mss, (uint32_t)TCP_DEFAULT_MSS);
		if (mss >= c->mss_clamp)
			return;
		STAT_INC(st, TCP_PMTU_UPDATES);
		c->mss_clamp = (uint16_t)mss;
		c->smss = (uint16_t)(mss - (c->ts_ok ? TCP_OPTLEN_TS_ALIGNED : 0));
		if (TCP_SYNCHRONIZED(c->state)) {
			c->snd_nxt = c->snd_una;
			tcp_output(st, c);
		}
		return;
	}
	/* RFC 1122 4.2.3.9, RFC 5927: protocol/port unreachable are hard
	 * errors while opening; everything else is soft. */
	if (c->state == USTACK_TCP_SYN_SENT &&
	    (err == ECONNREFUSED || err == ENOPROTOOPT)) {
		tcp_done(st, c, err, TCP_CAUSE_ICMP);
		return;
	}
	c->soft_err = err;
}

/* ARP gave up on raddr (soft error for connections to it, hard for
 * connections still opening: RFC 1122 4.2.3.9): O(connections), but rare. */
static void tcp_host_unreachable(struct ustack *st, uint32_t raddr)
{
	struct tcp_conn *c, *next;

	for (c = st->tcp.all; c; c = next) {
		uint32_t nh;

		next = c->anext;
		if (!c->hashed || ip4_route(st, c->raddr, &nh) < 0 || nh != raddr)
			continue;
		if (c->state == USTACK_TCP_SYN_SENT ||
		    (c->state == USTACK_TCP_SYN_RCVD && c->passive)) {
			/* next may be freed only if it is c's child: never. */
			tcp_done(st, c, EHOSTUNREACH, TCP_CAUSE_UNREACH);
			continue;
		}
		c->soft_err = EHOSTUNREACH;
	}
}

/* IPv4's notification (struct ip4_err): an ICMP error quoting one of our
 * segments (the quote's first 8 bytes give the ports and the sequence
 * number), or ARP gave up on a neighbour. */
static int tcp_err(struct ustack *st, const struct ip4_err *e)
{
	if (e->l4)
		tcp_icmp_error(st, e->laddr, tcp_sport(e->l4), e->raddr,
			       tcp_dport(e->l4), tcp_seq(e->l4), e->err, e->mtu);
	else
		tcp_host_unreachable(st, e->raddr);
	return 1;
}

/* The packet filter refused this segment (filter.c checked the header and
 * the checksum): the reset a closed port sends (RFC 9293 3.10.7.1). */
static void tcp_reject(struct ustack *st, const struct pkb *pkb)
{
	const uint8_t *h = pkb->data;
	struct tcp_seg seg = {.saddr = pkb->ip.src, .daddr = pkb->ip.dst,
			      .sport = tcp_sport(h), .dport = tcp_dport(h),
			      .seq = tcp_seq(h), .ack = tcp_ack(h),
			      .len = pkb->len - tcp_hlen(h),
			      .flags = tcp_flags(h)};

	tcp_reply_rst(st, &seg);
}

const struct ip4_proto tcp_ip4_proto = {
	.input = tcp_input,
	.err = tcp_err,
	.reject = tcp_reject,
};
