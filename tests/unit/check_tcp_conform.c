/*
 * check_tcp_conform.c - the black-box TCP conformance suite: every script
 * in tests/tcp/ (*.pkt, sorted) is one test case named after the file,
 * run by the tcpscript harness (tests/lib/tcpscript.h). A script plays the
 * peer with raw segments and the application with socket calls, and cites
 * the RFC section it checks in its header.
 *
 *   TCPSCRIPT_DIR=dir      where the scripts are (default tests/tcp, run
 *                          from the top of the tree as make does)
 *   TCPSCRIPT_ONLY=name    run the scripts whose name contains this
 *   TCPSCRIPT_VERBOSE=1    print every line and segment
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check_main.h"
#include "lib/tcpscript.h"

#define MAX_SCRIPTS 512

static char *scripts[MAX_SCRIPTS];
static char names[MAX_SCRIPTS][128];   /* test case names (Check keeps
					  the pointers) */
static int nscripts;
static const char *script_dir;

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void find_scripts(void)
{
	const char *only = getenv("TCPSCRIPT_ONLY");
	struct dirent *e;
	DIR *d;

	script_dir = getenv("TCPSCRIPT_DIR") ? getenv("TCPSCRIPT_DIR") : "tests/tcp";
	if ((d = opendir(script_dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL && nscripts < MAX_SCRIPTS) {
		size_t n = strlen(e->d_name);

		if (n < 5 || strcmp(e->d_name + n - 4, ".pkt") != 0)
			continue;
		if (only && !strstr(e->d_name, only))
			continue;
		scripts[nscripts++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(scripts, (size_t)nscripts, sizeof(scripts[0]), by_name);
}

START_TEST(test_tcp_conform_script)
{
	static char err[16384];
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", script_dir, scripts[_i]);
	ck_assert_msg(tcpscript_run_file(path, err, sizeof(err)) == 0, "\n%s", err);
}
END_TEST

/* The suite must not be empty by accident (wrong directory). */
START_TEST(test_tcp_conform_found_scripts)
{
	ck_assert_msg(nscripts > 0 || getenv("TCPSCRIPT_ONLY"),
		      "no *.pkt scripts in %s", script_dir);
}
END_TEST

static Suite *tcp_conform_suite(void)
{
	Suite *s = suite_create("tcp_conform");
	TCase *tc = tcase_create("scripts");

	find_scripts();
	tcase_add_test(tc, test_tcp_conform_found_scripts);
	suite_add_tcase(s, tc);
	for (int i = 0; i < nscripts; i++) {
		TCase *t;

		snprintf(names[i], sizeof(names[i]), "%.*s",
			 (int)strlen(scripts[i]) - 4, scripts[i]);
		t = tcase_create(names[i]);
		tcase_set_timeout(t, 30);
		tcase_add_loop_test(t, test_tcp_conform_script, i, i + 1);
		suite_add_tcase(s, t);
	}
	return s;
}

CHECK_MAIN(tcp_conform_suite)
