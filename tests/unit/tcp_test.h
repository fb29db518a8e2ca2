/*
 * tcp_test.h - the TCP suites' helpers moved to tests/lib/tcp_test.h (with
 * tests/lib/tcp_test.c); this name stays so the suites' includes do not
 * change.
 */
#include "lib/tcp_test.h"
