/*
 * tcp_cc.c - congestion control and loss recovery.
 *
 * RFC 5681: initial window, slow start, congestion avoidance (byte
 * counting), fast retransmit on the third duplicate ACK, restart after
 * idle. RFC 6582: NewReno fast recovery with partial ACKs and "recover".
 * When SACK was negotiated, RFC 6675: a scoreboard of SACKed ranges, loss
 * recovery driven by the pipe estimate and NextSeg(); after an RTO the
 * scoreboard is cleared (RFC 2018 8: the receiver may have reneged).
 * RACK (tcp_rack.c) marks what is lost; NextSeg() rule 1 and the pipe
 * use its marks. Tail loss probes (RFC 8985 7) live here too.
 * The window's growth in congestion avoidance and its reduction on a
 * loss are Reno's (RFC 5681) or CUBIC's (RFC 9438, tcp_cubic.c, the
 * default) by cfg.tcp_congestion.
 *
 * May touch: the TCB's congestion and SACK state, output of single
 * segments (tcp_send_at), counters.
 */
#include <string.h>

#include "proto/tcp_int.h"

#define CWND_MAX (1u << 30)

/*
 * The initial window. RFC 6928 (the default, cfg 10): IW = min(10*MSS,
 * max(2*MSS, 14600)); cfg N generalises it to min(N*MSS, max(2*MSS,
 * N*1460)); cfg 0 is RFC 5681 3.1 (RFC 3390): min(4*SMSS, max(2*SMSS,
 * 4380)).
 */
static uint32_t initial_window(const struct ustack *st,
			       const struct tcp_conn *c)
{
	uint64_t s = c->smss, n = st->cfg.tcp_initial_window_segments, iw;

	if (!n)
		return (uint32_t)USTACK_MIN(4 * s, USTACK_MAX(2 * s, 4380u));
	iw = USTACK_MIN(n * s, USTACK_MAX(2 * s, n * 1460u));
	return (uint32_t)USTACK_MIN(iw, (uint64_t)CWND_MAX);
}

void tcp_cc_init(struct ustack *st, struct tcp_conn *c)
{
	c->cwnd = initial_window(st, c);
	c->ssthresh = CWND_MAX;      /* "arbitrarily high" */
	c->bytes_acked = 0;
	c->dupacks = 0;
	c->in_recovery = 0;
	c->recover = c->iss;
	c->nscore = 0;
	c->snd_sml = c->snd_una;
	tcp_cubic_reset(c);
}

static int cubic(const struct ustack *st)
{
	return st->cfg.tcp_congestion == USTACK_TCP_CC_CUBIC;
}

/* RFC 5681 4.1: after an idle period longer than the RTO, restart from
 * at most the initial window. */
void tcp_cc_before_send(struct ustack *st, struct tcp_conn *c)
{
	if (c->snd_una == c->snd_max && c->last_send_at &&
	    st->now - c->last_send_at > c->rto_us) {
		c->cwnd = USTACK_MIN(c->cwnd, initial_window(st, c));
		tcp_cubic_reset(c);
	}
}

/* The new ssthresh on a congestion event: RFC 5681 eq. 4 (Reno), or
 * RFC 9438 4.6 flight_size * beta_cubic (CUBIC). On a fast retransmit,
 * "additional data sent in limited transmit MUST NOT be included in this
 * calculation" (RFC 5681 3.2 step 2, RFC 6675 5 (4.2)); lt_bytes is 0 on
 * an RTO. */
static uint32_t cc_reduce(const struct ustack *st, struct tcp_conn *c,
			  uint32_t flight)
{
	uint32_t ssthresh;

	if (cubic(st) && tcp_cubic_loss(c, flight, &ssthresh) == 0)
		return ssthresh;
	return USTACK_MAX(flight / 2, 2u * c->smss);  /* (or no memory) */
}

static uint32_t half_flight(const struct ustack *st, struct tcp_conn *c)
{
	uint32_t flight = tcp_flight(c);

	return cc_reduce(st, c, flight - USTACK_MIN(flight, c->lt_bytes));
}

void tcp_cc_ack(struct ustack *st, struct tcp_conn *c, uint32_t acked)
{
	uint32_t s = c->smss;

	c->last_acked = acked;
	if (seq_gt(c->snd_una, c->recover)) {
		c->after_rto = 0;
		/* Passed: keep it just behind SND.UNA, or 2^31 bytes later it
		 * would look ahead again (RFC 9293 3.4) and bar recovery. */
		if (!c->in_recovery)
			c->recover = c->snd_una - 1;
	}
	if (c->in_recovery) {
		if (seq_geq(c->snd_una, c->recover)) {
			/* Full ACK: leave recovery (RFC 6582 3.2 step 3,
			 * "option 1"; RFC 6675 uses the same exit). */
			c->in_recovery = 0;
			c->dupacks = 0;
			c->rack_mark = 0;
			tcp_rack_recovery_done(c);
			c->cwnd = USTACK_MIN(c->ssthresh,
					     USTACK_MAX(tcp_flight(c), s) + s);
		} else if (!c->sack_ok) {
			/* Partial ACK (RFC 6582 3.2 step 4): retransmit the
			 * first unacknowledged segment, deflate by the amount
			 * acked, add back one SMSS if that was >= SMSS. */
			tcp_send_at(st, c, c->snd_una, s);
			c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
			if (acked >= s)
				c->cwnd += s;
			c->cwnd = USTACK_MAX(c->cwnd, s);
		}
		return;
	}
	c->dupacks = 0;
	c->lt_bytes = 0;
	if (c->cwnd < c->ssthresh) {
		c->cwnd += USTACK_MIN(acked, s);          /* slow start */
	} else if (cubic(st) && tcp_cubic_ca(st, c, acked) == 0) {
		/* RFC 9438 4.2-4.5 */
	} else {
		c->bytes_acked += acked;                  /* CA, RFC 3465 */
		if (c->bytes_acked >= c->cwnd) {
			c->bytes_acked -= c->cwnd;
			c->cwnd += s;
		}
	}
	if (c->cwnd > CWND_MAX)
		c->cwnd = CWND_MAX;
}

/* ---- SACK scoreboard (RFC 6675 2) ------------------------------------------ */

/* Insert [l, r) into the sorted, disjoint scoreboard. Returns 1 if it
 * covered anything new. */
static int score_insert(struct tcp_conn *c, uint32_t l, uint32_t r)
{
	unsigned first = 0, last;
	uint32_t nl = l, nr = r;

	if (tcp_score_alloc(c) < 0)
		return 0;                    /* no memory: stay conservative */
	while (first < c->nscore && seq_lt(c->score[first].r, l))
		first++;
	last = first;
	while (last < c->nscore && seq_leq(c->score[last].l, r)) {
		nl = seq_min(nl, c->score[last].l);
		nr = seq_max(nr, c->score[last].r);
		last++;
	}
	if (last == first + 1 && c->score[first].l == nl &&
	    c->score[first].r == nr)
		return 0;                    /* nothing new */
	if (first == last) {
		if (c->nscore == TCP_SCORE_MAX)
			return 0;            /* full: ignore, stay conservative */
		memmove(&c->score[first + 1], &c->score[first],
			(c->nscore - first) * sizeof(c->score[0]));
		c->nscore++;
	} else {
		memmove(&c->score[first + 1], &c->score[last],
			(c->nscore - last) * sizeof(c->score[0]));
		c->nscore = (uint8_t)(c->nscore - (last - first - 1));
	}
	c->score[first].l = nl;
	c->score[first].r = nr;
	return 1;
}

int tcp_sack_update(struct tcp_conn *c, const struct tcp_opts *o)
{
	int grew = 0;

	if (!c->sack_ok)
		return 0;
	for (unsigned i = 0; i < o->nsack; i++) {
		uint32_t l = o->sack[i].l, r = o->sack[i].r;

		/* RFC 2018 3: only blocks inside what we sent and above the
		 * cumulative ACK (a D-SACK below snd_una is ignored). */
		if (!seq_lt(l, r) || seq_gt(r, c->snd_max) ||
		    !seq_gt(r, c->snd_una) || r - l > (1u << 30))
			continue;
		if (seq_lt(l, c->snd_una))
			l = c->snd_una;
		grew |= score_insert(c, l, r);
	}
	return grew;
}

void tcp_sack_trim(struct tcp_conn *c)
{
	unsigned drop = 0;

	while (drop < c->nscore && seq_leq(c->score[drop].r, c->snd_una))
		drop++;
	if (drop) {
		memmove(&c->score[0], &c->score[drop],
			(c->nscore - drop) * sizeof(c->score[0]));
		c->nscore = (uint8_t)(c->nscore - drop);
	}
	if (c->nscore && seq_lt(c->score[0].l, c->snd_una))
		c->score[0].l = c->snd_una;
	if (!c->nscore && c->score)
		tcp_score_release(c);        /* empty (or cleared): give back */
	tcp_rack_trim(c);
}

/*
 * IsLost() for every hole at once: a hole is lost when more than
 * (DupThresh - 1) * SMSS bytes, or DupThresh ranges, are SACKed above it.
 * That is monotone in the sequence number, so it is one boundary: holes
 * below the returned sequence are lost.
 */
static uint32_t lost_edge(const struct tcp_conn *c)
{
	uint32_t bytes = 0, edge = c->snd_una;
	unsigned n = 0;

	for (int i = (int)c->nscore - 1; i >= 0; i--) {
		bytes += c->score[i].r - c->score[i].l;
		n++;
		if (bytes > (TCP_DUPTHRESH - 1) * c->smss || n >= TCP_DUPTHRESH) {
			edge = c->score[i].l;
			break;
		}
	}
	/* RFC 8985 6.2 as a tail loss probe sees it: what was sent before a
	 * delivered probe and is not SACKed is lost (rack_edge). */
	if (c->rack_mark && seq_gt(c->rack_edge, edge))
		edge = c->rack_edge;
	return edge;
}

/* RFC 6675 SetPipe(): unSACKed octets not lost, plus octets retransmitted. */
static uint32_t sack_pipe(const struct tcp_conn *c, uint32_t lost)
{
	uint32_t pipe = 0, hl = c->snd_una;

	for (unsigned i = 0; i <= c->nscore; i++) {
		uint32_t hr = i < c->nscore ? c->score[i].l : c->snd_max;

		if (seq_lt(hl, hr)) {
			if (!seq_lt(hl, lost))
				pipe += hr - hl;
			if (seq_lt(hl, c->rxt_high))
				pipe += seq_min(hr, c->rxt_high) - hl;
		}
		if (i < c->nscore)
			hl = c->score[i].r;
	}
	return pipe;
}

/* RFC 6675 NextSeg() rules 1 and 3: the first unSACKed byte at or after
 * rxt_high, lost (rule 1) or any (rule 3). Returns 0 if none. */
static int next_hole(const struct tcp_conn *c, uint32_t lost, int want_lost,
		     uint32_t *seq, uint32_t *len)
{
	uint32_t hl = c->snd_una;

	for (unsigned i = 0; i <= c->nscore; i++) {
		uint32_t hr = i < c->nscore ? c->score[i].l : c->snd_max;
		uint32_t s = seq_max(hl, c->rxt_high);

		if (want_lost && !seq_lt(s, lost))
			return 0;
		if (seq_lt(s, hr)) {
			*seq = s;
			*len = USTACK_MIN(hr - s, (uint32_t)c->smss);
			if (want_lost && seq_gt(s + *len, lost))
				*len = lost - s;
			return 1;
		}
		if (i < c->nscore)
			hl = c->score[i].r;
	}
	return 0;
}

uint32_t tcp_sack_skip(const struct tcp_conn *c, uint32_t seq,
		       uint32_t *room)
{
	for (unsigned i = 0; i < c->nscore; i++) {
		if (seq_in(seq, c->score[i].l, c->score[i].r))
			return c->score[i].r;
		if (seq_gt(c->score[i].l, seq)) {
			/* Stop the segment at the next SACKed range. */
			*room = USTACK_MIN(*room, c->score[i].l - seq);
			break;
		}
	}
	return seq;
}

uint32_t tcp_sack_lost_edge(const struct tcp_conn *c)
{
	return lost_edge(c);
}

int tcp_sack_is_lost_head(const struct tcp_conn *c)
{
	return c->sack_ok && c->nscore && seq_gt(lost_edge(c), c->snd_una);
}

/* RFC 6675 5 step (C): while cwnd - pipe >= 1 SMSS, send NextSeg(). */
void tcp_sack_output(struct ustack *st, struct tcp_conn *c)
{
	for (int i = 0; i < 256; i++) {
		uint32_t lost = lost_edge(c), pipe;
		uint32_t seq, len, end = tcp_data_end(c), sent;
		int64_t rp = tcp_rack_pipe(c);
		int rule1;

		pipe = rp >= 0 ? (uint32_t)rp : sack_pipe(c, lost);
		if (c->cwnd <= pipe)
			break;
		/* rule 1: with RACK records, the segments marked lost
		 * (RFC 8985 6.2, or DupThresh) and not sent since; a lost
		 * retransmission too, which the RFC 6675 rule cannot see */
		rule1 = c->rack ? tcp_rack_next_lost(c, &seq, &len)
				: next_hole(c, lost, 1, &seq, &len);
		/* "cwnd - pipe >= 1 SMSS"; but the rest of a lost segment
		 * that a retransmission with longer options could not carry
		 * whole goes when it fits (Linux counts it as one packet) */
		if (c->cwnd - pipe < c->smss &&
		    !(rule1 && len < c->smss && len <= c->cwnd - pipe))
			break;
		if (rule1) {
			len = USTACK_MIN(len, (uint32_t)c->smss);
			sent = tcp_send_at(st, c, seq, len);
		} else if (seq_lt(c->snd_max, end) &&
			   seq_lt(c->snd_max - c->snd_una, c->snd_wnd)) { /* 2 */
			seq = c->snd_max;
			len = USTACK_MIN(USTACK_MIN(end - seq, (uint32_t)c->smss),
					 c->snd_una + c->snd_wnd - seq);
			sent = tcp_send_at(st, c, seq, len);
			c->snd_nxt = seq + sent;
			c->snd_max = seq_max(c->snd_max, c->snd_nxt);
			continue;
		} else if (next_hole(c, lost, 0, &seq, &len)) {    /* rule 3 */
			sent = tcp_send_at(st, c, seq, len);
		} else {
			break;
		}
		if (!sent)
			break;
		c->rxt_high = seq_max(c->rxt_high, seq + sent);
	}
}

/* Is [seq] SACKed? */
static int sacked(const struct tcp_conn *c, uint32_t seq)
{
	for (unsigned i = 0; i < c->nscore; i++)
		if (seq_in(seq, c->score[i].l, c->score[i].r))
			return 1;
	return 0;
}

/* ---- tail loss probes (RFC 8985 7) ------------------------------------------ */

/*
 * RFC 8985 7.2: a probe may be scheduled with SACK on, outside loss
 * recovery (fast or RTO: nrexmit), with no probe out and an RTT sample;
 * as Linux, not while SACKs or duplicates already tell of a hole (those
 * lead to fast recovery).
 * The timer slot is the retransmission timer's: the PTO replaces the RTO
 * when it comes first, and the RTO is re-armed when the probe goes.
 */
static int tlp_allowed(const struct tcp_conn *c)
{
	/* In SACK fast recovery too, once every segment marked lost has
	 * been sent again (a deviation from 7.2, see docs/tcp.md): with a
	 * window of two or three segments one lost ACK or retransmission
	 * leaves nothing to clock RACK, and the RTO (200 ms, thousands of
	 * RTTs on a LAN) was most of the time lost to loss. The probe's
	 * ACK lets RACK see what is lost (it is the latest sent). */
	int rec = c->in_recovery && !c->after_rto && c->rack &&
		  !tcp_rack_has_lost(c);

	return c->sack_ok && (!c->in_recovery || rec) && !c->nrexmit &&
	       !c->tlp_on &&
	       (rec || (!c->nscore && !c->dupacks)) && /* Linux: CA_Open */
	       c->srtt_us && c->snd_max != c->snd_una && c->snd_wnd &&
	       TCP_SYNCHRONIZED(c->state) &&
	       c->state != USTACK_TCP_TIME_WAIT &&
	       seq_gt(c->snd_una, c->iss);
}

void tcp_tlp_arm(struct ustack *st, struct tcp_conn *c)
{
	ustack_time_t pto;

	if (!tlp_allowed(c) || c->rtx_kind != TCP_RTX_RETRANSMIT)
		return;
	/* PTO = 2 * SRTT, plus the worst-case delayed ACK (200 ms) when
	 * only one segment is out; never later than the RTO. */
	pto = 2 * (ustack_time_t)c->srtt_us;
	if (tcp_flight(c) <= c->smss)
		pto += 200000;
	/* "If Now() + PTO > TCP_RTO_expire(): PTO = TCP_RTO_expire() -
	 * Now()": at the RTO's time the probe goes instead (its loss costs
	 * no collapse of cwnd) and the RTO is armed again behind it. */
	c->tlp_rto_at = c->t_rtx.at;
	c->rtx_kind = TCP_RTX_TLP;
	timer_arm(st, &c->t_rtx,
		  USTACK_MIN(tcp_time_add(st->now, pto), c->tlp_rto_at));
}

/* RFC 8985 7.3: send one segment of new data if the windows allow, else
 * the last segment sent again; then the RTO runs. */
void tcp_tlp_fire(struct ustack *st, struct tcp_conn *c)
{
	uint32_t end = tcp_data_end(c), top, seq, len;

	if (!tlp_allowed(c)) {
		/* no probe now (SACKs came meanwhile): the RTO as it was */
		c->rtx_kind = TCP_RTX_RETRANSMIT;
		timer_arm(st, &c->t_rtx, USTACK_MAX(c->tlp_rto_at, st->now));
		return;
	}
	STAT_INC(st, TCP_TLP_PROBES);
	if (c->snd_nxt == c->snd_max && seq_lt(c->snd_max, end) &&
	    seq_lt(c->snd_max, c->snd_una + c->snd_wnd)) {
		len = USTACK_MIN(USTACK_MIN(end - c->snd_max, (uint32_t)c->smss),
				 c->snd_una + c->snd_wnd - c->snd_max);
		tcp_send_at(st, c, c->snd_max, len);
		c->tlp_rxt = 0;
	} else {
		top = seq_lt(end, c->snd_max) ? end : c->snd_max;
		len = USTACK_MIN(top - c->snd_una, (uint32_t)c->smss);
		seq = top - len;      /* len 0: only the FIN is out */
		tcp_send_at(st, c, seq, USTACK_MAX(len, 1u));
		c->tlp_rxt = !c->in_recovery;  /* 7.4: not twice a reduction */
	}
	c->tlp_on = 1;
	c->tlp_end = c->snd_max;
	tcp_rtx_start(st, c);
}

int tcp_tlp_ack(struct ustack *st, struct tcp_conn *c,
		const struct tcp_seg *seg)
{
	uint32_t start;

	if (!c->tlp_on)
		return 0;
	if (seq_geq(seg->ack, c->tlp_end)) {
		/* 7.4: all acknowledged. A retransmitted probe that is not
		 * reported as a duplicate (D-SACK) repaired a loss: respond as
		 * fast recovery would (7.4.2), once. */
		int dup = seg->opt.nsack &&
			  seq_leq(seg->opt.sack[0].r, seg->ack) &&
			  seg->opt.sack[0].r == c->tlp_end;

		if (c->tlp_rxt && !dup) {
			STAT_INC(st, TCP_TLP_RECOVERY);
			c->ssthresh = cc_reduce(st, c, c->cwnd);
			c->cwnd = c->ssthresh;
		}
		c->tlp_on = 0;
		return 0;
	}
	if (!sacked(c, c->tlp_end - 1))
		return 0;
	/* 6.2: the probe, sent a PTO (2 SRTT) after everything before it,
	 * was delivered: what is below it and unSACKed has been out longer
	 * than an RTT plus any reordering window -- lost. */
	c->tlp_on = 0;
	start = c->tlp_end - USTACK_MIN(c->tlp_end - c->snd_una,
					(uint32_t)c->smss);
	if (!seq_gt(start, seg->ack))
		return 0;
	STAT_INC(st, TCP_TLP_RECOVERY);
	c->rack_mark = 1;
	c->rack_edge = start;
	return 1;
}

/* ---- entering recovery, timeouts --------------------------------------------- */

/*
 * A reduction episode begins (fast retransmit, or an RTO outside one):
 * remember what to go back to should it prove spurious (RFC 3708, RFC
 * 3522; Linux's undo_marker/undo_retrans/retrans_stamp).
 */
static void undo_start(struct ustack *st, struct tcp_conn *c)
{
	c->prior_cwnd = c->cwnd;
	c->prior_ssthresh = c->ssthresh;
	c->undo_marker = c->snd_una;
	c->undo_retrans = 0;
	c->rxt_tsval = tcp_ts_now(st, c);
	c->undo_on = 1;
	tcp_cubic_undo_start(c);
}

/*
 * The episode's retransmissions were not needed (every one D-SACKed, or
 * the ACK echoes the original, RFC 3522): restore cwnd and ssthresh
 * (RFC 3708 / RFC 4015 response), leave recovery; after an RTO, new data
 * goes on from SND.MAX instead of going back N (RFC 4015 2).
 */
void tcp_cc_undo(struct ustack *st, struct tcp_conn *c, int rto)
{
	STAT_INC(st, TCP_UNDO);
	c->cwnd = USTACK_MAX(c->cwnd, c->prior_cwnd);
	c->ssthresh = USTACK_MAX(c->ssthresh, c->prior_ssthresh);
	tcp_cubic_undo(c);                /* RFC 9438 4.9: W_max, K, ... */
	c->undo_on = 0;
	c->in_recovery = 0;
	c->dupacks = 0;
	c->bytes_acked = 0;
	if (rto) {
		c->after_rto = 0;
		c->snd_nxt = c->snd_max;
	}
}

/*
 * RFC 2883 4: a D-SACK is the first block when it lies below the
 * cumulative ACK or inside the second block. Each one covering data of
 * the current episode is one retransmission that was not needed (RFC
 * 3708 2, counted in segments as Linux does); when none is left, undo.
 * D-SACK blocks never enter the scoreboard (tcp_sack_update skips what
 * is below SND.UNA or already SACKed).
 */
void tcp_dsack_rcv(struct ustack *st, struct tcp_conn *c,
		   const struct tcp_opts *o, uint32_t ack)
{
	uint32_t l, r, segs;

	if (!c->sack_ok || !o->nsack)
		return;
	l = o->sack[0].l;
	r = o->sack[0].r;
	if (!seq_lt(l, r) || r - l > (1u << 30) || seq_gt(r, c->snd_max))
		return;
	if (!seq_leq(r, ack) &&
	    !(o->nsack > 1 && seq_geq(l, o->sack[1].l) &&
	      seq_leq(r, o->sack[1].r)))
		return;
	STAT_INC(st, TCP_DSACK_RX);
	tcp_rack_dsack(c);              /* RFC 8985 6.2 step 4 */
	if (!c->undo_on || !c->undo_retrans || seq_lt(l, c->undo_marker))
		return;
	segs = (r - l + c->smss - 1) / c->smss;
	c->undo_retrans -= USTACK_MIN(segs, c->undo_retrans);
	if (!c->undo_retrans)
		tcp_cc_undo(st, c, c->after_rto);
}

void tcp_cc_dupack(struct ustack *st, struct tcp_conn *c)
{
	uint32_t s = c->smss, sent;

	if (c->in_recovery) {
		if (!c->sack_ok)
			c->cwnd += s;     /* RFC 6582 3.2 step 3: inflate */
		return;
	}
	c->dupacks++;
	if (c->dupacks < TCP_DUPTHRESH && !tcp_sack_is_lost_head(c)) {
		uint32_t before = c->snd_max;

		tcp_send_limited(st, c);          /* RFC 3042 */
		c->lt_bytes += c->snd_max - before;
		return;
	}
	/* While the ACK does not cover more than recover, the duplicates may
	 * come from our own retransmissions. NewReno (RFC 6582 3.2 step 2):
	 * enter only if cwnd > SMSS and the last ACK advanced by at most
	 * 4*SMSS (a new loss). SACK (RFC 6675 5.1): only after an RTO is
	 * recovery barred until the ACK passes RecoveryPoint. */
	if (!seq_gt(c->snd_una, c->recover) && c->recover != c->iss &&
	    (c->sack_ok ? c->after_rto
			: !(c->cwnd > s && c->last_acked <= 4 * s)))
		return;
	STAT_INC(st, TCP_FAST_RETRANS);
	undo_start(st, c);
	c->ssthresh = half_flight(st, c);
	c->recover = c->snd_max;
	c->in_recovery = 1;
	/* Fast retransmit: exactly the segment at snd_una. */
	sent = tcp_send_at(st, c, c->snd_una, s);
	c->lt_bytes = 0;
	if (c->sack_ok) {
		STAT_INC(st, TCP_SACK_RECOVERY);
		c->cwnd = c->ssthresh;                     /* RFC 6675 5 (4.2) */
		c->rxt_high = c->snd_una + sent;
	} else {
		c->cwnd = c->ssthresh + 3 * s;             /* RFC 5681 3.2 */
	}
}

/*
 * RFC 8985 6.2: RACK marked segments lost. Outside recovery this starts
 * one (RFC 6675 5 steps 4.1-4.2, as a fast retransmit would; after an
 * RTO the reduction is already made). tcp_sack_output() then sends the
 * lost segments first.
 */
void tcp_cc_rack_lost(struct ustack *st, struct tcp_conn *c)
{
	uint32_t seq, len, sent;

	if (c->in_recovery || !c->sack_ok)
		return;
	STAT_INC(st, TCP_FAST_RETRANS);
	STAT_INC(st, TCP_SACK_RECOVERY);
	if (!c->after_rto) {
		undo_start(st, c);
		c->ssthresh = half_flight(st, c);
	}
	c->recover = c->snd_max;
	c->in_recovery = 1;
	c->lt_bytes = 0;
	c->cwnd = c->ssthresh;
	c->rxt_high = c->snd_una;
	/* RFC 6675 5 (4.3): the first lost segment goes now, whatever
	 * pipe says (Linux forces it too: "prr_out ? 0 : 1") */
	if (tcp_rack_next_lost(c, &seq, &len)) {
		sent = tcp_send_at(st, c, seq, USTACK_MIN(len, (uint32_t)c->smss));
		c->rxt_high = seq_max(c->rxt_high, seq + sent);
	}
}

/* The reorder timer fired (RFC 8985 6.2 step 5, RACK_detect_loss at
 * timeout): the RTO it stood in for runs again; mark and send. */
void tcp_rack_reo_fire(struct ustack *st, struct tcp_conn *c)
{
	c->rtx_kind = TCP_RTX_RETRANSMIT;
	timer_arm(st, &c->t_rtx, USTACK_MAX(c->tlp_rto_at, st->now));
	if (tcp_rack_detect(st, c, lost_edge(c))) {
		tcp_cc_rack_lost(st, c);
		tcp_output(st, c);
	}
}

void tcp_cc_timeout(struct ustack *st, struct tcp_conn *c)
{
	/* An RTO inside a recovery episode continues it (Linux too). */
	if (c->nrexmit <= 1 && !c->in_recovery)
		undo_start(st, c);
	/* RFC 5681 3.1: ssthresh only on the first timeout of a series
	 * (from all of FlightSize: limited transmit counts here). */
	c->lt_bytes = 0;
	if (c->nrexmit <= 1)
		c->ssthresh = half_flight(st, c);
	c->cwnd = c->smss;                 /* loss window */
	tcp_cubic_rto(c);                  /* RFC 9438 4.8 */
	c->bytes_acked = 0;
	c->dupacks = 0;
	c->in_recovery = 0;
	c->recover = c->snd_max;           /* RFC 6582 4.1 after an RTO */
	c->after_rto = 1;
	c->tlp_on = 0;
	c->rack_mark = 0;
	tcp_rack_rto(c);
	/* RFC 2018 8 says to forget SACK information after an RTO, since the
	 * receiver may have reneged; RFC 6675 5.1 leaves it open. We keep it
	 * for the first RTO (go-back-N skips what was SACKed, saving a
	 * window of needless retransmissions) and forget it on the second:
	 * if the peer did renege, the hole is then sent again. */
	if (c->nrexmit > 1)
		c->nscore = 0;
	c->rxt_high = c->snd_una;
}
