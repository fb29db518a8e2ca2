/*
 * tcp_buf.c - the byte rings behind a connection and the out-of-order
 * islands of the receive side.
 *
 * Send ring: the bytes from snd_buf_seq on, acknowledged bytes are dropped
 * from the front; bounded by SO_SNDBUF. Receive ring: unread in-order data
 * from head, and after it the receive window itself: a segment that arrives
 * out of order is written straight to its place (rcv_nxt + offset), and an
 * island [l, r) records that those bytes are present. When the hole before
 * an island fills, the island joins the in-order data without a copy. The
 * window we advertise never exceeds the free space, so every acceptable
 * byte has its place; the islands are bounded in count (TCP_OOO_MAX_RANGES)
 * and bytes (cfg.tcp_ooo_max_bytes). Rings grow on demand (4 KiB doubling)
 * and are freed again when they empty (all sent data acknowledged; all
 * received data read, no island), so an idle connection holds no buffer
 * memory, as a kernel socket whose queues are empty holds no skb. The
 * island array and the SACK scoreboard (tcp_cc.c) live out of line the
 * same way: allocated on the first out-of-order segment or SACK block and
 * freed when they empty, so an idle TCB carries two NULL pointers instead
 * of 640 bytes of arrays (docs/performance.md, memory per connection).
 *
 * May touch: the TCB's rings and islands, malloc, the TCP counters.
 */
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "proto/tcp_int.h"

#define RING_MIN 4096u

void tcp_ring_free(struct tcp_ring *r)
{
	uint32_t hint = r->size ? r->size : r->hint;

	free(r->buf);
	memset(r, 0, sizeof(*r));
	r->hint = hint;
}

int tcp_ring_reserve(struct tcp_ring *r, uint32_t need, uint32_t bound)
{
	uint32_t n = r->size ? r->size : USTACK_MAX(r->hint, RING_MIN);
	uint8_t *nb;

	if (need <= r->size)
		return 0;
	if (bound < need)
		bound = need;
	while (n < need && n < (1u << 30))
		n <<= 1;
	if (n > bound)
		n = bound;
	if ((nb = malloc(n)) == NULL)
		return -1;
	if (r->size) {
		/* Straighten the ring: everything from head, wrapped or not
		 * (the receive ring keeps islands past len). */
		uint32_t first = r->size - r->head;

		memcpy(nb, r->buf + r->head, first);
		memcpy(nb + first, r->buf, r->head);
	}
	free(r->buf);
	r->buf = nb;
	r->size = n;
	r->head = 0;
	return 0;
}

/* Where byte off of the ring is, and how many of the n bytes from there
 * lie before the end of the buffer (*first; the rest wrap to buf[0]). */
static uint32_t ring_span(const struct tcp_ring *r, uint32_t off, uint32_t n,
			  uint32_t *first)
{
	uint32_t pos;

	USTACK_ASSERT(off + n <= r->size);
	pos = r->head + off;
	if (pos >= r->size)
		pos -= r->size;
	*first = r->size - pos < n ? r->size - pos : n;
	return pos;
}

void tcp_ring_write(struct tcp_ring *r, uint32_t off, const void *src,
		    uint32_t n)
{
	uint32_t first;
	uint32_t pos = ring_span(r, off, n, &first);

	memcpy(r->buf + pos, src, first);
	memcpy(r->buf, (const uint8_t *)src + first, n - first);
}

void tcp_ring_peek(const struct tcp_ring *r, uint32_t off, uint32_t n,
		   const uint8_t **p0, uint32_t *n0)
{
	*p0 = r->buf + ring_span(r, off, n, n0);
}

void tcp_ring_read(const struct tcp_ring *r, uint32_t off, void *dst,
		   uint32_t n)
{
	uint32_t first;
	uint32_t pos = ring_span(r, off, n, &first);

	memcpy(dst, r->buf + pos, first);
	memcpy((uint8_t *)dst + first, r->buf, n - first);
}

void tcp_ring_consume(struct tcp_ring *r, uint32_t n)
{
	USTACK_ASSERT(n <= r->len);
	if (!n)
		return;
	r->head += n;
	if (r->head >= r->size)
		r->head -= r->size;
	r->len -= n;
}

/* ---- out-of-line OOO and SACK state ------------------------------------- */

int tcp_score_alloc(struct tcp_conn *c)
{
	if (!c->score)
		c->score = malloc(TCP_SCORE_MAX * sizeof(c->score[0]));
	return c->score ? 0 : -1;
}

void tcp_score_release(struct tcp_conn *c)
{
	free(c->score);
	c->score = NULL;
	c->nscore = 0;
}

void tcp_ooo_release(struct tcp_conn *c)
{
	free(c->ooo);
	c->ooo = NULL;
	c->nooo = 0;
	c->ooo_bytes = 0;
}

/* Heap bytes the TCB holds (control block, rings, islands, scoreboard):
 * what memory per connection is measured with (tests, docs). */
size_t tcp_conn_mem(const struct tcp_conn *c)
{
	return sizeof(*c) + c->sbuf.size + c->rbuf.size +
	       (c->ooo ? TCP_OOO_MAX_RANGES * sizeof(c->ooo[0]) : 0) +
	       (c->score ? TCP_SCORE_MAX * sizeof(c->score[0]) : 0) +
	       tcp_rack_mem(c) + tcp_cubic_mem(c);
}

/* ---- send side ----------------------------------------------------------- */

uint32_t tcp_sbuf_append(struct ustack *st, struct tcp_conn *c,
			 const void *buf, uint32_t len)
{
	uint32_t room = c->snd_cap > c->sbuf.len ? c->snd_cap - c->sbuf.len : 0;
	uint32_t n = len < room ? len : room;

	if (!n)
		return 0;
	if (tcp_ring_reserve(&c->sbuf, c->sbuf.len + n, c->snd_cap) < 0) {
		STAT_INC(st, TCP_DROP_NO_MEM);
		return 0;
	}
	tcp_ring_write(&c->sbuf, c->sbuf.len, buf, n);
	c->sbuf.len += n;
	return n;
}

void tcp_sbuf_ack(struct tcp_conn *c)
{
	uint32_t n;

	if (!seq_gt(c->snd_una, c->snd_buf_seq))
		return;
	n = c->snd_una - c->snd_buf_seq;
	if (n > c->sbuf.len)
		n = c->sbuf.len;       /* the rest is our FIN */
	tcp_ring_consume(&c->sbuf, n);
	c->snd_buf_seq += n;
	if (!c->sbuf.len && c->sbuf.size)
		tcp_ring_free(&c->sbuf);  /* idle: hold no memory */
}

/* ---- receive side -------------------------------------------------------- */

uint32_t tcp_rcv_space(const struct tcp_conn *c)
{
	return c->rcv_cap > c->rbuf.len ? c->rcv_cap - c->rbuf.len : 0;
}

void tcp_ooo_purge(struct tcp_conn *c)
{
	tcp_ooo_release(c);
	c->fin_ooo = 0;
}

static void ooo_remove(struct tcp_conn *c, unsigned i)
{
	c->ooo_bytes -= c->ooo[i].r - c->ooo[i].l;
	memmove(&c->ooo[i], &c->ooo[i + 1],
		(c->nooo - i - 1) * sizeof(c->ooo[0]));
	c->nooo--;
}

/* In-order data reached rcv_nxt: islands it touches join the stream. */
static void ooo_absorb(struct tcp_conn *c)
{
	while (c->nooo && seq_leq(c->ooo[0].l, c->rcv_nxt)) {
		if (seq_gt(c->ooo[0].r, c->rcv_nxt)) {
			uint32_t add = c->ooo[0].r - c->rcv_nxt;

			c->rbuf.len += add;
			c->rcv_nxt += add;
		}
		ooo_remove(c, 0);
		if (!c->nooo)
			tcp_ooo_release(c);  /* last island joined */
	}
}

/*
 * Record [l, r) as present, merging with islands it overlaps or touches.
 * Returns -1 (nothing changed) when a bound would be exceeded.
 */
static int ooo_insert(struct ustack *st, struct tcp_conn *c, uint32_t l,
		      uint32_t r)
{
	unsigned first = 0, last, i;
	uint32_t nl = l, nr = r, held = 0;

	while (first < c->nooo && seq_lt(c->ooo[first].r, l))
		first++;
	last = first;
	while (last < c->nooo && seq_leq(c->ooo[last].l, r)) {
		nl = seq_min(nl, c->ooo[last].l);
		nr = seq_max(nr, c->ooo[last].r);
		held += c->ooo[last].r - c->ooo[last].l;
		last++;
	}
	/* islands [first, last) merge into [nl, nr) */
	if (!c->ooo &&
	    !(c->ooo = malloc(TCP_OOO_MAX_RANGES * sizeof(c->ooo[0])))) {
		STAT_INC(st, TCP_DROP_NO_MEM);
		return -1;
	}
	if (c->ooo_bytes - held + (nr - nl) > st->cfg.tcp_ooo_max_bytes ||
	    (first == last && c->nooo == TCP_OOO_MAX_RANGES)) {
		STAT_INC(st, TCP_DROP_OOO_FULL);
		return -1;
	}
	if (first == last) {
		memmove(&c->ooo[first + 1], &c->ooo[first],
			(c->nooo - first) * sizeof(c->ooo[0]));
		c->nooo++;
	} else {
		for (i = first + 1; i < last; i++)
			c->ooo_bytes -= c->ooo[i].r - c->ooo[i].l;
		memmove(&c->ooo[first + 1], &c->ooo[last],
			(c->nooo - last) * sizeof(c->ooo[0]));
		c->nooo = (uint8_t)(c->nooo - (last - first - 1));
		c->ooo_bytes -= c->ooo[first].r - c->ooo[first].l;
	}
	c->ooo[first].l = nl;
	c->ooo[first].r = nr;
	c->ooo[first].stamp = ++c->ooo_stamp;
	c->ooo_bytes += nr - nl;
	return 0;
}

int tcp_rcv_data(struct ustack *st, struct tcp_conn *c,
		 const struct tcp_seg *seg)
{
	uint32_t off = seg->seq - c->rcv_nxt, end = off + seg->len;

	if (c->shut_rd) {
		/* SHUT_RD: take in-order data off the wire and discard it. */
		if (off)
			return -1;
		c->rcv_nxt += seg->len;
		return 1;
	}
	if (tcp_ring_reserve(&c->rbuf, c->rbuf.len + end,
			     USTACK_MAX(c->rcv_cap, c->rbuf.len + end)) < 0) {
		STAT_INC(st, TCP_DROP_NO_MEM);
		return -1;
	}
	if (off == 0) {
		tcp_ring_write(&c->rbuf, c->rbuf.len, seg->data, seg->len);
		c->rbuf.len += seg->len;
		c->rcv_nxt += seg->len;
		ooo_absorb(c);
		return 1;
	}
	for (unsigned i = 0; i < c->nooo; i++) {
		/* RFC 2883 4 (2): duplicate of out-of-order data held */
		uint32_t l = seq_max(seg->seq, c->ooo[i].l);
		uint32_t r = seq_min(seg->seq + seg->len, c->ooo[i].r);

		if (seq_lt(l, r)) {
			tcp_dsack_note(st, c, l, r);
			break;
		}
	}
	if (ooo_insert(st, c, seg->seq, seg->seq + seg->len) < 0)
		return -1;
	tcp_ring_write(&c->rbuf, c->rbuf.len + off, seg->data, seg->len);
	STAT_INC(st, TCP_OOO_SEGS);
	return 0;
}

/* RFC 2883 4: the first duplicate of the segment is reported once, in
 * the first block of the next ACK (only one per ACK: a later one
 * replaces an unsent earlier one). */
void tcp_dsack_note(struct ustack *st, struct tcp_conn *c, uint32_t l,
		    uint32_t r)
{
	if (!c->sack_ok)
		return;
	STAT_INC(st, TCP_DSACK_TX);
	c->dsack.l = l;
	c->dsack.r = r;
	c->dsack_pending = 1;
	c->ack_now = 1;
}

/* RFC 2018 4: the first block holds the most recently received segment,
 * then the other most recently changed islands. */
unsigned tcp_sack_blocks(const struct tcp_conn *c, struct tcp_range *out,
			 unsigned max)
{
	uint8_t used[TCP_OOO_MAX_RANGES] = {0};
	unsigned n = 0;

	while (n < max && n < c->nooo) {
		unsigned best = TCP_OOO_MAX_RANGES;

		for (unsigned i = 0; i < c->nooo; i++)
			if (!used[i] && (best == TCP_OOO_MAX_RANGES ||
					 c->ooo[i].stamp > c->ooo[best].stamp))
				best = i;
		used[best] = 1;
		out[n].l = c->ooo[best].l;
		out[n].r = c->ooo[best].r;
		n++;
	}
	return n;
}
