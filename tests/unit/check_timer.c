/*
 * check_timer.c - the timer heap's lazy moves (core/timer.c): a timer
 * armed again for a later deadline keeps its place in the heap until it
 * comes up. Whatever the heap does inside, what it shows must be exact:
 * the next deadline, which timers fire at a given time, and their order.
 * Checked against a plain array model under random operations with the
 * clock moving in between, and in the TCP pattern that motivated it (a
 * deadline pushed back on every ACK).
 */
#include <check.h>
#include <stdlib.h>

#include "core/assert.h"
#include "core/stack.h"
#include "core/timer.h"
#include "lib/check_main.h"
#include "lib/testbed.h"

enum { N = 300 };

struct tm {
	struct timer t;
	ustack_time_t want;   /* model: deadline, or NEVER when not armed */
	int fired;
};

static struct tm tms[N];
static ustack_time_t fire_now, last_at;
static int order_ok, fired_early;

static void tm_fire(struct ustack *st, struct timer *t, ustack_time_t now)
{
	struct tm *x = container_of(t, struct tm, t);

	(void)st;
	x->fired++;
	if (x->want > now || now != fire_now)
		fired_early = 1;
	if (x->want < last_at)
		order_ok = 0;
	last_at = x->want;
	x->want = USTACK_TIME_NEVER;
}

static ustack_time_t model_next(void)
{
	ustack_time_t m = USTACK_TIME_NEVER;

	for (int i = 0; i < N; i++)
		if (tms[i].want < m)
			m = tms[i].want;
	return m;
}

START_TEST(test_timer_lazy_moves_match_a_model)
{
	struct tb *tb = tb_new(NULL);
	struct ustack *st = tb->st;
	struct rand_state r;
	ustack_time_t now = st->now;

	rand_seed(&r, 7);
	for (int i = 0; i < N; i++) {
		timer_init(&tms[i].t, tm_fire);
		tms[i].want = USTACK_TIME_NEVER;
		tms[i].fired = 0;
	}
	order_ok = 1;
	fired_early = 0;
	for (int k = 0; k < 20000; k++) {
		struct tm *x = &tms[rand_below(&r, N)];
		uint32_t op = rand_below(&r, 10);

		if (op == 0) {
			timer_cancel(st, &x->t);
			x->want = USTACK_TIME_NEVER;
		} else if (op < 7 && timer_armed(&x->t)) {
			/* mostly later, as an ACK pushes the RTO back */
			x->want = x->want + rand_below(&r, 5000) - 500;
			if (x->want <= now)
				x->want = now + 1;
			timer_arm(st, &x->t, x->want);
		} else {
			x->want = now + 1 + rand_below(&r, 20000);
			timer_arm(st, &x->t, x->want);
		}
		ck_assert_uint_eq(timer_next_at(st), model_next());
		if (rand_below(&r, 20) == 0) {
			now += rand_below(&r, 3000);
			fire_now = now;
			last_at = 0;
			ustack_run_timers(st, now);
			for (int i = 0; i < N; i++)
				ck_assert(tms[i].want > now);  /* all due fired */
			ck_assert(order_ok);
			ck_assert(!fired_early);
			ck_assert_uint_eq(timer_next_at(st), model_next());
		}
	}
	for (int i = 0; i < N; i++)
		timer_cancel(st, &tms[i].t);
	ck_assert_uint_eq(st->timers.count, 0);
	ck_assert_uint_eq(timer_next_at(st), USTACK_TIME_NEVER);
	tb_free(tb);
}
END_TEST

START_TEST(test_timer_pushed_back_fires_once_at_its_last_deadline)
{
	struct tb *tb = tb_new(NULL);
	struct ustack *st = tb->st;
	ustack_time_t t0 = st->now;

	timer_init(&tms[0].t, tm_fire);
	timer_init(&tms[1].t, tm_fire);
	tms[0].fired = tms[1].fired = 0;
	order_ok = 1;
	fired_early = 0;
	/* an RTO armed at +200 ms and pushed back by 1 ms, 1000 times */
	for (int i = 0; i < 1000; i++) {
		tms[0].want = t0 + 200000 + (ustack_time_t)i * 1000;
		timer_arm(st, &tms[0].t, tms[0].want);
	}
	tms[1].want = t0 + 300000;
	timer_arm(st, &tms[1].t, tms[1].want);
	ck_assert_uint_eq(timer_next_at(st), t0 + 300000);
	fire_now = t0 + 300000;
	last_at = 0;
	ustack_run_timers(st, t0 + 300000);
	ck_assert_int_eq(tms[0].fired, 0);
	ck_assert_int_eq(tms[1].fired, 1);
	ck_assert_uint_eq(timer_next_at(st), t0 + 200000 + 999000);
	/* moved earlier again: exact at once */
	tms[0].want = t0 + 400000;
	timer_arm(st, &tms[0].t, tms[0].want);
	ck_assert_uint_eq(timer_next_at(st), t0 + 400000);
	fire_now = t0 + 400000;
	ustack_run_timers(st, t0 + 400000);
	ck_assert_int_eq(tms[0].fired, 1);
	ck_assert(!fired_early);
	ck_assert_uint_eq(st->timers.count, 0);
	tb_free(tb);
}
END_TEST

static Suite *timer_suite(void)
{
	Suite *s = suite_create("timer");
	TCase *tc = tcase_create("timer");

	/* 0.6 s alone; Check's default 4 s was hit twice at load average > 8. */
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_timer_lazy_moves_match_a_model);
	tcase_add_test(tc, test_timer_pushed_back_fires_once_at_its_last_deadline);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(timer_suite)
