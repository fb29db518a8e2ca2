/*
 * ctl.h - the control socket (--ctl PATH): a UNIX stream socket where a
 * client writes one command line ("conns", "arp", "stats", "iface", ...;
 * see report.h) and reads the text answer until the server closes.
 *
 * Never blocks the stack: the listener and up to CTL_MAX_CLIENTS clients
 * are non-blocking OS descriptors. Event-loop apps put them in their
 * ustack_poll() set (app_ctl_pollfds/app_ctl_handle); threaded apps serve
 * them from a thread of their own (app_ctl_thread_start), which takes the
 * stack with ustack_lock() only while building an answer.
 */
#ifndef USTACK_APPS_CTL_H
#define USTACK_APPS_CTL_H

#include <stddef.h>

#include <ustack/socket.h>

struct app;
struct app_ctl;

#define CTL_MAX_CLIENTS 8
#define CTL_CLIENT_TIMEOUT_MS 5000

/* Listen on path (a stale socket file is replaced; a live one is EADDRINUSE).
 * Returns 0 or -errno with a sentence in err. */
int app_ctl_open(struct app_ctl **out, struct app *a, const char *path,
		 char *err, size_t errlen);
/* Stop the thread if any, close every descriptor, remove the socket file. */
void app_ctl_close(struct app_ctl *c);

/* Event loop: append the entries to wait on (sd = -1, OS fds); returns how
 * many were added (at most 1 + CTL_MAX_CLIENTS). */
unsigned app_ctl_pollfds(struct app_ctl *c, struct ustack_pollfd *fds,
			 unsigned max);
/* After ustack_poll(): the same entries, with revents. */
void app_ctl_handle(struct app_ctl *c, const struct ustack_pollfd *fds,
		    unsigned n);
/* Milliseconds until a stuck client must be dropped, or -1. */
int app_ctl_timeout_ms(const struct app_ctl *c);

/* Threaded apps: serve from a thread until app_ctl_close(). */
int app_ctl_thread_start(struct app_ctl *c);

#endif
