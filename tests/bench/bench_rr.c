/*
 * bench_rr.c - a tiny HTTP/1.1 keep-alive server for request/response
 * benchmarks (wrk -t1 -c1), built once for both sides: on ustack (a TAP
 * device, the event-loop runtime) or, with -k, on kernel sockets. Each
 * request (read up to the blank line) gets a header and a body of -b
 * bytes, sent in one gather call (ustack_writev / writev) -- or, with -2,
 * as two sends, header then body, which is what leaves the body to Nagle
 * and the peer's delayed ACK. Connections are served one at a time.
 *
 *   bench_rr [-k] [-2] [-b BYTES] [-d TAP] PORT
 *
 * ustack side: 10.0.0.2/24 on TAP (default tap0, created, the kernel side
 * 10.0.0.1/24). Runs until killed. tests/bench/rr_loss.sh runs it, and wrk
 * against it, only inside network namespaces it makes and removes.
 */
#include <errno.h>
#include <netinet/in.h>
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

static struct ustack *st;    /* NULL: kernel sockets */
static int two_sends;
static char body[65536];
static size_t body_len = 100;

static ssize_t rd(int sd, void *b, size_t n)
{
	return st ? ustack_recv(st, sd, b, n, 0) : read(sd, b, n);
}

static ssize_t wv(int sd, struct iovec *iov, int n)
{
	if (!st)
		return writev(sd, iov, n);
	return ustack_writev(st, sd, iov, n);
}

static ssize_t wr(int sd, const void *b, size_t n)
{
	return st ? ustack_send(st, sd, b, n, 0) : write(sd, b, n);
}

static void serve(int sd)
{
	char req[8192], hdr[256];
	size_t have = 0;
	ssize_t n;

	for (;;) {
		char *end;
		struct iovec iov[2];
		int hl;

		if ((n = rd(sd, req + have, sizeof(req) - 1 - have)) <= 0)
			return;
		have += (size_t)n;
		req[have] = 0;
		while ((end = strstr(req, "\r\n\r\n")) != NULL) {
			size_t used = (size_t)(end + 4 - req);

			hl = snprintf(hdr, sizeof(hdr),
				      "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
				      "Content-Type: text/plain\r\n\r\n", body_len);
			if (two_sends) {
				if (wr(sd, hdr, (size_t)hl) < 0 ||
				    wr(sd, body, body_len) < 0)
					return;
			} else {
				iov[0].iov_base = hdr;
				iov[0].iov_len = (size_t)hl;
				iov[1].iov_base = body;
				iov[1].iov_len = body_len;
				if (wv(sd, iov, 2) < 0)
					return;
			}
			memmove(req, req + used, have - used + 1);
			have -= used;
		}
		if (have == sizeof(req) - 1)
			return;
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_rr [-k] [-2] [-b BYTES] [-d TAP] PORT\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *tapname = "tap0";
	int kernel = 0, opt, ls, sd, one = 1;
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
	a.sin_port = htons((uint16_t)atoi(argv[optind]));
	if (kernel) {
		ls = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    listen(ls, 16) < 0) {
			perror("bench_rr");
			return 1;
		}
		while ((sd = accept(ls, NULL, NULL)) >= 0) {
			serve(sd);
			close(sd);
		}
		return 1;
	} else {
		struct ustack_tap_config tap = {.name = tapname, .bring_up = 1};
		struct ustack_config cfg;
		struct ustack_dev *dev;
		char err[256];
		int rc;

		ustack_parse_ip4("10.0.0.1", &tap.host_addr);
		tap.host_prefix_len = 24;
		if (ustack_tap_open(&dev, &tap, NULL, err, sizeof(err)) < 0) {
			fprintf(stderr, "bench_rr: %s\n", err);
			return 1;
		}
		ustack_config_default(&cfg);
		if ((rc = ustack_create(&st, &cfg, dev,
					ustack_clock_monotonic(NULL))) < 0 ||
		    (rc = ustack_loop_attach(st, NULL, NULL)) < 0 ||
		    (ls = rc = ustack_socket(st, AF_INET, SOCK_STREAM, 0)) < 0 ||
		    (rc = ustack_bind(st, ls, (struct sockaddr *)&a,
				      sizeof(a))) < 0 ||
		    (rc = ustack_listen(st, ls, 16)) < 0) {
			fprintf(stderr, "bench_rr: %s\n", ustack_strerror(rc));
			return 1;
		}
		while ((sd = ustack_accept(st, ls, NULL, NULL)) >= 0) {
			serve(sd);
			ustack_close(st, sd);
		}
		return 1;
	}
}
