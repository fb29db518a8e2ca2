/*
 * tcp_rack.c - RACK loss detection (RFC 8985 6) for SACK connections.
 *
 * Every transmission of data (or of the FIN) leaves a record: its
 * sequence range, when it was sent, and whether it was SACKed, marked
 * lost or retransmitted. Records are kept in sequence order (a range sent
 * again is split off and re-stamped), in one block allocated while data
 * is in flight and freed when all is acknowledged (an idle TCB holds
 * none). The block also holds RACK's state: the send time and end of the
 * most recently sent segment known delivered (RACK.xmit_ts, .end_seq),
 * its RTT, the minimum RTT, the reordering window and its D-SACK
 * adaptation (6.2 step 4).
 *
 * A segment is lost once one sent after it was delivered and it has been
 * out for RACK.rtt + RACK.reo_wnd (6.2 step 5); if it is not yet, the
 * reorder timer (the retransmission timer's slot, kind TCP_RTX_REO) fires
 * when it will be. A lost retransmission is found the same way, by time.
 * The RFC 6675 DupThresh rule (IsLost) still marks too, as RFC 8985 6.1
 * allows and Linux does. tcp_cc.c decides what to send from the marks:
 * lost segments first, with the pipe computed from them.
 *
 * Cost: one pass over the records per ACK that carries news while any are
 * SACKed or lost (O(segments in flight)); none for in-order ACKs beyond
 * the pop of what they acknowledged.
 *
 * May touch: the TCB's RACK block and loss marks, the retransmission timer
 * slot (reorder timer), counters.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/tcp_int.h"

#define RACK_INIT_RECS 16
#define RACK_MAX_RECS 4096         /* beyond: new data joins the last record */
#define RACK_REO_PERSIST 16        /* RFC 8985 6.2 step 4 */

enum { TXR_SACKED = 1, TXR_LOST = 2, TXR_RETRANS = 4, TXR_EVER_RETRANS = 8 };

struct tcp_txrec {
	ustack_time_t xmit_at;       /* last (re)transmission */
	uint32_t seq, end;           /* [seq, end) in sequence space */
	uint32_t tsval;              /* TSval it carried */
	uint32_t order;              /* transmission count: orders sends
					made at the same time (the clock's
					1 us is coarse for that) */
	uint8_t flags;               /* TXR_* */
};

struct tcp_rack {
	ustack_time_t xmit_at;       /* RACK.xmit_ts (0: none yet) */
	uint32_t end;                /* RACK.end_seq */
	uint32_t order;              /*  its transmission count */
	uint32_t tx_count;           /* transmissions so far */
	uint32_t rtt_us;             /* RACK.rtt */
	uint32_t fack;               /* highest end delivered (RACK.fack) */
	uint32_t dsack_round;        /* RACK.dsack_round (valid: round_on) */
	uint8_t round_on, reord_seen, valid; /* valid: RACK.xmit_ts set */
	uint16_t head, n, cap;       /* records [head, head + n) of rec[] */
	struct tcp_txrec rec[];
};

static struct tcp_txrec *rec_at(struct tcp_rack *r, unsigned i)
{
	return &r->rec[r->head + i];
}

size_t tcp_rack_mem(const struct tcp_conn *c)
{
	return c->rack ? sizeof(*c->rack) + c->rack->cap * sizeof(struct tcp_txrec)
		       : 0;
}

void tcp_rack_free(struct tcp_conn *c)
{
	free(c->rack);
	c->rack = NULL;
}

/* Room for one more record at the end (compact, then grow). 0 or -1. */
static int rack_room(struct tcp_conn *c)
{
	struct tcp_rack *r = c->rack, *nr;
	unsigned cap;

	if (!r) {
		r = calloc(1, sizeof(*r) + RACK_INIT_RECS * sizeof(r->rec[0]));
		if (!r)
			return -1;
		r->cap = RACK_INIT_RECS;
		c->rack = r;
	}
	if (r->head + r->n < r->cap)
		return 0;
	if (r->head) {
		memmove(r->rec, rec_at(r, 0), r->n * sizeof(r->rec[0]));
		r->head = 0;
		return 0;
	}
	if (r->cap >= RACK_MAX_RECS)
		return -1;
	cap = r->cap * 2u;
	nr = realloc(r, sizeof(*r) + cap * sizeof(r->rec[0]));
	if (!nr)
		return -1;
	nr->cap = (uint16_t)cap;
	c->rack = nr;
	return 0;
}

/* Make a record boundary at s (split the record holding it). */
static void rack_split(struct tcp_conn *c, uint32_t s)
{
	struct tcp_rack *r = c->rack;
	struct tcp_txrec *x;

	for (unsigned i = 0; i < r->n; i++) {
		x = rec_at(r, i);
		if (!seq_lt(x->seq, s) || !seq_lt(s, x->end))
			continue;
		if (rack_room(c) < 0)
			return;            /* no room: the record stays whole */
		r = c->rack;
		x = rec_at(r, i);
		memmove(x + 1, x, (r->n - i) * sizeof(*x));
		r->n++;
		x->end = s;
		x[1].seq = s;
		return;
	}
}

/*
 * [seq, seq + len) (sequence space) has just been sent. New data gets a
 * record; data sent before is re-stamped (RFC 8985 6.1: "the most recent
 * transmission time") and marked retransmitted.
 */
void tcp_rack_sent(struct ustack *st, struct tcp_conn *c, uint32_t seq,
		   uint32_t len)
{
	uint32_t end = seq + len, tsval = tcp_ts_now(st, c);
	struct tcp_rack *r;
	struct tcp_txrec *x;

	if (!c->sack_ok || !len || !c->syn_acked)
		return;
	r = c->rack;
	if (r && r->n && seq_lt(seq, rec_at(r, r->n - 1)->end)) {
		rack_split(c, seq);
		rack_split(c, end);
		r = c->rack;
		for (unsigned i = 0; i < r->n; i++) {
			x = rec_at(r, i);
			if (seq_lt(x->seq, seq) || !seq_leq(x->end, end))
				continue;
			x->xmit_at = st->now;
			x->tsval = tsval;
			x->order = ++r->tx_count;
			x->flags |= TXR_RETRANS | TXR_EVER_RETRANS;
		}
		seq = rec_at(r, r->n - 1)->end;
		if (!seq_lt(seq, end))
			return;
	}
	if (rack_room(c) < 0) {
		if (!c->rack || !c->rack->n)
			return;
		x = rec_at(c->rack, c->rack->n - 1); /* full: extend the last */
		x->end = end;
		x->xmit_at = st->now;
		x->tsval = tsval;
		x->order = ++c->rack->tx_count;
		return;
	}
	r = c->rack;
	x = rec_at(r, r->n++);
	x->seq = seq;
	x->end = end;
	x->xmit_at = st->now;
	x->tsval = tsval;
	x->order = ++r->tx_count;
	x->flags = 0;
}

/* snd_una moved: drop what it covers; free the block when empty. */
void tcp_rack_trim(struct tcp_conn *c)
{
	struct tcp_rack *r = c->rack;

	if (!r)
		return;
	while (r->n && seq_leq(rec_at(r, 0)->end, c->snd_una)) {
		r->head++;
		r->n--;
	}
	if (r->n && seq_lt(rec_at(r, 0)->seq, c->snd_una))
		rec_at(r, 0)->seq = c->snd_una;
	if (!r->n) {
		/* keep what RACK learned while the connection lives on, but
		 * not the memory of an idle TCB */
		tcp_rack_free(c);
	}
}

/* RFC 8985 6.2 RACK_sent_after(): by the order of transmission, which
 * is what the RFC's (time, end_seq) pair stands for; a retransmission
 * made in the same microsecond as a later original is still later. */
static int sent_after(uint32_t o1, uint32_t o2)
{
	return (int32_t)(o1 - o2) > 0;
}

/* Is [l, r) inside one SACKed range of the scoreboard? */
static int score_covers(const struct tcp_conn *c, uint32_t l, uint32_t r)
{
	for (unsigned i = 0; i < c->nscore; i++)
		if (seq_leq(c->score[i].l, l) && seq_leq(r, c->score[i].r))
			return 1;
	return 0;
}

/* RFC 8985 6.2 steps 2 and 3 for one segment newly ACKed or SACKed. */
static void rack_update(struct ustack *st, struct tcp_conn *c,
			const struct tcp_txrec *x, const struct tcp_seg *seg)
{
	struct tcp_rack *r = c->rack;
	ustack_time_t rtt = st->now - x->xmit_at;

	if (seq_lt(x->end, r->fack)) {
		if (!(x->flags & TXR_EVER_RETRANS))
			r->reord_seen = 1;        /* step 3 */
	} else {
		r->fack = x->end;
	}
	if (x->flags & TXR_EVER_RETRANS) {
		/* step 2: the ACK may be for the original transmission. With
		 * timestamps the echo tells; the RTT test is for connections
		 * without: our clock is read once per batch of frames, and
		 * over a TAP the peer's answer often comes in the same batch
		 * (an RTT of 0, below any min_RTT, for a true delivery). */
		if (c->ts_ok && seg->opt.has_ts) {
			if (seq_lt(seg->opt.tsecr, x->tsval))
				return;
		} else if (c->rack_min_rtt_us && rtt < c->rack_min_rtt_us) {
			return;
		}
	}
	if (rtt > UINT32_MAX)
		rtt = UINT32_MAX;
	r->rtt_us = (uint32_t)rtt;
	if (!(x->flags & TXR_EVER_RETRANS) &&
	    (!c->rack_min_rtt_us || rtt < c->rack_min_rtt_us))
		c->rack_min_rtt_us = (uint32_t)USTACK_MAX(rtt, 1u);
	if (!r->valid || sent_after(x->order, r->order)) {
		r->valid = 1;
		r->xmit_at = x->xmit_at;
		r->end = x->end;
		r->order = x->order;
	}
}

/*
 * An ACK arrived (its SACK blocks are in the scoreboard, snd_una not yet
 * moved): RACK_update() for each record it newly acknowledges or SACKs.
 */
void tcp_rack_ack(struct ustack *st, struct tcp_conn *c,
		  const struct tcp_seg *seg)
{
	struct tcp_rack *r = c->rack;

	if (!r)
		return;
	if (r->round_on && seq_geq(c->snd_una, r->dsack_round))
		r->round_on = 0;
	for (unsigned i = 0; i < r->n; i++) {
		struct tcp_txrec *x = rec_at(r, i);

		if (seq_leq(x->end, seg->ack)) {
			if (!(x->flags & TXR_SACKED))
				rack_update(st, c, x, seg);
			continue;
		}
		if (!c->nscore)
			break;
		if (!(x->flags & TXR_SACKED) && score_covers(c, x->seq, x->end)) {
			x->flags |= TXR_SACKED;
			x->flags &= (uint8_t)~TXR_LOST;
			rack_update(st, c, x, seg);
		}
	}
}

/* RFC 8985 6.2 step 4: a D-SACK widens the window, once per round. */
void tcp_rack_dsack(struct tcp_conn *c)
{
	struct tcp_rack *r = c->rack;

	if (r && r->round_on && seq_geq(c->snd_una, r->dsack_round))
		r->round_on = 0;
	if (r && r->round_on)
		return;
	if (r) {
		r->round_on = 1;
		r->dsack_round = c->snd_max;
	}
	if (c->reo_wnd_mult < 255)   /* 0: a new TCB's, meaning 1 */
		c->reo_wnd_mult = (uint8_t)(USTACK_MAX(c->reo_wnd_mult, 1) + 1);
	c->reo_wnd_persist = RACK_REO_PERSIST;
}

/* RFC 8985 6.2 step 4: a recovery ended. */
void tcp_rack_recovery_done(struct tcp_conn *c)
{
	if (c->reo_wnd_persist && !--c->reo_wnd_persist)
		c->reo_wnd_mult = 1;
}

/* SACKed segments, counted up to DupThresh. */
static unsigned sacked_segs(const struct tcp_rack *r)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->n && n < TCP_DUPTHRESH; i++)
		n += !!(r->rec[r->head + i].flags & TXR_SACKED);
	return n;
}

/* RFC 8985 6.2 step 4 RACK_update_reo_wnd() */
static ustack_time_t reo_wnd(const struct tcp_conn *c)
{
	const struct tcp_rack *r = c->rack;
	ustack_time_t w;

	if (!r->reord_seen &&
	    (c->in_recovery || sacked_segs(r) >= TCP_DUPTHRESH))
		return 0;
	w = (ustack_time_t)USTACK_MAX(c->reo_wnd_mult, 1u) *
	    c->rack_min_rtt_us / 4;
	return c->srtt_us ? USTACK_MIN(w, (ustack_time_t)c->srtt_us) : w;
}

/*
 * RFC 8985 6.2 step 5 RACK_detect_loss(), and RFC 6675 IsLost() below
 * `dupthresh_edge`. Returns the segments newly marked lost; *wait is the
 * time until the next one might be (0: none pending).
 */
static unsigned detect(struct ustack *st, struct tcp_conn *c,
		       uint32_t dupthresh_edge, ustack_time_t *wait)
{
	struct tcp_rack *r = c->rack;
	ustack_time_t w = 0, win = r->valid ? reo_wnd(c) : 0;
	unsigned lost = 0;

	for (unsigned i = 0; i < r->n; i++) {
		struct tcp_txrec *x = rec_at(r, i);
		ustack_time_t due;

		if (x->flags & TXR_SACKED)
			continue;
		if ((x->flags & TXR_LOST) && !(x->flags & TXR_RETRANS))
			continue;        /* marked, not yet sent again */
		if (seq_leq(x->end, dupthresh_edge) &&
		    !(x->flags & (TXR_LOST | TXR_EVER_RETRANS))) {
			x->flags |= TXR_LOST;
			lost++;
			continue;
		}
		if (!r->valid || sent_after(x->order, r->order))
			continue;
		due = x->xmit_at + r->rtt_us + win;
		if (due <= st->now) {
			if (x->flags & TXR_RETRANS)
				STAT_INC(st, TCP_LOST_RETRANS);
			x->flags |= TXR_LOST;
			x->flags &= (uint8_t)~TXR_RETRANS;
			lost++;
		} else {
			w = USTACK_MAX(w, due - st->now);
		}
	}
	*wait = w;
	return lost;
}

/*
 * After an ACK (or at the reorder timer): mark losses; arm the reorder
 * timer for what is not lost yet (RFC 8985 6.2 step 5,
 * RACK_detect_loss_and_arm_timer). Returns the segments newly lost.
 */
unsigned tcp_rack_detect(struct ustack *st, struct tcp_conn *c,
			 uint32_t dupthresh_edge)
{
	ustack_time_t wait;
	unsigned lost;

	if (!c->rack)
		return 0;
	lost = detect(st, c, dupthresh_edge, &wait);
	if (wait && c->rtx_kind != TCP_RTX_PERSIST) {
		/* the RTO (or the one a PTO stands in for) comes back when
		 * the reorder timer has fired (tcp_rack_reo_fire) */
		if (c->rtx_kind == TCP_RTX_RETRANSMIT && timer_armed(&c->t_rtx))
			c->tlp_rto_at = c->t_rtx.at;
		else if (c->rtx_kind != TCP_RTX_REO && c->rtx_kind != TCP_RTX_TLP)
			c->tlp_rto_at = tcp_time_add(st->now, c->rto_us);
		c->rtx_kind = TCP_RTX_REO;
		timer_arm(st, &c->t_rtx,
			  USTACK_MIN(tcp_time_add(st->now, wait), c->tlp_rto_at));
	}
	return lost;
}

/* The first segment marked lost and not sent since (RFC 6675 NextSeg()
 * rule 1 with RACK's marks). Returns 0 if none. */
int tcp_rack_next_lost(const struct tcp_conn *c, uint32_t *seq, uint32_t *len)
{
	const struct tcp_rack *r = c->rack;

	if (!r)
		return 0;
	for (unsigned i = 0; i < r->n; i++) {
		const struct tcp_txrec *x = &r->rec[r->head + i];

		if ((x->flags & (TXR_LOST | TXR_RETRANS | TXR_SACKED)) ==
		    TXR_LOST) {
			*seq = x->seq;
			*len = x->end - x->seq;
			return 1;
		}
	}
	return 0;
}

/* RFC 6675 SetPipe() from RACK's marks: what is neither SACKed nor lost,
 * plus lost segments sent again. -1 when there are no records. */
int64_t tcp_rack_pipe(const struct tcp_conn *c)
{
	const struct tcp_rack *r = c->rack;
	uint32_t pipe = 0;

	if (!r)
		return -1;
	for (unsigned i = 0; i < r->n; i++) {
		const struct tcp_txrec *x = &r->rec[r->head + i];

		if (x->flags & TXR_SACKED)
			continue;
		if ((x->flags & (TXR_LOST | TXR_RETRANS)) == TXR_LOST)
			continue;
		pipe += x->end - x->seq;
	}
	return pipe;
}

/* RFC 8985 6.3: at an RTO every segment is sent again from the start
 * (go-back-N): forget the lost marks; RACK finds losses afresh. */
void tcp_rack_rto(struct tcp_conn *c)
{
	struct tcp_rack *r = c->rack;

	if (!r)
		return;
	for (unsigned i = 0; i < r->n; i++)
		rec_at(r, i)->flags &= (uint8_t)~(TXR_LOST | TXR_RETRANS);
}

/* Any segment marked lost and not yet sent again? */
int tcp_rack_has_lost(const struct tcp_conn *c)
{
	uint32_t s, l;

	return tcp_rack_next_lost(c, &s, &l);
}
