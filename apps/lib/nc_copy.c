/*
 * nc_copy.c - ustack-nc's copy between stdin, one socket and stdout (see
 * nc_copy.h), shared with ustack-replay's model of ustack-nc.
 *
 * May touch: the one socket it is given (send, recvfrom, shutdown, connect
 * for UDP), its buffers, the program's callbacks, stderr (-v).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "nc_copy.h"

void nc_copy_start(struct nc_copy *c)
{
	c->in_eof = c->no_stdin;
	c->net_eof = c->shut_sent = 0;
	c->to_net.len = c->to_net.off = 0;
	c->to_out.len = c->to_out.off = 0;
}

static void compact(struct nc_buf *b)
{
	if (b->off == b->len) {
		b->off = b->len = 0;
	} else if (b->off > NC_BUF / 2) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
}

int nc_want_stdin(const struct nc_copy *c)
{
	if (c->in_eof || (c->net_eof && !c->keep_sending))
		return 0;
	return !c->udp || (!c->to_net.len && c->udp_peer);
}

/* stdin -> to_net. */
static int pump_stdin(struct nc_copy *c)
{
	struct nc_buf *b = &c->to_net;
	size_t room, cap;
	long r;

	compact(b);
	room = NC_BUF - b->len;
	if (!nc_want_stdin(c) || !room)
		return 0;
	cap = c->udp && room > NC_UDP_MAX ? NC_UDP_MAX : room;
	r = c->io.read_in(c->io.ctx, b->p + b->len, cap);
	if (r == -EAGAIN)
		return 0;
	if (r <= 0) {
		c->in_eof = 1;
		return 1;
	}
	b->len += (size_t)r;
	return 1;
}

/* to_net -> socket; the half-close once stdin is done. */
static int pump_net_out(struct nc_copy *c)
{
	struct nc_buf *b = &c->to_net;
	int progress = 0;

	while (b->off < b->len) {
		ssize_t r = ustack_send(c->st, c->sd, b->p + b->off,
					b->len - b->off, MSG_DONTWAIT);

		if (r == -EAGAIN)
			return progress;
		if (r < 0)
			return (int)r;
		b->off += c->udp ? b->len - b->off : (size_t)r;
		progress = 1;
	}
	if (c->in_eof && !c->shut_sent && !c->udp && !c->no_stdin) {
		ustack_shutdown(c->st, c->sd, SHUT_WR);
		c->shut_sent = 1;
		progress = 1;
	}
	return progress;
}

/* socket -> to_out. */
static int pump_net_in(struct nc_copy *c)
{
	struct nc_buf *b = &c->to_out;
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	ssize_t r;

	compact(b);
	if (c->net_eof || NC_BUF - b->len < (c->udp ? NC_UDP_MAX : 1))
		return 0;
	r = ustack_recvfrom(c->st, c->sd, b->p + b->len, NC_BUF - b->len,
			    MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
	if (r == -EAGAIN)
		return 0;
	if (r < 0)
		return (int)r;
	if (c->udp && !c->udp_peer) {
		/* -u -l: the first datagram's sender becomes the peer. */
		int e = ustack_connect(c->st, c->sd, (struct sockaddr *)&from,
				       flen);
		char peer[22];

		if (e < 0)
			return e;
		c->udp_peer = 1;
		if (c->verbose)
			fprintf(stderr, "ustack-nc: datagrams from %s\n",
				app_fmt_addr(ntohl(from.sin_addr.s_addr),
					     ntohs(from.sin_port), peer));
	}
	if (r == 0 && !c->udp)
		c->net_eof = 1;
	b->len += (size_t)r;
	return 1;
}

/* to_out -> stdout. */
static int pump_stdout(struct nc_copy *c)
{
	struct nc_buf *b = &c->to_out;
	int progress = 0;

	while (b->off < b->len) {
		long r = c->io.write_out(c->io.ctx, b->p + b->off,
					 b->len - b->off);

		if (r == -EAGAIN)
			return progress;
		if (r <= 0)
			return -EPIPE;
		b->off += (size_t)r;
		progress = 1;
	}
	return progress;
}

int nc_pump(struct nc_copy *c)
{
	int r, progress = 0;

	if ((r = pump_stdin(c)) > 0)
		progress = 1;
	if ((r = pump_net_out(c)) < 0)
		return r;
	progress |= r;
	if ((r = pump_net_in(c)) < 0)
		return r;
	progress |= r;
	if ((r = pump_stdout(c)) < 0)
		return r;
	return progress | r;
}

int nc_drained(const struct nc_copy *c)
{
	return c->to_net.off == c->to_net.len && c->to_out.off == c->to_out.len;
}

int nc_tcp_finished(const struct nc_copy *c)
{
	/* The peer closed: write out what came, send what we already read
	 * (with -K: everything up to the end of stdin). */
	return c->net_eof && nc_drained(c) && (!c->keep_sending || c->in_eof);
}
