/*
 * check_udp.c - UDP (RFC 768, RFC 1122 4.1) through the whole stack on the
 * test bed: frames in, socket calls, frames out. Demux, checksums, length
 * checks, datagram boundaries, the receive-queue bound, port unreachable,
 * ICMP errors to sockets, broadcast rules, sending (checksums, fragments,
 * limits, errors from below).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/socket.h>

#include "core/stack.h"
#include "lib/check_main.h"
#include "lib/pkt.h"
#include "lib/testbed.h"
#include "proto/udp.h"
#include "sock/sock.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

#define OTHER_HOST 0x0a000005u
static const uint8_t OTHER_MAC[6] = {0x02, 0, 0, 0, 0, 0x05};

static uint8_t frame[70000];

static struct tb *bed(void)
{
	struct tb *tb = tb_new(NULL);

	tb_learn_peer(tb, TB_PEER, TB_PEER_MAC);
	return tb;
}

static int udp_bound(struct tb *tb, uint32_t addr, uint16_t port, int reuse)
{
	struct sockaddr_in s = tb_sin(addr, port);
	int sd = ustack_socket(tb->st, AF_INET, SOCK_DGRAM, 0);

	ck_assert_int_ge(sd, 0);
	if (reuse)
		ck_assert_int_eq(ustack_setsockopt(tb->st, sd, SOL_SOCKET,
						   SO_REUSEADDR, &reuse,
						   sizeof(reuse)), 0);
	ck_assert_int_eq(ustack_bind(tb->st, sd, (struct sockaddr *)&s,
				     sizeof(s)), 0);
	return sd;
}

static int udp_connect_to(struct tb *tb, int sd, uint32_t addr, uint16_t port)
{
	struct sockaddr_in s = tb_sin(addr, port);

	return ustack_connect(tb->st, sd, (struct sockaddr *)&s, sizeof(s));
}

/* A datagram from (sip, sport) to (dip, dport), to our MAC. */
static void inject_udp(struct tb *tb, uint32_t sip, uint16_t sport,
		       uint32_t dip, uint16_t dport, const void *data,
		       size_t len, int csum)
{
	const uint8_t *src = sip == TB_PEER ? TB_PEER_MAC : OTHER_MAC;
	size_t n = pkt_udp(frame, TB_MAC, src, sip, dip, sport, dport, data,
			   len, csum);

	tb_inject(tb, frame, n);
}

static void inject_udp_bcast(struct tb *tb, uint32_t dip, uint16_t dport,
			     const void *data, size_t len)
{
	size_t n = pkt_udp(frame, ETH_BCAST_MAC, TB_PEER_MAC, TB_PEER, dip,
			   40000, dport, data, len, 1);

	tb_inject(tb, frame, n);
}

static uint64_t stat(struct tb *tb, enum ustack_stat_id id)
{
	return ustack_stat(tb->st, id);
}

/* The next frame the stack sent, parsed; the caller frees *fr. */
static struct tb_frame *pop_parsed(struct tb *tb, struct pkt_view *v)
{
	struct tb_frame *fr = tb_pop(tb);

	ck_assert_ptr_nonnull(fr);
	ck_assert_int_eq(pkt_parse(fr->data, fr->len, v), 0);
	return fr;
}

static ssize_t recv_from(struct tb *tb, int sd, void *buf, size_t len,
			 int flags, struct sockaddr_in *src)
{
	socklen_t alen = sizeof(*src);
	ssize_t n = ustack_recvfrom(tb->st, sd, buf, len, flags,
				    (struct sockaddr *)src, &alen);

	if (n >= 0)
		ck_assert_uint_eq(alen, sizeof(*src));
	return n;
}

/* ---- the echo round trip ----------------------------------------------- */

START_TEST(test_udp_echo_roundtrip_frame_bytes)
{
	struct tb *tb = bed();
	int sd = udp_bound(tb, 0, 7, 0);
	struct sockaddr_in src;
	struct pkt_view v;
	struct tb_frame *fr;
	char buf[100];
	const char msg[] = "hello, ustack";

	inject_udp(tb, TB_PEER, 40000, TB_ADDR, 7, msg, sizeof(msg), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_UDP_RX), 1);
	ck_assert_int_eq(recv_from(tb, sd, buf, sizeof(buf), 0, &src),
			 sizeof(msg));
	ck_assert_mem_eq(buf, msg, sizeof(msg));
	ck_assert_uint_eq(ntohl(src.sin_addr.s_addr), TB_PEER);
	ck_assert_uint_eq(ntohs(src.sin_port), 40000);

	ck_assert_int_eq(ustack_sendto(tb->st, sd, buf, sizeof(msg), 0,
				       (struct sockaddr *)&src, sizeof(src)),
			 sizeof(msg));
	ck_assert_uint_eq(stat(tb, USTACK_STAT_UDP_TX), 1);
	fr = pop_parsed(tb, &v);
	ck_assert_mem_eq(eth_dst(fr->data), TB_PEER_MAC, 6);
	ck_assert_mem_eq(eth_src(fr->data), TB_MAC, 6);
	ck_assert_uint_eq(v.ethertype, ETH_TYPE_IPV4);
	ck_assert_uint_eq(v.ip_src, TB_ADDR);
	ck_assert_uint_eq(v.ip_dst, TB_PEER);
	ck_assert_uint_eq(v.ip_proto, IP4_PROTO_UDP);
	ck_assert(v.ip_csum_ok);
	ck_assert_uint_eq(v.ip_len, 20 + 8 + sizeof(msg));
	ck_assert_uint_eq(udp_sport(v.l4), 7);
	ck_assert_uint_eq(udp_dport(v.l4), 40000);
	ck_assert_uint_eq(udp_len(v.l4), 8 + sizeof(msg));
	ck_assert_uint_ne(udp_csum(v.l4), 0); /* always computed */
	ck_assert(v.l4_csum_ok);
	/* the checksum, recomputed here from RFC 768 */
	uint8_t seg[8 + sizeof(msg)];
	memcpy(seg, v.l4, sizeof(seg));
	be16_store(seg + UDP_OFF_CSUM, 0);
	uint16_t c = csum_fold(csum_partial(seg, sizeof(seg),
		csum_pseudo(TB_ADDR, TB_PEER, IP4_PROTO_UDP, sizeof(seg))));
	ck_assert_uint_eq(udp_csum(v.l4), c ? c : 0xffff);
	ck_assert_uint_eq(v.payload_len, sizeof(msg));
	ck_assert_mem_eq(v.payload, msg, sizeof(msg));
	free(fr);
	ck_assert_ptr_null(tb_pop(tb));
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_boundaries_kept)
{
	struct tb *tb = bed();
	int sd = udp_bound(tb, 0, 5000, 0);
	static uint8_t big[3000];
	uint8_t buf[4000];
	struct sockaddr_in src;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	inject_udp(tb, TB_PEER, 1, TB_ADDR, 5000, "abcde", 5, 1);
	inject_udp(tb, TB_PEER, 2, TB_ADDR, 5000, "", 0, 1);
	inject_udp(tb, TB_PEER, 3, TB_ADDR, 5000, big, 1472, 1);
	inject_udp(tb, TB_PEER, 4, TB_ADDR, 5000, "z", 1, 1);
	ck_assert_int_eq(recv_from(tb, sd, buf, sizeof(buf), 0, &src), 5);
	ck_assert_uint_eq(ntohs(src.sin_port), 1);
	ck_assert_int_eq(recv_from(tb, sd, buf, sizeof(buf), 0, &src), 0);
	ck_assert_uint_eq(ntohs(src.sin_port), 2);
	ck_assert_int_eq(recv_from(tb, sd, buf, sizeof(buf), 0, &src), 1472);
	ck_assert_mem_eq(buf, big, 1472);
	ck_assert_int_eq(recv_from(tb, sd, buf, sizeof(buf), 0, &src), 1);
	ck_assert_uint_eq(buf[0], 'z');
	ck_assert_int_eq(recv_from(tb, sd, buf, sizeof(buf), 0, &src),
			 -EAGAIN);
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_recv_truncate_peek_trunc)
{
	struct tb *tb = bed();
	int sd = udp_bound(tb, 0, 5000, 0);
	uint8_t data[100], buf[100];
	struct ustack_pollfd p = {.sd = sd, .events = POLLIN};

	for (int i = 0; i < 100; i++)
		data[i] = (uint8_t)(i + 1);
	inject_udp(tb, TB_PEER, 1, TB_ADDR, 5000, data, 100, 1);
	inject_udp(tb, TB_PEER, 2, TB_ADDR, 5000, "next", 4, 1);
	ck_assert_int_eq(ustack_recv(tb->st, sd, buf, 10, MSG_PEEK), 10);
	ck_assert_int_eq(ustack_recv(tb->st, sd, buf, 10, MSG_PEEK | MSG_TRUNC),
			 100);
	ck_assert_int_eq(ustack_poll(tb->st, &p, 1, 0), 1);
	/* a short read takes the whole datagram; the rest is discarded */
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(ustack_recv(tb->st, sd, buf, 10, 0), 10);
	ck_assert_mem_eq(buf, data, 10);
	ck_assert_int_eq(ustack_recv(tb->st, sd, buf, sizeof(buf), MSG_TRUNC),
			 4);
	ck_assert_mem_eq(buf, "next", 4);
	ck_assert_int_eq(ustack_recv(tb->st, sd, buf, sizeof(buf), 0), -EAGAIN);
	ck_assert_int_eq(ustack_poll(tb->st, &p, 1, 0), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_rcvbuf_bound_counted)
{
	struct tb *tb = bed();
	int sd = udp_bound(tb, 0, 5000, 0);
	int rcvbuf = 4096, got = 0;
	uint8_t data[500] = {0}, buf[600];

	ck_assert_int_eq(ustack_setsockopt(tb->st, sd, SOL_SOCKET, SO_RCVBUF,
					   &rcvbuf, sizeof(rcvbuf)), 0);
	for (int i = 0; i < 50; i++)
		inject_udp(tb, TB_PEER, 1, TB_ADDR, 5000, data, sizeof(data), 1);
	/* each datagram is charged 500 + SOCK_DGRAM_OVERHEAD: 5 fit */
	ck_assert_uint_eq(stat(tb, USTACK_STAT_UDP_DROP_RCVBUF), 45);
	ck_assert_uint_eq(ustack_pkb_in_use(tb->st), 5);
	while (ustack_recv(tb->st, sd, buf, sizeof(buf), 0) == 500)
		got++;
	ck_assert_int_eq(got, 5);
	ck_assert_uint_eq(ustack_pkb_in_use(tb->st), 0);
	/* empty datagrams are charged too: bounded */
	for (int i = 0; i < 100; i++)
		inject_udp(tb, TB_PEER, 1, TB_ADDR, 5000, data, 0, 1);
	ck_assert_uint_eq(ustack_pkb_in_use(tb->st), 4096 / 256);
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_big_datagram_fits_empty_small_queue)
{
	struct tb *tb = bed();
	int sd = udp_bound(tb, 0, 5000, 0);
	int rcvbuf = 1024;
	static uint8_t data[1400];

	ck_assert_int_eq(ustack_setsockopt(tb->st, sd, SOL_SOCKET, SO_RCVBUF,
					   &rcvbuf, sizeof(rcvbuf)), 0);
	inject_udp(tb, TB_PEER, 1, TB_ADDR, 5000, data, sizeof(data), 1);
	inject_udp(tb, TB_PEER, 1, TB_ADDR, 5000, data, sizeof(data), 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_UDP_DROP_RCVBUF), 1);
	ck_assert_int_eq(ustack_recv(tb->st, sd, data, sizeof(data), 0), 1400);
	tb_free(tb);
}
END_TEST

/* ---- validation --------------------------------------------------------- */

START_TEST(test_udp_zero_checksum_accepted)
{
	struct tb *tb = bed();
	int sd = udp_bound(tb, 0, 5000, 0);
	char buf[16];

	inject_udp(tb, TB_PEER, 1, TB_ADDR, 5000, "nochk", 5, 0);
	ck_assert_int_eq(ustack_recv(tb->st, sd, buf, sizeof(buf), 0), 5);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_UDP_DROP_BAD_CHECKSUM), 0);
	tb_free(tb);
}
END_TEST

/* recvmsg: scatter over two iovecs, and IP_RECVTTL's IP_TTL message. */
START_TEST(test_udp_recvmsg_ttl_and_scatter)
{
	struct tb *tb = bed();
	int sd = udp_bound(tb, 0, 7, 0), on = 1, ttl = 0;
	char a[4], b[16];
	struct iovec iov[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct sockaddr_in src;
	struct msghdr msg = {.msg_name = &src, .msg_namelen = sizeof(src),
			     .msg_iov = iov, .msg_iovlen = 2,
			     .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf)};
	size_t n = pkt_udp(frame, TB_MAC, TB_PEER_MAC, TB_PEER, TB_ADDR, 40000,
			   7, "0123456789", 10, 1);

	/* TTL 33 instead of the builder's 64, header checksum fixed */
	frame[14 + 8] = 33;
	be16_store(frame + 14 + 10, 0);
	be16_store(frame + 14 + 10, csum_buf(frame + 14, 20));
	ck_assert_int_eq(ustack_setsockopt(tb->st, sd, IPPROTO_IP, IP_RECVTTL,
					   &on, sizeof(on)), 0);
	tb_inject(tb, frame, n);
	ck_assert_int_eq(ustack_recvmsg(tb->st, sd, &msg, 0), 10);
	ck_assert_mem_eq(a, "0123", 4);
	ck_assert_mem_eq(b, "456789", 6);
	ck_assert_uint_eq(ntohs(src.sin_port), 40000);
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->cmsg_level, IPPROTO_IP);
	ck_assert_int_eq(c->cmsg_type, IP_TTL);
	memcpy(&ttl, CMSG_DATA(c), sizeof(ttl));
	ck_assert_int_eq(ttl, 33);
	/* without the option, no control message */
	on = 0;
	ustack_setsockopt(tb->st, sd, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on));
	tb_inject(tb, frame, n);
	msg.msg_controllen = sizeof(ctl.buf);
	ck_assert_int_eq(ustack_recvmsg(tb->st, sd, &msg, 0), 10);
	ck_assert_uint_eq(msg.msg_controllen, 0);
	ck_assert_int_eq(ustack_recvmsg(tb->st, sd, &msg, 0), -EAGAIN);
	ck_assert_int_eq(ustack_recvmsg(tb->st, 999, &msg, 0), -EBADF);
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_bad_checksum_dropped_silently)
{
	struct tb *tb = bed();
	int sd = udp_bound(tb, 0, 5000, 0);
	char buf[16];

	inject_udp(tb, TB_PEER, 1, TB_ADDR, 5000, "bad", 3, -1);
	/* also to a closed port: dropped before demux, so no ICMP */
	inject_udp(tb, TB_PEER, 1, TB_ADDR, 5001, "bad", 3, -1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_UDP_DROP_BAD_CHECKSUM), 2);
	ck_assert_int_eq(ustack_recv(tb->st, sd, buf, sizeof(buf), 0), -EAGAIN);
	ck_assert_ptr_null(tb_pop(tb));
	tb_free(tb);
}
END_TEST

/* An IP packet carrying `l4` (a hand-made UDP header + data). */
static void inject_raw_udp(struct tb *tb, const uint8_t *l4, size_t len)
{
	struct pkt_ip ip = {.src = TB_PEER, .dst = TB_ADDR,
			    .proto = IP4_PROTO_UDP};
	size_t n = pkt_ip4(frame, TB_MAC, TB_PEER_MAC, &ip, l4, len);

	tb_inject(tb, frame, n);
}

START_TEST(test_udp_short_and_bad_length_dropped)
{
	struct tb *tb = bed();
	int sd = udp_bound(tb, 0, 5000, 0);
	uint8_t l4[40] = {0};
	char buf[64];

	be16_store(l4 + UDP_OFF_SPORT, 1);
	be16_store(l4 + UDP_OFF_DPORT, 5000);
	/* shorter than a header */
	inject_raw_udp(tb, l4, 7);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_UDP_DROP_SHORT), 1);
	/* length field beyond the IP payload */
	be16_store(l4 + UDP_OFF_LEN, 41);
	inject_raw_udp(tb, l4, 40);
	/* length field below the header size */
	be16_store(l4 + UDP_OFF_LEN, 7);
	inject_raw_udp(tb, l4, 40);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_UDP_DROP_BAD_LENGTH), 2);
	ck_assert_int_eq(ustack_recv(tb->st, sd, buf, sizeof(buf), 0), -EAGAIN);
	/* IP payload longer than the UDP length: trimmed, not dropped
	 * (checksum 0 so the trailing bytes can not matter) */
	be16_store(l4 + UDP_OFF_LEN, 12);
	memcpy(l4 + 8, "abcdEXTRA", 9);
	inject_raw_udp(tb, l4, 40);
	ck_assert_int_eq(ustack_recv(tb->st, sd, buf, sizeof(buf), 0), 4);
	ck_assert_mem_eq(buf, "abcd", 4);
	ck_assert_ptr_null(tb_pop(tb));
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_hostile_headers_no_crash)
{
	struct tb *tb = bed();
	int sd = udp_bound(tb, 0, 5000, 0);
	struct rand_state r;
	uint8_t l4[64], buf[64];

	rand_seed(&r, 1234);
	for (int i = 0; i < 3000; i++) {
		size_t len = rand_below(&r, sizeof(l4) + 1);

		for (size_t k = 0; k < len; k++)
			l4[k] = (uint8_t)rand_u32(&r);
		if (len >= 4 && (i & 1))
			be16_store(l4 + UDP_OFF_DPORT, 5000);
		inject_raw_udp(tb, l4, len);
		while (ustack_recv(tb->st, sd, buf, sizeof(buf), 0) >= 0)
			;
		tb_drain(tb);
	}
	ck_assert_uint_eq(stat(tb, USTACK_STAT_UDP_RX), 3000);
	tb_free(tb);
}
END_TEST

/* ---- demux ------------------------------------------------------------ */

START_TEST(test_udp_demux_connected_then_bound_then_wildcard)
{
	struct tb *tb = bed();
	int wild = udp_bound(tb, 0, 6000, 1);
	int conn = udp_bound(tb, 0, 6000, 1);
	int spec = udp_bound(tb, TB_ADDR, 6000, 1);
	char buf[8];

	ck_assert_int_eq(udp_connect_to(tb, conn, TB_PEER, 7000), 0);
	inject_udp(tb, TB_PEER, 7000, TB_ADDR, 6000, "c", 1, 1);
	inject_udp(tb, TB_PEER, 7001, TB_ADDR, 6000, "s", 1, 1);
	ck_assert_int_eq(ustack_recv(tb->st, conn, buf, 8, 0), 1);
	ck_assert_uint_eq(buf[0], 'c');
	ck_assert_int_eq(ustack_recv(tb->st, spec, buf, 8, 0), 1);
	ck_assert_uint_eq(buf[0], 's');
	ck_assert_int_eq(ustack_recv(tb->st, wild, buf, 8, 0), -EAGAIN);
	/* without the specific one, the wildcard gets the rest */
	ck_assert_int_eq(ustack_close(tb->st, spec), 0);
	inject_udp(tb, OTHER_HOST, 7000, TB_ADDR, 6000, "w", 1, 1);
	ck_assert_int_eq(ustack_recv(tb->st, wild, buf, 8, 0), 1);
	ck_assert_uint_eq(buf[0], 'w');
	ck_assert_int_eq(ustack_recv(tb->st, conn, buf, 8, 0), -EAGAIN);
	ck_assert_ptr_null(tb_pop(tb));
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_connected_only_socket_filters_others)
{
	struct tb *tb = bed();
	int sd = udp_bound(tb, 0, 6000, 0);
	struct pkt_view v;
	struct tb_frame *fr;
	char buf[8];

	ck_assert_int_eq(udp_connect_to(tb, sd, TB_PEER, 7000), 0);
	inject_udp(tb, TB_PEER, 7001, TB_ADDR, 6000, "x", 1, 1);
	ck_assert_int_eq(ustack_recv(tb->st, sd, buf, 8, 0), -EAGAIN);
	/* nobody wanted it: port unreachable, as Linux */
	ck_assert_uint_eq(stat(tb, USTACK_STAT_UDP_DROP_NO_PORT), 1);
	fr = pop_parsed(tb, &v);
	ck_assert_uint_eq(v.ip_proto, IP4_PROTO_ICMP);
	free(fr);
	/* AF_UNSPEC dissolves the association */
	struct sockaddr un = {.sa_family = AF_UNSPEC};
	ck_assert_int_eq(ustack_connect(tb->st, sd, &un, sizeof(un)), 0);
	inject_udp(tb, TB_PEER, 7001, TB_ADDR, 6000, "y", 1, 1);
	ck_assert_int_eq(ustack_recv(tb->st, sd, buf, 8, 0), 1);
	ck_assert_int_eq(ustack_send(tb->st, sd, buf, 1, 0), -EDESTADDRREQ);
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_broadcast_to_every_wildcard_socket)
{
	struct tb *tb = bed();
	int a = udp_bound(tb, 0, 5000, 1), b = udp_bound(tb, 0, 5000, 1);
	int spec = udp_bound(tb, TB_ADDR, 5000, 1);
	char buf[8];

	inject_udp_bcast(tb, 0x0a0000ff, 5000, "B", 1);
	inject_udp_bcast(tb, 0xffffffff, 5000, "L", 1);
	for (int k = 0; k < 2; k++) {
		int sd = k ? b : a;

		ck_assert_int_eq(ustack_recv(tb->st, sd, buf, 8, 0), 1);
		ck_assert_uint_eq(buf[0], 'B');
		ck_assert_int_eq(ustack_recv(tb->st, sd, buf, 8, 0), 1);
		ck_assert_uint_eq(buf[0], 'L');
	}
	/* bound to our unicast address: no broadcasts (as Linux) */
	ck_assert_int_eq(ustack_recv(tb->st, spec, buf, 8, 0), -EAGAIN);
	/* unicast goes to one socket only: the specific one */
	inject_udp(tb, TB_PEER, 1, TB_ADDR, 5000, "U", 1, 1);
	ck_assert_int_eq(ustack_recv(tb->st, spec, buf, 8, 0), 1);
	ck_assert_int_eq(ustack_recv(tb->st, a, buf, 8, 0), -EAGAIN);
	ck_assert_int_eq(ustack_recv(tb->st, b, buf, 8, 0), -EAGAIN);
	tb_free(tb);
}
END_TEST

/* ---- port unreachable -------------------------------------------------- */

START_TEST(test_udp_port_unreachable_for_closed_port)
{
	struct tb *tb = bed();
	struct pkt_view v;
	struct tb_frame *fr;
	size_t n = pkt_udp(frame, TB_MAC, TB_PEER_MAC, TB_PEER, TB_ADDR, 40000,
			   9999, "knock", 5, 1);

	tb_inject(tb, frame, n);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_UDP_DROP_NO_PORT), 1);
	fr = pop_parsed(tb, &v);
	ck_assert_uint_eq(v.ip_proto, IP4_PROTO_ICMP);
	ck_assert_uint_eq(v.ip_dst, TB_PEER);
	ck_assert(v.l4_csum_ok);
	ck_assert_uint_eq(icmp_type(v.l4), ICMP_DEST_UNREACH);
	ck_assert_uint_eq(icmp_code(v.l4), ICMP_PORT_UNREACH);
	/* it quotes our received IP header and the UDP header */
	ck_assert_uint_ge(v.payload_len, 28);
	ck_assert_mem_eq(v.payload, frame + ETH_HDR_LEN, 28);
	free(fr);
	ck_assert_ptr_null(tb_pop(tb));
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_no_port_unreachable_for_broadcast)
{
	struct tb *tb = bed();

	inject_udp_bcast(tb, 0x0a0000ff, 9999, "b", 1);
	inject_udp_bcast(tb, 0xffffffff, 9999, "b", 1);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_UDP_DROP_NO_PORT), 2);
	ck_assert_ptr_null(tb_pop(tb));
	tb_free(tb);
}
END_TEST

/* ---- ICMP errors to sockets ---------------------------------------------- */

/* Send one datagram from sd and answer it with an ICMP port unreachable
 * quoting it, as the peer's kernel would. */
static void send_and_refuse(struct tb *tb, int sd, const struct sockaddr_in *to)
{
	struct pkt_view v;
	struct tb_frame *fr;
	size_t n;

	ck_assert_int_eq(ustack_sendto(tb->st, sd, "ping", 4, 0,
				       (const struct sockaddr *)to,
				       to ? sizeof(*to) : 0), 4);
	fr = pop_parsed(tb, &v);
	n = pkt_icmp(frame, TB_MAC, TB_PEER_MAC, TB_PEER, TB_ADDR,
		     ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, 0, v.ip,
		     (size_t)(v.l4 - v.ip) + 8);
	free(fr);
	tb_inject(tb, frame, n);
}

START_TEST(test_udp_icmp_error_connected_econnrefused)
{
	struct tb *tb = bed();
	int sd = ustack_socket(tb->st, AF_INET, SOCK_DGRAM, 0);
	struct ustack_pollfd p = {.sd = sd, .events = POLLIN};
	char buf[8];

	ck_assert_int_eq(udp_connect_to(tb, sd, TB_PEER, 9999), 0);
	send_and_refuse(tb, sd, NULL);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_UDP_ICMP_ERR), 1);
	ck_assert_int_eq(ustack_poll(tb->st, &p, 1, 0), 1);
	ck_assert(p.revents & POLLERR);
	ck_assert_int_eq(ustack_recv(tb->st, sd, buf, 8, 0), -ECONNREFUSED);
	/* reported once */
	ck_assert_int_eq(ustack_recv(tb->st, sd, buf, 8, 0), -EAGAIN);
	/* and on send too */
	send_and_refuse(tb, sd, NULL);
	ck_assert_int_eq(ustack_send(tb->st, sd, buf, 1, 0), -ECONNREFUSED);
	ck_assert_int_eq(ustack_send(tb->st, sd, buf, 1, 0), 1);
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_icmp_error_unconnected_ignored)
{
	struct tb *tb = bed();
	int sd = udp_bound(tb, 0, 5000, 0);
	struct sockaddr_in to = tb_sin(TB_PEER, 9999);
	char buf[8];
	int err;
	socklen_t len = sizeof(err);

	send_and_refuse(tb, sd, &to);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_UDP_ICMP_ERR_IGNORED), 1);
	ck_assert_int_eq(ustack_recv(tb->st, sd, buf, 8, 0), -EAGAIN);
	ck_assert_int_eq(ustack_getsockopt(tb->st, sd, SOL_SOCKET, SO_ERROR,
					   &err, &len), 0);
	ck_assert_int_eq(err, 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_icmp_error_hook_matching)
{
	struct tb *tb = bed();
	int sd = udp_bound(tb, 0, 5000, 0);
	struct sock *sk = sock_get(tb->st, sd);

	ck_assert_int_eq(udp_connect_to(tb, sd, TB_PEER, 53), 0);
	/* another peer, another port: not ours */
	udp_icmp_error(tb->st, TB_ADDR, 5000, OTHER_HOST, 53, ECONNREFUSED);
	udp_icmp_error(tb->st, TB_ADDR, 5000, TB_PEER, 54, ECONNREFUSED);
	udp_icmp_error(tb->st, TB_ADDR, 5001, TB_PEER, 53, ECONNREFUSED);
	ck_assert_int_eq(sk->so_error, 0);
	ck_assert_uint_eq(stat(tb, USTACK_STAT_UDP_ICMP_ERR_IGNORED), 3);
	udp_icmp_error(tb->st, TB_ADDR, 5000, TB_PEER, 53, EHOSTUNREACH);
	ck_assert_int_eq(sk->so_error, EHOSTUNREACH);
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_arp_failure_ehostunreach)
{
	struct tb *tb = bed();
	int sd = ustack_socket(tb->st, AF_INET, SOCK_DGRAM, 0);
	char buf[8];

	/* nobody answers ARP for .9 */
	ck_assert_int_eq(udp_connect_to(tb, sd, 0x0a000009, 53), 0);
	ck_assert_int_eq(ustack_send(tb->st, sd, "q", 1, 0), 1);
	tb_advance(tb, USTACK_SEC(10));
	ck_assert_uint_ge(stat(tb, USTACK_STAT_ARP_RESOLVE_FAILED), 1);
	ck_assert_int_eq(ustack_recv(tb->st, sd, buf, 8, 0), -EHOSTUNREACH);
	tb_free(tb);
}
END_TEST

/* ---- sending --------------------------------------------------------------- */

START_TEST(test_udp_sendto_autobinds_ephemeral)
{
	struct tb *tb = bed();
	int sd = ustack_socket(tb->st, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = tb_sin(TB_PEER, 53), me;
	socklen_t len = sizeof(me);
	struct pkt_view v;
	struct tb_frame *fr;

	ck_assert_int_eq(ustack_sendto(tb->st, sd, "q", 1, 0,
				       (struct sockaddr *)&to, sizeof(to)), 1);
	ck_assert_int_eq(ustack_getsockname(tb->st, sd, (struct sockaddr *)&me,
					    &len), 0);
	ck_assert_int_ge(ntohs(me.sin_port), 49152);
	fr = pop_parsed(tb, &v);
	ck_assert_uint_eq(udp_sport(v.l4), ntohs(me.sin_port));
	ck_assert_uint_eq(udp_dport(v.l4), 53);
	free(fr);
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_sendto_broadcast_needs_so_broadcast)
{
	struct tb *tb = bed();
	int sd = udp_bound(tb, 0, 5000, 0), on = 1;
	struct sockaddr_in to = tb_sin(0xffffffff, 5000);
	struct sockaddr_in sub = tb_sin(0x0a0000ff, 5000);
	struct pkt_view v;
	struct tb_frame *fr;

	ck_assert_int_eq(ustack_sendto(tb->st, sd, "b", 1, 0,
				       (struct sockaddr *)&to, sizeof(to)),
			 -EACCES);
	ck_assert_int_eq(ustack_sendto(tb->st, sd, "b", 1, 0,
				       (struct sockaddr *)&sub, sizeof(sub)),
			 -EACCES);
	ck_assert_int_eq(udp_connect_to(tb, sd, 0xffffffff, 5000), -EACCES);
	ck_assert_ptr_null(tb_pop(tb));
	ck_assert_int_eq(ustack_setsockopt(tb->st, sd, SOL_SOCKET,
					   SO_BROADCAST, &on, sizeof(on)), 0);
	ck_assert_int_eq(ustack_sendto(tb->st, sd, "b", 1, 0,
				       (struct sockaddr *)&to, sizeof(to)), 1);
	fr = pop_parsed(tb, &v);
	ck_assert_mem_eq(eth_dst(fr->data), ETH_BCAST_MAC, 6);
	ck_assert_uint_eq(v.ip_dst, 0xffffffff);
	ck_assert(v.l4_csum_ok);
	free(fr);
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_send_limits_emsgsize)
{
	struct tb *tb = bed();
	int sd = udp_bound(tb, 0, 5000, 0), snd = 2000;
	static uint8_t big[65508];
	struct sockaddr_in to = tb_sin(TB_PEER, 5000);
	const struct sockaddr *t = (struct sockaddr *)&to;

	ck_assert_int_eq(ustack_sendto(tb->st, sd, big, 65508, 0, t,
				       sizeof(to)), -EMSGSIZE);
	ck_assert_int_eq(ustack_setsockopt(tb->st, sd, SOL_SOCKET, SO_SNDBUF,
					   &snd, sizeof(snd)), 0);
	ck_assert_int_eq(ustack_sendto(tb->st, sd, big, 2001, 0, t,
				       sizeof(to)), -EMSGSIZE);
	ck_assert_int_eq(ustack_sendto(tb->st, sd, big, 2000, 0, t,
				       sizeof(to)), 2000);
	/* bad destinations */
	to.sin_port = 0;
	ck_assert_int_eq(ustack_sendto(tb->st, sd, big, 1, 0, t, sizeof(to)),
			 -EINVAL);
	to = tb_sin(0, 5000);
	ck_assert_int_eq(ustack_sendto(tb->st, sd, big, 1, 0, t, sizeof(to)),
			 -EINVAL);
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_send_largest_datagram_fragmented)
{
	struct tb *tb = bed();
	int sd = udp_bound(tb, 0, 5000, 0);
	static uint8_t big[65507], out[70000];
	struct sockaddr_in to = tb_sin(TB_PEER, 6000);
	const uint8_t *fr_p[64];
	size_t fr_len[64];
	struct tb_frame *frs[64];
	int n = 0;
	long got;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 31 + 7);
	ck_assert_int_eq(ustack_sendto(tb->st, sd, big, sizeof(big), 0,
				       (struct sockaddr *)&to, sizeof(to)),
			 (ssize_t)sizeof(big));
	while (n < 64 && (frs[n] = tb_pop(tb)) != NULL) {
		fr_p[n] = frs[n]->data;
		fr_len[n] = frs[n]->len;
		n++;
	}
	ck_assert_int_eq(n, (65507 + 8 + 1479) / 1480); /* 45 fragments */
	got = pkt_ip4_join(fr_p, fr_len, n, out, sizeof(out));
	ck_assert_int_eq(got, 65507 + 8);
	ck_assert_uint_eq(udp_len(out), 65515);
	ck_assert_mem_eq(out + 8, big, sizeof(big));
	ck_assert_uint_eq(csum_fold(csum_partial(out, 65515,
		csum_pseudo(TB_ADDR, TB_PEER, IP4_PROTO_UDP, 65515))), 0);
	for (int i = 0; i < n; i++)
		free(frs[i]);
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_send_computed_zero_checksum_as_ffff)
{
	struct tb *tb = bed();
	int sd = udp_bound(tb, 0, 5555, 0);
	struct sockaddr_in to = tb_sin(TB_PEER, 6666);
	uint8_t hdr[8], payload[2];
	struct pkt_view v;
	struct tb_frame *fr;
	uint32_t s;
	uint16_t f;

	/* choose the payload word that makes the sum all ones */
	be16_store(hdr + UDP_OFF_SPORT, 5555);
	be16_store(hdr + UDP_OFF_DPORT, 6666);
	be16_store(hdr + UDP_OFF_LEN, 10);
	be16_store(hdr + UDP_OFF_CSUM, 0);
	s = csum_partial(hdr, 8, csum_pseudo(TB_ADDR, TB_PEER, IP4_PROTO_UDP,
					     10));
	f = (uint16_t)~csum_fold(s);
	be16_store(payload, (uint16_t)(0xffff - f));
	ck_assert_int_eq(ustack_sendto(tb->st, sd, payload, 2, 0,
				       (struct sockaddr *)&to, sizeof(to)), 2);
	fr = pop_parsed(tb, &v);
	ck_assert_uint_eq(udp_csum(v.l4), 0xffff);
	ck_assert(v.l4_csum_ok);
	free(fr);
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_send_device_refuses)
{
	struct tb *tb = bed();
	int sd = udp_bound(tb, 0, 5000, 0);
	struct sockaddr_in to = tb_sin(TB_PEER, 6000);
	ssize_t n;

	tb_set_tx_fail(tb, 1);
	n = ustack_sendto(tb->st, sd, "x", 1, 0, (struct sockaddr *)&to,
			  sizeof(to));
	/* the device's error comes back, or the datagram is counted lost
	 * below UDP; never a crash, and no buffer leaks */
	ck_assert(n == 1 || n == -ENOBUFS);
	ck_assert_uint_ge(stat(tb, USTACK_STAT_ETH_TX_ERRORS), 1);
	tb_set_tx_fail(tb, 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_to_own_address_loops_back)
{
	struct tb *tb = bed();
	int a = udp_bound(tb, 0, 5000, 0), b = udp_bound(tb, 0, 5001, 0);
	struct sockaddr_in to = tb_sin(TB_ADDR, 5000), src;
	char buf[8];

	ck_assert_int_eq(ustack_sendto(tb->st, b, "self", 4, 0,
				       (struct sockaddr *)&to, sizeof(to)), 4);
	tb_advance(tb, 0);
	ck_assert_int_eq(recv_from(tb, a, buf, sizeof(buf), 0, &src), 4);
	ck_assert_uint_eq(ntohs(src.sin_port), 5001);
	ck_assert_uint_eq(ntohl(src.sin_addr.s_addr), TB_ADDR);
	ck_assert_ptr_null(tb_pop(tb));
	tb_free(tb);
}
END_TEST

START_TEST(test_udp_connect_errors)
{
	struct tb *tb = bed();
	int sd = ustack_socket(tb->st, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in me;
	socklen_t len = sizeof(me);

	ck_assert_int_eq(udp_connect_to(tb, sd, TB_PEER, 0), -EINVAL);
	ck_assert_int_eq(udp_connect_to(tb, sd, 0, 53), -EINVAL);
	ck_assert_int_eq(udp_connect_to(tb, sd, 0x08080808, 53), -ENETUNREACH);
	ck_assert_int_eq(udp_connect_to(tb, sd, TB_PEER, 53), 0);
	/* connected through a wildcard: getsockname names our address */
	ck_assert_int_eq(ustack_getsockname(tb->st, sd, (struct sockaddr *)&me,
					    &len), 0);
	ck_assert_uint_eq(ntohl(me.sin_addr.s_addr), TB_ADDR);
	ck_assert_int_ge(ntohs(me.sin_port), 49152);
	ck_assert_int_eq(ustack_getpeername(tb->st, sd, (struct sockaddr *)&me,
					    &len), 0);
	ck_assert_uint_eq(ntohl(me.sin_addr.s_addr), TB_PEER);
	ck_assert_uint_eq(ntohs(me.sin_port), 53);
	tb_free(tb);
}
END_TEST

static Suite *udp_suite(void)
{
	Suite *s = suite_create("udp");
	TCase *tc = tcase_create("udp");

	tcase_add_test(tc, test_udp_echo_roundtrip_frame_bytes);
	tcase_add_test(tc, test_udp_boundaries_kept);
	tcase_add_test(tc, test_udp_recv_truncate_peek_trunc);
	tcase_add_test(tc, test_udp_rcvbuf_bound_counted);
	tcase_add_test(tc, test_udp_big_datagram_fits_empty_small_queue);
	tcase_add_test(tc, test_udp_zero_checksum_accepted);
	tcase_add_test(tc, test_udp_recvmsg_ttl_and_scatter);
	tcase_add_test(tc, test_udp_bad_checksum_dropped_silently);
	tcase_add_test(tc, test_udp_short_and_bad_length_dropped);
	tcase_add_test(tc, test_udp_hostile_headers_no_crash);
	tcase_add_test(tc, test_udp_demux_connected_then_bound_then_wildcard);
	tcase_add_test(tc, test_udp_connected_only_socket_filters_others);
	tcase_add_test(tc, test_udp_broadcast_to_every_wildcard_socket);
	tcase_add_test(tc, test_udp_port_unreachable_for_closed_port);
	tcase_add_test(tc, test_udp_no_port_unreachable_for_broadcast);
	tcase_add_test(tc, test_udp_icmp_error_connected_econnrefused);
	tcase_add_test(tc, test_udp_icmp_error_unconnected_ignored);
	tcase_add_test(tc, test_udp_icmp_error_hook_matching);
	tcase_add_test(tc, test_udp_arp_failure_ehostunreach);
	tcase_add_test(tc, test_udp_sendto_autobinds_ephemeral);
	tcase_add_test(tc, test_udp_sendto_broadcast_needs_so_broadcast);
	tcase_add_test(tc, test_udp_send_limits_emsgsize);
	tcase_add_test(tc, test_udp_send_largest_datagram_fragmented);
	tcase_add_test(tc, test_udp_send_computed_zero_checksum_as_ffff);
	tcase_add_test(tc, test_udp_send_device_refuses);
	tcase_add_test(tc, test_udp_to_own_address_loops_back);
	tcase_add_test(tc, test_udp_connect_errors);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(udp_suite)
