/*
 * inetd.c - ustack-inetd: the classic small services on one event loop.
 *
 *   UDP echo (7), discard (9)                 RFC 862, RFC 863
 *   TCP echo (7), discard (9), daytime (13),  RFC 862, 863, 867, 864
 *       chargen (19)
 *
 * Every other port is closed (ICMP port unreachable, TCP RST). One thread
 * runs everything through ustack_poll(): non-blocking sockets, partial
 * writes kept per connection, and each echo connection reads only while
 * its own buffer has room, so a slow reader holds back its own data and
 * nobody else's. Connections are bounded by --max-conns, which must fit
 * the stack's socket table (checked at start: --max-sockets). Should
 * accept() still fail for want of a descriptor or buffer (EMFILE, ENFILE,
 * ENOBUFS), the listeners leave the poll set for ACCEPT_PAUSE_MS at a
 * time (the listener would stay readable and the loop spin) and the first
 * time is logged; the connections wait in the listen backlog. The services
 * themselves are apps/lib/inetd_svc.c, which ustack-replay runs too; this
 * file is the options, the sockets and the loop.
 *
 * May touch: its stack through the public API, its listeners and
 * connections, the control socket, stdout and stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lib/app.h"
#include "lib/ctl.h"
#include "lib/inetd_svc.h"

/* How long the listeners rest after accept() ran out of resources. */
#define ACCEPT_PAUSE_MS 100

/* Stack sockets the services hold besides connections: UDP echo and
 * discard, the four TCP listeners. */
#define INETD_FIXED_SOCKETS (2 + INETD_SVC__N)

struct inetd {
	struct app a;
	struct inetd_ctx x;      /* the services and their connections */
	uint32_t max_conns;
	int udp[2];              /* echo, discard */
	int tcp[INETD_SVC__N];   /* listeners */
	struct ustack_pollfd *pfd;
	int *pmap;               /* poll entry -> what it is (see build_poll) */
	ustack_time_t accept_paused_until; /* listeners out of the poll set */
	uint64_t accept_pauses;  /* times accept() ran out of resources */
};

/* ---- options --------------------------------------------------------------- */

static const struct option inetd_longopts[] = {
	{"max-conns", required_argument, NULL, 'm'},
	{NULL, 0, NULL, 0},
};

static int inetd_opt(void *ctx, int c, const char *arg)
{
	struct inetd *d = ctx;
	uint64_t v;

	if (c != 'm' || app_parse_u64(arg, 1, 1000000, &v) < 0) {
		app_usage_error(d->a.desc, "--max-conns: expected 1..1000000");
		return -1;
	}
	d->max_conns = (uint32_t)v;
	return 0;
}

/* -m must fit the stack's socket table beside the services' sockets. */
static int inetd_check(void *ctx, const struct app_opts *o)
{
	struct inetd *d = ctx;

	if (d->max_conns <= o->max_sockets - INETD_FIXED_SOCKETS)
		return 0;
	app_usage_error(d->a.desc, "--max-conns %u: the stack has %u sockets "
			"(--max-sockets) and the services hold %d, so at most "
			"%u connections fit; lower -m or raise --max-sockets",
			d->max_conns, o->max_sockets, INETD_FIXED_SOCKETS,
			o->max_sockets - INETD_FIXED_SOCKETS);
	return -1;
}

static const struct app_desc inetd_desc = {
	.name = "ustack-inetd",
	.synopsis = "[options]",
	.summary = "The small services over ustack: UDP echo (7) and discard "
		   "(9);\nTCP echo (7), discard (9), daytime (13) and chargen "
		   "(19). Every other\nport is closed. Runs until SIGINT or "
		   "SIGTERM.",
	.help = "  -m, --max-conns N    TCP connections served at once; more "
		"are accepted\n                       and closed at once "
		"(default 1024)\n",
	.shortopts = "m:",
	.longopts = inetd_longopts,
	.opt = inetd_opt,
	.check = inetd_check,
	.min_args = 0,
	.max_args = 0,
};

/* ---- setting up ------------------------------------------------------------ */

static int open_services(struct inetd *d)
{
	const struct inetd_svc_info *svc = inetd_services;
	int i, r;

	for (i = 0; i < 2; i++) {
		r = d->udp[i] = app_server_socket(d->a.st, SOCK_DGRAM, svc[i].port, 0);
		if (r < 0) {
			fprintf(stderr, "ustack-inetd: udp port %u: %s\n",
				svc[i].port, ustack_strerror(r));
			return -1;
		}
	}
	for (i = 0; i < INETD_SVC__N; i++) {
		r = d->tcp[i] = app_server_socket(d->a.st, SOCK_STREAM,
						  svc[i].port, 511);
		if (r == -EPROTONOSUPPORT || r == -EOPNOTSUPP) {
			/* A stack built without TCP: serve UDP alone. */
			app_log(&d->a, USTACK_LOG_WARN, "no TCP in this stack (%s): "
				"UDP services only", ustack_strerror(r));
			for (int k = 0; k < i; k++)
				ustack_close(d->a.st, d->tcp[k]);
			for (int k = 0; k < INETD_SVC__N; k++)
				d->tcp[k] = -1;
			return 0;
		}
		if (r < 0) {
			fprintf(stderr, "ustack-inetd: tcp port %u: %s\n",
				svc[i].port, ustack_strerror(r));
			return -1;
		}
	}
	return 0;
}

/* RFC 867: no fixed syntax; "Weekday, Month Day, Year HH:MM:SS-Zone". */
static uint8_t *daytime_line(void *arg, int tag, uint32_t *len)
{
	char *s = malloc(80);
	time_t t = time(NULL);
	struct tm tm;

	(void)arg;
	(void)tag;
	if (!s)
		return NULL;
	localtime_r(&t, &tm);
	*len = (uint32_t)strftime(s, 80, "%A, %B %d, %Y %H:%M:%S-%Z\r\n", &tm);
	return (uint8_t *)s;
}

static int inetd_alloc(struct inetd *d)
{
	size_t npoll = 2 + INETD_SVC__N + d->max_conns + APP_POLL_EXTRA;

	d->pfd = calloc(npoll, sizeof(*d->pfd));
	d->pmap = calloc(npoll, sizeof(*d->pmap));
	if (inetd_init(&d->x, d->max_conns) < 0 || !d->pfd || !d->pmap)
		return -1;
	d->x.app = &d->a;
	d->x.daytime = daytime_line;
	return 0;
}

/* ---- the loop -------------------------------------------------------------- */

/* pmap values: >= 0 a connection index; below, the fixed sockets. */
#define PM_UDP(i) (-10 - (i))
#define PM_TCP(i) (-20 - (i))

static unsigned build_poll(struct inetd *d)
{
	unsigned n = 0;

	for (int i = 0; i < 2; i++) {
		d->pfd[n] = (struct ustack_pollfd){.sd = d->udp[i], .events = POLLIN};
		d->pmap[n++] = PM_UDP(i);
	}
	for (int i = 0; i < INETD_SVC__N && d->tcp[i] >= 0 &&
			app_now() >= d->accept_paused_until; i++) {
		d->pfd[n] = (struct ustack_pollfd){.sd = d->tcp[i], .events = POLLIN};
		d->pmap[n++] = PM_TCP(i);
	}
	return inetd_poll_conns(&d->x, d->pfd, d->pmap, n);
}

/* accept() failed for want of a resource: rest the listeners a while
 * rather than spin on a listener that stays readable. Logged once. */
static void accept_pause(struct inetd *d, int err)
{
	d->accept_paused_until = app_now() + USTACK_MS(ACCEPT_PAUSE_MS);
	if (d->accept_pauses++ == 0)
		fprintf(stderr, "ustack-inetd: accept: %s: new connections wait "
			"in the listen backlog; not accepting for %d ms at a "
			"time while this lasts (logged once)\n",
			ustack_strerror(err), ACCEPT_PAUSE_MS);
}

static void handle_poll(struct inetd *d, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		int m = d->pmap[k];

		if (!d->pfd[k].revents)
			continue;
		if (m >= 0) {
			inetd_conn_ready(&d->x, (uint32_t)m);
		} else if (m <= PM_TCP(0)) {
			int r = inetd_accept(&d->x, d->tcp[PM_TCP(0) - m],
					     (enum inetd_svc)(PM_TCP(0) - m), 0, 0);

			if (r < 0)
				accept_pause(d, r);
		} else {
			/* UDP echo (udp[0]) and discard */
			inetd_udp(&d->x, d->udp[PM_UDP(0) - m], m == PM_UDP(0));
		}
	}
}

static int run(struct inetd *d)
{
	for (;;) {
		unsigned n = build_poll(d);
		ustack_time_t now = app_now();
		int timeout = now < d->accept_paused_until ?
			(int)((d->accept_paused_until - now + 999) / 1000) : -1;
		int r = app_poll(&d->a, d->pfd, n, timeout);

		if (r == -EINTR && app_stopping())
			return APP_EXIT_OK;
		if (r == -EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "ustack-inetd: poll: %s\n",
				ustack_strerror(r));
			return APP_EXIT_FAIL;
		}
		handle_poll(d, n);
	}
}

int main(int argc, char **argv)
{
	static struct inetd d;
	struct app_desc desc = inetd_desc;
	int rc;

	d.max_conns = 1024;
	desc.ctx = &d;
	app_parse(&d.a, &desc, argc, argv);
	if (app_signals_init() < 0 || inetd_alloc(&d) < 0) {
		perror("ustack-inetd");
		return APP_EXIT_FAIL;
	}
	if ((rc = app_start(&d.a)) != 0)
		return rc;
	rc = ustack_loop_attach(d.a.st, NULL, NULL);
	if (rc < 0) {
		fprintf(stderr, "ustack-inetd: event loop: %s\n",
			ustack_strerror(rc));
		app_stop(&d.a);
		return APP_EXIT_FAIL;
	}
	app_signals_attach(d.a.st);
	d.x.st = d.a.st;
	if (open_services(&d) < 0) {
		app_stop(&d.a);
		return APP_EXIT_FAIL;
	}
	app_announce(&d.a, d.tcp[0] < 0 ? "udp echo 7, discard 9" :
		     "udp echo 7, discard 9; tcp echo 7, discard 9, daytime 13, "
		     "chargen 19");
	rc = run(&d);
	app_log(&d.a, USTACK_LOG_INFO, "stopping");
	app_stop(&d.a);
	inetd_free(&d.x);
	free(d.pfd);
	free(d.pmap);
	return rc;
}
