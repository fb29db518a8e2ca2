/*
 * check_core.c - the core: checksum, packet buffers, timers, the keyed
 * generator, address parsing, context creation.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/stack.h"
#include "lib/check_main.h"
#include "lib/testbed.h"
#include "wire/checksum.h"

/* Reference checksum: RFC 1071 4.1, 16 bits at a time. */
static uint16_t ref_csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

START_TEST(test_checksum_rfc1071_example)
{
	/* RFC 1071 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (before ~). */
	static const uint8_t d[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	ck_assert_uint_eq(csum_buf(d, sizeof(d)), (uint16_t)~0xddf2);
}
END_TEST

START_TEST(test_checksum_odd_lengths_and_carries)
{
	uint8_t buf[3001];
	struct rand_state r;

	rand_seed(&r, 7);
	for (size_t n = 0; n <= sizeof(buf); n += (n < 80 ? 1 : 37)) {
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)rand_u32(&r);
		ck_assert_uint_eq(csum_buf(buf, n), ref_csum(buf, n));
	}
	memset(buf, 0xff, sizeof(buf)); /* all carries */
	for (size_t n = 0; n <= 200; n++)
		ck_assert_uint_eq(csum_buf(buf, n), ref_csum(buf, n));
}
END_TEST

START_TEST(test_checksum_pieces_at_offsets)
{
	uint8_t buf[257];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	for (size_t cut = 0; cut <= sizeof(buf); cut++) {
		uint32_t s = csum_partial(buf, cut, 0);
		s = csum_partial_at(buf + cut, sizeof(buf) - cut, cut, s);
		ck_assert_uint_eq(csum_fold(s), ref_csum(buf, sizeof(buf)));
	}
}
END_TEST

START_TEST(test_siphash_reference_vector)
{
	uint8_t key[16], msg[15];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	ck_assert_uint_eq(siphash24(key, msg, 15), 0xa129ca6149be45e5ULL);
}
END_TEST

START_TEST(test_rand_seeded_is_reproducible)
{
	struct rand_state a, b, c;

	rand_seed(&a, 1);
	rand_seed(&b, 1);
	rand_seed(&c, 2);
	for (int i = 0; i < 100; i++) {
		uint64_t x = rand_u64(&a);
		ck_assert_uint_eq(x, rand_u64(&b));
		ck_assert_uint_ne(x, rand_u64(&c));
	}
	for (int i = 0; i < 1000; i++)
		ck_assert_uint_lt(rand_below(&a, 10), 10);
}
END_TEST

/* ---- timers: compare the heap against a sorted reference ------------- */

struct tt {
	struct timer t;
	int fired;
	ustack_time_t fired_at;
};

static ustack_time_t last_fire;
static int order_ok;

static void tt_fire(struct ustack *st, struct timer *t, ustack_time_t now)
{
	struct tt *x = container_of(t, struct tt, t);
	(void)st;
	x->fired++;
	x->fired_at = now;
	if (t->at < last_fire)
		order_ok = 0;
	last_fire = t->at;
}

START_TEST(test_timer_heap_random_ops)
{
	struct tb *tb = tb_new(NULL);
	struct ustack *st = tb->st;
	enum { N = 500 };
	static struct tt ts[N];
	struct rand_state r;
	ustack_time_t base = st->now;

	rand_seed(&r, 99);
	for (int i = 0; i < N; i++) {
		timer_init(&ts[i].t, tt_fire);
		ts[i].fired = 0;
	}
	/* arm, re-arm and cancel at random */
	for (int k = 0; k < 5000; k++) {
		struct tt *x = &ts[rand_below(&r, N)];
		if (rand_below(&r, 4) == 0)
			timer_cancel(st, &x->t);
		else
			timer_arm(st, &x->t, base + 1 + rand_below(&r, 100000));
	}
	ustack_time_t min = USTACK_TIME_NEVER;
	int armed = 0;
	for (int i = 0; i < N; i++)
		if (timer_armed(&ts[i].t)) {
			armed++;
			if (ts[i].t.at < min)
				min = ts[i].t.at;
		}
	ck_assert_uint_eq(st->timers.count, armed);
	ck_assert_uint_eq(timer_next_at(st), min);
	last_fire = 0;
	order_ok = 1;
	ustack_run_timers(st, base + 200000);
	ck_assert(order_ok);
	int fired = 0;
	for (int i = 0; i < N; i++) {
		fired += ts[i].fired;
		ck_assert(!timer_armed(&ts[i].t));
	}
	ck_assert_int_eq(fired, armed);
	ck_assert_uint_eq(st->timers.count, 0);
	tb_free(tb);
}
END_TEST

static void rearm_now(struct ustack *st, struct timer *t, ustack_time_t now)
{
	struct tt *x = container_of(t, struct tt, t);
	x->fired++;
	timer_arm(st, t, now); /* a buggy owner: due again at once */
}

START_TEST(test_timer_rearm_now_does_not_loop)
{
	struct tb *tb = tb_new(NULL);
	struct tt x;

	timer_init(&x.t, rearm_now);
	x.fired = 0;
	timer_arm(tb->st, &x.t, tb->now);
	ustack_run_timers(tb->st, tb->now);
	ck_assert_int_eq(x.fired, 1);
	ck_assert_uint_eq(ustack_next_deadline(tb->st), tb->now);
	timer_cancel(tb->st, &x.t);
	tb_free(tb);
}
END_TEST

/* ---- packet buffers ------------------------------------------------- */

START_TEST(test_pkb_push_pull_put)
{
	struct tb *tb = tb_new(NULL);
	struct pkb *p = pkb_alloc(tb->st, 100);

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(pkb_headroom(p), PKB_HEADROOM);
	memset(pkb_put(p, 100), 0xab, 100);
	ck_assert_uint_eq(p->len, 100);
	memset(pkb_push(p, 20), 0x45, 20);
	ck_assert_uint_eq(p->len, 120);
	ck_assert_uint_eq(p->data[0], 0x45);
	pkb_pull(p, 20);
	ck_assert_uint_eq(p->data[0], 0xab);
	pkb_trim(p, 10);
	ck_assert_uint_eq(p->len, 10);
	struct pkb *q = pkb_copy(tb->st, p);
	ck_assert_ptr_nonnull(q);
	ck_assert_mem_eq(q->data, p->data, 10);
	ck_assert_uint_eq(ustack_pkb_in_use(tb->st), 2);
	pkb_free(tb->st, p);
	pkb_free(tb->st, q);
	ck_assert_uint_eq(ustack_pkb_in_use(tb->st), 0);
	tb_free(tb);
}
END_TEST

START_TEST(test_pkb_classes_and_64k)
{
	struct tb *tb = tb_new(NULL);
	struct pkb *a = pkb_alloc(tb->st, 1514);
	struct pkb *b = pkb_alloc(tb->st, 9000);
	struct pkb *c = pkb_alloc(tb->st, 65535 + 14);
	struct pkb *d = pkb_alloc(tb->st, PKB_MAX_LEN + 1);

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(d);
	ck_assert_uint_ge(pkb_tailroom(c), 65535 + 14);
	ck_assert_uint_lt(a->size, b->size);
	ck_assert_uint_lt(b->size, c->size);
	ck_assert_uint_eq(ustack_stat(tb->st, USTACK_STAT_PKB_EXHAUSTED), 1);
	pkb_free(tb->st, a);
	pkb_free(tb->st, b);
	pkb_free(tb->st, c);
	tb_free(tb);
}
END_TEST

START_TEST(test_pkb_pool_is_bounded_and_reused)
{
	struct ustack_config cfg;
	struct tb *tb;
	struct pkb *held[2000];
	int n = 0;

	tb_config(&cfg);
	cfg.pkb_max_bytes = 1u << 20;
	tb = tb_new(&cfg);
	while (n < 2000 && (held[n] = pkb_alloc(tb->st, 1000)) != NULL)
		n++;
	ck_assert_int_gt(n, 100);
	ck_assert_int_lt(n, 2000); /* the bound held */
	ck_assert_uint_ge(ustack_stat(tb->st, USTACK_STAT_PKB_EXHAUSTED), 1);
	uint64_t bytes = tb->st->pool.bytes;
	for (int i = 0; i < n; i++)
		pkb_free(tb->st, held[i]);
	for (int i = 0; i < n; i++)
		held[i] = pkb_alloc(tb->st, 1000);
	ck_assert_uint_eq(tb->st->pool.bytes, bytes); /* no new malloc */
	/* a big buffer evicts cached small ones when the budget is tight */
	for (int i = 0; i < n; i++)
		pkb_free(tb->st, held[i]);
	struct pkb *big = pkb_alloc(tb->st, 60000);
	ck_assert_ptr_nonnull(big);
	pkb_free(tb->st, big);
	tb_free(tb);
}
END_TEST

/* ---- address helpers and config --------------------------------------- */

START_TEST(test_parse_addresses)
{
	uint32_t a;
	uint8_t p, mac[6];
	char buf[16];

	ck_assert_int_eq(ustack_parse_ip4("10.0.0.2", &a), 0);
	ck_assert_uint_eq(a, 0x0a000002);
	ck_assert_str_eq(ustack_fmt_ip4(a, buf), "10.0.0.2");
	ck_assert_int_eq(ustack_parse_ip4("256.0.0.1", &a), -EINVAL);
	ck_assert_int_eq(ustack_parse_ip4("1.2.3", &a), -EINVAL);
	ck_assert_int_eq(ustack_parse_ip4("1.2.3.4x", &a), -EINVAL);
	ck_assert_int_eq(ustack_parse_ip4("", &a), -EINVAL);
	ck_assert_int_eq(ustack_parse_ip4("010.0.0.1", &a), -EINVAL); /* no octal */
	ck_assert_int_eq(ustack_parse_cidr("192.168.1.9/16", &a, &p), 0);
	ck_assert_uint_eq(a, 0xc0a80109);
	ck_assert_uint_eq(p, 16);
	ck_assert_int_eq(ustack_parse_cidr("1.2.3.4/33", &a, &p), -EINVAL);
	ck_assert_int_eq(ustack_parse_cidr("1.2.3.4/", &a, &p), -EINVAL);
	ck_assert_int_eq(ustack_parse_cidr("1.2.3.4", &a, &p), 0);
	ck_assert_uint_eq(p, 32);
	ck_assert_int_eq(ustack_parse_mac("02:00:aa:bb:cc:0f", mac), 0);
	ck_assert_uint_eq(mac[2], 0xaa);
	ck_assert_uint_eq(mac[5], 0x0f);
	ck_assert_int_eq(ustack_parse_mac("02:00:aa:bb:cc", mac), -EINVAL);
	ck_assert_int_eq(ustack_parse_mac("02:00:aa:bb:cc:0f:11", mac), -EINVAL);
}
END_TEST

START_TEST(test_create_rejects_bad_config)
{
	struct ustack_config cfg;
	struct ustack *st;
	struct tb *tb = tb_new(NULL);

	tb_config(&cfg);
	cfg.addr = 0;
	ck_assert_int_eq(ustack_create(&st, &cfg, tb->dev, 0), -EINVAL);
	tb_config(&cfg);
	cfg.mtu = 67;
	ck_assert_int_eq(ustack_create(&st, &cfg, tb->dev, 0), -EINVAL);
	tb_config(&cfg);
	cfg.mac[0] = 0x01; /* multicast */
	ck_assert_int_eq(ustack_create(&st, &cfg, tb->dev, 0), -EINVAL);
	tb_config(&cfg);
	cfg.gateway = 0x0b000001; /* not on the link */
	ck_assert_int_eq(ustack_create(&st, &cfg, tb->dev, 0), -EINVAL);
	tb_free(tb);
}
END_TEST

/* ustack_config_set: every named field exists, sizes are checked, names
 * that are not numeric fields are refused. */
START_TEST(test_config_set_by_name)
{
	struct ustack_config c, d;
	unsigned n = 0;

	ustack_config_default(&c);
	d = c;
	ck_assert_int_eq(ustack_config_set(&c, "tcp_max_orphans", 77), 0);
	ck_assert_uint_eq(c.tcp_max_orphans, 77);
	ck_assert_int_eq(ustack_config_set(&c, "tcp_msl_us", 5000000000ull), 0);
	ck_assert_uint_eq(c.tcp_msl_us, 5000000000ull);
	ck_assert_int_eq(ustack_config_set(&c, "mtu", 9000), 0);
	ck_assert_uint_eq(c.mtu, 9000);
	ck_assert_int_eq(ustack_config_set(&c, "mtu", 65536), -ERANGE);
	ck_assert_uint_eq(c.mtu, 9000);
	ck_assert_int_eq(ustack_config_set(&c, "prefix_len", 256), -ERANGE);
	ck_assert_int_eq(ustack_config_set(&c, "tcp_sack", 0), 0);
	ck_assert_int_eq(c.tcp_sack, 0);
	ck_assert_int_eq(ustack_config_set(&c, "tcp_sndbuf", 1ull << 32), -ERANGE);
	ck_assert_int_eq(ustack_config_set(&c, "addr", 1), -ENOENT);
	ck_assert_int_eq(ustack_config_set(&c, "no_such_field", 1), -ENOENT);
	/* every listed name is a field that can be set */
	for (const char *name; (name = ustack_config_field(n)) != NULL; n++)
		ck_assert_msg(ustack_config_set(&d, name, 1) == 0, "%s", name);
	ck_assert_uint_ge(n, 40);
}
END_TEST

START_TEST(test_stat_names_unique)
{
	for (int i = 0; i < USTACK_STAT__COUNT; i++)
		for (int j = i + 1; j < USTACK_STAT__COUNT; j++)
			ck_assert_str_ne(ustack_stat_name(i), ustack_stat_name(j));
	ck_assert_str_eq(ustack_stat_name(USTACK_STAT_IP4_DROP_BAD_CHECKSUM),
			 "ip4.drop_bad_checksum");
}
END_TEST

static Suite *core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_checksum_rfc1071_example);
	tcase_add_test(tc, test_checksum_odd_lengths_and_carries);
	tcase_add_test(tc, test_checksum_pieces_at_offsets);
	tcase_add_test(tc, test_siphash_reference_vector);
	tcase_add_test(tc, test_rand_seeded_is_reproducible);
	tcase_add_test(tc, test_timer_heap_random_ops);
	tcase_add_test(tc, test_timer_rearm_now_does_not_loop);
	tcase_add_test(tc, test_pkb_push_pull_put);
	tcase_add_test(tc, test_pkb_classes_and_64k);
	tcase_add_test(tc, test_pkb_pool_is_bounded_and_reused);
	tcase_add_test(tc, test_parse_addresses);
	tcase_add_test(tc, test_create_rejects_bad_config);
	tcase_add_test(tc, test_config_set_by_name);
	tcase_add_test(tc, test_stat_names_unique);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(core_suite)
