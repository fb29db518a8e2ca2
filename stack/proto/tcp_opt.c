/*
 * tcp_opt.c - TCP options: parsing what arrives and building what we send
 * (RFC 9293 3.1/3.2 MSS, RFC 7323 window scale and timestamps, RFC 2018
 * SACK-permitted and SACK blocks).
 *
 * Parsing never reads past the option area: every option's length byte is
 * checked against what is left before its value is read. A length below 2
 * or running past the header is malformed (RFC 9293 MUST-7 says to handle
 * it without crashing; we drop the segment and count it). Known options
 * with a wrong length, and options that only belong on a SYN seen on other
 * segments, are ignored; unknown options are skipped (MUST-6).
 *
 * May touch: nothing but the buffers it is given and the TCB it reads.
 */
#include <string.h>

#include "proto/tcp_int.h"

static void parse_sack(const uint8_t *v, unsigned olen, struct tcp_opts *o)
{
	unsigned n = (olen - 2) / 8;

	if (n > TCP_MAX_SACK_BLOCKS)
		n = TCP_MAX_SACK_BLOCKS;
	for (unsigned b = 0; b < n; b++) {
		o->sack[b].l = be32_load(v + 8 * b);
		o->sack[b].r = be32_load(v + 8 * b + 4);
	}
	o->nsack = (uint8_t)n;
}

int tcp_opt_parse(const uint8_t *p, unsigned len, int syn, struct tcp_opts *o)
{
	unsigned i = 0;

	memset(o, 0, sizeof(*o));
	while (i < len) {
		uint8_t kind = p[i], olen;
		const uint8_t *v;

		if (kind == TCP_OPT_EOL)
			break;
		if (kind == TCP_OPT_NOP) {
			i++;
			continue;
		}
		if (len - i < 2)
			return -1;          /* no room for the length byte */
		olen = p[i + 1];
		if (olen < 2 || olen > len - i)
			return -1;          /* MUST-7: illegal length */
		v = p + i + 2;
		switch (kind) {
		case TCP_OPT_MSS:
			if (syn && olen == TCP_OPTLEN_MSS) {
				o->has_mss = 1;
				o->mss = be16_load(v);
			}
			break;
		case TCP_OPT_WSCALE:
			if (syn && olen == TCP_OPTLEN_WSCALE) {
				o->has_ws = 1;
				/* RFC 7323 2.3: log, and use 14 */
				o->wscale = v[0] > TCP_MAX_WSCALE ? TCP_MAX_WSCALE
								  : v[0];
			}
			break;
		case TCP_OPT_SACK_PERM:
			if (syn && olen == TCP_OPTLEN_SACK_PERM)
				o->sack_ok = 1;
			break;
		case TCP_OPT_SACK:
			if (!syn && olen >= 10 && (olen - 2) % 8 == 0)
				parse_sack(v, olen, o);
			break;
		case TCP_OPT_TIMESTAMP:
			if (olen == TCP_OPTLEN_TIMESTAMP) {
				o->has_ts = 1;
				o->tsval = be32_load(v);
				o->tsecr = be32_load(v + 4);
			}
			break;
		default:
			break;              /* MUST-6: ignore unknown options */
		}
		i += olen;
	}
	return 0;
}

static unsigned put_ts(uint8_t *p, uint32_t tsval, uint32_t tsecr,
		       int with_sack_perm)
{
	if (with_sack_perm) {
		p[0] = TCP_OPT_SACK_PERM;
		p[1] = TCP_OPTLEN_SACK_PERM;
	} else {
		p[0] = TCP_OPT_NOP;
		p[1] = TCP_OPT_NOP;
	}
	p[2] = TCP_OPT_TIMESTAMP;
	p[3] = TCP_OPTLEN_TIMESTAMP;
	be32_store(p + 4, tsval);
	be32_store(p + 8, tsecr);
	return 12;
}

/*
 * SYN/SYN-ACK options, laid out as Linux does so that middleboxes see
 * something familiar: MSS, SACK-permitted with timestamps (or NOP NOP),
 * NOP + window scale. ws < 0: no window scale option. At most 20 bytes.
 */
unsigned tcp_opt_build_syn_raw(uint8_t *p, uint16_t mss, int ws, int sack,
			       int ts, uint32_t tsval, uint32_t tsecr)
{
	unsigned n = 0;

	p[n++] = TCP_OPT_MSS;
	p[n++] = TCP_OPTLEN_MSS;
	be16_store(p + n, mss);
	n += 2;
	if (ts) {
		n += put_ts(p + n, tsval, tsecr, sack);
	} else if (sack) {
		p[n++] = TCP_OPT_NOP;
		p[n++] = TCP_OPT_NOP;
		p[n++] = TCP_OPT_SACK_PERM;
		p[n++] = TCP_OPTLEN_SACK_PERM;
	}
	if (ws >= 0) {
		p[n++] = TCP_OPT_NOP;
		p[n++] = TCP_OPT_WSCALE;
		p[n++] = TCP_OPTLEN_WSCALE;
		p[n++] = (uint8_t)ws;
	}
	return n;
}

unsigned tcp_opt_build_syn(struct ustack *st, const struct tcp_conn *c,
			   uint8_t *p)
{
	return tcp_opt_build_syn_raw(p, c->rcv_mss,
				     c->ws_ok ? c->rcv_wscale : -1, c->sack_ok,
				     c->ts_ok, tcp_ts_now(st, c),
				     c->state == USTACK_TCP_SYN_SENT ? 0
								    : c->ts_recent);
}

unsigned tcp_opt_len(const struct tcp_conn *c, int with_sack)
{
	unsigned n = c->ts_ok ? TCP_OPTLEN_TS_ALIGNED : 0;

	if (with_sack && c->sack_ok && (c->nooo || c->dsack_pending)) {
		unsigned max = c->ts_ok ? 3 : 4;
		unsigned b = c->nooo + c->dsack_pending;

		n += 4 + 8 * (b < max ? b : max);
	}
	return n;
}

unsigned tcp_opt_build(struct ustack *st, const struct tcp_conn *c,
		       uint8_t *p, int with_sack)
{
	unsigned n = 0;

	/* RFC 7323 3.2: TSopt in every non-RST segment once negotiated. */
	if (c->ts_ok)
		n += put_ts(p, tcp_ts_now(st, c), c->ts_recent, 0);
	/* RFC 2018 4: SACK blocks in ACKs while data is held out of order;
	 * 3 blocks fit next to timestamps, 4 without. */
	if (with_sack && c->sack_ok && (c->nooo || c->dsack_pending)) {
		struct tcp_range b[TCP_MAX_SACK_BLOCKS];
		unsigned max = c->ts_ok ? 3 : 4, nb = 0;

		/* RFC 2883 4: a D-SACK block first, then the usual ones
		 * (the newest island, which holds a duplicate reported out
		 * of order, comes next as RFC 2883 4 (2) asks). */
		if (c->dsack_pending)
			b[nb++] = c->dsack;
		nb += tcp_sack_blocks(c, b + nb, max - nb);

		p[n++] = TCP_OPT_NOP;
		p[n++] = TCP_OPT_NOP;
		p[n++] = TCP_OPT_SACK;
		p[n++] = (uint8_t)(2 + 8 * nb);
		for (unsigned i = 0; i < nb; i++) {
			be32_store(p + n, b[i].l);
			be32_store(p + n + 4, b[i].r);
			n += 8;
		}
	}
	return n;
}

/*
 * The options of the peer's SYN (or SYN-ACK) applied to a TCB: keep what
 * both sides offered. MSS: the peer's, or 536 when absent (RFC 9293 3.7.1),
 * never above ours; window scale only if both sent it (RFC 7323 2.2);
 * timestamps likewise, the SYN's TSval becoming TS.Recent (RFC 7323 4.3).
 * The window of a SYN is never scaled (RFC 7323 2.2).
 */
void tcp_opt_apply_syn(struct ustack *st, struct tcp_conn *c,
		       const struct tcp_opts *o, uint16_t wnd)
{
	uint32_t peer = o->has_mss ? o->mss : TCP_DEFAULT_MSS;

	c->mss_clamp = (uint16_t)USTACK_MAX(USTACK_MIN(peer, (uint32_t)c->rcv_mss),
					    (uint32_t)TCP_MIN_MSS);
	c->ws_ok = c->ws_ok && o->has_ws;
	c->snd_wscale = c->ws_ok ? o->wscale : 0;
	if (!c->ws_ok)
		c->rcv_wscale = 0;
	c->sack_ok = c->sack_ok && o->sack_ok;
	c->ts_ok = c->ts_ok && o->has_ts;
	if (c->ts_ok) {
		c->ts_recent = o->tsval;
		c->ts_recent_at = st->now;
	}
	c->smss = (uint16_t)(c->mss_clamp - (c->ts_ok ? TCP_OPTLEN_TS_ALIGNED : 0));
	c->snd_wnd = c->max_snd_wnd = wnd;
}
