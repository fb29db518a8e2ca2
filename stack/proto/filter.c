/*
 * filter.c - the packet filter: rules parsed from text, matched in order
 * against every datagram IPv4 is about to deliver (after reassembly, so a
 * fragmented datagram is judged whole, with its ports), first match wins,
 * no match allows. Each rule counts its packets and bytes.
 *
 * reject answers as a firewall does (iptables REJECT, nftables reject):
 * - TCP: a RST built as RFC 9293 3.10.7.1 builds it for a closed port, so
 *   the client sees "connection refused" at once;
 * - UDP: ICMP port unreachable (code 3), again what a closed port says, so
 *   a connected UDP socket gets ECONNREFUSED and nothing tells a scanner
 *   that a filter is there (iptables' and nftables' default);
 * - anything else (ICMP, unknown protocols): ICMP destination unreachable,
 *   communication administratively prohibited (RFC 1812 5.2.7.1, code 13),
 *   since "port unreachable" means nothing for a protocol without ports.
 *   `with admin-prohibited` asks for code 13 for TCP and UDP too (honest
 *   about the filter; Linux maps it to EHOSTUNREACH).
 * Replies are rate-limited: ICMP ones by icmp_send_error's token bucket,
 * RSTs by a bucket of their own with the same parameters
 * (cfg.icmp_rate_per_sec, cfg.icmp_rate_burst), so a flood of filtered
 * segments cannot make us a reflector. Never a reply to a RST, to a
 * broadcast or to a segment with a bad checksum.
 *
 * May touch: st->filter, icmp_send_error, the TCP reject handler in
 * IPv4's protocol table (ip4_proto_get), FILTER counters.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/stack.h"
#include "proto/filter.h"
#include "proto/icmp.h"
#include "proto/ip4_int.h"
#include "wire/checksum.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

#define FILTER_TOKENS 16
#define FILTER_RULE_MAX 256 /* longest rule text accepted */

/* ---- parsing ------------------------------------------------------------ */

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* "P" or "P-Q", 0..65535, P <= Q. */
static int parse_ports(const char *s, uint16_t *lo, uint16_t *hi)
{
	unsigned long a, b;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	a = strtoul(s, &end, 10);
	if (end - s > 5 || a > 65535)
		return -1;
	b = a;
	if (*end == '-') {
		s = end + 1;
		if (*s < '0' || *s > '9')
			return -1;
		b = strtoul(s, &end, 10);
		if (end - s > 5 || b > 65535 || b < a)
			return -1;
	}
	if (*end)
		return -1;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

static uint32_t prefix_mask(uint8_t len)
{
	return len ? ~0u << (32 - len) : 0;
}

/* "any", "A.B.C.D" or "A.B.C.D/N"; host bits must be zero. */
static int parse_net(const char *s, uint32_t *addr, uint8_t *len)
{
	if (strcmp(s, "any") == 0) {
		*addr = 0;
		*len = 0;
		return 0;
	}
	if (ustack_parse_cidr(s, addr, len) < 0)
		return -1;
	return (*addr & ~prefix_mask(*len)) ? -2 : 0;
}

static int parse_action(const char *s, struct filter_rule *r)
{
	if (strcmp(s, "allow") == 0 || strcmp(s, "accept") == 0)
		r->action = FILTER_ALLOW;
	else if (strcmp(s, "drop") == 0)
		r->action = FILTER_DROP;
	else if (strcmp(s, "reject") == 0)
		r->action = FILTER_REJECT;
	else
		return -1;
	return 0;
}

static int parse_proto(const char *s, uint8_t *proto)
{
	if (strcmp(s, "tcp") == 0)
		*proto = IP4_PROTO_TCP;
	else if (strcmp(s, "udp") == 0)
		*proto = IP4_PROTO_UDP;
	else if (strcmp(s, "icmp") == 0)
		*proto = IP4_PROTO_ICMP;
	else if (strcmp(s, "all") == 0 || strcmp(s, "any") == 0)
		*proto = 0;
	else
		return -1;
	return 0;
}

static int parse_reply(const char *s, uint8_t *reply)
{
	if (strcmp(s, "rst") == 0 || strcmp(s, "tcp-reset") == 0)
		*reply = FILTER_REPLY_RST;
	else if (strcmp(s, "port-unreachable") == 0)
		*reply = FILTER_REPLY_PORT_UNREACH;
	else if (strcmp(s, "admin-prohibited") == 0)
		*reply = FILTER_REPLY_ADMIN;
	else
		return -1;
	return 0;
}

/* One "KEY VALUE" clause. seen: bit per key, to refuse repeats. */
static int parse_clause(struct filter_rule *r, const char *key,
			const char *val, unsigned *seen, char *err,
			size_t errlen)
{
	static const char *const keys[] = {"from", "to", "sport", "dport",
					   "type", "with"};
	unsigned k;
	uint64_t v;
	int rc;

	for (k = 0; k < 6 && strcmp(key, keys[k]) != 0; k++)
		;
	if (k == 6)
		return fail(err, errlen, "unknown word '%s' (expected from, to, "
			    "sport, dport, type or with)", key);
	if (*seen & (1u << k))
		return fail(err, errlen, "'%s' given twice", key);
	*seen |= 1u << k;
	if (!val)
		return fail(err, errlen, "'%s' needs a value", key);
	switch (k) {
	case 0:
	case 1:
		rc = k == 0 ? parse_net(val, &r->src, &r->src_len)
			    : parse_net(val, &r->dst, &r->dst_len);
		if (rc == -2)
			return fail(err, errlen, "%s: address '%s' has bits "
				    "set beyond its prefix length", key, val);
		if (rc < 0)
			return fail(err, errlen, "%s: expected an address like "
				    "10.0.0.0/24, A.B.C.D or any, got '%s'", key,
				    val);
		return 0;
	case 2:
	case 3:
		if (k == 2 ? parse_ports(val, &r->sport_lo, &r->sport_hi)
			   : parse_ports(val, &r->dport_lo, &r->dport_hi))
			return fail(err, errlen, "%s: expected a port 0..65535 "
				    "or a range like 1000-2000, got '%s'", key, val);
		return 0;
	case 4:
		v = strtoul(val, NULL, 10);
		if (*val < '0' || *val > '9' || strspn(val, "0123456789") !=
		    strlen(val) || strlen(val) > 3 || v > 255)
			return fail(err, errlen, "type: expected an ICMP type "
				    "0..255, got '%s'", val);
		r->has_type = 1;
		r->icmp_type = (uint8_t)v;
		return 0;
	default:
		if (parse_reply(val, &r->reply) < 0)
			return fail(err, errlen, "with: expected rst, "
				    "port-unreachable or admin-prohibited, got "
				    "'%s'", val);
		return 0;
	}
}

/* What parse_clause cannot see alone: keys that need a protocol. */
static int check_rule(const struct filter_rule *r, unsigned seen, char *err,
		      size_t errlen)
{
	int ports = (seen & (1u << 2 | 1u << 3)) != 0;

	if (ports && r->proto != IP4_PROTO_TCP && r->proto != IP4_PROTO_UDP)
		return fail(err, errlen, "sport/dport need 'tcp' or 'udp' "
			    "before them");
	if (r->has_type && r->proto != IP4_PROTO_ICMP)
		return fail(err, errlen, "type needs 'icmp' before it");
	if ((seen & (1u << 5)) && r->action != FILTER_REJECT)
		return fail(err, errlen, "'with' goes only with reject");
	if (r->reply == FILTER_REPLY_RST && r->proto != IP4_PROTO_TCP)
		return fail(err, errlen, "'with rst' needs 'tcp'");
	return 0;
}

static int filter_parse(const char *text, struct filter_rule *r, char *err,
			size_t errlen)
{
	char buf[FILTER_RULE_MAX + 1];
	char *tok[FILTER_TOKENS + 1], *save = NULL, *t;
	unsigned n = 0, i = 1, seen = 0;

	memset(r, 0, sizeof(*r));
	r->sport_hi = r->dport_hi = 65535;
	if (!text)
		return fail(err, errlen, "no rule");
	if (strlen(text) > FILTER_RULE_MAX)
		return fail(err, errlen, "rule longer than 256 characters");
	strcpy(buf, text);
	for (t = strtok_r(buf, " \t\r\n", &save); t;
	     t = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == FILTER_TOKENS)
			return fail(err, errlen, "too many words in the rule");
		tok[n++] = t;
	}
	if (n == 0)
		return fail(err, errlen, "empty rule (expected e.g. 'drop tcp "
			    "dport 23')");
	if (parse_action(tok[0], r) < 0)
		return fail(err, errlen, "unknown action '%s' (expected allow, "
			    "drop or reject)", tok[0]);
	if (i < n && parse_proto(tok[i], &r->proto) == 0)
		i++;
	while (i < n) {
		int rc = parse_clause(r, tok[i], i + 1 < n ? tok[i + 1] : NULL,
				      &seen, err, errlen);

		if (rc < 0)
			return rc;
		i += 2;
	}
	return check_rule(r, seen, err, errlen);
}

/* ---- canonical text ----------------------------------------------------- */

static void fmt_ports(char *b, size_t len, const char *key, uint16_t lo,
		      uint16_t hi)
{
	if (lo == 0 && hi == 65535)
		return;
	if (lo == hi)
		snprintf(b + strlen(b), len - strlen(b), " %s %u", key, lo);
	else
		snprintf(b + strlen(b), len - strlen(b), " %s %u-%u", key, lo, hi);
}

static void fmt_net(char *b, size_t len, const char *key, uint32_t a,
		    uint8_t plen)
{
	char ip[16];

	if (plen == 0)
		return;
	snprintf(b + strlen(b), len - strlen(b), " %s %s/%u", key,
		 ustack_fmt_ip4(a, ip), plen);
}

static void filter_format(const struct filter_rule *r, char *b, size_t len)
{
	static const char *const act[] = {"allow", "drop", "reject"};
	static const char *const reply[] = {"", "rst", "port-unreachable",
					    "admin-prohibited"};
	const char *p = r->proto == IP4_PROTO_TCP ? "tcp" :
			r->proto == IP4_PROTO_UDP ? "udp" :
			r->proto == IP4_PROTO_ICMP ? "icmp" : "all";

	if (!len)
		return;
	snprintf(b, len, "%s %s", act[r->action], p);
	fmt_net(b, len, "from", r->src, r->src_len);
	fmt_net(b, len, "to", r->dst, r->dst_len);
	fmt_ports(b, len, "sport", r->sport_lo, r->sport_hi);
	fmt_ports(b, len, "dport", r->dport_lo, r->dport_hi);
	if (r->has_type)
		snprintf(b + strlen(b), len - strlen(b), " type %u",
			 r->icmp_type);
	if (r->reply != FILTER_REPLY_AUTO)
		snprintf(b + strlen(b), len - strlen(b), " with %s",
			 reply[r->reply]);
}

/* The RST reply bucket: icmp.c's parameters (cfg.icmp_rate_*). */
static uint64_t rst_cost_us(const struct ustack *st)
{
	uint64_t c = st->cfg.icmp_rate_per_sec ?
		     1000000u / st->cfg.icmp_rate_per_sec : 1;

	return c ? c : 1;
}

static uint64_t rst_credit_max(const struct ustack *st)
{
	return rst_cost_us(st) *
	       (st->cfg.icmp_rate_burst ? st->cfg.icmp_rate_burst : 1);
}

/* ---- the public API ----------------------------------------------------- */

int ustack_filter_check(const char *rule, char *canon, size_t canonlen,
			char *err, size_t errlen)
{
	struct filter_rule r;
	int rc = filter_parse(rule, &r, err, errlen);

	if (rc == 0 && canon)
		filter_format(&r, canon, canonlen);
	return rc;
}

int ustack_filter_add(struct ustack *st, const char *rule, char *err,
		      size_t errlen)
{
	struct filter_state *f = &st->filter;
	struct filter_rule r;
	int rc = filter_parse(rule, &r, err, errlen);

	if (rc < 0)
		return rc;
	if (f->n >= USTACK_FILTER_MAX) {
		fail(err, errlen, "the filter is full (%d rules)", USTACK_FILTER_MAX);
		return -ENOSPC;
	}
	if (f->n == 0) {
		/* the first rule: a full RST bucket (the context is zeroed
		 * at creation, so an empty filter needs no set-up) */
		f->credit_at = st->now;
		f->credit_us = rst_credit_max(st);
	}
	f->rules[f->n] = r;
	return (int)f->n++;
}

int ustack_filter_list(const struct ustack *st, struct ustack_filter_info *out,
		       int max)
{
	const struct filter_state *f = &st->filter;

	for (int i = 0; i < max && (uint32_t)i < f->n; i++) {
		filter_format(&f->rules[i], out[i].text, sizeof(out[i].text));
		out[i].hits = f->rules[i].hits;
		out[i].bytes = f->rules[i].bytes;
	}
	return (int)f->n;
}

void ustack_filter_clear(struct ustack *st)
{
	st->filter.n = 0;
}

/* ---- matching ----------------------------------------------------------- */

/* The packet's fields a rule can look at. */
struct filter_pkt {
	uint32_t src, dst;
	uint8_t proto;
	uint8_t has_ports;       /* TCP/UDP with at least 4 header bytes */
	uint8_t has_type;        /* ICMP with a type byte */
	uint8_t icmp_type;
	uint16_t sport, dport;
};

static int in_net(uint32_t a, uint32_t net, uint8_t len)
{
	return (a & prefix_mask(len)) == net;
}

static int port_rule(const struct filter_rule *r)
{
	return r->sport_lo != 0 || r->sport_hi != 65535 || r->dport_lo != 0 ||
	       r->dport_hi != 65535;
}

static int rule_match(const struct filter_rule *r, const struct filter_pkt *p)
{
	if (r->proto && r->proto != p->proto)
		return 0;
	if (!in_net(p->src, r->src, r->src_len) ||
	    !in_net(p->dst, r->dst, r->dst_len))
		return 0;
	if (port_rule(r)) {
		/* too short to say: tcp/udp input drops it anyway */
		if (!p->has_ports)
			return 0;
		if (p->sport < r->sport_lo || p->sport > r->sport_hi ||
		    p->dport < r->dport_lo || p->dport > r->dport_hi)
			return 0;
	}
	if (r->has_type && (!p->has_type || p->icmp_type != r->icmp_type))
		return 0;
	return 1;
}

/* The RST bucket (same shape as icmp.c's, RFC 1812 4.3.2.8). */
static int rst_rate_ok(struct ustack *st)
{
	struct filter_state *f = &st->filter;
	uint32_t rate = st->cfg.icmp_rate_per_sec;
	uint64_t cost, max;

	if (rate == 0)
		return 1;
	cost = rst_cost_us(st);
	max = rst_credit_max(st);
	f->credit_us += st->now - f->credit_at;
	f->credit_at = st->now;
	if (f->credit_us > max)
		f->credit_us = max;
	if (f->credit_us < cost)
		return 0;
	f->credit_us -= cost;
	return 1;
}

/* RFC 9293 3.10.7.1 (CLOSED): the RST a closed port sends. */
static void reject_rst(struct ustack *st, const struct pkb *pkb)
{
	const uint8_t *h = pkb->data;
	const struct ip4_proto *p;
	uint32_t len = pkb->len;
	unsigned hl;
	uint8_t fl;

	if (len < TCP_HDR_LEN || (hl = tcp_hlen(h)) < TCP_HDR_LEN || hl > len)
		return;
	if (pkb->ip.bcast || pkb->l2_mcast || tcp_sport(h) == 0)
		return;
	if (pkb->csum == PKB_CSUM_NONE &&
	    csum_fold(csum_partial(h, len, csum_pseudo(pkb->ip.src, pkb->ip.dst,
						       IP4_PROTO_TCP, len))) != 0)
		return;
	fl = tcp_flags(h);
	if (fl & TCP_RST)
		return;
	if (!rst_rate_ok(st)) {
		STAT_INC(st, FILTER_REJECT_LIMITED);
		return;
	}
	/* TCP sends it (through IPv4's protocol table: no call by name) */
	if ((p = ip4_proto_get(st, IP4_PROTO_TCP)) && p->reject)
		p->reject(st, pkb);
}

static void reject(struct ustack *st, const struct filter_rule *r,
		   const struct pkb *pkb)
{
	uint8_t reply = r->reply;

	if (reply == FILTER_REPLY_AUTO)
		reply = pkb->ip.proto == IP4_PROTO_TCP ? FILTER_REPLY_RST :
			pkb->ip.proto == IP4_PROTO_UDP ? FILTER_REPLY_PORT_UNREACH :
			FILTER_REPLY_ADMIN;
	if (reply == FILTER_REPLY_RST) {
		reject_rst(st, pkb);
		return;
	}
	/* icmp_send_error applies RFC 1122 3.2.2's rules and its own rate
	 * limit (counted in icmp.rate_limited). */
	icmp_send_error(st, pkb, ICMP_DEST_UNREACH,
			reply == FILTER_REPLY_ADMIN ? ICMP_ADMIN_PROHIB :
			ICMP_PORT_UNREACH, 0);
}

int filter_input(struct ustack *st, struct pkb *pkb)
{
	struct filter_state *f = &st->filter;
	struct filter_pkt p;
	uint32_t i;

	if (f->n == 0)
		return 0;
	memset(&p, 0, sizeof(p));
	p.src = pkb->ip.src;
	p.dst = pkb->ip.dst;
	p.proto = pkb->ip.proto;
	if ((p.proto == IP4_PROTO_TCP || p.proto == IP4_PROTO_UDP) &&
	    pkb->len >= 4) {
		p.has_ports = 1;
		p.sport = be16_load(pkb->data);
		p.dport = be16_load(pkb->data + 2);
	} else if (p.proto == IP4_PROTO_ICMP && pkb->len >= 1) {
		p.has_type = 1;
		p.icmp_type = pkb->data[0];
	}
	for (i = 0; i < f->n; i++)
		if (rule_match(&f->rules[i], &p))
			break;
	if (i == f->n)
		return 0; /* default: allow */
	f->rules[i].hits++;
	f->rules[i].bytes += pkb->len + pkb->ip.hlen;
	switch (f->rules[i].action) {
	case FILTER_ALLOW:
		STAT_INC(st, FILTER_ALLOW);
		return 0;
	case FILTER_REJECT:
		STAT_INC(st, FILTER_REJECT);
		reject(st, &f->rules[i], pkb);
		break;
	default:
		STAT_INC(st, FILTER_DROP);
		break;
	}
	pkb_free(st, pkb);
	return 1;
}
