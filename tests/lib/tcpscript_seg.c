/*
 * tcpscript_seg.c - the segments of a TCP script (see tcpscript.h): parse
 * a packetdrill-like segment spec, build the frame the peer sends, decode
 * what the stack sent into the same relative form, compare the two field
 * by field, and check the RFC invariants every segment of the stack must
 * meet whatever the script expects.
 *
 * Independent of the stack's TCP code on purpose: options are parsed here
 * from the bytes, not with the stack's parser. Only the byte helpers
 * (wire/bytes.h, wire/checksum.h) and the frame builders (lib/pkt.h) are
 * shared.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pkt.h"
#include "lib/tcpscript_int.h"
#include "lib/testbed.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

#define SLT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)

uint8_t ts_peer_byte(uint32_t i)
{
	return (uint8_t)(((i + 17u) * 2654435761u) >> 24);
}

uint8_t ts_stack_byte(uint32_t i)
{
	return (uint8_t)(((i + 0x9e37u) * 2246822519u) >> 23);
}

/* ---- parsing ------------------------------------------------------------ */

struct lex {
	const char *p;
	const char *err;
};

static void ws(struct lex *l)
{
	while (*l->p == ' ' || *l->p == '\t')
		l->p++;
}

static int eat(struct lex *l, const char *w)
{
	size_t n = strlen(w);

	ws(l);
	if (strncmp(l->p, w, n) != 0)
		return 0;
	if (isalnum((unsigned char)w[n - 1]) && isalnum((unsigned char)l->p[n]))
		return 0;
	l->p += n;
	return 1;
}

/* A number (may be negative: relative sequence numbers wrap). */
static int num(struct lex *l, uint32_t *v)
{
	char *end;
	long long x;

	ws(l);
	x = strtoll(l->p, &end, 0);
	if (end == l->p) {
		l->err = "number expected";
		return -1;
	}
	l->p = end;
	*v = (uint32_t)x;
	return 0;
}

/* A number or '*' (sets *any). */
static int num_any(struct lex *l, uint32_t *v, uint8_t *any)
{
	if (eat(l, "*")) {
		*any = 1;
		*v = 0;
		return 0;
	}
	*any = 0;
	return num(l, v);
}

static int parse_flags(struct lex *l, uint8_t *f)
{
	int n = 0;

	ws(l);
	*f = 0;
	for (; *l->p && !isspace((unsigned char)*l->p); l->p++, n++) {
		switch (*l->p) {
		case 'F': *f |= TCP_FIN; break;
		case 'S': *f |= TCP_SYN; break;
		case 'R': *f |= TCP_RST; break;
		case 'P': *f |= TCP_PSH; break;
		case '.': *f |= TCP_ACK; break;
		case 'U': *f |= TCP_URG; break;
		case 'E': *f |= TCP_ECE; break;
		case 'W': *f |= TCP_CWR; break;
		default:
			l->err = "bad flag (F S R P . U E W)";
			return -1;
		}
	}
	if (!n)
		l->err = "flags expected";
	return n ? 0 : -1;
}

/* SACK blocks "L:R L:R ..." up to 4. */
static int parse_sack(struct lex *l, struct ts_opt *o)
{
	o->kind = TO_SACK;
	o->nblk = 0;
	for (;;) {
		const char *save;

		ws(l);
		if (!(isdigit((unsigned char)*l->p) || *l->p == '-'))
			break;
		if (o->nblk == 4) {
			l->err = "at most 4 SACK blocks";
			return -1;
		}
		save = l->p;
		if (num(l, &o->blk[2 * o->nblk]) < 0 || !eat(l, ":") ||
		    num(l, &o->blk[2 * o->nblk + 1]) < 0) {
			l->p = save;
			l->err = "SACK block L:R expected";
			return -1;
		}
		o->nblk++;
	}
	if (!o->nblk)
		l->err = "SACK block expected";
	return o->nblk ? 0 : -1;
}

static int parse_raw(struct lex *l, struct ts_opt *o)
{
	o->kind = TO_RAW;
	o->rawlen = 0;
	ws(l);
	while (isxdigit((unsigned char)l->p[0]) && isxdigit((unsigned char)l->p[1])) {
		char h[3] = {l->p[0], l->p[1], 0};

		if (o->rawlen == sizeof(o->raw)) {
			l->err = "raw option too long";
			return -1;
		}
		o->raw[o->rawlen++] = (uint8_t)strtoul(h, NULL, 16);
		l->p += 2;
	}
	if (!o->rawlen)
		l->err = "hex bytes expected after raw";
	return o->rawlen ? 0 : -1;
}

static int parse_opt(struct lex *l, struct ts_opt *o, int outbound)
{
	memset(o, 0, sizeof(*o));
	if (eat(l, "nop")) {
		o->kind = TO_NOP;
	} else if (eat(l, "eol")) {
		o->kind = TO_EOL;
	} else if (eat(l, "mss")) {
		o->kind = TO_MSS;
		return num_any(l, &o->a, &o->any_a);
	} else if (eat(l, "wscale")) {
		o->kind = TO_WS;
		return num_any(l, &o->a, &o->any_a);
	} else if (eat(l, "sackOK")) {
		o->kind = TO_SACKOK;
	} else if (eat(l, "TS")) {
		o->kind = TO_TS;
		if (!eat(l, "val") || num_any(l, &o->a, &o->any_a) < 0 ||
		    !eat(l, "ecr") || num_any(l, &o->b, &o->any_b) < 0) {
			l->err = "TS val N ecr N";
			return -1;
		}
		if (!outbound && o->any_a) {
			l->err = "inbound TS val must be a number";
			return -1;
		}
		if (!outbound && o->any_b) {
			o->any_b = 0;
			o->echo_b = 1;
			/* "ecr *-N": the stack's last TSval less N (an echo of
			 * an older segment; the TS clock ticks in ms) */
			if (*l->p == '-' && num(l, &o->b) < 0)
				return -1;
		}
	} else if (eat(l, "sack")) {
		return parse_sack(l, o);
	} else if (eat(l, "raw")) {
		return parse_raw(l, o);
	} else {
		l->err = "unknown option (nop eol mss wscale sackOK TS sack raw)";
		return -1;
	}
	return 0;
}

static int parse_opts(struct lex *l, struct ts_seg *s, int outbound)
{
	s->has_opts = 1;
	s->nopts = 0;
	if (eat(l, ">"))
		return 0;                      /* "<>": no options at all */
	for (;;) {
		if (s->nopts == TS_MAX_OPTS) {
			l->err = "too many options";
			return -1;
		}
		if (parse_opt(l, &s->opts[s->nopts++], outbound) < 0)
			return -1;
		if (eat(l, ">"))
			return 0;
		if (!eat(l, ",")) {
			l->err = "',' or '>' expected in options";
			return -1;
		}
	}
}

int ts_seg_parse(const char *str, int outbound, struct ts_seg *s,
		 const char **err)
{
	struct lex l = {.p = str};
	uint32_t a, b, n;

	memset(s, 0, sizeof(*s));
	if (parse_flags(&l, &s->flags) < 0)
		goto bad;
	if (eat(&l, "*")) {
		if (!outbound) {
			l.err = "inbound segments need a sequence number";
			goto bad;
		}
		s->any_seq = 1;
	} else {
		if (num(&l, &a) < 0 || !eat(&l, ":") || num(&l, &b) < 0 ||
		    !eat(&l, "(") || num(&l, &n) < 0 || !eat(&l, ")")) {
			l.err = "START:END(LEN) expected";
			goto bad;
		}
		if (b - a != n) {
			l.err = "END - START must equal LEN";
			goto bad;
		}
		if (n > 65000) {
			l.err = "segment too long";
			goto bad;
		}
		s->seq = a;
		s->len = n;
	}
	for (;;) {
		ws(&l);
		if (!*l.p || *l.p == '#')
			break;
		if (eat(&l, "ack")) {
			s->has_ack = 1;
			if (outbound ? num_any(&l, &s->ack, &s->any_ack) < 0
				     : num(&l, &s->ack) < 0)
				goto bad;
		} else if (eat(&l, "win")) {
			s->has_win = 1;
			if (outbound ? num_any(&l, &s->win, &s->any_win) < 0
				     : num(&l, &s->win) < 0)
				goto bad;
			if (s->win > 65535) {
				l.err = "window field above 65535";
				goto bad;
			}
		} else if (eat(&l, "urg")) {
			s->has_urg = 1;
			if (num(&l, &a) < 0)
				goto bad;
			s->urg = (uint16_t)a;
		} else if (!outbound && eat(&l, "badcsum")) {
			s->bad_csum = 1;
		} else if (eat(&l, "<")) {
			if (parse_opts(&l, s, outbound) < 0)
				goto bad;
		} else {
			l.err = "unexpected text (ack win urg badcsum <options>)";
			goto bad;
		}
	}
	return 0;
bad:
	*err = l.err ? l.err : "syntax error";
	return -1;
}

/* ---- formatting ---------------------------------------------------------- */

const char *ts_flags_str(uint8_t f, char *b)
{
	int n = 0;

	if (f & TCP_FIN) b[n++] = 'F';
	if (f & TCP_SYN) b[n++] = 'S';
	if (f & TCP_RST) b[n++] = 'R';
	if (f & TCP_PSH) b[n++] = 'P';
	if (f & TCP_ACK) b[n++] = '.';
	if (f & TCP_URG) b[n++] = 'U';
	if (f & TCP_ECE) b[n++] = 'E';
	if (f & TCP_CWR) b[n++] = 'W';
	b[n] = 0;
	return b;
}

static void put(char *buf, size_t n, size_t *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void put(char *buf, size_t n, size_t *at, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*at >= n)
		return;
	va_start(ap, fmt);
	k = vsnprintf(buf + *at, n - *at, fmt, ap);
	va_end(ap);
	if (k > 0)
		*at += (size_t)k;
}

static void fmt_val(char *buf, size_t n, size_t *at, uint32_t v, int any)
{
	if (any)
		put(buf, n, at, "*");
	else
		put(buf, n, at, "%u", v);
}

static void fmt_opt(const struct ts_opt *o, char *buf, size_t n, size_t *at)
{
	switch (o->kind) {
	case TO_NOP: put(buf, n, at, "nop"); break;
	case TO_EOL: put(buf, n, at, "eol"); break;
	case TO_MSS:
		put(buf, n, at, "mss ");
		fmt_val(buf, n, at, o->a, o->any_a);
		break;
	case TO_WS:
		put(buf, n, at, "wscale ");
		fmt_val(buf, n, at, o->a, o->any_a);
		break;
	case TO_SACKOK: put(buf, n, at, "sackOK"); break;
	case TO_TS:
		put(buf, n, at, "TS val ");
		fmt_val(buf, n, at, o->a, o->any_a);
		put(buf, n, at, " ecr ");
		fmt_val(buf, n, at, o->b, o->any_b || o->echo_b);
		break;
	case TO_SACK:
		put(buf, n, at, "sack");
		for (unsigned i = 0; i < o->nblk; i++)
			put(buf, n, at, " %d:%d", (int32_t)o->blk[2 * i],
			    (int32_t)o->blk[2 * i + 1]);
		break;
	default:
		put(buf, n, at, "raw ");
		for (unsigned i = 0; i < o->rawlen; i++)
			put(buf, n, at, "%02x", o->raw[i]);
		break;
	}
}

void ts_seg_format(const struct ts_seg *s, char *buf, size_t n)
{
	char f[12];
	size_t at = 0;

	buf[0] = 0;
	put(buf, n, &at, "%s ", ts_flags_str(s->flags, f));
	if (s->any_seq)
		put(buf, n, &at, "*");
	else
		put(buf, n, &at, "%d:%d(%u)", (int32_t)s->seq,
		    (int32_t)(s->seq + s->len), s->len);
	if (s->has_ack) {
		put(buf, n, &at, " ack ");
		fmt_val(buf, n, &at, s->ack, s->any_ack);
	}
	if (s->has_win) {
		put(buf, n, &at, " win ");
		fmt_val(buf, n, &at, s->win, s->any_win);
	}
	if (s->has_urg)
		put(buf, n, &at, " urg %u", s->urg);
	if (s->has_opts) {
		put(buf, n, &at, " <");
		for (unsigned i = 0; i < s->nopts; i++) {
			if (i)
				put(buf, n, &at, ",");
			fmt_opt(&s->opts[i], buf, n, &at);
		}
		put(buf, n, &at, ">");
	}
}

/* ---- inbound frames ------------------------------------------------------ */

/* Options of an inbound segment into p; returns the length or -1. */
static int build_opts(struct ts_ctx *c, const struct ts_seg *s, uint8_t *p)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->nopts; i++) {
		const struct ts_opt *o = &s->opts[i];
		unsigned need = 1;

		switch (o->kind) {
		case TO_MSS: need = 4; break;
		case TO_WS: need = 3; break;
		case TO_SACKOK: need = 2; break;
		case TO_TS: need = 10; break;
		case TO_SACK: need = 2 + 8u * o->nblk; break;
		case TO_RAW: need = o->rawlen; break;
		default: break;
		}
		if (n + need > 40)
			return -1;
		switch (o->kind) {
		case TO_NOP: p[n] = TCP_OPT_NOP; break;
		case TO_EOL: p[n] = TCP_OPT_EOL; break;
		case TO_MSS:
			p[n] = TCP_OPT_MSS;
			p[n + 1] = 4;
			be16_store(p + n + 2, (uint16_t)o->a);
			break;
		case TO_WS:
			p[n] = TCP_OPT_WSCALE;
			p[n + 1] = 3;
			p[n + 2] = (uint8_t)o->a;
			break;
		case TO_SACKOK:
			p[n] = TCP_OPT_SACK_PERM;
			p[n + 1] = 2;
			break;
		case TO_TS:
			p[n] = TCP_OPT_TIMESTAMP;
			p[n + 1] = 10;
			be32_store(p + n + 2, o->a);
			be32_store(p + n + 6, o->echo_b ? c->last_tsval + o->b : o->b);
			break;
		case TO_SACK:
			p[n] = TCP_OPT_SACK;
			p[n + 1] = (uint8_t)need;
			for (unsigned b = 0; b < 2u * o->nblk; b++)
				be32_store(p + n + 2 + 4 * b, c->iss + o->blk[b]);
			break;
		default:
			memcpy(p + n, o->raw, o->rawlen);
			break;
		}
		n += need;
	}
	return (int)n;
}

size_t ts_seg_build(struct ts_ctx *c, const struct ts_seg *s, uint8_t *f)
{
	static uint8_t seg[70000];
	uint8_t opts[44];
	struct pkt_ip ip = {.src = TB_PEER, .dst = TB_ADDR, .proto = IP4_PROTO_TCP,
			    .ttl = 64};
	int ol = s->has_opts ? build_opts(c, s, opts) : 0;
	unsigned hl, len;
	uint32_t base = c->peer_isn + s->seq + !!(s->flags & TCP_SYN);

	if (ol < 0)
		return 0;
	hl = TCP_HDR_LEN + (((unsigned)ol + 3u) & ~3u);
	len = hl + s->len;
	memset(seg, 0, hl);
	memcpy(seg + TCP_HDR_LEN, opts, (size_t)ol);
	be16_store(seg + TCP_OFF_SPORT, c->pport);
	be16_store(seg + TCP_OFF_DPORT, c->lport);
	be32_store(seg + TCP_OFF_SEQ, c->peer_isn + s->seq);
	be32_store(seg + TCP_OFF_ACK, s->has_ack ? c->iss + s->ack : 0);
	seg[TCP_OFF_DOFF] = (uint8_t)((hl / 4) << 4);
	seg[TCP_OFF_FLAGS] = s->flags;
	be16_store(seg + TCP_OFF_WIN, (uint16_t)(s->has_win ? s->win : 65535));
	be16_store(seg + TCP_OFF_URP, s->has_urg ? s->urg : 0);
	/* The payload: the peer's stream at the bytes' sequence numbers. */
	for (uint32_t i = 0; i < s->len; i++)
		seg[hl + i] = ts_peer_byte(base + i - (c->peer_isn + 1));
	be16_store(seg + TCP_OFF_CSUM,
		   (uint16_t)(csum_fold(csum_partial(seg, len,
						     csum_pseudo(TB_PEER, TB_ADDR,
								 IP4_PROTO_TCP,
								 len))) ^
			      (s->bad_csum ? 0x5aa5 : 0)));
	return pkt_ip4(f, TB_MAC, TB_PEER_MAC, &ip, seg, len);
}

size_t ts_icmp_build(struct ts_ctx *c, uint8_t type, uint8_t code,
		     uint16_t mtu, uint32_t rel_seq, uint8_t *f)
{
	uint8_t inner[ETH_HDR_LEN + IP4_HDR_LEN + 8], tcp8[8];
	struct pkt_ip ip = {.src = TB_ADDR, .dst = TB_PEER, .proto = IP4_PROTO_TCP,
			    .ttl = 64};
	size_t n;

	be16_store(tcp8, c->lport);
	be16_store(tcp8 + 2, c->pport);
	be32_store(tcp8 + 4, c->iss + rel_seq);
	n = pkt_ip4(inner, TB_PEER_MAC, TB_MAC, &ip, tcp8, sizeof(tcp8));
	/* The quoted header claims the whole original datagram's length. */
	be16_store(inner + ETH_HDR_LEN + 2, (uint16_t)(IP4_HDR_LEN + 40));
	be16_store(inner + ETH_HDR_LEN + 10, 0);
	be16_store(inner + ETH_HDR_LEN + 10, csum_buf(inner + ETH_HDR_LEN,
						      IP4_HDR_LEN));
	return pkt_icmp(f, TB_MAC, TB_PEER_MAC, TB_PEER, TB_ADDR, type, code, 0,
			mtu, inner + ETH_HDR_LEN, n - ETH_HDR_LEN);
}

/* ---- outbound frames ------------------------------------------------------ */

static int decode_opts(const struct ts_ctx *c, const uint8_t *p, unsigned len,
		       struct ts_seg *s, char *err, size_t errlen)
{
	unsigned i = 0;

	s->has_opts = 1;
	s->nopts = 0;
	while (i < len && p[i] != TCP_OPT_EOL) {
		struct ts_opt *o;
		unsigned ol;

		if (s->nopts == TS_MAX_OPTS) {
			snprintf(err, errlen, "more than %d options", TS_MAX_OPTS);
			return -1;
		}
		o = &s->opts[s->nopts++];
		memset(o, 0, sizeof(*o));
		if (p[i] == TCP_OPT_NOP) {
			o->kind = TO_NOP;
			i++;
			continue;
		}
		if (len - i < 2 || p[i + 1] < 2 || p[i + 1] > len - i) {
			snprintf(err, errlen, "malformed option kind %u at %u",
				 p[i], i);
			return -1;
		}
		ol = p[i + 1];
		if (p[i] == TCP_OPT_MSS && ol == 4) {
			o->kind = TO_MSS;
			o->a = be16_load(p + i + 2);
		} else if (p[i] == TCP_OPT_WSCALE && ol == 3) {
			o->kind = TO_WS;
			o->a = p[i + 2];
		} else if (p[i] == TCP_OPT_SACK_PERM && ol == 2) {
			o->kind = TO_SACKOK;
		} else if (p[i] == TCP_OPT_TIMESTAMP && ol == 10) {
			o->kind = TO_TS;
			o->a = be32_load(p + i + 2);
			o->b = be32_load(p + i + 6);
		} else if (p[i] == TCP_OPT_SACK && ol >= 10 && (ol - 2) % 8 == 0 &&
			   ol <= 34) {
			o->kind = TO_SACK;
			o->nblk = (uint8_t)((ol - 2) / 8);
			for (unsigned b = 0; b < 2u * o->nblk; b++)
				o->blk[b] = be32_load(p + i + 2 + 4 * b) - c->peer_isn;
		} else {
			o->kind = TO_RAW;
			o->rawlen = (uint8_t)ol;
			memcpy(o->raw, p + i, ol);
		}
		i += ol;
	}
	return 0;
}

static const struct ts_opt *find_opt(const struct ts_seg *s, int kind)
{
	for (unsigned i = 0; i < s->nopts; i++)
		if (s->opts[i].kind == kind)
			return &s->opts[i];
	return NULL;
}

/* The stack's SYN or SYN-ACK: the base of its sequence space, its port
 * and what it offered. A new ISS is a new incarnation. */
static void learn_syn(struct ts_ctx *c, const struct ts_seg *s)
{
	const struct ts_opt *o;

	if (!c->iss_known || c->iss != s->abs_seq) {
		if (c->iss_known && c->stack_sent) {
			c->prev_iss_end = c->stack_max_seq;
			c->have_prev = 1;
		}
		c->iss = s->abs_seq;
		c->iss_known = 1;
		c->stack_sent = 0;
		c->rcv_edge_known = 0;
	}
	c->stack_syn_seen = 1;
	c->stack_ws = (o = find_opt(s, TO_WS)) ? (int)o->a : -1;
	c->stack_ts = find_opt(s, TO_TS) != NULL;
	c->stack_sackok = find_opt(s, TO_SACKOK) != NULL;
}

int ts_seg_decode(struct ts_ctx *c, const uint8_t *f, size_t len,
		  struct ts_seg *s, char *err, size_t errlen)
{
	struct pkt_view v;
	const uint8_t *h;
	unsigned hl;

	memset(s, 0, sizeof(*s));
	if (pkt_parse(f, len, &v) < 0) {
		snprintf(err, errlen, "malformed frame (%zu bytes)", len);
		return -1;
	}
	if (!v.ip || v.ip_proto != IP4_PROTO_TCP)
		return 0;
	if (!v.ip_csum_ok || !v.l4_csum_ok) {
		snprintf(err, errlen, "bad %s checksum", v.ip_csum_ok ? "TCP" : "IP");
		return -1;
	}
	if (v.ip_src != TB_ADDR || v.ip_dst != TB_PEER) {
		snprintf(err, errlen, "TCP segment from %08x to %08x", v.ip_src,
			 v.ip_dst);
		return -1;
	}
	h = v.l4;
	hl = tcp_hlen(h);
	s->flags = tcp_flags(h);
	s->sport = tcp_sport(h);
	s->dport = tcp_dport(h);
	s->abs_seq = tcp_seq(h);
	s->abs_ack = tcp_ack(h);
	s->len = (uint32_t)v.payload_len;
	s->data = v.payload;
	s->has_win = 1;
	s->win = tcp_win(h);
	s->optlen = hl - TCP_HDR_LEN;
	if (decode_opts(c, h + TCP_HDR_LEN, hl - TCP_HDR_LEN, s, err, errlen) < 0)
		return -1;
	if (tcp_urp(h) || (s->flags & TCP_URG)) {
		s->has_urg = 1;
		s->urg = tcp_urp(h);
	}
	if (c->lport == 0 && s->dport == c->pport)
		c->lport = s->sport;
	if ((s->flags & TCP_SYN) && s->sport == c->lport && s->dport == c->pport)
		learn_syn(c, s);
	s->seq = s->abs_seq - (c->iss_known ? c->iss : 0);
	if (s->flags & TCP_ACK) {
		s->has_ack = 1;
		s->ack = s->abs_ack - c->peer_isn;
	}
	return 1;
}

/* ---- comparing ------------------------------------------------------------ */

static int opt_eq(const struct ts_opt *w, const struct ts_opt *g)
{
	if (w->kind != g->kind)
		return 0;
	switch (w->kind) {
	case TO_MSS:
	case TO_WS:
		return w->any_a || w->a == g->a;
	case TO_TS:
		return (w->any_a || w->a == g->a) && (w->any_b || w->b == g->b);
	case TO_SACK:
		return w->nblk == g->nblk &&
		       !memcmp(w->blk, g->blk, 2u * w->nblk * sizeof(w->blk[0]));
	case TO_RAW:
		return w->rawlen == g->rawlen && !memcmp(w->raw, g->raw, w->rawlen);
	default:
		return 1;
	}
}

int ts_seg_match(const struct ts_ctx *c, const struct ts_seg *w,
		 const struct ts_seg *g, char *why, size_t n)
{
	uint8_t gf = g->flags;
	char a[12], b[12];

	if (g->sport != c->lport || g->dport != c->pport) {
		snprintf(why, n, "ports %u > %u, expected %u > %u", g->sport,
			 g->dport, c->lport, c->pport);
		return -1;
	}
	if (!(w->flags & TCP_PSH))
		gf &= (uint8_t)~TCP_PSH;       /* PSH checked only if asked for */
	if (gf != w->flags) {
		snprintf(why, n, "flags [%s], expected [%s]", ts_flags_str(g->flags, a),
			 ts_flags_str(w->flags, b));
		return -1;
	}
	if (!w->any_seq && (g->seq != w->seq || g->len != w->len)) {
		snprintf(why, n, "sequence %d:%d(%u), expected %d:%d(%u)",
			 (int32_t)g->seq, (int32_t)(g->seq + g->len), g->len,
			 (int32_t)w->seq, (int32_t)(w->seq + w->len), w->len);
		return -1;
	}
	if (w->has_ack && !w->any_ack && g->ack != w->ack) {
		snprintf(why, n, "ack %d, expected %d", (int32_t)g->ack,
			 (int32_t)w->ack);
		return -1;
	}
	if (w->has_win && !w->any_win && g->win != w->win) {
		snprintf(why, n, "window %u, expected %u", g->win, w->win);
		return -1;
	}
	if (w->has_urg && (!g->has_urg || g->urg != w->urg)) {
		snprintf(why, n, "urgent pointer %u, expected %u", g->urg, w->urg);
		return -1;
	}
	if (w->has_opts) {
		unsigned i;

		for (i = 0; i < w->nopts && i < g->nopts; i++)
			if (!opt_eq(&w->opts[i], &g->opts[i]))
				break;
		if (i < w->nopts || i < g->nopts) {
			size_t at = 0;

			put(why, n, &at, "option %u differs: got ", i + 1);
			if (i < g->nopts)
				fmt_opt(&g->opts[i], why, n, &at);
			else
				put(why, n, &at, "(none)");
			put(why, n, &at, ", expected ");
			if (i < w->nopts)
				fmt_opt(&w->opts[i], why, n, &at);
			else
				put(why, n, &at, "(none)");
			return -1;
		}
	}
	return 0;
}

/* ---- invariants ------------------------------------------------------------ */

/* Scale of the window fields the stack sends / the peer sends (RFC 7323
 * 2.2: only when both SYNs carried the option; never on a SYN). */
static int stack_scale(const struct ts_ctx *c)
{
	return c->stack_ws >= 0 && c->peer_ws >= 0 ? c->stack_ws : 0;
}

static int peer_scale(const struct ts_ctx *c)
{
	if (c->stack_ws < 0 || c->peer_ws < 0)
		return 0;
	return c->peer_ws > 14 ? 14 : c->peer_ws;
}

/* Options that may appear only on a SYN, and only when offered. */
static int check_syn_options(const struct ts_ctx *c, const struct ts_seg *g,
			     char *why, size_t n)
{
	int syn = !!(g->flags & TCP_SYN), synack = syn && (g->flags & TCP_ACK);
	const struct ts_opt *o;

	if (!syn) {
		if (find_opt(g, TO_MSS) || find_opt(g, TO_WS) || find_opt(g, TO_SACKOK)) {
			snprintf(why, n, "MSS/window scale/SACK-permitted on a "
				 "segment without SYN (RFC 9293 3.2, RFC 7323 2.2, "
				 "RFC 2018 2)");
			return -1;
		}
		return 0;
	}
	if ((o = find_opt(g, TO_WS)) && o->a > 14) {
		snprintf(why, n, "window scale %u > 14 (RFC 7323 2.3)", o->a);
		return -1;
	}
	if (synack && c->peer_syn_seen &&
	    ((find_opt(g, TO_WS) && c->peer_ws < 0) ||
	     (find_opt(g, TO_SACKOK) && !c->peer_sackok) ||
	     (find_opt(g, TO_TS) && !c->peer_ts))) {
		snprintf(why, n, "SYN-ACK offers an option the SYN did not "
			 "(RFC 7323 2.2/3.2, RFC 2018 2)");
		return -1;
	}
	return 0;
}

/* RFC 7323 3.2: TSopt on every non-RST segment once negotiated, never
 * otherwise; TSval never goes backwards; TSecr 0 without ACK. */
static int check_timestamps(const struct ts_ctx *c, const struct ts_seg *g,
			    char *why, size_t n)
{
	const struct ts_opt *ts = find_opt(g, TO_TS);
	int negotiated = c->peer_ts && c->stack_ts;
	int decided = c->peer_syn_seen && c->stack_syn_seen;

	if (ts && c->tsval_seen && SLT(ts->a, c->last_tsval)) {
		snprintf(why, n, "TSval %u went backwards from %u (RFC 7323 5.4)",
			 ts->a, c->last_tsval);
		return -1;
	}
	if (ts && !(g->flags & TCP_ACK) && ts->b != 0) {
		snprintf(why, n, "TSecr %u without ACK (RFC 7323 3.2: SHOULD be 0)",
			 ts->b);
		return -1;
	}
	if (g->flags & TCP_SYN)
		return 0;
	if (decided && negotiated && !ts && !(g->flags & TCP_RST)) {
		snprintf(why, n, "no TSopt although negotiated (RFC 7323 3.2 MUST)");
		return -1;
	}
	if (decided && !negotiated && ts) {
		snprintf(why, n, "TSopt although not negotiated (RFC 7323 3.2)");
		return -1;
	}
	return 0;
}

/* Data: what the application wrote, within the MSS and the window. */
static int check_data(const struct ts_ctx *c, const struct ts_seg *g,
		      char *why, size_t n)
{
	uint32_t first = g->abs_seq + !!(g->flags & TCP_SYN);

	if (!g->len)
		return 0;
	if (c->iss_known) {
		for (uint32_t i = 0; i < g->len; i++) {
			uint32_t k = first + i - (c->iss + 1);

			if (g->data[i] != ts_stack_byte(k)) {
				snprintf(why, n, "payload byte %u (stream offset %u) "
					 "is 0x%02x, the application wrote 0x%02x",
					 i, k, g->data[i], ts_stack_byte(k));
				return -1;
			}
		}
	}
	if (c->peer_syn_seen && g->len + g->optlen > c->peer_mss) {
		snprintf(why, n, "%u data + %u option bytes exceed the peer's "
			 "MSS %u (RFC 9293 3.7.1, RFC 6691)", g->len, g->optlen,
			 c->peer_mss);
		return -1;
	}
	if (c->peer_edge_known && SLT(c->peer_edge, first + g->len) &&
	    !(g->len == 1 && c->peer_wnd == 0)) {
		snprintf(why, n, "data up to %d beyond the peer's window edge %d "
			 "(RFC 9293 3.8.6)", (int32_t)(first + g->len - c->iss),
			 (int32_t)(c->peer_edge - c->iss));
		return -1;
	}
	return 0;
}

int ts_seg_invariants(struct ts_ctx *c, const struct ts_seg *g,
		      int check_shrink, char *why, size_t n)
{
	if (g->sport != c->lport || g->dport != c->pport)
		return 0;                  /* another connection: not ours */
	if (check_syn_options(c, g, why, n) < 0 || check_timestamps(c, g, why, n) < 0 ||
	    check_data(c, g, why, n) < 0)
		return -1;
	if (find_opt(g, TO_SACK) && !(c->peer_sackok && c->stack_sackok)) {
		snprintf(why, n, "SACK blocks without SACK-permitted both ways "
			 "(RFC 2018 3)");
		return -1;
	}
	if ((g->flags & TCP_ACK) && c->peer_sent && SLT(c->peer_max, g->abs_ack)) {
		snprintf(why, n, "acknowledges %d, beyond anything the peer sent "
			 "(%d)", (int32_t)(g->abs_ack - c->peer_isn),
			 (int32_t)(c->peer_max - c->peer_isn));
		return -1;
	}
	if ((g->flags & TCP_ACK) && !(g->flags & (TCP_RST | TCP_SYN)) &&
	    c->rcv_edge_known && check_shrink) {
		uint32_t edge = g->abs_ack + (g->win << stack_scale(c));
		uint32_t slack = (1u << stack_scale(c)) - 1;

		if (SLT(edge + slack, c->rcv_edge)) {
			snprintf(why, n, "window shrinks: right edge %d < %d "
				 "(RFC 9293 3.8.6 SHLD-14, RFC 1122 4.2.2.16)",
				 (int32_t)(edge - c->peer_isn),
				 (int32_t)(c->rcv_edge - c->peer_isn));
			return -1;
		}
	}
	return 0;
}

void ts_seg_note_out(struct ts_ctx *c, const struct ts_seg *g)
{
	const struct ts_opt *ts = find_opt(g, TO_TS);
	uint32_t end = g->abs_seq + g->len + !!(g->flags & TCP_SYN) +
		       !!(g->flags & TCP_FIN);

	if (g->sport != c->lport || g->dport != c->pport)
		return;
	if (ts) {
		c->last_tsval = ts->a;
		c->tsval_seen = 1;
	}
	if (!(g->flags & TCP_RST) && (!c->stack_sent || SLT(c->stack_max_seq, end))) {
		c->stack_max_seq = end;
		c->stack_sent = 1;
	}
	if ((g->flags & TCP_ACK) && !(g->flags & TCP_RST)) {
		int sc = (g->flags & TCP_SYN) ? 0 : stack_scale(c);
		uint32_t edge = g->abs_ack + (g->win << sc);

		if (!c->rcv_edge_known || SLT(c->rcv_edge, edge))
			c->rcv_edge = edge;
		c->rcv_edge_known = 1;
	}
}

void ts_seg_note_in(struct ts_ctx *c, const struct ts_seg *s)
{
	uint32_t seq = c->peer_isn + s->seq;
	uint32_t end = seq + s->len + !!(s->flags & TCP_SYN) + !!(s->flags & TCP_FIN);
	const struct ts_opt *o;

	if (s->flags & TCP_SYN) {
		if (!(s->flags & TCP_ACK) && c->peer_syn_seen && seq != c->peer_syn_seq) {
			/* a new incarnation: forget the old peer state */
			c->peer_edge_known = 0;
			c->peer_sent = 0;
		}
		c->peer_syn_seen = 1;
		c->peer_syn_seq = seq;
		c->peer_mss = (o = find_opt(s, TO_MSS)) ? o->a : 536;
		c->peer_ws = (o = find_opt(s, TO_WS)) ? (int)o->a : -1;
		c->peer_ts = find_opt(s, TO_TS) != NULL;
		c->peer_sackok = find_opt(s, TO_SACKOK) != NULL;
	}
	if (s->flags & TCP_RST)
		return;
	if (!c->peer_sent || SLT(c->peer_max, end)) {
		c->peer_max = end;
		c->peer_sent = 1;
	}
	if (s->flags & TCP_ACK) {
		int sc = (s->flags & TCP_SYN) ? 0 : peer_scale(c);
		uint32_t win = (s->has_win ? s->win : 65535u) << sc;
		uint32_t edge = c->iss + s->ack + win;

		c->peer_wnd = win;
		if (!c->peer_edge_known || SLT(c->peer_edge, edge))
			c->peer_edge = edge;
		c->peer_edge_known = 1;
	}
}
