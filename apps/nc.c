/*
 * nc.c - ustack-nc: netcat over ustack, after OpenBSD nc.
 *
 *   ustack-nc [options] HOST PORT      connect
 *   ustack-nc -l [options] [ADDR] PORT listen for one connection
 *
 * Copies stdin to the connection and the connection to stdout; on EOF of
 * stdin it half-closes (shutdown SHUT_WR) and keeps reading; it exits once
 * the peer has closed its side and everything received is written out.
 * One event loop: ustack_poll() watches the socket, stdin and stdout (OS
 * descriptors, made non-blocking and restored at exit), with 1 MiB
 * buffers each way so large transfers move in big chunks. -u speaks UDP:
 * each read from stdin is one datagram.
 *
 * TCP sockets get 4 MiB send and receive buffers (NC_SOCKBUF, the most
 * Linux's autotuning gives a socket by default: tcp_wmem/tcp_rmem): with a
 * TAP device that does TSO the round trip is short but the stack's
 * default 256 KiB window still caps a bulk transfer.
 *
 * May touch: its stack through the public API, stdin and stdout (made
 * non-blocking, restored at exit), stderr, the clock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/app.h"
#include "lib/nc_copy.h"

#define NC_SOCKBUF (4 << 20)

struct nc {
	struct app a;
	int listen, udp, verbose, no_stdin;
	int keep_sending;          /* -K: after the peer's FIN, send until EOF */
	ustack_time_t wait;        /* -w: connect timeout; UDP idle exit */
	uint32_t host;
	uint16_t port;
	int sd;
	struct nc_copy c;          /* the copy (apps/lib/nc_copy.c) */
	ustack_time_t last_io;
	int fl_in, fl_out;         /* original fcntl flags of stdin/stdout */
};

/* ---- options --------------------------------------------------------------- */

static int nc_opt(void *ctx, int c, const char *arg)
{
	struct nc *n = ctx;

	switch (c) {
	case 'l':
		n->listen = 1;
		return 0;
	case 'u':
		n->udp = 1;
		return 0;
	case 'v':
		n->verbose = 1;
		return 0;
	case 'd':
		n->no_stdin = 1;
		return 0;
	case 'K':
		n->keep_sending = 1;
		return 0;
	case 'w':
		if (app_parse_seconds(arg, &n->wait) == 0 && n->wait > 0)
			return 0;
		app_usage_error(n->a.desc, "-w: expected seconds, got '%s'", arg);
		return -1;
	}
	return -1;
}

static const struct app_desc nc_desc = {
	.name = "ustack-nc",
	.synopsis = "[options] HOST PORT | -l [options] [ADDR] PORT",
	.summary = "Netcat over ustack: copy stdin to a TCP (or UDP) connection "
		   "and the\nconnection to stdout. On end of stdin the sending "
		   "side is shut down\n(FIN); the program exits once the peer "
		   "has closed its side.",
	.help = "  -l                   listen for one connection on PORT "
		"(optionally on ADDR)\n"
		"  -u                   UDP: each read from stdin is one "
		"datagram; exits\n"
		"                       after end of stdin once the socket has "
		"been quiet\n"
		"                       for the -w time (default 1 s)\n"
		"  -d                   do not read stdin (and never shut down "
		"the sending side)\n"
		"  -K                   after the peer closes, keep sending "
		"stdin until it\n"
		"                       ends (our side stays in CLOSE_WAIT "
		"meanwhile)\n"
		"  -w SECONDS           give up a TCP connect after SECONDS\n"
		"  -v                   say on stderr who connected to whom\n",
	.shortopts = "luvdKw:",
	.opt = nc_opt,
	.min_args = 1,
	.max_args = 2,
};

/* ---- set-up ---------------------------------------------------------------- */

static void set_nonblock_fd(int fd, int *saved)
{
	*saved = fcntl(fd, F_GETFL);
	if (*saved >= 0)
		fcntl(fd, F_SETFL, *saved | O_NONBLOCK);
}

static void restore_fds(struct nc *n)
{
	if (n->fl_in >= 0)
		fcntl(0, F_SETFL, n->fl_in);
	if (n->fl_out >= 0)
		fcntl(1, F_SETFL, n->fl_out);
}

/* Wait for one stack socket event (with the stop pipe and ctl served). */
static int wait_sd(struct nc *n, int sd, short events, ustack_time_t until)
{
	struct ustack_pollfd fds[1 + APP_POLL_EXTRA];

	for (;;) {
		ustack_time_t now = app_now();
		int t = until ? (now >= until ? 0 : (int)((until - now) / 1000 + 1)) : -1;
		int r;

		fds[0] = (struct ustack_pollfd){.sd = sd, .events = events};
		r = app_poll(&n->a, fds, 1, t);
		if (r > 0)
			return fds[0].revents;
		if (r == -EINTR && app_stopping())
			return -EINTR;
		if (r == 0 && until && app_now() >= until)
			return -ETIMEDOUT;
	}
}

static int nc_connect(struct nc *n)
{
	struct ustack *st = n->a.st;
	struct sockaddr_in sin;
	socklen_t len = sizeof(int);
	int err = 0, r;

	app_sockaddr(&sin, n->host, n->port);
	r = ustack_connect(st, n->sd, (struct sockaddr *)&sin, sizeof(sin));
	if (r == -EINPROGRESS) {
		r = wait_sd(n, n->sd, POLLOUT,
			    n->wait ? app_now() + n->wait : 0);
		if (r >= 0) {
			ustack_getsockopt(st, n->sd, SOL_SOCKET, SO_ERROR, &err,
					  &len);
			r = -err;
		}
	}
	return r;
}

static int nc_listen(struct nc *n)
{
	struct ustack *st = n->a.st;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	int one = 1, lsd = n->sd, r;
	char peer[22];

	ustack_setsockopt(st, lsd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	app_sockaddr(&sin, n->host, n->port);
	r = ustack_bind(st, lsd, (struct sockaddr *)&sin, sizeof(sin));
	if (r == 0 && !n->udp)
		r = ustack_listen(st, lsd, 1);
	if (r < 0 || n->udp)
		return r;
	if (n->verbose)
		fprintf(stderr, "ustack-nc: listening on %s\n",
			app_fmt_addr(n->host, n->port, peer));
	for (;;) {
		if ((r = wait_sd(n, lsd, POLLIN, 0)) < 0)
			return r;
		r = ustack_accept4(st, lsd, (struct sockaddr *)&sin, &slen,
				   SOCK_NONBLOCK);
		if (r != -EAGAIN)
			break;
	}
	if (r < 0)
		return r;
	n->sd = r;
	ustack_close(st, lsd);
	if (n->verbose)
		fprintf(stderr, "ustack-nc: connection from %s\n",
			app_fmt_addr(ntohl(sin.sin_addr.s_addr),
				     ntohs(sin.sin_port), peer));
	return 0;
}

/* ---- copying --------------------------------------------------------------- */

static long read_stdin(void *ctx, void *p, size_t cap)
{
	ssize_t r = read(0, p, cap);
	int e = errno;

	(void)ctx;
	if (r < 0 && (e == EAGAIN || e == EINTR))
		return -EAGAIN;
	if (r < 0) {
		perror("ustack-nc: stdin");
		return -e;
	}
	return (long)r;
}

static long write_stdout(void *ctx, const void *p, size_t len)
{
	ssize_t r = write(1, p, len);

	(void)ctx;
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return -EAGAIN;
	return r <= 0 ? -EPIPE : (long)r;
}

static int finished(const struct nc *n)
{
	if (n->udp)
		return n->c.in_eof && nc_drained(&n->c) &&
		       app_now() >= n->last_io + n->wait;
	return nc_tcp_finished(&n->c);
}

static int copy_loop(struct nc *n)
{
	struct ustack_pollfd fds[3 + APP_POLL_EXTRA];
	struct nc_copy *c = &n->c;

	for (;;) {
		unsigned k = 0;
		int r, t = -1;

		while ((r = nc_pump(c)) > 0)
			n->last_io = app_now();
		if (r < 0)
			return r;
		if (finished(n))
			return 0;
		if (nc_want_stdin(c) && c->to_net.len < NC_BUF)
			fds[k++] = (struct ustack_pollfd){.sd = -1, .os_fd = 0,
							  .events = POLLIN};
		if (c->to_out.off < c->to_out.len)
			fds[k++] = (struct ustack_pollfd){.sd = -1, .os_fd = 1,
							  .events = POLLOUT};
		fds[k++] = (struct ustack_pollfd){.sd = c->sd, .events = (short)(
			(c->net_eof ? 0 : POLLIN) |
			(c->to_net.off < c->to_net.len ? POLLOUT : 0))};
		if (n->udp && c->in_eof)
			t = (int)(n->wait / 1000) + 1;
		r = app_poll(&n->a, fds, k, t);
		if (r == -EINTR && app_stopping())
			return -EINTR;
	}
}

/* ---- main ------------------------------------------------------------------ */

static void parse_target(struct nc *n, int argc, char **argv, int i)
{
	const char *host = NULL, *port;

	if (argc - i == 2) {
		host = argv[i];
		port = argv[i + 1];
	} else if (n->listen) {
		port = argv[i];
	} else {
		app_usage_exit(&n->a, "expected HOST PORT");
	}
	if (host && ustack_parse_ip4(host, &n->host) < 0)
		app_usage_exit(&n->a, "'%s' is not an IPv4 address", host);
	if (app_parse_port(port, &n->port) < 0)
		app_usage_exit(&n->a, "'%s' is not a port (1..65535)", port);
}

static int nc_run(struct nc *n)
{
	struct ustack *st = n->a.st;
	int r;

	n->sd = ustack_socket(st, AF_INET, (n->udp ? SOCK_DGRAM : SOCK_STREAM) |
			      SOCK_NONBLOCK, 0);
	if (n->sd < 0)
		return n->sd;
	if (!n->udp) {
		/* Before listen/connect: an accepted socket inherits them
		 * and the window scale is chosen from them. */
		int sz = NC_SOCKBUF;

		ustack_setsockopt(st, n->sd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		ustack_setsockopt(st, n->sd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	r = n->listen ? nc_listen(n) : nc_connect(n);
	if (r < 0)
		return r;
	n->c.st = st;
	n->c.sd = n->sd;
	n->c.udp = n->udp;
	n->c.no_stdin = n->no_stdin;
	n->c.keep_sending = n->keep_sending;
	n->c.verbose = n->verbose;
	n->c.udp_peer = !n->listen;
	n->c.io = (struct nc_io){.read_in = read_stdin,
				 .write_out = write_stdout};
	nc_copy_start(&n->c);
	if (n->verbose && !n->listen) {
		char peer[22];

		fprintf(stderr, "ustack-nc: connected to %s\n",
			app_fmt_addr(n->host, n->port, peer));
	}
	set_nonblock_fd(0, &n->fl_in);
	set_nonblock_fd(1, &n->fl_out);
	n->last_io = app_now();
	r = copy_loop(n);
	restore_fds(n);
	return r;
}

int main(int argc, char **argv)
{
	static struct nc n;
	struct app_desc desc = nc_desc;
	int i, r;

	desc.ctx = &n;
	n.fl_in = n.fl_out = -1;
	i = app_parse(&n.a, &desc, argc, argv);
	parse_target(&n, argc, argv, i);
	if (n.udp && !n.wait)
		n.wait = USTACK_SEC(1);
	n.c.to_net.p = malloc(NC_BUF);
	n.c.to_out.p = malloc(NC_BUF);
	if (!n.c.to_net.p || !n.c.to_out.p || app_signals_init() < 0) {
		perror("ustack-nc");
		return APP_EXIT_FAIL;
	}
	if ((r = app_start(&n.a)) != 0)
		return r;
	if ((r = ustack_loop_attach(n.a.st, NULL, NULL)) == 0) {
		app_signals_attach(n.a.st);
		r = nc_run(&n);
	}
	if (r < 0 && r != -EINTR)
		fprintf(stderr, "ustack-nc: %s\n", ustack_strerror(r));
	/* app_stop lets the FIN exchange finish and answers in TIME_WAIT
	 * for up to --linger-exit */
	if (n.sd >= 0 && r == 0)
		ustack_close(n.a.st, n.sd);
	app_stop(&n.a);
	free(n.c.to_net.p);
	free(n.c.to_out.p);
	return r == 0 ? APP_EXIT_OK : APP_EXIT_FAIL;
}
