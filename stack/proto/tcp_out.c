/*
 * tcp_out.c - building and sending segments: the header, options, window
 * and checksum of every segment; tcp_output(), which decides what may be
 * sent now (peer window, congestion window, Nagle, sender SWS avoidance);
 * ACKs, SYNs, RSTs, zero-window and keepalive probes. With a device that
 * offloads them, checksums are left partial and new data goes out in TSO
 * super-frames of up to 64 KiB (set_offload, send_room).
 *
 * May touch: the TCB's send state, rings (read), timers (through
 * tcp_timer.c), ip4_output, the TCP counters.
 */
#include <errno.h>
#include <string.h>

#include "core/assert.h"
#include "proto/ipv4.h"
#include "proto/tcp_int.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"

static void trace_out(struct ustack *st, uint32_t laddr, uint16_t lport,
		      uint32_t raddr, uint16_t rport, const uint8_t *h,
		      uint32_t dlen, const char *state)
{
	char l[IP4_STRLEN], r[IP4_STRLEN], f[8];
	uint8_t fl = tcp_flags(h);
	int n = 0;

	if (fl & TCP_SYN)
		f[n++] = 'S';
	if (fl & TCP_FIN)
		f[n++] = 'F';
	if (fl & TCP_RST)
		f[n++] = 'R';
	if (fl & TCP_PSH)
		f[n++] = 'P';
	if (fl & TCP_ACK)
		f[n++] = '.';
	f[n] = 0;
	ULOG_TRACE(st, "tcp out %s:%u > %s:%u [%s] seq %u ack %u win %u len %u %s",
		   ustack_fmt_ip4(laddr, l), lport, ustack_fmt_ip4(raddr, r),
		   rport, f, tcp_seq(h), tcp_ack(h), tcp_win(h), dlen, state);
}

/* Header into h (options already at h + 20), checksum over hl + dlen; or,
 * when the device completes it (partial), the folded pseudo-header sum
 * that the device's sum over the segment starts from. */
static void finish_segment(uint8_t *h, uint32_t laddr, uint16_t lport,
			   uint32_t raddr, uint16_t rport, uint32_t seq,
			   uint32_t ack, uint8_t flags, uint16_t wnd,
			   unsigned hl, uint32_t dlen, int partial)
{
	uint32_t sum;

	be16_store(h + TCP_OFF_SPORT, lport);
	be16_store(h + TCP_OFF_DPORT, rport);
	be32_store(h + TCP_OFF_SEQ, seq);
	be32_store(h + TCP_OFF_ACK, ack);
	h[TCP_OFF_DOFF] = (uint8_t)((hl / 4) << 4);
	h[TCP_OFF_FLAGS] = flags;
	be16_store(h + TCP_OFF_WIN, wnd);
	be16_store(h + TCP_OFF_CSUM, 0);
	be16_store(h + TCP_OFF_URP, 0);
	sum = csum_pseudo(laddr, raddr, IP4_PROTO_TCP, hl + dlen);
	if (partial)
		be16_store(h + TCP_OFF_CSUM, (uint16_t)~csum_fold(sum));
	else
		be16_store(h + TCP_OFF_CSUM,
			   csum_fold(csum_partial(h, hl + dlen, sum)));
}

/* ttl 0: IP4_DEFAULT_TTL; ttl and tos are the socket's IP_TTL/IP_TOS. */
static int send_pkb(struct ustack *st, struct pkb *pkb, uint32_t laddr,
		    uint32_t raddr, uint8_t ttl, uint8_t tos)
{
	struct ip4_tx tx;

	memset(&tx, 0, sizeof(tx));
	tx.src = laddr;
	tx.dst = raddr;
	tx.proto = IP4_PROTO_TCP;
	tx.df = 1;              /* RFC 1191 path MTU discovery */
	tx.ttl = ttl;
	tx.tos = tos;
	STAT_INC(st, TCP_TX);
	return ip4_output(st, pkb, &tx);
}

int tcp_send_raw(struct ustack *st, uint32_t laddr, uint16_t lport,
		 uint32_t raddr, uint16_t rport, uint32_t seq, uint32_t ack,
		 uint8_t flags, uint16_t wnd, const uint8_t *opts,
		 unsigned optlen)
{
	struct tcp_raw_tx tx = {0, 0, "-"};

	return tcp_send_raw_tx(st, laddr, lport, raddr, rport, seq, ack, flags,
			       wnd, opts, optlen, &tx);
}

int tcp_send_raw_tx(struct ustack *st, uint32_t laddr, uint16_t lport,
		    uint32_t raddr, uint16_t rport, uint32_t seq, uint32_t ack,
		    uint8_t flags, uint16_t wnd, const uint8_t *opts,
		    unsigned optlen, const struct tcp_raw_tx *tx)
{
	unsigned hl = TCP_HDR_LEN + ((optlen + 3u) & ~3u);
	struct pkb *pkb = pkb_alloc(st, hl);
	uint8_t *h;

	if (!pkb)
		return -ENOBUFS;
	h = pkb_put(pkb, hl);
	memset(h + TCP_HDR_LEN, 0, hl - TCP_HDR_LEN);
	if (optlen)
		memcpy(h + TCP_HDR_LEN, opts, optlen);
	finish_segment(h, laddr, lport, raddr, rport, seq, ack, flags, wnd, hl, 0,
		       0);
	if (flags & TCP_RST)
		STAT_INC(st, TCP_RST_TX);
	trace_out(st, laddr, lport, raddr, rport, h, 0, tx->state);
	return send_pkb(st, pkb, laddr, raddr, tx->ttl, tx->tos);
}

/* ---- the receive window -------------------------------------------------- */

/* The right edge the free space allows, at most what the window field
 * can say (65535 << shift): an edge beyond it is never advertised, and
 * moving it would only send ACKs that announce nothing new. */
static uint32_t space_edge(const struct tcp_conn *c)
{
	return c->rcv_nxt + USTACK_MIN(tcp_rcv_space(c), TCP_MAX_WIN << c->rcv_wscale);
}

/*
 * RFC 9293 3.8.6.2.2: move the right edge only by at least
 * min(RCV.BUFF / 2, MSS), and never back (RFC 9293 3.8.6). rcv_adv is the
 * exact edge; the field is rounded down to the scale (RFC 7323 2.4 lets
 * that look like a small shrink; we still accept up to rcv_adv).
 */
uint16_t tcp_window_field(struct tcp_conn *c)
{
	uint32_t edge = space_edge(c);
	uint32_t thresh = USTACK_MIN(c->rcv_cap / 2, (uint32_t)c->rcv_mss);
	uint32_t wnd;

	c->batch_acked = 0;
	if (seq_lt(c->rcv_adv, c->rcv_nxt))
		c->rcv_adv = c->rcv_nxt;
	if (seq_gt(edge, c->rcv_adv) && edge - c->rcv_adv >= thresh)
		c->rcv_adv = edge;
	wnd = (c->rcv_adv - c->rcv_nxt) >> c->rcv_wscale;
	return (uint16_t)(wnd > TCP_MAX_WIN ? TCP_MAX_WIN : wnd);
}

void tcp_rcv_space_update(struct ustack *st, struct tcp_conn *c)
{
	uint32_t edge = space_edge(c);
	uint32_t thresh = USTACK_MIN(c->rcv_cap / 2, (uint32_t)c->rcv_mss);
	uint32_t lim = USTACK_MIN(c->rcv_cap, TCP_MAX_WIN << c->rcv_wscale);
	uint32_t cur = c->rcv_adv - c->rcv_nxt;

	/* All read and nothing out of order held: the ring goes (tcp_buf.c),
	 * an idle connection holds no buffer memory. */
	if (!c->rbuf.len && !c->nooo && c->rbuf.size)
		tcp_ring_free(&c->rbuf);

	if (c->state != USTACK_TCP_ESTABLISHED &&
	    c->state != USTACK_TCP_FIN_WAIT_1 &&
	    c->state != USTACK_TCP_FIN_WAIT_2)
		return;
	if (c->fin_rcvd)
		return;
	/* Right after a read batch's ACK, while the peer still has half
	 * the window we can give, the update waits for the next batch's
	 * ACK (Linux sends one only once the window has halved,
	 * tcp_cleanup_rbuf): in a bulk transfer one ACK per batch, not one
	 * for the data and one for the read. */
	if (c->batch_acked && seq_geq(c->rcv_adv, c->rcv_nxt) &&
	    2 * (uint64_t)cur >= lim && cur >= c->rcv_mss)
		return;
	if (seq_gt(edge, c->rcv_adv) && edge - c->rcv_adv >= thresh)
		tcp_send_ack(st, c);
}

/* ---- segments of a connection --------------------------------------------- */

/*
 * Checksum offload and TSO (docs/performance.md): when the device
 * completes checksums, every segment leaves with a partial one; when it
 * also does TSO, `len` may be several segments' worth, and the device cuts
 * it into pieces of mss_clamp - options data bytes, each with a copy of
 * this header (sequence numbers advanced, FIN and PSH on the last only).
 */
static void set_offload(struct ustack *st, struct tcp_conn *c,
			struct pkb *pkb, unsigned ol, uint32_t len)
{
	uint32_t room = c->mss_clamp > ol ? c->mss_clamp - ol : 1;

	pkb_set_th(pkb);
	pkb->csum = PKB_CSUM_PARTIAL;
	pkb->csum_off = TCP_OFF_CSUM;
	if (len > room) {
		USTACK_ASSERT(stack_tso_max(st) != 0);
		pkb->gso_size = (uint16_t)room;
	}
}

/*
 * Build and send one segment of c: `len` data bytes from the send ring at
 * seq. Every segment but a SYN carries the ACK; this is where an ACK
 * is known to have gone out (delayed ACK cancelled, Last.ACK.sent).
 * Returns 0 or ip4_output's -errno. Callers ignore it: a segment the
 * device or ARP refused is a segment lost on the way (the counters say
 * why), and what recovers a lost one recovers it (the retransmission,
 * persist or keepalive timer, or the peer's next segment).
 */
static int xmit(struct ustack *st, struct tcp_conn *c, uint32_t seq,
		uint8_t flags, uint32_t len)
{
	uint8_t opts[TCP_HDR_MAX - TCP_HDR_LEN];
	int offload = stack_tx_csum_on(st);
	unsigned ol, hl;
	struct pkb *pkb;
	uint16_t wnd;
	uint8_t *h;

	if (flags & TCP_SYN) {
		ol = tcp_opt_build_syn(st, c, opts);
		wnd = (uint16_t)USTACK_MIN(tcp_rcv_space(c), TCP_MAX_WIN);
		if (flags & TCP_ACK)      /* SYN-ACK: the window starts here */
			c->rcv_adv = c->rcv_nxt + wnd;
	} else if (flags & TCP_RST) {
		ol = tcp_opt_build(st, c, opts, 0); /* RFC 7323 3.2: TS SHOULD */
		wnd = 0;
	} else {
		ol = tcp_opt_build(st, c, opts, 1);
		wnd = tcp_window_field(c);
	}
	hl = TCP_HDR_LEN + ol;
	USTACK_ASSERT(hl <= TCP_HDR_MAX && (hl & 3) == 0);
	if ((pkb = pkb_alloc(st, hl + len)) == NULL)
		return -ENOBUFS;
	if (len && offload && st->dev->ops->transmit_gather) {
		/* Gather: the data stays in the ring and the device takes
		 * it from there (dev.h transmit_gather); with the checksum
		 * partial nothing here reads it. The buffer keeps room for
		 * it (pkb_linearize). */
		h = pkb_put(pkb, hl);
		tcp_ring_peek(&c->sbuf, seq - c->snd_buf_seq, len,
			      &pkb->ext[0], &pkb->ext_len[0]);
		pkb->ext[1] = c->sbuf.buf;
		pkb->ext_len[1] = len - pkb->ext_len[0];
		pkb->ext_total = len;
	} else {
		h = pkb_put(pkb, hl + len);
		if (len)
			tcp_ring_read(&c->sbuf, seq - c->snd_buf_seq, h + hl,
				      len);
	}
	memcpy(h + TCP_HDR_LEN, opts, ol);
	if (flags & TCP_ACK) {
		if (c->delack_bytes && c->quick)
			c->quick--;           /* one quick ACK spent */
		if (!(flags & TCP_SYN))
			c->dsack_pending = 0; /* reported (RFC 2883) */
		c->last_ack_sent = c->rcv_nxt;
		c->ack_now = 0;
		c->delack_bytes = 0;
		tcp_delack_cancel(st, c);
	}
	finish_segment(h, c->laddr, c->lport, c->raddr, c->rport, seq,
		       (flags & TCP_ACK) ? c->rcv_nxt : 0, flags, wnd, hl, len,
		       offload);
	if (offload)
		set_offload(st, c, pkb, ol, len);
	if (flags & TCP_RST)
		STAT_INC(st, TCP_RST_TX);
	trace_out(st, c->laddr, c->lport, c->raddr, c->rport, h, len,
		  ustack_tcp_state_name(c->state));
	return send_pkb(st, pkb, c->laddr, c->raddr, c->opt.ttl, c->opt.tos);
}

/*
 * The sequence number of a segment without data: RFC 9293's SND.NXT, the
 * highest we sent (snd_max), not where a retransmission restarted (BSD
 * does the same): a peer drops a bare ACK below its RCV.NXT. But never
 * beyond the right edge the peer offered (SND.UNA + SND.WND): data past it
 * -- a zero-window probe byte, or data sent before the window shrank -- was
 * not taken, and a segment starting there is not acceptable to the peer
 * (RFC 9293 3.10.7.4: with a zero window only SEG.SEQ = RCV.NXT is; an RST
 * must be exactly there, RFC 5961 3.2). Linux's tcp_acceptable_seq() too.
 */
static uint32_t ack_seq(const struct tcp_conn *c)
{
	uint32_t edge = c->snd_una + c->snd_wnd;

	if (!c->syn_acked)
		return c->snd_max;           /* our SYN: not subject to it */
	return seq_gt(c->snd_max, edge) ? edge : c->snd_max;
}

void tcp_send_ack(struct ustack *st, struct tcp_conn *c)
{
	/* a lost ACK: the next one covers it (cumulative), or the peer
	 * retransmits */
	xmit(st, c, ack_seq(c), TCP_ACK, 0);
}

void tcp_send_syn(struct ustack *st, struct tcp_conn *c)
{
	uint8_t flags = TCP_SYN;

	if (c->state != USTACK_TCP_SYN_SENT)
		flags |= TCP_ACK;   /* SYN-ACK (passive or simultaneous) */
	if (seq_gt(c->snd_max, c->iss)) {
		STAT_INC(st, TCP_RETRANS_SEGS);
		c->total_retrans++;
		c->rtt_timing = 0;  /* Karn */
		c->syn_rxmit = 1;
	} else {
		c->rtt_timing = 1;
		c->rtt_seq = c->iss;
		c->rtt_at = st->now;
	}
	/* a lost SYN: the SYN timer sends it again */
	xmit(st, c, c->iss, flags, 0);
	if (seq_leq(c->snd_nxt, c->iss))
		c->snd_nxt = c->iss + 1;
	c->snd_max = seq_max(c->snd_max, c->iss + 1);
}

void tcp_send_rst(struct ustack *st, struct tcp_conn *c)
{
	/* a lost RST: the peer's next segment finds no connection and
	 * draws another */
	xmit(st, c, ack_seq(c), TCP_RST | TCP_ACK, 0);
}

void tcp_send_keepalive(struct ustack *st, struct tcp_conn *c)
{
	STAT_INC(st, TCP_KEEPALIVE_PROBES);
	/* a lost probe: the keepalive timer sends the next (keepcnt) */
	xmit(st, c, c->snd_una - 1, TCP_ACK, 0);
}

/* Data bytes that fit next to the options a data segment carries. */
static uint32_t seg_room(const struct tcp_conn *c)
{
	uint32_t ol = tcp_opt_len(c, 1), m = c->mss_clamp;

	return m > ol ? m - ol : 1;
}

/* Data bytes for one send of new data: a segment's worth (room), or with
 * TSO as many whole segments as fit a super-frame (the device's bound,
 * at most a 64 KiB IP datagram). The peer's window and cwnd bound it
 * further in send_new(). */
static uint32_t send_room(const struct ustack *st, const struct tcp_conn *c,
			  uint32_t room)
{
	uint32_t tso = stack_tso_max(st), hl, max;

	if (!tso)
		return room;
	hl = IP4_HDR_LEN + TCP_HDR_LEN + tcp_opt_len(c, 1);
	if (tso < hl + 2 * room)
		return room;
	max = tso - hl;
	return max - max % room;
}

uint32_t tcp_send_at(struct ustack *st, struct tcp_conn *c, uint32_t seq,
		     uint32_t max_len)
{
	uint32_t end = tcp_data_end(c), len = 0;
	uint8_t flags = TCP_ACK;

	if (seq_lt(seq, c->snd_buf_seq))
		seq = c->snd_buf_seq;
	if (seq_lt(seq, end))
		len = USTACK_MIN(USTACK_MIN(max_len, end - seq), seg_room(c));
	if (len && seq + len == end)
		flags |= TCP_PSH;
	if (seq + len == end && tcp_fin_sent(c))
		flags |= TCP_FIN;    /* the FIN rides with the last data again */
	if (!len && !(flags & TCP_FIN))
		return 0;
	if (seq_lt(seq, c->snd_max)) {
		STAT_INC(st, TCP_RETRANS_SEGS);
		c->total_retrans++;
		c->undo_retrans += c->undo_on;
		/* Karn: a retransmitted segment gives no RTT sample. */
		if (c->rtt_timing && seq_leq(seq, c->rtt_seq) &&
		    seq_lt(c->rtt_seq, seq + len + 1))
			c->rtt_timing = 0;
	}
	/* a lost segment: the retransmission timer (or SACK) resends it */
	xmit(st, c, seq, flags, len);
	c->last_send_at = st->now;
	/* Segments are cut afresh (options vary), so a retransmission may
	 * reach past what was sent before: snd_max is the highest sent. */
	len += !!(flags & TCP_FIN);
	tcp_rack_sent(st, c, seq, len);       /* RFC 8985 6.1 */
	if (seq_gt(seq + len, c->snd_max)) {
		c->snd_max = seq + len;
		c->probe_out = 0;
	}
	if (seq_gt(seq + len, c->snd_nxt))
		c->snd_nxt = seq + len;
	return len;
}

/*
 * RFC 9293 3.8.6.2.1 sender SWS avoidance with RFC 1122 4.2.3.4 Nagle:
 * send a full segment; or all that is queued when nothing is unacknowledged
 * (or TCP_NODELAY, or the FIN follows); or at least half the largest window
 * the peer ever offered. Nagle in Minshall's form, as Linux: a short
 * segment waits only while an earlier short segment is unacknowledged
 * (snd_sml), so the tail of one large write does not wait for the peer's
 * delayed ACK of the full segments before it. TCP_CORK and MSG_MORE hold
 * every short tail (Linux: until uncork, a FIN, or TCP_CORK_US).
 */
static int sws_ok(const struct tcp_conn *c, uint32_t len, uint32_t unsent,
		  uint32_t in_flight)
{
	if (len >= seg_room(c) || len >= c->smss)
		return 1;
	if (len == unsent && (c->fin_queued || c->push_once))
		return 1;
	if (c->cork || c->more)
		return 0;
	if (len == unsent && (c->opt.nodelay || in_flight == 0 ||
			      !seq_gt(c->snd_sml, c->snd_una)))
		return 1;
	return c->max_snd_wnd && len >= c->max_snd_wnd / 2;
}

/* Corked data held with nothing in flight leaves after TCP_CORK_US at
 * the latest (Linux's probe timer does this for a corked tail). */
static void cork_start(struct ustack *st, struct tcp_conn *c)
{
	if (timer_armed(&c->t_rtx))
		return;
	c->rtx_kind = TCP_RTX_CORK;
	timer_arm(st, &c->t_rtx, tcp_time_add(st->now, TCP_CORK_US));
}

/* Send one new segment at snd_nxt if allowed. Returns 1 if sent. */
static int send_new(struct ustack *st, struct tcp_conn *c, int force)
{
	uint32_t end = tcp_data_end(c);
	uint32_t unsent = seq_lt(c->snd_nxt, end) ? end - c->snd_nxt : 0;
	int fin_pending = c->fin_queued && seq_leq(c->snd_nxt, end);
	uint32_t wnd = USTACK_MIN(c->snd_wnd, c->cwnd);
	uint32_t off = c->snd_nxt - c->snd_una;
	uint32_t usable = wnd > off ? wnd - off : 0, len, seq = c->snd_nxt;
	uint32_t room = seg_room(c);
	uint8_t flags = TCP_ACK;

	if (!unsent && !fin_pending)
		return 0;
	if (seq_lt(seq, c->snd_max) && c->nscore) {
		/* Going back after an RTO: what the peer SACKed is there. */
		uint32_t skip = tcp_sack_skip(c, seq, &unsent);

		if (skip != seq) {
			c->snd_nxt = seq = skip;
			return 1;
		}
		/* Cut short at a SACKed range: not the last data, so the
		 * FIN can not ride on it (RFC 9293 3.10.4). */
		if (seq_lt(seq + unsent, end))
			fin_pending = 0;
	}
	if (force && !usable && c->snd_wnd > off)
		usable = c->snd_wnd - off;     /* persist override: ignore cwnd */
	len = USTACK_MIN(USTACK_MIN(unsent, usable), send_room(st, c, room));
	/* A super-frame at most half of cwnd, so that at least two are in
	 * flight (Linux tcp_cwnd_test): one lost frame is not the whole
	 * window lost with nothing behind it to be SACKed (an RTO, or a
	 * probe at best) -- RACK finds it from the other (RFC 8985 6.2). */
	if (len > room && len > c->cwnd / 2)
		len = USTACK_MAX(c->cwnd / 2, room);
	/* TSO deferral (Linux tcp_tso_should_defer, win divisor 3): when
	 * cwnd is what holds the data back and ACKs are still to come, wait
	 * until a third of cwnd can go in one super-frame instead of one
	 * small frame per ACK. A link that loses whole frames then sees
	 * fewer, larger ones (the kernel's 20 MiB: 623 frames against our
	 * 5,842 before this), so fewer loss events. */
	if (!force && off && len < unsent && send_room(st, c, room) > room &&
	    c->cwnd <= c->snd_wnd && len < c->cwnd / 3)
		return 0;
	/* TSO: whole segments only; a shorter tail is decided on its own
	 * below in the next round, exactly as without TSO. */
	if (len > room)
		len -= len % room;
	if (unsent && !len) {
		if (off == 0)
			tcp_persist_start(st, c);
		return 0;
	}
	if (unsent && !force && !sws_ok(c, len, unsent, off)) {
		if (off == 0 && (c->cork || c->more) && len == unsent)
			cork_start(st, c);
		else if (off == 0)
			tcp_persist_start(st, c);
		return 0;
	}
	/* The FIN goes with the last data when the window has room for it. */
	if (fin_pending && len == unsent && usable > len)
		flags |= TCP_FIN;
	if (!len && !(flags & TCP_FIN)) {
		if (off == 0 && c->snd_wnd == 0)
			tcp_persist_start(st, c);
		return 0;
	}
	if (len && len == unsent)
		flags |= TCP_PSH;
	if (seq == c->snd_max)
		tcp_cc_before_send(st, c);
	/* a lost segment: the retransmission timer (or SACK) resends it */
	xmit(st, c, seq, flags, len);
	c->snd_nxt = seq + len + !!(flags & TCP_FIN);
	tcp_rack_sent(st, c, seq, c->snd_nxt - seq);  /* RFC 8985 6.1 */
	if (seq_lt(seq, c->snd_max)) {
		STAT_INC(st, TCP_RETRANS_SEGS);     /* go-back-N after an RTO */
		c->total_retrans++;
		c->undo_retrans += c->undo_on;
	} else if (!c->rtt_timing) {
		c->rtt_timing = 1;
		c->rtt_seq = seq;
		c->rtt_at = st->now;
	}
	c->snd_max = seq_max(c->snd_max, c->snd_nxt);
	c->probe_out = 0;             /* a probe byte is now real data */
	c->last_send_at = st->now;
	if (len && len < room)
		c->snd_sml = seq + len;       /* Minshall: a short one out */
	/* Data sent soon after data came in: an exchange of requests and
	 * answers, whose ACKs ride on the answers (Linux's pingpong). */
	if (len && c->rcv_data_seen &&
	    st->now - c->lrcv_at < st->cfg.tcp_delack_us)
		c->pingpong = 1;
	if (!timer_armed(&c->t_rtx) || (c->rtx_kind != TCP_RTX_RETRANSMIT &&
					c->rtx_kind != TCP_RTX_REO))
		tcp_rtx_start(st, c);         /* RFC 6298 5.1 */
	tcp_tlp_arm(st, c);                   /* RFC 8985 7.2 (1) */
	return 1;
}

static int can_send_data(const struct tcp_conn *c)
{
	switch (c->state) {
	case USTACK_TCP_ESTABLISHED:
	case USTACK_TCP_CLOSE_WAIT:
	case USTACK_TCP_FIN_WAIT_1:
	case USTACK_TCP_CLOSING:
	case USTACK_TCP_LAST_ACK:
		/* not before our SYN is acknowledged -- except a FIN alone:
		 * RFC 9293 3.10.4, CLOSE in SYN-RECEIVED with nothing queued
		 * "form a FIN segment and send it" */
		return c->syn_acked ||
		       (c->state == USTACK_TCP_FIN_WAIT_1 && !c->sbuf.len &&
			seq_gt(c->snd_max, c->iss));
	default:
		return 0;
	}
}

static void output(struct ustack *st, struct tcp_conn *c, int force)
{
	int sent = 0;

	if (can_send_data(c)) {
		if (c->in_recovery && c->sack_ok) {
			uint32_t before = c->snd_max + c->rxt_high;

			tcp_sack_output(st, c);
			sent = before != c->snd_max + c->rxt_high;
		} else {
			/* Bounded by the windows; the cap is belt and braces. */
			for (int i = 0; i < 4096 && send_new(st, c, force); i++) {
				sent = 1;
				force = 0;
			}
		}
	}
	if (c->ack_now && !sent && c->state != USTACK_TCP_SYN_SENT &&
	    c->state != USTACK_TCP_LISTEN && c->state != USTACK_TCP_CLOSED)
		tcp_send_ack(st, c);
}

void tcp_output(struct ustack *st, struct tcp_conn *c)
{
	output(st, c, 0);
}

void tcp_send_limited(struct ustack *st, struct tcp_conn *c)
{
	uint32_t end = tcp_data_end(c), seq = c->snd_max, len;

	/* Only new data, and only inside the peer's window. */
	if (!seq_lt(seq, end) || c->snd_nxt != c->snd_max ||
	    seq_geq(seq, c->snd_una + c->snd_wnd))
		return;
	len = USTACK_MIN(USTACK_MIN(end - seq, (uint32_t)c->smss),
			 c->snd_una + c->snd_wnd - seq);
	if (len < c->smss && len < end - seq)
		return;                 /* no silly segment for this */
	tcp_send_at(st, c, seq, len);
}

/* Persist timer: probe a zero window with one byte of new data (RFC 1122
 * 4.2.2.17, RFC 9293 3.8.6.1), or override SWS avoidance when the window
 * is open but small. */
void tcp_send_probe(struct ustack *st, struct tcp_conn *c)
{
	uint32_t end = tcp_data_end(c);

	if (c->snd_wnd) {
		output(st, c, 1);
		return;
	}
	STAT_INC(st, TCP_ZERO_WINDOW_PROBES);
	if (seq_lt(c->snd_nxt, end)) {
		/* The byte goes beyond the window; snd_nxt stays so that it
		 * is sent again as ordinary data when the window opens. A
		 * lost probe: the persist timer sends the next. */
		xmit(st, c, c->snd_nxt, TCP_ACK, 1);
		if (seq_geq(c->snd_nxt, c->snd_max)) {
			c->snd_max = c->snd_nxt + 1;
			c->probe_out = 1;
		}
	} else if (c->fin_queued && !tcp_fin_sent(c)) {
		/* Only the FIN is left: send it; the RTO takes over (also
		 * when this send fails). */
		xmit(st, c, c->snd_nxt, TCP_ACK | TCP_FIN, 0);
		c->snd_nxt++;
		c->snd_max = seq_max(c->snd_max, c->snd_nxt);
		c->probe_out = 0;
		tcp_rtx_start(st, c);
	} else {
		/* a lost probe: the persist timer sends the next */
		xmit(st, c, c->snd_una - 1, TCP_ACK, 0);
	}
	c->last_send_at = st->now;
}
