/*
 * check_main.h - the main() of every Check suite binary.
 *
 * Each tests/unit/check_<module>.c defines its suite function and ends with
 * CHECK_MAIN(<module>_suite). CK_FORK is left to Check's default (fork), so
 * an abort in one test (an assertion, a sanitizer report) fails that test
 * and the rest still run; CK_FORK=no runs in-process for gdb.
 */
#ifndef USTACK_TESTS_CHECK_MAIN_H
#define USTACK_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define CHECK_MAIN(suite_fn)                                                   \
	int main(void)                                                         \
	{                                                                      \
		SRunner *sr = srunner_create(suite_fn());                      \
		int failed;                                                    \
		srunner_run_all(sr, CK_NORMAL);                                \
		failed = srunner_ntests_failed(sr);                            \
		srunner_free(sr);                                              \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;                   \
	}

#endif
