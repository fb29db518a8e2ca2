/*
 * bench_tcp.c - a deterministic TCP benchmark: two stacks in one process
 * joined by memlink, in virtual time, so the same build gives the same
 * frames and (under callgrind) the same instruction counts on every run.
 *
 *   bench_tcp [-m MB] [-n CONNS] [-r EXCHANGES] [-M MTU] [-o] [-p PHASES]
 *
 *   bulk   the client sends MB MiB (default 64) to the server, which reads
 *          and discards; connection set-up and teardown are outside the
 *          measured function (measure_bulk).
 *   conns  CONNS (default 1000) times: connect, accept, the server sends a
 *          daytime line and closes, the client reads to EOF and closes
 *          (measure_conns).
 *   rr     EXCHANGES (default 1000) request/response exchanges on one
 *          keep-alive connection: the client sends a RR_REQ-byte request,
 *          the server reads it and answers RR_RESP bytes, the client reads
 *          them (measure_rr; set-up and teardown outside it).
 *   mem    memory (malloc'd bytes, mallinfo2): of one stack with the
 *          default configuration, and per idle established connection end
 *          (CONNS connections open at once, both ends counted, each end a
 *          socket and its TCB; before any data moved, and after 1 KiB each
 *          way and read, when the rings have been allocated).
 *
 * -w N first opens and closes N connections (the daytime loop, not
 * measured), leaving N TIME_WAIT timers in the server's heap for the bulk
 * phase to work next to: timer costs that grow with the heap show there.
 *
 * -o lets memlink advertise checksum offload and TSO/GRO, so the stacks
 * hand each other 64 KiB super-frames with partial checksums, as over a
 * TAP device opened with IFF_VNET_HDR. -p picks phases ("bulk,conns").
 *
 * Wall-clock numbers are printed for orientation only; the figures that do
 * not wobble are instruction counts: `make bench-callgrind` runs this under
 * valgrind --tool=callgrind with collection on inside measure_* only and
 * divides by the bytes and segments printed here (tests/bench/callgrind.sh).
 *
 * The link is ideal (no loss, no delay) and the clock moves BENCH_TICK_US
 * per pass, or straight to the next deadline when both stacks are idle.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ustack/dev.h>
#include <ustack/socket.h>
#include <ustack/ustack.h>

#define ADDR_SRV 0x0a000001u
#define ADDR_CLI 0x0a000002u
#define PORT_BULK 5001
#define PORT_DAYTIME 13
#define PORT_RR 8080
#define RR_REQ 100
#define RR_RESP 1024
#define BENCH_TICK_US 1
#define BENCH_BUDGET 64
#define CHUNK (256u << 10)
#define MAX_PASSES 400000000ull

struct bench {
	struct ustack *srv, *cli;
	struct ustack_dev *dsrv, *dcli;
	ustack_time_t now;
	uint8_t *buf;             /* CHUNK bytes: what is sent, where it lands */
	int offload;
	uint16_t mtu;
	uint64_t passes;
};

static int die(const char *what, long v)
{
	fprintf(stderr, "bench_tcp: %s (%ld)\n", what, v);
	exit(1);
}

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct ustack *make_stack(struct bench *b, struct ustack_dev *dev,
				 uint32_t addr, uint8_t last_mac)
{
	struct ustack_config cfg;
	struct ustack *st;
	int err;

	ustack_config_default(&cfg);
	cfg.addr = addr;
	cfg.mac[5] = last_mac;
	cfg.mtu = b->mtu;
	cfg.seed_from_os = 0;
	cfg.seed = 42 + last_mac;
	cfg.log_level = USTACK_LOG_ERROR;
	cfg.tcp_max_conns = 65536;
	if ((err = ustack_create(&st, &cfg, dev, b->now)) < 0)
		die("ustack_create", err);
	return st;
}

static void bench_init(struct bench *b)
{
	int err;

	if ((err = ustack_memlink_pair(&b->dsrv, &b->dcli, 4096)) < 0)
		die("memlink", err);
	b->dsrv->mtu = b->dcli->mtu = b->mtu;
	if (b->offload) {
		if ((err = ustack_memlink_offload(b->dsrv, USTACK_DEV_OFFLOADS_ALL)) < 0 ||
		    (err = ustack_memlink_offload(b->dcli, USTACK_DEV_OFFLOADS_ALL)) < 0)
			die("memlink offload", err);
	}
	b->now = USTACK_SEC(1);
	b->srv = make_stack(b, b->dsrv, ADDR_SRV, 1);
	b->cli = make_stack(b, b->dcli, ADDR_CLI, 2);
	if ((b->buf = malloc(CHUNK)) == NULL)
		die("malloc", 0);
	for (uint32_t i = 0; i < CHUNK; i++)
		b->buf[i] = (uint8_t)(i * 7 + (i >> 9));
}

static void bench_fini(struct bench *b)
{
	ustack_destroy(b->srv);
	ustack_destroy(b->cli);
	ustack_dev_close(b->dsrv);
	ustack_dev_close(b->dcli);
	free(b->buf);
}

/* One pass: both devices read, both timer sets run. Returns frames moved. */
static int pass(struct bench *b)
{
	int n;

	if (++b->passes > MAX_PASSES)
		die("no progress", (long)b->passes);
	b->now += BENCH_TICK_US;
	n = ustack_poll_dev(b->srv, b->now, BENCH_BUDGET);
	n += ustack_poll_dev(b->cli, b->now, BENCH_BUDGET);
	ustack_run_timers(b->srv, b->now);
	ustack_run_timers(b->cli, b->now);
	return n;
}

/* Nothing moved: jump to the earliest deadline (a delayed ACK, an RTO).
 * Returns 0 when there is none: both stacks are done. */
static int idle_quiet(struct bench *b)
{
	ustack_time_t a = ustack_next_deadline(b->srv);
	ustack_time_t c = ustack_next_deadline(b->cli);
	ustack_time_t t = a < c ? a : c;

	if (t == USTACK_TIME_NEVER)
		return 0;
	if (t > b->now)
		b->now = t - BENCH_TICK_US;
	return 1;
}

/* The same where something must still happen. */
static void idle(struct bench *b)
{
	if (!idle_quiet(b))
		die("stalled: no frame and no timer", 0);
}

static void sin_of(struct sockaddr_in *sa, uint32_t addr, uint16_t port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(addr);
	sa->sin_port = htons(port);
}

static int listen_on(struct ustack *st, uint16_t port, int backlog)
{
	struct sockaddr_in sa;
	int one = 1, sd = ustack_socket(st, AF_INET, SOCK_STREAM, 0);

	sin_of(&sa, 0, port);
	ustack_setsockopt(st, sd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sd < 0 || ustack_bind(st, sd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    ustack_listen(st, sd, backlog) < 0)
		die("listen", sd);
	return sd;
}

/* Connect cli -> srv:port and accept; returns both descriptors. */
static void open_pair(struct bench *b, int lsd, uint16_t port, int *csd,
		      int *ssd)
{
	struct sockaddr_in sa;
	int r;

	*csd = ustack_socket(b->cli, AF_INET, SOCK_STREAM, 0);
	sin_of(&sa, ADDR_SRV, port);
	r = ustack_connect(b->cli, *csd, (struct sockaddr *)&sa, sizeof(sa));
	if (r != -EINPROGRESS && r != 0)
		die("connect", r);
	for (;;) {
		int moved = pass(b);

		*ssd = ustack_accept(b->srv, lsd, NULL, NULL);
		if (*ssd >= 0)
			return;
		if (*ssd != -EAGAIN)
			die("accept", *ssd);
		if (!moved)
			idle(b);
	}
}

struct bulk_result {
	uint64_t bytes, passes;
	uint64_t seg_cli, seg_srv, frames;
};

/* The measured part of bulk: move `total` bytes from csd to ssd. */
__attribute__((noinline))
static void measure_bulk(struct bench *b, int csd, int ssd, uint64_t total,
			 struct bulk_result *res)
{
	uint64_t sent = 0, rcvd = 0;

	while (rcvd < total) {
		int progress = 0, moved;
		ssize_t n;

		while (sent < total) {
			size_t want = total - sent < CHUNK ? (size_t)(total - sent)
							   : CHUNK;

			n = ustack_send(b->cli, csd, b->buf, want, 0);
			if (n == -EAGAIN)
				break;
			if (n < 0)
				die("send", (long)n);
			sent += (uint64_t)n;
			progress = 1;
		}
		moved = pass(b);
		while ((n = ustack_recv(b->srv, ssd, b->buf, CHUNK, 0)) > 0) {
			rcvd += (uint64_t)n;
			progress = 1;
		}
		if (n == 0 || (n < 0 && n != -EAGAIN))
			die("recv", (long)n);
		if (!moved && !progress)
			idle(b);
	}
	res->bytes = rcvd;
}

static void close_and_drain(struct bench *b, int csd, int ssd)
{
	uint8_t tmp[256];
	int done = 0;

	ustack_shutdown(b->cli, csd, SHUT_WR);
	for (int i = 0; i < 100000 && !done; i++) {
		ssize_t n = ustack_recv(b->srv, ssd, tmp, sizeof(tmp), 0);

		if (n == 0)
			done = 1;
		if (!pass(b))
			idle(b);
	}
	ustack_close(b->srv, ssd);
	ustack_close(b->cli, csd);
	for (int i = 0; i < 100000; i++)
		if (!pass(b) && !idle_quiet(b))
			break;
}

static void run_bulk(struct bench *b, uint64_t mb)
{
	struct bulk_result r;
	uint64_t s0[USTACK_STAT__COUNT], c0[USTACK_STAT__COUNT];
	uint64_t s1[USTACK_STAT__COUNT], c1[USTACK_STAT__COUNT];
	int lsd, csd, ssd;
	uint64_t p0;
	double t0, t1;

	memset(&r, 0, sizeof(r));
	lsd = listen_on(b->srv, PORT_BULK, 4);
	open_pair(b, lsd, PORT_BULK, &csd, &ssd);
	ustack_stats_snapshot(b->srv, s0);
	ustack_stats_snapshot(b->cli, c0);
	p0 = b->passes;
	t0 = wall_s();
	measure_bulk(b, csd, ssd, mb << 20, &r);
	t1 = wall_s();
	ustack_stats_snapshot(b->srv, s1);
	ustack_stats_snapshot(b->cli, c1);
	r.passes = b->passes - p0;
	r.seg_cli = c1[USTACK_STAT_TCP_TX] - c0[USTACK_STAT_TCP_TX];
	r.seg_srv = s1[USTACK_STAT_TCP_TX] - s0[USTACK_STAT_TCP_TX];
	r.frames = c1[USTACK_STAT_ETH_TX] - c0[USTACK_STAT_ETH_TX] +
		   s1[USTACK_STAT_ETH_TX] - s0[USTACK_STAT_ETH_TX];
	close_and_drain(b, csd, ssd);
	ustack_close(b->srv, lsd);
	/* One line, key=value, for callgrind.sh and people. */
	printf("bulk bytes=%llu mss_segs=%llu data_segs=%llu ack_segs=%llu "
	       "frames=%llu passes=%llu retrans=%llu wall_ms=%.1f MBps=%.0f\n",
	       (unsigned long long)r.bytes,
	       (unsigned long long)(r.bytes + (b->mtu - 53) - 1) / (b->mtu - 52),
	       (unsigned long long)r.seg_cli, (unsigned long long)r.seg_srv,
	       (unsigned long long)r.frames, (unsigned long long)r.passes,
	       (unsigned long long)(c1[USTACK_STAT_TCP_RETRANS_SEGS] -
				    c0[USTACK_STAT_TCP_RETRANS_SEGS]),
	       (t1 - t0) * 1e3, (double)r.bytes / 1048576.0 / (t1 - t0));
}

/* Drive until `want` bytes have arrived on sd of st (into b->buf). */
static void rr_read(struct bench *b, struct ustack *st, int sd, size_t want)
{
	size_t have = 0;

	while (have < want) {
		ssize_t n = ustack_recv(st, sd, b->buf + have, want - have, 0);

		if (n > 0) {
			have += (size_t)n;
			continue;
		}
		if (n != -EAGAIN)
			die("rr recv", (long)n);
		if (!pass(b))
			idle(b);
	}
}

/* The measured part of rr: `n` exchanges, each a request the server reads
 * whole, then a response the client reads whole. */
__attribute__((noinline))
static void measure_rr(struct bench *b, int csd, int ssd, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (ustack_send(b->cli, csd, b->buf, RR_REQ, 0) != RR_REQ)
			die("rr send request", 0);
		rr_read(b, b->srv, ssd, RR_REQ);
		if (ustack_send(b->srv, ssd, b->buf, RR_RESP, 0) != RR_RESP)
			die("rr send response", 0);
		rr_read(b, b->cli, csd, RR_RESP);
	}
}

static void run_rr(struct bench *b, unsigned n)
{
	int lsd = listen_on(b->srv, PORT_RR, 4), csd, ssd;
	uint64_t p0, f0;
	double t0, t1;

	open_pair(b, lsd, PORT_RR, &csd, &ssd);
	p0 = b->passes;
	f0 = ustack_stat(b->srv, USTACK_STAT_ETH_TX) +
	     ustack_stat(b->cli, USTACK_STAT_ETH_TX);
	t0 = wall_s();
	measure_rr(b, csd, ssd, n);
	t1 = wall_s();
	printf("rr exchanges=%u req=%u resp=%u frames=%llu passes=%llu "
	       "wall_ms=%.1f per_s=%.0f\n", n, RR_REQ, RR_RESP,
	       (unsigned long long)(ustack_stat(b->srv, USTACK_STAT_ETH_TX) +
				    ustack_stat(b->cli, USTACK_STAT_ETH_TX) - f0),
	       (unsigned long long)(b->passes - p0), (t1 - t0) * 1e3,
	       n / (t1 - t0));
	close_and_drain(b, csd, ssd);
	ustack_close(b->srv, lsd);
}

/* Drive until the server has a connection to accept. */
static int accept_one(struct bench *b, int lsd)
{
	for (;;) {
		int moved = pass(b), sd = ustack_accept(b->srv, lsd, NULL, NULL);

		if (sd >= 0)
			return sd;
		if (sd != -EAGAIN)
			die("accept", sd);
		if (!moved)
			idle(b);
	}
}

/* Client reads to EOF and closes; drive until no frame moves (the link is
 * instant, so its last ACK has gone and been taken). */
static void client_finish(struct bench *b, int csd)
{
	uint8_t tmp[128];

	for (;;) {
		ssize_t n = ustack_recv(b->cli, csd, tmp, sizeof(tmp), 0);

		if (n == 0)
			break;
		if (n < 0 && n != -EAGAIN)
			die("daytime recv", (long)n);
		if (n < 0 && !pass(b))
			idle(b);
	}
	ustack_close(b->cli, csd);
	while (pass(b))
		;
}

static void conns_loop(struct bench *b, int lsd, uint16_t port,
			       unsigned conns)
{
	static const char line[] = "Thursday, November 26, 2026 12:00:00-UTC\r\n";
	struct sockaddr_in sa;

	sin_of(&sa, ADDR_SRV, port);
	for (unsigned i = 0; i < conns; i++) {
		int csd = ustack_socket(b->cli, AF_INET, SOCK_STREAM, 0), ssd, r;

		r = ustack_connect(b->cli, csd, (struct sockaddr *)&sa, sizeof(sa));
		if (r != -EINPROGRESS && r != 0)
			die("connect", r);
		ssd = accept_one(b, lsd);
		if (ustack_send(b->srv, ssd, line, sizeof(line) - 1, 0) !=
		    (ssize_t)sizeof(line) - 1)
			die("daytime send", 0);
		ustack_close(b->srv, ssd);
		client_finish(b, csd);
	}
}

__attribute__((noinline))
static void measure_conns(struct bench *b, int lsd, unsigned conns)
{
	conns_loop(b, lsd, PORT_DAYTIME, conns);
}

static void run_conns(struct bench *b, unsigned conns)
{
	int lsd = listen_on(b->srv, PORT_DAYTIME, 128);
	uint64_t p0 = b->passes, f0 = ustack_stat(b->srv, USTACK_STAT_ETH_TX) +
				       ustack_stat(b->cli, USTACK_STAT_ETH_TX);
	double t0 = wall_s(), t1;

	measure_conns(b, lsd, conns);
	t1 = wall_s();
	printf("conns conns=%u frames=%llu passes=%llu wall_ms=%.1f per_s=%.0f\n",
	       conns,
	       (unsigned long long)(ustack_stat(b->srv, USTACK_STAT_ETH_TX) +
				    ustack_stat(b->cli, USTACK_STAT_ETH_TX) - f0),
	       (unsigned long long)(b->passes - p0), (t1 - t0) * 1e3,
	       conns / (t1 - t0));
	ustack_close(b->srv, lsd);
}

static long long heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (long long)mi.uordblks + (long long)mi.hblkhd;
}

/* One more stack on its own memlink end, as created: tables and pool. */
static long long stack_bytes(struct bench *b)
{
	struct ustack_dev *x, *y;
	struct ustack *st;
	long long h0, h1;

	if (ustack_memlink_pair(&x, &y, 0) < 0)
		die("memlink", 0);
	h0 = heap_bytes();
	st = make_stack(b, x, ADDR_SRV + 10, 9);
	h1 = heap_bytes();
	ustack_destroy(st);
	ustack_dev_close(x);
	ustack_dev_close(y);
	return h1 - h0;
}

static void run_mem(struct bench *b, unsigned n)
{
	int lsd = listen_on(b->srv, PORT_BULK + 1, 128), *cs, *ss;
	long long h0, h1, h2;
	char buf[1024];

	cs = calloc(n, sizeof(*cs));
	ss = calloc(n, sizeof(*ss));
	if (!cs || !ss)
		die("calloc", 0);
	memset(buf, 'x', sizeof(buf));
	h0 = heap_bytes();
	for (unsigned i = 0; i < n; i++)
		open_pair(b, lsd, PORT_BULK + 1, &cs[i], &ss[i]);
	while (pass(b))
		;
	h1 = heap_bytes();
	for (unsigned i = 0; i < n; i++) {
		ustack_send(b->cli, cs[i], buf, sizeof(buf), 0);
		ustack_send(b->srv, ss[i], buf, sizeof(buf), 0);
	}
	for (int k = 0; k < 10000; k++)
		if (!pass(b) && !idle_quiet(b))
			break;
	for (unsigned i = 0; i < n; i++) {
		ustack_recv(b->cli, cs[i], buf, sizeof(buf), 0);
		ustack_recv(b->srv, ss[i], buf, sizeof(buf), 0);
	}
	h2 = heap_bytes();
	printf("mem stack=%lld conns=%u idle_per_end=%lld used_per_end=%lld\n",
	       stack_bytes(b), n, (h1 - h0) / (2 * (long long)n),
	       (h2 - h0) / (2 * (long long)n));
	for (unsigned i = 0; i < n; i++) {
		ustack_close(b->cli, cs[i]);
		ustack_close(b->srv, ss[i]);
	}
	ustack_close(b->srv, lsd);
	for (int k = 0; k < 100000; k++)
		if (!pass(b) && !idle_quiet(b))
			break;
	free(cs);
	free(ss);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_tcp [-m MB] [-n CONNS] [-r EXCHANGES] "
		"[-M MTU] [-o] [-w N] [-p bulk,conns,rr,mem]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bench b;
	unsigned long mb = 64, conns = 1000, mtu = 1500, waits = 0, rr = 1000;
	const char *phases = "bulk,conns";
	int c;

	memset(&b, 0, sizeof(b));
	while ((c = getopt(argc, argv, "m:n:M:op:r:w:")) != -1) {
		switch (c) {
		case 'm': mb = strtoul(optarg, NULL, 0); break;
		case 'n': conns = strtoul(optarg, NULL, 0); break;
		case 'M': mtu = strtoul(optarg, NULL, 0); break;
		case 'o': b.offload = 1; break;
		case 'p': phases = optarg; break;
		case 'r': rr = strtoul(optarg, NULL, 0); break;
		case 'w': waits = strtoul(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (mb == 0 || mb > 65536 || conns > 60000 || waits > 60000 ||
	    rr == 0 || rr > 10000000 || mtu < 576 || mtu > 65535)
		usage();
	b.mtu = (uint16_t)mtu;
	bench_init(&b);
	printf("bench_tcp mtu=%u offload=%d\n", b.mtu, b.offload);
	if (waits) {
		int lsd = listen_on(b.srv, PORT_DAYTIME + 1000, 128);

		conns_loop(&b, lsd, PORT_DAYTIME + 1000, (unsigned)waits);
		ustack_close(b.srv, lsd);
	}
	if (strstr(phases, "bulk"))
		run_bulk(&b, mb);
	if (strstr(phases, "conns"))
		run_conns(&b, (unsigned)conns);
	if (strstr(phases, "rr"))
		run_rr(&b, (unsigned)rr);
	if (strstr(phases, "mem"))
		run_mem(&b, (unsigned)conns);
	bench_fini(&b);
	return 0;
}
