/*
 * tcp_cc.c - congestion control and loss recovery.
 *
 * RFC 5681: initial window, slow start, congestion avoidance (byte
 * counting), fast retransmit on the third duplicate ACK, restart after
 * idle. RFC 6582: NewReno fast recovery with partial ACKs and "recover".
 * When SACK was negotiated, RFC 6675: a scoreboard of SACKed ranges, loss
 * recovery driven by the pipe estimate and NextSeg(); after an RTO the
 * scoreboard is cleared (RFC 2018 8: the receiver may have reneged).
 *
 * May touch: the TCB's congestion and SACK state, output of single
 * segments (tcp_send_at), counters.
 */
#include <string.h>

#include "proto/tcp_int.h"

#define CWND_MAX (1u << 30)

/* RFC 5681 3.1 (RFC 3390): IW = min(4*SMSS, max(2*SMSS, 4380)). */
static uint32_t initial_window(const struct tcp_conn *c)
{
	uint32_t s = c->smss;

	return USTACK_MIN(4 * s, USTACK_MAX(2 * s, 4380u));
}

void tcp_cc_init(struct ustack *st, struct tcp_conn *c)
{
	(void)st;
	c->cwnd = initial_window(c);
	c->ssthresh = CWND_MAX;      /* "arbitrarily high" */
	c->bytes_acked = 0;
	c->dupacks = 0;
	c->in_recovery = 0;
	c->recover = c->iss;
	c->nscore = 0;
}

/* RFC 5681 4.1: after an idle period longer than the RTO, restart from
 * at most the initial window. */
void tcp_cc_before_send(struct ustack *st, struct tcp_conn *c)
{
	if (c->snd_una == c->snd_max && c->last_send_at &&
	    st->now - c->last_send_at > c->rto_us)
		c->cwnd = USTACK_MIN(c->cwnd, initial_window(c));
}

/* RFC 5681 eq. 4. On a fast retransmit, "additional data sent in limited
 * transmit MUST NOT be included in this calculation" (RFC 5681 3.2 step 2,
 * RFC 6675 5 (4.2)); lt_bytes is 0 on an RTO. */
static uint32_t half_flight(const struct tcp_conn *c)
{
	uint32_t flight = tcp_flight(c);

	flight -= USTACK_MIN(flight, c->lt_bytes);
	return USTACK_MAX(flight / 2, 2u * c->smss);
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

int tcp_sack_is_lost_head(const struct tcp_conn *c)
{
	return c->sack_ok && c->nscore && seq_gt(lost_edge(c), c->snd_una);
}

/* RFC 6675 5 step (C): while cwnd - pipe >= 1 SMSS, send NextSeg(). */
void tcp_sack_output(struct ustack *st, struct tcp_conn *c)
{
	for (int i = 0; i < 256; i++) {
		uint32_t lost = lost_edge(c), pipe = sack_pipe(c, lost);
		uint32_t seq, len, end = tcp_data_end(c), sent;

		if (c->cwnd <= pipe || c->cwnd - pipe < c->smss)
			break;
		if (next_hole(c, lost, 1, &seq, &len)) {           /* rule 1 */
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

/* ---- entering recovery, timeouts --------------------------------------------- */

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
	c->ssthresh = half_flight(c);
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

void tcp_cc_timeout(struct ustack *st, struct tcp_conn *c)
{
	(void)st;
	/* RFC 5681 3.1: ssthresh only on the first timeout of a series
	 * (from all of FlightSize: limited transmit counts here). */
	c->lt_bytes = 0;
	if (c->nrexmit <= 1)
		c->ssthresh = half_flight(c);
	c->cwnd = c->smss;                 /* loss window */
	c->bytes_acked = 0;
	c->dupacks = 0;
	c->in_recovery = 0;
	c->recover = c->snd_max;           /* RFC 6582 4.1 after an RTO */
	c->after_rto = 1;
	/* RFC 2018 8 says to forget SACK information after an RTO, since the
	 * receiver may have reneged; RFC 6675 5.1 leaves it open. We keep it
	 * for the first RTO (go-back-N skips what was SACKed, saving a
	 * window of needless retransmissions) and forget it on the second:
	 * if the peer did renege, the hole is then sent again. */
	if (c->nrexmit > 1)
		c->nscore = 0;
	c->rxt_high = c->snd_una;
}
