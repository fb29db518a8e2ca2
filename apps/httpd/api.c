/*
 * api.c - the JSON behind ustack-httpd's live page, and the ring of recent
 * TCP state transitions it shows as a ladder.
 *
 *   /api/conns   every socket and connection (ustack_conn_list), with
 *                the number of TCP connections in each state
 *   /api/stats   every counter (ustack_stats_snapshot) and httpd's own
 *   /api/arp     the ARP cache (ustack_arp_list)
 *   /api/fsm     the TCP states and the transitions between them
 *   /api/trace?since=N   transitions with seq > N, oldest first
 *
 * Reads the stack only through the public inspection calls. The ring is
 * filled by the stack's log hook: with trace_tcp set, tcp_set_state()
 * logs "10.0.0.2:80 10.0.0.1:5000 ESTABLISHED -> CLOSE_WAIT (FIN)" for
 * every transition, and httpd_log_hook keeps the last HTTPD_TRACE_RING.
 *
 * May touch: the stack's public inspection calls (under ustack_lock),
 * httpd's trace ring, the response buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

/* ---- the transition ring --------------------------------------------------- */

static int state_by_name(const char *s)
{
	for (int i = 0; i < USTACK_TCP__NSTATES; i++)
		if (strcmp(ustack_tcp_state_name(i), s) == 0)
			return i;
	return -1;
}

/* One transition line into the ring; 0 if msg was one, -1 if not. */
static int trace_keep(struct httpd *h, ustack_time_t now, const char *msg)
{
	char l[24], r[24], from[16], to[16], cause[16];
	struct httpd_trace *t;
	int f, s;

	if (sscanf(msg, "%23s %23s %15s -> %15s (%15[^)])", l, r, from, to,
		   cause) != 5 ||
	    (f = state_by_name(from)) < 0 || (s = state_by_name(to)) < 0)
		return -1;
	t = &h->ring[h->ring_next % HTTPD_TRACE_RING];
	t->seq = ++h->ring_next;
	t->at = now;
	memcpy(t->local, l, sizeof(l));
	memcpy(t->remote, r, sizeof(r));
	t->from = (uint8_t)f;
	t->to = (uint8_t)s;
	memcpy(t->cause, cause, sizeof(cause));
	return 0;
}

void httpd_log_hook(void *ctx, int level, ustack_time_t now, const char *msg)
{
	static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG",
					    "TRACE"};
	struct httpd *h = ctx;
	int transition = level == USTACK_LOG_INFO && strstr(msg, " -> ") &&
			 trace_keep(h, now, msg) == 0;

	/* What the default hook would have printed: transitions only with
	 * --trace (or a level that shows them), everything else as --log. */
	if (transition && !h->a.o.trace && h->a.o.log_level < USTACK_LOG_INFO)
		return;
	if (level > h->a.cfg.log_level)
		return;
	if (level < 0 || level > USTACK_LOG_TRACE)
		level = USTACK_LOG_TRACE;
	fprintf(stderr, "ustack %llu.%06llu %s: %s\n",
		(unsigned long long)(now / 1000000),
		(unsigned long long)(now % 1000000), names[level], msg);
}

/* ---- JSON ------------------------------------------------------------------ */

/* A JSON string; our strings are names and addresses, but escape anyway. */
static void jstr(struct sbuf *b, const char *s)
{
	sbuf_printf(b, "\"");
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			sbuf_printf(b, "\\%c", ch);
		else if (ch < 0x20)
			sbuf_printf(b, "\\u%04x", ch);
		else
			sbuf_printf(b, "%c", ch);
	}
	sbuf_printf(b, "\"");
}

static const char *proto_name(int p)
{
	return p == IPPROTO_TCP ? "tcp" : p == IPPROTO_UDP ? "udp" :
	       p == IPPROTO_ICMP ? "icmp" : "?";
}

#define CONNS_SHOWN 1000 /* rows in /api/conns; the counts cover all */

static void api_conns(struct httpd *h, struct sbuf *b)
{
	struct ustack *st = h->a.st;
	uint32_t count[USTACK_TCP__NSTATES] = {0};
	struct ustack_conn_info *v = NULL;
	int n = ustack_conn_list(st, NULL, 0), got = 0;
	char la[22], ra[22];

	if (n > 0 && (v = malloc((size_t)n * sizeof(*v))))
		got = ustack_conn_list(st, v, n);
	if (got > n)
		got = n;
	sbuf_printf(b, "{\"now_ms\":%llu,\"total\":%d,\"conns\":[",
		    (unsigned long long)((app_now() - h->a.started_at) / 1000),
		    got);
	for (int i = 0; i < got; i++) {
		const struct ustack_conn_info *c = &v[i];

		if (c->proto == IPPROTO_TCP && c->state >= 0 &&
		    c->state < USTACK_TCP__NSTATES)
			count[c->state]++;
		if (i >= CONNS_SHOWN)
			continue;
		sbuf_printf(b, "%s{\"proto\":\"%s\",\"state\":", i ? "," : "",
			    proto_name(c->proto));
		jstr(b, c->proto == IPPROTO_TCP ? ustack_tcp_state_name(c->state) : "");
		sbuf_printf(b, ",\"local\":\"%s\",\"remote\":\"%s\",\"sd\":%d,"
			    "\"sendq\":%u,\"recvq\":%u",
			    app_fmt_addr(c->laddr, c->lport, la),
			    app_fmt_addr(c->raddr, c->rport, ra), c->sd,
			    c->snd_queued, c->rcv_queued);
		if (c->proto == IPPROTO_TCP)
			sbuf_printf(b, ",\"srtt_us\":%u,\"rto_us\":%u,\"cwnd\":%u,"
				    "\"snd_wnd\":%u,\"rcv_wnd\":%u,\"mss\":%u,"
				    "\"retrans\":%u",
				    c->srtt_us, c->rto_us, c->cwnd, c->snd_wnd,
				    c->rcv_wnd, c->mss, c->retransmits);
		sbuf_printf(b, "}");
	}
	sbuf_printf(b, "],\"states\":{");
	for (int s = 0; s < USTACK_TCP__NSTATES; s++)
		sbuf_printf(b, "%s\"%s\":%u", s ? "," : "",
			    ustack_tcp_state_name(s), count[s]);
	sbuf_printf(b, "}}\n");
	free(v);
}

static void api_stats(struct httpd *h, struct sbuf *b)
{
	uint64_t v[USTACK_STAT__COUNT];
	const struct httpd_counters *n = &h->n;
	char ip[16];

	ustack_stats_snapshot(h->a.st, v);
	sbuf_printf(b, "{\"now_ms\":%llu,\"addr\":\"%s/%u\",\"stack\":{",
		    (unsigned long long)((app_now() - h->a.started_at) / 1000),
		    ustack_fmt_ip4(h->a.cfg.addr, ip), h->a.cfg.prefix_len);
	for (int i = 0; i < USTACK_STAT__COUNT; i++) {
		sbuf_printf(b, "%s", i ? "," : "");
		jstr(b, ustack_stat_name((enum ustack_stat_id)i));
		sbuf_printf(b, ":%llu", (unsigned long long)v[i]);
	}
	sbuf_printf(b, "},\"httpd\":{\"conns_open\":%u,\"max_conns\":%u,"
		    "\"accepted\":%llu,\"requests\":%llu,\"status_2xx\":%llu,"
		    "\"status_4xx\":%llu,\"status_5xx\":%llu,"
		    "\"header_timeouts\":%llu,\"idle_timeouts\":%llu,"
		    "\"send_timeouts\":%llu,\"evicted\":%llu,\"too_large\":%llu,"
		    "\"accept_errors\":%llu,\"header_timeout_ms\":%llu}}\n",
		    h->nconns, h->max_conns,
		    (unsigned long long)n->accepted,
		    (unsigned long long)n->requests,
		    (unsigned long long)n->status[2],
		    (unsigned long long)n->status[4],
		    (unsigned long long)n->status[5],
		    (unsigned long long)n->header_timeouts,
		    (unsigned long long)n->idle_timeouts,
		    (unsigned long long)n->send_timeouts,
		    (unsigned long long)n->evicted,
		    (unsigned long long)n->too_large,
		    (unsigned long long)n->accept_errors,
		    (unsigned long long)(h->header_us / 1000));
}

static void api_arp(struct httpd *h, struct sbuf *b)
{
	struct ustack_arp_info v[256];
	ustack_time_t now = ustack_now(h->a.st);
	int n = ustack_arp_list(h->a.st, v, 256);
	char ip[16];

	if (n > 256)
		n = 256;
	sbuf_printf(b, "{\"arp\":[");
	for (int i = 0; i < n; i++) {
		const uint8_t *m = v[i].mac;

		sbuf_printf(b, "%s{\"addr\":\"%s\",\"mac\":\"%02x:%02x:%02x:"
			    "%02x:%02x:%02x\",\"state\":", i ? "," : "",
			    ustack_fmt_ip4(v[i].addr, ip), m[0], m[1], m[2],
			    m[3], m[4], m[5]);
		jstr(b, v[i].state ? v[i].state : "?");
		sbuf_printf(b, ",\"expires_ms\":%lld,\"pending\":%u}",
			    v[i].expires_at == USTACK_TIME_NEVER ? -1LL :
			    v[i].expires_at > now ?
				    (long long)((v[i].expires_at - now) / 1000) : 0LL,
			    v[i].pending);
	}
	sbuf_printf(b, "]}\n");
}

/* The TCP state machine as the library implements it: its own table
 * (stack/proto/tcp_fsm.c, through ustack_tcp_transition), so the page can
 * never disagree with the code. */
static void api_fsm(struct sbuf *b)
{
	sbuf_printf(b, "{\"states\":[");
	for (int s = 0; s < USTACK_TCP__NSTATES; s++)
		sbuf_printf(b, "%s\"%s\"", s ? "," : "", ustack_tcp_state_name(s));
	sbuf_printf(b, "],\"transitions\":[");
	int from, to;
	const char *why;

	for (unsigned i = 0; ustack_tcp_transition(i, &from, &to, &why) == 0; i++) {
		sbuf_printf(b, "%s{\"from\":\"%s\",\"to\":\"%s\",\"why\":",
			    i ? "," : "", ustack_tcp_state_name(from),
			    ustack_tcp_state_name(to));
		jstr(b, why);
		sbuf_printf(b, "}");
	}
	sbuf_printf(b, "]}\n");
}

static void api_trace(struct httpd *h, const char *query, struct sbuf *b)
{
	const char *q = query ? strstr(query, "since=") : NULL;
	uint64_t since = 0, first;
	int k = 0;

	if (q)
		app_parse_u64(q + 6, 0, UINT64_MAX, &since);
	first = h->ring_next > HTTPD_TRACE_RING ? h->ring_next - HTTPD_TRACE_RING : 0;
	if (since < first)
		since = first;
	sbuf_printf(b, "{\"next\":%llu,\"trace\":[",
		    (unsigned long long)h->ring_next);
	for (uint64_t s = since; s < h->ring_next; s++) {
		const struct httpd_trace *t = &h->ring[s % HTTPD_TRACE_RING];

		sbuf_printf(b, "%s{\"seq\":%llu,\"ms\":%llu,\"local\":\"%s\","
			    "\"remote\":\"%s\",\"from\":\"%s\",\"to\":\"%s\","
			    "\"cause\":", k++ ? "," : "",
			    (unsigned long long)t->seq,
			    (unsigned long long)((t->at > h->a.started_at ?
						  t->at - h->a.started_at : 0) / 1000),
			    t->local, t->remote, ustack_tcp_state_name(t->from),
			    ustack_tcp_state_name(t->to));
		jstr(b, t->cause);
		sbuf_printf(b, "}");
	}
	sbuf_printf(b, "]}\n");
}

int httpd_api(struct httpd *h, const char *name, const char *query,
	      struct sbuf *b)
{
	int r = 0;

	ustack_lock(h->a.st); /* event loop: sets the time; no mutex */
	if (strcmp(name, "conns") == 0)
		api_conns(h, b);
	else if (strcmp(name, "stats") == 0)
		api_stats(h, b);
	else if (strcmp(name, "arp") == 0)
		api_arp(h, b);
	else if (strcmp(name, "fsm") == 0)
		api_fsm(b);
	else if (strcmp(name, "trace") == 0)
		api_trace(h, query, b);
	else
		r = -1;
	ustack_unlock(h->a.st);
	return r;
}
