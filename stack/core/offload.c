/*
 * offload.c - the offloads of dev.h: what the core does with them, and the
 * software fallbacks shared by the drivers and the core.
 *
 * Public, pure functions of their arguments: completing a partial checksum
 * (Linux's skb_checksum_help) and cutting a TCP/IPv4 super-frame into
 * segments (what a NIC does for TSO, Linux's tcp_gso_segment). Frames are
 * parsed with bounds checks against their real length; a malformed frame
 * is -EINVAL, never a read out of bounds.
 *
 * Core: stack_xmit_offload() turns a pkb's PKB_CSUM_PARTIAL/gso_size into
 * a struct ustack_frame_meta for transmit_meta() (or falls back to
 * software when the device can not), stack_rx_offload() turns a received
 * frame's metadata into pkb->csum.
 *
 * May touch: the device, the pool (a scratch buffer for software
 * segmentation) and the ETH_* offload counters.
 */
#include <errno.h>
#include <string.h>

#include <ustack/dev.h>

#include "core/assert.h"
#include "core/stack.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

int ustack_frame_csum_complete(void *frame, size_t len,
			       struct ustack_frame_meta *m)
{
	uint8_t *f = frame;
	uint16_t sum;

	if (!(m->flags & USTACK_META_CSUM_PARTIAL))
		return 0;
	if ((size_t)m->csum_start + m->csum_offset + 2 > len)
		return -EINVAL;
	sum = csum_fold(csum_partial(f + m->csum_start, len - m->csum_start, 0));
	be16_store(f + m->csum_start + m->csum_offset, sum ? sum : 0xffff);
	m->flags &= (uint8_t)~USTACK_META_CSUM_PARTIAL;
	return 0;
}

/* Where the headers of an untagged TCP/IPv4 frame end; 0 if it is not one. */
static size_t tcp4_headers(const uint8_t *f, size_t len, size_t *ip_off,
			   size_t *th_off)
{
	size_t ihl, thl;

	if (len < ETH_HDR_LEN + IP4_HDR_LEN + TCP_HDR_LEN ||
	    be16_load(f + 12) != ETH_TYPE_IPV4)
		return 0;
	*ip_off = ETH_HDR_LEN;
	ihl = ip4_hlen(f + ETH_HDR_LEN);
	if (ip4_version(f + ETH_HDR_LEN) != 4 || ihl < IP4_HDR_LEN ||
	    ip4_proto(f + ETH_HDR_LEN) != IP4_PROTO_TCP ||
	    ETH_HDR_LEN + ihl + TCP_HDR_LEN > len)
		return 0;
	*th_off = ETH_HDR_LEN + ihl;
	thl = tcp_hlen(f + *th_off);
	if (thl < TCP_HDR_LEN || *th_off + thl > len)
		return 0;
	return *th_off + thl;
}

/* Fix up one segment built in s: IP length, id, checksum; TCP seq, flags
 * and the full checksum. */
static void seg_finish(uint8_t *s, size_t ip_off, size_t th_off, size_t hl,
		       size_t dlen, uint32_t i, uint32_t seq_add, int last)
{
	uint8_t *ip = s + ip_off, *th = s + th_off;
	uint32_t tlen = (uint32_t)(hl - th_off + dlen), sum;
	uint8_t fl = th[TCP_OFF_FLAGS];

	be16_store(ip + IP4_OFF_LEN, (uint16_t)(hl - ip_off + dlen));
	be16_store(ip + IP4_OFF_ID, (uint16_t)(ip4_id(ip) + i));
	be16_store(ip + IP4_OFF_CSUM, 0);
	be16_store(ip + IP4_OFF_CSUM, csum_fold(csum_partial(ip, th_off - ip_off, 0)));
	be32_store(th + TCP_OFF_SEQ, tcp_seq(th) + seq_add);
	if (!last)
		fl &= (uint8_t)~(TCP_FIN | TCP_PSH);
	if (i > 0)
		fl &= (uint8_t)~TCP_CWR;  /* RFC 3168 6.1.2: on the first only */
	th[TCP_OFF_FLAGS] = fl;
	be16_store(th + TCP_OFF_CSUM, 0);
	sum = csum_pseudo(ip4_src(ip), ip4_dst(ip), IP4_PROTO_TCP, tlen);
	be16_store(th + TCP_OFF_CSUM, csum_fold(csum_partial(th, tlen, sum)));
}

int ustack_frame_segment(const void *frame, size_t len,
			 const struct ustack_frame_meta *meta, void *scratch,
			 int (*emit)(void *ctx, const void *frame, size_t len),
			 void *ctx)
{
	const uint8_t *f = frame;
	size_t ip_off, th_off, hl, off;
	uint32_t i = 0;
	int r;

	if (meta->gso_type == USTACK_GSO_NONE) {
		struct ustack_frame_meta m = *meta;

		if (!(m.flags & USTACK_META_CSUM_PARTIAL))
			return (r = emit(ctx, frame, len)) < 0 ? r : 1;
		if (len > 65535u + ETH_HDR_LEN + 4)
			return -EINVAL;
		memcpy(scratch, frame, len);
		if (ustack_frame_csum_complete(scratch, len, &m) < 0)
			return -EINVAL;
		return (r = emit(ctx, scratch, len)) < 0 ? r : 1;
	}
	if (meta->gso_type != USTACK_GSO_TCPV4 || meta->gso_size == 0 ||
	    (hl = tcp4_headers(f, len, &ip_off, &th_off)) == 0 || hl >= len)
		return -EINVAL;
	for (off = hl; off < len; off += meta->gso_size, i++) {
		size_t dlen = len - off < meta->gso_size ? len - off : meta->gso_size;
		uint8_t *s = scratch;

		memcpy(s, f, hl);
		memcpy(s + hl, f + off, dlen);
		seg_finish(s, ip_off, th_off, hl, dlen, i, (uint32_t)(off - hl),
			   off + dlen == len);
		if ((r = emit(ctx, s, hl + dlen)) < 0)
			return r;
	}
	return (int)i;
}

/* ---- the core's side ------------------------------------------------------ */

uint32_t stack_tso_max(const struct ustack *st)
{
	const struct ustack_dev *d = st->dev;
	uint32_t max;

	if (!(d->offloads & USTACK_DEV_TX_TSO4) || !(d->offloads & USTACK_DEV_TX_CSUM) ||
	    !d->ops->transmit_meta)
		return 0;
	max = d->gso_max ? d->gso_max : IP4_MAX_LEN + ETH_HDR_LEN;
	max = max > ETH_HDR_LEN ? max - ETH_HDR_LEN : 0;
	return max > IP4_MAX_LEN ? IP4_MAX_LEN : max;
}

struct sw_gso {
	struct ustack *st;
	int err;
};

static int sw_gso_emit(void *ctx, const void *frame, size_t len)
{
	struct sw_gso *g = ctx;
	struct ustack_dev *d = g->st->dev;
	int err = d->ops->transmit(d, frame, len, g->st->now);

	if (err < 0 && !g->err)
		g->err = err;
	return 0;  /* keep going: a lost segment is retransmitted */
}

/* The device does not (or no longer) take super-frames: cut it here. */
static int xmit_sw_gso(struct ustack *st, struct pkb *pkb,
		       const struct ustack_frame_meta *m)
{
	struct pkb *scratch = pkb_alloc(st, (uint32_t)m->hdr_len + m->gso_size);
	struct sw_gso g = {st, 0};
	int r;

	if (!scratch)
		return -ENOBUFS;
	STAT_INC(st, ETH_TX_SW_GSO);
	r = ustack_frame_segment(pkb->data, pkb->len, m, scratch->data,
				 sw_gso_emit, &g);
	pkb_free(st, scratch);
	return r < 0 ? r : g.err;
}

int stack_xmit_offload(struct ustack *st, struct pkb *pkb)
{
	struct ustack_dev *d = st->dev;
	struct ustack_frame_meta m;
	uint32_t l4 = pkb->th_off - pkb_headroom(pkb);

	USTACK_ASSERT(pkb->th_off > pkb_headroom(pkb) &&
		      l4 + TCP_HDR_LEN <= pkb->len);
	if (pkb->ext_total &&
	    ((pkb->gso_size && !stack_tso_max(st)) || !stack_tx_csum_on(st) ||
	     !d->ops->transmit_gather))
		pkb_linearize(pkb);  /* completed or cut here: whole first */
	memset(&m, 0, sizeof(m));
	m.flags = USTACK_META_CSUM_PARTIAL;
	m.csum_start = (uint16_t)l4;
	m.csum_offset = pkb->csum_off;
	if (pkb->gso_size) {
		m.gso_type = USTACK_GSO_TCPV4;
		m.gso_size = pkb->gso_size;
		m.hdr_len = (uint16_t)(l4 + tcp_hlen(pkb->data + l4));
		STAT_INC(st, ETH_TX_GSO);
		if (!stack_tso_max(st))
			return xmit_sw_gso(st, pkb, &m);
	} else if (!stack_tx_csum_on(st)) {
		(void)ustack_frame_csum_complete(pkb->data, pkb->len, &m);
		return d->ops->transmit(d, pkb->data, pkb->len, st->now);
	}
	if (pkb->ext_total) {
		/* Gather: headers here, payload where TCP keeps it. */
		struct ustack_frag fr[3] = {{pkb->data, pkb->len}};
		unsigned n = 1;

		for (int i = 0; i < 2; i++)
			if (pkb->ext_len[i])
				fr[n++] = (struct ustack_frag){pkb->ext[i],
							       pkb->ext_len[i]};
		STAT_INC(st, ETH_TX_GATHER);
		return d->ops->transmit_gather(d, fr, n, &m, st->now);
	}
	return d->ops->transmit_meta(d, pkb->data, pkb->len, &m, st->now);
}

int stack_rx_offload(struct ustack *st, struct pkb *pkb,
		     struct ustack_frame_meta *m)
{
	size_t ip_off, th_off;

	if (pkb->len > (uint32_t)st->cfg.mtu + ETH_HDR_LEN + 4)
		STAT_INC(st, ETH_RX_GRO);
	if (m->flags & USTACK_META_CSUM_VALID) {
		pkb->csum = PKB_CSUM_VALID;
		STAT_INC(st, ETH_RX_CSUM_OFFLOAD);
		return 0;
	}
	if (!(m->flags & USTACK_META_CSUM_PARTIAL))
		return 0;
	/* The data never crossed a wire: for TCP, whose checksum is the one
	 * worth skipping, that is as good as verified (Linux treats
	 * CHECKSUM_PARTIAL the same); anything else is completed here so
	 * every other layer checks as usual. */
	if (tcp4_headers(pkb->data, pkb->len, &ip_off, &th_off) &&
	    m->csum_start == th_off && m->csum_offset == TCP_OFF_CSUM) {
		pkb->csum = PKB_CSUM_VALID;
		STAT_INC(st, ETH_RX_CSUM_OFFLOAD);
		return 0;
	}
	if (ustack_frame_csum_complete(pkb->data, pkb->len, m) < 0) {
		STAT_INC(st, ETH_DROP_BAD_META);
		return -1;
	}
	return 0;
}
