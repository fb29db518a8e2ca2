/*
 * bench_rr.c - a tiny HTTP/1.1 keep-alive server for request/response
 * benchmarks (wrk), built once for both sides: on ustack (a TAP device,
 * the event-loop runtime, ustack_poll) or, with -k, on kernel sockets
 * (poll(2)). The same loop serves both: non-blocking sockets, up to
 * RR_MAX_CONNS connections at once, each request (read up to the blank
 * line) answered with a header and a body of -b bytes in one gather call
 * (ustack_writev / writev) -- or, with -2, as two sends, header then body,
 * which is what leaves the body to Nagle and the peer's delayed ACK.
 * A response that does not fit in the send buffer at once ends the
 * connection (wrk keeps one request in flight per connection, so it never
 * happens with the small bodies this is for).
 *
 *   bench_rr [-k] [-2] [-b BYTES] [-d TAP] PORT
 *
 * ustack side: 10.0.0.2/24 on TAP (default tap0, created, the kernel side
 * 10.0.0.1/24). Runs until killed. tests/bench/rr.sh runs it, and wrk
 * against it, only inside network namespaces it makes and removes.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <ustack/dev.h>
#include <ustack/runtime.h>
#include <ustack/socket.h>
#include <ustack/ustack.h>

#define RR_MAX_CONNS 512
#define RR_REQ_MAX 8192

struct conn {
	int sd;                   /* -1: free */
	size_t have;
	char req[RR_REQ_MAX];
};

static struct ustack *st;    /* NULL: kernel sockets */
static int two_sends;
static char body[65536];
static size_t body_len = 100;
static struct conn conns[RR_MAX_CONNS];

static ssize_t rd(int sd, void *b, size_t n)
{
	ssize_t r;

	if (st)
		return ustack_recv(st, sd, b, n, 0);
	r = read(sd, b, n);
	return r < 0 ? -errno : r;
}

static ssize_t wv(int sd, struct iovec *iov, int n)
{
	ssize_t r;

	if (st)
		return ustack_writev(st, sd, iov, n);
	r = writev(sd, iov, n);
	return r < 0 ? -errno : r;
}

static void sclose(int sd)
{
	if (st)
		ustack_close(st, sd);
	else
		close(sd);
}

static int saccept(int ls)
{
	int sd;

	if (st)
		return ustack_accept4(st, ls, NULL, NULL, SOCK_NONBLOCK);
	sd = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
	return sd < 0 ? -errno : sd;
}

/* Answer every whole request in c; 0, or -1 to close. */
static int respond(struct conn *c)
{
	char hdr[256], *end;
	struct iovec iov[2];
	size_t used, want;
	int hl;

	while ((end = strstr(c->req, "\r\n\r\n")) != NULL) {
		used = (size_t)(end + 4 - c->req);
		hl = snprintf(hdr, sizeof(hdr),
			      "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
			      "Content-Type: text/plain\r\n\r\n", body_len);
		iov[0].iov_base = hdr;
		iov[0].iov_len = (size_t)hl;
		iov[1].iov_base = body;
		iov[1].iov_len = body_len;
		want = (size_t)hl + body_len;
		if (two_sends) {
			if (wv(c->sd, iov, 1) != hl ||
			    wv(c->sd, iov + 1, 1) != (ssize_t)body_len)
				return -1;
		} else if (wv(c->sd, iov, 2) != (ssize_t)want) {
			return -1;
		}
		memmove(c->req, c->req + used, c->have - used + 1);
		c->have -= used;
	}
	return c->have == sizeof(c->req) - 1 ? -1 : 0;
}

/* Read what c has; 0, or -1 to close. */
static int serve(struct conn *c)
{
	ssize_t n;

	for (;;) {
		n = rd(c->sd, c->req + c->have, sizeof(c->req) - 1 - c->have);
		if (n == -EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		c->have += (size_t)n;
		c->req[c->have] = 0;
		if (respond(c) < 0)
			return -1;
	}
}

static void take(int ls)
{
	int sd;

	while ((sd = saccept(ls)) >= 0) {
		unsigned i;

		for (i = 0; i < RR_MAX_CONNS && conns[i].sd >= 0; i++)
			;
		if (i == RR_MAX_CONNS) {
			sclose(sd);
			continue;
		}
		conns[i].sd = sd;
		conns[i].have = 0;
		conns[i].req[0] = 0;
	}
}

/* One poll over the listener and every connection; then serve. */
static int loop_once(int ls)
{
	static struct pollfd kp[RR_MAX_CONNS + 1];
	static struct ustack_pollfd up[RR_MAX_CONNS + 1];
	static unsigned slot[RR_MAX_CONNS + 1];
	unsigned n = 0;
	int r;

	for (unsigned i = 0; i <= RR_MAX_CONNS; i++) {
		int sd = i == 0 ? ls : conns[i - 1].sd;

		if (sd < 0)
			continue;
		slot[n] = i;
		if (st)
			up[n] = (struct ustack_pollfd){.sd = sd, .os_fd = -1,
						       .events = POLLIN};
		else
			kp[n] = (struct pollfd){.fd = sd, .events = POLLIN};
		n++;
	}
	r = st ? ustack_poll(st, up, n, -1) : poll(kp, n, -1);
	if (r < 0)
		return st ? r : -errno;
	for (unsigned k = 0; k < n; k++) {
		short re = st ? up[k].revents : kp[k].revents;
		struct conn *c;

		if (!re)
			continue;
		if (slot[k] == 0) {
			take(ls);
			continue;
		}
		c = &conns[slot[k] - 1];
		if (serve(c) < 0) {
			sclose(c->sd);
			c->sd = -1;
		}
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_rr [-k] [-2] [-b BYTES] [-d TAP] PORT\n");
	return 2;
}

static int kernel_listen(struct sockaddr_in *a)
{
	int one = 1, ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (ls < 0 ||
	    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(ls, (struct sockaddr *)a, sizeof(*a)) < 0 ||
	    listen(ls, 128) < 0) {
		perror("bench_rr");
		return -1;
	}
	return ls;
}

static int ustack_listen_on(const char *tapname, struct sockaddr_in *a)
{
	struct ustack_tap_config tap = {.name = tapname, .bring_up = 1};
	struct ustack_config cfg;
	struct ustack_dev *dev;
	char err[256];
	int rc, ls;

	ustack_parse_ip4("10.0.0.1", &tap.host_addr);
	tap.host_prefix_len = 24;
	if (ustack_tap_open(&dev, &tap, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_rr: %s\n", err);
		return -1;
	}
	ustack_config_default(&cfg);
	if ((rc = ustack_create(&st, &cfg, dev,
				ustack_clock_monotonic(NULL))) < 0 ||
	    (rc = ustack_loop_attach(st, NULL, NULL)) < 0 ||
	    (ls = rc = ustack_socket(st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK,
				     0)) < 0 ||
	    (rc = ustack_bind(st, ls, (struct sockaddr *)a, sizeof(*a))) < 0 ||
	    (rc = ustack_listen(st, ls, 128)) < 0) {
		fprintf(stderr, "bench_rr: %s\n", ustack_strerror(rc));
		return -1;
	}
	return ls;
}

int main(int argc, char **argv)
{
	const char *tapname = "tap0";
	int kernel = 0, opt, ls, r;
	struct sockaddr_in a = {.sin_family = AF_INET};

	while ((opt = getopt(argc, argv, "k2b:d:")) != -1) {
		switch (opt) {
		case 'k': kernel = 1; break;
		case '2': two_sends = 1; break;
		case 'b': body_len = (size_t)strtoul(optarg, NULL, 0); break;
		case 'd': tapname = optarg; break;
		default: return usage();
		}
	}
	if (optind != argc - 1 || body_len > sizeof(body))
		return usage();
	memset(body, 'x', sizeof(body));
	for (unsigned i = 0; i < RR_MAX_CONNS; i++)
		conns[i].sd = -1;
	a.sin_port = htons((uint16_t)atoi(argv[optind]));
	ls = kernel ? kernel_listen(&a) : ustack_listen_on(tapname, &a);
	if (ls < 0)
		return 1;
	while ((r = loop_once(ls)) >= 0 || r == -EINTR)
		;
	fprintf(stderr, "bench_rr: poll: %s\n", strerror(-r));
	return 1;
}
