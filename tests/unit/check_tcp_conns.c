/*
 * check_tcp_conns.c - many connections in one stack (issue 10 item 4, the
 * part `make check` can afford): 20,000 passive connections from four
 * peer addresses, in virtual time. Each idle ESTABLISHED connection costs
 * at most 1 KiB of heap (measured with mallinfo2 around the opens, and
 * from the stack's own count, tcp_conn_mem + the socket); the 4-tuple
 * hash chains stay short (O(1) lookup); every connection then goes
 * through an active close to TIME_WAIT and all of them expire at 2*MSL,
 * not before. Then 100,000 TIME_WAITs held as compact records.
 */
#include <malloc.h>
#include <stdio.h>

#include "lib/check_main.h"
#include "sock/sock.h"
#include "tcp_test.h"

#define NCONN 20000u
#define NADDR 4u
#define IRS 5000u

static const uint32_t peers[NADDR] = {0x0a000001u, 0x0a000003u,
				      0x0a000004u, 0x0a000005u};

static uint32_t peer_of(uint32_t i)
{
	return peers[i % NADDR];
}

static uint16_t port_of(uint32_t i)
{
	return (uint16_t)(20000 + i / NADDR);
}

static size_t heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();

	/* in use from the heap, and the large blocks malloc mmaps */
	return mi.uordblks + mi.hblkhd;
}

static uint32_t count_state(struct ustack *st, int state)
{
	uint32_t n = 0;

	for (struct tcp_conn *c = st->tcp.all; c; c = c->anext)
		n += c->state == state;
	if (state == USTACK_TCP_TIME_WAIT)
		n += st->tcp.tw.n;           /* compact records (tcp_tw.c) */
	return n;
}

START_TEST(test_tcp_conns_20k_idle_memory_lookup_and_time_wait)
{
	static struct tt_seg s;
	static int sd[NCONN];
	static uint32_t iss[NCONN];
	struct ustack_config cfg;
	struct ustack *st;
	struct tt *t;
	size_t heap0, heap1, stack_bytes = 0, tw_heap;
	uint32_t longest = 0, used = 0;
	int l;

	tt_config_plain(&cfg);
	cfg.max_sockets = NCONN + 16;
	cfg.tcp_max_conns = 2 * NCONN;
	t = tt_new_cfg(&cfg);
	st = tt_st(t);
	for (unsigned a = 0; a < NADDR; a++)
		tb_learn_peer(t->tb, peers[a], TB_PEER_MAC);
	l = tt_listen(t, TT_PORT, 64);
	tt_advance(t, 1000);
	heap0 = heap_used();

	for (uint32_t i = 0; i < NCONN; i++) {
		tt_in_full(t, peer_of(i), port_of(i), TT_PORT, TCP_SYN, IRS, 0,
			   65535, NULL, 0, 0);
		tt_expect(t, "S.", &s);
		ck_assert_uint_eq(s.ip_dst, peer_of(i));
		iss[i] = s.seq;
		tt_in_full(t, peer_of(i), port_of(i), TT_PORT, TCP_ACK, IRS + 1,
			   iss[i] + 1, 65535, NULL, 0, 0);
		sd[i] = tt_accept(t, l);
		ck_assert_int_ge(sd[i], 0);
	}
	tt_expect_none(t);
	heap1 = heap_used();
	ck_assert_uint_eq(count_state(st, USTACK_TCP_ESTABLISHED), NCONN);

	/* The stack's own count: control block + buffers held + socket. */
	for (uint32_t i = 0; i < NCONN; i++) {
		struct tcp_conn *c = tt_conn(t, sd[i]);

		ck_assert_ptr_null(c->ooo);
		ck_assert_ptr_null(c->score);
		stack_bytes += tcp_conn_mem(c) + sizeof(struct sock);
	}
	printf("check_tcp_conns: %u idle connections: %zu B each by the "
	       "stack's count, %zu B each by the heap (0: not counted, a "
	       "sanitizer's allocator)\n", NCONN, stack_bytes / NCONN,
	       heap1 > heap0 ? (heap1 - heap0) / NCONN : 0);
	ck_assert_uint_le(stack_bytes / NCONN, 1024);
	/* mallinfo2 counts nothing under ASan (its own allocator). */
	if (heap1 > heap0)
		ck_assert_uint_le((heap1 - heap0) / NCONN, 1024);

	/* O(1) lookup: the hash was sized from tcp_max_conns, so chains
	 * stay a few entries long at this load. */
	for (uint32_t b = 0; b <= st->tcp.hash_mask; b++) {
		uint32_t n = 0;

		for (struct tcp_conn *c = st->tcp.hash[b]; c; c = c->h.next)
			n++;
		longest = n > longest ? n : longest;
		used += n > 0;
	}
	ck_assert_uint_ge(st->tcp.hash_mask + 1, NCONN);
	ck_assert_uint_le(longest, 12);
	ck_assert_uint_ge(used, NCONN * 3 / 4);    /* spread, not clumped */
	ck_assert_ptr_nonnull(tcp_lookup(st, TB_ADDR, TT_PORT, peer_of(NCONN - 1),
					 port_of(NCONN - 1)));

	/* Active close of every one: FIN, the peer's ACK+FIN, TIME_WAIT. */
	for (uint32_t i = 0; i < NCONN; i++) {
		ck_assert_int_eq(ustack_close(st, sd[i]), 0);
		tt_expect(t, "F.", &s);
		ck_assert_uint_eq(s.seq, iss[i] + 1);
		tt_in_full(t, peer_of(i), port_of(i), TT_PORT, TCP_ACK | TCP_FIN,
			   IRS + 1, iss[i] + 2, 65535, NULL, 0, 0);
		tt_expect(t, ".", &s);
		ck_assert_uint_eq(s.ack, IRS + 2);
	}
	ck_assert_uint_eq(count_state(st, USTACK_TCP_TIME_WAIT), NCONN);
	tw_heap = heap_used();
	printf("check_tcp_conns: %u TIME_WAIT entries: %zu B each by the "
	       "heap (compact records)\n", NCONN, tw_heap > heap0 ? (tw_heap - heap0) / NCONN : 0);

	/* RFC 9293 3.10.7.4: 2*MSL after entering TIME_WAIT, not before. */
	tt_advance(t, 2 * cfg.tcp_msl_us - 1000);
	ck_assert_uint_eq(count_state(st, USTACK_TCP_TIME_WAIT), NCONN);
	tt_advance(t, 2000);
	ck_assert_uint_eq(count_state(st, USTACK_TCP_TIME_WAIT), 0);
	ck_assert_uint_eq(st->tcp.ntcb, 1);          /* the listener */
	ck_assert_uint_eq(st->tcp.nconns, 0);
	tt_expect_none(t);
	ck_assert_int_eq(ustack_close(st, l), 0);
	tt_free(t);
}
END_TEST

/*
 * 100,000 TIME_WAITs in one stack, as compact records (tcp_tw.c): the
 * daytime pattern (accept, the server closes first, the peer's FIN), so
 * the server holds every TIME_WAIT. Memory per record by the heap; the
 * records answer as TIME_WAIT (a retransmitted FIN is re-ACKed and
 * restarts the wait, RFC 9293 3.10.7.4); a SYN above RCV.NXT reopens a
 * tuple (RFC 6191 / RFC 1122 4.2.2.13); all expire at 2*MSL exactly
 * (one timer for the list: no granularity beyond the virtual clock).
 */
#define NTW 100000u

START_TEST(test_tcp_conns_100k_time_wait_records)
{
	static struct tt_seg s;
	struct ustack_conn_info row;
	struct ustack_config cfg;
	struct ustack *st;
	struct tt *t;
	size_t heap0, heap1;
	uint32_t iss = 0, reuse = NTW / 2, refin = NTW / 3;
	ustack_time_t t0;
	int l;

	tt_config_plain(&cfg);
	cfg.max_sockets = 64;
	cfg.tcp_max_conns = NTW + 1024;
	t = tt_new_cfg(&cfg);
	st = tt_st(t);
	for (unsigned a = 0; a < NADDR; a++)
		tb_learn_peer(t->tb, peers[a], TB_PEER_MAC);
	l = tt_listen(t, TT_PORT, 64);
	tt_advance(t, 1000);
	heap0 = heap_used();
	t0 = st->now;
	for (uint32_t i = 0; i < NTW; i++) {
		int sd;

		tt_in_full(t, peer_of(i), port_of(i), TT_PORT, TCP_SYN, IRS, 0,
			   65535, NULL, 0, 0);
		tt_expect(t, "S.", &s);
		iss = s.seq;
		tt_in_full(t, peer_of(i), port_of(i), TT_PORT, TCP_ACK, IRS + 1,
			   iss + 1, 65535, NULL, 0, 0);
		sd = tt_accept(t, l);
		ck_assert_int_ge(sd, 0);
		ck_assert_int_eq(ustack_close(st, sd), 0);
		tt_expect(t, "F.", &s);
		tt_in_full(t, peer_of(i), port_of(i), TT_PORT, TCP_ACK | TCP_FIN,
			   IRS + 1, iss + 2, 65535, NULL, 0, 0);
		tt_expect(t, ".", &s);
		ck_assert_uint_eq(s.ack, IRS + 2);
	}
	tt_expect_none(t);
	heap1 = heap_used();
	ck_assert_uint_eq(st->tcp.tw.n, NTW);
	ck_assert_uint_eq(count_state(st, USTACK_TCP_TIME_WAIT), NTW);
	ck_assert_uint_eq(st->tcp.ntcb, NTW + 1);      /* + the listener */
	ck_assert_uint_eq(st->tcp.nconns, NTW);
	/* netstat: every record is a row (orphaned: sd -1). */
	ck_assert_int_eq(ustack_conn_list(st, &row, 1), (int)NTW + 1);
	printf("check_tcp_conns: %u TIME_WAIT records: %zu B each (struct), "
	       "%zu B each by the heap with the tables (0: not counted, a "
	       "sanitizer's allocator)\n", NTW, tcp_tw_mem(),
	       heap1 > heap0 ? (heap1 - heap0) / NTW : 0);
	ck_assert_uint_le(tcp_tw_mem(), 64);
	/* The record (in slabs: no malloc header), the table's share
	 * (buckets, per-port counts). */
	if (heap1 > heap0)
		ck_assert_uint_le((heap1 - heap0) / NTW, 80);

	/* RFC 9293 3.10.7.4: a retransmitted FIN is ACKed, the wait
	 * restarts; the record still answers as TIME_WAIT. */
	tt_advance(t, USTACK_SEC(10));
	tt_in_full(t, peer_of(refin), port_of(refin), TT_PORT, TCP_ACK | TCP_FIN,
		   IRS + 1, 0, 65535, NULL, 0, 0);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, IRS + 2);
	/* RFC 1337: a RST changes nothing. */
	tt_in_full(t, peer_of(refin), port_of(refin), TT_PORT, TCP_RST,
		   IRS + 2, 0, 0, NULL, 0, 0);
	tt_expect_none(t);
	/* RFC 6191: a SYN not above RCV.NXT gets a challenge ACK; one above
	 * it opens a new connection on the tuple, ISS above the old space. */
	tt_in_full(t, peer_of(reuse), port_of(reuse), TT_PORT, TCP_SYN, IRS + 1,
		   0, 65535, NULL, 0, 0);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, IRS + 2);
	tt_in_full(t, peer_of(reuse), port_of(reuse), TT_PORT, TCP_SYN,
		   IRS + 100000, 0, 65535, NULL, 0, 0);
	tt_expect(t, "S.", &s);
	ck_assert_uint_eq(s.ack, IRS + 100001);
	ck_assert_uint_eq(tt_stat(t, USTACK_STAT_TCP_TIME_WAIT_REUSED), 1);
	ck_assert_uint_eq(st->tcp.tw.n, NTW - 1);
	ck_assert_ptr_nonnull(tcp_lookup(st, TB_ADDR, TT_PORT, peer_of(reuse),
					 port_of(reuse)));
	tt_in_full(t, peer_of(reuse), port_of(reuse), TT_PORT, TCP_RST,
		   IRS + 100001, 0, 0, NULL, 0, 0);   /* the new one goes */
	ck_assert_ptr_null(tcp_lookup(st, TB_ADDR, TT_PORT, peer_of(reuse),
				      port_of(reuse)));

	/* 2*MSL after entering, not before; the restarted one 10 s later. */
	tt_advance(t, t0 + 2 * cfg.tcp_msl_us - 1 - st->now);
	ck_assert_uint_eq(st->tcp.tw.n, NTW - 1);
	tt_advance(t, 1);
	ck_assert_uint_eq(st->tcp.tw.n, 1);
	tt_advance(t, USTACK_SEC(10) - 1);
	ck_assert_uint_eq(st->tcp.tw.n, 1);
	tt_advance(t, 1);
	ck_assert_uint_eq(st->tcp.tw.n, 0);
	ck_assert_uint_eq(count_state(st, USTACK_TCP_TIME_WAIT), 0);
	ck_assert_uint_eq(st->tcp.ntcb, 1);
	ck_assert_uint_eq(st->tcp.nconns, 0);
	tt_expect_none(t);
	ck_assert_int_eq(ustack_close(st, l), 0);
	tt_free(t);
}
END_TEST

static Suite *tcp_conns_suite(void)
{
	Suite *s = suite_create("tcp_conns");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_tcp_conns_20k_idle_memory_lookup_and_time_wait);
	tcase_add_test(tc, test_tcp_conns_100k_time_wait_records);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tcp_conns_suite)
