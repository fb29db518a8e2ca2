/*
 * tcpscript.c - the runner of TCP conformance scripts (tcpscript.h): reads
 * the lines, keeps virtual time, injects the peer's segments, matches what
 * the stack sends (strictly: an unexpected segment fails the script), and
 * performs the application's socket calls through the public API.
 *
 * Time: each timed line starts with a time in seconds, absolute from the
 * script's start ("1.5") or relative to the previous event ("+0.2"),
 * optionally a range ("+0~+0.5") or "*" (any time). For `<` lines and
 * calls the clock moves to that time first, firing the stack's timers on
 * the way; a `>` line waits (in virtual time) for the next segment, which
 * must come inside the window [time - tolerance, time + tolerance]. The
 * base of a relative time is the time of the previous event: for a `>`
 * line, when the segment was actually sent.
 *
 * The peer answers the stack's ARP requests by itself, so long scripts
 * (keepalive, TIME_WAIT) see only TCP.
 *
 * May touch: the test bed (tb), the public API of the stack.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/socket.h>
#include <ustack/stats.h>
#include <ustack/ustack.h>

#include "lib/pkt.h"
#include "lib/tcpscript.h"
#include "lib/tcpscript_int.h"
#include "lib/testbed.h"
#include "wire/eth.h"
#include "wire/tcp.h"

#define TS_ANY_WAIT USTACK_SEC(7200)   /* "*" waits at most this long */
#define TS_DEFAULT_PEER_ISN 1000000u
#define TS_DEFAULT_PEER_PORT 40000

struct ts_qframe {
	struct ts_qframe *next;
	ustack_time_t at;
	size_t len;
	uint8_t data[];
};

struct ts_run {
	const char *name;
	int lineno;
	const char *line;        /* the line being run (for messages) */
	char *err;
	size_t errlen;
	int failed;
	int verbose;
	struct ustack_config cfg;
	struct tb *tb;
	ustack_time_t t0;        /* script time 0 */
	ustack_time_t base;      /* time of the previous event */
	ustack_time_t tol;       /* tolerance of `>` times */
	int check_shrink;        /* the window-shrink invariant */
	uint32_t next_peer_isn;
	struct ts_ctx ctx[TS_MAX_CTX];
	int cur;
	struct ts_sock socks[TS_MAX_SOCKS];
	struct ts_qframe *qh, *qt;
};

struct ts_ctx *ts_cur(struct ts_run *r)
{
	return &r->ctx[r->cur];
}

int ts_fail(struct ts_run *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->failed)
		return -1;
	r->failed = 1;
	n = snprintf(r->err, r->errlen, "%s:%d: ", r->name, r->lineno);
	if (n < 0 || (size_t)n >= r->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	if (r->line) {
		size_t l = strlen(r->err);

		snprintf(r->err + l, r->errlen - l, "\n    script: %s", r->line);
	}
	return -1;
}

static double rel_s(const struct ts_run *r, ustack_time_t t)
{
	return (double)(int64_t)(t - r->t0) / 1e6;
}

/* ---- contexts (one per peer port) ---------------------------------------- */

static int ctx_get(struct ts_run *r, uint16_t pport)
{
	int i, free_i = -1;

	for (i = 0; i < TS_MAX_CTX; i++) {
		if (r->ctx[i].used && r->ctx[i].pport == pport)
			return i;
		if (!r->ctx[i].used && free_i < 0)
			free_i = i;
	}
	if (free_i < 0)
		return -1;
	memset(&r->ctx[free_i], 0, sizeof(r->ctx[free_i]));
	r->ctx[free_i].used = 1;
	r->ctx[free_i].pport = pport;
	r->ctx[free_i].peer_isn = r->next_peer_isn;
	r->ctx[free_i].peer_ws = r->ctx[free_i].stack_ws = -1;
	r->ctx[free_i].peer_mss = 536;
	return free_i;
}

/* ---- frames from the stack -------------------------------------------------- */

/* The peer answers ARP requests for its address at once. */
static int is_arp_for_peer(const struct tb_frame *f)
{
	const uint8_t *a = f->data + ETH_HDR_LEN;

	return f->len >= ETH_HDR_LEN + 28 && eth_type(f->data) == ETH_TYPE_ARP &&
	       be16_load(a + 6) == 1 && be32_load(a + 24) == TB_PEER;
}

static void collect(struct ts_run *r)
{
	struct tb_frame *f;

	while ((f = tb_pop(r->tb)) != NULL) {
		if (eth_type(f->data) == ETH_TYPE_ARP) {
			if (is_arp_for_peer(f)) {
				uint8_t rep[64];
				size_t n = pkt_arp(rep, TB_MAC, TB_PEER_MAC, 2,
						   TB_PEER_MAC, TB_PEER, TB_MAC,
						   TB_ADDR);

				tb_inject(r->tb, rep, n);
			}
			free(f);
			continue;
		}
		{
			struct ts_qframe *q = malloc(sizeof(*q) + f->len);

			if (!q)
				abort();
			q->next = NULL;
			q->at = f->at;
			q->len = f->len;
			memcpy(q->data, f->data, f->len);
			if (r->qt)
				r->qt->next = q;
			else
				r->qh = q;
			r->qt = q;
		}
		free(f);
	}
}

/* Move the clock to t (never back), firing timers at their deadlines.
 * With stop_on_frame, stop at the first deadline that made a frame. */
static void advance(struct ts_run *r, ustack_time_t t, int stop_on_frame)
{
	struct tb *tb = r->tb;
	int guard = 1000000;

	collect(r);
	while (guard-- > 0 && !(stop_on_frame && r->qh)) {
		ustack_time_t next = ustack_next_deadline(tb->st);

		if (next > t)
			break;
		if (next > tb->now)
			tb->now = next;
		ustack_run_timers(tb->st, tb->now);
		collect(r);
	}
	if (stop_on_frame && r->qh)
		return;
	if (t > tb->now)
		tb->now = t;
	ustack_run_timers(tb->st, tb->now);
	collect(r);
}

static void describe_frame(struct ts_run *r, const struct ts_qframe *q,
			   char *buf, size_t n)
{
	struct ts_seg g;
	char err[200], seg[600];
	int k = ts_seg_decode(ts_cur(r), q->data, q->len, &g, err, sizeof(err));

	if (k < 0) {
		snprintf(buf, n, "%s at %.6f", err, rel_s(r, q->at));
	} else if (k == 0) {
		snprintf(buf, n, "a non-TCP frame (ethertype 0x%04x, %zu bytes) at "
			 "%.6f", eth_type(q->data), q->len, rel_s(r, q->at));
	} else {
		ts_seg_format(&g, seg, sizeof(seg));
		snprintf(buf, n, "> %s  [%u > %u] at %.6f", seg, g.sport, g.dport,
			 rel_s(r, q->at));
	}
}

/* Nothing may be waiting: every segment needs its `>` line. */
static int expect_quiet(struct ts_run *r)
{
	char d[800];

	collect(r);
	if (!r->qh)
		return 0;
	describe_frame(r, r->qh, d, sizeof(d));
	{
		struct ts_seg g;
		char why[400], err[200];

		if (ts_seg_decode(ts_cur(r), r->qh->data, r->qh->len, &g, err,
				  sizeof(err)) > 0 &&
		    ts_seg_invariants(ts_cur(r), &g, r->check_shrink, why,
				      sizeof(why)) < 0)
			return ts_fail(r, "unexpected segment from the stack, "
				       "and %s:\n    got: %s", why, d);
	}
	return ts_fail(r, "unexpected segment from the stack:\n    got: %s", d);
}

static void drop_queue(struct ts_run *r)
{
	while (r->qh) {
		struct ts_qframe *q = r->qh;

		r->qh = q->next;
		free(q);
	}
	r->qt = NULL;
}

/* ---- times ------------------------------------------------------------------ */

struct ts_when {
	int any;
	ustack_time_t lo, hi;
	int range;
};

static int parse_one_time(struct ts_run *r, const char **p, ustack_time_t *t)
{
	int rel = 0;
	char *end;
	double v;

	if (**p == '+') {
		rel = 1;
		(*p)++;
	}
	v = strtod(*p, &end);
	if (end == *p || v < 0)
		return ts_fail(r, "bad time");
	*p = end;
	*t = (rel ? r->base : r->t0) + (ustack_time_t)llround(v * 1e6);
	return 0;
}

static int parse_when(struct ts_run *r, const char **p, struct ts_when *w)
{
	memset(w, 0, sizeof(*w));
	if (**p == '*') {
		w->any = 1;
		(*p)++;
		return 0;
	}
	if (parse_one_time(r, p, &w->lo) < 0)
		return -1;
	w->hi = w->lo;
	if (**p == '~') {
		(*p)++;
		w->range = 1;
		if (parse_one_time(r, p, &w->hi) < 0)
			return -1;
		if (w->hi < w->lo)
			return ts_fail(r, "time range ends before it starts");
	}
	return 0;
}

/* ---- segments ------------------------------------------------------------------ */

static int do_inbound(struct ts_run *r, const char *spec)
{
	static uint8_t frame[70100];
	struct ts_ctx *c = ts_cur(r);
	struct ts_seg s;
	const char *e;
	size_t n;

	if (ts_seg_parse(spec, 0, &s, &e) < 0)
		return ts_fail(r, "segment: %s", e);
	if (!c->lport)
		return ts_fail(r, "the stack's port is not known yet (bind, "
			       "listen or a SYN from the stack first)");
	if ((n = ts_seg_build(c, &s, frame)) == 0)
		return ts_fail(r, "options longer than 40 bytes");
	ts_seg_note_in(c, &s);
	if (r->verbose)
		fprintf(stderr, "%.6f < %s\n", rel_s(r, r->tb->now), spec);
	tb_inject(r->tb, frame, n);
	return 0;
}

static int icmp_code(const char *w, uint8_t *type, uint8_t *code)
{
	static const struct { const char *n; uint8_t t, c; } tab[] = {
		{"net_unreachable", 3, 0}, {"host_unreachable", 3, 1},
		{"protocol_unreachable", 3, 2}, {"port_unreachable", 3, 3},
		{"frag_needed", 3, 4}, {"admin_prohibited", 3, 13},
		{"time_exceeded", 11, 0},
	};

	for (unsigned i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (!strcmp(w, tab[i].n)) {
			*type = tab[i].t;
			*code = tab[i].c;
			return 0;
		}
	return -1;
}

/* "< icmp port_unreachable [seq N] [mtu N]" quoting a stack segment. */
static int do_icmp(struct ts_run *r, const char *spec)
{
	uint8_t frame[256], type, code;
	char word[40];
	unsigned seq = 0, mtu = 0;
	const char *p;
	int n;

	if (sscanf(spec, "%39s%n", word, &n) != 1 || icmp_code(word, &type, &code))
		return ts_fail(r, "icmp: net_unreachable host_unreachable "
			       "protocol_unreachable port_unreachable frag_needed "
			       "admin_prohibited time_exceeded");
	for (p = spec + n; *p;) {
		int k;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (sscanf(p, "seq %u%n", &seq, &k) == 1 ||
		    sscanf(p, "mtu %u%n", &mtu, &k) == 1)
			p += k;
		else
			return ts_fail(r, "icmp: [seq N] [mtu N]");
	}
	ts_seg_note_in(ts_cur(r), &(struct ts_seg){.flags = TCP_RST});
	tb_inject(r->tb, frame, ts_icmp_build(ts_cur(r), type, code,
					      (uint16_t)mtu, seq, frame));
	return 0;
}

/* The next segment must come inside w and match spec. */
static int do_outbound(struct ts_run *r, const struct ts_when *w,
		       const char *spec)
{
	struct ts_ctx *c = ts_cur(r);
	ustack_time_t lo = w->any ? r->tb->now : w->lo > r->tol ? w->lo - r->tol : 0;
	ustack_time_t hi = w->any ? r->tb->now + TS_ANY_WAIT : w->hi + r->tol;
	char why[600], got[800], want[600];
	struct ts_seg s, g;
	struct ts_qframe *q;
	const char *e;
	int k;

	if (ts_seg_parse(spec, 1, &s, &e) < 0)
		return ts_fail(r, "segment: %s", e);
	ts_seg_format(&s, want, sizeof(want));
	advance(r, hi, 1);
	if (!(q = r->qh))
		return ts_fail(r, "expected by %.6f: > %s\n    got: nothing",
			       rel_s(r, hi), want);
	describe_frame(r, q, got, sizeof(got));
	r->qh = q->next;
	if (!r->qh)
		r->qt = NULL;
	k = ts_seg_decode(c, q->data, q->len, &g, why, sizeof(why));
	if (k <= 0 || q->at < lo) {
		if (k > 0)
			snprintf(why, sizeof(why), "sent at %.6f, before %.6f",
				 rel_s(r, q->at), rel_s(r, lo));
		free(q);
		return ts_fail(r, "%s\n    expected: > %s\n    got:      %s",
			       k < 0 ? why : k == 0 ? "not a TCP segment" : why,
			       want, got);
	}
	/* A broken rule says more than a differing field: check it first. */
	if (ts_seg_invariants(c, &g, r->check_shrink, why, sizeof(why)) < 0 ||
	    ts_seg_match(c, &s, &g, why, sizeof(why)) < 0) {
		free(q);
		return ts_fail(r, "%s\n    expected: > %s\n    got:      %s", why,
			       want, got);
	}
	ts_seg_note_out(c, &g);
	if (r->verbose)
		fprintf(stderr, "%s   (ok)\n", got);
	r->base = q->at;
	free(q);
	return 0;
}

/* ---- configuration ------------------------------------------------------------- */

static int do_set(struct ts_run *r, const char *name, unsigned long long v)
{
	if (!strcmp(name, "tolerance_us")) {
		r->tol = v;
		return 0;
	}
	if (!strcmp(name, "check_window_shrink")) {
		r->check_shrink = !!v;
		return 0;
	}
	if (!strcmp(name, "local_port")) {
		r->ctx[r->cur].lport = (uint16_t)v;
		return 0;
	}
	if (!strcmp(name, "peer_isn")) {
		r->next_peer_isn = (uint32_t)v;
		if (r->ctx[r->cur].used)
			r->ctx[r->cur].peer_isn = (uint32_t)v;
		return 0;
	}
	if (r->tb)
		return ts_fail(r, "set %s: the stack is running already", name);
	/* Anything else is a field of struct ustack_config (the library's
	 * table of them, ustack_config_set). */
	switch (ustack_config_set(&r->cfg, name, v)) {
	case 0:
		return 0;
	case -ERANGE:
		return ts_fail(r, "set %s: %llu does not fit the field", name, v);
	default:
		break;
	}
	return ts_fail(r, "set: unknown setting %s", name);
}

static int start(struct ts_run *r)
{
	if (r->tb)
		return 0;
	r->tb = tb_new(&r->cfg);
	tb_learn_peer(r->tb, TB_PEER, TB_PEER_MAC);
	r->t0 = r->base = r->tb->now;
	return 0;
}

/* ---- what tcpscript_call.c may use ------------------------------------------ */

struct ustack *ts_stack(struct ts_run *r)
{
	return r->tb->st;
}

int ts_ctx_select(struct ts_run *r, uint16_t pport)
{
	int i = ctx_get(r, pport);

	if (i < 0)
		return ts_fail(r, "too many connections in one script");
	r->cur = i;
	return i;
}

int ts_ctx_find(struct ts_run *r, uint16_t pport)
{
	for (int i = 0; i < TS_MAX_CTX; i++)
		if (r->ctx[i].used && r->ctx[i].pport == pport)
			return i;
	return -1;
}

struct ts_ctx *ts_ctx_at(struct ts_run *r, int i)
{
	return &r->ctx[i];
}

int ts_cur_index(struct ts_run *r)
{
	return r->cur;
}

struct ts_sock *ts_sock_table(struct ts_run *r)
{
	return r->socks;
}

/* ---- lines ------------------------------------------------------------------ */

static char *trim(char *s)
{
	char *e, *c;

	if ((c = strchr(s, '#')) != NULL)
		*c = 0;
	if ((c = strstr(s, "//")) != NULL)
		*c = 0;
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int run_directive(struct ts_run *r, char *s)
{
	char name[64];
	unsigned long long v;
	unsigned port;

	if (sscanf(s, "set %63s %llu", name, &v) == 2)
		return do_set(r, name, v);
	if (sscanf(s, "peer_port %u", &port) == 1) {
		uint16_t lport = ts_cur(r)->lport;

		if (port == 0 || port > 65535)
			return ts_fail(r, "peer_port: 1..65535");
		if (ts_ctx_select(r, (uint16_t)port) < 0)
			return -1;
		/* a new peer of the same listener: the same local port */
		if (!ts_cur(r)->lport)
			ts_cur(r)->lport = lport;
		return 0;
	}
	return ts_fail(r, "unknown line (set, peer_port, or a time first)");
}

static int run_timed(struct ts_run *r, char *s)
{
	struct ts_when w;
	const char *p = s;

	if (start(r) < 0 || parse_when(r, &p, &w) < 0)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '>')
		return do_outbound(r, &w, p + 1);
	if (w.any || w.range)
		return ts_fail(r, "only `>` lines take '*' or a time range");
	advance(r, w.lo, 0);
	if (expect_quiet(r) < 0)
		return -1;
	r->base = w.lo > r->tb->now ? w.lo : r->tb->now;
	if (*p == '<') {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!strncmp(p, "icmp ", 5))
			return do_icmp(r, p + 5);
		return do_inbound(r, p);
	}
	if (!strcmp(p, "quiet"))
		return 0;
	if (r->verbose)
		fprintf(stderr, "%.6f %s\n", rel_s(r, r->tb->now), p);
	return ts_call(r, p);
}

static void run_init(struct ts_run *r, const char *name, char *err,
		     size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->name = name;
	r->err = err;
	r->errlen = errlen;
	r->verbose = getenv("TCPSCRIPT_VERBOSE") != NULL;
	r->tol = 2000;
	r->check_shrink = 1;
	r->next_peer_isn = TS_DEFAULT_PEER_ISN;
	tb_config(&r->cfg);
	/* Scripts pin Reno's windows (RFC 5681, 6582, 6675) unless they say
	 * `set tcp_congestion 1` (CUBIC, the stack's default). */
	r->cfg.tcp_congestion = USTACK_TCP_CC_RENO;
	ctx_get(r, TS_DEFAULT_PEER_PORT);
	r->cur = 0;
}

int tcpscript_run(const char *name, const char *text, char *err, size_t errlen)
{
	struct ts_run r;
	char *copy = strdup(text), *line, *next;

	if (!copy)
		abort();
	run_init(&r, name, err, errlen);
	err[0] = 0;
	for (line = copy; line && !r.failed; line = next) {
		char *s;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		r.lineno++;
		r.line = NULL;
		s = trim(line);
		if (!*s)
			continue;
		r.line = s;
		if (isdigit((unsigned char)*s) || *s == '+' || *s == '*' || *s == '.')
			run_timed(&r, s);
		else
			run_directive(&r, s);
	}
	r.line = NULL;
	if (!r.failed && r.tb) {
		r.lineno++;
		if (expect_quiet(&r) == 0 && r.verbose)
			fprintf(stderr, "%s: ok\n", name);
	}
	drop_queue(&r);
	if (r.tb)
		tb_free(r.tb);      /* asserts every packet buffer came back */
	free(copy);
	return r.failed ? -1 : 0;
}

int tcpscript_run_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;
	int rc;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		snprintf(err, errlen, "%s: read error", path);
		return -1;
	}
	buf[n] = 0;
	fclose(f);
	{
		const char *base = strrchr(path, '/');

		rc = tcpscript_run(base ? base + 1 : path, buf, err, errlen);
	}
	free(buf);
	return rc;
}
