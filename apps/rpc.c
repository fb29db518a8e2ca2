/*
 * rpc.c - ustack-rpc: a tiny request/response pair over ustack that shows
 * why a TCP application needs its own message boundaries ("sticky
 * packets"): TCP delivers a stream of bytes, not the writes the sender
 * made. Two writes may come out of one recv (Nagle, a full window, a
 * retransmission that carries both), one write may take several recvs
 * (an MSS smaller than the message, a lost segment).
 *
 *   ustack-rpc -l [options] PORT        serve: answer each request
 *   ustack-rpc [options] HOST PORT      call: send -n requests, check answers
 *
 * Framed (the default, the fix): every message is a 4-byte big-endian
 * length and then that many bytes; the reader collects bytes until a whole
 * frame is there, however the stream was cut. --naive (the bug): no length,
 * and the reader takes each recv() as one message. The client writes all
 * its requests back to back (pipelined, so Nagle merges them), then
 * half-closes; the server answers every message it saw with
 * "ok <first request id> <bytes>" and closes when the client has; the
 * client checks that it got exactly one right answer per request. With
 * --naive that check fails as soon as writes were merged or split: run it
 * with --mtu 576 (messages larger than a segment) or --fault.
 *
 * Exit status of the client: 0 every request answered in order, 1 the
 * message boundaries were lost (or the connection failed), 2 usage.
 *
 * May touch: its stack through the public API, its sockets, stdout and
 * stderr, the clock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/app.h"

#define RPC_MAX_MSG 65536           /* largest message, framed or not */
#define RPC_BUF (RPC_MAX_MSG + 4)

struct rpc {
	struct app a;
	int listen, naive, once;
	uint32_t count;                 /* -n: requests to send */
	uint32_t size;                  /* -s: bytes per request */
	ustack_time_t wait;             /* -w: give up after */
	uint32_t host;
	uint16_t port;
	int sd;
	/* the reader */
	uint8_t in[RPC_BUF];
	uint32_t inlen;
	int eof;
};

/* ---- options ------------------------------------------------------------- */

static const struct option rpc_longopts[] = {
	{"naive", no_argument, NULL, 'N'},
	{"once", no_argument, NULL, 'o'},
	{NULL, 0, NULL, 0},
};

static int rpc_opt(void *ctx, int c, const char *arg)
{
	struct rpc *r = ctx;
	uint64_t v;

	switch (c) {
	case 'l':
		r->listen = 1;
		return 0;
	case 'N':
		r->naive = 1;
		return 0;
	case 'o':
		r->once = 1;
		return 0;
	case 'n':
		if (app_parse_u64(arg, 1, 1000000, &v) == 0) {
			r->count = (uint32_t)v;
			return 0;
		}
		app_usage_error(r->a.desc, "-n: expected 1..1000000, got '%s'", arg);
		return -1;
	case 's':
		if (app_parse_u64(arg, 16, RPC_MAX_MSG, &v) == 0) {
			r->size = (uint32_t)v;
			return 0;
		}
		app_usage_error(r->a.desc, "-s: expected 16..%d, got '%s'",
				RPC_MAX_MSG, arg);
		return -1;
	case 'w':
		if (app_parse_seconds(arg, &r->wait) == 0 && r->wait)
			return 0;
		app_usage_error(r->a.desc, "-w: expected seconds > 0, got '%s'", arg);
		return -1;
	}
	return -1;
}

static const struct app_desc rpc_desc = {
	.name = "ustack-rpc",
	.synopsis = "[options] HOST PORT | -l [options] PORT",
	.summary = "Request/response over ustack with length-prefixed messages, "
		   "or with --naive\nreads (one recv = one message) that break "
		   "when TCP merges or splits writes.\nThe client sends -n "
		   "requests back to back, half-closes and checks one answer\n"
		   "per request (exit 0), or reports the boundaries lost (exit "
		   "1).",
	.help = "  -l                   serve on PORT (one connection at a time)\n"
		"  --once               (server) exit after the first connection\n"
		"  --naive              no length prefix; each recv() is taken as "
		"one message\n                       (both sides must agree)\n"
		"  -n N                 (client) requests to send (default 100)\n"
		"  -s BYTES             (client) bytes per request, 16..65536 "
		"(default 200)\n"
		"  -w SECONDS           give up after SECONDS (default 20)\n",
	.shortopts = "ln:s:w:",
	.longopts = rpc_longopts,
	.opt = rpc_opt,
	.min_args = 1,
	.max_args = 2,
};

/* ---- waiting ------------------------------------------------------------- */

/* Wait for events on sd (serving the control socket meanwhile). Returns
 * revents, -ETIMEDOUT after `until`, -EINTR on a stop request. */
static int wait_sd(struct rpc *r, int sd, short events, ustack_time_t until)
{
	struct ustack_pollfd fds[1 + APP_POLL_EXTRA];

	for (;;) {
		ustack_time_t now = app_now();
		int t = until ? (now >= until ? 0 : (int)((until - now) / 1000 + 1)) : -1;
		int n;

		fds[0] = (struct ustack_pollfd){.sd = sd, .events = events};
		n = app_poll(&r->a, fds, 1, t);
		if (n > 0)
			return fds[0].revents;
		if (n == -EINTR && app_stopping())
			return -EINTR;
		if (n < 0 && n != -EINTR)
			return n;
		if (until && app_now() >= until)
			return -ETIMEDOUT;
	}
}

static int send_all(struct rpc *r, const uint8_t *p, size_t len,
		    ustack_time_t until)
{
	while (len) {
		ssize_t n = ustack_send(r->a.st, r->sd, p, len, 0);

		if (n == -EAGAIN) {
			int ev = wait_sd(r, r->sd, POLLOUT, until);

			if (ev < 0)
				return ev;
			continue;
		}
		if (n < 0)
			return (int)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Send one message: framed (length first, in the same write) or raw. */
static int send_msg(struct rpc *r, const uint8_t *msg, uint32_t len,
		    ustack_time_t until)
{
	uint8_t buf[RPC_BUF];

	if (r->naive)
		return send_all(r, msg, len, until);
	buf[0] = (uint8_t)(len >> 24);
	buf[1] = (uint8_t)(len >> 16);
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
	memcpy(buf + 4, msg, len);
	return send_all(r, buf, len + 4, until);
}

/*
 * Read the next message into out (at least RPC_MAX_MSG bytes). Returns its
 * length, 0 at the end of the stream, or -errno (-EPROTO: a frame longer
 * than RPC_MAX_MSG, or the stream ended inside a frame).
 */
static int recv_msg(struct rpc *r, uint8_t *out, ustack_time_t until)
{
	for (;;) {
		ssize_t n;

		if (r->naive && r->inlen) {
			uint32_t len = r->inlen;

			/* the bug on purpose: whatever one recv gave */
			memcpy(out, r->in, len);
			r->inlen = 0;
			return (int)len;
		}
		if (!r->naive && r->inlen >= 4) {
			uint32_t len = (uint32_t)r->in[0] << 24 |
				       (uint32_t)r->in[1] << 16 |
				       (uint32_t)r->in[2] << 8 | r->in[3];

			if (len > RPC_MAX_MSG)
				return -EPROTO;
			if (r->inlen >= 4 + len) {
				memcpy(out, r->in + 4, len);
				r->inlen -= 4 + len;
				memmove(r->in, r->in + 4 + len, r->inlen);
				return (int)len;
			}
		}
		if (r->eof)
			return r->inlen ? -EPROTO : 0;
		n = ustack_recv(r->a.st, r->sd, r->in + r->inlen,
				r->naive ? RPC_MAX_MSG : sizeof(r->in) - r->inlen, 0);
		if (n == -EAGAIN) {
			int ev = wait_sd(r, r->sd, POLLIN, until);

			if (ev < 0)
				return ev;
			continue;
		}
		if (n < 0)
			return (int)n;
		if (n == 0)
			r->eof = 1;
		r->inlen += (uint32_t)n;
	}
}

/* ---- server ---------------------------------------------------------------- */

/* One connection: answer every message until the client half-closes. */
static void serve_conn(struct rpc *r, const char *peer)
{
	static uint8_t msg[RPC_MAX_MSG];
	uint64_t msgs = 0, bytes = 0;
	int n;

	r->inlen = 0;
	r->eof = 0;
	while ((n = recv_msg(r, msg, 0)) > 0) {
		char ans[64];
		unsigned long id = 0;

		msgs++;
		bytes += (uint64_t)n;
		msg[n < RPC_MAX_MSG ? n : RPC_MAX_MSG - 1] = 0;
		sscanf((char *)msg, "req %lu", &id);
		snprintf(ans, sizeof(ans), "ok %lu %d", id, n);
		if (send_msg(r, (uint8_t *)ans, (uint32_t)strlen(ans), 0) < 0)
			break;
	}
	printf("ustack-rpc: %s: %llu messages, %llu bytes (%s)%s%s\n", peer,
	       (unsigned long long)msgs, (unsigned long long)bytes,
	       r->naive ? "naive: one recv = one message" : "framed",
	       n < 0 ? ": " : "", n < 0 ? ustack_strerror(n) : "");
	fflush(stdout);
}

static int serve(struct rpc *r)
{
	int lsd = app_server_socket(r->a.st, SOCK_STREAM, r->port, 16);

	if (lsd < 0) {
		fprintf(stderr, "ustack-rpc: port %u: %s\n", r->port,
			ustack_strerror(lsd));
		return APP_EXIT_FAIL;
	}
	app_announce(&r->a, r->naive ? "rpc server, naive reads" :
		     "rpc server, framed");
	for (;;) {
		struct sockaddr_in sin;
		socklen_t slen = sizeof(sin);
		char peer[22];
		int ev = wait_sd(r, lsd, POLLIN, 0);

		if (ev == -EINTR)
			break;
		r->sd = ustack_accept4(r->a.st, lsd, (struct sockaddr *)&sin,
				       &slen, SOCK_NONBLOCK);
		if (r->sd < 0)
			continue;
		app_fmt_addr(ntohl(sin.sin_addr.s_addr), ntohs(sin.sin_port), peer);
		serve_conn(r, peer);
		ustack_close(r->a.st, r->sd);
		if (r->once)
			break;
	}
	ustack_close(r->a.st, lsd);
	app_linger(&r->a, USTACK_SEC(2));
	return APP_EXIT_OK;
}

/* ---- client ---------------------------------------------------------------- */

static int call_connect(struct rpc *r, ustack_time_t until)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(int);
	int err = 0, e;

	r->sd = ustack_socket(r->a.st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (r->sd < 0)
		return r->sd;
	app_sockaddr(&sin, r->host, r->port);
	e = ustack_connect(r->a.st, r->sd, (struct sockaddr *)&sin, sizeof(sin));
	if (e == -EINPROGRESS) {
		e = wait_sd(r, r->sd, POLLOUT, until);
		if (e >= 0) {
			ustack_getsockopt(r->a.st, r->sd, SOL_SOCKET, SO_ERROR,
					  &err, &len);
			e = -err;
		}
	}
	return e;
}

/* Send every request, half-close, then read answers to the end. */
static int call(struct rpc *r)
{
	static uint8_t msg[RPC_MAX_MSG];
	ustack_time_t until = app_now() + r->wait;
	uint32_t answers = 0, wrong = 0;
	int e, n;

	if ((e = call_connect(r, until)) < 0) {
		fprintf(stderr, "ustack-rpc: connect: %s\n", ustack_strerror(e));
		return APP_EXIT_FAIL;
	}
	for (uint32_t i = 0; i < r->count; i++) {
		int h = snprintf((char *)msg, r->size, "req %u ", i);

		memset(msg + h, 'a' + (char)(i % 26), r->size - (uint32_t)h);
		if ((e = send_msg(r, msg, r->size, until)) < 0) {
			fprintf(stderr, "ustack-rpc: send: %s\n", ustack_strerror(e));
			return APP_EXIT_FAIL;
		}
	}
	ustack_shutdown(r->a.st, r->sd, SHUT_WR);
	while ((n = recv_msg(r, msg, until)) > 0) {
		char want[64];

		snprintf(want, sizeof(want), "ok %u %u", answers, r->size);
		msg[n < RPC_MAX_MSG ? n : RPC_MAX_MSG - 1] = 0;
		if (strcmp((char *)msg, want) != 0) {
			if (wrong < 3)
				printf("ustack-rpc: answer %u is '%s', expected '%s'\n",
				       answers, (char *)msg, want);
			wrong++;
		}
		answers++;
	}
	ustack_close(r->a.st, r->sd);
	app_linger(&r->a, USTACK_SEC(2));
	printf("ustack-rpc: sent %u requests of %u bytes (%s), got %u answers, "
	       "%u wrong%s%s\n", r->count, r->size, r->naive ? "naive" : "framed",
	       answers, wrong, n < 0 ? ": " : "", n < 0 ? ustack_strerror(n) : "");
	if (n < 0 || answers != r->count || wrong) {
		printf("ustack-rpc: message boundaries lost: TCP is a byte "
		       "stream%s\n", r->naive ? " (try without --naive)" : "");
		return APP_EXIT_FAIL;
	}
	printf("ustack-rpc: every request answered in order\n");
	return APP_EXIT_OK;
}

int main(int argc, char **argv)
{
	static struct rpc r;
	struct app_desc desc = rpc_desc;
	int i, rc;

	r.count = 100;
	r.size = 200;
	r.wait = USTACK_SEC(20);
	desc.ctx = &r;
	i = app_parse(&r.a, &desc, argc, argv);
	if (r.listen) {
		if (argc - i != 1 || app_parse_port(argv[i], &r.port) < 0)
			app_usage_exit(&r.a, "-l takes one argument, a PORT");
	} else {
		if (argc - i != 2 || ustack_parse_ip4(argv[i], &r.host) < 0)
			app_usage_exit(&r.a, "expected HOST PORT (HOST as A.B.C.D)");
		if (app_parse_port(argv[i + 1], &r.port) < 0)
			app_usage_exit(&r.a, "PORT: expected 1..65535, got '%s'",
				       argv[i + 1]);
	}
	if (app_signals_init() < 0) {
		perror("ustack-rpc");
		return APP_EXIT_FAIL;
	}
	if ((rc = app_start(&r.a)) != 0)
		return rc;
	rc = ustack_loop_attach(r.a.st, NULL, NULL);
	if (rc < 0) {
		fprintf(stderr, "ustack-rpc: event loop: %s\n", ustack_strerror(rc));
		app_stop(&r.a);
		return APP_EXIT_FAIL;
	}
	app_signals_attach(r.a.st);
	rc = r.listen ? serve(&r) : call(&r);
	app_stop(&r.a);
	return rc;
}
