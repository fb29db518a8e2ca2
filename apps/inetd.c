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
 * nobody else's. Connections are bounded by --max-conns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/app.h"
#include "lib/ctl.h"

#define ECHO_BUF (64u * 1024)
#define UDP_BUF 65536
#define ROUNDS 8             /* I/O rounds per connection per wakeup */

enum svc { SVC_ECHO, SVC_DISCARD, SVC_DAYTIME, SVC_CHARGEN, SVC__N };

static const struct {
	const char *name;
	uint16_t port;
} services[SVC__N] = {
	[SVC_ECHO] = {"echo", 7},
	[SVC_DISCARD] = {"discard", 9},
	[SVC_DAYTIME] = {"daytime", 13},
	[SVC_CHARGEN] = {"chargen", 19},
};

struct conn {
	int sd;                  /* -1: free */
	enum svc svc;
	char *buf;               /* echo: data to send back; daytime: line */
	uint32_t len, off;       /* valid bytes, bytes already sent */
	uint32_t pos;            /* chargen: offset into the pattern */
	unsigned rd_eof : 1;     /* the peer has sent FIN */
};

struct inetd {
	struct app a;
	uint32_t max_conns;
	int udp[2];              /* echo, discard */
	int tcp[SVC__N];         /* listeners */
	struct conn *conns;
	uint32_t nconns;
	uint64_t refused;        /* accepted over the bound, closed at once */
	char chargen[95 * 74];   /* RFC 864: 95 lines of 72 chars + CRLF */
	char *udpbuf;
	struct ustack_pollfd *pfd;
	int *pmap;               /* poll entry -> what it is (see build_poll) */
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
	.min_args = 0,
	.max_args = 0,
};

/* ---- setting up ------------------------------------------------------------ */

static void chargen_init(char *p)
{
	/* Line i: 72 printable characters starting at ' ' + i, then CRLF. */
	for (int i = 0; i < 95; i++, p += 74) {
		for (int j = 0; j < 72; j++)
			p[j] = (char)(' ' + (i + j) % 95);
		p[72] = '\r';
		p[73] = '\n';
	}
}

static int open_socket(struct inetd *d, int type, uint16_t port)
{
	struct ustack *st = d->a.st;
	struct sockaddr_in sin;
	int one = 1, sd, r;

	sd = ustack_socket(st, AF_INET, type | SOCK_NONBLOCK, 0);
	if (sd < 0)
		return sd;
	ustack_setsockopt(st, sd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	app_sockaddr(&sin, 0, port);
	r = ustack_bind(st, sd, (struct sockaddr *)&sin, sizeof(sin));
	if (r == 0 && type == SOCK_STREAM)
		r = ustack_listen(st, sd, 511);
	if (r < 0) {
		ustack_close(st, sd);
		return r;
	}
	return sd;
}

static int open_services(struct inetd *d)
{
	int i, r;

	for (i = 0; i < 2; i++) {
		if ((r = d->udp[i] = open_socket(d, SOCK_DGRAM, services[i].port)) < 0) {
			fprintf(stderr, "ustack-inetd: udp port %u: %s\n",
				services[i].port, ustack_strerror(r));
			return -1;
		}
	}
	for (i = 0; i < SVC__N; i++) {
		r = d->tcp[i] = open_socket(d, SOCK_STREAM, services[i].port);
		if (r == -EPROTONOSUPPORT || r == -EOPNOTSUPP) {
			/* A stack built without TCP: serve UDP alone. */
			app_log(&d->a, USTACK_LOG_WARN, "no TCP in this stack (%s): "
				"UDP services only", ustack_strerror(r));
			for (int k = 0; k < i; k++)
				ustack_close(d->a.st, d->tcp[k]);
			for (int k = 0; k < SVC__N; k++)
				d->tcp[k] = -1;
			return 0;
		}
		if (r < 0) {
			fprintf(stderr, "ustack-inetd: tcp port %u: %s\n",
				services[i].port, ustack_strerror(r));
			return -1;
		}
	}
	return 0;
}

static int inetd_alloc(struct inetd *d)
{
	size_t npoll = 2 + SVC__N + d->max_conns + APP_POLL_EXTRA;

	d->conns = calloc(d->max_conns, sizeof(*d->conns));
	d->udpbuf = malloc(UDP_BUF);
	d->pfd = calloc(npoll, sizeof(*d->pfd));
	d->pmap = calloc(npoll, sizeof(*d->pmap));
	if (!d->conns || !d->udpbuf || !d->pfd || !d->pmap)
		return -1;
	for (uint32_t i = 0; i < d->max_conns; i++)
		d->conns[i].sd = -1;
	chargen_init(d->chargen);
	return 0;
}

/* ---- one connection ---------------------------------------------------- */

static void conn_close(struct inetd *d, struct conn *c)
{
	ustack_close(d->a.st, c->sd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->sd = -1;
	d->nconns--;
}

/* Send what is buffered. 1: all sent, 0: would block, -1: error. */
static int flush_buf(struct inetd *d, struct conn *c)
{
	while (c->off < c->len) {
		ssize_t n = ustack_send(d->a.st, c->sd, c->buf + c->off,
					c->len - c->off, MSG_DONTWAIT);

		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		c->off += (uint32_t)n;
	}
	c->off = c->len = 0;
	return 1;
}

/* Echo: send back what came in; read only while there is room. */
static int do_echo(struct inetd *d, struct conn *c)
{
	for (int round = 0; round < ROUNDS; round++) {
		int progress = 0, r;
		ssize_t n;

		if ((r = flush_buf(d, c)) < 0)
			return -1;
		if (c->off > 0 && c->len == ECHO_BUF) {
			memmove(c->buf, c->buf + c->off, c->len - c->off);
			c->len -= c->off;
			c->off = 0;
		}
		if (!c->rd_eof && c->len < ECHO_BUF) {
			n = ustack_recv(d->a.st, c->sd, c->buf + c->len,
					ECHO_BUF - c->len, MSG_DONTWAIT);
			if (n == 0)
				c->rd_eof = 1;
			else if (n > 0)
				c->len += (uint32_t)n, progress = 1;
			else if (n != -EAGAIN)
				return -1;
		}
		if (c->rd_eof && c->len == c->off)
			return -1; /* all echoed: close (FIN) */
		if (!progress)
			break;
	}
	return 0;
}

/* Discard: read and forget until the peer closes. */
static int do_discard(struct inetd *d, struct conn *c)
{
	for (int round = 0; round < ROUNDS; round++) {
		ssize_t n = ustack_recv(d->a.st, c->sd, d->udpbuf, UDP_BUF,
					MSG_DONTWAIT);

		if (n == -EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
	}
	return 0;
}

/* Chargen: send the rotating pattern while the peer reads it; whatever
 * the peer sends is discarded, and its FIN ends the stream. */
static int do_chargen(struct inetd *d, struct conn *c)
{
	const uint32_t total = sizeof(d->chargen);

	for (int round = 0; round < ROUNDS; round++) {
		ssize_t n = ustack_send(d->a.st, c->sd, d->chargen + c->pos,
					total - c->pos, MSG_DONTWAIT);

		if (n == -EAGAIN)
			break;
		if (n < 0)
			return -1;
		c->pos = (c->pos + (uint32_t)n) % total;
	}
	return do_discard(d, c);
}

static int conn_io(struct inetd *d, struct conn *c)
{
	switch (c->svc) {
	case SVC_ECHO:
		return do_echo(d, c);
	case SVC_DISCARD:
		return do_discard(d, c);
	case SVC_CHARGEN:
		return do_chargen(d, c);
	case SVC_DAYTIME:
		return flush_buf(d, c) == 0 ? 0 : -1; /* sent: close */
	default:
		return -1;
	}
}

static short conn_events(const struct conn *c)
{
	switch (c->svc) {
	case SVC_ECHO:
		return (short)((c->len > c->off ? POLLOUT : 0) |
			       (!c->rd_eof && c->len < ECHO_BUF ? POLLIN : 0));
	case SVC_DISCARD:
		return POLLIN;
	case SVC_CHARGEN:
		return POLLIN | POLLOUT;
	default:
		return POLLOUT;
	}
}

/* RFC 867: no fixed syntax; "Weekday, Month Day, Year HH:MM:SS-Zone". */
static char *daytime_line(uint32_t *len)
{
	char *s = malloc(80);
	time_t t = time(NULL);
	struct tm tm;

	if (!s)
		return NULL;
	localtime_r(&t, &tm);
	*len = (uint32_t)strftime(s, 80, "%A, %B %d, %Y %H:%M:%S-%Z\r\n", &tm);
	return s;
}

static void conn_start(struct inetd *d, int sd, enum svc svc)
{
	struct conn *c = NULL;

	for (uint32_t i = 0; i < d->max_conns; i++) {
		if (d->conns[i].sd < 0) {
			c = &d->conns[i];
			break;
		}
	}
	if (!c) {
		ustack_close(d->a.st, sd);
		if (d->refused++ % 1000 == 0)
			app_log(&d->a, USTACK_LOG_WARN, "--max-conns %u reached: "
				"closing new connections (%llu so far)",
				d->max_conns, (unsigned long long)d->refused);
		return;
	}
	c->sd = sd;
	c->svc = svc;
	if (svc == SVC_ECHO)
		c->buf = malloc(ECHO_BUF);
	else if (svc == SVC_DAYTIME)
		c->buf = daytime_line(&c->len);
	d->nconns++;
	if ((svc == SVC_ECHO || svc == SVC_DAYTIME) && !c->buf) {
		conn_close(d, c);
		return;
	}
	if (conn_io(d, c) < 0)
		conn_close(d, c);
}

static void do_accept(struct inetd *d, enum svc svc)
{
	for (int k = 0; k < 64; k++) {
		struct sockaddr_in sin;
		socklen_t slen = sizeof(sin);
		char peer[22];
		int sd = ustack_accept(d->a.st, d->tcp[svc], (struct sockaddr *)&sin,
				       &slen);

		if (sd < 0)
			return;
		ustack_set_nonblock(d->a.st, sd, 1);
		app_log(&d->a, USTACK_LOG_DEBUG, "%s from %s", services[svc].name,
			app_fmt_addr(ntohl(sin.sin_addr.s_addr),
				     ntohs(sin.sin_port), peer));
		conn_start(d, sd, svc);
	}
}

/* UDP echo (sd == udp[0]) and discard: a bounded batch per wakeup. */
static void do_udp(struct inetd *d, int which)
{
	for (int k = 0; k < 64; k++) {
		struct sockaddr_in sin;
		socklen_t slen = sizeof(sin);
		ssize_t n = ustack_recvfrom(d->a.st, d->udp[which], d->udpbuf,
					    UDP_BUF, MSG_DONTWAIT,
					    (struct sockaddr *)&sin, &slen);

		if (n < 0)
			return;
		if (which == 0)
			ustack_sendto(d->a.st, d->udp[0], d->udpbuf, (size_t)n,
				      MSG_DONTWAIT, (struct sockaddr *)&sin, slen);
	}
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
	for (int i = 0; i < SVC__N && d->tcp[i] >= 0; i++) {
		d->pfd[n] = (struct ustack_pollfd){.sd = d->tcp[i], .events = POLLIN};
		d->pmap[n++] = PM_TCP(i);
	}
	for (uint32_t i = 0; i < d->max_conns; i++) {
		const struct conn *c = &d->conns[i];

		if (c->sd < 0)
			continue;
		d->pfd[n] = (struct ustack_pollfd){.sd = c->sd,
						   .events = conn_events(c)};
		d->pmap[n++] = (int)i;
	}
	return n;
}

static void handle_poll(struct inetd *d, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		int m = d->pmap[k];

		if (!d->pfd[k].revents)
			continue;
		if (m >= 0) {
			struct conn *c = &d->conns[m];

			if (c->sd >= 0 && conn_io(d, c) < 0)
				conn_close(d, c);
		} else if (m <= PM_TCP(0)) {
			do_accept(d, (enum svc)(PM_TCP(0) - m));
		} else {
			do_udp(d, PM_UDP(0) - m);
		}
	}
}

static int run(struct inetd *d)
{
	for (;;) {
		unsigned n = build_poll(d);
		int r = app_poll(&d->a, d->pfd, n, -1);

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
	for (uint32_t i = 0; i < d.max_conns; i++)
		free(d.conns[i].buf);
	free(d.conns);
	free(d.udpbuf);
	free(d.pfd);
	free(d.pmap);
	return rc;
}
