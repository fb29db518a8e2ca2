/*
 * check_arp.c - ARP (RFC 826, RFC 1122 2.3.2, RFC 5227): replies, the
 * cache states and their timeouts, the pending queue, retries and failure,
 * learning rules, conflicts, eviction, and hostile input.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <ustack/socket.h>

#include "core/stack.h"
#include "lib/check_main.h"
#include "lib/pkt.h"
#include "lib/testbed.h"
#include "proto/arp.h"
#include "proto/ipv4.h"
#include "wire/arp.h"
#include "wire/eth.h"
#include "wire/ipv4.h"

static const uint8_t ZERO_MAC[6];
static const uint8_t MAC_A[6] = {0x02, 0xaa, 0, 0, 0, 0x0a};
static const uint8_t MAC_B[6] = {0x02, 0xbb, 0, 0, 0, 0x0b};

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

static uint64_t stat(struct tb *tb, enum ustack_stat_id id)
{
	return ustack_stat(tb->st, id);
}

/* Send len bytes of `tag` as an IP payload (protocol 253) to dst. */
static int send_ip(struct tb *tb, uint32_t dst, uint8_t tag, size_t len)
{
	struct pkb *p = pkb_alloc(tb->st, (uint32_t)len);
	struct ip4_tx tx = {.dst = dst, .proto = 253};

	ck_assert_ptr_nonnull(p);
	memset(pkb_put(p, (uint32_t)len), tag, len);
	return ip4_output(tb->st, p, &tx);
}

static void inject_arp(struct tb *tb, const uint8_t *eth_dst,
		       const uint8_t *eth_src, uint16_t op, const uint8_t *sha,
		       uint32_t spa, const uint8_t *tha, uint32_t tpa)
{
	uint8_t f[64];
	size_t n = pkt_arp(f, eth_dst, eth_src, op, sha, spa, tha, tpa);

	tb_inject(tb, f, n);
}

/* Pop a frame and check it is this ARP packet. */
static void expect_arp(struct tb *tb, const uint8_t *mac_dst, uint16_t op,
		       uint32_t spa, const uint8_t *tha, uint32_t tpa)
{
	struct tb_frame *f = tb_pop(tb);
	const uint8_t *a;

	ck_assert_msg(f != NULL, "expected an ARP frame");
	ck_assert_uint_eq(f->len, ETH_HDR_LEN + ARP_LEN);
	ck_assert_uint_eq(eth_type(f->data), ETH_TYPE_ARP);
	ck_assert_mem_eq(eth_dst(f->data), mac_dst, 6);
	ck_assert_mem_eq(eth_src(f->data), TB_MAC, 6);
	a = f->data + ETH_HDR_LEN;
	ck_assert(arp_check(a, ARP_LEN));
	ck_assert_uint_eq(arp_op(a), op);
	ck_assert_mem_eq(arp_sha(a), TB_MAC, 6);
	ck_assert_uint_eq(arp_spa(a), spa);
	ck_assert_mem_eq(arp_tha(a), tha, 6);
	ck_assert_uint_eq(arp_tpa(a), tpa);
	free(f);
}

/* Pop a frame: the IP packet of send_ip() with this tag, to this MAC. */
static void expect_ip(struct tb *tb, const uint8_t *mac_dst, uint32_t dst,
		      uint8_t tag)
{
	struct tb_frame *f = tb_pop(tb);
	struct pkt_view v;

	ck_assert_msg(f != NULL, "expected an IP frame");
	ck_assert_int_eq(pkt_parse(f->data, f->len, &v), 0);
	ck_assert_uint_eq(v.ethertype, ETH_TYPE_IPV4);
	ck_assert_mem_eq(eth_dst(f->data), mac_dst, 6);
	ck_assert_uint_eq(v.ip_dst, dst);
	ck_assert(v.ip_csum_ok);
	ck_assert_uint_ge(v.l4_len, 1);
	ck_assert_uint_eq(v.l4[0], tag);
	free(f);
}

static void expect_none(struct tb *tb)
{
	struct tb_frame *f = tb_pop(tb);

	ck_assert_msg(f == NULL, "unexpected frame (%zu bytes)", f ? f->len : 0);
}

/* The cache entry for ip, or NULL. */
static int arp_entry_of(struct tb *tb, uint32_t ip, struct ustack_arp_info *out)
{
	struct ustack_arp_info info[64];
	int n = ustack_arp_list(tb->st, info, 64);

	for (int i = 0; i < n && i < 64; i++)
		if (info[i].addr == ip) {
			*out = info[i];
			return 1;
		}
	return 0;
}

static const char *state_of(struct tb *tb, uint32_t ip)
{
	struct ustack_arp_info e;

	return arp_entry_of(tb, ip, &e) ? e.state : "NONE";
}

/* ---- requests and replies -------------------------------------------- */

START_TEST(test_arp_request_for_us_gets_unicast_reply)
{
	struct tb *tb = tb_new(NULL);

	inject_arp(tb, ETH_BCAST_MAC, MAC_A, ARP_OP_REQUEST, MAC_A,
		   IP(10, 0, 0, 7), NULL, TB_ADDR);
	expect_arp(tb, MAC_A, ARP_OP_REPLY, TB_ADDR, MAC_A, IP(10, 0, 0, 7));
	expect_none(tb);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_RX_REQUEST), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_TX_REPLY), 1);
	/* the asker is learnt (it is about to talk to us) */
	ck_assert_str_eq(state_of(tb, IP(10, 0, 0, 7)), "REACHABLE");
	tb_free(tb);
}
END_TEST

START_TEST(test_arp_request_for_other_host_ignored)
{
	struct tb *tb = tb_new(NULL);

	inject_arp(tb, ETH_BCAST_MAC, MAC_A, ARP_OP_REQUEST, MAC_A,
		   IP(10, 0, 0, 7), NULL, IP(10, 0, 0, 99));
	expect_none(tb);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_DROP_NOT_US), 1);
	ck_assert_str_eq(state_of(tb, IP(10, 0, 0, 7)), "NONE");
	tb_free(tb);
}
END_TEST

START_TEST(test_arp_announce_at_start)
{
	struct tb *tb = tb_new(NULL);

	/* tb_new discarded the start-up announcement; it was counted */
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_TX_GRATUITOUS), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ETH_TX), 1);
	/* RFC 5227 2.3: request, sender = target = our address, tha 0 */
	arp_announce(tb->st);
	expect_arp(tb, ETH_BCAST_MAC, ARP_OP_REQUEST, TB_ADDR, ZERO_MAC,
		   TB_ADDR);
	tb_free(tb);
}
END_TEST

START_TEST(test_arp_probe_for_our_address_answered)
{
	struct tb *tb = tb_new(NULL);

	/* RFC 5227 2.1.1 probe: sender IP 0 */
	inject_arp(tb, ETH_BCAST_MAC, MAC_A, ARP_OP_REQUEST, MAC_A, 0, NULL,
		   TB_ADDR);
	expect_arp(tb, MAC_A, ARP_OP_REPLY, TB_ADDR, MAC_A, 0);
	ck_assert_int_eq(ustack_arp_list(tb->st, NULL, 0), 0);
	/* a probe for someone else is not our business */
	inject_arp(tb, ETH_BCAST_MAC, MAC_A, ARP_OP_REQUEST, MAC_A, 0, NULL,
		   IP(10, 0, 0, 9));
	expect_none(tb);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_DROP_BAD_SENDER), 1);
	tb_free(tb);
}
END_TEST

/* ---- resolution and the pending queue --------------------------------- */

START_TEST(test_arp_unknown_queues_then_sends_in_order)
{
	struct tb *tb = tb_new(NULL);
	uint32_t dst = IP(10, 0, 0, 5);
	struct ustack_arp_info e;

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(send_ip(tb, dst, (uint8_t)(0x10 + i), 100), 0);
	expect_arp(tb, ETH_BCAST_MAC, ARP_OP_REQUEST, TB_ADDR, ZERO_MAC, dst);
	expect_none(tb);
	ck_assert(arp_entry_of(tb, dst, &e));
	ck_assert_str_eq(e.state, "INCOMPLETE");
	ck_assert_uint_eq(e.pending, 3);
	ck_assert_mem_eq(e.mac, ZERO_MAC, 6);
	ck_assert_uint_eq(e.expires_at, tb->now + USTACK_SEC(1));

	tb_advance(tb, USTACK_MS(300));
	inject_arp(tb, TB_MAC, MAC_A, ARP_OP_REPLY, MAC_A, dst, TB_MAC,
		   TB_ADDR);
	for (int i = 0; i < 3; i++)
		expect_ip(tb, MAC_A, dst, (uint8_t)(0x10 + i));
	expect_none(tb);
	ck_assert(arp_entry_of(tb, dst, &e));
	ck_assert_str_eq(e.state, "REACHABLE");
	ck_assert_mem_eq(e.mac, MAC_A, 6);
	ck_assert_uint_eq(e.pending, 0);
	/* known now: straight out */
	ck_assert_int_eq(send_ip(tb, dst, 0x20, 10), 0);
	expect_ip(tb, MAC_A, dst, 0x20);
	tb_free(tb);
}
END_TEST

START_TEST(test_arp_pending_queue_is_bounded)
{
	struct ustack_config cfg;
	struct tb *tb;
	uint32_t dst = IP(10, 0, 0, 5);

	tb_config(&cfg);
	cfg.arp_pending_max = 4;
	tb = tb_new(&cfg);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(send_ip(tb, dst, (uint8_t)i, 50), 0);
	ck_assert_int_eq(send_ip(tb, dst, 9, 50), -ENOBUFS);
	ck_assert_int_eq(send_ip(tb, dst, 9, 50), -ENOBUFS);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_DROP_PENDING_FULL), 2);
	tb_drain(tb);
	inject_arp(tb, TB_MAC, MAC_A, ARP_OP_REPLY, MAC_A, dst, TB_MAC,
		   TB_ADDR);
	for (int i = 0; i < 4; i++)
		expect_ip(tb, MAC_A, dst, (uint8_t)i);
	expect_none(tb);
	tb_free(tb);
}
END_TEST

/* A first datagram larger than 16 frames waits whole for resolution
 * (ustack-ping -s 30000 failed with ENOBUFS); the queue is bounded by
 * bytes as well as by frames. */
START_TEST(test_arp_pending_queue_holds_large_datagram)
{
	struct ustack_config cfg;
	struct tb *tb = tb_new(NULL);
	uint32_t dst = IP(10, 0, 0, 5);
	struct ustack_arp_info e;

	/* 30,008 bytes of payload: 21 fragments of at most 1,500 bytes */
	ck_assert_int_eq(send_ip(tb, dst, 0x33, 30008), 0);
	ck_assert(arp_entry_of(tb, dst, &e));
	ck_assert_uint_eq(e.pending, 21);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_DROP_PENDING_FULL), 0);
	tb_drain(tb);
	inject_arp(tb, TB_MAC, MAC_A, ARP_OP_REPLY, MAC_A, dst, TB_MAC,
		   TB_ADDR);
	for (int i = 0; i < 21; i++) {
		struct tb_frame *f = tb_pop(tb);

		ck_assert_msg(f != NULL, "fragment %d missing", i);
		ck_assert_mem_eq(eth_dst(f->data), MAC_A, 6);
		free(f);
	}
	expect_none(tb);
	tb_free(tb);

	/* the byte bound: 3,000 bytes hold two 1,020-byte packets, not three */
	tb_config(&cfg);
	cfg.arp_pending_bytes = 3000;
	tb = tb_new(&cfg);
	ck_assert_int_eq(send_ip(tb, dst, 1, 1000), 0);
	ck_assert_int_eq(send_ip(tb, dst, 2, 1000), 0);
	ck_assert_int_eq(send_ip(tb, dst, 3, 1000), -ENOBUFS);
	ck_assert_int_eq(send_ip(tb, dst, 4, 900), 0);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_DROP_PENDING_FULL), 1);
	tb_drain(tb);
	inject_arp(tb, TB_MAC, MAC_A, ARP_OP_REPLY, MAC_A, dst, TB_MAC,
		   TB_ADDR);
	expect_ip(tb, MAC_A, dst, 1);
	expect_ip(tb, MAC_A, dst, 2);
	expect_ip(tb, MAC_A, dst, 4);
	expect_none(tb);
	tb_free(tb);
}
END_TEST

START_TEST(test_arp_incomplete_retries_then_fails)
{
	struct tb *tb = tb_new(NULL);
	uint32_t dst = IP(10, 0, 0, 5);
	struct ustack_arp_info e;

	ck_assert_int_eq(send_ip(tb, dst, 1, 10), 0);
	ck_assert_int_eq(send_ip(tb, dst, 2, 10), 0);
	expect_arp(tb, ETH_BCAST_MAC, ARP_OP_REQUEST, TB_ADDR, ZERO_MAC, dst);
	/* cfg.arp_retries = 3 requests, cfg.arp_retry_us = 1 s apart */
	tb_advance(tb, USTACK_MS(999));
	expect_none(tb);
	tb_advance(tb, USTACK_MS(1));
	expect_arp(tb, ETH_BCAST_MAC, ARP_OP_REQUEST, TB_ADDR, ZERO_MAC, dst);
	tb_advance(tb, USTACK_SEC(1));
	expect_arp(tb, ETH_BCAST_MAC, ARP_OP_REQUEST, TB_ADDR, ZERO_MAC, dst);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_RESOLVE_FAILED), 0);
	tb_advance(tb, USTACK_SEC(1));
	expect_none(tb);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_TX_REQUEST), 3);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_RESOLVE_FAILED), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_DROP_UNRESOLVED), 2);
	ck_assert(arp_entry_of(tb, dst, &e));
	ck_assert_str_eq(e.state, "FAILED");
	ck_assert_uint_eq(e.pending, 0);
	ck_assert_uint_eq(ustack_pkb_in_use(tb->st), 0);

	/* FAILED answers at once, for cfg.arp_failed_us */
	ck_assert_int_eq(send_ip(tb, dst, 3, 10), -EHOSTUNREACH);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_DROP_FAILED), 1);
	expect_none(tb);
	tb_advance(tb, USTACK_SEC(3));
	ck_assert_str_eq(state_of(tb, dst), "NONE");
	ck_assert_int_eq(send_ip(tb, dst, 4, 10), 0); /* resolves afresh */
	expect_arp(tb, ETH_BCAST_MAC, ARP_OP_REQUEST, TB_ADDR, ZERO_MAC, dst);
	tb_free(tb);
}
END_TEST

START_TEST(test_arp_failure_reaches_connected_socket)
{
	struct tb *tb = tb_new(NULL);
	uint32_t dst = IP(10, 0, 0, 5);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	uint8_t echo[16] = {8, 0};
	int err = 0, sd;
	socklen_t len = sizeof(err);

	sd = ustack_socket(tb->st, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK,
			   IPPROTO_ICMP);
	ck_assert_int_ge(sd, 0);
	sin.sin_addr.s_addr = htonl(dst);
	ck_assert_int_eq(ustack_connect(tb->st, sd, (struct sockaddr *)&sin,
					sizeof(sin)), 0);
	ck_assert_int_eq(ustack_send(tb->st, sd, echo, sizeof(echo), 0),
			 sizeof(echo));
	tb_advance(tb, USTACK_SEC(3));
	/* ip4_neigh_unreachable(): connected datagram sockets see it */
	ck_assert_int_eq(ustack_getsockopt(tb->st, sd, SOL_SOCKET, SO_ERROR,
					   &err, &len), 0);
	ck_assert_int_eq(err, EHOSTUNREACH);
	ck_assert_int_eq(ustack_close(tb->st, sd), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_arp_gateway_failure_names_each_destination)
{
	struct ustack_config cfg;
	struct tb *tb;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	uint8_t echo[16] = {8, 0};
	int err = 0, sd;
	socklen_t len = sizeof(err);

	tb_config(&cfg);
	cfg.gateway = IP(10, 0, 0, 254);
	tb = tb_new(&cfg);
	sd = ustack_socket(tb->st, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK,
			   IPPROTO_ICMP);
	ck_assert_int_ge(sd, 0);
	sin.sin_addr.s_addr = htonl(IP(192, 0, 2, 1)); /* via the gateway */
	ck_assert_int_eq(ustack_connect(tb->st, sd, (struct sockaddr *)&sin,
					sizeof(sin)), 0);
	ck_assert_int_eq(ustack_send(tb->st, sd, echo, sizeof(echo), 0),
			 sizeof(echo));
	expect_arp(tb, ETH_BCAST_MAC, ARP_OP_REQUEST, TB_ADDR, ZERO_MAC,
		   IP(10, 0, 0, 254));
	tb_advance(tb, USTACK_SEC(3));
	ck_assert_int_eq(ustack_getsockopt(tb->st, sd, SOL_SOCKET, SO_ERROR,
					   &err, &len), 0);
	ck_assert_int_eq(err, EHOSTUNREACH);
	ustack_close(tb->st, sd);
	tb_free(tb);
}
END_TEST

/* ---- cache states and timeouts --------------------------------------- */

START_TEST(test_arp_reachable_goes_stale_then_is_evicted)
{
	struct tb *tb = tb_new(NULL);
	struct ustack_arp_info e;

	tb_learn_peer(tb, TB_PEER, TB_PEER_MAC);
	ck_assert(arp_entry_of(tb, TB_PEER, &e));
	ck_assert_str_eq(e.state, "REACHABLE");
	ck_assert_uint_eq(e.expires_at, tb->now + USTACK_SEC(30));
	tb_advance(tb, USTACK_SEC(30) - 1);
	ck_assert_str_eq(state_of(tb, TB_PEER), "REACHABLE");
	tb_advance(tb, 1);
	ck_assert_str_eq(state_of(tb, TB_PEER), "STALE");
	tb_advance(tb, USTACK_SEC(600) - 1);
	ck_assert_str_eq(state_of(tb, TB_PEER), "STALE");
	tb_advance(tb, 1);
	ck_assert_str_eq(state_of(tb, TB_PEER), "NONE");
	expect_none(tb); /* all of it without a frame */
	tb_free(tb);
}
END_TEST

START_TEST(test_arp_stale_use_sends_then_probes_unicast)
{
	struct tb *tb = tb_new(NULL);

	tb_learn_peer(tb, TB_PEER, TB_PEER_MAC);
	tb_advance(tb, USTACK_SEC(31));
	ck_assert_str_eq(state_of(tb, TB_PEER), "STALE");
	/* a STALE entry is used as is: no delay for the packet */
	ck_assert_int_eq(send_ip(tb, TB_PEER, 7, 20), 0);
	expect_ip(tb, TB_PEER_MAC, TB_PEER, 7);
	ck_assert_str_eq(state_of(tb, TB_PEER), "DELAY");
	/* RFC 4861: after DELAY_FIRST_PROBE_TIME a unicast probe */
	tb_advance(tb, USTACK_SEC(5));
	ck_assert_str_eq(state_of(tb, TB_PEER), "PROBE");
	expect_arp(tb, TB_PEER_MAC, ARP_OP_REQUEST, TB_ADDR, ZERO_MAC, TB_PEER);
	inject_arp(tb, TB_MAC, TB_PEER_MAC, ARP_OP_REPLY, TB_PEER_MAC, TB_PEER,
		   TB_MAC, TB_ADDR);
	ck_assert_str_eq(state_of(tb, TB_PEER), "REACHABLE");
	expect_none(tb);
	tb_free(tb);
}
END_TEST

START_TEST(test_arp_probe_unanswered_deletes_entry)
{
	struct tb *tb = tb_new(NULL);

	tb_learn_peer(tb, TB_PEER, TB_PEER_MAC);
	tb_advance(tb, USTACK_SEC(31));
	ck_assert_int_eq(send_ip(tb, TB_PEER, 7, 20), 0);
	expect_ip(tb, TB_PEER_MAC, TB_PEER, 7);
	tb_advance(tb, USTACK_SEC(5));
	for (int i = 0; i < 3; i++) {
		/* still usable while probing */
		ck_assert_str_eq(state_of(tb, TB_PEER), "PROBE");
		expect_arp(tb, TB_PEER_MAC, ARP_OP_REQUEST, TB_ADDR, ZERO_MAC,
			   TB_PEER);
		tb_advance(tb, USTACK_SEC(1));
	}
	ck_assert_str_eq(state_of(tb, TB_PEER), "NONE");
	expect_none(tb);
	/* next use resolves from scratch, by broadcast */
	ck_assert_int_eq(send_ip(tb, TB_PEER, 8, 20), 0);
	expect_arp(tb, ETH_BCAST_MAC, ARP_OP_REQUEST, TB_ADDR, ZERO_MAC,
		   TB_PEER);
	tb_free(tb);
}
END_TEST

START_TEST(test_arp_confirm_keeps_entry_reachable)
{
	struct tb *tb = tb_new(NULL);

	tb_learn_peer(tb, TB_PEER, TB_PEER_MAC);
	tb_advance(tb, USTACK_SEC(29));
	arp_confirm(tb->st, TB_PEER);
	tb_advance(tb, USTACK_SEC(29));
	ck_assert_str_eq(state_of(tb, TB_PEER), "REACHABLE");
	arp_confirm(tb->st, IP(10, 0, 0, 77)); /* unknown: no entry made */
	ck_assert_str_eq(state_of(tb, IP(10, 0, 0, 77)), "NONE");
	tb_free(tb);
}
END_TEST

/* ---- learning rules -------------------------------------------------- */

START_TEST(test_arp_unsolicited_reply_ignored_refresh_accepted)
{
	struct tb *tb = tb_new(NULL);
	struct ustack_arp_info e;

	inject_arp(tb, TB_MAC, MAC_A, ARP_OP_REPLY, MAC_A, IP(10, 0, 0, 9),
		   TB_MAC, TB_ADDR);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_DROP_UNSOLICITED), 1);
	ck_assert_str_eq(state_of(tb, IP(10, 0, 0, 9)), "NONE");
	/* broadcast gratuitous reply from a stranger: not learnt either */
	inject_arp(tb, ETH_BCAST_MAC, MAC_A, ARP_OP_REPLY, MAC_A,
		   IP(10, 0, 0, 9), NULL, IP(10, 0, 0, 9));
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_DROP_UNSOLICITED), 2);
	ck_assert_int_eq(ustack_arp_list(tb->st, NULL, 0), 0);

	/* RFC 826 merge: an existing entry is refreshed by a new address */
	tb_learn_peer(tb, TB_PEER, TB_PEER_MAC);
	tb_advance(tb, USTACK_SEC(10));
	inject_arp(tb, TB_MAC, MAC_B, ARP_OP_REPLY, MAC_B, TB_PEER, TB_MAC,
		   TB_ADDR);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_DROP_UNSOLICITED), 2);
	ck_assert(arp_entry_of(tb, TB_PEER, &e));
	ck_assert_mem_eq(e.mac, MAC_B, 6);
	ck_assert_str_eq(e.state, "REACHABLE");
	ck_assert_uint_eq(e.expires_at, tb->now + USTACK_SEC(30));
	/* a broadcast announcement with a changed address: updated, STALE */
	inject_arp(tb, ETH_BCAST_MAC, MAC_A, ARP_OP_REQUEST, MAC_A, TB_PEER,
		   NULL, TB_PEER);
	ck_assert(arp_entry_of(tb, TB_PEER, &e));
	ck_assert_mem_eq(e.mac, MAC_A, 6);
	ck_assert_str_eq(e.state, "STALE");
	expect_none(tb);
	tb_free(tb);
}
END_TEST

START_TEST(test_arp_bad_senders_dropped)
{
	struct tb *tb = tb_new(NULL);
	static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0, 0, 1};
	const uint32_t bad_ips[] = {IP(255, 255, 255, 255), IP(10, 0, 0, 255),
				    IP(224, 0, 0, 1), IP(127, 0, 0, 1),
				    IP(240, 0, 0, 1)};

	inject_arp(tb, ETH_BCAST_MAC, MAC_A, ARP_OP_REQUEST, ETH_BCAST_MAC,
		   IP(10, 0, 0, 7), NULL, TB_ADDR);
	inject_arp(tb, ETH_BCAST_MAC, MAC_A, ARP_OP_REQUEST, mcast,
		   IP(10, 0, 0, 7), NULL, TB_ADDR);
	inject_arp(tb, ETH_BCAST_MAC, MAC_A, ARP_OP_REQUEST, ZERO_MAC,
		   IP(10, 0, 0, 7), NULL, TB_ADDR);
	for (unsigned i = 0; i < 5; i++)
		inject_arp(tb, ETH_BCAST_MAC, MAC_A, ARP_OP_REQUEST, MAC_A,
			   bad_ips[i], NULL, TB_ADDR);
	expect_none(tb);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_DROP_BAD_SENDER), 8);
	ck_assert_int_eq(ustack_arp_list(tb->st, NULL, 0), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_arp_off_link_asker_answered_not_learnt)
{
	struct tb *tb = tb_new(NULL);

	inject_arp(tb, ETH_BCAST_MAC, MAC_A, ARP_OP_REQUEST, MAC_A,
		   IP(192, 168, 1, 1), NULL, TB_ADDR);
	expect_arp(tb, MAC_A, ARP_OP_REPLY, TB_ADDR, MAC_A, IP(192, 168, 1, 1));
	ck_assert_int_eq(ustack_arp_list(tb->st, NULL, 0), 0);
	tb_free(tb);
}
END_TEST

static void count_warn(void *ctx, int level, ustack_time_t now,
		       const char *msg)
{
	(void)now;
	if (level == USTACK_LOG_WARN && strstr(msg, "conflict"))
		(*(int *)ctx)++;
}

START_TEST(test_arp_conflict_counted_and_defended)
{
	struct ustack_config cfg;
	struct tb *tb;
	int warnings = 0;

	tb_config(&cfg);
	cfg.log_level = USTACK_LOG_WARN;
	cfg.log_fn = count_warn;
	cfg.log_ctx = &warnings;
	tb = tb_new(&cfg);

	inject_arp(tb, ETH_BCAST_MAC, MAC_A, ARP_OP_REQUEST, MAC_A, TB_ADDR,
		   NULL, TB_ADDR);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_ADDR_CONFLICT), 1);
	/* RFC 5227 2.4 (b): one announcement to defend */
	expect_arp(tb, ETH_BCAST_MAC, ARP_OP_REQUEST, TB_ADDR, ZERO_MAC,
		   TB_ADDR);
	/* again within DEFEND_INTERVAL: counted, not answered */
	tb_advance(tb, USTACK_SEC(5));
	inject_arp(tb, TB_MAC, MAC_A, ARP_OP_REPLY, MAC_A, TB_ADDR, TB_MAC,
		   TB_ADDR);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_ADDR_CONFLICT), 2);
	expect_none(tb);
	tb_advance(tb, USTACK_SEC(5));
	inject_arp(tb, TB_MAC, MAC_A, ARP_OP_REPLY, MAC_A, TB_ADDR, TB_MAC,
		   TB_ADDR);
	expect_arp(tb, ETH_BCAST_MAC, ARP_OP_REQUEST, TB_ADDR, ZERO_MAC,
		   TB_ADDR);
	ck_assert_int_eq(ustack_arp_list(tb->st, NULL, 0), 0);
	/* logged once per interval, not once per packet */
	ck_assert_int_eq(warnings, 2);
	tb_free(tb);
}
END_TEST

/* ---- bounds ---------------------------------------------------------- */

START_TEST(test_arp_cache_full_evicts_least_useful)
{
	struct ustack_config cfg;
	struct tb *tb;
	uint8_t mac[6] = {0x02, 0x11, 0, 0, 0, 0};

	tb_config(&cfg);
	cfg.arp_cache_size = 4;
	tb = tb_new(&cfg);
	for (int i = 0; i < 4; i++) {
		mac[5] = (uint8_t)(i + 1);
		tb_learn_peer(tb, IP(10, 0, 0, 10 + i), mac);
		tb_advance(tb, USTACK_SEC(1));
	}
	/* use .10 so .11 is the least recently used */
	ck_assert_int_eq(send_ip(tb, IP(10, 0, 0, 10), 1, 10), 0);
	tb_drain(tb);
	ck_assert_int_eq(send_ip(tb, IP(10, 0, 0, 20), 1, 10), 0);
	ck_assert_str_eq(state_of(tb, IP(10, 0, 0, 11)), "NONE");
	ck_assert_str_eq(state_of(tb, IP(10, 0, 0, 10)), "REACHABLE");
	ck_assert_str_eq(state_of(tb, IP(10, 0, 0, 20)), "INCOMPLETE");
	/* fill the rest with resolutions in progress */
	tb_advance(tb, USTACK_MS(500));
	ck_assert_int_eq(send_ip(tb, IP(10, 0, 0, 21), 1, 10), 0);
	ck_assert_int_eq(send_ip(tb, IP(10, 0, 0, 22), 1, 10), 0);
	ck_assert_int_eq(send_ip(tb, IP(10, 0, 0, 23), 1, 10), 0);
	ck_assert_str_eq(state_of(tb, IP(10, 0, 0, 10)), "NONE");
	ck_assert_int_eq(ustack_arp_list(tb->st, NULL, 0), 4);
	/* now all four are INCOMPLETE with packets: never evicted */
	ck_assert_int_eq(send_ip(tb, IP(10, 0, 0, 24), 1, 10), -ENOBUFS);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_DROP_CACHE_FULL), 1);
	/* a request for us from a new host is still answered */
	tb_drain(tb);
	inject_arp(tb, ETH_BCAST_MAC, MAC_A, ARP_OP_REQUEST, MAC_A,
		   IP(10, 0, 0, 30), NULL, TB_ADDR);
	expect_arp(tb, MAC_A, ARP_OP_REPLY, TB_ADDR, MAC_A, IP(10, 0, 0, 30));
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_DROP_CACHE_FULL), 2);
	tb_free(tb);
}
END_TEST

START_TEST(test_arp_stale_evicted_before_reachable)
{
	struct ustack_config cfg;
	struct tb *tb;

	tb_config(&cfg);
	cfg.arp_cache_size = 2;
	tb = tb_new(&cfg);
	tb_learn_peer(tb, IP(10, 0, 0, 11), MAC_B);
	tb_advance(tb, USTACK_SEC(1));
	tb_learn_peer(tb, IP(10, 0, 0, 10), MAC_A);
	tb_advance(tb, USTACK_SEC(29));
	arp_confirm(tb->st, IP(10, 0, 0, 11)); /* stays REACHABLE */
	tb_advance(tb, USTACK_SEC(2));
	ck_assert_str_eq(state_of(tb, IP(10, 0, 0, 10)), "STALE");
	/* .11 is the least recently used, but .10 is stale: .10 goes */
	ck_assert_int_eq(send_ip(tb, IP(10, 0, 0, 12), 1, 10), 0);
	ck_assert_str_eq(state_of(tb, IP(10, 0, 0, 10)), "NONE");
	ck_assert_str_eq(state_of(tb, IP(10, 0, 0, 11)), "REACHABLE");
	tb_free(tb);
}
END_TEST

START_TEST(test_arp_broadcast_and_multicast_need_no_resolution)
{
	struct tb *tb = tb_new(NULL);
	static const uint8_t mc[6] = {0x01, 0x00, 0x5e, 0x01, 0x02, 0x03};

	ck_assert_int_eq(send_ip(tb, IP(255, 255, 255, 255), 1, 10), 0);
	expect_ip(tb, ETH_BCAST_MAC, IP(255, 255, 255, 255), 1);
	ck_assert_int_eq(send_ip(tb, IP(10, 0, 0, 255), 2, 10), 0);
	expect_ip(tb, ETH_BCAST_MAC, IP(10, 0, 0, 255), 2);
	ck_assert_int_eq(send_ip(tb, IP(239, 129, 2, 3), 3, 10), 0);
	expect_ip(tb, mc, IP(239, 129, 2, 3), 3);
	expect_none(tb);
	ck_assert_int_eq(ustack_arp_list(tb->st, NULL, 0), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_arp_malformed_dropped)
{
	struct tb *tb = tb_new(NULL);
	uint8_t f[64];
	size_t n = pkt_arp(f, ETH_BCAST_MAC, MAC_A, ARP_OP_REQUEST, MAC_A,
			   IP(10, 0, 0, 7), NULL, TB_ADDR);

	tb_inject(tb, f, n - 1); /* truncated */
	f[ETH_HDR_LEN + ARP_OFF_HTYPE + 1] = 6; /* token ring */
	tb_inject(tb, f, n);
	n = pkt_arp(f, ETH_BCAST_MAC, MAC_A, 3, MAC_A, IP(10, 0, 0, 7), NULL,
		    TB_ADDR); /* RARP op */
	tb_inject(tb, f, n);
	n = pkt_arp(f, ETH_BCAST_MAC, MAC_A, ARP_OP_REQUEST, MAC_A,
		    IP(10, 0, 0, 7), NULL, TB_ADDR);
	f[ETH_HDR_LEN + ARP_OFF_PLEN] = 16;
	tb_inject(tb, f, n);
	expect_none(tb);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_ARP_DROP_BAD), 4);
	/* padded to the Ethernet minimum: fine */
	n = pkt_arp(f, ETH_BCAST_MAC, MAC_A, ARP_OP_REQUEST, MAC_A,
		    IP(10, 0, 0, 7), NULL, TB_ADDR);
	memset(f + n, 0, 60 - n);
	tb_inject(tb, f, 60);
	expect_arp(tb, MAC_A, ARP_OP_REPLY, TB_ADDR, MAC_A, IP(10, 0, 0, 7));
	tb_free(tb);
}
END_TEST

START_TEST(test_arp_hostile_input_no_crash_no_leak)
{
	struct ustack_config cfg;
	struct tb *tb;
	struct rand_state r;
	uint8_t f[128];

	tb_config(&cfg);
	cfg.arp_cache_size = 8;
	tb = tb_new(&cfg);
	rand_seed(&r, 2024);
	for (int i = 0; i < 20000; i++) {
		size_t n = pkt_arp(f, ETH_BCAST_MAC, MAC_A,
				   (uint16_t)(1 + rand_below(&r, 2)), MAC_A,
				   IP(10, 0, 0, rand_below(&r, 16)), NULL,
				   rand_below(&r, 2) ? TB_ADDR
						     : IP(10, 0, 0, 99));
		/* flip some bytes of the ARP part, cut at random */
		for (int k = rand_below(&r, 4); k > 0; k--)
			f[ETH_HDR_LEN + rand_below(&r, ARP_LEN)] ^=
				(uint8_t)(1 + rand_below(&r, 255));
		if (rand_below(&r, 4) == 0)
			n = ETH_HDR_LEN + rand_below(&r, ARP_LEN + 1);
		tb_inject(tb, f, n);
		if (rand_below(&r, 8) == 0)
			send_ip(tb, IP(10, 0, 0, rand_below(&r, 16)), 1, 10);
		if (rand_below(&r, 64) == 0)
			tb_advance(tb, rand_below(&r, USTACK_SEC(5)));
		tb_drain(tb);
	}
	ck_assert_int_le(ustack_arp_list(tb->st, NULL, 0), 8);
	tb_advance(tb, USTACK_SEC(1000));
	ck_assert_int_eq(ustack_arp_list(tb->st, NULL, 0), 0);
	ck_assert_uint_eq(ustack_pkb_in_use(tb->st), 0);
	tb_free(tb);
}
END_TEST

static Suite *arp_suite(void)
{
	Suite *s = suite_create("arp");
	TCase *tc = tcase_create("arp");

	tcase_add_test(tc, test_arp_request_for_us_gets_unicast_reply);
	tcase_add_test(tc, test_arp_request_for_other_host_ignored);
	tcase_add_test(tc, test_arp_announce_at_start);
	tcase_add_test(tc, test_arp_probe_for_our_address_answered);
	tcase_add_test(tc, test_arp_unknown_queues_then_sends_in_order);
	tcase_add_test(tc, test_arp_pending_queue_is_bounded);
	tcase_add_test(tc, test_arp_pending_queue_holds_large_datagram);
	tcase_add_test(tc, test_arp_incomplete_retries_then_fails);
	tcase_add_test(tc, test_arp_failure_reaches_connected_socket);
	tcase_add_test(tc, test_arp_gateway_failure_names_each_destination);
	tcase_add_test(tc, test_arp_reachable_goes_stale_then_is_evicted);
	tcase_add_test(tc, test_arp_stale_use_sends_then_probes_unicast);
	tcase_add_test(tc, test_arp_probe_unanswered_deletes_entry);
	tcase_add_test(tc, test_arp_confirm_keeps_entry_reachable);
	tcase_add_test(tc, test_arp_unsolicited_reply_ignored_refresh_accepted);
	tcase_add_test(tc, test_arp_bad_senders_dropped);
	tcase_add_test(tc, test_arp_off_link_asker_answered_not_learnt);
	tcase_add_test(tc, test_arp_conflict_counted_and_defended);
	tcase_add_test(tc, test_arp_cache_full_evicts_least_useful);
	tcase_add_test(tc, test_arp_stale_evicted_before_reachable);
	tcase_add_test(tc, test_arp_broadcast_and_multicast_need_no_resolution);
	tcase_add_test(tc, test_arp_malformed_dropped);
	tcase_add_test(tc, test_arp_hostile_input_no_crash_no_leak);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(arp_suite)
