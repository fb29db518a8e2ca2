/*
 * inetd_svc.c - the small services shared by ustack-inetd and
 * ustack-replay (see inetd_svc.h): non-blocking sockets, partial writes
 * kept per connection, and each echo connection reads only while its own
 * buffer has room, so a slow reader holds back its own data and nobody
 * else's. May touch: the stack only through <ustack/socket.h>; its state is
 * the caller's struct inetd_ctx. Any change here changes the calls
 * ustack-replay expects: re-record with `make replay-record` if so.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "inetd_svc.h"

const struct inetd_svc_info inetd_services[INETD_SVC__N] = {
	[INETD_ECHO] = {"echo", 7},
	[INETD_DISCARD] = {"discard", 9},
	[INETD_DAYTIME] = {"daytime", 13},
	[INETD_CHARGEN] = {"chargen", 19},
};

/* RFC 864: line i is 72 printable characters starting at ' ' + i, CRLF. */
static void chargen_init(uint8_t *p)
{
	for (int i = 0; i < 95; i++, p += 74) {
		for (int j = 0; j < 72; j++)
			p[j] = (uint8_t)(' ' + (i + j) % 95);
		p[72] = '\r';
		p[73] = '\n';
	}
}

int inetd_init(struct inetd_ctx *x, uint32_t max_conns)
{
	memset(x, 0, sizeof(*x));
	x->conns = calloc(max_conns, sizeof(*x->conns));
	x->rbuf = malloc(INETD_RBUF);
	if (!x->conns || !x->rbuf) {
		inetd_free(x);
		return -1;
	}
	x->max_conns = max_conns;
	for (uint32_t i = 0; i < max_conns; i++)
		x->conns[i].sd = -1;
	chargen_init(x->chargen);
	return 0;
}

void inetd_free(struct inetd_ctx *x)
{
	for (uint32_t i = 0; i < x->max_conns; i++)
		free(x->conns[i].buf);
	free(x->conns);
	free(x->rbuf);
	x->conns = NULL;
	x->rbuf = NULL;
	x->max_conns = 0;
}

/* ---- one connection ---------------------------------------------------- */

void inetd_conn_close(struct inetd_ctx *x, struct inetd_conn *c)
{
	ustack_close(x->st, c->sd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->sd = -1;
	while (x->hi > 0 && x->conns[x->hi - 1].sd < 0)
		x->hi--;
}

/* Send what is buffered. 1: all sent, 0: would block, -1: error. */
static int flush_buf(struct inetd_ctx *x, struct inetd_conn *c)
{
	while (c->off < c->len) {
		ssize_t n = ustack_send(x->st, c->sd, c->buf + c->off,
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

/* Echo (RFC 862): send back what came in; read only while there is room. */
static int do_echo(struct inetd_ctx *x, struct inetd_conn *c)
{
	for (int round = 0; round < INETD_ROUNDS; round++) {
		int progress = 0;
		ssize_t n;

		if (flush_buf(x, c) < 0)
			return -1;
		if (c->off > 0 && c->len == INETD_ECHO_BUF) {
			memmove(c->buf, c->buf + c->off, c->len - c->off);
			c->len -= c->off;
			c->off = 0;
		}
		if (!c->rd_eof && c->len < INETD_ECHO_BUF) {
			n = ustack_recv(x->st, c->sd, c->buf + c->len,
					INETD_ECHO_BUF - c->len, MSG_DONTWAIT);
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

/* Discard (RFC 863): read and forget until the peer closes. */
static int do_discard(struct inetd_ctx *x, struct inetd_conn *c)
{
	for (int round = 0; round < INETD_ROUNDS; round++) {
		ssize_t n = ustack_recv(x->st, c->sd, x->rbuf, INETD_RBUF,
					MSG_DONTWAIT);

		if (n == -EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
	}
	return 0;
}

/* Chargen (RFC 864): send the rotating pattern while the peer reads it;
 * whatever the peer sends is discarded, and its FIN ends the stream. */
static int do_chargen(struct inetd_ctx *x, struct inetd_conn *c)
{
	const uint32_t total = sizeof(x->chargen);

	for (int round = 0; round < INETD_ROUNDS; round++) {
		ssize_t n = ustack_send(x->st, c->sd, x->chargen + c->pos,
					total - c->pos, MSG_DONTWAIT);

		if (n == -EAGAIN)
			break;
		if (n < 0)
			return -1;
		c->pos = (c->pos + (uint32_t)n) % total;
	}
	return do_discard(x, c);
}

/* 0: keep the connection, -1: close it. */
static int conn_io(struct inetd_ctx *x, struct inetd_conn *c)
{
	if (c->held)
		return 0;
	switch (c->svc) {
	case INETD_ECHO:
		return do_echo(x, c);
	case INETD_DISCARD:
		return do_discard(x, c);
	case INETD_CHARGEN:
		return do_chargen(x, c);
	case INETD_DAYTIME:
		return flush_buf(x, c) == 0 ? 0 : -1; /* sent: close */
	default:
		return -1;
	}
}

static short conn_events(const struct inetd_conn *c)
{
	if (c->held)
		return 0;
	switch (c->svc) {
	case INETD_ECHO:
		return (short)((c->len > c->off ? POLLOUT : 0) |
			       (!c->rd_eof && c->len < INETD_ECHO_BUF ? POLLIN : 0));
	case INETD_DISCARD:
		return POLLIN;
	case INETD_CHARGEN:
		return POLLIN | POLLOUT;
	default:
		return POLLOUT;
	}
}

unsigned inetd_poll_conns(struct inetd_ctx *x, struct ustack_pollfd *pfd,
			  int *map, unsigned n)
{
	for (uint32_t i = 0; i < x->hi; i++) {
		const struct inetd_conn *c = &x->conns[i];
		short ev = c->sd >= 0 ? conn_events(c) : 0;

		if (!ev)
			continue;
		pfd[n] = (struct ustack_pollfd){.sd = c->sd, .events = ev};
		map[n++] = (int)i;
	}
	return n;
}

void inetd_conn_ready(struct inetd_ctx *x, uint32_t i)
{
	struct inetd_conn *c = &x->conns[i];

	if (c->sd >= 0 && conn_io(x, c) < 0)
		inetd_conn_close(x, c);
}

/* ---- new connections, datagrams ---------------------------------------- */

static void conn_start(struct inetd_ctx *x, int sd, enum inetd_svc svc,
		       int tag, int held)
{
	struct inetd_conn *c = NULL;

	for (uint32_t i = 0; i < x->max_conns && !c; i++)
		if (x->conns[i].sd < 0)
			c = &x->conns[i];
	if (!c) {
		ustack_close(x->st, sd);
		if (x->refused++ % 1000 == 0 && x->app)
			app_log(x->app, USTACK_LOG_WARN, "--max-conns %u reached: "
				"closing new connections (%llu so far)",
				x->max_conns, (unsigned long long)x->refused);
		return;
	}
	c->sd = sd;
	if ((uint32_t)(c - x->conns) >= x->hi)
		x->hi = (uint32_t)(c - x->conns) + 1;
	c->svc = svc;
	c->tag = tag;
	c->held = held != 0;
	if (svc == INETD_ECHO)
		c->buf = malloc(INETD_ECHO_BUF);
	else if (svc == INETD_DAYTIME && x->daytime)
		c->buf = x->daytime(x->arg, tag, &c->len);
	if ((svc == INETD_ECHO || svc == INETD_DAYTIME) && !c->buf) {
		inetd_conn_close(x, c);
		return;
	}
	if (conn_io(x, c) < 0)
		inetd_conn_close(x, c);
}

int inetd_accept(struct inetd_ctx *x, int lsd, enum inetd_svc svc, int tag,
		 int held)
{
	for (int k = 0; k < INETD_BATCH; k++) {
		struct sockaddr_in sin;
		socklen_t slen = sizeof(sin);
		char peer[22];
		int sd = ustack_accept4(x->st, lsd, (struct sockaddr *)&sin,
					&slen, SOCK_NONBLOCK);

		if (sd < 0)
			return sd == -EAGAIN ? 0 : sd;
		if (x->app)
			app_log(x->app, USTACK_LOG_DEBUG, "%s from %s",
				inetd_services[svc].name,
				app_fmt_addr(ntohl(sin.sin_addr.s_addr),
					     ntohs(sin.sin_port), peer));
		conn_start(x, sd, svc, tag, held);
	}
	return 0;
}

void inetd_udp(struct inetd_ctx *x, int sd, int echo)
{
	for (int k = 0; k < INETD_BATCH; k++) {
		struct sockaddr_in sin;
		socklen_t slen = sizeof(sin);
		ssize_t n = ustack_recvfrom(x->st, sd, x->rbuf, INETD_RBUF,
					    MSG_DONTWAIT, (struct sockaddr *)&sin,
					    &slen);

		if (n < 0)
			return;
		if (echo)
			ustack_sendto(x->st, sd, x->rbuf, (size_t)n, MSG_DONTWAIT,
				      (struct sockaddr *)&sin, slen);
	}
}
