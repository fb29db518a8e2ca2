/*
 * check_filter.c - the packet filter (stack/proto/filter.c): the rule
 * parser (canonical text, clear errors for bad rules), matching in order
 * with first match wins and default allow, drop, reject with RST for TCP
 * and ICMP for the rest, the rate limit on replies, hit counters, the
 * bound on the number of rules.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/filter.h>
#include <ustack/socket.h>

#include "core/stack.h"
#include "lib/check_main.h"
#include "lib/pkt.h"
#include "lib/testbed.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"


static uint8_t frame[2048];

static struct tb *bed(void)
{
	struct tb *tb = tb_new(NULL);

	tb_learn_peer(tb, TB_PEER, TB_PEER_MAC);
	return tb;
}

static void add(struct tb *tb, const char *rule)
{
	char err[160] = "";
	int r = ustack_filter_add(tb->st, rule, err, sizeof(err));

	ck_assert_msg(r >= 0, "rule '%s': %s", rule, err);
}

static uint64_t stat(struct tb *tb, enum ustack_stat_id id)
{
	return ustack_stat(tb->st, id);
}

static void syn_from(struct tb *tb, uint32_t sip, uint16_t sport,
		     uint16_t dport, uint32_t seq)
{
	struct pkt_tcp t = {.sip = sip, .dip = TB_ADDR, .sport = sport,
			    .dport = dport, .seq = seq, .flags = TCP_SYN,
			    .win = 65535};

	tb_inject(tb, frame, pkt_tcp(frame, TB_MAC, TB_PEER_MAC, &t));
}

static void udp_to(struct tb *tb, uint16_t dport)
{
	tb_inject(tb, frame, pkt_udp(frame, TB_MAC, TB_PEER_MAC, TB_PEER,
				     TB_ADDR, 40000, dport, "knock", 5, 1));
}

/* The next frame sent, parsed; fails if there is none. */
static struct tb_frame *pop_parsed(struct tb *tb, struct pkt_view *v)
{
	struct tb_frame *fr = tb_pop(tb);

	ck_assert_ptr_nonnull(fr);
	ck_assert_int_eq(pkt_parse(fr->data, fr->len, v), 0);
	return fr;
}

static struct ustack_filter_info info(struct tb *tb, int i)
{
	struct ustack_filter_info v[USTACK_FILTER_MAX];
	int n = ustack_filter_list(tb->st, v, USTACK_FILTER_MAX);

	ck_assert_int_gt(n, i);
	return v[i];
}

/* ---- the parser ---------------------------------------------------------- */

static void expect_canon(const char *rule, const char *canon)
{
	char out[USTACK_FILTER_TEXT], err[160] = "";

	ck_assert_msg(ustack_filter_check(rule, out, sizeof(out), err,
					  sizeof(err)) == 0,
		      "'%s' refused: %s", rule, err);
	ck_assert_str_eq(out, canon);
}

START_TEST(test_filter_parse_good_rules_canonical)
{
	expect_canon("drop tcp dport 23", "drop tcp dport 23");
	expect_canon("reject udp", "reject udp");
	expect_canon("allow icmp", "allow icmp");
	expect_canon("accept  icmp\ttype 8", "allow icmp type 8");
	expect_canon("drop", "drop all");
	expect_canon("drop all from any", "drop all");
	expect_canon("drop tcp from 10.0.0.0/24 sport 1000-2000",
		     "drop tcp from 10.0.0.0/24 sport 1000-2000");
	expect_canon("drop udp to 10.0.0.2 dport 53",
		     "drop udp to 10.0.0.2/32 dport 53");
	expect_canon("reject tcp dport 80 with admin-prohibited",
		     "reject tcp dport 80 with admin-prohibited");
	expect_canon("reject tcp with tcp-reset", "reject tcp with rst");
	expect_canon("drop tcp dport 0-65535", "drop tcp");
}
END_TEST

/* Each bad rule is refused with -EINVAL and a sentence naming the fault. */
static void expect_error(const char *rule, const char *words)
{
	char err[160] = "";

	ck_assert_int_eq(ustack_filter_check(rule, NULL, 0, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, words) != NULL, "'%s': '%s' lacks '%s'",
		      rule ? rule : "(null)", err, words);
}

START_TEST(test_filter_parse_bad_rules_clear_errors)
{
	char longrule[400];

	expect_error(NULL, "no rule");
	expect_error("", "empty rule");
	expect_error("   ", "empty rule");
	expect_error("block tcp", "unknown action 'block'");
	expect_error("drop tcp dport", "'dport' needs a value");
	expect_error("drop tcp dport x", "got 'x'");
	expect_error("drop tcp dport 70000", "port 0..65535");
	expect_error("drop tcp dport 2000-1000", "range like 1000-2000");
	expect_error("drop tcp dport 1-", "got '1-'");
	expect_error("drop dport 23", "need 'tcp' or 'udp'");
	expect_error("drop icmp dport 23", "need 'tcp' or 'udp'");
	expect_error("drop tcp from 10.0.0.1/24", "bits set beyond");
	expect_error("drop tcp from 10.0.0/24", "expected an address");
	expect_error("drop tcp from 1.2.3.4/33", "expected an address");
	expect_error("drop tcp dport 1 dport 2", "'dport' given twice");
	expect_error("drop tcp port 23", "unknown word 'port'");
	expect_error("drop udp type 3", "needs 'icmp'");
	expect_error("drop icmp type 256", "0..255");
	expect_error("drop tcp with rst", "only with reject");
	expect_error("reject udp with rst", "needs 'tcp'");
	expect_error("reject udp with please", "with: expected");
	expect_error("drop tcp tcp", "unknown word 'tcp'");
	expect_error("drop a b c d e f g h i j k l m n o p q", "too many words");
	memset(longrule, 'a', sizeof(longrule) - 1);
	longrule[sizeof(longrule) - 1] = 0;
	expect_error(longrule, "longer than");
}
END_TEST

/* Random rules from the grammar's words and garbage: every one parses or
 * is refused with a message, and a rule's canonical text parses to itself. */
START_TEST(test_filter_parse_random_canonical_roundtrip)
{
	static const char *const words[] = {
		"allow", "drop", "reject", "tcp", "udp", "icmp", "all", "from",
		"to", "sport", "dport", "type", "with", "rst", "admin-prohibited",
		"port-unreachable", "10.0.0.0/24", "10.0.0.2", "any", "1-2",
		"65535", "0", "8", "x", "", "-", "1.2.3.4/33", "99999", "\t"};
	uint32_t seed = 12345;
	unsigned parsed = 0;

	for (int i = 0; i < 20000; i++) {
		char rule[300] = "", canon[USTACK_FILTER_TEXT], again[USTACK_FILTER_TEXT];
		char err[160];
		int n;

		seed = seed * 1103515245u + 12345u;
		n = 1 + (int)((seed >> 16) % 9);
		for (int k = 0; k < n; k++) {
			seed = seed * 1103515245u + 12345u;
			strcat(rule, words[(seed >> 16) % (sizeof(words) / sizeof(words[0]))]);
			strcat(rule, " ");
		}
		err[0] = 0;
		if (ustack_filter_check(rule, canon, sizeof(canon), err,
					sizeof(err)) != 0) {
			ck_assert_msg(err[0] != 0, "'%s' refused without a reason", rule);
			continue;
		}
		parsed++;
		ck_assert_int_eq(ustack_filter_check(canon, again, sizeof(again),
						     err, sizeof(err)), 0);
		ck_assert_str_eq(canon, again);
	}
	ck_assert_uint_gt(parsed, 100);
}
END_TEST

START_TEST(test_filter_add_bounded_list_clear)
{
	struct tb *tb = bed();
	struct ustack_filter_info v[2];
	char err[160] = "";

	for (int i = 0; i < USTACK_FILTER_MAX; i++)
		ck_assert_int_eq(ustack_filter_add(tb->st, "drop udp dport 9",
						   NULL, 0), i);
	ck_assert_int_eq(ustack_filter_add(tb->st, "drop udp", err,
					   sizeof(err)), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(err, "full"));
	ck_assert_int_eq(ustack_filter_add(tb->st, "drop bogus", err,
					   sizeof(err)), -EINVAL);
	ck_assert_int_eq(ustack_filter_list(tb->st, v, 2), USTACK_FILTER_MAX);
	ck_assert_str_eq(v[1].text, "drop udp dport 9");
	ustack_filter_clear(tb->st);
	ck_assert_int_eq(ustack_filter_list(tb->st, v, 2), 0);
	tb_free(tb);
}
END_TEST

/* ---- matching -------------------------------------------------------------- */

START_TEST(test_filter_drop_tcp_dport_silent_and_counted)
{
	struct tb *tb = bed();
	struct pkt_view v;
	struct tb_frame *fr;

	add(tb, "drop tcp dport 23");
	syn_from(tb, TB_PEER, 40000, 23, 1000);
	ck_assert_ptr_null(tb_pop(tb)); /* no RST: a timeout for the peer */
	ck_assert_uint_eq(stat(tb, USTACK_STAT_FILTER_DROP), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_TCP_RX), 0);
	ck_assert_uint_eq(info(tb, 0).hits, 1);
	ck_assert_uint_eq(info(tb, 0).bytes, 40);
	/* another port: no match, TCP answers for the closed port itself */
	syn_from(tb, TB_PEER, 40000, 24, 1000);
	fr = pop_parsed(tb, &v);
	ck_assert_uint_eq(tcp_flags(v.l4), TCP_RST | TCP_ACK);
	free(fr);
	ck_assert_uint_eq(info(tb, 0).hits, 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_TCP_RX), 1);
	tb_free(tb);
}
END_TEST

START_TEST(test_filter_first_match_wins_default_allow)
{
	struct tb *tb = bed();
	struct pkt_view v;
	struct tb_frame *fr;
	uint8_t ping[8] = {0};

	add(tb, "allow icmp");
	add(tb, "drop");
	/* ping: the first rule allows it, the echo reply goes out */
	tb_inject(tb, frame, pkt_icmp(frame, TB_MAC, TB_PEER_MAC, TB_PEER,
				      TB_ADDR, ICMP_ECHO, 0, 7, 1, ping, 8));
	fr = pop_parsed(tb, &v);
	ck_assert_uint_eq(icmp_type(v.l4), ICMP_ECHO_REPLY);
	free(fr);
	/* UDP: only "drop" matches */
	udp_to(tb, 9999);
	ck_assert_ptr_null(tb_pop(tb));
	ck_assert_uint_eq(info(tb, 0).hits, 1);
	ck_assert_uint_eq(info(tb, 1).hits, 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_FILTER_ALLOW), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_FILTER_DROP), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_UDP_RX), 0);
	/* without rules everything passes again: port unreachable */
	ustack_filter_clear(tb->st);
	udp_to(tb, 9999);
	fr = pop_parsed(tb, &v);
	ck_assert_uint_eq(icmp_code(v.l4), ICMP_PORT_UNREACH);
	free(fr);
	tb_free(tb);
}
END_TEST

START_TEST(test_filter_source_net_and_port_range)
{
	struct tb *tb = bed();
	struct tb_frame *fr;

	add(tb, "drop tcp from 10.0.0.0/24 sport 1000-2000");
	syn_from(tb, TB_PEER, 1000, 80, 1);
	syn_from(tb, TB_PEER, 2000, 80, 1);
	ck_assert_ptr_null(tb_pop(tb));
	ck_assert_uint_eq(info(tb, 0).hits, 2);
	syn_from(tb, TB_PEER, 2001, 80, 1); /* outside the range */
	ck_assert_ptr_nonnull(fr = tb_pop(tb));
	free(fr);
	ck_assert_uint_eq(info(tb, 0).hits, 2);
	tb_free(tb);
}
END_TEST

START_TEST(test_filter_reject_tcp_sends_rst)
{
	struct tb *tb = bed();
	struct pkt_view v;
	struct tb_frame *fr;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
	int sd = ustack_socket(tb->st, AF_INET, SOCK_STREAM, 0);

	/* a listener is there, yet the filter answers first */
	ck_assert_int_eq(ustack_bind(tb->st, sd, (struct sockaddr *)&sin,
				     sizeof(sin)), 0);
	ck_assert_int_eq(ustack_listen(tb->st, sd, 8), 0);
	add(tb, "reject tcp dport 80");
	syn_from(tb, TB_PEER, 40000, 80, 5000);
	fr = pop_parsed(tb, &v);
	ck_assert_uint_eq(v.ip_proto, IP4_PROTO_TCP);
	ck_assert_uint_eq(v.ip_dst, TB_PEER);
	ck_assert(v.l4_csum_ok);
	ck_assert_uint_eq(tcp_flags(v.l4), TCP_RST | TCP_ACK);
	ck_assert_uint_eq(tcp_sport(v.l4), 80);
	ck_assert_uint_eq(tcp_dport(v.l4), 40000);
	ck_assert_uint_eq(tcp_seq(v.l4), 0);
	ck_assert_uint_eq(tcp_ack(v.l4), 5001); /* RFC 9293 3.10.7.1 */
	free(fr);
	ck_assert_ptr_null(tb_pop(tb));
	ck_assert_uint_eq(stat(tb, USTACK_STAT_FILTER_REJECT), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_TCP_PASSIVE_OPENS), 0);
	ck_assert_uint_eq(info(tb, 0).hits, 1);
	ustack_close(tb->st, sd);
	tb_free(tb);
}
END_TEST

START_TEST(test_filter_reject_tcp_ack_segment_and_no_rst_for_rst)
{
	struct tb *tb = bed();
	struct pkt_view v;
	struct tb_frame *fr;
	struct pkt_tcp t = {.sip = TB_PEER, .dip = TB_ADDR, .sport = 40000,
			    .dport = 22, .seq = 10, .ack = 777,
			    .flags = TCP_ACK, .win = 1000, .data = "x", .len = 1};

	add(tb, "reject tcp");
	tb_inject(tb, frame, pkt_tcp(frame, TB_MAC, TB_PEER_MAC, &t));
	fr = pop_parsed(tb, &v);
	ck_assert_uint_eq(tcp_flags(v.l4), TCP_RST);
	ck_assert_uint_eq(tcp_seq(v.l4), 777);
	free(fr);
	t.flags = TCP_RST;
	t.len = 0;
	tb_inject(tb, frame, pkt_tcp(frame, TB_MAC, TB_PEER_MAC, &t));
	t.flags = TCP_SYN;
	t.bad_csum = 1;
	tb_inject(tb, frame, pkt_tcp(frame, TB_MAC, TB_PEER_MAC, &t));
	ck_assert_ptr_null(tb_pop(tb)); /* never a RST for a RST or garbage */
	ck_assert_uint_eq(info(tb, 0).hits, 3);
	tb_free(tb);
}
END_TEST

START_TEST(test_filter_reject_udp_port_unreachable)
{
	struct tb *tb = bed();
	struct pkt_view v;
	struct tb_frame *fr;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53)};
	int sd = ustack_socket(tb->st, AF_INET, SOCK_DGRAM, 0);

	ck_assert_int_eq(ustack_bind(tb->st, sd, (struct sockaddr *)&sin,
				     sizeof(sin)), 0);
	add(tb, "reject udp");
	udp_to(tb, 53);
	fr = pop_parsed(tb, &v);
	ck_assert_uint_eq(v.ip_proto, IP4_PROTO_ICMP);
	ck_assert(v.l4_csum_ok);
	ck_assert_uint_eq(icmp_type(v.l4), ICMP_DEST_UNREACH);
	ck_assert_uint_eq(icmp_code(v.l4), ICMP_PORT_UNREACH);
	/* it quotes the IP header and the UDP header */
	ck_assert_mem_eq(v.payload, frame + ETH_HDR_LEN, 28);
	free(fr);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_UDP_RX), 0);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_FILTER_REJECT), 1);
	ustack_close(tb->st, sd);
	tb_free(tb);
}
END_TEST

START_TEST(test_filter_reject_admin_prohibited)
{
	struct tb *tb = bed();
	struct pkt_view v;
	struct tb_frame *fr;
	uint8_t ping[8] = {0};

	add(tb, "reject udp dport 9999 with admin-prohibited");
	add(tb, "reject icmp type 8");
	udp_to(tb, 9999);
	fr = pop_parsed(tb, &v);
	ck_assert_uint_eq(icmp_type(v.l4), ICMP_DEST_UNREACH);
	ck_assert_uint_eq(icmp_code(v.l4), ICMP_ADMIN_PROHIB);
	free(fr);
	/* a rejected ping: port unreachable means nothing there, so 13 */
	tb_inject(tb, frame, pkt_icmp(frame, TB_MAC, TB_PEER_MAC, TB_PEER,
				      TB_ADDR, ICMP_ECHO, 0, 7, 1, ping, 8));
	fr = pop_parsed(tb, &v);
	ck_assert_uint_eq(icmp_type(v.l4), ICMP_DEST_UNREACH);
	ck_assert_uint_eq(icmp_code(v.l4), ICMP_ADMIN_PROHIB);
	free(fr);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ICMP_RX_ECHO), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_filter_reject_rate_limited)
{
	struct ustack_config cfg;
	struct tb *tb;
	struct tb_frame *fr;
	unsigned rst = 0;

	tb_config(&cfg);
	cfg.icmp_rate_per_sec = 10;
	cfg.icmp_rate_burst = 3;
	tb = tb_new(&cfg);
	tb_learn_peer(tb, TB_PEER, TB_PEER_MAC);
	add(tb, "reject tcp");
	for (int i = 0; i < 10; i++)
		syn_from(tb, TB_PEER, (uint16_t)(40000 + i), 80, 1);
	while ((fr = tb_pop(tb)) != NULL) {
		rst++;
		free(fr);
	}
	ck_assert_uint_eq(rst, 3); /* the burst */
	ck_assert_uint_eq(stat(tb, USTACK_STAT_FILTER_REJECT_LIMITED), 7);
	ck_assert_uint_eq(info(tb, 0).hits, 10);
	/* 100 ms later one more is allowed (10 per second) */
	tb_advance(tb, USTACK_MS(100));
	tb_drain(tb);
	syn_from(tb, TB_PEER, 41000, 80, 1);
	syn_from(tb, TB_PEER, 41001, 80, 1);
	ck_assert_ptr_nonnull(fr = tb_pop(tb));
	free(fr);
	ck_assert_ptr_null(tb_pop(tb));
	tb_free(tb);
}
END_TEST

START_TEST(test_filter_short_transport_header_no_port_match)
{
	struct tb *tb = bed();
	struct pkt_ip ip = {.src = TB_PEER, .dst = TB_ADDR,
			    .proto = IP4_PROTO_TCP, .ttl = 64};
	uint8_t two[2] = {0, 23};

	add(tb, "drop tcp dport 23");
	add(tb, "drop tcp to 10.0.0.0/24");
	/* 2 bytes of TCP: no ports to match; the next rule has none */
	tb_inject(tb, frame, pkt_ip4(frame, TB_MAC, TB_PEER_MAC, &ip, two, 2));
	ck_assert_uint_eq(info(tb, 0).hits, 0);
	ck_assert_uint_eq(info(tb, 1).hits, 1);
	ck_assert_ptr_null(tb_pop(tb));
	tb_free(tb);
}
END_TEST

static Suite *filter_suite(void)
{
	Suite *s = suite_create("filter");
	TCase *tc = tcase_create("filter");

	tcase_add_test(tc, test_filter_parse_good_rules_canonical);
	tcase_add_test(tc, test_filter_parse_bad_rules_clear_errors);
	tcase_add_test(tc, test_filter_parse_random_canonical_roundtrip);
	tcase_add_test(tc, test_filter_add_bounded_list_clear);
	tcase_add_test(tc, test_filter_drop_tcp_dport_silent_and_counted);
	tcase_add_test(tc, test_filter_first_match_wins_default_allow);
	tcase_add_test(tc, test_filter_source_net_and_port_range);
	tcase_add_test(tc, test_filter_reject_tcp_sends_rst);
	tcase_add_test(tc, test_filter_reject_tcp_ack_segment_and_no_rst_for_rst);
	tcase_add_test(tc, test_filter_reject_udp_port_unreachable);
	tcase_add_test(tc, test_filter_reject_admin_prohibited);
	tcase_add_test(tc, test_filter_reject_rate_limited);
	tcase_add_test(tc, test_filter_short_transport_header_no_port_match);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(filter_suite)
