/*
 * capture.c - ustack-draw's input: read a capture with libpcap, decode
 * Ethernet/IPv4/TCP with the apps' shared parsers (apps/lib/wire.h: apps
 * see only public headers, not stack/wire/), sort the segments into
 * connections and mark what each one was (retransmission, duplicate, out
 * of window, dup ACK).
 *
 * Every length is checked before a field is read; frames that are not
 * TCP over IPv4, are cut short or malformed are counted and skipped.
 *
 * May touch: the capture file (read), its own connection table, stderr.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/ustack.h>

#include "draw.h"

/* A connection table bound: far more than one picture can show. */
#define CAPTURE_MAX_CONNS 100000
/* How far back to look for the copy a duplicate repeats. */
#define DUP_LOOKBACK 32

/* Sequence space comparisons (RFC 9293 3.4). */
static int seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static int seq_leq(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }

char *fmt_ep(uint32_t addr, uint16_t port, char *buf)
{
	char ip[16];

	snprintf(buf, 22, "%s:%u", ustack_fmt_ip4(addr, ip), port);
	return buf;
}

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void parse_options(struct seg *s, const uint8_t *o, size_t n)
{
	struct wire_tcpopt op;
	size_t pos = 0;

	/* A malformed option ends the walk: keep what was read. */
	while (wire_tcpopt_next(o, n, &pos, &op) > 0 && op.kind != TCPOPT_EOL) {
		if (op.kind == TCPOPT_MSS && op.len == TCPOLEN_MSS)
			s->mss = wire_be16(op.val);
		else if (op.kind == TCPOPT_WS && op.len == TCPOLEN_WS)
			s->wscale = op.val[0] > TCP_WS_MAX ? TCP_WS_MAX : op.val[0];
		else if (op.kind == TCPOPT_SACK_OK)
			s->sack_ok = 1;
		else if (op.kind == TCPOPT_TS && op.len == TCPOLEN_TS) {
			s->has_ts = 1;
			s->tsval = wire_be32(op.val);
			s->tsecr = wire_be32(op.val + 4);
		} else if (op.kind == TCPOPT_SACK) {
			for (size_t b = 0; b + TCPOLEN_SACK_BLOCK <= op.len - 2u &&
			     s->nsack < SEG_MAX_SACK; b += TCPOLEN_SACK_BLOCK) {
				s->sack[s->nsack][0] = wire_be32(op.val + b);
				s->sack[s->nsack][1] = wire_be32(op.val + b + 4);
				s->nsack++;
			}
		}
	}
}

/* Decode an IPv4 packet carrying TCP. Returns 0, or -1 to skip it. */
static int decode_ip4(const uint8_t *p, size_t caplen, struct seg *s,
		      uint32_t *src, uint32_t *dst, uint16_t *sport,
		      uint16_t *dport)
{
	struct wire_ip4 ip;
	struct wire_tcp th;
	const uint8_t *t;

	if (wire_ip4_parse(p, caplen, &ip) < 0 || ip.total < ip.hlen ||
	    ip.proto != IP4_PROTO_TCP)
		return -1;
	/* Fragments are not reassembled: only whole datagrams count. */
	if (ip.frag & (IP4_FRAG_OFFSET_MASK | IP4_FLAG_MF))
		return -1;
	caplen = ip.end; /* without Ethernet padding */
	t = p + ip.hlen;
	if (wire_tcp_parse(t, caplen - ip.hlen, &th) < 0 ||
	    th.doff < TCP_MIN_LEN || ip.hlen + th.doff > caplen)
		return -1;
	*src = wire_be32(p + IP4_OFF_SRC);
	*dst = wire_be32(p + IP4_OFF_DST);
	*sport = th.sport;
	*dport = th.dport;
	s->ip_id = wire_be16(p + IP4_OFF_ID);
	s->seq = th.seq;
	s->ack = th.ack;
	s->flags = th.flags;
	s->win = th.win;
	s->len = ip.total - ip.hlen - th.doff; /* even if not all captured */
	s->payload_hash = fnv1a(t + th.doff, caplen - ip.hlen - th.doff);
	s->mss = s->wscale = -1;
	parse_options(s, t + TCP_MIN_LEN, th.doff - TCP_MIN_LEN);
	return 0;
}

static int decode_frame(int dlt, const uint8_t *p, size_t caplen,
			struct seg *s, uint32_t *src, uint32_t *dst,
			uint16_t *sport, uint16_t *dport)
{
	size_t off = 0;

	if (dlt == DLT_EN10MB) {
		uint16_t type;

		if (caplen < ETH_HDR_LEN)
			return -1;
		type = wire_be16(p + ETH_OFF_TYPE);
		off = ETH_HDR_LEN;
		if (type == ETH_TYPE_VLAN) {
			if (caplen < ETH_HDR_LEN + VLAN_HDR_LEN)
				return -1;
			type = wire_be16(p + ETH_OFF_TYPE + VLAN_HDR_LEN);
			off += VLAN_HDR_LEN;
		}
		if (type != ETH_TYPE_IPV4)
			return -1;
	}
	return decode_ip4(p + off, caplen - off, s, src, dst, sport, dport);
}

static struct conn *conn_find(struct capture *cap, uint32_t src, uint32_t dst,
			      uint16_t sport, uint16_t dport, int *dir)
{
	/* The newest connection with this 4-tuple (a tuple may be reused). */
	for (size_t i = cap->n; i-- > 0;) {
		struct conn *c = &cap->c[i];

		if (c->addr[0] == src && c->port[0] == sport &&
		    c->addr[1] == dst && c->port[1] == dport) {
			*dir = 0;
			return c;
		}
		if (c->addr[1] == src && c->port[1] == sport &&
		    c->addr[0] == dst && c->port[0] == dport) {
			*dir = 1;
			return c;
		}
	}
	return NULL;
}

static struct conn *conn_new(struct capture *cap, uint32_t src, uint32_t dst,
			     uint16_t sport, uint16_t dport)
{
	struct conn *c;

	if (cap->n >= CAPTURE_MAX_CONNS)
		return NULL;
	if (cap->n == cap->cap) {
		size_t n = cap->cap ? cap->cap * 2 : 16;
		struct conn *v = realloc(cap->c, n * sizeof(*v));

		if (!v)
			return NULL;
		cap->c = v;
		cap->cap = n;
	}
	c = &cap->c[cap->n++];
	memset(c, 0, sizeof(*c));
	c->addr[0] = src;
	c->addr[1] = dst;
	c->port[0] = sport;
	c->port[1] = dport;
	return c;
}

static int conn_add(struct conn *c, const struct seg *s)
{
	if (c->n == c->cap) {
		size_t n = c->cap ? c->cap * 2 : 64;
		struct seg *v = realloc(c->v, n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = n;
	}
	c->v[c->n++] = *s;
	if (s->flags & TH_RST)
		c->ended = 1;
	return 0;
}

/* Which connection a segment belongs to; a SYN on a tuple whose
 * connection has ended (or that opens with another ISN) starts a new one. */
static struct conn *conn_for(struct capture *cap, struct seg *s, uint32_t src,
			     uint32_t dst, uint16_t sport, uint16_t dport)
{
	int dir = 0;
	struct conn *c = conn_find(cap, src, dst, sport, dport, &dir);

	if (c && (s->flags & (TH_SYN | TH_ACK)) == TH_SYN && c->syn_seen[dir] &&
	    c->isn[dir] != s->seq)
		c = NULL; /* a new incarnation */
	else if (c && (s->flags & TH_SYN) && c->ended && !c->syn_seen[dir])
		c = NULL;
	if (!c) {
		/* Endpoint 0 opens: the receiver of a SYN-ACK seen first. */
		if ((s->flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK))
			c = conn_new(cap, dst, src, dport, sport), dir = 1;
		else
			c = conn_new(cap, src, dst, sport, dport), dir = 0;
		if (!c)
			return NULL;
	}
	s->dir = dir;
	if ((s->flags & TH_SYN) && !c->syn_seen[dir]) {
		c->syn_seen[dir] = 1;
		c->isn[dir] = s->seq;
	}
	return c;
}

int capture_read(const char *path, struct capture *cap, char *err,
		 size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *p;
	pcap_t *pc;
	int dlt, r;

	memset(cap, 0, sizeof(*cap));
	pc = pcap_open_offline_with_tstamp_precision(path,
						     PCAP_TSTAMP_PRECISION_MICRO,
						     perr);
	if (!pc) {
		snprintf(err, errlen, "%s", perr);
		return -EINVAL;
	}
	dlt = pcap_datalink(pc);
	if (dlt != DLT_EN10MB && dlt != DLT_RAW) {
		snprintf(err, errlen, "%s: link type %s: only Ethernet and raw IP "
			 "captures are read", path, pcap_datalink_val_to_name(dlt));
		pcap_close(pc);
		return -EPROTONOSUPPORT;
	}
	while ((r = pcap_next_ex(pc, &h, &p)) == 1) {
		struct seg s;
		uint32_t src, dst;
		uint16_t sport, dport;
		struct conn *c;

		cap->frames++;
		memset(&s, 0, sizeof(s));
		if (decode_frame(dlt, p, h->caplen, &s, &src, &dst, &sport,
				 &dport) < 0) {
			cap->non_tcp++;
			continue;
		}
		s.t_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		s.frame = (uint32_t)cap->frames;
		if ((c = conn_for(cap, &s, src, dst, sport, dport)) == NULL ||
		    conn_add(c, &s) < 0) {
			snprintf(err, errlen, "%s: out of memory or too many "
				 "connections", path);
			pcap_close(pc);
			capture_free(cap);
			return -ENOMEM;
		}
	}
	if (r == -1)
		fprintf(stderr, "ustack-draw: %s: %s (read what came before)\n",
			path, pcap_geterr(pc));
	pcap_close(pc);
	for (size_t i = 0; i < cap->n; i++)
		conn_analyse(&cap->c[i]);
	return 0;
}

void capture_free(struct capture *cap)
{
	for (size_t i = 0; i < cap->n; i++)
		free(cap->c[i].v);
	free(cap->c);
	memset(cap, 0, sizeof(*cap));
}

uint32_t seg_seglen(const struct seg *s)
{
	return s->len + !!(s->flags & TH_SYN) + !!(s->flags & TH_FIN);
}

uint32_t seg_rel_seq(const struct conn *c, const struct seg *s)
{
	return s->seq - c->isn[s->dir];
}

uint32_t seg_rel_ack(const struct conn *c, const struct seg *s)
{
	return (s->flags & TH_ACK) ? s->ack - c->isn[!s->dir] : 0;
}

static int same_segment(const struct seg *a, const struct seg *b)
{
	return a->dir == b->dir && a->ip_id == b->ip_id && a->seq == b->seq &&
	       a->ack == b->ack && a->flags == b->flags && a->win == b->win &&
	       a->len == b->len && a->payload_hash == b->payload_hash;
}

/* What each side has done so far, as the analysis walks the segments. */
struct side {
	int sent;                 /* has sent a segment */
	uint32_t snd_max;         /* highest seq + seglen sent */
	int acked;                /* has sent an ACK */
	uint32_t last_ack;        /* its last ACK and window (scaled) */
	uint32_t last_wnd;
	uint16_t last_win_field;
	int dupacks;
};

/* RFC 9293 3.10.7.4: the receiver's acceptability test, against what the
 * receiver last advertised (its ACK and window). */
static int in_window(const struct side *rcv, const struct seg *s)
{
	uint32_t len = seg_seglen(s), nxt = rcv->last_ack, wnd = rcv->last_wnd;

	if (!rcv->acked)
		return 1;
	if (len == 0)
		return wnd == 0 ? s->seq == nxt
				: seq_leq(nxt, s->seq) && seq_lt(s->seq, nxt + wnd);
	if (wnd == 0)
		return 0;
	return (seq_leq(nxt, s->seq) && seq_lt(s->seq, nxt + wnd)) ||
	       (seq_leq(nxt, s->seq + len - 1) &&
		seq_lt(s->seq + len - 1, nxt + wnd));
}

static void classify(struct conn *c, size_t i, struct side sd[2])
{
	struct seg *s = &c->v[i];
	struct side *me = &sd[s->dir], *peer = &sd[!s->dir];
	uint32_t len = seg_seglen(s);
	size_t lo = i > DUP_LOOKBACK ? i - DUP_LOOKBACK : 0;

	s->kind = SEG_NORMAL;
	for (size_t j = i; j-- > lo;)
		if (same_segment(&c->v[j], s)) {
			s->kind = SEG_DUP;
			return;
		}
	if (len > 0 && me->sent && seq_lt(s->seq, me->snd_max))
		s->kind = SEG_RETRANS;
	else if (!(s->flags & TH_SYN) && !in_window(peer, s))
		s->kind = SEG_OUT_OF_WINDOW;
	else if (len == 0 && !(s->flags & TH_RST) && (s->flags & TH_ACK) &&
		 me->acked && s->ack == me->last_ack &&
		 s->win == me->last_win_field && peer->sent &&
		 seq_lt(s->ack, peer->snd_max)) {
		s->kind = SEG_DUPACK;
		s->dupack_n = ++me->dupacks;
	}
	if (s->kind != SEG_DUPACK && (s->flags & TH_ACK) &&
	    (!me->acked || s->ack != me->last_ack))
		me->dupacks = 0;
}

/* Mark every segment (enum seg_kind) and count each side's bytes. */
void conn_analyse(struct conn *c)
{
	struct side sd[2];
	int ws[2] = {-1, -1}, fin[2] = {0, 0};

	memset(sd, 0, sizeof(sd));
	for (size_t i = 0; i < c->n; i++) {
		struct seg *s = &c->v[i];

		if (s->flags & TH_SYN)
			ws[s->dir] = s->wscale;
	}
	/* Without a SYN, sequence numbers count from the first seen. */
	for (int d = 0; d < 2; d++)
		if (!c->syn_seen[d])
			for (size_t i = 0; i < c->n; i++)
				if (c->v[i].dir == d) {
					c->isn[d] = c->v[i].seq;
					break;
				}
	/* RFC 7323 2.2: scaling only when both SYNs carried the option. */
	for (int d = 0; d < 2; d++)
		c->wscale[d] = ws[0] >= 0 && ws[1] >= 0 ? ws[d] : 0;
	for (size_t i = 0; i < c->n; i++) {
		struct seg *s = &c->v[i];
		struct side *me = &sd[s->dir];
		uint32_t end = s->seq + seg_seglen(s);

		classify(c, i, sd);
		if (s->flags & TH_FIN)
			fin[s->dir] = 1;
		if (!me->sent || seq_lt(me->snd_max, end))
			me->snd_max = end;
		me->sent = 1;
		if (s->flags & TH_ACK) {
			me->acked = 1;
			me->last_ack = s->ack;
			me->last_win_field = s->win;
			me->last_wnd = (s->flags & TH_SYN)
					       ? s->win
					       : (uint32_t)s->win << c->wscale[s->dir];
		}
	}
	/* Bytes of data: the span of sequence space sent, without SYN and
	 * FIN (a segment lost before the capture point still counts once
	 * its retransmission is seen). */
	for (int d = 0; d < 2; d++)
		c->bytes[d] = sd[d].sent ? (uint32_t)(sd[d].snd_max - c->isn[d]) -
					   (uint32_t)c->syn_seen[d] - (uint32_t)fin[d]
					 : 0;
	if (fin[0] && fin[1])
		c->ended = 1;
}

const char *seg_kind_name(enum seg_kind k)
{
	switch (k) {
	case SEG_RETRANS: return "retransmission";
	case SEG_DUP: return "duplicate";
	case SEG_OUT_OF_WINDOW: return "out of window";
	case SEG_DUPACK: return "dup ACK";
	default: return "";
	}
}

char *seg_flags_str(uint8_t flags, char *buf, size_t len)
{
	static const struct { uint8_t bit; const char *name; } names[] = {
		{TH_SYN, "SYN"}, {TH_FIN, "FIN"}, {TH_RST, "RST"},
		{TH_PSH, "PSH"}, {TH_URG, "URG"}, {TH_ECE, "ECE"},
		{TH_CWR, "CWR"}, {TH_ACK, "ACK"},
	};
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & names[i].bit)
			n += (size_t)snprintf(buf + n, n < len ? len - n : 0,
					      "%s%s", n ? ", " : "",
					      names[i].name);
	if (!n)
		snprintf(buf, len, "none");
	return buf;
}

char *seg_opts_str(const struct conn *c, const struct seg *s, char *buf,
		   size_t len)
{
	size_t n = 0;

#define ADD(...)                                                               \
	n += (size_t)snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__)
	buf[0] = 0;
	if (s->mss >= 0)
		ADD("%smss %d", n ? "," : "", s->mss);
	if (s->sack_ok)
		ADD("%ssackOK", n ? "," : "");
	if (s->has_ts)
		ADD("%sTS val %u ecr %u", n ? "," : "", s->tsval, s->tsecr);
	if (s->wscale >= 0)
		ADD("%swscale %d", n ? "," : "", s->wscale);
	for (int i = 0; i < s->nsack; i++)
		ADD("%ssack %u-%u", n ? "," : "",
		    s->sack[i][0] - c->isn[!s->dir],
		    s->sack[i][1] - c->isn[!s->dir]);
#undef ADD
	return buf;
}
