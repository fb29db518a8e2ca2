/*
 * services.c - the programs a case runs, driven by hand through the public
 * socket API in the same order of calls as ustack-inetd (apps/inetd.c) and
 * ustack-nc (apps/nc.c), so a replayed stack sees what the live one saw.
 * The inetd services are ustack-inetd's own code (apps/lib/inetd_svc.c)
 * and ustack-nc's copy is ustack-nc's (apps/lib/nc_copy.c); here are
 * inetd's loop turn, tcp-hold, and ustack-nc's connect/listen/linger steps
 * around its copy. Part of ustack-replay (replay.h).
 *
 * May touch: the stack only through <ustack/socket.h>; the case's
 * services (struct svc).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/app.h"
#include "replay.h"

static const char default_daytime[] = "Thursday, January 01, 1970 00:00:00-UTC\r\n";

/* A daytime service's line from case.conf (tag: the service's index). */
static uint8_t *daytime_text(void *arg, int tag, uint32_t *len)
{
	const struct svc *s = &((struct replay *)arg)->svc[tag];
	uint8_t *b = malloc(s->dlen + 1);

	if (b) {
		memcpy(b, s->data, s->dlen);
		*len = (uint32_t)s->dlen;
	}
	return b;
}

int svc_open_all(struct replay *r)
{
	if (inetd_init(&r->inetd, MAX_CONNS) < 0) {
		fprintf(stderr, "ustack-replay: out of memory\n");
		return -1;
	}
	r->inetd.st = r->st;
	r->inetd.daytime = daytime_text;
	r->inetd.arg = r;
	for (int i = 0; i < r->nsvc; i++) {
		struct svc *s = &r->svc[i];
		int udp = s->kind == SVC_UDP_ECHO || s->kind == SVC_UDP_DISCARD;

		if (s->kind >= SVC_NC_CONNECT &&
		    !(s->cp.to_net.p = malloc(NC_BUF))) {
			fprintf(stderr, "ustack-replay: out of memory\n");
			return -1;
		}

		if (s->kind == SVC_NC_CONNECT)
			s->sd = ustack_socket(r->st, AF_INET,
					      SOCK_STREAM | SOCK_NONBLOCK, 0);
		else
			s->sd = app_server_socket(r->st, udp ? SOCK_DGRAM : SOCK_STREAM,
						  s->port,
						  s->kind == SVC_NC_LISTEN ? 1 : 511);
		if (s->sd < 0) {
			fprintf(stderr, "ustack-replay: service %d (port %u): %s\n",
				i + 1, s->port, ustack_strerror(s->sd));
			return -1;
		}
		if (s->kind == SVC_TCP_DAYTIME && !s->data &&
		    set_text(r, s, default_daytime) < 0)
			return -1;
	}
	return 0;
}

/* The inetd service a TCP kind runs; tcp-hold is discard, held until its
 * read-at. */
static enum inetd_svc tcp_service(enum svc_kind kind)
{
	switch (kind) {
	case SVC_TCP_ECHO:
		return INETD_ECHO;
	case SVC_TCP_DAYTIME:
		return INETD_DAYTIME;
	case SVC_TCP_CHARGEN:
		return INETD_CHARGEN;
	default:
		return INETD_DISCARD;
	}
}

static int hold_reading(const struct replay *r, const struct svc *s)
{
	return s->read_at.set && ustack_now(r->st) >= s->read_at.v;
}

/* One ustack-inetd loop turn over the server services: 1 if anything
 * was ready. */
static int inetd_pass(struct replay *r)
{
	struct ustack_pollfd pfd[MAX_SVC + MAX_CONNS];
	int map[MAX_SVC + MAX_CONNS];
	unsigned n = 0;

	for (int i = 0; i < r->nsvc; i++) {
		struct svc *s = &r->svc[i];

		if (s->kind >= SVC_NC_CONNECT || s->sd < 0)
			continue;
		pfd[n] = (struct ustack_pollfd){.sd = s->sd, .events = POLLIN};
		map[n++] = -1 - i;
	}
	n = inetd_poll_conns(&r->inetd, pfd, map, n);
	if (!n || ustack_poll(r->st, pfd, n, 0) <= 0)
		return 0;
	for (unsigned k = 0; k < n; k++) {
		struct svc *s;

		if (!pfd[k].revents)
			continue;
		if (map[k] >= 0) {
			inetd_conn_ready(&r->inetd, (uint32_t)map[k]);
			continue;
		}
		s = &r->svc[-1 - map[k]];
		if (s->kind == SVC_UDP_ECHO || s->kind == SVC_UDP_DISCARD)
			inetd_udp(&r->inetd, s->sd, s->kind == SVC_UDP_ECHO);
		else
			inetd_accept(&r->inetd, s->sd, tcp_service(s->kind),
				     -1 - map[k], s->kind == SVC_TCP_HOLD &&
				     !hold_reading(r, s));
	}
	return 1;
}

/* tcp-hold: its connections read from read-at on (held before); at
 * close-at they are closed, once. */
static void hold_step(struct replay *r, struct svc *s)
{
	int closing = s->close_at.set && ustack_now(r->st) >= s->close_at.v;

	for (uint32_t i = 0; i < r->inetd.max_conns; i++) {
		struct inetd_conn *c = &r->inetd.conns[i];

		if (c->sd < 0 || &r->svc[c->tag] != s)
			continue;
		if (closing)
			inetd_conn_close(&r->inetd, c);
		else
			c->held = !hold_reading(r, s);
	}
	if (closing)
		s->close_at.set = 0;
}

/* ---- ustack-nc, call for call (apps/nc.c) ------------------------------ */

/* The program is gone: the stack is destroyed now, nothing more runs. */
static void nc_exit(struct replay *r, struct svc *s)
{
	s->nc = NC_DONE;
	r->exited = 1;
}

/* stdin is the case's text: a file, every read gets what fits. */
static long nc_read_data(void *ctx, void *p, size_t cap)
{
	struct svc *s = ctx;
	size_t take = s->dlen - s->rd;

	if (take > cap)
		take = cap;
	memcpy(p, s->data + s->rd, take);
	s->rd += take;
	return (long)take;
}

/* stdout takes everything at once. */
static long nc_discard(void *ctx, const void *p, size_t len)
{
	(void)ctx, (void)p;
	return (long)len;
}

static void nc_start_copy(struct replay *r, struct svc *s)
{
	s->nc = NC_COPY;
	s->pump_now = 1;
	s->cp.st = r->st;
	s->cp.sd = s->sd;
	s->cp.no_stdin = s->no_stdin;
	s->cp.to_out.p = (char *)r->scratch;   /* drained at once */
	s->cp.io = (struct nc_io){.read_in = nc_read_data,
				  .write_out = nc_discard, .ctx = s};
	nc_copy_start(&s->cp);
}

/* One turn of ustack-nc's copy loop (apps/nc.c copy_loop). */
static int nc_copy(struct replay *r, struct svc *s)
{
	struct nc_copy *c = &s->cp;
	int p;

	if (!s->pump_now && (!nc_want_stdin(c) || c->to_net.len == NC_BUF)) {
		/* stdin (a file, always readable) is not polled: the socket */
		struct ustack_pollfd pfd = {.sd = s->sd, .events = (short)(
			(c->net_eof ? 0 : POLLIN) |
			(c->to_net.off < c->to_net.len ? POLLOUT : 0))};

		if (ustack_poll(r->st, &pfd, 1, 0) <= 0)
			return 0;
	}
	s->pump_now = 0;
	while ((p = nc_pump(c)) > 0)
		;
	if (p < 0) {
		nc_exit(r, s);
		return 0;
	}
	if (nc_tcp_finished(c)) {
		ustack_close(r->st, s->sd);
		s->nc = NC_LINGER;
		s->deadline = ustack_now(r->st) + NC_LINGER_US;
		if (app_tcp_settled(r->st))
			nc_exit(r, s);
	}
	return 1;
}

static int nc_step(struct replay *r, struct svc *s)
{
	ustack_time_t now = ustack_now(r->st);
	struct ustack_pollfd pfd = {.sd = s->sd};
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	int e = 0, sd;

	switch (s->nc) {
	case NC_IDLE:
		if (s->kind == SVC_NC_LISTEN) {
			pfd.events = POLLIN;
			if (ustack_poll(r->st, &pfd, 1, 0) <= 0)
				return 0;
			sd = ustack_accept4(r->st, s->sd, (struct sockaddr *)&sin,
					    &slen, SOCK_NONBLOCK);
			if (sd == -EAGAIN)
				return 1;
			if (sd < 0)
				return nc_exit(r, s), 0;
			ustack_close(r->st, s->sd);
			s->sd = sd;
			nc_start_copy(r, s);
			return 1;
		}
		if (now < s->at.v)
			return 0;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(s->ip);
		sin.sin_port = htons(s->port);
		e = ustack_connect(r->st, s->sd, (struct sockaddr *)&sin, sizeof(sin));
		if (e == -EINPROGRESS) {
			s->nc = NC_CONNECTING;
			s->deadline = s->wait ? now + s->wait : USTACK_TIME_NEVER;
		} else if (e == 0) {
			nc_start_copy(r, s);
		} else {
			nc_exit(r, s);
		}
		return 1;
	case NC_CONNECTING:
		pfd.events = POLLOUT;
		if (ustack_poll(r->st, &pfd, 1, 0) > 0) {
			slen = sizeof(e);
			ustack_getsockopt(r->st, s->sd, SOL_SOCKET, SO_ERROR, &e, &slen);
			if (e)
				nc_exit(r, s);
			else
				nc_start_copy(r, s);
			return 1;
		}
		if (now >= s->deadline)
			nc_exit(r, s);
		return 0;
	case NC_COPY:
		return nc_copy(r, s);
	case NC_LINGER:
		if (app_tcp_settled(r->st) || now >= s->deadline)
			nc_exit(r, s);
		return 0;
	default:
		return 0;
	}
}

/* After every input and timer event: let the programs run until idle. */
void svc_pass(struct replay *r)
{
	for (int round = 0; round < PASS_ROUNDS && !r->exited; round++) {
		int busy = 0;

		for (int i = 0; i < r->nsvc; i++)
			if (r->svc[i].kind == SVC_TCP_HOLD)
				hold_step(r, &r->svc[i]);
		busy |= inetd_pass(r);
		for (int i = 0; i < r->nsvc && !r->exited; i++)
			if (r->svc[i].kind >= SVC_NC_CONNECT)
				busy |= nc_step(r, &r->svc[i]);
		if (!busy)
			break;
	}
}

/* The next time a program acts on its own (not on a frame or a timer). */
ustack_time_t next_action(const struct replay *r, ustack_time_t now)
{
	ustack_time_t t = USTACK_TIME_NEVER;

	for (int i = 0; i < r->nsvc; i++) {
		const struct svc *s = &r->svc[i];
		ustack_time_t c[3] = {USTACK_TIME_NEVER, USTACK_TIME_NEVER,
				      USTACK_TIME_NEVER};

		if (s->kind == SVC_NC_CONNECT && s->nc == NC_IDLE)
			c[0] = s->at.v;
		if (s->nc == NC_CONNECTING || s->nc == NC_LINGER)
			c[0] = s->deadline;
		if (s->kind == SVC_TCP_HOLD) {
			if (s->read_at.set)
				c[1] = s->read_at.v;
			if (s->close_at.set)
				c[2] = s->close_at.v;
		}
		for (int k = 0; k < 3; k++)
			if (c[k] > now && c[k] < t)
				t = c[k];
	}
	return t;
}
