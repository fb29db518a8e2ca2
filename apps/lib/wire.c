/*
 * wire.c - bounds-checked parsers of IPv4 and TCP headers and TCP options
 * for the programs that decode captures (see wire.h).
 *
 * May touch: nothing but the bytes it is given.
 */
#include "wire.h"

int wire_ip4_parse(const uint8_t *p, size_t caplen, struct wire_ip4 *ip)
{
	if (caplen < IP4_MIN_LEN || p[IP4_OFF_VER_IHL] >> 4 != IP4_VERSION)
		return -1;
	ip->hlen = (uint32_t)(p[IP4_OFF_VER_IHL] & 0xf) * 4;
	if (ip->hlen < IP4_MIN_LEN || ip->hlen > caplen)
		return -1;
	ip->total = wire_be16(p + IP4_OFF_TOTAL_LEN);
	ip->end = ip->total <= caplen ? ip->total : (uint32_t)caplen;
	ip->frag = wire_be16(p + IP4_OFF_FRAG);
	ip->proto = p[IP4_OFF_PROTO];
	return 0;
}

int wire_tcp_parse(const uint8_t *t, size_t len, struct wire_tcp *th)
{
	if (len < TCP_MIN_LEN)
		return -1;
	th->sport = wire_be16(t + TCP_OFF_SPORT);
	th->dport = wire_be16(t + TCP_OFF_DPORT);
	th->seq = wire_be32(t + TCP_OFF_SEQ);
	th->ack = wire_be32(t + TCP_OFF_ACK);
	th->doff = (uint32_t)(t[TCP_OFF_DOFF] >> 4) * 4;
	th->flags = t[TCP_OFF_FLAGS];
	th->win = wire_be16(t + TCP_OFF_WIN);
	return 0;
}

/* RFC 9293 3.2: EOL and NOP are one byte; every other option is kind,
 * length (counting both), value. */
int wire_tcpopt_next(const uint8_t *o, size_t n, size_t *pos,
		     struct wire_tcpopt *opt)
{
	size_t i = *pos;

	if (i >= n)
		return 0;
	opt->off = (uint32_t)i;
	opt->kind = o[i];
	opt->val = o + i + 1;
	if (opt->kind == TCPOPT_EOL || opt->kind == TCPOPT_NOP) {
		opt->len = 1;
		*pos = i + 1;
		return 1;
	}
	opt->len = i + 1 < n ? o[i + 1] : 0;
	if (opt->len < 2 || i + opt->len > n)
		return -1;
	opt->val = o + i + 2;
	*pos = i + opt->len;
	return 1;
}
