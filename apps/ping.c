/*
 * ping.c - ustack-ping: the stack pings a host through an ICMP echo socket
 * (socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP), Linux ping-socket style: we
 * write the echo header and payload, the stack sets the identifier and
 * checksum and hands us matching replies). Output and summary follow
 * iputils ping. Event loop: ustack_poll() drives the stack between sends.
 *
 * Exit: 0 if any reply came back, 1 if none, 2 on a usage error.
 *
 * May touch: its stack through the public API (an ICMP echo socket), stdout
 * and stderr, the clock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/app.h"
#include "lib/ctl.h"

#define ICMP_HDR 8
#define MAX_DATA 65507        /* 65535 - 20 (IP) - 8 (ICMP) */
#define SEQ_SPACE 65536
#define FLOOD_GAP_US 10000    /* -i 0: next request after a reply or 10 ms */

struct ping {
	struct app a;
	uint32_t dst;
	const char *dst_name;
	uint64_t count;            /* 0: until interrupted */
	uint32_t size;             /* payload bytes (-s) */
	ustack_time_t interval;    /* -i */
	ustack_time_t wait;        /* -W: how long to wait for the last replies */
	int quiet;                 /* -q */
	int sd;
	uint64_t ntx, nrx, ndup, nerr;
	ustack_time_t *sent_at;    /* by sequence number, 0 = not outstanding */
	uint8_t *seen;             /* replies already counted, by sequence */
	double min, max, sum, sum2;/* RTTs in ms */
	uint8_t *pkt, *rbuf;
	ustack_time_t start, last_tx;
};

/* ---- options --------------------------------------------------------------- */

static int ping_opt(void *ctx, int c, const char *arg)
{
	struct ping *p = ctx;
	uint64_t v;

	switch (c) {
	case 'c':
		if (app_parse_u64(arg, 1, UINT32_MAX, &p->count) < 0)
			goto bad;
		return 0;
	case 's':
		if (app_parse_u64(arg, 0, MAX_DATA, &v) < 0)
			goto bad;
		p->size = (uint32_t)v;
		return 0;
	case 'i':
		if (app_parse_seconds(arg, &p->interval) < 0)
			goto bad;
		return 0;
	case 'W':
		if (app_parse_seconds(arg, &p->wait) < 0 || p->wait == 0)
			goto bad;
		return 0;
	case 'q':
		p->quiet = 1;
		return 0;
	}
bad:
	app_usage_error(p->a.desc, "invalid argument for -%c: '%s'", c,
			arg ? arg : "");
	return -1;
}

static const struct app_desc ping_desc = {
	.name = "ustack-ping",
	.synopsis = "[options] HOST",
	.summary = "Send ICMP echo requests from the ustack stack to HOST (an "
		   "IPv4 address)\nand print the replies, as ping(8) does.",
	.help = "  -c COUNT             stop after COUNT requests (default: "
		"until SIGINT)\n"
		"  -s SIZE              payload bytes, 0..65507 (default 56); "
		"large sizes\n"
		"                       are fragmented by the stack\n"
		"  -i INTERVAL          seconds between requests, fractions "
		"allowed\n"
		"                       (default 1; 0: as soon as the last "
		"reply came, or\n"
		"                       after 10 ms)\n"
		"  -W TIMEOUT           seconds to wait for replies after the "
		"last request\n"
		"                       (default 5)\n"
		"  -q                   quiet: only the summary\n"
		"Exit status: 0 if any reply came back, 1 if none, 2 on a "
		"usage error.\n",
	.shortopts = "c:s:i:W:q",
	.min_args = 1,
	.max_args = 1,
};

/* ---- sending and receiving ------------------------------------------------- */

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void send_one(struct ping *p)
{
	uint16_t seq = (uint16_t)(p->ntx + 1);
	size_t len = ICMP_HDR + p->size;
	struct sockaddr_in sin;
	ssize_t n;
	uint16_t c;

	p->pkt[0] = 8; /* echo request */
	p->pkt[1] = 0;
	p->pkt[2] = p->pkt[3] = 0;
	p->pkt[4] = p->pkt[5] = 0; /* identifier: the stack's */
	p->pkt[6] = (uint8_t)(seq >> 8);
	p->pkt[7] = (uint8_t)seq;
	c = csum(p->pkt, len);
	p->pkt[2] = (uint8_t)(c >> 8);
	p->pkt[3] = (uint8_t)c;
	app_sockaddr(&sin, p->dst, 0);
	p->ntx++;
	p->last_tx = app_now();
	p->sent_at[seq] = p->last_tx;
	p->seen[seq] = 0;
	n = ustack_sendto(p->a.st, p->sd, p->pkt, len, MSG_DONTWAIT,
			  (struct sockaddr *)&sin, sizeof(sin));
	if (n < 0) {
		p->nerr++;
		p->sent_at[seq] = 0;
		if (n == -EHOSTUNREACH || n == -ENETUNREACH)
			printf("From %s icmp_seq=%u %s\n", p->dst_name, seq,
			       n == -EHOSTUNREACH ? "Destination Host Unreachable"
						  : "Network Unreachable");
		else
			fprintf(stderr, "ustack-ping: sendto: %s\n",
				ustack_strerror((int)n));
		fflush(stdout);
	}
}

static void print_reply(struct ping *p, ssize_t n, uint16_t seq, double ms,
			int dup, int bad, int t)
{
	char ip[16], ttl[16] = "";

	if (p->quiet)
		return;
	if (t >= 0)
		snprintf(ttl, sizeof(ttl), " ttl=%d", t);
	printf("%zd bytes from %s: icmp_seq=%u%s time=%.*f ms%s%s\n", n,
	       ustack_fmt_ip4(p->dst, ip), seq, ttl,
	       ms < 1 ? 3 : ms < 10 ? 2 : ms < 100 ? 1 : 0, ms,
	       dup ? " (DUP!)" : "", bad ? " (BAD DATA)" : "");
	fflush(stdout);
}

static void got_reply(struct ping *p, ssize_t n, ustack_time_t now, int ttl)
{
	uint16_t seq = (uint16_t)(p->rbuf[6] << 8 | p->rbuf[7]);
	int bad, dup;
	double ms;

	if (p->rbuf[0] != 0 || !p->sent_at[seq])
		return; /* not an echo reply to something we sent */
	ms = (double)(now - p->sent_at[seq]) / 1000.0;
	bad = (size_t)n != ICMP_HDR + p->size ||
	      memcmp(p->rbuf + ICMP_HDR, p->pkt + ICMP_HDR, p->size) != 0;
	dup = p->seen[seq];
	if (dup) {
		p->ndup++;
	} else {
		p->seen[seq] = 1;
		p->nrx++;
		if (p->nrx == 1 || ms < p->min)
			p->min = ms;
		if (ms > p->max)
			p->max = ms;
		p->sum += ms;
		p->sum2 += ms * ms;
	}
	print_reply(p, n, seq, ms, dup, bad, ttl);
}

static void receive_all(struct ping *p)
{
	for (int k = 0; k < 1024; k++) {
		/* recvmsg with IP_RECVTTL, for the reply's ttl= */
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int))];
		} ctl;
		struct iovec iov = {p->rbuf, ICMP_HDR + MAX_DATA};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf)};
		ssize_t n = ustack_recvmsg(p->a.st, p->sd, &msg, MSG_DONTWAIT);
		struct cmsghdr *c = msg.msg_controllen ? CMSG_FIRSTHDR(&msg) : NULL;
		int ttl = -1;

		if (c && c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL)
			memcpy(&ttl, CMSG_DATA(c), sizeof(ttl));

		if (n == -EAGAIN)
			return;
		if (n < 0) { /* an ICMP error for our requests */
			p->nerr++;
			if (!p->quiet)
				printf("From %s: %s\n", p->dst_name,
				       ustack_strerror((int)n));
			continue;
		}
		if (n >= ICMP_HDR)
			got_reply(p, n, app_now(), ttl);
	}
}

/* ---- summary --------------------------------------------------------------- */

static double sqrt_pos(double x)
{
	double r = x > 1 ? x : 1;

	if (x <= 0)
		return 0;
	for (int i = 0; i < 60; i++)
		r = 0.5 * (r + x / r);
	return r;
}

static void summary(struct ping *p)
{
	double loss = p->ntx ? 100.0 * (double)(p->ntx - p->nrx) / (double)p->ntx : 0;
	unsigned long long ms = (unsigned long long)((app_now() - p->start) / 1000);

	printf("\n--- %s ping statistics ---\n", p->dst_name);
	printf("%llu packets transmitted, %llu received, ",
	       (unsigned long long)p->ntx, (unsigned long long)p->nrx);
	if (p->ndup)
		printf("+%llu duplicates, ", (unsigned long long)p->ndup);
	if (p->nerr)
		printf("+%llu errors, ", (unsigned long long)p->nerr);
	printf("%g%% packet loss, time %llums\n", loss, ms);
	if (p->nrx) {
		double avg = p->sum / (double)p->nrx;
		double mdev = sqrt_pos(p->sum2 / (double)p->nrx - avg * avg);

		printf("rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n",
		       p->min, avg, p->max, mdev);
	}
	fflush(stdout);
}

/* ---- the loop -------------------------------------------------------------- */

static int may_send(const struct ping *p, ustack_time_t now,
		    ustack_time_t *next)
{
	if (p->count && p->ntx >= p->count)
		return 0;
	if (p->ntx == 0) {
		*next = now;
	} else if (p->interval) {
		*next = p->last_tx + p->interval;
	} else { /* -i 0: when the last one is answered, or after a gap */
		*next = p->nrx + p->nerr >= p->ntx ? now
						   : p->last_tx + FLOOD_GAP_US;
	}
	return 1;
}

static void run(struct ping *p)
{
	struct ustack_pollfd fds[1 + APP_POLL_EXTRA];

	while (!app_stopping()) {
		ustack_time_t now = app_now(), next, deadline;
		int more = may_send(p, now, &next);

		if (more && now >= next) {
			send_one(p);
			continue;
		}
		if (!more) {
			if (p->nrx + p->nerr >= p->ntx)
				break; /* everything answered */
			deadline = p->last_tx + p->wait;
			if (now >= deadline)
				break;
		} else {
			deadline = next;
		}
		fds[0] = (struct ustack_pollfd){.sd = p->sd, .events = POLLIN};
		if (app_poll(&p->a, fds, 1,
			     (int)((deadline - now + 999) / 1000)) > 0)
			receive_all(p);
	}
}

int main(int argc, char **argv)
{
	static struct ping p;
	struct app_desc desc = ping_desc;
	int i, rc;

	p.size = 56;
	p.interval = USTACK_SEC(1);
	p.wait = USTACK_SEC(5);
	desc.ctx = &p;
	desc.opt = ping_opt;
	i = app_parse(&p.a, &desc, argc, argv);
	p.dst_name = argv[i];
	if (ustack_parse_ip4(p.dst_name, &p.dst) < 0)
		app_usage_exit(&p.a, "HOST must be an IPv4 address, got '%s'",
			       p.dst_name);
	p.sent_at = calloc(SEQ_SPACE, sizeof(*p.sent_at));
	p.seen = calloc(SEQ_SPACE, 1);
	p.pkt = malloc(ICMP_HDR + MAX_DATA);
	p.rbuf = malloc(ICMP_HDR + MAX_DATA);
	if (!p.sent_at || !p.seen || !p.pkt || !p.rbuf || app_signals_init() < 0) {
		perror("ustack-ping");
		return APP_EXIT_FAIL;
	}
	for (uint32_t k = 0; k < p.size; k++)
		p.pkt[ICMP_HDR + k] = (uint8_t)(k + 8);
	if ((rc = app_start(&p.a)) != 0)
		return rc;
	if ((rc = ustack_loop_attach(p.a.st, NULL, NULL)) < 0 ||
	    (rc = p.sd = ustack_socket(p.a.st, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK,
					IPPROTO_ICMP)) < 0) {
		fprintf(stderr, "ustack-ping: %s\n", ustack_strerror(rc));
		app_stop(&p.a);
		return APP_EXIT_FAIL;
	}
	ustack_setsockopt(p.a.st, p.sd, IPPROTO_IP, IP_RECVTTL, &(int){1},
			  sizeof(int));
	app_signals_attach(p.a.st);
	printf("PING %s (%s) %u(%u) bytes of data.\n", p.dst_name, p.dst_name,
	       p.size, p.size + 28);
	fflush(stdout);
	p.start = app_now();
	run(&p);
	summary(&p);
	app_stop(&p.a);
	free(p.sent_at);
	free(p.seen);
	free(p.pkt);
	free(p.rbuf);
	return p.nrx ? APP_EXIT_OK : APP_EXIT_FAIL;
}
