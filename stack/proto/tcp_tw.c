/*
 * tcp_tw.c - compact TIME_WAIT records (Linux's inet_timewait_sock idea).
 *
 * A connection in TIME_WAIT only answers segments for 2*MSL (RFC 9293
 * 3.10.7.4): it ACKs a retransmitted FIN and restarts the wait, ignores
 * RST (RFC 1337), lets a new SYN reopen the 4-tuple (RFC 6191), answers
 * other SYNs with a rate-limited challenge ACK (RFC 5961 4.2) and
 * anything else unacceptable with an ACK. Once no socket holds it (the
 * application closed first, or closes while in TIME_WAIT), what that
 * needs fits in 64 bytes, so the TCB (~800 B) is freed and a struct
 * tcp_tw takes its place:
 *   - in slabs of 1024 records (64 KiB), linked by 32-bit references, so
 *     a record costs its 64 bytes and no malloc header; the slabs go back
 *     when the last record does,
 *   - in a hash by 4-tuple beside tcp.hash (same bucket index: one keyed
 *     hash finds either; tcp_lookup_tw),
 *   - on one list in expiry order, soonest first, with one timer for the
 *     whole list (armed for the head): all records last 2*MSL from their
 *     last restart, so appending keeps the order,
 *   - counted per local port (bind and connect conflicts, tcp_sock.c),
 *   - counted in tcp.nconns, so tcp_max_conns bounds records and TCBs
 *     together and a full table evicts the record expiring first, and
 *     in tcp.ntcb (connection state still held).
 * A TIME_WAIT whose socket is still open stays a TCB (recv, poll and
 * send behave as they did) until the socket closes. TCBs of sockets
 * bound explicitly (their port reservation lives in the bind hash) also
 * stay TCBs.
 *
 * May touch: st->tcp (the tables, nconns), output (tcp_send_raw_tx), the
 * listeners (RFC 6191 reuse), counters, the log (state trace).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "proto/ipv4.h"
#include "proto/tcp_int.h"
#include "wire/tcp.h"

#define TW_PORTS 65536u
#define TW_CHAL_MAX 2047u          /* chal_count's 11 bits */
#define TW_SLAB_SHIFT 10
#define TCP_TW_SLAB (1u << TW_SLAB_SHIFT) /* records per slab (64 KiB) */

/* Links are references: slab * TCP_TW_SLAB + slot + 1, 0 for none (4
 * bytes, not 8, and no malloc header per record). */
struct tcp_tw {
	uint32_t hnext, hprev;           /* hash chain */
	uint32_t lnext, lprev;           /* expiry list (lnext: free list) */
	ustack_time_t expire_at;         /* 2*MSL after entry or restart */
	uint32_t laddr, raddr;           /* host order */
	uint16_t lport, rport;
	uint32_t snd_nxt;                /* SND.NXT (our FIN acked: = SND.UNA) */
	uint32_t rcv_nxt;                /* RCV.NXT (past the peer's FIN) */
	uint32_t ts_recent;              /* RFC 7323 TS.Recent */
	uint32_t bucket;                 /* its tcp.hash index (unlinked
					    without hashing again) */
	uint32_t chal_slot_us;           /* RFC 5961 7: the one-second slot's
					    start (low 32 bits of st->now) */
	uint16_t wnd;                    /* the window field our ACKs carry */
	uint16_t rto_ms;                 /* the TCB's RTO (netstat, exit) */
	uint16_t chal_count : 11,        /* challenge ACKs in the slot */
		 ts_ok : 1,              /* RFC 7323 timestamps in use */
		 rcv_wscale : 4;         /* our window shift (netstat) */
	uint8_t ttl, tos;                /* IP_TTL, IP_TOS of the socket */
};

/* 64 bytes, in slabs of 1024 (tests/unit/check_tcp_conns.c measures the
 * heap per record). Our timestamp offset is not kept: it is a keyed hash
 * of the 4-tuple (tcp_ts_offset), computed again for the rare ACK. */
_Static_assert(sizeof(struct tcp_tw) <= 64, "struct tcp_tw grew");

static void expire_fire(struct ustack *st, struct timer *t, ustack_time_t now);

static struct tcp_tw *rec(const struct tcp_tw_table *tt, uint32_t ref)
{
	uint32_t id = ref - 1;

	return &tt->slabs[id >> TW_SLAB_SHIFT][id & (TCP_TW_SLAB - 1)];
}

/* r's own reference, from its neighbour on the expiry list. */
static uint32_t ref_of(const struct tcp_tw_table *tt, const struct tcp_tw *r)
{
	return r->lprev ? rec(tt, r->lprev)->lnext : tt->head;
}

static int table_init(struct ustack *st)
{
	struct tcp_tw_table *tt = &st->tcp.tw;

	if (tt->hash)
		return 0;
	tt->hash = calloc((size_t)st->tcp.hash_mask + 1, sizeof(*tt->hash));
	tt->ports = calloc(TW_PORTS, sizeof(*tt->ports));
	if (!tt->hash || !tt->ports) {
		free(tt->hash);
		free(tt->ports);
		tt->hash = NULL;
		tt->ports = NULL;
		return -ENOMEM;
	}
	timer_init(&tt->t_expire, expire_fire);
	return 0;
}

/* A free record's reference, 0 if no memory. A new slab's records go on
 * the free list lowest first. */
static uint32_t rec_alloc(struct tcp_tw_table *tt)
{
	struct tcp_tw **slabs, *slab;
	uint32_t ref;

	if (!tt->free) {
		if (tt->nslabs >= (UINT32_MAX >> TW_SLAB_SHIFT) - 1)
			return 0;
		slabs = realloc(tt->slabs, (tt->nslabs + 1) * sizeof(*slabs));
		if (!slabs)
			return 0;
		tt->slabs = slabs;
		if ((slab = malloc(TCP_TW_SLAB * sizeof(*slab))) == NULL)
			return 0;
		tt->slabs[tt->nslabs] = slab;
		for (uint32_t i = TCP_TW_SLAB; i-- > 0;) {
			slab[i].lnext = tt->free;
			tt->free = tt->nslabs * TCP_TW_SLAB + i + 1;
		}
		tt->nslabs++;
	}
	ref = tt->free;
	tt->free = rec(tt, ref)->lnext;
	return ref;
}

/* Slabs stay while any record lives; the last one gives them all back. */
static void rec_free(struct tcp_tw_table *tt, uint32_t ref)
{
	rec(tt, ref)->lnext = tt->free;
	tt->free = ref;
	if (tt->n)
		return;
	for (uint32_t i = 0; i < tt->nslabs; i++)
		free(tt->slabs[i]);
	free(tt->slabs);
	tt->slabs = NULL;
	tt->nslabs = 0;
	tt->free = 0;
}

void tcp_tw_fini(struct ustack *st)
{
	struct tcp_tw_table *tt = &st->tcp.tw;

	if (tt->hash)
		timer_cancel(st, &tt->t_expire);
	for (uint32_t i = 0; i < tt->nslabs; i++)
		free(tt->slabs[i]);
	free(tt->slabs);
	free(tt->hash);
	free(tt->ports);
	memset(tt, 0, sizeof(*tt));
}

size_t tcp_tw_mem(void)
{
	return sizeof(struct tcp_tw);
}

/* ---- the expiry list -------------------------------------------------------
 * Sorted by expire_at. New records and restarts go to the tail (2*MSL
 * from now is the latest expiry there is); a TCB converted when its
 * socket closes keeps its remaining wait and goes back from the tail to
 * its place (a few steps when the socket closes soon after the FIN; O(n)
 * at worst). */

static void list_insert(struct ustack *st, uint32_t ref)
{
	struct tcp_tw_table *tt = &st->tcp.tw;
	struct tcp_tw *r = rec(tt, ref);
	uint32_t after = tt->tail;

	while (after && rec(tt, after)->expire_at > r->expire_at)
		after = rec(tt, after)->lprev;
	r->lprev = after;
	r->lnext = after ? rec(tt, after)->lnext : tt->head;
	if (r->lnext)
		rec(tt, r->lnext)->lprev = ref;
	else
		tt->tail = ref;
	if (after)
		rec(tt, after)->lnext = ref;
	else
		tt->head = ref;
	if (tt->head == ref)
		timer_arm(st, &tt->t_expire, r->expire_at);
}

/* Off the list; the timer follows the head unless `rearm` is 0 (the
 * expiry loop arms it once at the end). */
static void list_remove(struct ustack *st, uint32_t ref, int rearm)
{
	struct tcp_tw_table *tt = &st->tcp.tw;
	struct tcp_tw *r = rec(tt, ref);
	int was_head = tt->head == ref;

	if (r->lprev)
		rec(tt, r->lprev)->lnext = r->lnext;
	else
		tt->head = r->lnext;
	if (r->lnext)
		rec(tt, r->lnext)->lprev = r->lprev;
	else
		tt->tail = r->lprev;
	if (!rearm || !was_head)
		return;
	if (tt->head)
		timer_arm(st, &tt->t_expire, rec(tt, tt->head)->expire_at);
	else
		timer_cancel(st, &tt->t_expire);
}

/* ---- records ------------------------------------------------------------- */

static void trace_closed(struct ustack *st, const struct tcp_tw *r,
			 enum tcp_cause cause)
{
	char l[IP4_STRLEN], a[IP4_STRLEN];

	if (!st->cfg.trace_tcp && st->cfg.log_level < USTACK_LOG_DEBUG)
		return;
	/* The line tcp_set_state() writes for a TCB. */
	ulog_emit(st, st->cfg.trace_tcp ? USTACK_LOG_INFO : USTACK_LOG_DEBUG,
		  "%s:%u %s:%u TIME_WAIT -> CLOSED (%s)",
		  ustack_fmt_ip4(r->laddr, l), r->lport,
		  ustack_fmt_ip4(r->raddr, a), r->rport, tcp_cause_name(cause));
}

/* TIME_WAIT -> CLOSED for a record: traced, unlinked, freed. */
static void tw_end(struct ustack *st, struct tcp_tw *r, enum tcp_cause cause,
		   int rearm)
{
	struct tcp_tw_table *tt = &st->tcp.tw;
	uint32_t ref = ref_of(tt, r);

	trace_closed(st, r, cause);
	if (r->hprev)
		rec(tt, r->hprev)->hnext = r->hnext;
	else
		tt->hash[r->bucket] = r->hnext;
	if (r->hnext)
		rec(tt, r->hnext)->hprev = r->hprev;
	list_remove(st, ref, rearm);
	tt->ports[r->lport]--;
	tt->n--;
	st->tcp.nconns--;
	st->tcp.ntcb--;
	rec_free(tt, ref);
}

int tcp_tw_convert(struct ustack *st, struct tcp_conn *c)
{
	struct tcp_tw_table *tt = &st->tcp.tw;
	struct tcp_tw *r;
	uint32_t ref;

	if (c->state != USTACK_TCP_TIME_WAIT || c->sk || c->parent ||
	    c->bound || !c->hashed || table_init(st) < 0)
		return -1;
	if ((ref = rec_alloc(tt)) == 0)
		return -1;           /* the TCB goes on as it was */
	r = rec(tt, ref);
	memset(r, 0, sizeof(*r));
	r->laddr = c->laddr;
	r->raddr = c->raddr;
	r->lport = c->lport;
	r->rport = c->rport;
	r->snd_nxt = c->snd_max;
	r->rcv_nxt = c->rcv_nxt;
	r->ts_recent = c->ts_recent;
	r->ts_ok = c->ts_ok;
	r->rcv_wscale = c->rcv_wscale & 15u;
	r->chal_slot_us = (uint32_t)c->chal_slot_at;
	r->chal_count = (uint16_t)USTACK_MIN(c->chal_count, TW_CHAL_MAX);
	r->ttl = c->opt.ttl;
	r->tos = c->opt.tos;
	r->rto_ms = (uint16_t)USTACK_MIN((c->rto_us + 999) / 1000, 65535u);
	/* The window our ACKs would carry from now on: the receive ring is
	 * gone (no reader), rcv_nxt no longer moves. */
	r->wnd = tcp_window_field(c);
	/* The wait already running (the socket closed in TIME_WAIT), or
	 * 2*MSL from now (RFC 9293 3.10.7.4 eighth step). */
	if (c->wait_kind == TCP_WAIT_2MSL && timer_armed(&c->t_wait))
		r->expire_at = c->t_wait.at;
	else
		r->expire_at = tcp_time_add(st->now, 2 * st->cfg.tcp_msl_us);
	r->bucket = (uint32_t)tcp_tuple_bucket(st, c->laddr, c->lport, c->raddr,
					       c->rport);
	tcp_conn_free(st, c);         /* leaves tcp.hash: nconns - 1 */
	r->hnext = tt->hash[r->bucket];
	if (r->hnext)
		rec(tt, r->hnext)->hprev = ref;
	tt->hash[r->bucket] = ref;
	list_insert(st, ref);
	tt->ports[r->lport]++;
	tt->n++;
	st->tcp.nconns++;
	st->tcp.ntcb++;
	return 0;
}

struct tcp_tw *tcp_tw_find(struct ustack *st, uint64_t h, uint32_t laddr,
			   uint16_t lport, uint32_t raddr, uint16_t rport)
{
	const struct tcp_tw_table *tt = &st->tcp.tw;

	if (!tt->hash)
		return NULL;
	for (uint32_t ref = tt->hash[h]; ref; ref = rec(tt, ref)->hnext) {
		struct tcp_tw *r = rec(tt, ref);

		if (r->lport == lport && r->rport == rport &&
		    r->laddr == laddr && r->raddr == raddr)
			return r;
	}
	return NULL;
}

static void expire_fire(struct ustack *st, struct timer *t, ustack_time_t now)
{
	struct tcp_tw_table *tt = &st->tcp.tw;

	(void)t;
	while (tt->head && rec(tt, tt->head)->expire_at <= now)
		tw_end(st, rec(tt, tt->head), TCP_CAUSE_2MSL, 0);
	if (tt->head)
		timer_arm(st, &tt->t_expire, rec(tt, tt->head)->expire_at);
}

int tcp_tw_evict(struct ustack *st)
{
	if (!st->tcp.tw.head)
		return -1;
	tw_end(st, rec(&st->tcp.tw, st->tcp.tw.head), TCP_CAUSE_ABORT, 1);
	return 0;
}

ustack_time_t tcp_tw_oldest_at(const struct ustack *st)
{
	const struct tcp_tw_table *tt = &st->tcp.tw;

	return tt->head ? rec(tt, tt->head)->expire_at : USTACK_TIME_NEVER;
}

uint32_t tcp_tw_port_count(const struct ustack *st, uint16_t port)
{
	return st->tcp.tw.ports ? st->tcp.tw.ports[port] : 0;
}

/* ---- segments ------------------------------------------------------------ */

/* The ACK a TIME_WAIT TCB sends (tcp_out.c xmit): SND.NXT, RCV.NXT, the
 * window, and timestamps if in use (RFC 7323 3.2). */
static void send_ack(struct ustack *st, const struct tcp_tw *r)
{
	struct tcp_raw_tx tx = {r->ttl, r->tos, "TIME_WAIT"};
	uint8_t o[TCP_OPTLEN_TS_ALIGNED];
	unsigned ol = 0;

	if (r->ts_ok) {
		o[0] = TCP_OPT_NOP;
		o[1] = TCP_OPT_NOP;
		o[2] = TCP_OPT_TIMESTAMP;
		o[3] = TCP_OPTLEN_TIMESTAMP;
		be32_store(o + 4, tcp_ts_clock(st, tcp_ts_offset(st, r->laddr,
				r->lport, r->raddr, r->rport)));
		be32_store(o + 8, r->ts_recent);
		ol = TCP_OPTLEN_TS_ALIGNED;
	}
	tcp_send_raw_tx(st, r->laddr, r->lport, r->raddr, r->rport, r->snd_nxt,
			r->rcv_nxt, TCP_ACK, r->wnd, o, ol, &tx);
}

/* RFC 5961 7, per connection as tcp_challenge_ack() (tcp_in.c). */
static void challenge_ack(struct ustack *st, struct tcp_tw *r)
{
	uint32_t limit = USTACK_MIN(st->cfg.tcp_challenge_ack_limit, TW_CHAL_MAX);

	if ((uint32_t)st->now - r->chal_slot_us >= USTACK_SEC(1) ||
	    r->chal_count == 0) {
		r->chal_slot_us = (uint32_t)st->now;
		r->chal_count = 0;
	}
	if (r->chal_count >= limit) {
		STAT_INC(st, TCP_CHALLENGE_ACK_LIMITED);
		return;
	}
	r->chal_count++;
	STAT_INC(st, TCP_CHALLENGE_ACKS);
	send_ack(st, r);
}

void tcp_tw_input(struct ustack *st, struct tcp_tw *r, struct tcp_seg *seg)
{
	if (seg->flags & TCP_RST) {
		/* RFC 1337: a RST must not assassinate TIME_WAIT. */
		STAT_INC(st, TCP_RST_IGNORED_TW);
		return;
	}
	if (seg->flags & TCP_SYN) {
		struct tcp_conn *lc;
		uint32_t iss;

		/* RFC 6191: a new incarnation may reuse the 4-tuple. */
		if (!(seg->flags & TCP_ACK) &&
		    (lc = tcp_timewait_syn_ok(st, r->ts_ok, r->ts_recent,
					      r->rcv_nxt, r->snd_nxt, seg,
					      &iss)) != NULL) {
			tw_end(st, r, TCP_CAUSE_REUSE, 1);
			tcp_timewait_reopen(st, lc, seg, iss);
			return;
		}
		challenge_ack(st, r);          /* RFC 5961 4.2, RFC 9293 */
		return;
	}
	/* RFC 9293 3.10.7.4: the peer retransmitted its FIN (our last ACK
	 * was lost): acknowledge it and restart the 2 MSL timeout. */
	if ((seg->flags & TCP_FIN) && seg->seq + seg->len + 1 == r->rcv_nxt) {
		struct tcp_tw_table *tt = &st->tcp.tw;
		uint32_t ref = ref_of(tt, r);

		send_ack(st, r);
		list_remove(st, ref, 0);
		r->expire_at = tcp_time_add(st->now, 2 * st->cfg.tcp_msl_us);
		list_insert(st, ref);
		if (tt->head != ref)           /* list_insert armed it if so */
			timer_arm(st, &tt->t_expire,
				  rec(tt, tt->head)->expire_at);
		return;
	}
	/* Anything else that is not a bare in-sequence ACK is unacceptable:
	 * answer with an ACK (first step). */
	if (seg->len || (seg->flags & TCP_FIN) || seg->seq != r->rcv_nxt)
		send_ack(st, r);
	else
		STAT_INC(st, TCP_DROP_STATE);
}

/* ---- the connection table ------------------------------------------------- */

/* Rows n.. of tcp_conn_rows(): one per record, soonest to expire first. */
int tcp_tw_rows(struct ustack *st, struct ustack_conn_info *out, int max,
		int n)
{
	const struct tcp_tw_table *tt = &st->tcp.tw;

	for (uint32_t ref = tt->head; ref; ref = rec(tt, ref)->lnext, n++) {
		const struct tcp_tw *r = rec(tt, ref);
		struct ustack_conn_info *o = &out[n];

		if (n >= max)
			continue;
		memset(o, 0, sizeof(*o));
		o->proto = IPPROTO_TCP;
		o->state = USTACK_TCP_TIME_WAIT;
		o->sd = -1;
		o->laddr = r->laddr;
		o->raddr = r->raddr;
		o->lport = r->lport;
		o->rport = r->rport;
		o->rto_us = (uint32_t)r->rto_ms * 1000u;
		o->rcv_wnd = (uint32_t)r->wnd << r->rcv_wscale;
	}
	return n;
}
