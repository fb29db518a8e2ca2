/*
 * check_offload.c - checksum offload and TSO/GRO (dev.h offloads): the
 * software fallbacks (checksum completion, TSO segmentation), the stack's
 * use of them (super-frames out, partial checksums in, software fallback
 * when the device can not), and the pass-through of metadata by the
 * memlink, fault and pcap drivers; two stacks moving data byte-exact over
 * an offloading memlink, also through the fault driver; and one ACK per
 * device read batch (ustack_poll_dev), which is what makes coalescing
 * pay. Virtual time.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ustack/dev.h>
#include <ustack/socket.h>
#include <ustack/ustack.h>

#include "core/stack.h"
#include "lib/check_main.h"
#include "lib/pkt.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/tcp.h"

#define FRAME_MAX (65535 + 14 + 4)
#define ADDR_A 0x0a000001u
#define ADDR_B 0x0a000002u

static const uint8_t MAC_A[6] = {2, 0, 0, 0, 0, 1};
static const uint8_t MAC_B[6] = {2, 0, 0, 0, 0, 2};

static uint8_t payload_byte(size_t i)
{
	return (uint8_t)(i * 13 + (i >> 8));
}

/* A TCP/IPv4 frame from A to B with n bytes of data and a timestamp
 * option, its checksum left partial (the pseudo-header sum). */
static size_t tcp_frame(uint8_t *f, size_t n, uint8_t flags, int partial)
{
	static uint8_t data[65536];
	static const uint8_t ts[] = {1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9};
	struct pkt_tcp t = {
		.sip = ADDR_A, .dip = ADDR_B, .sport = 4000, .dport = 80,
		.seq = 1000, .ack = 77, .flags = flags, .win = 500,
		.opts = ts, .optlen = sizeof(ts), .data = data, .len = n,
	};
	size_t len;

	for (size_t i = 0; i < n; i++)
		data[i] = payload_byte(i);
	len = pkt_tcp(f, MAC_B, MAC_A, &t);
	if (partial) {
		uint32_t tl = (uint32_t)(len - 34);

		be16_store(f + 34 + TCP_OFF_CSUM,
			   (uint16_t)~csum_fold(csum_pseudo(ADDR_A, ADDR_B, 6, tl)));
	}
	return len;
}

static const struct ustack_frame_meta partial_tcp = {
	.flags = USTACK_META_CSUM_PARTIAL, .csum_start = 34, .csum_offset = 16,
};

/* ---- software fallbacks ---------------------------------------------------- */

struct collect {
	int n;
	uint8_t *f[64];
	size_t len[64];
};

static int collect_emit(void *ctx, const void *frame, size_t len)
{
	struct collect *c = ctx;

	ck_assert_int_lt(c->n, 64);
	c->f[c->n] = malloc(len);
	memcpy(c->f[c->n], frame, len);
	c->len[c->n++] = len;
	return 0;
}

static void collect_free(struct collect *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->f[i]);
}

START_TEST(test_offload_segment_cuts_a_superframe_like_a_nic)
{
	static uint8_t f[FRAME_MAX], scratch[4096];
	struct ustack_frame_meta m = partial_tcp;
	struct collect c = {0};
	size_t len = tcp_frame(f, 10000, TCP_ACK | TCP_PSH | TCP_FIN, 1), got = 0;

	m.gso_type = USTACK_GSO_TCPV4;
	m.gso_size = 1436;
	m.hdr_len = 14 + 20 + 32;
	ck_assert_int_eq(ustack_frame_segment(f, len, &m, scratch, collect_emit,
					      &c), 7);
	for (int i = 0; i < c.n; i++) {
		struct pkt_view v;
		uint8_t fl;

		ck_assert_int_eq(pkt_parse(c.f[i], c.len[i], &v), 0);
		ck_assert(v.ip_csum_ok);
		ck_assert(v.l4_csum_ok);
		ck_assert_uint_le(v.ip_len, 1500);
		ck_assert_uint_eq(tcp_seq(v.l4), 1000 + got);
		ck_assert_uint_eq(tcp_hlen(v.l4), 32);   /* options copied */
		fl = tcp_flags(v.l4);
		ck_assert_uint_eq(!!(fl & (TCP_PSH | TCP_FIN)), i == c.n - 1);
		ck_assert(fl & TCP_ACK);
		for (size_t k = 0; k < v.payload_len; k++)
			ck_assert_uint_eq(v.payload[k], payload_byte(got + k));
		got += v.payload_len;
	}
	ck_assert_uint_eq(got, 10000);
	collect_free(&c);
}
END_TEST

START_TEST(test_offload_segment_refuses_malformed_superframes)
{
	static uint8_t f[FRAME_MAX], scratch[4096];
	struct ustack_frame_meta m = partial_tcp;
	struct collect c = {0};
	size_t len = tcp_frame(f, 3000, TCP_ACK, 1);

	m.gso_type = USTACK_GSO_TCPV4;
	m.gso_size = 0;
	ck_assert_int_eq(ustack_frame_segment(f, len, &m, scratch, collect_emit,
					      &c), -EINVAL);
	m.gso_size = 1000;
	ck_assert_int_eq(ustack_frame_segment(f, 40, &m, scratch, collect_emit,
					      &c), -EINVAL);  /* cut short */
	f[14 + 9] = 17;                                       /* not TCP */
	ck_assert_int_eq(ustack_frame_segment(f, len, &m, scratch, collect_emit,
					      &c), -EINVAL);
	ck_assert_int_eq(c.n, 0);
}
END_TEST

START_TEST(test_offload_csum_complete_fills_in_the_checksum)
{
	static uint8_t f[FRAME_MAX];
	struct ustack_frame_meta m = partial_tcp;
	size_t len = tcp_frame(f, 999, TCP_ACK, 1);
	struct pkt_view v;

	ck_assert_int_eq(pkt_parse(f, len, &v), 0);
	ck_assert(!v.l4_csum_ok);
	ck_assert_int_eq(ustack_frame_csum_complete(f, len, &m), 0);
	ck_assert_uint_eq(m.flags & USTACK_META_CSUM_PARTIAL, 0);
	ck_assert_int_eq(pkt_parse(f, len, &v), 0);
	ck_assert(v.l4_csum_ok);
	/* offsets past the frame: refused, nothing touched */
	m = partial_tcp;
	m.csum_start = (uint16_t)(len - 10);
	ck_assert_int_eq(ustack_frame_csum_complete(f, len, &m), -EINVAL);
	ck_assert(m.flags & USTACK_META_CSUM_PARTIAL);
}
END_TEST

/* ---- the drivers pass metadata through ------------------------------------- */

START_TEST(test_offload_memlink_carries_metadata)
{
	static uint8_t f[FRAME_MAX], g[FRAME_MAX];
	struct ustack_dev *a, *b;
	struct ustack_frame_meta m;
	struct pkt_view v;
	size_t len = tcp_frame(f, 500, TCP_ACK, 1);
	long n;

	ck_assert_int_eq(ustack_memlink_pair(&a, &b, 0), 0);
	ck_assert_int_eq(ustack_memlink_offload(a, USTACK_DEV_OFFLOADS_ALL), 0);
	ck_assert_uint_eq(b->offloads, USTACK_DEV_OFFLOADS_ALL);
	ck_assert_int_eq(ustack_memlink_offload(a, 0x100), -EINVAL);
	ck_assert_int_eq(ustack_dev_transmit_meta(a, f, len, &partial_tcp, 0), 0);
	n = ustack_dev_receive_meta(b, g, sizeof(g), &m, 0);
	ck_assert_int_eq(n, (long)len);
	ck_assert_int_eq(memcmp(&m, &partial_tcp, sizeof(m)), 0);
	/* a reader without metadata gets the checksum completed */
	ck_assert_int_eq(ustack_dev_transmit_meta(a, f, len, &partial_tcp, 0), 0);
	n = ustack_dev_receive(b, g, sizeof(g), 0);
	ck_assert_int_eq(pkt_parse(g, (size_t)n, &v), 0);
	ck_assert(v.l4_csum_ok);
	ustack_dev_close(a);
	ustack_dev_close(b);
}
END_TEST

START_TEST(test_offload_fault_corruption_drops_the_metadata)
{
	static uint8_t f[FRAME_MAX], g[FRAME_MAX];
	struct ustack_dev *a, *b, *fa;
	struct ustack_fault_config fc;
	struct ustack_frame_meta m;
	struct pkt_view v;
	size_t len = tcp_frame(f, 700, TCP_ACK, 1);
	long n;

	ck_assert_int_eq(ustack_memlink_pair(&a, &b, 0), 0);
	ck_assert_int_eq(ustack_memlink_offload(a, USTACK_DEV_OFFLOADS_ALL), 0);
	ustack_fault_config_default(&fc);
	ck_assert_int_eq(ustack_fault_wrap(&fa, a, &fc), 0);
	ck_assert_uint_eq(fa->offloads, USTACK_DEV_OFFLOADS_ALL);
	/* untouched: the metadata passes */
	ck_assert_int_eq(ustack_dev_transmit_meta(fa, f, len, &partial_tcp, 0), 0);
	n = ustack_dev_receive_meta(b, g, sizeof(g), &m, 0);
	ck_assert_int_eq(n, (long)len);
	ck_assert(m.flags & USTACK_META_CSUM_PARTIAL);
	ustack_dev_close(fa);
	ustack_dev_close(b);

	ck_assert_int_eq(ustack_memlink_pair(&a, &b, 0), 0);
	ck_assert_int_eq(ustack_memlink_offload(a, USTACK_DEV_OFFLOADS_ALL), 0);
	fc.corrupt_ppm = 1000000;
	ck_assert_int_eq(ustack_fault_wrap(&fa, a, &fc), 0);
	ck_assert_int_eq(ustack_dev_transmit_meta(fa, f, len, &partial_tcp, 0), 0);
	n = ustack_dev_receive_meta(b, g, sizeof(g), &m, 0);
	ck_assert_int_eq(n, (long)len);
	ck_assert_uint_eq(m.flags, 0);  /* the receiver must check in full */
	ck_assert_int_eq(pkt_parse(g, (size_t)n, &v), 0);
	ck_assert(!v.l4_csum_ok || !v.ip_csum_ok ||
		  memcmp(f + 14, g + 14, 20) != 0);
	ustack_dev_close(fa);
	ustack_dev_close(b);
}
END_TEST

START_TEST(test_offload_pcap_tee_writes_complete_checksums)
{
	static uint8_t f[FRAME_MAX], g[FRAME_MAX];
	char path[] = "/tmp/ustack-offload-XXXXXX";
	struct ustack_dev *a, *b, *tee, *src;
	struct ustack_frame_meta m;
	struct pkt_view v;
	size_t len = tcp_frame(f, 3000, TCP_ACK, 1);
	int fd = mkstemp(path);
	long n;

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(ustack_memlink_pair(&a, &b, 0), 0);
	ck_assert_int_eq(ustack_memlink_offload(a, USTACK_DEV_OFFLOADS_ALL), 0);
	ck_assert_int_eq(ustack_pcap_tee(&tee, a, path, NULL, 0), 0);
	ck_assert_uint_eq(tee->offloads, USTACK_DEV_OFFLOADS_ALL);
	ck_assert_int_eq(ustack_dev_transmit_meta(tee, f, len, &partial_tcp, 0), 0);
	n = ustack_dev_receive_meta(b, g, sizeof(g), &m, 0);
	ck_assert_int_eq(n, (long)len);
	ck_assert(m.flags & USTACK_META_CSUM_PARTIAL);  /* the wire: partial */
	ustack_dev_close(tee);
	ustack_dev_close(b);
	ck_assert_int_eq(ustack_pcap_source(&src, path, 0, 1, NULL, 0), 0);
	n = ustack_dev_receive(src, g, sizeof(g), 0);
	ck_assert_int_eq(n, (long)len);
	ck_assert_int_eq(pkt_parse(g, (size_t)n, &v), 0);
	ck_assert(v.l4_csum_ok);                        /* the file: complete */
	ustack_dev_close(src);
	unlink(path);
}
END_TEST

/* ---- two stacks ------------------------------------------------------------ */

struct pair {
	struct ustack *a, *b;          /* a: server, b: client */
	struct ustack_dev *da, *db;    /* what the stacks use */
	struct ustack_dev *la, *lb;    /* the memlink ends */
	ustack_time_t now;
};

/* faults: 0 none, else the seed (1, 2, ...) of 2% loss, reordering,
 * 1% duplication and corruption on both sides. */
static void pair_new(struct pair *p, uint32_t offloads, int faults)
{
	struct ustack_config cfg;
	struct ustack_fault_config fc;

	memset(p, 0, sizeof(*p));
	ck_assert_int_eq(ustack_memlink_pair(&p->la, &p->lb, 4096), 0);
	ck_assert_int_eq(ustack_memlink_offload(p->la, offloads), 0);
	p->da = p->la;
	p->db = p->lb;
	if (faults) {
		ustack_fault_config_default(&fc);
		fc.seed = (uint64_t)faults * 2 + 3;
		fc.loss_ppm = fc.reorder_ppm = 20000;
		fc.dup_ppm = fc.corrupt_ppm = 10000;
		fc.delay_us = 500;
		ck_assert_int_eq(ustack_fault_wrap(&p->da, p->la, &fc), 0);
		fc.seed = (uint64_t)faults * 2 + 4;
		ck_assert_int_eq(ustack_fault_wrap(&p->db, p->lb, &fc), 0);
	}
	p->now = USTACK_SEC(1);
	ustack_config_default(&cfg);
	cfg.seed_from_os = 0;
	cfg.log_level = USTACK_LOG_ERROR;
	cfg.addr = ADDR_A;
	memcpy(cfg.mac, MAC_A, 6);
	ck_assert_int_eq(ustack_create(&p->a, &cfg, p->da, p->now), 0);
	cfg.addr = ADDR_B;
	memcpy(cfg.mac, MAC_B, 6);
	ck_assert_int_eq(ustack_create(&p->b, &cfg, p->db, p->now), 0);
}

static void pair_free(struct pair *p)
{
	ustack_destroy(p->a);
	ustack_destroy(p->b);
	ustack_dev_close(p->da);
	ustack_dev_close(p->db);
}

/* One pass in virtual time; when nothing moved, on to the next deadline. */
static void pair_step(struct pair *p)
{
	int n;

	p->now += 10;
	/* The fault driver hands due frames to the memlink when it is next
	 * called, and a memlink end never reports a deadline: let both
	 * release at the new time first, then read both (as sim_tcp does). */
	ustack_set_now(p->a, p->now);
	ustack_set_now(p->b, p->now);
	(void)ustack_next_deadline(p->a);
	(void)ustack_next_deadline(p->b);
	n = ustack_poll_dev(p->a, p->now, 64) + ustack_poll_dev(p->b, p->now, 64);
	ustack_run_timers(p->a, p->now);
	ustack_run_timers(p->b, p->now);
	if (!n) {
		ustack_time_t t = ustack_next_deadline(p->a);
		ustack_time_t u = ustack_next_deadline(p->b);

		t = u < t ? u : t;
		if (t != USTACK_TIME_NEVER && t > p->now)
			p->now = t - 1;
	}
}

/* Client b sends `total` bytes to server a; returns what a read. */
static size_t pair_transfer(struct pair *p, size_t total, int *ok)
{
	static uint8_t buf[1 << 16];
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(80)};
	int lsd, csd, ssd = -1, passes = 0;
	size_t sent = 0, rcvd = 0;

	*ok = 1;
	lsd = ustack_socket(p->a, AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(ustack_bind(p->a, lsd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(ustack_listen(p->a, lsd, 1), 0);
	csd = ustack_socket(p->b, AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(ADDR_A);
	ck_assert_int_eq(ustack_connect(p->b, csd, (struct sockaddr *)&sa, sizeof(sa)),
			 -EINPROGRESS);
	while (rcvd < total && ++passes < 2000000 && p->now < USTACK_SEC(600)) {
		ssize_t n;

		if (ssd < 0)
			ssd = ustack_accept(p->a, lsd, NULL, NULL);
		while (sent < total) {
			size_t k = total - sent < sizeof(buf) ? total - sent : sizeof(buf);

			for (size_t i = 0; i < k; i++)
				buf[i] = payload_byte(sent + i);
			n = ustack_send(p->b, csd, buf, k, 0);
			if (n <= 0)
				break;
			sent += (size_t)n;
		}
		while (ssd >= 0 && (n = ustack_recv(p->a, ssd, buf, sizeof(buf), 0)) > 0) {
			for (ssize_t i = 0; i < n; i++)
				if (buf[i] != payload_byte(rcvd + (size_t)i))
					*ok = 0;
			rcvd += (size_t)n;
		}
		pair_step(p);
	}
	ustack_close(p->b, csd);
	if (ssd >= 0)
		ustack_close(p->a, ssd);
	ustack_close(p->a, lsd);
	for (int i = 0; i < 100000 && (ustack_pkb_in_use(p->a) ||
				       ustack_pkb_in_use(p->b) ||
				       ustack_next_deadline(p->a) != USTACK_TIME_NEVER ||
				       ustack_next_deadline(p->b) != USTACK_TIME_NEVER); i++)
		pair_step(p);
	return rcvd;
}

START_TEST(test_offload_two_stacks_tso_gro_byte_exact)
{
	struct pair p;
	int ok;

	pair_new(&p, USTACK_DEV_OFFLOADS_ALL, 0);
	ck_assert_uint_eq(pair_transfer(&p, 3u << 20, &ok), 3u << 20);
	ck_assert(ok);
	/* super-frames left b, arrived at a as coalesced frames, and their
	 * checksums were never summed by either side */
	ck_assert_uint_gt(ustack_stat(p.b, USTACK_STAT_ETH_TX_GSO), 0);
	/* the data went down from the send ring in pieces (gather) */
	ck_assert_uint_gt(ustack_stat(p.b, USTACK_STAT_ETH_TX_GATHER),
			  ustack_stat(p.b, USTACK_STAT_ETH_TX_GSO) / 2);
	ck_assert_uint_gt(ustack_stat(p.a, USTACK_STAT_ETH_RX_GRO), 0);
	ck_assert_uint_gt(ustack_stat(p.a, USTACK_STAT_ETH_RX_CSUM_OFFLOAD), 0);
	ck_assert_uint_lt(ustack_stat(p.b, USTACK_STAT_TCP_TX), (3u << 20) / 1448 / 4);
	ck_assert_uint_eq(ustack_stat(p.a, USTACK_STAT_TCP_DROP_BAD_CHECKSUM), 0);
	pair_free(&p);
}
END_TEST

START_TEST(test_offload_two_stacks_checksum_offload_only)
{
	struct pair p;
	int ok;

	pair_new(&p, USTACK_DEV_TX_CSUM | USTACK_DEV_RX_CSUM, 0);
	ck_assert_uint_eq(pair_transfer(&p, 1u << 20, &ok), 1u << 20);
	ck_assert(ok);
	ck_assert_uint_gt(ustack_stat(p.b, USTACK_STAT_ETH_TX_GATHER), 0);
	ck_assert_uint_eq(ustack_stat(p.b, USTACK_STAT_ETH_TX_GSO), 0);
	ck_assert_uint_gt(ustack_stat(p.a, USTACK_STAT_ETH_RX_CSUM_OFFLOAD), 0);
	pair_free(&p);
}
END_TEST

START_TEST(test_offload_two_stacks_through_faults_byte_exact)
{
	struct pair p;
	int ok;

	pair_new(&p, USTACK_DEV_OFFLOADS_ALL, _i);
	ck_assert_uint_eq(pair_transfer(&p, 2u << 20, &ok), 2u << 20);
	ck_assert(ok);
	ck_assert_uint_gt(ustack_stat(p.b, USTACK_STAT_ETH_TX_GSO), 0);
	/* the fault driver holds frames: no gather, made whole first */
	ck_assert_uint_eq(ustack_stat(p.b, USTACK_STAT_ETH_TX_GATHER), 0);
	/* corrupted super-frames were caught by the full check */
	ck_assert_uint_gt(ustack_stat(p.a, USTACK_STAT_TCP_DROP_BAD_CHECKSUM) +
			  ustack_stat(p.a, USTACK_STAT_IP4_DROP_BAD_CHECKSUM) +
			  ustack_stat(p.b, USTACK_STAT_TCP_DROP_BAD_CHECKSUM) +
			  ustack_stat(p.b, USTACK_STAT_IP4_DROP_BAD_CHECKSUM), 0);
	pair_free(&p);
}
END_TEST

/* ---- the core's fallbacks and receive side --------------------------------- */

START_TEST(test_offload_stack_segments_in_software_without_tso)
{
	static uint8_t f[FRAME_MAX], g[FRAME_MAX];
	struct pair p;
	struct pkb *pkb;
	size_t len = tcp_frame(f, 5000, TCP_ACK | TCP_PSH, 1), got = 0;
	long n;

	pair_new(&p, 0, 0);             /* a device without any offload */
	pkb = pkb_alloc(p.b, (uint32_t)len);
	memcpy(pkb_put(pkb, (uint32_t)len), f, len);
	pkb->th_off = (uint16_t)(pkb_headroom(pkb) + 34);
	pkb->csum = PKB_CSUM_PARTIAL;
	pkb->csum_off = TCP_OFF_CSUM;
	pkb->gso_size = 1436;
	ck_assert_int_eq(stack_xmit(p.b, pkb), 0);
	ck_assert_uint_eq(ustack_stat(p.b, USTACK_STAT_ETH_TX_SW_GSO), 1);
	n = ustack_dev_receive(p.la, g, sizeof(g), 0);   /* the gratuitous ARP */
	while ((n = ustack_dev_receive(p.la, g, sizeof(g), 0)) > 0) {
		struct pkt_view v;

		ck_assert_int_eq(pkt_parse(g, (size_t)n, &v), 0);
		ck_assert(v.l4_csum_ok);
		ck_assert_uint_le(v.ip_len, 1500);
		got += v.payload_len;
	}
	ck_assert_uint_eq(got, 5000);
	pair_free(&p);
}
END_TEST

START_TEST(test_offload_partial_checksums_in_are_taken)
{
	static uint8_t f[FRAME_MAX];
	struct ustack_frame_meta m = partial_tcp;
	struct pair p;
	uint8_t msg[40];
	size_t len;
	int sd;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9999)};

	pair_new(&p, USTACK_DEV_OFFLOADS_ALL, 0);
	pair_step(&p);                    /* gratuitous ARPs */
	/* TCP to a closed port: taken as valid (no checksum drop), answered
	 * with RST */
	len = tcp_frame(f, 100, TCP_ACK, 1);
	ck_assert_int_eq(ustack_dev_transmit_meta(p.la, f, len, &m, 0), 0);
	ustack_poll_dev(p.b, p.now, 64);
	ck_assert_uint_eq(ustack_stat(p.b, USTACK_STAT_ETH_RX_CSUM_OFFLOAD), 1);
	ck_assert_uint_eq(ustack_stat(p.b, USTACK_STAT_TCP_DROP_BAD_CHECKSUM), 0);
	ck_assert_uint_eq(ustack_stat(p.b, USTACK_STAT_TCP_RST_TX), 1);
	/* the same frame with a broken sum and no metadata: dropped */
	ck_assert_int_eq(ustack_dev_transmit(p.la, f, len, 0), 0);
	ustack_poll_dev(p.b, p.now, 64);
	ck_assert_uint_eq(ustack_stat(p.b, USTACK_STAT_TCP_DROP_BAD_CHECKSUM), 1);
	/* UDP with a partial checksum: completed by the core, delivered */
	sd = ustack_socket(p.b, AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_eq(ustack_bind(p.b, sd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	len = pkt_udp(f, MAC_B, MAC_A, ADDR_A, ADDR_B, 5000, 9999, "hello", 5, 1);
	be16_store(f + 34 + 6, (uint16_t)~csum_fold(csum_pseudo(ADDR_A, ADDR_B, 17, 13)));
	m.csum_offset = 6;
	ck_assert_int_eq(ustack_dev_transmit_meta(p.la, f, len, &m, 0), 0);
	ustack_poll_dev(p.b, p.now, 64);
	ck_assert_int_eq(ustack_recv(p.b, sd, msg, sizeof(msg), 0), 5);
	/* offsets that do not fit the frame: a counted drop */
	m.csum_start = (uint16_t)len;
	ck_assert_int_eq(ustack_dev_transmit_meta(p.la, f, len, &m, 0), 0);
	ustack_poll_dev(p.b, p.now, 64);
	ck_assert_uint_eq(ustack_stat(p.b, USTACK_STAT_ETH_DROP_BAD_META), 1);
	ustack_close(p.b, sd);
	pair_free(&p);
}
END_TEST

/* ---- ACKs per device read batch ----------------------------------------------- */

/* 10 us of virtual time, never a jump (an idle jump past the RTO would
 * send cwnd back to its initial value, RFC 5681 4.1). */
static void pair_tick(struct pair *p)
{
	p->now += 10;
	ustack_poll_dev(p->a, p->now, 64);
	ustack_poll_dev(p->b, p->now, 64);
	ustack_run_timers(p->a, p->now);
	ustack_run_timers(p->b, p->now);
}

START_TEST(test_offload_one_ack_per_read_batch)
{
	static uint8_t buf[20 * 1448];
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(80)};
	struct ustack_conn_info ci;
	struct pair p;
	int lsd, csd, ssd = -1;
	uint64_t tx0, rx0;

	pair_new(&p, 0, 0);
	lsd = ustack_socket(p.a, AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(ustack_bind(p.a, lsd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(ustack_listen(p.a, lsd, 1), 0);
	csd = ustack_socket(p.b, AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(ADDR_A);
	ustack_connect(p.b, csd, (struct sockaddr *)&sa, sizeof(sa));
	for (int i = 0; i < 1000 && ssd < 0; i++) {
		pair_step(&p);
		ssd = ustack_accept(p.a, lsd, NULL, NULL);
	}
	ck_assert_int_ge(ssd, 0);
	/* Warm up: slow start opens cwnd well past 20 segments. */
	for (int k = 0, got = 0; k < 20; k++) {
		ck_assert_int_eq(ustack_send(p.b, csd, buf, sizeof(buf), 0), (int)sizeof(buf));
		for (int i = 0; i < 100000 && got < (k + 1) * (int)sizeof(buf); i++) {
			ssize_t n = ustack_recv(p.a, ssd, buf, sizeof(buf), 0);

			if (n > 0)
				got += (int)n;
			else
				pair_tick(&p);
		}
	}
	for (int i = 0; i < 5000; i++)   /* the last delayed ACK */
		pair_tick(&p);
	ck_assert_int_eq(ustack_conn_list(p.b, &ci, 1), 1);
	ck_assert_uint_ge(ci.cwnd, sizeof(buf));
	/* 20 segments go out at once; the server reads them in one batch
	 * and answers with one ACK, which acknowledges all of them. */
	ck_assert_int_eq(ustack_send(p.b, csd, buf, sizeof(buf), 0), (int)sizeof(buf));
	tx0 = ustack_stat(p.a, USTACK_STAT_TCP_TX);
	rx0 = ustack_stat(p.a, USTACK_STAT_TCP_RX);
	ck_assert_int_eq(ustack_poll_dev(p.a, p.now, 64), 20);
	ck_assert_uint_eq(ustack_stat(p.a, USTACK_STAT_TCP_TX) - tx0, 1);
	/* software GRO: TCP saw one segment of 20 * 1448 bytes */
	ck_assert_uint_eq(ustack_stat(p.a, USTACK_STAT_TCP_RX) - rx0, 1);
	/* Reading it all right after sends no window update: the peer
	 * still has more than half the buffer as window, and the next
	 * batch's ACK carries the new edge (Linux tcp_cleanup_rbuf). */
	ck_assert_int_eq(ustack_recv(p.a, ssd, buf, sizeof(buf), 0), (int)sizeof(buf));
	ck_assert_uint_eq(ustack_stat(p.a, USTACK_STAT_TCP_TX) - tx0, 1);
	ustack_poll_dev(p.b, p.now, 64);
	ck_assert_int_eq(ustack_conn_list(p.b, &ci, 1), 1);
	ck_assert_uint_eq(ci.snd_queued, 0);
	ustack_close(p.b, csd);
	ustack_close(p.a, ssd);
	ustack_close(p.a, lsd);
	for (int i = 0; i < 100000 && (ustack_next_deadline(p.a) != USTACK_TIME_NEVER ||
				       ustack_next_deadline(p.b) != USTACK_TIME_NEVER); i++)
		pair_step(&p);
	pair_free(&p);
}
END_TEST

/* ---- software GRO ------------------------------------------------------------ */

/* One frame of flow A:4000 -> B:80 (closed: every segment TCP sees is
 * answered with a RST), full checksums, timestamps. */
static void gro_send(struct pair *p, uint32_t seq, uint8_t flags, uint16_t win,
		     int bad)
{
	static const uint8_t ts[] = {1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9};
	static uint8_t f[2048], data[100];
	struct pkt_tcp t = {
		.sip = ADDR_A, .dip = ADDR_B, .sport = 4000, .dport = 80,
		.seq = seq, .ack = 77, .flags = flags, .win = win, .opts = ts,
		.optlen = sizeof(ts), .data = data, .len = sizeof(data),
		.bad_csum = bad,
	};
	size_t len = pkt_tcp(f, MAC_B, MAC_A, &t);

	ck_assert_int_eq(ustack_dev_transmit(p->la, f, len, 0), 0);
}

START_TEST(test_offload_gro_merges_in_order_segments_of_a_batch)
{
	struct pair p;
	uint64_t rx0, rst0;

	pair_new(&p, 0, 0);          /* a plain device: checksums summed */
	pair_step(&p);               /* gratuitous ARPs */
	rx0 = ustack_stat(p.b, USTACK_STAT_TCP_RX);
	rst0 = ustack_stat(p.b, USTACK_STAT_TCP_RST_TX);
	gro_send(&p, 1000, TCP_ACK, 500, 0);
	gro_send(&p, 1100, TCP_ACK, 500, 0);            /* merged */
	gro_send(&p, 1200, TCP_ACK | TCP_PSH, 500, 0);  /* merged */
	gro_send(&p, 1300, TCP_ACK, 500, 0);            /* merged after it */
	gro_send(&p, 1500, TCP_ACK, 500, 0);            /* a gap */
	gro_send(&p, 1600, TCP_ACK, 500, 1);            /* a bad checksum */
	gro_send(&p, 1700, TCP_ACK, 501, 0);            /* another window */
	gro_send(&p, 1800, TCP_ACK | TCP_FIN, 501, 0);  /* a FIN */
	ck_assert_int_eq(ustack_poll_dev(p.b, p.now, 64), 8);
	ck_assert_uint_eq(ustack_stat(p.b, USTACK_STAT_ETH_RX_GRO_MERGED), 3);
	ck_assert_uint_eq(ustack_stat(p.b, USTACK_STAT_TCP_RX) - rx0, 5);
	ck_assert_uint_eq(ustack_stat(p.b, USTACK_STAT_TCP_DROP_BAD_CHECKSUM), 1);
	ck_assert_uint_eq(ustack_stat(p.b, USTACK_STAT_TCP_RST_TX) - rst0, 4);
	pair_free(&p);
}
END_TEST

static Suite *offload_suite(void)
{
	Suite *s = suite_create("offload");
	TCase *tc = tcase_create("offload");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_offload_segment_cuts_a_superframe_like_a_nic);
	tcase_add_test(tc, test_offload_segment_refuses_malformed_superframes);
	tcase_add_test(tc, test_offload_csum_complete_fills_in_the_checksum);
	tcase_add_test(tc, test_offload_memlink_carries_metadata);
	tcase_add_test(tc, test_offload_fault_corruption_drops_the_metadata);
	tcase_add_test(tc, test_offload_pcap_tee_writes_complete_checksums);
	tcase_add_test(tc, test_offload_two_stacks_tso_gro_byte_exact);
	tcase_add_test(tc, test_offload_two_stacks_checksum_offload_only);
	tcase_add_loop_test(tc, test_offload_two_stacks_through_faults_byte_exact, 1, 6);
	tcase_add_test(tc, test_offload_stack_segments_in_software_without_tso);
	tcase_add_test(tc, test_offload_partial_checksums_in_are_taken);
	tcase_add_test(tc, test_offload_one_ack_per_read_batch);
	tcase_add_test(tc, test_offload_gro_merges_in_order_segments_of_a_batch);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(offload_suite)
