/*
 * decode.c - frames decoded layer by layer into named fields (Ethernet, ARP,
 * IPv4, ICMP, UDP, TCP with flags, options and relative seq/ack), a one-line
 * summary, and the comparison of what the stack sent with what was expected.
 * Part of ustack-replay (replay.h). Header layouts and the IPv4/TCP/option
 * parsers are the apps' shared ones (apps/lib/wire.h), also ustack-draw's.
 *
 * May touch: the frames it is given (read only), stdout.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

#define MAX_FLD 96
#define REL_MAX 128              /* directions with a relative seq */

struct fld {
	const char *name;            /* "tcp.seq" */
	char val[80];                /* compared */
	char note[24];               /* shown only (relative seq/ack) */
	uint32_t off, len;           /* the frame bytes it covers */
};

struct dec {
	struct fld f[MAX_FLD];
	int n;
	char sum[320];               /* one tcpdump-like line */
};

/* The first SYN of each direction: seq/ack shown relative to it. */
struct relctx {
	struct {
		uint8_t key[12];     /* src ip, dst ip, sport, dport */
		uint32_t isn;
	} e[REL_MAX];
	int n;
};


__attribute__((format(printf, 5, 6)))
static void fld(struct dec *d, const char *name, uint32_t off, uint32_t len,
		const char *fmt, ...)
{
	struct fld *f;
	va_list ap;

	if (d->n == MAX_FLD)
		return;
	f = &d->f[d->n++];
	f->name = name;
	f->off = off;
	f->len = len;
	f->note[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(f->val, sizeof(f->val), fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3)))
static void sum(struct dec *d, const char *fmt, ...)
{
	size_t l = strlen(d->sum);
	va_list ap;

	if (l + 1 >= sizeof(d->sum))
		return;
	va_start(ap, fmt);
	vsnprintf(d->sum + l, sizeof(d->sum) - l, fmt, ap);
	va_end(ap);
}

char *fmt_mac(const uint8_t *m, char *b)
{
	snprintf(b, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
	return b;
}

static char *fmt_ip(const uint8_t *p, char *b)
{
	snprintf(b, 16, "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
	return b;
}

/* The IPv4 header and TCP header of a frame if it is an unfragmented
 * (or first-fragment) TCP segment, else NULL. */
static const uint8_t *tcp_of(const uint8_t *f, uint32_t len, const uint8_t **ip)
{
	struct wire_ip4 h;

	if (len < ETH_HDR_LEN + IP4_MIN_LEN ||
	    ld16(f + ETH_OFF_TYPE) != ETH_TYPE_IPV4 ||
	    wire_ip4_parse(f + ETH_HDR_LEN, len - ETH_HDR_LEN, &h) < 0)
		return NULL;
	if (len < ETH_HDR_LEN + h.hlen + TCP_MIN_LEN ||
	    h.proto != IP4_PROTO_TCP || (h.frag & IP4_FRAG_OFFSET_MASK))
		return NULL;
	*ip = f + ETH_HDR_LEN;
	return f + ETH_HDR_LEN + h.hlen;
}

/* Source and destination address and port (reversed: as the peer sees
 * them), the key of one direction. */
static void rel_key(const uint8_t *ip, const uint8_t *t, int reverse,
		    uint8_t key[12])
{
	memcpy(key, ip + (reverse ? IP4_OFF_DST : IP4_OFF_SRC), IP4_ADDR_LEN);
	memcpy(key + 4, ip + (reverse ? IP4_OFF_SRC : IP4_OFF_DST),
	       IP4_ADDR_LEN);
	memcpy(key + 8, t + (reverse ? TCP_OFF_DPORT : TCP_OFF_SPORT), 2);
	memcpy(key + 10, t + (reverse ? TCP_OFF_SPORT : TCP_OFF_DPORT), 2);
}

static int rel_get(const struct relctx *c, const uint8_t key[12], uint32_t *isn)
{
	for (int i = 0; i < c->n; i++)
		if (!memcmp(c->e[i].key, key, 12))
			return *isn = c->e[i].isn, 1;
	return 0;
}

static void rel_learn(struct relctx *c, const struct frames *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		const uint8_t *ip, *t = tcp_of(fs->v[i].data, fs->v[i].len, &ip);
		uint32_t isn;

		if (!t || !(t[TCP_OFF_FLAGS] & TH_SYN) || c->n == REL_MAX)
			continue;
		rel_key(ip, t, 0, c->e[c->n].key);
		if (!rel_get(c, c->e[c->n].key, &isn))
			c->e[c->n++].isn = ld32(t + TCP_OFF_SEQ);
	}
}

/* The options between frame offsets o and end (tcpdump's words). */
static void dec_tcp_opts(struct dec *d, const uint8_t *f, uint32_t o,
			 uint32_t end)
{
	struct wire_tcpopt op;
	size_t pos = 0, n = end - o;
	int r;

	sum(d, ", options [");
	while ((r = wire_tcpopt_next(f + o, n, &pos, &op)) != 0) {
		uint32_t at = o + op.off;
		const uint8_t *v = op.val;
		uint8_t kind = op.kind, l = op.len;

		if (r < 0) {
			fld(d, "tcp.opt", at, end - at, "bad option %u len %u",
			    kind, l);
			sum(d, "bad");
			break;
		}
		if (kind == TCPOPT_EOL || kind == TCPOPT_NOP) {
			fld(d, "tcp.opt", at, 1, kind ? "nop" : "eol");
			sum(d, "%s%s", kind ? "nop" : "eol", pos < n ? "," : "");
			if (kind == TCPOPT_EOL)
				break;
			continue;
		}
		if (kind == TCPOPT_MSS && l == TCPOLEN_MSS)
			fld(d, "tcp.opt", at, l, "mss %u", ld16(v));
		else if (kind == TCPOPT_WS && l == TCPOLEN_WS)
			fld(d, "tcp.opt", at, l, "wscale %u", v[0]);
		else if (kind == TCPOPT_SACK_OK && l == TCPOLEN_SACK_OK)
			fld(d, "tcp.opt", at, l, "sackOK");
		else if (kind == TCPOPT_TS && l == TCPOLEN_TS)
			fld(d, "tcp.opt", at, l, "TS val %u ecr %u", ld32(v),
			    ld32(v + 4));
		else if (kind == TCPOPT_SACK && l >= 2 + TCPOLEN_SACK_BLOCK &&
			 (l - 2) % TCPOLEN_SACK_BLOCK == 0)
			fld(d, "tcp.opt", at, l, "sack %u block%s, first %u:%u",
			    (l - 2) / TCPOLEN_SACK_BLOCK,
			    l > 2 + TCPOLEN_SACK_BLOCK ? "s" : "", ld32(v),
			    ld32(v + 4));
		else
			fld(d, "tcp.opt", at, l, "option %u len %u", kind, l);
		sum(d, "%s%s", d->f[d->n - 1].val, pos < n ? "," : "");
	}
	sum(d, "]");
}

/* tcpdump's flag letters, in bit order (ACK is shown as '.'). */
static void tcp_flag_str(uint8_t flags, char fs[12])
{
	static const char fl[] = "FSRPAUEC";
	int k = 0;

	for (int b = 0; b < 8; b++)
		if (flags & (1u << b) && (1u << b) != TH_ACK)
			fs[k++] = fl[b];
	if (flags & TH_ACK)
		fs[k++] = '.';
	fs[k] = '\0';
}

static void dec_tcp(struct dec *d, const uint8_t *f, uint32_t o, uint32_t end,
		    const struct relctx *rc, const char *dst)
{
	const uint8_t *t = f + o, *ip = f + ETH_HDR_LEN;
	struct wire_tcp th;
	uint32_t isn;
	uint8_t key[12];
	char fs[12];
	int si;

	if (wire_tcp_parse(t, end - o, &th) < 0) {
		fld(d, "tcp", o, end - o, "truncated (%u bytes)", end - o);
		return;
	}
	tcp_flag_str(th.flags, fs);
	fld(d, "tcp.sport", o + TCP_OFF_SPORT, 2, "%u", th.sport);
	fld(d, "tcp.dport", o + TCP_OFF_DPORT, 2, "%u", th.dport);
	si = d->n;
	fld(d, "tcp.seq", o + TCP_OFF_SEQ, 4, "%u", th.seq);
	rel_key(ip, t, 0, key);
	if (rel_get(rc, key, &isn))
		snprintf(d->f[d->n - 1].note, 24, "rel %u", th.seq - isn);
	fld(d, "tcp.ack", o + TCP_OFF_ACK, 4, "%u", th.ack);
	rel_key(ip, t, 1, key);
	if ((th.flags & TH_ACK) && rel_get(rc, key, &isn))
		snprintf(d->f[d->n - 1].note, 24, "rel %u", th.ack - isn);
	fld(d, "tcp.doff", o + TCP_OFF_DOFF, 1, "%u", th.doff);
	fld(d, "tcp.flags", o + TCP_OFF_FLAGS, 1, "[%s]", fs);
	fld(d, "tcp.win", o + TCP_OFF_WIN, 2, "%u", th.win);
	fld(d, "tcp.csum", o + TCP_OFF_CSUM, 2, "0x%04x", ld16(t + TCP_OFF_CSUM));
	fld(d, "tcp.urp", o + TCP_OFF_URP, 2, "%u", ld16(t + TCP_OFF_URP));
	if (d->n == si + 7) {
		sum(d, ".%u > %s.%u: Flags [%s], seq %s", th.sport, dst,
		    th.dport, fs,
		    d->f[si].note[0] ? d->f[si].note + 4 : d->f[si].val);
		if (th.flags & TH_ACK)
			sum(d, ", ack %s", d->f[si + 1].note[0] ?
			    d->f[si + 1].note + 4 : d->f[si + 1].val);
		sum(d, ", win %u", th.win);
	}
	if (th.doff < TCP_MIN_LEN || o + th.doff > end) {
		fld(d, "tcp.bad_doff", o + TCP_OFF_DOFF, 1, "%u", th.doff);
		return;
	}
	if (th.doff > TCP_MIN_LEN)
		dec_tcp_opts(d, f, o + TCP_MIN_LEN, o + th.doff);
	if (end > o + th.doff)
		fld(d, "tcp.payload", o + th.doff, end - o - th.doff, "%u bytes",
		    end - o - th.doff);
	sum(d, ", length %u", end - o - th.doff);
}

static void dec_udp(struct dec *d, const uint8_t *f, uint32_t o, uint32_t end,
		    const char *dst)
{
	const uint8_t *u = f + o;

	if (end - o < UDP_HDR_LEN) {
		fld(d, "udp", o, end - o, "truncated (%u bytes)", end - o);
		return;
	}
	fld(d, "udp.sport", o + UDP_OFF_SPORT, 2, "%u", ld16(u + UDP_OFF_SPORT));
	fld(d, "udp.dport", o + UDP_OFF_DPORT, 2, "%u", ld16(u + UDP_OFF_DPORT));
	fld(d, "udp.len", o + UDP_OFF_LEN, 2, "%u", ld16(u + UDP_OFF_LEN));
	fld(d, "udp.csum", o + UDP_OFF_CSUM, 2, "0x%04x", ld16(u + UDP_OFF_CSUM));
	if (end > o + UDP_HDR_LEN)
		fld(d, "udp.payload", o + UDP_HDR_LEN, end - o - UDP_HDR_LEN,
		    "%u bytes", end - o - UDP_HDR_LEN);
	sum(d, ".%u > %s.%u: UDP, length %u", ld16(u + UDP_OFF_SPORT), dst,
	    ld16(u + UDP_OFF_DPORT), end - o - UDP_HDR_LEN);
}

static void dec_icmp(struct dec *d, const uint8_t *f, uint32_t o, uint32_t end,
		     const char *dst)
{
	const uint8_t *c = f + o, *orig = c + ICMP_HDR_LEN;
	uint8_t type, code;
	char a[16], b[16];

	if (end - o < ICMP_HDR_LEN) {
		fld(d, "icmp", o, end - o, "truncated (%u bytes)", end - o);
		return;
	}
	type = c[ICMP_OFF_TYPE];
	code = c[ICMP_OFF_CODE];
	fld(d, "icmp.type", o + ICMP_OFF_TYPE, 1, "%u", type);
	fld(d, "icmp.code", o + ICMP_OFF_CODE, 1, "%u", code);
	fld(d, "icmp.csum", o + ICMP_OFF_CSUM, 2, "0x%04x",
	    ld16(c + ICMP_OFF_CSUM));
	sum(d, " > %s: ICMP ", dst);
	if (type == ICMP_ECHO_REPLY || type == ICMP_ECHO_REQUEST) {
		fld(d, "icmp.id", o + ICMP_OFF_ID, 2, "%u", ld16(c + ICMP_OFF_ID));
		fld(d, "icmp.seq", o + ICMP_OFF_SEQ, 2, "%u",
		    ld16(c + ICMP_OFF_SEQ));
		sum(d, "echo %s, id %u, seq %u, length %u",
		    type == ICMP_ECHO_REQUEST ? "request" : "reply",
		    ld16(c + ICMP_OFF_ID), ld16(c + ICMP_OFF_SEQ), end - o);
	} else {
		fld(d, "icmp.rest", o + ICMP_OFF_REST, 4, "0x%08x",
		    ld32(c + ICMP_OFF_REST));
		sum(d, "type %u code %u", type, code);
		/* an error quotes the datagram's IP header (RFC 792) */
		if (end - o >= ICMP_HDR_LEN + IP4_MIN_LEN &&
		    (orig[IP4_OFF_VER_IHL] >> 4) == IP4_VERSION) {
			fld(d, "icmp.orig", o + ICMP_HDR_LEN, IP4_MIN_LEN,
			    "IP %s > %s proto %u", fmt_ip(orig + IP4_OFF_SRC, a),
			    fmt_ip(orig + IP4_OFF_DST, b), orig[IP4_OFF_PROTO]);
			sum(d, " about %s", d->f[d->n - 1].val);
		}
	}
	if (end > o + ICMP_HDR_LEN)
		fld(d, "icmp.data", o + ICMP_HDR_LEN, end - o - ICMP_HDR_LEN,
		    "%u bytes", end - o - ICMP_HDR_LEN);
}

static void dec_ip4(struct dec *d, const uint8_t *f, uint32_t o, uint32_t len,
		    const struct relctx *rc)
{
	const uint8_t *h = f + o;
	uint32_t ihl, tot, end, frag, foff;
	uint8_t proto;
	char a[16], b[16];

	if (len - o < IP4_MIN_LEN) {
		fld(d, "ip", o, len - o, "truncated (%u bytes)", len - o);
		return;
	}
	ihl = (uint32_t)(h[IP4_OFF_VER_IHL] & 15) * 4;
	tot = ld16(h + IP4_OFF_TOTAL_LEN);
	frag = ld16(h + IP4_OFF_FRAG);
	foff = (frag & IP4_FRAG_OFFSET_MASK) * IP4_FRAG_UNIT;
	proto = h[IP4_OFF_PROTO];
	fld(d, "ip.version", o + IP4_OFF_VER_IHL, 1, "%u",
	    h[IP4_OFF_VER_IHL] >> 4);
	fld(d, "ip.ihl", o + IP4_OFF_VER_IHL, 1, "%u", ihl);
	fld(d, "ip.tos", o + IP4_OFF_TOS, 1, "0x%02x", h[IP4_OFF_TOS]);
	fld(d, "ip.len", o + IP4_OFF_TOTAL_LEN, 2, "%u", tot);
	fld(d, "ip.id", o + IP4_OFF_ID, 2, "%u", ld16(h + IP4_OFF_ID));
	fld(d, "ip.flags", o + IP4_OFF_FRAG, 1, "%s%s%s",
	    frag & IP4_FLAG_DF ? "DF" : "", frag & IP4_FLAG_MF ? "MF" : "",
	    frag & (IP4_FLAG_DF | IP4_FLAG_MF) ? "" : "none");
	fld(d, "ip.frag", o + IP4_OFF_FRAG, 2, "%u", foff);
	fld(d, "ip.ttl", o + IP4_OFF_TTL, 1, "%u", h[IP4_OFF_TTL]);
	fld(d, "ip.proto", o + IP4_OFF_PROTO, 1, "%u", proto);
	fld(d, "ip.csum", o + IP4_OFF_CSUM, 2, "0x%04x", ld16(h + IP4_OFF_CSUM));
	fld(d, "ip.src", o + IP4_OFF_SRC, 4, "%s", fmt_ip(h + IP4_OFF_SRC, a));
	fld(d, "ip.dst", o + IP4_OFF_DST, 4, "%s", fmt_ip(h + IP4_OFF_DST, b));
	sum(d, "IP %s", a);
	if (ihl < IP4_MIN_LEN || o + ihl > len)
		return;
	if (ihl > IP4_MIN_LEN)
		fld(d, "ip.options", o + IP4_MIN_LEN, ihl - IP4_MIN_LEN,
		    "%u bytes", ihl - IP4_MIN_LEN);
	end = tot >= ihl && o + tot <= len ? o + tot : len;
	if (frag & IP4_FRAG_OFFSET_MASK) {
		fld(d, "ip.payload", o + ihl, end - o - ihl, "%u bytes",
		    end - o - ihl);
		sum(d, " > %s: fragment id %u, offset %u, length %u", b,
		    ld16(h + IP4_OFF_ID), foff, end - o - ihl);
	} else if (proto == IP4_PROTO_ICMP) {
		dec_icmp(d, f, o + ihl, end, b);
	} else if (proto == IP4_PROTO_UDP) {
		dec_udp(d, f, o + ihl, end, b);
	} else if (proto == IP4_PROTO_TCP) {
		dec_tcp(d, f, o + ihl, end, rc, b);
	} else {
		fld(d, "ip.payload", o + ihl, end - o - ihl, "%u bytes",
		    end - o - ihl);
		sum(d, " > %s: proto %u, length %u", b, proto, end - o - ihl);
	}
	if (frag & IP4_FLAG_MF)
		sum(d, " (more fragments, id %u)", ld16(h + IP4_OFF_ID));
	if (end < len)
		fld(d, "eth.pad", end, len - end, "%u bytes", len - end);
}

static void dec_arp(struct dec *d, const uint8_t *f, uint32_t o, uint32_t len)
{
	const uint8_t *a = f + o;
	char m[18], s[16], t[16];
	uint16_t op;

	if (len - o < ARP_LEN) {
		fld(d, "arp", o, len - o, "truncated (%u bytes)", len - o);
		return;
	}
	op = ld16(a + ARP_OFF_OP);
	fld(d, "arp.htype", o + ARP_OFF_HTYPE, 2, "%u", ld16(a + ARP_OFF_HTYPE));
	fld(d, "arp.ptype", o + ARP_OFF_PTYPE, 2, "0x%04x",
	    ld16(a + ARP_OFF_PTYPE));
	fld(d, "arp.hlen", o + ARP_OFF_HLEN, 1, "%u", a[ARP_OFF_HLEN]);
	fld(d, "arp.plen", o + ARP_OFF_PLEN, 1, "%u", a[ARP_OFF_PLEN]);
	fld(d, "arp.op", o + ARP_OFF_OP, 2, "%u", op);
	fld(d, "arp.sha", o + ARP_OFF_SHA, 6, "%s", fmt_mac(a + ARP_OFF_SHA, m));
	fld(d, "arp.spa", o + ARP_OFF_SPA, 4, "%s", fmt_ip(a + ARP_OFF_SPA, s));
	fld(d, "arp.tha", o + ARP_OFF_THA, 6, "%s", fmt_mac(a + ARP_OFF_THA, m));
	fld(d, "arp.tpa", o + ARP_OFF_TPA, 4, "%s", fmt_ip(a + ARP_OFF_TPA, t));
	if (op == ARP_OP_REQUEST &&
	    !memcmp(a + ARP_OFF_SPA, a + ARP_OFF_TPA, IP4_ADDR_LEN))
		sum(d, "ARP, Announcement for %s", s);
	else if (op == ARP_OP_REQUEST)
		sum(d, "ARP, Request who-has %s tell %s", t, s);
	else
		sum(d, "ARP, Reply %s is-at %s", s, fmt_mac(a + ARP_OFF_SHA, m));
	if (len > o + ARP_LEN)
		fld(d, "eth.pad", o + ARP_LEN, len - o - ARP_LEN, "%u bytes",
		    len - o - ARP_LEN);
}

static void decode(struct dec *d, const uint8_t *f, uint32_t len,
		   const struct relctx *rc)
{
	char a[18], b[18];
	uint16_t type;

	d->n = 0;
	d->sum[0] = '\0';
	fld(d, "frame.len", 0, 0, "%u", len);
	if (len < ETH_HDR_LEN) {
		fld(d, "eth", 0, len, "truncated (%u bytes)", len);
		sum(d, "truncated frame");
		return;
	}
	type = ld16(f + ETH_OFF_TYPE);
	fld(d, "eth.dst", ETH_OFF_DST, ETH_ADDR_LEN, "%s",
	    fmt_mac(f + ETH_OFF_DST, a));
	fld(d, "eth.src", ETH_OFF_SRC, ETH_ADDR_LEN, "%s",
	    fmt_mac(f + ETH_OFF_SRC, b));
	fld(d, "eth.type", ETH_OFF_TYPE, 2, "0x%04x", type);
	if (type == ETH_TYPE_ARP) {
		dec_arp(d, f, ETH_HDR_LEN, len);
	} else if (type == ETH_TYPE_IPV4) {
		dec_ip4(d, f, ETH_HDR_LEN, len, rc);
	} else {
		fld(d, "eth.payload", ETH_HDR_LEN, len - ETH_HDR_LEN, "%u bytes",
		    len - ETH_HDR_LEN);
		sum(d, "%s > %s, ethertype 0x%04x, length %u", b, a, type, len);
	}
}

/* ---- comparing ----------------------------------------------------------- */

static int fld_differs(const struct dec *a, const struct dec *b, int i)
{
	if (i >= a->n || i >= b->n)
		return 1;
	return strcmp(a->f[i].name, b->f[i].name) || strcmp(a->f[i].val, b->f[i].val);
}

static void show_dec(const char *title, const struct dec *d)
{
	printf("  %s: %s\n", title, d->sum);
	for (int i = 0; i < d->n; i++)
		printf("      %-12s %s%s%s%s\n", d->f[i].name, d->f[i].val,
		       d->f[i].note[0] ? "  (" : "", d->f[i].note,
		       d->f[i].note[0] ? ")" : "");
}

/* Both decodes side by side, '!' on the fields that differ. */
static void show_pair(const struct dec *de, const struct dec *dg)
{
	char e[112], g[112];

	printf("  expected: %s\n  got:      %s\n", de->sum, dg->sum);
	printf("      %-12s %-36s %s\n", "field", "expected", "got");
	for (int i = 0; i < de->n || i < dg->n; i++) {
		const struct fld *a = i < de->n ? &de->f[i] : NULL;
		const struct fld *b = i < dg->n ? &dg->f[i] : NULL;

		snprintf(e, sizeof(e), "%s%s%s%s", a ? a->val : "-",
			 a && a->note[0] ? " (" : "", a ? a->note : "",
			 a && a->note[0] ? ")" : "");
		snprintf(g, sizeof(g), "%s%s%s%s", b ? b->val : "-",
			 b && b->note[0] ? " (" : "", b ? b->note : "",
			 b && b->note[0] ? ")" : "");
		printf("    %c %-12s %-36s %s\n", fld_differs(de, dg, i) ? '!' : ' ',
		       a ? a->name : b->name, e, g);
	}
}

static void fmt_t(const struct replay *r, ustack_time_t t, char *b)
{
	ustack_time_t d = t >= r->start ? t - r->start : r->start - t;

	snprintf(b, 32, "%s%llu.%06llu", t >= r->start ? "+" : "-",
		 (unsigned long long)(d / 1000000u),
		 (unsigned long long)(d % 1000000u));
}

/* Name the first field that differs, or the byte if the fields agree. */
static void report_diff(const struct frame *e, const struct frame *g,
			const struct dec *de, const struct dec *dg)
{
	uint32_t i, n = e->len < g->len ? e->len : g->len;
	const struct fld *best = NULL;

	int csum_only = -1;

	for (int k = 0; k < de->n || k < dg->n; k++) {
		if (!fld_differs(de, dg, k))
			continue;
		/* a checksum differs because something else does: name that */
		if (k < de->n && k < dg->n && strstr(de->f[k].name, "csum") &&
		    !strcmp(de->f[k].name, dg->f[k].name)) {
			if (csum_only < 0)
				csum_only = k;
			continue;
		}
		if (k >= de->n || k >= dg->n || strcmp(de->f[k].name, dg->f[k].name))
			printf("  layout differs at field %d: expected %s, got %s\n",
			       k, k < de->n ? de->f[k].name : "(end of frame)",
			       k < dg->n ? dg->f[k].name : "(end of frame)");
		else
			printf("  %s differs: expected %s, got %s\n", de->f[k].name,
			       de->f[k].val, dg->f[k].val);
		return;
	}
	if (csum_only >= 0) {
		printf("  %s differs: expected %s, got %s\n", de->f[csum_only].name,
		       de->f[csum_only].val, dg->f[csum_only].val);
		return;
	}
	for (i = 0; i < n && e->data[i] == g->data[i]; i++)
		;
	for (int k = 0; k < de->n; k++)
		if (de->f[k].len && i >= de->f[k].off &&
		    i < de->f[k].off + de->f[k].len &&
		    (!best || de->f[k].len <= best->len))
			best = &de->f[k];
	if (i < n)
		printf("  %s differs at byte %u of it (frame offset %u): "
		       "expected 0x%02x, got 0x%02x\n", best ? best->name : "frame",
		       best ? i - best->off : i, i, e->data[i], g->data[i]);
}

static void print_timeline(const struct replay *r, const struct relctx *rc)
{
	size_t i = 0, o = 0;
	struct dec *d = malloc(sizeof(*d));
	char t[32];

	if (!d)
		return;
	while (i < r->in.n || o < r->out.n) {
		ustack_time_t ti = i < r->in.n ? r->in.v[i].at : USTACK_TIME_NEVER;
		ustack_time_t to = o < r->out.n ? r->out.v[o].at : USTACK_TIME_NEVER;
		const struct frame *f = ti <= to ? &r->in.v[i] : &r->out.v[o];

		decode(d, f->data, f->len, rc);
		fmt_t(r, f->at, t);
		printf("%12s %s %4zu %s\n", t, ti <= to ? "in " : "out",
		       ti <= to ? i : o, d->sum);
		if (ti <= to)
			i++;
		else
			o++;
	}
	free(d);
}

static int same(const struct frame *a, const struct frame *b)
{
	return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

static int near(const struct replay *r, const struct frame *a,
		const struct frame *b)
{
	return (a->at > b->at ? a->at - b->at : b->at - a->at) <= r->tol;
}

/* 0: every frame sent matches out.pcap, in order and in time. */
int compare(struct replay *r, const char *what)
{
	struct relctx *re = calloc(1, sizeof(*re)), *rg = calloc(1, sizeof(*rg));
	struct dec *de = malloc(sizeof(*de)), *dg = malloc(sizeof(*dg));
	size_t n = r->exp.n > r->out.n ? r->exp.n : r->out.n, k;
	int rc = 0;
	char te[32], tg[32];

	if (!re || !rg || !de || !dg) {
		free(re), free(rg), free(de), free(dg);
		return EXIT_ERROR;
	}
	rel_learn(re, &r->in), rel_learn(re, &r->exp);
	rel_learn(rg, &r->in), rel_learn(rg, &r->out);
	if (r->verbose)
		print_timeline(r, rg);
	for (k = 0; k < n && !rc; k++) {
		const struct frame *e = k < r->exp.n ? &r->exp.v[k] : NULL;
		const struct frame *g = k < r->out.n ? &r->out.v[k] : NULL;
		ustack_time_t dt;

		if (e)
			decode(de, e->data, e->len, re), fmt_t(r, e->at, te);
		if (g)
			decode(dg, g->data, g->len, rg), fmt_t(r, g->at, tg);
		if (!g) {
			printf("%s: frame %zu missing: expected at %s, the stack sent "
			       "only %zu frames\n", what, k, te, r->out.n);
			show_dec("expected", de);
			rc = EXIT_MISMATCH;
		} else if (!e) {
			printf("%s: extra frame %zu sent at %s (expected only %zu "
			       "frames)\n", what, k, tg, r->exp.n);
			show_dec("got", dg);
			rc = EXIT_MISMATCH;
		} else if (k + 1 < r->exp.n && same(e + 1, g) &&
			   (!same(e, g) || (near(r, e + 1, g) && !near(r, e, g)))) {
			printf("%s: frame %zu missing: expected at %s (the stack's "
			       "frame %zu is the expected frame %zu)\n", what, k, te,
			       k, k + 1);
			show_dec("expected", de);
			rc = EXIT_MISMATCH;
		} else if (k + 1 < r->out.n && same(e, g + 1) &&
			   (!same(e, g) || (near(r, e, g + 1) && !near(r, e, g)))) {
			printf("%s: extra frame %zu sent at %s (the stack's frame "
			       "%zu is the expected frame %zu)\n", what, k, tg, k + 1, k);
			show_dec("got", dg);
			rc = EXIT_MISMATCH;
		} else if (!same(e, g)) {
			printf("%s: frame %zu differs (expected at %s, sent at %s)\n",
			       what, k, te, tg);
			report_diff(e, g, de, dg);
			show_pair(de, dg);
			rc = EXIT_MISMATCH;
		} else if ((dt = e->at > g->at ? e->at - g->at : g->at - e->at) > r->tol) {
			printf("%s: frame %zu sent at %s, expected at %s: %llu us "
			       "apart, tolerance %llu us\n  %s\n", what, k, tg, te,
			       (unsigned long long)dt, (unsigned long long)r->tol,
			       dg->sum);
			rc = EXIT_MISMATCH;
		}
	}
	if (!rc)
		printf("%s: ok, %zu frames in, %zu frames out match\n", what,
		       r->in.n, r->out.n);
	free(re), free(rg), free(de), free(dg);
	return rc;
}
