/*
 * tcp_conn.c - control blocks and the tables that find them: the 4-tuple
 * hash (keyed SipHash, so remote peers can not aim at one chain), the
 * listen hash by local port, the bind hash by local port (bind conflicts,
 * ephemeral ports), the list of every TCB, and the TIME_WAIT list (oldest
 * first, evicted when the table is full; only TCBs whose socket is still
 * open: the others are compact records, tcp_tw.c). Also initial sequence numbers
 * (RFC 6528) and per-connection set-up.
 *
 * May touch: st->tcp, st->rand, timers (through tcp_timer.c), malloc.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "proto/ipv4.h"
#include "proto/tcp_int.h"
#include "wire/ipv4.h"

/* Hash inputs; every byte is initialised (no padding: 16 bytes). */
struct tcp_key {
	uint32_t laddr, raddr;
	uint16_t lport, rport;
	uint32_t tag;
};

enum { KEY_TABLE = 1, KEY_ISN = 2, KEY_TS = 3 };

static uint64_t tuple_hash(const struct ustack *st, uint32_t laddr,
			   uint16_t lport, uint32_t raddr, uint16_t rport,
			   uint32_t tag)
{
	struct tcp_key k;

	memset(&k, 0, sizeof(k));
	k.laddr = laddr;
	k.raddr = raddr;
	k.lport = lport;
	k.rport = rport;
	k.tag = tag;
	return rand_hash(&st->rand, &k, sizeof(k));
}

static uint32_t pow2_at_least(uint32_t n, uint32_t lo, uint32_t hi)
{
	uint32_t s = lo;

	while (s < n && s < hi)
		s <<= 1;
	return s;
}

int tcp_init(struct ustack *st)
{
	struct tcp_state *t = &st->tcp;
	uint32_t n = pow2_at_least(st->cfg.tcp_max_conns, 64, 1u << 20);
	uint32_t nb = pow2_at_least(st->cfg.tcp_max_conns, 64, 4096);

	memset(t, 0, sizeof(*t));
	t->hash = calloc(n, sizeof(*t->hash));
	t->lhash = calloc(64, sizeof(*t->lhash));
	t->bhash = calloc(nb, sizeof(*t->bhash));
	if (!t->hash || !t->lhash || !t->bhash) {
		free(t->hash);
		free(t->lhash);
		free(t->bhash);
		memset(t, 0, sizeof(*t));
		return -ENOMEM;
	}
	t->hash_mask = n - 1;
	t->lhash_mask = 63;
	t->bhash_mask = nb - 1;
	ip4_proto_add(st, IP4_PROTO_TCP, &tcp_ip4_proto);
	st->rx_batch_hook = tcp_rx_batch;
	tcp_fsm_init(st);
	return 0;
}

void tcp_fini(struct ustack *st)
{
	struct tcp_state *t = &st->tcp;

	while (t->all) {
		struct tcp_conn *c = t->all;

		/* The socket table was released first (sock_table_fini); a
		 * socket that still pointed here is gone with it. */
		c->sk = NULL;
		tcp_conn_free(st, c);
	}
	tcp_tw_fini(st);
	free(t->hash);
	free(t->lhash);
	free(t->bhash);
	memset(t, 0, sizeof(*t));
}

struct tcp_conn *tcp_conn_alloc(struct ustack *st)
{
	struct tcp_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		STAT_INC(st, TCP_DROP_NO_MEM);
		return NULL;
	}
	c->state = USTACK_TCP_CLOSED;
	tcp_timers_init(c);
	c->anext = st->tcp.all;
	if (st->tcp.all)
		st->tcp.all->aprev = c;
	st->tcp.all = c;
	st->tcp.ntcb++;
	c->rcv_cap = st->cfg.tcp_rcvbuf;
	c->snd_cap = st->cfg.tcp_sndbuf;
	return c;
}

void tcp_conn_free(struct ustack *st, struct tcp_conn *c)
{
	USTACK_ASSERT(c->sk == NULL);
	tcp_timers_stop(st, c);
	if (c->parent)
		tcp_child_unlink(st, c);
	if (c->hashed)
		tcp_hash_remove(st, c);
	if (c->lhashed)
		tcp_lhash_remove(st, c);
	if (c->bhashed)
		tcp_bhash_remove(st, c);
	if (c->in_tw)
		tcp_tw_unlink(st, c);
	tcp_orphan_unlink(st, c);
	if (c->aprev)
		c->aprev->anext = c->anext;
	else
		st->tcp.all = c->anext;
	if (c->anext)
		c->anext->aprev = c->aprev;
	tcp_ring_free(&c->sbuf);
	tcp_ring_free(&c->rbuf);
	tcp_ooo_release(c);
	tcp_score_release(c);
	tcp_rack_free(c);
	tcp_cubic_free(c);
	free(c->lq);
	st->tcp.ntcb--;
	free(c);
}

/* ---- hash chains ----------------------------------------------------------
 * Three tables chain TCBs in doubly-linked buckets: the 4-tuple and listen
 * hashes through c->h, the bind hash through c->b. `off` says which link. */

#define LINK(c, off) ((struct tcp_link *)(void *)((char *)(c) + (off)))
#define H_LINK offsetof(struct tcp_conn, h)
#define B_LINK offsetof(struct tcp_conn, b)

static void chain_insert(struct tcp_conn **head, struct tcp_conn *c,
			 size_t off)
{
	struct tcp_link *l = LINK(c, off);

	l->pprev = head;
	l->next = *head;
	if (*head)
		LINK(*head, off)->pprev = &l->next;
	*head = c;
}

static void chain_remove(struct tcp_conn *c, size_t off)
{
	struct tcp_link *l = LINK(c, off);

	*l->pprev = l->next;
	if (l->next)
		LINK(l->next, off)->pprev = l->pprev;
	l->next = NULL;
	l->pprev = NULL;
}

/* ---- 4-tuple hash -------------------------------------------------------- */

/* One entry remembered: the keyed hash costs about 400 instructions,
 * and a new connection's tuple is hashed up to three times in a row (the
 * SYN's lookup, the child's insert, the TIME_WAIT record's). */
uint64_t tcp_tuple_bucket(struct ustack *st, uint32_t laddr, uint16_t lport,
			  uint32_t raddr, uint16_t rport)
{
	struct tcp_memo *m = &st->tcp.memo;

	if (m->valid && m->lport == lport && m->rport == rport &&
	    m->laddr == laddr && m->raddr == raddr)
		return m->h;
	m->h = tuple_hash(st, laddr, lport, raddr, rport, KEY_TABLE) &
	       st->tcp.hash_mask;
	m->laddr = laddr;
	m->raddr = raddr;
	m->lport = lport;
	m->rport = rport;
	m->valid = 1;
	return m->h;
}

static struct tcp_conn **bucket(struct ustack *st, uint32_t laddr,
				uint16_t lport, uint32_t raddr, uint16_t rport)
{
	return &st->tcp.hash[tcp_tuple_bucket(st, laddr, lport, raddr, rport)];
}

/* Make room in a full table by ending the oldest TIME_WAIT connection
 * (what Linux does past tcp_max_tw_buckets). */
static int evict_time_wait(struct ustack *st)
{
	struct tcp_conn *tw = st->tcp.tw_head;

	/* The one that expires first: a compact record, or a TCB whose
	 * socket is still open. */
	if (!tw || (st->tcp.tw.n &&
		    tcp_tw_oldest_at(st) <= tw->t_wait.at))
		return tcp_tw_evict(st);
	tcp_done(st, tw, 0, TCP_CAUSE_ABORT);
	return 0;
}

/* Then by resetting the oldest orphan: a connection the application has
 * closed, which (in FIN_WAIT_2) may wait a minute for a peer that never
 * sends its FIN. New connections matter more (Linux's tcp_max_orphans
 * idea; issue 7: 20,000 closed connections shut out every new SYN). */
static int evict_orphan(struct ustack *st)
{
	struct tcp_conn *o = st->tcp.orph_head;

	if (!o)
		return -1;
	STAT_INC(st, TCP_ORPHANS_RECLAIMED);
	tcp_send_rst(st, o);
	tcp_done(st, o, 0, TCP_CAUSE_ABORT);
	return 0;
}

int tcp_hash_insert(struct ustack *st, struct tcp_conn *c)
{
	struct tcp_conn **b;

	USTACK_ASSERT(!c->hashed);
	if (st->tcp.nconns >= st->cfg.tcp_max_conns && evict_time_wait(st) < 0 &&
	    evict_orphan(st) < 0) {
		STAT_INC(st, TCP_DROP_CONNS_FULL);
		return -ENOBUFS;
	}
	b = bucket(st, c->laddr, c->lport, c->raddr, c->rport);
	chain_insert(b, c, H_LINK);
	c->hashed = 1;
	st->tcp.nconns++;
	return 0;
}

void tcp_hash_remove(struct ustack *st, struct tcp_conn *c)
{
	if (!c->hashed)
		return;
	chain_remove(c, H_LINK);
	c->hashed = 0;
	st->tcp.nconns--;
	if (st->tcp.lookup_hint == c)
		st->tcp.lookup_hint = NULL;
	tcp_ack_undefer(st, c);
}

/* A one-entry cache in front of the hash: the segments of a transfer come
 * in runs for one connection, and the keyed hash of the 4-tuple costs
 * about 400 instructions. The hint is always a hashed TCB (cleared in
 * tcp_hash_remove). */
struct tcp_conn *tcp_lookup_tw(struct ustack *st, uint32_t laddr,
			       uint16_t lport, uint32_t raddr, uint16_t rport,
			       struct tcp_tw **tw)
{
	struct tcp_conn *c = st->tcp.lookup_hint;
	uint64_t h;

	if (tw)
		*tw = NULL;
	if (c && c->lport == lport && c->rport == rport &&
	    c->laddr == laddr && c->raddr == raddr)
		return c;
	h = tcp_tuple_bucket(st, laddr, lport, raddr, rport);
	for (c = st->tcp.hash[h]; c; c = c->h.next)
		if (c->lport == lport && c->rport == rport &&
		    c->laddr == laddr && c->raddr == raddr) {
			st->tcp.lookup_hint = c;
			return c;
		}
	if (tw && st->tcp.tw.n)
		*tw = tcp_tw_find(st, h, laddr, lport, raddr, rport);
	return NULL;
}

struct tcp_conn *tcp_lookup(struct ustack *st, uint32_t laddr, uint16_t lport,
			    uint32_t raddr, uint16_t rport)
{
	return tcp_lookup_tw(st, laddr, lport, raddr, rport, NULL);
}

/* ---- listen hash --------------------------------------------------------- */

static struct tcp_conn **lbucket(struct ustack *st, uint16_t lport)
{
	return &st->tcp.lhash[lport & st->tcp.lhash_mask];
}

void tcp_lhash_insert(struct ustack *st, struct tcp_conn *c)
{
	USTACK_ASSERT(!c->lhashed && !c->hashed);
	chain_insert(lbucket(st, c->lport), c, H_LINK);
	c->lhashed = 1;
}

void tcp_lhash_remove(struct ustack *st, struct tcp_conn *c)
{
	(void)st;
	if (!c->lhashed)
		return;
	chain_remove(c, H_LINK);
	c->lhashed = 0;
}

/* A listener bound to laddr exactly wins over one bound to any address. */
struct tcp_conn *tcp_listener_lookup(struct ustack *st, uint32_t laddr,
				     uint16_t lport)
{
	struct tcp_conn *c, *any = NULL;

	for (c = *lbucket(st, lport); c; c = c->h.next) {
		if (c->lport != lport)
			continue;
		if (c->laddr == laddr)
			return c;
		if (c->laddr == 0)
			any = c;
	}
	return any;
}

/* ---- bind hash ----------------------------------------------------------- */

static struct tcp_conn **bbucket(struct ustack *st, uint16_t lport)
{
	return &st->tcp.bhash[lport & st->tcp.bhash_mask];
}

void tcp_bhash_insert(struct ustack *st, struct tcp_conn *c)
{
	USTACK_ASSERT(!c->bhashed);
	chain_insert(bbucket(st, c->lport), c, B_LINK);
	c->bhashed = 1;
}

void tcp_bhash_remove(struct ustack *st, struct tcp_conn *c)
{
	(void)st;
	if (!c->bhashed)
		return;
	chain_remove(c, B_LINK);
	c->bhashed = 0;
}

/* First TCB of the chain holding lport; callers filter on c->lport. */
struct tcp_conn *tcp_bhash_first(struct ustack *st, uint16_t lport)
{
	return *bbucket(st, lport);
}

/* ---- TIME_WAIT list ------------------------------------------------------ */

void tcp_tw_link(struct ustack *st, struct tcp_conn *c)
{
	if (c->in_tw)
		return;
	c->twnext = NULL;
	c->twprev = st->tcp.tw_tail;
	if (st->tcp.tw_tail)
		st->tcp.tw_tail->twnext = c;
	else
		st->tcp.tw_head = c;
	st->tcp.tw_tail = c;
	c->in_tw = 1;
}

void tcp_tw_unlink(struct ustack *st, struct tcp_conn *c)
{
	if (!c->in_tw)
		return;
	if (c->twprev)
		c->twprev->twnext = c->twnext;
	else
		st->tcp.tw_head = c->twnext;
	if (c->twnext)
		c->twnext->twprev = c->twprev;
	else
		st->tcp.tw_tail = c->twprev;
	c->twnext = c->twprev = NULL;
	c->in_tw = 0;
}

/* ---- orphans ---------------------------------------------------------------
 * Connections the application closed that are still closing (FIN_WAIT_1/2,
 * CLOSING, LAST_ACK), oldest first: bounded by cfg.tcp_max_orphans, and
 * the first to go when the table is full and no TIME_WAIT is left. */

static uint32_t orphan_limit(const struct ustack *st)
{
	uint32_t m = st->cfg.tcp_max_orphans;

	return m ? m : USTACK_MAX(st->cfg.tcp_max_conns / 2, 1u);
}

void tcp_orphan_add(struct ustack *st, struct tcp_conn *c)
{
	struct tcp_conn *old;

	if (c->in_orph || !c->orphan || !TCP_ORPHAN_STATE(c->state))
		return;
	c->onext = NULL;
	c->oprev = st->tcp.orph_tail;
	if (st->tcp.orph_tail)
		st->tcp.orph_tail->onext = c;
	else
		st->tcp.orph_head = c;
	st->tcp.orph_tail = c;
	c->in_orph = 1;
	st->tcp.norphans++;
	if (st->tcp.norphans <= orphan_limit(st))
		return;
	/* Too many: the oldest goes (never c, the newest: limit >= 1). */
	old = st->tcp.orph_head;
	USTACK_ASSERT(old != c);
	STAT_INC(st, TCP_ORPHANS_OVERFLOW);
	tcp_send_rst(st, old);
	tcp_done(st, old, 0, TCP_CAUSE_ABORT);
}

void tcp_orphan_unlink(struct ustack *st, struct tcp_conn *c)
{
	if (!c->in_orph)
		return;
	if (c->oprev)
		c->oprev->onext = c->onext;
	else
		st->tcp.orph_head = c->onext;
	if (c->onext)
		c->onext->oprev = c->oprev;
	else
		st->tcp.orph_tail = c->oprev;
	c->onext = c->oprev = NULL;
	c->in_orph = 0;
	st->tcp.norphans--;
}

/* ---- per-connection set-up ----------------------------------------------- */

/* RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), M a 4-microsecond timer, F a keyed hash (SipHash). */
uint32_t tcp_isn(struct ustack *st, uint32_t laddr, uint16_t lport,
		 uint32_t raddr, uint16_t rport)
{
	if (st->tcp.isn_forced)
		return st->tcp.isn_force;
	return (uint32_t)(st->now / 4) +
	       (uint32_t)tuple_hash(st, laddr, lport, raddr, rport, KEY_ISN);
}

/* RFC 7323 7 (security): a random timestamp offset per connection. Per
 * 4-tuple, so a new incarnation of a 4-tuple continues the old one's clock
 * (RFC 6191 TIME_WAIT reuse relies on it) and SYN cookies can recompute
 * it. */
uint32_t tcp_ts_offset(struct ustack *st, uint32_t laddr, uint16_t lport,
		       uint32_t raddr, uint16_t rport)
{
	return (uint32_t)tuple_hash(st, laddr, lport, raddr, rport, KEY_TS);
}

uint8_t tcp_wscale_for(uint32_t space)
{
	uint8_t s = 0;

	while (s < TCP_MAX_WSCALE && (space >> s) > TCP_MAX_WIN)
		s++;
	return s;
}

void tcp_conn_start(struct ustack *st, struct tcp_conn *c)
{
	uint32_t mtu_mss = ip4_max_payload(st) - TCP_HDR_LEN;

	if (mtu_mss > TCP_MAX_MSS_OPT)
		mtu_mss = TCP_MAX_MSS_OPT;
	if (c->opt.maxseg && mtu_mss > c->opt.maxseg)
		mtu_mss = c->opt.maxseg;         /* TCP_MAXSEG (Linux user_mss) */
	c->iss = tcp_isn(st, c->laddr, c->lport, c->raddr, c->rport);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->snd_buf_seq = c->iss + 1;
	c->syn_acked = 0;
	c->rcv_mss = (uint16_t)mtu_mss;
	c->mss_clamp = (uint16_t)mtu_mss;
	c->smss = (uint16_t)mtu_mss;
	c->rcv_wscale = st->cfg.tcp_wscale ? tcp_wscale_for(c->rcv_cap) : 0;
	c->ts_offset = tcp_ts_offset(st, c->laddr, c->lport, c->raddr, c->rport);
	c->rto_us = tcp_rto_clamp(st, st->cfg.tcp_rto_initial_us);
	c->last_rcv_at = st->now;
	c->rcv_mss_est = TCP_DEFAULT_MSS;
	tcp_cc_init(st, c);
}

char *tcp_fmt_tuple(const struct tcp_conn *c, char *buf)
{
	char l[IP4_STRLEN], r[IP4_STRLEN];

	snprintf(buf, 48, "%s:%u %s:%u", ustack_fmt_ip4(c->laddr, l),
		 c->lport, ustack_fmt_ip4(c->raddr, r), c->rport);
	return buf;
}
