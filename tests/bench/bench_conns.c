/*
 * bench_conns.c - the two ends of tests/bench/conns100k.sh (many idle
 * connections in one stack, issue 10 item 4).
 *
 *   bench_conns -u TAP PORT MAX    ustack server on TAP (10.0.0.2, kernel
 *                                  side 10.0.0.1/24): accepts and holds up
 *                                  to MAX connections, never reads
 *   bench_conns -k PORT MAX        the same with kernel sockets
 *   bench_conns -c HOST PORT N M SRC...
 *                                  kernel client: M connections timed from
 *                                  none open, then up to N open, then M
 *                                  more timed with N open; source addresses
 *                                  SRC... in turn; then holds them all
 *                                  until killed (the bulk in child
 *                                  processes of HOLD_PER_CHILD each: the
 *                                  descriptor limit may be 20,000 and not
 *                                  raisable in a container)
 *
 * The servers print "held K rss_kib R heap B stack S" every 10,000
 * accepts and at MAX: R the process's VmRSS, B the heap in use
 * (mallinfo2), S the stack's own count (tcp_conn_mem + socket, summed
 * over the TCBs; ustack only). The ustack server then closes them all
 * ("closed N") and, once the client's FINs have made every one a
 * TIME_WAIT record (or 60 s after the first), prints "tw K rss_kib R
 * heap B tcbs T stack S": K records, T control blocks left (S bytes). The client prints
 * "rate0 X rateN Y" (connections per second). Bounded: every wait has a
 * deadline (the script runs each side under timeout).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ustack/dev.h>
#include <ustack/runtime.h>
#include <ustack/socket.h>
#include <ustack/ustack.h>

#include "core/stack.h"
#include "proto/tcp_int.h"
#include "sock/sock.h"

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define HOLD_PER_CHILD 15000u

/* As many descriptors as allowed, up to n. */
static void raise_nofile(unsigned n)
{
	struct rlimit r;

	getrlimit(RLIMIT_NOFILE, &r);
	if (r.rlim_max != RLIM_INFINITY && r.rlim_max < n) {
		r.rlim_max = n;
		if (setrlimit(RLIMIT_NOFILE, &r) < 0)
			getrlimit(RLIMIT_NOFILE, &r);
	}
	r.rlim_cur = r.rlim_max;
	setrlimit(RLIMIT_NOFILE, &r);
}

static size_t stack_count(struct ustack *st)
{
	size_t n = 0;

	for (struct tcp_conn *c = st->tcp.all; c; c = c->anext)
		n += tcp_conn_mem(c) + (c->sk ? sizeof(struct sock) : 0);
	return n;
}

static void report(unsigned held, struct ustack *st)
{
	printf("held %u rss_kib %ld heap %zu stack %zu\n", held, rss_kib(),
	       mallinfo2().uordblks, st ? stack_count(st) : 0);
	fflush(stdout);
}

/* The stack's drop counters (to stderr): why a run fell short. */
static void report_drops(struct ustack *st)
{
	static uint64_t v[USTACK_STAT__COUNT];

	ustack_stats_snapshot(st, v);
	for (int i = 0; i < USTACK_STAT__COUNT; i++)
		if (v[i] && strncmp(ustack_stat_name((enum ustack_stat_id)i),
				    "eth", 3))
			fprintf(stderr, "%s %llu\n",
				ustack_stat_name((enum ustack_stat_id)i),
				(unsigned long long)v[i]);
}

/*
 * Then the server closes every connection first (the daytime pattern):
 * FIN_WAIT_2 until the client's processes end and their FINs come, then
 * TIME_WAIT, each a compact record once its socket is gone (tcp_tw.c).
 * Prints "closed N" at once and "tw K rss_kib R heap B" when every
 * connection is a record (the script kills the client in between); then
 * serves the stack (ACKs, expiry) until killed.
 */
static void time_wait_phase(struct ustack *st, int ls, unsigned held)
{
	double deadline = 0;
	int reported = 0;

	/* 200 FINs at a time: a burst of 100,000 overflows the TAP's queue
	 * and leaves them to retransmission timers. */
	for (int sd = 0; sd < (int)st->cfg.max_sockets; sd++) {
		if (sd != ls)
			ustack_close(st, sd);   /* -EBADF for free descriptors */
		if (sd % 200 == 0)
			ustack_loop_run_once(st, 10);
	}
	printf("closed %u\n", held);
	fflush(stdout);
	for (;;) {
		ustack_loop_run_once(st, 100);
		if (reported)
			continue;
		/* When every connection is a record (+ the listener), or 60 s
		 * after the first record with what there is. */
		if (st->tcp.tw.n && !deadline)
			deadline = now_s() + 60;
		if ((st->tcp.tw.n && st->tcp.ntcb == st->tcp.tw.n + 1) ||
		    (deadline && now_s() > deadline)) {
			printf("tw %u rss_kib %ld heap %zu tcbs %u stack %zu\n",
			       st->tcp.tw.n, rss_kib(), mallinfo2().uordblks,
			       st->tcp.ntcb - st->tcp.tw.n, stack_count(st));
			fflush(stdout);
			reported = 1;
		}
	}
}

static int ustack_server(const char *tap_name, unsigned port, unsigned max)
{
	struct ustack_tap_config tap = {.name = tap_name, .bring_up = 1};
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};
	struct ustack_config cfg;
	struct ustack_dev *dev;
	struct ustack *st;
	char err[256];
	struct timeval tv = {.tv_sec = 5};
	unsigned held = 0;
	int ls, rc;

	ustack_parse_ip4("10.0.0.1", &tap.host_addr);
	tap.host_prefix_len = 24;
	if (ustack_tap_open(&dev, &tap, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_conns: %s\n", err);
		return 1;
	}
	ustack_config_default(&cfg);
	cfg.max_sockets = max + 64;
	cfg.tcp_max_conns = 2 * max + 64;
	if ((rc = ustack_create(&st, &cfg, dev, ustack_clock_monotonic(NULL))) < 0 ||
	    (rc = ustack_loop_attach(st, NULL, NULL)) < 0) {
		fprintf(stderr, "bench_conns: %s\n", ustack_strerror(rc));
		return 1;
	}
	if ((ls = ustack_socket(st, AF_INET, SOCK_STREAM, 0)) < 0 ||
	    ustack_bind(st, ls, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    ustack_listen(st, ls, 4096) < 0 ||
	    ustack_setsockopt(st, ls, SOL_SOCKET, SO_RCVTIMEO, &tv,
			      sizeof(tv)) < 0) {
		fprintf(stderr, "bench_conns: listen failed\n");
		return 1;
	}
	report(0, st);
	while (held < max) {
		int sd = ustack_accept(st, ls, NULL, NULL);

		if (sd == -EAGAIN || sd == -ETIMEDOUT) {
			/* nothing for 5 s: say how far it got, and why */
			fprintf(stderr, "bench_conns: held %u, waiting\n", held);
			report_drops(st);
			continue;
		}
		if (sd < 0) {
			fprintf(stderr, "bench_conns: accept: %s\n",
				ustack_strerror(sd));
			break;
		}
		if (++held % 10000 == 0 || held == max)
			report(held, st);
	}
	time_wait_phase(st, ls, held);
	return 0;
}

/* Children share the listener and hold HOLD_PER_CHILD each (the
 * descriptor limit); each accept is one byte up a pipe to the parent,
 * which counts and reports. */
static int kernel_server(unsigned port, unsigned max)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1, up[2];
	unsigned held = 0, kids = max / HOLD_PER_CHILD + 2;

	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(ls, 4096) < 0 || pipe(up) < 0) {
		perror("bench_conns: listen");
		return 1;
	}
	for (unsigned k = 0; k < kids; k++) {
		pid_t pid = fork();

		if (pid < 0)
			return 1;
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			raise_nofile(HOLD_PER_CHILD + 64);
			for (unsigned mine = 0; mine < HOLD_PER_CHILD; mine++) {
				if (accept(ls, NULL, NULL) < 0 ||
				    write(up[1], "x", 1) != 1)
					_exit(1);
			}
			for (;;)
				pause();
		}
	}
	report(0, NULL);
	while (held < max) {
		char b;

		if (read(up[0], &b, 1) != 1)
			break;
		if (++held % 10000 == 0 || held == max)
			report(held, NULL);
	}
	for (;;)
		pause();
	return 0;
}

/* Connection idx from source address src[idx % nsrc], port
 * 1024 + idx / nsrc: explicit ports, so the kernel's ephemeral port search
 * (slow once tens of thousands are in use) stays out of the measurement. */
static int open_one(struct sockaddr_in *dst, char **src, int nsrc,
		    unsigned idx)
{
	struct sockaddr_in s = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		return -1;
	inet_pton(AF_INET, src[idx % (unsigned)nsrc], &s.sin_addr);
	s.sin_port = htons((uint16_t)(1024 + idx / (unsigned)nsrc));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&s, sizeof(s)) < 0 ||
	    connect(fd, (struct sockaddr *)dst, sizeof(*dst)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Open connections *idx on until *idx reaches k; -1 after 100 failures
 * (a failed index is skipped). */
static int open_upto(struct sockaddr_in *d, char **src, int nsrc,
		     unsigned *idx, unsigned k, unsigned *fails)
{
	while (*idx < k) {
		if (open_one(d, src, nsrc, *idx) < 0) {
			if (++*fails <= 5)
				fprintf(stderr, "bench_conns: connection %u: "
					"%s\n", *idx, strerror(errno));
			if (*fails > 100)
				return -1;
		}
		++*idx;
	}
	return 0;
}

static int client(const char *host, unsigned port, unsigned n, unsigned m,
		  char **src, int nsrc)
{
	struct sockaddr_in d = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};
	unsigned opened = 0, fails = 0, kids = 0;
	double t0, rate0, rate_n;
	int done[2];

	raise_nofile(2 * m + 64);
	inet_pton(AF_INET, host, &d.sin_addr);
	if (pipe(done) < 0)
		return 1;
	t0 = now_s();
	if (open_upto(&d, src, nsrc, &opened, m, &fails) < 0)
		return 1;
	rate0 = m / (now_s() - t0);
	/* The bulk, HOLD_PER_CHILD per child, one child at a time. */
	while (opened < n) {
		unsigned share = n - opened < HOLD_PER_CHILD ? n - opened :
							       HOLD_PER_CHILD;
		pid_t pid = fork();
		char b;

		if (pid < 0)
			return 1;
		if (pid == 0) {
			unsigned mine = opened, f = 0;

			prctl(PR_SET_PDEATHSIG, SIGTERM);
			/* The parent's connections stay open in the parent;
			 * their descriptors here would count against the
			 * limit. */
			for (int fd = 3; fd < getdtablesize(); fd++)
				if (fd != done[1])
					close(fd);
			raise_nofile(share + 64);
			if (open_upto(&d, src, nsrc, &mine, opened + share,
				      &f) < 0)
				_exit(1);
			if (write(done[1], "x", 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
		kids++;
		if (read(done[0], &b, 1) != 1) {
			fprintf(stderr, "bench_conns: a holder failed\n");
			return 1;
		}
		opened += share;
	}
	t0 = now_s();
	if (open_upto(&d, src, nsrc, &opened, n + m, &fails) < 0)
		return 1;
	rate_n = m / (now_s() - t0);
	printf("rate0 %.0f rateN %.0f open %u failures %u holders %u\n",
	       rate0, rate_n, opened, fails, kids);
	fflush(stdout);
	for (;;)
		pause();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "-u"))
		return ustack_server(argv[2], (unsigned)atoi(argv[3]),
				     (unsigned)atoi(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "-k"))
		return kernel_server((unsigned)atoi(argv[2]),
				     (unsigned)atoi(argv[3]));
	if (argc >= 7 && !strcmp(argv[1], "-c"))
		return client(argv[2], (unsigned)atoi(argv[3]),
			      (unsigned)atoi(argv[4]), (unsigned)atoi(argv[5]),
			      argv + 6, argc - 6);
	fprintf(stderr, "usage: bench_conns -u TAP PORT MAX | -k PORT MAX | "
			"-c HOST PORT N M SRC...\n");
	return 2;
}
