/*
 * arp.c - ARP for IPv4 over Ethernet (RFC 826, RFC 1122 2.3.2), with the
 * announcement and address defence of RFC 5227 and the reachability states
 * of RFC 4861 7.3 (see arp.h for the state machine).
 *
 * May touch: st->arp (the cache and its timers), eth_output, the ARP
 * counters, and IPv4's ip4_neigh_unreachable() when a resolution fails
 * (IPv4 tells the protocols above, which tell their sockets). Never allocates after arp_init() except packet buffers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/stack.h"
#include "proto/arp.h"
#include "proto/eth.h"
#include "proto/ipv4.h"
#include "wire/arp.h"
#include "wire/eth.h"
#include "wire/ipv4.h"

/* RFC 4861 10: DELAY_FIRST_PROBE_TIME. */
#define ARP_DELAY_US USTACK_SEC(5)
/* RFC 5227 2.4: DEFEND_INTERVAL; also the conflict log rate limit. */
#define ARP_DEFEND_US USTACK_SEC(10)

enum arp_nud {
	ARP_FREE = 0,
	ARP_INCOMPLETE,
	ARP_REACHABLE,
	ARP_STALE,
	ARP_DELAY,
	ARP_PROBE,
	ARP_FAILED,
};

static const char *const arp_state_name[] = {
	"FREE", "INCOMPLETE", "REACHABLE", "STALE", "DELAY", "PROBE", "FAILED",
};

struct arp_entry {
	struct timer timer;          /* the next state change */
	struct arp_entry *hnext;     /* hash chain, or the free list */
	uint32_t addr;               /* host order */
	uint8_t mac[ETH_ALEN];       /* zero while INCOMPLETE */
	uint8_t state;               /* enum arp_nud */
	uint32_t probes;             /* requests sent in this round */
	ustack_time_t used_at;       /* last packet sent through it */
	struct pkb_queue pending;    /* INCOMPLETE: packets waiting, in order */
};

static void arp_timer_fire(struct ustack *st, struct timer *t,
			   ustack_time_t now);

/* ---- the cache ------------------------------------------------------- */

static uint32_t arp_bucket(const struct arp_state *a, uint32_t addr)
{
	uint32_t h = addr * 2654435761u; /* Fibonacci hashing */

	return (h ^ (h >> 16)) & a->hash_mask;
}

static struct arp_entry *arp_lookup(struct ustack *st, uint32_t addr)
{
	struct arp_entry *e = st->arp.hash[arp_bucket(&st->arp, addr)];

	while (e && e->addr != addr)
		e = e->hnext;
	return e;
}

static void arp_unlink(struct ustack *st, struct arp_entry *e)
{
	struct arp_entry **pp = &st->arp.hash[arp_bucket(&st->arp, e->addr)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
}

/* Back to the free list; queued packets are freed (the caller counts). */
static void arp_release(struct ustack *st, struct arp_entry *e)
{
	timer_cancel(st, &e->timer);
	pkb_queue_purge(st, &e->pending);
	arp_unlink(st, e);
	e->state = ARP_FREE;
	e->hnext = st->arp.free;
	st->arp.free = e;
	st->arp.nused--;
}

/* Lower is evicted first; -1: never (an INCOMPLETE entry holding packets). */
static int arp_evict_rank(const struct arp_entry *e)
{
	switch (e->state) {
	case ARP_FAILED:
		return 0;
	case ARP_INCOMPLETE:
		return e->pending.count ? -1 : 0;
	case ARP_STALE:
		return 1;
	case ARP_DELAY:
	case ARP_PROBE:
		return 2;
	default:
		return 3;
	}
}

/* The least useful entry: failed, then stale, then least recently used.
 * O(cache size), paid only when the cache is full. */
static struct arp_entry *arp_victim(struct ustack *st)
{
	struct arp_entry *best = NULL;
	int best_rank = 99;

	for (uint32_t i = 0; i < st->arp.nentries; i++) {
		struct arp_entry *e = &st->arp.entries[i];
		int r = arp_evict_rank(e);

		if (r < 0 || r > best_rank)
			continue;
		if (r < best_rank || e->used_at < best->used_at) {
			best = e;
			best_rank = r;
		}
	}
	return best;
}

/* A new entry for addr (evicting if full), or NULL (counted). */
static struct arp_entry *arp_alloc(struct ustack *st, uint32_t addr)
{
	struct arp_state *a = &st->arp;
	struct arp_entry *e = a->free;

	if (!e) {
		struct arp_entry *v = arp_victim(st);

		if (!v) {
			STAT_INC(st, ARP_DROP_CACHE_FULL);
			return NULL;
		}
		arp_release(st, v);
		e = a->free;
	}
	a->free = e->hnext;
	e->addr = addr;
	memset(e->mac, 0, ETH_ALEN);
	e->state = ARP_INCOMPLETE;
	e->probes = 0;
	e->used_at = st->now;
	pkb_queue_init(&e->pending);
	e->hnext = a->hash[arp_bucket(a, addr)];
	a->hash[arp_bucket(a, addr)] = e;
	a->nused++;
	return e;
}

static void arp_enter(struct ustack *st, struct arp_entry *e, int state,
		      ustack_time_t at)
{
	e->state = (uint8_t)state;
	timer_arm(st, &e->timer, at);
}

/* ---- sending --------------------------------------------------------- */

static void arp_send(struct ustack *st, uint16_t op, const uint8_t *eth_dst,
		     const uint8_t *tha, uint32_t tpa)
{
	static const uint8_t zero[ETH_ALEN];
	struct pkb *p = pkb_alloc(st, ARP_LEN);

	if (!p)
		return; /* counted as PKB_EXHAUSTED; a retry may do better */
	arp_emit(pkb_put(p, ARP_LEN), op, st->cfg.mac, st->cfg.addr,
		 tha ? tha : zero, tpa);
	/* unchecked: a lost request is retried by the entry's timer, a lost
	 * reply by the asker's */
	eth_output(st, p, eth_dst, ETH_TYPE_ARP);
}

/* A request for e: broadcast while INCOMPLETE, unicast to the cached
 * address while PROBE (RFC 1122 2.3.2.1 "unicast poll"). */
static void arp_solicit(struct ustack *st, struct arp_entry *e)
{
	STAT_INC(st, ARP_TX_REQUEST);
	e->probes++;
	arp_send(st, ARP_OP_REQUEST,
		 e->state == ARP_PROBE ? e->mac : ETH_BROADCAST, NULL, e->addr);
	timer_arm(st, &e->timer, st->now + st->cfg.arp_retry_us);
}

void arp_announce(struct ustack *st)
{
	/* RFC 5227 2.3: an ARP request with sender = target = our address
	 * and a zero target hardware address, broadcast. One is sent (not
	 * ANNOUNCE_NUM = 2): the stack does not run the probe phase either. */
	STAT_INC(st, ARP_TX_GRATUITOUS);
	arp_send(st, ARP_OP_REQUEST, ETH_BROADCAST, NULL, st->cfg.addr);
}

static void arp_flush(struct ustack *st, struct arp_entry *e)
{
	struct pkb_queue q = e->pending;
	struct pkb *p;

	pkb_queue_init(&e->pending);
	/* unchecked: the senders were told 0 at queueing; a device error
	 * now is a packet lost on the way (counted by stack_xmit) */
	while ((p = pkb_queue_pop(&q)) != NULL)
		eth_output(st, p, e->mac, ETH_TYPE_IPV4);
}

/* RFC 1112 6.4: 01:00:5e + the low 23 bits of the group. */
static void arp_mcast_mac(uint32_t group, uint8_t mac[ETH_ALEN])
{
	mac[0] = 0x01;
	mac[1] = 0x00;
	mac[2] = 0x5e;
	mac[3] = (uint8_t)((group >> 16) & 0x7f);
	mac[4] = (uint8_t)(group >> 8);
	mac[5] = (uint8_t)group;
}

/* RFC 1122 2.3.2.2: keep (a bounded number of) packets while resolving.
 * Bounded in frames and in bytes (Linux: unres_qlen, unres_qlen_bytes),
 * so one large datagram in fragments fits while many small ones do not
 * pile up. A packet that does not fit is dropped, not an older one: the
 * fragments already queued belong to a datagram that can still arrive
 * whole. Returns 0 or -ENOBUFS (pkb consumed either way). */
static int arp_enqueue(struct ustack *st, struct arp_entry *e, struct pkb *pkb)
{
	if (e->pending.count >= st->cfg.arp_pending_max ||
	    e->pending.bytes + pkb->len > st->cfg.arp_pending_bytes) {
		STAT_INC(st, ARP_DROP_PENDING_FULL);
		pkb_free(st, pkb);
		return -ENOBUFS;
	}
	pkb_queue_push(&e->pending, pkb);
	return 0;
}

/* Start resolving nexthop with pkb as the first queued packet. */
static int arp_resolve(struct ustack *st, struct pkb *pkb, uint32_t nexthop)
{
	struct arp_entry *e = arp_alloc(st, nexthop);

	if (!e) {
		pkb_free(st, pkb);
		return -ENOBUFS;
	}
	(void)arp_enqueue(st, e, pkb); /* a refusal here is counted, not
					  reported: resolution goes on */
	arp_solicit(st, e);
	return 0;
}

int arp_output(struct ustack *st, struct pkb *pkb, uint32_t nexthop)
{
	struct arp_entry *e;
	uint8_t mac[ETH_ALEN];

	if (ip4_is_limited_bcast(nexthop) || ip4_is_broadcast(st, nexthop))
		return eth_output(st, pkb, ETH_BROADCAST, ETH_TYPE_IPV4);
	if (ip4_is_multicast(nexthop)) {
		arp_mcast_mac(nexthop, mac);
		return eth_output(st, pkb, mac, ETH_TYPE_IPV4);
	}
	if ((e = arp_lookup(st, nexthop)) == NULL)
		return arp_resolve(st, pkb, nexthop);
	e->used_at = st->now;
	switch (e->state) {
	case ARP_INCOMPLETE:
		return arp_enqueue(st, e, pkb);
	case ARP_FAILED:
		STAT_INC(st, ARP_DROP_FAILED);
		pkb_free(st, pkb);
		return -EHOSTUNREACH;
	case ARP_STALE:
		/* RFC 4861 7.3.3: send, and re-check reachability soon */
		arp_enter(st, e, ARP_DELAY, st->now + ARP_DELAY_US);
		break;
	default:
		break;
	}
	return eth_output(st, pkb, e->mac, ETH_TYPE_IPV4);
}

/* ---- timers ---------------------------------------------------------- */

/* Report addr, and each distinct destination queued behind it, to IPv4. */
static void arp_notify_unreachable(struct ustack *st, uint32_t addr,
				   const struct pkb_queue *q)
{
	ip4_neigh_unreachable(st, addr);
	for (const struct pkb *p = q->head; p; p = p->next) {
		uint32_t dst;
		const struct pkb *o;

		if (p->len < IP4_HDR_LEN || (dst = ip4_dst(p->data)) == addr)
			continue;
		for (o = q->head; o != p; o = o->next)
			if (o->len >= IP4_HDR_LEN && ip4_dst(o->data) == dst)
				break;
		if (o == p)
			ip4_neigh_unreachable(st, dst);
	}
}

/* RFC 1122 2.3.2.1: give up after arp_retries requests. */
static void arp_fail(struct ustack *st, struct arp_entry *e)
{
	struct pkb_queue q = e->pending;
	uint32_t addr = e->addr;

	pkb_queue_init(&e->pending);
	STAT_INC(st, ARP_RESOLVE_FAILED);
	STAT_ADD(st, ARP_DROP_UNRESOLVED, q.count);
	arp_enter(st, e, ARP_FAILED, st->now + st->cfg.arp_failed_us);
	/* The entry is consistent before anyone is called back: a socket
	 * that sends again gets -EHOSTUNREACH at once. */
	arp_notify_unreachable(st, addr, &q);
	pkb_queue_purge(st, &q);
}

static void arp_timer_fire(struct ustack *st, struct timer *t,
			   ustack_time_t now)
{
	struct arp_entry *e = container_of(t, struct arp_entry, timer);

	switch (e->state) {
	case ARP_INCOMPLETE:
		if (e->probes < st->cfg.arp_retries)
			arp_solicit(st, e);
		else
			arp_fail(st, e);
		break;
	case ARP_REACHABLE:
		arp_enter(st, e, ARP_STALE, now + st->cfg.arp_stale_us);
		break;
	case ARP_DELAY:
		e->state = ARP_PROBE;
		e->probes = 0;
		arp_solicit(st, e);
		break;
	case ARP_PROBE:
		if (e->probes < st->cfg.arp_retries)
			arp_solicit(st, e);
		else
			arp_release(st, e); /* RFC 4861 7.3.3: delete */
		break;
	default: /* STALE unused for arp_stale_us, FAILED expired */
		arp_release(st, e);
		break;
	}
}

/* ---- input ----------------------------------------------------------- */

/* RFC 826 merge: the sender's address updates an existing entry. A reply
 * to us, or a request for us, confirms reachability; anything else that
 * changes the address only makes the entry STALE (RFC 4861 7.2.3). */
static void arp_merge(struct ustack *st, struct arp_entry *e,
		      const uint8_t *sha, int confirmed)
{
	int changed = memcmp(e->mac, sha, ETH_ALEN) != 0;
	int was = e->state;

	memcpy(e->mac, sha, ETH_ALEN);
	if (confirmed) {
		e->probes = 0;
		arp_enter(st, e, ARP_REACHABLE,
			  st->now + st->cfg.arp_reachable_us);
	} else if (changed || was == ARP_INCOMPLETE || was == ARP_FAILED) {
		arp_enter(st, e, ARP_STALE, st->now + st->cfg.arp_stale_us);
	}
	if (was == ARP_INCOMPLETE)
		arp_flush(st, e);
}

static void arp_conflict(struct ustack *st, const uint8_t *sha)
{
	char ip[IP4_STRLEN];

	STAT_INC(st, ARP_ADDR_CONFLICT);
	if (st->now < st->arp.conflict_log_at)
		return;
	st->arp.conflict_log_at = st->now + ARP_DEFEND_US;
	ULOG_WARN(st, "arp: address conflict: %s also claimed by "
		  "%02x:%02x:%02x:%02x:%02x:%02x",
		  ustack_fmt_ip4(st->cfg.addr, ip), sha[0], sha[1], sha[2],
		  sha[3], sha[4], sha[5]);
	/* RFC 5227 2.4 (b): defend with one announcement, at most once per
	 * DEFEND_INTERVAL, and keep the address. */
	if (st->now >= st->arp.defend_at) {
		st->arp.defend_at = st->now + ARP_DEFEND_US;
		arp_announce(st);
	}
}

/* Addresses no ARP sender may have: RFC 1122 3.2.1.3 (and 2.3.2). */
static int arp_bad_spa(const struct ustack *st, uint32_t spa)
{
	return ip4_is_limited_bcast(spa) || ip4_is_multicast(spa) ||
	       ip4_is_loopback(spa) || ip4_is_broadcast(st, spa) ||
	       (spa >> 28) == 0xf;
}

static int arp_on_link(const struct ustack *st, uint32_t addr)
{
	return ((addr ^ st->cfg.addr) & st->netmask) == 0;
}

static void arp_reply(struct ustack *st, const uint8_t *sha, uint32_t spa)
{
	STAT_INC(st, ARP_TX_REPLY);
	arp_send(st, ARP_OP_REPLY, sha, sha, spa);
}

/* A sender that passed the checks: learn, answer. */
static void arp_process(struct ustack *st, uint16_t op, const uint8_t *sha,
			uint32_t spa, uint32_t tpa)
{
	int for_us = tpa == st->cfg.addr;
	struct arp_entry *e = arp_lookup(st, spa);

	if (e)
		arp_merge(st, e, sha, for_us);
	if (op == ARP_OP_REQUEST && for_us) {
		/* RFC 826: a request for us creates the sender's entry (it
		 * is about to talk to us); only for on-link senders, the
		 * only ones we would ever send to directly. */
		if (!e && arp_on_link(st, spa) &&
		    (e = arp_alloc(st, spa)) != NULL)
			arp_merge(st, e, sha, 1);
		arp_reply(st, sha, spa);
	} else if (op == ARP_OP_REQUEST) {
		STAT_INC(st, ARP_DROP_NOT_US);
	} else if (!e) {
		/* never learn from replies we did not ask for */
		STAT_INC(st, ARP_DROP_UNSOLICITED);
	}
}

void arp_input(struct ustack *st, struct pkb *pkb)
{
	const uint8_t *a = pkb->data;
	const uint8_t *sha;
	uint32_t spa, tpa;
	uint16_t op;

	STAT_INC(st, ARP_RX);
	if (!arp_check(a, pkb->len)) {
		STAT_INC(st, ARP_DROP_BAD);
		goto out;
	}
	op = arp_op(a);
	if (op == ARP_OP_REQUEST) {
		STAT_INC(st, ARP_RX_REQUEST);
	} else if (op == ARP_OP_REPLY) {
		STAT_INC(st, ARP_RX_REPLY);
	} else {
		STAT_INC(st, ARP_DROP_BAD);
		goto out;
	}
	sha = arp_sha(a);
	spa = arp_spa(a);
	tpa = arp_tpa(a);
	if (eth_is_multicast(sha) || eth_is_zero(sha) ||
	    memcmp(sha, st->cfg.mac, ETH_ALEN) == 0) {
		STAT_INC(st, ARP_DROP_BAD_SENDER);
	} else if (spa == 0) {
		/* RFC 5227 2.1.1 probe: answer one for our address (as Linux
		 * does, so the prober sees the address is taken), learn
		 * nothing from it. */
		if (op == ARP_OP_REQUEST && tpa == st->cfg.addr)
			arp_reply(st, sha, 0);
		else
			STAT_INC(st, ARP_DROP_BAD_SENDER);
	} else if (spa == st->cfg.addr) {
		arp_conflict(st, sha);
	} else if (arp_bad_spa(st, spa)) {
		STAT_INC(st, ARP_DROP_BAD_SENDER);
	} else {
		arp_process(st, op, sha, spa, tpa);
	}
out:
	pkb_free(st, pkb);
}

void arp_confirm(struct ustack *st, uint32_t addr)
{
	struct arp_entry *e = st->arp.hash ? arp_lookup(st, addr) : NULL;

	if (e && e->state != ARP_INCOMPLETE && e->state != ARP_FAILED) {
		e->probes = 0;
		arp_enter(st, e, ARP_REACHABLE,
			  st->now + st->cfg.arp_reachable_us);
	}
}

/* ---- life cycle and inspection ------------------------------------- */

int arp_init(struct ustack *st)
{
	struct arp_state *a = &st->arp;
	uint32_t n = st->cfg.arp_cache_size, buckets = 16;

	while (buckets < n && buckets < (1u << 30))
		buckets <<= 1;
	a->entries = calloc(n, sizeof(*a->entries));
	a->hash = calloc(buckets, sizeof(*a->hash));
	if (!a->entries || !a->hash) {
		free(a->entries);
		free(a->hash);
		a->entries = NULL;
		a->hash = NULL;
		return -ENOMEM;
	}
	a->nentries = n;
	a->hash_mask = buckets - 1;
	for (uint32_t i = n; i-- > 0;) {
		struct arp_entry *e = &a->entries[i];

		timer_init(&e->timer, arp_timer_fire);
		pkb_queue_init(&e->pending);
		e->hnext = a->free;
		a->free = e;
	}
	return 0;
}

void arp_fini(struct ustack *st)
{
	struct arp_state *a = &st->arp;

	for (uint32_t i = 0; a->entries && i < a->nentries; i++) {
		timer_cancel(st, &a->entries[i].timer);
		pkb_queue_purge(st, &a->entries[i].pending);
	}
	free(a->entries);
	free(a->hash);
	memset(a, 0, sizeof(*a));
}

int ustack_arp_list(struct ustack *st, struct ustack_arp_info *out, int max)
{
	int n = 0;

	for (uint32_t i = 0; i < st->arp.nentries; i++) {
		const struct arp_entry *e = &st->arp.entries[i];

		if (e->state == ARP_FREE)
			continue;
		if (n < max) {
			struct ustack_arp_info *o = &out[n];

			o->addr = e->addr;
			memcpy(o->mac, e->mac, ETH_ALEN);
			o->state = arp_state_name[e->state];
			o->expires_at = timer_armed(&e->timer)
						? e->timer.at
						: USTACK_TIME_NEVER;
			o->pending = e->pending.count;
		}
		n++;
	}
	return n;
}
