/*
 * pkt.c - frame builders and a parser for tests (see pkt.h).
 */
#include <string.h>

#include "lib/pkt.h"
#include "wire/arp.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/udp.h"

const uint8_t ETH_BCAST_MAC[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

size_t pkt_arp(uint8_t *f, const uint8_t dst[6], const uint8_t src[6],
	       uint16_t op, const uint8_t sha[6], uint32_t spa,
	       const uint8_t tha[6], uint32_t tpa)
{
	static const uint8_t zero[6];

	eth_emit(f, dst, src, ETH_TYPE_ARP);
	arp_emit(f + ETH_HDR_LEN, op, sha, spa, tha ? tha : zero, tpa);
	return ETH_HDR_LEN + ARP_LEN;
}

size_t pkt_ip4(uint8_t *f, const uint8_t dst[6], const uint8_t src[6],
	       const struct pkt_ip *ip, const void *payload, size_t plen)
{
	uint8_t *h = f + ETH_HDR_LEN;
	unsigned hl = IP4_HDR_LEN + ip->optlen;

	eth_emit(f, dst, src, ETH_TYPE_IPV4);
	h[0] = (uint8_t)(0x40 | (hl / 4));
	h[1] = ip->tos;
	be16_store(h + IP4_OFF_LEN, (uint16_t)(hl + plen + ip->total_len_delta));
	be16_store(h + IP4_OFF_ID, ip->id);
	be16_store(h + IP4_OFF_FRAG, ip->frag);
	h[IP4_OFF_TTL] = ip->ttl ? ip->ttl : 64;
	h[IP4_OFF_PROTO] = ip->proto;
	be16_store(h + IP4_OFF_CSUM, 0);
	be32_store(h + IP4_OFF_SRC, ip->src);
	be32_store(h + IP4_OFF_DST, ip->dst);
	if (ip->optlen)
		memcpy(h + IP4_HDR_LEN, ip->opts, ip->optlen);
	be16_store(h + IP4_OFF_CSUM,
		   (uint16_t)(csum_buf(h, hl) ^ (ip->bad_csum ? 0x5a5a : 0)));
	if (plen)
		memcpy(h + hl, payload, plen);
	return ETH_HDR_LEN + hl + plen;
}

size_t pkt_udp(uint8_t *f, const uint8_t dst[6], const uint8_t src[6],
	       uint32_t sip, uint32_t dip, uint16_t sport, uint16_t dport,
	       const void *data, size_t len, int csum)
{
	uint8_t seg[65536];
	struct pkt_ip ip = {.src = sip, .dst = dip, .proto = IP4_PROTO_UDP};
	uint16_t ulen = (uint16_t)(UDP_HDR_LEN + len);

	be16_store(seg + UDP_OFF_SPORT, sport);
	be16_store(seg + UDP_OFF_DPORT, dport);
	be16_store(seg + UDP_OFF_LEN, ulen);
	be16_store(seg + UDP_OFF_CSUM, 0);
	memcpy(seg + UDP_HDR_LEN, data, len);
	if (csum) {
		uint16_t c = csum_fold(csum_partial(
			seg, ulen, csum_pseudo(sip, dip, IP4_PROTO_UDP, ulen)));
		if (c == 0)
			c = 0xffff;
		if (csum < 0)
			c ^= 0x1234;
		be16_store(seg + UDP_OFF_CSUM, c);
	}
	return pkt_ip4(f, dst, src, &ip, seg, ulen);
}

size_t pkt_icmp(uint8_t *f, const uint8_t dst[6], const uint8_t src[6],
		uint32_t sip, uint32_t dip, uint8_t type, uint8_t code,
		uint16_t id, uint16_t seq, const void *data, size_t len)
{
	uint8_t msg[65536];
	struct pkt_ip ip = {.src = sip, .dst = dip, .proto = IP4_PROTO_ICMP};

	msg[0] = type;
	msg[1] = code;
	be16_store(msg + 2, 0);
	be16_store(msg + 4, id);
	be16_store(msg + 6, seq);
	memcpy(msg + 8, data, len);
	be16_store(msg + 2, csum_buf(msg, 8 + len));
	return pkt_ip4(f, dst, src, &ip, msg, 8 + len);
}

size_t pkt_tcp(uint8_t *f, const uint8_t dst[6], const uint8_t src[6],
	       const struct pkt_tcp *t)
{
	uint8_t seg[65536];
	struct pkt_ip ip = {.src = t->sip, .dst = t->dip, .proto = IP4_PROTO_TCP};
	unsigned ol = (t->optlen + 3u) & ~3u, hl = TCP_HDR_LEN + ol;
	uint32_t len = (uint32_t)(hl + t->len);

	memset(seg, 0, hl);
	be16_store(seg + TCP_OFF_SPORT, t->sport);
	be16_store(seg + TCP_OFF_DPORT, t->dport);
	be32_store(seg + TCP_OFF_SEQ, t->seq);
	be32_store(seg + TCP_OFF_ACK, t->ack);
	seg[TCP_OFF_DOFF] = (uint8_t)((hl / 4) << 4);
	seg[TCP_OFF_FLAGS] = t->flags;
	be16_store(seg + TCP_OFF_WIN, t->win);
	if (t->optlen)
		memcpy(seg + TCP_HDR_LEN, t->opts, t->optlen);
	/* pad with EOL (zeros, already there) */
	if (t->len)
		memcpy(seg + hl, t->data, t->len);
	be16_store(seg + TCP_OFF_CSUM,
		   (uint16_t)(csum_fold(csum_partial(
				      seg, len,
				      csum_pseudo(t->sip, t->dip, IP4_PROTO_TCP,
						  len))) ^
			      (t->bad_csum ? 0x4321 : 0)));
	return pkt_ip4(f, dst, src, &ip, seg, len);
}

int pkt_parse(const uint8_t *f, size_t len, struct pkt_view *v)
{
	const uint8_t *h;
	unsigned hl;

	memset(v, 0, sizeof(*v));
	if (len < ETH_HDR_LEN)
		return -1;
	v->eth = f;
	v->ethertype = eth_type(f);
	if (v->ethertype != ETH_TYPE_IPV4)
		return 0;
	h = f + ETH_HDR_LEN;
	len -= ETH_HDR_LEN;
	if (len < IP4_HDR_LEN || ip4_version(h) != 4)
		return -1;
	hl = ip4_hlen(h);
	if (hl < IP4_HDR_LEN || hl > len || ip4_total_len(h) > len ||
	    ip4_total_len(h) < hl)
		return -1;
	v->ip = h;
	v->ip_src = ip4_src(h);
	v->ip_dst = ip4_dst(h);
	v->ip_proto = ip4_proto(h);
	v->ip_len = ip4_total_len(h);
	v->ip_id = ip4_id(h);
	v->ip_frag = ip4_frag_field(h);
	v->ip_csum_ok = csum_buf(h, hl) == 0;
	v->l4 = h + hl;
	v->l4_len = v->ip_len - hl;
	if ((v->ip_frag & (IP4_FRAG_MASK | IP4_FLAG_MF)) != 0)
		return 0; /* a fragment: no transport parsing */
	switch (v->ip_proto) {
	case IP4_PROTO_ICMP:
		if (v->l4_len < ICMP_HDR_LEN)
			return -1;
		v->l4_csum_ok = csum_buf(v->l4, v->l4_len) == 0;
		v->payload = v->l4 + ICMP_HDR_LEN;
		v->payload_len = v->l4_len - ICMP_HDR_LEN;
		break;
	case IP4_PROTO_UDP:
		if (v->l4_len < UDP_HDR_LEN)
			return -1;
		v->l4_csum_ok = udp_csum(v->l4) == 0 ||
				csum_fold(csum_partial(
					v->l4, v->l4_len,
					csum_pseudo(v->ip_src, v->ip_dst,
						    IP4_PROTO_UDP,
						    (uint32_t)v->l4_len))) == 0;
		v->payload = v->l4 + UDP_HDR_LEN;
		v->payload_len = v->l4_len - UDP_HDR_LEN;
		break;
	case IP4_PROTO_TCP:
		if (v->l4_len < TCP_HDR_LEN || tcp_hlen(v->l4) < TCP_HDR_LEN ||
		    tcp_hlen(v->l4) > v->l4_len)
			return -1;
		v->l4_csum_ok = csum_fold(csum_partial(
					v->l4, v->l4_len,
					csum_pseudo(v->ip_src, v->ip_dst,
						    IP4_PROTO_TCP,
						    (uint32_t)v->l4_len))) == 0;
		v->payload = v->l4 + tcp_hlen(v->l4);
		v->payload_len = v->l4_len - tcp_hlen(v->l4);
		break;
	}
	return 0;
}

size_t pkt_icmp_msg(uint8_t *msg, uint8_t type, uint8_t code, uint16_t id,
		    uint16_t seq, const void *data, size_t len)
{
	msg[0] = type;
	msg[1] = code;
	be16_store(msg + 2, 0);
	be16_store(msg + 4, id);
	be16_store(msg + 6, seq);
	if (len)
		memcpy(msg + 8, data, len);
	be16_store(msg + 2, csum_buf(msg, 8 + len));
	return 8 + len;
}

long pkt_ip4_join(const uint8_t *const *frames, const size_t *lens, int n,
		  uint8_t *out, size_t cap)
{
	uint32_t covered = 0, total = 0;
	const uint8_t *first = NULL;
	int lasts = 0;

	for (int i = 0; i < n; i++) {
		const uint8_t *h = frames[i] + ETH_HDR_LEN;
		unsigned hl;
		uint32_t off, plen;

		if (lens[i] < ETH_HDR_LEN + IP4_HDR_LEN ||
		    eth_type(frames[i]) != ETH_TYPE_IPV4)
			return -1;
		hl = ip4_hlen(h);
		if (hl < IP4_HDR_LEN || ip4_total_len(h) < hl ||
		    ip4_total_len(h) > lens[i] - ETH_HDR_LEN ||
		    csum_buf(h, hl) != 0)
			return -1;
		if (!first)
			first = h;
		else if (ip4_id(h) != ip4_id(first) ||
			 ip4_src(h) != ip4_src(first) ||
			 ip4_dst(h) != ip4_dst(first) ||
			 ip4_proto(h) != ip4_proto(first))
			return -1;
		off = ip4_frag_off(h);
		plen = ip4_total_len(h) - hl;
		if (ip4_mf(h) && (plen % 8))
			return -1;
		if (!ip4_mf(h)) {
			lasts++;
			total = off + plen;
		}
		if (off + plen > cap)
			return -1;
		memcpy(out + off, h + hl, plen);
		covered += plen;
	}
	/* no overlap and one last fragment: covered bytes == total means
	 * no holes, provided nothing lies past the end */
	for (int i = 0; i < n; i++) {
		const uint8_t *h = frames[i] + ETH_HDR_LEN;
		uint32_t a = ip4_frag_off(h);
		uint32_t b = a + ip4_total_len(h) - ip4_hlen(h);

		if (b > total)
			return -1;
		for (int j = i + 1; j < n; j++) {
			const uint8_t *g = frames[j] + ETH_HDR_LEN;
			uint32_t c = ip4_frag_off(g);
			uint32_t d = c + ip4_total_len(g) - ip4_hlen(g);

			if (a < d && c < b)
				return -1; /* overlap */
		}
	}
	if (lasts != 1 || covered != total)
		return -1;
	return (long)total;
}
