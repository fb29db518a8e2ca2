/*
 * bench_syn.c - the stack's own cost of a SYN flood, without the TAP:
 * SYNs from random sources to a listener whose SYN queue is full, read
 * through ustack_poll_dev() in batches from a device that hands out
 * pre-built frames, each answered with a SYN cookie through the gateway.
 *
 *   bench_syn [-n SYNS] [-b BUDGET]
 *        SYNS frames (default 1000000), BUDGET frames per poll pass
 *        (default 64, the runtimes' RT_DEV_BUDGET). Prints ns per SYN and
 *        the SYN-ACKs sent. Under callgrind (tests/bench/callgrind.sh or
 *        `valgrind --tool=callgrind build/tests/bench_syn -n 100000`)
 *        the instruction count per SYN is a figure that does not wobble.
 *
 * The clock moves 5 us per SYN (200k SYN/s), so cookie timestamps,
 * ISN clocks and timers see a flood's time, not a frozen one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ustack/dev.h>
#include <ustack/socket.h>
#include <ustack/ustack.h>

#include "lib/pkt.h"
#include "wire/tcp.h"

#define NFRAMES 4096
#define SYN_LEN 66 /* 14 + 20 + 20 + 12 (MSS, SACK-permitted, NOP, WS) */

static const uint8_t stack_mac[6] = {2, 0, 0, 0, 0, 2};
static const uint8_t gw_mac[6] = {2, 0, 0, 0, 0, 1};

struct syn_dev {
	struct ustack_dev base;
	uint8_t (*frames)[SYN_LEN];
	uint64_t left, next, sent;
	uint8_t arp[42];
	int arp_pending;
};

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A SYN from a random source and port to port 13, with the options a
 * Linux client sends (MSS 1460, SACK permitted, NOP, WS 7, NOP NOP). */
static void make_syn(uint8_t *f, uint64_t *rs)
{
	static const uint8_t opt[12] = {2, 4, 5, 0xb4, 4, 2, 1, 3, 3, 7, 1, 1};
	uint64_t r = xs(rs);
	struct pkt_tcp t = {
		.sip = 0x40000000u | ((uint32_t)r & 0x3fffffffu),
		.dip = 0x0a000002u,
		.sport = (uint16_t)(1024 + (r >> 32) % 60000),
		.dport = 13,
		.seq = (uint32_t)(r >> 16),
		.flags = TCP_SYN,
		.win = 64240,
		.opts = opt,
		.optlen = sizeof(opt),
	};

	pkt_tcp(f, stack_mac, gw_mac, &t);
}

static int dev_transmit(struct ustack_dev *d, const void *f, size_t len,
			ustack_time_t now)
{
	(void)f, (void)len, (void)now;
	((struct syn_dev *)d)->sent++;
	return 0;
}

static long dev_receive(struct ustack_dev *d, void *buf, size_t cap,
			ustack_time_t now)
{
	struct syn_dev *s = (struct syn_dev *)d;

	(void)now;
	if (s->arp_pending) {
		s->arp_pending = 0;
		memcpy(buf, s->arp, sizeof(s->arp));
		return sizeof(s->arp);
	}
	if (!s->left || cap < SYN_LEN)
		return 0;
	s->left--;
	memcpy(buf, s->frames[s->next++ % NFRAMES], SYN_LEN);
	return SYN_LEN;
}

static void dev_close(struct ustack_dev *d)
{
	(void)d;
}

static const struct ustack_dev_ops syn_ops = {
	.transmit = dev_transmit,
	.receive = dev_receive,
	.close = dev_close,
};

int main(int argc, char **argv)
{
	static struct syn_dev d;
	struct ustack_config cfg;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct ustack *st;
	struct timespec t0, t1;
	uint64_t n = 1000000, rs = 88172645463325252ull;
	ustack_time_t now = USTACK_SEC(1);
	int budget = 64, sd;
	double ns;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "-n"))
			n = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "-b"))
			budget = atoi(argv[i + 1]);
	}
	d.frames = malloc(sizeof(*d.frames) * NFRAMES);
	if (!d.frames || budget < 1)
		return 1;
	for (int i = 0; i < NFRAMES; i++)
		make_syn(d.frames[i], &rs);
	d.base.ops = &syn_ops;
	d.base.kind = "bench";
	d.base.mtu = 1500;
	/* the gateway announces itself: an ARP request for us */
	pkt_arp(d.arp, ETH_BCAST_MAC, gw_mac, 1, gw_mac, 0x0a000001u, NULL,
		0x0a000002u);
	d.arp_pending = 1;
	ustack_config_default(&cfg);
	memcpy(cfg.mac, stack_mac, 6);
	cfg.addr = 0x0a000002u;
	cfg.prefix_len = 24;
	cfg.gateway = 0x0a000001u;
	cfg.seed_from_os = 0;
	cfg.seed = 1;
	if (ustack_create(&st, &cfg, &d.base, now) < 0)
		return 1;
	sd = ustack_socket(st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	sin.sin_port = htons(13);
	if (sd < 0 || ustack_bind(st, sd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    ustack_listen(st, sd, 128))
		return 1;
	ustack_poll_dev(st, now, 1); /* the ARP */
	d.sent = 0;
	d.left = n;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (d.left) {
		uint64_t before = d.left;

		ustack_poll_dev(st, now, budget);
		now += (before - d.left) * 5;
		ustack_run_timers(st, now);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	printf("syns=%llu synacks=%llu cookies=%llu ns_per_syn=%.1f\n",
	       (unsigned long long)n, (unsigned long long)d.sent,
	       (unsigned long long)ustack_stat(st, USTACK_STAT_TCP_SYNCOOKIES_SENT),
	       ns / (double)n);
	ustack_close(st, sd);
	ustack_destroy(st);
	free(d.frames);
	return 0;
}
