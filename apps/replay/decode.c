/*
 * decode.c - frames decoded layer by layer into named fields (Ethernet, ARP,
 * IPv4, ICMP, UDP, TCP with flags, options and relative seq/ack), a one-line
 * summary, and the comparison of what the stack sent with what was expected.
 * Part of ustack-replay (replay.h); reads frames, prints reports.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

#define MAX_FLD 96

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
	} e[128];
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
	uint32_t ihl;

	if (len < 14 + 20 || ld16(f + 12) != 0x0800 || f[14] >> 4 != 4)
		return NULL;
	ihl = (uint32_t)(f[14] & 15) * 4;
	if (ihl < 20 || len < 14 + ihl + 20 || f[23] != 6 ||
	    (ld16(f + 20) & 0x1fff))
		return NULL;
	*ip = f + 14;
	return f + 14 + ihl;
}

static void rel_key(const uint8_t *ip, const uint8_t *t, int reverse,
		    uint8_t key[12])
{
	memcpy(key, ip + (reverse ? 16 : 12), 4);
	memcpy(key + 4, ip + (reverse ? 12 : 16), 4);
	memcpy(key + 8, t + (reverse ? 2 : 0), 2);
	memcpy(key + 10, t + (reverse ? 0 : 2), 2);
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

		if (!t || !(t[13] & 0x02) || c->n == 128)
			continue;
		rel_key(ip, t, 0, c->e[c->n].key);
		if (!rel_get(c, c->e[c->n].key, &isn))
			c->e[c->n++].isn = ld32(t + 4);
	}
}

static void dec_tcp_opts(struct dec *d, const uint8_t *f, uint32_t o,
			 uint32_t end)
{
	sum(d, ", options [");
	while (o < end) {
		uint8_t kind = f[o], l = o + 1 < end ? f[o + 1] : 0;
		const uint8_t *v = f + o + 2;

		if (kind == 0 || kind == 1) {
			fld(d, "tcp.opt", o, 1, kind ? "nop" : "eol");
			sum(d, "%s%s", kind ? "nop" : "eol", o + 1 < end ? "," : "");
			o++;
			if (!kind)
				break;
			continue;
		}
		if (l < 2 || o + l > end) {
			fld(d, "tcp.opt", o, end - o, "bad option %u len %u", kind, l);
			sum(d, "bad");
			break;
		}
		if (kind == 2 && l == 4)
			fld(d, "tcp.opt", o, l, "mss %u", ld16(v));
		else if (kind == 3 && l == 3)
			fld(d, "tcp.opt", o, l, "wscale %u", v[0]);
		else if (kind == 4 && l == 2)
			fld(d, "tcp.opt", o, l, "sackOK");
		else if (kind == 8 && l == 10)
			fld(d, "tcp.opt", o, l, "TS val %u ecr %u", ld32(v),
			    ld32(v + 4));
		else if (kind == 5 && l >= 10 && (l - 2) % 8 == 0)
			fld(d, "tcp.opt", o, l, "sack %u block%s, first %u:%u",
			    (l - 2) / 8, l > 10 ? "s" : "", ld32(v), ld32(v + 4));
		else
			fld(d, "tcp.opt", o, l, "option %u len %u", kind, l);
		sum(d, "%s%s", d->f[d->n - 1].val, o + l < end ? "," : "");
		o += l;
	}
	sum(d, "]");
}

static void dec_tcp(struct dec *d, const uint8_t *f, uint32_t o, uint32_t end,
		    const struct relctx *rc, const char *dst)
{
	static const char fl[] = "FSRPAUEC";
	const uint8_t *t = f + o, *ip = f + 14;
	uint32_t doff, isn;
	uint8_t key[12];
	char fs[12];
	int k = 0, si;

	if (end - o < 20) {
		fld(d, "tcp", o, end - o, "truncated (%u bytes)", end - o);
		return;
	}
	for (int b = 0; b < 8; b++)
		if (t[13] & (1u << b) && b != 4)
			fs[k++] = fl[b];
	if (t[13] & 0x10)
		fs[k++] = '.';
	fs[k] = '\0';
	doff = (uint32_t)(t[12] >> 4) * 4;
	fld(d, "tcp.sport", o, 2, "%u", ld16(t));
	fld(d, "tcp.dport", o + 2, 2, "%u", ld16(t + 2));
	si = d->n;
	fld(d, "tcp.seq", o + 4, 4, "%u", ld32(t + 4));
	rel_key(ip, t, 0, key);
	if (rel_get(rc, key, &isn))
		snprintf(d->f[d->n - 1].note, 24, "rel %u", ld32(t + 4) - isn);
	fld(d, "tcp.ack", o + 8, 4, "%u", ld32(t + 8));
	rel_key(ip, t, 1, key);
	if ((t[13] & 0x10) && rel_get(rc, key, &isn))
		snprintf(d->f[d->n - 1].note, 24, "rel %u", ld32(t + 8) - isn);
	fld(d, "tcp.doff", o + 12, 1, "%u", doff);
	fld(d, "tcp.flags", o + 13, 1, "[%s]", fs);
	fld(d, "tcp.win", o + 14, 2, "%u", ld16(t + 14));
	fld(d, "tcp.csum", o + 16, 2, "0x%04x", ld16(t + 16));
	fld(d, "tcp.urp", o + 18, 2, "%u", ld16(t + 18));
	if (d->n == si + 7) {
		sum(d, ".%u > %s.%u: Flags [%s], seq %s", ld16(t), dst,
		    ld16(t + 2), fs,
		    d->f[si].note[0] ? d->f[si].note + 4 : d->f[si].val);
		if (t[13] & 0x10)
			sum(d, ", ack %s", d->f[si + 1].note[0] ?
			    d->f[si + 1].note + 4 : d->f[si + 1].val);
		sum(d, ", win %u", ld16(t + 14));
	}
	if (doff < 20 || o + doff > end) {
		fld(d, "tcp.bad_doff", o + 12, 1, "%u", doff);
		return;
	}
	if (doff > 20)
		dec_tcp_opts(d, f, o + 20, o + doff);
	if (end > o + doff)
		fld(d, "tcp.payload", o + doff, end - o - doff, "%u bytes",
		    end - o - doff);
	sum(d, ", length %u", end - o - doff);
}

static void dec_udp(struct dec *d, const uint8_t *f, uint32_t o, uint32_t end,
		    const char *dst)
{
	const uint8_t *u = f + o;

	if (end - o < 8) {
		fld(d, "udp", o, end - o, "truncated (%u bytes)", end - o);
		return;
	}
	fld(d, "udp.sport", o, 2, "%u", ld16(u));
	fld(d, "udp.dport", o + 2, 2, "%u", ld16(u + 2));
	fld(d, "udp.len", o + 4, 2, "%u", ld16(u + 4));
	fld(d, "udp.csum", o + 6, 2, "0x%04x", ld16(u + 6));
	if (end > o + 8)
		fld(d, "udp.payload", o + 8, end - o - 8, "%u bytes", end - o - 8);
	sum(d, ".%u > %s.%u: UDP, length %u", ld16(u), dst, ld16(u + 2),
	    end - o - 8);
}

static void dec_icmp(struct dec *d, const uint8_t *f, uint32_t o, uint32_t end,
		     const char *dst)
{
	const uint8_t *c = f + o;
	char a[16], b[16];

	if (end - o < 8) {
		fld(d, "icmp", o, end - o, "truncated (%u bytes)", end - o);
		return;
	}
	fld(d, "icmp.type", o, 1, "%u", c[0]);
	fld(d, "icmp.code", o + 1, 1, "%u", c[1]);
	fld(d, "icmp.csum", o + 2, 2, "0x%04x", ld16(c + 2));
	sum(d, " > %s: ICMP ", dst);
	if (c[0] == 0 || c[0] == 8) {
		fld(d, "icmp.id", o + 4, 2, "%u", ld16(c + 4));
		fld(d, "icmp.seq", o + 6, 2, "%u", ld16(c + 6));
		sum(d, "echo %s, id %u, seq %u, length %u",
		    c[0] ? "request" : "reply", ld16(c + 4), ld16(c + 6), end - o);
	} else {
		fld(d, "icmp.rest", o + 4, 4, "0x%08x", ld32(c + 4));
		sum(d, "type %u code %u", c[0], c[1]);
		if (end - o >= 8 + 20 && (c[8] >> 4) == 4) {
			fld(d, "icmp.orig", o + 8, 20, "IP %s > %s proto %u",
			    fmt_ip(c + 20, a), fmt_ip(c + 24, b), c[17]);
			sum(d, " about %s", d->f[d->n - 1].val);
		}
	}
	if (end > o + 8)
		fld(d, "icmp.data", o + 8, end - o - 8, "%u bytes", end - o - 8);
}

static void dec_ip4(struct dec *d, const uint8_t *f, uint32_t o, uint32_t len,
		    const struct relctx *rc)
{
	const uint8_t *h = f + o;
	uint32_t ihl, tot, end, frag;
	char a[16], b[16];

	if (len - o < 20) {
		fld(d, "ip", o, len - o, "truncated (%u bytes)", len - o);
		return;
	}
	ihl = (uint32_t)(h[0] & 15) * 4;
	tot = ld16(h + 2);
	frag = ld16(h + 6);
	fld(d, "ip.version", o, 1, "%u", h[0] >> 4);
	fld(d, "ip.ihl", o, 1, "%u", ihl);
	fld(d, "ip.tos", o + 1, 1, "0x%02x", h[1]);
	fld(d, "ip.len", o + 2, 2, "%u", tot);
	fld(d, "ip.id", o + 4, 2, "%u", ld16(h + 4));
	fld(d, "ip.flags", o + 6, 1, "%s%s%s", frag & 0x4000 ? "DF" : "",
	    frag & 0x2000 ? "MF" : "", frag & 0x6000 ? "" : "none");
	fld(d, "ip.frag", o + 6, 2, "%u", (frag & 0x1fff) * 8);
	fld(d, "ip.ttl", o + 8, 1, "%u", h[8]);
	fld(d, "ip.proto", o + 9, 1, "%u", h[9]);
	fld(d, "ip.csum", o + 10, 2, "0x%04x", ld16(h + 10));
	fld(d, "ip.src", o + 12, 4, "%s", fmt_ip(h + 12, a));
	fld(d, "ip.dst", o + 16, 4, "%s", fmt_ip(h + 16, b));
	sum(d, "IP %s", a);
	if (ihl < 20 || o + ihl > len)
		return;
	if (ihl > 20)
		fld(d, "ip.options", o + 20, ihl - 20, "%u bytes", ihl - 20);
	end = tot >= ihl && o + tot <= len ? o + tot : len;
	if (frag & 0x1fff) {
		fld(d, "ip.payload", o + ihl, end - o - ihl, "%u bytes",
		    end - o - ihl);
		sum(d, " > %s: fragment id %u, offset %u, length %u", b,
		    ld16(h + 4), (frag & 0x1fff) * 8, end - o - ihl);
	} else if (h[9] == 1) {
		dec_icmp(d, f, o + ihl, end, b);
	} else if (h[9] == 17) {
		dec_udp(d, f, o + ihl, end, b);
	} else if (h[9] == 6) {
		dec_tcp(d, f, o + ihl, end, rc, b);
	} else {
		fld(d, "ip.payload", o + ihl, end - o - ihl, "%u bytes",
		    end - o - ihl);
		sum(d, " > %s: proto %u, length %u", b, h[9], end - o - ihl);
	}
	if (frag & 0x2000)
		sum(d, " (more fragments, id %u)", ld16(h + 4));
	if (end < len)
		fld(d, "eth.pad", end, len - end, "%u bytes", len - end);
}

static void dec_arp(struct dec *d, const uint8_t *f, uint32_t o, uint32_t len)
{
	const uint8_t *a = f + o;
	char m[18], s[16], t[16];

	if (len - o < 28) {
		fld(d, "arp", o, len - o, "truncated (%u bytes)", len - o);
		return;
	}
	fld(d, "arp.htype", o, 2, "%u", ld16(a));
	fld(d, "arp.ptype", o + 2, 2, "0x%04x", ld16(a + 2));
	fld(d, "arp.hlen", o + 4, 1, "%u", a[4]);
	fld(d, "arp.plen", o + 5, 1, "%u", a[5]);
	fld(d, "arp.op", o + 6, 2, "%u", ld16(a + 6));
	fld(d, "arp.sha", o + 8, 6, "%s", fmt_mac(a + 8, m));
	fld(d, "arp.spa", o + 14, 4, "%s", fmt_ip(a + 14, s));
	fld(d, "arp.tha", o + 18, 6, "%s", fmt_mac(a + 18, m));
	fld(d, "arp.tpa", o + 24, 4, "%s", fmt_ip(a + 24, t));
	if (ld16(a + 6) == 1 && !memcmp(a + 14, a + 24, 4))
		sum(d, "ARP, Announcement for %s", s);
	else if (ld16(a + 6) == 1)
		sum(d, "ARP, Request who-has %s tell %s", t, s);
	else
		sum(d, "ARP, Reply %s is-at %s", s, fmt_mac(a + 8, m));
	if (len > o + 28)
		fld(d, "eth.pad", o + 28, len - o - 28, "%u bytes", len - o - 28);
}

static void decode(struct dec *d, const uint8_t *f, uint32_t len,
		   const struct relctx *rc)
{
	char a[18], b[18];
	uint16_t type;

	d->n = 0;
	d->sum[0] = '\0';
	fld(d, "frame.len", 0, 0, "%u", len);
	if (len < 14) {
		fld(d, "eth", 0, len, "truncated (%u bytes)", len);
		sum(d, "truncated frame");
		return;
	}
	type = ld16(f + 12);
	fld(d, "eth.dst", 0, 6, "%s", fmt_mac(f, a));
	fld(d, "eth.src", 6, 6, "%s", fmt_mac(f + 6, b));
	fld(d, "eth.type", 12, 2, "0x%04x", type);
	if (type == 0x0806) {
		dec_arp(d, f, 14, len);
	} else if (type == 0x0800) {
		dec_ip4(d, f, 14, len, rc);
	} else {
		fld(d, "eth.payload", 14, len - 14, "%u bytes", len - 14);
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
