/*
 * ladder.c - the ladder (sequence) diagram of one TCP connection: the two
 * endpoints as vertical lines, time downwards, one arrow per segment with
 * its flags, relative seq/ack, length and window (absolute numbers and
 * options in a tooltip), and each side's TCP state beside its line where
 * it changes: ustack's from the --trace log, the peer's (or both, without
 * a trace) inferred from the segments and marked as inferred.
 *
 * Time runs down but is not to scale: each row has a fixed height plus a
 * little more for a longer gap (logarithmic), and gaps of 200 ms or more
 * are written out, so a 60 s TIME_WAIT and a 100 us ACK both stay
 * readable and a few hundred segments make one long scrollable picture.
 *
 * May touch: nothing but the connection it draws and the SVG it writes.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/socket.h>

#include "draw.h"

#define S(x) USTACK_TCP_##x

/* Geometry, in SVG pixels. */
#define W 880
#define XL 260                /* endpoint 0's line */
#define XR 740                /* endpoint 1's line */
#define TIME_X 10             /* left edge of the time column */
#define STATE_GAP 10          /* state labels this far from their line */
#define TOP 120               /* centre of the first row */
#define LINE_TOP 80           /* where the endpoint lines start */
#define ROW 30                /* a segment's row */
#define ROW_OPT 14            /* ... plus a line of options under it */
#define ROW_TRANS 18          /* a row for a state change alone */
#define SLANT 12              /* how far an arrow drops on its way */
#define LABEL_ABOVE 9         /* label baseline above the row centre */
#define STATE_STEP 13         /* state labels on one side: at least this apart */
#define GAP_BREAK_US 200000   /* gaps this long are written out */
#define GAP_EXTRA_MAX 48      /* most a gap adds to a row */
#define LEGEND_H 96
#define LABEL_CHAR_W 7        /* a little over DejaVu Sans Mono at 11 px */
#define LABEL_MAX_W 460       /* longer labels are squeezed to this */

static const char style[] =
	"text{font-family:'DejaVu Sans',Verdana,sans-serif;font-size:12px;fill:#222}\n"
	".title{font-size:14px;font-weight:bold}\n"
	".ep{font-size:13px;font-weight:bold}\n"
	".role{font-size:11px;fill:#555}\n"
	".time{font-family:'DejaVu Sans Mono',monospace;font-size:10px;fill:#777}\n"
	".lbl{font-family:'DejaVu Sans Mono',monospace;font-size:11px}\n"
	".opt{font-family:'DejaVu Sans Mono',monospace;font-size:9.5px;fill:#666}\n"
	".life{stroke:#444;stroke-width:2}\n"
	".st{font-size:11px;font-weight:bold;fill:#145a32}\n"
	".inf{font-size:11px;font-style:italic;fill:#6c3483}\n"
	".gap{font-size:10px;fill:#888;font-style:italic}\n"
	".note{font-size:11px;fill:#a04000}\n"
	".seg line{stroke-width:1.6}\n"
	".normal line{stroke:#1f4e79}.normal text{fill:#1f4e79}\n"
	".rst line{stroke:#c0392b}.rst text{fill:#c0392b}\n"
	".retrans line{stroke:#e67e22;stroke-dasharray:8 4}.retrans text{fill:#b9570b}\n"
	".dup line{stroke:#8e44ad;stroke-dasharray:3 3}.dup text{fill:#8e44ad}\n"
	".oow line{stroke:#7f8c8d;stroke-dasharray:2 4}.oow text{fill:#5f6a6a}\n"
	".dupack line{stroke:#b7950b}.dupack text{fill:#8a7008}\n"
	".x{stroke:#7f8c8d;stroke-width:2}\n";

/* The arrow classes: CSS class, colour of its arrowhead, legend text. */
static const struct {
	const char *cls, *colour, *legend;
} kinds[] = {
	{"normal", "#1f4e79", "segment"},
	{"retrans", "#e67e22", "retransmission"},
	{"dup", "#8e44ad", "duplicate (network copy)"},
	{"oow", "#7f8c8d", "out of window: dropped"},
	{"dupack", "#b7950b", "duplicate ACK"},
	{"rst", "#c0392b", "RST"},
};

static int kind_index(const struct seg *s)
{
	switch (s->kind) {
	case SEG_RETRANS: return 1;
	case SEG_DUP: return 2;
	case SEG_OUT_OF_WINDOW: return 3;
	case SEG_DUPACK: return 4;
	default: return (s->flags & TH_RST) ? 5 : 0;
	}
}

/* A row: one segment, or a traced state change at a time without one. */
struct row {
	int seg;                  /* index into c->v, or -1 */
	int trans;                /* index into the trace, or -1 */
	uint64_t t_us;
	int cy;                   /* centre */
	int gap_before;           /* write the gap out above this row */
};

/* A state label beside one line. */
struct label {
	int side;                 /* endpoint 0 or 1 */
	int y;
	int state;
	int inferred;
	char why[80];             /* tooltip */
};

struct ladder {
	const struct conn *c;
	const struct trace *tr;
	int us;                   /* ustack's endpoint (from the trace), or -1 */
	struct row *rows;
	size_t nrows;
	struct label *labels;
	size_t nlabels, labels_cap;
	size_t nseg;              /* segments drawn (--max-segments) */
	int height;
};

static int add_label(struct ladder *L, int side, int y, int state, int inferred,
		     const char *why)
{
	struct label *l;

	if (L->nlabels == L->labels_cap) {
		size_t n = L->labels_cap ? L->labels_cap * 2 : 32;
		struct label *v = realloc(L->labels, n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		L->labels = v;
		L->labels_cap = n;
	}
	l = &L->labels[L->nlabels++];
	l->side = side;
	l->y = y;
	l->state = state;
	l->inferred = inferred;
	snprintf(l->why, sizeof(l->why), "%s", why);
	return 0;
}

static int has_opt_line(const struct seg *s)
{
	return s->mss >= 0 || s->wscale >= 0 || s->sack_ok || s->nsack > 0;
}

/* Extra height for a gap: about 10 px per decade above 100 us. */
static int gap_extra(uint64_t dt_us)
{
	double e = 10.0 * log10(1.0 + (double)dt_us / 100.0);

	if (dt_us >= GAP_BREAK_US && e < 34)
		e = 34; /* room for the written-out gap */
	return e > GAP_EXTRA_MAX ? GAP_EXTRA_MAX : (int)e;
}

/* Rows: the first max segments, and traced transitions at times no
 * segment has (timers: TIME_WAIT's end, a close without a FIN yet). */
static int build_rows(struct ladder *L, size_t max)
{
	const struct conn *c = L->c;
	size_t nt = L->tr ? L->tr->n : 0, i = 0, j = 0;
	uint64_t last_t = c->n ? c->v[(c->n < max ? c->n : max) - 1].t_us : 0;
	/* Cut short: nothing from the first segment left out on. */
	uint64_t cut = c->n > max ? c->v[max].t_us : UINT64_MAX;

	L->nseg = c->n < max ? c->n : max;
	L->rows = calloc(L->nseg + nt + 1, sizeof(*L->rows));
	if (!L->rows)
		return -ENOMEM;
	while (i < L->nseg || j < nt) {
		const struct transition *t = j < nt ? &L->tr->v[j] : NULL;
		struct row *r = &L->rows[L->nrows];
		int seg_has_t = 0;

		/* A transition at a segment's exact time rides on its row. */
		if (t && t->t_us) {
			for (size_t k = 0; k < L->nseg; k++)
				if (c->v[k].t_us == t->t_us) {
					seg_has_t = 1;
					break;
				}
		}
		if (t && (seg_has_t || (t->t_us == 0 && i < L->nseg) ||
			  (t->t_us && t->t_us >= cut) ||
			  (i >= L->nseg && t->t_us && t->t_us < last_t))) {
			j++; /* drawn with its segment (or cut off) */
			continue;
		}
		if (t && (i >= L->nseg || t->t_us < c->v[i].t_us)) {
			r->seg = -1;
			r->trans = (int)j++;
			r->t_us = t->t_us ? t->t_us : last_t;
		} else {
			r->seg = (int)i;
			r->trans = -1;
			r->t_us = c->v[i++].t_us;
		}
		L->nrows++;
	}
	return 0;
}

static void layout_rows(struct ladder *L)
{
	int y = TOP;

	for (size_t i = 0; i < L->nrows; i++) {
		struct row *r = &L->rows[i];

		if (i > 0) {
			const struct row *p = &L->rows[i - 1];
			uint64_t dt = r->t_us > p->t_us ? r->t_us - p->t_us : 0;

			y += (r->seg >= 0 ? ROW : ROW_TRANS) + gap_extra(dt);
			if (p->seg >= 0 && has_opt_line(&L->c->v[p->seg]))
				y += ROW_OPT;
			r->gap_before = dt >= GAP_BREAK_US;
		}
		r->cy = y;
	}
	L->height = y + 40;
}

/* ---- the peer's states, inferred from what it sent and received -------- */

struct infer {
	int st;
	int syn_sent, fin_sent;
	uint32_t iss, fin_end;    /* its SYN; the sequence number after its FIN */
};

static int seq_geq(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }

/* What sending s does to its sender. */
static void infer_send(struct infer *e, const struct seg *s)
{
	if (s->flags & TH_RST) {
		e->st = S(CLOSED);
		return;
	}
	if ((s->flags & TH_SYN) && !e->syn_sent) {
		e->syn_sent = 1;
		e->iss = s->seq;
		if (!(s->flags & TH_ACK) && e->st == S(CLOSED))
			e->st = S(SYN_SENT);
		else if ((s->flags & TH_ACK) &&
			 (e->st == S(LISTEN) || e->st == S(CLOSED)))
			e->st = S(SYN_RCVD);
	}
	if ((s->flags & TH_FIN) && !e->fin_sent) {
		e->fin_sent = 1;
		e->fin_end = s->seq + seg_seglen(s);
		if (e->st == S(ESTABLISHED) || e->st == S(SYN_RCVD))
			e->st = S(FIN_WAIT_1);
		else if (e->st == S(CLOSE_WAIT))
			e->st = S(LAST_ACK);
	}
}

/* What receiving s does to its receiver (RFC 9293 3.10.7: ACK before FIN). */
static void infer_recv(struct infer *e, const struct seg *s)
{
	if (s->kind == SEG_OUT_OF_WINDOW || s->kind == SEG_DUP)
		return;
	if (s->flags & TH_RST) {
		if (e->st != S(LISTEN))
			e->st = S(CLOSED);
		return;
	}
	if (s->flags & TH_SYN) {
		if (!(s->flags & TH_ACK) && e->st == S(LISTEN))
			e->st = S(SYN_RCVD);
		else if (!(s->flags & TH_ACK) && e->st == S(SYN_SENT))
			e->st = S(SYN_RCVD); /* simultaneous open */
		else if ((s->flags & TH_ACK) && e->st == S(SYN_SENT) &&
			 s->ack == e->iss + 1)
			e->st = S(ESTABLISHED);
	}
	if (s->flags & TH_ACK) {
		if (e->st == S(SYN_RCVD) && e->syn_sent &&
		    seq_geq(s->ack, e->iss + 1) && !(s->flags & TH_SYN))
			e->st = S(ESTABLISHED);
		if (e->fin_sent && seq_geq(s->ack, e->fin_end)) {
			if (e->st == S(FIN_WAIT_1))
				e->st = S(FIN_WAIT_2);
			else if (e->st == S(CLOSING))
				e->st = S(TIME_WAIT);
			else if (e->st == S(LAST_ACK))
				e->st = S(CLOSED);
		}
	}
	if ((s->flags & TH_FIN) && s->kind != SEG_RETRANS) {
		if (e->st == S(ESTABLISHED) || e->st == S(SYN_RCVD))
			e->st = S(CLOSE_WAIT);
		else if (e->st == S(FIN_WAIT_1))
			e->st = S(CLOSING);
		else if (e->st == S(FIN_WAIT_2))
			e->st = S(TIME_WAIT);
	}
}

static void arrow_ends(const struct ladder *L, const struct row *r, int *y1,
		       int *y2)
{
	(void)L;
	*y1 = r->cy - SLANT / 2;
	*y2 = r->cy + SLANT / 2;
}

static int infer_states(struct ladder *L)
{
	const struct conn *c = L->c;
	struct infer e[2];
	int opened = c->n && (c->v[0].flags & (TH_SYN | TH_ACK)) == TH_SYN;

	memset(e, 0, sizeof(e));
	e[0].st = opened ? S(CLOSED) : S(ESTABLISHED);
	e[1].st = opened ? S(LISTEN) : S(ESTABLISHED);
	for (int d = 0; d < 2; d++)
		if (d != L->us &&
		    add_label(L, d, LINE_TOP + 14, e[d].st, 1,
			      opened ? "before the first segment"
				     : "the capture starts mid-connection") < 0)
			return -ENOMEM;
	for (size_t i = 0; i < L->nrows; i++) {
		const struct row *r = &L->rows[i];
		const struct seg *s;
		int y1, y2, d, before;

		if (r->seg < 0)
			continue;
		s = &c->v[r->seg];
		d = s->dir;
		arrow_ends(L, r, &y1, &y2);
		before = e[d].st;
		infer_send(&e[d], s);
		if (e[d].st != before && d != L->us &&
		    add_label(L, d, y1, e[d].st, 1, "inferred: it sent this") < 0)
			return -ENOMEM;
		before = e[!d].st;
		infer_recv(&e[!d], s);
		if (e[!d].st != before && (!d) != L->us &&
		    add_label(L, !d, y2, e[!d].st, 1,
			      "inferred: it received this") < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Does segment s look like what caused a transition with this cause
 * (tcp_fsm.c cause_names)? us: ustack's endpoint. */
static int cause_matches(const char *cause, const struct seg *s, int us)
{
	int rcvd = s->dir != us;

	if (!strcmp(cause, "SYN"))
		return rcvd && (s->flags & (TH_SYN | TH_ACK)) == TH_SYN;
	if (!strcmp(cause, "SYN-ACK"))
		return rcvd && (s->flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK);
	if (!strcmp(cause, "FIN") || !strcmp(cause, "FIN+ACK"))
		return rcvd && (s->flags & TH_FIN);
	if (!strcmp(cause, "ACK"))
		return rcvd && (s->flags & TH_ACK);
	if (!strcmp(cause, "RST"))
		return rcvd && (s->flags & TH_RST);
	if (!strcmp(cause, "connect"))
		return !rcvd && (s->flags & TH_SYN);
	if (!strcmp(cause, "close") || !strcmp(cause, "shutdown") ||
	    !strcmp(cause, "abort"))
		return !rcvd && (s->flags & (TH_FIN | TH_RST));
	return 1;
}

/* The row a transition is drawn on: its own, or the segment at the same
 * time that caused it (from row `from` on: transitions come in order). */
static size_t trans_row(const struct ladder *L, size_t j, size_t from)
{
	const struct transition *t = &L->tr->v[j];
	size_t any = (size_t)-1;

	for (size_t i = from; i < L->nrows; i++) {
		const struct row *r = &L->rows[i];
		const struct seg *s;

		if (r->trans == (int)j)
			return i;
		if (r->seg < 0)
			continue;
		s = &L->c->v[r->seg];
		if (!t->t_us) {
			/* No time in the log line: the next segment that
			 * fits the cause, in order. */
			if (cause_matches(t->cause, s, L->us))
				return i;
			continue;
		}
		if (s->t_us > t->t_us)
			break;
		if (s->t_us < t->t_us)
			continue;
		if (cause_matches(t->cause, s, L->us))
			return i;
		if (any == (size_t)-1)
			any = i;
	}
	if (any == (size_t)-1 && from > 0)
		return trans_row(L, j, 0);
	return any;
}

/* ustack's states from the trace, at the end of the arrow that caused
 * them (or their own row). */
static int traced_states(struct ladder *L)
{
	const struct trace *tr = L->tr;
	size_t from = 0;
	char why[80];

	if (!tr || !tr->n || L->us < 0)
		return 0;
	snprintf(why, sizeof(why), "from the trace: before %s",
		 ustack_tcp_state_name(tr->v[0].to));
	if (add_label(L, L->us, LINE_TOP + 14, tr->v[0].from, 0, why) < 0)
		return -ENOMEM;
	for (size_t j = 0; j < tr->n; j++) {
		const struct transition *t = &tr->v[j];
		size_t i = trans_row(L, j, from);
		const struct row *r;
		int y, y1, y2;

		if (i == (size_t)-1)
			continue; /* past --max-segments */
		r = &L->rows[i];
		from = i;
		y = r->cy;
		if (r->seg >= 0) {
			arrow_ends(L, r, &y1, &y2);
			y = L->c->v[r->seg].dir == L->us ? y1 : y2;
		}
		snprintf(why, sizeof(why), "%s -> %s (%s) at %llu.%06llu",
			 ustack_tcp_state_name(t->from),
			 ustack_tcp_state_name(t->to), t->cause,
			 (unsigned long long)(t->t_us / 1000000),
			 (unsigned long long)(t->t_us % 1000000));
		if (add_label(L, L->us, y, t->to, 0, why) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* ---- writing ------------------------------------------------------------ */

static void write_defs(FILE *f)
{
	fputs("<defs>\n", f);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		fprintf(f,
			"<marker id=\"ah-%s\" markerWidth=\"10\" markerHeight=\"8\" "
			"refX=\"9\" refY=\"4\" orient=\"auto\" "
			"markerUnits=\"userSpaceOnUse\"><path d=\"M0,0 L10,4 L0,8 z\" "
			"fill=\"%s\"/></marker>\n",
			kinds[k].cls, kinds[k].colour);
	fputs("</defs>\n", f);
}

static void write_header(const struct ladder *L, FILE *f, const char *source)
{
	const struct conn *c = L->c;
	char a[24], b[24];

	fprintf(f, "<text class=\"title\" x=\"%d\" y=\"22\">TCP ", TIME_X);
	svg_printf_esc(f, "%s \u2194 %s: %zu segments", fmt_ep(c->addr[0], c->port[0], a),
		       fmt_ep(c->addr[1], c->port[1], b), c->n);
	if (source)
		svg_printf_esc(f, " (%s)", source);
	fputs("</text>\n", f);
	for (int d = 0; d < 2; d++) {
		int x = d ? XR : XL;
		const char *role = c->syn_seen[0] && d == 0 ? "client" :
				   c->syn_seen[0] ? "server" : "endpoint";

		fprintf(f, "<text class=\"ep\" x=\"%d\" y=\"50\" text-anchor=\"middle\">%s</text>\n",
			x, fmt_ep(c->addr[d], c->port[d], a));
		fprintf(f, "<text class=\"role\" x=\"%d\" y=\"66\" text-anchor=\"middle\">%s%s</text>\n",
			x, role, L->us < 0 ? "" : d == L->us ? " \u00b7 ustack" : " \u00b7 peer");
		fprintf(f, "<line class=\"life\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
			x, LINE_TOP, x, L->height - 20);
	}
	fprintf(f, "<text class=\"time\" x=\"%d\" y=\"%d\">time (s)</text>\n",
		TIME_X, LINE_TOP + 14);
}

/* The options line under an arrow: timestamps only as "TS" (their values
 * are in the tooltip), SACK blocks relative. */
static char *short_opts(const struct conn *c, const struct seg *s, char *buf,
			size_t len)
{
	size_t n = 0;

#define ADD(...)                                                               \
	n += (size_t)snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__)
	buf[0] = 0;
	if (s->mss >= 0)
		ADD("mss %d", s->mss);
	if (s->sack_ok)
		ADD("%ssackOK", n ? "," : "");
	if (s->has_ts)
		ADD("%sTS", n ? "," : "");
	if (s->wscale >= 0)
		ADD("%swscale %d", n ? "," : "", s->wscale);
	for (int i = 0; i < s->nsack; i++)
		ADD("%sSACK %u-%u", n ? "," : "", s->sack[i][0] - c->isn[!s->dir],
		    s->sack[i][1] - c->isn[!s->dir]);
#undef ADD
	return buf;
}

/* The label over an arrow; squeezed to fit between the lines if long. */
static void write_label(FILE *f, const struct conn *c, const struct seg *s,
			const char *fl, int y)
{
	char lbl[200];
	size_t n = 0, chars = 0;

#define ADD(...)                                                               \
	n += (size_t)snprintf(lbl + n, n < sizeof(lbl) ? sizeof(lbl) - n : 0,  \
			      __VA_ARGS__)
	ADD("[%s] seq=%u", fl, seg_rel_seq(c, s));
	if (s->flags & TH_ACK)
		ADD(" ack=%u", seg_rel_ack(c, s));
	ADD(" win=%u len=%u", (s->flags & TH_SYN) ? s->win
			: (uint32_t)s->win << c->wscale[s->dir], s->len);
	if (s->kind == SEG_DUPACK)
		ADD(" \u00b7 dup ACK #%d", s->dupack_n);
	else if (s->kind)
		ADD(" \u00b7 %s", seg_kind_name(s->kind));
#undef ADD
	for (const char *p = lbl; *p; p++)
		chars += ((unsigned char)*p & 0xc0) != 0x80; /* UTF-8 characters */
	fprintf(f, "<text class=\"lbl\" x=\"%d\" y=\"%d\" text-anchor=\"middle\"",
		(XL + XR) / 2, y);
	if (chars * LABEL_CHAR_W > LABEL_MAX_W)
		fprintf(f, " textLength=\"%d\" lengthAdjust=\"spacingAndGlyphs\"",
			LABEL_MAX_W);
	fputc('>', f);
	svg_text_esc(f, lbl);
	fputs("</text>\n", f);
}

static void write_seg(const struct ladder *L, FILE *f, const struct row *r)
{
	const struct conn *c = L->c;
	const struct seg *s = &c->v[r->seg];
	int k = kind_index(s), x1 = s->dir ? XR : XL, x2 = s->dir ? XL : XR;
	int y1, y2, inset = s->dir ? -1 : 1;
	char fl[48], opts[160];

	arrow_ends(L, r, &y1, &y2);
	seg_flags_str(s->flags, fl, sizeof(fl));
	seg_opts_str(c, s, opts, sizeof(opts));
	fprintf(f, "<g class=\"seg %s\"><title>", kinds[k].cls);
	svg_printf_esc(f, "frame %u at %llu.%06llu s: %s [%s] seq %u ack %u win %u "
		       "(x%u) len %u ip id %u%s%s%s",
		       s->frame, (unsigned long long)(s->t_us / 1000000),
		       (unsigned long long)(s->t_us % 1000000),
		       s->dir ? "\u2190" : "\u2192", fl, s->seq,
		       (s->flags & TH_ACK) ? s->ack : 0, s->win,
		       1u << ((s->flags & TH_SYN) ? 0 : c->wscale[s->dir]),
		       s->len, s->ip_id, opts[0] ? " <" : "", opts,
		       opts[0] ? ">" : "");
	if (s->kind)
		svg_printf_esc(f, " \u2014 %s", seg_kind_name(s->kind));
	fputs("</title>\n", f);
	/* The arrow stops short of the line so its head stays visible. */
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
		"marker-end=\"url(#ah-%s)\"/>\n",
		x1 + inset * 2, y1, x2 - inset * 3, y2, kinds[k].cls);
	if (s->kind == SEG_OUT_OF_WINDOW)
		fprintf(f, "<path class=\"x\" d=\"M%d,%d l8,8 m0,-8 l-8,8\"/>\n",
			x2 - inset * 22 - 4, y2 - 4);
	write_label(f, c, s, fl, r->cy - LABEL_ABOVE);
	if (has_opt_line(s)) {
		fprintf(f, "<text class=\"opt\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">&lt;",
			(XL + XR) / 2, r->cy + SLANT / 2 + 12);
		svg_text_esc(f, short_opts(c, s, opts, sizeof(opts)));
		fputs("&gt;</text>\n", f);
	}
	fputs("</g>\n", f);
	fprintf(f, "<text class=\"time\" x=\"%d\" y=\"%d\">%llu.%06llu</text>\n",
		TIME_X, r->cy + 4,
		(unsigned long long)((s->t_us - c->v[0].t_us) / 1000000),
		(unsigned long long)((s->t_us - c->v[0].t_us) % 1000000));
}

static int label_cmp(const void *a, const void *b)
{
	const struct label *x = a, *y = b;

	if (x->side != y->side)
		return x->side - y->side;
	if (x->y != y->y)
		return x->y < y->y ? -1 : 1;
	return x < y ? -1 : 1; /* stable: keep the order they were made in */
}

static void write_labels(struct ladder *L, FILE *f)
{
	int last[2] = {-1000, -1000};

	/* Keep each side's labels in order and apart. */
	for (size_t i = 0; i < L->nlabels; i++)
		L->labels[i].why[sizeof(L->labels[i].why) - 1] = 0;
	qsort(L->labels, L->nlabels, sizeof(*L->labels), label_cmp);
	for (size_t i = 0; i < L->nlabels; i++) {
		struct label *l = &L->labels[i];
		int y = l->y < last[l->side] + STATE_STEP ? last[l->side] + STATE_STEP
							  : l->y;
		int x = l->side ? XR + STATE_GAP : XL - STATE_GAP;

		last[l->side] = y;
		fprintf(f, "<g><title>");
		svg_text_esc(f, l->why);
		fprintf(f, "</title><circle cx=\"%d\" cy=\"%d\" r=\"2.5\" fill=\"%s\"/>"
			"<text class=\"%s\" x=\"%d\" y=\"%d\" text-anchor=\"%s\">%s%s</text></g>\n",
			l->side ? XR : XL, l->y, l->inferred ? "#6c3483" : "#145a32",
			l->inferred ? "inf" : "st", x, y + 4,
			l->side ? "start" : "end", ustack_tcp_state_name(l->state),
			l->inferred ? "?" : "");
	}
}

static void write_gaps(const struct ladder *L, FILE *f)
{
	for (size_t i = 1; i < L->nrows; i++) {
		const struct row *r = &L->rows[i], *p = &L->rows[i - 1];
		double dt = (double)(r->t_us - p->t_us) / 1e6;
		int y = (p->cy + r->cy) / 2 + 2;

		if (!r->gap_before)
			continue;
		if (p->seg >= 0 && has_opt_line(&L->c->v[p->seg]))
			y += ROW_OPT / 2;
		fprintf(f, "<text class=\"gap\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">"
			"\u22ef %.*f s later \u22ef</text>\n",
			(XL + XR) / 2, y, dt < 10 ? 3 : 1, dt);
	}
}

static void write_trans_rows(const struct ladder *L, FILE *f)
{
	for (size_t i = 0; i < L->nrows; i++) {
		const struct row *r = &L->rows[i];
		const struct transition *t;

		if (r->trans < 0)
			continue;
		t = &L->tr->v[r->trans];
		fprintf(f, "<text class=\"time\" x=\"%d\" y=\"%d\">%llu.%06llu</text>\n",
			TIME_X, r->cy + 4,
			(unsigned long long)((r->t_us - L->c->v[0].t_us) / 1000000),
			(unsigned long long)((r->t_us - L->c->v[0].t_us) % 1000000));
		fprintf(f, "<text class=\"gap\" x=\"%d\" y=\"%d\" text-anchor=\"%s\">",
			L->us ? XR - 8 : XL + 8, r->cy + 4, L->us ? "end" : "start");
		svg_printf_esc(f, "(%s)", t->cause);
		fputs("</text>\n", f);
	}
}

static void write_legend(const struct ladder *L, FILE *f, size_t max)
{
	int y = L->height + 6, x = TIME_X;

	if (L->nseg < L->c->n) {
		fprintf(f, "<text class=\"note\" x=\"%d\" y=\"%d\">\u2026 %zu more "
			"segments not drawn (--max-segments %zu)</text>\n",
			XL, L->height - 8, L->c->n - L->nseg, max);
	}
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		fprintf(f, "<g class=\"%s\"><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
			"stroke-width=\"1.6\" marker-end=\"url(#ah-%s)\"/>"
			"<text x=\"%d\" y=\"%d\">%s</text></g>\n",
			kinds[k].cls, x, y, x + 28, y, kinds[k].cls, x + 34, y + 4,
			kinds[k].legend);
		x += 40 + 7 * (int)strlen(kinds[k].legend);
		if (k == 2) {
			x = TIME_X;
			y += 20;
		}
	}
	y += 24;
	if (L->us >= 0) {
		fprintf(f, "<text class=\"st\" x=\"%d\" y=\"%d\">STATE</text>"
			"<text x=\"%d\" y=\"%d\">ustack's state, from the --trace log</text>\n",
			TIME_X, y, TIME_X + 52, y);
		fprintf(f, "<text class=\"inf\" x=\"%d\" y=\"%d\">STATE?</text>"
			"<text x=\"%d\" y=\"%d\">the peer's, inferred from the segments</text>\n",
			TIME_X + 330, y, TIME_X + 385, y);
	} else {
		fprintf(f, "<text class=\"inf\" x=\"%d\" y=\"%d\">STATE?</text>"
			"<text x=\"%d\" y=\"%d\">inferred from the segments (give "
			"--trace for ustack's own)</text>\n", TIME_X, y, TIME_X + 55, y);
	}
	fprintf(f, "<text class=\"role\" x=\"%d\" y=\"%d\">seq/ack relative to each "
		"side's ISN; windows scaled; hover an arrow for absolute numbers "
		"and options. Time not to scale.</text>\n", TIME_X, y + 20);
}

int draw_ladder(const struct conn *c, const struct ladder_opts *o,
		const char *out, char *err, size_t errlen)
{
	struct ladder L;
	struct trace tr;
	struct svg svg;
	char title[128], a[24], b[24];
	int r;

	memset(&L, 0, sizeof(L));
	memset(&tr, 0, sizeof(tr));
	L.c = c;
	L.us = -1;
	if (o->trace) {
		if ((r = trace_read(o->trace, c, &tr, err, errlen)) < 0)
			return r;
		if (tr.n) {
			L.tr = &tr;
			L.us = tr.laddr == c->addr[0] && tr.lport == c->port[0] ? 0 : 1;
		} else {
			fprintf(stderr, "ustack-draw: %s: no state transitions of "
				"this connection; drawing inferred states only\n",
				o->trace);
		}
	}
	if ((r = build_rows(&L, o->max_segments)) < 0)
		goto out;
	layout_rows(&L);
	if ((r = infer_states(&L)) < 0 || (r = traced_states(&L)) < 0)
		goto out;
	snprintf(title, sizeof(title), "TCP ladder: %s - %s",
		 fmt_ep(c->addr[0], c->port[0], a), fmt_ep(c->addr[1], c->port[1], b));
	if ((r = svg_open(&svg, out, W, L.height + LEGEND_H, title, style)) < 0) {
		snprintf(err, errlen, "%s: %s", out, strerror(-r));
		goto out;
	}
	write_defs(svg.f);
	write_header(&L, svg.f, o->source);
	write_gaps(&L, svg.f);
	for (size_t i = 0; i < L.nrows; i++)
		if (L.rows[i].seg >= 0)
			write_seg(&L, svg.f, &L.rows[i]);
	write_trans_rows(&L, svg.f);
	write_labels(&L, svg.f);
	write_legend(&L, svg.f, o->max_segments);
	if ((r = svg_close(&svg)) < 0)
		snprintf(err, errlen, "%s: write error", out);
out:
	if (r == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	free(L.rows);
	free(L.labels);
	trace_free(&tr);
	return r;
}
