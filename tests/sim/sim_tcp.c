/*
 * sim_tcp.c - two stacks in one process, joined by memlink through the
 * fault driver (seeded loss, duplication, reordering, corruption, delay),
 * in virtual time. For each seed: one connection, SIM_BYTES each way at
 * once, both sides half-close when done sending and read to EOF; the data
 * must arrive byte-exact, the side that closed first must pass through
 * TIME_WAIT, and at the end both stacks must be empty (no TCB, no packet
 * buffer). The close order alternates with the seed (client first, server
 * first, both at once).
 *
 *   SIM_SEEDS=N   seeds to run (default 20)
 *   SIM_FIRST=S   first seed (default 1)
 *   SIM_BYTES=B   bytes each way (default 1 MiB + 1234)
 *   SIM_LOSS=PPM  loss (default 50000 = 5%); reordering the same, duplication
 *                 and corruption half of it
 *   SIM_VERBOSE=1 one line per seed
 *
 * The clock only moves to the next deadline either stack (or the fault
 * driver) reports; no wall clock is read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/dev.h>
#include <ustack/socket.h>
#include <ustack/ustack.h>

#include "core/stack.h"
#include "proto/tcp_int.h"

#define ADDR_A 0x0a000001u     /* server */
#define ADDR_B 0x0a000002u     /* client */
#define PORT 5001

struct side {
	const char *name;
	struct ustack *st;
	struct ustack_dev *dev;      /* fault wrapper (owns the memlink end) */
	int lsd, sd;
	uint8_t *tx, *rx;            /* what to send, what arrived */
	size_t total, sent, rcvd;
	int connected, shut, eof, closed;
	int close_first;             /* shut down before the peer's EOF */
	int saw_time_wait;
	uint64_t seed;
};

static unsigned long env_ul(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void fill(uint8_t *b, size_t n, uint64_t seed)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(xorshift(&s) >> 29);
}

static int fail(const char *who, const char *what, long v)
{
	fprintf(stderr, "sim_tcp: %s: %s (%ld)\n", who, what, v);
	return -1;
}

static int make_stack(struct side *s, uint32_t addr, uint8_t last_mac,
		      struct ustack_dev *link, uint64_t seed, int opts)
{
	struct ustack_config cfg;
	struct ustack_fault_config fc;
	unsigned long loss = env_ul("SIM_LOSS", 50000);
	int err;

	ustack_fault_config_default(&fc);
	fc.seed = seed;
	fc.loss_ppm = (uint32_t)loss;
	fc.dup_ppm = (uint32_t)(loss / 2);
	fc.reorder_ppm = (uint32_t)loss;
	fc.corrupt_ppm = (uint32_t)(loss / 2);
	fc.delay_us = 2000;
	fc.jitter_us = 500;
	if ((err = ustack_fault_wrap(&s->dev, link, &fc)) < 0)
		return fail(s->name, "fault_wrap", err);
	ustack_config_default(&cfg);
	cfg.addr = addr;
	cfg.mac[5] = last_mac;
	cfg.seed_from_os = 0;
	cfg.seed = seed * 7 + last_mac;
	cfg.log_level = getenv("SIM_LOG") ? atoi(getenv("SIM_LOG")) : USTACK_LOG_ERROR;
	cfg.tcp_msl_us = USTACK_SEC(2);
	cfg.tcp_sack = opts;
	cfg.tcp_timestamps = opts;
	cfg.tcp_wscale = opts;
	cfg.arp_retries = 10;
	if ((err = ustack_create(&s->st, &cfg, s->dev, 0)) < 0)
		return fail(s->name, "ustack_create", err);
	return 0;
}

/* The application side of one stack: accept/connect, send, read, close. */
static int app_step(struct side *s)
{
	struct ustack *st = s->st;
	uint8_t buf[16384];
	ssize_t n;

	if (s->sd < 0 && s->lsd >= 0) {
		struct sockaddr_in a;
		socklen_t al = sizeof(a);

		s->sd = ustack_accept(st, s->lsd, (struct sockaddr *)&a, &al);
		if (s->sd == -EAGAIN)
			s->sd = -1;
		else if (s->sd < 0)
			return fail(s->name, "accept", s->sd);
		else
			ustack_close(st, s->lsd), s->lsd = -1;
	}
	if (s->sd < 0 || s->closed)
		return 0;
	while (s->sent < s->total) {
		n = ustack_send(st, s->sd, s->tx + s->sent, s->total - s->sent, 0);
		if (n == -EAGAIN)
			break;
		if (n < 0)
			return fail(s->name, "send", n);
		s->sent += (size_t)n;
		s->connected = 1;
	}
	if (s->sent == s->total && !s->shut && (s->close_first || s->eof)) {
		if ((n = ustack_shutdown(st, s->sd, SHUT_WR)) < 0)
			return fail(s->name, "shutdown", n);
		s->shut = 1;
	}
	while (!s->eof) {
		n = ustack_recv(st, s->sd, buf, sizeof(buf), 0);
		if (n == -EAGAIN)
			break;
		if (n < 0)
			return fail(s->name, "recv", n);
		if (n == 0) {
			s->eof = 1;
			break;
		}
		if (s->rcvd + (size_t)n > s->total)
			return fail(s->name, "received too much", n);
		memcpy(s->rx + s->rcvd, buf, (size_t)n);
		s->rcvd += (size_t)n;
	}
	{
		struct tcp_conn *c = sock_get(st, s->sd)->pcb;

		if (c && c->state == USTACK_TCP_TIME_WAIT)
			s->saw_time_wait = 1;
	}
	if (s->eof && s->shut && !s->closed) {
		ustack_close(st, s->sd);
		s->closed = 1;
	}
	return 0;
}

static int conns_alive(const struct ustack *st)
{
	return (int)st->tcp.ntcb;
}

static int run_seed(uint64_t seed, size_t bytes, int verbose)
{
	struct side a = {.name = "server", .lsd = -1, .sd = -1, .total = bytes};
	struct side b = {.name = "client", .lsd = -1, .sd = -1, .total = bytes};
	struct ustack_dev *la, *lb;
	struct sockaddr_in sa;
	ustack_time_t now = 0;
	int order = (int)(seed % 3), opts = (seed % 4) != 3, rc = -1, err;
	uint64_t iters = 0;

	a.tx = malloc(bytes);
	a.rx = malloc(bytes);
	b.tx = malloc(bytes);
	b.rx = malloc(bytes);
	if (!a.tx || !a.rx || !b.tx || !b.rx)
		return fail("sim", "malloc", 0);
	fill(a.tx, bytes, seed * 2);
	fill(b.tx, bytes, seed * 2 + 1);
	a.close_first = order != 1;       /* 0: both, 1: client, 2: server */
	b.close_first = order != 2;
	if ((err = ustack_memlink_pair(&la, &lb, 4096)) < 0)
		return fail("sim", "memlink", err);
	if (make_stack(&a, ADDR_A, 1, la, seed * 3 + 1, opts) < 0 ||
	    make_stack(&b, ADDR_B, 2, lb, seed * 3 + 2, opts) < 0)
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(PORT);
	a.lsd = ustack_socket(a.st, AF_INET, SOCK_STREAM, 0);
	if (ustack_bind(a.st, a.lsd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    ustack_listen(a.st, a.lsd, 4) < 0) {
		fail("server", "listen", 0);
		goto out;
	}
	sa.sin_addr.s_addr = htonl(ADDR_A);
	b.sd = ustack_socket(b.st, AF_INET, SOCK_STREAM, 0);
	if ((err = ustack_connect(b.st, b.sd, (struct sockaddr *)&sa,
				  sizeof(sa))) != -EINPROGRESS) {
		fail("client", "connect", err);
		goto out;
	}
	for (;;) {
		ustack_time_t next;
		int frames;

		if (++iters > 50000000ull || now > USTACK_SEC(3600)) {
			fail("sim", "no progress (iterations/virtual time)",
			     (long)(now / 1000000));
			goto out;
		}
		/* The fault wrapper releases due frames into the memlink at
		 * its next call, and a memlink end says nothing through
		 * next_at (only its fd): ask both first, then read both. */
		ustack_set_now(a.st, now);
		ustack_set_now(b.st, now);
		(void)ustack_next_deadline(a.st);
		(void)ustack_next_deadline(b.st);
		frames = ustack_poll_dev(a.st, now, 256);
		frames += ustack_poll_dev(b.st, now, 256);
		ustack_run_timers(a.st, now);
		ustack_run_timers(b.st, now);
		if (app_step(&a) < 0 || app_step(&b) < 0)
			goto out;
		if (a.closed && b.closed && !conns_alive(a.st) &&
		    !conns_alive(b.st))
			break;
		if (frames)
			continue;
		next = ustack_next_deadline(a.st);
		if (ustack_next_deadline(b.st) < next)
			next = ustack_next_deadline(b.st);
		if (next == USTACK_TIME_NEVER) {
			fail("sim", "stuck: nothing scheduled", 0);
			goto out;
		}
		now = next > now ? next : now + 1;
	}
	if (a.rcvd != bytes || memcmp(a.rx, b.tx, bytes) ||
	    b.rcvd != bytes || memcmp(b.rx, a.tx, bytes)) {
		fail("sim", "data mismatch", (long)seed);
		goto out;
	}
	/* The side(s) that closed first went through TIME_WAIT. */
	if ((order == 1 && !b.saw_time_wait) || (order == 2 && !a.saw_time_wait)) {
		fail("sim", "active closer did not reach TIME_WAIT", order);
		goto out;
	}
	if (ustack_pkb_in_use(a.st) || ustack_pkb_in_use(b.st)) {
		fail("sim", "packet buffers still in use", 0);
		goto out;
	}
	if (verbose)
		printf("seed %llu: ok, %zu bytes each way, %.1f s virtual, "
		       "retransmits %llu/%llu, timeouts %llu/%llu, fast "
		       "retransmits %llu/%llu, opts %d, close order %d\n",
		       (unsigned long long)seed, bytes, (double)now / 1e6,
		       (unsigned long long)ustack_stat(a.st, USTACK_STAT_TCP_RETRANS_SEGS),
		       (unsigned long long)ustack_stat(b.st, USTACK_STAT_TCP_RETRANS_SEGS),
		       (unsigned long long)ustack_stat(a.st, USTACK_STAT_TCP_TIMEOUTS),
		       (unsigned long long)ustack_stat(b.st, USTACK_STAT_TCP_TIMEOUTS),
		       (unsigned long long)ustack_stat(a.st, USTACK_STAT_TCP_FAST_RETRANS),
		       (unsigned long long)ustack_stat(b.st, USTACK_STAT_TCP_FAST_RETRANS),
		       opts, order);
	rc = 0;
out:
	if (rc < 0)
		fprintf(stderr, "sim_tcp: seed %llu failed at %.3f s: server "
			"sent %zu rcvd %zu, client sent %zu rcvd %zu\n",
			(unsigned long long)seed, (double)now / 1e6, a.sent,
			a.rcvd, b.sent, b.rcvd);
	ustack_destroy(a.st);
	ustack_destroy(b.st);
	ustack_dev_close(a.dev);
	ustack_dev_close(b.dev);
	free(a.tx);
	free(a.rx);
	free(b.tx);
	free(b.rx);
	return rc;
}

int main(void)
{
	unsigned long seeds = env_ul("SIM_SEEDS", 20), first = env_ul("SIM_FIRST", 1);
	size_t bytes = env_ul("SIM_BYTES", (1u << 20) + 1234);
	int verbose = (int)env_ul("SIM_VERBOSE", 0);
	unsigned long ok = 0;

	for (unsigned long s = first; s < first + seeds; s++)
		if (run_seed(s, bytes, verbose) == 0)
			ok++;
	printf("sim_tcp: %lu/%lu seeds passed, %zu bytes each way\n", ok,
	       seeds, bytes);
	return ok == seeds ? 0 : 1;
}
