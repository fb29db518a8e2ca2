/*
 * check_ipv4.c - IPv4 (RFC 791, RFC 1122 3.2, 3.3): header validation
 * drops, padding, options, address checks, reassembly in every order and
 * under attack (teardrop, duplicates, bounds, timeout), fragmentation,
 * routing, loopback, and hostile input.
 *
 * Most tests use an ICMP echo request as the probe: a datagram that
 * passes IP is answered with a reply, one that does not is answered by
 * nothing.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/stack.h"
#include "lib/check_main.h"
#include "lib/pkt.h"
#include "lib/testbed.h"
#include "proto/arp.h"
#include "proto/ipv4.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))
#define FRAME_MAX (ETH_HDR_LEN + 65536)
#define MAX_FRAGS 256

static uint8_t frame[FRAME_MAX];
static uint8_t msg[65536 + 256]; /* + room for hostile offsets */
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

/* An echo request of dlen data bytes into msg; returns its length. */
static size_t echo_msg(uint16_t id, uint16_t seq, size_t dlen)
{
	static uint8_t data[65536];

	for (size_t i = 0; i < dlen; i++)
		data[i] = (uint8_t)(i * 7 + seq);
	return pkt_icmp_msg(msg, ICMP_ECHO, 0, id, seq, data, dlen);
}

static struct pkt_ip ip_from_peer(void)
{
	struct pkt_ip ip = {.src = TB_PEER, .dst = TB_ADDR,
			    .proto = IP4_PROTO_ICMP, .id = 0x1234};
	return ip;
}

/* Inject payload from the peer with the given header; returns frame len. */
static size_t inject_ip(struct tb *tb, const struct pkt_ip *ip,
			const void *payload, size_t len)
{
	size_t n = pkt_ip4(frame, TB_MAC, TB_PEER_MAC, ip, payload, len);

	tb_inject(tb, frame, n);
	return n;
}

/* A plain echo request (56 data bytes) from the peer with header ip. */
static void inject_echo(struct tb *tb, const struct pkt_ip *ip)
{
	size_t n = echo_msg(7, 1, 56);

	inject_ip(tb, ip, msg, n);
}

/* Recompute the IP header checksum of a frame we edited. */
static void fix_csum(uint8_t *f)
{
	uint8_t *h = f + ETH_HDR_LEN;

	be16_store(h + IP4_OFF_CSUM, 0);
	be16_store(h + IP4_OFF_CSUM, csum_buf(h, ip4_hlen(h)));
}

static void expect_none(struct tb *tb)
{
	struct tb_frame *f = tb_pop(tb);

	ck_assert_msg(f == NULL, "unexpected frame (%zu bytes)", f ? f->len : 0);
}

/* Pop every frame and join them as one datagram's payload into out.
 * Returns the payload length (-1 if they do not form one datagram). */
static long pop_datagram(struct tb *tb, int *nfrags)
{
	struct tb_frame *fr[MAX_FRAGS];
	const uint8_t *fs[MAX_FRAGS];
	size_t lens[MAX_FRAGS];
	int n = 0;
	long len;

	while (n < MAX_FRAGS && (fr[n] = tb_pop(tb)) != NULL) {
		fs[n] = fr[n]->data;
		lens[n] = fr[n]->len;
		n++;
	}
	len = n ? pkt_ip4_join(fs, lens, n, out, sizeof(out)) : -1;
	for (int i = 0; i < n; i++)
		free(fr[i]);
	if (nfrags)
		*nfrags = n;
	return len;
}

/* The reply to the echo request in msg[0..len) is in out. */
static void check_echo_reply(long got, size_t len)
{
	ck_assert_int_eq(got, (long)len);
	ck_assert_uint_eq(out[0], ICMP_ECHO_REPLY);
	ck_assert_uint_eq(out[1], 0);
	ck_assert_uint_eq(csum_buf(out, len), 0);
	ck_assert_mem_eq(out + 4, msg + 4, len - 4); /* id, seq, data */
}

/* Send msg[0..len) from the peer in fragments of fl bytes, in `order`
 * (indices; NULL: in order). Returns the number of fragments. */
static int inject_frags(struct tb *tb, const struct pkt_ip *base, size_t len,
			size_t fl, const int *order)
{
	int n = (int)((len + fl - 1) / fl);

	for (int k = 0; k < n; k++) {
		int i = order ? order[k] : k;
		size_t off = (size_t)i * fl, plen = len - off < fl ? len - off : fl;
		struct pkt_ip ip = *base;

		ip.frag = (uint16_t)(off / 8);
		if (off + plen < len)
			ip.frag |= IP4_FLAG_MF;
		inject_ip(tb, &ip, msg + off, plen);
	}
	return n;
}

static void inject_frag(struct tb *tb, const struct pkt_ip *base, size_t off,
			size_t plen, int mf)
{
	struct pkt_ip ip = *base;

	ip.frag = (uint16_t)(off / 8 | (mf ? IP4_FLAG_MF : 0));
	inject_ip(tb, &ip, msg + off, plen);
}

/* ---- validation ------------------------------------------------------ */

START_TEST(test_ip4_valid_echo_is_answered)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	struct pkt_view v;
	struct tb_frame *f;

	inject_echo(tb, &ip);
	f = tb_pop(tb);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(pkt_parse(f->data, f->len, &v), 0);
	ck_assert(v.ip_csum_ok);
	ck_assert_uint_eq(v.ip_src, TB_ADDR);
	ck_assert_uint_eq(v.ip_dst, TB_PEER);
	ck_assert_uint_eq(v.ip[IP4_OFF_TTL], IP4_DEFAULT_TTL);
	ck_assert_uint_eq(v.ip_frag, 0);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_RX_DELIVERED), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_TX), 1);
	free(f);
	expect_none(tb);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_bad_checksum_dropped_silently)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();

	ip.bad_csum = 1;
	inject_echo(tb, &ip);
	expect_none(tb);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_DROP_BAD_CHECKSUM), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_RX_DELIVERED), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_truncated_header_dropped)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	size_t n;

	n = pkt_ip4(frame, TB_MAC, TB_PEER_MAC, &ip, NULL, 0);
	for (size_t cut = ETH_HDR_LEN; cut < n; cut++)
		tb_inject(tb, frame, cut);
	expect_none(tb);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_DROP_SHORT), IP4_HDR_LEN);
	/* IHL says 60 bytes, the frame has 40 */
	n = pkt_ip4(frame, TB_MAC, TB_PEER_MAC, &ip, msg, 20);
	frame[ETH_HDR_LEN] = 0x4f;
	tb_inject(tb, frame, n);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_DROP_SHORT), IP4_HDR_LEN + 1);
	expect_none(tb);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_bad_ihl_and_version_dropped)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	size_t n = echo_msg(1, 1, 32);

	n = pkt_ip4(frame, TB_MAC, TB_PEER_MAC, &ip, msg, n);
	frame[ETH_HDR_LEN] = 0x44; /* IHL 4 */
	tb_inject(tb, frame, n);
	frame[ETH_HDR_LEN] = 0x40; /* IHL 0 */
	tb_inject(tb, frame, n);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_DROP_BAD_IHL), 2);
	frame[ETH_HDR_LEN] = 0x65; /* IPv6 version, in an IPv4 frame */
	fix_csum(frame);
	tb_inject(tb, frame, n);
	frame[ETH_HDR_LEN] = 0x05;
	tb_inject(tb, frame, n);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_DROP_BAD_VERSION), 2);
	expect_none(tb);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_total_length_checked)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	size_t n = echo_msg(1, 1, 32);

	ip.total_len_delta = 1; /* one byte beyond the frame */
	inject_ip(tb, &ip, msg, n);
	ip.total_len_delta = -(int)(n + 1); /* shorter than the header */
	inject_ip(tb, &ip, msg, n);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_DROP_BAD_LENGTH), 2);
	expect_none(tb);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_padding_trimmed)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	size_t len = echo_msg(3, 9, 4), n;
	long got;

	/* 46-byte minimum Ethernet payload: 28 bytes of IP, 18 of padding */
	n = pkt_ip4(frame, TB_MAC, TB_PEER_MAC, &ip, msg, len);
	memset(frame + n, 0xee, 18);
	tb_inject(tb, frame, n + 18);
	got = pop_datagram(tb, NULL);
	check_echo_reply(got, len);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_options_skipped)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	/* NOP, record route (len 7, one slot), EOL */
	static const uint8_t rr[8] = {1, 7, 7, 4, 0, 0, 0, 0};
	size_t len = echo_msg(3, 9, 100);

	ip.opts = rr;
	ip.optlen = sizeof(rr);
	inject_ip(tb, &ip, msg, len);
	check_echo_reply(pop_datagram(tb, NULL), len);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_DROP_BAD_OPTIONS), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_malformed_options_dropped)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	static const uint8_t zero_len[4] = {0x44, 0, 0, 0};  /* TS, len 0 */
	static const uint8_t too_long[4] = {7, 12, 4, 0};    /* past IHL */
	static const uint8_t no_len[4] = {1, 1, 1, 0x83};    /* LSRR, cut */
	static const uint8_t one[4] = {1, 1, 0x89, 1};       /* len 1 */
	const uint8_t *bad[] = {zero_len, too_long, no_len, one};
	size_t len = echo_msg(3, 9, 10);

	for (int i = 0; i < 4; i++) {
		ip.opts = bad[i];
		ip.optlen = 4;
		inject_ip(tb, &ip, msg, len);
	}
	expect_none(tb);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_DROP_BAD_OPTIONS), 4);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_martian_sources_dropped)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	const uint32_t bad[] = {
		IP(127, 0, 0, 1), IP(224, 0, 0, 1), IP(255, 255, 255, 255),
		IP(10, 0, 0, 255), IP(10, 0, 0, 0), 0, IP(0, 1, 2, 3),
		IP(240, 0, 0, 1), TB_ADDR,
	};

	for (unsigned i = 0; i < USTACK_ARRAY_SIZE(bad); i++) {
		ip.src = bad[i];
		inject_echo(tb, &ip);
	}
	expect_none(tb);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_DROP_BAD_SRC),
			  USTACK_ARRAY_SIZE(bad));
	/* 0.0.0.0 to the limited broadcast (initialisation) passes IP: the
	 * echo is then ignored as a broadcast one */
	ip.src = 0;
	ip.dst = IP(255, 255, 255, 255);
	inject_echo(tb, &ip);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_DROP_BAD_SRC),
			  USTACK_ARRAY_SIZE(bad));
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_DROP_BCAST_ECHO), 1);
	expect_none(tb);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_not_for_us_dropped)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	size_t len = echo_msg(1, 1, 8), n;

	ip.dst = IP(10, 0, 0, 3);
	inject_echo(tb, &ip);
	ip.dst = IP(224, 0, 0, 1); /* multicast: not supported */
	inject_echo(tb, &ip);
	ip.dst = IP(192, 168, 0, 2);
	inject_echo(tb, &ip);
	/* RFC 1122 3.3.6: link broadcast carrying a unicast IP datagram */
	ip.dst = TB_ADDR;
	n = pkt_ip4(frame, ETH_BCAST_MAC, TB_PEER_MAC, &ip, msg, len);
	tb_inject(tb, frame, n);
	expect_none(tb);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_DROP_NOT_US), 4);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_broadcast_destinations_accepted)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	const uint32_t dsts[] = {IP(255, 255, 255, 255), IP(10, 0, 0, 255),
				 IP(10, 0, 0, 0)}; /* RFC 1122 3.3.6 */
	size_t len = echo_msg(1, 1, 8), n;

	for (int i = 0; i < 3; i++) {
		ip.dst = dsts[i];
		n = pkt_ip4(frame, ETH_BCAST_MAC, TB_PEER_MAC, &ip, msg, len);
		tb_inject(tb, frame, n);
	}
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_RX_DELIVERED), 3);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_DROP_BCAST_ECHO), 3);
	expect_none(tb);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_low_ttl_delivered)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	size_t len = echo_msg(1, 1, 8), n;

	/* RFC 1122 3.2.1.7: MUST NOT discard for TTL < 2 */
	ip.ttl = 1;
	inject_ip(tb, &ip, msg, len);
	check_echo_reply(pop_datagram(tb, NULL), len);
	n = pkt_ip4(frame, TB_MAC, TB_PEER_MAC, &ip, msg, len);
	frame[ETH_HDR_LEN + IP4_OFF_TTL] = 0;
	fix_csum(frame);
	tb_inject(tb, frame, n);
	check_echo_reply(pop_datagram(tb, NULL), len);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_DROP_TTL), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_unknown_protocol_gets_protocol_unreachable)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	struct tb_frame *f;
	struct pkt_view v;
	size_t n;

	memset(msg, 0x5c, 30);
	ip.proto = 99;
	n = inject_ip(tb, &ip, msg, 30);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_DROP_UNKNOWN_PROTO), 1);
	f = tb_pop(tb);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(pkt_parse(f->data, f->len, &v), 0);
	ck_assert_uint_eq(v.ip_proto, IP4_PROTO_ICMP);
	ck_assert_uint_eq(v.ip_dst, TB_PEER);
	ck_assert(v.l4_csum_ok);
	ck_assert_uint_eq(v.l4[0], ICMP_DEST_UNREACH);
	ck_assert_uint_eq(v.l4[1], ICMP_PROTO_UNREACH);
	/* the whole offending datagram is quoted (< 576 bytes) */
	ck_assert_uint_eq(v.payload_len, n - ETH_HDR_LEN);
	ck_assert_mem_eq(v.payload, frame + ETH_HDR_LEN, n - ETH_HDR_LEN);
	free(f);
	/* not for a broadcast */
	ip.dst = IP(10, 0, 0, 255);
	n = pkt_ip4(frame, ETH_BCAST_MAC, TB_PEER_MAC, &ip, msg, 30);
	tb_inject(tb, frame, n);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_DROP_UNKNOWN_PROTO), 2);
	expect_none(tb);
	tb_free(tb);
}
END_TEST

/* ---- reassembly ------------------------------------------------------ */

START_TEST(test_ip4_reasm_in_order)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	size_t len = echo_msg(5, 1, 4000);
	int nf;

	ck_assert_int_eq(inject_frags(tb, &ip, len, 1480, NULL), 3);
	check_echo_reply(pop_datagram(tb, &nf), len);
	ck_assert_int_eq(nf, 3); /* the reply is fragmented too */
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_FRAG_RX), 3);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_OK), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_FRAG_TX), 3);
	ck_assert_uint_eq(tb->st->ip4.reasm_count, 0);
	ck_assert_uint_eq(tb->st->ip4.reasm_bytes, 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_reasm_reverse_order)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	size_t len = echo_msg(5, 2, 5000);
	int order[4] = {3, 2, 1, 0};

	ck_assert_int_eq(inject_frags(tb, &ip, len, 1480, order), 4);
	check_echo_reply(pop_datagram(tb, NULL), len);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_OK), 1);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_reasm_random_order_64k)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	/* the largest datagram: 65535 bytes, 65507 of echo data */
	size_t len = echo_msg(5, 3, IP4_MAX_LEN - IP4_HDR_LEN - 8);
	int order[64], n = (int)((len + 1479) / 1480), nf;
	struct rand_state r;

	ck_assert_uint_eq(len + IP4_HDR_LEN, IP4_MAX_LEN);
	rand_seed(&r, 5);
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = n - 1; i > 0; i--) {
		int j = (int)rand_below(&r, (uint32_t)i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	ck_assert_int_eq(inject_frags(tb, &ip, len, 1480, order), 45);
	check_echo_reply(pop_datagram(tb, &nf), len);
	ck_assert_int_eq(nf, 45);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_OK), 1);
	ck_assert_uint_eq(ustack_pkb_in_use(tb->st), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_reasm_beyond_64k_dropped)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	/* one byte more than fits: the last fragment ends at 65516 */
	size_t len = echo_msg(5, 3, IP4_MAX_LEN - IP4_HDR_LEN - 8 + 1);

	inject_frags(tb, &ip, len, 1480, NULL);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_DROP_BAD), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_OK), 0);
	expect_none(tb);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_reasm_teardrop_dropped)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();

	echo_msg(5, 4, 100);
	/* teardrop: the second fragment lies inside the first */
	inject_frag(tb, &ip, 0, 40, 1);
	inject_frag(tb, &ip, 24, 4, 0);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_DROP_OVERLAP), 1);
	ck_assert_uint_eq(tb->st->ip4.reasm_count, 0);
	/* and one that runs past the first's end */
	ip.id++;
	inject_frag(tb, &ip, 0, 24, 1);
	inject_frag(tb, &ip, 16, 40, 0);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_DROP_OVERLAP), 2);
	ck_assert_uint_eq(tb->st->ip4.reasm_count, 0);
	expect_none(tb);
	ck_assert_uint_eq(ustack_pkb_in_use(tb->st), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_reasm_overlap_drops_datagram)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	size_t len = echo_msg(5, 5, 3000);

	inject_frag(tb, &ip, 0, 1480, 1);
	inject_frag(tb, &ip, 1000, 1480, 1); /* overlaps the first */
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_DROP_OVERLAP), 1);
	/* the rest can not complete it: fragment zero is gone */
	inject_frag(tb, &ip, 1480, 1480, 1);
	inject_frag(tb, &ip, 2960, len - 2960, 0);
	expect_none(tb);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_OK), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_reasm_exact_duplicate_tolerated)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	size_t len = echo_msg(5, 6, 2000);

	inject_frag(tb, &ip, 0, 1480, 1);
	inject_frag(tb, &ip, 0, 1480, 1);
	inject_frag(tb, &ip, 1480, len - 1480, 0);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_DUP), 1);
	check_echo_reply(pop_datagram(tb, NULL), len);
	/* same range, different bytes: an overlap */
	ip.id++;
	inject_frag(tb, &ip, 0, 1480, 1);
	msg[100] ^= 0xff;
	inject_frag(tb, &ip, 0, 1480, 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_DROP_OVERLAP), 1);
	ck_assert_uint_eq(tb->st->ip4.reasm_count, 0);
	expect_none(tb);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_reasm_timeout_sends_time_exceeded)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();
	struct tb_frame *f;
	struct pkt_view v;
	size_t n;

	echo_msg(5, 7, 2000);
	ip.frag = IP4_FLAG_MF;
	n = pkt_ip4(frame, TB_MAC, TB_PEER_MAC, &ip, msg, 1480);
	tb_inject(tb, frame, n);
	tb_advance(tb, USTACK_SEC(30) - 1);
	expect_none(tb);
	ck_assert_uint_eq(tb->st->ip4.reasm_count, 1);
	tb_advance(tb, 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_DROP_TIMEOUT), 1);
	ck_assert_uint_eq(tb->st->ip4.reasm_count, 0);
	/* RFC 1122 3.3.2: time exceeded, fragment reassembly */
	f = tb_pop(tb);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(pkt_parse(f->data, f->len, &v), 0);
	ck_assert_uint_eq(v.ip_dst, TB_PEER);
	ck_assert_uint_eq(v.l4[0], ICMP_TIME_EXCEEDED);
	ck_assert_uint_eq(v.l4[1], 1);
	ck_assert(v.l4_csum_ok);
	ck_assert_uint_eq(v.payload_len, 576 - 28); /* RFC 1812 4.3.2.3 */
	ck_assert_mem_eq(v.payload, frame + ETH_HDR_LEN, 576 - 28);
	free(f);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_TX_TIME_EXCEEDED), 1);
	/* without fragment zero: counted, nothing sent (the peer's ARP
	 * entry is refreshed first: it went STALE while we waited) */
	tb_learn_peer(tb, TB_PEER, TB_PEER_MAC);
	inject_frag(tb, &ip, 1480, 520, 0);
	tb_advance(tb, USTACK_SEC(30));
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_DROP_TIMEOUT), 2);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_TX_TIME_EXCEEDED), 1);
	expect_none(tb);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_reasm_memory_bound_evicts_oldest)
{
	struct ustack_config cfg;
	struct tb *tb;
	struct pkt_ip a = ip_from_peer(), b = ip_from_peer();
	size_t len;
	uint32_t unit;

	tb_config(&cfg);
	unit = 2048 + (uint32_t)sizeof(struct pkb); /* one frame's buffer */
	cfg.reasm_max_bytes = 3 * unit;
	tb = tb_peer(&cfg);
	len = echo_msg(5, 8, 4000);
	a.id = 1;
	b.id = 2;
	inject_frag(tb, &a, 0, 1480, 1);
	inject_frag(tb, &a, 1480, 1480, 1);
	inject_frag(tb, &b, 0, 1480, 1);
	ck_assert_uint_eq(tb->st->ip4.reasm_bytes, 3 * unit);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_DROP_MEMORY), 0);
	inject_frag(tb, &b, 1480, 1480, 1); /* evicts a */
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_DROP_MEMORY), 1);
	ck_assert_uint_eq(tb->st->ip4.reasm_count, 1);
	ck_assert_uint_le(tb->st->ip4.reasm_bytes, cfg.reasm_max_bytes);
	inject_frag(tb, &b, 2960, len - 2960, 0);
	check_echo_reply(pop_datagram(tb, NULL), len);
	ck_assert_uint_eq(tb->st->ip4.reasm_bytes, 0);

	/* one datagram larger than the whole budget drops itself */
	b.id = 3;
	inject_frag(tb, &b, 0, 1480, 1);
	inject_frag(tb, &b, 1480, 1480, 1);
	inject_frag(tb, &b, 2960, 1480, 1);
	inject_frag(tb, &b, 4440, 8, 0);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_DROP_MEMORY), 2);
	expect_none(tb);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_reasm_count_bound)
{
	struct ustack_config cfg;
	struct tb *tb;
	struct pkt_ip ip = ip_from_peer();
	size_t len;

	tb_config(&cfg);
	cfg.reasm_max_datagrams = 2;
	tb = tb_peer(&cfg);
	len = echo_msg(5, 9, 2000);
	for (int id = 1; id <= 3; id++) {
		ip.id = (uint16_t)id;
		inject_frag(tb, &ip, 0, 1480, 1);
	}
	ck_assert_uint_eq(tb->st->ip4.reasm_count, 2);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_DROP_MEMORY), 1);
	/* id 1 was evicted: its last fragment completes nothing */
	ip.id = 1;
	inject_frag(tb, &ip, 1480, len - 1480, 0);
	expect_none(tb);
	ip.id = 3;
	inject_frag(tb, &ip, 1480, len - 1480, 0);
	check_echo_reply(pop_datagram(tb, NULL), len);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_reasm_max_size)
{
	struct ustack_config cfg;
	struct tb *tb;
	struct pkt_ip ip = ip_from_peer();
	size_t len;

	tb_config(&cfg);
	cfg.reasm_max_size = 3000;
	tb = tb_peer(&cfg);
	len = echo_msg(5, 10, 4000);
	inject_frags(tb, &ip, len, 1480, NULL);
	ck_assert_uint_ge(stat(tb, USTACK_STAT_IP4_REASM_DROP_TOO_BIG), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_OK), 0);
	expect_none(tb);
	/* 2960 + 20 fits */
	len = echo_msg(5, 10, 2952);
	ip.id++;
	inject_frags(tb, &ip, len, 1480, NULL);
	check_echo_reply(pop_datagram(tb, NULL), len);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_reasm_bad_fragments)
{
	struct tb *tb = tb_peer(NULL);
	struct pkt_ip ip = ip_from_peer();

	echo_msg(5, 11, 4000);
	inject_frag(tb, &ip, 0, 100, 1);    /* not a multiple of 8 */
	inject_frag(tb, &ip, 8, 0, 1);      /* empty */
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_DROP_BAD), 2);
	ck_assert_uint_eq(tb->st->ip4.reasm_count, 0);
	/* a last fragment, then another last one ending earlier */
	inject_frag(tb, &ip, 2960, 40, 0);
	inject_frag(tb, &ip, 1480, 120, 0);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_DROP_BAD), 3);
	ck_assert_uint_eq(tb->st->ip4.reasm_count, 0);
	/* a last fragment, then data beyond it */
	ip.id++;
	inject_frag(tb, &ip, 1480, 40, 0);
	inject_frag(tb, &ip, 2960, 8, 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_DROP_BAD), 4);
	ck_assert_uint_eq(tb->st->ip4.reasm_count, 0);
	/* offset + length past 65535 */
	ip.id++;
	inject_frag(tb, &ip, 65528, 16, 0);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_REASM_DROP_BAD), 5);
	expect_none(tb);
	ck_assert_uint_eq(ustack_pkb_in_use(tb->st), 0);
	tb_free(tb);
}
END_TEST

/* ---- output and fragmentation ---------------------------------------- */

static int send_payload(struct tb *tb, uint32_t dst, size_t len, int df)
{
	struct pkb *p = pkb_alloc(tb->st, (uint32_t)len);
	struct ip4_tx tx = {.dst = dst, .proto = 253, .df = (uint8_t)df};

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < len; i++)
		p->data[i] = (uint8_t)(i * 13 + 1);
	pkb_put(p, (uint32_t)len);
	return ip4_output(tb->st, p, &tx);
}

START_TEST(test_ip4_fragments_large_send)
{
	struct tb *tb = tb_peer(NULL);
	struct tb_frame *f[3];
	const uint8_t *fs[3];
	size_t lens[3];
	static const uint16_t want_frag[3] = {IP4_FLAG_MF | 0, IP4_FLAG_MF | 185,
					      370};
	static const uint16_t want_len[3] = {1500, 1500, 1060};
	uint16_t id = 0;

	ck_assert_int_eq(send_payload(tb, TB_PEER, 4000, 0), 0);
	for (int i = 0; i < 3; i++) {
		struct pkt_view v;

		f[i] = tb_pop(tb);
		ck_assert_ptr_nonnull(f[i]);
		ck_assert_int_eq(pkt_parse(f[i]->data, f[i]->len, &v), 0);
		ck_assert(v.ip_csum_ok);
		ck_assert_uint_eq(v.ip_frag, want_frag[i]);
		ck_assert_uint_eq(v.ip_len, want_len[i]);
		ck_assert_uint_eq(f[i]->len, ETH_HDR_LEN + want_len[i]);
		if (i == 0)
			id = v.ip_id;
		ck_assert_uint_eq(v.ip_id, id);
		fs[i] = f[i]->data;
		lens[i] = f[i]->len;
	}
	expect_none(tb);
	ck_assert_int_eq(pkt_ip4_join(fs, lens, 3, out, sizeof(out)), 4000);
	for (int i = 0; i < 4000; i++)
		ck_assert_uint_eq(out[i], (uint8_t)(i * 13 + 1));
	for (int i = 0; i < 3; i++)
		free(f[i]);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_FRAG_TX), 3);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_TX), 1);
	ck_assert_uint_eq(ustack_pkb_in_use(tb->st), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_fragments_small_mtu)
{
	struct ustack_config cfg;
	struct tb *tb;
	int nf;

	tb_config(&cfg);
	cfg.mtu = 576;
	tb = tb_peer(&cfg);
	ck_assert_uint_eq(ip4_max_payload(tb->st), 556);
	ck_assert_int_eq(send_payload(tb, TB_PEER, 4000, 0), 0);
	ck_assert_int_eq(pop_datagram(tb, &nf), 4000);
	ck_assert_int_eq(nf, 8); /* 7 x 552 + 136 */
	ck_assert_int_eq(send_payload(tb, TB_PEER, 556, 0), 0);
	ck_assert_int_eq(pop_datagram(tb, &nf), 556);
	ck_assert_int_eq(nf, 1);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_df_and_too_big_refused)
{
	struct tb *tb = tb_peer(NULL);

	ck_assert_int_eq(send_payload(tb, TB_PEER, 1481, 1), -EMSGSIZE);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_DROP_DF), 1);
	ck_assert_int_eq(send_payload(tb, TB_PEER, 1480, 1), 0);
	ck_assert_int_eq(pop_datagram(tb, NULL), 1480);
	ck_assert_int_eq(send_payload(tb, TB_PEER, 65516, 0), -EMSGSIZE);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_DROP_TOO_BIG), 1);
	ck_assert_int_eq(send_payload(tb, TB_PEER, 65515, 0), 0);
	ck_assert_int_eq(pop_datagram(tb, NULL), 65515);
	ck_assert_uint_eq(ustack_pkb_in_use(tb->st), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_ids_advance)
{
	struct tb *tb = tb_peer(NULL);
	struct tb_frame *a, *b;
	struct pkt_view va, vb;

	send_payload(tb, TB_PEER, 10, 0);
	send_payload(tb, TB_PEER, 10, 0);
	a = tb_pop(tb);
	b = tb_pop(tb);
	ck_assert_int_eq(pkt_parse(a->data, a->len, &va), 0);
	ck_assert_int_eq(pkt_parse(b->data, b->len, &vb), 0);
	ck_assert_uint_eq((uint16_t)(va.ip_id + 1), vb.ip_id);
	free(a);
	free(b);
	tb_free(tb);
}
END_TEST

/* The ID of the next frame the stack sent (which must exist). */
static uint16_t pop_id(struct tb *tb, uint16_t *frag)
{
	struct tb_frame *f = tb_pop(tb);
	struct pkt_view v;
	uint16_t id;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(pkt_parse(f->data, f->len, &v), 0);
	id = v.ip_id;
	if (frag)
		*frag = v.ip_frag;
	free(f);
	return id;
}

/* RFC 7739: IDs come from per-destination counters behind a keyed hash.
 * Interleaved datagrams to two hosts are not one sequence; traffic to one
 * host does not move the other's IDs (no idle scan); IDs to one host are
 * unique over a window of 65,536; fragments of a datagram share one. */
START_TEST(test_ip4_ids_per_destination)
{
	static uint8_t seen[65536 / 8];
	const uint32_t other = IP(10, 0, 0, 3);
	static const uint8_t other_mac[6] = {2, 0, 0, 0, 0, 3};
	struct tb *tb = tb_peer(NULL);
	uint16_t a[4], b[4], frag, id;
	int follows = 0;

	tb_learn_peer(tb, other, other_mac);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(send_payload(tb, TB_PEER, 10, 0), 0);
		a[i] = pop_id(tb, NULL);
		ck_assert_int_eq(send_payload(tb, other, 10, 1), 0);
		b[i] = pop_id(tb, NULL);
	}
	for (int i = 0; i < 4; i++) {
		follows += b[i] == (uint16_t)(a[i] + 1);
		follows += i > 0 && a[i] == (uint16_t)(b[i - 1] + 1);
	}
	ck_assert_msg(follows == 0, "IDs to two hosts form one sequence");
	/* 100 datagrams to the peer; the other host's next ID is its last
	 * one plus one: it learns nothing of them. */
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(send_payload(tb, TB_PEER, 10, 0), 0);
		tb_drain(tb);
	}
	ck_assert_int_eq(send_payload(tb, other, 10, 1), 0);
	ck_assert_uint_eq(pop_id(tb, NULL), (uint16_t)(b[3] + 1));
	/* unique over a full window to one destination */
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 65536; i++) {
		ck_assert_int_eq(send_payload(tb, TB_PEER, 1, 0), 0);
		id = pop_id(tb, NULL);
		ck_assert_msg(!(seen[id / 8] & (1u << (id % 8))),
			      "ID %u repeated after %d datagrams", id, i);
		seen[id / 8] |= (uint8_t)(1u << (id % 8));
	}
	/* one datagram in fragments: one ID */
	ck_assert_int_eq(send_payload(tb, other, 4000, 0), 0);
	id = pop_id(tb, &frag);
	ck_assert(frag & IP4_FLAG_MF);
	ck_assert_uint_eq(pop_id(tb, NULL), id);
	ck_assert_uint_eq(pop_id(tb, &frag), id);
	ck_assert_uint_eq(frag & IP4_FLAG_MF, 0);
	expect_none(tb);
	tb_free(tb);
}
END_TEST

/* Two stacks: what one fragments, the other reassembles, and back. */
START_TEST(test_ip4_fragments_reassemble_in_peer_stack)
{
	struct ustack_config cfg;
	struct tb *a = tb_peer(NULL), *b;
	struct tb_frame *f;
	struct pkb *p;
	size_t len = echo_msg(9, 9, 20000);
	struct ip4_tx tx = {.dst = TB_PEER, .proto = IP4_PROTO_ICMP};
	int moved = 0;

	tb_config(&cfg);
	cfg.addr = TB_PEER;
	memcpy(cfg.mac, TB_PEER_MAC, 6);
	b = tb_new(&cfg);
	tb_learn_peer(b, TB_ADDR, TB_MAC);
	p = pkb_alloc(a->st, (uint32_t)len);
	memcpy(pkb_put(p, (uint32_t)len), msg, len);
	ck_assert_int_eq(ip4_output(a->st, p, &tx), 0);
	while ((f = tb_pop(a)) != NULL) {
		tb_inject(b, f->data, f->len);
		free(f);
		moved++;
	}
	ck_assert_int_eq(moved, 14);
	ck_assert_uint_eq(ustack_stat(b->st, USTACK_STAT_IP4_REASM_OK), 1);
	ck_assert_uint_eq(ustack_stat(b->st, USTACK_STAT_ICMP_RX_ECHO), 1);
	/* b resolves a first (ARP both ways), then sends its reply */
	for (int round = 0; round < 4; round++) {
		while ((f = tb_pop(b)) != NULL) {
			tb_inject(a, f->data, f->len);
			free(f);
		}
		while ((f = tb_pop(a)) != NULL) {
			tb_inject(b, f->data, f->len);
			free(f);
		}
	}
	ck_assert_uint_eq(ustack_stat(a->st, USTACK_STAT_IP4_REASM_OK), 1);
	ck_assert_uint_eq(ustack_stat(a->st, USTACK_STAT_ICMP_RX_ECHO_REPLY),
			  1);
	tb_free(b);
	tb_free(a);
}
END_TEST

/* ---- routing --------------------------------------------------------- */

START_TEST(test_ip4_route_subnet_gateway_none)
{
	struct ustack_config cfg;
	struct tb *tb = tb_new(NULL);
	uint32_t nh = 0;

	ck_assert_int_eq(ip4_route(tb->st, IP(10, 0, 0, 9), &nh), 0);
	ck_assert_uint_eq(nh, IP(10, 0, 0, 9));
	ck_assert_int_eq(ip4_route(tb->st, IP(255, 255, 255, 255), &nh), 0);
	ck_assert_uint_eq(nh, IP(255, 255, 255, 255));
	ck_assert_int_eq(ip4_route(tb->st, IP(192, 0, 2, 1), &nh),
			 -ENETUNREACH);
	ck_assert_int_eq(ip4_route(tb->st, IP(127, 0, 0, 1), &nh),
			 -ENETUNREACH);
	ck_assert_int_eq(ip4_route(tb->st, 0, &nh), -ENETUNREACH);
	ck_assert_int_eq(send_payload(tb, IP(192, 0, 2, 1), 10, 0),
			 -ENETUNREACH);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_DROP_NO_ROUTE), 1);
	expect_none(tb);
	tb_free(tb);

	tb_config(&cfg);
	cfg.gateway = IP(10, 0, 0, 254);
	tb = tb_new(&cfg);
	ck_assert_int_eq(ip4_route(tb->st, IP(192, 0, 2, 1), &nh), 0);
	ck_assert_uint_eq(nh, IP(10, 0, 0, 254));
	ck_assert_int_eq(ip4_route(tb->st, IP(10, 0, 0, 9), &nh), 0);
	ck_assert_uint_eq(nh, IP(10, 0, 0, 9));
	/* off-link traffic resolves the gateway, and goes to its MAC */
	ck_assert_int_eq(send_payload(tb, IP(192, 0, 2, 1), 10, 0), 0);
	{
		struct tb_frame *f = tb_pop(tb);
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(eth_type(f->data), ETH_TYPE_ARP);
		ck_assert_uint_eq(be32_load(f->data + ETH_HDR_LEN + 24),
				  IP(10, 0, 0, 254));
		free(f);
	}
	tb_learn_peer(tb, IP(10, 0, 0, 254), TB_PEER_MAC);
	ck_assert_int_eq(send_payload(tb, IP(192, 0, 2, 1), 10, 0), 0);
	{
		struct tb_frame *f = tb_pop(tb);
		struct pkt_view v;
		ck_assert_ptr_nonnull(f);
		ck_assert_int_eq(pkt_parse(f->data, f->len, &v), 0);
		ck_assert_mem_eq(eth_dst(f->data), TB_PEER_MAC, 6);
		ck_assert_uint_eq(v.ip_dst, IP(192, 0, 2, 1));
		free(f);
	}
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_address_classes)
{
	struct ustack_config cfg;
	struct tb *tb = tb_new(NULL);

	ck_assert(ip4_is_local(tb->st, TB_ADDR));
	ck_assert(!ip4_is_local(tb->st, TB_PEER));
	ck_assert(ip4_is_broadcast(tb->st, IP(255, 255, 255, 255)));
	ck_assert(ip4_is_broadcast(tb->st, IP(10, 0, 0, 255)));
	ck_assert(!ip4_is_broadcast(tb->st, IP(10, 0, 0, 0)));
	ck_assert(!ip4_is_broadcast(tb->st, IP(10, 0, 1, 255)));
	ck_assert_uint_eq(ip4_max_payload(tb->st), 1480);
	tb_free(tb);

	/* /31 (RFC 3021) and /32 have no subnet broadcast */
	tb_config(&cfg);
	cfg.prefix_len = 31;
	tb = tb_new(&cfg);
	ck_assert(!ip4_is_broadcast(tb->st, IP(10, 0, 0, 3)));
	ck_assert(ip4_is_broadcast(tb->st, IP(255, 255, 255, 255)));
	tb_free(tb);
}
END_TEST

START_TEST(test_ip4_loopback_to_own_address)
{
	struct tb *tb = tb_new(NULL);
	struct ip4_tx tx = {.dst = TB_ADDR, .proto = IP4_PROTO_ICMP};
	size_t len = echo_msg(1, 2, 3000);
	struct pkb *p = pkb_alloc(tb->st, (uint32_t)len);

	memcpy(pkb_put(p, (uint32_t)len), msg, len);
	ck_assert_int_eq(ip4_output(tb->st, p, &tx), 0);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_RX_LOOP), 0); /* not yet */
	tb_advance(tb, 0);
	/* request and its reply went round; nothing on the wire */
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_RX_LOOP), 2);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_RX_ECHO), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_RX_ECHO_REPLY), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_FRAG_TX), 0);
	expect_none(tb);
	/* bounded */
	for (int i = 0; i < IP4_LOOP_MAX + 10; i++) {
		p = pkb_alloc(tb->st, 8);
		memcpy(pkb_put(p, 8), msg, 8);
		ip4_output(tb->st, p, &tx);
	}
	ck_assert_uint_eq(stat(tb, USTACK_STAT_IP4_DROP_LOOP_FULL), 10);
	tb_advance(tb, USTACK_SEC(1));
	ck_assert_uint_eq(ustack_pkb_in_use(tb->st), 0);
	tb_free(tb);
}
END_TEST

/* ---- hostile input --------------------------------------------------- */

START_TEST(test_ip4_hostile_input_no_crash_no_leak)
{
	struct ustack_config cfg;
	struct tb *tb;
	struct rand_state r;

	tb_config(&cfg);
	cfg.reasm_max_datagrams = 8;
	cfg.reasm_max_bytes = 64 << 10;
	tb = tb_peer(&cfg);
	rand_seed(&r, 77);
	for (int i = 0; i < 30000; i++) {
		struct pkt_ip ip = ip_from_peer();
		size_t plen = rand_below(&r, 1500), n;

		ip.proto = (uint8_t)(rand_below(&r, 4) ? rand_below(&r, 20)
						    : rand_below(&r, 256));
		ip.id = (uint16_t)rand_below(&r, 4);
		if (rand_below(&r, 2))
			ip.frag = (uint16_t)(rand_below(&r, 0x4000) |
					     rand_below(&r, 2) * IP4_FLAG_MF);
		if (rand_below(&r, 8) == 0)
			ip.dst = rand_u32(&r);
		for (size_t k = 0; k < plen; k++)
			msg[k] = (uint8_t)rand_u32(&r);
		n = pkt_ip4(frame, TB_MAC, TB_PEER_MAC, &ip, msg, plen);
		/* corrupt the header now and then, cut at random */
		if (rand_below(&r, 4) == 0) {
			frame[ETH_HDR_LEN + rand_below(&r, 20)] ^=
				(uint8_t)rand_u32(&r);
			if (rand_below(&r, 2))
				fix_csum(frame);
		}
		if (rand_below(&r, 4) == 0)
			n = ETH_HDR_LEN + rand_below(&r, (uint32_t)n - ETH_HDR_LEN);
		tb_inject(tb, frame, n);
		if (rand_below(&r, 100) == 0)
			tb_advance(tb, rand_below(&r, USTACK_SEC(40)));
		tb_drain(tb);
		ck_assert_uint_le(tb->st->ip4.reasm_count, 8);
		ck_assert_uint_le(tb->st->ip4.reasm_bytes, 64 << 10);
	}
	tb_advance(tb, USTACK_SEC(60));
	tb_drain(tb);
	ck_assert_uint_eq(tb->st->ip4.reasm_count, 0);
	ck_assert_uint_eq(ustack_pkb_in_use(tb->st), 0);
	tb_free(tb);
}
END_TEST

static Suite *ipv4_suite(void)
{
	Suite *s = suite_create("ipv4");
	TCase *tc = tcase_create("ipv4");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ip4_valid_echo_is_answered);
	tcase_add_test(tc, test_ip4_bad_checksum_dropped_silently);
	tcase_add_test(tc, test_ip4_truncated_header_dropped);
	tcase_add_test(tc, test_ip4_bad_ihl_and_version_dropped);
	tcase_add_test(tc, test_ip4_total_length_checked);
	tcase_add_test(tc, test_ip4_padding_trimmed);
	tcase_add_test(tc, test_ip4_options_skipped);
	tcase_add_test(tc, test_ip4_malformed_options_dropped);
	tcase_add_test(tc, test_ip4_martian_sources_dropped);
	tcase_add_test(tc, test_ip4_not_for_us_dropped);
	tcase_add_test(tc, test_ip4_broadcast_destinations_accepted);
	tcase_add_test(tc, test_ip4_low_ttl_delivered);
	tcase_add_test(tc, test_ip4_unknown_protocol_gets_protocol_unreachable);
	tcase_add_test(tc, test_ip4_reasm_in_order);
	tcase_add_test(tc, test_ip4_reasm_reverse_order);
	tcase_add_test(tc, test_ip4_reasm_random_order_64k);
	tcase_add_test(tc, test_ip4_reasm_beyond_64k_dropped);
	tcase_add_test(tc, test_ip4_reasm_teardrop_dropped);
	tcase_add_test(tc, test_ip4_reasm_overlap_drops_datagram);
	tcase_add_test(tc, test_ip4_reasm_exact_duplicate_tolerated);
	tcase_add_test(tc, test_ip4_reasm_timeout_sends_time_exceeded);
	tcase_add_test(tc, test_ip4_reasm_memory_bound_evicts_oldest);
	tcase_add_test(tc, test_ip4_reasm_count_bound);
	tcase_add_test(tc, test_ip4_reasm_max_size);
	tcase_add_test(tc, test_ip4_reasm_bad_fragments);
	tcase_add_test(tc, test_ip4_fragments_large_send);
	tcase_add_test(tc, test_ip4_fragments_small_mtu);
	tcase_add_test(tc, test_ip4_df_and_too_big_refused);
	tcase_add_test(tc, test_ip4_ids_advance);
	tcase_add_test(tc, test_ip4_ids_per_destination);
	tcase_add_test(tc, test_ip4_fragments_reassemble_in_peer_stack);
	tcase_add_test(tc, test_ip4_route_subnet_gateway_none);
	tcase_add_test(tc, test_ip4_address_classes);
	tcase_add_test(tc, test_ip4_loopback_to_own_address);
	tcase_add_test(tc, test_ip4_hostile_input_no_crash_no_leak);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ipv4_suite)
