/*
 * ip4_frag.c - IPv4 fragmentation on output and reassembly on input
 * (RFC 791 2.3 and 3.2, RFC 1122 3.3.2, RFC 815 for the bookkeeping).
 *
 * May touch: st->ip4's reassembly state and its timers, arp_output,
 * icmp_send_error (time exceeded), the IP4 counters.
 *
 * Reassembly keeps, per datagram (src, dst, protocol, id), its fragments
 * sorted by offset, each in the pkb it arrived in (payload at data, its
 * header still at nh_off, the offset in pkb->scratch). The policy:
 * - Overlaps drop the whole datagram: the teardrop-safe rule RFC 5722
 *   makes mandatory for IPv6, applied here to IPv4 as Linux does. An exact
 *   duplicate (same offset, length and bytes) is dropped alone
 *   (IP4_REASM_DUP) so a retransmitted or duplicated fragment does not
 *   kill the datagram; same range with different bytes is an overlap.
 * - Bad fields drop the fragment (non-last length not a multiple of 8,
 *   empty, ending past 65535); a fragment contradicting what is known of
 *   the end (a second, different last fragment; data past the end) drops
 *   the datagram. All IP4_REASM_DROP_BAD.
 * - Bounds: cfg.reasm_max_datagrams descriptors (allocated once) and
 *   cfg.reasm_max_bytes of buffer memory really held (each fragment costs
 *   its whole buffer, so tiny fragments can not hold more than counted).
 *   When full, the oldest datagram is evicted (IP4_REASM_DROP_MEMORY): a
 *   stuck or hostile datagram does not block new traffic for the whole
 *   timeout. Datagrams larger than cfg.reasm_max_size are dropped
 *   (IP4_REASM_DROP_TOO_BIG).
 * - One fixed timer per datagram (cfg.reasm_timeout_us, RFC 1122 3.3.2);
 *   on expiry ICMP time exceeded, code 1, if fragment zero arrived.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/stack.h"
#include "proto/arp.h"
#include "proto/icmp.h"
#include "proto/ip4_int.h"
#include "wire/checksum.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"

struct ip4_reasm {
	struct ip4_reasm *next;      /* list, oldest first; or free list */
	struct timer timer;          /* reassembly timeout */
	uint32_t src, dst;           /* the key, with proto and id */
	uint16_t id;
	uint8_t proto;
	uint8_t last_seen;           /* the MF=0 fragment arrived */
	uint32_t end;                /* payload length if last_seen, else
					the highest end seen */
	uint32_t have;               /* payload bytes held (never overlap) */
	uint32_t mem;                /* buffer memory held */
	struct pkb *frags;           /* sorted by offset (pkb->scratch) */
};

/* Memory a held pkb really costs. */
static uint32_t pkb_truesize(const struct pkb *p)
{
	return p->size + (uint32_t)sizeof(*p);
}

/* ---- fragmentation --------------------------------------------------- */

int ip4_fragment(struct ustack *st, struct pkb *pkb, const struct ip4_tx *tx,
		 uint32_t src, uint16_t id, uint32_t nexthop)
{
	/* RFC 791 3.2: all but the last carry a multiple of 8 bytes */
	uint32_t max = (st->cfg.mtu - IP4_HDR_LEN) & ~7u;
	uint32_t len = pkb->len, off = 0;
	int err = 0;

	while (off < len && err == 0) {
		uint32_t n = USTACK_MIN(max, len - off);
		uint16_t frag = (uint16_t)(off / 8);
		struct pkb *f = pkb_alloc(st, n);

		if (!f) {
			err = -ENOBUFS;
			break;
		}
		memcpy(pkb_put(f, n), pkb->data + off, n);
		if (off + n < len)
			frag |= IP4_FLAG_MF;
		ip4_build_hdr(pkb_push(f, IP4_HDR_LEN), tx, src,
			      (uint16_t)(IP4_HDR_LEN + n), id, frag);
		STAT_INC(st, IP4_FRAG_TX);
		err = arp_output(st, f, nexthop);
		off += n;
	}
	pkb_free(st, pkb);
	return err;
}

/* ---- reassembly bookkeeping ----------------------------------------- */

static void reasm_fire(struct ustack *st, struct timer *t, ustack_time_t now);

/* Unlink r, free its fragments, give the descriptor back. */
static void reasm_kill(struct ustack *st, struct ip4_reasm *r)
{
	struct ip4_state *ip = &st->ip4;
	struct ip4_reasm **pp = &ip->reasm;

	while (*pp != r)
		pp = &(*pp)->next;
	*pp = r->next;
	timer_cancel(st, &r->timer);
	pkb_free_chain(st, r->frags);
	r->frags = NULL;
	ip->reasm_bytes -= r->mem;
	ip->reasm_count--;
	r->next = ip->reasm_free;
	ip->reasm_free = r;
}

static struct ip4_reasm *reasm_find(struct ustack *st, const struct pkb *p)
{
	struct ip4_reasm *r;

	/* O(datagrams in progress), at most cfg.reasm_max_datagrams */
	for (r = st->ip4.reasm; r; r = r->next)
		if (r->id == p->ip.id && r->src == p->ip.src &&
		    r->dst == p->ip.dst && r->proto == p->ip.proto)
			return r;
	return NULL;
}

static struct ip4_reasm *reasm_new(struct ustack *st, const struct pkb *p)
{
	struct ip4_state *ip = &st->ip4;
	struct ip4_reasm *r, **pp;

	if (!ip->reasm_free && ip->reasm) {
		STAT_INC(st, IP4_REASM_DROP_MEMORY); /* evict the oldest */
		reasm_kill(st, ip->reasm);
	}
	if ((r = ip->reasm_free) == NULL) {
		STAT_INC(st, IP4_REASM_DROP_MEMORY); /* max_datagrams is 0 */
		return NULL;
	}
	ip->reasm_free = r->next;
	memset(r, 0, sizeof(*r));
	timer_init(&r->timer, reasm_fire);
	r->src = p->ip.src;
	r->dst = p->ip.dst;
	r->id = p->ip.id;
	r->proto = p->ip.proto;
	for (pp = &ip->reasm; *pp; pp = &(*pp)->next)
		;
	*pp = r;
	ip->reasm_count++;
	timer_arm(st, &r->timer, st->now + st->cfg.reasm_timeout_us);
	return r;
}

/* RFC 1122 3.3.2: time exceeded (reassembly) if fragment zero arrived. */
static void reasm_fire(struct ustack *st, struct timer *t, ustack_time_t now)
{
	struct ip4_reasm *r = container_of(t, struct ip4_reasm, timer);

	(void)now;
	STAT_INC(st, IP4_REASM_DROP_TIMEOUT);
	if (r->frags && r->frags->scratch == 0)
		icmp_send_error(st, r->frags, ICMP_TIME_EXCEEDED, 1, 0);
	reasm_kill(st, r);
}

/* Make room for `need` more bytes by evicting datagrams older than r.
 * Returns 0, or -1 when r itself would have to go. */
static int reasm_make_room(struct ustack *st, struct ip4_reasm *r,
			   uint32_t need)
{
	struct ip4_state *ip = &st->ip4;

	while ((uint64_t)ip->reasm_bytes + need > st->cfg.reasm_max_bytes) {
		struct ip4_reasm *old = ip->reasm;

		if (old == r)
			old = r->next;
		if (!old)
			return -1;
		STAT_INC(st, IP4_REASM_DROP_MEMORY);
		reasm_kill(st, old);
	}
	return 0;
}

/* ---- reassembly ------------------------------------------------------ */

/* Record what this fragment says about the end. -1: contradiction. */
static int reasm_update_end(struct ip4_reasm *r, uint32_t end, int mf)
{
	if (!mf) {
		if ((r->last_seen && end != r->end) || end < r->end)
			return -1;
		r->last_seen = 1;
		r->end = end;
	} else if (end > r->end) {
		if (r->last_seen)
			return -1;
		r->end = end;
	}
	return 0;
}

enum { REASM_FITS, REASM_DUP, REASM_OVERLAP };

/* Where p (payload [off, end)) goes in the offset-sorted list: *slot is
 * set to the link to put it at. REASM_FITS unless it overlaps. */
static int reasm_place(struct ip4_reasm *r, const struct pkb *p, uint32_t off,
		       uint32_t end, struct pkb ***slot)
{
	struct pkb **pp = &r->frags, *q;

	while ((q = *pp) != NULL && q->scratch + q->len <= off)
		pp = &q->next;
	*slot = pp;
	/* q is the first fragment ending after off: it must start at or
	 * after end, or be an exact duplicate */
	if (q && q->scratch < end) {
		if (q->scratch == off && q->len == p->len &&
		    memcmp(q->data, p->data, p->len) == 0)
			return REASM_DUP;
		return REASM_OVERLAP;
	}
	return REASM_FITS;
}

/* All there: one pkb with the first fragment's header, fixed up. */
static struct pkb *reasm_join(struct ustack *st, struct ip4_reasm *r)
{
	const struct pkb *first = r->frags;
	const uint8_t *fh = pkb_nh(first);
	uint32_t hl = ip4_hlen(fh), total = hl + r->end;
	struct pkb *p;
	uint8_t *d;

	if (total > IP4_MAX_LEN || total > st->cfg.reasm_max_size) {
		STAT_INC(st, IP4_REASM_DROP_TOO_BIG);
		reasm_kill(st, r);
		return NULL;
	}
	if ((p = pkb_alloc(st, total)) == NULL) {
		STAT_INC(st, IP4_REASM_DROP_MEMORY);
		reasm_kill(st, r);
		return NULL;
	}
	d = pkb_put(p, total);
	memcpy(d, fh, hl);
	for (const struct pkb *q = r->frags; q; q = q->next)
		memcpy(d + hl + q->scratch, q->data, q->len);
	/* the header now describes the whole datagram (what an ICMP error
	 * about it quotes) */
	be16_store(d + IP4_OFF_LEN, (uint16_t)total);
	be16_store(d + IP4_OFF_FRAG, ip4_frag_field(fh) & IP4_FLAG_DF);
	be16_store(d + IP4_OFF_CSUM, 0);
	be16_store(d + IP4_OFF_CSUM, csum_buf(d, hl));
	p->ip = first->ip;
	p->ip.reasm = 1;
	p->l2_mcast = first->l2_mcast;
	pkb_set_nh(p);
	pkb_pull(p, hl);
	pkb_set_th(p);
	reasm_kill(st, r);
	STAT_INC(st, IP4_REASM_OK);
	return p;
}

/* Per-fragment checks that need no datagram state. */
static int reasm_frag_ok(struct ustack *st, const struct pkb *p,
			 uint32_t end, int mf)
{
	if (p->len == 0 || (mf && (p->len & 7)) ||
	    end + p->ip.hlen > IP4_MAX_LEN) {
		STAT_INC(st, IP4_REASM_DROP_BAD);
		return 0;
	}
	return 1;
}

struct pkb *ip4_reasm_input(struct ustack *st, struct pkb *pkb)
{
	const uint8_t *h = pkb_nh(pkb);
	uint32_t off = ip4_frag_off(h), end = off + pkb->len;
	uint32_t need = pkb_truesize(pkb);
	int mf = ip4_mf(h), res;
	struct ip4_reasm *r;
	struct pkb **slot;

	STAT_INC(st, IP4_FRAG_RX);
	if (!reasm_frag_ok(st, pkb, end, mf))
		goto drop;
	r = reasm_find(st, pkb);
	if (end + IP4_HDR_LEN > st->cfg.reasm_max_size) {
		STAT_INC(st, IP4_REASM_DROP_TOO_BIG);
		goto kill;
	}
	if (!r && (r = reasm_new(st, pkb)) == NULL)
		goto drop;
	res = reasm_place(r, pkb, off, end, &slot);
	if (res == REASM_OVERLAP) {
		STAT_INC(st, IP4_REASM_DROP_OVERLAP);
		goto kill;
	}
	if (reasm_update_end(r, end, mf) < 0) {
		STAT_INC(st, IP4_REASM_DROP_BAD);
		goto kill;
	}
	if (res == REASM_DUP) {
		STAT_INC(st, IP4_REASM_DUP);
		goto drop;
	}
	pkb->scratch = off;
	pkb->next = *slot;
	*slot = pkb;
	if (reasm_make_room(st, r, need) < 0) {
		STAT_INC(st, IP4_REASM_DROP_MEMORY);
		reasm_kill(st, r); /* frees pkb too: it is linked in */
		return NULL;
	}
	r->have += pkb->len;
	r->mem += need;
	st->ip4.reasm_bytes += need;
	if (r->last_seen && r->have == r->end)
		return reasm_join(st, r);
	return NULL;
kill:
	if (r)
		reasm_kill(st, r);
drop:
	pkb_free(st, pkb);
	return NULL;
}

/* ---- life cycle ------------------------------------------------------ */

int ip4_reasm_init(struct ustack *st)
{
	struct ip4_state *ip = &st->ip4;
	uint32_t n = st->cfg.reasm_max_datagrams;

	ip->reasm = ip->reasm_free = NULL;
	ip->reasm_count = ip->reasm_bytes = 0;
	if (n == 0)
		return 0;
	if ((ip->reasm_slots = calloc(n, sizeof(*ip->reasm_slots))) == NULL)
		return -ENOMEM;
	for (uint32_t i = n; i-- > 0;) {
		timer_init(&ip->reasm_slots[i].timer, reasm_fire);
		ip->reasm_slots[i].next = ip->reasm_free;
		ip->reasm_free = &ip->reasm_slots[i];
	}
	return 0;
}

void ip4_reasm_fini(struct ustack *st)
{
	struct ip4_state *ip = &st->ip4;

	while (ip->reasm)
		reasm_kill(st, ip->reasm);
	free(ip->reasm_slots);
	ip->reasm_slots = ip->reasm_free = NULL;
}
