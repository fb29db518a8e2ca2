/*
 * report.c - the stack's state as text for the control socket and httpd:
 * conns, tcp, arp, stats, iface. Reads the stack only through the public
 * inspection calls (ustack_conn_list, ustack_arp_list, ustack_stat, ...)
 * while holding it with ustack_lock().
 *
 * May touch: the stack only through its public inspection calls, under
 * ustack_lock(); the buffer it appends to.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "report.h"

/*
 * Why not open_memstream(3), which does most of this: the buffer's users
 * read buf/len at any time (a partial send resumes at an offset), reset
 * len to 0 to reuse the memory for the next keep-alive response, and keep
 * an all-zero struct as an empty buffer that costs nothing (an idle httpd
 * connection holds one). A memstream's buf/len are valid only after
 * fflush() or fclose(), and each stream is a FILE with its own stdio
 * buffer, opened up front. vsnprintf into a
 * doubling buffer is the part of it we need, in thirty lines.
 */
void sbuf_init(struct sbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void sbuf_free(struct sbuf *b)
{
	free(b->buf);
	sbuf_init(b);
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->buf ? b->buf + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *nb = realloc(b->buf, cap);
		if (!nb) {
			b->failed = 1;
			return;
		}
		b->buf = nb;
		b->cap = cap;
	}
}

/* ---- connections --------------------------------------------------------- */

static const char *proto_name(int proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	}
	return "?";
}

static int conn_cmp(const void *pa, const void *pb)
{
	const struct ustack_conn_info *a = pa, *b = pb;

	if (a->proto != b->proto)
		return a->proto == IPPROTO_TCP ? -1 :
		       b->proto == IPPROTO_TCP ? 1 : a->proto - b->proto;
	if (a->lport != b->lport)
		return a->lport < b->lport ? -1 : 1;
	if (a->raddr != b->raddr)
		return a->raddr < b->raddr ? -1 : 1;
	return (int)a->rport - (int)b->rport;
}

/* A sorted copy of the connection table (caller frees), or NULL. */
static struct ustack_conn_info *get_conns(struct ustack *st, int *count)
{
	int max = 256, n;
	struct ustack_conn_info *v = NULL;

	for (int tries = 0; tries < 4; tries++) {
		struct ustack_conn_info *nv = realloc(v, (size_t)max * sizeof(*v));

		if (!nv)
			break;
		v = nv;
		n = ustack_conn_list(st, v, max);
		if (n < 0)
			break;
		if (n <= max) {
			qsort(v, (size_t)n, sizeof(*v), conn_cmp);
			*count = n;
			return v;
		}
		max = n + 64;
	}
	free(v);
	*count = 0;
	return NULL;
}

static void fmt_remote(const struct ustack_conn_info *c, char *buf)
{
	char ip[16];

	if (!c->raddr && !c->rport)
		snprintf(buf, 22, "%s:*", ustack_fmt_ip4(c->raddr, ip));
	else
		app_fmt_addr(c->raddr, c->rport, buf);
}

static void report_conns(struct ustack *st, struct sbuf *b)
{
	struct ustack_conn_info *v;
	int n;

	v = get_conns(st, &n);
	sbuf_printf(b, "%-5s %-22s %-22s %-12s %7s %7s\n", "Proto",
		    "Local Address", "Foreign Address", "State", "Send-Q",
		    "Recv-Q");
	for (int i = 0; i < n; i++) {
		const struct ustack_conn_info *c = &v[i];
		char l[22], r[22];

		app_fmt_addr(c->laddr, c->lport, l);
		fmt_remote(c, r);
		sbuf_printf(b, "%-5s %-22s %-22s %-12s %7u %7u\n",
			    proto_name(c->proto), l, r,
			    c->proto == IPPROTO_TCP ?
				    ustack_tcp_state_name(c->state) : "",
			    c->snd_queued, c->rcv_queued);
	}
	free(v);
}

static void report_tcp(struct ustack *st, struct sbuf *b)
{
	struct ustack_conn_info *v;
	int n;

	v = get_conns(st, &n);
	sbuf_printf(b, "%-22s %-22s %-12s %8s %8s %8s %10s %8s %8s %5s %7s\n",
		    "Local Address", "Foreign Address", "State", "srtt_us",
		    "rto_us", "cwnd", "ssthresh", "snd_wnd", "rcv_wnd", "mss",
		    "retrans");
	for (int i = 0; i < n; i++) {
		const struct ustack_conn_info *c = &v[i];
		char l[22], r[22];

		if (c->proto != IPPROTO_TCP)
			continue;
		app_fmt_addr(c->laddr, c->lport, l);
		fmt_remote(c, r);
		sbuf_printf(b, "%-22s %-22s %-12s %8u %8u %8u %10u %8u %8u "
			    "%5u %7u\n", l, r, ustack_tcp_state_name(c->state),
			    c->srtt_us, c->rto_us, c->cwnd, c->ssthresh,
			    c->snd_wnd, c->rcv_wnd, c->mss, c->retransmits);
	}
	free(v);
}

/* ---- ARP, counters, interface ------------------------------------------- */

static void report_arp(struct ustack *st, struct sbuf *b)
{
	struct ustack_arp_info v[512];
	ustack_time_t now = ustack_now(st);
	int n = ustack_arp_list(st, v, 512);

	sbuf_printf(b, "%-16s %-18s %-11s %9s %7s\n", "Address", "HWaddress",
		    "State", "Expires", "Pending");
	for (int i = 0; i < n && i < 512; i++) {
		const struct ustack_arp_info *e = &v[i];
		const uint8_t *m = e->mac;
		char ip[16], exp[24];

		if (e->expires_at == USTACK_TIME_NEVER)
			snprintf(exp, sizeof(exp), "never");
		else if (e->expires_at <= now)
			snprintf(exp, sizeof(exp), "now");
		else
			snprintf(exp, sizeof(exp), "%.1fs",
				 (double)(e->expires_at - now) / 1e6);
		sbuf_printf(b, "%-16s %02x:%02x:%02x:%02x:%02x:%02x  %-11s "
			    "%9s %7u\n", ustack_fmt_ip4(e->addr, ip), m[0], m[1],
			    m[2], m[3], m[4], m[5], e->state, exp, e->pending);
	}
	if (n > 512)
		sbuf_printf(b, "(%d more)\n", n - 512);
}

static void report_stats(struct ustack *st, const char *prefix,
			 struct sbuf *b)
{
	size_t plen = prefix ? strlen(prefix) : 0;

	for (int i = 0; i < USTACK_STAT__COUNT; i++) {
		const char *name = ustack_stat_name((enum ustack_stat_id)i);

		if (plen && strncmp(name, prefix, plen) != 0)
			continue;
		sbuf_printf(b, "%-28s %llu\n", name,
			    (unsigned long long)ustack_stat(st, (enum ustack_stat_id)i));
	}
}

static void report_iface(struct app *a, struct sbuf *b)
{
	struct ustack *st = a->st;
	const struct ustack_config *c = ustack_get_config(st);
	const uint8_t *m = c->mac;
	char ip[16];

	sbuf_printf(b, "%s: device %s (%s%s)%s%s\n", a->desc->name, a->o.dev,
		    a->tap_created ? "created by us, " : "",
		    ustack_get_dev(st)->kind, a->o.pcap ? ", pcap " : "",
		    a->o.pcap ? a->o.pcap : "");
	sbuf_printf(b, "  inet %s/%u", ustack_fmt_ip4(c->addr, ip),
		    c->prefix_len);
	sbuf_printf(b, "  gateway %s", c->gateway ?
		    ustack_fmt_ip4(c->gateway, ip) : "none");
	if (a->host_addr)
		sbuf_printf(b, "  kernel side %s/%u",
			    ustack_fmt_ip4(a->host_addr, ip), a->host_prefix_len);
	sbuf_printf(b, "\n  ether %02x:%02x:%02x:%02x:%02x:%02x  mtu %u\n",
		    m[0], m[1], m[2], m[3], m[4], m[5], c->mtu);
	sbuf_printf(b, "  rx %llu frames %llu bytes  tx %llu frames %llu bytes"
		    "  tx errors %llu\n",
		    (unsigned long long)ustack_stat(st, USTACK_STAT_ETH_RX),
		    (unsigned long long)ustack_stat(st, USTACK_STAT_ETH_RX_BYTES),
		    (unsigned long long)ustack_stat(st, USTACK_STAT_ETH_TX),
		    (unsigned long long)ustack_stat(st, USTACK_STAT_ETH_TX_BYTES),
		    (unsigned long long)ustack_stat(st, USTACK_STAT_ETH_TX_ERRORS));
	sbuf_printf(b, "  packet buffers in use %u  uptime %.1fs\n",
		    ustack_pkb_in_use(st),
		    (double)(app_now() - a->started_at) / 1e6);
	if (a->fault) {
		struct ustack_fault_stats fs;

		ustack_fault_get_stats(a->fault, &fs);
		sbuf_printf(b, "  fault %s: %llu frames, %llu dropped, %llu "
			    "duplicated, %llu reordered, %llu corrupted, %llu "
			    "delayed\n", a->o.fault,
			    (unsigned long long)fs.frames,
			    (unsigned long long)fs.dropped,
			    (unsigned long long)fs.duplicated,
			    (unsigned long long)fs.reordered,
			    (unsigned long long)fs.corrupted,
			    (unsigned long long)fs.delayed);
	}
}

/* The packet filter's rules in order, with their hit counters. */
static void report_filter(struct ustack *st, struct sbuf *b)
{
	struct ustack_filter_info v[USTACK_FILTER_MAX];
	int n = ustack_filter_list(st, v, USTACK_FILTER_MAX);

	sbuf_printf(b, "Filter: %d rule%s, first match wins, default allow\n",
		    n, n == 1 ? "" : "s");
	if (n == 0)
		return;
	sbuf_printf(b, "%4s %10s %12s  %s\n", "#", "Hits", "Bytes", "Rule");
	for (int i = 0; i < n && i < USTACK_FILTER_MAX; i++)
		sbuf_printf(b, "%4d %10llu %12llu  %s\n", i + 1,
			    (unsigned long long)v[i].hits,
			    (unsigned long long)v[i].bytes, v[i].text);
}

static const char report_help[] =
	"commands: conns | tcp | arp | stats [PREFIX] | iface | filter | all | help\n";

int app_report(struct app *a, const char *line, struct sbuf *b)
{
	char cmd[32] = "", arg[64] = "";
	int rc = 0;

	if (sscanf(line, "%31s %63s", cmd, arg) < 1)
		snprintf(cmd, sizeof(cmd), "all");
	ustack_lock(a->st);
	if (strcmp(cmd, "conns") == 0) {
		report_conns(a->st, b);
	} else if (strcmp(cmd, "tcp") == 0) {
		report_tcp(a->st, b);
	} else if (strcmp(cmd, "arp") == 0) {
		report_arp(a->st, b);
	} else if (strcmp(cmd, "stats") == 0) {
		report_stats(a->st, arg[0] ? arg : NULL, b);
	} else if (strcmp(cmd, "iface") == 0) {
		report_iface(a, b);
	} else if (strcmp(cmd, "filter") == 0) {
		report_filter(a->st, b);
	} else if (strcmp(cmd, "all") == 0) {
		report_iface(a, b);
		sbuf_printf(b, "\n");
		report_conns(a->st, b);
		sbuf_printf(b, "\n");
		report_arp(a->st, b);
		sbuf_printf(b, "\n");
		report_stats(a->st, NULL, b);
	} else if (strcmp(cmd, "help") == 0) {
		sbuf_printf(b, "%s", report_help);
	} else {
		sbuf_printf(b, "error: unknown command '%s'; %s", cmd,
			    report_help);
		rc = -1;
	}
	ustack_unlock(a->st);
	return rc;
}
