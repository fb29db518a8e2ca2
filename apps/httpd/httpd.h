/*
 * httpd.h - what the parts of ustack-httpd share: the server (options,
 * counters, connection slots), the ring of recent TCP state transitions
 * fed by the stack's log hook, and the JSON API behind the live page.
 *
 * apps/httpd.c      options, the event loop, connections, HTTP parsing
 * apps/httpd/api.c  /api/... (JSON) and the transition ring
 * apps/httpd/live.c the /live page (HTML, CSS and JavaScript in one string)
 *
 * Everything runs on one thread (the event-loop runtime), the log hook
 * included: it is called from inside the stack, on that same thread.
 */
#ifndef USTACK_APPS_HTTPD_H
#define USTACK_APPS_HTTPD_H

#include <stdint.h>

#include "../lib/app.h"
#include "../lib/report.h"

/* One TCP state transition as the stack traced it. */
struct httpd_trace {
	uint64_t seq;               /* 1, 2, 3, ... over the server's life */
	ustack_time_t at;           /* stack time (us) */
	char local[24], remote[24]; /* "10.0.0.2:80" */
	uint8_t from, to;           /* enum ustack_tcp_state */
	char cause[16];             /* "SYN", "close", "2MSL", ... */
};

#define HTTPD_TRACE_RING 512

struct httpd_counters {
	uint64_t accepted;          /* connections accepted */
	uint64_t requests;          /* requests parsed */
	uint64_t status[6];         /* responses by class: [2] = 2xx ... */
	uint64_t header_timeouts;   /* no whole header within --header-timeout */
	uint64_t idle_timeouts;     /* keep-alive connection idle too long */
	uint64_t send_timeouts;     /* peer did not read for --idle-timeout */
	uint64_t evicted;           /* slow connections closed to admit new ones */
	uint64_t too_large;         /* header over 8 KiB */
	uint64_t accept_errors;     /* accept failed (EMFILE, ENOBUFS) */
};

struct httpd_conn;

struct httpd {
	struct app a;
	uint16_t port;
	uint32_t max_conns;          /* -m */
	ustack_time_t header_us;     /* --header-timeout */
	ustack_time_t idle_us;       /* --idle-timeout */
	int lsd;                     /* the listener */
	struct httpd_conn *conns;    /* max_conns slots */
	uint32_t nconns;             /* slots in use */
	uint32_t *free_slots;        /* stack of free slot numbers */
	uint32_t nfree;
	uint32_t hi;                 /* slots [0, hi) hold all in use: the
					per-wakeup loops stop there */
	struct ustack_pollfd *pfd;   /* poll set, rebuilt each turn */
	uint32_t *pmap;              /* poll entry -> slot */
	ustack_time_t accept_pause_until; /* after EMFILE: do not accept */
	struct httpd_counters n;
	struct httpd_trace ring[HTTPD_TRACE_RING];
	uint64_t ring_next;          /* seq of the next transition */
};

/*
 * The stack's log hook (struct ustack_config.log_fn, ctx = struct httpd):
 * keeps every "L R FROM -> TO (cause)" transition line in the ring, and
 * prints what --log/--trace ask for on stderr, as the default hook would.
 */
void httpd_log_hook(void *ctx, int level, ustack_time_t now, const char *msg);

/*
 * Answer GET /api/NAME[?query] (path without "/api/"). Appends a JSON
 * document to b and returns 0, or -1 when there is no such endpoint.
 */
int httpd_api(struct httpd *h, const char *name, const char *query,
	      struct sbuf *b);

/* The /live page. */
extern const char httpd_live_html[];

#endif
