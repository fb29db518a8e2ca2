/*
 * tseq.c - the time-sequence graph (Stevens, tcptrace) of the direction of
 * a connection that carried the most bytes: time across, sequence number
 * (relative to the sender's ISN) up. Each data segment is an I-bar from
 * its first to its last byte at the time it was seen; the receiver's ACKs
 * are a step line and the right edge of its window (ACK + window, scaled)
 * another; retransmissions and duplicates are coloured, SACK blocks are
 * short bars at the time of the ACK that carried them. Slow start is the
 * curve of the bars bending up, a fast retransmit a red bar under a flat
 * ACK line with SACK marks above it, an RTO a gap and then a red bar.
 *
 * May touch: nothing but the connection it draws and the SVG it writes.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "draw.h"

#define W 1000
#define H 640
#define PL 90                 /* plot area: left, right, top, bottom */
#define PR 970
#define PT 60
#define PB 570
#define IBAR_HALF 3           /* half width of an I-bar's ends */
#define TICKS 8               /* about this many ticks per axis */

static const char style[] =
	"text{font-family:'DejaVu Sans',Verdana,sans-serif;font-size:12px;fill:#222}\n"
	".title{font-size:14px;font-weight:bold}\n"
	".axis{stroke:#333;stroke-width:1}\n"
	".grid{stroke:#e4e4e4;stroke-width:1}\n"
	".tick{font-size:11px;fill:#444}\n"
	".data{stroke:#1f4e79;stroke-width:1.4}\n"
	".retrans{stroke:#d62728;stroke-width:2}\n"
	".dup{stroke:#8e44ad;stroke-width:1.4}\n"
	".ack{stroke:#2e8b57;stroke-width:1.3;fill:none}\n"
	".wnd{stroke:#c9a400;stroke-width:1.3;fill:none}\n"
	".sack{stroke:#9b59b6;stroke-width:3;stroke-opacity:0.8}\n"
	".fin{font-size:10px;fill:#1f4e79}\n";

struct scale {
	double t0, t1;            /* seconds */
	double s0, s1;            /* bytes */
};

static double px_t(const struct scale *k, double t)
{
	return PL + (t - k->t0) / (k->t1 - k->t0) * (PR - PL);
}

static double px_s(const struct scale *k, double s)
{
	return PB - (s - k->s0) / (k->s1 - k->s0) * (PB - PT);
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) for a range. */
static double nice_step(double range)
{
	double raw = range / TICKS, p = pow(10, floor(log10(raw))), f = raw / p;

	return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void fmt_bytes(double v, char *buf, size_t len)
{
	if (v >= 1e6)
		snprintf(buf, len, "%g M", v / 1e6);
	else if (v >= 1e3)
		snprintf(buf, len, "%g k", v / 1e3);
	else
		snprintf(buf, len, "%g", v);
}

static void write_axes(FILE *f, const struct scale *k)
{
	double st = nice_step(k->t1 - k->t0), ss = nice_step(k->s1 - k->s0);
	char b[32];

	for (double t = ceil(k->t0 / st) * st; t <= k->t1 + st * 1e-9; t += st) {
		double x = px_t(k, t);

		fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
			"<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n",
			x, PT, x, PB, x, PB + 16, fabs(t) < st * 1e-9 ? 0 : t);
	}
	for (double s = ceil(k->s0 / ss) * ss; s <= k->s1 + ss * 1e-9; s += ss) {
		double y = px_s(k, s);

		fmt_bytes(s, b, sizeof(b));
		fprintf(f, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
			"<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
			PL, y, PR, y, PL - 6, y + 4, b);
	}
	fprintf(f, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n"
		"<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
		PL, PB, PR, PB, PL, PT, PL, PB);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">time since the "
		"first segment (s)</text>\n", (PL + PR) / 2, PB + 40);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
		"transform=\"rotate(-90 %d %d)\">sequence number, relative "
		"(bytes)</text>\n", 22, (PT + PB) / 2, 22, (PT + PB) / 2);
}

static void write_legend(FILE *f)
{
	static const struct { const char *cls, *text; int bar; } items[] = {
		{"data", "data sent (one bar per segment)", 1},
		{"retrans", "retransmission", 1},
		{"dup", "duplicate", 1},
		{"ack", "ACK (cumulative)", 0},
		{"wnd", "window edge: ACK + advertised window", 0},
		{"sack", "SACK block", 1},
	};
	int x = PL + 12, y = PT + 16;

	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"280\" height=\"%d\" fill=\"#ffffff\" "
		"fill-opacity=\"0.9\" stroke=\"#bbb\"/>\n", PL + 4, PT + 4,
		(int)(sizeof(items) / sizeof(items[0])) * 17 + 8);
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++, y += 17) {
		if (items[i].bar)
			fprintf(f, "<line class=\"%s\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>",
				items[i].cls, x + 8, y - 9, x + 8, y + 3);
		else
			fprintf(f, "<line class=\"%s\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>",
				items[i].cls, x, y - 3, x + 18, y - 3);
		fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text>\n", x + 26, y + 1,
			items[i].text);
	}
}

/* The step line through (t, v) points of the receiver's ACKs. */
static void write_steps(FILE *f, const struct conn *c, int d,
			const struct scale *k, int window)
{
	int first = 1;
	double lastx = 0;

	fprintf(f, "<path class=\"%s\" d=\"", window ? "wnd" : "ack");
	for (size_t i = 0; i < c->n; i++) {
		const struct seg *s = &c->v[i];
		double v, x, y;

		if (s->dir == d || !(s->flags & TH_ACK))
			continue;
		v = (double)(uint32_t)(s->ack - c->isn[d]);
		if (window)
			v += (s->flags & TH_SYN) ? s->win
						 : (double)((uint32_t)s->win << c->wscale[!d]);
		x = px_t(k, (double)(s->t_us - c->v[0].t_us) / 1e6);
		y = px_s(k, v);
		if (first)
			fprintf(f, "M%.1f,%.1f", x, y);
		else
			fprintf(f, " H%.1f V%.1f", x, y);
		lastx = x;
		first = 0;
	}
	if (!first && lastx < PR)
		fprintf(f, " H%d", PR);
	fputs("\"/>\n", f);
}

/* The plot's extent: every byte sent and every ACK; the window edge too
 * unless it is far above them (then it leaves the plot at the top). */
static void extent(const struct conn *c, int d, struct scale *k)
{
	double data_top = 0, wnd_top = 0;

	memset(k, 0, sizeof(*k));
	for (size_t i = 0; i < c->n; i++) {
		const struct seg *s = &c->v[i];
		double t = (double)(s->t_us - c->v[0].t_us) / 1e6, top, edge = 0;

		if (t > k->t1)
			k->t1 = t;
		if (s->dir == d) {
			top = (double)seg_rel_seq(c, s) + seg_seglen(s);
		} else if (s->flags & TH_ACK) {
			top = (double)(uint32_t)(s->ack - c->isn[d]);
			edge = top + ((s->flags & TH_SYN) ? s->win
				      : (double)((uint32_t)s->win << c->wscale[!d]));
		} else {
			continue;
		}
		if (top > data_top)
			data_top = top;
		if (edge > wnd_top)
			wnd_top = edge;
	}
	if (k->t1 <= 0)
		k->t1 = 0.001;
	k->t1 *= 1.02;
	k->s1 = wnd_top <= data_top * 1.6 ? wnd_top : data_top;
	if (k->s1 <= 0)
		k->s1 = 1;
	k->s1 *= 1.05;
}

/* One segment: an I-bar for the sender's, SACK marks for the receiver's. */
static void write_seg(FILE *f, const struct conn *c, int d,
		      const struct scale *k, const struct seg *s)
{
	double x = px_t(k, (double)(s->t_us - c->v[0].t_us) / 1e6), y0, y1;
	const char *cls;

	if (s->dir != d) {
		/* SACK blocks the receiver reported (RFC 2018). */
		for (int j = 0; j < s->nsack; j++)
			fprintf(f, "<line class=\"sack\" x1=\"%.1f\" y1=\"%.1f\" "
				"x2=\"%.1f\" y2=\"%.1f\"/>\n", x,
				px_s(k, (double)(uint32_t)(s->sack[j][0] - c->isn[d])),
				x, px_s(k, (double)(uint32_t)(s->sack[j][1] - c->isn[d])));
		return;
	}
	if (seg_seglen(s) == 0)
		return;
	y0 = px_s(k, (double)seg_rel_seq(c, s));
	y1 = px_s(k, (double)seg_rel_seq(c, s) + seg_seglen(s));
	cls = s->kind == SEG_RETRANS ? "retrans" : s->kind == SEG_DUP ? "dup" : "data";
	fprintf(f, "<path class=\"%s\" d=\"M%.1f,%.1f V%.1f "
		"M%.1f,%.1f h%d M%.1f,%.1f h%d\"><title>seq %u len %u at "
		"%.6f s%s%s</title></path>\n",
		cls, x, y0, y1, x - IBAR_HALF, y0, 2 * IBAR_HALF,
		x - IBAR_HALF, y1, 2 * IBAR_HALF, seg_rel_seq(c, s),
		s->len, (double)(s->t_us - c->v[0].t_us) / 1e6,
		s->kind ? ": " : "", seg_kind_name(s->kind));
	if (s->flags & (TH_SYN | TH_FIN))
		fprintf(f, "<text class=\"fin\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
			x + 4, y1 - 2, (s->flags & TH_SYN) ? "SYN" : "FIN");
}

int draw_tseq(const struct conn *c, const char *source, const char *out,
	      char *err, size_t errlen)
{
	int d = c->bytes[1] > c->bytes[0];
	struct scale k;
	struct svg svg;
	char a[24], b[24], title[160];
	int r;

	extent(c, d, &k);
	snprintf(title, sizeof(title), "Time-sequence graph: %s -> %s",
		 fmt_ep(c->addr[d], c->port[d], a),
		 fmt_ep(c->addr[!d], c->port[!d], b));
	if ((r = svg_open(&svg, out, W, H, title, style)) < 0) {
		snprintf(err, errlen, "%s: %s", out, strerror(-r));
		return r;
	}
	fprintf(svg.f, "<text class=\"title\" x=\"%d\" y=\"24\">", PL);
	svg_printf_esc(svg.f, "Time-sequence graph %s \u2192 %s: %llu bytes", a, b,
		       (unsigned long long)c->bytes[d]);
	if (source)
		svg_printf_esc(svg.f, " (%s)", source);
	fputs("</text>\n", svg.f);
	write_axes(svg.f, &k);
	fprintf(svg.f, "<clipPath id=\"plot\"><rect x=\"%d\" y=\"%d\" width=\"%d\" "
		"height=\"%d\"/></clipPath>\n<g clip-path=\"url(#plot)\">\n",
		PL, PT - 4, PR - PL + 4, PB - PT + 4);
	write_steps(svg.f, c, d, &k, 1);
	write_steps(svg.f, c, d, &k, 0);
	for (size_t i = 0; i < c->n; i++)
		write_seg(svg.f, c, d, &k, &c->v[i]);
	fputs("</g>\n", svg.f);
	write_legend(svg.f);
	if ((r = svg_close(&svg)) < 0)
		snprintf(err, errlen, "%s: write error", out);
	return r;
}
