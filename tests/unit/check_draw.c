/*
 * check_draw.c - ustack_tcp_transition(), the read-only view of the TCP
 * transition table that ustack-draw draws the state diagram from: it
 * lists exactly the transitions tcp_set_state() accepts, each once, with
 * a cause, and ends with -ENOENT. (The pictures themselves are checked by
 * tests/draw/run.sh, make check-draw.)
 */
#include <check.h>
#include <errno.h>

#include <ustack/socket.h>

#include "lib/check_main.h"
#include "proto/tcp_int.h"

START_TEST(test_draw_transition_table_is_the_fsm)
{
	int seen[USTACK_TCP__NSTATES][USTACK_TCP__NSTATES] = {{0}};
	int from, to, n = 0;
	const char *why;

	while (ustack_tcp_transition((unsigned)n, &from, &to, &why) == 0) {
		ck_assert_int_ge(from, 0);
		ck_assert_int_lt(from, USTACK_TCP__NSTATES);
		ck_assert_int_ge(to, 0);
		ck_assert_int_lt(to, USTACK_TCP__NSTATES);
		ck_assert_ptr_nonnull(why);
		ck_assert(why[0] != 0);
		ck_assert_int_eq(seen[from][to], 0); /* each once */
		seen[from][to] = 1;
		n++;
		ck_assert_int_lt(n, 1000);
	}
	ck_assert_int_eq(ustack_tcp_transition((unsigned)n, &from, &to, &why),
			 -ENOENT);
	ck_assert_int_eq(ustack_tcp_transition(~0u, &from, &to, &why), -ENOENT);
	/* RFC 9293 figure 5 and ustack's additions: 25 arrows. */
	ck_assert_int_eq(n, 25);
	for (int a = 0; a < USTACK_TCP__NSTATES; a++)
		for (int b = 0; b < USTACK_TCP__NSTATES; b++)
			ck_assert_int_eq(tcp_transition_ok(a, b), seen[a][b]);
}
END_TEST

static Suite *draw_suite(void)
{
	Suite *s = suite_create("draw");
	TCase *tc = tcase_create("table");

	tcase_add_test(tc, test_draw_transition_table_is_the_fsm);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(draw_suite)
