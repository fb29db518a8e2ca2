/*
 * report.h - the stack's state as text, netstat-like: the connection table,
 * TCP details, the ARP cache, the counters and the interface. One
 * implementation serves the control socket (ustack-stat) and the pages of
 * ustack-httpd. Also a growable string buffer for building it.
 */
#ifndef USTACK_APPS_REPORT_H
#define USTACK_APPS_REPORT_H

#include <stddef.h>

struct app;

struct sbuf {
	char *buf;            /* NUL-terminated while len > 0 */
	size_t len, cap;
	int failed;           /* an allocation failed: the text is cut */
};

void sbuf_init(struct sbuf *b);
void sbuf_free(struct sbuf *b);
void sbuf_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Append the report for one command line to b:
 *   conns           Proto Local Address Foreign Address State Send-Q Recv-Q
 *   tcp             TCP connections with srtt, rto, cwnd, windows, mss
 *   arp             the ARP cache
 *   stats [PREFIX]  "name value" for every counter (or those starting
 *                   with PREFIX, e.g. "ip4.")
 *   iface           address, MAC, MTU, device chain, frame counts
 *   filter          packet filter rules with their hits and bytes
 *   all             iface, conns, arp, stats
 *   help            this list
 * Takes the stack (ustack_lock) while reading it. Returns 0, or -1 for an
 * unknown command (b then holds an "error: ..." line).
 */
int app_report(struct app *a, const char *line, struct sbuf *b);

#endif
