/*
 * check_icmp.c - ICMP (RFC 792, RFC 1122 3.2.2): echo replies byte for
 * byte, drops, the rules and rate limit for errors we send, errors we
 * receive and the errno they become, echo ("ping") sockets through the
 * socket API, and hostile input.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <ustack/socket.h>

#include "core/assert.h"
#include "core/stack.h"
#include "lib/check_main.h"
#include "lib/pkt.h"
#include "lib/testbed.h"
#include "proto/icmp.h"
#include "proto/ipv4.h"
#include "sock/sock.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

static uint8_t frame[ETH_HDR_LEN + 65536];
static uint8_t msg[65536];
static uint8_t data[65536];
static uint8_t out[65536];

static uint64_t stat(struct tb *tb, enum ustack_stat_id id)
{
	return ustack_stat(tb->st, id);
}

static struct tb *tb_peer(const struct ustack_config *cfg)
{
	struct tb *tb = tb_new(cfg);

	tb_learn_peer(tb, TB_PEER, TB_PEER_MAC);
	return tb;
}

static void expect_none(struct tb *tb)
{
	struct tb_frame *f = tb_pop(tb);

	ck_assert_msg(f == NULL, "unexpected frame (%zu bytes)", f ? f->len : 0);
}

static void fill_data(size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 31 + seed);
}

/* An ICMP message from the peer (or src) to dst inside one frame. */
static size_t inject_icmp(struct tb *tb, uint32_t src, uint32_t dst,
			  const uint8_t *eth_to, const void *m, size_t len)
{
	struct pkt_ip ip = {.src = src, .dst = dst, .proto = IP4_PROTO_ICMP};
	size_t n = pkt_ip4(frame, eth_to, TB_PEER_MAC, &ip, m, len);

	tb_inject(tb, frame, n);
	return n;
}

static int count_frames(struct tb *tb)
{
	return (int)tb_drain(tb);
}

/* ---- echo ------------------------------------------------------------ */

START_TEST(test_icmp_echo_reply_byte_exact)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = {.src = TB_PEER, .dst = TB_ADDR,
			    .proto = IP4_PROTO_ICMP, .tos = 0x10, .id = 99};
	uint8_t want[64 + 8];
	struct tb_frame *f;
	const uint8_t *h;
	size_t len, n;

	fill_data(56, 3);
	len = pkt_icmp_msg(msg, ICMP_ECHO, 0, 0xbeef, 3, data, 56);
	n = pkt_ip4(frame, TB_MAC, TB_PEER_MAC, &ip, msg, len);
	tb_inject(tb, frame, n);
	f = tb_pop(tb);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->len, n);
	ck_assert_mem_eq(eth_dst(f->data), TB_PEER_MAC, 6);
	ck_assert_mem_eq(eth_src(f->data), TB_MAC, 6);
	ck_assert_uint_eq(eth_type(f->data), ETH_TYPE_IPV4);
	h = f->data + ETH_HDR_LEN;
	ck_assert_uint_eq(h[0], 0x45);
	ck_assert_uint_eq(ip4_tos(h), 0x10);
	ck_assert_uint_eq(ip4_total_len(h), IP4_HDR_LEN + len);
	ck_assert_uint_eq(ip4_frag_field(h), 0);
	ck_assert_uint_eq(ip4_ttl(h), 64);
	ck_assert_uint_eq(ip4_proto(h), IP4_PROTO_ICMP);
	ck_assert_uint_eq(ip4_src(h), TB_ADDR);
	ck_assert_uint_eq(ip4_dst(h), TB_PEER);
	ck_assert_uint_eq(csum_buf(h, IP4_HDR_LEN), 0);
	/* the ICMP part is exactly a freshly built echo reply */
	pkt_icmp_msg(want, ICMP_ECHO_REPLY, 0, 0xbeef, 3, data, 56);
	ck_assert_mem_eq(h + IP4_HDR_LEN, want, len);
	free(f);
	expect_none(tb);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_RX_ECHO), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_TX_ECHO_REPLY), 1);
	tb_free(tb);
}
END_TEST

START_TEST(test_icmp_echo_checksum_edge_values)
{
	struct tb *tb = tb_peer(NULL);
	struct rand_state r;

	/* the incremental update (RFC 1624) over many checksums, odd
	 * lengths and all-ones data included */
	rand_seed(&r, 11);
	for (int i = 0; i < 500; i++) {
		size_t dlen = rand_below(&r, 300);
		struct tb_frame *f;
		struct pkt_view v;
		size_t len;

		for (size_t k = 0; k < dlen; k++)
			data[k] = (i & 1) ? 0xff : (uint8_t)rand_u32(&r);
		len = pkt_icmp_msg(msg, ICMP_ECHO, 0, (uint16_t)rand_u32(&r),
				   (uint16_t)i, data, dlen);
		inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, msg, len);
		f = tb_pop(tb);
		ck_assert_ptr_nonnull(f);
		ck_assert_int_eq(pkt_parse(f->data, f->len, &v), 0);
		ck_assert(v.l4_csum_ok);
		ck_assert_uint_eq(v.l4_len, len);
		ck_assert_mem_eq(v.l4 + 4, msg + 4, len - 4);
		free(f);
	}
	tb_free(tb);
}
END_TEST

START_TEST(test_icmp_echo_large_fragmented_both_ways)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = {.src = TB_PEER, .dst = TB_ADDR,
			    .proto = IP4_PROTO_ICMP, .id = 4242};
	struct tb_frame *fr[64];
	const uint8_t *fs[64];
	size_t lens[64], len;
	int n = 0;

	fill_data(20000, 9); /* ping -s 20000 */
	len = pkt_icmp_msg(msg, ICMP_ECHO, 0, 77, 1, data, 20000);
	for (size_t off = 0; off < len; off += 1480) {
		size_t plen = len - off < 1480 ? len - off : 1480;

		ip.frag = (uint16_t)(off / 8 |
				     (off + plen < len ? IP4_FLAG_MF : 0));
		tb_inject(tb, frame,
			  pkt_ip4(frame, TB_MAC, TB_PEER_MAC, &ip, msg + off,
				  plen));
	}
	while (n < 64 && (fr[n] = tb_pop(tb)) != NULL) {
		fs[n] = fr[n]->data;
		lens[n] = fr[n]->len;
		ck_assert_uint_le(lens[n], ETH_HDR_LEN + 1500);
		n++;
	}
	ck_assert_int_eq(n, 14);
	ck_assert_int_eq(pkt_ip4_join(fs, lens, n, out, sizeof(out)),
			 (long)len);
	pkt_icmp_msg(msg, ICMP_ECHO_REPLY, 0, 77, 1, data, 20000);
	ck_assert_mem_eq(out, msg, len);
	for (int i = 0; i < n; i++)
		free(fr[i]);
	tb_free(tb);
}
END_TEST

START_TEST(test_icmp_bad_checksum_and_short_dropped)
{
	struct tb *tb = tb_peer(NULL);
	size_t len;

	fill_data(32, 1);
	len = pkt_icmp_msg(msg, ICMP_ECHO, 0, 1, 1, data, 32);
	msg[10] ^= 1;
	inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, msg, len);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_DROP_BAD_CHECKSUM), 1);
	inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, msg, 7);
	inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, msg, 0);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_DROP_SHORT), 2);
	expect_none(tb);
	tb_free(tb);
}
END_TEST

START_TEST(test_icmp_broadcast_echo_ignored)
{
	struct tb *tb = tb_peer(NULL);
	size_t len = pkt_icmp_msg(msg, ICMP_ECHO, 0, 1, 1, data, 16);

	/* RFC 1122 3.2.2.6 lets a host ignore these (smurf amplification) */
	inject_icmp(tb, TB_PEER, IP(10, 0, 0, 255), ETH_BCAST_MAC, msg, len);
	inject_icmp(tb, TB_PEER, IP(255, 255, 255, 255), ETH_BCAST_MAC, msg,
		    len);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_DROP_BCAST_ECHO), 2);
	expect_none(tb);
	tb_free(tb);
}
END_TEST

/* ---- errors we send -------------------------------------------------- */

static void inject_unknown_proto(struct tb *tb, int n)
{
	struct pkt_ip ip = {.src = TB_PEER, .dst = TB_ADDR, .proto = 99};

	for (int i = 0; i < n; i++) {
		ip.id = (uint16_t)i;
		tb_inject(tb, frame, pkt_ip4(frame, TB_MAC, TB_PEER_MAC, &ip,
					     data, 20));
	}
}

START_TEST(test_icmp_errors_rate_limited)
{
	struct ustack_config cfg;
	struct tb *tb;

	tb_config(&cfg);
	cfg.icmp_rate_per_sec = 10;
	cfg.icmp_rate_burst = 5;
	tb = tb_peer(&cfg);
	inject_unknown_proto(tb, 20);
	ck_assert_int_eq(count_frames(tb), 5);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_RATE_LIMITED), 15);
	/* 100 ms buys one more */
	tb_advance(tb, USTACK_MS(100));
	inject_unknown_proto(tb, 3);
	ck_assert_int_eq(count_frames(tb), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_RATE_LIMITED), 17);
	/* a long pause refills only up to the burst */
	tb_advance(tb, USTACK_SEC(10));
	tb_learn_peer(tb, TB_PEER, TB_PEER_MAC);
	inject_unknown_proto(tb, 10);
	ck_assert_int_eq(count_frames(tb), 5);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_TX_DEST_UNREACH), 11);
	tb_free(tb);
}
END_TEST

/* An unknown-protocol datagram from src (each draws protocol unreachable). */
static void inject_unknown_from(struct tb *tb, uint32_t src, int n)
{
	struct pkt_ip ip = {.src = src, .dst = TB_ADDR, .proto = 99};

	for (int i = 0; i < n; i++) {
		ip.id = (uint16_t)i;
		tb_inject(tb, frame, pkt_ip4(frame, TB_MAC, TB_PEER_MAC, &ip,
					     data, 20));
	}
}

/* Linux's pace with the defaults, in virtual time: one source flooding
 * for 10 s draws its burst of 6 and then one error a second; another
 * source still gets its own; echo replies are not limited; a flood from
 * 2,000 sources at once draws the global burst of 50, and 1000 a second
 * after that (30 in 30 ms). */
START_TEST(test_icmp_errors_limited_per_destination)
{
	struct tb *tb = tb_peer(NULL);
	const uint32_t other = 0x0a000003u;
	uint64_t sent;

	/* 100 datagrams a second for 10 s from the peer */
	for (int i = 0; i < 1000; i++) {
		inject_unknown_from(tb, TB_PEER, 1);
		tb_advance(tb, USTACK_MS(10));
	}
	sent = stat(tb, USTACK_STAT_ICMP_TX_DEST_UNREACH);
	ck_assert_msg(sent >= 6 + 9 && sent <= 6 + 10,
		      "%llu errors in 10 s to one host", (unsigned long long)sent);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_RATE_LIMITED), 1000 - sent);
	tb_drain(tb);
	/* the peer is out of tokens; another host is not */
	inject_unknown_from(tb, TB_PEER, 5);
	ck_assert_uint_le(stat(tb, USTACK_STAT_ICMP_TX_DEST_UNREACH), sent + 1);
	sent = stat(tb, USTACK_STAT_ICMP_TX_DEST_UNREACH);
	inject_unknown_from(tb, other, 10);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_TX_DEST_UNREACH), sent + 6);
	/* echo requests are all answered */
	for (int i = 0; i < 100; i++) {
		size_t len = pkt_icmp_msg(msg, ICMP_ECHO, 0, 1, (uint16_t)i,
					  data, 8);

		inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, msg, len);
	}
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_RX_ECHO), 100);
	tb_drain(tb);
	tb_free(tb);

	/* 2,000 sources at once, then again 30 ms later */
	tb = tb_new(NULL);
	for (uint32_t i = 0; i < 2000; i++)
		inject_unknown_from(tb, 0x0b000000u + i, 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_TX_DEST_UNREACH), 50);
	tb_advance(tb, USTACK_MS(30));
	for (uint32_t i = 0; i < 2000; i++)
		inject_unknown_from(tb, 0x0c000000u + i, 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_TX_DEST_UNREACH), 80);
	tb_drain(tb);
	tb_free(tb);
}
END_TEST

/* A pkb as ip4_input hands it up: IP header at nh, data after it. */
static struct pkb *rx_pkb(struct tb *tb, const struct pkt_ip *ip,
			  const void *payload, size_t plen, int l2_mcast)
{
	size_t n = pkt_ip4(frame, TB_MAC, TB_PEER_MAC, ip, payload, plen);
	struct pkb *p = pkb_alloc(tb->st, (uint32_t)(n - ETH_HDR_LEN));
	const uint8_t *h;

	memcpy(pkb_put(p, (uint32_t)(n - ETH_HDR_LEN)), frame + ETH_HDR_LEN,
	       n - ETH_HDR_LEN);
	h = p->data;
	p->l2_mcast = (uint8_t)l2_mcast;
	p->ip.src = ip4_src(h);
	p->ip.dst = ip4_dst(h);
	p->ip.proto = ip4_proto(h);
	p->ip.hlen = (uint8_t)ip4_hlen(h);
	p->ip.bcast = (uint8_t)(ip4_is_broadcast(tb->st, p->ip.dst) ||
				ip4_is_multicast(p->ip.dst));
	pkb_set_nh(p);
	pkb_pull(p, p->ip.hlen);
	pkb_set_th(p);
	return p;
}

/* Does icmp_send_error answer this datagram? */
static int error_sent(struct tb *tb, const struct pkt_ip *ip,
		      const void *payload, size_t plen, int l2_mcast)
{
	struct pkb *p = rx_pkb(tb, ip, payload, plen, l2_mcast);
	int n;

	icmp_send_error(tb->st, p, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
	pkb_free(tb->st, p);
	n = count_frames(tb);
	ck_assert_int_le(n, 1);
	return n;
}

START_TEST(test_icmp_error_rules)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = {.src = TB_PEER, .dst = TB_ADDR, .proto = 17};
	uint8_t m[32];

	memset(m, 0, sizeof(m));
	ck_assert_int_eq(error_sent(tb, &ip, m, 16, 0), 1);
	/* RFC 1122 3.2.2: never about a link-layer or IP broadcast */
	ck_assert_int_eq(error_sent(tb, &ip, m, 16, 1), 0);
	ip.dst = IP(10, 0, 0, 255);
	ck_assert_int_eq(error_sent(tb, &ip, m, 16, 0), 0);
	ip.dst = IP(255, 255, 255, 255);
	ck_assert_int_eq(error_sent(tb, &ip, m, 16, 0), 0);
	ip.dst = IP(224, 0, 0, 9);
	ck_assert_int_eq(error_sent(tb, &ip, m, 16, 0), 0);
	ip.dst = TB_ADDR;
	/* never about a non-first fragment; fragment zero is fine */
	ip.frag = 185;
	ck_assert_int_eq(error_sent(tb, &ip, m, 16, 0), 0);
	ip.frag = IP4_FLAG_MF;
	ck_assert_int_eq(error_sent(tb, &ip, m, 16, 0), 1);
	ip.frag = 0;
	/* never to a source that is not one host */
	const uint32_t bad_src[] = {0, IP(224, 1, 1, 1), IP(127, 0, 0, 1),
				    IP(10, 0, 0, 255), IP(255, 255, 255, 255),
				    IP(240, 0, 0, 1)};
	for (unsigned i = 0; i < USTACK_ARRAY_SIZE(bad_src); i++) {
		ip.src = bad_src[i];
		ck_assert_int_eq(error_sent(tb, &ip, m, 16, 0), 0);
	}
	ip.src = TB_PEER;
	/* never about an ICMP error; queries may get one */
	ip.proto = IP4_PROTO_ICMP;
	pkt_icmp_msg(m, ICMP_DEST_UNREACH, 3, 0, 0, NULL, 0);
	ck_assert_int_eq(error_sent(tb, &ip, m, 8, 0), 0);
	pkt_icmp_msg(m, ICMP_TIME_EXCEEDED, 0, 0, 0, NULL, 0);
	ck_assert_int_eq(error_sent(tb, &ip, m, 8, 0), 0);
	pkt_icmp_msg(m, 42, 0, 0, 0, NULL, 0); /* unknown type */
	ck_assert_int_eq(error_sent(tb, &ip, m, 8, 0), 0);
	ck_assert_int_eq(error_sent(tb, &ip, m, 0, 0), 0); /* no type byte */
	pkt_icmp_msg(m, ICMP_ECHO, 0, 0, 0, NULL, 0);
	ck_assert_int_eq(error_sent(tb, &ip, m, 8, 0), 1);
	/* refused ones cost no token */
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_RATE_LIMITED), 0);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_TX_DEST_UNREACH), 3);
	tb_free(tb);
}
END_TEST

START_TEST(test_icmp_error_quotes_at_most_576)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = {.src = TB_PEER, .dst = TB_ADDR, .proto = 17};
	struct pkb *p;
	struct tb_frame *f;
	struct pkt_view v;

	fill_data(1400, 5);
	p = rx_pkb(tb, &ip, data, 1400, 0);
	icmp_send_error(tb->st, p, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1280);
	f = tb_pop(tb);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(pkt_parse(f->data, f->len, &v), 0);
	ck_assert_uint_eq(v.ip_len, 576);
	ck_assert(v.l4_csum_ok);
	ck_assert_uint_eq(v.l4[1], ICMP_FRAG_NEEDED);
	ck_assert_uint_eq(be16_load(v.l4 + 6), 1280); /* RFC 1191 */
	ck_assert_mem_eq(v.payload, pkb_nh(p), 576 - 28);
	free(f);
	pkb_free(tb->st, p);
	tb_free(tb);
}
END_TEST

/* ---- errors we receive ----------------------------------------------- */

/* An ICMP error quoting `quote` (an IP header + at least 8 bytes). */
static size_t error_msg(uint8_t *m, uint8_t type, uint8_t code,
			uint32_t rest, const uint8_t *quote, size_t qlen)
{
	memset(m, 0, 8);
	m[0] = type;
	m[1] = code;
	be32_store(m + 4, rest);
	memcpy(m + 8, quote, qlen);
	be16_store(m + 2, csum_buf(m, 8 + qlen));
	return 8 + qlen;
}

/* The IP header + 8 bytes of a UDP datagram from us:sport to dst:dport. */
static size_t udp_quote(uint8_t *q, uint32_t src, uint16_t sport,
			uint32_t dst, uint16_t dport)
{
	uint8_t f[128];
	size_t n = pkt_udp(f, TB_PEER_MAC, TB_MAC, src, dst, sport, dport,
			   "hello", 5, 1);

	memcpy(q, f + ETH_HDR_LEN, n - ETH_HDR_LEN);
	return n - ETH_HDR_LEN;
}

START_TEST(test_icmp_port_unreachable_reaches_udp)
{
	struct tb *tb = tb_peer(NULL);
	uint8_t q[128], m[256];
	size_t ql = udp_quote(q, TB_ADDR, 5000, TB_PEER, 53), ml;

	ml = error_msg(m, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, q, ql);
	inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, m, ml);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_RX_DEST_UNREACH), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_ERR_DELIVERED), 1);
	/* only IP header + 8 bytes quoted (RFC 792 minimum): still fine */
	ml = error_msg(m, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, q, 28);
	inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, m, ml);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_ERR_DELIVERED), 2);
	expect_none(tb); /* never an error about an error */
	tb_free(tb);
}
END_TEST

START_TEST(test_icmp_bad_quotes_dropped)
{
	struct tb *tb = tb_peer(NULL);
	uint8_t q[128], m[256];
	size_t ql, ml;

	/* quoting someone else's datagram */
	ql = udp_quote(q, IP(10, 0, 0, 9), 5000, TB_PEER, 53);
	ml = error_msg(m, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, q, ql);
	inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, m, ml);
	/* too short a quote */
	ql = udp_quote(q, TB_ADDR, 5000, TB_PEER, 53);
	ml = error_msg(m, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, q, 27);
	inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, m, ml);
	/* not IPv4 inside */
	q[0] = 0x65;
	ml = error_msg(m, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, q, ql);
	inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, m, ml);
	/* a non-first fragment carries no ports */
	ql = udp_quote(q, TB_ADDR, 5000, TB_PEER, 53);
	be16_store(q + IP4_OFF_FRAG, 100);
	ml = error_msg(m, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, q, ql);
	inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, m, ml);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_DROP_BAD_QUOTE), 4);
	/* a protocol with no sockets */
	ql = udp_quote(q, TB_ADDR, 5000, TB_PEER, 53);
	q[IP4_OFF_PROTO] = 99;
	ml = error_msg(m, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, q, ql);
	inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, m, ml);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_ERR_NO_SOCKET), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_ERR_DELIVERED), 0);
	/* unknown code, source quench (RFC 6633), redirect: ignored */
	ql = udp_quote(q, TB_ADDR, 5000, TB_PEER, 53);
	ml = error_msg(m, ICMP_DEST_UNREACH, 16, 0, q, ql);
	inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, m, ml);
	ml = error_msg(m, ICMP_SOURCE_QUENCH, 0, 0, q, ql);
	inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, m, ml);
	ml = error_msg(m, ICMP_REDIRECT, 1, IP(10, 0, 0, 9), q, ql);
	inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, m, ml);
	ml = error_msg(m, ICMP_TIME_EXCEEDED, 2, 0, q, ql);
	inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, m, ml);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_DROP_BAD_TYPE), 4);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_ERR_DELIVERED), 0);
	expect_none(tb);
	tb_free(tb);
}
END_TEST

START_TEST(test_icmp_tcp_error_delivered)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_tcp t = {.sip = TB_ADDR, .dip = TB_PEER, .sport = 40000,
			    .dport = 80, .seq = 1000, .flags = 0x02,
			    .win = 1000};
	uint8_t f[128], m[256];
	size_t n = pkt_tcp(f, TB_PEER_MAC, TB_MAC, &t), ml;

	ml = error_msg(m, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1400,
		       f + ETH_HDR_LEN, n - ETH_HDR_LEN);
	inject_icmp(tb, IP(10, 0, 0, 254), TB_ADDR, TB_MAC, m, ml);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_ERR_DELIVERED), 1);
	tb_free(tb);
}
END_TEST

/* ---- echo sockets ---------------------------------------------------- */

static int ping_socket(struct tb *tb)
{
	int sd = ustack_socket(tb->st, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK,
			       IPPROTO_ICMP);

	ck_assert_int_ge(sd, 0);
	return sd;
}

static ssize_t ping_send(struct tb *tb, int sd, uint32_t dst, uint16_t seq,
			 size_t dlen)
{
	struct sockaddr_in to = tb_sin(dst, 0);
	size_t len;

	fill_data(dlen, seq);
	len = pkt_icmp_msg(msg, ICMP_ECHO, 0, 0, seq, data, dlen);
	return ustack_sendto(tb->st, sd, msg, len, 0, (struct sockaddr *)&to,
			     sizeof(to));
}

START_TEST(test_icmp_sock_echo_round_trip)
{
	struct tb *tb = tb_peer(NULL);
	int sd = ping_socket(tb);
	struct sockaddr_in b = tb_sin(0, 0x4242), from;
	socklen_t fl = sizeof(from);
	struct tb_frame *f;
	struct pkt_view v;
	uint8_t reply[128];
	size_t len;
	ssize_t n;

	ck_assert_int_eq(ustack_bind(tb->st, sd, (struct sockaddr *)&b,
				     sizeof(b)), 0);
	ck_assert_int_eq(ping_send(tb, sd, TB_PEER, 7, 40), 48);
	f = tb_pop(tb);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(pkt_parse(f->data, f->len, &v), 0);
	ck_assert_uint_eq(v.ip_dst, TB_PEER);
	ck_assert(v.l4_csum_ok);
	ck_assert_uint_eq(v.l4[0], ICMP_ECHO);
	ck_assert_uint_eq(icmp_id(v.l4), 0x4242); /* the socket's port */
	ck_assert_uint_eq(icmp_seq(v.l4), 7);
	ck_assert_mem_eq(v.payload, data, 40);
	free(f);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_TX_ECHO), 1);
	ck_assert_int_eq(ustack_recv(tb->st, sd, reply, sizeof(reply), 0),
			 -EAGAIN);

	/* the peer answers; another identifier is not ours */
	len = pkt_icmp_msg(msg, ICMP_ECHO_REPLY, 0, 0x4243, 7, data, 40);
	inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, msg, len);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_DROP_NO_SOCKET), 1);
	len = pkt_icmp_msg(msg, ICMP_ECHO_REPLY, 0, 0x4242, 7, data, 40);
	inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, msg, len);
	n = ustack_recvfrom(tb->st, sd, reply, sizeof(reply), 0,
			    (struct sockaddr *)&from, &fl);
	ck_assert_int_eq(n, (ssize_t)len);
	ck_assert_mem_eq(reply, msg, len);
	ck_assert_uint_eq(ntohl(from.sin_addr.s_addr), TB_PEER);
	ck_assert_int_eq(ustack_close(tb->st, sd), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_icmp_sock_autobind_and_checks)
{
	struct tb *tb = tb_peer(NULL);
	int sd = ping_socket(tb), sd2 = ping_socket(tb);
	struct sockaddr_in name, b;
	socklen_t nl = sizeof(name);
	struct tb_frame *f;
	struct pkt_view v;
	uint8_t bad[8] = {13, 0};

	ck_assert_int_eq(ping_send(tb, sd, TB_PEER, 1, 8), 16);
	ck_assert_int_eq(ustack_getsockname(tb->st, sd, (struct sockaddr *)&name,
					    &nl), 0);
	ck_assert_uint_ge(ntohs(name.sin_port), SOCK_EPHEMERAL_LOW);
	f = tb_pop(tb);
	ck_assert_int_eq(pkt_parse(f->data, f->len, &v), 0);
	ck_assert_uint_eq(icmp_id(v.l4), ntohs(name.sin_port));
	free(f);
	/* the identifier is taken */
	b = tb_sin(0, ntohs(name.sin_port));
	ck_assert_int_eq(ustack_bind(tb->st, sd2, (struct sockaddr *)&b,
				     sizeof(b)), -EADDRINUSE);
	/* echo requests only, at least a header */
	ck_assert_int_eq(ustack_sendto(tb->st, sd, bad, 8, 0,
				       (struct sockaddr *)&b, sizeof(b)), -EINVAL);
	b = tb_sin(TB_PEER, 0);
	ck_assert_int_eq(ustack_sendto(tb->st, sd, msg, 4, 0,
				       (struct sockaddr *)&b, sizeof(b)), -EINVAL);
	/* broadcast needs SO_BROADCAST */
	ck_assert_int_eq(ping_send(tb, sd, IP(10, 0, 0, 255), 1, 8), -EACCES);
	/* no route */
	ck_assert_int_eq(ping_send(tb, sd, IP(192, 0, 2, 1), 1, 8),
			 -ENETUNREACH);
	/* not connected, no address */
	ck_assert_int_eq(ustack_send(tb->st, sd, msg, 16, 0), -EDESTADDRREQ);
	expect_none(tb);
	ustack_close(tb->st, sd);
	ustack_close(tb->st, sd2);
	tb_free(tb);
}
END_TEST

START_TEST(test_icmp_sock_connected_filters_and_polls)
{
	struct tb *tb = tb_peer(NULL);
	int sd = ping_socket(tb);
	struct sockaddr_in peer = tb_sin(TB_PEER, 0), name;
	socklen_t nl = sizeof(name);
	struct ustack_pollfd pfd = {.sd = sd, .events = POLLIN | POLLOUT};
	uint8_t reply[64];
	uint16_t id;
	size_t len;

	ck_assert_int_eq(ustack_connect(tb->st, sd, (struct sockaddr *)&peer,
					sizeof(peer)), 0);
	ustack_getsockname(tb->st, sd, (struct sockaddr *)&name, &nl);
	id = ntohs(name.sin_port);
	ck_assert_uint_ne(id, 0);
	ck_assert_int_eq(ustack_poll(tb->st, &pfd, 1, 0), 1);
	ck_assert_int_eq(pfd.revents, POLLOUT);
	/* a reply from another host does not reach a connected socket */
	tb_learn_peer(tb, IP(10, 0, 0, 9), TB_PEER_MAC);
	len = pkt_icmp_msg(msg, ICMP_ECHO_REPLY, 0, id, 1, data, 8);
	inject_icmp(tb, IP(10, 0, 0, 9), TB_ADDR, TB_MAC, msg, len);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_DROP_NO_SOCKET), 1);
	inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, msg, len);
	pfd.revents = 0;
	ck_assert_int_eq(ustack_poll(tb->st, &pfd, 1, 0), 1);
	ck_assert_int_eq(pfd.revents, POLLIN | POLLOUT);
	ck_assert_int_eq(ustack_recv(tb->st, sd, reply, sizeof(reply), 0),
			 (ssize_t)len);
	ustack_close(tb->st, sd);
	tb_free(tb);
}
END_TEST

START_TEST(test_icmp_sock_receive_queue_bounded)
{
	struct tb *tb = tb_peer(NULL);
	int sd = ping_socket(tb), small = 4096;
	struct sockaddr_in b = tb_sin(0, 9);
	size_t len;
	int queued = 0;
	uint8_t reply[2048];

	ck_assert_int_eq(ustack_setsockopt(tb->st, sd, SOL_SOCKET, SO_RCVBUF,
					   &small, sizeof(small)), 0);
	ck_assert_int_eq(ustack_bind(tb->st, sd, (struct sockaddr *)&b,
				     sizeof(b)), 0);
	len = pkt_icmp_msg(msg, ICMP_ECHO_REPLY, 0, 9, 1, data, 1000);
	for (int i = 0; i < 20; i++)
		inject_icmp(tb, TB_PEER, TB_ADDR, TB_MAC, msg, len);
	ck_assert_uint_gt(stat(tb, USTACK_STAT_ICMP_DROP_RCVBUF), 0);
	while (ustack_recv(tb->st, sd, reply, sizeof(reply), 0) > 0)
		queued++;
	ck_assert_int_eq(queued + (int)stat(tb, USTACK_STAT_ICMP_DROP_RCVBUF),
			 20);
	ck_assert_int_le(queued, 4);
	ustack_close(tb->st, sd);
	tb_free(tb);
}
END_TEST

START_TEST(test_icmp_sock_errors_map_to_errno)
{
	static const struct {
		uint8_t type, code;
		int err;
	} cases[] = {
		{ICMP_DEST_UNREACH, ICMP_NET_UNREACH, ENETUNREACH},
		{ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, EHOSTUNREACH},
		{ICMP_DEST_UNREACH, ICMP_PROTO_UNREACH, ENOPROTOOPT},
		{ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, ECONNREFUSED},
		{ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, EMSGSIZE},
		{ICMP_DEST_UNREACH, ICMP_ADMIN_PROHIB, EHOSTUNREACH},
		{ICMP_TIME_EXCEEDED, 0, EHOSTUNREACH},
		{ICMP_PARAM_PROBLEM, 0, EPROTO},
	};
	struct tb *tb = tb_peer(NULL);
	int sd = ping_socket(tb);
	uint8_t m[256], reply[64];

	for (unsigned i = 0; i < USTACK_ARRAY_SIZE(cases); i++) {
		struct tb_frame *f;
		size_t ml;

		ck_assert_int_eq(ping_send(tb, sd, TB_PEER, (uint16_t)i, 16),
				 24);
		f = tb_pop(tb);
		ck_assert_ptr_nonnull(f);
		ml = error_msg(m, cases[i].type, cases[i].code, 0,
			       f->data + ETH_HDR_LEN, 28);
		free(f);
		inject_icmp(tb, IP(10, 0, 0, 254), TB_ADDR, TB_MAC, m, ml);
		ck_assert_int_eq(ustack_recv(tb->st, sd, reply, sizeof(reply),
					     0), -cases[i].err);
		ck_assert_int_eq(ustack_recv(tb->st, sd, reply, sizeof(reply),
					     0), -EAGAIN);
	}
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_ERR_DELIVERED),
			  USTACK_ARRAY_SIZE(cases));
	ustack_close(tb->st, sd);
	tb_free(tb);
}
END_TEST

START_TEST(test_icmp_sock_ping_self)
{
	struct tb *tb = tb_new(NULL);
	int sd = ping_socket(tb);
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	uint8_t reply[4096];

	ck_assert_int_eq(ping_send(tb, sd, TB_ADDR, 5, 3000), 3008);
	ck_assert_int_eq(ustack_recv(tb->st, sd, reply, sizeof(reply), 0),
			 -EAGAIN);
	tb_advance(tb, 0);
	ck_assert_int_eq(ustack_recvfrom(tb->st, sd, reply, sizeof(reply), 0,
					 (struct sockaddr *)&from, &fl), 3008);
	ck_assert_uint_eq(reply[0], ICMP_ECHO_REPLY);
	ck_assert_uint_eq(icmp_seq(reply), 5);
	ck_assert_mem_eq(reply + 8, data, 3000);
	ck_assert_uint_eq(ntohl(from.sin_addr.s_addr), TB_ADDR);
	expect_none(tb);
	ustack_close(tb->st, sd);
	tb_free(tb);
}
END_TEST

/* ---- hostile input --------------------------------------------------- */

START_TEST(test_icmp_hostile_input_no_crash_no_leak)
{
	struct tb *tb = tb_peer(NULL);
	int sd = ping_socket(tb);
	struct sockaddr_in b = tb_sin(0, 3);
	struct rand_state r;
	uint8_t q[128], m[512], reply[600];

	ck_assert_int_eq(ustack_bind(tb->st, sd, (struct sockaddr *)&b,
				     sizeof(b)), 0);
	rand_seed(&r, 31337);
	for (int i = 0; i < 30000; i++) {
		size_t ql = rand_below(&r, 100), ml;

		for (size_t k = 0; k < ql; k++)
			q[k] = (uint8_t)rand_u32(&r);
		if (ql >= 20 && rand_below(&r, 2)) {
			/* a plausible quoted header from us */
			q[0] = (uint8_t)(0x45 + rand_below(&r, 2) * rand_below(&r, 11));
			be32_store(q + IP4_OFF_SRC, TB_ADDR);
			q[IP4_OFF_PROTO] = (uint8_t)(rand_below(&r, 3) == 0 ? 1
						     : rand_below(&r, 2) ? 6 : 17);
			be16_store(q + IP4_OFF_FRAG, 0);
			if (ql >= 24)
				q[20] = ICMP_ECHO, q[24] = 0, q[25] = 3;
		}
		ml = error_msg(m, (uint8_t)rand_below(&r, 20),
			       (uint8_t)rand_below(&r, 20), rand_u32(&r), q, ql);
		if (rand_below(&r, 8) == 0)
			m[2] ^= 1; /* bad checksum */
		if (rand_below(&r, 4) == 0)
			ml = rand_below(&r, (uint32_t)ml + 1);
		inject_icmp(tb, TB_PEER, rand_below(&r, 8) ? TB_ADDR
					 : IP(10, 0, 0, 255), TB_MAC, m, ml);
		if (rand_below(&r, 16) == 0)
			while (ustack_recv(tb->st, sd, reply, sizeof(reply),
					   0) != -EAGAIN)
				;
		tb_drain(tb);
	}
	ustack_close(tb->st, sd);
	ck_assert_uint_eq(ustack_pkb_in_use(tb->st), 0);
	tb_free(tb);
}
END_TEST

static Suite *icmp_suite(void)
{
	Suite *s = suite_create("icmp");
	TCase *tc = tcase_create("icmp");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_icmp_echo_reply_byte_exact);
	tcase_add_test(tc, test_icmp_echo_checksum_edge_values);
	tcase_add_test(tc, test_icmp_echo_large_fragmented_both_ways);
	tcase_add_test(tc, test_icmp_bad_checksum_and_short_dropped);
	tcase_add_test(tc, test_icmp_broadcast_echo_ignored);
	tcase_add_test(tc, test_icmp_errors_rate_limited);
	tcase_add_test(tc, test_icmp_errors_limited_per_destination);
	tcase_add_test(tc, test_icmp_error_rules);
	tcase_add_test(tc, test_icmp_error_quotes_at_most_576);
	tcase_add_test(tc, test_icmp_port_unreachable_reaches_udp);
	tcase_add_test(tc, test_icmp_bad_quotes_dropped);
	tcase_add_test(tc, test_icmp_tcp_error_delivered);
	tcase_add_test(tc, test_icmp_sock_echo_round_trip);
	tcase_add_test(tc, test_icmp_sock_autobind_and_checks);
	tcase_add_test(tc, test_icmp_sock_connected_filters_and_polls);
	tcase_add_test(tc, test_icmp_sock_receive_queue_bounded);
	tcase_add_test(tc, test_icmp_sock_errors_map_to_errno);
	tcase_add_test(tc, test_icmp_sock_ping_self);
	tcase_add_test(tc, test_icmp_hostile_input_no_crash_no_leak);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(icmp_suite)
